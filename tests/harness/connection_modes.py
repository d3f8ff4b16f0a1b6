# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The connection's modes as a user sets them (environment variables), and what a mode leaves running.

pipelining, persist (the channel relay, with pipelining) and executor (the persistent executor, the default).
"""

from __future__ import annotations

import os
import signal
import subprocess
import typing as t

import pytest
from executor_workers import (
    ENV_NAME,
    PARENT_DIR,
    process_exists,
    running_workers,
    stop_workers_started_since,
    wait_for,
)

CONNECTION_MODES: dict[str, dict[str, str]] = {
    "pipelining": {"VMGUEST_QGA_EXECUTOR": "pipelining"},
    "persist": {"VMGUEST_QGA_PERSIST": "5", "VMGUEST_QGA_EXECUTOR": "pipelining"},
    "executor": {"VMGUEST_QGA_EXECUTOR_IDLE_TIMEOUT": "60"},  # (the default: persistent)
}
# VMGUEST_QGA_TEST_MODES=executor,...: run the mode-parametrized tests in those modes only (the newest
# ansible-core's pass runs the connection suite in the default mode alone, for time).
SELECTED_MODES = [mode for mode in os.environ.get("VMGUEST_QGA_TEST_MODES", ",".join(CONNECTION_MODES)).split(",")
                  if mode in CONNECTION_MODES]

# The relay is started as `python -c 'from ...relay import main; ...' CHANNEL SOCKET IDLE`.
RELAY_PATTERN = "plugin_utils.relay import main"


def relay_processes() -> set[int]:
    """The channel relays this test run started (they inherit its executor directory variable)."""
    proc = subprocess.run(["pgrep", "-f", RELAY_PATTERN], capture_output=True, text=True, check=False)
    return {int(pid) for pid in proc.stdout.split() if started_by_this_run(int(pid))}


def started_by_this_run(pid: int) -> bool:
    try:
        with open("/proc/%d/environ" % pid, "rb") as handle:
            return ("%s=%s" % (ENV_NAME, PARENT_DIR)).encode() in handle.read().split(b"\0")
    except OSError:
        return False


def stop_relays_started_since(before: set[int]) -> None:
    """SIGKILL: the test is over and its relay holds nothing that needs a clean exit."""
    for pid in relay_processes() - before:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        wait_for(lambda pid=pid: not process_exists(pid), 10)


def set_mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> t.Iterator[str]:
    for name in {name for settings in CONNECTION_MODES.values() for name in settings}:
        monkeypatch.delenv(name, raising=False)
    for name, value in CONNECTION_MODES[mode].items():
        monkeypatch.setenv(name, value)
    relays, workers = relay_processes(), set(running_workers())
    yield mode
    stop_relays_started_since(relays)
    stop_workers_started_since(workers)


# For a test whose code path the channel relay does not change (users, become, what the agent itself
# caps or refuses): pipelining and the executor only. The relay's own paths keep all three modes.
without_relay = pytest.mark.parametrize(
    "connection_mode", [mode for mode in SELECTED_MODES if mode != "persist"], indirect=True)
