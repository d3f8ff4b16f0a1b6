# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every action plugin refuses arguments its module's spec does not allow, before it opens a channel.

Each case runs the plugin's real ActionModule.run (QgaActionBase validates the task's arguments with
ansible-core's validate_argument_spec) on arguments as a play hands them over (inline YAML), and fails
if the plugin gets as far as the channel. The same through real plays, for one plugin and for
qmp_snapshot (a module, not an action plugin): tests/faults/test_faults_host.py.
"""

from __future__ import annotations

import importlib
import types
import typing as t

import pytest
import yaml
from ansible.errors import AnsibleActionFail

# Per module: valid arguments, then one option and a value of the wrong type or outside its
# choices; the error must name that option.
WRONG_VALUES: dict[str, tuple[str, str, str]] = {
    "qga_copy": ("dest: /tmp/vmguest-qga-never-written, content: hi", "backup", "maybe"),
    "qga_exec": ("argv: [/bin/true]", "timeout", "soon"),
    "qga_fetch": ("src: /etc/hostname, dest: /tmp/vmguest-qga-never-fetched", "flat", "sometimes"),
    "qga_fsfreeze": ("state: status", "auto_thaw", "later"),
    "qga_fstrim": ("timeout: 5", "minimum", "big"),
    "qga_info": ("gather_subset: [agent]", "gather_subset", "{osinfo: true}"),
    "qga_memory_blocks": ("blocks: []", "online_count", "many"),
    "qga_shutdown": ("mode: reboot", "reboot_timeout", "eventually"),
    "qga_ssh_keys": ("user: root, keys: [ssh-ed25519 AAAA]", "state", "maybe"),
    "qga_suspend": ("mode: ram", "mode", "hibernate-ish"),
    "qga_time": ("state: synced", "tolerance", "tight"),
    "qga_user_password": ("user: root, password: x", "crypted", "perhaps"),
    "qga_vcpus": ("online: 1", "online", "all"),
}


def with_option(arguments: str, option: str, value: str) -> str:
    """Inline YAML arguments with `option` set to `value` (replacing it when already there)."""
    kept = [part for part in arguments.split(", ") if not part.startswith(option + ":")]
    return "{%s}" % ", ".join([*kept, "%s: %s" % (option, value)])


def refusal(module: str, arguments: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The message vmguest.qga.MODULE's action plugin fails with for `arguments` (inline YAML)."""
    plugin = importlib.import_module("ansible_collections.vmguest.qga.plugins.action." + module)
    task = types.SimpleNamespace(args=yaml.safe_load(arguments), async_val=0, check_mode=False, diff=False,
                                 action="vmguest.qga." + module, no_log=False)
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir=None))
    action = plugin.ActionModule(task, connection, play_context=None, loader=None, templar=None,
                                 shared_loader_obj=None)
    action._load_name = "vmguest.qga." + module  # as the plugin loader names it

    def opened(args: dict[str, t.Any]) -> t.NoReturn:
        raise AssertionError("vmguest.qga.%s accepted %r and went on to open a channel" % (module, args))

    monkeypatch.setattr(action, "_client_for", opened)
    with pytest.raises(AnsibleActionFail) as raised:
        action.run(task_vars={})
    return str(raised.value)


@pytest.mark.fault
@pytest.mark.parametrize("module", sorted(WRONG_VALUES))
def test_a_wrong_value_is_refused_naming_the_option(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    arguments, option, wrong_value = WRONG_VALUES[module]
    msg = refusal(module, with_option(arguments, option, wrong_value), monkeypatch)
    assert option in msg, msg


@pytest.mark.fault
@pytest.mark.parametrize("module", sorted(WRONG_VALUES))
def test_an_unknown_option_is_refused_naming_it(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    msg = refusal(module, with_option(WRONG_VALUES[module][0], "no_such_option", "1"), monkeypatch)
    assert "no_such_option" in msg and "Unsupported" in msg, msg


def test_the_valid_arguments_of_the_table_pass_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the wrong value each case gets as far as the channel: the refusals above are the value's."""
    for module, (arguments, _option, _value) in WRONG_VALUES.items():
        with pytest.raises(AssertionError, match="went on to open a channel"):
            refusal(module, "{%s}" % arguments, monkeypatch)


@pytest.mark.parametrize(("module", "arguments", "reason"), [
    ("qga_vcpus", "{online: 1, online_cpus: [0]}", "mutually exclusive"),
    ("qga_vcpus", "{channel: 'unix:/nonexistent/qga.sock'}", "one of the following is required"),
    ("qga_memory_blocks", "{blocks: [{phys_index: 0}]}", "missing required arguments: online"),
    ("qga_memory_blocks", "{rpc_timeout: 10}", "one of the following is required: blocks, online_count"),
    ("qga_time", "{state: synced, time: 0}", "mutually exclusive"),
    ("qga_exec", "{argv: [id], cmd: id}", "mutually exclusive"),
    ("qga_fsfreeze", "{auto_thaw: 5}", "missing required arguments: state"),
    ("qga_shutdown", "{mode: sleep}", "value of mode must be one of: powerdown, reboot, halt"),
    ("qga_suspend", "{mode: s3}", "value of mode must be one of: disk, ram, hybrid"),
])
def test_arguments_the_spec_refuses(module: str, arguments: str, reason: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert reason in refusal(module, arguments, monkeypatch)
