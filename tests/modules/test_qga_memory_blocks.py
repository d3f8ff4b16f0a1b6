# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_memory_blocks against real agents.

The host agent blocks guest-set-memory-blocks (read-only paths, the disabled-command error). The
test VM has 8 blocks of 128 MiB, all reported can-offline; its kernel takes block 3 offline and
back, and refuses blocks 0 and 7 (EINVAL: they hold firmware holes), which gives the refusal path.
"""

from __future__ import annotations

import typing as t

import pytest
from ansible_run import CHECK_MODE, IGNORE_ERRORS, failed, play, qga_host, result_of, run_playbook, tasks_of, vm_channel
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

task = tasks_of("vmguest.qga.qga_memory_blocks")

REFUSED = 7  # a block the test VM's kernel refuses to take offline (EINVAL: it holds memory holes)


def blocks(channel: str) -> dict[int, bool]:
    with shared_client(channel, timeout=60) as client:
        return {block["phys-index"]: block["online"] for block in client.execute("guest-get-memory-blocks")}


def offline(channel: str) -> list[int]:
    return sorted(index for index, online in blocks(channel).items() if not online)


@pytest.fixture
def vm(test_vm: t.Any) -> t.Iterator[str]:
    """The VM's channel; every memory block online before and after."""
    channel = vm_channel(test_vm)

    def all_online() -> None:
        down = offline(channel)
        if down:
            with shared_client(channel, timeout=120) as client:
                client.execute("guest-set-memory-blocks",
                               {"mem-blks": [{"phys-index": index, "online": True} for index in down]})

    all_online()
    try:
        yield channel
    finally:
        all_online()


@pytest.fixture
def movable(vm: str) -> int:
    """A block the kernel takes offline right now (EBUSY moves around as the guest allocates memory)."""
    with shared_client(vm, timeout=120) as client:
        for index in (3, 4, 5, 6, 2, 1):
            reply = client.execute("guest-set-memory-blocks", {"mem-blks": [{"phys-index": index, "online": False}]})
            if reply and reply[0].get("response") == "success":
                client.execute("guest-set-memory-blocks", {"mem-blks": [{"phys-index": index, "online": True}]})
                return index
    raise AssertionError("no memory block of the test VM could be taken offline")


# -- host agent ------------------------------------------------------------------------------


def test_host_agent_read_only_paths_and_the_disabled_set(host_agent: HostAgent) -> None:
    state = blocks(host_agent.channel)
    up = sorted(index for index, online in state.items() if online)
    first = up[0]
    run = run_playbook(play(
        task("as is", "online_count: %d" % len(up)),
        task("one as is", "blocks:\n  - {phys_index: %d, online: true}" % first),
        task("check off", "blocks:\n  - {phys_index: %d, online: false}" % up[-1], CHECK_MODE),
        task("offline", "blocks:\n  - {phys_index: %d, online: false}" % up[-1], IGNORE_ERRORS),
    ), {"h": qga_host(host_agent.channel)}, args=["--diff"])
    as_is = result_of(run, "as is")
    assert as_is["changed"] is False and as_is["online_blocks"] == up and as_is["changed_blocks"] == []
    assert as_is["block_size"] > 0 and as_is["online_bytes"] == as_is["block_size"] * len(up)
    assert result_of(run, "one as is")["changed"] is False
    check = result_of(run, "check off")
    assert check["changed"] is True and check["changed_blocks"] == [{"phys-index": up[-1], "online": False}]
    assert up[-1] in check["diff"]["after"]["offline"] and up[-1] in check["diff"]["before"]["online"]
    msg = result_of(run, "offline")["msg"]
    assert "Command guest-set-memory-blocks has been disabled" in msg and "--allow-rpcs" in msg
    assert blocks(host_agent.channel) == state


@pytest.mark.fault
def test_bad_input_is_a_clear_error(host_agent: HostAgent) -> None:
    """One refusal of the plan and one of the argument spec; the other cases: tests/unit/test_memory_blocks_plan.py
    and tests/unit/test_argument_specs.py."""
    run = run_playbook(play(
        task("unknown", "blocks:\n  - {phys_index: 999999, online: false}", IGNORE_ERRORS),
        task("neither", "rpc_timeout: 10", IGNORE_ERRORS),
    ), {"h": qga_host(host_agent.channel)})
    assert "the guest has no memory block 999999 (its blocks are " in result_of(run, "unknown")["msg"]
    assert "one of the following is required: blocks, online_count" in result_of(run, "neither")["msg"]


# -- the test VM ------------------------------------------------------------------------------


def test_block_offline_and_online_again_idempotent_with_check_and_diff(vm: str, movable: int) -> None:
    off = "blocks:\n  - {phys_index: %d, online: false}" % movable
    on = "blocks:\n  - {phys_index: %d, online: true}" % movable
    run = run_playbook(play(
        task("check off", off, CHECK_MODE),
        task("offline", off),
        task("offline again", off),
        task("online", on),
        task("online again", on),
    ), {"vm": qga_host(vm)}, args=["--diff"])
    assert run.rc == 0, run.output
    everything = list(range(8))
    check = result_of(run, "check off")
    assert check["changed"] is True
    assert check["diff"] == {
        "before": {"online": everything, "offline": []},
        "after": {"online": [i for i in everything if i != movable], "offline": [movable]},
    }
    result = result_of(run, "offline")
    assert result["changed"] is True and result["offline_blocks"] == [movable]
    assert result["changed_blocks"] == [{"phys-index": movable, "online": False}]
    assert result["online_bytes"] == 7 * 128 * 1024 * 1024 and result["block_size"] == 128 * 1024 * 1024
    assert result["diff"] == check["diff"]
    assert result_of(run, "offline again")["changed"] is False
    back = result_of(run, "online")
    assert back["changed"] is True and back["offline_blocks"] == [] and back["online_blocks"] == everything
    assert result_of(run, "online again")["changed"] is False
    assert offline(vm) == []


def test_check_mode_changes_nothing(vm: str) -> None:
    run = run_playbook(play(task("offline", "online_count: 4")), {"vm": qga_host(vm)}, args=["--check"])
    assert run.rc == 0, run.output
    result = result_of(run, "offline")
    assert result["changed"] is True and result["offline_blocks"] == [4, 5, 6, 7]
    assert offline(vm) == []


def test_online_count_with_pinned_blocks_through_the_channel_option(vm: str, movable: int) -> None:
    # Every other block pinned online: the one to go offline must be the movable one.
    pinned = "\n".join("  - {phys_index: %d, online: true}" % index for index in range(8) if index != movable)
    body = 'channel: "%s"\nonline_count: 7\nblocks:\n%s' % (vm, pinned)
    run = run_playbook(play(task("seven", body), task("seven again", body)),
                       {"localhost": {"ansible_connection": "local"}})
    assert run.rc == 0, run.output
    assert result_of(run, "seven")["changed_blocks"] == [{"phys-index": movable, "online": False}]
    assert result_of(run, "seven again")["changed"] is False
    assert offline(vm) == [movable]


@pytest.mark.fault
def test_a_block_the_kernel_refuses_is_a_clear_error(vm: str) -> None:
    run = run_playbook(play(task("refused", "blocks:\n  - {phys_index: %d, online: false}" % REFUSED,
                                 IGNORE_ERRORS)), {"vm": qga_host(vm)})
    msg = failed(run, "refused")["msg"]
    assert "taking memory block %d offline failed: operation-failed (the guest kernel refused, EINVAL" % REFUSED in msg
    assert offline(vm) == []
