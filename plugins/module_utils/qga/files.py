# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Streamed file transfer through guest-file-open/read/write/seek/close.

Nothing here holds a whole file in memory: data moves chunk by chunk between a
local binary stream and the guest, with a sha256 of what moved. Handles are
always closed, also when a transfer fails half-way.

Note: qemu-ga creates files with mode 0666 whatever the umask. Callers that
move anything private write into a 0700 directory (or fix the mode first).
"""

from __future__ import annotations

import base64
import hashlib
import io
import typing as t
from dataclasses import dataclass

from .errors import QgaCommandError, QgaCommandRefused, QgaError, QgaFileError

if t.TYPE_CHECKING:
    from .client import QgaClient

MiB = 1024 * 1024
# Measured on the host agent and the TCG VM with bench/raw_channel.py: past ~1 MiB per
# message the agent's JSON parsing, not the round trips, limits writes; reads keep
# gaining up to a few MiB. Transports with tighter limits cap these (see TransportLimits).
DEFAULT_WRITE_CHUNK = 1 * MiB
DEFAULT_READ_CHUNK = 4 * MiB
SMALL_READ_CHUNK = 64 * 1024

# Called after each chunk with the bytes moved so far (progress lines of long transfers).
ProgressCallback = t.Callable[[int], None]


@dataclass(frozen=True)
class TransferResult:
    """What moved: byte count and the sha256 hex digest of those bytes."""

    size: int
    sha256: str


def write_chunk_size(client: QgaClient, requested: int | None = None) -> int:
    """The raw bytes per guest-file-write: what was asked (or the default), capped by the transport."""
    return max(1, min(requested or DEFAULT_WRITE_CHUNK, client.limits.max_write_chunk))


def read_chunk_size(client: QgaClient, requested: int | None = None) -> int:
    """The count per guest-file-read: what was asked (or the default), capped by the transport."""
    return max(1, min(requested or DEFAULT_READ_CHUNK, client.limits.max_read_chunk))


class GuestFile:
    """An open file in the guest (a guest-file-open handle). Use as a context manager."""

    def __init__(self, client: QgaClient, path: str, mode: str = "r") -> None:
        self.client = client
        self.path = path
        self.mode = mode
        try:
            self.handle: int | None = client.execute("guest-file-open", {"path": path, "mode": mode})
        except QgaCommandError as exc:
            raise self._error("cannot open for %s" % _mode_word(mode), exc) from None

    def __enter__(self) -> GuestFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def read(self, count: int) -> tuple[bytes, bool]:
        """Read up to `count` bytes; return (data, eof)."""
        try:
            reply = self.client.execute("guest-file-read", {"handle": self._handle(), "count": count})
        except QgaCommandError as exc:
            raise self._error("read failed", exc) from None
        return base64.b64decode(reply.get("buf-b64", "")), bool(reply.get("eof"))

    def write(self, data: bytes) -> None:
        """Write all of `data` (repeating guest-file-write if the agent wrote less)."""
        view = memoryview(data)
        while view:
            try:
                reply = self.client.execute(
                    "guest-file-write", {"handle": self._handle(), "buf-b64": base64.b64encode(view).decode("ascii")}
                )
            except QgaCommandError as exc:
                raise self._error("write failed", exc) from None
            written = int(reply.get("count", 0))
            if written <= 0:
                raise QgaFileError(
                    "write failed: the agent wrote 0 of %d bytes to %s (disk full?)" % (len(view), self.path),
                    channel=self.client.channel,
                    command="guest-file-write",
                )
            view = view[written:]

    def seek(self, offset: int, whence: str = "set") -> int:
        """Move the file position (whence: set|cur|end); return the new position."""
        try:
            reply = self.client.execute(
                "guest-file-seek", {"handle": self._handle(), "offset": offset, "whence": whence}
            )
        except QgaCommandError as exc:
            raise self._error("seek failed", exc) from None
        return int(reply["position"])

    def flush(self) -> None:
        """Flush the agent's buffered writes to the file."""
        try:
            self.client.execute("guest-file-flush", {"handle": self._handle()})
        except QgaCommandError as exc:
            raise self._error("flush failed", exc) from None

    def close(self) -> None:
        """Close the handle; errors on close of a broken channel are not raised twice."""
        handle, self.handle = self.handle, None
        if handle is None or not self.client.connected:
            return
        try:
            self.client.execute("guest-file-close", {"handle": handle})
        except QgaCommandError as exc:
            raise self._error("close failed", exc) from None

    def _handle(self) -> int:
        if self.handle is None:
            raise QgaFileError("%s is closed" % self.path, channel=self.client.channel)
        return self.handle

    def _error(self, what: str, exc: QgaCommandError) -> QgaError:
        if isinstance(exc, QgaCommandRefused):
            return exc  # it already says why the agent refused and what to do
        return QgaFileError("%s %s: %s" % (what, self.path, exc.desc), channel=self.client.channel, command=exc.command)


def _mode_word(mode: str) -> str:
    return "reading" if mode.startswith("r") and "+" not in mode else "writing"


class ByteSource(t.Protocol):
    """What write_file reads from: a binary file, or anything else with read(size)."""

    def read(self, size: int = -1, /) -> bytes: ...


class ByteSink(t.Protocol):
    """What read_file writes to: a binary file, or anything else with write(data)."""

    def write(self, data: bytes, /) -> object: ...


def write_file(
    client: QgaClient,
    path: str,
    source: ByteSource,
    chunk_size: int | None = None,
    mode: str = "w",
    progress: ProgressCallback | None = None,
) -> TransferResult:
    """Stream `source` into the guest file `path` (created or truncated unless `mode` says otherwise)."""
    chunk = write_chunk_size(client, chunk_size)
    digest = hashlib.sha256()
    size = 0
    with GuestFile(client, path, mode) as guest_file:
        while True:
            data = source.read(chunk)
            if not data:
                break
            guest_file.write(data)
            digest.update(data)
            size += len(data)
            if progress is not None:
                progress(size)
    return TransferResult(size=size, sha256=digest.hexdigest())


def read_file(
    client: QgaClient,
    path: str,
    sink: ByteSink,
    chunk_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> TransferResult:
    """Stream the guest file `path` into `sink`."""
    chunk = read_chunk_size(client, chunk_size)
    digest = hashlib.sha256()
    size = 0
    with GuestFile(client, path, "r") as guest_file:
        while True:
            data, eof = guest_file.read(chunk)
            if data:
                sink.write(data)
                digest.update(data)
                size += len(data)
                if progress is not None:
                    progress(size)
            if eof or not data:
                break
    return TransferResult(size=size, sha256=digest.hexdigest())


def read_bytes(client: QgaClient, path: str, max_bytes: int = 16 * MiB, chunk_size: int | None = None) -> bytes:
    """Return a small guest file's content; a file over `max_bytes` is an error, not a short read."""
    # Small reads by default: the kernel refuses multi-MiB reads of /proc and /sys files.
    chunk = read_chunk_size(client, min(chunk_size or SMALL_READ_CHUNK, max_bytes + 1))
    parts: list[bytes] = []
    size = 0
    with GuestFile(client, path, "r") as guest_file:
        while True:
            data, eof = guest_file.read(chunk)
            parts.append(data)
            size += len(data)
            if size > max_bytes:
                raise QgaFileError(
                    "%s is larger than %d bytes; stream it with read_file()" % (path, max_bytes),
                    channel=client.channel,
                )
            if eof or not data:
                break
    return b"".join(parts)


def write_bytes(client: QgaClient, path: str, data: bytes, chunk_size: int | None = None) -> TransferResult:
    """Write `data` to the guest file `path` (created or truncated)."""
    return write_file(client, path, io.BytesIO(data), chunk_size=chunk_size)
