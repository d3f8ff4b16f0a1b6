# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_ssh_keys: authorized_keys lines parsed and checked before anything is sent to the guest.

A refused key failing a play (and nothing sent): tests/modules/test_qga_ssh_keys.py.
"""

from __future__ import annotations

import base64
import os
import struct

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.action.qga_ssh_keys import ActionModule
from ansible_collections.vmguest.qga.plugins.module_utils.qga.ssh_keys import InvalidKeyError, parse_key


def key_blob(key_type: str, body: bytes) -> str:
    encoded_type = key_type.encode()
    return base64.b64encode(struct.pack(">I", len(encoded_type)) + encoded_type + body).decode()


def ed25519(comment: str = "") -> str:
    line = "ssh-ed25519 " + key_blob("ssh-ed25519", struct.pack(">I", 32) + os.urandom(32))
    return line + (" " + comment if comment else "")


@pytest.mark.parametrize(("line", "reason"), [
    ("", "the key is empty"),
    ("# comment", "a comment line is not a key"),
    ("ssh-ed25519", "the base64 key data after the key type ssh-ed25519 is missing"),
    ("ssh-ed25519 !!!!", "not valid base64"),
    ("ssh-ed25519 AAAA\nssh-rsa AAAA", "one line"),
    ('command="unterminated ssh-ed25519 AAAA', "unterminated quote"),
    ("ssh-foo AAAA", "no known key type"),
])
def test_key_validation_reasons(line: str, reason: str) -> None:
    with pytest.raises(InvalidKeyError) as info:
        parse_key(line)
    assert reason in str(info.value)


def test_valid_key_forms() -> None:
    blob = key_blob("ecdsa-sha2-nistp256", b"\x00\x00\x00\x08nistp256" + os.urandom(20))
    assert parse_key("ecdsa-sha2-nistp256 %s" % blob).comment == ""
    sk = key_blob("sk-ssh-ed25519@openssh.com", os.urandom(40))
    key = parse_key('from="10.0.0.1,10.0.0.2",no-agent-forwarding sk-ssh-ed25519@openssh.com %s me@x' % sk)
    assert key.options == 'from="10.0.0.1,10.0.0.2",no-agent-forwarding' and key.comment == "me@x"


@pytest.mark.parametrize("state", ["present", "absent", "exclusive"])
def test_a_line_that_is_no_key_is_refused_naming_it(state: str) -> None:
    with pytest.raises(AnsibleActionFail, match=r"keys\[0\] \(bogus\) is not a valid OpenSSH public key: no known "
                                                r"key type"):
        ActionModule._wanted(["bogus"], state)


def test_a_key_whose_data_is_of_another_type_is_refused() -> None:
    mismatched = "ssh-rsa " + ed25519("good").split()[1]
    with pytest.raises(AnsibleActionFail, match=r"is not a ssh-rsa key \(it says 'ssh-ed25519'\)"):
        ActionModule._wanted([mismatched], "present")


@pytest.mark.parametrize("state", ["present", "exclusive"])
def test_one_key_given_twice_differently_is_refused(state: str) -> None:
    bare = ed25519("b").rsplit(" ", 1)[0]
    with pytest.raises(AnsibleActionFail, match=r"keys\[1\] and keys\[2\] are the same key"):
        ActionModule._wanted([ed25519("a"), bare, bare + " other-comment"], state)


def test_one_key_given_twice_is_fine_to_remove_and_repeats_count_once() -> None:
    bare = ed25519()
    assert [key.line for key in ActionModule._wanted([bare, bare + " other"], "absent")] == [bare]
    line = ed25519("c")
    assert [key.line for key in ActionModule._wanted([line, line], "present")] == [line]
