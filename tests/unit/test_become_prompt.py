# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""become_prompt with ansible-core's real su and sudo plugins: when the password is written, what the outcome means."""

from __future__ import annotations

import typing as t

import pytest
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.loader import become_loader, shell_loader

from ansible_collections.vmguest.qga.plugins.plugin_utils import become_prompt

PASSWORD = {"become_pass": "pw"}


def become(method: str, **options: t.Any) -> t.Any:
    plugin = become_loader.get(method)
    plugin.set_options(direct={"become_user": "bob", **options})
    plugin.build_become_command("id", shell_loader.get("sh"))
    return plugin


def test_the_password_line_only_with_a_password_and_for_su_or_sudo() -> None:
    assert become_prompt.password_line(become("sudo", **PASSWORD)) == b"pw\n"
    assert become_prompt.password_line(become("su", **PASSWORD)) == b"pw\n"
    assert become_prompt.password_line(become("sudo")) is None
    assert become_prompt.password_line(become("runas", **PASSWORD)) is None
    assert become_prompt.password_line(None) is None


def test_su_asks_everyone_but_root_unless_another_su_runs() -> None:
    assert become_prompt.su_asks(become("su", **PASSWORD), user_is_root=False)
    assert not become_prompt.su_asks(become("su", **PASSWORD), user_is_root=True)
    assert become_prompt.su_asks(become("su", **PASSWORD, become_exe="/tmp/shim"), user_is_root=True)


def test_the_sudo_probe_is_the_tasks_sudo_with_n() -> None:
    plugin = become("sudo", **PASSWORD, become_exe="/usr/local/bin/sudo", become_flags="-H -S")
    assert become_prompt.sudo_probe_argv(plugin) == ["/usr/local/bin/sudo", "-H", "-S", "-n", "-u", "bob", "true"]


def test_success_strips_the_prompt_it_answered() -> None:
    sudo = become("sudo", **PASSWORD)
    stdout = (sudo.success + "\nout\n").encode()
    assert become_prompt.check_outcome(sudo, stdout, sudo.prompt.encode() + b"warn\n", True, "h") == b"warn\n"
    su = become("su", **PASSWORD)
    assert become_prompt.check_outcome(su, (su.success + "\n").encode(), b"Password: warn\n", True, "h") == b"warn\n"


@pytest.mark.parametrize(("method", "stderr"), [("sudo", b"Sorry, try again.\n"),
                                                ("su", b"su: Authentication failure\n")])
def test_a_refused_password_names_the_setting(method: str, stderr: bytes) -> None:
    with pytest.raises(AnsibleError, match="h: Incorrect %s password: .*ansible_become_password" % method):
        become_prompt.check_outcome(become(method, **PASSWORD), b"", stderr, True, "h")


@pytest.mark.parametrize(("method", "stderr"), [("sudo", b"sudo: a password is required\n"),
                                                ("su", b"Password: su: Authentication failure\n")])
def test_a_prompt_without_a_password_is_a_missing_password(method: str, stderr: bytes) -> None:
    with pytest.raises(AnsibleError, match="h: Missing %s password: .*connect as root" % method):
        become_prompt.check_outcome(become(method), b"", stderr, False, "h")


def test_a_su_prompt_the_settings_do_not_list_is_unreachable() -> None:
    su = become("su", **PASSWORD, prompt_l10n=["NOT_A_VALID_PROMPT"])
    with pytest.raises(AnsibleConnectionFailure, match="su asked 'Password:'.*prompt_l10n"):
        become_prompt.check_outcome(su, (su.success + "\nhi\n").encode(), b"Password: ", True, "h")
