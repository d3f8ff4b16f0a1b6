# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The QGA protocol client: the agent's vocabulary over a channel (channel.py frames the messages).

No Ansible controller imports: this runs anywhere Python runs. Public: `QgaClient`, `connect`, `AgentInfo`,
`GuestRecord`, `ChannelAccess`, and the errors in errors.py. A bare client assumes it is the channel's only
user; the controller shares a channel between Ansible's forks and plays through a `ChannelAccess`
(plugins/plugin_utils/channel_access.py: a lock file and the optional relay).
"""

from __future__ import annotations

import enum
import json
import re
import threading
import time
import typing as t
from dataclasses import dataclass, field

from . import schema
from .channel import NO_REPLY_PROBE_WAIT, NO_REPLY_SYNC_WAIT, Channel, ChannelState, Reply, channel_for
from .errors import (
    QgaArgumentError,
    QgaChannelError,
    QgaCommandDisabled,
    QgaCommandRefused,
    QgaError,
    QgaFrozenError,
    QgaProtocolError,
    QgaUnsupportedError,
    command_error,
)
from .transport import StreamTransport, Transport, TransportLimits, open_transport

if t.TYPE_CHECKING:
    from .posix import GuestUser

DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
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


class ClientState(enum.Enum):
    """Whether the client holds the channel."""

    DISCONNECTED = "disconnected"
    CONNECTED = "connected"


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


@dataclass
class GuestRecord:
    """What a connection learned about the guest; forgotten when the client connects anew."""

    info: AgentInfo | None = None
    windows: bool | None = None  # guest-get-osinfo's id is mswindows (guest_exec.guest_is_windows)
    users: dict[str, GuestUser] = field(default_factory=dict)  # passwd entries (posix.lookup_user)


class ChannelAccess:
    """How a client gets the channel, and whether others wait for it.

    This base shares nothing: the client opens the channel itself and keeps it. The controller's
    SharedChannelAccess (plugins/plugin_utils/channel_access.py) queues Ansible's forks on a lock file
    and goes through the channel's relay when one runs.
    """

    def acquire(self, connect_timeout: float, log: Log) -> StreamTransport | None:
        """Take the channel: an open transport to use instead of the client's own (a relay's), or None.

        `connect_timeout` and `log` are the client's, as they are now (a caller may change its timeouts).
        """
        return None

    def release(self) -> None:
        """Give the channel back. Safe to call when not held."""

    def others_waiting(self) -> bool:
        """Whether another client waits for the channel (the holder then hands it over between exchanges)."""
        return False

    def let_waiters_in(self, bound: float) -> None:
        """After a release: give the waiting clients (at most `bound` s) to take the channel in turn."""


class QgaClient:
    """A connection to one guest agent.

    `channel` is a channel string (see transport.open_transport); `domain` names the
    libvirt domain for libvirt: channels. Use as a context manager or call
    connect()/close(). Calls from several threads are serialized; other clients of the
    same channel take turns through `access` (see ChannelAccess).
    """

    def __init__(
        self,
        channel: str,
        domain: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        validate: bool = True,
        log: Log | None = None,
        transport: Transport | None = None,
        access: ChannelAccess | None = None,
        no_reply_sync_wait: float = NO_REPLY_SYNC_WAIT,
        no_reply_probe_wait: float = NO_REPLY_PROBE_WAIT,
    ) -> None:
        self.channel = channel
        self.domain = domain
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.validate = validate
        self.access = access if access is not None else ChannelAccess()
        self.state = ClientState.DISCONNECTED
        self.guest = GuestRecord()
        self._log = log
        # After a command that sends no reply on success (stream channels): see StreamChannel._await_no_reply.
        self.no_reply_sync_wait = no_reply_sync_wait
        self.no_reply_probe_wait = no_reply_probe_wait
        self._transport = transport if transport is not None else open_transport(channel, domain)
        self._channel: Channel = self._frame(self._transport)
        self._mutex = threading.RLock()
        self._held_since = 0.0  # when this client last took the channel (see _hand_over_if_waited_for)

    # -- lifecycle ---------------------------------------------------------

    @property
    def limits(self) -> TransportLimits:
        """Size limits of this client's transport."""
        return self._channel.limits

    @property
    def connected(self) -> bool:
        """Whether the client holds the channel."""
        return self.state is ClientState.CONNECTED

    def connect(self) -> QgaClient:
        """Take the channel (see ChannelAccess), open it and bring it in sync."""
        with self._mutex:
            if self.connected:
                return self
            self._open_channel()
            self.guest = GuestRecord()
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
        try:
            relayed = self.access.acquire(self.connect_timeout, self._debug)
            self._channel = self._frame(relayed if relayed is not None else self._transport)
            self._channel.open(self.connect_timeout)
            self.state = ClientState.CONNECTED
            self._held_since = time.monotonic()
        except BaseException:
            self.close()
            raise

    def _frame(self, transport: Transport) -> Channel:
        """The framing for `transport`; a transport other than the client's own arrives open (a relay's)."""
        return channel_for(
            transport, self._debug, already_open=transport is not self._transport, sync_timeout=self.connect_timeout,
            no_reply_sync_wait=self.no_reply_sync_wait, no_reply_probe_wait=self.no_reply_probe_wait,
        )

    def _hand_over_if_waited_for(self) -> None:
        """Between two exchanges: after holding the channel for HAND_OVER_AFTER seconds, let a client that waits
        for it go first (two plays, or forks, on one guest take turns instead of one failing on lock_timeout)."""
        if time.monotonic() - self._held_since < HAND_OVER_AFTER:
            return
        if not self.access.others_waiting():
            self._held_since = time.monotonic()  # look again a quantum later, not on every exchange
            return
        self._debug("another client waits for the channel: handing it over")
        self.close()
        self.access.let_waiters_in(HAND_OVER_AFTER)
        self._open_channel()

    def close(self) -> None:
        """Close the channel and give it back. Safe to call twice."""
        with self._mutex:
            self.state = ClientState.DISCONNECTED
            try:
                self._channel.close()
            finally:
                self.access.release()

    def __enter__(self) -> QgaClient:
        return self.connect()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- commands ----------------------------------------------------------

    def execute(self, command: str, arguments: dict[str, t.Any] | None = None, timeout: float | None = None) -> t.Any:
        """Run one agent command and return its "return" value.

        Raises QgaArgumentError (nothing sent) for arguments the schema rejects,
        a QgaCommandRefused subclass for an agent error reply, QgaTimeoutError,
        QgaChannelError when the agent went away.
        """
        if self.validate:
            schema.validate_arguments(command, arguments, channel=self.channel)
        message = self._encode(command, arguments)
        rpc_timeout = self.timeout if timeout is None else timeout
        try:
            with self._mutex:
                self._take_channel()
                self._debug("-> %s (%d bytes)" % (command, len(message)))
                reply = self._request(command, message, rpc_timeout)
            return self._unwrap(command, reply)
        except QgaCommandDisabled as exc:
            raise self._frozen_or(exc) from None

    def _take_channel(self) -> None:
        if not self.connected:
            self.connect()
        else:
            self._hand_over_if_waited_for()

    def _request(self, command: str, message: bytes, rpc_timeout: float) -> Reply:
        try:
            if not _sends_reply(command):
                return self._channel.request_no_reply(command, message, rpc_timeout)
            option = "rpc_timeout; ansible_qga_rpc_timeout sets it" if rpc_timeout == self.timeout else ""
            return self._channel.request(command, message, rpc_timeout, option)
        finally:
            if self._channel.state is ChannelState.CLOSED:
                self.close()  # the stream is gone: give the channel back so a retry (or another client) reconnects

    def domain_state(self) -> str | None:
        """The VM's state as libvirt names it (shutoff, pmsuspended, ...); None where the channel is not libvirt."""
        with self._mutex:
            if not self.connected:
                self.connect()
            return self._channel.domain_state()

    def ping(self, timeout: float | None = None) -> None:
        """guest-ping: succeed when the agent answers."""
        self.execute("guest-ping", timeout=timeout)

    def info(self, refresh: bool = False) -> AgentInfo:
        """The agent's version and enabled commands (guest-info), kept in the guest record."""
        if self.guest.info is None or refresh:
            reply = self.execute("guest-info")
            self.guest.info = AgentInfo(
                version=str(reply.get("version", "")),
                commands={entry["name"]: bool(entry.get("enabled")) for entry in reply.get("supported_commands", [])},
            )
        return self.guest.info

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
        limit = self._channel.limits.max_request_bytes
        if len(message) > limit:
            raise QgaArgumentError(
                "the request is %d bytes of JSON, over this transport's limit of %d bytes; send less per call "
                "(smaller chunks)" % (len(message), limit),
                channel=self.channel,
                command=command,
            )
        return message

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


def connect(channel: str, domain: str | None = None, **options: t.Any) -> QgaClient:
    """Open a client on a channel string (see QgaClient for options)."""
    return QgaClient(channel, domain=domain, **options).connect()


__all__ = ["AgentInfo", "ChannelAccess", "ClientState", "GuestRecord", "QgaClient", "QgaError", "connect"]
