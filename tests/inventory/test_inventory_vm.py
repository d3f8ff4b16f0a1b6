# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.agents finds the real test VM by its agent socket, and a play runs in it."""

from __future__ import annotations

import os
import typing as t

from inventory_helpers import run_inventory, run_playbook_on, write_config

PLAY = """
- hosts: vms
  gather_facts: false
  tasks:
    - name: data disk
      command: grep -c ' /run/data ' /proc/mounts
    - name: info
      vmguest.qga.qga_info:
        gather_subset: [hostname, osinfo]
"""


def test_the_vm_socket_in_the_glob_becomes_a_host_a_play_runs_on(test_vm: t.Any, work_dir: str) -> None:
    sockets = os.path.join(work_dir, "vms")
    os.makedirs(sockets)
    os.symlink(str(test_vm.agent_socket), os.path.join(sockets, "testvm.sock"))
    config = write_config(
        work_dir,
        "sockets: ['unix:%s/*.sock']\nprobe_timeout: 30\ngroups:\n  vms: qga_osinfo is defined\n"
        "keyed_groups:\n  - key: qga_osinfo.machine\n    prefix: arch\n" % sockets,
    )
    inventory = run_inventory(config)
    assert inventory.rc == 0, inventory.output
    assert list(inventory.hostvars) == ["testvm"], inventory.output
    vm = inventory.hostvars["testvm"]
    assert vm["ansible_qga_channel"] == "unix:%s/testvm.sock" % sockets
    assert vm["qga_osinfo"]["machine"] == "x86_64"
    assert vm["qga_hostname"]
    assert "guest-fsfreeze-freeze" in vm["qga_enabled_commands"]  # a real guest agent: nothing blocked
    assert inventory.group("arch_x86_64") == ["testvm"]

    run = run_playbook_on(config, PLAY)
    assert run.rc == 0, run.output
    assert run.task("data disk", "testvm")["result"]["stdout"] == "1"  # only the VM has /run/data mounted
    info = run.task("info", "testvm")["result"]
    assert info["hostname"] == vm["qga_hostname"]
    assert info["osinfo"]["id"] == vm["qga_osinfo"]["id"]
