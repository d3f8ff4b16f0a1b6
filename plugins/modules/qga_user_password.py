#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_user_password
short_description: Set a guest user's password through the QEMU guest agent
version_added: 0.1.0
description:
  - Sets the password of an existing guest user with the agent's C(guest-set-user-password)
    (C(chpasswd) in Linux guests), from a plain password or a ready crypt(3) hash (O(crypted=true)).
  - Idempotent where the current hash can be read - the agent reads C(/etc/shadow) (C(guest-file-read)) and the
    controller compares it with O(password) (a hash is compared as is; a plain password is checked with the
    controller's crypt(3) - Python's C(crypt) module, else libcrypt, else passlib - for the hash's scheme,
    for example yescrypt or sha512crypt). Where that is not possible the task says why in a warning and
    reports changed.
  - Nothing secret is returned or logged; the diff only says whether the password changes.
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
attributes:
  check_mode:
    support: full
    description: Says whether the password would change, reading only.
  diff_mode:
    support: full
    description: Says "password changed" (never a password or a hash).
seealso:
  - module: vmguest.qga.qga_ssh_keys
  - module: ansible.builtin.user
options:
  user:
    description: The guest user. It must exist.
    type: str
    required: true
  password:
    description:
      - The new password, or with O(crypted=true) its crypt(3) hash (for example from
        C(password_hash('sha512'))).
    type: str
    required: true
  crypted:
    description:
      - Whether O(password) is already a crypt(3) hash. The agent stores it as is, so it must use a scheme the
        guest's libc supports. Windows guests do not support this.
    type: bool
    default: false
  update_password:
    description:
      - V(on_change) - set the password only when it differs from the current one (or when that cannot be told).
      - V(always) - set it on every run (the task then always reports changed).
    type: str
    choices: [always, on_change]
    default: on_change
notes:
  - Setting a password also unlocks a locked account (chpasswd replaces the whole password field).
  - A password set in plain text is hashed by the guest with its default scheme (C(ENCRYPT_METHOD) or PAM).
"""

EXAMPLES = r"""
- name: Set alice's password (hashed by the guest)
  vmguest.qga.qga_user_password:
    user: alice
    password: "{{ vault_alice_password }}"

- name: Set root's password from a hash, only when it differs
  vmguest.qga.qga_user_password:
    user: root
    password: "{{ vault_root_password | password_hash('sha512', vault_root_salt) }}"
    crypted: true
"""

RETURN = r"""
user:
  description: The user.
  returned: always
  type: str
verified:
  description:
    - Whether the current password could be compared with the wanted one (false means changed was reported
      without knowing; the warnings say why).
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "user": {"type": "str", "required": True},
    "password": {"type": "str", "required": True, "no_log": True},
    "crypted": {"type": "bool", "default": False},
    "update_password": {"type": "str", "choices": ["always", "on_change"], "default": "on_change", "no_log": False},
})


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(
        msg="vmguest.qga.qga_user_password runs on the controller (action plugin); it cannot run in a guest"
    )


if __name__ == "__main__":
    main()
