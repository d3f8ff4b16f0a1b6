# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.agents lists the test VM as a domain of a real libvirtd and plays through libvirt."""

from __future__ import annotations

import glob
import typing as t

from inventory_helpers import run_inventory, run_playbook_on, write_config

PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: data disk
      command: grep -c ' /run/data ' /proc/mounts
    - name: info
      vmguest.qga.qga_info:
        gather_subset: [osinfo]
"""


def _libvirt_socket(libvirt_vm: t.Any) -> str:
    # libvirt's channel dir is domain-<id>-<name>; the harness domain name is short enough to appear whole.
    found = glob.glob("/var/lib/libvirt/qemu/channel/target/domain-*-%s/org.qemu.guest_agent.0" % libvirt_vm.domain)
    assert len(found) == 1, found
    return found[0]


def test_libvirt_domain_with_an_agent_becomes_a_host_reached_through_libvirt(libvirt_vm: t.Any, work_dir: str) -> None:
    config = write_config(
        work_dir,
        "sockets: []\nlibvirt_uris: ['%s']\nprobe_timeout: 30\nkeyed_groups:\n  - key: qga_source\n" % libvirt_vm.uri,
    )
    inventory = run_inventory(config)
    assert inventory.rc == 0, inventory.output
    vm = inventory.hostvars[libvirt_vm.domain]
    assert vm["ansible_connection"] == "vmguest.qga.qga"
    assert vm["ansible_qga_channel"] == "libvirt:" + libvirt_vm.uri
    assert vm["ansible_qga_domain"] == libvirt_vm.domain
    assert vm["qga_source"] == "libvirt"
    assert vm["qga_osinfo"]["id"]
    assert libvirt_vm.domain in inventory.group("_libvirt")

    run = run_playbook_on(config, PLAY, "--limit", libvirt_vm.domain)
    assert run.rc == 0, run.output
    assert run.task("data disk", libvirt_vm.domain)["result"]["stdout"] == "1"
    assert run.task("info", libvirt_vm.domain)["result"]["osinfo"]["id"] == vm["qga_osinfo"]["id"]


def test_libvirts_own_socket_is_not_probed_when_libvirt_lists_the_domain(libvirt_vm: t.Any, work_dir: str) -> None:
    socket_path = _libvirt_socket(libvirt_vm)
    config = write_config(work_dir, "libvirt_uris: ['%s']\nprobe_timeout: 30\n" % libvirt_vm.uri)  # default globs
    inventory = run_inventory(config, "-vvv")
    assert inventory.rc == 0, inventory.output
    assert inventory.hostvars[libvirt_vm.domain]["qga_source"] == "libvirt"
    assert "skipping %s: domain %s is listed through libvirt_uris" % (socket_path, libvirt_vm.domain) \
        in inventory.stdout, inventory.output


def test_libvirts_socket_alone_is_skipped_with_a_hint_to_use_libvirt_uris(libvirt_vm: t.Any, work_dir: str) -> None:
    socket_path = _libvirt_socket(libvirt_vm)
    config = write_config(work_dir, "sockets: ['%s']\nprobe_timeout: 2\n" % socket_path)
    inventory = run_inventory(config, "-v")
    assert inventory.rc == 0, inventory.output
    assert inventory.hostvars == {}
    assert "list the domain through libvirt_uris instead" in inventory.stdout, inventory.output
    # Without -v too: the inventory is not silently empty, the warning names the fix.
    quiet = run_inventory(config)
    assert quiet.hostvars == {}
    assert "1 agent socket(s) of libvirt domains did not answer" in quiet.stderr, quiet.output
    assert "libvirt_uris: ['qemu:///system']" in quiet.stderr, quiet.output
    # libvirt's own agent connection still works afterwards.
    assert libvirt_vm.agent_command("guest-ping") == {}
