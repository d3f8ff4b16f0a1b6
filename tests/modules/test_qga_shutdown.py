# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_shutdown: check mode everywhere, the disabled command on the host agent, a real reboot of the VM,
a real powerdown over libvirt (the last test of the libvirt group).

libvirt reports the agent going away with the guest as an error ("Guest agent disappeared while executing
command"): the module must confirm through the domain instead of failing. The powerdown test shows it; a reboot
over libvirt takes the same path into the same wait for the new boot as the reboot test over the socket (it was
checked by hand: rebooted, detected_by boot_id, ~10 s; as a test it cost a minute of CI).
"""

from __future__ import annotations

import typing as t

import pytest
from ansible_run import CHECK_MODE, IGNORE_ERRORS, play, qga_host, result_of, run_playbook, tasks_of, vm_channel
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

task = tasks_of("vmguest.qga.qga_shutdown")

BOOT_ID = "/proc/sys/kernel/random/boot_id"


def libvirt_host(libvirt_vm: t.Any) -> dict[str, t.Any]:
    return qga_host("libvirt:" + libvirt_vm.uri, ansible_qga_domain=libvirt_vm.domain)


def boot_id(channel: str, domain: str | None = None) -> str:
    with shared_client(channel, domain=domain, timeout=60) as client:
        return files.read_bytes(client, BOOT_ID, max_bytes=4096).decode().strip()


@pytest.mark.fault
def test_shutdown_disabled_on_the_host_agent_is_a_clear_error(host_agent: HostAgent) -> None:
    run = run_playbook(play(
        task("powerdown", "mode: powerdown", IGNORE_ERRORS),
        task("check reboot", "mode: reboot", CHECK_MODE + IGNORE_ERRORS),
        task("bad mode", "mode: sleep", IGNORE_ERRORS),
    ), {"h": qga_host(host_agent.channel)})
    msg = result_of(run, "powerdown")["msg"]
    assert "Command guest-shutdown has been disabled" in msg and "--allow-rpcs" in msg
    assert "Command guest-shutdown has been disabled" in result_of(run, "check reboot")["msg"]
    assert "value of mode must be one of: powerdown, reboot, halt" in result_of(run, "bad mode")["msg"]


def test_check_mode_shuts_nothing_down(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    before = boot_id(channel)
    run = run_playbook(play(
        task("powerdown", "mode: powerdown"),
        task("halt", "mode: halt"),
        task("reboot", "mode: reboot"),
    ), {"vm": qga_host(channel)}, args=["--check"])
    assert run.rc == 0, run.output
    for name in ("powerdown", "halt", "reboot"):
        result = result_of(run, name)
        assert result["changed"] is True and result["msg"].startswith("check mode: the guest would"), name
        assert "elapsed" not in result
    assert test_vm.is_running() and boot_id(channel) == before


@pytest.mark.spoils_vm("reboot")
def test_reboot_waits_for_the_agent_of_the_new_boot(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    before = boot_id(channel)
    run = run_playbook(play(
        task("reboot", "mode: reboot\nreboot_timeout: 400"),
        "    - name: after\n      vmguest.qga.qga_info:\n        gather_subset: [hostname]\n",
    ), {"vm": qga_host(channel)})
    assert run.rc == 0, run.output
    reboot = result_of(run, "reboot")
    assert reboot["changed"] is True and reboot["rebooted"] is True
    assert reboot["detected_by"] == "boot_id" and reboot["boot_id"] != before
    assert 0 < reboot["elapsed"] < 400
    assert result_of(run, "after")["hostname"] == "qga-testvm"  # the same connection works after the reboot
    assert boot_id(channel) == reboot["boot_id"]
    assert test_vm.agent_ping()


@pytest.mark.spoils_vm("powerdown")
@pytest.mark.vm_kind("libvirt")
def test_powerdown_over_libvirt_is_confirmed_by_the_domain_shutting_off(libvirt_vm: t.Any, vm_pool: t.Any) -> None:
    try:
        powerdown = task("powerdown", "mode: powerdown\nreboot_timeout: 120")
        run = run_playbook(play(powerdown), {"vm": libvirt_host(libvirt_vm)})
        assert run.rc == 0, run.output
        off = result_of(run, "powerdown")
        assert off["changed"] is True and off["domain_state"] == "shutoff" and 0 < off["elapsed"] < 120
        assert not libvirt_vm.is_running()
    finally:
        vm_pool.discard_libvirt()
