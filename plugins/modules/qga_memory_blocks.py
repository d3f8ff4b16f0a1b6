#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_memory_blocks
short_description: Take guest memory blocks online or offline through the QEMU guest agent
version_added: 0.1.0
description:
  - Sets the online state of the guest's memory blocks (the Linux memory hotplug sections, as
    C(guest-get-memory-blocks) lists them) with C(guest-set-memory-blocks), per block (O(blocks)) and/or as a number
    of online blocks (O(online_count)).
  - Idempotent; blocks already in the wanted state are not touched.
  - Asking to take offline a block the guest reports as C(can-offline=false), or naming a block the guest does not
    have, fails before anything changes. The guest kernel may still refuse to offline a block (pages it cannot
    move); the task then fails naming the block and the reason.
  - This changes which memory the guest kernel uses; it does not hot-plug or unplug memory of the VM.
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
attributes:
  check_mode:
    support: full
    description: Computes the change from C(guest-get-memory-blocks) and changes nothing.
  diff_mode:
    support: full
    description: The online and offline blocks before and after.
options:
  blocks:
    description:
      - The wanted state of single blocks.
    type: list
    elements: dict
    suboptions:
      phys_index:
        description: The block's C(phys-index) (N of C(/sys/devices/system/memory/memoryN)).
        type: int
        required: true
      online:
        description: Whether the block should be online.
        type: bool
        required: true
  online_count:
    description:
      - How many blocks should be online in all.
      - Blocks named in O(blocks) keep the state given there; others are taken online from the lowest index up, or
        offline from the highest index down (skipping those that cannot go offline).
    type: int
notes:
  - At least one of O(blocks) and O(online_count) is required.
  - Windows guest agents always disable the memory block commands.
  - Offlining memory in a guest that needs it can make the guest kernel kill processes, or take a long time while it
    moves pages; the agent's reply is awaited for O(rpc_timeout) seconds (through the task's connection, for that
    connection's timeout).
seealso:
  - module: vmguest.qga.qga_info
"""

EXAMPLES = r"""
- name: Keep 6 memory blocks online
  vmguest.qga.qga_memory_blocks:
    online_count: 6

- name: Block 7 offline, block 6 online
  vmguest.qga.qga_memory_blocks:
    blocks:
      - {phys_index: 7, online: false}
      - {phys_index: 6, online: true}
"""

RETURN = r"""
online_blocks:
  description: The phys-index of each online block after the task (in check mode, what it would be).
  returned: success
  type: list
  elements: int
  sample: [0, 1, 2, 3, 4, 5]
offline_blocks:
  description: The phys-index of each offline block after the task.
  returned: success
  type: list
  elements: int
  sample: [6, 7]
changed_blocks:
  description: The blocks the task took online or offline, with their new state.
  returned: success
  type: list
  elements: dict
  sample: [{"phys-index": 7, "online": false}]
block_size:
  description: The size of one memory block in bytes (C(guest-get-memory-block-info)), when the agent tells.
  returned: success
  type: int
  sample: 134217728
online_bytes:
  description: The online memory in bytes (online blocks times RV(block_size)), when the block size is known.
  returned: success
  type: int
memory_blocks:
  description: C(guest-get-memory-blocks) after the task (before it, in check mode).
  returned: success
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "blocks": {
        "type": "list",
        "elements": "dict",
        "options": {
            "phys_index": {"type": "int", "required": True},
            "online": {"type": "bool", "required": True},
        },
    },
    "online_count": {"type": "int"},
})
REQUIRED_ONE_OF = [["blocks", "online_count"]]


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_one_of=REQUIRED_ONE_OF, supports_check_mode=True)
    module.fail_json(
        msg="vmguest.qga.qga_memory_blocks runs on the controller (action plugin); it cannot run in a guest"
    )


if __name__ == "__main__":
    main()
