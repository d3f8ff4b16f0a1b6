# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_fsfreeze against real agents: the host agent (freeze blocked) and the test VM.

Every VM test leaves the guest thawed (finally: thaw through a client of its own),
and opens its own short-lived clients: a play and the watchdog need the channel lock.
"""

from __future__ import annotations

import os
import time
import typing as t

import pytest
from ansible_run import CHECK_MODE, IGNORE_ERRORS, failed, play, qga_host, result_of, run_playbook, tasks_of, vm_channel
from guest import agent, thaw
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.plugin_utils.fsfreeze_watchdog import (
    MARKER,
    FreezeState,
    process_command_line,
)

task = tasks_of("vmguest.qga.qga_fsfreeze")


def alive(pid: int | None) -> bool:
    found = process_command_line(int(pid)) if pid else None
    return found is not None and MARKER in found[1]


@pytest.fixture
def vm(test_vm: t.Any) -> t.Iterator[str]:
    """The VM's channel; thawed before and after, and no watchdog left behind."""
    channel = vm_channel(test_vm)
    thaw(channel)
    FreezeState(channel).remove()
    try:
        yield channel
    finally:
        thaw(channel)
        state = FreezeState(channel)
        watchdog = state.read().get("watchdog") or {}
        if alive(watchdog.get("pid")):
            os.kill(int(watchdog["pid"]), 15)
        state.remove()


# -- host agent: read-only paths and the disabled freeze ------------------------------


def test_status_and_thawed_on_the_host_agent_change_nothing(host_agent: HostAgent) -> None:
    run = run_playbook(play(
        task("status", "state: status"),
        task("thawed", "state: thawed"),
    ), {"h": qga_host(host_agent.channel)}, args=["--diff"])
    assert run.rc == 0, run.output
    status = result_of(run, "status")
    assert status["changed"] is False and status["status"] == "thawed"
    assert "frozen_since" not in status
    assert status["diff"] == {"before": {"fsfreeze": "thawed"}, "after": {"fsfreeze": "thawed"}}
    thawed = result_of(run, "thawed")
    assert thawed["changed"] is False and thawed["status"] == "thawed"


@pytest.mark.fault
def test_freeze_disabled_on_the_host_agent_is_a_clear_error(host_agent: HostAgent) -> None:
    run = run_playbook(play(task("freeze", "state: frozen")), {"h": qga_host(host_agent.channel)})
    assert run.rc != 0
    result = result_of(run, "freeze")
    msg = result["msg"]
    assert "Command guest-fsfreeze-freeze has been disabled" in msg
    assert "--allow-rpcs" in msg and msg.startswith("h: ")
    assert result["status"] == "thawed", result  # the state the guest is in, not the one asked for
    assert agent(host_agent.channel, "guest-fsfreeze-status") == "thawed"
    assert not FreezeState(host_agent.channel).read()


@pytest.mark.fault
def test_bad_input_is_refused(host_agent: HostAgent) -> None:
    run = run_playbook(play(
        task("mountpoints with thawed", "state: thawed\nmountpoints: [/]", IGNORE_ERRORS),
        task("negative auto_thaw", "state: status\nauto_thaw: -1", IGNORE_ERRORS),
        task("no state", "auto_thaw: 5", IGNORE_ERRORS),
    ), {"h": qga_host(host_agent.channel)})
    assert "mountpoints only goes with state=frozen" in result_of(run, "mountpoints with thawed")["msg"]
    assert "auto_thaw must be 0 (off) or a number of seconds" in result_of(run, "negative auto_thaw")["msg"]
    assert "state" in result_of(run, "no state")["msg"]


# -- the test VM ---------------------------------------------------------------------


def test_freeze_status_thaw_idempotent_with_check_and_diff(vm: str) -> None:
    run = run_playbook(play(
        task("check freeze", "state: frozen", CHECK_MODE),
        task("freeze", "state: frozen\nauto_thaw: 120"),
        task("freeze again", "state: frozen\nauto_thaw: 120"),
        task("status", "state: status"),
        task("check thaw", "state: thawed", CHECK_MODE),
        task("thaw", "state: thawed"),
        task("thaw again", "state: thawed"),
    ), {"vm": qga_host(vm)}, args=["--diff"])
    assert run.rc == 0, run.output
    check = result_of(run, "check freeze")
    assert check["changed"] is True and check["status"] == "frozen"
    assert check["diff"] == {"before": {"fsfreeze": "thawed"}, "after": {"fsfreeze": "frozen"}}
    assert "watchdog_pid" not in check and "frozen_count" not in check

    freeze = result_of(run, "freeze")
    assert freeze["changed"] is True and freeze["status"] == "frozen"
    assert freeze["frozen_count"] >= 1  # the ext4 disk at /run/data
    assert freeze["frozen_since"] and freeze["frozen_seconds"] >= 0
    assert freeze["watchdog_pid"] > 0 and freeze["auto_thaw_at"] > freeze["frozen_since"]
    assert freeze["diff"] == {"before": {"fsfreeze": "thawed"}, "after": {"fsfreeze": "frozen"}}

    again = result_of(run, "freeze again")
    assert again["changed"] is False and again["status"] == "frozen"
    assert again["frozen_since"] == freeze["frozen_since"]
    assert again["watchdog_pid"] == freeze["watchdog_pid"]  # the running watchdog is kept
    assert again["diff"] == {"before": {"fsfreeze": "frozen"}, "after": {"fsfreeze": "frozen"}}

    status = result_of(run, "status")
    assert status["changed"] is False and status["status"] == "frozen"
    assert status["frozen_since"] == freeze["frozen_since"] and status["frozen_seconds"] > 0
    assert status["watchdog_pid"] == freeze["watchdog_pid"]

    check_thaw = result_of(run, "check thaw")
    assert check_thaw["changed"] is True and "thawed_count" not in check_thaw

    thawed = result_of(run, "thaw")
    assert thawed["changed"] is True and thawed["status"] == "thawed"
    assert thawed["thawed_count"] == freeze["frozen_count"]
    assert thawed["frozen_seconds"] > status["frozen_seconds"]
    assert thawed["diff"] == {"before": {"fsfreeze": "frozen"}, "after": {"fsfreeze": "thawed"}}

    assert result_of(run, "thaw again")["changed"] is False
    assert agent(vm, "guest-fsfreeze-status") == "thawed"
    assert not alive(freeze["watchdog_pid"]), "the thaw must stop the watchdog"
    assert not FreezeState(vm).read()


def test_check_mode_freeze_changes_nothing_in_the_guest(vm: str) -> None:
    run = run_playbook(play(task("freeze", "state: frozen")), {"vm": qga_host(vm)}, args=["--check"])
    assert run.rc == 0, run.output
    assert result_of(run, "freeze")["changed"] is True
    assert agent(vm, "guest-fsfreeze-status") == "thawed"
    assert not FreezeState(vm).read()


@pytest.mark.fault
def test_watchdog_thaws_when_the_play_forgets(vm: str) -> None:
    run = run_playbook(play(task("freeze", "state: frozen\nauto_thaw: 4")), {"vm": qga_host(vm)})
    assert run.rc == 0, run.output
    freeze = result_of(run, "freeze")
    frozen_at = time.monotonic()
    assert freeze["status"] == "frozen" and alive(freeze["watchdog_pid"])  # it outlives ansible-playbook
    status = "frozen"
    while status == "frozen" and time.monotonic() - frozen_at < 90:
        time.sleep(0.5)
        status = agent(vm, "guest-fsfreeze-status")
    waited = time.monotonic() - frozen_at
    assert status == "thawed", "the watchdog did not thaw the guest within 90 s"
    assert waited > 2.5, "thawed too early (%.1f s)" % waited
    deadline = time.monotonic() + 10
    while alive(freeze["watchdog_pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(freeze["watchdog_pid"]), "the watchdog must exit after thawing"

    run = run_playbook(play(
        task("status", "state: status"),
        task("thaw", "state: thawed"),
        task("status after", "state: status"),
    ), {"vm": qga_host(vm)})
    assert run.rc == 0, run.output
    status_result = result_of(run, "status")
    assert status_result["status"] == "thawed"
    assert status_result["auto_thawed"]["thawed"] >= 1
    assert status_result["auto_thawed"]["frozen_seconds"] >= 3.5
    assert any("auto-thaw watchdog thawed the guest" in w for w in status_result["warnings"])
    thaw_result = result_of(run, "thaw")
    assert thaw_result["changed"] is False and thaw_result["auto_thawed"]["thawed"] >= 1
    assert not any("auto-thaw" in w for w in thaw_result.get("warnings", [])), "warned twice for one auto-thaw"
    assert "auto_thawed" not in result_of(run, "status after")  # reported until the next thaw


def test_later_freeze_cancels_the_watchdog_of_an_earlier_one(vm: str) -> None:
    first = run_playbook(play(task("freeze", "state: frozen\nauto_thaw: 300")), {"vm": qga_host(vm)})
    assert first.rc == 0, first.output
    first_pid = result_of(first, "freeze")["watchdog_pid"]
    agent(vm, "guest-fsfreeze-thaw")  # thawed behind the module's back
    second = run_playbook(play(
        task("status", "state: status"),
        task("freeze", "state: frozen\nauto_thaw: 300"),
    ), {"vm": qga_host(vm)})
    assert second.rc == 0, second.output
    assert result_of(second, "status")["status"] == "thawed"
    assert result_of(second, "freeze")["changed"] is True
    second_pid = result_of(second, "freeze")["watchdog_pid"]
    assert second_pid != first_pid
    assert not alive(first_pid) and alive(second_pid)
    third = run_playbook(play(task("thaw", "state: thawed")), {"vm": qga_host(vm)})
    assert third.rc == 0, third.output
    assert not alive(second_pid)


@pytest.mark.fault
def test_frozen_guest_without_a_watchdog_gets_one(vm: str) -> None:
    agent(vm, "guest-fsfreeze-freeze")  # frozen by someone else: no state, no watchdog
    run = run_playbook(play(task("freeze", "state: frozen\nauto_thaw: 300")), {"vm": qga_host(vm)})
    assert run.rc == 0, run.output
    result = result_of(run, "freeze")
    assert result["changed"] is False and result["frozen_since"] is None and result["frozen_seconds"] is None
    assert alive(result["watchdog_pid"])
    run = run_playbook(play(task("thaw", "state: thawed")), {"vm": qga_host(vm)})
    assert result_of(run, "thaw")["changed"] is True
    assert result_of(run, "thaw")["frozen_seconds"] is None  # unknown: frozen outside the module
    assert not alive(result["watchdog_pid"])


def test_mountpoints_and_the_channel_option_from_localhost(vm: str) -> None:
    options = 'channel: "%s"\n' % vm
    run = run_playbook(play(
        task("freeze data", options + "state: frozen\nmountpoints: [/run/data]\nauto_thaw: 0"),
        task("status", options + "state: status"),
        task("thaw", options + "state: thawed"),
        task("freeze nothing", options + "state: frozen\nmountpoints: [/no/such/mount]\nauto_thaw: 0",
             IGNORE_ERRORS),
    ), {"localhost": {"ansible_connection": "local"}})
    freeze = result_of(run, "freeze data")
    assert freeze["changed"] is True and freeze["frozen_count"] == 1, run.output
    assert "watchdog_pid" not in freeze  # auto_thaw: 0
    assert result_of(run, "status")["status"] == "frozen"
    assert result_of(run, "thaw")["thawed_count"] == 1
    nothing = failed(run, "freeze nothing")
    assert "none of the mount points /no/such/mount could be frozen" in nothing["msg"]
    assert "the guest was thawed again" in nothing["msg"]
    assert agent(vm, "guest-fsfreeze-status") == "thawed"


def test_connection_and_channel_option_share_the_freeze_record(vm: str) -> None:
    run = run_playbook(play(task("freeze", "state: frozen\nauto_thaw: 300")), {"vm": qga_host(vm)})
    assert run.rc == 0, run.output
    freeze = result_of(run, "freeze")
    options = 'channel: "%s"\n' % vm
    run = run_playbook(play(
        task("status", options + "state: status"),
        task("thaw", options + "state: thawed"),
    ), {"localhost": {"ansible_connection": "local"}})
    assert run.rc == 0, run.output
    status = result_of(run, "status")
    assert status["frozen_since"] == freeze["frozen_since"] and status["watchdog_pid"] == freeze["watchdog_pid"]
    assert result_of(run, "thaw")["frozen_seconds"] > 0
    assert not alive(freeze["watchdog_pid"])
