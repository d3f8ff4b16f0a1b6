# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault injection through real plays against real host agents (dangerous RPCs blocked).

Each case breaks something real (garbage and stale replies on the channel, the agent killed
mid-command and mid-transfer, the agent restarted between tasks, two plays on one channel)
and asserts the message the operator sees, that nothing partial is reported or left as a
success, and that the next task works once the agent is back.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import tempfile
import threading
import time
import typing as t

import pytest
from ansible_run import failed, module_task, ok, play, qga_host, run_playbook
from background_play import PlayInBackground, echo_task, gate_tasks, wait_until
from hostagent import HostAgent

pytestmark = pytest.mark.fault

BIG_FILE_MIB = 192
# What the client says when the agent dies under it: mid-reply, or when reconnecting to a dead socket.
AGENT_GONE = re.compile(r"the (agent|agent or the VM) went away|the VM or the agent chardev is gone")


def kill_pid_file(path: str) -> None:
    """SIGKILL the process whose PID a guest command wrote to `path` (host agent: same PID space)."""
    try:
        with open(path) as handle:
            os.kill(int(handle.read().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


def big_file(directory: str, name: str = "big.bin") -> tuple[str, str]:
    """A BIG_FILE_MIB file of non-repeating bytes; returns (path, sha256)."""
    path = os.path.join(directory, name)
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        for index in range(BIG_FILE_MIB):
            chunk = index.to_bytes(4, "big") + block[4:]
            digest.update(chunk)
            handle.write(chunk)
    return path, digest.hexdigest()


@pytest.fixture
def work() -> t.Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-fault-") as directory:
        yield directory


def test_garbage_and_stale_replies_on_the_channel_do_not_reach_the_next_play(work: str) -> None:
    import serial

    with HostAgent(serial=True) as agent:
        previous = serial.serial_for_url(agent.serial_path)
        previous.write(b"\x00\xffnot json at all}{]\n")  # garbage: the agent answers with parse errors
        for _i in range(4):  # replies nobody reads, queued on the line like on a VM's virtio port
            previous.write(b'{"execute": "guest-get-host-name"}\n')
        previous.write(b'{"execute": "guest-sync", "arguments": {"id": 424242}}\n')
        previous.write(b'{"execute": "guest-ping"')  # half a request
        time.sleep(0.3)
        previous.close()
        run = run_playbook(
            play(echo_task("echo after garbage", "clean-reply"),
                 module_task("vmguest.qga.qga_info", "info after garbage", "gather_subset: [agent, hostname]")),
            {"vm": qga_host("serial:" + agent.serial_path)},
        )
    assert run.rc == 0, run.output
    assert ok(run, "echo after garbage")["stdout"] == "clean-reply"
    info = ok(run, "info after garbage")
    assert info["hostname"] == os.uname().nodename


def test_agent_killed_mid_command_fails_the_task_and_the_next_play_works(work: str) -> None:
    started = os.path.join(work, "started.pid")
    with HostAgent() as agent:
        hosts = {"vm": qga_host(agent.channel)}
        background = PlayInBackground(play(
            "    - name: long command\n"
            "      ansible.builtin.shell: echo $$ > %s; exec sleep 120\n" % started), hosts, work)
        try:
            wait_until(lambda: os.path.exists(started) and os.path.getsize(started) > 0, 120, "the command to start")
            agent.kill()
            rc = background.finish()
        finally:
            kill_pid_file(started)
        assert rc != 0, background.output
        assert "long command" in background.output
        assert "the agent or the VM went away" in background.output, background.output
        assert "UNREACHABLE" in background.output, background.output
        assert "changed: [vm]" not in background.output and "ok: [vm]" not in background.output
        agent.restart()
        run = run_playbook(play(echo_task("after restart", "back")), hosts)
        assert run.rc == 0, run.output
        assert ok(run, "after restart")["stdout"] == "back"


def _partial_transfer_files(directory: str) -> list[str]:
    return [name for name in os.listdir(directory) if name.startswith(".qga-") or "ansible-tmp" in name]


def test_agent_killed_mid_put_fails_and_leaves_no_destination(work: str) -> None:
    source, _digest = big_file(work)
    remote_tmp = os.path.join(work, "remote-tmp")
    dest_dir = os.path.join(work, "dest")
    os.makedirs(dest_dir)
    dest = os.path.join(dest_dir, "big.bin")
    with HostAgent() as agent:
        hosts = {"vm": qga_host(agent.channel, ansible_remote_tmp=remote_tmp)}
        background = PlayInBackground(play(
            "    - name: copy a big file\n"
            "      ansible.builtin.copy: {src: %s, dest: %s, mode: '0644'}\n" % (source, dest)), hosts, work)

        def upload_in_progress() -> bool:
            for root, _dirs, files in os.walk(remote_tmp):
                if any(os.path.getsize(os.path.join(root, name)) > 8 << 20 for name in files):
                    return True
            return False

        wait_until(upload_in_progress, 120, "the upload to be under way")
        agent.kill()
        rc = background.finish()
        assert rc != 0, background.output
        assert AGENT_GONE.search(background.output), background.output
        assert not os.path.exists(dest), "a partial upload reached the destination"
        assert os.listdir(dest_dir) == []
        agent.restart()
        run = run_playbook(play(
            "    - name: copy again\n"
            "      ansible.builtin.copy: {src: %s, dest: %s, mode: '0644'}\n" % (source, dest)), hosts)
        assert run.rc == 0, run.output
        assert ok(run, "copy again")["changed"] is True
        assert hashlib.sha256(open(dest, "rb").read()).hexdigest() == _digest


def test_agent_killed_mid_fetch_fails_and_leaves_no_local_file(work: str) -> None:
    source, digest = big_file(work)
    local_dir = os.path.join(work, "fetched")
    os.makedirs(local_dir)
    local = os.path.join(local_dir, "big.bin")
    with HostAgent() as agent:
        hosts = {"vm": qga_host(agent.channel)}
        background = PlayInBackground(play(
            "    - name: fetch a big file\n"
            "      ansible.builtin.fetch: {src: %s, dest: %s, flat: true}\n" % (source, local)), hosts, work)

        def download_in_progress() -> bool:
            partial = [os.path.join(local_dir, name) for name in _partial_transfer_files(local_dir)]
            return any(os.path.getsize(path) > 8 << 20 for path in partial if os.path.exists(path))

        wait_until(download_in_progress, 120, "the download to be under way")
        agent.kill()
        rc = background.finish()
        assert rc != 0, background.output
        assert AGENT_GONE.search(background.output), background.output
        assert os.listdir(local_dir) == [], "partial download left behind: %s" % os.listdir(local_dir)
        agent.restart()
        run = run_playbook(play(
            "    - name: fetch again\n"
            "      ansible.builtin.fetch: {src: %s, dest: %s, flat: true}\n" % (source, local)), hosts)
        assert run.rc == 0, run.output
        assert hashlib.sha256(open(local, "rb").read()).hexdigest() == digest


def test_agent_restarted_between_tasks_the_play_goes_on(work: str) -> None:
    ready, go = os.path.join(work, "ready"), os.path.join(work, "go")
    with HostAgent() as agent:
        hosts = {"vm": qga_host(agent.channel)}
        background = PlayInBackground(play(
            echo_task("before restart", "one"),
            gate_tasks(ready, go),
            echo_task("after restart", "two"),
            module_task("vmguest.qga.qga_info", "info after restart", "gather_subset: [agent]"),
        ), hosts, work, args=["-v"])
        wait_until(lambda: os.path.exists(ready), 120, "the play to reach the gate")
        old_pid = agent.pid
        agent.restart()
        assert agent.pid != old_pid
        open(go, "w").close()
        rc = background.finish()
    assert rc == 0, background.output
    assert '"stdout": "two"' in background.output, background.output


def test_two_plays_on_one_channel_never_cross_replies(work: str) -> None:
    items = 12

    def tagged_play(tag: str) -> str:
        return play(
            "    - name: echo %s\n"
            "      ansible.builtin.command: echo %s-{{ item }}\n"
            "      loop: %s\n"
            "      register: echoes\n"
            "    - name: every reply is this play's own\n"
            "      ansible.builtin.assert:\n"
            "        that: echoes.results | map(attribute='stdout') | list == expected\n"
            "      vars:\n"
            "        expected: %s\n"
            % (tag, tag, list(range(items)), ["%s-%d" % (tag, index) for index in range(items)])
        )

    with HostAgent() as agent:
        hosts = {"vm": qga_host(agent.channel)}
        plays = [PlayInBackground(tagged_play(tag), hosts, work) for tag in ("alpha", "beta")]
        codes = [background.finish(timeout=600) for background in plays]
        for code, background in zip(codes, plays):
            assert code == 0, background.output
            assert "All assertions passed" in background.output or "ok: [vm]" in background.output


def test_rpc_timeout_on_a_silent_channel_names_the_timeout(work: str) -> None:
    """A channel that accepts but never answers (an agent that is not running in the guest)."""
    import socket

    path = os.path.join(work, "silent.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(4)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        # Ansible's own --timeout sets connect_timeout, as it sets ssh's.
        run = run_playbook(play(echo_task("silent", "x")), {"vm": qga_host("unix:" + path)}, args=["--timeout", "3"],
                           timeout=300)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    assert run.rc != 0
    assert "did not answer guest-sync-delimited within 3.0 s (connect_timeout; ansible_qga_connect_timeout sets it)" \
        in run.output, run.output
    assert "Is qemu-guest-agent running in the guest?" in run.output, run.output
    assert elapsed < 240, "the play should give up on its connect timeout, not hang"


def test_agent_gone_before_the_play_is_a_clear_unreachable(work: str) -> None:
    with HostAgent() as agent:
        channel = agent.channel
    run = run_playbook(play(echo_task("no agent", "x")), {"vm": qga_host(channel)})
    assert run.rc == 4, run.output  # unreachable
    text = failed(run, "no agent", status="unreachable")["msg"]
    assert "cannot connect: No such file or directory (no such socket: is the VM running and does it have an " \
        "org.qemu.guest_agent.0 channel?) (channel %s)" % channel in text, text


# Through real plays: an action plugin of the collection (validated by QgaActionBase.run) and the
# module that runs as a module (AnsibleModule). Each: valid arguments with one option's value of the
# wrong type, then the same arguments with an unknown option; the errors must name them. Every other
# module's case is in tests/unit/test_argument_specs.py.
WRONG_VALUES_THROUGH_PLAYS: dict[str, tuple[str, str, str]] = {
    "qga_copy": ("{dest: /tmp/vmguest-qga-never-written, content: hi, backup: maybe}",
                 "{dest: /tmp/vmguest-qga-never-written, content: hi, no_such_option: 1}", "backup"),
    "qmp_snapshot": ("{socket: /nonexistent/qmp.sock, timeout: never}",
                     "{socket: /nonexistent/qmp.sock, no_such_option: 1}", "timeout"),
}


@pytest.mark.parametrize("module", sorted(WRONG_VALUES_THROUGH_PLAYS))
def test_a_wrong_value_and_an_unknown_option_are_named_and_change_nothing(module: str, host_agent: HostAgent) -> None:
    wrong_arguments, unknown_arguments, option = WRONG_VALUES_THROUGH_PLAYS[module]
    delegate = "      delegate_to: localhost\n" if module == "qmp_snapshot" else ""
    run = run_playbook(play(
        "    - name: wrong value\n      vmguest.qga.%s: %s\n      ignore_errors: true\n%s"
        % (module, wrong_arguments, delegate),
        "    - name: unknown option\n      vmguest.qga.%s: %s\n      ignore_errors: true\n%s"
        % (module, unknown_arguments, delegate),
    ), {"vm": qga_host(host_agent.channel)})
    assert run.rc == 0, run.output
    wrong, unknown = failed(run, "wrong value"), failed(run, "unknown option")
    for result in (wrong, unknown):
        assert not result.get("changed"), result
    assert option in wrong["msg"], wrong["msg"]
    assert "no_such_option" in unknown["msg"] and "Unsupported" in unknown["msg"], unknown
    assert not os.path.exists("/tmp/vmguest-qga-never-written")


def test_a_bad_channel_string_is_named(host_agent: HostAgent) -> None:
    run = run_playbook(play(
        "    - name: bad channel\n      vmguest.qga.qga_info: {channel: 'bogus:thing'}\n      ignore_errors: true\n",
    ), {"localhost": {"ansible_connection": "local"}})
    assert run.rc == 0, run.output
    entry = run.task("bad channel")
    assert entry["status"] == "failed", entry  # a task failure: localhost itself is reachable
    assert "unknown channel type 'bogus'" in entry["result"]["msg"], entry
