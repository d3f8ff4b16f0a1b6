# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_user_password: the user and password checked before the agent is asked anything.

What the agent refuses (an unknown user) and the password set for real: tests/modules/test_qga_user_password.py.
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.action.qga_user_password import ActionModule

SHA512_HASH = "$6$saltsalt$" + "a" * 86


@pytest.mark.parametrize(("user", "password", "crypted", "reason"), [
    ("alice", "plain-text", True, "with crypted: true, password must be a crypt(3) hash"),
    ("alice", "$6$salt with spaces$x", True, "must be a crypt(3) hash"),
    ("alice", "", False, "password is empty"),
    ("alice", "two\nlines", False, "password must not contain a line break"),
    ("", "Secret-1", False, "is not a valid user name"),
    ("al:ice", "Secret-1", False, "is not a valid user name"),
    (" alice", "Secret-1", False, "is not a valid user name"),
])
def test_input_refused_before_the_agent_is_asked(user: str, password: str, crypted: bool, reason: str) -> None:
    with pytest.raises(AnsibleActionFail) as raised:
        ActionModule._check_input(user, password, crypted)
    assert reason in str(raised.value)
    assert not password or password not in str(raised.value)  # the message never carries the password


@pytest.mark.parametrize(("password", "crypted"), [
    (SHA512_HASH, True),
    ("abJnggxhB/yWI", True),  # traditional DES crypt: 13 characters
    ("plain-text with spaces", False),
])
def test_input_accepted(password: str, crypted: bool) -> None:
    ActionModule._check_input("alice", password, crypted)
