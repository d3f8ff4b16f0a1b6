# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run processes in the guest with guest-exec + guest-exec-status.

What the agent does and does not do shapes this module:
- `env` REPLACES the child's environment, and the agent's own (a systemd
  service's) has no HOME: a sane POSIX environment is sent unless told not to.
- input-data is written to stdin and stdin is closed; without it stdin is /dev/null.
- Output comes back only once the process exited and both pipes closed, at most
  16 MiB per stream; the rest is dropped with only a *-truncated flag.
- The exec record is freed by the first status reply that says exited.
- The agent has no timeout and no kill: the client enforces the timeout and
  kills the process with another exec.
- Transports whose replies are small (libvirt) cannot carry 2 x 16 MiB of
  base64 in one guest-exec-status: output is spilled to guest files there and
  read back in chunks.
"""

from __future__ import annotations

import base64
import io
import secrets
import time
import typing as t
from dataclasses import dataclass

from .errors import (
    QgaCommandError,
    QgaError,
    QgaExecError,
    QgaExecTimeout,
    QgaFileError,
    QgaOutputTruncated,
)
from .files import GuestFile, read_file, write_file

if t.TYPE_CHECKING:
    from .client import QgaClient

POSIX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Spill files live in one root-only directory (in /run: root-writable only, so nobody can plant it), named
# per run; a run's files are emptied once read and marked .done, and the next run's shell removes them.
SPILL_DIR = "/run/vmguest-qga-spill"
# Finished runs' files are empty (the client truncates them at once); removing them costs an `rm`
# process, so the shell of a later run removes them in batches of SPILL_BATCH runs.
SPILL_BATCH = 16
_REMOVE_DONE_SPILLS = (
    'l=; n=0; for d in %s/*.done; do [ -e "$d" ] && n=$((n+1)) && l="$l ${d%%.done}.in ${d%%.done}.out '
    '${d%%.done}.err $d"; done; [ "$n" -lt %d ] || rm -f -- $l; '
)
# stdin above this goes through a file, not input-data: qemu-ga 7.2 keeps polling the stdin pipe of a
# child that exited before reading all of it (a pipe holds 64 KiB), at full speed, until it restarts.
PIPE_SAFE_STDIN = 60 * 1024
# Seconds to wait for a killed process's record to report exited.
KILL_REAP_TIMEOUT = 10.0


@dataclass(frozen=True)
class PollPolicy:
    """How guest-exec-status is polled: start fast (most commands are short), back off.

    A poll costs ~0.1 ms on a host agent and ~0.5 ms in a TCG VM, while each poll
    interval is latency added to the command; 10 ms measured best for a 10-task
    play (bench/connection.py: 0.05 s gave +8 % run time, 0.005 s -2 %).
    """

    first_interval: float = 0.001
    max_interval: float = 0.01
    factor: float = 2.0

    def intervals(self) -> t.Iterator[float]:
        """Yield the successive sleep intervals."""
        interval = self.first_interval
        while True:
            yield interval
            interval = min(interval * self.factor, self.max_interval)


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one guest process."""

    pid: int
    exitcode: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    out_truncated: bool = False
    err_truncated: bool = False
    duration: float = 0.0

    @property
    def rc(self) -> int:
        """Exit code; a process killed by signal N gives -N (as Python's subprocess does)."""
        if self.exitcode is not None:
            return self.exitcode
        if self.signal is not None:
            return -self.signal
        return -1


def default_environment(home: str = "/root", user: str = "root", lang: str = "C.UTF-8") -> dict[str, str]:
    """A login-like POSIX environment for a process run by the agent."""
    return {"HOME": home, "LANG": lang, "LOGNAME": user, "PATH": POSIX_PATH, "SHELL": "/bin/sh", "USER": user}


def guest_is_windows(client: QgaClient) -> bool:
    """Whether the guest runs Windows (guest-get-osinfo), cached on the client."""
    if client.guest.windows is None:
        try:
            osinfo = client.execute("guest-get-osinfo")
            client.guest.windows = osinfo.get("id") == "mswindows"
        except QgaCommandError:
            # Agents before 2.10 lack guest-get-osinfo; those are POSIX agents far more often.
            client.guest.windows = False
    return client.guest.windows


def start(
    client: QgaClient,
    argv: t.Sequence[str],
    stdin: bytes | None = None,
    env: t.Mapping[str, str] | None = None,
    capture: bool = True,
) -> int:
    """Start `argv` in the guest; return its pid. `env` is sent as is (it replaces the environment)."""
    if not argv:
        raise QgaExecError("no command to run", channel=client.channel, command="guest-exec")
    arguments: dict[str, t.Any] = {"path": argv[0], "arg": list(argv[1:]), "capture-output": capture}
    if env is not None:
        arguments["env"] = ["%s=%s" % item for item in env.items()]
    if stdin:
        arguments["input-data"] = base64.b64encode(stdin).decode("ascii")
    reply = client.execute("guest-exec", arguments)
    return int(reply["pid"])


def wait(
    client: QgaClient,
    pid: int,
    timeout: float | None = None,
    poll: PollPolicy | None = None,
    kill_on_timeout: bool = True,
) -> dict[str, t.Any]:
    """Poll guest-exec-status until the process exited; return that (final) status.

    On timeout the process is killed (unless told not to) and QgaExecError names it.
    """
    try:
        return _poll_until_exited(client, pid, timeout, poll, kill_on_timeout)
    except (QgaError, GeneratorExit):
        raise
    except BaseException:
        # Interrupted from outside (Ansible's task timeout alarm, Ctrl-C): the guest process
        # would run on with nobody waiting for it.
        if kill_on_timeout:
            kill(client, pid)
        raise


def _poll_until_exited(
    client: QgaClient, pid: int, timeout: float | None, poll: PollPolicy | None, kill_on_timeout: bool
) -> dict[str, t.Any]:
    started = time.monotonic()
    intervals = (poll or PollPolicy()).intervals()
    while True:
        status = client.execute("guest-exec-status", {"pid": pid})
        if status.get("exited"):
            return t.cast("dict[str, t.Any]", status)
        elapsed = time.monotonic() - started
        if timeout is not None and elapsed >= timeout:
            killed = kill(client, pid) if kill_on_timeout else False
            raise QgaExecTimeout(
                "the guest process %d was still running after %.1f s%s"
                % (pid, timeout, "; it was killed" if killed else " and was left running"),
                channel=client.channel,
                command="guest-exec",
            )
        delay = next(intervals)
        if timeout is not None:
            delay = min(delay, max(0.0, timeout - elapsed))
        time.sleep(delay)


def kill(client: QgaClient, pid: int) -> bool:
    """Kill a guest process (and its process group when it leads one); reap its record. Best effort."""
    if guest_is_windows(client):
        argv = ["taskkill", "/F", "/T", "/PID", str(pid)]
    else:
        script = "kill -9 -%d 2>/dev/null; kill -9 %d 2>/dev/null; exit 0" % (pid, pid)
        argv = ["/bin/sh", "-c", script]
    try:
        killer = start(client, argv, capture=False, env=None if guest_is_windows(client) else default_environment())
        wait(client, killer, timeout=KILL_REAP_TIMEOUT, kill_on_timeout=False)
        # Reading the exited status frees the record of the killed process.
        wait(client, pid, timeout=KILL_REAP_TIMEOUT, kill_on_timeout=False)
    except QgaError:
        return False
    return True


def run(
    client: QgaClient,
    argv: t.Sequence[str],
    stdin: bytes | None = None,
    env: t.Mapping[str, str] | None = None,
    clean_env: bool = False,
    timeout: float | None = None,
    capture: bool = True,
    allow_truncation: bool = False,
    poll: PollPolicy | None = None,
    spill_output: bool = False,
) -> ExecResult:
    """Run `argv` to completion and return its exit status and output.

    `env` is added to a sane POSIX environment (HOME, PATH, LANG, USER...) unless
    `clean_env` is set or the guest is Windows, in which case it is sent as is.
    Truncated output raises QgaOutputTruncated unless `allow_truncation`; `spill_output`
    sends the output through guest files (no 16 MiB cap, a few more agent calls), as
    transports whose replies are small always do.
    A process still running after `timeout` seconds is killed and QgaExecError raised.
    """
    child_env = _environment(client, env, clean_env)
    if timeout is not None and not guest_is_windows(client):
        argv = own_process_group(argv)
    started = time.monotonic()
    spill_output = capture and (spill_output or not client.limits.exec_capture_fits)
    spill_stdin = not _stdin_fits(client, stdin) or len(stdin or b"") > PIPE_SAFE_STDIN
    if (spill_output or spill_stdin) and not guest_is_windows(client):
        result = _run_spilled(client, argv, stdin, child_env, timeout, poll, capture=spill_output)
    else:
        pid = start(client, argv, stdin=stdin, env=child_env, capture=capture)
        result = result_from_status(pid, wait(client, pid, timeout=timeout, poll=poll), started)
    if not allow_truncation and (result.out_truncated or result.err_truncated):
        streams = [name for name, cut in (("stdout", result.out_truncated), ("stderr", result.err_truncated)) if cut]
        raise QgaOutputTruncated(
            "the agent dropped output of %s beyond its 16 MiB capture limit (%s truncated); spill the output "
            "to a guest file to get all of it (the connection's ansible_qga_spill_output, qga_exec's "
            "spill_output)" % (argv[0], " and ".join(streams)),
            channel=client.channel,
            command="guest-exec",
        )
    return result


_PROCESS_GROUP_WRAPPER = ["/bin/sh", "-c", 'command -v setsid >/dev/null 2>&1 && exec setsid "$@"; exec "$@"', "sh"]


def own_process_group(argv: t.Sequence[str]) -> list[str]:
    """Wrap a POSIX command so it leads its own process group (same pid), which a timeout kill ends whole.

    Wrapping twice would make the inner setsid fork (it already leads a group) and the pid
    the agent reports would exit at once: an already wrapped argv is returned as is.
    """
    if list(argv[: len(_PROCESS_GROUP_WRAPPER)]) == _PROCESS_GROUP_WRAPPER:
        return list(argv)
    return _PROCESS_GROUP_WRAPPER + list(argv)


def _environment(
    client: QgaClient, env: t.Mapping[str, str] | None, clean_env: bool
) -> dict[str, str] | None:
    if clean_env or guest_is_windows(client):
        return dict(env) if env is not None else None
    merged = default_environment()
    merged.update(env or {})
    return merged


def result_from_status(pid: int, status: dict[str, t.Any], started: float) -> ExecResult:
    """The ExecResult of a guest-exec-status reply that says exited (`started`: time.monotonic() at the start)."""
    return ExecResult(
        pid=pid,
        exitcode=status.get("exitcode"),
        signal=status.get("signal"),
        stdout=base64.b64decode(status.get("out-data", "")),
        stderr=base64.b64decode(status.get("err-data", "")),
        out_truncated=bool(status.get("out-truncated")),
        err_truncated=bool(status.get("err-truncated")),
        duration=time.monotonic() - started,
    )


def _stdin_fits(client: QgaClient, stdin: bytes | None) -> bool:
    # base64 grows 4/3; leave 4 KiB for the rest of the guest-exec request (argv, env).
    return not stdin or (len(stdin) + 2) // 3 * 4 + 4096 <= client.limits.max_request_bytes


def _run_spilled(
    client: QgaClient,
    argv: t.Sequence[str],
    stdin: bytes | None,
    env: dict[str, str] | None,
    timeout: float | None,
    poll: PollPolicy | None,
    capture: bool,
) -> ExecResult:
    """Run with stdin from and/or output to private guest files, moved in chunks.

    One guest-exec per run: the files are created by the client (guest-file-open) inside the
    root-only SPILL_DIR, and the command's shell both removes earlier runs' files and redirects.
    """
    base = "%s/%s" % (SPILL_DIR, secrets.token_hex(8))
    started = time.monotonic()
    made = [".in"] if stdin else []
    if capture:
        made += [".out", ".err"]
    _write_spill_file(client, base + made[0], stdin or b"")
    try:
        redirects = ""
        if stdin:
            redirects += ' <"$0.in"'
        if capture:
            redirects += ' >"$0.out" 2>"$0.err"'
        script = _REMOVE_DONE_SPILLS % (SPILL_DIR, SPILL_BATCH) + 'exec "$@"' + redirects
        pid = start(client, ["/bin/sh", "-c", script, base] + list(argv), env=env, capture=not capture)
        status = wait(client, pid, timeout=timeout, poll=poll)
        if not capture:
            return result_from_status(pid, status, started)
        stdout = _read_spilled(client, base + ".out")
        stderr = _read_spilled(client, base + ".err")
    finally:
        _retire_spill_files(client, base, made)
    return ExecResult(
        pid=pid,
        exitcode=status.get("exitcode"),
        signal=status.get("signal"),
        stdout=stdout,
        stderr=stderr,
        duration=time.monotonic() - started,
    )


def _write_spill_file(client: QgaClient, path: str, data: bytes) -> None:
    """Write a spill file (empty for an output file), and the spill directory (0700) the first time."""
    try:
        write_file(client, path, io.BytesIO(data))
        return
    except QgaFileError as exc:
        if "No such file" not in str(exc):
            raise
    _check_helper(client, ["/bin/mkdir", "-m", "700", "-p", SPILL_DIR], "create %s" % SPILL_DIR)
    write_file(client, path, io.BytesIO(data))


def _retire_spill_files(client: QgaClient, base: str, made: t.Sequence[str]) -> None:
    """Empty a run's files (output and stdin may be secret) and mark them for removal by a later run."""
    try:
        for suffix in list(made) + [".done"]:
            GuestFile(client, base + suffix, "w").close()
    except QgaError:
        pass


def _check_helper(client: QgaClient, argv: t.Sequence[str], what: str) -> None:
    pid = start(client, argv, capture=True, env=default_environment())
    status = wait(client, pid, timeout=KILL_REAP_TIMEOUT)
    if status.get("exitcode") != 0:
        stderr = base64.b64decode(status.get("err-data", "")).decode("utf-8", "replace").strip()
        raise QgaExecError(
            "cannot %s in the guest: %s" % (what, stderr),
            channel=client.channel,
            command="guest-exec",
        )


def _read_spilled(client: QgaClient, path: str) -> bytes:
    sink = io.BytesIO()
    try:
        read_file(client, path, sink)
    except QgaFileError as exc:
        raise QgaExecError(
            "the command's output could not be read back from %s: %s" % (path, exc.reason),
            channel=client.channel,
            command="guest-exec",
        ) from None
    return sink.getvalue()
