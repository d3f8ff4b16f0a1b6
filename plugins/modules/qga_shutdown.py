#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_shutdown
short_description: Power down, halt or reboot a guest through the QEMU guest agent
version_added: 0.1.0
description:
  - Asks the guest agent to shut the guest down (C(guest-shutdown)); the agent runs the guest's own shutdown, so
    services stop cleanly.
  - For O(mode=reboot) the task waits until the agent answers again from a new boot, bounded by O(reboot_timeout).
    A new boot is recognised by a changed C(/proc/sys/kernel/random/boot_id) (read through C(guest-file-read)); where
    that file cannot be read (Windows, file commands disabled) by the agent going silent and then answering again.
  - The agent sends no reply to C(guest-shutdown); only an error (command disabled, shutdown failed) comes back.
  - Over a libvirt channel the agent going away is confirmed through the domain. O(mode=powerdown) waits, bounded by
    O(reboot_timeout), until libvirt reports the domain shut off, and fails when it does not; O(mode=reboot) waits for
    the new boot as on every channel.
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
attributes:
  check_mode:
    support: full
    description: Checks that the agent would accept the command and reports a change; shuts nothing down.
  diff_mode:
    support: none
    description: Nothing to compare.
options:
  mode:
    description:
      - V(powerdown) powers the VM off, V(halt) halts the guest (the VM keeps running), V(reboot) reboots it.
    type: str
    choices: [powerdown, reboot, halt]
    default: powerdown
  reboot_timeout:
    description:
      - Seconds to wait, after the command, for the agent of the rebooted guest to answer (O(mode=reboot)), or for
        libvirt to report the domain shut off (O(mode=powerdown) over a libvirt channel).
    type: float
    default: 600
notes:
  - After V(powerdown) or V(halt) the agent no longer answers; later tasks for this host fail until the VM runs again.
  - Linux guests need a C(shutdown) command (qemu-ga runs C(shutdown -P|-H|-r +0)).
seealso:
  - module: vmguest.qga.qga_suspend
"""

EXAMPLES = r"""
- name: Reboot and wait for the guest agent to come back
  vmguest.qga.qga_shutdown:
    mode: reboot
    reboot_timeout: 300
  register: reboot

- name: Power the VM off
  vmguest.qga.qga_shutdown:
    mode: powerdown
"""

RETURN = r"""
elapsed:
  description: Seconds from the shutdown command until the agent answered from the new boot (reboot), or until the
    command was accepted (powerdown, halt).
  returned: success, not in check mode
  type: float
  sample: 23.4
rebooted:
  description: Whether the guest rebooted and its agent answers again.
  returned: success with O(mode=reboot), not in check mode
  type: bool
boot_id:
  description: The guest's boot id after the reboot, when it could be read.
  returned: success with O(mode=reboot), not in check mode
  type: str
domain_state:
  description: The domain's state as libvirt reports it after the command (V(shutoff) after a powerdown).
  returned: success with O(mode=powerdown) or O(mode=halt) over a libvirt channel, not in check mode
  type: str
  sample: shutoff
detected_by:
  description: How the new boot was recognised, V(boot_id) or V(agent_restart) (went silent, then answered again).
  returned: success with O(mode=reboot), not in check mode
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "mode": {"type": "str", "choices": ["powerdown", "reboot", "halt"], "default": "powerdown"},
    "reboot_timeout": {"type": "float", "default": 600.0},
})


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_shutdown runs on the controller (action plugin); it cannot run in a guest")


if __name__ == "__main__":
    main()
