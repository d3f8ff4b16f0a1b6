#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_fstrim
short_description: Discard unused blocks of the guest filesystems through the QEMU guest agent
version_added: 0.1.0
description:
  - Runs C(guest-fstrim) in the guest, which trims every mounted filesystem that supports it (like C(fstrim -a)),
    so thin-provisioned or sparse disk images can give the space back to the host.
  - Reports the bytes trimmed per mount point. Changed when anything was trimmed.
  - Filesystems that cannot be trimmed (no discard support) are reported with the agent's error and a warning; they
    do not fail the task.
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
attributes:
  check_mode:
    support: partial
    description: Can run in check mode.
    details: In check mode nothing is trimmed; the task is skipped and says so (what a trim would free is unknown).
  diff_mode:
    support: none
    description: Nothing to compare.
options:
  minimum:
    description:
      - Minimum contiguous free range to discard, in bytes (a hint the guest may ignore). Larger values finish sooner
        on fragmented filesystems but trim less. V(0) discards every free block.
    type: int
    default: 0
  timeout:
    description:
      - Seconds to wait for the trim to finish (large filesystems can take minutes).
    type: float
    default: 600
notes:
  - The disk must pass discards through to the image (for example C(discard='unmap') in libvirt) for the host to gain
    space; the guest reports what it trimmed either way.
  - Some filesystems (ext4) remember what they trimmed, so an immediate second run trims nothing and reports no change.
seealso:
  - module: vmguest.qga.qga_info
"""

EXAMPLES = r"""
- name: Give freed space back to the thin pool
  vmguest.qga.qga_fstrim:
  register: trim

- name: Only ranges of 1 MiB and more
  vmguest.qga.qga_fstrim:
    minimum: 1048576
"""

RETURN = r"""
paths:
  description: What the agent reports per mount point (C(path), C(trimmed) bytes, C(minimum), or C(error)).
  returned: success, not in check mode
  type: list
  elements: dict
  sample: [{"path": "/", "trimmed": 1073741824, "minimum": 0}, {"path": "/boot/efi", "error": "trim not supported"}]
trimmed:
  description: Bytes trimmed per mount point that could be trimmed.
  returned: success, not in check mode
  type: dict
  sample: {"/": 1073741824, "/srv": 0}
trimmed_bytes:
  description: The bytes trimmed in all.
  returned: success, not in check mode
  type: int
  sample: 1073741824
errors:
  description: The mount points that could not be trimmed, with the agent's reason.
  returned: success, not in check mode
  type: dict
  sample: {"/boot/efi": "trim not supported"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "minimum": {"type": "int", "default": 0},
    "timeout": {"type": "float", "default": 600.0},
})


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_fstrim runs on the controller (action plugin); it cannot run in a guest")


if __name__ == "__main__":
    main()
