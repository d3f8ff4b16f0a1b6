# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""exec: channels (a command's stdin/stdout) with real processes: sending is bounded like receiving."""

from __future__ import annotations

import time

import pytest

from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaChannelError, QgaTimeoutError
from ansible_collections.vmguest.qga.plugins.module_utils.qga.transport import ExecTransport


def test_a_command_that_stops_reading_times_the_send_out() -> None:
    # A stalled ssh or socat: its stdin pipe fills (64 KiB) and nobody drains it.
    transport = ExecTransport("exec:sleep 30", ["sleep", "30"])
    transport.open(5)
    try:
        started = time.monotonic()
        with pytest.raises(QgaTimeoutError, match=r"no room to send within 0\.5 s"):
            transport.send(b"x" * (1024 * 1024), 0.5)
        assert time.monotonic() - started < 5
    finally:
        transport.close()


def test_a_command_that_reads_gets_everything_and_one_that_exited_is_a_channel_error() -> None:
    transport = ExecTransport("exec:cat", ["cat"])
    transport.open(5)
    try:
        payload = b"y" * (32 * 1024)
        transport.send(payload, 10)
        echoed = b""
        while len(echoed) < len(payload):
            echoed += transport.receive(10)
        assert echoed == payload
    finally:
        transport.close()
    gone = ExecTransport("exec:true", ["true"])
    gone.open(5)
    try:
        time.sleep(0.2)
        with pytest.raises(QgaChannelError, match="send failed: the command exited with status 0"):
            gone.send(b"z" * 1024, 5)
    finally:
        gone.close()
