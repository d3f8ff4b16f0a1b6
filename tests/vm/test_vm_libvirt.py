# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The libvirt transport against the test VM run by a real libvirtd (libvirt owns the agent socket)."""

from __future__ import annotations

import glob
import hashlib
import io
import os
import subprocess
import time
import typing as t
import uuid

import pytest

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaChannelError, QgaFileError
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client


@pytest.fixture
def libvirt_client(libvirt_vm: t.Any) -> t.Iterator[QgaClient]:
    with shared_client("libvirt:" + libvirt_vm.uri, domain=libvirt_vm.domain, timeout=60) as qga:
        yield qga


def test_ping_and_info_through_libvirt(libvirt_client: QgaClient) -> None:
    libvirt_client.ping()
    info = libvirt_client.info()
    assert info.enabled("guest-exec") and info.enabled("guest-file-write")


def test_exec_with_stdin_through_libvirt(libvirt_client: QgaClient) -> None:
    result = guest_exec.run(libvirt_client, ["/bin/sh", "-c", "cat; echo done >&2; exit 2"], stdin=b"via libvirt\n")
    assert (result.exitcode, result.stdout, result.stderr) == (2, b"via libvirt\n", b"done\n")


def test_large_output_is_spilled_not_sent_in_one_libvirt_reply(libvirt_client: QgaClient) -> None:
    # 6 MB of output would be an 8 MB guest-exec-status reply: over libvirt's limit, and
    # past 10 MiB it breaks the domain's agent. The client spills it to guest files instead.
    script = 'f=$(mktemp); head -c 6000000 /dev/urandom >"$f"; cat "$f"; sha256sum <"$f" >&2; rm -f "$f"'
    result = guest_exec.run(libvirt_client, ["/bin/sh", "-c", script], timeout=300)
    assert result.exitcode == 0 and len(result.stdout) == 6000000
    assert result.stderr.split()[0].decode() == hashlib.sha256(result.stdout).hexdigest()
    libvirt_client.ping()  # the channel still works


def test_file_round_trip_in_libvirt_sized_chunks(libvirt_client: QgaClient) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 5)
    path = "/run/data/libvirt.bin"
    written = files.write_file(libvirt_client, path, io.BytesIO(payload), chunk_size=8 * 1024 * 1024)
    sink = io.BytesIO()
    read = files.read_file(libvirt_client, path, sink, chunk_size=64 * 1024 * 1024)
    assert written.sha256 == read.sha256 == hashlib.sha256(payload).hexdigest()
    assert sink.getvalue() == payload
    assert files.write_chunk_size(libvirt_client, 8 * 1024 * 1024) <= 150 * 1024
    guest_exec.run(libvirt_client, ["rm", "-f", path])


@pytest.mark.fault
def test_agent_errors_through_libvirt_are_typed(libvirt_client: QgaClient) -> None:
    with pytest.raises(QgaFileError, match="/no/such/file"):
        files.read_bytes(libvirt_client, "/no/such/file")


@pytest.mark.fault
def test_unknown_domain_is_a_clear_error_naming_the_fix(libvirt_vm: t.Any) -> None:
    with pytest.raises(QgaChannelError, match="no-such-domain") as raised:
        shared_client("libvirt:" + libvirt_vm.uri, domain="no-such-domain").connect()
    assert "the domain is the inventory hostname unless ansible_qga_domain" in str(raised.value)
    assert "virsh -c %s list --all" % libvirt_vm.uri in str(raised.value)


@pytest.mark.fault
def test_a_shut_off_domain_is_a_channel_error_saying_so(libvirt_vm: t.Any, tmp_path: t.Any) -> None:
    """Reported like a missing domain (unreachable), with the state and how to start it."""
    name = "vmguest-qga-test-off-%s" % uuid.uuid4().hex[:8]
    xml = tmp_path / "off.xml"
    xml.write_text("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory>"
                   "<os><type arch='x86_64'>hvm</type></os></domain>" % name)
    subprocess.run(["virsh", "-c", libvirt_vm.uri, "define", str(xml)], check=True, capture_output=True)
    try:
        with pytest.raises(QgaChannelError, match="domain '%s' is not running" % name) as raised:
            shared_client("libvirt:" + libvirt_vm.uri, domain=name).connect()
        assert "virsh -c %s start %s" % (libvirt_vm.uri, name) in str(raised.value)
    finally:
        subprocess.run(["virsh", "-c", libvirt_vm.uri, "undefine", name], check=False, capture_output=True)


@pytest.mark.fault
def test_libvirts_own_agent_socket_as_a_unix_channel_names_the_libvirt_channel(libvirt_vm: t.Any) -> None:
    sockets = glob.glob("/var/lib/libvirt/qemu/channel/target/domain-*-%s/org.qemu.guest_agent.0" % libvirt_vm.domain)
    assert len(sockets) == 1, sockets
    started = time.monotonic()
    with pytest.raises(QgaChannelError, match="libvirt's own agent socket of domain %s" % libvirt_vm.domain) as raised:
        shared_client("unix:" + sockets[0], connect_timeout=10).connect()
    assert "use the channel libvirt:qemu:///system" in str(raised.value)
    assert time.monotonic() - started < 1, "libvirtd holds the socket: recognised by its path, without a connect"
