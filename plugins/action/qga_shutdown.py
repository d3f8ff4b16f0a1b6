# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_shutdown: guest-shutdown; for a reboot, wait for the agent of the new boot."""

from __future__ import annotations

import time
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaError, QgaRequestLost
from ansible_collections.vmguest.qga.plugins.modules.qga_shutdown import ARGUMENT_SPEC
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase, await_domain_state

BOOT_ID = "/proc/sys/kernel/random/boot_id"
FILE_COMMANDS = ("guest-file-open", "guest-file-read", "guest-file-close")
# While waiting, each attempt gets this long: a rebooting guest does not answer at all.
PROBE_TIMEOUT = 5.0
POLL_INTERVAL = 1.0


class ActionModule(QgaActionBase):
    """Shut the guest down; for a reboot, wait until its agent answers from a new boot."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        mode = args["mode"]
        if args["reboot_timeout"] <= 0:
            raise AnsibleActionFail("reboot_timeout must be a positive number of seconds")
        client.require("guest-shutdown")
        result["changed"] = True
        if self.check_mode:
            action = "reboot" if mode == "reboot" else "shut down (%s)" % mode
            result["msg"] = "check mode: the guest would %s" % action
            return
        boot_before = self._boot_id(client) if mode == "reboot" else None
        started = time.monotonic()
        try:
            client.execute("guest-shutdown", {"mode": mode})
        except QgaRequestLost:
            # A quick reboot looks the same: the new boot's agent answered. Only a new boot id says so.
            if mode != "reboot" or boot_before is None or self._boot_id(client) in (None, boot_before):
                raise
        if mode == "powerdown":
            self._confirm_shut_off(client, float(args["reboot_timeout"]), result)
        elif mode == "halt":
            self._report_domain_state(client, result)
        if mode != "reboot":
            result["elapsed"] = round(time.monotonic() - started, 3)
            return
        self._wait_for_new_boot(client, boot_before, started, float(args["reboot_timeout"]), result)

    def _confirm_shut_off(self, client: QgaClient, timeout: float, result: dict[str, t.Any]) -> None:
        """Over libvirt, wait until the domain is shut off: the agent going away alone does not prove it."""
        state, waited = await_domain_state(client, ("shutoff",), timeout)
        if state is None:
            return
        result["domain_state"] = state
        if state != "shutoff":
            raise AnsibleActionFail(
                "%s: the agent took guest-shutdown, but libvirt still reports the domain %s after %.0f s "
                "(reboot_timeout bounds the wait): the guest's shutdown may have failed or hung; see its console"
                % (self._host_name(), state, waited),
                result={"changed": True, "domain_state": state},
            )

    @staticmethod
    def _report_domain_state(client: QgaClient, result: dict[str, t.Any]) -> None:
        try:
            state = client.domain_state()
        except QgaError:
            return
        if state is not None:
            result["domain_state"] = state

    @staticmethod
    def _boot_id(client: QgaClient) -> str | None:
        """The guest's boot id, or None where it cannot be read."""
        if not all(client.supports(command) for command in FILE_COMMANDS):
            return None
        try:
            return files.read_bytes(client, BOOT_ID, max_bytes=4096).decode("ascii", "replace").strip() or None
        except QgaError:
            return None

    def _wait_for_new_boot(
        self, client: QgaClient, boot_before: str | None, started: float, timeout: float, result: dict[str, t.Any]
    ) -> None:
        deadline = started + timeout
        saved = (client.timeout, client.connect_timeout)
        went_silent = False
        last_error = "no answer yet"
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AnsibleActionFail(
                        "%s: the guest did not come back from the reboot within %.0f s (reboot_timeout): %s"
                        % (self._host_name(), timeout, last_error),
                        result={"changed": True, "rebooted": False, "elapsed": round(time.monotonic() - started, 3)},
                    )
                client.timeout = client.connect_timeout = max(0.5, min(PROBE_TIMEOUT, left))
                try:
                    if not client.connected:
                        client.connect()
                    if boot_before is not None:
                        boot_now = self._read_boot_id(client)
                        if boot_now and boot_now != boot_before:
                            result.update(rebooted=True, boot_id=boot_now, detected_by="boot_id")
                            break
                    else:
                        client.ping()
                        if went_silent:
                            client.info(refresh=True)
                            result.update(rebooted=True, boot_id=None, detected_by="agent_restart")
                            break
                except QgaError as exc:
                    went_silent = True
                    last_error = str(exc)
                    client.close()
                time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
        finally:
            client.timeout, client.connect_timeout = saved
        result["elapsed"] = round(time.monotonic() - started, 3)

    @staticmethod
    def _read_boot_id(client: QgaClient) -> str | None:
        # Not through _boot_id: an error here means "not back yet", not "cannot be read".
        return files.read_bytes(client, BOOT_ID, max_bytes=4096).decode("ascii", "replace").strip() or None
