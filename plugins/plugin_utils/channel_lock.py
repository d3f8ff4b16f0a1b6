# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One lock per agent channel, shared by every process on this machine.

An agent serves one client at a time and interleaved requests corrupt both
streams, so Ansible forks (separate processes) that reach the same channel
queue on an flock()ed file instead. A client waiting for it also holds a shared
lock on a second file (.wait), so the holder can see it and hand the channel
over between two exchanges instead of keeping it for its whole task.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import time

from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaChannelError, QgaLockTimeout


def lock_dir() -> str:
    """Directory of the lock files: $VMGUEST_QGA_LOCK_DIR, else a private one in the temp dir."""
    configured = os.environ.get("VMGUEST_QGA_LOCK_DIR")
    if configured:
        return configured
    base = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(base, "vmguest-qga-locks-%d" % os.getuid())


def channel_identity(channel: str, domain: str | None) -> tuple[str, str | None]:
    """What names one agent: unix:PATH is PATH, and the domain only counts for libvirt channels.

    (The connection plugin passes the inventory name as the domain whatever the channel, while
    a module's own channel option usually has none: both must meet on the same lock.)
    """
    path = None
    if channel.startswith("unix:"):
        path = channel[len("unix:"):]
    elif ":" not in channel or channel.startswith(("/", ".")):
        path = channel
    if path is not None:
        channel = os.path.realpath(path)
    return channel, domain if channel.startswith("libvirt:") else None


class ChannelLock:
    """An exclusive, bounded-wait lock on one channel (channel string + domain)."""

    def __init__(self, channel: str, domain: str | None = None) -> None:
        self.channel = channel
        identity, identity_domain = channel_identity(channel, domain)
        key = "%s\0%s" % (identity, identity_domain or "")
        self.path = os.path.join(lock_dir(), hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + ".lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, timeout: float) -> None:
        """Take the lock, waiting at most `timeout` seconds."""
        if self._fd is not None:
            return
        fd = self._open(self.path)
        deadline = time.monotonic() + timeout
        delay = 0.002
        waiting: int | None = None  # our shared lock on the .wait file while we wait: the holder hands over
        try:
            while not _try_flock(fd, fcntl.LOCK_EX, self.path, self.channel):
                if time.monotonic() >= deadline:
                    raise QgaLockTimeout(
                        "another client%s has been using the channel for more than %.0f s (lock_timeout; "
                        "ansible_qga_lock_timeout sets it); the agent serves one client at a time (lock file %s)"
                        % (self._holder(fd), timeout, self.path),
                        channel=self.channel,
                    )
                if waiting is None:
                    waiting = self._open(self.wait_path)
                    fcntl.flock(waiting, fcntl.LOCK_SH)
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        except BaseException:
            os.close(fd)
            raise
        finally:
            if waiting is not None:
                os.close(waiting)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    @property
    def wait_path(self) -> str:
        """The file clients waiting for the lock hold a shared lock on (see others_waiting)."""
        return self.path + ".wait"

    def others_waiting(self) -> bool:
        """Whether another client waits for this lock: a holder that sees one hands the channel over."""
        fd = self._open(self.wait_path)
        try:
            return not _try_flock(fd, fcntl.LOCK_EX, self.wait_path, self.channel)
        finally:
            os.close(fd)  # also drops the exclusive lock taken when nobody waits

    def let_waiters_in(self, bound: float) -> None:
        """After a release: wait (at most `bound` s) until the clients that waited took the lock in turn."""
        deadline = time.monotonic() + bound
        while self.others_waiting() and time.monotonic() < deadline:
            time.sleep(0.002)

    def release(self) -> None:
        """Release the lock. Safe to call when not held."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _open(self, path: str) -> int:
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            return os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            raise QgaChannelError(
                "cannot create lock file %s: %s (set VMGUEST_QGA_LOCK_DIR to a writable directory)"
                % (path, exc.strerror),
                channel=self.channel,
            ) from None

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            pid = os.pread(fd, 32, 0).decode().strip()
        except OSError:
            return ""
        return " (pid %s)" % pid if pid.isdigit() else ""


def _try_flock(fd: int, operation: int, path: str, channel: str) -> bool:
    """flock without waiting: True when taken, False when another holds it."""
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise QgaChannelError("cannot lock %s: %s" % (path, exc.strerror), channel=channel) from None
    return True
