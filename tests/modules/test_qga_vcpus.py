# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_vcpus against real agents: the host agent (guest-set-vcpus blocked) and the test VM (2 vCPUs)."""

from __future__ import annotations

import typing as t

import pytest
from ansible_run import CHECK_MODE, IGNORE_ERRORS, failed, play, qga_host, result_of, run_playbook, tasks_of, vm_channel
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

task = tasks_of("vmguest.qga.qga_vcpus")


def vcpus(channel: str) -> dict[int, dict[str, t.Any]]:
    with shared_client(channel, timeout=60) as client:
        return {cpu["logical-id"]: cpu for cpu in client.execute("guest-get-vcpus")}


def online(channel: str) -> list[int]:
    return sorted(cpu_id for cpu_id, cpu in vcpus(channel).items() if cpu["online"])


@pytest.fixture
def vm(test_vm: t.Any) -> t.Iterator[str]:
    """The VM's channel; every vCPU online before and after."""
    channel = vm_channel(test_vm)

    def all_online() -> None:
        offline = [cpu_id for cpu_id, cpu in vcpus(channel).items() if not cpu["online"]]
        if offline:
            with shared_client(channel, timeout=60) as client:
                client.execute("guest-set-vcpus", {"vcpus": [{"logical-id": i, "online": True} for i in offline]})

    all_online()
    try:
        yield channel
    finally:
        all_online()


# -- host agent -----------------------------------------------------------------------


def test_host_agent_read_only_paths_and_the_disabled_set(host_agent: HostAgent) -> None:
    cpus = vcpus(host_agent.channel)
    up = sorted(cpu_id for cpu_id, cpu in cpus.items() if cpu["online"])
    offlinable = [cpu_id for cpu_id in up if cpus[cpu_id].get("can-offline")]
    run = run_playbook(play(
        task("count as is", "online_count: %d" % len(up)),  # the other tasks use its alias online
        task("set as is", "online_cpus: %s" % up),
        task("check one fewer", "online: %d" % (len(up) - 1), CHECK_MODE) if offlinable else "",
        task("one fewer", "online: %d" % (len(up) - 1), IGNORE_ERRORS) if offlinable else "",
    ), {"h": qga_host(host_agent.channel)}, args=["--diff"])
    as_is = result_of(run, "count as is")
    assert as_is["changed"] is False and as_is["online_cpus"] == up and as_is["changed_cpus"] == []
    assert as_is["diff"]["before"] == as_is["diff"]["after"]
    assert result_of(run, "set as is")["changed"] is False
    if offlinable:
        check = result_of(run, "check one fewer")
        assert check["changed"] is True
        assert check["changed_cpus"] == [{"logical-id": offlinable[-1], "online": False}]
        assert check["diff"]["before"]["online"] == up
        assert check["diff"]["after"]["offline"] == [offlinable[-1]]
        msg = result_of(run, "one fewer")["msg"]
        assert "Command guest-set-vcpus has been disabled" in msg and "--allow-rpcs" in msg
    assert online(host_agent.channel) == up


@pytest.mark.fault
def test_bad_input_is_a_clear_error(host_agent: HostAgent) -> None:
    """One refusal of the plan and one of the argument spec; the other cases: tests/unit/test_vcpus_plan.py and
    tests/unit/test_argument_specs.py."""
    run = run_playbook(play(
        task("unknown cpu", "online_cpus: [0, 4096]", IGNORE_ERRORS),
        task("both", "online: 1\nonline_cpus: [0]", IGNORE_ERRORS),
    ), {"h": qga_host(host_agent.channel)})
    assert "the guest has no cpu 4096" in result_of(run, "unknown cpu")["msg"]
    assert "mutually exclusive" in result_of(run, "both")["msg"]


# -- the test VM ------------------------------------------------------------------------


def test_offline_and_online_again_idempotent_with_check_and_diff(vm: str) -> None:
    assert online(vm) == [0, 1]
    run = run_playbook(play(
        task("check one", "online: 1", CHECK_MODE),
        task("one", "online: 1"),
        task("one again", "online: 1"),
        task("cpu0 offline", "online_cpus: [1]", IGNORE_ERRORS),
    ), {"vm": qga_host(vm)}, args=["--diff"])
    check = result_of(run, "check one")
    assert check["changed"] is True
    assert check["diff"] == {"before": {"online": [0, 1], "offline": []}, "after": {"online": [0], "offline": [1]}}
    one = result_of(run, "one")
    assert one["changed"] is True and one["online_cpus"] == [0] and one["offline_cpus"] == [1], run.output
    assert one["changed_cpus"] == [{"logical-id": 1, "online": False}]
    assert one["diff"] == check["diff"]
    again = result_of(run, "one again")
    assert again["changed"] is False and again["changed_cpus"] == []
    assert again["diff"]["before"] == again["diff"]["after"] == {"online": [0], "offline": [1]}
    cpu0 = failed(run, "cpu0 offline")
    assert "cpu 0 cannot go offline" in cpu0["msg"] and "nothing was changed" in cpu0["msg"]
    assert online(vm) == [0], "a refused request must change nothing"

    run = run_playbook(play(
        task("check both", "online_cpus: [0, 1]", CHECK_MODE),
        task("both", "online_cpus: [0, 1]"),
        task("both again", "online: 2"),
    ), {"vm": qga_host(vm)}, args=["--diff"])
    assert run.rc == 0, run.output
    assert result_of(run, "check both")["changed"] is True
    both = result_of(run, "both")
    assert both["changed"] is True and both["online_cpus"] == [0, 1]
    assert both["diff"] == {"before": {"online": [0], "offline": [1]}, "after": {"online": [0, 1], "offline": []}}
    assert result_of(run, "both again")["changed"] is False
    assert online(vm) == [0, 1]


def test_check_mode_changes_nothing(vm: str) -> None:
    run = run_playbook(play(task("one", "online_cpus: [0]")), {"vm": qga_host(vm)}, args=["--check"])
    assert run.rc == 0, run.output
    assert result_of(run, "one")["changed"] is True and result_of(run, "one")["online_cpus"] == [0]
    assert online(vm) == [0, 1]


def test_channel_option_from_localhost(vm: str) -> None:
    run = run_playbook(play(task("one", 'channel: "%s"\nonline: 1' % vm)),
                       {"localhost": {"ansible_connection": "local"}})
    assert run.rc == 0, run.output
    assert result_of(run, "one")["online_cpus"] == [0]
    assert online(vm) == [0]
