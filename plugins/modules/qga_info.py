#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_info
short_description: Everything the QEMU guest agent can tell about a guest
version_added: 0.1.0
description:
  - Asks the guest agent about the guest, namely the agent version and enabled commands, OS, hostname,
    timezone, logged-in users, clock, vCPUs, filesystems, disks, network interfaces, memory
    blocks, devices and the fsfreeze state.
  - Commands the agent lacks or has disabled are listed under RV(unsupported) with the reason;
    they do not fail the task.
  - Changes nothing. Needs no Python in the guest.
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
seealso:
  - module: vmguest.qga.qga_exec
  - module: ansible.builtin.setup
options:
  gather_subset:
    description:
      - What to gather. V(all), or any of V(agent), V(osinfo), V(hostname), V(timezone), V(users), V(time),
        V(vcpus), V(fsinfo), V(disks), V(network), V(memory_blocks), V(devices), V(fsfreeze).
      - Prefix a name with V(!) to leave it out of V(all).
    type: list
    elements: str
    default: [all]
"""

EXAMPLES = r"""
- name: Facts of every agent-only VM
  vmguest.qga.qga_info:
  register: guest

- name: Only the OS and the freeze state, through libvirt from the controller
  vmguest.qga.qga_info:
    channel: libvirt:qemu:///system
    domain: web1
    gather_subset: [osinfo, fsfreeze]
  delegate_to: localhost

# ad hoc: ansible all -m vmguest.qga.qga_info -a 'gather_subset=agent,osinfo'
"""

RETURN = r"""
agent:
  description: The agent version and each command with whether it is enabled.
  returned: when gathered
  type: dict
  sample: {"version": "7.2.22", "commands": {"guest-exec": true, "guest-shutdown": false}}
osinfo:
  description: C(guest-get-osinfo).
  returned: when gathered and supported
  type: dict
  sample: {"id": "debian", "version-id": "12", "kernel-release": "6.1.0-56-amd64"}
hostname:
  description: The guest's host name.
  returned: when gathered and supported
  type: str
timezone:
  description: C(guest-get-timezone) (C(zone) may be missing, C(offset) in seconds east of UTC).
  returned: when gathered and supported
  type: dict
users:
  description: Logged-in users (C(guest-get-users)).
  returned: when gathered and supported
  type: list
  elements: dict
time:
  description: The guest clock and its drift from the controller's.
  returned: when gathered and supported
  type: dict
  sample: {"guest_ns": 1795600000000000000, "drift_seconds": -0.002}
vcpus:
  description: C(guest-get-vcpus).
  returned: when gathered and supported
  type: list
  elements: dict
fsinfo:
  description: C(guest-get-fsinfo).
  returned: when gathered and supported
  type: list
  elements: dict
disks:
  description: C(guest-get-disks).
  returned: when gathered and supported
  type: list
  elements: dict
network:
  description: C(guest-network-get-interfaces).
  returned: when gathered and supported
  type: list
  elements: dict
memory_blocks:
  description: C(guest-get-memory-blocks) and C(guest-get-memory-block-info) (block size).
  returned: when gathered and supported
  type: dict
devices:
  description: C(guest-get-devices) (Windows guests).
  returned: when gathered and supported
  type: list
  elements: dict
fsfreeze:
  description: V(thawed) or V(frozen).
  returned: when gathered and supported
  type: str
unsupported:
  description: Each subset that could not be gathered, with the reason (not implemented, disabled, failed).
  returned: always
  type: dict
  sample: {"devices": "guest-get-devices is disabled in this agent (Command guest-get-devices has been disabled)"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "gather_subset": {"type": "list", "elements": "str", "default": ["all"]},
})


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_info runs on the controller (action plugin); it cannot run in a guest")


if __name__ == "__main__":
    main()
