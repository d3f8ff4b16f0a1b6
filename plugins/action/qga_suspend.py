# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_suspend: guest-suspend-{ram,disk,hybrid}, with a hint when the guest cannot."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaCommandError, QgaCommandRefused
from ansible_collections.vmguest.qga.plugins.modules.qga_suspend import ARGUMENT_SPEC
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase, await_domain_state

NEEDS = {
    "ram": "suspend to RAM needs S3 offered by the VM (libvirt: <pm><suspend-to-mem enabled='yes'/></pm>) and "
           "'mem' in the guest's /sys/power/state (or systemd's suspend)",
    "disk": "hibernation needs S4 offered by the VM (libvirt: <pm><suspend-to-disk enabled='yes'/></pm>), swap "
            "at least as large as the used memory, and 'disk' in the guest's /sys/power/state (or systemd's "
            "hibernate)",
    "hybrid": "hybrid suspend needs everything suspend to RAM and hibernation need, and systemd (hybrid-sleep) or "
              "pm-utils in the guest; Windows agents never allow it",
}
# What libvirt reports once the guest has suspended: hibernation ends with the VM powered off.
SUSPENDED_STATE = {"ram": "pmsuspended", "hybrid": "pmsuspended", "disk": "shutoff"}
SUSPEND_CONFIRM_TIMEOUT = 120.0
WAKE = {
    "ram": "wake it from the host (virsh dompmwakeup, or QMP system_wakeup)",
    "disk": "start the VM again to resume it (virsh start)",
    "hybrid": "wake it from the host (virsh dompmwakeup), or start it again if it lost power",
}


class ActionModule(QgaActionBase):
    """Suspend the guest; explain what is missing when it cannot."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        mode = args["mode"]
        command = "guest-suspend-%s" % mode
        client.require(command)
        result.update(changed=True, command=command)
        if self.check_mode:
            result["msg"] = "check mode: the guest would be suspended (%s)" % command
            return
        try:
            client.execute(command)
        except QgaCommandRefused:
            raise  # it says why (disabled, frozen) and what to do
        except QgaCommandError as exc:
            raise AnsibleActionFail(
                "%s: the guest cannot suspend (%s): %s. Hint: %s" % (self._host_name(), mode, exc, NEEDS[mode])
            ) from None
        self._confirm_suspended(client, mode, result)
        result["msg"] = "the guest is suspending (%s); %s" % (mode, WAKE[mode])

    def _confirm_suspended(self, client: QgaClient, mode: str, result: dict[str, t.Any]) -> None:
        """Over libvirt, wait until the domain is suspended (or, hibernated, off): the agent going away alone does not
        prove it."""
        wanted = SUSPENDED_STATE[mode]
        state, waited = await_domain_state(client, (wanted,), SUSPEND_CONFIRM_TIMEOUT)
        if state is None:
            return
        result["domain_state"] = state
        if state != wanted:
            raise AnsibleActionFail(
                "%s: the agent took %s, but libvirt still reports the domain %s after %.0f s (expected %s): the "
                "guest's suspend may have failed; see its console and kernel log" % (
                    self._host_name(), result["command"], state, waited, wanted),
                result={"changed": True, "command": result["command"], "domain_state": state},
            )
