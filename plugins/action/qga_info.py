# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_info: read-only facts from the guest agent."""

from __future__ import annotations

import time
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaCommandError
from ansible_collections.vmguest.qga.plugins.modules.qga_info import ARGUMENT_SPEC
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase

# subset -> the commands it reads (the first one is its main command)
SUBSETS: dict[str, tuple[str, ...]] = {
    "agent": ("guest-info",),
    "osinfo": ("guest-get-osinfo",),
    "hostname": ("guest-get-host-name",),
    "timezone": ("guest-get-timezone",),
    "users": ("guest-get-users",),
    "time": ("guest-get-time",),
    "vcpus": ("guest-get-vcpus",),
    "fsinfo": ("guest-get-fsinfo",),
    "disks": ("guest-get-disks",),
    "network": ("guest-network-get-interfaces",),
    "memory_blocks": ("guest-get-memory-blocks", "guest-get-memory-block-info"),
    "devices": ("guest-get-devices",),
    "fsfreeze": ("guest-fsfreeze-status",),
}


def selected_subsets(requested: list[str]) -> list[str]:
    """Resolve gather_subset (all, names, !names) to subset names in a stable order."""
    wanted: set[str] = set()
    excluded: set[str] = set()
    for entry in requested:
        name = entry.strip()
        target = excluded if name.startswith("!") else wanted
        name = name.lstrip("!")
        if name == "all":
            target.update(SUBSETS)
        elif name in SUBSETS:
            target.add(name)
        else:
            raise AnsibleActionFail(
                "unknown gather_subset %r; choose from all, %s" % (entry, ", ".join(SUBSETS))
            )
    if not wanted:
        wanted = set(SUBSETS)
    return [name for name in SUBSETS if name in wanted and name not in excluded]


class ActionModule(QgaActionBase):
    """Gather what the agent knows; never change anything."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        info = client.info()
        frozen = info.enabled("guest-fsfreeze-status") and client.execute("guest-fsfreeze-status") == "frozen"
        unsupported: dict[str, str] = {}
        for subset in selected_subsets(args["gather_subset"]):
            commands = SUBSETS[subset]
            reason = self._unavailable(info, commands, frozen)
            if reason:
                unsupported[subset] = reason
                continue
            try:
                result[subset] = self._gather(client, subset, commands)
            except QgaCommandError as exc:
                unsupported[subset] = "%s failed: %s" % (exc.command, exc.desc)
        result["unsupported"] = unsupported

    @staticmethod
    def _unavailable(info: t.Any, commands: tuple[str, ...], frozen: bool) -> str:
        for command in commands:
            if not info.knows(command):
                return "%s is not implemented by qemu-guest-agent %s" % (command, info.version)
            if not info.enabled(command):
                if frozen:
                    return "%s is disabled while the guest filesystems are frozen" % command
                return "%s is disabled in this agent (its --block-rpcs / --allow-rpcs lists)" % command
        return ""

    @staticmethod
    def _gather(client: QgaClient, subset: str, commands: tuple[str, ...]) -> t.Any:
        if subset == "agent":
            agent = client.info(refresh=True)
            return {"version": agent.version, "commands": dict(sorted(agent.commands.items()))}
        if subset == "hostname":
            return client.execute(commands[0])["host-name"]
        if subset == "time":
            before = time.time_ns()
            guest_ns = int(client.execute(commands[0]))
            controller_ns = (before + time.time_ns()) // 2
            return {"guest_ns": guest_ns, "controller_ns": controller_ns,
                    "drift_seconds": round((guest_ns - controller_ns) / 1e9, 6)}
        if subset == "memory_blocks":
            return {"blocks": client.execute(commands[0]), "block_size": client.execute(commands[1])["size"]}
        return client.execute(commands[0])
