# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """The agent channel options of every vmguest.qga module."""

    DOCUMENTATION = r"""
options:
  channel:
    description:
      - The agent channel to use when the task's connection is not V(vmguest.qga.qga)
        (for example in a play for V(localhost), or with C(delegate_to)).
      - A socket path or V(unix:PATH), V(tcp:HOST:PORT), V(serial:URL), V(exec:COMMAND),
        or V(libvirt:URI) with O(domain).
      - When the task runs over the V(vmguest.qga.qga) connection and this is not set, the connection's channel is used.
    type: str
  domain:
    description:
      - The libvirt domain for a V(libvirt:) O(channel).
    type: str
  rpc_timeout:
    description: Seconds to wait for the reply to one agent command (only with O(channel)).
    type: float
    default: 30
  connect_timeout:
    description: Seconds to wait for the channel to open and the agent to sync (only with O(channel)).
    type: float
    default: 10
  lock_timeout:
    description:
      - Seconds to wait for another client of the same channel (only with O(channel)). A client that holds the
        channel hands it over between two agent commands after 0.5 s, so this bounds the wait for one exchange,
        not for another task.
    type: float
    default: 120
notes:
  - The module runs on the controller (as an action plugin) and talks to the guest agent only,
    so no Python is needed in the guest.
"""
