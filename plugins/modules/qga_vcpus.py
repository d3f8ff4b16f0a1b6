#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_vcpus
short_description: Take guest vCPUs online or offline through the QEMU guest agent
version_added: 0.1.0
description:
  - Sets how many logical processors of the guest are online (O(online_count)), or exactly which ones (O(online_cpus)),
    with C(guest-get-vcpus) and C(guest-set-vcpus).
  - Respects what the guest reports as C(can-offline). Asking to take offline a processor that cannot go offline
    (usually cpu0) fails before anything changes, naming the processor.
  - This changes which vCPUs the guest kernel uses; it does not hot-plug or unplug vCPUs of the VM.
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
attributes:
  check_mode:
    support: full
    description: Computes the change from C(guest-get-vcpus) and changes nothing.
  diff_mode:
    support: full
    description: The online and offline processors before and after.
options:
  online_count:
    description:
      - How many logical processors should be online.
      - Processors are taken online from the lowest id up and offline from the highest id down, skipping those that
        cannot go offline.
      - Mutually exclusive with O(online_cpus); one of them is required.
      - The same name as M(vmguest.qga.qga_memory_blocks)'s O(vmguest.qga.qga_memory_blocks#module:online_count);
        O(online) is the name it had first, kept as an alias.
    type: int
    aliases: [online]
  online_cpus:
    description:
      - The ids (C(logical-id)) of exactly the processors that should be online; every other one goes offline.
      - Mutually exclusive with O(online_count).
    type: list
    elements: int
notes:
  - Windows guest agents always disable C(guest-set-vcpus).
seealso:
  - module: vmguest.qga.qga_info
"""

EXAMPLES = r"""
- name: Leave two vCPUs online
  vmguest.qga.qga_vcpus:
    online_count: 2

- name: Exactly cpu0 and cpu3 online
  vmguest.qga.qga_vcpus:
    online_cpus: [0, 3]
"""

RETURN = r"""
online_cpus:
  description: The ids of the online processors after the task (in check mode, what they would be).
  returned: success
  type: list
  elements: int
  sample: [0, 1]
offline_cpus:
  description: The ids of the offline processors after the task.
  returned: success
  type: list
  elements: int
  sample: [2, 3]
changed_cpus:
  description: The processors the task took online or offline, with their new state.
  returned: success
  type: list
  elements: dict
  sample: [{"logical-id": 3, "online": false}]
vcpus:
  description: C(guest-get-vcpus) after the task (before it, in check mode).
  returned: success
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "online_count": {"type": "int", "aliases": ["online"]},
    "online_cpus": {"type": "list", "elements": "int"},
})
MUTUALLY_EXCLUSIVE = [["online_count", "online_cpus"]]
REQUIRED_ONE_OF = [["online_count", "online_cpus"]]


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE,
                           required_one_of=REQUIRED_ONE_OF, supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_vcpus runs on the controller (action plugin); it cannot run in a guest")


if __name__ == "__main__":
    main()
