# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""worker_identity: which worker a command's identity gets, with ansible-core's real become plugins."""

from __future__ import annotations

import typing as t

import pytest
from ansible.plugins.loader import become_loader
from ansible.plugins.shell import ShellBase
from core_commands import low_level, sh_plugin

from ansible_collections.vmguest.qga.plugins.plugin_utils import worker_identity


@pytest.fixture(scope="module")
def shell() -> t.Iterator[ShellBase]:
    yield from sh_plugin()


def become(method: str, **options: t.Any) -> t.Any:
    plugin = become_loader.get(method)
    plugin.set_options(direct={"become_user": "alice", **options})
    return plugin


def key(user: str, plugin: t.Any, shell: ShellBase) -> str:
    identity = worker_identity.identity_of(user, plugin, shell)
    assert identity is not None
    return identity.key


def test_root_without_become_is_roots_own_worker(shell: ShellBase) -> None:
    assert worker_identity.identity_of("root", None, shell) is None


def test_each_user_method_setting_and_password_is_its_own_worker(shell: ShellBase) -> None:
    keys = {
        key("alice", None, shell),
        key("root", become("sudo"), shell),
        key("root", become("su"), shell),
        key("root", become("sudo", become_user="bob"), shell),
        key("root", become("sudo", become_flags="-H -S -n -E"), shell),
        key("root", become("sudo", become_pass="secret"), shell),
        key("root", become("sudo", become_pass="other"), shell),
        key("alice", become("sudo"), shell),
    }
    assert len(keys) == 8
    # The same identity again (a new plugin per task, a new random marker per build) is the same worker.
    assert key("root", become("sudo", become_pass="secret"), shell) in keys


def test_the_key_and_label_do_not_show_the_password(shell: ShellBase) -> None:
    identity = worker_identity.identity_of("bob", become("sudo", become_pass="hunter2"), shell)
    assert identity is not None
    assert identity.label == "remote_user bob, become sudo to alice"
    assert "hunter2" not in repr(identity.key) + identity.label


def test_starting_a_worker_leaves_the_tasks_own_command_and_marker_alone(shell: ShellBase) -> None:
    plugin = become("sudo", become_pass="secret")
    recorder = worker_identity.BecomeRecorder(plugin)
    task_cmd = low_level(shell, plugin.build_become_command("/usr/bin/python3", shell))
    success, prompt = plugin.success, plugin.prompt
    identity = worker_identity.identity_of("root", plugin, shell)
    assert identity is not None
    start, builder = identity.start_command(["/usr/bin/python3", "-", "sub", "/run/x/executor-1"], shell)
    assert (plugin.success, plugin.prompt, recorder.inner_of(task_cmd)) == (success, prompt, "/usr/bin/python3")
    assert builder.success != success and builder.success in start and builder.prompt in start
    assert "/usr/bin/python3 - sub /run/x/executor-1" in start and "-u alice" in start
