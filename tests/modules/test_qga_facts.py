# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_facts as gather_facts' facts module, against setup on the same machine.

The host agent's guest is this machine, so setup through the same connection describes what qga_facts
does; on the VM (its own test below) the guest is the TCG VM.
"""

from __future__ import annotations

import typing as t

import pytest
from ansible_run import AnsibleRun, qga_host, run_playbook, vm_channel
from facts_compare import EXPECTED_COMMON, compare, strip_prefix
from hostagent import HostAgent

# Play 1: gather_facts with qga_facts only and no Python at all (guest_exec_facts for pkg_mgr & co.).
# Play 2: qga_facts (its qga facts only) merged with setup, in order: setup's facts for the comparison.
PLAYS = """
- hosts: all
  gather_facts: true
  vars:
    ansible_facts_modules: [vmguest.qga.qga_facts]
    ansible_python_interpreter: /nonexistent/python
  module_defaults:
    vmguest.qga.qga_facts:
      guest_exec_facts: true
  tasks:
    - name: facts by os_family
      ansible.builtin.debug:
        msg: "{{ ansible_os_family }} {{ ansible_facts.distribution_major_version }}"

- hosts: all
  gather_facts: true
  vars:
    ansible_facts_modules: [vmguest.qga.qga_facts, setup]
    ansible_facts_parallel: false
  module_defaults:
    vmguest.qga.qga_facts:
      gather_subset: ["!min", qga]
  tasks:
    - name: merged
      ansible.builtin.debug:
        msg: "{{ ansible_facts.qga.version }} {{ ansible_facts.python_version }}"
"""


def gathered(run: AnsibleRun, host: str) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """The facts of play 1 (qga_facts) and play 2 (setup and qga_facts' qga), without ansible_."""
    gathering = [r for r in run.results if r["task"] == "Gathering Facts" and r["host"] == host]
    assert [r["status"] for r in gathering] == ["ok", "ok"], run.output[-5000:]
    return strip_prefix(gathering[0]["result"]["ansible_facts"]), strip_prefix(gathering[1]["result"]["ansible_facts"])


def assert_same_as_setup(ours: dict[str, t.Any], setup: dict[str, t.Any]) -> None:
    """Every fact both give is equal or differs only as documented; the usual ones are all compared."""
    compared, mismatches = compare(ours, setup)
    assert not mismatches, "\n".join(mismatches)
    missing = [key for key in EXPECTED_COMMON if key not in compared]
    assert not missing, "not compared (missing from qga_facts or setup): %s" % missing
    assert {entry["mount"] for entry in ours["mounts"]} & {entry["mount"] for entry in setup["mounts"]}
    for key in ("pkg_mgr", "service_mgr"):
        assert ours[key] == setup[key], key


def test_gather_facts_without_python_matches_setup_and_merges(host_agent: HostAgent) -> None:
    run = run_playbook(PLAYS, {"h": qga_host(host_agent.channel)})
    assert run.rc == 0, run.output[-5000:]
    ours, merged = gathered(run, "h")
    assert_same_as_setup(ours, merged)
    assert ours["default_ipv4"] == merged["default_ipv4"] or "address" not in merged["default_ipv4"]
    assert ours["qga"]["unavailable"] == {}, ours["qga"]["unavailable"]
    assert ours["os_family"] in run.task("facts by os_family")["result"]["msg"]
    # merged: setup's facts plus qga_facts' qga dict, nothing else of ours (gather_subset ["!min", qga])
    assert merged["qga"]["version"] == ours["qga"]["version"] and "python_version" in merged
    assert "osinfo" in merged["qga"] and "mounts" not in merged["qga"]


@pytest.mark.fault
def test_blocked_commands_leave_their_facts_out_and_say_so_at_v() -> None:
    play = """
- hosts: all
  gather_facts: true
  vars:
    ansible_facts_modules: [vmguest.qga.qga_facts]
    ansible_python_interpreter: /nonexistent/python
  tasks: []
"""
    with HostAgent(extra_blocked=("guest-get-osinfo", "guest-get-fsinfo")) as agent:
        run = run_playbook(play, {"h": qga_host(agent.channel)}, args=["-v"])
    assert run.rc == 0, run.output[-5000:]
    facts = strip_prefix(run.task("Gathering Facts")["result"]["ansible_facts"])
    assert "distribution" not in facts and "mounts" not in facts and "system" not in facts
    assert facts["hostname"] and facts["interfaces"] and facts["date_time"]["epoch"]
    assert facts["qga"]["unavailable"] == {
        "osinfo": "guest-get-osinfo is disabled in this agent",
        "mounts": "guest-get-fsinfo is disabled in this agent",
    }
    assert "vmguest.qga.qga_facts: no mounts facts: guest-get-fsinfo is disabled" in run.stdout
    assert "[WARNING]" not in run.output


def test_on_the_vm_gather_facts_without_python_matches_setup(test_vm: t.Any) -> None:
    """The TCG VM: qga_facts with a guest interpreter that does not exist, then setup with the real one."""
    run = run_playbook(PLAYS, {"vm": qga_host(vm_channel(test_vm))})
    assert run.rc == 0, run.output[-5000:]
    ours, merged = gathered(run, "vm")
    assert_same_as_setup(ours, merged)
    assert ours["hostname"] == "qga-testvm" and ours["qga"]["unavailable"] == {}
