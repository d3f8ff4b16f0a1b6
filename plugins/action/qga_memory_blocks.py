# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_memory_blocks: online state of memory blocks, per block and/or as a count; idempotent."""

from __future__ import annotations

import errno
import os
import typing as t

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaCommandError
from ansible_collections.vmguest.qga.plugins.modules.qga_memory_blocks import ARGUMENT_SPEC, REQUIRED_ONE_OF
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import OnlineStateAction

RESPONSE_HINTS = {
    "not-found": "the guest has no such block",
    "operation-not-supported": "the guest cannot take it offline (can-offline is false)",
    "operation-failed": "the guest kernel refused",
}


def _ranges(indexes: t.Iterable[int]) -> str:
    """0, 1, 2, 5 -> "0-2, 5"."""
    ordered = sorted(indexes)
    parts: list[str] = []
    first = 0
    while first < len(ordered):
        last = first
        while last + 1 < len(ordered) and ordered[last + 1] == ordered[last] + 1:
            last += 1
        parts.append(str(ordered[first]) if first == last else "%d-%d" % (ordered[first], ordered[last]))
        first = last + 1
    return ", ".join(parts) or "none"


def plan(
    blocks: list[dict[str, t.Any]], wanted: list[dict[str, t.Any]] | None, online_count: int | None
) -> dict[int, bool]:
    """The blocks whose state must change ({phys-index: online}); raise ValueError when impossible."""
    by_index = {int(block["phys-index"]): block for block in blocks}
    state = {index: bool(block["online"]) for index, block in by_index.items()}
    pinned: dict[int, bool] = {}
    for entry in wanted or []:
        index, online = int(entry["phys_index"]), bool(entry["online"])
        if index not in by_index:
            raise ValueError(
                "the guest has no memory block %d (its blocks are %s)" % (index, _ranges(by_index))
            )
        if pinned.get(index, online) != online:
            raise ValueError("memory block %d is asked both online and offline" % index)
        pinned[index] = online
    target = dict(state)
    target.update(pinned)
    if online_count is not None:
        if online_count < 1 or online_count > len(by_index):
            raise ValueError("online_count must be between 1 and %d (the guest's memory blocks), not %d"
                             % (len(by_index), online_count))
        free = [index for index in sorted(by_index) if index not in pinned]
        for index in free:
            if sum(target.values()) >= online_count:
                break
            target[index] = True
        for index in reversed(free):
            if sum(target.values()) <= online_count:
                break
            if target[index] and by_index[index].get("can-offline") is not False:
                target[index] = False
        if sum(target.values()) != online_count:
            raise ValueError(
                "cannot have %d memory blocks online: %d would be (blocks named in blocks keep their state; "
                "blocks with can-offline false stay online)" % (online_count, sum(target.values()))
            )
    changes = {index: online for index, online in sorted(target.items()) if online != state[index]}
    stuck = [index for index, online in changes.items() if not online and by_index[index].get("can-offline") is False]
    if stuck:
        raise ValueError(
            "memory block %s cannot go offline: the guest reports can-offline false; nothing was changed"
            % ", ".join(map(str, stuck))
        )
    return changes


class ActionModule(OnlineStateAction):
    """Bring memory blocks online or offline as asked."""

    ARGUMENT_SPEC = ARGUMENT_SPEC
    REQUIRED_ONE_OF = REQUIRED_ONE_OF
    GET_RPC = "guest-get-memory-blocks"
    SET_RPC = "guest-set-memory-blocks"
    ID_KEY = "phys-index"
    CHANGED_KEY = "changed_blocks"
    block_size: int | None = None

    def plan_changes(self, items: list[dict[str, t.Any]], args: dict[str, t.Any]) -> dict[int, bool]:
        return plan(items, args.get("blocks"), args.get("online_count"))

    def read_details(self, client: QgaClient) -> None:
        self.block_size = self._block_size(client)

    def report(self, result: dict[str, t.Any], items: list[dict[str, t.Any]], after: dict[str, list[int]]) -> None:
        result["memory_blocks"] = items
        result["online_blocks"] = after["online"]
        result["offline_blocks"] = after["offline"]
        result["block_size"] = self.block_size
        result["online_bytes"] = self.block_size * len(after["online"]) if self.block_size else None

    @staticmethod
    def _block_size(client: QgaClient) -> int | None:
        if not client.supports("guest-get-memory-block-info"):
            return None
        try:
            return int(client.execute("guest-get-memory-block-info")["size"])
        except QgaCommandError:
            return None

    def apply_changes(self, client: QgaClient, changes: dict[int, bool]) -> list[str]:
        # Offline from the highest block down, then online: the order a person would use.
        order = sorted((index for index, up in changes.items() if not up), reverse=True)
        order += sorted(index for index, up in changes.items() if up)
        request = [{"phys-index": index, "online": changes[index]} for index in order]
        responses = client.execute("guest-set-memory-blocks", {"mem-blks": request})
        failures = []
        for response in responses:
            if response.get("response") == "success":
                continue
            index = int(response.get("phys-index", -1))
            code = response.get("error-code")
            failures.append(
                "taking memory block %d %s failed: %s (%s%s)"
                % (index, "online" if changes.get(index) else "offline", response.get("response"),
                   RESPONSE_HINTS.get(str(response.get("response")), "unknown response"),
                   ", %s" % _errno_text(code) if code is not None else "")
            )
        return failures


def _errno_text(code: t.Any) -> str:
    try:
        number = abs(int(code))
    except (TypeError, ValueError):
        return "error %s" % code
    return "%s: %s" % (errno.errorcode.get(number, "errno %d" % number), os.strerror(number))
