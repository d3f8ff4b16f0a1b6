# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_time against real agents: the host agent (guest-set-time blocked) and the test VM."""

from __future__ import annotations

import time
import typing as t

import pytest
from ansible_run import CHECK_MODE, IGNORE_ERRORS, play, qga_host, result_of, run_playbook, tasks_of, vm_channel
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

task = tasks_of("vmguest.qga.qga_time")

NS = 1_000_000_000


def drift(channel: str) -> float:
    with shared_client(channel, timeout=60) as client:
        before = time.time_ns()
        guest = int(client.execute("guest-get-time"))
        return (guest - (before + time.time_ns()) // 2) / NS


def set_guest_time(channel: str, ns: int) -> None:
    with shared_client(channel, timeout=60) as client:
        client.execute("guest-set-time", {"time": ns})


@pytest.fixture
def vm(test_vm: t.Any) -> t.Iterator[str]:
    """The VM's channel; its clock set from the controller's afterwards."""
    channel = vm_channel(test_vm)
    try:
        yield channel
    finally:
        set_guest_time(channel, time.time_ns())


# -- host agent ----------------------------------------------------------------------------


def test_host_clock_is_in_sync_and_setting_it_is_disabled(host_agent: HostAgent) -> None:
    run = run_playbook(play(
        task("synced", "state: synced"),
        task("default is synced", "tolerance: 2"),
        task("no tolerance", "tolerance: 0", IGNORE_ERRORS),
        task("check future", "time: '2031-06-01T00:00:00Z'", CHECK_MODE),
    ), {"h": qga_host(host_agent.channel)}, args=["--diff"])
    synced = result_of(run, "synced")
    assert synced["changed"] is False, run.output
    assert abs(synced["drift_before"]) < 0.5 and synced["drift_after"] == synced["drift_before"]
    assert synced["diff"]["before"] == synced["diff"]["after"]
    assert result_of(run, "default is synced")["changed"] is False
    msg = result_of(run, "no tolerance")["msg"]
    assert "Command guest-set-time has been disabled" in msg and "--allow-rpcs" in msg
    future = result_of(run, "check future")
    assert future["changed"] is True and future["target_time"].startswith("2031-06-01T00:00:0")
    assert future["drift_before"] < -100_000_000
    assert future["diff"]["after"]["guest_time"].startswith("2031-06-01T00:00:0")
    assert abs(drift(host_agent.channel)) < 0.5


@pytest.mark.fault
def test_bad_time_is_a_clear_error(host_agent: HostAgent) -> None:
    """One time refused by parse_time (its other cases: tests/unit/test_time_parse.py), the argument spec, a check."""
    run = run_playbook(play(
        task("garbage", "time: yesterday noon", IGNORE_ERRORS),
        task("both", "state: synced\ntime: 0", IGNORE_ERRORS),
        task("negative tolerance", "tolerance: -1", IGNORE_ERRORS),
    ), {"h": qga_host(host_agent.channel)})
    assert "time 'yesterday noon' is neither ISO 8601" in result_of(run, "garbage")["msg"]
    assert "mutually exclusive" in result_of(run, "both")["msg"]
    assert "tolerance must not be negative" in result_of(run, "negative tolerance")["msg"]


# -- the test VM ----------------------------------------------------------------------------


def test_sync_a_drifted_guest_clock_idempotent(vm: str) -> None:
    set_guest_time(vm, time.time_ns() - 3600 * NS)  # an hour behind
    assert drift(vm) < -3590
    run = run_playbook(play(
        task("check", "state: synced", CHECK_MODE),
        task("sync", "state: synced"),
        task("sync again", "state: synced"),
    ), {"vm": qga_host(vm)}, args=["--diff"])
    assert run.rc == 0, run.output
    check = result_of(run, "check")
    assert check["changed"] is True and check["drift_before"] < -3590
    sync = result_of(run, "sync")
    assert sync["changed"] is True and sync["drift_before"] < -3590
    assert abs(sync["drift_after"]) < 0.5
    assert sync["diff"]["before"]["drift_seconds"] < -3590 and abs(sync["diff"]["after"]["drift_seconds"]) < 0.5
    again = result_of(run, "sync again")
    assert again["changed"] is False and abs(again["drift_before"]) < 1.0
    assert abs(drift(vm)) < 1.0


def test_check_mode_sets_nothing(vm: str) -> None:
    set_guest_time(vm, time.time_ns() - 600 * NS)
    run = run_playbook(play(task("sync", "state: synced")), {"vm": qga_host(vm)}, args=["--check"])
    assert run.rc == 0, run.output
    assert result_of(run, "sync")["changed"] is True
    assert drift(vm) < -590


def test_set_a_given_time_iso_and_ns_through_the_channel_option(vm: str) -> None:
    options = 'channel: "%s"\n' % vm
    run = run_playbook(play(
        task("iso", options + "time: '2031-06-01T12:00:00+02:00'"),
        task("ns", options + "time: %d\ntolerance: 5" % (1_900_000_000 * NS)),
    ), {"localhost": {"ansible_connection": "local"}}, args=["--diff"])
    assert run.rc == 0, run.output
    iso = result_of(run, "iso")
    assert iso["changed"] is True and iso["target_time"].startswith("2031-06-01T10:00:0")
    assert abs(iso["drift_after"]) < 0.5
    assert iso["guest_time_after"].startswith("2031-06-01T10:00:0")
    ns = result_of(run, "ns")
    assert ns["changed"] is True and ns["target_time"].startswith("2030-03-17T17:46:4")
    assert abs(drift(vm) - (1_900_000_000 - time.time())) < 30
