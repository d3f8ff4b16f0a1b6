# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_fstrim against real agents: the host agent (guest-fstrim blocked) and the test VM's ext4 disk."""

from __future__ import annotations

import typing as t

import pytest
from ansible_run import CHECK_MODE, IGNORE_ERRORS, play, qga_host, result_of, run_playbook, tasks_of, vm_channel
from guest import guest_sh
from hostagent import HostAgent

task = tasks_of("vmguest.qga.qga_fstrim")

DATA = "/run/data"


@pytest.mark.fault
def test_fstrim_disabled_on_the_host_agent_is_a_clear_error(host_agent: HostAgent) -> None:
    run = run_playbook(play(
        task("trim", extra=IGNORE_ERRORS),
        task("check", extra=CHECK_MODE + IGNORE_ERRORS),
        task("negative", "minimum: -1", IGNORE_ERRORS),
    ), {"h": qga_host(host_agent.channel)})
    msg = result_of(run, "trim")["msg"]
    assert "Command guest-fstrim has been disabled" in msg and "--allow-rpcs" in msg
    assert "Command guest-fstrim has been disabled" in result_of(run, "check")["msg"]
    assert "minimum must be 0 or a number of bytes" in result_of(run, "negative")["msg"]


def test_trim_the_ext4_disk_then_nothing_left_to_trim(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    # Free some blocks first, so there is something to trim whatever ran before.
    guest_sh(channel, "dd if=/dev/zero of=%s/trim.bin bs=1M count=8 2>/dev/null && sync && rm %s/trim.bin && sync"
             % (DATA, DATA))
    run = run_playbook(play(
        task("check", extra=CHECK_MODE),
        task("trim"),
        task("trim again"),
    ), {"vm": qga_host(channel)})
    assert run.rc == 0, run.output
    assert run.task("check")["status"] == "skipped"
    check = result_of(run, "check")
    assert check["changed"] is False and "check mode: guest-fstrim was not run" in check["msg"]
    assert "trimmed" not in check

    trim = result_of(run, "trim")
    assert trim["changed"] is True
    assert trim["trimmed"][DATA] >= 8 * 1024 * 1024
    assert trim["trimmed_bytes"] == sum(trim["trimmed"].values())
    assert any(entry["path"] == DATA and entry["minimum"] == 0 for entry in trim["paths"])
    again = result_of(run, "trim again")  # ext4 remembers the groups it trimmed
    assert again["changed"] is False and again["trimmed"][DATA] == 0 and again["trimmed_bytes"] == 0


def test_minimum_through_the_channel_option(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    run = run_playbook(play(task("trim", 'channel: "%s"\nminimum: 1048576' % channel)),
                       {"localhost": {"ansible_connection": "local"}})
    assert run.rc == 0, run.output
    trim = result_of(run, "trim")
    assert DATA in trim["trimmed"]
    assert any(entry["path"] == DATA and entry["minimum"] == 1048576 for entry in trim["paths"])
