# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Byte channels to a guest agent, all chosen by one channel string.

    /path/to/sock | unix:/path   unix socket (libvirt/Proxmox/QEMU chardev)
    tcp:HOST:PORT                 TCP (a QEMU tcp chardev, socat bridge)
    serial:URL                    any pyserial URL (/dev/ttyS1, a pty, rfc2217://...)
    exec:COMMAND                  stdin/stdout of a command, e.g.
                                  exec:ssh hv socat - UNIX-CONNECT:/run/qemu-server/100.qga
    libvirt:URI                   libvirt's qemuAgentCommand on a domain (libvirt owns the socket)

Stream transports carry raw bytes; the client does the framing. The libvirt
transport carries whole messages, because libvirt frames and syncs itself.
"""

from __future__ import annotations

import os
import re
import select
import selectors
import shlex
import socket
import stat
import subprocess
import tempfile
import time
import typing as t
from dataclasses import dataclass

from .errors import QgaAgentGone, QgaChannelError, QgaTimeoutError, QgaUnsupportedError, command_error

MiB = 1024 * 1024
KiB = 1024

# qemu-ga refuses a JSON message over 64 MiB; base64 makes 4/3 of the raw size.
AGENT_MAX_REQUEST_BYTES = 64 * MiB
AGENT_MAX_READ_COUNT = 48 * MiB
# guest-exec keeps at most this much of each output stream and drops the rest.
AGENT_EXEC_CAPTURE_BYTES = 16 * MiB


@dataclass(frozen=True)
class TransportLimits:
    """What one request and one reply may carry on a transport, in bytes of JSON text."""

    max_request_bytes: int
    max_reply_bytes: int

    @property
    def max_write_chunk(self) -> int:
        """Largest raw chunk one guest-file-write may carry (base64 + envelope must fit a request)."""
        return _raw_bytes_fitting(self.max_request_bytes)

    @property
    def max_read_chunk(self) -> int:
        """Largest raw count one guest-file-read may ask for (its base64 reply must fit)."""
        return min(AGENT_MAX_READ_COUNT, _raw_bytes_fitting(self.max_reply_bytes))

    @property
    def exec_capture_fits(self) -> bool:
        """Whether a guest-exec-status reply with both streams at the agent's cap fits a reply."""
        return _base64_len(2 * AGENT_EXEC_CAPTURE_BYTES) + 4 * KiB <= self.max_reply_bytes


def _base64_len(raw_bytes: int) -> int:
    return 4 * ((raw_bytes + 2) // 3)


def _raw_bytes_fitting(json_bytes: int) -> int:
    # Leave 1 KiB for the envelope ({"execute": ..., "arguments": {"handle": ...}}),
    # round down to a 3-byte multiple so chunks encode without padding.
    usable = (json_bytes - KiB) * 3 // 4
    return usable - usable % 3


# Direct channels: the agent's own parser limit.
DIRECT_LIMITS = TransportLimits(max_request_bytes=AGENT_MAX_REQUEST_BYTES, max_reply_bytes=1 << 62)
# libvirt, measured: a request over ~200 KB of JSON never completes and leaves the agent flaky;
# replies over 4 MiB fail to encode and over 10 MiB break the domain's agent until it restarts.
LIBVIRT_LIMITS = TransportLimits(max_request_bytes=200 * 1000, max_reply_bytes=3 * MiB)
# virDomainState numbers, named as virsh domstate names them.
DOMAIN_STATES = {
    0: "nostate", 1: "running", 2: "blocked", 3: "paused", 4: "shutdown", 5: "shutoff", 6: "crashed", 7: "pmsuspended",
}


class StreamTransport:
    """A bidirectional byte stream to the agent."""

    kind = "stream"
    limits = DIRECT_LIMITS

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def open(self, timeout: float) -> None:
        """Open the channel, waiting at most `timeout` seconds."""
        raise NotImplementedError

    def send(self, data: bytes, timeout: float) -> None:
        """Write all of `data`."""
        raise NotImplementedError

    def receive(self, timeout: float) -> bytes:
        """Return the bytes available (at least one), waiting at most `timeout` seconds."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the channel. Safe to call twice."""
        raise NotImplementedError

    def reader(self) -> StreamTransport:
        """A handle for receiving while another thread sends through this one (the channel relay)."""
        return self

    def _error(self, message: str) -> QgaChannelError:
        return QgaChannelError(message, channel=self.channel)

    def _gone(self, what: str) -> QgaChannelError:
        """The stream ended or was reset: whichever way the kernel reports it, the cause is the same."""
        return self._error("%s (the agent or the VM went away)" % what)

    def _timeout(self, what: str, timeout: float) -> QgaTimeoutError:
        return QgaTimeoutError("no %s within %.1f s" % (what, timeout), channel=self.channel)


class SocketTransport(StreamTransport):
    """A unix or TCP socket."""

    def __init__(self, channel: str, family: int, address: t.Any) -> None:
        super().__init__(channel)
        self._family = family
        self._address = address
        self._sock: socket.socket | None = None

    def open(self, timeout: float) -> None:
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self._address)
        except socket.timeout:
            sock.close()
            raise self._timeout("connection", timeout) from None
        except OSError as exc:
            sock.close()
            raise self._error("cannot connect: %s%s" % (exc.strerror or exc, self._connect_hint(exc))) from None
        self._sock = sock

    @classmethod
    def connected(cls, channel: str, sock: socket.socket) -> SocketTransport:
        """A transport over an already connected unix socket (a channel relay's)."""
        transport = cls(channel, socket.AF_UNIX, sock.getpeername())
        transport._sock = sock
        return transport

    def _connect_hint(self, exc: OSError) -> str:
        if self._family != socket.AF_UNIX:
            return ""
        if isinstance(exc, FileNotFoundError):
            return " (no such socket: is the VM running and does it have an org.qemu.guest_agent.0 channel?)"
        if isinstance(exc, PermissionError):
            return " (permission denied: the agent socket is usually owned by root or the hypervisor's user)"
        if isinstance(exc, ConnectionRefusedError):
            if os.path.exists(self._address) and not stat.S_ISSOCK(os.stat(self._address).st_mode):
                return " (%s is no socket but a regular file or directory: point the channel at the unix socket of " \
                    "the VM's org.qemu.guest_agent.0 chardev)" % self._address
            return " (nothing listens on the socket: the VM or the agent chardev is gone)"
        return ""

    def send(self, data: bytes, timeout: float) -> None:
        sock = self._require()
        sock.settimeout(timeout)
        try:
            sock.sendall(data)
        except socket.timeout:
            raise self._timeout("room to send", timeout) from None
        except OSError as exc:
            raise self._gone("send failed: %s" % (exc.strerror or exc)) from None

    def receive(self, timeout: float) -> bytes:
        sock = self._require()
        sock.settimeout(max(timeout, 0.0001))
        try:
            data = sock.recv(256 * KiB)
        except socket.timeout:
            raise self._timeout("reply", timeout) from None
        except OSError as exc:
            raise self._gone("receive failed: %s" % (exc.strerror or exc)) from None
        if not data:
            raise self._gone("the channel closed")
        return data

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        # Closing with unread data makes the kernel reset the connection, and qemu-ga's
        # unix-listen mode (7.2) exits on that reset: read what is pending first.
        try:
            sock.setblocking(False)
            while sock.recv(1 << 20):
                pass
        except OSError:
            pass
        sock.close()

    def reader(self) -> StreamTransport:
        # A socket object's timeout is its own: a second one on the same connection lets one
        # thread wait for replies with a short timeout while another sends with a long one.
        twin = SocketTransport(self.channel, self._family, self._address)
        twin._sock = self._require().dup()
        return twin

    def _require(self) -> socket.socket:
        if self._sock is None:
            raise self._error("the channel is not open")
        return self._sock


class ExecTransport(StreamTransport):
    """The stdin/stdout of a command, e.g. `ssh hv socat - UNIX-CONNECT:/run/qemu-server/100.qga`."""

    def __init__(self, channel: str, argv: list[str]) -> None:
        super().__init__(channel)
        self._argv = argv
        self._proc: subprocess.Popen[bytes] | None = None
        self._selector: selectors.BaseSelector | None = None
        self._stderr: t.IO[bytes] | None = None

    def open(self, timeout: float) -> None:
        # stderr goes to a file: a chatty command (ssh banners) must not block on a full pipe.
        self._stderr = tempfile.TemporaryFile()  # pylint: disable=consider-using-with
        try:
            self._proc = subprocess.Popen(  # pylint: disable=consider-using-with
                self._argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                bufsize=0,
                start_new_session=True,
            )
        except OSError as exc:
            raise self._error("cannot run %s: %s" % (self._argv[0], exc.strerror or exc)) from None
        self._selector = selectors.DefaultSelector()
        if self._proc.stdout is None or self._proc.stdin is None:
            raise AssertionError("self._proc.stdout is not None and self._proc.stdin is not None")
        os.set_blocking(self._proc.stdin.fileno(), False)  # send() waits with select, bounded
        self._selector.register(self._proc.stdout, selectors.EVENT_READ)

    def send(self, data: bytes, timeout: float) -> None:
        """Write all of `data` within `timeout`: a stalled command (ssh, socat) must not block the task."""
        proc = self._require()
        if proc.stdin is None:
            raise AssertionError("proc.stdin is not None")
        fd = proc.stdin.fileno()
        deadline = time.monotonic() + timeout
        pending = memoryview(data)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timeout("room to send", timeout)
            if not select.select([], [fd], [], left)[1]:
                continue
            try:
                pending = pending[os.write(fd, pending):]
            except BlockingIOError:
                continue
            except OSError:
                raise self._error("send failed: %s" % self._exit_reason()) from None

    def receive(self, timeout: float) -> bytes:
        proc = self._require()
        if proc.stdout is None or self._selector is None:
            raise AssertionError("proc.stdout is not None and self._selector is not None")
        if not self._selector.select(max(timeout, 0)):
            raise self._timeout("reply", timeout)
        data = os.read(proc.stdout.fileno(), 4 * MiB)
        if not data:
            raise self._error("the channel closed: %s" % self._exit_reason())
        return data

    def _exit_reason(self) -> str:
        proc = self._require()
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "the command's output ended"
        stderr = b""
        if self._stderr is not None:
            self._stderr.seek(0)
            stderr = self._stderr.read(4096)
        reason = "the command exited with status %s" % proc.returncode
        if stderr.strip():
            reason += ": %s" % stderr.decode("utf-8", "replace").strip()
        return reason

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _require(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise self._error("the channel is not open")
        return self._proc


class SerialTransport(StreamTransport):
    """A serial line through pyserial: a device, a pty or any pyserial URL."""

    def __init__(self, channel: str, url: str) -> None:
        super().__init__(channel)
        self._url = url
        self._port: t.Any = None

    def open(self, timeout: float) -> None:
        try:
            import serial  # pylint: disable=import-outside-toplevel
        except ImportError:
            raise QgaUnsupportedError(
                "the serial transport needs pyserial: pip install pyserial", channel=self.channel
            ) from None
        try:
            self._port = serial.serial_for_url(self._url, timeout=timeout, write_timeout=timeout)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise self._error("cannot open serial port: %s" % exc) from None

    def send(self, data: bytes, timeout: float) -> None:
        port = self._require()
        import serial  # pylint: disable=import-outside-toplevel

        port.write_timeout = timeout
        try:
            port.write(data)
            port.flush()
        except serial.SerialTimeoutException:
            raise self._timeout("room to send", timeout) from None
        except (serial.SerialException, OSError) as exc:
            raise self._error("send failed: %s" % exc) from None

    def receive(self, timeout: float) -> bytes:
        port = self._require()
        import serial  # pylint: disable=import-outside-toplevel

        port.timeout = max(timeout, 0)
        try:
            data = port.read(max(1, port.in_waiting))
            if data and port.in_waiting:
                data += port.read(port.in_waiting)
        except (serial.SerialException, OSError) as exc:
            raise self._error("receive failed: %s" % exc) from None
        if not data:
            raise self._timeout("reply", timeout)
        return bytes(data)

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None

    def _require(self) -> t.Any:
        if self._port is None:
            raise self._error("the channel is not open")
        return self._port


class LibvirtTransport:
    """libvirt's qemuAgentCommand: libvirt owns the agent socket, frames and syncs."""

    kind = "message"
    limits = LIBVIRT_LIMITS

    def __init__(self, channel: str, uri: str, domain: str | None) -> None:
        self.channel = channel
        self._uri = uri or None
        self._domain_name = domain
        self._conn: t.Any = None
        self._domain: t.Any = None

    def open(self, timeout: float) -> None:
        """Connect to libvirt and look the domain up."""
        if not self._domain_name:
            raise QgaChannelError("a libvirt channel needs a domain name", channel=self.channel)
        libvirt = _import_libvirt(self.channel)
        try:
            self._conn = libvirt.open(self._uri)
            self._domain = self._conn.lookupByName(self._domain_name)
            running = bool(self._domain.isActive())
        except libvirt.libvirtError as exc:
            self.close()
            message = "libvirt: %s" % exc.get_error_message()
            if exc.get_error_code() == getattr(libvirt, "VIR_ERR_NO_DOMAIN", -1):
                message += " (%s)" % self._which_domain_hint()
            raise QgaChannelError(message, channel=self.channel) from None
        if not running:
            self.close()
            raise QgaChannelError(
                "libvirt: domain '%s' is not running, so its agent cannot answer: start it (virsh -c %s start %s)"
                % (self._domain_name, self._uri or "URI", self._domain_name),
                channel=self.channel,
            )

    def _which_domain_hint(self) -> str:
        return (
            "the domain is the inventory hostname unless ansible_qga_domain (a module's domain option) names it; "
            "virsh -c %s list --all lists the domains" % (self._uri or "URI")
        )

    def command(self, message: str, command: str, timeout: float) -> str:
        """Send one JSON message and return libvirt's reply text."""
        if self._domain is None:
            raise QgaChannelError("the channel is not open", channel=self.channel)
        libvirt = _import_libvirt(self.channel)
        import libvirt_qemu  # pylint: disable=import-outside-toplevel,import-error

        # libvirt takes whole seconds; 0 would mean "do not wait".
        timeout_s = max(1, int(timeout + 0.999))
        started = time.monotonic()
        try:
            return t.cast(str, libvirt_qemu.qemuAgentCommand(self._domain, message, timeout_s, 0))
        except libvirt.libvirtError as exc:
            raise self._translate(libvirt, exc, command, timeout_s, time.monotonic() - started) from None

    def _translate(self, libvirt: t.Any, exc: t.Any, command: str, timeout_s: int, waited: float) -> Exception:
        text = exc.get_error_message() or str(exc)
        code = exc.get_error_code()
        marker = "unable to execute QEMU agent command '%s': " % command
        if marker in text:
            desc = text.split(marker, 1)[1]
            return command_error(_guess_error_class(desc), desc, self.channel, command)
        if code == getattr(libvirt, "VIR_ERR_AGENT_COMMAND_TIMEOUT", -1) or "timeout" in text.lower():
            return QgaTimeoutError(
                "libvirt: %s (waited %d s)" % (text, timeout_s), channel=self.channel, command=command
            )
        if code == getattr(libvirt, "VIR_ERR_AGENT_UNRESPONSIVE", -1):
            return QgaAgentGone(
                "libvirt: %s (after %.1f s, libvirt's own wait for the agent; is qemu-guest-agent running in the "
                "guest?)" % (text, waited), channel=self.channel, command=command
            )
        return QgaChannelError("libvirt: %s" % text, channel=self.channel, command=command)

    def domain_state(self) -> str:
        """The domain's state as virsh names it (running, paused, shutoff, pmsuspended, ...)."""
        if self._domain is None:
            raise QgaChannelError("the channel is not open", channel=self.channel)
        libvirt = _import_libvirt(self.channel)
        try:
            state = self._domain.state()[0]
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == getattr(libvirt, "VIR_ERR_NO_DOMAIN", -1):
                return "shutoff"  # a transient domain is gone once it shuts off
            raise QgaChannelError("libvirt: %s" % (exc.get_error_message() or exc), channel=self.channel) from None
        return DOMAIN_STATES.get(state, "unknown (%s)" % state)

    def close(self) -> None:
        """Drop the libvirt connection."""
        self._domain = None
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: S110 # pylint: disable=broad-except
                pass  # closing a broken libvirt connection has nothing left to report


# libvirt passes on the agent's error text but not its class: qemu-ga's exact wording of the two
# CommandNotFound cases (an unknown command; a disabled one, also while frozen). Anything else the agent
# says ("User 'bob' not found") is a GenericError.
AGENT_COMMAND_NOT_FOUND = re.compile(r"^(?:The command \S+ has not been found|Command \S+ has been disabled)\b")


def _guess_error_class(desc: str) -> str:
    return "CommandNotFound" if AGENT_COMMAND_NOT_FOUND.match(desc) else "GenericError"


def _import_libvirt(channel: str) -> t.Any:
    try:
        import libvirt  # pylint: disable=import-outside-toplevel,import-error
    except ImportError:
        raise QgaUnsupportedError(
            "the libvirt transport needs libvirt-python: pip install libvirt-python "
            "(or the distribution's python3-libvirt)",
            channel=channel,
        ) from None
    # libvirt prints every error to stderr by default; the client raises them instead.
    libvirt.registerErrorHandler(_ignore_libvirt_error, None)
    return libvirt


def _ignore_libvirt_error(_context: object, _error: object) -> None:
    return None


Transport = t.Union[StreamTransport, LibvirtTransport]


def open_transport(channel: str, domain: str | None = None) -> Transport:
    """Return the (unopened) transport a channel string names."""
    scheme, sep, rest = channel.partition(":")
    if not sep or scheme.startswith("/") or scheme.startswith("."):
        return SocketTransport(channel, socket.AF_UNIX, channel)
    if scheme == "unix":
        return SocketTransport(channel, socket.AF_UNIX, rest)
    if scheme == "tcp":
        host, _sep, port = rest.rpartition(":")
        if not host or not port.isdigit():
            raise QgaChannelError("a tcp channel is tcp:HOST:PORT", channel=channel)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return SocketTransport(channel, family, (host.strip("[]"), int(port)))
    if scheme == "serial":
        return SerialTransport(channel, rest)
    if scheme == "exec":
        argv = shlex.split(rest)
        if not argv:
            raise QgaChannelError("an exec channel needs a command: exec:COMMAND ARGS...", channel=channel)
        return ExecTransport(channel, argv)
    if scheme == "libvirt":
        return LibvirtTransport(channel, rest, domain)
    raise QgaChannelError(
        "unknown channel type %r: use a socket path, unix:PATH, tcp:HOST:PORT, serial:URL, exec:COMMAND "
        "or libvirt:URI" % scheme,
        channel=channel,
    )


def deadline_after(timeout: float) -> float:
    """Monotonic deadline `timeout` seconds from now."""
    return time.monotonic() + timeout


def remaining(deadline: float) -> float:
    """Seconds left until `deadline` (never negative)."""
    return max(0.0, deadline - time.monotonic())
