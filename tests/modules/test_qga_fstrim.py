# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_fstrim against real agents: the host agent (guest-fstrim blocked) and the test VM's ext4 disk."""

from __future__ import annotations

import subprocess
import typing as t

import pytest
from ansible_run import _bin, ansible_env, module_task, play, qga_host, result_of, run_playbook
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.module_utils.qga import guest_exec
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient


def task(name: str, body: str = "", extra: str = "") -> str:
    return module_task("vmguest.qga.qga_fstrim", name, body, extra)


DATA = "/run/data"


@pytest.mark.fault
def test_fstrim_disabled_on_the_host_agent_is_a_clear_error(host_agent: HostAgent) -> None:
    run = run_playbook(play(
        task("trim", extra="      ignore_errors: true\n"),
        task("check", extra="      check_mode: true\n      ignore_errors: true\n"),
        task("negative", "minimum: -1", "      ignore_errors: true\n"),
    ), {"h": qga_host(host_agent.channel)})
    msg = result_of(run, "trim")["msg"]
    assert "Command guest-fstrim has been disabled" in msg and "--allow-rpcs" in msg
    assert "Command guest-fstrim has been disabled" in result_of(run, "check")["msg"]
    assert "minimum must be 0 or a number of bytes" in result_of(run, "negative")["msg"]


def test_ansible_doc_shows_the_module() -> None:
    proc = subprocess.run([_bin("ansible-doc"), "-t", "module", "vmguest.qga.qga_fstrim"], env=ansible_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "minimum" in proc.stdout and "trimmed_bytes" in proc.stdout


def test_trim_the_ext4_disk_then_nothing_left_to_trim(test_vm: t.Any) -> None:
    channel = "unix:%s" % test_vm.agent_socket
    # Free some blocks first, so there is something to trim whatever ran before.
    with QgaClient(channel, timeout=120) as client:
        done = guest_exec.run(client, ["/bin/sh", "-c", "dd if=/dev/zero of=%s/trim.bin bs=1M count=8 "
                                       "2>/dev/null && sync && rm %s/trim.bin && sync" % (DATA, DATA)], timeout=120)
        assert done.rc == 0, done.stderr
    run = run_playbook(play(
        task("check", extra="      check_mode: true\n"),
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
    channel = "unix:%s" % test_vm.agent_socket
    run = run_playbook(play(task("trim", 'channel: "%s"\nminimum: 1048576' % channel)),
                       {"localhost": {"ansible_connection": "local"}})
    assert run.rc == 0, run.output
    trim = result_of(run, "trim")
    assert DATA in trim["trimmed"]
    assert any(entry["path"] == DATA and entry["minimum"] == 1048576 for entry in trim["paths"])
