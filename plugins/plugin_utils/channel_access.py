# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the controller's clients share a channel: Ansible's forks and plays take turns on a lock file,
and go through the channel's relay when one runs (or start it when `persist` asks for one)."""

from __future__ import annotations

import socket
import typing as t

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import (
    DEFAULT_CONNECT_TIMEOUT,
    ChannelAccess,
    QgaClient,
)
from ansible_collections.vmguest.qga.plugins.module_utils.qga.transport import SocketTransport, StreamTransport
from ansible_collections.vmguest.qga.plugins.plugin_utils import relay
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_lock import ChannelLock

DEFAULT_LOCK_TIMEOUT = 120.0

Log = t.Callable[[str], None]


class SharedChannelAccess(ChannelAccess):
    """One client at a time per channel on this machine, through the channel's relay when there is one."""

    def __init__(
        self,
        channel: str,
        domain: str | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        persist: float = 0.0,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        log: Log | None = None,
    ) -> None:
        self.channel = channel
        self.domain = domain
        self.lock_timeout = lock_timeout
        # persist > 0: keep the channel open that many seconds after the last client (relay.py).
        self.persist = persist
        self.connect_timeout = connect_timeout
        self.lock = ChannelLock(channel, domain)
        self._log = log

    def acquire(self) -> StreamTransport | None:
        self.lock.acquire(self.lock_timeout)
        try:
            relayed = self._relay_socket()
        except BaseException:
            self.lock.release()
            raise
        return SocketTransport.connected(self.channel, relayed) if relayed is not None else None

    def release(self) -> None:
        self.lock.release()

    def others_waiting(self) -> bool:
        return self.lock.others_waiting()

    def let_waiters_in(self, bound: float) -> None:
        self.lock.let_waiters_in(bound)

    def _relay_socket(self) -> socket.socket | None:
        """The channel's relay, started when this client asks to persist; None: talk to the agent directly.

        A running relay is used whether or not this client asked for one: it holds the agent's only client slot.
        """
        if self.persist > 0 and relay.relayable(self.channel):
            sock = relay.ensure(self.channel, self.domain, idle=self.persist, timeout=self.connect_timeout)
            self._debug("through the channel relay %s" % relay.socket_path(self.channel, self.domain))
            return sock
        running = relay.connect_running(self.channel, self.domain)
        if running is not None:
            self._debug("through the running channel relay %s" % relay.socket_path(self.channel, self.domain))
        return running

    def _debug(self, text: str) -> None:
        if self._log is not None:
            self._log("qga %s: %s" % (self.channel, text))


def shared_client(
    channel: str,
    domain: str | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    persist: float = 0.0,
    log: Log | None = None,
    **options: t.Any,
) -> QgaClient:
    """A (not yet connected) QgaClient that shares its channel as the controller does (options: QgaClient's)."""
    access = SharedChannelAccess(
        channel, domain, lock_timeout=lock_timeout, persist=persist,
        connect_timeout=float(options.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)), log=log,
    )
    return QgaClient(channel, domain=domain, log=log, access=access, **options)
