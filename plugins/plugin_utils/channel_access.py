# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the controller's clients share a channel: Ansible's forks and plays take turns on a lock file,
and go through the channel's relay when one runs (or start it when `persist` asks for one)."""

from __future__ import annotations

import socket
import typing as t

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import ChannelAccess, Log, QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.transport import SocketTransport, StreamTransport
from ansible_collections.vmguest.qga.plugins.plugin_utils import relay
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_lock import ChannelLock

DEFAULT_LOCK_TIMEOUT = 120.0


class SharedChannelAccess(ChannelAccess):
    """One client at a time per channel on this machine, through the channel's relay when there is one."""

    def __init__(
        self,
        channel: str,
        domain: str | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        persist: float = 0.0,
    ) -> None:
        self.channel = channel
        self.domain = domain
        self.lock_timeout = lock_timeout
        # persist > 0: keep the channel open that many seconds after the last client (relay.py).
        self.persist = persist
        self.lock = ChannelLock(channel, domain)

    def acquire(self, connect_timeout: float, log: Log) -> StreamTransport | None:
        self.lock.acquire(self.lock_timeout)
        try:
            relayed = self._relay_socket(connect_timeout, log)
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

    def _relay_socket(self, connect_timeout: float, log: Log) -> socket.socket | None:
        """The channel's relay, started when this client asks to persist; None: talk to the agent directly.

        A running relay is used whether or not this client asked for one: it holds the agent's only client slot.
        """
        if self.persist > 0 and relay.relayable(self.channel):
            sock = relay.ensure(self.channel, self.domain, idle=self.persist, timeout=connect_timeout)
            log("through the channel relay %s" % relay.socket_path(self.channel, self.domain))
            return sock
        running = relay.connect_running(self.channel, self.domain)
        if running is not None:
            log("through the running channel relay %s" % relay.socket_path(self.channel, self.domain))
        return running


def shared_client(
    channel: str,
    domain: str | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    persist: float = 0.0,
    log: Log | None = None,
    **options: t.Any,
) -> QgaClient:
    """A (not yet connected) QgaClient that shares its channel as the controller does (options: QgaClient's)."""
    access = SharedChannelAccess(channel, domain, lock_timeout=lock_timeout, persist=persist)
    return QgaClient(channel, domain=domain, log=log, access=access, **options)
