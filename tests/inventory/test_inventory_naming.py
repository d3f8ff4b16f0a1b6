# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How agents are named: what the discovery helpers read from socket paths, Proxmox configs and libvirt domain XML,
and host names from one directory per VM."""

from __future__ import annotations

import os

from collection_path import REPO_ROOT
from inventory_helpers import AgentDir, link_agent, run_inventory, stale_socket, write_config

from ansible_collections.vmguest.qga.plugins.plugin_utils.inventory_discovery import (
    agent_channel_state,
    scan_sockets,
    served_by_libvirt,
    socket_record,
)

DOMAIN_XML = """<domain type='kvm'><name>web1</name><devices>
  <channel type='unix'><source mode='bind' path='/x'/><target type='virtio' name='org.qemu.spice.0'/></channel>
  <channel type='unix'><source mode='bind' path='/y'/>
    <target type='virtio' name='org.qemu.guest_agent.0' state='%s'/></channel>
</devices></domain>"""


def test_libvirt_channel_dir_gives_the_domain_name_and_a_long_one_matches_its_full_name(work_dir: str) -> None:
    short_dir = os.path.join(work_dir, "domain-3-web1")
    long_dir = os.path.join(work_dir, "domain-12-a-very-long-domain-n")  # libvirt keeps 20 characters
    for directory in (short_dir, long_dir):
        os.makedirs(directory)
        stale_socket(os.path.join(directory, "org.qemu.guest_agent.0"))
    scan = scan_sockets([os.path.join(work_dir, "*", "org.qemu.guest_agent.0")])
    names = {record.vm_name: record for record in scan.records}
    assert sorted(map(str, names)) == ["a-very-long-domain-n", "web1"]
    assert served_by_libvirt(names["web1"], {"web1"})
    assert served_by_libvirt(names["a-very-long-domain-n"], {"a-very-long-domain-name-that-goes-on"})
    assert not served_by_libvirt(names["web1"], {"web10"})
    assert not served_by_libvirt(names["a-very-long-domain-n"], {"another-domain"})


def test_proxmox_socket_gives_the_vmid_and_the_configured_name(work_dir: str) -> None:
    with open(os.path.join(work_dir, "105.conf"), "w") as handle:
        handle.write("cores: 2\nname: build-runner\n[pending]\nname: renamed\n")
    record = socket_record("/run/qemu-server/105.qga", proxmox_config_dir=work_dir)
    assert (record.vmid, record.vm_name) == ("105", "build-runner")
    assert socket_record("/run/qemu-server/106.qga", proxmox_config_dir=work_dir).vm_name is None
    assert not served_by_libvirt(record, {"build-runner"})  # a Proxmox socket is never libvirt's


def test_a_path_matched_by_two_globs_is_one_candidate_and_plain_files_are_rejected(work_dir: str) -> None:
    stale_socket(os.path.join(work_dir, "vm.sock"))
    with open(os.path.join(work_dir, "readme.sock"), "w") as handle:
        handle.write("x")
    scan = scan_sockets([os.path.join(work_dir, "*.sock"), "unix:" + os.path.join(work_dir, "vm.sock")])
    assert [record.channel for record in scan.records] == ["unix:" + os.path.join(work_dir, "vm.sock")]
    assert scan.rejected == {os.path.join(work_dir, "readme.sock"): "not a unix socket"}


def test_agent_channel_state_from_domain_xml() -> None:
    assert agent_channel_state(DOMAIN_XML % "connected") == "connected"
    assert agent_channel_state(DOMAIN_XML % "disconnected") == "disconnected"
    assert agent_channel_state("<domain><devices/></domain>") is None


def _vm_dirs(agent_dir: AgentDir, work_dir: str) -> str:
    """VMS/web1/qga.sock and VMS/db1/qga.sock reaching the two host agents; returns VMS."""
    vms = os.path.join(work_dir, "vms")
    for name, agent in agent_dir.agents.items():
        os.makedirs(os.path.join(vms, name))
        link_agent(os.path.join(vms, name), "qga.sock", agent)
    return vms


def test_the_example_names_one_directory_per_vm_after_the_directory(agent_dir: AgentDir, work_dir: str) -> None:
    vms = _vm_dirs(agent_dir, work_dir)
    with open(os.path.join(REPO_ROOT, "examples", "vms.qga_agents.yml")) as handle:
        example = handle.read()
    assert "/run/vms/*/qga.sock" in example
    config = os.path.join(work_dir, "vms.qga_agents.yml")
    with open(config, "w") as handle:
        handle.write(example.replace("/run/vms/", vms + "/"))
    inventory = run_inventory(config)
    assert inventory.rc == 0 and "WARNING" not in inventory.stderr, inventory.output
    assert sorted(inventory.hostvars) == ["db1", "web1"]
    assert inventory.group("vms") == ["db1", "web1"]
    for name in ("db1", "web1"):
        assert inventory.hostvars[name]["ansible_qga_channel"] == "unix:%s/%s/qga.sock" % (vms, name)
        assert inventory.hostvars[name]["qmp_socket"] == "%s/%s/qmp.sock" % (vms, name)


def test_agents_that_get_one_name_are_a_warning_naming_both_paths_and_the_fix(
    agent_dir: AgentDir, work_dir: str
) -> None:
    vms = _vm_dirs(agent_dir, work_dir)
    config = write_config(work_dir, "sockets: ['%s/*/qga.sock']\n" % vms)  # the default hostnames
    inventory = run_inventory(config)
    assert inventory.rc == 0, inventory.output
    assert list(inventory.hostvars) == ["qga"]
    warning = " ".join(inventory.stderr.split())
    assert (
        "2 agents get the host name qga (from hostnames: socket_name) and only the first is kept: "
        f"unix:{vms}/db1/qga.sock (kept), unix:{vms}/web1/qga.sock (left out). To name them apart, set hostnames "
        f"in {config}: hostnames: [socket_dir] names each socket after its directory (db1, web1)"
    ) in warning, inventory.output
