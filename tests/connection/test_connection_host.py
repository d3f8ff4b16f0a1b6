# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The vmguest.qga.qga connection against a real qemu-ga on this machine (the host agent).

Every test runs real `ansible-playbook` (or `ansible`) over the connection. The tests whose code
path differs by connection mode (connect and close, reset, commands with and without stdin,
put/fetch, remote_user and become, timeouts, faults) run once per mode: pipelining, the channel
relay and the persistent executor (`connection_mode`, tests/connection/conftest.py). The "guest" is
this machine and commands run as root here, so every path a test writes is inside its
pytest tmp_path, or inside a temporary directory of its own that it hands to another user
(tmp_path's parents are private to root). Tests that need an agent of their own (blocked
RPCs, a second host) start one; the others share the session's host agent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import typing as t
import uuid

import pytest
from ansible_run import AnsibleRun, failed, message, ok, play, qga_host, run_adhoc, run_playbook
from background_play import PlayInBackground, wait_until
from connection_modes import without_relay
from hostagent import HostAgent
from payloads import binary_payload, sha256

# A system user every Linux host has; its shell is nologin and its home (/usr/sbin) is not its own.
OTHER_USER = "daemon"


# ------------------------------------------------------------------------------------------ helpers


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mode_of(path: str | os.PathLike[str]) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def pids_matching(pattern: str) -> list[int]:
    """PIDs whose command line contains `pattern` (pgrep -f), this test's own helpers excluded."""
    proc = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return [int(pid) for pid in proc.stdout.split()]


def wait_until_gone(pattern: str, timeout: float) -> list[int]:
    """Wait up to `timeout` s for no process to match; return those still there."""
    deadline = time.monotonic() + timeout
    while True:
        left = pids_matching(pattern)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def other_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(OTHER_USER)
    except KeyError:
        pytest.skip("this host has no user %s" % OTHER_USER)


@pytest.fixture
def user_dir() -> t.Iterator[str]:
    """A directory in /tmp owned by OTHER_USER (tmp_path's parents are private to root)."""
    user = other_user()
    path = tempfile.mkdtemp(prefix="vmguest-qga-conn-user-")
    os.chown(path, user.pw_uid, user.pw_gid)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def unique_sleep(tmp_path: t.Any) -> t.Iterator[str]:
    """A copy of /bin/sleep under a name no other process has; whatever still runs it is killed (by pid) after."""
    path = str(tmp_path / ("qga-sleep-%s" % uuid.uuid4().hex[:12]))
    shutil.copy2(shutil.which("sleep") or "/bin/sleep", path)  # keeps the 0755 mode
    try:
        yield path
    finally:
        for pid in pids_matching(os.path.basename(path)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def guest_cwd(run: AnsibleRun, task: str) -> str:
    return ok(run, task)["stdout"].strip()


# ---------------------------------------------------------------------------------------- basics


@pytest.mark.usefixtures("connection_mode")
def test_ping_module(host_agent: HostAgent) -> None:
    tasks = "    - name: ping\n      ping:\n        data: qga-pong\n"
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel)})
    assert run.rc == 0, run.output
    assert ok(run, "ping")["ping"] == "qga-pong"


@pytest.mark.usefixtures("connection_mode")
def test_adhoc_ping_and_raw(host_agent: HostAgent) -> None:
    hosts = {"h": qga_host(host_agent.channel)}
    pinged = run_adhoc("all", hosts, ["-m", "ping"])
    assert pinged.rc == 0, pinged.output
    assert '"ping": "pong"' in pinged.stdout
    raw = run_adhoc("all", hosts, ["-m", "raw", "-a", "echo adhoc-$((6 * 7)) | tr a-z A-Z"])
    assert raw.rc == 0, raw.output
    assert "ADHOC-42" in raw.stdout


@pytest.mark.usefixtures("connection_mode")
def test_raw_runs_through_a_shell(host_agent: HostAgent, tmp_path: t.Any) -> None:
    for name in ("a1.txt", "a2.txt", "b1.txt"):
        (tmp_path / name).write_text(name)
    tasks = """
    - name: raw
      raw: cd "{{ dir }}" && ls a*.txt | tr '\\n' ' '; echo; echo one; echo two three | wc -w; x=$((40 + 2)); echo "$x"
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, dir=str(tmp_path))})
    result = ok(run, "raw")
    assert result["rc"] == 0
    assert result["stdout"].splitlines() == ["a1.txt a2.txt ", "one", "2", "42"]


def test_command_module_does_not_use_a_shell(host_agent: HostAgent, tmp_path: t.Any) -> None:
    tasks = """
    - name: command
      command:
        argv: [printf, "%s|", "a b", "`id -u`", "*", "x;y", "a > b"]
        chdir: "{{ dir }}"
    - name: pwd
      command: pwd
      args:
        chdir: "{{ dir }}"
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, dir=str(tmp_path))})
    assert ok(run, "command")["stdout"] == "a b|`id -u`|*|x;y|a > b|"
    assert not (tmp_path / " b").exists()
    assert ok(run, "pwd")["stdout"] == str(tmp_path)


def test_shell_module(host_agent: HostAgent, tmp_path: t.Any) -> None:
    tasks = """
    - name: shell
      shell: |
        set -e
        cd "{{ dir }}"
        printf 'x\\ny\\nz\\n' > lines.txt
        grep -c . lines.txt | sed 's/^/count=/'
        for word in alpha beta; do echo "$word"; done | sort -r | head -1
        echo "sh=$0" >&2
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, dir=str(tmp_path))})
    result = ok(run, "shell")
    assert result["stdout"].splitlines() == ["count=3", "beta"]
    assert result["stderr"] == "sh=/bin/sh"
    assert (tmp_path / "lines.txt").read_text() == "x\ny\nz\n"


def test_script_module_runs_a_local_script(host_agent: HostAgent, tmp_path: t.Any) -> None:
    local = tmp_path / "controller"
    local.mkdir()
    script = local / "probe.sh"
    script.write_text('#!/bin/sh\necho "args: $1 / $2"\necho "user: $(id -un)"\necho ran > "$3"\nexit 0\n')
    marker = tmp_path / "marker"
    tasks = """
    - name: script
      script: "{{ script }} first 'two words' {{ marker }}"
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, script=str(script), marker=str(marker))})
    result = ok(run, "script")
    assert result["rc"] == 0
    assert result["stdout"].splitlines() == ["args: first / two words", "user: root"]
    assert marker.read_text() == "ran\n"


# ------------------------------------------------------------------------------------------ files


@pytest.mark.usefixtures("connection_mode")
def test_copy_content_exact_bytes_and_mode(host_agent: HostAgent, tmp_path: t.Any) -> None:
    content = "first line\nsecond \u2713 line\n\ttabbed \\ backslash 'quotes' \"double\"\n"
    dest = tmp_path / "content.txt"
    tasks = """
    - name: copy
      copy:
        content: "{{ text }}"
        dest: "{{ dest }}"
        mode: "0640"
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, text=content, dest=str(dest))})
    result = ok(run, "copy")
    assert result["changed"] is True
    assert file_sha256(dest) == sha256(content.encode("utf-8"))
    assert mode_of(dest) == 0o640
    assert os.stat(dest).st_uid == 0


@pytest.mark.usefixtures("connection_mode")
def test_copy_binary_src_with_nul_and_invalid_utf8(host_agent: HostAgent, tmp_path: t.Any) -> None:
    data = binary_payload(3 * 1024 * 1024 + 12345)  # more than one 1 MiB write chunk, not a multiple
    src = tmp_path / "payload.bin"
    src.write_bytes(data)
    dest = tmp_path / "out" / "payload.bin"
    dest.parent.mkdir()
    tasks = """
    - name: copy
      copy:
        src: "{{ src }}"
        dest: "{{ dest }}"
        mode: "0600"
    - name: again
      copy:
        src: "{{ src }}"
        dest: "{{ dest }}"
        mode: "0600"
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, src=str(src), dest=str(dest))})
    assert ok(run, "copy")["changed"] is True
    assert ok(run, "again")["changed"] is False  # the remote checksum matched: same bytes
    assert dest.stat().st_size == len(data)
    assert file_sha256(dest) == sha256(data)
    assert mode_of(dest) == 0o600


def test_copy_without_mode_gives_umask_default_never_world_writable(host_agent: HostAgent, tmp_path: t.Any) -> None:
    dest = tmp_path / "default-mode.txt"
    tasks = """
    - name: umask
      raw: umask
    - name: copy
      copy:
        content: "default mode\\n"
        dest: "{{ dest }}"
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, dest=str(dest))})
    guest_umask = int(ok(run, "umask")["stdout"].strip(), 8)
    ok(run, "copy")
    assert dest.read_bytes() == b"default mode\n"
    assert mode_of(dest) == 0o666 & ~guest_umask
    assert not mode_of(dest) & 0o002


@pytest.mark.usefixtures("connection_mode")
def test_transfer_temp_files_are_private_while_they_are_written(host_agent: HostAgent, tmp_path: t.Any) -> None:
    """qemu-ga creates files 0666: the plugin must make them private before the first byte (watched live)."""
    remote_tmp = tmp_path / "remote-tmp"
    remote_tmp.mkdir(mode=0o700)
    src = tmp_path / "big.bin"
    data = binary_payload(48 * 1024 * 1024)  # a few seconds of guest-file-write: long enough to watch
    src.write_bytes(data)
    dest = tmp_path / "big-copy.bin"
    seen: dict[str, int] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for root, _dirs, names in os.walk(remote_tmp):
                for name in names:
                    path = os.path.join(root, name)
                    try:
                        seen[path] = seen.get(path, 0) | stat.S_IMODE(os.lstat(path).st_mode)
                    except FileNotFoundError:
                        pass
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    tasks = """
    - name: copy
      copy:
        src: "{{ src }}"
        dest: "{{ dest }}"
        mode: "0640"
"""
    try:
        # Pipelining off: the AnsiballZ module files are PUT through the same path too.
        run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, src=str(src), dest=str(dest),
                                                       ansible_remote_tmp=str(remote_tmp),
                                                       ansible_pipelining=False)})
    finally:
        stop.set()
        watcher.join()
    ok(run, "copy")
    assert file_sha256(dest) == sha256(data)
    assert mode_of(dest) == 0o640
    sources = [path for path in seen if os.path.basename(path).startswith(".source")]
    assert sources, "the watcher never saw the uploaded temp file: %s" % sorted(seen)
    assert any("AnsiballZ_" in path for path in seen), sorted(seen)
    loose = {path: oct(mode) for path, mode in seen.items() if mode & 0o077}
    assert not loose, "temp files readable/writable by others during the transfer: %s" % loose


def test_template(host_agent: HostAgent, tmp_path: t.Any) -> None:
    source = tmp_path / "motd.j2"
    source.write_text("Hello {{ who }} \u2713\n{% for i in range(3) %}line {{ i }}\n{% endfor %}end\n")
    dest = tmp_path / "motd"
    tasks = """
    - name: template
      template:
        src: "{{ src }}"
        dest: "{{ dest }}"
        mode: "0604"
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, src=str(source), dest=str(dest),
                                                   who="w\u00f6rld")})
    ok(run, "template")
    expected = "Hello w\u00f6rld \u2713\nline 0\nline 1\nline 2\nend\n".encode()
    assert file_sha256(dest) == sha256(expected)
    assert mode_of(dest) == 0o604


@pytest.mark.usefixtures("connection_mode")
def test_fetch_binary_round_trip(host_agent: HostAgent, tmp_path: t.Any) -> None:
    data = binary_payload(9 * 1024 * 1024 + 7)  # more than two 4 MiB read chunks
    guest_file = tmp_path / "guest" / "data.bin"
    guest_file.parent.mkdir()
    guest_file.write_bytes(data)
    local = tmp_path / "controller" / "data.bin"
    tasks = """
    - name: fetch
      fetch:
        src: "{{ src }}"
        dest: "{{ dest }}"
        flat: true
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, src=str(guest_file), dest=str(local))})
    result = ok(run, "fetch")
    assert result["changed"] is True
    assert local.stat().st_size == len(data)
    assert file_sha256(local) == sha256(data)
    assert result["checksum"] == result["remote_checksum"]
    assert not mode_of(local) & 0o022
    assert not [name for name in os.listdir(local.parent) if name != "data.bin"]  # no partial file left


TRANSFER_PLAY_TASKS = """
    - name: copy
      copy: {src: "{{ src }}", dest: "{{ out }}/copy.bin"}
    - name: fetch
      fetch: {src: "{{ src }}", dest: "{{ out }}/fetched.bin", flat: true}
    - name: qga_copy
      vmguest.qga.qga_copy: {src: "{{ src }}", dest: "{{ out }}/qga_copy.bin"}
    - name: qga_fetch
      vmguest.qga.qga_fetch: {src: "{{ src }}", dest: "{{ out }}/qga_fetched.bin", flat: true}
"""


def test_transfer_progress_at_verbose_only(host_agent: HostAgent, tmp_path: t.Any) -> None:
    """put_file, fetch_file, qga_copy and qga_fetch say how far they are at -v (progress_after 0: at once)."""
    src = tmp_path / "big.bin"
    src.write_bytes(binary_payload(5 * 1024 * 1024 // 2))  # 2.5 MiB: more than two 1 MiB write chunks

    def transfer(out: str, *args: str) -> AnsibleRun:
        (tmp_path / out).mkdir()
        host = qga_host(host_agent.channel, src=str(src), out=str(tmp_path / out), ansible_qga_progress_after=0)
        run = run_playbook(play(TRANSFER_PLAY_TASKS), {"h": host}, args=args)
        for task in ("copy", "fetch", "qga_copy", "qga_fetch"):
            assert ok(run, task)["changed"] is True
        return run

    verbose = transfer("verbose", "-v").stdout
    put_to = r"<h> PUT %s TO " % re.escape(str(src))
    fetch_from = r"<h> FETCH %s TO " % re.escape(str(src))
    for expected in (
        put_to + r"\S+: 1\.0 MiB of 2\.5 MiB \(40%\) at \S+ \S+/s, ETA ",  # copy's put_file
        put_to + r"\S+: done, 2\.5 MiB in \S+ s \(",
        fetch_from + r"\S+/fetched\.bin: 2\.5 MiB at ",  # fetch_file: the size is not known beforehand
        fetch_from + r"\S+/fetched\.bin: done, 2\.5 MiB in ",
        put_to + r"\S+/qga_copy\.bin: 1\.0 MiB of 2\.5 MiB \(40%\)",
        put_to + r"\S+/qga_copy\.bin: done, 2\.5 MiB in ",
        fetch_from + r"\S+/qga_fetched\.bin: done, 2\.5 MiB in ",
    ):
        assert re.search(expected, verbose), "no line like %r in:\n%s" % (expected, verbose)

    quiet = transfer("quiet").output
    assert "MiB" not in quiet, quiet


def test_file_module(host_agent: HostAgent, tmp_path: t.Any) -> None:
    gone = tmp_path / "gone.txt"
    gone.write_text("x")
    tasks = """
    - name: directory
      file: {path: "{{ dir }}/sub/deeper", state: directory, mode: "0750"}
    - name: touch
      file: {path: "{{ dir }}/sub/deeper/empty", state: touch, mode: "0604"}
    - name: link
      file: {src: "{{ dir }}/sub/deeper/empty", dest: "{{ dir }}/link", state: link}
    - name: absent
      file: {path: "{{ dir }}/gone.txt", state: absent}
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, dir=str(tmp_path))})
    for name in ("directory", "touch", "link", "absent"):
        assert ok(run, name)["changed"] is True
    assert mode_of(tmp_path / "sub" / "deeper") == 0o750
    assert mode_of(tmp_path / "sub" / "deeper" / "empty") == 0o604
    assert os.readlink(tmp_path / "link") == str(tmp_path / "sub" / "deeper" / "empty")
    assert not gone.exists()


def test_slurp_binary(host_agent: HostAgent, tmp_path: t.Any) -> None:
    data = binary_payload(200_000)
    path = tmp_path / "slurp.bin"
    path.write_bytes(data)
    run = run_playbook(play('    - name: slurp\n      slurp: {src: "{{ path }}"}\n'),
                       {"h": qga_host(host_agent.channel, path=str(path))})
    assert base64.b64decode(ok(run, "slurp")["content"]) == data


def test_stat(host_agent: HostAgent, tmp_path: t.Any) -> None:
    data = binary_payload(70_000)
    path = tmp_path / "stat.bin"
    path.write_bytes(data)
    path.chmod(0o640)
    tasks = '    - name: stat\n      stat: {path: "{{ path }}", checksum_algorithm: sha256}\n'
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, path=str(path))})
    info = ok(run, "stat")["stat"]
    assert info["exists"] is True and info["isreg"] is True
    assert info["size"] == len(data)
    assert info["checksum"] == sha256(data)
    assert info["mode"] == "0640"


# ------------------------------------------------------------------------------------ modules etc


def test_gather_facts(host_agent: HostAgent) -> None:
    run = run_playbook(play("    - name: noop\n      ping:\n", gather_facts=True), {"h": qga_host(host_agent.channel)})
    facts = ok(run, "Gathering Facts")["ansible_facts"]
    assert facts["ansible_system"] == "Linux"
    assert facts["ansible_nodename"] == os.uname().nodename
    assert facts["ansible_user_id"] == "root"
    assert facts["ansible_env"]["HOME"] == "/root"
    assert facts["ansible_user_dir"] == "/root"


def test_wait_for_connection(host_agent: HostAgent) -> None:
    tasks = "    - name: wait\n      wait_for_connection: {timeout: 30, sleep: 1}\n"
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel)})
    assert ok(run, "wait")["elapsed"] < 30


def test_async_with_async_status(host_agent: HostAgent, tmp_path: t.Any) -> None:
    marker = tmp_path / "async-marker"
    tasks = """
    - name: start
      shell: sleep 2; echo "async done"; echo finished > "{{ marker }}"
      async: 60
      poll: 0
      register: job
    - name: started
      stat: {path: "{{ marker }}"}
    - name: status
      async_status: {jid: "{{ job.ansible_job_id }}"}
      register: status
      until: status.finished
      retries: 40
      delay: 0.5
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, marker=str(marker),
                                                   ansible_async_dir=str(tmp_path / "async"))})
    started = ok(run, "start")
    assert started["started"] == 1 and started["finished"] == 0
    assert ok(run, "started")["stat"]["exists"] is False  # poll 0 returned before the job ended
    status = ok(run, "status")
    assert status["finished"] == 1
    assert status["rc"] == 0
    assert status["stdout"] == "async done"
    assert marker.read_text() == "finished\n"


@pytest.mark.usefixtures("connection_mode")
def test_command_stdin(host_agent: HostAgent) -> None:
    text = "line one\nz\u00fcrich \u2713 \u65e5\u672c\n\ttab\x01ctl"
    tasks = """
    - name: stdin
      command: cat
      args:
        stdin: "{{ text }}"
    - name: count
      command: wc -c
      args:
        stdin: "{{ text }}"
        stdin_add_newline: false
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, text=text)})
    assert ok(run, "stdin")["stdout"] == text
    assert int(ok(run, "count")["stdout"]) == len(text.encode("utf-8"))


@without_relay
@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_nonzero_rc_fails_the_task_with_its_output(host_agent: HostAgent) -> None:
    tasks = """
    - name: command
      command: sh -c 'echo to-out; echo to-err >&2; exit 3'
      ignore_errors: true
    - name: raw
      raw: echo raw-out; exit 5
      ignore_errors: true
    - name: allowed
      command: sh -c 'exit 4'
      register: allowed
      failed_when: allowed.rc != 4
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel)})
    command = failed(run, "command")
    assert (command["rc"], command["stdout"], command["stderr"]) == (3, "to-out", "to-err")
    raw = failed(run, "raw")
    assert raw["rc"] == 5 and raw["stdout"] == "raw-out\n"
    assert ok(run, "allowed")["rc"] == 4


@without_relay
@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_signal_killed_command_reports_the_signal(host_agent: HostAgent) -> None:
    """libvirt_qemu fails with KeyError 'exitcode' here: a killed process has no exit code."""
    tasks = """
    - name: raw
      raw: echo before; kill -9 $$
      ignore_errors: true
    - name: command
      command: sh -c 'kill -15 $$'
      ignore_errors: true
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel)})
    raw = failed(run, "raw")
    assert raw["rc"] == -9 and raw["stdout"] == "before\n"
    assert failed(run, "command")["rc"] == -15


def test_unicode_in_commands_and_paths(host_agent: HostAgent, tmp_path: t.Any) -> None:
    word = "gr\u00fc\u00dfe \u2713 \u65e5\u672c\u8a9e \U0001f600"
    directory = tmp_path / ("d\u00efr \u2713")
    tasks = """
    - name: raw
      raw: printf '%s\\n' "{{ word }}"
    - name: command
      command:
        argv: [printf, "%s", "{{ word }}"]
    - name: mkdir
      file: {path: "{{ directory }}", state: directory}
    - name: shell
      shell: echo "{{ word }}" > "{{ directory }}/{{ word }}.txt" && ls "{{ directory }}"
    - name: stat
      stat: {path: "{{ directory }}/{{ word }}.txt", checksum_algorithm: sha256}
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, word=word, directory=str(directory))})
    assert ok(run, "raw")["stdout"] == word + "\n"
    assert ok(run, "command")["stdout"] == word
    assert ok(run, "shell")["stdout"] == word + ".txt"
    assert ok(run, "stat")["stat"]["checksum"] == sha256((word + "\n").encode("utf-8"))
    assert (directory / (word + ".txt")).read_text("utf-8") == word + "\n"


def test_unicode_file_names_in_copy_and_fetch(host_agent: HostAgent, tmp_path: t.Any) -> None:
    tree = tmp_path / "src"
    files = {
        "\u00fcn\u00efc\u00f6d\u00e9 \u2713.bin": binary_payload(40_000),
        "\u65e5\u672c/\u30c7\u30fc\u30bf \U0001f600.txt": "\u30c7\u30fc\u30bf\n".encode(),
        "plain.txt": b"plain\n",
    }
    for name, data in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
    dest = tmp_path / "dest \u2713"
    fetched = tmp_path / "fetched"
    tasks = """
    - name: copy
      copy: {src: "{{ tree }}/", dest: "{{ dest }}/", mode: "0640"}
    - name: fetch
      fetch: {src: "{{ dest }}/{{ name }}", dest: "{{ fetched }}/", flat: true}
"""
    name = "\u00fcn\u00efc\u00f6d\u00e9 \u2713.bin"
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, tree=str(tree), dest=str(dest),
                                                   fetched=str(fetched), name=name)})
    ok(run, "copy")
    for relative, data in files.items():
        assert file_sha256(dest / relative) == sha256(data), relative
        assert mode_of(dest / relative) == 0o640
    ok(run, "fetch")
    assert file_sha256(fetched / name) == sha256(files[name])


# ------------------------------------------------------------------------------------ big output


@pytest.mark.usefixtures("connection_mode")
def test_large_stdout_is_intact(host_agent: HostAgent, tmp_path: t.Any) -> None:
    text = base64.encodebytes(os.urandom(4 * 1024 * 1024)).decode("ascii").rstrip("\n")  # ~5.6 MB, 76-col lines
    assert len(text) >= 5_000_000
    path = tmp_path / "big.txt"
    path.write_text(text)
    tasks = """
    - name: raw
      raw: cat "{{ path }}"
    - name: command
      command: cat "{{ path }}"
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, path=str(path))})
    raw = ok(run, "raw")["stdout"]
    assert (len(raw), sha256(raw.encode())) == (len(text), sha256(text.encode()))
    command = ok(run, "command")["stdout"]
    assert (len(command), sha256(command.encode())) == (len(text), sha256(text.encode()))


@without_relay
@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_output_over_the_agent_capture_limit_fails_clearly(host_agent: HostAgent) -> None:
    tasks = """
    - name: raw
      raw: yes abcdefgh | head -c 17000000; echo tail-marker
      ignore_errors: true
    - name: shell
      shell: yes abcdefgh | head -c 17000000
      ignore_errors: true
      vars:
        ansible_qga_executor: pipelining  # the persistent executor has no 16 MiB limit (its output is a file)
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel)})
    for name in ("raw", "shell"):
        result = failed(run, name)
        text = message(result)
        assert "truncated" in text and "16 MiB" in text and "ansible_qga_spill_output" in text, text
        assert not result.get("stdout"), "the short output was handed on as if complete"


@pytest.mark.fault
def test_output_over_the_agent_capture_limit_comes_whole_when_spilled(host_agent: HostAgent) -> None:
    # no_log and a length: 17 MB results through every callback would cost more than the runs.
    tasks = """
    - name: raw spilled
      raw: yes abcdefgh | head -c 17000000; echo tail-marker
      register: raw
      no_log: true
      vars:
        ansible_qga_spill_output: true
    - name: qga_exec
      vmguest.qga.qga_exec: yes abcdefgh | head -c 17000000; echo tail-marker
      register: cut
      no_log: true
      ignore_errors: true
    - name: qga_exec spilled
      vmguest.qga.qga_exec:
        cmd: yes abcdefgh | head -c 17000000; echo tail-marker
        spill_output: true
      register: spilled
      no_log: true
    - name: lengths
      debug:
        msg: "{{ [raw, spilled] | map(attribute='stdout') | map('trim') | map('length') | list }}
              {{ [raw, spilled] | map(attribute='stdout') | map('trim') | map('regex_search', 'tail-marker$') | list }}
              {{ cut.stdout_truncated }} {{ cut.msg }}"
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel)})
    lengths = ok(run, "lengths")["msg"]
    assert lengths.startswith("[17000011, 17000011] ['tail-marker', 'tail-marker'] True "), lengths
    assert "cut the command's stdout at its 16 MiB capture limit" in lengths and "set spill_output: true" in lengths


# ------------------------------------------------------------------------------------ sharing a guest


@pytest.mark.parametrize("connection_mode", ["pipelining"], indirect=True)  # the relay serves clients the same way
def test_two_plays_on_one_guest_take_turns_between_exchanges(
    host_agent: HostAgent, tmp_path: t.Any, connection_mode: str
) -> None:
    # A long task holds the channel only per exchange: a second play gets in well within its lock_timeout.
    started = tmp_path / "started"
    long_play = PlayInBackground(
        play("    - name: long\n      command: sh -c 'touch %s; sleep 5'\n" % started),
        {"h": qga_host(host_agent.channel)}, str(tmp_path))
    try:
        wait_until(started.exists, 60, "the long task to start")
        short = run_playbook(play("    - name: short\n      command: echo in-between\n"),
                             {"h": qga_host(host_agent.channel, ansible_qga_lock_timeout=2)})
        assert ok(short, "short")["stdout"] == "in-between", connection_mode
        assert started.exists() and long_play.proc.poll() is None, "the long task must still be running"
    finally:
        assert long_play.finish() == 0, long_play.output


# --------------------------------------------------------------------------------------- timeouts


@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_command_timeout_kills_the_guest_process(host_agent: HostAgent, unique_sleep: str) -> None:
    tasks = """
    - name: sleep
      command: "{{ sleeper }} 60"
"""
    started = time.monotonic()
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, sleeper=unique_sleep,
                                                   ansible_qga_command_timeout=2)})
    elapsed = time.monotonic() - started
    text = message(failed(run, "sleep"))
    assert "killed" in text and "left running" not in text, text
    assert elapsed < 30, elapsed
    left = wait_until_gone(os.path.basename(unique_sleep), 5)
    assert not left, "the timed out process still runs: %s" % left


@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_task_timeout_keyword_kills_the_guest_process(host_agent: HostAgent, unique_sleep: str) -> None:
    tasks = """
    - name: sleep
      command: "{{ sleeper }} 60"
      timeout: 3
    """
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, sleeper=unique_sleep)})
    text = message(failed(run, "sleep"))
    assert "Timed out after 3" in text, text
    left = wait_until_gone(os.path.basename(unique_sleep), 10)
    assert not left, "the guest process outlived the task timeout: %s" % left


@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_connection_works_again_after_a_task_timeout(host_agent: HostAgent, unique_sleep: str) -> None:
    """A timeout interrupts an RPC mid-reply: the next task must resync, not read a stale reply."""
    tasks = """
    - name: sleep
      raw: "{{ sleeper }} 30"
      timeout: 2
      ignore_errors: true
    - name: after
      command: echo after-timeout
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, sleeper=unique_sleep)})
    assert "Timed out after 2" in message(failed(run, "sleep"))
    assert ok(run, "after")["stdout"] == "after-timeout"


# ---------------------------------------------------------------------------- connection lifecycle


@pytest.mark.usefixtures("connection_mode")
def test_meta_reset_connection(host_agent: HostAgent, user_dir: str) -> None:
    user = other_user()
    tasks = """
    - name: before
      command: id -un
    - name: switch user
      set_fact:
        ansible_user: "{{ other }}"
    - meta: reset_connection
    - name: after
      command: id -un
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, other=user.pw_name,
                                                   ansible_remote_tmp=user_dir + "/tmp")}, args=["-vvv"])
    assert run.rc == 0, run.output
    assert ok(run, "before")["stdout"] == "root"
    assert ok(run, "after")["stdout"] == user.pw_name
    assert "META: reset connection" in run.stdout
    assert "not implemented" not in run.output.lower()


@without_relay
@pytest.mark.usefixtures("connection_mode")
def test_tilde_and_home_are_the_users_home_with_the_default_remote_tmp(host_agent: HostAgent, tmp_path: t.Any) -> None:
    """community.libvirt #161 / community.proxmox #461: a literal `~` directory appeared in the guest.
    And every command and module starts in the home (the agent's own cwd is the repository here)."""
    tasks = """
    - name: cwd
      raw: pwd
    - name: module cwd
      command: pwd
    - name: raw
      raw: echo ~; echo "$HOME"; echo ~/x
    - name: shell
      shell: echo ~ "$HOME"
    - name: copy
      copy: {content: "via remote tmp\\n", dest: "{{ dir }}/copied.txt"}
    - name: template
      template: {src: "{{ dir }}/t.j2", dest: "{{ dir }}/templated.txt"}
    - name: unpipelined
      command: echo unpipelined
      vars:
        ansible_pipelining: false
"""
    (tmp_path / "t.j2").write_text("answer={{ 6 * 7 }}\nend\n")
    roots = ["/", "/root", os.getcwd(), str(tmp_path)]
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, dir=str(tmp_path))}, args=["-vvv"])
    # Commands and modules start in the user's home, as over ssh, not in the agent's cwd.
    assert guest_cwd(run, "cwd") == "/root" and guest_cwd(run, "module cwd") == "/root", run.output
    assert ok(run, "raw")["stdout"].splitlines() == ["/root", "/root", "/root/x"]
    assert ok(run, "shell")["stdout"] == "/root /root"
    assert (tmp_path / "copied.txt").read_text() == "via remote tmp\n"
    assert (tmp_path / "templated.txt").read_text() == "answer=42\nend\n"
    assert ok(run, "unpipelined")["stdout"] == "unpipelined"
    assert "/root/.ansible/tmp/ansible-tmp-" in run.stdout  # the default remote_tmp was used, expanded
    for root in roots:
        assert not os.path.lexists(os.path.join(root, "~")), "a literal ~ appeared in %s" % root


@without_relay
@pytest.mark.usefixtures("connection_mode")
def test_remote_user_runs_commands_as_that_user(host_agent: HostAgent, user_dir: str) -> None:
    user = other_user()
    tasks = """
    - name: raw
      raw: id -un; id -u; echo "$HOME"; echo ~; echo "$USER"
    - name: command
      command: id -un
    - name: module cwd
      command: pwd
    - name: copy
      copy: {content: "owned\\n", dest: "{{ dir }}/put.txt", mode: "0640"}
    - name: copy default mode
      copy: {content: "owned too\\n", dest: "{{ dir }}/put-default.txt"}
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, dir=user_dir, ansible_user=user.pw_name,
                                                   ansible_remote_tmp=user_dir + "/tmp")})
    assert ok(run, "raw")["stdout"].splitlines() == [
        user.pw_name, str(user.pw_uid), user.pw_dir, user.pw_dir, user.pw_name]
    assert ok(run, "command")["stdout"] == user.pw_name
    assert guest_cwd(run, "module cwd") == user.pw_dir
    ok(run, "copy")
    put = os.path.join(user_dir, "put.txt")
    assert open(put, "rb").read() == b"owned\n"
    assert (os.stat(put).st_uid, os.stat(put).st_gid) == (user.pw_uid, user.pw_gid)
    assert mode_of(put) == 0o640
    ok(run, "copy default mode")
    default = os.path.join(user_dir, "put-default.txt")
    assert os.stat(default).st_uid == user.pw_uid
    assert not mode_of(default) & 0o022


@pytest.mark.fault
def test_unknown_remote_user_makes_the_host_unreachable_naming_the_fix(host_agent: HostAgent) -> None:
    """As with ssh's failed login: UNREACHABLE (ansible-playbook exits 4), so ignore_unreachable applies."""
    name = "qga-nouser-%s" % uuid.uuid4().hex[:6]
    tasks = """
    - name: raw
      raw: id
      ignore_unreachable: true
    - name: after
      raw: id
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, ansible_user=name)})
    assert run.rc == 4, run.output
    for task in ("raw", "after"):  # the play went on past the first: it was unreachable, not failed
        text = message(failed(run, task, status="unreachable"))
        assert "the guest has no user %r" % name in text and "set ansible_user" in text, text


@without_relay
@pytest.mark.parametrize("method", ["su", "sudo"])
@pytest.mark.usefixtures("connection_mode")
def test_become_another_user(host_agent: HostAgent, user_dir: str, method: str) -> None:
    if method == "sudo" and not shutil.which("sudo"):
        pytest.skip("sudo is not installed on this host")
    user = other_user()
    # The user's shell is nologin: su needs a shell to run the command with.
    flags = "-s /bin/sh" if method == "su" else "-H -S -n"
    tasks = """
    - name: whoami
      command: id -un
    - name: home
      shell: echo "$HOME"
    - name: copy
      copy: {content: "became\\n", dest: "{{ dir }}/became.txt", mode: "0600"}
    - name: raw
      raw: id -un
    - name: stdin
      raw: cat; echo end
"""
    # Root is never asked for a password: the one given must not reach the command's (or module's) stdin.
    hostvars = qga_host(host_agent.channel, dir=user_dir, ansible_become=True, ansible_become_method=method,
                        ansible_become_user=user.pw_name, ansible_become_flags=flags,
                        **{"ansible_become_password": "not-asked-for"})
    run = run_playbook(play(tasks), {"h": hostvars})
    assert ok(run, "whoami")["stdout"] == user.pw_name
    assert ok(run, "home")["stdout"] == user.pw_dir
    ok(run, "copy")
    became = os.path.join(user_dir, "became.txt")
    assert open(became, "rb").read() == b"became\n"
    assert os.stat(became).st_uid == user.pw_uid
    assert mode_of(became) == 0o600
    assert ok(run, "raw")["stdout"].strip() == user.pw_name  # raw becomes too
    assert ok(run, "stdin")["stdout"].strip() == "end"


# ----------------------------------------------------------------------------------------- pipelining


def test_pipelining_is_on_by_default(host_agent: HostAgent) -> None:
    tasks = "    - name: command\n      command: echo piped\n"
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel)}, args=["-vvv"])
    assert ok(run, "command")["stdout"] == "piped"
    # (ansible-core up to 2.20 also says "Pipelining is enabled"; 2.21 no longer does: the module on stdin tells.)
    assert re.search(r"EXEC .*python.* \(\d+ bytes on stdin\)", run.stdout), run.stdout
    assert not re.search(r"\bPUT .*AnsiballZ", run.stdout), run.stdout
    assert "ansible-tmp-" not in run.stdout  # no remote tmp dir at all for a pipelined module


def test_pipelining_off_still_works(host_agent: HostAgent) -> None:
    tasks = "    - name: command\n      command: echo not-piped\n"
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, ansible_pipelining=False)}, args=["-vvv"])
    assert ok(run, "command")["stdout"] == "not-piped"
    assert re.search(r"\bPUT .* TO .*/AnsiballZ_command\.py", run.stdout), run.stdout


# ------------------------------------------------------------------------------------------- errors


@pytest.mark.fault
def test_missing_channel_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VMGUEST_QGA_CHANNEL", raising=False)
    run = run_playbook(play("    - name: ping\n      ping:\n"), {"h": {"ansible_connection": "vmguest.qga.qga"}})
    assert run.rc != 0
    text = message(failed(run, "ping", status="unreachable"))
    assert "ansible_qga_channel" in text, text


@pytest.mark.fault
def test_socket_that_does_not_exist_is_a_clear_error(tmp_path: t.Any) -> None:
    path = str(tmp_path / "no-such-agent.sock")
    started = time.monotonic()
    run = run_playbook(play("    - name: ping\n      ping:\n"), {"h": qga_host("unix:" + path)})
    assert time.monotonic() - started < 60
    text = message(failed(run, "ping", status="unreachable"))
    assert path in text and "No such file" in text, text


@without_relay
@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_disabled_guest_exec_names_the_command_and_the_fix() -> None:
    with HostAgent(extra_blocked=["guest-exec"]) as agent:
        run = run_playbook(play("    - name: raw\n      raw: echo hi\n"), {"h": qga_host(agent.channel)})
    entry = run.task("raw")
    assert entry["status"] in ("failed", "unreachable"), entry
    text = message(entry["result"])
    assert "guest-exec" in text and "disabled" in text, text
    assert "--block-rpcs" in text and "--allow-rpcs" in text, text
    # Where distributions keep the lists: the agent's config file, RHEL/Fedora's sysconfig file, the unit.
    assert "/etc/qemu/qemu-ga.conf" in text and "/etc/sysconfig/qemu-ga" in text, text


@without_relay
@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_copy_with_guest_file_write_disabled_fails_and_leaves_nothing(tmp_path: t.Any) -> None:
    dest = tmp_path / "never.txt"
    tasks = '    - name: copy\n      copy: {content: "blocked\\n", dest: "{{ dest }}"}\n'
    with HostAgent(extra_blocked=["guest-file-write"]) as agent:
        run = run_playbook(play(tasks), {"h": qga_host(agent.channel, dest=str(dest))})
    assert run.rc != 0
    entry = run.task("copy")
    assert entry["status"] in ("failed", "unreachable"), entry
    text = message(entry["result"])
    assert "guest-file-write" in text and "disabled" in text, text
    assert not dest.exists()


@pytest.mark.parametrize("blocked, task", [
    ("guest-file-write", '    - name: transfer\n      copy: {content: "x\\n", dest: "{{ dir }}/x.txt"}\n'),
    ("guest-file-read", '    - name: transfer\n      fetch: {src: "{{ dir }}/present.txt", dest: "{{ dir }}/f/", '
                        "flat: true}\n"),
], ids=["copy", "fetch"])
@pytest.mark.fault
def test_disabled_file_rpc_says_how_to_enable_it(tmp_path: t.Any, blocked: str, task: str) -> None:
    (tmp_path / "present.txt").write_text("present\n")
    with HostAgent(extra_blocked=[blocked]) as agent:
        run = run_playbook(play(task), {"h": qga_host(agent.channel, dir=str(tmp_path))})
    entry = run.task("transfer")
    assert entry["status"] in ("failed", "unreachable"), entry
    text = message(entry["result"])
    assert blocked in text, text
    assert "--block-rpcs" in text and "--allow-rpcs" in text, text


@pytest.mark.fault
def test_copy_missing_local_source(host_agent: HostAgent, tmp_path: t.Any) -> None:
    src = tmp_path / "not-here.txt"
    tasks = '    - name: copy\n      copy: {src: "{{ src }}", dest: "{{ dir }}/out.txt"}\n'
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, src=str(src), dir=str(tmp_path))})
    text = message(failed(run, "copy"))
    assert str(src) in text and "Could not find or access" in text, text
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_fetch_missing_remote_file(host_agent: HostAgent, tmp_path: t.Any) -> None:
    tasks = '    - name: fetch\n      fetch: {src: "{{ dir }}/absent.bin", dest: "{{ dir }}/local/", flat: true}\n'
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, dir=str(tmp_path))})
    text = message(failed(run, "fetch"))
    assert "does not exist" in text or "not found" in text, text
    assert not (tmp_path / "local" / "absent.bin").exists()


@pytest.mark.fault
def test_fetch_of_a_file_the_remote_user_cannot_read(host_agent: HostAgent, user_dir: str) -> None:
    user = other_user()
    secret = os.path.join(user_dir, "root-only.txt")
    with open(secret, "w") as handle:
        handle.write("root only\n")
    os.chmod(secret, 0o600)  # owned by root, in a directory the user owns
    local = tempfile.mkdtemp(prefix="vmguest-qga-conn-fetch-")
    try:
        tasks = '    - name: fetch\n      fetch: {src: "{{ src }}", dest: "{{ local }}/", flat: true}\n'
        run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, src=secret, local=local,
                                                       ansible_user=user.pw_name,
                                                       ansible_remote_tmp=user_dir + "/tmp")})
        text = message(failed(run, "fetch"))
        assert "not readable" in text.lower() or "permission denied" in text.lower(), text
        assert not os.listdir(local)
    finally:
        shutil.rmtree(local, ignore_errors=True)


@without_relay
@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_missing_python_interpreter_hint_while_raw_works(host_agent: HostAgent) -> None:
    tasks = """
    - name: python
      command: echo needs-python
      ignore_errors: true
    - name: raw
      raw: echo raw-still-works
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel,
                                                   ansible_python_interpreter="/nonexistent/python3")})
    text = message(failed(run, "python"))
    assert "no Python interpreter" in text and "/nonexistent/python3" in text, text
    assert ok(run, "raw")["stdout"] == "raw-still-works\n"


@pytest.mark.fault
def test_missing_python_hint_names_the_interpreter_exactly(host_agent: HostAgent) -> None:
    run = run_playbook(play("    - name: python\n      command: echo x\n"),
                       {"h": qga_host(host_agent.channel, ansible_python_interpreter="/nonexistent/python3")})
    text = message(failed(run, "python"))
    assert "no Python interpreter at /nonexistent/python3." in text, text


# ---------------------------------------------------------------------------------------- several hosts


AGENT_PID_SCRIPT = (
    "p=$$; while [ \"$p\" -gt 1 ]; do "
    "if [ \"$(cat /proc/$p/comm)\" = qemu-ga ]; then echo \"$p\"; exit 0; fi; "
    "p=$(awk '{print $4}' /proc/$p/stat); done; exit 1"
)


def test_two_hosts_on_their_own_agents_with_forks(host_agent: HostAgent, fresh_host_agent: HostAgent,
                                                  tmp_path: t.Any) -> None:
    tasks = """
    - name: agent
      raw: "{{ agent_pid_script }}"
    - name: copy
      copy: {content: "{{ inventory_hostname }}\\n", dest: "{{ dir }}/{{ inventory_hostname }}.txt"}
    - name: facts
      setup: {gather_subset: [min]}
"""
    common = {"dir": str(tmp_path), "agent_pid_script": AGENT_PID_SCRIPT}
    hosts = {"one": qga_host(host_agent.channel, **common), "two": qga_host(fresh_host_agent.channel, **common)}
    run = run_playbook(play(tasks), hosts, args=["--forks", "2"])
    assert run.rc == 0, run.output
    assert int(ok(run, "agent", "one")["stdout"]) == host_agent.pid
    assert int(ok(run, "agent", "two")["stdout"]) == fresh_host_agent.pid
    for name in ("one", "two"):
        ok(run, "facts", name)
        assert (tmp_path / ("%s.txt" % name)).read_text() == name + "\n"


@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_two_hosts_on_the_same_channel_share_it_with_nothing_mixed_up(host_agent: HostAgent, tmp_path: t.Any) -> None:
    # The channel is held per exchange: the two hosts' commands may run at the same time in the guest, but each
    # exchange is whole (no reply goes to the other host's task).
    tasks = """
    - name: window
      shell: echo {{ inventory_hostname }}; sleep 1; echo {{ inventory_hostname }}
    - name: copy
      copy: {content: "{{ inventory_hostname }}\\n", dest: "{{ dir }}/{{ inventory_hostname }}.txt"}
    - name: read back
      command: cat "{{ dir }}/{{ inventory_hostname }}.txt"
"""
    hosts = {name: qga_host(host_agent.channel, dir=str(tmp_path)) for name in ("one", "two")}
    run = run_playbook(play(tasks), hosts, args=["--forks", "2"])
    assert run.rc == 0, run.output
    for name in ("one", "two"):
        assert ok(run, "window", name)["stdout"].split() == [name, name]
        assert ok(run, "read back", name)["stdout"] == name


# -------------------------------------------------------------------------------------------- no_log


@without_relay
@pytest.mark.fault
@pytest.mark.usefixtures("connection_mode")
def test_no_log_secrets_stay_out_of_verbose_output(host_agent: HostAgent, tmp_path: t.Any) -> None:
    secret = "qga-secret-%s" % uuid.uuid4().hex
    dest = tmp_path / "secret.txt"
    tasks = """
    - name: command
      command: echo "{{ secret }}"
      no_log: true
    - name: shell
      shell: test "{{ secret }}" != ""
      no_log: true
    - name: copy
      copy: {content: "{{ secret }}\\n", dest: "{{ dest }}", mode: "0600"}
      no_log: true
"""
    run = run_playbook(play(tasks), {"h": qga_host(host_agent.channel, secret=secret, dest=str(dest))},
                       args=["-vvv"])
    for name in ("command", "shell", "copy"):
        ok(run, name)
    assert dest.read_text() == secret + "\n"
    assert secret not in run.stdout and secret not in run.stderr
    assert secret not in json.dumps(run.results)
