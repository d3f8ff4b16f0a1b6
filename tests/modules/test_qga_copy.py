# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_copy against real agents: writes go to the test VM; the host agent only sees a bad dest."""

from __future__ import annotations

import os
import typing as t
import uuid

import pytest
from ansible_run import failed, ok, play, qga_host, result_of, run_playbook, vm_channel
from guest import guest_read, guest_sh, sha256
from hostagent import HostAgent

COPY_PLAY = play("""
    - name: copy
      vmguest.qga.qga_copy:
        content: "{{ text }}"
        dest: "{{ dest }}"
        mode: "{{ mode | default(omit) }}"
        owner: "{{ owner | default(omit) }}"
        group: "{{ group | default(omit) }}"
        backup: "{{ backup | default(false) }}"
""")


def test_content_is_idempotent_and_sets_modes(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    directory = "/run/data/copy-%s" % uuid.uuid4().hex[:8]
    guest_sh(channel, "mkdir -p %s" % directory)
    dest = directory + "/hello.txt"
    host = qga_host(channel, dest=dest, text="hello\nworld\n")

    first = run_playbook(COPY_PLAY, {"vm": host}, args=["--diff"])
    copied = ok(first, "copy")
    assert copied["changed"] is True
    assert copied["checksum"] == sha256(b"hello\nworld\n") and copied["size"] == 12
    assert copied["dest"] == dest and copied["mode"] == "0644" and copied["owner"] == "root"
    assert copied["diff"]["before"] == "" and copied["diff"]["after"] == "hello\nworld\n"
    assert guest_read(channel, dest) == b"hello\nworld\n"
    # the private temp file became the file: mode as asked, nothing left next to it
    assert guest_sh(channel, "stat -c '%%a %%U' %s; ls -A %s" % (dest, directory)).split("\n")[:2] == [
        "644 root", "hello.txt"]

    second = run_playbook(COPY_PLAY, {"vm": host})
    assert ok(second, "copy")["changed"] is False

    attrs = run_playbook(COPY_PLAY, {"vm": {**host, "mode": "0600", "owner": "alice", "group": "alice"}},
                         args=["--diff"])
    changed = ok(attrs, "copy")
    assert changed["changed"] is True and changed["mode"] == "0600" and changed["owner"] == "alice"
    assert "mode: 0644" in changed["diff"]["before"] and "mode: 0600" in changed["diff"]["after"]
    assert "owner: alice" in changed["diff"]["after"]
    assert guest_sh(channel, "stat -c '%%a %%U:%%G' %s" % dest).strip() == "600 alice:alice"
    again = run_playbook(COPY_PLAY, {"vm": {**host, "mode": "0600", "owner": "alice", "group": "alice"}})
    assert ok(again, "copy")["changed"] is False

    # new content keeps the existing mode and owner when none is given; backup keeps the old content
    update = run_playbook(COPY_PLAY, {"vm": {**host, "text": "hello\nthere\n", "backup": True}}, args=["--diff"])
    updated = ok(update, "copy")
    assert updated["changed"] is True
    assert updated["diff"]["before"] == "hello\nworld\n" and updated["diff"]["after"] == "hello\nthere\n"
    assert guest_sh(channel, "stat -c '%%a %%U:%%G' %s" % dest).strip() == "600 alice:alice"
    assert updated["backup_file"].startswith(dest + ".")
    assert guest_read(channel, updated["backup_file"]) == b"hello\nworld\n"
    # a symbolic mode is worked out from the current one: tests/unit/test_copy_attributes.py
    guest_sh(channel, "rm -rf %s" % directory)


def test_check_mode_changes_nothing(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    dest = "/tmp/copy-check-%s" % uuid.uuid4().hex[:8]
    guest_sh(channel, "printf old > %s && chmod 0640 %s" % (dest, dest))
    run = run_playbook(COPY_PLAY, {"vm": qga_host(channel, dest=dest, text="new", mode="0600")},
                       args=["--check", "--diff"])
    result = ok(run, "copy")
    assert result["changed"] is True
    assert result["diff"][0]["before"] == "old" and result["diff"][0]["after"] == "new"
    assert result["mode"] == "0600"
    assert guest_read(channel, dest) == b"old"
    assert guest_sh(channel, "stat -c %%a %s" % dest).strip() == "640"
    missing = run_playbook(COPY_PLAY, {"vm": qga_host(channel, dest=dest + ".new", text="new")}, args=["--check"])
    assert ok(missing, "copy")["changed"] is True
    assert guest_sh(channel, "test -e %s.new && echo there || echo absent" % dest).strip() == "absent"
    guest_sh(channel, "rm -f %s" % dest)


SRC_PLAY = play("""
    - name: copy src
      vmguest.qga.qga_copy:
        src: "{{ src }}"
        dest: "{{ dest }}"
""")


def test_src_file_into_a_directory_binary(test_vm: t.Any, tmp_path: t.Any) -> None:
    channel = vm_channel(test_vm)
    payload = os.urandom(300 * 1024) + b"\0\r\n\xff"
    source = tmp_path / "blob.bin"
    source.write_bytes(payload)
    directory = "/run/data/src-%s" % uuid.uuid4().hex[:8]
    guest_sh(channel, "mkdir -p %s" % directory)
    host = qga_host(channel, src=str(source), dest=directory)
    run = run_playbook(SRC_PLAY, {"vm": host}, args=["--diff"])
    copied = ok(run, "copy src")
    assert copied["changed"] is True and copied["dest"] == directory + "/blob.bin"
    assert copied["checksum"] == sha256(payload)
    assert copied["diff"].get("src_binary") == 1 or copied["diff"].get("src_larger")
    assert guest_read(channel, directory + "/blob.bin") == payload
    assert ok(run_playbook(SRC_PLAY, {"vm": host}), "copy src")["changed"] is False
    guest_sh(channel, "rm -rf %s" % directory)


def test_failed_validate_leaves_dest_and_no_temp_file(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    directory = "/tmp/validate-%s" % uuid.uuid4().hex[:8]
    guest_sh(channel, "mkdir %s && printf keep > %s/conf" % (directory, directory))
    run = run_playbook(play("""
    - name: validated
      vmguest.qga.qga_copy:
        content: "broken"
        dest: "{{ dest }}"
        validate: "grep -q good %s"
      ignore_errors: true
    - name: validated ok
      vmguest.qga.qga_copy:
        content: "good"
        dest: "{{ dest }}"
        validate: "grep -q good %s"
"""), {"vm": qga_host(channel, dest=directory + "/conf")})
    assert "the validate command failed" in failed(run, "validated")["msg"]
    assert ok(run, "validated ok")["changed"] is True
    assert guest_sh(channel, "ls -A %s; cat %s/conf" % (directory, directory)) == "conf\ngood"
    guest_sh(channel, "rm -rf %s" % directory)


BAD_PLAY = play("""
    - name: missing directory
      vmguest.qga.qga_copy:
        content: x
        dest: /nonexistent-qga-copy-dir/sub/file
      ignore_errors: true
    - name: relative dest
      vmguest.qga.qga_copy:
        content: x
        dest: relative/file
      ignore_errors: true
    - name: content into a directory
      vmguest.qga.qga_copy:
        content: x
        dest: /tmp
      ignore_errors: true
    - name: missing src
      vmguest.qga.qga_copy:
        src: /nonexistent-qga-src-file
        dest: /tmp/x
      ignore_errors: true
    - name: bad mode
      vmguest.qga.qga_copy:
        content: x
        dest: /nonexistent-qga-copy-dir/file
        mode: "rwx"
      ignore_errors: true
""")


@pytest.mark.fault
def test_bad_dest_is_a_clear_error_and_leaves_nothing(host_agent: HostAgent) -> None:
    run = run_playbook(BAD_PLAY, {"h": qga_host(host_agent.channel)})
    assert ("the destination directory /nonexistent-qga-copy-dir/sub does not exist in the guest"
            in result_of(run, "missing directory")["msg"])
    assert not os.path.exists("/nonexistent-qga-copy-dir")
    assert "dest must be an absolute path" in result_of(run, "relative dest")["msg"]
    assert "with content, dest must be a file path" in result_of(run, "content into a directory")["msg"]
    assert "nonexistent-qga-src-file" in failed(run, "missing src")["msg"]
    assert "neither an octal mode like '0644' nor a symbolic one" in result_of(run, "bad mode")["msg"]


def test_own_channel_and_module_defaults(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    dest = "/tmp/copy-channel-%s" % uuid.uuid4().hex[:8]
    run = run_playbook("""
- hosts: all
  gather_facts: false
  module_defaults:
    group/vmguest.qga.qga:
      channel: "%s"
  tasks:
    - name: copy
      vmguest.qga.qga_copy:
        content: via channel
        dest: %s
""" % (channel, dest), {"localhost": {"ansible_connection": "local"}})
    assert ok(run, "copy")["changed"] is True
    assert guest_read(channel, dest) == b"via channel"
    guest_sh(channel, "rm -f %s" % dest)
