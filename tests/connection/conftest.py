# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The connection's modes, for the tests whose code path differs by mode.

A test that asks for `connection_mode` runs once per mode: plain pipelining, through the channel relay
(persist, with pipelining) and with the persistent executor (the default); VMGUEST_QGA_TEST_MODES narrows
them. Each mode is set the way a user sets it, through the connection's environment variables, which every
ansible-playbook the test starts inherits. The relays and executor workers a test's plays started are
stopped after it, so the next test meets the mode it asks for and nothing left over from another.
"""

from __future__ import annotations

import typing as t

import pytest
from connection_modes import SELECTED_MODES, set_mode


@pytest.fixture(params=SELECTED_MODES)
def connection_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> t.Iterator[str]:
    """pipelining, persist or executor: the test runs once in each."""
    yield from set_mode(monkeypatch, request.param)


@pytest.fixture(params=[mode for mode in SELECTED_MODES if mode != "persist"])
def vm_connection_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> t.Iterator[str]:
    """pipelining or executor, on the VM (a relay only saves a socket connect there, and test_persist covers it)."""
    yield from set_mode(monkeypatch, request.param)
