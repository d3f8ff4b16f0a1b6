# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller adapters: plugin options -> QgaClient, client errors -> Ansible errors."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import (
    QgaChannelError,
    QgaCommandRefused,
    QgaError,
    QgaFileError,
    QgaTimeoutError,
    QgaUnsupportedError,
)
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

GetOption = t.Callable[[str], t.Any]

CHANNEL_HELP = (
    "set ansible_qga_channel for this host to the agent channel: a socket path (unix:PATH), tcp:HOST:PORT, "
    "serial:URL, exec:COMMAND or libvirt:URI (with ansible_qga_domain)"
)


def client_from_options(
    get_option: GetOption, host: str, log: t.Callable[[str], None] | None = None, persist: float = 0.0
) -> QgaClient:
    """A (not yet connected) client configured from a plugin's options (`persist`: see QgaClient)."""
    channel = get_option("channel")
    if not channel:
        raise AnsibleConnectionFailure("no guest agent channel for %s: %s" % (host, CHANNEL_HELP))
    try:
        return shared_client(
            channel,
            domain=get_option("domain") or None,
            timeout=float(get_option("rpc_timeout")),
            connect_timeout=float(get_option("connect_timeout")),
            lock_timeout=float(get_option("lock_timeout")),
            log=log,
            persist=persist,
        )
    except QgaError as exc:
        raise to_ansible_error(exc, host) from None


def to_ansible_error(exc: QgaError, host: str) -> AnsibleError:
    """The Ansible error for a client error, naming the host."""
    message = "%s: %s" % (host, exc)
    if isinstance(exc, QgaCommandRefused):
        # Blocked by the agent's configuration: nothing can run there as asked, like a failed login (unreachable).
        # Frozen: the guest answers and will again after a thaw; unknown: this command only. Task failures.
        return AnsibleConnectionFailure(message) if exc.why == "disabled" else AnsibleError(message)
    if isinstance(exc, (QgaChannelError, QgaTimeoutError, QgaUnsupportedError)):
        return AnsibleConnectionFailure(message)
    if isinstance(exc, QgaFileError) and "No such file" in str(exc):
        return AnsibleFileNotFound(message)
    return AnsibleError(message)
