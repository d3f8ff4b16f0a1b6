# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Framing corner cases that a well-behaved real agent does not produce on demand.

A scripted peer on a socketpair plays the agent: split replies, garbage,
stale replies before the sync sentinel, late replies after a timeout.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import typing as t

import pytest

from ansible_collections.vmguest.qga.plugins.module_utils.qga.channel import (
    NO_REPLY_PROBE_WAIT,
    NO_REPLY_SYNC_WAIT,
    ChannelState,
)
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import ChannelAccess, ClientState, QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import (
    QgaArgumentError,
    QgaChannelError,
    QgaCommandDisabled,
    QgaCommandError,
    QgaCommandNotFound,
    QgaFrozenError,
    QgaRequestLost,
    QgaTimeoutError,
    command_error,
)
from ansible_collections.vmguest.qga.plugins.module_utils.qga.transport import SocketTransport, _guess_error_class

Handler = t.Callable[[dict], t.List[t.Union[bytes, float]]]


class PairTransport(SocketTransport):
    """A SocketTransport over one end of a socketpair."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__("fake:pair", socket.AF_UNIX, "")
        self._pair_end = sock

    def open(self, timeout: float) -> None:
        if self._pair_end.fileno() < 0:  # closed when the client lost the channel: as a socket nobody serves
            raise self._error("cannot connect: the peer is gone")
        self._sock = self._pair_end


class ScriptedAgent:
    """Reads requests line by line; answers each with what the handler returns.

    A handler returns a list of byte strings to send and floats (seconds to pause).
    Sync requests are answered correctly unless `sync_handler` says otherwise.
    """

    def __init__(self, handler: Handler, sync_prefix: bytes = b"") -> None:
        self.client_end, self.agent_end = socket.socketpair()
        self.handler = handler
        self.sync_prefix = sync_prefix
        self.requests: list[dict] = []
        self.raw_received = bytearray()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def client(self, **options: t.Any) -> QgaClient:
        return QgaClient("fake:pair", transport=PairTransport(self.client_end), **options)

    def _serve(self) -> None:
        buffer = b""
        while True:
            try:
                data = self.agent_end.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.raw_received += data
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line.lstrip(b"\xff"))
                self.requests.append(request)
                if request["execute"] == "guest-sync-delimited":
                    pieces: list[bytes | float] = [
                        self.sync_prefix + b"\xff" + json.dumps({"return": request["arguments"]["id"]}).encode() + b"\n"
                    ]
                else:
                    pieces = self.handler(request)
                for piece in pieces:
                    if isinstance(piece, float):
                        time.sleep(piece)
                    else:
                        try:
                            self.agent_end.sendall(piece)
                        except OSError:
                            return  # the client (or the test, as the agent going away) closed the pair

    def close(self) -> None:
        self.agent_end.close()

    def commands(self) -> list[str]:
        return [request["execute"] for request in self.requests]


def reply(value: t.Any) -> bytes:
    return json.dumps({"return": value}).encode() + b"\n"


def error(error_class: str, desc: str) -> bytes:
    return json.dumps({"error": {"class": error_class, "desc": desc}}).encode() + b"\n"


def test_connect_sends_sentinel_byte_then_sync_delimited() -> None:
    agent = ScriptedAgent(lambda request: [reply({})])
    with agent.client():
        pass
    assert agent.raw_received.startswith(b"\xff{")
    assert agent.commands() == ["guest-sync-delimited"]


def test_stale_data_before_the_sentinel_is_skipped() -> None:
    stale = b'garbage {"return": {"old": 1}}\n{"error": {"class": "GenericError", "desc": "stray"}}\n'
    stale += b'\xff{"return": 42}\n'  # a stale sync reply with another id
    agent = ScriptedAgent(lambda request: [reply({})], sync_prefix=stale)
    with agent.client() as qga:
        assert qga.execute("guest-ping") == {}


def test_reply_split_across_many_reads_is_reassembled() -> None:
    whole = reply({"version": "9.9", "supported_commands": []})
    agent = ScriptedAgent(lambda request: [whole[i : i + 3] for i in range(0, len(whole), 3)])
    with agent.client() as qga:
        assert qga.execute("guest-info")["version"] == "9.9"


def test_non_json_and_non_object_lines_before_a_reply_are_skipped() -> None:
    agent = ScriptedAgent(lambda request: [b"not json at all\n", b"[1, 2]\n", b"\n", reply({})])
    with agent.client() as qga:
        assert qga.execute("guest-ping") == {}


def test_a_large_reply_in_one_line_is_read_whole() -> None:
    payload = "A" * (6 * 1024 * 1024)
    agent = ScriptedAgent(lambda request: [reply({"count": 1, "buf-b64": payload, "eof": False})])
    with agent.client() as qga:
        assert qga.execute("guest-file-read", {"handle": 1, "count": 10})["buf-b64"] == payload


def test_a_timed_out_reply_arriving_late_is_not_taken_for_the_next_one() -> None:
    def handler(request: dict) -> list[bytes | float]:
        if request["execute"] == "guest-get-time":
            return [0.5, reply(111)]
        return [reply({})]

    agent = ScriptedAgent(handler)
    with agent.client() as qga:
        expected = r"no reply within 0\.1 s \(command guest-get-time, channel fake:pair\)"
        with pytest.raises(QgaTimeoutError, match=expected):
            qga.execute("guest-get-time", timeout=0.1)
        time.sleep(0.6)
        assert qga.execute("guest-ping") == {}


def test_a_timeout_of_the_default_rpc_timeout_names_the_option_that_sets_it() -> None:
    agent = ScriptedAgent(lambda request: [0.5, reply(1)] if request["execute"] == "guest-get-time" else [reply({})])
    with agent.client(timeout=0.1) as qga:
        with pytest.raises(QgaTimeoutError, match=r"no reply within 0\.1 s \(rpc_timeout; ansible_qga_rpc_timeout"):
            qga.execute("guest-get-time")
        time.sleep(0.6)
        assert qga.execute("guest-ping") == {}
    assert agent.commands() == ["guest-sync-delimited", "guest-get-time", "guest-sync-delimited", "guest-ping"]


@pytest.mark.parametrize(
    ("error_class", "desc", "expected_type", "expected_text"),
    [
        ("CommandNotFound", "Command guest-exec has been disabled", QgaCommandDisabled, "--block-rpcs"),
        ("CommandNotFound", "The command guest-exec has not been found", QgaCommandNotFound, "does not implement"),
        ("GenericError", "Command guest-exec has been disabled: the agent is in frozen state", QgaFrozenError,
         "filesystems are frozen"),
        ("GenericError", "failed to open file '/nope' (mode: 'r'): No such file", QgaCommandError, "No such file"),
    ],
)
def test_error_replies_become_typed_errors_naming_channel_and_command(
    error_class: str, desc: str, expected_type: t.Type[QgaCommandError], expected_text: str
) -> None:
    agent = ScriptedAgent(lambda request: [error(error_class, desc)])
    with agent.client() as qga:
        with pytest.raises(expected_type) as raised:
            qga.execute("guest-exec", {"path": "/bin/true"})
    message = str(raised.value)
    assert expected_text in message
    assert "command guest-exec" in message and "channel fake:pair" in message
    assert raised.value.error_class == error_class and raised.value.desc == desc


def test_the_agent_going_away_is_a_channel_error() -> None:
    def handler(request: dict) -> list[bytes | float]:
        agent.close()
        return []

    agent = ScriptedAgent(handler)
    qga = agent.client()
    qga.connect()
    with pytest.raises(QgaChannelError, match="the channel closed"):
        qga.execute("guest-ping", timeout=5)
    assert not qga.connected


class RecordingAccess(ChannelAccess):
    """Counts how often the client takes and gives back the channel, and the connect timeouts it was given."""

    def __init__(self) -> None:
        self.held = 0
        self.connect_timeouts: list[float] = []

    def acquire(self, connect_timeout: float, log: t.Callable[[str], None]) -> None:
        self.held += 1
        self.connect_timeouts.append(connect_timeout)

    def release(self) -> None:
        self.held = max(0, self.held - 1)


def test_the_states_follow_the_stream_and_a_lost_channel_is_given_back() -> None:
    def handler(request: dict) -> list[bytes | float]:
        if request["execute"] == "guest-get-time":
            return [0.3, reply(1)]
        if request["execute"] == "guest-shutdown":
            agent.close()
            return []
        return [reply({})]

    agent = ScriptedAgent(handler)
    access = RecordingAccess()
    qga = agent.client(access=access)
    assert (qga.state, qga._channel.state, access.held) == (ClientState.DISCONNECTED, ChannelState.CLOSED, 0)
    qga.connect()
    assert (qga.state, qga._channel.state, access.held) == (ClientState.CONNECTED, ChannelState.IN_SYNC, 1)
    with pytest.raises(QgaTimeoutError):
        qga.execute("guest-get-time", timeout=0.1)
    assert qga._channel.state is ChannelState.OUT_OF_SYNC  # a late reply may still come: resync first
    time.sleep(0.4)
    assert qga.execute("guest-ping") == {} and qga._channel.state is ChannelState.IN_SYNC
    assert qga.execute("guest-shutdown") is None  # the agent went away with the guest: no error, by design
    assert (qga.state, qga._channel.state, access.held) == (ClientState.DISCONNECTED, ChannelState.CLOSED, 0)
    # The access waits (a relay's start) as long as the client's connect_timeout is when it connects.
    assert access.connect_timeouts == [10.0]
    qga.connect_timeout = 0.5
    with pytest.raises(QgaChannelError):
        qga.connect()  # the agent is gone
    assert access.connect_timeouts == [10.0, 0.5] and access.held == 0


def test_bad_arguments_are_refused_before_anything_is_sent() -> None:
    agent = ScriptedAgent(lambda request: [reply({})])
    with agent.client() as qga:
        with pytest.raises(QgaArgumentError, match="count"):
            qga.execute("guest-file-read", {"handle": 1, "count": "many"})
        with pytest.raises(QgaArgumentError, match="unknown command"):
            qga.execute("guest-make-coffee")
    assert agent.commands() == ["guest-sync-delimited"]


def test_a_request_over_the_transport_limit_is_refused_before_sending() -> None:
    from ansible_collections.vmguest.qga.plugins.module_utils.qga.transport import LIBVIRT_LIMITS

    agent = ScriptedAgent(lambda request: [reply({"count": 1, "eof": False})])
    transport = PairTransport(agent.client_end)
    transport.limits = LIBVIRT_LIMITS
    with QgaClient("fake:pair", transport=transport) as qga:
        with pytest.raises(QgaArgumentError, match="over this transport's limit of 200000 bytes"):
            qga.execute("guest-file-write", {"handle": 1, "buf-b64": "QUFB" * 60000})
    assert agent.commands() == ["guest-sync-delimited"]


def test_a_command_without_success_reply_returns_on_silence_and_raises_on_error() -> None:
    def handler(request: dict) -> list[bytes | float]:
        if request["execute"] == "guest-sync":
            return [reply(request["arguments"]["id"])]
        if request["execute"] == "guest-fsfreeze-status":  # asked after "disabled": frozen or blocked?
            return [reply("thawed")]
        if request["arguments"]["mode"] == "halt":
            return [error("CommandNotFound", "Command guest-shutdown has been disabled")]
        if request["arguments"]["mode"] == "reboot":
            return [2.0, error("GenericError", "slow check failed")]  # later than the old 1 s wait
        return []

    agent = ScriptedAgent(handler)
    with agent.client() as qga:
        assert qga.execute("guest-shutdown", {"mode": "powerdown"}) is None
        with pytest.raises(QgaCommandDisabled):
            qga.execute("guest-shutdown", {"mode": "halt"})
        with pytest.raises(QgaCommandError, match="slow check failed"):
            qga.execute("guest-shutdown", {"mode": "reboot"})


def test_the_no_reply_waits_default_to_10_and_5_seconds() -> None:
    assert (NO_REPLY_SYNC_WAIT, NO_REPLY_PROBE_WAIT) == (10.0, 5.0)
    agent = ScriptedAgent(lambda request: [])
    client = agent.client()
    assert (client.no_reply_sync_wait, client.no_reply_probe_wait) == (10.0, 5.0)


def test_shorter_no_reply_waits_are_the_ones_waited() -> None:
    """An agent that answers no guest-sync: silence through both waits counts as the guest going down."""
    lines: list[str] = []
    agent = ScriptedAgent(lambda request: [])
    with agent.client(no_reply_sync_wait=0.3, no_reply_probe_wait=0.2, log=lines.append) as qga:
        started = time.monotonic()
        assert qga.execute("guest-suspend-ram") is None
        waited = time.monotonic() - started
    assert 0.5 <= waited < 3, waited
    assert agent.commands() == ["guest-sync-delimited", "guest-suspend-ram", "guest-sync", "guest-sync"]
    assert any("asking again" in line for line in lines), lines


def test_an_answer_to_the_second_sync_alone_after_a_short_wait_is_a_lost_request() -> None:
    syncs: list[int] = []

    def handler(request: dict) -> list[bytes | float]:
        if request["execute"] == "guest-suspend-ram":
            return []
        if request["execute"] != "guest-sync":
            return [reply({})]
        syncs.append(request["arguments"]["id"])
        return [reply(request["arguments"]["id"])] if len(syncs) == 2 else []  # the restarted agent's answer

    agent = ScriptedAgent(handler)
    with agent.client(no_reply_sync_wait=0.3) as qga:
        started = time.monotonic()
        with pytest.raises(QgaRequestLost, match="the agent lost the request"):
            qga.execute("guest-suspend-ram")
        assert time.monotonic() - started < 3
        assert qga.execute("guest-ping") == {}  # in step again


def test_libvirts_own_agent_sockets_are_recognised_by_path() -> None:
    from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import libvirt_socket_domain

    path = "/var/lib/libvirt/qemu/channel/target/domain-3-web-1/org.qemu.guest_agent.0"
    assert libvirt_socket_domain("unix:" + path) == "web-1" and libvirt_socket_domain(path) == "web-1"
    assert libvirt_socket_domain("unix:/run/vms/web-1/qga.sock") is None


@pytest.mark.parametrize(("desc", "expected"), [
    ("The command guest-frobnicate has not been found", QgaCommandNotFound),
    ("Command guest-exec has been disabled", QgaCommandDisabled),
    ("Command guest-exec has been disabled: the agent is in frozen state", QgaFrozenError),
    ("User 'bob' not found", QgaCommandError),  # not "a newer qemu-guest-agent may ..."
    ("Guest agent command failed: file not found", QgaCommandError),
])
def test_libvirts_agent_errors_are_typed_by_qemu_gas_exact_wording(desc: str, expected: type) -> None:
    error = command_error(_guess_error_class(desc), desc, "libvirt:qemu:///system", "guest-x")
    assert error.__class__ is expected
    assert ("a newer qemu-guest-agent may" in str(error)) == (expected is QgaCommandNotFound)
