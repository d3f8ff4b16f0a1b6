# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The client against qemu-ga inside the real TCG test VM: state changes happen here, never on the host."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import time
import typing as t

import pytest

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import (
    QgaArgumentError,
    QgaChannelError,
    QgaFrozenError,
)
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

DATA_MOUNT = "/run/data"


def test_exec_round_trip_with_stdin_through_python_in_the_guest(vm_client: QgaClient) -> None:
    payload = os.urandom(100_000)
    script = "import hashlib,sys; d=sys.stdin.buffer.read(); print(len(d), hashlib.sha256(d).hexdigest())"
    result = guest_exec.run(vm_client, ["python3", "-c", script], stdin=payload, timeout=120)
    assert result.exitcode == 0, result.stderr
    assert result.stdout.decode().split() == [str(len(payload)), hashlib.sha256(payload).hexdigest()]


def test_exec_in_the_vm_has_a_home_though_its_agent_runs_without_one(vm_client: QgaClient) -> None:
    agent_env = guest_exec.run(vm_client, ["/bin/sh", "-c", "tr '\\0' '\\n' </proc/$PPID/environ"])
    assert b"HOME=" not in agent_env.stdout  # the guest's qemu-ga has a service environment
    result = guest_exec.run(vm_client, ["/bin/sh", "-c", "cd ~ && pwd && id -un alice"])
    assert result.stdout == b"/root\nalice\n"


def test_sixteen_mib_file_round_trip_keeps_every_byte(vm_client: QgaClient, tmp_path: t.Any) -> None:
    payload = os.urandom(16 * 1024 * 1024)
    guest_path = DATA_MOUNT + "/roundtrip.bin"
    written = files.write_file(vm_client, guest_path, io.BytesIO(payload))
    in_guest = guest_exec.run(vm_client, ["sha256sum", guest_path], timeout=120)
    local_copy = tmp_path / "back.bin"
    with open(local_copy, "wb") as sink:
        read = files.read_file(vm_client, guest_path, sink)
    expected = hashlib.sha256(payload).hexdigest()
    assert written.sha256 == read.sha256 == expected
    assert in_guest.stdout.split()[0].decode() == expected
    assert local_copy.read_bytes() == payload
    guest_exec.run(vm_client, ["rm", "-f", guest_path])


def test_fsfreeze_freezes_the_ext4_disk_and_refuses_writes_until_thawed(vm_client: QgaClient) -> None:
    assert vm_client.execute("guest-fsfreeze-status") == "thawed"
    frozen = vm_client.execute("guest-fsfreeze-freeze", timeout=120)
    try:
        assert frozen >= 1  # the ext4 data disk (tmpfs and 9p cannot freeze)
        assert vm_client.execute("guest-fsfreeze-status") == "frozen"
        with pytest.raises(QgaFrozenError, match="frozen"):
            vm_client.execute("guest-file-open", {"path": DATA_MOUNT + "/during-freeze", "mode": "w"})
        assert vm_client.execute("guest-ping") == {}
    finally:
        thawed = vm_client.execute("guest-fsfreeze-thaw", timeout=120)
    assert thawed == frozen
    assert vm_client.execute("guest-fsfreeze-status") == "thawed"
    listing = guest_exec.run(vm_client, ["ls", "-a", DATA_MOUNT])
    assert b"during-freeze" not in listing.stdout


def test_freeze_list_takes_only_the_named_mountpoint(vm_client: QgaClient) -> None:
    try:
        assert vm_client.execute("guest-fsfreeze-freeze-list", {"mountpoints": [DATA_MOUNT]}, timeout=120) == 1
        assert vm_client.execute("guest-fsfreeze-status") == "frozen"
    finally:
        assert vm_client.execute("guest-fsfreeze-thaw", timeout=120) == 1


def _online(client: QgaClient) -> dict[int, bool]:
    return {cpu["logical-id"]: cpu["online"] for cpu in client.execute("guest-get-vcpus")}


def test_set_vcpus_takes_cpu1_offline_and_back(vm_client: QgaClient) -> None:
    assert _online(vm_client) == {0: True, 1: True}
    try:
        assert vm_client.execute("guest-set-vcpus", {"vcpus": [{"logical-id": 1, "online": False}]}) == 1
        assert _online(vm_client) == {0: True, 1: False}
        nproc = guest_exec.run(vm_client, ["nproc"])
        assert nproc.stdout == b"1\n"
    finally:
        assert vm_client.execute("guest-set-vcpus", {"vcpus": [{"logical-id": 1, "online": True}]}) == 1
    assert _online(vm_client) == {0: True, 1: True}


@pytest.mark.fault
def test_set_vcpus_rejects_a_malformed_request_before_sending(vm_client: QgaClient) -> None:
    with pytest.raises(QgaArgumentError, match="logical-id"):
        vm_client.execute("guest-set-vcpus", {"vcpus": [{"online": False}]})
    assert _online(vm_client)[1] is True


@pytest.mark.fault
def test_replies_queued_in_the_vm_for_a_departed_client_are_skipped(test_vm: t.Any) -> None:
    # QEMU's chardev keeps the guest side open across host clients: what one client
    # leaves unread is delivered to the next one.
    raw = socket.socket(socket.AF_UNIX)
    raw.connect(str(test_vm.agent_socket))
    raw.sendall(b'{"execute": "guest-get-osinfo"}\n{"execute": "guest-info"}\n{"execute": "guest-ping"')
    time.sleep(0.5)
    raw.close()
    with shared_client("unix:%s" % test_vm.agent_socket, timeout=30) as qga:
        assert qga.execute("guest-sync", {"id": 31337}) == 31337
        assert qga.execute("guest-get-host-name")["host-name"]


@pytest.mark.fault
def test_exec_timeout_in_the_vm_kills_the_process(vm_client: QgaClient) -> None:
    from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaExecError

    with pytest.raises(QgaExecError, match="it was killed"):
        guest_exec.run(vm_client, ["/bin/sh", "-c", "sleep 300 & sleep 301; wait"], timeout=2)
    left = guest_exec.run(vm_client, ["/bin/sh", "-c", "ps -eo args | grep -c '^sleep 30[01]' || true"])
    assert left.stdout.strip() == b"0"


@pytest.mark.fault
def test_the_vms_qmp_socket_is_named_as_the_wrong_socket(test_vm: t.Any) -> None:
    """A channel pointed at the monitor socket: QEMU greets with {"QMP": ...}. Before, the client waited out
    its guest-sync timeout and blamed the agent (a QgaTimeoutError, not this channel error)."""
    with pytest.raises(QgaChannelError, match=r"this is a QEMU monitor \(QMP\) socket, not the guest agent's"):
        shared_client("unix:%s" % test_vm.qmp_socket, timeout=10).connect()
