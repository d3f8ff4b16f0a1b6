# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_fsfreeze: freeze/thaw/status, idempotent, with a controller-side auto-thaw watchdog.

Only guest-info and guest-fsfreeze-* go to the agent here: nothing that writes
to the guest, nothing refused while frozen.
"""

from __future__ import annotations

import dataclasses
import time
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaCommandError, QgaTimeoutError
from ansible_collections.vmguest.qga.plugins.modules.qga_fsfreeze import ARGUMENT_SPEC
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase
from ansible_collections.vmguest.qga.plugins.plugin_utils.fsfreeze_watchdog import (
    FreezeState,
    WatchdogError,
    is_our_watchdog,
    iso_time,
    new_token,
    spawn_watchdog,
    stop_watchdog,
)

VSS_WINDOW_SECONDS = 10


@dataclasses.dataclass
class FreezeTask:
    """What one task works with: the agent, its arguments, the guest's status, the freeze's record and the result."""

    client: QgaClient
    args: dict[str, t.Any]
    status: str
    store: FreezeState
    recorded: dict[str, t.Any]
    result: dict[str, t.Any]


class ActionModule(QgaActionBase):
    """Bring the guest's freeze state to `state` (or report it)."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        wanted = args["state"]
        if args.get("mountpoints") is not None and wanted != "frozen":
            raise AnsibleActionFail("mountpoints only goes with state=frozen")
        if args["auto_thaw"] < 0:
            raise AnsibleActionFail("auto_thaw must be 0 (off) or a number of seconds, not %d" % args["auto_thaw"])
        client.require("guest-fsfreeze-status")
        store = FreezeState(client.channel, client.domain)
        status = client.execute("guest-fsfreeze-status")
        task = FreezeTask(client, args, status, store, store.read(), result)
        self._report_auto_thaw(task)
        if self.diff_mode:
            after = status if wanted == "status" else wanted
            result["diff"] = {"before": {"fsfreeze": status}, "after": {"fsfreeze": after}}
        if wanted == "status":
            self._status(task)
        elif wanted == "frozen":
            self._freeze(task)
        else:
            self._thaw(task)

    # -- state=status ---------------------------------------------------------

    def _status(self, task: FreezeTask) -> None:
        task.result["status"] = task.status
        if task.status == "frozen":
            self._report_frozen(task.recorded, task.result)
            self._report_watchdog(task.recorded, task.result)

    # -- state=frozen ----------------------------------------------------------

    def _freeze(self, task: FreezeTask) -> None:
        client, store, result = task.client, task.store, task.result
        mountpoints = task.args.get("mountpoints")
        freeze_command = "guest-fsfreeze-freeze-list" if mountpoints is not None else "guest-fsfreeze-freeze"
        # The state the guest is in: "frozen" only once it is (or, in check mode, would be).
        result["status"] = task.status
        auto_thaw = task.args["auto_thaw"]
        if task.status == "frozen":
            self._report_frozen(task.recorded, result)
            watchdog = task.recorded.get("watchdog")
            if watchdog and is_our_watchdog(watchdog.get("pid"), watchdog.get("token")):
                self._report_watchdog(task.recorded, result)
            elif auto_thaw and not self.check_mode:
                self._arm(task, time.time() + auto_thaw)
                self._report_watchdog(task.recorded, result)
            return
        # Never freeze what cannot be thawed again. (While frozen, the agent reports the freeze commands disabled.)
        client.require(freeze_command, "guest-fsfreeze-thaw")
        result["changed"] = True
        if self.check_mode:
            result["status"] = "frozen"
            return
        self._warn_windows(client, auto_thaw, result)
        # A later freeze cancels any watchdog of an earlier one.
        stop_watchdog(task.recorded.get("watchdog"))
        started = time.time()
        task.recorded = {"freeze_started": started, "frozen_at": None, "mountpoints": mountpoints, "watchdog": None}
        recorded = task.recorded
        timeout = float(task.args["freeze_timeout"])
        if auto_thaw:
            # Armed before the freeze: if the task dies during it, the guest is still thawed in the end.
            self._arm(task, started + timeout + auto_thaw)
        else:
            store.write(recorded)
        arguments = {"mountpoints": list(mountpoints)} if mountpoints is not None else None
        try:
            count = int(client.execute(freeze_command, arguments, timeout=timeout))
        except QgaTimeoutError:
            raise AnsibleActionFail(
                "%s: %s did not finish within %.0f s (freeze_timeout); the guest may be frozen now or soon. %s"
                % (self._host_name(), freeze_command, timeout,
                   "The watchdog (pid %s) thaws it at %s if so." % (
                       recorded["watchdog"]["pid"], iso_time(recorded["watchdog"]["deadline"]))
                   if auto_thaw else "Thaw it with state=thawed.")
            ) from None
        except QgaCommandError:
            # The agent thaws again itself when a freeze fails.
            stop_watchdog(recorded.get("watchdog"))
            store.remove()
            raise
        frozen_at = time.time()
        result["status"] = "frozen"
        recorded["frozen_at"] = frozen_at
        if auto_thaw:
            recorded["watchdog"]["deadline"] = frozen_at + auto_thaw
        store.write(recorded)
        result["frozen_count"] = count
        self._report_frozen(recorded, result)
        if auto_thaw:
            self._report_watchdog(recorded, result)
        if mountpoints is not None and count == 0:
            self._thaw_after_useless_freeze(task, mountpoints)
        if mountpoints is not None and count < len(set(mountpoints)):
            _warn(
                result,
                "%s: froze %d filesystem(s) for %d mount point(s): the agent ignores mount points that are no "
                "freezable local filesystem" % (self._host_name(), count, len(set(mountpoints)))
            )
        elif count == 0:
            _warn(result, "%s: the agent froze no filesystem (none it can freeze is mounted)" % self._host_name())

    def _thaw_after_useless_freeze(self, task: FreezeTask, mountpoints: list[str]) -> None:
        task.client.execute("guest-fsfreeze-thaw", timeout=120)
        stop_watchdog(task.recorded.get("watchdog"))
        task.store.remove()
        raise AnsibleActionFail(
            "%s: none of the mount points %s could be frozen (the agent ignores those that are not mounted, "
            "freezable local filesystem); the guest was thawed again" % (self._host_name(), ", ".join(mountpoints))
        )

    def _arm(self, task: FreezeTask, deadline: float) -> None:
        """Write the state naming a new watchdog, then start it (it exits unless the state names it)."""
        token = new_token()
        recorded, store = task.recorded, task.store
        recorded["watchdog"] = {"pid": None, "token": token, "deadline": deadline}
        try:
            store.write(recorded)
            recorded["watchdog"]["pid"] = spawn_watchdog(task.client, store, token)
            store.write(recorded)
        except WatchdogError as exc:
            recorded["watchdog"] = None
            store.remove()
            raise AnsibleActionFail(
                "%s: %s; nothing was frozen (set auto_thaw: 0 to freeze without the watchdog)"
                % (self._host_name(), exc)
            ) from None

    def _warn_windows(self, client: QgaClient, auto_thaw: int, result: dict[str, t.Any]) -> None:
        if not client.supports("guest-get-osinfo"):
            return
        try:
            windows = client.execute("guest-get-osinfo").get("id") == "mswindows"
        except QgaCommandError:
            return
        if windows and (auto_thaw == 0 or auto_thaw > VSS_WINDOW_SECONDS):
            _warn(
                result,
                "%s: a Windows guest freezes through VSS, which lets go of the freeze after about %d s; take the "
                "snapshot right away and check frozen_seconds of the thaw" % (self._host_name(), VSS_WINDOW_SECONDS)
            )

    # -- state=thawed -----------------------------------------------------------

    def _thaw(self, task: FreezeTask) -> None:
        recorded, result = task.recorded, task.result
        result["status"] = task.status
        if task.status != "frozen":
            if not self.check_mode:
                stop_watchdog(recorded.get("watchdog"))
                task.store.remove()
            return
        task.client.require("guest-fsfreeze-thaw")
        result["changed"] = True
        self._report_frozen(recorded, result)
        if self.check_mode:
            result["status"] = "thawed"
            return
        count = int(task.client.execute("guest-fsfreeze-thaw", timeout=float(task.args["freeze_timeout"])))
        result["status"] = "thawed"
        thawed_at = time.time()
        stop_watchdog(recorded.get("watchdog"))
        task.store.remove()
        result["thawed_count"] = count
        if recorded.get("frozen_at"):
            result["frozen_seconds"] = round(thawed_at - float(recorded["frozen_at"]), 3)

    # -- reporting ----------------------------------------------------------------

    @staticmethod
    def _report_frozen(recorded: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        frozen_at = recorded.get("frozen_at")
        result["frozen_since"] = iso_time(frozen_at)
        result["frozen_seconds"] = round(time.time() - float(frozen_at), 3) if frozen_at else None

    @staticmethod
    def _report_watchdog(recorded: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        watchdog = recorded.get("watchdog")
        if watchdog and is_our_watchdog(watchdog.get("pid"), watchdog.get("token")):
            result["watchdog_pid"] = watchdog["pid"]
            result["auto_thaw_at"] = iso_time(watchdog.get("deadline"))

    def _report_auto_thaw(self, task: FreezeTask) -> None:
        """auto_thawed in every result until the next thaw; the warning once, with the first task that learns it."""
        result = task.result
        record = task.recorded.get("auto_thawed")
        if not record:
            return
        result["auto_thawed"] = {
            "at": iso_time(record.get("at")),
            "thawed": record.get("thawed"),
            "frozen_seconds": record.get("frozen_seconds"),
        }
        if record.get("warned"):
            return
        if not self.check_mode:
            record["warned"] = True
            task.store.write(task.recorded)
        _warn(
            result,
            "%s: the auto-thaw watchdog thawed the guest at %s, after %s s frozen: whatever was to happen while it "
            "was frozen (a snapshot?) may not have been consistent"
            % (self._host_name(), result["auto_thawed"]["at"], record.get("frozen_seconds"))
        )


def _warn(result: dict[str, t.Any], text: str) -> None:
    result.setdefault("warnings", []).append(text)
