# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_info against real agents: over the connection, through its own channel, ad hoc."""

from __future__ import annotations

import json
import os
import subprocess
import typing as t

import pytest
from ansible_run import qga_host, result_of, run_adhoc, run_playbook, vm_channel
from hostagent import HostAgent

PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: info
      vmguest.qga.qga_info:
        gather_subset: "{{ subset }}"
      register: info
"""


def test_all_subsets_from_the_host_agent_list_blocked_ones_as_unsupported(host_agent: HostAgent) -> None:
    run = run_playbook(PLAY, {"h": qga_host(host_agent.channel, subset=["all"])})
    assert run.rc == 0, run.output
    result = result_of(run, "info")
    assert result["changed"] is False
    assert result["agent"]["commands"]["guest-exec"] is True
    assert result["agent"]["commands"]["guest-fsfreeze-freeze"] is False
    assert result["osinfo"]["id"]
    assert result["hostname"] == os.uname().nodename
    assert result["fsfreeze"] == "thawed"
    assert abs(result["time"]["drift_seconds"]) < 5
    assert result["memory_blocks"]["block_size"] > 0
    assert "devices" in result["unsupported"]  # Linux agents disable guest-get-devices
    assert "disabled" in result["unsupported"]["devices"]
    for subset in ("osinfo", "hostname", "timezone", "users", "vcpus", "fsinfo", "disks", "network"):
        assert subset in result, subset


@pytest.mark.fault
def test_unknown_subset_is_a_clear_error(host_agent: HostAgent) -> None:
    run = run_playbook(PLAY, {"h": qga_host(host_agent.channel, subset=["osinfo", "cpu"])})
    assert run.rc != 0
    assert "unknown gather_subset 'cpu'" in result_of(run, "info")["msg"]


def test_own_channel_option_works_from_localhost(host_agent: HostAgent) -> None:
    play = """
- hosts: all
  gather_facts: false
  tasks:
    - name: info
      vmguest.qga.qga_info:
        channel: "%s"
        gather_subset: [hostname]
""" % host_agent.channel
    run = run_playbook(play, {"localhost": {"ansible_connection": "local"}})
    assert run.rc == 0, run.output
    assert result_of(run, "info")["hostname"] == os.uname().nodename


def test_module_defaults_group_sets_the_channel_once(host_agent: HostAgent) -> None:
    play = """
- hosts: all
  gather_facts: false
  module_defaults:
    group/vmguest.qga.qga:
      channel: "%s"
  tasks:
    - name: info
      vmguest.qga.qga_info:
        gather_subset: [osinfo]
""" % host_agent.channel
    run = run_playbook(play, {"localhost": {"ansible_connection": "local"}})
    assert run.rc == 0, run.output
    assert result_of(run, "info")["osinfo"]["id"]


def test_no_channel_anywhere_says_what_to_set() -> None:
    run = run_playbook(PLAY, {"localhost": {"ansible_connection": "local", "subset": ["osinfo"]}})
    assert run.rc != 0
    assert "no agent channel: set the channel option" in result_of(run, "info")["msg"]


def test_ad_hoc_over_the_connection(host_agent: HostAgent) -> None:
    run = run_adhoc("all", {"h": qga_host(host_agent.channel)},
                    ["-m", "vmguest.qga.qga_info", "-a", "gather_subset=agent,osinfo"])
    assert run.rc == 0, run.output
    assert run.stdout.startswith("h | SUCCESS => "), run.stdout
    reply = json.loads(run.stdout.split(" => ", 1)[1])
    installed = subprocess.run(["qemu-ga", "--version"], capture_output=True, text=True, check=True).stdout
    assert reply["agent"]["version"] and installed.strip().endswith(" " + reply["agent"]["version"]), installed
    assert reply["agent"]["commands"]["guest-exec"] is True and reply["osinfo"]["kernel-release"] == os.uname().release


@pytest.mark.fault
def test_frozen_vm_reports_frozen_and_lists_what_is_disabled(test_vm: t.Any, vm_client: t.Any) -> None:
    vm_client.execute("guest-fsfreeze-freeze", timeout=120)
    try:
        vm_client.close()  # the play needs the channel
        run = run_playbook(PLAY, {"vm": qga_host(vm_channel(test_vm), subset=["all"])})
    finally:
        vm_client.connect()
        vm_client.execute("guest-fsfreeze-thaw", timeout=120)
    assert run.rc == 0, run.output
    result = result_of(run, "info")
    assert result["fsfreeze"] == "frozen"
    assert "disabled while the guest filesystems are frozen" in result["unsupported"]["osinfo"]
    assert result["agent"]["commands"]["guest-fsfreeze-thaw"] is True
