# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The QGA protocol client: framing, resync, execute(), typed errors, capability probe.

No Ansible controller imports: this runs anywhere Python runs.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
import typing as t
from dataclasses import dataclass, field

from . import relay, schema
from .channel_lock import ChannelLock
from .errors import (
    QgaAgentGone,
    QgaArgumentError,
    QgaChannelError,
    QgaCommandDisabled,
    QgaCommandRefused,
    QgaError,
    QgaFrozenError,
    QgaProtocolError,
    QgaRequestLost,
    QgaTimeoutError,
    QgaUnsupportedError,
    command_error,
)
from .transport import (
    LibvirtTransport,
    SocketTransport,
    StreamTransport,
    Transport,
    TransportLimits,
    deadline_after,
    open_transport,
    remaining,
)

SYNC_SENTINEL = b"\xff"
# What a QEMU monitor socket sends first; the agent never does (a channel pointed at the wrong socket).
QMP_GREETING = b'{"QMP"'
# What an SSH server sends first (no agent reply, stale or not, starts so: base64 has no "-").
SSH_GREETING = b"SSH-"
DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_LOCK_TIMEOUT = 120.0
# Commands that send no reply on success (QAPI 'success-response': false) may still
# answer with an error right away (disabled, unsupported); wait this long for one.
NO_REPLY_ERROR_WAIT = 1.0
# On stream channels: how long to wait for the guest-sync sent after such a command.
NO_REPLY_SYNC_WAIT = 10.0
# Then how long to wait for a second guest-sync: an answer to it alone means the agent lost the request.
NO_REPLY_PROBE_WAIT = 5.0
# libvirt's own agent socket of a domain (libvirtd holds it), as a channel string.
LIBVIRT_AGENT_SOCKET = re.compile(
    r"^(?:unix:)?/(?:var/lib|run)/libvirt/qemu/channel/target/domain-\d+-(?P<domain>[^/]+)/org\.qemu\.guest_agent\.0$"
)
# Seconds a client keeps the channel before it hands it to a client that waits for it (between two exchanges).
HAND_OVER_AFTER = 0.5
# What a frozen agent still runs (qemu-ga's freeze allow-list).
FROZEN_ALLOWED = frozenset((
    "guest-ping", "guest-info", "guest-sync", "guest-sync-delimited", "guest-fsfreeze-status", "guest-fsfreeze-thaw",
))

Log = t.Callable[[str], None]


@dataclass(frozen=True)
class AgentInfo:
    """What guest-info says: the agent version and which commands it has enabled."""

    version: str
    commands: dict[str, bool] = field(default_factory=dict)

    def knows(self, command: str) -> bool:
        """Whether the agent implements the command at all."""
        return command in self.commands

    def enabled(self, command: str) -> bool:
        """Whether the agent would run the command now."""
        return self.commands.get(command, False)


class QgaClient:
    """A connection to one guest agent.

    `channel` is a channel string (see transport.open_transport); `domain` names the
    libvirt domain for libvirt: channels. Use as a context manager or call
    connect()/close(). Calls from several threads are serialized; processes on
    the same channel queue on a lock file.
    """

    def __init__(
        self,
        channel: str,
        domain: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        validate: bool = True,
        log: Log | None = None,
        transport: Transport | None = None,
        persist: float = 0.0,
        no_reply_sync_wait: float = NO_REPLY_SYNC_WAIT,
        no_reply_probe_wait: float = NO_REPLY_PROBE_WAIT,
    ) -> None:
        self.channel = channel
        self.domain = domain
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.lock_timeout = lock_timeout
        self.validate = validate
        self._log = log
        # persist > 0: keep the channel open that many seconds after the last client (relay.py).
        self.persist = persist
        # After a command that sends no reply on success (stream channels): see _await_no_reply.
        self.no_reply_sync_wait = no_reply_sync_wait
        self.no_reply_probe_wait = no_reply_probe_wait
        self._given_transport = transport is not None
        self._direct = transport if transport is not None else open_transport(channel, domain)
        self._transport = self._direct
        self._lock = ChannelLock(channel, domain)
        self._mutex = threading.RLock()
        self._buffer = bytearray()
        self._scan_from = 0
        self._connected = False
        self._held_since = 0.0  # when this client last took the channel (see _hand_over_if_waited_for)
        self._needs_sync = False
        self._info: AgentInfo | None = None
        # Facts probed from the guest (OS family, ...), kept until the next connect.
        self.probe_cache: dict[str, t.Any] = {}

    # -- lifecycle ---------------------------------------------------------

    @property
    def limits(self) -> TransportLimits:
        """Size limits of this client's transport."""
        return self._transport.limits

    @property
    def connected(self) -> bool:
        """Whether the channel is open."""
        return self._connected

    def connect(self) -> QgaClient:
        """Take the channel lock, open the channel and bring the stream in sync."""
        with self._mutex:
            if self._connected:
                return self
            self._open_channel()
            self._info = None
            self.probe_cache.clear()
            return self

    def _open_channel(self) -> None:
        domain = libvirt_socket_domain(self.channel)
        if domain is not None:
            # libvirtd keeps it connected and QEMU serves one client: a connect would only wait in its backlog.
            raise QgaChannelError(
                "this is libvirt's own agent socket of domain %s, which libvirtd holds (QEMU serves one client at a "
                "time); use the channel libvirt:qemu:///system with domain %s (ansible_qga_domain; the inventory "
                "hostname by default)" % (domain, domain),
                channel=self.channel,
            )
        self._lock.acquire(self.lock_timeout)
        try:
            relayed = None if self._given_transport else self._relay_socket()
            if relayed is not None:
                self._transport = SocketTransport.connected(self.channel, relayed)
            else:
                self._transport = self._direct
                self._transport.open(self.connect_timeout)
            self._connected = True
            self._held_since = time.monotonic()
            self._buffer.clear()
            self._scan_from = 0
            if isinstance(self._transport, StreamTransport):
                self._sync(self.connect_timeout)
        except BaseException:
            self.close()
            raise

    def _hand_over_if_waited_for(self) -> None:
        """Between two exchanges: after holding the channel for HAND_OVER_AFTER seconds, let a client that waits
        for it go first (two plays, or forks, on one guest take turns instead of one failing on lock_timeout)."""
        if self._given_transport or time.monotonic() - self._held_since < HAND_OVER_AFTER:
            return
        if not self._lock.others_waiting():
            self._held_since = time.monotonic()  # look again a quantum later, not on every exchange
            return
        self._debug("another client waits for the channel: handing it over")
        self.close()
        self._lock.let_waiters_in(HAND_OVER_AFTER)
        self._open_channel()

    def _relay_socket(self) -> socket.socket | None:
        """The channel's relay, started when this client asks to persist; None: talk to the agent directly."""
        if self.persist > 0 and relay.relayable(self.channel):
            sock = relay.ensure(self.channel, self.domain, idle=self.persist, timeout=self.connect_timeout)
            self._debug("through the channel relay %s" % relay.socket_path(self.channel, self.domain))
            return sock
        running = relay.connect_running(self.channel, self.domain)
        if running is not None:
            self._debug("through the running channel relay %s" % relay.socket_path(self.channel, self.domain))
        return running

    def close(self) -> None:
        """Close the channel and release its lock. Safe to call twice."""
        with self._mutex:
            self._connected = False
            try:
                self._transport.close()
            finally:
                self._lock.release()

    def __enter__(self) -> QgaClient:
        return self.connect()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- commands ----------------------------------------------------------

    def execute(self, command: str, arguments: dict[str, t.Any] | None = None, timeout: float | None = None) -> t.Any:
        """Run one agent command and return its "return" value.

        Raises QgaArgumentError (nothing sent) for arguments the schema rejects,
        a QgaCommandError subclass for an agent error reply, QgaTimeoutError,
        QgaChannelError when the agent went away.
        """
        if self.validate:
            schema.validate_arguments(command, arguments, channel=self.channel)
        message = self._encode(command, arguments)
        rpc_timeout = self.timeout if timeout is None else timeout
        try:
            with self._mutex:
                if not self._connected:
                    self.connect()
                else:
                    self._hand_over_if_waited_for()
                self._debug("-> %s (%d bytes)" % (command, len(message)))
                if isinstance(self._transport, LibvirtTransport):
                    reply = self._execute_libvirt(command, message, rpc_timeout)
                else:
                    reply = self._execute_stream(command, message, rpc_timeout)
            return self._unwrap(command, reply)
        except QgaCommandDisabled as exc:
            raise self._frozen_or(exc) from None

    def domain_state(self) -> str | None:
        """The VM's state as libvirt names it (shutoff, pmsuspended, ...); None where the channel is not libvirt."""
        with self._mutex:
            if not self._connected:
                self.connect()
            if not isinstance(self._transport, LibvirtTransport):
                return None
            return self._transport.domain_state()

    def ping(self, timeout: float | None = None) -> None:
        """guest-ping: succeed when the agent answers."""
        self.execute("guest-ping", timeout=timeout)

    def info(self, refresh: bool = False) -> AgentInfo:
        """The agent's version and enabled commands (guest-info), cached per client."""
        if self._info is None or refresh:
            reply = self.execute("guest-info")
            self._info = AgentInfo(
                version=str(reply.get("version", "")),
                commands={entry["name"]: bool(entry.get("enabled")) for entry in reply.get("supported_commands", [])},
            )
        return self._info

    def supports(self, command: str) -> bool:
        """Whether the agent implements and has enabled `command`."""
        return self.info().enabled(command)

    def require(self, *commands: str, purpose: str = "") -> None:
        """Raise a clear error unless the agent implements and has enabled every command.

        `purpose` says what the caller needs them for ("qga_copy runs guest-exec to ..."), in the error.
        """
        info = self.info()
        why = "; %s" % purpose if purpose else ""
        for command in commands:
            if not info.knows(command):
                since = schema.command_spec(command).get("since") if schema.is_known(command) else None
                raise QgaUnsupportedError(
                    "qemu-guest-agent %s does not implement %s%s%s"
                    % (info.version or "(unknown version)", command, " (added in %s)" % since if since else "", why),
                    channel=self.channel,
                    command=command,
                )
            if not info.enabled(command):
                raise self._frozen_or(QgaCommandDisabled(
                    "CommandNotFound", "Command %s has been disabled%s" % (command, why), channel=self.channel,
                    command=command,
                ))

    def _frozen_or(self, disabled: QgaCommandDisabled) -> QgaCommandRefused:
        """QgaFrozenError instead of `disabled` when the guest is frozen.

        A frozen agent disables every command but a few, and some agents (Debian's 7.2) say only
        "has been disabled", as if an operator had blocked it: guest-fsfreeze-status tells which.
        """
        if disabled.command in FROZEN_ALLOWED:
            return disabled
        try:
            frozen = self.execute("guest-fsfreeze-status") == "frozen"
        except QgaError:
            frozen = False
        if not frozen:
            return disabled
        return QgaFrozenError(disabled.error_class, disabled.desc, channel=self.channel, command=disabled.command)

    # -- internals ---------------------------------------------------------

    def _encode(self, command: str, arguments: dict[str, t.Any] | None) -> bytes:
        request: dict[str, t.Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        message = json.dumps(request, separators=(",", ":")).encode("utf-8")
        limit = self._transport.limits.max_request_bytes
        if len(message) > limit:
            raise QgaArgumentError(
                "the request is %d bytes of JSON, over this transport's limit of %d bytes; send less per call "
                "(smaller chunks)" % (len(message), limit),
                channel=self.channel,
                command=command,
            )
        return message

    def _execute_libvirt(self, command: str, message: bytes, rpc_timeout: float) -> dict[str, t.Any]:
        if not isinstance(self._transport, LibvirtTransport):
            raise AssertionError("isinstance(self._transport, LibvirtTransport)")
        if not _sends_reply(command):
            try:
                self._transport.command(message.decode("utf-8"), command, NO_REPLY_ERROR_WAIT)
            except QgaTimeoutError:
                pass
            except QgaAgentGone as exc:
                # libvirt reports the agent going down with the guest as an error: it is what the
                # stream channels see as the channel closing. Callers confirm through domain_state().
                self._debug("%s: the agent went away: %s" % (command, exc.reason))
            return {"return": None}
        text = self._transport.command(message.decode("utf-8"), command, rpc_timeout)
        return self._parse_reply(text.encode("utf-8"), command)

    def _execute_stream(self, command: str, message: bytes, rpc_timeout: float) -> dict[str, t.Any]:
        transport = self._transport
        if not isinstance(transport, StreamTransport):
            raise AssertionError("isinstance(transport, StreamTransport)")
        try:
            if self._needs_sync:
                self._sync(min(rpc_timeout, self.connect_timeout))
            transport.send(message + b"\n", rpc_timeout)
            if not _sends_reply(command):
                return self._await_no_reply(command)
            return self._read_reply(command, deadline_after(rpc_timeout), rpc_timeout)
        except QgaTimeoutError as exc:
            # A late reply to this command would be taken for the next one's: resync first.
            self._needs_sync = True
            if exc.command is not None:
                raise
            option = " (rpc_timeout; ansible_qga_rpc_timeout sets it)" if rpc_timeout == self.timeout else ""
            raise QgaTimeoutError(
                "no reply within %.1f s%s" % (rpc_timeout, option), channel=self.channel, command=command
            ) from None
        except QgaChannelError as exc:
            # The stream is gone: release the channel so a retry (or another client) can reconnect.
            self.close()
            if exc.command is None:
                raise type(exc)(exc.reason, channel=exc.channel, command=command) from None
            raise
        except BaseException:
            # Interrupted mid-reply (a task timeout's alarm, Ctrl-C): the stream position is unknown.
            self._needs_sync = True
            raise

    def _await_no_reply(self, command: str) -> dict[str, t.Any]:
        """An error reply, or success: the agent answers a guest-sync sent right after the command.

        The agent handles requests in order, so the sync's reply means the command was accepted
        however long its checks took (a loaded TCG guest takes seconds). Silence is what a guest
        going down (or sleeping) looks like, and also what a stalled or restarting agent looks
        like: after no_reply_sync_wait a second guest-sync tells them apart. A late error or the
        first sync still counts; an answer to the second sync alone means the agent lost both
        (QgaRequestLost); silence through no_reply_probe_wait, or the channel closing, counts as
        the guest going down.
        """
        self._needs_sync = True
        sync_id = self._send_sync(self.no_reply_sync_wait)
        try:
            answer = self._await_sync(command, (sync_id,), self.no_reply_sync_wait)
            if answer == sync_id:
                self._needs_sync = False
            elif answer is None:
                answer = self._probe_after_silence(command, sync_id)
        except QgaChannelError:
            return {"return": None}
        return answer if isinstance(answer, dict) else {"return": None}

    def _probe_after_silence(self, command: str, sync_id: int) -> dict[str, t.Any] | int | None:
        self._debug("no answer to the guest-sync sent after %s within %.0f s; asking again"
                    % (command, self.no_reply_sync_wait))
        probe_id = self._send_sync(self.no_reply_probe_wait)
        answer = self._await_sync(command, (sync_id, probe_id), self.no_reply_probe_wait)
        if answer == probe_id:
            self._needs_sync = False
            raise QgaRequestLost(
                "the agent lost the request: it answered a guest-sync sent %.0f s later, but neither the command "
                "nor the guest-sync sent right after it, so it restarted (or the guest rebooted) in between and the "
                "command most likely never ran" % self.no_reply_sync_wait,
                channel=self.channel,
                command=command,
            )
        return answer

    def _send_sync(self, timeout: float) -> int:
        """Send a plain guest-sync (no sentinel: a reply to a no-reply command may be in flight); its id."""
        if not isinstance(self._transport, StreamTransport):
            raise AssertionError("isinstance(self._transport, StreamTransport)")
        sync_id = secrets.randbelow(2**52) + 1
        self._transport.send(json.dumps({"execute": "guest-sync", "arguments": {"id": sync_id}}).encode() + b"\n",
                             timeout)
        return sync_id

    def _await_sync(self, command: str, sync_ids: tuple[int, ...], timeout: float) -> dict[str, t.Any] | int | None:
        """The first of: an error reply (returned whole), the id of an answered sync, None after `timeout`."""
        deadline = deadline_after(timeout)
        try:
            while True:
                reply = self._read_reply(command, deadline, timeout)
                if "error" in reply:
                    return reply
                if reply.get("return") in sync_ids:
                    return int(reply["return"])
        except QgaTimeoutError:
            return None

    def _read_reply(self, command: str, deadline: float, rpc_timeout: float) -> dict[str, t.Any]:
        while True:
            reply = self._next_message(deadline, rpc_timeout)
            if "return" in reply or "error" in reply:
                return reply
            self._debug("skipped a message that is no reply: %s" % _preview(reply))

    def _sync(self, timeout: float) -> None:
        """Send 0xFF + guest-sync-delimited and skip to the matching reply."""
        if not isinstance(self._transport, StreamTransport):
            raise AssertionError("isinstance(self._transport, StreamTransport)")
        sync_id = secrets.randbelow(2**52) + 1
        request = json.dumps({"execute": "guest-sync-delimited", "arguments": {"id": sync_id}}).encode()
        self._transport.send(SYNC_SENTINEL + request + b"\n", timeout)
        deadline = deadline_after(timeout)
        while True:
            try:
                self._skip_to_sentinel(deadline, timeout)
                reply = self._next_message(deadline, timeout)
            except QgaTimeoutError:
                raise QgaTimeoutError(
                    "the agent did not answer guest-sync-delimited within %.1f s (connect_timeout; "
                    "ansible_qga_connect_timeout sets it). Is qemu-guest-agent running in the guest? Does another "
                    "program hold this channel? QEMU serves one client at a time" % timeout,
                    channel=self.channel,
                    command="guest-sync-delimited",
                ) from None
            if reply.get("return") == sync_id:
                self._needs_sync = False
                return
            self._debug("skipped a stale message while syncing: %s" % _preview(reply))

    def _skip_to_sentinel(self, deadline: float, timeout: float) -> None:
        while True:
            index = self._buffer.find(SYNC_SENTINEL)
            if index >= 0:
                del self._buffer[: index + 1]
                self._scan_from = 0
                return
            if self._buffer.startswith(SSH_GREETING):
                raise QgaChannelError(
                    "this is an SSH server's socket, not the guest agent's: it greeted with %r. Point the channel at "
                    "the socket of the VM's org.qemu.guest_agent.0 chardev"
                    % bytes(self._buffer.split(b"\n", 1)[0].strip()[:40]).decode("ascii", "replace"),
                    channel=self.channel,
                )
            if self._buffer.lstrip().startswith(QMP_GREETING):
                raise QgaChannelError(
                    "this is a QEMU monitor (QMP) socket, not the guest agent's: it greeted with {\"QMP\": ...}. Point "
                    "the channel at the socket of the VM's org.qemu.guest_agent.0 chardev (-chardev socket,...,id=qga0 "
                    "with -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0)",
                    channel=self.channel,
                )
            if self._buffer:
                self._debug("skipped %d bytes before the sync sentinel" % len(self._buffer))
            self._buffer.clear()
            self._scan_from = 0
            self._fill(deadline, timeout)

    def _next_message(self, deadline: float, timeout: float) -> dict[str, t.Any]:
        """Return the next JSON object line from the stream, skipping garbage lines."""
        while True:
            newline = self._buffer.find(b"\n", self._scan_from)
            if newline < 0:
                self._scan_from = len(self._buffer)
                self._fill(deadline, timeout)
                continue
            # A guest-sync-delimited reply carries the 0xFF sentinel in front of its JSON.
            line = bytes(self._buffer[:newline]).strip().lstrip(SYNC_SENTINEL)
            del self._buffer[: newline + 1]
            self._scan_from = 0
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                self._debug("skipped %d bytes that are not JSON" % len(line))
                continue
            if isinstance(message, dict):
                return message
            self._debug("skipped a JSON value that is no object")

    def _fill(self, deadline: float, timeout: float) -> None:
        if not isinstance(self._transport, StreamTransport):
            raise AssertionError("isinstance(self._transport, StreamTransport)")
        left = remaining(deadline)
        if left <= 0:
            raise QgaTimeoutError("no reply within %.1f s" % timeout, channel=self.channel)
        self._buffer += self._transport.receive(left)

    def _parse_reply(self, text: bytes, command: str) -> dict[str, t.Any]:
        try:
            reply = json.loads(text)
        except ValueError:
            raise QgaProtocolError(
                "the reply (%d bytes) is not JSON" % len(text), channel=self.channel, command=command
            ) from None
        if not isinstance(reply, dict):
            raise QgaProtocolError("the reply is no JSON object", channel=self.channel, command=command)
        return reply

    def _unwrap(self, command: str, reply: dict[str, t.Any]) -> t.Any:
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            raise command_error(
                str(error.get("class", "GenericError")), str(error.get("desc", reply["error"])), self.channel, command
            )
        if "return" not in reply:
            raise QgaProtocolError("a reply without return or error", channel=self.channel, command=command)
        value = reply["return"]
        if self.validate and _sends_reply(command):
            schema.validate_return(command, value, channel=self.channel)
        return value

    def _debug(self, text: str) -> None:
        if self._log is not None:
            self._log("qga %s: %s" % (self.channel, text))


def libvirt_socket_domain(channel: str) -> str | None:
    """The domain when `channel` is libvirt's own agent socket of it, else None."""
    match = LIBVIRT_AGENT_SOCKET.match(channel)
    return match.group("domain") if match else None


def _sends_reply(command: str) -> bool:
    if not schema.is_known(command):
        return True
    return schema.command_spec(command).get("success_response", True) is not False


def _preview(message: dict[str, t.Any]) -> str:
    # Only the shape: a skipped reply may carry file content (a late guest-file-read of /etc/shadow).
    return "{%s} (%d bytes)" % (", ".join(sorted(map(str, message))), len(json.dumps(message)))


def connect(channel: str, domain: str | None = None, **options: t.Any) -> QgaClient:
    """Open a client on a channel string (see QgaClient for options)."""
    return QgaClient(channel, domain=domain, **options).connect()


__all__ = ["AgentInfo", "QgaClient", "QgaError", "connect"]
