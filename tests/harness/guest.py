# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A test's own look into a guest, behind the plays' backs: each helper opens a client and closes it again.

The agent serves one client at a time, so no helper keeps the channel a play needs.
"""

from __future__ import annotations

import hashlib
import typing as t

from testvm import _qmp_command

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client
from ansible_collections.vmguest.qga.plugins.plugin_utils.passwd_crypt import shadow_field

TIMEOUT = 120.0


def agent(channel: str, command: str, arguments: dict[str, t.Any] | None = None, domain: str | None = None,
          timeout: float = TIMEOUT) -> t.Any:
    """The reply to one agent command."""
    with shared_client(channel, domain=domain, timeout=timeout) as client:
        return client.execute(command, arguments)


def guest_sh(channel: str, script: str, domain: str | None = None, timeout: float = TIMEOUT) -> str:
    """Run `sh -c script` in the guest; return stdout, fail the test on a non-zero exit."""
    with shared_client(channel, domain=domain, timeout=timeout) as client:
        result = guest_exec.run(client, ["/bin/sh", "-c", script], timeout=timeout)
    assert result.rc == 0, "%s: rc %s: %s" % (script, result.rc, result.stderr.decode(errors="replace"))
    return result.stdout.decode()


def guest_read(channel: str, path: str) -> bytes:
    """The content of a guest file."""
    with shared_client(channel, timeout=TIMEOUT) as client:
        return files.read_bytes(client, path)


def thaw(channel: str) -> None:
    """Thaw the guest's filesystems if they are frozen."""
    if agent(channel, "guest-fsfreeze-status") == "frozen":
        agent(channel, "guest-fsfreeze-thaw")


def shadow_hash(channel: str, user: str = "alice") -> str:
    """The password field of `user` in the guest's /etc/shadow."""
    field = shadow_field(guest_read(channel, "/etc/shadow").decode(), user)
    assert field is not None, "%s has no entry in the guest's /etc/shadow" % user
    return field


def vm_status(test_vm: t.Any) -> str:
    """The test VM's run state as QMP reports it: running, paused, suspended..."""
    return str(_qmp_command(test_vm.qmp_socket, "query-status")["status"])


def sha256(data: bytes) -> str:
    """The hex sha256 of `data`, as the modules report checksums."""
    return hashlib.sha256(data).hexdigest()
