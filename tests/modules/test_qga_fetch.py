# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_fetch: read-only, so most of it runs against the host agent (its files are this machine's)."""

from __future__ import annotations

import os
import typing as t
import uuid

import pytest
from ansible_run import IGNORE_ERRORS, failed, module_task, ok, play, qga_host, run_playbook
from guest import sha256
from hostagent import HostAgent

FETCH_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: fetch
      vmguest.qga.qga_fetch:
        src: "{{ src }}"
        dest: "{{ dest }}"
        flat: "{{ flat | default(false) }}"
        fail_on_missing: "{{ fail_on_missing | default(true) }}"
      ignore_errors: true
"""


def test_flat_fetch_is_verified_and_idempotent(host_agent: HostAgent, tmp_path: t.Any) -> None:
    payload = os.urandom(2 * 1024 * 1024 + 7) + b"\0\n"
    guest_file = tmp_path / "guest" / "data.bin"
    guest_file.parent.mkdir()
    guest_file.write_bytes(payload)
    local = tmp_path / "local" / "copy.bin"
    host = qga_host(host_agent.channel, src=str(guest_file), dest=str(local), flat=True)

    first = ok(run_playbook(FETCH_PLAY, {"h": host}), "fetch")
    assert first["changed"] is True and first["dest"] == str(local)
    assert first["checksum"] == first["remote_checksum"] == sha256(payload)
    assert first["size"] == len(payload)
    assert local.read_bytes() == payload
    assert oct(local.stat().st_mode & 0o777) == oct(0o644 & ~_umask())
    assert [p.name for p in local.parent.iterdir()] == ["copy.bin"]  # no partial file left

    assert ok(run_playbook(FETCH_PLAY, {"h": host}), "fetch")["changed"] is False

    # check mode: a differing local copy is reported, not touched
    local.write_bytes(b"stale")
    checked = ok(run_playbook(FETCH_PLAY, {"h": host}, args=["--check"]), "fetch")
    assert checked["changed"] is True and checked["remote_checksum"] == sha256(payload)
    assert local.read_bytes() == b"stale"
    assert ok(run_playbook(FETCH_PLAY, {"h": host}), "fetch")["changed"] is True
    assert local.read_bytes() == payload

    # a trailing slash: into the directory under the source's name
    into = ok(run_playbook(FETCH_PLAY, {"h": {**host, "dest": str(tmp_path / "dir") + "/"}}), "fetch")
    assert into["dest"] == str(tmp_path / "dir" / "data.bin")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_non_flat_dest_is_per_host(host_agent: HostAgent, tmp_path: t.Any) -> None:
    guest_file = tmp_path / ("os-release-%s" % uuid.uuid4().hex[:6])
    guest_file.write_text("ID=test\n")
    host = qga_host(host_agent.channel, src=str(guest_file), dest=str(tmp_path / "fetched"))
    fetched = ok(run_playbook(FETCH_PLAY, {"h1": host}), "fetch")
    expected = str(tmp_path / "fetched" / "h1") + str(guest_file)
    assert fetched["dest"] == expected
    with open(expected) as handle:
        assert handle.read() == "ID=test\n"


@pytest.mark.fault
def test_missing_and_directory_sources(host_agent: HostAgent, tmp_path: t.Any) -> None:
    host = qga_host(host_agent.channel, src="/nonexistent-qga-fetch", dest=str(tmp_path / "x"), flat=True)
    run = run_playbook(FETCH_PLAY, {"h": host})
    assert failed(run, "fetch")["msg"] == "the guest file /nonexistent-qga-fetch does not exist"

    ignored = ok(run_playbook(FETCH_PLAY, {"h": {**host, "fail_on_missing": False}}), "fetch")
    assert ignored["changed"] is False
    assert "does not exist, not transferring, ignored" in ignored["msg"]

    directory = failed(run_playbook(FETCH_PLAY, {"h": {**host, "src": str(tmp_path)}}), "fetch")
    assert "is a directory in the guest" in directory["msg"]
    relative = run_playbook(FETCH_PLAY, {"h": {**host, "src": "etc/hostname"}}).task("fetch")
    assert "src must be an absolute path" in relative["result"]["msg"]
    assert not (tmp_path / "x").exists()


def test_without_guest_exec_the_file_is_read_and_compared_and_qga_copy_says_why_it_cannot() -> None:
    with HostAgent(extra_blocked=["guest-exec", "guest-exec-status"]) as agent:
        import tempfile

        with tempfile.TemporaryDirectory() as work:
            source = os.path.join(work, "src.txt")
            with open(source, "w") as handle:
                handle.write("no exec\n")
            host = qga_host(agent.channel, src=source, dest=os.path.join(work, "out.txt"), flat=True)
            first = ok(run_playbook(FETCH_PLAY, {"h": host}), "fetch")
            assert first["changed"] is True and first["checksum"] == sha256(b"no exec\n")
            assert ok(run_playbook(FETCH_PLAY, {"h": host}), "fetch")["changed"] is False
            copy = play(module_task("vmguest.qga.qga_copy", "copy", "content: x\ndest: %s/new" % work, IGNORE_ERRORS))
            msg = failed(run_playbook(copy, {"h": qga_host(agent.channel)}), "copy")["msg"]
            assert "Command guest-exec has been disabled; vmguest.qga.qga_copy runs guest-exec" in msg, msg
            assert "move it into place atomically" in msg and "qga_fetch needs only" in msg and "--allow-rpcs" in msg


def test_round_trip_through_the_vm(test_vm: t.Any, tmp_path: t.Any) -> None:
    payload = os.urandom(1024 * 1024 + 3) + b"\0\r\n"
    source = tmp_path / "up.bin"
    source.write_bytes(payload)
    guest_path = "/run/data/roundtrip-%s.bin" % uuid.uuid4().hex[:8]
    run = run_playbook("""
- hosts: all
  gather_facts: false
  tasks:
    - name: up
      vmguest.qga.qga_copy:
        src: "{{ up }}"
        dest: "{{ guest_path }}"
    - name: down
      vmguest.qga.qga_fetch:
        src: "{{ guest_path }}"
        dest: "{{ down }}"
        flat: true
    - name: down again
      vmguest.qga.qga_fetch:
        src: "{{ guest_path }}"
        dest: "{{ down }}"
        flat: true
    - name: clean up
      vmguest.qga.qga_exec:
        argv: [rm, -f, "{{ guest_path }}"]
""", {"vm": qga_host("unix:%s" % test_vm.agent_socket, up=str(source),
                     down=str(tmp_path / "down.bin"), guest_path=guest_path)})
    assert ok(run, "up")["checksum"] == sha256(payload)
    down = ok(run, "down")
    assert down["changed"] is True and down["remote_checksum"] == sha256(payload)
    assert (tmp_path / "down.bin").read_bytes() == payload
    assert ok(run, "down again")["changed"] is False
