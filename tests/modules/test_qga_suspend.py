# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_suspend against real agents.

The host agent blocks every suspend command (the disabled-command error). The test VM offers S3
and S4 (its ACPI says "supports S0 S3 S4 S5" and /sys/power/state lists mem and disk), but the
guest has no systemd, no pm-utils and no swap: hybrid is refused by the agent (the clear-error
path), suspend to RAM really suspends it (QMP shows "suspended"; system_wakeup brings it back).
Hibernation (disk) is never tried: without swap the kernel would go through a whole snapshot first.
"""

from __future__ import annotations

import time
import typing as t

import pytest
from ansible_run import CHECK_MODE, IGNORE_ERRORS, failed, play, qga_host, result_of, run_playbook, tasks_of, vm_channel
from guest import vm_status
from hostagent import HostAgent
from testvm import _qmp_command

task = tasks_of("vmguest.qga.qga_suspend")


@pytest.mark.fault
def test_suspend_disabled_on_the_host_agent_is_a_clear_error(host_agent: HostAgent) -> None:
    run = run_playbook(play(
        task("ram", "mode: ram", IGNORE_ERRORS),
        task("check disk", "mode: disk", CHECK_MODE + IGNORE_ERRORS),
        task("bad mode", "mode: s3", IGNORE_ERRORS),
    ), {"h": qga_host(host_agent.channel)})
    msg = result_of(run, "ram")["msg"]
    assert "Command guest-suspend-ram has been disabled" in msg and "--allow-rpcs" in msg
    assert "Command guest-suspend-disk has been disabled" in result_of(run, "check disk")["msg"]
    assert "value of mode must be one of: disk, ram, hybrid" in result_of(run, "bad mode")["msg"]


def test_check_mode_and_a_mode_the_guest_cannot_do(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    run = run_playbook(play(
        task("check ram", "mode: ram", CHECK_MODE),
        task("check disk", "mode: disk", CHECK_MODE),
        task("hybrid", "mode: hybrid", IGNORE_ERRORS),
    ), {"vm": qga_host(channel)})
    for name, command in (("check ram", "guest-suspend-ram"), ("check disk", "guest-suspend-disk")):
        result = result_of(run, name)
        assert result["changed"] is True and result["command"] == command
        assert result["msg"].startswith("check mode: the guest would be suspended")
    msg = failed(run, "hybrid")["msg"]
    assert "the guest cannot suspend (hybrid)" in msg
    assert "the requested suspend mode is not supported by the guest" in msg
    assert "Hint: hybrid suspend needs" in msg
    assert vm_status(test_vm) == "running" and test_vm.agent_ping()


@pytest.mark.spoils_vm("suspend")
def test_suspend_to_ram_and_wake_up(test_vm: t.Any, vm_pool: t.Any) -> None:
    channel = vm_channel(test_vm)
    try:
        _suspend_and_wake(test_vm, channel)
    finally:
        # After an S3 resume under TCG the guest's hwclock hangs, and with it guest-set-time
        # (seen here): later tests get a freshly booted VM.
        vm_pool.discard_plain()


def _suspend_and_wake(test_vm: t.Any, channel: str) -> None:
    try:
        run = run_playbook(play(task("ram", "mode: ram")), {"vm": qga_host(channel)})
        assert run.rc == 0, run.output
        result = result_of(run, "ram")
        assert result["changed"] is True and "virsh dompmwakeup" in result["msg"]
        deadline = time.monotonic() + 60
        while vm_status(test_vm) != "suspended" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert vm_status(test_vm) == "suspended"
    finally:
        if vm_status(test_vm) == "suspended":
            _qmp_command(test_vm.qmp_socket, "system_wakeup")
    deadline = time.monotonic() + 60
    while not test_vm.agent_ping() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert vm_status(test_vm) == "running" and test_vm.agent_ping()


@pytest.mark.spoils_vm("suspend")
@pytest.mark.vm_kind("libvirt")
def test_suspend_to_ram_over_libvirt_is_confirmed_by_the_domain(libvirt_vm: t.Any, vm_pool: t.Any) -> None:
    host = qga_host("libvirt:" + libvirt_vm.uri, ansible_qga_domain=libvirt_vm.domain)
    try:
        run = run_playbook(play(task("ram", "mode: ram")), {"vm": host})
        assert run.rc == 0, run.output
        result = result_of(run, "ram")
        assert result["changed"] is True and result["domain_state"] == "pmsuspended"
        assert "virsh dompmwakeup" in result["msg"]
    finally:
        vm_pool.discard_libvirt()  # after an S3 resume under TCG the guest's shutdown hangs (seen here)
