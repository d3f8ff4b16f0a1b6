#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_ssh_keys
short_description: Manage a guest user's SSH authorized keys through the QEMU guest agent
version_added: 0.1.0
description:
  - Adds, removes or sets the public keys in a guest user's C(~/.ssh/authorized_keys) with the agent's
    C(guest-ssh-get-authorized-keys), C(guest-ssh-add-authorized-keys) and C(guest-ssh-remove-authorized-keys)
    (qemu-guest-agent 5.2 or later). The agent creates C(~/.ssh) (0700) and the file (0600) owned by the user.
  - Every key is checked before anything is sent - an optional options prefix, a known key type, base64 key
    data that decodes to a key of that type, an optional comment. The agent itself checks almost nothing.
  - A key is identified by its type and key data; its options and comment are part of the line. With
    O(state=present), a line of the same key with other options or comment is replaced by the given line.
  - Needs no Python and no exec in the guest.
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
attributes:
  check_mode:
    support: full
    description: Reads the keys and says what would change.
  diff_mode:
    support: full
    description: The authorized keys before and after, one per line.
options:
  user:
    description: The guest user whose authorized keys are managed.
    type: str
    required: true
  keys:
    description:
      - Public keys, one authorized_keys line each (C([options] type base64 [comment])).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) - add the keys missing (replace lines of the same keys that differ).
      - V(absent) - remove every line holding one of the keys (whatever its options or comment).
      - V(exclusive) - the file holds exactly these keys afterwards (V([]) removes all).
    type: str
    choices: [present, absent, exclusive]
    default: present
notes:
  - The order in which the agent lists keys is its own (some versions list the file bottom-up); only the set of
    lines is compared.
seealso:
  - module: ansible.posix.authorized_key
"""

EXAMPLES = r"""
- name: Let the deploy key in as alice
  vmguest.qga.qga_ssh_keys:
    user: alice
    keys:
      - "{{ lookup('file', 'deploy.pub') }}"

- name: Only these keys for root, from the hypervisor
  vmguest.qga.qga_ssh_keys:
    channel: libvirt:qemu:///system
    domain: web1
    user: root
    state: exclusive
    keys: "{{ admin_keys }}"
  delegate_to: localhost

- name: Revoke a key
  vmguest.qga.qga_ssh_keys:
    user: alice
    state: absent
    keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKTQ1V9mjPZY31h55Jl6nl7VBxl6cQgag9+s8kvJSEpZ
"""

RETURN = r"""
user:
  description: The user.
  returned: always
  type: str
keys:
  description: The authorized keys afterwards (as they would be, in check mode).
  returned: success
  type: list
  elements: str
added:
  description: Lines added.
  returned: success
  type: list
  elements: str
removed:
  description: Lines removed.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "user": {"type": "str", "required": True},
    "keys": {"type": "list", "elements": "str", "required": True, "no_log": False},
    "state": {"type": "str", "choices": ["present", "absent", "exclusive"], "default": "present"},
})


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_ssh_keys runs on the controller (action plugin); it cannot run in a guest")


if __name__ == "__main__":
    main()
