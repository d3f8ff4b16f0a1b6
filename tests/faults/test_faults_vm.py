# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault injection through real plays against the real test VM.

A frozen guest (tasks fail at once with the reason, nothing is written, the watchdog thaws),
the VM rebooted between two tasks of one play, garbage and stale replies queued on the VM's
virtio port, secrets kept out of -vvvv output, the log file and callback results, and a command
that sends no reply on success (guest-suspend-*) answered late by a stalled agent or lost by a
restarting one: neither may read as "the guest is suspending".
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import typing as t

import pytest
from ansible_run import ok, play, qga_host, result_of, run_playbook, vm_channel
from background_play import PlayInBackground, echo_task, gate_tasks, wait_until
from guest import agent, vm_status
from testvm import _qmp_command

from ansible_collections.vmguest.qga.plugins.module_utils.qga import guest_exec
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaCommandError, QgaError, QgaRequestLost
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

pytestmark = pytest.mark.fault

AUTO_THAW_S = 25


def agent_answers(channel: str) -> bool:
    try:
        with shared_client(channel, timeout=3, connect_timeout=3) as client:
            client.execute("guest-ping")
            return True
    except QgaError:
        return False


def guest_file_exists(channel: str, path: str) -> bool:
    with shared_client(channel, timeout=60) as client:
        return guest_exec.run(client, ["/bin/test", "-e", path]).rc == 0


def test_frozen_guest_tasks_fail_at_once_nothing_is_written_and_the_watchdog_thaws(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    target = "/run/data/written-while-frozen.txt"
    try:
        run = run_playbook(play(
            "    - name: freeze\n"
            "      vmguest.qga.qga_fsfreeze: {state: frozen, auto_thaw: %d}\n" % AUTO_THAW_S,
            "    - name: copy while frozen\n"
            "      vmguest.qga.qga_copy: {content: 'must not land', dest: %s}\n"
            "      ignore_errors: true\n" % target,
            "    - name: command while frozen\n"
            "      ansible.builtin.command: touch %s\n"
            "      ignore_errors: true\n" % target,
            "    - name: status while frozen\n"
            "      vmguest.qga.qga_fsfreeze: {state: status}\n",
        ), {"vm": qga_host(channel)})
        assert run.rc == 0, run.output
        assert ok(run, "freeze")["changed"] is True
        for name in ("copy while frozen", "command while frozen"):
            entry = run.task(name)
            assert entry["status"] in ("failed", "unreachable"), entry
            assert "frozen" in json.dumps(entry["result"]), entry
        assert ok(run, "status while frozen")["status"] == "frozen"
        # The play is over and left the guest frozen: the controller-side watchdog thaws it.
        wait_until(lambda: agent(channel, "guest-fsfreeze-status") == "thawed", AUTO_THAW_S + 60, "the watchdog thaw")
        assert not guest_file_exists(channel, target), "a task wrote into the frozen filesystem"
    finally:
        if agent(channel, "guest-fsfreeze-status") != "thawed":
            agent(channel, "guest-fsfreeze-thaw")


@pytest.mark.spoils_vm("reboot")
def test_vm_rebooted_between_tasks_the_next_task_reaches_the_new_boot(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-fault-") as work:
        ready, go = os.path.join(work, "ready"), os.path.join(work, "go")
        background = PlayInBackground(play(
            "    - name: boot before\n"
            "      ansible.builtin.command: cat /proc/sys/kernel/random/boot_id\n"
            "      register: before\n",
            gate_tasks(ready, go),
            "    - name: boot after\n"
            "      ansible.builtin.command: cat /proc/sys/kernel/random/boot_id\n"
            "      register: after\n",
            "    - name: a new boot\n"
            "      ansible.builtin.assert:\n"
            "        that: before.stdout != after.stdout\n",
        ), {"vm": qga_host(channel)}, work)
        wait_until(lambda: os.path.exists(ready), 300, "the play to reach the gate")
        _qmp_command(test_vm.qmp_socket, "system_reset")
        time.sleep(2)
        wait_until(lambda: agent_answers(channel), 300, "the agent after the reboot")
        open(go, "w").close()
        rc = background.finish(timeout=600)
    assert rc == 0, background.output
    assert "All assertions passed" in background.output, background.output


def test_garbage_and_stale_replies_queued_on_the_vm_port_do_not_reach_the_play(test_vm: t.Any) -> None:
    import socket

    channel = vm_channel(test_vm)
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(test_vm.agent_socket))
        raw.sendall(b"\x00garbage}{\n" + b'{"execute": "guest-get-osinfo"}\n' * 3 + b'{"execute": "guest-info"')
        time.sleep(1.0)  # the agent has answered into the port; nobody reads the replies
    run = run_playbook(play(
        echo_task("after garbage", "clean"),
        "    - name: hostname after garbage\n"
        "      vmguest.qga.qga_info: {gather_subset: [hostname]}\n",
    ), {"vm": qga_host(channel)})
    assert run.rc == 0, run.output
    assert ok(run, "after garbage")["stdout"] == "clean"
    assert ok(run, "hostname after garbage")["hostname"] == agent(channel, "guest-get-host-name")["host-name"]


def test_secrets_stay_out_of_vvvv_output_the_log_file_and_callback_results(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    secret = "Fault-Secret-%d-Zq" % os.getpid()
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-fault-") as work:
        log_path = os.path.join(work, "ansible.log")
        run = run_playbook(play(
            "    - name: set alice's password\n"
            "      vmguest.qga.qga_user_password: {user: alice, password: '{{ secret }}', update_password: always}\n"
            "      register: changed_password\n",
            "    - name: show what was registered\n"
            "      ansible.builtin.debug: {var: changed_password}\n",
            "    - name: a failing task that carries the secret\n"
            "      vmguest.qga.qga_user_password: {user: no-such-user-zz, password: '{{ secret }}'}\n"
            "      ignore_errors: true\n",
        ), {"vm": qga_host(channel, secret=secret)}, args=["-vvvv"], env={"ANSIBLE_LOG_PATH": log_path})
        with open(log_path) as handle:
            log_text = handle.read()
    assert run.rc == 0, run.output
    assert ok(run, "set alice's password")["changed"] is True
    assert "no-such-user-zz" in json.dumps(result_of(run, "a failing task that carries the secret"))
    assert "set alice's password" in log_text and "no-such-user-zz" in log_text
    for where, text in (("output", run.output), ("log file", log_text), ("callback results", json.dumps(run.results))):
        assert secret not in text, "the password appears in the %s" % where


# The test VM has no systemd, no pm-utils and no swap: its agent refuses hybrid suspend at once.
NOT_SUPPORTED = "the requested suspend mode is not supported by the guest"
# The client's wait for the guest-sync sent after a no-reply command, shorter than its 10 s default:
# the tests below control when the agent can answer, they need no margin for a slow guest there.
PAUSED_SYNC_WAIT = 3.0  # the VM stays paused until the client asks again, however long it waits
RESTART_SYNC_WAIT = 6.0  # the second guest-sync must come after the agent is killed (see below)


def test_a_stalled_agents_late_refusal_of_a_no_reply_command_is_still_the_error(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    asked_again = threading.Event()

    def log(line: str) -> None:
        if "asking again" in line:
            asked_again.set()

    outcome: list[object] = []
    # The second wait keeps its default: the resumed guest must answer within it.
    with shared_client(channel, timeout=60, log=log, no_reply_sync_wait=PAUSED_SYNC_WAIT) as client:
        client.ping()
        # A paused VM is an agent that cannot answer: the command and its guest-sync wait in the channel.
        _qmp_command(test_vm.qmp_socket, "stop")
        try:
            caller = threading.Thread(target=lambda: outcome.append(_outcome(client, "guest-suspend-hybrid")))
            caller.start()
            assert asked_again.wait(PAUSED_SYNC_WAIT + 30), "the client never sent its second guest-sync"
        finally:
            _qmp_command(test_vm.qmp_socket, "cont")
        caller.join(60)
        assert len(outcome) == 1 and isinstance(outcome[0], QgaCommandError), outcome
        assert NOT_SUPPORTED in str(outcome[0])
        assert client.execute("guest-get-host-name")["host-name"], "the stream is out of step after the late reply"
    assert vm_status(test_vm) == "running"


def test_an_agent_restarted_after_a_no_reply_command_is_a_lost_request_not_success(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    # Stop the agent before the command reaches it, then kill it: the test VM's init respawns it, and
    # the guest's port drops what the dead agent never read. Timeline (s): stopped at 1, the command
    # and its guest-sync sent at 5, killed at 8, the second guest-sync at 5 + RESTART_SYNC_WAIT = 11:
    # after the kill, so only the respawned agent sees it (it has the default wait to answer).
    stop_then_kill = "sleep 1; p=$(pidof qemu-ga); kill -STOP $p; sleep 7; kill -KILL $p"
    with shared_client(channel, timeout=60, no_reply_sync_wait=RESTART_SYNC_WAIT) as client:
        guest_exec.run(client, ["/bin/sh", "-c", "setsid sh -c '%s' </dev/null >/dev/null 2>&1 &" % stop_then_kill])
        time.sleep(5)
        outcome = _outcome(client, "guest-suspend-hybrid")
        assert isinstance(outcome, QgaRequestLost), (
            "expected the lost-request error, got %r (an agent that answered at once was not stopped in time)"
            % (outcome,))
        assert "the agent lost the request" in str(outcome) and "guest-suspend-hybrid" in str(outcome)
        assert "most likely never ran" in str(outcome)
        assert client.execute("guest-get-host-name")["host-name"], "the stream is out of step after the probe"
    assert vm_status(test_vm) == "running"


def _outcome(client: QgaClient, command: str) -> object:
    try:
        return client.execute(command)
    except QgaError as exc:
        return exc
