# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""qga_vcpus and qga_memory_blocks past the plan: check mode, apply, the re-read and the agent's refusals.

Their run_qga (plugin_utils.action.OnlineStateAction) against a fake agent. The host agent cannot show these
paths (it blocks guest-set-*); the test VM shows them for real: tests/modules/test_qga_vcpus.py and
tests/modules/test_qga_memory_blocks.py.
"""

from __future__ import annotations

import errno
import types
import typing as t

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.action import qga_memory_blocks, qga_vcpus
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import OnlineStateAction

BLOCK_SIZE = 128 * 1024 * 1024


class FakeAgent:
    """guest-get/set-vcpus and guest-get/set-memory-blocks over `items`; the ids in `refused` stay as they are."""

    def __init__(self, id_key: str, count: int, refused: t.Collection[int] = ()) -> None:
        self.id_key = id_key
        self.online = dict.fromkeys(range(count), True)
        self.refused = set(refused)
        self.sets: list[str] = []

    def require(self, *commands: str) -> None:
        pass

    def supports(self, command: str) -> bool:
        return True

    def execute(self, command: str, arguments: dict[str, t.Any] | None = None, timeout: float | None = None) -> t.Any:
        if command in ("guest-get-vcpus", "guest-get-memory-blocks"):
            return [{self.id_key: index, "online": up, "can-offline": True} for index, up in self.online.items()]
        if command == "guest-get-memory-block-info":
            return {"size": BLOCK_SIZE}
        self.sets.append(command)
        if command == "guest-set-vcpus":
            done = 0
            for cpu in (arguments or {})["vcpus"]:
                if cpu["logical-id"] in self.refused:
                    break  # the agent stops at the first processor it cannot change
                self.online[cpu["logical-id"]] = cpu["online"]
                done += 1
            return done
        responses = []
        for block in (arguments or {})["mem-blks"]:
            index = block["phys-index"]
            if index in self.refused:
                responses.append({"phys-index": index, "response": "operation-failed", "error-code": errno.EINVAL})
            else:
                self.online[index] = block["online"]
                responses.append({"phys-index": index, "response": "success"})
        return responses


def task_result(failure: AnsibleActionFail) -> dict[str, t.Any]:
    """The task result an AnsibleActionFail makes (ansible-core up to 2.20 keeps failed and msg in its result
    too; 2.21 adds them when it builds the task result)."""
    return dict(failure.result, failed=True, msg=failure.message)


def run(plugin: types.ModuleType, agent: FakeAgent, args: dict[str, t.Any],
        check_mode: bool = False) -> dict[str, t.Any]:
    """The result of the plugin's run_qga on host h."""
    task = types.SimpleNamespace(check_mode=check_mode, diff=True)
    connection = types.SimpleNamespace(_play_context=types.SimpleNamespace(remote_addr=None))
    action: OnlineStateAction = plugin.ActionModule(task, connection, play_context=None, loader=None, templar=None,
                                                    shared_loader_obj=None)
    action.task_vars = {"inventory_hostname": "h"}
    result: dict[str, t.Any] = {"changed": False}
    action.run_qga(t.cast(t.Any, agent), args, result)
    return result


def test_check_mode_reports_the_plan_and_sets_nothing() -> None:
    agent = FakeAgent("phys-index", 4)
    result = run(qga_memory_blocks, agent, {"online_count": 3}, check_mode=True)
    assert agent.sets == []
    assert result["changed"] is True and result["changed_blocks"] == [{"phys-index": 3, "online": False}]
    assert result["offline_blocks"] == [3] and result["online_bytes"] == 3 * BLOCK_SIZE
    assert result["diff"] == {"before": {"online": [0, 1, 2, 3], "offline": []},
                              "after": {"online": [0, 1, 2], "offline": [3]}}


def test_vcpus_are_applied_and_read_again() -> None:
    agent = FakeAgent("logical-id", 4)
    result = run(qga_vcpus, agent, {"online_count": 2})
    assert agent.sets == ["guest-set-vcpus"] and agent.online == {0: True, 1: True, 2: False, 3: False}
    assert result["changed"] is True and result["changed_cpus"] == [{"logical-id": 2, "online": False},
                                                                    {"logical-id": 3, "online": False}]
    assert result["online_cpus"] == [0, 1] and result["offline_cpus"] == [2, 3]
    assert [cpu["online"] for cpu in result["vcpus"]] == [True, True, False, False]


def test_a_processor_the_agent_stops_at_fails_the_task_saying_how_far_it_got() -> None:
    agent = FakeAgent("logical-id", 4, refused=[2])
    with pytest.raises(AnsibleActionFail) as raised:
        run(qga_vcpus, agent, {"online_count": 2})
    msg = "h: the guest changed 0 of 2 processor(s); taking cpu 2 offline failed, the rest were not tried"
    assert task_result(raised.value) == {"changed": False, "failed": True, "msg": msg}


def test_a_block_the_guest_refuses_fails_the_task_reporting_what_was_read_again() -> None:
    agent = FakeAgent("phys-index", 4, refused=[3])
    with pytest.raises(AnsibleActionFail) as raised:
        run(qga_memory_blocks, agent, {"online_count": 2})
    failure = task_result(raised.value)
    assert failure.pop("msg") == ("h: taking memory block 3 offline failed: operation-failed "
                                  "(the guest kernel refused, EINVAL: Invalid argument)")
    assert agent.online == {0: True, 1: True, 2: False, 3: True}
    assert failure.pop("memory_blocks") == [{"phys-index": index, "online": index != 2, "can-offline": True}
                                            for index in range(4)]
    assert failure == {
        "changed": True,
        "failed": True,
        "changed_blocks": [{"phys-index": 2, "online": False}, {"phys-index": 3, "online": False}],
        "diff": {"before": {"online": [0, 1, 2, 3], "offline": []}, "after": {"online": [0, 1], "offline": [2, 3]}},
        "online_blocks": [0, 1, 3],
        "offline_blocks": [2],
        "block_size": BLOCK_SIZE,
        "online_bytes": 3 * BLOCK_SIZE,
    }


def test_when_the_guest_refuses_every_block_the_task_changed_nothing() -> None:
    agent = FakeAgent("phys-index", 4, refused=[2, 3])
    with pytest.raises(AnsibleActionFail) as raised:
        run(qga_memory_blocks, agent, {"online_count": 2})
    assert task_result(raised.value)["changed"] is False
    assert task_result(raised.value)["offline_blocks"] == []
