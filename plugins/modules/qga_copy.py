#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_copy
short_description: Put a file into a guest through the QEMU guest agent
version_added: 0.1.0
description:
  - Writes O(content) or the controller file O(src) to the guest file O(dest), and sets its mode, owner and group.
  - Idempotent - the guest file's sha256 is computed in the guest (C(sha256sum), else read through
    C(guest-file-read) and hashed on the controller) and compared with the source's; nothing is written when
    they match.
  - Atomic - the data goes into a temporary file in the destination directory, created private (0600) before
    the agent writes a byte (qemu-ga itself would create it world-writable), which then replaces O(dest) with
    C(mv). A failed write leaves nothing behind.
  - Needs no Python in the guest, only the agent's file and exec commands. POSIX guests only.
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
  - vmguest.qga.transfer_progress
attributes:
  check_mode:
    support: full
    description: Says whether the file would change, reading only.
  diff_mode:
    support: full
    description: The old and new content of text files up to the diff size limit, and changed attributes.
options:
  content:
    description:
      - The file's content, written as UTF-8 text.
      - Set C(no_log) on the task to keep a secret content out of the output (that also drops the diff).
      - Exactly one of O(content) and O(src) is required.
    type: str
  src:
    description:
      - A file on the controller. A relative path is looked up like M(ansible.builtin.copy) does
        (the role's or play's C(files) directory first). Vault-encrypted files are decrypted unless O(decrypt=false).
      - Directories are not supported.
    type: path
  dest:
    description:
      - The absolute path of the file in the guest.
      - When it is an existing directory and O(src) is given, the file goes into it under the name of O(src).
      - Its directory must exist.
    type: str
    required: true
  mode:
    description:
      - Permissions of the file, as an octal string (V('0644')) or symbolic (V(u=rw,g=r,o=r)).
      - When not set, an existing file keeps its mode, and a new file gets V(0644).
    type: raw
  owner:
    description:
      - Owner of the file (name or uid). When not set, an existing file keeps its owner and a new file belongs to root.
    type: str
  group:
    description: Group of the file (name or gid). When not set, an existing file keeps its group.
    type: str
  backup:
    description:
      - Keep a copy of the old file (C(DEST.PID.YYYY-MM-DD@HH:MM:SS~)) when the content changes.
    type: bool
    default: false
  force:
    description: When V(false), an existing O(dest) is left alone (only missing files are created).
    type: bool
    default: true
  follow:
    description:
      - When O(dest) is a symbolic link, write to the file it points to. With V(false) the link is replaced
        by the new file when the content changes.
    type: bool
    default: false
  validate:
    description:
      - A command run in the guest (by C(/bin/sh -c)) on the temporary file before it replaces O(dest);
        C(%s) stands for the temporary file's path (quoted for the shell). A non-zero exit fails the task
        and leaves O(dest) as it was.
    type: str
  decrypt:
    description: Decrypt a vault-encrypted O(src).
    type: bool
    default: true
seealso:
  - module: vmguest.qga.qga_fetch
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: A config file from the role's files directory
  vmguest.qga.qga_copy:
    src: chrony.conf
    dest: /etc/chrony/chrony.conf
    mode: "0644"
    backup: true

- name: A private file for alice
  vmguest.qga.qga_copy:
    content: "{{ api_token }}\n"
    dest: /home/alice/.token
    owner: alice
    group: alice
    mode: "0600"
  no_log: true

- name: Checked before it replaces the old one
  vmguest.qga.qga_copy:
    src: sudoers.d/ops
    dest: /etc/sudoers.d/ops
    mode: "0440"
    validate: visudo -cf %s
"""

RETURN = r"""
dest:
  description: The guest path written (after following O(follow) links and directory O(dest)s).
  returned: success
  type: str
  sample: /etc/chrony/chrony.conf
src:
  description: The controller file copied.
  returned: when O(src) was given
  type: str
checksum:
  description: The sha256 of the content (hex).
  returned: success
  type: str
  sample: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
size:
  description: The content's size in bytes.
  returned: success
  type: int
mode:
  description: The file's mode (octal string).
  returned: success
  type: str
  sample: "0644"
owner:
  description: The file's owner.
  returned: success
  type: str
group:
  description: The file's group.
  returned: success
  type: str
uid:
  description: The file's owner uid.
  returned: success, when the file exists
  type: int
gid:
  description: The file's group gid.
  returned: success, when the file exists
  type: int
backup_file:
  description: The backup of the old file.
  returned: when O(backup) made one
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "content": {"type": "str"},
    "src": {"type": "path"},
    "dest": {"type": "str", "required": True},
    "mode": {"type": "raw"},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "backup": {"type": "bool", "default": False},
    "force": {"type": "bool", "default": True},
    "follow": {"type": "bool", "default": False},
    "validate": {"type": "str"},
    "decrypt": {"type": "bool", "default": True},
    "progress_after": {"type": "float"},
})
MUTUALLY_EXCLUSIVE = [["content", "src"]]
REQUIRED_ONE_OF = [["content", "src"]]


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE,
                           required_one_of=REQUIRED_ONE_OF, supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_copy runs on the controller (action plugin); it cannot run in a guest")


if __name__ == "__main__":
    main()
