# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_exec against real agents.

The host agent (root on this machine) only runs harmless commands (echo, cat, sleep, pwd, test);
what runs as another user, or kills process trees, runs in the test VM.
"""

from __future__ import annotations

import base64
import subprocess
import time
import typing as t
import uuid

import pytest
from ansible_run import failed, play, qga_host, result_of, run_adhoc, run_playbook, vm_channel
from hostagent import HostAgent

HOST_PLAY = play("""
    - name: argv
      vmguest.qga.qga_exec:
        argv: [echo, "two  spaces", "$HOME"]
    - name: shell with stdin and env
      vmguest.qga.qga_exec:
        cmd: 'cat; printf "%s|%s|%s\\n" "$FOO" "$HOME" "$LANG"'
        stdin: hello
        env:
          FOO: bar baz
    - name: binary stdin and stdout
      vmguest.qga.qga_exec:
        cmd: cat; printf '\\377\\000'
        stdin_b64: "{{ 'AAEC' }}"
    - name: stderr and rc
      vmguest.qga.qga_exec:
        cmd: echo oops >&2; exit 3
      ignore_errors: true
    - name: chdir
      vmguest.qga.qga_exec:
        argv: [pwd]
        chdir: /tmp
    - name: creates exists
      vmguest.qga.qga_exec:
        argv: [echo, should not run]
        creates: /etc/host*
    - name: removes missing
      vmguest.qga.qga_exec:
        argv: [echo, should not run]
        removes: /nonexistent-qga-exec-*
    - name: removes exists
      vmguest.qga.qga_exec:
        argv: [echo, ran]
        removes: /etc/hostname
    - name: no newline
      vmguest.qga.qga_exec:
        argv: [cat]
        stdin: x
        stdin_add_newline: false
        strip_empty_ends: false
        output_b64: always
    - name: free-form
      vmguest.qga.qga_exec: echo "free $((6 * 7))" | tr a-z A-Z
""")


def test_run_argv_shell_stdin_env_and_codes_on_the_host_agent(host_agent: HostAgent) -> None:
    run = run_playbook(HOST_PLAY, {"h": qga_host(host_agent.channel)})
    argv = result_of(run, "argv")
    assert argv["changed"] is True and argv["rc"] == 0, run.output
    assert argv["stdout"] == "two  spaces $HOME"  # no shell: no splitting, no expansion
    assert argv["cmd"] == ["echo", "two  spaces", "$HOME"]
    assert "stdout_b64" not in argv and "stderr_b64" not in argv  # UTF-8 output: the text is the output
    assert argv["stderr"] == "" and argv["delta"]

    shell = result_of(run, "shell with stdin and env")
    # stdin gets a newline like ansible.builtin.command; env is added to a login-like environment
    assert shell["stdout_lines"] == ["hello", "bar baz|/root|C.UTF-8"]

    binary = result_of(run, "binary stdin and stdout")
    assert base64.b64decode(binary["stdout_b64"]) == b"\x00\x01\x02\xff\x00"  # not UTF-8: the exact bytes too
    assert "stderr_b64" not in binary
    assert "\ufffd" in binary["stdout"]  # text is decoded with replacement

    nonzero = failed(run, "stderr and rc")
    assert nonzero["rc"] == 3 and nonzero["msg"] == "non-zero return code"
    assert nonzero["stderr"] == "oops"

    assert result_of(run, "chdir")["stdout"] == "/tmp"

    creates = result_of(run, "creates exists")
    assert creates["changed"] is False
    assert creates["msg"] == "Did not run command since '/etc/host*' exists"
    assert creates["stdout"] == "skipped, since /etc/host* exists"
    removes = result_of(run, "removes missing")
    assert removes["changed"] is False
    assert removes["msg"] == "Did not run command since '/nonexistent-qga-exec-*' does not exist"
    ran = result_of(run, "removes exists")
    assert ran["changed"] is True and ran["stdout"] == "ran"
    no_newline = result_of(run, "no newline")
    assert base64.b64decode(no_newline["stdout_b64"]) == b"x" and no_newline["stderr_b64"] == ""  # asked for
    free_form = result_of(run, "free-form")
    assert free_form["stdout"] == "FREE 42" and free_form["cmd"] == 'echo "free $((6 * 7))" | tr a-z A-Z'


def test_check_mode_runs_nothing(host_agent: HostAgent, tmp_path: t.Any) -> None:
    marker = tmp_path / "touched"
    run = run_playbook(play("""
    - name: plain
      vmguest.qga.qga_exec:
        argv: [touch, "{{ marker }}"]
    - name: with creates
      vmguest.qga.qga_exec:
        argv: [touch, "{{ marker }}"]
        creates: "{{ marker }}"
    - name: with creates that exists
      vmguest.qga.qga_exec:
        argv: [touch, "{{ marker }}"]
        creates: /etc/hostname
"""), {"h": qga_host(host_agent.channel, marker=str(marker))}, args=["--check"])
    assert run.rc == 0, run.output
    plain = run.task("plain")
    assert plain["status"] == "skipped" or plain["result"].get("skipped") is True, plain
    assert plain["result"]["msg"] == "Command would have run if not in check mode"
    creates = result_of(run, "with creates")
    assert creates["changed"] is True and creates["msg"] == "Command would have run if not in check mode"
    assert result_of(run, "with creates that exists")["msg"] == "Would not run command since '/etc/hostname' exists"
    assert not marker.exists()


def test_timeout_kills_the_process_group_and_keeps_output(host_agent: HostAgent) -> None:
    tag = "qga-exec-timeout-%s" % uuid.uuid4().hex
    started = time.monotonic()
    run = run_playbook(play("""
    - name: slow
      vmguest.qga.qga_exec:
        cmd: echo started; sh -c 'sleep 300; echo {{ tag }}' & wait
        timeout: 2
"""), {"h": qga_host(host_agent.channel, tag=tag)})
    assert time.monotonic() - started < 60
    result = failed(run, "slow")
    assert result["timed_out"] is True and result["signal"] == 9 and result["rc"] == -9
    assert result["stdout"] == "started"
    assert "ran longer than 2.0 s" in result["msg"]
    # the background shell was in the process group: it is gone too
    deadline = time.monotonic() + 5
    while True:
        left = subprocess.run(["pgrep", "-f", tag], capture_output=True, text=True, check=False).stdout.split()
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, left


@pytest.mark.fault
def test_bad_input_is_a_clear_error(host_agent: HostAgent) -> None:
    run = run_playbook(play("""
    - name: unknown user
      vmguest.qga.qga_exec:
        argv: [id]
        user: no-such-user-qga
      ignore_errors: true
    - name: bad chdir
      vmguest.qga.qga_exec:
        argv: [pwd]
        chdir: /nonexistent-qga-dir
      ignore_errors: true
    - name: both argv and cmd
      vmguest.qga.qga_exec:
        argv: [id]
        cmd: id
      ignore_errors: true
    - name: empty argv
      vmguest.qga.qga_exec:
        argv: []
      ignore_errors: true
    - name: bad base64
      vmguest.qga.qga_exec:
        argv: [cat]
        stdin_b64: "not base64!"
      ignore_errors: true
    - name: no such program
      vmguest.qga.qga_exec:
        argv: [/nonexistent/program]
      ignore_errors: true
"""), {"h": qga_host(host_agent.channel)})
    assert "the guest has no user 'no-such-user-qga'" in result_of(run, "unknown user")["msg"]
    assert "Unable to change directory before execution" in result_of(run, "bad chdir")["msg"]
    assert "mutually exclusive" in result_of(run, "both argv and cmd")["msg"]
    assert "argv is empty" in result_of(run, "empty argv")["msg"]
    assert "stdin_b64 is not valid base64" in result_of(run, "bad base64")["msg"]
    failed(run, "no such program")


def test_own_channel_option_from_localhost(host_agent: HostAgent) -> None:
    run = run_playbook(play("""
    - name: over its own channel
      vmguest.qga.qga_exec:
        channel: "%s"
        argv: [echo, via channel]
""" % host_agent.channel), {"localhost": {"ansible_connection": "local"}})
    assert run.rc == 0, run.output
    assert result_of(run, "over its own channel")["stdout"] == "via channel"


VM_PLAY = play("""
    - name: as alice
      vmguest.qga.qga_exec:
        cmd: id -un; echo "$HOME"; pwd; echo "$EXTRA"
        user: alice
        chdir: /home/alice
        env:
          EXTRA: "42"
    - name: creates relative to chdir as alice
      vmguest.qga.qga_exec:
        cmd: touch made-{{ tag }}
        user: alice
        chdir: /home/alice
        creates: made-{{ tag }}
    - name: again
      vmguest.qga.qga_exec:
        cmd: touch made-{{ tag }}
        user: alice
        chdir: /home/alice
        creates: made-{{ tag }}
    - name: owner
      vmguest.qga.qga_exec:
        argv: [stat, -c, "%U", "/home/alice/made-{{ tag }}"]
    - name: timeout in the guest
      vmguest.qga.qga_exec:
        cmd: sleep 1000 & echo $!; wait
        user: alice
        timeout: 3
      ignore_errors: true
    - name: killed by a signal
      vmguest.qga.qga_exec:
        cmd: kill -TERM $$
      ignore_errors: true
""")


def test_user_chdir_creates_and_timeout_in_the_vm(test_vm: t.Any) -> None:
    tag = uuid.uuid4().hex[:10]
    run = run_playbook(VM_PLAY, {"vm": qga_host(vm_channel(test_vm), tag=tag)})
    assert result_of(run, "as alice")["stdout_lines"] == ["alice", "/home/alice", "/home/alice", "42"], run.output
    assert result_of(run, "creates relative to chdir as alice")["changed"] is True
    again = result_of(run, "again")
    assert again["changed"] is False and "exists" in again["msg"]
    assert result_of(run, "owner")["stdout"] == "alice"

    slow = failed(run, "timeout in the guest")
    assert slow["signal"] == 9 and slow["timed_out"] is True
    background = slow["stdout"].strip()
    assert background.isdigit(), slow
    check = run_playbook(play("""
    - name: background child
      vmguest.qga.qga_exec:
        cmd: if kill -0 {{ bg }} 2>/dev/null; then echo alive; else echo gone; fi
"""), {"vm": qga_host(vm_channel(test_vm), bg=background)})
    assert result_of(check, "background child")["stdout"] == "gone", check.output

    killed = failed(run, "killed by a signal")
    assert killed["signal"] == 15 and killed["rc"] == -15


def test_ad_hoc_free_form_runs_the_command_line_and_refuses_a_second_command(host_agent: HostAgent) -> None:
    adhoc = run_adhoc("h", {"h": qga_host(host_agent.channel)}, ["-m", "vmguest.qga.qga_exec", "-a", "uname -s"])
    assert adhoc.rc == 0 and "h | CHANGED =>" in adhoc.stdout, adhoc.output
    assert '"stdout": "Linux"' in adhoc.stdout and "_b64" not in adhoc.stdout, adhoc.output
    both = run_playbook(play(
        "    - name: both\n      vmguest.qga.qga_exec: echo one\n      args:\n        cmd: echo two\n"
        "      ignore_errors: true\n"
    ), {"h": qga_host(host_agent.channel)})
    assert "give the command either free-form or as cmd/argv, not both" in failed(both, "both")["msg"]
