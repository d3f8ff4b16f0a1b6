# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The client against a real qemu-ga on this machine (dangerous RPCs blocked)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from hostagent import BLOCKED_RPCS, HostAgent

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec, schema
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import (
    QgaChannelError,
    QgaCommandDisabled,
    QgaCommandError,
    QgaExecError,
    QgaFileError,
    QgaLockTimeout,
    QgaOutputTruncated,
)
from ansible_collections.vmguest.qga.plugins.module_utils.qga.transport import LIBVIRT_LIMITS, StreamTransport
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

# Commands that only read: run every one of them against the real agent.
READ_ONLY = {
    "guest-info": None,
    "guest-ping": None,
    "guest-sync": {"id": 4242},
    "guest-sync-delimited": {"id": 4343},
    "guest-get-time": None,
    "guest-get-timezone": None,
    "guest-get-host-name": None,
    "guest-get-osinfo": None,
    "guest-get-users": None,
    "guest-get-vcpus": None,
    "guest-get-fsinfo": None,
    "guest-get-disks": None,
    "guest-network-get-interfaces": None,
    "guest-get-memory-blocks": None,
    "guest-get-memory-block-info": None,
    "guest-fsfreeze-status": None,
}
# Read-only too, but they fail on this host for a reason the test asserts.
READ_ONLY_FAILING = {
    "guest-get-devices": None,  # Windows only: the Linux agent has it disabled
    "guest-ssh-get-authorized-keys": {"username": "vmguest-qga-no-such-user"},
}
STATE_CHANGING = set(BLOCKED_RPCS) | {
    "guest-exec",
    "guest-exec-status",
    "guest-file-open",
    "guest-file-close",
    "guest-file-read",
    "guest-file-write",
    "guest-file-seek",
    "guest-file-flush",
    "guest-ssh-add-authorized-keys",
    "guest-ssh-remove-authorized-keys",
}


def test_the_command_lists_cover_the_whole_schema() -> None:
    covered = set(READ_ONLY) | set(READ_ONLY_FAILING) | STATE_CHANGING
    assert covered == set(schema.command_names())


@pytest.mark.parametrize("command", sorted(READ_ONLY))
def test_read_only_command_reply_matches_the_schema(client: QgaClient, command: str) -> None:
    value = client.execute(command, READ_ONLY[command])
    schema.validate_return(command, value)
    if command.startswith("guest-sync"):
        assert value == READ_ONLY[command]["id"]  # type: ignore[index]


def test_guest_info_lists_every_schema_command_and_the_block_list(client: QgaClient) -> None:
    info = client.info()
    assert info.version.startswith("7.") or info.version[0].isdigit()
    for command in schema.command_names():
        assert info.knows(command), command
    for command in BLOCKED_RPCS:
        assert not info.enabled(command), command
    assert info.enabled("guest-exec")


def test_get_devices_is_disabled_on_linux(client: QgaClient) -> None:
    with pytest.raises(QgaCommandDisabled, match="guest-get-devices has been disabled"):
        client.execute("guest-get-devices")


@pytest.mark.fault
def test_unknown_user_for_authorized_keys_names_the_user(client: QgaClient) -> None:
    with pytest.raises(QgaCommandError, match="vmguest-qga-no-such-user"):
        client.execute("guest-ssh-get-authorized-keys", READ_ONLY_FAILING["guest-ssh-get-authorized-keys"])


@pytest.mark.fault
def test_a_blocked_rpc_says_how_to_enable_it(client: QgaClient) -> None:
    with pytest.raises(QgaCommandDisabled) as raised:
        client.execute("guest-fsfreeze-freeze")
    message = str(raised.value)
    assert "guest-fsfreeze-freeze has been disabled" in message
    assert "--block-rpcs" in message and "--allow-rpcs" in message
    assert client.channel in message


@pytest.mark.fault
def test_require_names_the_disabled_command_without_calling_it(client: QgaClient) -> None:
    with pytest.raises(QgaCommandDisabled, match="guest-set-vcpus"):
        client.require("guest-get-vcpus", "guest-set-vcpus")
    client.require("guest-exec", "guest-file-open")


@pytest.mark.parametrize("kind", ["unix", "bare-path", "tcp", "serial", "exec"])
def test_every_stream_transport_reaches_the_real_agent(host_agent: HostAgent, kind: str) -> None:
    channel = {
        "unix": host_agent.channel,
        "bare-path": host_agent.socket_path,
        "tcp": "tcp:127.0.0.1:%d" % host_agent.tcp_port,
        "serial": "serial:" + host_agent.serial_path,
        "exec": "exec:socat - UNIX-CONNECT:" + host_agent.socket_path,
    }[kind]
    with shared_client(channel, timeout=10) as qga:
        qga.ping()
        assert qga.info().enabled("guest-exec")
        result = guest_exec.run(qga, ["/bin/echo", kind])
        assert result.stdout == kind.encode() + b"\n"


@pytest.mark.fault
def test_serial_channel_survives_the_stray_sentinel_error_and_reconnects(host_agent: HostAgent) -> None:
    for _i in range(3):
        with shared_client("serial:" + host_agent.serial_path, timeout=10) as qga:
            assert qga.execute("guest-sync", {"id": 7}) == 7


@pytest.mark.fault
def test_stale_replies_left_by_a_previous_client_are_skipped(host_agent: HostAgent) -> None:
    # A serial line (like a VM's virtio port) outlives its clients: whatever an earlier
    # client left unread is still queued for the next one.
    import serial

    previous = serial.serial_for_url(host_agent.serial_path)
    for _i in range(5):
        previous.write(b'{"execute": "guest-get-osinfo"}\n')
    previous.write(b'{"execute": "guest-ping"')  # and half a request
    time.sleep(0.3)
    previous.close()
    with shared_client("serial:" + host_agent.serial_path, timeout=10) as qga:
        assert qga.execute("guest-sync", {"id": 99}) == 99
        assert "version" in qga.execute("guest-info")


@pytest.mark.fault
def test_a_client_closing_with_unread_replies_does_not_take_the_agent_down(fresh_host_agent: HostAgent) -> None:
    qga = shared_client(fresh_host_agent.channel).connect()
    transport = qga._transport
    assert isinstance(transport, StreamTransport)
    transport.send(b'{"execute": "guest-get-osinfo"}\n' * 3, 5)  # replies never read by the client
    time.sleep(0.3)
    qga.close()
    time.sleep(0.3)
    with shared_client(fresh_host_agent.channel, timeout=10) as again:
        assert again.execute("guest-sync", {"id": 3}) == 3


@pytest.mark.fault
def test_missing_socket_error_says_what_to_check(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(QgaChannelError, match="no such socket.*org.qemu.guest_agent.0"):
        shared_client("unix:%s/none.sock" % tmp_path, connect_timeout=2).connect()


@pytest.mark.fault
def test_a_regular_file_as_the_socket_is_named_as_such(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "qga.sock")
    with open(path, "w") as handle:
        handle.write("not a socket\n")
    with pytest.raises(QgaChannelError, match="is no socket but a regular file or directory") as raised:
        shared_client("unix:%s" % path, connect_timeout=2).connect()
    assert "VM or the agent chardev is gone" not in str(raised.value)


@pytest.mark.fault
def test_exec_channel_that_fails_reports_its_exit_and_stderr() -> None:
    with pytest.raises(QgaChannelError, match="exited with status 1.*No such file"):
        shared_client("exec:socat - UNIX-CONNECT:/nonexistent/qga.sock", connect_timeout=5).connect()


@pytest.mark.fault
def test_the_agent_killed_mid_command_is_a_channel_error_and_a_restart_recovers(
    fresh_host_agent: HostAgent,
) -> None:
    qga = shared_client(fresh_host_agent.channel, timeout=10).connect()
    pid = guest_exec.start(qga, ["/bin/sleep", "30"], env=guest_exec.default_environment())
    fresh_host_agent.kill()
    with pytest.raises(QgaChannelError, match="agent"):
        qga.execute("guest-exec-status", {"pid": pid})
    fresh_host_agent.restart()
    assert qga.execute("guest-sync", {"id": 5}) == 5  # reconnects by itself
    qga.close()
    try:
        os.kill(pid, signal.SIGKILL)  # the host agent's child: same PID space as this test
    except ProcessLookupError:
        pass


LOCK_HOLDER = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = %r
    from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client
    with shared_client(%r) as qga:
        qga.ping()
        print("locked", flush=True)
        time.sleep(float(sys.argv[1]))
    """
)


def _hold_channel(channel: str, seconds: float) -> subprocess.Popen[str]:
    # Not `from conftest import ...`: with several conftest.py files that name is ambiguous.
    from collection_path import collection_root

    proc = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER % ([collection_root()], channel), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.fault
def test_a_second_process_on_the_channel_waits_for_the_lock(fresh_host_agent: HostAgent) -> None:
    holder = _hold_channel(fresh_host_agent.channel, 1.0)
    started = time.monotonic()
    with shared_client(fresh_host_agent.channel, lock_timeout=30) as qga:
        waited = time.monotonic() - started
        qga.ping()
    holder.wait()
    assert waited > 0.5  # it queued behind the holder instead of interleaving


@pytest.mark.fault
def test_lock_wait_is_bounded_with_a_clear_error(fresh_host_agent: HostAgent) -> None:
    holder = _hold_channel(fresh_host_agent.channel, 5.0)
    try:
        with pytest.raises(QgaLockTimeout, match=r"another client \(pid %d\).*\(lock_timeout; ansible_qga_lock_timeout"
                           % holder.pid):
            shared_client(fresh_host_agent.channel, lock_timeout=0.5).connect()
    finally:
        holder.kill()
        holder.wait()


# -- guest-exec -----------------------------------------------------------


def test_exec_passes_stdin_and_returns_exit_code_and_both_streams(client: QgaClient) -> None:
    result = guest_exec.run(client, ["/bin/sh", "-c", "cat; echo err >&2; exit 3"], stdin=b"\x00binary\xffdata")
    assert (result.exitcode, result.stdout, result.stderr) == (3, b"\x00binary\xffdata", b"err\n")
    assert result.rc == 3 and result.signal is None


def test_exec_gives_a_login_like_environment_though_the_agent_has_no_home(client: QgaClient) -> None:
    result = guest_exec.run(client, ["/bin/sh", "-c", 'echo "$HOME|$PATH|$LANG|$USER"; cd ~ && pwd'])
    home, path, lang, user = result.stdout.decode().splitlines()[0].split("|")
    assert (home, lang, user) == ("/root", "C.UTF-8", "root")
    assert "/usr/bin" in path
    assert result.stdout.decode().splitlines()[1] == "/root"


def test_exec_env_adds_to_the_default_and_clean_env_replaces_it(client: QgaClient) -> None:
    added = guest_exec.run(client, ["/bin/sh", "-c", 'echo "$FOO:$HOME"'], env={"FOO": "bar"})
    assert added.stdout == b"bar:/root\n"
    clean = guest_exec.run(client, ["/usr/bin/env"], env={"ONLY": "1"}, clean_env=True)
    assert clean.stdout == b"ONLY=1\n"


def test_exec_reports_a_signal_death_as_negative_rc(client: QgaClient) -> None:
    result = guest_exec.run(client, ["/bin/sh", "-c", "kill -TERM $$"])
    assert result.exitcode is None and result.signal == 15 and result.rc == -15


@pytest.mark.fault
def test_exec_past_its_timeout_kills_the_whole_process_tree(client: QgaClient, tmp_path: os.PathLike) -> None:
    sleeper = os.path.join(tmp_path, "vmguest-qga-sleeper-%d" % os.getpid())
    shutil.copy("/bin/sleep", sleeper)
    with pytest.raises(QgaExecError, match=r"still running after 0\.5 s; it was killed"):
        guest_exec.run(client, ["/bin/sh", "-c", '"$0" 60 & "$0" 61; wait', sleeper], timeout=0.5)
    assert subprocess.run(["pgrep", "-f", sleeper], check=False).returncode == 1


@pytest.mark.fault
def test_exec_of_a_missing_program_names_it(client: QgaClient) -> None:
    with pytest.raises(QgaCommandError, match="/no/such/program"):
        guest_exec.run(client, ["/no/such/program"])


@pytest.mark.fault
def test_exec_output_over_the_capture_limit_is_an_error_not_a_short_output(client: QgaClient) -> None:
    with pytest.raises(QgaOutputTruncated, match="stdout truncated"):
        guest_exec.run(client, ["/bin/sh", "-c", "head -c 17000000 /dev/zero"])
    result = guest_exec.run(client, ["/bin/sh", "-c", "head -c 17000000 /dev/zero"], allow_truncation=True)
    assert result.out_truncated and len(result.stdout) == 16 * 1024 * 1024


def own_spill_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spill directory of this test's own: the host is every test's guest, and other runs' finished files
    count for the batch removal (and this test removes the directory at its end)."""
    monkeypatch.setattr(guest_exec, "SPILL_DIR", "/run/vmguest-qga-spill-test-%s" % uuid.uuid4().hex[:12])


def test_exec_on_a_small_reply_transport_spills_output_to_guest_files(
    host_agent: HostAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The libvirt transport's limits on a direct channel: same code path as libvirt, real agent.
    own_spill_dir(monkeypatch)
    with shared_client(host_agent.channel) as qga:
        qga._transport.limits = LIBVIRT_LIMITS
        assert not qga.limits.exec_capture_fits
        script = (
            'f=$(mktemp); head -c 5000000 /dev/urandom >"$f"; cat "$f"; sha256sum <"$f" >&2; rm "$f"; '
            "cat >&2; exit 4"
        )
        result = guest_exec.run(qga, ["/bin/sh", "-c", script], stdin=b"in\n")
    assert result.exitcode == 4 and len(result.stdout) == 5000000
    digest_line, stdin_echo = result.stderr.decode().splitlines()
    assert digest_line.split()[0] == hashlib.sha256(result.stdout).hexdigest()
    assert stdin_echo == "in"
    # The run's files are emptied at once (output and stdin may be secret) and marked done ...
    spilled = {name: os.path.getsize(os.path.join(guest_exec.SPILL_DIR, name))
               for name in os.listdir(guest_exec.SPILL_DIR)}
    assert any(name.endswith(".done") for name in spilled) and not any(spilled.values()), spilled
    assert oct(os.stat(guest_exec.SPILL_DIR).st_mode & 0o777) == "0o700"
    # ... and a later spilled run's shell removes them, once SPILL_BATCH runs are done (an rm each).
    with shared_client(host_agent.channel) as qga:
        qga._transport.limits = LIBVIRT_LIMITS
        for _run in range(guest_exec.SPILL_BATCH - 1):
            assert guest_exec.run(qga, ["/bin/echo", "next"]).stdout == b"next\n"
        assert set(spilled) <= set(os.listdir(guest_exec.SPILL_DIR))
        assert guest_exec.run(qga, ["/bin/echo", "last"]).stdout == b"last\n"
    assert not set(spilled) & set(os.listdir(guest_exec.SPILL_DIR))
    shutil.rmtree(guest_exec.SPILL_DIR)  # the host agent is this machine: leave no directory behind


def agent_pipes(pid: int) -> list[str]:
    """The pipes the agent process holds open (a guest-exec child's stdin it never finished writing)."""
    fd_dir = "/proc/%d/fd" % pid
    links = []
    for fd in os.listdir(fd_dir):
        try:
            links.append(os.readlink(os.path.join(fd_dir, fd)))
        except FileNotFoundError:
            continue
    return [link for link in links if link.startswith("pipe:")]


@pytest.mark.fault
def test_large_stdin_a_command_does_not_read_leaves_the_agent_no_pipe_to_spin_on(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # qemu-ga 7.2 keeps the stdin pipe of a child that exited before reading all of its input-data
    # and polls it at full speed from then on. Above 60 KiB stdin goes through a private file instead.
    own_spill_dir(monkeypatch)
    with HostAgent() as agent, shared_client(agent.channel) as qga:
        for argv in (["/bin/true"], ["/bin/sh", "-c", "exit 127"], ["/bin/sh", "-c", "head -c 10 >/dev/null"]):
            result = guest_exec.run(qga, argv, stdin=b"x" * (1 << 20))
            assert result.exitcode in (0, 127)
            time.sleep(0.2)  # the agent's main loop runs its stdin watch after the exec returns
            assert agent_pipes(agent.pid) == [], "the agent still holds a stdin pipe after %s" % argv
        # And stdin that is read still arrives whole, through the file.
        data = os.urandom(3 << 20)
        echoed = guest_exec.run(qga, ["/bin/sh", "-c", "sha256sum"], stdin=data)
        assert echoed.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    shutil.rmtree(guest_exec.SPILL_DIR)  # the host agent is this machine: leave no directory behind


# -- files ----------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [4096, 65536, None])
def test_file_round_trip_is_exact_with_matching_sha256(
    client: QgaClient, tmp_path: os.PathLike, chunk_size: int
) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    guest_path = os.path.join(tmp_path, "ünïcode file\n.bin")
    written = files.write_file(client, guest_path, io.BytesIO(payload), chunk_size=chunk_size)
    sink = io.BytesIO()
    read = files.read_file(client, guest_path, sink, chunk_size=chunk_size)
    expected = hashlib.sha256(payload).hexdigest()
    assert written == read == files.TransferResult(size=len(payload), sha256=expected)
    assert sink.getvalue() == payload
    with open(guest_path, "rb") as handle:
        assert handle.read() == payload


@pytest.mark.fault
def test_reading_a_missing_file_names_it(client: QgaClient) -> None:
    with pytest.raises(QgaFileError, match="cannot open for reading /no/such/file: .*No such file"):
        files.read_file(client, "/no/such/file", io.BytesIO())


@pytest.mark.fault
def test_writing_into_a_missing_directory_names_it(client: QgaClient) -> None:
    with pytest.raises(QgaFileError, match="cannot open for writing /no/such/dir/x"):
        files.write_bytes(client, "/no/such/dir/x", b"data")


@pytest.mark.fault
def test_read_bytes_refuses_a_file_larger_than_asked(client: QgaClient, tmp_path: os.PathLike) -> None:
    path = os.path.join(tmp_path, "big")
    with open(path, "wb") as handle:
        handle.write(b"x" * 5000)
    assert files.read_bytes(client, path, max_bytes=5000) == b"x" * 5000
    with pytest.raises(QgaFileError, match="larger than 4999 bytes"):
        files.read_bytes(client, path, max_bytes=4999)


def test_seek_moves_the_read_position(client: QgaClient, tmp_path: os.PathLike) -> None:
    path = os.path.join(tmp_path, "seek")
    with open(path, "wb") as handle:
        handle.write(b"0123456789")
    with files.GuestFile(client, path) as guest_file:
        assert guest_file.seek(-3, "end") == 7
        assert guest_file.read(10) == (b"789", True)


@pytest.mark.fault
def test_transfer_handles_are_closed_after_a_failure(
    client: QgaClient, host_agent: HostAgent, tmp_path: os.PathLike
) -> None:
    class Exploding(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise OSError("source broke")

    path = os.path.join(tmp_path, "broken")
    with pytest.raises(OSError, match="source broke"):
        files.write_file(client, path, Exploding())
    # The agent allows a bounded number of open handles; leaked ones would pile up.
    fd_dir = "/proc/%d/fd" % host_agent.pid
    fds_before = len(os.listdir(fd_dir))
    for _i in range(3):
        with pytest.raises(OSError):
            files.write_file(client, path, Exploding())
    assert len(os.listdir(fd_dir)) == fds_before


def test_limits_follow_the_transport() -> None:
    direct = shared_client("unix:/nonexistent").limits
    assert direct.max_read_chunk == 48 * 1024 * 1024 and direct.exec_capture_fits
    assert LIBVIRT_LIMITS.max_write_chunk * 4 // 3 + 1024 <= 200 * 1000
    assert LIBVIRT_LIMITS.max_read_chunk * 4 // 3 <= 4 * 1024 * 1024
    assert json.dumps(direct.max_write_chunk)  # an int, not a float
