# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The persistent executor's worker: runs IN THE GUEST, sent there by the qga connection plugin.

Started as `PYTHON - BASE_DIR IDLE_TIMEOUT PYTHON [WAKE]` with this source on stdin (no file to keep
in sync). It must run on the guest's python3 >= 3.6 with the standard library only, so:
no `from __future__ import annotations`, typing generics, no dataclasses.

Layout of BASE_DIR (PARENT/executor-<version>, both 0711 root: others may pass through, not list;
PARENT is the connection's executor_dir, /run/vmguest-qga by default):
  lock      flock()ed by the running manager (one per version)
  pid       "PID STARTTIME INTERPRETER" of the manager
  jobs/     ID.req  request written by the controller: a JSON header line + the AnsiballZ payload;
                    with "zip": KEY in the header the payload's zip_data is empty ('') and the
                    zip is the one cached under KEY (the controller sends it once, not every task)
            ID.res  reply: a JSON header line {"rc", "out", "err", "how", "ran"} + stdout + stderr
                    (renamed into place); "how" is "fresh" (own interpreter), "preloaded" (zygote
                    fork) or "needzip" (nothing ran: no zip cached under KEY, send it whole);
                    "ran" the seconds the job's process lived
            ID.cancel  kill the job; stop  exit once idle
            a request whose header has "op" is none of Ansible's modules but one of its housekeeping
            shell commands (see run_op), done by the manager itself: no process starts
  cache/    KEY.zip  the module_utils zip a zygote imported from
  as/       (1733, like /tmp) one directory per identity worker, made by that worker (below)

Identities: a request whose header has "as": {"key": KEY[, "dir": NAME]} is for another identity than root's
(a become method and user, or a non-root remote_user). The controller starts that identity's worker
through the identity's own command (`sudo ... PYTHON - sub BASE INTERPRETER WAKE IDLE`, this source on stdin),
so it gets the identity, groups, environment and PAM/sudo policy a task would; it makes BASE/as/NAME
(its own, 0700) with the same layout, prints NAME and serves there. Root's manager registers NAME under
KEY (KEY, which covers the become password, never leaves root's files), hands it each such request
(chown + rename into its jobs/) and renames the reply back; with no live worker for KEY it answers
"needstart" and nothing ran. An identity worker exits when root's asks it to (idle) or root's is gone.

Processes: the manager (stdlib only) forks, for each distinct AnsiballZ zip content (KEY:
a sha256 over its members' names, sizes and CRC-32s), a zygote that imports the zip's
module_utils; later jobs whose zip has the same content run in a fork of that zygote.
A job whose zip is new runs in a fresh interpreter, exactly as pipelining would, while
its zygote warms up.
"""

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import sys
import time
import traceback
import types
import typing as t

PROTOCOL = 1
IN_CLOSE_WRITE = 0x08
IN_MOVED_TO = 0x80
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
# Without inotify (WAKE "poll", or no inotify in the guest) the manager polls its jobs
# directory this often while jobs run or wait.
POLL_INTERVAL = 0.02
MAX_ZYGOTES = 6
# Identity workers live in BASE/as/; one checks this often that root's manager still runs, and root's
# that its identity workers do while they hold tasks.
AS_DIR = "as"
IDENTITY_CHECK = 2.0
# The AnsiballZ wrapper passes its zip as a repr()ed keyword argument on a line of its own.
ZIP_DATA = re.compile(rb"^zip_data='([A-Za-z0-9+/=]+)',$", re.MULTILINE)
# A request whose zip is cached carries the keyword argument empty.
EMPTY_ZIP_DATA = b"\nzip_data='',\n"
# In a zygote's fork the zip comes from memory, bound to this name, instead of a 170 KB
# literal the child would compile again for every task.
ZIP_NAME = "_vmguest_qga_zip_data"
WRAPPER_MARK = b"_ANSIBALLZ_WRAPPER = True"


def content_key(zip_b64: bytes) -> t.Optional[str]:
    """What identifies a payload zip's content: every member's name, size and CRC-32.

    Not the zip's own bytes: the controller stamps members with the time it built them.
    """
    import base64
    import io
    import zipfile

    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(zip_b64))) as archive:
            for member in sorted(archive.infolist(), key=lambda info: info.filename):
                digest.update(("%s\0%d\0%d\n" % (member.filename, member.file_size, member.CRC)).encode())
    except (ValueError, zipfile.BadZipFile):
        return None
    return digest.hexdigest()[:32]


def strip_zip(payload: bytes) -> t.Tuple[bytes, t.Optional[bytes]]:
    """(the payload with its zip_data emptied, the zip's base64), or (payload, None) without one."""
    found = ZIP_DATA.search(payload) if WRAPPER_MARK in payload else None
    if found is None:
        return payload, None
    return payload[: found.start(1)] + payload[found.end(1) :], found.group(1)


def with_zip(stripped: bytes, zip_b64: bytes) -> bytes:
    """The payload strip_zip() took apart, whole again."""
    head, found, tail = stripped.partition(EMPTY_ZIP_DATA)
    if not found:
        raise ValueError("the request has no empty zip_data to fill")
    return head + b"\nzip_data='" + zip_b64 + b"',\n" + tail


def _write_private(path: str, data: bytes) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(handle, data)
    finally:
        os.close(handle)


def _private_dir(path: str, mode: int = 0o700) -> None:
    """Create `path` with `mode` (0700, or 0711: others may pass through); refuse one that is a symlink,
    not this uid's or that others may read or write."""
    try:
        os.mkdir(path, mode)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
    info = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or info.st_uid != os.getuid() or info.st_mode & 0o066:
        raise SystemExit("vmguest-qga executor: %s is not a private directory of uid %d" % (path, os.getuid()))
    if info.st_mode & 0o777 != mode:
        os.chmod(path, mode)


def _shared_dir(path: str) -> None:
    """Create `path` root's and 1733, as /tmp is: every identity worker makes its own directory in it."""
    try:
        os.mkdir(path, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
    info = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or info.st_uid != os.getuid():
        raise SystemExit("vmguest-qga executor: %s is not a directory of uid %d" % (path, os.getuid()))
    os.chmod(path, 0o1733)  # noqa: S103 (sticky, and nobody but root may list it)


def _owner_mark(base: str) -> t.Optional[t.Tuple[int, int]]:
    """What tells root's manager of BASE apart from a later one (its pid file, renamed into place at start)."""
    try:
        info = os.stat(os.path.join(base, "pid"))
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns


def _start_time(pid: int) -> t.Optional[str]:
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _close_fds(keep: t.Sequence[int] = ()) -> None:
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        names = [str(fd) for fd in range(3, 1024)]
    for name in names:
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _status_to_rc(status: int) -> int:
    # The pipelined command is `sh -c 'python && sleep 0'`: a signal-killed python is 128+N there.
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _read_header(path: str) -> t.Optional[t.Tuple[dict, int]]:
    """The request's header and its length, once the request file is complete; else None."""
    try:
        with open(path, "rb") as handle:
            line = handle.readline(4096)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return None
    if not line.endswith(b"\n"):
        return None
    try:
        header = json.loads(line.decode("utf-8"))
    except ValueError:
        return None
    if size < len(line) + int(header.get("size", 0)):
        return None
    return header, len(line)


def run_op(op: dict) -> t.Tuple[int, bytes, bytes]:
    """Do one of Ansible's housekeeping shell commands in this process; (rc, stdout, stderr) as the shell's.

    "home":    echo ~USER             "mkdtemp": ( umask 77 && mkdir -p BASE && mkdir BASE/NAME && echo NAME=BASE/NAME )
    "rm":      rm -f -r PATH          "chmod_u": chmod u+ADD PATH...
    "create":  umask 077 && : > PATH && chmod MODE PATH   (the connection's private pre-creation)
    "chown":   chown USER PATH...     "setfacl": setfacl -m ENTRY PATH...   (for a become user)
    """
    kind = op.get("kind")
    try:
        if kind == "mkdtemp":
            return _op_mkdtemp(str(op["base"]), str(op["name"]))
        if kind == "rm":
            return _op_rm(str(op["path"]))
        if kind == "chmod_u":
            return _op_chmod_u(str(op["add"]), [str(path) for path in op["paths"]])
        if kind == "home":
            return _op_home(str(op["user"]), str(op["home"]))
        if kind == "create":
            return _op_create(str(op["path"]), int(op["mode"]))
        if kind == "chown":
            return _op_chown(str(op["user"]), [str(path) for path in op["paths"]])
        if kind == "setfacl":
            return _op_run(["setfacl", "-m", str(op["entry"])] + [str(path) for path in op["paths"]])
    except (KeyError, TypeError, ValueError) as exc:
        return 255, b"", ("vmguest-qga executor: malformed %s request: %s\n" % (kind, exc)).encode()
    return 255, b"", ("vmguest-qga executor: unknown request %r\n" % (kind,)).encode()


def _failure(command: str, what: str, path: str, exc: OSError) -> t.Tuple[int, bytes, bytes]:
    return 1, b"", ("%s: %s '%s': %s\n" % (command, what, path, exc.strerror)).encode()


@contextlib.contextmanager
def _private_umask() -> t.Iterator[None]:
    """umask 077 for what is created inside (the manager is single-threaded)."""
    old_umask = os.umask(0o77)
    try:
        yield
    finally:
        os.umask(old_umask)


def _op_mkdtemp(base: str, name: str) -> t.Tuple[int, bytes, bytes]:
    path = os.path.join(base, name)
    with _private_umask():
        try:
            os.makedirs(base, exist_ok=True)
        except OSError as exc:
            return _failure("mkdir", "cannot create directory", base, exc)
        try:
            os.mkdir(path)
        except OSError as exc:
            return _failure("mkdir", "cannot create directory", path, exc)
    return 0, ("%s=%s\n" % (name, path)).encode(), b""


def _op_rm(path: str) -> t.Tuple[int, bytes, bytes]:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return _failure("rm", "cannot remove", path, exc)
    return 0, b"", b""


def _op_chmod_u(add: str, paths: t.List[str]) -> t.Tuple[int, bytes, bytes]:
    bits = sum(bit for letter, bit in (("r", 0o400), ("w", 0o200), ("x", 0o100)) if letter in add)
    if not add or add.strip("rwx"):
        raise ValueError("chmod u+%s" % add)
    rc, errors = 0, []
    for path in paths:
        try:
            os.chmod(path, (os.stat(path).st_mode & 0o7777) | bits)
        except OSError as exc:
            rc = 1
            errors.append(_failure("chmod", "cannot access", path, exc)[2])
    return rc, b"", b"".join(errors)


def _op_home(user: str, home: str) -> t.Tuple[int, bytes, bytes]:
    """`echo ~` (`home`: the HOME the command's shell would have) or `echo ~USER`, as the shell expands them.

    An unknown user's `~USER` stays as written.
    """
    import pwd

    if not user:
        return 0, home.encode() + b"\n", b""
    try:
        return 0, pwd.getpwnam(user).pw_dir.encode() + b"\n", b""
    except KeyError:
        return 0, ("~%s\n" % user).encode(), b""


def _op_create(path: str, mode: int) -> t.Tuple[int, bytes, bytes]:
    try:
        with _private_umask():
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode & 0o700)
        try:
            os.fchmod(handle, mode)
        finally:
            os.close(handle)
    except OSError as exc:
        return _failure("sh", "cannot create", path, exc)
    return 0, b"", b""


def _op_chown(user: str, paths: t.List[str]) -> t.Tuple[int, bytes, bytes]:
    import pwd

    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        return 1, b"", ("chown: invalid user: '%s'\n" % user).encode()
    rc, errors = 0, []
    for path in paths:
        try:
            os.chown(path, uid, -1)
        except OSError as exc:
            rc = 1
            errors.append(_failure("chown", "changing ownership of" if os.path.lexists(path) else "cannot access",
                                   path, exc)[2])
    return rc, b"", b"".join(errors)


def _op_run(argv: t.List[str]) -> t.Tuple[int, bytes, bytes]:
    """`argv` (a tool with no Python equivalent) in a child of the worker, as the shell would run it."""
    import subprocess

    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # noqa: UP022 (3.6)
                              timeout=60, check=False)
    except FileNotFoundError:
        return 127, b"", ("/bin/sh: 1: %s: not found\n" % argv[0]).encode()
    except (OSError, subprocess.SubprocessError) as exc:
        return 126, b"", ("/bin/sh: 1: %s: %s\n" % (argv[0], exc)).encode()
    return done.returncode, done.stdout, done.stderr


def finish_job(jobs: str, job_id: str, status: int, how: str, ran: float = 0.0) -> None:
    """Turn the job's output files into its reply (or drop them if the job was cancelled).

    `ran`: seconds the job's process lived (fork to exit), the module's own time in the guest.
    """
    out_path, err_path = os.path.join(jobs, job_id + ".out"), os.path.join(jobs, job_id + ".err")
    cancel = os.path.join(jobs, job_id + ".cancel")
    try:
        if os.path.exists(cancel):
            return
        sizes = [os.path.getsize(p) if os.path.exists(p) else 0 for p in (out_path, err_path)]
        summary = {"rc": _status_to_rc(status), "out": sizes[0], "err": sizes[1], "how": how, "ran": round(ran, 6)}
        header = json.dumps(summary).encode() + b"\n"
        partial = os.path.join(jobs, job_id + ".res.tmp")
        handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "wb") as reply:
            reply.write(header)
            for path in (out_path, err_path):
                if os.path.exists(path):
                    with open(path, "rb") as part:
                        shutil.copyfileobj(part, reply)
        os.rename(partial, os.path.join(jobs, job_id + ".res"))
    finally:
        for path in (out_path, err_path):
            try:
                os.unlink(path)
            except OSError:
                pass


def _job_stdio(jobs: str, job_id: str) -> None:
    """In a job's child: stdin /dev/null, stdout and stderr into the job's private files."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for fd, suffix in ((1, ".out"), (2, ".err")):
        handle = os.open(os.path.join(jobs, job_id + suffix), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(handle, fd)
        os.close(handle)


def _child_signals() -> None:
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


# ---------------------------------------------------------------------------------------- zygote


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write("%s\n" % (code,))
    return 1


def _finalize() -> None:
    """What a fresh interpreter does at exit: join threads, run atexit handlers, flush."""
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException:  # noqa: S110 (exit path: nothing left to report to)
            pass
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: S110
            pass


def run_payload(payload: bytes, base_path: t.List[str], names: t.Optional[t.Dict[str, str]] = None) -> int:
    """Run an AnsiballZ wrapper as `python -` with it on stdin would; return the exit code.

    `names`: globals the payload refers to (the zip, which is not compiled as a literal).
    """
    sys.path[:] = base_path
    sys.argv[:] = [""]
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    main.__dict__.update(names or {})
    sys.modules["__main__"] = main
    try:
        code = compile(payload, "<stdin>", "exec", dont_inherit=True)
        exec(code, main.__dict__)  # noqa: S102 (this is the executor)
        status = 0
    except SystemExit as exc:
        status = _exit_code(exc)
    except BaseException:
        kind, value, trace = sys.exc_info()
        sys.excepthook(kind, value, trace.tb_next if trace is not None else None)  # type: ignore[arg-type]
        status = 1
    try:
        _finalize()
    except SystemExit as exc:
        status = _exit_code(exc)
    return status


def _preload(zip_path: str) -> None:
    """Import every module_utils module the zip carries (the module's own code is not imported)."""
    import importlib
    import zipfile

    sys.path.insert(0, zip_path)
    with zipfile.ZipFile(zip_path) as archive:
        names = [n for n in archive.namelist() if n.endswith(".py") and "/module_utils/" in n]
    for name in sorted(names):
        dotted = name[:-3].replace("/", ".")
        if dotted.endswith(".__init__"):
            dotted = dotted[: -len(".__init__")]
        if "._ansiballz._extensions" in dotted or dotted.endswith("_respawn_wrapper"):
            continue
        try:
            importlib.import_module(dotted)
        except BaseException:  # noqa: S112 (optional imports fail just as they would in the module)
            continue
    sys.path.remove(zip_path)


def zygote_main(control: socket.socket, jobs: str, zip_path: str, base_path: t.List[str]) -> None:
    """Preload, then fork one child per job id received; report pids and exits to the manager."""
    import base64

    _preload(zip_path)
    with open(zip_path, "rb") as handle:
        zip_b64 = base64.b64encode(handle.read()).decode("ascii")
    wakeup_r, wakeup_w = os.pipe()
    for fd in (wakeup_r, wakeup_w):
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    signal.set_wakeup_fd(wakeup_w)
    signal.signal(signal.SIGCHLD, lambda *_args: None)
    running = {}  # type: t.Dict[int, t.Tuple[str, float]]
    buffer = b""
    while True:
        ready = select.select([control.fileno(), wakeup_r], [], [], 1.0)[0]
        if wakeup_r in ready:
            try:
                os.read(wakeup_r, 4096)
            except OSError:
                pass
        if control.fileno() in ready:
            data = control.recv(65536)
            if not data:
                for pid in running:
                    _kill_group(pid)
                os._exit(0)
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                job_id = line.decode("ascii")
                forked = time.monotonic()
                pid = _fork_job(jobs, job_id, base_path, control, zip_b64)
                running[pid] = (job_id, forked)
                control.sendall(b"started %s %d\n" % (line, pid))
        for pid, status in _reap(list(running)):
            job_id, forked = running.pop(pid)
            finish_job(jobs, job_id, status, "preloaded", time.monotonic() - forked)
            control.sendall(b"done %s\n" % job_id.encode("ascii"))


def _fork_job(jobs: str, job_id: str, base_path: t.List[str], control: socket.socket, zip_b64: str) -> int:
    request = os.path.join(jobs, job_id + ".in")
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        os.setsid()
        _child_signals()
        control.close()
        _close_fds()
        with open(request, "rb") as handle:
            header = json.loads(handle.readline().decode("utf-8"))
            payload = handle.read()  # stripped by the manager: zip_data is empty
        os.unlink(request)
        os.environ.update(header.get("env") or {})  # the task's environment: (never what the interpreter read)
        sys.executable = str(header.get("interpreter") or sys.executable)  # the name the task ran it by
        _job_stdio(jobs, job_id)
        code = payload.replace(EMPTY_ZIP_DATA, b"\nzip_data=" + ZIP_NAME.encode() + b",\n", 1)
        status = run_payload(code, base_path, {ZIP_NAME: zip_b64})
    except BaseException:
        traceback.print_exc()
    os._exit(status)


def _reap(pids: t.List[int]) -> t.List[t.Tuple[int, int]]:
    done = []
    for pid in pids:
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            reaped, status = pid, 255 << 8
        if reaped:
            done.append((pid, status))
    return done


def _kill_group(pid: int) -> None:
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass


def _exec_interpreter(interpreter: str, env: t.Dict[str, str]) -> None:
    """Become `interpreter` (stdin the payload), or exit as the pipelined command's shell would without it."""
    try:
        os.execve(interpreter, [interpreter], dict(os.environ, **env))  # noqa: S606 (the pipelined command)
    except OSError as exc:
        missing = exc.errno == errno.ENOENT
        os.write(2, ("/bin/sh: 1: %s: %s\n" % (interpreter, "not found" if missing else exc.strerror)).encode())
        os._exit(127 if missing else 126)


def _guard_fresh_job(jobs: str, job_id: str, stdin: int, interpreter: str, env: t.Dict[str, str],
                     manager: int) -> None:
    """Lead the job's process group; run the interpreter in it; kill the group if the manager dies."""
    os.setsid()
    _child_signals()
    _close_fds(keep=[stdin])
    signal.signal(signal.SIGTERM, lambda *_args: os.killpg(0, signal.SIGKILL))
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != manager:
        os.killpg(0, signal.SIGKILL)
    child = os.fork()
    if child == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _job_stdio(jobs, job_id)
            os.dup2(stdin, 0)
            _close_fds()
            _exec_interpreter(interpreter, env)
        finally:
            os._exit(127)
    os.close(stdin)
    while True:
        try:
            status = os.waitpid(child, 0)[1]
            break
        except InterruptedError:
            continue
    os._exit(_status_to_rc(status))


# --------------------------------------------------------------------------------------- manager


class Zygote:
    """A forked, preloaded interpreter for one AnsiballZ zip."""

    def __init__(self, pid: int, control: socket.socket) -> None:
        self.pid = pid
        self.control = control
        self.buffer = b""
        self.used = time.monotonic()


class Manager:
    """The long-lived worker: watches the jobs directory, dispatches, exits when idle."""

    def __init__(
        self,
        base: str,
        idle_timeout: float,
        interpreter: str,
        lock_fd: int,
        wake: str = "inotify",
        owner: t.Optional[t.Tuple[str, t.Tuple[int, int]]] = None,
    ) -> None:
        """`owner`: (root's BASE, its _owner_mark) for an identity worker, which serves until root's asks it to
        stop or is gone; None for root's manager, which hands identities' requests on and exits when idle."""
        self.base = base
        self.interpreter = interpreter
        self.jobs = os.path.join(base, "jobs")
        self.cache = os.path.join(base, "cache")
        self.idle_timeout = idle_timeout
        self.lock_fd = lock_fd
        self.base_path = list(sys.path)
        self.zygotes = {}  # type: t.Dict[str, Zygote]
        self.running = {}  # type: t.Dict[str, t.Tuple[int, t.Optional[str]]]
        self.fresh = {}  # type: t.Dict[int, t.Tuple[str, float]]
        self.last_activity = time.monotonic()
        self.stopping = False
        self.owner = owner
        self.subs = {}  # type: t.Dict[str, IdentityWorker]
        self.forwarded = {}  # type: t.Dict[str, IdentityWorker]
        self.as_fd = os.open(os.path.join(base, AS_DIR), os.O_RDONLY | os.O_DIRECTORY) if owner is None else -1
        self.wakeup_r, wakeup_w = os.pipe()
        for fd in (self.wakeup_r, wakeup_w):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        signal.set_wakeup_fd(wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_args: None)
        signal.signal(signal.SIGTERM, self._on_term)
        self.inotify = self._watch() if wake == "inotify" else None

    def _on_term(self, *_args: object) -> None:
        self.stopping = True

    def _watch(self) -> t.Optional[int]:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            if fd < 0:
                return None
            if libc.inotify_add_watch(fd, self.jobs.encode(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
                os.close(fd)
                return None
            return int(fd)
        except (OSError, AttributeError):
            return None

    def _watch_also(self, directory_fd: int) -> None:
        """Wake up for replies in an identity worker's jobs directory too (else the loop's timeout finds them)."""
        if self.inotify is None:
            return
        try:
            path = ("/proc/self/fd/%d" % directory_fd).encode()
            ctypes.CDLL(None, use_errno=True).inotify_add_watch(self.inotify, path, IN_MOVED_TO)
        except (OSError, AttributeError):
            pass

    def serve(self) -> None:
        """The event loop."""
        while True:
            self._reap_fresh()
            self._scan()
            self._tend_identities()
            if self.owner is not None and _owner_mark(self.owner[0]) != self.owner[1]:
                self.stopping = True  # root's manager is gone: nobody hands this identity worker requests
            if not self.running and not self._pending():
                idle_for = time.monotonic() - self.last_activity
                # Root's manager tells its identity workers when they idled (that leaves no moment in which it
                # could hand one a request as it leaves); theirs is a backstop for a root's that was killed.
                limit = self.idle_timeout if self.owner is None else 2 * self.idle_timeout + 10
                idle = idle_for >= limit
                if (self.stopping or idle) and self._close_door():
                    return
            self._wait()

    def _wait(self) -> None:
        watched = [self.wakeup_r] + [z.control for z in self.zygotes.values()]
        if self.inotify is not None:
            watched.append(self.inotify)
        if self.inotify is None:
            recently = time.monotonic() - self.last_activity < 5
            timeout = POLL_INTERVAL if self.running or recently else min(0.2, self.idle_timeout)
        else:
            timeout = max(0.05, self.idle_timeout - (time.monotonic() - self.last_activity))
        if self.owner is not None or self.subs:
            timeout = max(0.05, min(timeout, IDENTITY_CHECK))
        try:
            ready = select.select(watched, [], [], timeout)[0]
        except InterruptedError:
            return
        for item in ready:
            if isinstance(item, socket.socket):
                self._zygote_message(item)
            else:
                try:
                    os.read(item, 65536)
                except OSError:
                    pass

    def _pending(self) -> bool:
        return any(name.endswith(".req") for name in self._names())

    def _names(self) -> t.List[str]:
        try:
            return os.listdir(self.jobs)
        except OSError:
            return []

    def _close_door(self) -> bool:
        """Exit atomically: once jobs/ is renamed away no request can arrive unseen."""
        closed = self.jobs + ".closed"
        os.rename(self.jobs, closed)
        if any(name.endswith(".req") for name in os.listdir(closed)):
            os.rename(closed, self.jobs)
            return False
        return True

    def _scan(self) -> None:
        for name in self._names():
            path = os.path.join(self.jobs, name)
            job_id, _dot, kind = name.partition(".")
            if kind == "req":
                try:
                    self._dispatch(job_id, path)
                except (OSError, ValueError, KeyError) as exc:
                    self._reject(job_id, "vmguest-qga executor: cannot run the request: %s\n" % exc)
            elif kind == "cancel":
                self._cancel(job_id, path)
            elif kind == "res" and _size(path) == 0:
                _unlink(path)  # the controller truncates a reply it has read
            elif name == "stop":
                _unlink(path)
                self.stopping = True

    def _dispatch(self, job_id: str, path: str) -> None:
        found = _read_header(path)
        if found is None:
            return
        header, header_len = found
        self.last_activity = time.monotonic()
        if "as" in header and self.owner is None:
            self._hand_on(job_id, path, header["as"])
            return
        if "op" in header:
            _unlink(path)
            self._answer_op(job_id, header["op"])
            return
        running_path = os.path.join(self.jobs, job_id + ".in")
        os.rename(path, running_path)
        with open(running_path, "rb") as handle:
            header_line, payload = handle.read(header_len), handle.read()
        if header.get("file"):
            module = self._module_file(job_id, running_path, str(header["file"]), str(header.get("interpreter")))
            if module is None:
                return
            payload = module
            _write_private(running_path, header_line + payload)
        key = header.get("zip")
        zip_b64: t.Optional[bytes] = None  # read from the cache only when a fresh run needs it
        if key:
            key = str(key)
            if not os.path.isfile(self._cache_path(key)):
                self._need_zip(job_id, running_path)
                return
            stripped = payload
        else:
            stripped, zip_b64 = strip_zip(payload)
            key = content_key(zip_b64) if zip_b64 else None
        whole_on_disk = not header.get("zip")
        zygote = self.zygotes.get(key) if key else None
        preloadable = self._is_own_interpreter(str(header.get("interpreter")))
        if zygote is not None and preloadable and key is not None:
            zygote.used = time.monotonic()
            if whole_on_disk:
                _write_private(running_path, header_line + stripped)  # the fork takes the zip from memory
                whole_on_disk = False
            try:
                zygote.control.sendall(job_id.encode("ascii") + b"\n")
                self.running[job_id] = (0, key)
                return
            except OSError:
                self._zygote_died(key)
        if not whole_on_disk:
            zip_b64 = self._cached_zip(str(key))
            if zip_b64 is None:
                self._need_zip(job_id, running_path)
                return
            _write_private(running_path, header_line + with_zip(stripped, zip_b64))  # a fresh run reads it all
        self._run_fresh(job_id, running_path, header_len, header)
        if key and zip_b64 and preloadable and key not in self.zygotes:
            self._start_zygote(key, zip_b64)

    def _is_own_interpreter(self, interpreter: str) -> bool:
        """Whether `interpreter` is this worker's (by name or where its symlinks lead: python3 and python3.11)."""
        if interpreter == self.interpreter:
            return True
        try:
            return os.path.realpath(interpreter) == os.path.realpath(self.interpreter)
        except (OSError, ValueError):
            return False

    def _module_file(self, job_id: str, running_path: str, path: str, interpreter: str) -> t.Optional[bytes]:
        """The module file a non-pipelined task runs (`INTERPRETER PATH`), read as this worker's identity; None
        (answered as the interpreter would: exit code 2) if it cannot be read."""
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError as exc:
            _unlink(running_path)
            message = "%s: can't open file '%s': [Errno %s] %s\n" % (interpreter, path, exc.errno, exc.strerror)
            _write_private(os.path.join(self.jobs, job_id + ".err"), message.encode())
            finish_job(self.jobs, job_id, 2 << 8, "fresh")
            return None

    def _answer_op(self, job_id: str, op: dict) -> None:
        started = time.monotonic()
        rc, out, err = run_op(op)
        _write_private(os.path.join(self.jobs, job_id + ".out"), out)
        _write_private(os.path.join(self.jobs, job_id + ".err"), err)
        finish_job(self.jobs, job_id, rc << 8, "op", time.monotonic() - started)

    def _cache_path(self, key: str) -> str:
        if not re.match(r"^[0-9a-f]{32}$", key):
            raise ValueError("malformed zip key %r" % key[:40])
        return os.path.join(self.cache, key + ".zip")

    def _cached_zip(self, key: str) -> t.Optional[bytes]:
        """The base64 of the zip cached under `key`, or None."""
        import base64

        try:
            with open(self._cache_path(key), "rb") as handle:
                return base64.b64encode(handle.read())
        except OSError:
            return None

    def _need_zip(self, job_id: str, running_path: str) -> None:
        """Answer a request without its zip that this worker cannot run: the controller resends it whole."""
        _unlink(running_path)
        finish_job(self.jobs, job_id, 0, "needzip")

    def _reject(self, job_id: str, reason: str) -> None:
        """Answer a request that could not run with exit code 255 and the reason on stderr."""
        for suffix in (".req", ".in"):
            _unlink(os.path.join(self.jobs, job_id + suffix))
        _write_private(os.path.join(self.jobs, job_id + ".err"), reason.encode())
        finish_job(self.jobs, job_id, 255 << 8, "rejected")

    def _run_fresh(self, job_id: str, path: str, header_len: int, header: dict) -> None:
        stdin = os.open(path, os.O_RDONLY)
        os.lseek(stdin, header_len, os.SEEK_SET)
        forked = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                _guard_fresh_job(self.jobs, job_id, stdin, header["interpreter"], header.get("env") or {},
                                 manager=os.getppid())
            finally:
                os._exit(127)
        os.close(stdin)
        _unlink(path)
        self.running[job_id] = (pid, None)
        self.fresh[pid] = (job_id, forked)

    def _start_zygote(self, key: str, zip_b64: bytes) -> None:
        import base64

        if len(self.zygotes) >= MAX_ZYGOTES:
            oldest = min(self.zygotes, key=lambda k: self.zygotes[k].used)
            self._drop_zygote(oldest)
        zip_path = self._cache_path(key)
        _write_private(zip_path, base64.b64decode(zip_b64))
        manager_end, zygote_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                manager_end.close()
                _child_signals()
                _close_fds(keep=[zygote_end.fileno()])
                zygote_main(zygote_end, self.jobs, zip_path, self.base_path)
            except BaseException:
                status = 1
            os._exit(status)
        zygote_end.close()
        self.zygotes[key] = Zygote(pid, manager_end)

    def _drop_zygote(self, key: str) -> None:
        zygote = self.zygotes.pop(key)
        zygote.control.close()
        try:
            os.kill(zygote.pid, signal.SIGTERM)
        except OSError:
            pass
        _unlink(os.path.join(self.cache, key + ".zip"))

    def _zygote_message(self, control: socket.socket) -> None:
        key = next((k for k, z in self.zygotes.items() if z.control is control), None)
        if key is None:
            return
        zygote = self.zygotes[key]
        data = control.recv(65536)
        if not data:
            self._zygote_died(key)
            return
        zygote.buffer += data
        while b"\n" in zygote.buffer:
            line, zygote.buffer = zygote.buffer.split(b"\n", 1)
            words = line.decode("ascii").split()
            if words[0] == "started":
                self.running[words[1]] = (int(words[2]), key)
            elif words[0] == "done":
                self.running.pop(words[1], None)
                self.last_activity = time.monotonic()

    def _zygote_died(self, key: str) -> None:
        zygote = self.zygotes.pop(key)
        zygote.control.close()
        for job_id, (pid, owner) in list(self.running.items()):
            if owner == key:
                if pid:
                    _kill_group(pid)
                self.running.pop(job_id)
                _write_private(os.path.join(self.jobs, job_id + ".err"), b"vmguest-qga executor: the zygote died\n")
                finish_job(self.jobs, job_id, 255 << 8, "preloaded")

    def _reap_fresh(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            fresh = self.fresh.pop(pid, None)
            if fresh is not None:
                job_id, forked = fresh
                self.running.pop(job_id, None)
                finish_job(self.jobs, job_id, status, "fresh", time.monotonic() - forked)
                self.last_activity = time.monotonic()
            for key, zygote in list(self.zygotes.items()):
                if zygote.pid == pid:
                    self._zygote_died(key)

    def _cancel(self, job_id: str, path: str) -> None:
        sub = self.forwarded.pop(job_id, None)
        if sub is not None:
            self.running.pop(job_id, None)
            if not sub.hand(path, job_id + ".cancel"):
                _unlink(path)
            return
        pid = self.running.get(job_id, (0, None))[0]
        if pid:
            _kill_group(pid)
            return  # the cancel file stays until the job is reaped: finish_job drops its output
        if job_id in self.running:
            return  # queued in a zygote, pid not known yet
        for suffix in (".req", ".in", ".res", ".out", ".err"):
            _unlink(os.path.join(self.jobs, job_id + suffix))
        _unlink(path)

    def shutdown(self) -> None:
        """Stop the zygotes and the identity workers and remove every file of this worker."""
        for key in list(self.zygotes):
            self._drop_zygote(key)
        for key in list(self.subs):
            self.subs.pop(key).stop()
        shutil.rmtree(self.base, ignore_errors=True)

    # -- identity workers (root's manager only) ---------------------------------------------

    def _hand_on(self, job_id: str, path: str, spec: t.Any) -> None:
        """Give an identity's request to its worker, registering the one the controller just started."""
        key = str(spec.get("key", "")) if isinstance(spec, dict) else ""
        sub = self.subs.get(key)
        if sub is not None and not sub.alive():
            self.subs.pop(key).stop()
            sub = None
        if sub is None and key and isinstance(spec, dict) and spec.get("dir"):
            sub = IdentityWorker.register(self.as_fd, str(spec["dir"]))
            if sub is not None:
                self.subs[key] = sub
                self._watch_also(sub.jobs_fd)
        if sub is not None and not sub.hand(path, job_id + ".req"):
            self.subs.pop(key).stop()  # its directory is gone: a new worker takes the request
            sub = None
        if sub is None:
            _unlink(path)
            finish_job(self.jobs, job_id, 0, "needstart")
            return
        self.forwarded[job_id] = sub
        self.running[job_id] = (0, "as")

    def _tend_identities(self) -> None:
        """Take back the identity workers' replies, answer for those that died, stop the idle ones."""
        for job_id, sub in list(self.forwarded.items()):
            outcome = sub.take_reply(job_id, self.jobs)
            if outcome is None:
                continue
            del self.forwarded[job_id]
            self.running.pop(job_id, None)
            self.last_activity = time.monotonic()
            if outcome:
                _write_private(os.path.join(self.jobs, job_id + ".err"), outcome.encode())
                finish_job(self.jobs, job_id, 255 << 8, "lost")
        busy = set(id(sub) for sub in self.forwarded.values())
        for key, sub in list(self.subs.items()):
            if id(sub) not in busy and (time.monotonic() - sub.used >= self.idle_timeout or self.stopping):
                self.subs.pop(key).stop()


class IdentityWorker:
    """Root's manager's handle on an identity's worker: its jobs directory (held open, so a rename of
    anything in the shared as/ directory cannot redirect root's writes) and its process."""

    def __init__(self, jobs_fd: int, uid: int, gid: int, pid: int, start: str) -> None:
        self.jobs_fd = jobs_fd
        self.uid, self.gid = uid, gid
        self.pid, self.start = pid, start
        self.used = time.monotonic()

    @classmethod
    def register(cls, as_fd: int, name: str) -> "t.Optional[IdentityWorker]":
        """The worker serving as/NAME, if NAME is a worker's own directory and its process runs as its owner."""
        if not name or "/" in name or name.startswith("."):
            return None
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
        try:
            home_fd = os.open(name, flags, dir_fd=as_fd)
        except OSError:
            return None
        jobs_fd = -1
        try:
            home = os.fstat(home_fd)
            jobs_fd = os.open("jobs", flags, dir_fd=home_fd)
            pid_fd = os.open("pid", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=home_fd)
            try:
                pid_text = os.read(pid_fd, 4096).decode("utf-8", "replace")
            finally:
                os.close(pid_fd)
            pid, start = int(pid_text.split()[0]), pid_text.split()[1]
            owned = os.fstat(jobs_fd).st_uid == home.st_uid and home.st_mode & 0o077 == 0
            if owned and _start_time(pid) == start and _process_uid(pid) == home.st_uid:
                worker = cls(jobs_fd, home.st_uid, home.st_gid, pid, start)
                jobs_fd = -1
                return worker
        except (OSError, ValueError, IndexError):
            pass
        finally:
            os.close(home_fd)
            if jobs_fd >= 0:
                os.close(jobs_fd)
        return None

    def alive(self) -> bool:
        return _start_time(self.pid) == self.start

    def hand(self, path: str, name: str) -> bool:
        """Move root's file `path` into the worker's jobs directory as `name`, the worker's to read; False if it
        could not be (the file stays)."""
        self.used = time.monotonic()
        try:
            os.chown(path, self.uid, self.gid)
            os.rename(path, name, dst_dir_fd=self.jobs_fd)
        except OSError:
            return False
        return True

    def take_reply(self, job_id: str, jobs: str) -> t.Optional[str]:
        """None: no reply yet; "": the reply is now jobs/ID.res; else why there is none (the worker died)."""
        target = os.path.join(jobs, job_id + ".res")
        try:
            os.rename(job_id + ".res", target, src_dir_fd=self.jobs_fd)
        except OSError:
            if self.alive():
                return None
            return "vmguest-qga executor: the worker of this identity (pid %d) died while it had the task\n" % self.pid
        self.used = time.monotonic()
        if not stat.S_ISREG(os.lstat(target).st_mode):
            _unlink(target)
            return "vmguest-qga executor: the worker of this identity replied with no regular file\n"
        return ""

    def stop(self) -> None:
        """Ask the worker to exit once idle (it also exits when root's manager is gone)."""
        try:
            os.close(os.open("stop", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600, dir_fd=self.jobs_fd))
        except OSError:
            pass
        os.close(self.jobs_fd)


def _process_uid(pid: int) -> t.Optional[int]:
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return -1


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# ----------------------------------------------------------------------------------------- start


def _stop_stale_versions(base: str) -> None:
    """Stop workers of other versions (another controller release) and remove their files."""
    own_source = os.path.basename(base).split("-")[1]
    parent = os.path.dirname(base)
    for name in os.listdir(parent):
        other = os.path.join(parent, name)
        if other == base or not name.startswith("executor-") or name.split("-")[1] == own_source:
            continue
        try:
            with open(os.path.join(other, "pid")) as handle:
                pid = int(handle.read().split()[0])
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                if other.encode() in handle.read():
                    os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError, IndexError):
            pass
        shutil.rmtree(other, ignore_errors=True)


def _daemonize(ready_w: int) -> None:
    """Leave the agent's process: new session, second fork, stdio on /dev/null."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _enter_home() -> None:
    """Jobs start in $HOME, as the connection starts a pipelined task (posix.START_IN_HOME): else TMPDIR or /."""
    for directory in (os.environ.get("HOME", ""), os.environ.get("TMPDIR") or "/tmp", "/tmp", "/"):
        try:
            os.chdir(directory)
            return
        except OSError:
            continue


def _acceptable_base(base: str) -> bool:
    """An absolute, normalised PARENT/executor-VERSION with PARENT not the root: nothing else is ours to clear."""
    parent = os.path.dirname(base)
    return (
        os.path.isabs(base)
        and os.path.normpath(base) == base
        and parent != "/"
        and os.path.basename(base).startswith("executor-")
    )


def main(argv: t.List[str]) -> int:
    """Start a manager for BASE (unless one runs) and return once it is ready."""
    if len(argv) > 1 and argv[1] == "sub":
        return identity_main(argv)
    base, idle_timeout, interpreter = argv[1], float(argv[2]), argv[3]
    wake = argv[4] if len(argv) > 4 else "inotify"
    parent = os.path.dirname(base)
    if not _acceptable_base(base):
        sys.stderr.write("vmguest-qga executor: refusing base directory %s\n" % base)
        return 2
    old_umask = os.umask(0o077)
    _private_dir(parent, 0o711)
    _private_dir(base, 0o711)
    os.umask(old_umask)
    lock_fd = os.open(os.path.join(base, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another controller started it a moment ago
    _stop_stale_versions(base)
    for name in ("jobs", "jobs.closed", "cache", AS_DIR):
        shutil.rmtree(os.path.join(base, name), ignore_errors=True)  # a dead manager's leftovers
    for name in ("jobs", "cache"):
        _private_dir(os.path.join(base, name))
    _shared_dir(os.path.join(base, AS_DIR))
    return _serve_detached(base, idle_timeout, interpreter, lock_fd, wake)


def identity_main(argv: t.List[str]) -> int:
    """`PYTHON - sub BASE INTERPRETER WAKE IDLE_TIMEOUT`, run as the identity (through its become command): make
    this identity's directory in BASE/as/, print its name once serving there, and serve until root's asks it to
    stop or is gone."""
    base, interpreter, wake, idle_timeout = argv[2], argv[3], argv[4], float(argv[5])
    if not _acceptable_base(base):
        sys.stderr.write("vmguest-qga executor: refusing base directory %s\n" % base)
        return 2
    owner = _owner_mark(base)
    if owner is None:
        sys.stderr.write("vmguest-qga executor: no worker of root's runs in %s to hand this identity tasks\n" % base)
        return 2
    import tempfile

    old_umask = os.umask(0o077)
    home = tempfile.mkdtemp(prefix="%d-" % os.getuid(), dir=os.path.join(base, AS_DIR))
    for name in ("jobs", "cache"):
        _private_dir(os.path.join(home, name))
    os.umask(old_umask)
    lock_fd = os.open(os.path.join(home, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return _serve_detached(home, idle_timeout, interpreter, lock_fd, wake, owner=(base, owner))


def _serve_detached(
    base: str,
    idle_timeout: float,
    interpreter: str,
    lock_fd: int,
    wake: str,
    owner: t.Optional[t.Tuple[str, t.Tuple[int, int]]] = None,
) -> int:
    """Leave the starting process for a daemon that serves BASE; return once it is ready (an identity
    worker prints its directory's name then)."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(ready_w)
        os.close(lock_fd)
        answer = os.read(ready_r, 64)
        os.waitpid(pid, 0)
        if not answer.startswith(b"ready"):
            return 1
        if owner is not None:
            sys.stdout.write(os.path.basename(base) + "\n")
        return 0
    os.close(ready_r)
    _daemonize(ready_w)
    if owner is None:
        _enter_home()
    # (an identity worker stays where its start command ran, in the home a task of that identity starts in)
    manager = Manager(base, idle_timeout, interpreter, lock_fd, wake, owner=owner)
    partial = os.path.join(base, "pid.tmp")
    _write_private(partial, ("%d %s %s\n" % (os.getpid(), _start_time(os.getpid()), interpreter)).encode())
    os.rename(partial, os.path.join(base, "pid"))
    os.write(ready_w, b"ready")
    os.close(ready_w)
    try:
        manager.serve()
    finally:
        manager.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))  # (ansible-test's pylint refuses sys.exit in module_utils)
