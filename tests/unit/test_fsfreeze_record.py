# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_fsfreeze's record of a freeze, from freeze to status to thaw, against a fake agent.

The watchdog is left out (auto_thaw: 0) or faked. The host agent blocks the freeze; the test VM freezes
for real, with a real watchdog: tests/modules/test_qga_fsfreeze.py.
"""

from __future__ import annotations

import types
import typing as t

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.action import qga_fsfreeze
from ansible_collections.vmguest.qga.plugins.plugin_utils.fsfreeze_watchdog import FreezeState


class FakeAgent:
    """guest-fsfreeze-*: freezes `freezable` filesystems of those asked (all of them without a list)."""

    def __init__(self, channel: str, freezable: int) -> None:
        self.channel = channel
        self.domain = None
        self.freezable = freezable
        self.status = "thawed"

    def require(self, *commands: str) -> None:
        pass

    def supports(self, command: str) -> bool:
        return command.startswith("guest-fsfreeze-")

    def execute(self, command: str, arguments: dict[str, t.Any] | None = None, timeout: float | None = None) -> t.Any:
        if command == "guest-fsfreeze-status":
            return self.status
        if command == "guest-fsfreeze-thaw":
            self.status = "thawed"
        elif self.freezable:
            self.status = "frozen"
        return self.freezable


def run(agent: FakeAgent, **args: t.Any) -> dict[str, t.Any]:
    """The result of a qga_fsfreeze task on host h."""
    task = types.SimpleNamespace(check_mode=False, diff=False)
    connection = types.SimpleNamespace(_play_context=types.SimpleNamespace(remote_addr=None))
    action = qga_fsfreeze.ActionModule(task, connection, play_context=None, loader=None, templar=None,
                                       shared_loader_obj=None)
    action.task_vars = {"inventory_hostname": "h"}
    result: dict[str, t.Any] = {"changed": False}
    action.run_qga(t.cast(t.Any, agent), {"auto_thaw": 0, "freeze_timeout": 10, **args}, result)
    return result


@pytest.fixture
def agent(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> FakeAgent:
    monkeypatch.setenv("VMGUEST_QGA_LOCK_DIR", str(tmp_path))
    return FakeAgent("unix:%s/qga.sock" % tmp_path, freezable=2)


def test_a_freeze_is_recorded_reported_and_forgotten_by_the_thaw(agent: FakeAgent) -> None:
    frozen = run(agent, state="frozen")
    assert frozen["changed"] is True and frozen["status"] == "frozen" and frozen["frozen_count"] == 2
    recorded = FreezeState(agent.channel).read()
    assert recorded["frozen_at"] and recorded["watchdog"] is None and recorded["mountpoints"] is None
    status = run(agent, state="status")
    assert status["status"] == "frozen" and status["frozen_since"] == frozen["frozen_since"]
    assert run(agent, state="frozen")["changed"] is False
    thawed = run(agent, state="thawed")
    assert thawed["changed"] is True and thawed["thawed_count"] == 2 and thawed["frozen_seconds"] >= 0
    assert FreezeState(agent.channel).read() == {} and agent.status == "thawed"


def test_mount_points_of_which_none_froze_are_thawed_again_and_forgotten(agent: FakeAgent) -> None:
    agent.freezable = 0
    with pytest.raises(AnsibleActionFail, match="h: none of the mount points /srv, /data could be frozen"):
        run(agent, state="frozen", mountpoints=["/srv", "/data"])
    assert FreezeState(agent.channel).read() == {} and agent.status == "thawed"


def test_the_watchdog_is_armed_for_the_new_freeze_and_stopped_by_the_thaw(
    agent: FakeAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped: list[t.Any] = []
    monkeypatch.setattr(qga_fsfreeze, "spawn_watchdog", lambda client, store, token: 4242)
    monkeypatch.setattr(qga_fsfreeze, "is_our_watchdog", lambda pid, token: pid == 4242)
    monkeypatch.setattr(qga_fsfreeze, "stop_watchdog", stopped.append)
    FreezeState(agent.channel).write({"frozen_at": None, "watchdog": {"pid": 1, "token": "earlier"}})
    frozen = run(agent, state="frozen", auto_thaw=60)
    recorded = FreezeState(agent.channel).read()
    assert recorded["watchdog"]["pid"] == 4242 and recorded["watchdog"]["deadline"] == recorded["frozen_at"] + 60
    assert frozen["watchdog_pid"] == 4242 and frozen["auto_thaw_at"]
    assert stopped == [{"pid": 1, "token": "earlier"}], "a freeze stops the watchdog of an earlier one"
    run(agent, state="thawed")
    assert stopped[1] == recorded["watchdog"] and FreezeState(agent.channel).read() == {}
