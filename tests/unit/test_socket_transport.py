# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unix socket channels: an agent that goes away is named the same way however the kernel reports it."""

from __future__ import annotations

import socket

import pytest

from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaChannelError
from ansible_collections.vmguest.qga.plugins.module_utils.qga.transport import SocketTransport


def _agent_leaves(with_unread_data: bool) -> SocketTransport:
    ours, agents = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    transport = SocketTransport.connected("unix:/run/agent.sock", ours)
    if with_unread_data:
        transport.send(b'{"execute": "guest-ping"}\n', 5)  # the agent dies before reading it: the kernel resets
    agents.close()
    return transport


@pytest.mark.parametrize("with_unread_data", [False, True], ids=["end of stream", "connection reset"])
def test_an_agent_that_went_away_is_named_as_such_on_receive(with_unread_data: bool) -> None:
    transport = _agent_leaves(with_unread_data)
    try:
        with pytest.raises(QgaChannelError, match=r"\(the agent or the VM went away\)") as raised:
            transport.receive(5)
        assert "unix:/run/agent.sock" in str(raised.value)
    finally:
        transport.close()


def test_an_agent_that_went_away_is_named_as_such_on_send() -> None:
    transport = _agent_leaves(with_unread_data=False)
    try:
        with pytest.raises(QgaChannelError, match=r"send failed: .*\(the agent or the VM went away\)"):
            transport.send(b"x", 5)
    finally:
        transport.close()
