#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_suspend
short_description: Suspend a guest to RAM, to disk or both through the QEMU guest agent
version_added: 0.1.0
description:
  - Asks the guest agent to suspend the guest (C(guest-suspend-ram), C(guest-suspend-disk),
    C(guest-suspend-hybrid)).
  - When the guest cannot (no support for the mode, no swap to hibernate to, the command disabled), the task fails
    with the agent's error and a hint what the mode needs.
  - The agent sends no reply when the suspend starts; only an error comes back. The module counts the agent
    going silent (no answer to a guest-sync sent after the command within 10 s, nor to a second one within 5 s
    more) as the guest suspending. An agent that answers only the second guest-sync lost the command (it
    restarted), and the task fails saying so.
  - Over a libvirt channel the suspend is confirmed through the domain. The task waits (up to 120 s) until libvirt
    reports it V(pmsuspended) (V(shutoff) after hibernation), and fails when it does not.
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
attributes:
  check_mode:
    support: full
    description: Checks that the agent has the command enabled and reports a change; suspends nothing.
  diff_mode:
    support: none
    description: Nothing to compare.
options:
  mode:
    description:
      - V(ram) suspends to RAM (S3), V(disk) hibernates (S4; the VM powers off after writing memory to swap),
        V(hybrid) writes memory to swap and then suspends to RAM.
    type: str
    choices: [disk, ram, hybrid]
    required: true
notes:
  - A guest suspended to RAM is woken from the host (C(virsh dompmwakeup), QMP C(system_wakeup)); one hibernated to
    disk is started again (C(virsh start)). Until then its agent does not answer.
  - Suspend to RAM needs the VM to offer S3 (libvirt C(<pm><suspend-to-mem enabled='yes'/></pm>)); hibernation needs
    swap at least the size of the used memory (S4, C(<suspend-to-disk enabled='yes'/>)).
  - Windows guest agents always disable C(guest-suspend-hybrid).
seealso:
  - module: vmguest.qga.qga_shutdown
"""

EXAMPLES = r"""
- name: Suspend to RAM
  vmguest.qga.qga_suspend:
    mode: ram

- name: Hibernate
  vmguest.qga.qga_suspend:
    mode: disk
"""

RETURN = r"""
command:
  description: The agent command that was (in check mode, would be) sent.
  returned: success
  type: str
  sample: guest-suspend-ram
domain_state:
  description: The domain's state as libvirt reports it after the suspend (V(pmsuspended), V(shutoff) after
    hibernation).
  returned: success over a libvirt channel, not in check mode
  type: str
  sample: pmsuspended
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "mode": {"type": "str", "choices": ["disk", "ram", "hybrid"], "required": True},
})


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_suspend runs on the controller (action plugin); it cannot run in a guest")


if __name__ == "__main__":
    main()
