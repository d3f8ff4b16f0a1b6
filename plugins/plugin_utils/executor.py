# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The persistent in-guest executor, controller side (the default: ansible_qga_executor=persistent).

A pipelined Python task normally costs a fresh guest interpreter (seconds under TCG).
Here one worker per guest (module_utils/guest/executor_worker.py, started detached through guest-exec)
runs each task in a fork of an interpreter that already imported the task's module_utils.
Requests and replies are private files under EXECUTOR_DIR/executor-VERSION/ (EXECUTOR_DIR is the
connection's executor_dir, /run/vmguest-qga by default) moved
with guest-file-write/read only: no guest-exec per task.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import posixpath
import re
import secrets
import shlex
import time
import typing as t
from dataclasses import dataclass, field

from ansible_collections.vmguest.qga.plugins.module_utils.guest import executor_worker as worker_code
from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import (
    QgaCommandError,
    QgaError,
    QgaExecError,
    QgaExecTimeout,
    QgaFileError,
)
from ansible_collections.vmguest.qga.plugins.plugin_utils import shell_ops

if t.TYPE_CHECKING:
    from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient

# The default of the connection's executor_dir.
PARENT_DIR = "/run/vmguest-qga"
# The worker's source file: the code the guest runs, and what the worker's version is a hash of.
WORKER_SOURCE_PATH = os.path.abspath(worker_code.__file__)
# Seconds a starting worker may take: a fresh interpreter under TCG needs 1-2 s.
START_TIMEOUT = 120.0
# How often the worker's liveness is checked while waiting for a reply.
LIVENESS_INTERVAL = 1.0
# NAME=VALUE as ansible-core's sh shell plugin writes `environment:` (env_prefix).
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Variables an interpreter (or its locale and loader) reads when it starts: a job forked from a preloaded
# interpreter would not see them as a fresh one does, so such tasks keep the normal path.
INTERPRETER_START_ENV = re.compile(r"^(?:PYTHON|LD_|LC_)|^(?:LANG|LANGUAGE|TZ)$")
# A module file ansible-core writes to its remote tmp dir for a task it does not pipeline.
MODULE_FILE = re.compile(r"/[A-Za-z0-9_.+@:/-]*/AnsiballZ_[A-Za-z0-9_]+\.py")
# What ActionBase._execute_module names the wrapper of an async task (it detaches the module itself).
ASYNC_WRAPPER = "/async_wrapper.py "
# Room for the environment in a request header (the worker reads at most 4096 bytes of it).
MAX_ENV_HEADER = 3000


class ExecutorUnavailable(Exception):
    """The executor cannot take this task; the caller runs it the normal way."""


class WorkerStarting(ExecutorUnavailable):
    """No worker ran: one is starting beside this task, which runs the normal way meanwhile."""

    def __init__(self, starter: int, started: float) -> None:
        super().__init__("no worker ran: one is starting beside this task (guest pid %d), which runs the normal way"
                         % starter)
        self.starter = starter  # the guest pid of the command that starts it (it exits once the worker is ready)
        self.started = started  # time.monotonic() when it was sent


@dataclass(frozen=True)
class IdentityRoute:
    """A task for another identity's worker than root's (worker_identity names it; the connection starts it).

    `start(argv, source)` runs `argv` (the worker, its code on stdin) as the identity and returns what it printed:
    the name of its directory.
    """

    key: str
    label: str
    start: t.Callable[[list[str], bytes], str]


def worker_source() -> bytes:
    """The worker's code, sent to the guest on every start (it never lives in a file there)."""
    with open(WORKER_SOURCE_PATH, "rb") as handle:
        return handle.read()


@dataclass(frozen=True)
class PipelinedModule:
    """A plain AnsiballZ task: its interpreter, the `environment:` ansible-core put before it, and the module
    file it runs when not pipelined ("": the module is on stdin)."""

    interpreter: str
    env: dict[str, str] = field(default_factory=dict)
    file: str = ""


def pipelined_module(cmd: str, in_data: bytes | None) -> tuple[PipelinedModule | None, str]:
    """The AnsiballZ task `cmd` runs, or None and why the executor can't take it.

    Only ansible-core's exact form qualifies: `/bin/sh -c 'BODY[ && sleep 0]'` (module_command() says what
    BODY may be).
    """
    body = shell_ops.low_level_body(cmd)
    if body is None:
        return None, "not a /bin/sh -c command"
    return module_command(body, in_data)


def module_command(body: str, in_data: bytes | None) -> tuple[PipelinedModule | None, str]:
    """The AnsiballZ task of the shell command `body` (what ansible-core put inside `/bin/sh -c`, or handed
    its become plugin), or None and why the executor can't take it.

    `[NAME=VALUE ...] INTERPRETER` with an AnsiballZ wrapper on stdin (pipelining), or `[NAME=VALUE ...]
    INTERPRETER /PATH/AnsiballZ_NAME.py` with no stdin (a module file ansible-core put in its remote tmp);
    each value quoted as ansible-core's shell plugin quotes it, so nothing in it is expanded. Interpreter
    arguments, async's wrapper and anything else keep the normal path.
    """
    if in_data and (b"_ANSIBALLZ_WRAPPER = True" not in in_data or b"\nzip_data=" not in in_data):
        return None, "stdin is not an AnsiballZ module"
    try:
        parts = shlex.split(body)
    except ValueError:
        return None, "unparsable command"
    env = dict(part.split("=", 1) for part in itertools.takewhile(ENV_ASSIGNMENT.match, parts))
    words = parts[len(env):]
    module_file = words[1] if len(words) == 2 and not in_data else ""
    if ASYNC_WRAPPER in body:
        return None, "async: ansible-core's async_wrapper detaches the module from the task itself"
    if not in_data and not MODULE_FILE.fullmatch(module_file):
        return None, "no pipelined module on stdin, nor a module file to run"
    interpreter = words[0] if words else ""
    rebuilt = " ".join(["%s=%s" % (name, shlex.quote(value)) for name, value in env.items()] + words[:1] + (
        [shlex.quote(module_file)] if module_file else []))
    if len(words) != (2 if module_file else 1) or not interpreter.startswith("/") or rebuilt != body:
        return None, "command is not '[ENVIRONMENT] INTERPRETER' (interpreter arguments, or a become wrapper " \
            "ansible-core did not build)"
    startup = sorted(name for name in env if INTERPRETER_START_ENV.match(name))
    if startup:
        return None, "environment sets %s, which a preloaded interpreter has already read" % ", ".join(startup)
    if len(json.dumps(env)) > MAX_ENV_HEADER:
        return None, "the environment is too large for one request header"
    return PipelinedModule(interpreter, env, module_file), ""


def version_of(env: t.Mapping[str, str], wake: str = "inotify") -> str:
    """`SOURCE-CONFIG`: a new controller release changes SOURCE, another base environment or wake mode CONFIG.

    The interpreter is not part of it: the worker runs on the first task's interpreter and
    runs tasks for any other one in a fresh process (so reset_connection can find it).
    """
    source = hashlib.sha256(worker_source()).hexdigest()[:12]
    settings: list[t.Any] = sorted(env.items())
    if wake != "inotify":
        settings.append(["wake", wake])  # (inotify, the default, keeps the directory names of earlier releases)
    config = hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:8]
    return "%s-%s" % (source, config)


# A housekeeping command is a few system calls; a reply this late means the worker is stuck.
OP_TIMEOUT = 60.0
# The worker reads a request's header line up to 4096 bytes.
MAX_OP_HEADER = 3500
# A worker that answered this recently is taken to run still: a task's housekeeping ops follow each
# other within a second, and each check costs a pid file read and a /proc read (six agent calls).
# A worker that stops on idle renames its jobs dir first, so a request to it cannot even be queued.
WORKER_TRUST = 3.0


def valid_parent_dir(path: str) -> str:
    """`path` as the executor's parent directory, or ValueError naming what is wrong with it."""
    if not path.startswith("/") or posixpath.normpath(path) != path or path == "/":
        raise ValueError(
            "executor_dir must be an absolute, normalised guest path other than / (got %r), "
            "for example /run/vmguest-qga" % path
        )
    return path


class PersistentExecutor:
    """Runs pipelined AnsiballZ payloads in the guest's worker; starts it when needed."""

    def __init__(
        self,
        client: QgaClient,
        interpreter: str,
        env: t.Mapping[str, str],
        idle_timeout: float,
        log: t.Callable[[str], None],
        wake: str = "inotify",
        parent_dir: str = PARENT_DIR,
    ) -> None:
        self.client = client
        self.interpreter = interpreter
        self.env = dict(env)
        self.idle_timeout = idle_timeout
        self.log = log
        self.wake = wake
        self.base = "%s/executor-%s" % (valid_parent_dir(parent_dir), version_of(env, wake))
        self.worker: tuple[int, str] | None = None
        self.worker_interpreter = ""
        # When self.worker was last seen alive (its pid file, or a reply from it); None: not to be trusted.
        self.seen_at: float | None = None
        # From the last reply: "fresh" (own interpreter) or "preloaded" (zygote fork), and the
        # seconds the job's process ran in the guest (the module's own time).
        self.how = ""
        self.ran = 0.0
        # identity key -> the name of its worker's directory, once this controller started it.
        self.identity_dirs: dict[str, str] = {}
        self.just_started = False  # this executor started the worker and has sent it no module yet
        self.job_id = ""  # the last request's

    # -- the worker ------------------------------------------------------------

    def ensure_worker(self, start_beside: bool = False) -> tuple[int, str]:
        """(pid, start time) of a live worker of this version, started if none runs.

        `start_beside`: if none runs, start one without waiting for it and raise WorkerStarting, so the
        caller runs its task the normal way meanwhile (then finish_start()): the first task of a play costs what
        it costs without the executor.
        """
        if self._recently_seen() and self.worker is not None:
            return self.worker
        try:
            running = self._running_worker()
            if running is None:
                # Asked only when no worker runs: a guest with a worker is no Windows guest.
                if guest_exec.guest_is_windows(self.client):
                    raise ExecutorUnavailable("a Windows guest")
                if start_beside:
                    started = time.monotonic()
                    raise WorkerStarting(guest_exec.start(self.client, self._start_argv(), stdin=worker_source(),
                                                          env=self.env), started)
                self._start()
                running = self._running_worker()
        except (QgaCommandError, QgaFileError) as exc:
            raise ExecutorUnavailable("the agent refused %s: %s" % (exc.command, exc.reason)) from None
        if running is None:
            raise ExecutorUnavailable("the worker did not come up (no pid file in %s)" % self.base)
        # (A task whose interpreter is not the worker's runs in a fresh process of its own interpreter there.)
        self._saw_worker(running)
        return running[0], running[1]

    def _saw_worker(self, running: tuple[int, str, str]) -> None:
        self.worker, self.worker_interpreter = running[:2], running[2]
        self.seen_at = time.monotonic()

    def _recently_seen(self) -> bool:
        # (None, not 0.0, for "not seen": time.monotonic() may be smaller than any trust window after a boot.)
        return self.worker is not None and self.seen_at is not None and time.monotonic() - self.seen_at < WORKER_TRUST

    def _running_worker(self) -> tuple[int, str, str] | None:
        try:
            pid_text = files.read_bytes(self.client, self.base + "/pid", max_bytes=4096).decode("utf-8")
            pid, start_time, interpreter = pid_text.rstrip("\n").split(" ", 2)
        except (QgaCommandError, QgaFileError, ValueError):
            return None
        if _start_time(self.client, int(pid)) != start_time:
            return None
        return int(pid), start_time, interpreter

    def _start_argv(self) -> list[str]:
        return [
            "/bin/sh", "-c", 'exec "$0" - "$1" "$2" "$0" "$3"',
            self.interpreter, self.base, "%g" % self.idle_timeout, self.wake,
        ]

    def _start(self) -> None:
        started = time.monotonic()
        result = guest_exec.run(
            self.client, self._start_argv(), stdin=worker_source(), env=self.env, clean_env=True,
            timeout=START_TIMEOUT,
        )
        self._started(result, started, "")

    def finish_start(self, starting: WorkerStarting) -> None:
        """Wait for the worker ensure_worker(start_beside=True) started; ExecutorUnavailable if it did not."""
        status = guest_exec.wait(self.client, starting.starter, timeout=START_TIMEOUT)
        self._started(guest_exec.result_from_status(starting.starter, status, starting.started), starting.started,
                      " beside the task")

    def _started(self, result: guest_exec.ExecResult, started: float, how: str) -> None:
        if result.rc != 0:
            reason = result.stderr.decode("utf-8", "replace").strip() or "exit code %d" % result.rc
            raise ExecutorUnavailable("starting the worker with %s failed: %s" % (self.interpreter, reason[-500:]))
        self.just_started = True
        self.log("EXECUTOR started the worker in %s%s (%.2f s)" % (self.base, how, time.monotonic() - started))

    def alive(self) -> bool:
        """Whether the worker this executor talks to still runs."""
        return self.worker is not None and _start_time(self.client, self.worker[0]) == self.worker[1]

    # -- one task ----------------------------------------------------------------

    def run(
        self,
        payload: bytes,
        timeout: float | None,
        poll: guest_exec.PollPolicy,
        env: dict[str, str] | None = None,
        identity: IdentityRoute | None = None,
        module_file: str = "",
    ) -> guest_exec.ExecResult:
        """Run one pipelined payload in the worker (ensure_worker() first) and return what it printed.

        `module_file`: the payload is empty; the worker runs this AnsiballZ file of the guest's instead (a task
        ansible-core does not pipeline), reading it as the task's identity.

        `env`: the task's `environment:`, set in the job's process on top of the worker's own.
        `identity`: run it in that identity's worker (started now if none runs), not root's.

        The AnsiballZ zip, most of the payload, is left out when the worker may have it cached from
        an earlier task; if it has not (the reply says "needzip" and nothing ran), it goes whole.
        Raises ExecutorUnavailable if nothing could be queued.
        """
        stripped, zip_b64 = worker_code.strip_zip(payload)
        key = worker_code.content_key(zip_b64) if zip_b64 is not None else None

        def submit(previous: str) -> str:
            # A worker that just started, or said it lacks the zip, has nothing cached: the zip goes whole.
            whole = key is None or self.how in ("needzip", "needstart") or self.just_started
            job_id = self.submit(payload if whole else stripped, zip_key=None if whole else key, env=env,
                                 identity=identity, module_file=module_file)
            size = len(payload if whole else stripped)
            if self.how == "needzip":
                self.log("EXECUTOR job %s: the worker has no zip %s cached, sent whole as job %s (%d bytes)" % (
                    previous, key, job_id, size))
            elif self.how == "needstart":
                self.log("EXECUTOR job %s: sent again whole as job %s to the worker just started (%d bytes)" % (
                    previous, job_id, size))
            else:
                self.log("EXECUTOR job %s in worker pid %d (%s%s): %d bytes%s%s" % (
                    job_id, self.worker[0] if self.worker else -1, self.base,
                    ", as %s" % identity.label if identity else "", size, "" if whole else ", its zip cached",
                    " (runs %s)" % module_file if module_file else ""))
            return job_id

        result = self._until_answered(submit, timeout, poll, identity)
        self.just_started = False
        self.log("EXECUTOR job %s done (%s): rc=%d, %d bytes stdout, %d bytes stderr, %.3f s, ran %.3f s" % (
            self.job_id, self.how, result.rc, len(result.stdout), len(result.stderr), result.duration, self.ran))
        return result

    def _until_answered(
        self,
        submit: t.Callable[[str], str],
        timeout: float | None,
        poll: guest_exec.PollPolicy,
        identity: IdentityRoute | None,
    ) -> guest_exec.ExecResult:
        """The reply to the request `submit` queues, queued again when nothing ran: once after starting the
        identity's worker ("needstart"), once with the zip whole ("needzip")."""
        self.how = ""
        retried: set[str] = set()
        while True:
            job_id = self.job_id = submit(self.job_id)
            result = self.wait(job_id, timeout, poll)
            if self.how not in ("needstart", "needzip"):
                return result
            if self.how in retried or (self.how == "needstart" and identity is None):
                raise ExecutorUnavailable("the worker answered %s twice for one task" % self.how)
            retried.add(self.how)
            if self.how == "needstart" and identity is not None:
                self._start_identity(identity)
            # (else "needzip": submit sends the zip whole)

    def _start_identity(self, identity: IdentityRoute) -> None:
        started = time.monotonic()
        argv = [self.interpreter, "-", "sub", self.base, self.interpreter, self.wake, "%g" % self.idle_timeout]
        name = identity.start(argv, worker_source())
        if not re.fullmatch(r"\d+-[A-Za-z0-9_]+", name):
            raise ExecutorUnavailable("the worker of %s did not start: it printed %r" % (identity.label, name[-200:]))
        self.identity_dirs[identity.key] = name
        self.log("EXECUTOR started the worker of %s in %s/as/%s (%.2f s)" % (
            identity.label, self.base, name, time.monotonic() - started))

    def run_op(
        self, op: dict[str, t.Any], poll: guest_exec.PollPolicy, identity: IdentityRoute | None = None
    ) -> guest_exec.ExecResult:
        """Have a running worker do one housekeeping command (shell_ops.recognise) in-process.

        Never starts root's worker: raises ExecutorUnavailable if none of this version runs. An identity's
        worker is started if root's runs.
        """
        if len(json.dumps(op)) > MAX_OP_HEADER:
            raise ExecutorUnavailable("the command's paths are too long for one request header")
        if not self._recently_seen():
            running = self._running_worker()
            if running is None:
                raise ExecutorUnavailable("no worker runs yet")
            self._saw_worker(running)
        result = self._until_answered(
            lambda _previous: self.submit(b"", op=op, identity=identity), OP_TIMEOUT, poll, identity)
        identity_label = ", as %s" % identity.label if identity else ""
        self.log("EXECUTOR job %s done (%s %s%s): rc=%d, %.3f s" % (
            self.job_id, self.how, op["kind"], identity_label, result.rc, result.duration))
        return result

    def submit(
        self, payload: bytes, zip_key: str | None = None, op: dict[str, t.Any] | None = None,
        env: dict[str, str] | None = None, identity: IdentityRoute | None = None, module_file: str = "",
    ) -> str:
        """Write the request; return its job id. Raises ExecutorUnavailable if nothing was queued.

        `zip_key`: the payload's zip_data is empty, take the zip cached under this key.
        `op`: no module but a housekeeping command for the worker itself.
        """
        job_id = secrets.token_hex(12)
        fields: dict[str, t.Any] = {"protocol": 1, "size": len(payload), "interpreter": self.interpreter}
        if zip_key is not None:
            fields["zip"] = zip_key
        if op is not None:
            fields["op"] = op
        if env:
            fields["env"] = env
        if module_file:
            fields["file"] = module_file
        if identity is not None:
            fields["as"] = {"key": identity.key}
            if identity.key in self.identity_dirs:
                fields["as"]["dir"] = self.identity_dirs[identity.key]
        header = json.dumps(fields).encode() + b"\n"
        path = "%s/jobs/%s.req" % (self.base, job_id)
        try:
            files.write_file(self.client, path, _Concat(header, payload))
        except (QgaCommandError, QgaFileError) as exc:
            # No file: the worker was stopping (its jobs directory is renamed away) or it is gone.
            self.seen_at = None
            raise ExecutorUnavailable("the request could not be queued: %s" % exc.reason) from None
        return job_id

    def wait(
        self, job_id: str, timeout: float | None, poll: guest_exec.PollPolicy
    ) -> guest_exec.ExecResult:
        """Wait for the reply of `job_id`; cancel (kill) the job on timeout or interruption."""
        try:
            return self._wait(job_id, timeout, poll)
        except (QgaExecTimeout, GeneratorExit):
            raise
        except BaseException:
            self.cancel(job_id)
            raise

    def _wait(self, job_id: str, timeout: float | None, poll: guest_exec.PollPolicy) -> guest_exec.ExecResult:
        started = time.monotonic()
        next_check = started + LIVENESS_INTERVAL
        intervals = poll.intervals()
        reply_path = "%s/jobs/%s.res" % (self.base, job_id)
        while True:
            reply = self._read_reply(reply_path)
            if reply is not None:
                self.seen_at = time.monotonic()
                result, self.how, self.ran = _parse_reply(reply, time.monotonic() - started)
                return result
            now = time.monotonic()
            if timeout is not None and now - started >= timeout:
                self.cancel(job_id)
                raise QgaExecTimeout(
                    "the task was still running in the persistent executor after %.1f s; it was killed" % timeout,
                    channel=self.client.channel,
                    command="guest-exec",
                )
            if now >= next_check:
                next_check = now + LIVENESS_INTERVAL
                if not self.alive():
                    self.seen_at = None
                    if self._still_queued(job_id):
                        # It died before it took the request (the worker renames or removes it first):
                        # nothing ran, so the task may run another way. A new worker clears the file.
                        raise ExecutorUnavailable("the worker (pid %d) died before it took the request"
                                                  % (self.worker[0] if self.worker else -1))
                    raise QgaExecError(
                        "the persistent executor (pid %d) died while the task was queued or running, so the "
                        "task may or may not have run; the next task starts a new worker"
                        % (self.worker[0] if self.worker else -1),
                        channel=self.client.channel,
                        command="guest-exec",
                    )
            time.sleep(next(intervals))

    def _still_queued(self, job_id: str) -> bool:
        try:
            files.GuestFile(self.client, "%s/jobs/%s.req" % (self.base, job_id), "r").close()
        except (QgaCommandError, QgaFileError):
            return False
        return True

    def _read_reply(self, path: str) -> bytes | None:
        try:
            guest_file = files.GuestFile(self.client, path, "r")
        except (QgaCommandError, QgaFileError):
            return None
        sink = io.BytesIO()
        with guest_file:
            while True:
                data, eof = guest_file.read(files.read_chunk_size(self.client))
                sink.write(data)
                if eof or not data:
                    break
        # Truncating is the acknowledgement: the output is gone at once and the worker removes the file.
        files.GuestFile(self.client, path, "w").close()
        return sink.getvalue()

    def cancel(self, job_id: str) -> None:
        """Ask the worker to kill the job and drop its output. Best effort."""
        try:
            files.GuestFile(self.client, "%s/jobs/%s.cancel" % (self.base, job_id), "w").close()
        except QgaError:
            pass

    def stop(self) -> bool:
        """Ask a running worker of this version to exit once idle; True if one was asked."""
        if self._running_worker() is None:
            return False
        try:
            files.GuestFile(self.client, self.base + "/jobs/stop", "w").close()
        except QgaError:
            return False
        return True


class _Concat(io.RawIOBase):
    """Two byte strings read as one stream, without copying the payload."""

    def __init__(self, first: bytes, second: bytes) -> None:
        super().__init__()
        self.parts = [memoryview(first), memoryview(second)]

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while self.parts and (size < 0 or len(out) < size):
            part = self.parts[0]
            take = len(part) if size < 0 else min(len(part), size - len(out))
            out += part[:take]
            self.parts[0] = part[take:]
            if not len(self.parts[0]):
                self.parts.pop(0)
        return bytes(out)


def _start_time(client: QgaClient, pid: int) -> str | None:
    try:
        stat = files.read_bytes(client, "/proc/%d/stat" % pid, max_bytes=4096).decode("ascii", "replace")
        return stat.rsplit(")", 1)[1].split()[19]
    except (QgaCommandError, QgaFileError, IndexError):
        return None


def _parse_reply(reply: bytes, duration: float) -> tuple[guest_exec.ExecResult, str, float]:
    header_line, _newline, body = reply.partition(b"\n")
    header = json.loads(header_line)
    out_size = int(header["out"])
    result = guest_exec.ExecResult(
        pid=0,
        exitcode=int(header["rc"]),
        signal=None,
        stdout=body[:out_size],
        stderr=body[out_size : out_size + int(header["err"])],
        duration=duration,
    )
    return result, str(header.get("how", "")), float(header.get("ran", 0.0))
