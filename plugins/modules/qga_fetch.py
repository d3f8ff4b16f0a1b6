#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_fetch
short_description: Fetch a file from a guest through the QEMU guest agent
version_added: 0.1.0
description:
  - Copies the guest file O(src) to the controller, streamed in chunks through C(guest-file-read)
    (never held in memory whole) and checked by sha256.
  - Like M(ansible.builtin.fetch), O(dest) is a directory that receives C(DEST/INVENTORY_HOSTNAME/SRC),
    or with O(flat=true) the file path itself (or, ending in C(/), a directory that gets the file under its own name).
  - Idempotent - when the local file already has the guest file's sha256 nothing is transferred.
  - Needs no Python in the guest. The guest's sha256 comes from C(sha256sum) through C(guest-exec) when the agent
    allows it; without C(guest-exec) the file is read and compared after the transfer.
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
  - vmguest.qga.transfer_progress
attributes:
  check_mode:
    support: full
    description: Says whether the local file would change; writes nothing.
  diff_mode:
    support: none
    description: No diff.
options:
  src:
    description: The absolute path of the file in the guest. Directories are not supported.
    type: str
    required: true
  dest:
    description:
      - A directory on the controller (see O(flat)). A relative path is relative to the playbook's directory.
    type: path
    required: true
  flat:
    description:
      - V(false) - store the file as C(DEST/INVENTORY_HOSTNAME/SRC).
      - V(true) - O(dest) is the local file path; when it ends with C(/), the file goes into that directory
        under the basename of O(src).
    type: bool
    default: false
  fail_on_missing:
    description: Fail when O(src) does not exist in the guest (else report it and carry on).
    type: bool
    default: true
  validate_checksum:
    description: Check the fetched file's sha256 against the guest file's.
    type: bool
    default: true
seealso:
  - module: vmguest.qga.qga_copy
  - module: ansible.builtin.fetch
"""

EXAMPLES = r"""
- name: Collect every guest's os-release as fetched/HOST/etc/os-release
  vmguest.qga.qga_fetch:
    src: /etc/os-release
    dest: fetched

- name: One file, named by the host
  vmguest.qga.qga_fetch:
    src: /var/log/cloud-init.log
    dest: "logs/{{ inventory_hostname }}-cloud-init.log"
    flat: true
    fail_on_missing: false
"""

RETURN = r"""
dest:
  description: The local file.
  returned: when the guest file exists
  type: str
file:
  description: The guest file.
  returned: always
  type: str
checksum:
  description: The sha256 of the local file (after the transfer).
  returned: when the guest file exists
  type: str
remote_checksum:
  description: The sha256 of the guest file.
  returned: when the guest file exists
  type: str
size:
  description: Bytes in the file.
  returned: when the guest file exists
  type: int
msg:
  description: Why nothing was fetched, or what failed.
  returned: when nothing was fetched or on failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "src": {"type": "str", "required": True},
    "dest": {"type": "path", "required": True},
    "flat": {"type": "bool", "default": False},
    "fail_on_missing": {"type": "bool", "default": True},
    "validate_checksum": {"type": "bool", "default": True},
    "progress_after": {"type": "float"},
})


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_fetch runs on the controller (action plugin); it cannot run in a guest")


if __name__ == "__main__":
    main()
