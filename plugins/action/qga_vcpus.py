# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_vcpus: online vCPU count or set, idempotent, respecting can-offline."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.modules.qga_vcpus import (
    ARGUMENT_SPEC,
    MUTUALLY_EXCLUSIVE,
    REQUIRED_ONE_OF,
)
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import OnlineStateAction


def plan(vcpus: list[dict[str, t.Any]], online: int | None, online_cpus: list[int] | None) -> dict[int, bool]:
    """The processors whose state must change ({logical-id: online}); raise ValueError when impossible."""
    by_id = {int(cpu["logical-id"]): cpu for cpu in vcpus}
    current = {cpu_id for cpu_id, cpu in by_id.items() if cpu["online"]}
    if online_cpus is not None:
        unknown = sorted(set(online_cpus) - set(by_id))
        if unknown:
            raise ValueError(
                "the guest has no cpu %s (its logical processors are %s)"
                % (", ".join(map(str, unknown)), ", ".join(map(str, sorted(by_id))))
            )
        target = set(online_cpus)
        if not target:
            raise ValueError("online_cpus must name at least one processor")
    else:
        online = online or 0
        if online < 1 or online > len(by_id):
            raise ValueError("online_count must be between 1 and %d (the guest's logical processors), not %d"
                             % (len(by_id), online))
        target = set(current)
        for cpu_id in sorted(by_id):
            if len(target) >= online:
                break
            target.add(cpu_id)
        for cpu_id in sorted(by_id, reverse=True):
            if len(target) <= online:
                break
            if cpu_id in target and by_id[cpu_id].get("can-offline"):
                target.discard(cpu_id)
        if len(target) > online:
            fixed = sorted(cpu_id for cpu_id in target if not by_id[cpu_id].get("can-offline"))
            raise ValueError(
                "cannot bring the online processors down to %d: cpu %s cannot go offline (can-offline is false)"
                % (online, ", ".join(map(str, fixed)))
            )
    changes = {cpu_id: cpu_id in target for cpu_id in sorted(by_id) if (cpu_id in target) != (cpu_id in current)}
    stuck = [cpu_id for cpu_id, up in changes.items() if not up and not by_id[cpu_id].get("can-offline")]
    if stuck:
        raise ValueError(
            "cpu %s cannot go offline: the guest reports can-offline false for %s (the boot processor, cpu0, "
            "usually cannot); nothing was changed" % (", ".join(map(str, stuck)), "it" if len(stuck) == 1 else "them")
        )
    return changes


class ActionModule(OnlineStateAction):
    """Bring the set of online vCPUs to what was asked."""

    ARGUMENT_SPEC = ARGUMENT_SPEC
    MUTUALLY_EXCLUSIVE = MUTUALLY_EXCLUSIVE
    REQUIRED_ONE_OF = REQUIRED_ONE_OF
    GET_RPC = "guest-get-vcpus"
    SET_RPC = "guest-set-vcpus"
    ID_KEY = "logical-id"
    CHANGED_KEY = "changed_cpus"

    def plan_changes(self, items: list[dict[str, t.Any]], args: dict[str, t.Any]) -> dict[int, bool]:
        return plan(items, args.get("online_count"), args.get("online_cpus"))

    def apply_changes(self, client: QgaClient, changes: dict[int, bool]) -> list[str]:
        request = [{"logical-id": cpu_id, "online": up} for cpu_id, up in changes.items()]
        done = int(client.execute("guest-set-vcpus", {"vcpus": request}))
        if done < len(request):
            # The agent stops at the first processor it cannot change and reports how many it did.
            failed = request[done]
            raise AnsibleActionFail(
                "%s: the guest changed %d of %d processor(s); taking cpu %d %s failed, the rest were not tried"
                % (self._host_name(), done, len(request), failed["logical-id"],
                   "online" if failed["online"] else "offline"),
                result={"changed": done > 0},
            )
        return []

    def report(self, result: dict[str, t.Any], items: list[dict[str, t.Any]], after: dict[str, list[int]]) -> None:
        result["vcpus"] = items
        result["online_cpus"] = after["online"]
        result["offline_cpus"] = after["offline"]
