# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A channel relay: keeps one agent channel open between clients (like ssh's ControlPersist).

Every Ansible task is a new process with a new connection. On a QEMU socket that costs more
than the connect: while no client is attached, qemu-ga on a virtio-serial port sleeps 100 ms
between reads, so each new client first waits for it to wake (about 80 ms measured on the
test VM); an exec:ssh channel pays an ssh login per task. The relay is a small detached
process that holds the upstream channel open and passes bytes between it and one local
client at a time, on a unix socket in the lock directory (0700, socket 0600). Clients still
take the channel lock and resync on every connect, so a relay is transparent to them; every
controller client (SharedChannelAccess) uses a running relay for its channel, whether or not it asked for one, because
the relay holds the agent's only client slot. The relay exits when the upstream closes
(agent or VM gone: its client sees the channel close) and after `idle` seconds without a client.

Started by SharedChannelAccess(persist=SECONDS) (channel_access.py); run as
``python -c 'from ...plugin_utils.relay import main; raise SystemExit(main())' CHANNEL SOCKET IDLE``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import typing as t

from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import (
    QgaChannelError,
    QgaError,
    QgaLockTimeout,
    QgaTimeoutError,
)
from ansible_collections.vmguest.qga.plugins.module_utils.qga.transport import KiB, StreamTransport, open_transport
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_lock import ChannelLock, channel_identity, lock_dir

# (A serial line's timeouts belong to the port, shared by a sender and a receiver thread.)
RELAYED_SCHEMES = ("unix", "tcp", "exec")
# How long a starting relay may take to open the upstream (an exec:ssh channel logs in first).
START_POLL_INTERVAL = 0.01
# Bytes the relay moves at once, and how long it blocks before it looks at its state again.
CHUNK = 256 * KiB
TICK = 0.5


def relayable(channel: str) -> bool:
    """Whether a channel is a byte stream a relay can hold (libvirt keeps its own connection)."""
    scheme, sep, _rest = channel.partition(":")
    return not sep or scheme.startswith(("/", ".")) or scheme in RELAYED_SCHEMES


def socket_path(channel: str, domain: str | None = None) -> str:
    """The relay socket of a channel, keyed like its lock (unix:PATH is PATH)."""
    identity, _domain = channel_identity(channel, domain)
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
    return os.path.join(lock_dir(), digest + ".relay")


def connect_running(channel: str, domain: str | None = None) -> socket.socket | None:
    """A connected socket to the channel's running relay, or None when none runs."""
    if not relayable(channel):
        return None
    path = socket_path(channel, domain)
    if not os.path.exists(path):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None  # a relay that died; the next start replaces its socket
    return sock


def ensure(channel: str, domain: str | None, idle: float, timeout: float) -> socket.socket:
    """A socket to the channel's relay, started if none runs. Call with the channel lock held."""
    sock = connect_running(channel, domain)
    if sock is not None:
        return sock
    path = socket_path(channel, domain)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    root = _collections_root()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in sys.path if p and p != root]))
    code = "from ansible_collections.vmguest.qga.plugins.plugin_utils.relay import main; raise SystemExit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, channel, path, "%g" % idle],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock = connect_running(channel, domain)
        if sock is not None:
            _detach(proc)
            return sock
        if proc.poll() is not None and proc.returncode != 0:
            # The relay's first words are the error opening the channel, as a direct client would see it.
            reason = (proc.stderr.read() if proc.stderr else b"").decode("utf-8", "replace").strip()
            raise QgaChannelError(reason[-1000:] or "the channel relay exited with status %d" % proc.returncode,
                                  channel=channel)
        time.sleep(START_POLL_INTERVAL)
    proc.kill()
    _detach(proc)
    raise QgaTimeoutError("the channel relay did not open the channel within %.1f s" % timeout, channel=channel)


def stop(channel: str, domain: str | None = None, timeout: float = 5.0) -> int | None:
    """Stop the channel's running relay (meta: reset_connection, as ssh's reset ends its ControlPersist master).

    Returns its pid, or None when none runs. The relay writes its pid into its lock file, which it holds while
    it runs: a pid read from a lock nobody holds is stale and not signalled.
    """
    lock_path = socket_path(channel, domain) + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None  # nobody holds it: no relay runs
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    if not text.isdigit():
        return None
    pid = int(text)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + timeout
    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
        time.sleep(START_POLL_INTERVAL)
    return pid


def _detach(proc: subprocess.Popen[bytes]) -> None:
    """Stop caring about a started relay: it lives on in its own session, reparented to init."""
    if proc.stderr is not None:
        proc.stderr.close()
    proc.returncode = 0  # so Popen's destructor neither waits nor warns


def _collections_root() -> str:
    # .../ansible_collections/vmguest/qga/plugins/plugin_utils/relay.py: five levels up.
    path = os.path.abspath(__file__)
    for _level in range(5):
        path = os.path.dirname(path)
    return os.path.dirname(path)


# ------------------------------------------------------------------------------------ the relay


class Relay:
    """Passes bytes between the upstream channel and one local client at a time."""

    def __init__(self, upstream: StreamTransport, listener: socket.socket, idle: float, path: str) -> None:
        self.upstream = upstream
        self.path = path
        # Clients hold the channel lock from before they connect here until they hang up, so a
        # relay that holds it knows no client is on its way: only then does it leave when idle.
        self.leaving_lock = ChannelLock(upstream.channel)
        self.upstream_reader = upstream.reader()
        self.listener = listener
        self.idle = idle
        self.client: socket.socket | None = None
        self.guard = threading.Lock()
        self.upstream_gone = threading.Event()

    def serve(self) -> None:
        """Until the upstream closes or `idle` seconds pass without a client."""
        reader = threading.Thread(target=self._from_upstream, daemon=True)
        reader.start()
        self.listener.settimeout(TICK)
        idle_since = time.monotonic()
        while not self.upstream_gone.is_set():
            if self.client is None:
                if time.monotonic() - idle_since >= self.idle and self._leave():
                    return
                try:
                    client, _address = self.listener.accept()
                except socket.timeout:
                    continue
                client.settimeout(TICK)
                with self.guard:
                    self.client = client
            if not self._to_upstream(self.client):
                self._drop_client()
                idle_since = time.monotonic()

    def _leave(self) -> bool:
        """Take the channel lock and remove the socket; False while a client holds the lock."""
        try:
            self.leaving_lock.acquire(0)
        except QgaLockTimeout:
            return False
        os.unlink(self.path)
        return True

    def _to_upstream(self, client: socket.socket) -> bool:
        """Forward what the client sent; False once it hung up."""
        try:
            data = client.recv(CHUNK)
        except socket.timeout:
            return True
        except OSError:
            return False
        if not data:
            return False
        try:
            self.upstream.send(data, 60.0)
        except QgaError:
            self.upstream_gone.set()
        return True

    def _from_upstream(self) -> None:
        while not self.upstream_gone.is_set():
            try:
                data = self.upstream_reader.receive(TICK)
            except QgaTimeoutError:
                continue
            except QgaError:
                self.upstream_gone.set()
                break
            with self.guard:
                client = self.client
            if client is None:
                continue  # replies nobody waits for: the next client resyncs past them anyway
            try:
                client.sendall(data)
            except OSError:
                pass  # the client is gone; the main loop notices

    def _drop_client(self) -> None:
        with self.guard:
            client, self.client = self.client, None
        if client is not None:
            client.close()

    def close(self) -> None:
        """Hang up on the client (it sees the channel close) and the upstream."""
        self._drop_client()
        if self.upstream_reader is not self.upstream:
            self.upstream_reader.close()
        self.upstream.close()
        self.leaving_lock.release()


def main(argv: t.Sequence[str] | None = None) -> int:
    """The relay process: CHANNEL SOCKET IDLE. Exits 0 at once when another relay holds the channel."""
    channel, path, idle = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # and clean up: remove the socket, hang up
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    lock_fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return 0
        raise
    os.ftruncate(lock_fd, 0)
    os.pwrite(lock_fd, str(os.getpid()).encode(), 0)  # for stop()
    upstream = open_transport(channel)
    if not isinstance(upstream, StreamTransport):
        sys.stderr.write("a %s channel is not relayed\n" % channel.partition(":")[0])
        return 2
    try:
        upstream.open(30.0)
    except QgaError as exc:
        sys.stderr.write("%s\n" % exc.reason)
        return 1
    listener = _listen(path)
    relay = Relay(upstream, listener, float(idle), path)
    try:
        relay.serve()
    finally:
        if os.path.exists(path):
            os.unlink(path)  # the upstream is gone: no client may connect any more
        listener.close()
        relay.close()
    return 0


def _exit_on_signal(number: int, _frame: object) -> None:
    raise SystemExit(128 + number)


def _listen(path: str) -> socket.socket:
    for leftover in (path, path + ".new"):
        if os.path.exists(leftover):
            os.unlink(leftover)  # a dead relay's (we hold the lock, so no live relay owns them)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path + ".new")
    finally:
        os.umask(old_umask)
    listener.listen(8)
    os.rename(path + ".new", path)  # clients see the socket only once it accepts
    return listener
