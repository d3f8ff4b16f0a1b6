#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_facts
short_description: Ansible facts from the QEMU guest agent alone, with no Python in the guest
version_added: 0.1.0
description:
  - Returns C(ansible_facts) under Ansible's own names and shapes (C(ansible_distribution), C(ansible_os_family),
    C(ansible_default_ipv4), C(ansible_mounts), ...), read from the guest agent's read-only commands in about
    a second, so playbooks and roles written for C(setup)'s facts run on guests without Python.
  - As a facts module, C(ansible_facts_modules=[vmguest.qga.qga_facts]) makes C(gather_facts) use it over the
    P(vmguest.qga.qga#connection) connection (see the examples); as a task it works over that connection or its own
    O(channel).
  - Windows guests get the values C(ansible.windows.setup) uses (C(ansible_os_family=Windows),
    C(ansible_system=Win32NT), C(ansible_interfaces) as a list of dicts, ...).
  - A command the agent lacks, blocks or refuses (a frozen guest) leaves its facts out, named with the reason
    in C(ansible_facts.qga.unavailable) and shown at C(-v); it never fails the task.
  - Facts with no Ansible name (agent version, enabled commands, disks, logged-in users, raw OS info) are under
    C(ansible_facts.qga).
  - What differs from C(setup)'s values, and why, is listed in the connection guide
    (R(Facts without Python,ansible_collections.vmguest.qga.docsite.facts)).
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
attributes:
  check_mode:
    support: full
    description: Read-only.
  diff_mode:
    support: none
    description: Read-only.
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
    support: full
seealso:
  - module: ansible.builtin.setup
  - module: vmguest.qga.qga_info
  - ref: ansible_collections.vmguest.qga.docsite.facts
    description: Facts without Python, the recipe and the differences from setup.
options:
  gather_subset:
    description:
      - What to gather, as C(setup)'s O(ansible.builtin.setup#module:gather_subset). V(all), V(min), or any of
        V(platform) (system, kernel, architecture, host names), V(distribution) (distribution, versions,
        os_family), V(date_time), V(qga) (agent version, enabled commands, OS info), V(hardware) (vCPUs,
        memory, mounts, disks), V(mounts), V(network) (interfaces and addresses), V(users) (logged-in users).
      - V(min) (V(platform), V(distribution), V(date_time), V(qga)) is always gathered unless excluded with
        V(!min); a name with V(!) excludes it, V(!all) excludes everything but V(min).
      - C(gather_facts) does not pass the play's C(gather_subset) on to facts modules other than C(setup); set it
        with C(module_defaults) (see the examples).
    type: list
    elements: str
    default: [all]
  guest_exec_facts:
    description:
      - Also gather C(ansible_pkg_mgr), C(ansible_service_mgr) (with V(min)) and C(ansible_default_ipv4) (with
        V(network)), which no agent command gives, with one C(guest-exec) of C(/bin/sh) and plain POSIX tools
        (C(ip), C(readlink), C(cat)) in the guest, still without Python.
      - Only where the agent allows C(guest-exec); otherwise these facts are left out and named in
        C(ansible_facts.qga.unavailable). Not on Windows guests.
    type: bool
    default: false
notes:
  - C(gather_timeout) is not an option; each agent command has O(rpc_timeout), and C(gather_facts) does not
    pass its C(gather_timeout) to facts modules other than C(setup).
  - Under C(gather_facts) the module runs in the connection, which needs pipelining (its default). With
    C(setup) in C(ansible_facts_modules) too, set C(ansible_facts_parallel=false) (see the examples).
"""

EXAMPLES = r"""
# gather_facts with no Python in the guest: in the inventory or the play
- hosts: agent_only_vms
  vars:
    ansible_facts_modules: [vmguest.qga.qga_facts]
  tasks:
    - name: Facts as setup names them
      ansible.builtin.debug:
        msg: "{{ ansible_facts.distribution }} {{ ansible_facts.distribution_version }} ({{ ansible_os_family }})"

# Both, where the guest has Python: setup's values win; in order, not in parallel
- hosts: vms_with_python
  vars:
    ansible_facts_modules: [vmguest.qga.qga_facts, setup]
    ansible_facts_parallel: false
  module_defaults:
    vmguest.qga.qga_facts:
      gather_subset: [min]  # the qga facts; setup gives the rest (lists such as mounts would be appended)
  tasks:
    - name: Agent version next to setup's facts
      ansible.builtin.debug:
        msg: "{{ ansible_facts.qga.version }} on Python {{ ansible_facts.python_version }}"

# pkg_mgr, service_mgr and default_ipv4 too, through one guest-exec
- hosts: agent_only_vms
  vars:
    ansible_facts_modules: [vmguest.qga.qga_facts]
  module_defaults:
    vmguest.qga.qga_facts:
      guest_exec_facts: true
  tasks:
    - name: Install with the guest's package manager
      ansible.builtin.debug:
        msg: "{{ ansible_pkg_mgr }} via {{ ansible_default_ipv4.gateway | default('no default route') }}"

- name: As a task, through libvirt from the controller
  vmguest.qga.qga_facts:
    channel: libvirt:qemu:///system
    domain: web1
    gather_subset: [network]
  delegate_to: localhost
  delegate_facts: false
"""

RETURN = r"""
ansible_facts:
  description: Facts under setup's names (without the C(ansible_) prefix inside C(ansible_facts)).
  returned: always
  type: complex
  contains:
    system:
      description: V(Linux), V(FreeBSD), ... or V(Win32NT).
      returned: with platform
      type: str
    kernel:
      description: The kernel release (Windows, the OS version C(10.0.17763.0)).
      returned: with platform
      type: str
    hostname:
      description: The host name up to its first dot (C(nodename), C(fqdn) and C(domain) come with it).
      returned: with platform
      type: str
    distribution:
      description: As setup names it (V(Debian), V(RedHat), V(Ubuntu), ...); Windows, the OS caption.
      returned: with distribution
      type: str
    os_family:
      description: ansible-core's family of the distribution (V(Debian), V(RedHat), ...), or V(Windows).
      returned: with distribution
      type: str
    date_time:
      description: setup's date_time for the guest clock and zone (without C(tz_dst)).
      returned: with date_time
      type: dict
    processor_vcpus:
      description: The vCPUs online (also C(processor_nproc)); the agent does not see sockets or cores.
      returned: with hardware
      type: int
    memtotal_mb:
      description: The memory online, in MiB.
      returned: with hardware
      type: int
    mounts:
      description: One entry per filesystem with C(mount), C(device), C(fstype), C(size_total), C(size_available).
      returned: with hardware or mounts
      type: list
      elements: dict
    interfaces:
      description: The interface names (Windows, a list of dicts as ansible.windows.setup's); one
        C(ansible_<name>) dict each on POSIX guests (C(device), C(macaddress), C(ipv4), C(ipv4_secondaries),
        C(ipv6)), and C(all_ipv4_addresses), C(all_ipv6_addresses).
      returned: with network
      type: list
    qga:
      description: What has no Ansible name.
      returned: always
      type: dict
      sample:
        version: "7.2.22"
        enabled_commands: ["guest-exec", "guest-get-osinfo"]
        osinfo: {"id": "debian", "version-id": "12"}
        disks: []
        users: [{"user": "alice", "login-time": 1796532396.4}]
        unavailable: {"users": "guest-get-users is disabled in this agent"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "gather_subset": {"type": "list", "elements": "str", "default": ["all"]},
    "guest_exec_facts": {"type": "bool", "default": False},
})


def main() -> None:
    """This module runs on the controller (action plugin, or the connection under gather_facts)."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_facts runs on the controller (action plugin, or the vmguest.qga.qga "
                         "connection under gather_facts with pipelining); it cannot run in a guest")


if __name__ == "__main__":
    main()
