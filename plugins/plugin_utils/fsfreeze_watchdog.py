# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fsfreeze bookkeeping of vmguest.qga.qga_fsfreeze and its auto-thaw watchdog.

The state of a freeze (when it happened, which watchdog guards it) lives in a
JSON file per channel (+ libvirt domain) next to the channel's lock file (see
channel_lock.lock_dir). Only a holder of the channel lock changes it: the
action plugin while its task talks to the agent, the watchdog while it thaws.

The watchdog is a detached controller process (its own session, reparented to
init, started with the controller's Python and the collection on sys.path). It
sleeps until the deadline written in the state file, then connects with the
same channel options, and thaws the guest if it is still frozen. A thaw, or a
later freeze, cancels it: the state file no longer names its token (it exits on
its own at the next look) and it is killed by pid once /proc (or ps) shows it
is really this watchdog.

No Ansible imports: the watchdog runs without the controller.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import traceback
import typing as t

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaError
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import SharedChannelAccess, shared_client
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_lock import ChannelLock, channel_identity

MARKER = "vmguest-qga-fsfreeze-watchdog"
STATE_SUFFIX = ".fsfreeze.json"
LOG_SUFFIX = ".fsfreeze-watchdog.log"
LOG_MAX_BYTES = 256 * 1024
# How often the sleeping watchdog looks at the state file (cancellation, a moved deadline).
POLL_SECONDS = 0.5
# After the deadline, how long the watchdog keeps trying to reach an agent that does not answer.
RETRY_WINDOW_SECONDS = 600.0
RETRY_DELAY_SECONDS = 5.0
THAW_TIMEOUT_SECONDS = 120.0
SPAWN_TIMEOUT_SECONDS = 60.0

_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from ansible_collections.vmguest.qga.plugins.plugin_utils.fsfreeze_watchdog import main; "
    "sys.exit(main(sys.argv[2:]))"
)


class WatchdogError(Exception):
    """The watchdog could not be started (or its state not be kept)."""


def iso_time(epoch: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC, or None."""
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat(timespec="milliseconds")


# -- the state file ---------------------------------------------------------


def state_key(channel: str, domain: str | None) -> tuple[str, str | None]:
    """What names a guest: the domain only counts for libvirt channels, unix:PATH is PATH.

    (The connection plugin passes the inventory name as the domain whatever the channel.)
    """
    return channel_identity(channel, domain)


class FreezeState:
    """The state file of one channel (+ domain): read, write atomically, remove."""

    def __init__(self, channel: str, domain: str | None = None) -> None:
        self.channel = channel
        self.domain = domain
        base = ChannelLock(*state_key(channel, domain)).path
        if base.endswith(".lock"):
            base = base[: -len(".lock")]
        self.path = base + STATE_SUFFIX
        self.log_path = base + LOG_SUFFIX

    def read(self) -> dict[str, t.Any]:
        """The recorded state ({} when there is none or it is unreadable)."""
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, data: dict[str, t.Any]) -> None:
        """Replace the state (atomically, mode 0600)."""
        data = dict(data, channel=self.channel, domain=self.domain)
        directory = os.path.dirname(self.path)
        tmp = "%s.%d.tmp" % (self.path, os.getpid())
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise WatchdogError(
                "cannot write the fsfreeze state file %s: %s (set VMGUEST_QGA_LOCK_DIR to a writable directory)"
                % (self.path, exc.strerror)
            ) from None

    def remove(self) -> None:
        """Forget the state."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def log(self, text: str) -> None:
        """Append a line to the watchdog log of this channel (best effort)."""
        try:
            if os.path.getsize(self.log_path) > LOG_MAX_BYTES:
                os.replace(self.log_path, self.log_path + ".1")
        except OSError:
            pass
        try:
            with open(self.log_path, "a") as handle:
                handle.write("%s pid %d: %s\n" % (iso_time(time.time()), os.getpid(), text))
        except OSError:
            pass


# -- processes ----------------------------------------------------------------


def collection_root() -> str:
    """The directory holding ansible_collections/vmguest/qga (this file's collection)."""
    parts = os.path.abspath(__file__).split(os.sep)
    for index in range(len(parts) - 3, -1, -1):
        if parts[index : index + 3] == ["ansible_collections", "vmguest", "qga"]:
            return os.sep.join(parts[:index]) or os.sep
    for entry in sys.path:
        if entry and os.path.isdir(os.path.join(entry, "ansible_collections", "vmguest", "qga")):
            return entry
    raise WatchdogError("cannot tell where the vmguest.qga collection is installed (from %s)" % __file__)


def process_command_line(pid: int) -> tuple[int, str] | None:
    """(uid, command line) of a live process, or None when it is gone (or a zombie)."""
    proc = "/proc/%d" % pid
    if os.path.isdir("/proc/self"):
        try:
            with open(proc + "/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return None
            uid = os.stat(proc).st_uid
            with open(proc + "/cmdline", "rb") as handle:
                return uid, handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except (OSError, IndexError):
            return None
    try:
        out = subprocess.run(
            ["ps", "-ww", "-o", "uid=,stat=,command=", "-p", str(pid)], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return None
    fields = out.split(None, 2)
    if len(fields) < 3 or fields[1].startswith("Z"):
        return None
    return int(fields[0]), fields[2]


def is_our_watchdog(pid: int | None, token: str | None) -> bool:
    """Whether `pid` is a live watchdog of this user carrying `token`."""
    if not pid or not token:
        return False
    found = process_command_line(int(pid))
    if found is None:
        return False
    uid, command = found
    return uid == os.getuid() and MARKER in command and token in command


def stop_watchdog(watchdog: dict[str, t.Any] | None, wait: float = 3.0) -> bool:
    """Kill the watchdog described by a state entry if it still runs and is ours; True if one was stopped."""
    if not watchdog:
        return False
    pid, token = watchdog.get("pid"), watchdog.get("token")
    if pid is None or not is_our_watchdog(pid, token):
        return False
    try:
        os.kill(int(pid), signal.SIGTERM)
    except OSError:
        return False
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and is_our_watchdog(pid, token):
        time.sleep(0.02)
    if is_our_watchdog(pid, token):
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    return True


def new_token() -> str:
    """A random token naming one watchdog."""
    return secrets.token_hex(16)


def spawn_watchdog(client: QgaClient, state: FreezeState, token: str) -> int:
    """Start a detached watchdog for the channel of `client`; return its pid.

    The state file must already name `token` (with the deadline): a watchdog
    that does not find its token there exits at once.
    """
    config = {
        "channel": client.channel,
        "domain": client.domain,
        "timeout": client.timeout,
        "connect_timeout": client.connect_timeout,
        "lock_timeout": client.access.lock_timeout if isinstance(client.access, SharedChannelAccess) else None,
        "token": token,
    }
    argv = [sys.executable, "-c", _BOOTSTRAP, collection_root(), MARKER, json.dumps(config, sort_keys=True)]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
            cwd="/",
        )
    except OSError as exc:
        raise WatchdogError("cannot start the auto-thaw watchdog (%s): %s" % (sys.executable, exc)) from None
    try:
        out, err = proc.communicate(timeout=SPAWN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise WatchdogError("the auto-thaw watchdog did not start within %.0f s" % SPAWN_TIMEOUT_SECONDS) from None
    text = out.decode("utf-8", "replace").strip()
    if proc.returncode != 0 or not text.isdigit():
        detail = err.decode("utf-8", "replace").strip().splitlines()
        raise WatchdogError(
            "the auto-thaw watchdog failed to start (exit status %s): %s"
            % (proc.returncode, detail[-1] if detail else text or "no output")
        )
    return int(text)


# -- the watchdog process ------------------------------------------------------


def _detach() -> bool:
    """Fork once more: the parent (the launcher, a session leader) prints the child's pid and returns False."""
    pid = os.fork()
    if pid:
        return False
    # The watchdog: no session leader, so it can never acquire a controlling terminal.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.write(1, b"%d\n" % os.getpid())
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    return True


def main(argv: list[str]) -> int:
    """Entry point of the launcher/watchdog process: argv is [MARKER, JSON config]."""
    if len(argv) != 2 or argv[0] != MARKER:
        sys.stderr.write("usage: %s CONFIG_JSON\n" % MARKER)
        return 2
    config = json.loads(argv[1])
    state = FreezeState(config["channel"], config.get("domain"))
    if state.read().get("watchdog", {}).get("token") != config["token"]:
        sys.stderr.write("the state file %s does not name this watchdog\n" % state.path)
        return 3
    sys.stdout.flush()
    if not _detach():
        return 0
    code = 1
    try:
        code = watch(config, state)
    except BaseException:
        state.log("crashed: %s" % traceback.format_exc().replace("\n", " | "))
    # Never return into the launcher's code path (or run atexit handlers twice) from the forked watchdog.
    os._exit(code)


def _current(state: FreezeState, token: str) -> dict[str, t.Any] | None:
    """The state when it still names this watchdog, else None."""
    data = state.read()
    watchdog = data.get("watchdog") or {}
    return data if watchdog.get("token") == token else None


def watch(config: dict[str, t.Any], state: FreezeState) -> int:
    """Sleep until the deadline (unless cancelled), then thaw if still frozen; retry an unreachable agent."""
    token = config["token"]
    state.log("watching %s (domain %s)" % (config["channel"], config.get("domain")))
    while True:
        data = _current(state, token)
        if data is None:
            state.log("cancelled")
            return 0
        left = float(data["watchdog"]["deadline"]) - time.time()
        if left > 0:
            time.sleep(min(POLL_SECONDS, left))
            continue
        break
    give_up = time.time() + RETRY_WINDOW_SECONDS
    while True:
        try:
            return _thaw_if_frozen(config, state, token)
        except QgaError as exc:
            state.log("cannot thaw yet: %s" % exc)
            if time.time() > give_up:
                state.log("giving up after %.0f s; the guest may still be frozen" % RETRY_WINDOW_SECONDS)
                return 1
        time.sleep(RETRY_DELAY_SECONDS)
        if _current(state, token) is None:
            state.log("cancelled")
            return 0


def _thaw_if_frozen(config: dict[str, t.Any], state: FreezeState, token: str) -> int:
    client = shared_client(
        config["channel"],
        domain=config.get("domain"),
        timeout=float(config.get("timeout") or 30.0),
        connect_timeout=float(config.get("connect_timeout") or 10.0),
        lock_timeout=float(config.get("lock_timeout") or 120.0),
    )
    with client:
        # Holding the channel lock now: nobody else changes the state file meanwhile.
        data = _current(state, token)
        if data is None:
            state.log("cancelled while waiting for the channel")
            return 0
        status = client.execute("guest-fsfreeze-status")
        now = time.time()
        frozen_at = data.get("frozen_at")
        record: dict[str, t.Any] = {"at": now, "status_before": status, "thawed": 0,
                                    "frozen_seconds": round(now - frozen_at, 3) if frozen_at else None}
        if status == "frozen":
            record["thawed"] = client.execute("guest-fsfreeze-thaw", timeout=max(client.timeout, THAW_TIMEOUT_SECONDS))
            state.log("thawed %s filesystem(s) after the auto-thaw deadline" % record["thawed"])
        else:
            state.log("the guest was no longer frozen (%s); nothing to do" % status)
        data.update(watchdog=None, frozen_at=None, auto_thawed=record if status == "frozen" else None)
        state.write(data)
    return 0
