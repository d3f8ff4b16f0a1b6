# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The persistent in-guest executor (ansible_qga_executor: persistent), against real agents.

On the host agent the "guest" is this machine: the worker runs here as root, under this test
run's own executor directory (executor_workers.PARENT_DIR, exported as VMGUEST_QGA_EXECUTOR_DIR),
so workers another agent, checkout or run left on this machine are never seen. Every test stops
the workers it started (by the pid in their pid file) and removes their directories.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import typing as t
import uuid

import pytest
from ansible_run import RESET_BETWEEN_TWO_COMMANDS, AnsibleRun, failed, ok, play, run_playbook
from exec_routes import IDENTITIES, ORDINARY_KINDS, OTHER_USER, ordinary_tasks, worker_share_by_task
from executor_workers import (
    PARENT_DIR,
    process_exists,
    running_workers,
    stop_worker,
    stop_workers_started_since,
    wait_for,
)
from guest_pythons import OLDEST_TARGET_PYTHON, pyenv_python
from hostagent import HostAgent

CONNECTION = "vmguest.qga.qga"
# What -vvv says for a module task that finds no worker: it runs the normal way while one starts beside it.
STARTING_BESIDE = "EXECUTOR not used: no worker ran: one is starting beside this task"
JOB_LINE = re.compile(r"EXECUTOR job (\w+) in worker pid (\d+) \((\S+)\)")
DONE_LINE = re.compile(r"EXECUTOR job (\w+) done \((\w+)\): rc=(-?\d+)")
WORKER_SOURCE = os.path.join(
    os.path.dirname(__file__), "..", "..", "plugins", "module_utils", "guest", "executor_worker.py"
)


# ------------------------------------------------------------------------------------------ helpers


def executor_host(channel: str, **extra: t.Any) -> dict[str, t.Any]:
    """A host on `channel` with the persistent executor on."""
    return {
        "ansible_connection": CONNECTION,
        "ansible_qga_channel": channel,
        "ansible_qga_executor": "persistent",
        "ansible_python_interpreter": "/usr/bin/python3",
        **extra,
    }


def worker_pids(run: AnsibleRun) -> list[int]:
    """The worker pid of every task the executor ran, in order."""
    return [int(match.group(2)) for match in JOB_LINE.finditer(run.output)]


def how_jobs_ran(run: AnsibleRun) -> list[str]:
    """'fresh' or 'preloaded' for every task the executor ran, in order."""
    return [match.group(2) for match in DONE_LINE.finditer(run.output)]


@pytest.fixture(autouse=True)
def own_workers() -> t.Iterator[None]:
    """Stop every worker that appeared during the test."""
    before = set(running_workers())
    yield
    stop_workers_started_since(before)


@pytest.fixture
def unique_sleep(tmp_path: t.Any) -> t.Iterator[str]:
    """A copy of sleep under a name of its own; whatever still runs it afterwards is killed by pid."""
    path = str(tmp_path / ("qga-exec-sleep-%s" % uuid.uuid4().hex[:12]))
    shutil.copy2(shutil.which("sleep") or "/bin/sleep", path)
    yield path
    for pid in sleepers(path):
        os.kill(pid, signal.SIGKILL)


def sleepers(path: str) -> list[int]:
    proc = subprocess.run(["pgrep", "-f", os.path.basename(path)], capture_output=True, text=True, check=False)
    return [int(pid) for pid in proc.stdout.split()]


# A first module task: it finds no worker and runs the normal way while one starts beside it.
START_WORKER = """
    - name: start the worker
      ping:
"""

COMMANDS = """
    - name: first
      command: echo one
    - name: second
      command: echo two
    - name: third
      command: echo three
"""


# ------------------------------------------------------------------------------- host agent tests


def test_one_worker_runs_every_task_and_later_ones_in_a_preloaded_fork(host_agent: HostAgent) -> None:
    run = run_playbook(play(COMMANDS), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
    assert run.rc == 0, run.output
    assert [ok(run, name)["stdout"] for name in ("first", "second", "third")] == ["one", "two", "three"]
    # The first task runs the normal way while the worker starts beside it (it costs what it costs without
    # the executor); the worker runs the next ones, the first of them in a fresh interpreter.
    assert run.output.count(STARTING_BESIDE) == 1 and "beside the task (" in run.output, run.output
    pids = worker_pids(run)
    assert len(pids) == 2 and len(set(pids)) == 1, run.output
    assert how_jobs_ran(run) == ["fresh", "preloaded"], run.output
    # The zip (most of the payload) crosses the channel once: the worker's first request goes without it, the
    # worker has none cached and says so, it is resent whole; later tasks never send it.
    sizes = [int(size) for size in re.findall(r"\): (\d+) bytes, its zip cached", run.output)]
    assert len(sizes) == 2 and max(sizes) < 20000, run.output
    resent = re.findall(r"has no zip \w+ cached, sent whole as job \w+ \((\d+) bytes\)", run.output)
    assert len(resent) == 1 and int(resent[0]) > 50000, run.output
    assert all(float(ran) > 0 for ran in re.findall(r"ran (\d+\.\d+) s", run.output)), run.output
    directory = JOB_LINE.search(run.output).group(3)  # type: ignore[union-attr]
    # Others may pass through to their identity's worker in as/, never list or write; jobs stay root's alone.
    assert oct(os.stat(directory).st_mode & 0o777) == "0o711"
    assert os.stat(directory).st_uid == 0
    assert oct(os.stat(PARENT_DIR).st_mode & 0o777) == "0o711"
    assert oct(os.stat(os.path.join(directory, "as")).st_mode & 0o7777) == "0o1733"
    assert oct(os.stat(os.path.join(directory, "jobs")).st_mode & 0o777) == "0o700"


def test_worker_outlives_the_play_and_serves_the_next_one(host_agent: HostAgent) -> None:
    hosts = {"h": executor_host(host_agent.channel)}
    first = run_playbook(play(COMMANDS), hosts, args=["-vvv"])
    second = run_playbook(play(COMMANDS), hosts, args=["-vvv"])
    assert first.rc == 0 and second.rc == 0, first.output + second.output
    assert set(worker_pids(first)) == set(worker_pids(second))
    assert how_jobs_ran(second) == ["preloaded"] * 3


@pytest.mark.fault
def test_zygote_killed_between_plays_the_worker_runs_from_its_cached_zip(host_agent: HostAgent) -> None:
    hosts = {"h": executor_host(host_agent.channel)}
    first = run_playbook(play(COMMANDS), hosts, args=["-vvv"])
    assert first.rc == 0, first.output
    (manager,) = set(worker_pids(first))
    children = subprocess.run(["pgrep", "-P", str(manager)], capture_output=True, text=True, check=False)
    zygotes = [int(pid) for pid in children.stdout.split()]
    assert len(zygotes) == 1, children
    os.kill(zygotes[0], signal.SIGKILL)
    assert wait_for(lambda: not process_exists(zygotes[0]), 10)
    second = run_playbook(play(COMMANDS), hosts, args=["-vvv"])
    assert second.rc == 0, second.output
    assert [ok(second, name)["stdout"] for name in ("first", "second", "third")] == ["one", "two", "three"]
    assert set(worker_pids(second)) == {manager}
    # No zygote: the first task runs fresh with the zip the worker cached, none resent; a new zygote serves the rest.
    assert how_jobs_ran(second) == ["fresh", "preloaded", "preloaded"], second.output
    assert "has no zip" not in second.output


OP_LINE = re.compile(r"EXECUTOR job \w+ done \(op (\w+)\): rc=(\d+)")


def test_copy_housekeeping_runs_in_the_worker_without_processes(host_agent: HostAgent, tmp_path: t.Any) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(300000))
    dest = tmp_path / "dest.bin"
    tasks = f"""
    - name: warm
      command: echo warm
    - name: copy
      copy:
        src: "{source}"
        dest: "{dest}"
        mode: "0640"
    - name: copy into a missing directory
      copy:
        src: "{source}"
        dest: "{tmp_path}/missing/dest.bin"
      ignore_errors: true
"""
    run = run_playbook(play(tasks), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
    assert run.rc == 0, run.output
    assert ok(run, "copy")["changed"] is True
    assert dest.read_bytes() == source.read_bytes()
    assert oct(os.stat(dest).st_mode & 0o777) == "0o640"
    assert "missing" in failed(run, "copy into a missing directory")["msg"]
    # Each copy once a worker runs: the home found, its tmp dir made, the put's file created 0600,
    # both chmodded, the dir removed, all by the worker without a process.
    ops = [kind for kind, rc in OP_LINE.findall(run.output) if rc == "0"]
    assert ops == ["home", "mkdtemp", "create", "chmod_u", "rm"] * 2, run.output
    assert "EXEC /bin/sh -c '( umask 77" in run.output  # ansible-core's command is still logged as it was
    for tmp_dir in set(re.findall(r"(/root/\.ansible/tmp/ansible-tmp-[0-9.]+-[0-9]+-[0-9]+)", run.output)):
        assert not os.path.exists(tmp_dir)


def test_worker_and_its_tasks_run_on_the_oldest_target_python(host_agent: HostAgent, tmp_path: t.Any) -> None:
    """The oldest guest Python the installed ansible-core runs tasks on runs the worker and its tasks."""
    python = pyenv_python(OLDEST_TARGET_PYTHON)
    source = tmp_path / "source.txt"
    source.write_text("copied by python %s\n" % OLDEST_TARGET_PYTHON)
    dest = tmp_path / "dest.txt"
    tasks = f"""
    - name: start the worker
      ping:
    - name: command
      command: echo one
    - name: copy
      copy:
        src: "{source}"
        dest: "{dest}"
        mode: "0640"
"""
    # A directory of its own: a worker another test started (the default executor) runs another interpreter.
    own_dir = "/run/vmguest-qga-oldest-%s" % uuid.uuid4().hex[:12]
    host = executor_host(host_agent.channel, ansible_python_interpreter=python, ansible_qga_executor_dir=own_dir)
    try:
        run = run_playbook(play(tasks), {"h": host}, args=["-vvv"])
        workers = running_workers(own_dir)
        assert [os.path.realpath("/proc/%d/exe" % pid) for pid in workers] == [os.path.realpath(python)]
    finally:
        for pid, directory in running_workers(own_dir).items():
            stop_worker(pid, directory)
        shutil.rmtree(own_dir, ignore_errors=True)
    assert run.rc == 0, run.output
    assert ok(run, "command")["stdout"] == "one"
    assert ok(run, "copy")["changed"] is True
    assert dest.read_text() == source.read_text()
    assert oct(os.stat(dest).st_mode & 0o777) == "0o640"
    # The command, the copy's stat and the copy module were jobs of one worker; the copy's housekeeping its ops.
    pids = worker_pids(run)
    assert len(pids) == 3 and len(set(pids)) == 1, run.output
    assert run.output.count("EXECUTOR not used") == run.output.count(STARTING_BESIDE) == 1, run.output
    ops = [kind for kind, rc in OP_LINE.findall(run.output) if rc == "0"]
    assert ops == ["home", "mkdtemp", "create", "chmod_u", "rm"], run.output
    assert set(pids) == set(workers)


def test_housekeeping_without_a_running_worker_goes_through_the_shell(host_agent: HostAgent) -> None:
    tasks = """
    - name: raw script
      script: /bin/true
"""
    run = run_playbook(play(tasks), {"h": executor_host(host_agent.channel)}, args=["-vvvv"])
    assert run.rc == 0, run.output
    assert "EXECUTOR not used for mkdtemp: no worker runs yet" in run.output
    assert not OP_LINE.search(run.output)


def test_results_match_pipelining(host_agent: HostAgent, tmp_path: t.Any) -> None:
    """rc, stdout/stderr, module failures, check mode, diff and large output, with and without the executor."""
    target = tmp_path / "target.txt"
    target.write_text("old\n")
    tasks = """
    - name: nonzero
      command: sh -c 'echo out; echo err >&2; exit 3'
      ignore_errors: true
    - name: missing executable
      command: /nonexistent/program
      ignore_errors: true
    - name: module failure
      file:
        path: /nonexistent/dir/file
        state: touch
      ignore_errors: true
    - name: check and diff
      copy:
        content: "new\\n"
        dest: "%s"
      check_mode: true
      diff: true
    - name: large output
      shell: head -c 3000000 /dev/zero | tr '\\0' x; echo; echo tail-marker
    - name: cwd and env
      shell: pwd; echo "$HOME $LANG $PATH"; id -u; umask
""" % target
    results = {}
    for executor in ("pipelining", "persistent"):
        hosts = {"h": executor_host(host_agent.channel, ansible_qga_executor=executor)}
        run = run_playbook(play(tasks), hosts, args=["-vvv"])
        assert run.rc == 0, run.output
        if executor == "persistent":
            assert len(worker_pids(run)) >= 6, run.output
        results[executor] = {
            name: {key: run.task(name)["result"].get(key) for key in ("rc", "stdout", "stderr", "msg", "changed")}
            | {"status": run.task(name)["status"], "diff": run.task(name)["result"].get("diff")}
            for name in ("nonzero", "missing executable", "module failure", "check and diff", "large output",
                         "cwd and env")
        }
    assert results["persistent"] == results["pipelining"]
    assert results["persistent"]["nonzero"]["rc"] == 3
    assert results["persistent"]["large output"]["stdout"].endswith("tail-marker")
    assert target.read_text() == "old\n"


def test_fallbacks_are_said_at_vvv_and_behave_as_before(host_agent: HostAgent, tmp_path: t.Any) -> None:
    tasks = """
    - name: raw
      raw: echo raw-ok
    - name: environment read by the interpreter as it starts
      command: printenv PYTHONWARNINGS
      environment:
        PYTHONWARNINGS: ignore
    - name: async
      command: echo async-ok
      async: 30
      poll: 1
"""
    run = run_playbook(play(tasks), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
    assert ok(run, "raw")["stdout"].strip() == "raw-ok"
    assert ok(run, "environment read by the interpreter as it starts")["stdout"] == "ignore"
    assert ok(run, "async")["stdout"] == "async-ok"
    # One route per exec, from one place (exec_planner), each refusal with its reason.
    routes = re.findall(r"EXEC ROUTE (.+)", run.output)
    assert any(route.startswith("guest-exec (refused: worker module: environment sets PYTHONWARNINGS, which a "
                                "preloaded interpreter has already read") for route in routes), routes
    assert any(route.startswith("guest-exec (refused: worker module: async: ansible-core's async_wrapper detaches "
                                "the module from the task itself") for route in routes), routes
    assert any(route.startswith("guest-exec (refused: worker module: not a /bin/sh -c command; worker op: not "
                                "one of ansible-core's housekeeping commands)") for route in routes), routes  # raw
    # async_status, which polls the async job, is an ordinary module: the worker (started for it) runs it.
    assert re.findall(r"EXECUTOR job \w+ in worker pid \d+ \(\S+\): \d+ bytes", run.output) != [], run.output


def test_a_tasks_environment_runs_in_the_worker_as_the_shell_would_set_it(host_agent: HostAgent) -> None:
    tasks = START_WORKER + """
    - name: with environment
      command: printenv QGA_ENV_A QGA_ENV_B
      environment:
        QGA_ENV_A: two words
        QGA_ENV_B: "it's $HOME `id`"
    - name: the next task has none of it
      shell: echo "[${QGA_ENV_A-unset}]"
    - name: nor does a preloaded one
      command: printenv QGA_ENV_A
      register: later
      failed_when: later.rc != 1
"""
    run = run_playbook(play(tasks), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
    assert ok(run, "with environment")["stdout"] == "two words\nit's $HOME `id`"
    assert ok(run, "the next task has none of it")["stdout"] == "[unset]"
    ok(run, "nor does a preloaded one")
    assert len(worker_pids(run)) == 3 and how_jobs_ran(run)[2] == "preloaded", run.output
    assert "EXEC ROUTE guest-exec (refused: worker module" not in run.output


def test_every_command_of_roots_ordinary_tasks_runs_in_the_worker(host_agent: HostAgent, tmp_path: t.Any) -> None:
    """The fast path taken, not only the same results: command, a module with stdin, copy, fetch, template,
    file, stat, setup and environment, once a worker runs (the first task starts it)."""
    tasks = ordinary_tasks(str(tmp_path))
    run = run_playbook(play(tasks), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
    assert (tmp_path / "fetched" / "motd").read_text() == "hello\n"
    assert ok(run, "module with stdin")["stdout"] == "from-stdin" and ok(run, "environment")["stdout"] == "env"
    shares = worker_share_by_task(run.output)
    assert {kind: shares[kind][0] == shares[kind][1] > 0 for kind in ORDINARY_KINDS} == dict.fromkeys(
        ORDINARY_KINDS, True), shares


# What a task of an identity sees of it: with and without the executor the same.
IDENTITY_TASKS = """
    - name: who
      command: id
    - name: environment
      shell: for v in HOME USER LOGNAME SHELL PATH SUDO_USER SUDO_UID MAIL; do echo "$v=$(printenv $v || echo -)"; done
    - name: cwd
      command: pwd
    - name: umask
      shell: umask
"""
IDENTITY_KINDS = ["who", "environment", "cwd", "umask"]


@pytest.fixture
def shared_dir() -> t.Iterator[str]:
    """A directory in /tmp every user may write, as /tmp (tmp_path's parents are private to root)."""
    path = tempfile.mkdtemp(prefix="vmguest-qga-identity-")
    os.chmod(path, 0o1777)  # noqa: S103 (the other identity writes here too)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("identity", list(IDENTITIES))
def test_an_identitys_tasks_run_in_its_own_worker_as_they_would_without_it(
    host_agent: HostAgent, shared_dir: str, identity: str
) -> None:
    """become (sudo, su) and a non-root remote_user: every command of the ordinary tasks in the identity's worker,
    started through the identity's own command, and a task sees the same identity, environment, cwd and umask as
    it would through pipelining."""
    host = executor_host(host_agent.channel, **IDENTITIES[identity])
    run = run_playbook(play(ordinary_tasks(shared_dir) + IDENTITY_TASKS), {"h": host}, args=["-vvv"])
    assert run.rc == 0, run.output
    shares = worker_share_by_task(run.output)
    kinds = ORDINARY_KINDS + IDENTITY_KINDS
    assert {kind: shares[kind][0] == shares[kind][1] > 0 for kind in kinds} == dict.fromkeys(kinds, True), shares
    assert len(re.findall(r"EXECUTOR started the worker of ", run.output)) == 1, run.output
    assert ok(run, "who")["stdout"].startswith("uid=1(daemon) gid=1(daemon)")
    assert os.stat(os.path.join(shared_dir, "copied.txt")).st_uid == pwd.getpwnam(OTHER_USER).pw_uid
    plain = run_playbook(play(IDENTITY_TASKS), {"h": dict(host, ansible_qga_executor="pipelining")})
    # (A cwd the identity cannot enter is replaced by a fresh ansible-moduletmp-* directory, either way.)
    seen = {kind: re.sub(r"moduletmp-[\w.-]+", "moduletmp-*", ok(run, kind)["stdout"]) for kind in IDENTITY_KINDS}
    assert seen == {kind: re.sub(r"moduletmp-[\w.-]+", "moduletmp-*", ok(plain, kind)["stdout"])
                    for kind in IDENTITY_KINDS}
    # Its own directory in root's as/: the identity's, private.
    (home,) = re.findall(r"EXECUTOR started the worker of .* in (\S+) \(", run.output)
    assert (os.stat(home).st_uid, oct(os.stat(home).st_mode & 0o777)) == (pwd.getpwnam(OTHER_USER).pw_uid, "0o700")


def test_a_wrong_become_password_fails_before_anything_runs_and_starts_no_worker(
    host_agent: HostAgent, shared_dir: str
) -> None:
    """daemon has no password sudo could accept: the identity's worker never starts, the task never runs."""
    marker = os.path.join(shared_dir, "ran")
    tasks = """
    - name: start root's worker
      ping:
      vars: {ansible_become: false, ansible_user: root}
    - name: through sudo
      command: touch %s
""" % marker
    host = executor_host(host_agent.channel, ansible_user=OTHER_USER, ansible_remote_tmp="/tmp", ansible_become=True,
                         ansible_become_method="sudo", ansible_become_password="not-daemons-password")
    run = run_playbook(play(tasks), {"h": host}, args=["-vvv"])
    message = failed(run, "through sudo")["msg"]
    assert "Incorrect sudo password" in message, message
    assert "not-daemons-password" not in run.output
    assert not os.path.exists(marker)
    assert "EXECUTOR started the worker of" not in run.output


def test_reset_connection_stops_the_identity_workers_with_roots(host_agent: HostAgent) -> None:
    tasks = START_WORKER + """
    - name: as daemon
      command: id -un
    - meta: reset_connection
"""
    run = run_playbook(play(tasks), {"h": executor_host(host_agent.channel, **IDENTITIES["become sudo"])},
                       args=["-vvv"])
    assert ok(run, "as daemon")["stdout"] == OTHER_USER
    (home,) = re.findall(r"EXECUTOR started the worker of .* in (\S+) \(", run.output)
    assert wait_for(lambda: not os.path.exists(home), 15), "the identity's worker did not stop"


def test_a_task_of_another_interpreter_runs_in_the_worker_as_that_interpreter(host_agent: HostAgent) -> None:
    """python3 and the python3.X it leads to are one interpreter (preloaded); any other runs fresh in the worker,
    as its own interpreter, and one the guest lacks fails as pipelining fails, with the same hint."""
    real = os.path.realpath("/usr/bin/python3")
    tasks = START_WORKER + """
    - name: by its real name
      command: echo real
      vars: {ansible_python_interpreter: %s}
    - name: again by its real name
      command: echo real
      vars: {ansible_python_interpreter: %s}
    - name: missing
      command: echo missing
      vars: {ansible_python_interpreter: /nonexistent/python3}
""" % (real, real)
    run = run_playbook(play(tasks), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
    assert ok(run, "again by its real name")["stdout"] == "real"
    assert how_jobs_ran(run) == ["fresh", "preloaded", "fresh"], run.output
    assert len(set(worker_pids(run))) == 1
    assert "no Python interpreter at /nonexistent/python3" in str(failed(run, "missing")), run.output


def test_guest_without_python_falls_back_with_the_usual_hint(host_agent: HostAgent) -> None:
    tasks = "    - name: ping\n      ping:\n"
    host = executor_host(host_agent.channel, ansible_python_interpreter="/nonexistent/python3")
    run = run_playbook(play(tasks), {"h": host}, args=["-vvv"])
    result = failed(run, "ping")
    assert "EXECUTOR could not start: starting the worker with /nonexistent/python3 failed" in run.output
    assert "no Python interpreter at /nonexistent/python3" in str(result.get("module_stderr", "")) + str(result)
    assert all("/nonexistent" not in directory for directory in running_workers().values())


def test_no_log_secrets_leave_no_file_behind(host_agent: HostAgent) -> None:
    secret = "s3cr3t-%s" % uuid.uuid4().hex
    tasks = START_WORKER + f"""
    - name: secret
      command: echo {secret}
      no_log: true
    - name: after
      command: echo done
"""
    run = run_playbook(play(tasks), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
    assert run.rc == 0, run.output
    assert len(worker_pids(run)) == 2
    assert secret not in run.output
    directory = JOB_LINE.search(run.output).group(3)  # type: ignore[union-attr]
    assert wait_for(lambda: os.listdir(directory + "/jobs") == [], 5), os.listdir(directory + "/jobs")
    for root, _dirs, names in os.walk(directory):
        for name in names:
            with open(os.path.join(root, name), "rb") as handle:
                assert secret.encode() not in handle.read(), name


def test_command_timeout_kills_the_job_and_the_worker_goes_on(host_agent: HostAgent, unique_sleep: str) -> None:
    tasks = f"""
    - name: warm
      command: echo warm
    - name: too long
      command: "{unique_sleep} 60"
      vars:
        ansible_qga_command_timeout: 2
      ignore_errors: true
    - name: after
      command: echo after
"""
    run = run_playbook(play(tasks), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
    assert "after 2.0 s; it was killed" in failed(run, "too long")["msg"]
    assert ok(run, "after")["stdout"] == "after"
    assert wait_for(lambda: not sleepers(unique_sleep), 10), "the timed-out job still runs"
    assert len(set(worker_pids(run))) == 1


@pytest.mark.fault
def test_worker_killed_mid_task_fails_clearly_and_the_next_task_restarts_it(
    host_agent: HostAgent, unique_sleep: str
) -> None:
    tasks = f"""
    - name: warm
      command: echo warm
    - name: killed
      command: "{unique_sleep} 120"
      ignore_errors: true
    - name: after
      command: echo after
    - name: again
      command: echo again
"""
    outcome: dict[str, AnsibleRun] = {}
    player = threading.Thread(
        target=lambda: outcome.setdefault(
            "run", run_playbook(play(tasks), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
        )
    )
    player.start()
    try:
        assert wait_for(lambda: bool(sleepers(unique_sleep)), 120), "the long task never started"
        workers = running_workers()
        assert len(workers) >= 1
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
    finally:
        player.join(300)
    run = outcome["run"]
    assert "persistent executor (pid" in failed(run, "killed")["msg"]
    assert "died" in failed(run, "killed")["msg"]
    assert ok(run, "after")["stdout"] == "after" and ok(run, "again")["stdout"] == "again"
    # "after" finds no worker and runs the normal way while a new one starts beside it; "again" runs in that one.
    assert run.output.count(STARTING_BESIDE) == 2, run.output
    first, last = worker_pids(run)
    assert first != last
    assert wait_for(lambda: not sleepers(unique_sleep), 10), "the killed worker's job still runs"


@pytest.mark.fault
def test_stale_worker_of_another_version_is_replaced(host_agent: HostAgent) -> None:
    with open(WORKER_SOURCE, "rb") as handle:
        old_source = handle.read() + b"\n# an older release\n"
    stale_dir = PARENT_DIR + "/executor-0123456789ab-00000000"
    started = subprocess.run(
        ["/usr/bin/python3", "-", stale_dir, "600", "/usr/bin/python3"], input=old_source, capture_output=True,
        check=False, timeout=60,
    )
    assert started.returncode == 0, started.stderr
    stale = {pid: d for pid, d in running_workers().items() if d == stale_dir}
    assert len(stale) == 1
    try:
        run = run_playbook(play(COMMANDS), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
        assert run.rc == 0, run.output
        (stale_pid,) = stale
        assert wait_for(lambda: not process_exists(stale_pid), 10), "the stale worker still runs"
        assert not os.path.exists(stale_dir)
        assert stale_pid not in worker_pids(run)
    finally:
        for pid in stale:
            stop_worker(pid, stale_dir)


def test_a_worker_another_agent_left_in_its_own_executor_dir_is_neither_used_nor_stopped(
    host_agent: HostAgent, fresh_host_agent: HostAgent
) -> None:
    """Two agents on one machine, one worker each: executor_dir keeps them apart, both ways."""
    foreign_dir = "/run/vmguest-qga-foreign-%s" % uuid.uuid4().hex[:12]
    try:
        foreign = run_playbook(
            play(COMMANDS), {"h": executor_host(fresh_host_agent.channel, ansible_qga_executor_dir=foreign_dir)},
            args=["-vvv"],
        )
        assert foreign.rc == 0, foreign.output
        (foreign_pid,) = set(worker_pids(foreign))
        assert running_workers(foreign_dir) == {foreign_pid: JOB_LINE.search(foreign.output).group(3)}  # type: ignore[union-attr]
        ours = run_playbook(play(COMMANDS), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
        assert ours.rc == 0, ours.output
        (our_pid,) = set(worker_pids(ours))
        assert our_pid != foreign_pid
        (our_dir,) = {match.group(3) for match in JOB_LINE.finditer(ours.output)}
        assert our_dir.startswith(PARENT_DIR + "/executor-"), ours.output
        assert how_jobs_ran(ours) == ["fresh", "preloaded"], ours.output
        assert process_exists(foreign_pid), "starting our worker stopped the other agent's"
    finally:
        for pid, directory in running_workers(foreign_dir).items():
            stop_worker(pid, directory)
        shutil.rmtree(foreign_dir, ignore_errors=True)


def test_executor_dir_that_is_not_absolute_fails_the_task_and_one_open_to_others_is_refused(
    host_agent: HostAgent, tmp_path: t.Any
) -> None:
    relative = run_playbook(
        play("    - name: ping\n      ping:\n"),
        {"h": executor_host(host_agent.channel, ansible_qga_executor_dir="run/qga")}, args=["-vvv"],
    )
    result = failed(relative, "ping")
    assert "executor_dir must be an absolute, normalised guest path other than / (got 'run/qga')" in result["msg"]
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    refused = run_playbook(
        play("    - name: ping\n      ping:\n"),
        {"h": executor_host(host_agent.channel, ansible_qga_executor_dir=str(shared))}, args=["-vvv"],
    )
    assert ok(refused, "ping")["ping"] == "pong"  # the normal way, said at -vvv
    assert "EXECUTOR could not start: starting the worker with /usr/bin/python3 failed: vmguest-qga executor: " \
        "%s is not a private directory of uid 0" % shared in refused.output, refused.output
    assert os.listdir(shared) == []


def test_two_plays_on_one_host_at_once(host_agent: HostAgent) -> None:
    runs: list[AnsibleRun] = []
    hosts = {"h": executor_host(host_agent.channel)}
    threads = [threading.Thread(target=lambda: runs.append(run_playbook(play(COMMANDS), hosts, args=["-vvv"])))
               for _play in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert len(runs) == 2
    for run in runs:
        assert run.rc == 0, run.output
        assert [ok(run, name)["stdout"] for name in ("first", "second", "third")] == ["one", "two", "three"]
    assert len(set(worker_pids(runs[0]) + worker_pids(runs[1]))) == 1


def test_reset_connection_stops_the_worker(host_agent: HostAgent) -> None:
    # Each command finds no worker (the reset stopped the first) and starts one beside it.
    tasks = RESET_BETWEEN_TWO_COMMANDS + "    - name: in the new worker\n      command: echo new\n"
    run = run_playbook(play(START_WORKER + tasks), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
    assert run.rc == 0, run.output
    before, after = worker_pids(run)
    assert before != after
    assert "EXECUTOR asked the worker in" in run.output
    assert not process_exists(before)


def inotify_fds(pid: int) -> int:
    """How many inotify instances the process holds open."""
    fd_dir = "/proc/%d/fd" % pid
    return sum(1 for fd in os.listdir(fd_dir) if os.readlink(os.path.join(fd_dir, fd)) == "anon_inode:inotify")


def test_wake_poll_starts_a_worker_of_its_own_that_polls(host_agent: HostAgent) -> None:
    inotify = run_playbook(play(COMMANDS), {"h": executor_host(host_agent.channel)}, args=["-vvv"])
    polling = run_playbook(
        play(COMMANDS), {"h": executor_host(host_agent.channel, ansible_qga_executor_wake="poll")}, args=["-vvv"]
    )
    assert inotify.rc == 0 and polling.rc == 0, inotify.output + polling.output
    assert [ok(polling, name)["stdout"] for name in ("first", "second", "third")] == ["one", "two", "three"]
    assert how_jobs_ran(polling) == ["fresh", "preloaded"], polling.output
    (inotify_pid,), (poll_pid,) = set(worker_pids(inotify)), set(worker_pids(polling))
    assert inotify_pid != poll_pid
    assert JOB_LINE.search(inotify.output).group(3) != JOB_LINE.search(polling.output).group(3)  # type: ignore[union-attr]
    assert inotify_fds(inotify_pid) == 1
    assert inotify_fds(poll_pid) == 0


def test_idle_timeout_stops_the_worker_and_removes_its_files(host_agent: HostAgent) -> None:
    host = executor_host(host_agent.channel, ansible_qga_executor_idle_timeout=2)
    run = run_playbook(play(START_WORKER + "    - name: once\n      command: echo once\n"), {"h": host}, args=["-vvv"])
    assert run.rc == 0, run.output
    (pid,) = worker_pids(run)
    directory = JOB_LINE.search(run.output).group(3)  # type: ignore[union-attr]
    assert wait_for(lambda: not process_exists(pid), 30), "the idle worker did not exit"
    assert not os.path.exists(directory)


@pytest.mark.fault
def test_a_tasks_ops_trust_the_worker_seen_just_before_and_fall_back_when_it_stopped_or_died(
    host_agent: HostAgent, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ansible_collections.vmguest.qga.plugins.module_utils.qga import guest_exec
    from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
    from ansible_collections.vmguest.qga.plugins.plugin_utils import executor

    opened: list[str] = []

    class RecordingClient(QgaClient):
        def execute(
            self, command: str, arguments: dict[str, t.Any] | None = None, timeout: float | None = None
        ) -> t.Any:
            if command == "guest-file-open":
                opened.append(str((arguments or {}).get("path")))
            return super().execute(command, arguments, timeout)

    # An environment of its own: a worker directory no other test (or a CI run beside) shares.
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VMGUEST_QGA_TEST": uuid.uuid4().hex}
    poll = guest_exec.PollPolicy()
    with RecordingClient(host_agent.channel, timeout=30) as client:
        runner = executor.PersistentExecutor(
            client, "/usr/bin/python3", env, idle_timeout=60, log=lambda _: None, parent_dir=PARENT_DIR
        )
        runner.ensure_worker()
        pid_file = runner.base + "/pid"
        checks = opened.count(pid_file)
        targets = [str(tmp_path / name) for name in ("a", "b", "c")]
        for target in targets:
            assert runner.run_op({"kind": "create", "path": target, "mode": 0o600}, poll).rc == 0
        assert all(os.path.exists(target) for target in targets)
        assert opened.count(pid_file) == checks, "an op re-read the pid file: %r" % opened

        monkeypatch.setattr(executor, "WORKER_TRUST", 0.0)
        assert runner.run_op({"kind": "create", "path": str(tmp_path / "d"), "mode": 0o600}, poll).rc == 0
        assert opened.count(pid_file) == checks + 1, "an op after the trust window did not check the worker again"

        # Stopped just after it answered (still inside the trust window): the op is not queued
        # into a dead worker's directory, it falls back.
        monkeypatch.setattr(executor, "WORKER_TRUST", 3600.0)
        (worker_pid,) = [pid for pid, directory in running_workers().items() if directory == runner.base]
        assert runner.stop()
        assert wait_for(lambda: not process_exists(worker_pid), 30), "the worker did not stop"
        with pytest.raises(executor.ExecutorUnavailable, match="could not be queued"):
            runner.run_op({"kind": "create", "path": str(tmp_path / "e"), "mode": 0o600}, poll)
        assert not os.path.exists(tmp_path / "e")

        # Killed (its jobs dir stays): the request is queued, the worker is found dead with the
        # request untaken, and the op falls back instead of failing with "may or may not have run".
        runner.ensure_worker()
        (worker_pid,) = [pid for pid, directory in running_workers().items() if directory == runner.base]
        os.kill(worker_pid, signal.SIGKILL)
        assert wait_for(lambda: not process_exists(worker_pid), 30), "the killed worker is still there"
        with pytest.raises(executor.ExecutorUnavailable, match="died before it took the request"):
            runner.run_op({"kind": "create", "path": str(tmp_path / "f"), "mode": 0o600}, poll)
        assert not os.path.exists(tmp_path / "f")


# ------------------------------------------------------------------------------------ test VM tests


def vm_executor_host(test_vm: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    return executor_host("unix:%s" % test_vm.agent_socket, **extra)


def test_vm_tasks_run_in_one_worker_in_preloaded_forks(test_vm: t.Any) -> None:
    # A directory of its own: the VM is shared, and earlier tests' workers (with their zygotes) may still run.
    own_dir = "/run/vmguest-qga-vm-test-%s" % uuid.uuid4().hex[:12]
    tasks = COMMANDS + """
    - name: worker files
      raw: stat -c '%%a %%U %%n' %(dir)s %(dir)s/executor-*; ls %(dir)s/executor-*/jobs | wc -l
""" % {"dir": own_dir}
    host = vm_executor_host(test_vm, ansible_qga_executor_dir=own_dir)
    run = run_playbook(play(tasks), {"vm": host}, args=["-vvv"])
    assert run.rc == 0, run.output
    assert [ok(run, name)["stdout"] for name in ("first", "second", "third")] == ["one", "two", "three"]
    pids = worker_pids(run)
    assert len(pids) == 2 and len(set(pids)) == 1, run.output
    assert how_jobs_ran(run) == ["fresh", "preloaded"], run.output  # (the first ran while the worker started)
    *modes, jobs_left = ok(run, "worker files")["stdout_lines"]
    assert [line.split()[:2] for line in modes] == [["711", "root"], ["711", "root"]]
    assert jobs_left.strip() == "0"
    stop = run_playbook(play("    - name: reset\n      meta: reset_connection\n"), {"vm": host})
    assert stop.rc == 0, stop.output


@pytest.mark.fault
def test_vm_frozen_guest_does_not_use_the_executor(test_vm: t.Any) -> None:
    tasks = """
    - name: warm
      command: echo warm
    - block:
        - name: freeze
          vmguest.qga.qga_fsfreeze:
            state: frozen
            mountpoints: [/run/data]
        - name: while frozen
          command: echo frozen
          ignore_errors: true
      always:
        - name: thaw
          vmguest.qga.qga_fsfreeze:
            state: thawed
    - name: after thaw
      command: echo thawed
    - name: reset
      meta: reset_connection
"""
    # A directory of its own: earlier tests on the shared VM left a worker in the default one (the executor is
    # the default), which "warm" would find.
    own_dir = "/run/vmguest-qga-vm-frozen-%s" % uuid.uuid4().hex[:12]
    run = run_playbook(play(tasks), {"vm": vm_executor_host(test_vm, ansible_qga_executor_dir=own_dir)},
                       args=["-vvv"])
    assert ok(run, "thaw")
    result = failed(run, "while frozen")
    assert "frozen" in str(result.get("msg", "")), result
    # "warm" ran the normal way while the worker started; only "after thaw" reached the worker, the frozen task
    # failed the normal way.
    assert len(worker_pids(run)) == 1 and run.output.count(STARTING_BESIDE) == 1, run.output
    assert ok(run, "after thaw")["stdout"] == "thawed"
