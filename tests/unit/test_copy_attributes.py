# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_copy: the mode asked (octal or symbolic, from the current one) and the chown it takes.

Setting them in a guest: tests/modules/test_qga_copy.py.
"""

from __future__ import annotations

import typing as t

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.action.qga_copy import ActionModule
from ansible_collections.vmguest.qga.plugins.module_utils.qga.pathinfo import GuestPath

ALICE_FILE = GuestPath(path="/tmp/f", kind="file", mode=0o600, uid=1000, gid=1000, owner="alice", group="alice")
ABSENT = GuestPath(path="/tmp/f", kind="absent")


@pytest.mark.parametrize(("mode", "base", "wanted"), [
    ("u=rw,g=r,o=", 0o600, 0o640),
    ("u=rw,g=r,o=", 0o777, 0o640),
    ("u+x,o-r", 0o644, 0o740),
    ("a=r", 0o600, 0o444),
    ("0600", 0o644, 0o600),
    ("644", 0o600, 0o644),
    ("1777", 0o644, 0o1777),
    (0o600, 0o644, 0o600),
    (None, 0o644, None),
])
def test_the_mode_asked(mode: t.Any, base: int, wanted: int | None) -> None:
    assert ActionModule._wanted_mode(mode, base) == wanted


@pytest.mark.parametrize("mode", ["rwx", "u=rwz", "08888", "0o644"])
def test_a_mode_neither_octal_nor_symbolic_is_refused(mode: str) -> None:
    with pytest.raises(AnsibleActionFail, match="neither an octal mode like '0644' nor a symbolic one"):
        ActionModule._wanted_mode(mode, 0o644)


@pytest.mark.parametrize(("owner", "group", "info", "chown"), [
    ("alice", "alice", ALICE_FILE, ""),
    ("1000", "1000", ALICE_FILE, ""),  # numbers match too
    (None, None, ALICE_FILE, ""),
    ("root", None, ALICE_FILE, "root"),
    (None, "adm", ALICE_FILE, ":adm"),
    ("root", "adm", ALICE_FILE, "root:adm"),
    ("alice", None, ABSENT, "alice"),  # a new file is root's: any owner asked is a change
    (None, None, ABSENT, ""),
])
def test_the_chown_needed(owner: str | None, group: str | None, info: GuestPath, chown: str) -> None:
    assert ActionModule._chown_spec({"owner": owner, "group": group}, info) == chown
