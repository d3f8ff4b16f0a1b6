# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Message framing: one request in, its reply out, over a byte stream or libvirt.

The client (client.py) speaks the agent's vocabulary; a channel only moves JSON messages.
`StreamChannel` frames them on a byte stream (unix, tcp, serial, exec): 0xFF +
guest-sync-delimited brings the stream in sync, replies are JSON lines, a command
that sends no reply is confirmed by a guest-sync sent after it. `LibvirtChannel`
hands each message to libvirt's qemuAgentCommand, which frames and syncs itself.
`channel_for` picks one for a transport.
"""

from __future__ import annotations

import enum
import json
import secrets
import typing as t

from .errors import QgaAgentGone, QgaChannelError, QgaProtocolError, QgaRequestLost, QgaTimeoutError
from .transport import LibvirtTransport, StreamTransport, Transport, TransportLimits, deadline_after, remaining

SYNC_SENTINEL = b"\xff"
# What a QEMU monitor socket sends first; the agent never does (a channel pointed at the wrong socket).
QMP_GREETING = b'{"QMP"'
# What an SSH server sends first (no agent reply, stale or not, starts so: base64 has no "-").
SSH_GREETING = b"SSH-"
# Commands that send no reply on success (QAPI 'success-response': false) may still
# answer with an error right away (disabled, unsupported); wait this long for one.
NO_REPLY_ERROR_WAIT = 1.0
# On stream channels: how long to wait for the guest-sync sent after such a command.
NO_REPLY_SYNC_WAIT = 10.0
# Then how long to wait for a second guest-sync: an answer to it alone means the agent lost the request.
NO_REPLY_PROBE_WAIT = 5.0

Reply = t.Dict[str, t.Any]
Log = t.Callable[[str], None]
NO_REPLY: Reply = {"return": None}


class ChannelState(enum.Enum):
    """Where a channel stands between two requests."""

    CLOSED = "closed"
    IN_SYNC = "in sync"
    # The stream position is unknown (a timeout, an interrupted read, a no-reply command): resync first.
    OUT_OF_SYNC = "out of sync"


class Channel:
    """Moves one JSON request and its reply; knows nothing of what the commands mean."""

    state = ChannelState.CLOSED

    def __init__(self, transport: Transport, log: Log | None = None) -> None:
        self.transport = transport
        self.name = transport.channel
        self._log = log

    @property
    def limits(self) -> TransportLimits:
        """Size limits of the transport underneath."""
        return self.transport.limits

    def open(self, timeout: float) -> None:
        """Open the transport (unless a relay handed it over open) and get ready for the first request."""
        raise NotImplementedError

    def request(self, command: str, message: bytes, timeout: float, timeout_option: str = "") -> Reply:
        """Send `message` (the JSON of `command`) and return the agent's reply object.

        `timeout_option` names the option that set `timeout`, for the message when it runs out.
        """
        raise NotImplementedError

    def request_no_reply(self, command: str, message: bytes, timeout: float) -> Reply:
        """Send a command that answers only on error: its error reply, or NO_REPLY once it was accepted.

        `timeout` bounds the sending; how long acceptance takes to show is the channel's own business.
        """
        raise NotImplementedError

    def domain_state(self) -> str | None:
        """The VM's state as libvirt names it; None where the channel does not go through libvirt."""
        return None

    def close(self) -> None:
        """Close the transport. Safe to call twice."""
        self.state = ChannelState.CLOSED
        self.transport.close()

    def _debug(self, text: str) -> None:
        if self._log is not None:
            self._log(text)


class LibvirtChannel(Channel):
    """libvirt's qemuAgentCommand: libvirt owns the agent socket, frames and syncs."""

    transport: LibvirtTransport

    def open(self, timeout: float) -> None:
        self.transport.open(timeout)
        self.state = ChannelState.IN_SYNC

    def request(self, command: str, message: bytes, timeout: float, timeout_option: str = "") -> Reply:
        text = self.transport.command(message.decode("utf-8"), command, timeout)
        return parse_reply(text.encode("utf-8"), self.name, command)

    def request_no_reply(self, command: str, message: bytes, timeout: float) -> Reply:
        try:
            self.transport.command(message.decode("utf-8"), command, NO_REPLY_ERROR_WAIT)
        except QgaTimeoutError:
            pass
        except QgaAgentGone as exc:
            # libvirt reports the agent going down with the guest as an error: it is what the
            # stream channels see as the channel closing. Callers confirm through domain_state().
            self._debug("%s: the agent went away: %s" % (command, exc.reason))
        return NO_REPLY

    def domain_state(self) -> str | None:
        return self.transport.domain_state()


class StreamChannel(Channel):
    """JSON lines on a byte stream, kept in sync with 0xFF + guest-sync-delimited."""

    transport: StreamTransport

    def __init__(
        self,
        transport: StreamTransport,
        log: Log | None = None,
        sync_timeout: float = 10.0,
        no_reply_sync_wait: float = NO_REPLY_SYNC_WAIT,
        no_reply_probe_wait: float = NO_REPLY_PROBE_WAIT,
        already_open: bool = False,
    ) -> None:
        super().__init__(transport, log)
        self.sync_timeout = sync_timeout
        self.no_reply_sync_wait = no_reply_sync_wait
        self.no_reply_probe_wait = no_reply_probe_wait
        self._already_open = already_open
        self._buffer = bytearray()
        self._scan_from = 0

    def open(self, timeout: float) -> None:
        if not self._already_open:
            self.transport.open(timeout)
        self._already_open = False
        self._buffer.clear()
        self._scan_from = 0
        self.state = ChannelState.OUT_OF_SYNC
        self._sync(timeout)

    def request(self, command: str, message: bytes, timeout: float, timeout_option: str = "") -> Reply:
        return self._guarded(command, timeout, timeout_option, lambda: self._exchange(command, message, timeout))

    def request_no_reply(self, command: str, message: bytes, timeout: float) -> Reply:
        return self._guarded(command, timeout, "", lambda: self._send_unanswered(command, message, timeout))

    def _exchange(self, command: str, message: bytes, timeout: float) -> Reply:
        self._send_request(message, timeout)
        return self._read_reply(command, deadline_after(timeout), timeout)

    def _send_unanswered(self, command: str, message: bytes, timeout: float) -> Reply:
        self._send_request(message, timeout)
        return self._await_no_reply(command)

    def _send_request(self, message: bytes, timeout: float) -> None:
        if self.state is ChannelState.OUT_OF_SYNC:
            self._sync(min(timeout, self.sync_timeout))
        self.transport.send(message + b"\n", timeout)

    def _guarded(self, command: str, timeout: float, timeout_option: str, exchange: t.Callable[[], Reply]) -> Reply:
        """Run one exchange; keep the state true to the stream whatever happens in it."""
        try:
            return exchange()
        except QgaTimeoutError as exc:
            # A late reply to this command would be taken for the next one's: resync first.
            self.state = ChannelState.OUT_OF_SYNC
            if exc.command is not None:
                raise
            raise QgaTimeoutError(
                "no reply within %.1f s%s" % (timeout, " (%s)" % timeout_option if timeout_option else ""),
                channel=self.name,
                command=command,
            ) from None
        except QgaChannelError as exc:
            # The stream is gone: close it so a retry (or another client) can reconnect.
            self.close()
            if exc.command is None:
                raise type(exc)(exc.reason, channel=exc.channel, command=command) from None
            raise
        except BaseException:
            # Interrupted mid-reply (a task timeout's alarm, Ctrl-C): the stream position is unknown.
            self.state = ChannelState.OUT_OF_SYNC
            raise

    def _await_no_reply(self, command: str) -> Reply:
        """An error reply, or success: the agent answers a guest-sync sent right after the command.

        The agent handles requests in order, so the sync's reply means the command was accepted
        however long its checks took (a loaded TCG guest takes seconds). Silence is what a guest
        going down (or sleeping) looks like, and also what a stalled or restarting agent looks
        like: after no_reply_sync_wait a second guest-sync tells them apart. A late error or the
        first sync still counts; an answer to the second sync alone means the agent lost both
        (QgaRequestLost); silence through no_reply_probe_wait, or the channel closing, counts as
        the guest going down.
        """
        self.state = ChannelState.OUT_OF_SYNC
        try:
            sync_id = self._send_sync(self.no_reply_sync_wait)
            answer = self._await_sync(command, (sync_id,), self.no_reply_sync_wait)
            if answer == sync_id:
                self.state = ChannelState.IN_SYNC
            elif answer is None:
                answer = self._probe_after_silence(command, sync_id)
        except QgaChannelError:
            self.close()  # gone with the guest: what success looks like here, and the stream is over
            return NO_REPLY
        return answer if isinstance(answer, dict) else NO_REPLY

    def _probe_after_silence(self, command: str, sync_id: int) -> Reply | int | None:
        self._debug("no answer to the guest-sync sent after %s within %.0f s; asking again"
                    % (command, self.no_reply_sync_wait))
        probe_id = self._send_sync(self.no_reply_probe_wait)
        answer = self._await_sync(command, (sync_id, probe_id), self.no_reply_probe_wait)
        if answer == probe_id:
            self.state = ChannelState.IN_SYNC
            raise QgaRequestLost(
                "the agent lost the request: it answered a guest-sync sent %.0f s later, but neither the command "
                "nor the guest-sync sent right after it, so it restarted (or the guest rebooted) in between and the "
                "command most likely never ran" % self.no_reply_sync_wait,
                channel=self.name,
                command=command,
            )
        return answer

    def _send_sync(self, timeout: float) -> int:
        """Send a plain guest-sync (no sentinel: a reply to a no-reply command may be in flight); its id."""
        sync_id = secrets.randbelow(2**52) + 1
        self.transport.send(json.dumps({"execute": "guest-sync", "arguments": {"id": sync_id}}).encode() + b"\n",
                            timeout)
        return sync_id

    def _await_sync(self, command: str, sync_ids: tuple[int, ...], timeout: float) -> Reply | int | None:
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

    def _read_reply(self, command: str, deadline: float, timeout: float) -> Reply:
        while True:
            reply = self._next_message(deadline, timeout)
            if "return" in reply or "error" in reply:
                return reply
            self._debug("skipped a message that is no reply: %s" % preview(reply))

    def _sync(self, timeout: float) -> None:
        """Send 0xFF + guest-sync-delimited and skip to the matching reply."""
        sync_id = secrets.randbelow(2**52) + 1
        request = json.dumps({"execute": "guest-sync-delimited", "arguments": {"id": sync_id}}).encode()
        self.transport.send(SYNC_SENTINEL + request + b"\n", timeout)
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
                    channel=self.name,
                    command="guest-sync-delimited",
                ) from None
            if reply.get("return") == sync_id:
                self.state = ChannelState.IN_SYNC
                return
            self._debug("skipped a stale message while syncing: %s" % preview(reply))

    def _skip_to_sentinel(self, deadline: float, timeout: float) -> None:
        while True:
            index = self._buffer.find(SYNC_SENTINEL)
            if index >= 0:
                del self._buffer[: index + 1]
                self._scan_from = 0
                return
            self._refuse_other_servers()
            if self._buffer:
                self._debug("skipped %d bytes before the sync sentinel" % len(self._buffer))
            self._buffer.clear()
            self._scan_from = 0
            self._fill(deadline, timeout)

    def _refuse_other_servers(self) -> None:
        """A channel pointed at another server's socket says so at once instead of timing out."""
        if self._buffer.startswith(SSH_GREETING):
            raise QgaChannelError(
                "this is an SSH server's socket, not the guest agent's: it greeted with %r. Point the channel at "
                "the socket of the VM's org.qemu.guest_agent.0 chardev"
                % bytes(self._buffer.split(b"\n", 1)[0].strip()[:40]).decode("ascii", "replace"),
                channel=self.name,
            )
        if self._buffer.lstrip().startswith(QMP_GREETING):
            raise QgaChannelError(
                "this is a QEMU monitor (QMP) socket, not the guest agent's: it greeted with {\"QMP\": ...}. Point "
                "the channel at the socket of the VM's org.qemu.guest_agent.0 chardev (-chardev socket,...,id=qga0 "
                "with -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0)",
                channel=self.name,
            )

    def _next_message(self, deadline: float, timeout: float) -> Reply:
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
        left = remaining(deadline)
        if left <= 0:
            raise QgaTimeoutError("no reply within %.1f s" % timeout, channel=self.name)
        self._buffer += self.transport.receive(left)


def channel_for(transport: Transport, log: Log | None = None, **stream_options: t.Any) -> Channel:
    """The framing a transport needs (`stream_options`: StreamChannel's keyword arguments)."""
    if isinstance(transport, LibvirtTransport):
        return LibvirtChannel(transport, log)
    return StreamChannel(transport, log, **stream_options)


def parse_reply(text: bytes, channel: str, command: str) -> Reply:
    """The reply object in `text`, or QgaProtocolError."""
    try:
        reply = json.loads(text)
    except ValueError:
        raise QgaProtocolError(
            "the reply (%d bytes) is not JSON" % len(text), channel=channel, command=command
        ) from None
    if not isinstance(reply, dict):
        raise QgaProtocolError("the reply is no JSON object", channel=channel, command=command)
    return reply


def preview(message: Reply) -> str:
    """Only the shape of a message: a skipped reply may carry file content (a late guest-file-read of /etc/shadow)."""
    return "{%s} (%d bytes)" % (", ".join(sorted(map(str, message))), len(json.dumps(message)))
