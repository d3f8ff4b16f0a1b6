# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The base of every vmguest.qga action plugin: arguments validated from the module's spec, a client, errors."""

from __future__ import annotations

import time
import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaError
from ansible_collections.vmguest.qga.plugins.plugin_utils.qga_channel import client_from_options
from ansible_collections.vmguest.qga.plugins.plugin_utils.transfer_progress import (
    DEFAULT_AFTER,
    TransferProgress,
    displayed_progress,
)

CONNECTION_NAMES = ("vmguest.qga.qga", "qga")


class QgaActionBase(ActionBase):
    """Validate the task's arguments, open (or reuse) the agent channel, run `run_qga`, report errors clearly.

    Subclasses set ARGUMENT_SPEC (the doc-only module's spec, channel options included)
    and implement run_qga(client, args, result). In check mode they must change nothing.
    """

    ARGUMENT_SPEC: t.ClassVar[dict[str, t.Any]] = {}
    MUTUALLY_EXCLUSIVE: t.ClassVar[list[list[str]]] = []
    REQUIRED_ONE_OF: t.ClassVar[list[list[str]]] = []
    REQUIRED_IF: t.ClassVar[list[t.Any]] = []
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        """Validate, connect, delegate to run_qga; QGA errors become a failed result naming the host."""
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(
            argument_spec=self.ARGUMENT_SPEC,
            mutually_exclusive=self.MUTUALLY_EXCLUSIVE or None,
            required_one_of=self.REQUIRED_ONE_OF or None,
            required_if=self.REQUIRED_IF or None,
        )
        self.task_vars = task_vars or {}
        result.setdefault("changed", False)
        client, owned = self._client_for(args)
        try:
            self.run_qga(client, args, result)
        except QgaError as exc:
            result["failed"] = True
            result["msg"] = "%s: %s" % (self._host_name(), exc)
        finally:
            if owned:
                client.close()
        return result

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        """Do the module's work; fill `result` (changed, diff, return values)."""
        raise NotImplementedError

    @property
    def check_mode(self) -> bool:
        """Whether the task runs in check mode."""
        return bool(self._task.check_mode)

    @property
    def diff_mode(self) -> bool:
        """Whether the task asks for a diff."""
        return bool(self._task.diff)

    def _host_name(self) -> str:
        remote_addr = self._connection._play_context.remote_addr
        return str(self.task_vars.get("inventory_hostname") or remote_addr or "localhost")

    def _transfer_progress(self, args: dict[str, t.Any], label: str, total: int | None) -> TransferProgress:
        """Progress lines (at -v) of a file transfer that runs longer than progress_after seconds."""
        return displayed_progress(self._host_name(), label, total, self._progress_after(args))

    def _progress_after(self, args: dict[str, t.Any]) -> float:
        """The task's progress_after, else the vmguest.qga.qga connection's, else the default."""
        if args.get("progress_after") is not None:
            return float(args["progress_after"])
        connection = self._connection
        if getattr(connection, "transport", None) in CONNECTION_NAMES:
            return float(connection.get_option("progress_after"))
        return DEFAULT_AFTER

    def _client_for(self, args: dict[str, t.Any]) -> tuple[QgaClient, bool]:
        """The task connection's client when it is vmguest.qga.qga (not owned), else one from `channel`."""
        connection = self._connection
        if not args.get("channel") and getattr(connection, "transport", None) in CONNECTION_NAMES:
            return connection.qga_client(), False
        if not args.get("channel"):
            raise AnsibleActionFail(
                "%s: no agent channel: set the channel option (for example channel: libvirt:qemu:///system and "
                "domain: NAME) or run the task over the vmguest.qga.qga connection" % self._host_name()
            )
        # The host running the task is fine: a bad or dead channel fails the task, it is not "unreachable".
        try:
            client = client_from_options(args.get, self._host_name())
        except AnsibleError as exc:
            raise AnsibleActionFail(str(exc.message)) from None
        try:
            client.connect()
        except QgaError as exc:
            raise AnsibleActionFail("%s: %s" % (self._host_name(), exc)) from None
        return client, True


def await_domain_state(client: QgaClient, wanted: t.Collection[str], timeout: float,
                       poll: float = 0.5) -> tuple[str | None, float]:
    """Poll a libvirt channel's domain until its state is one of `wanted`, for at most `timeout` seconds.

    Returns (the last state seen, seconds waited); (None, 0.0) when the channel is not libvirt.
    """
    started = time.monotonic()
    state = client.domain_state()
    while state is not None and state not in wanted and time.monotonic() - started < timeout:
        time.sleep(poll)
        state = client.domain_state()
    return state, round(time.monotonic() - started, 3)


class OnlineStateAction(QgaActionBase):
    """qga_vcpus and qga_memory_blocks: bring the online state of the guest's items (vCPUs, memory blocks) to a plan.

    Read the items, plan which to online/offline, report the plan (CHANGED_KEY, diff), apply it unless in check
    mode, read the items again and report them. Subclasses name the RPCs and keys and implement plan_changes,
    apply_changes and report; read_details may read more from the agent once the plan stands.
    """

    GET_RPC: t.ClassVar[str]
    SET_RPC: t.ClassVar[str]
    ID_KEY: t.ClassVar[str]
    CHANGED_KEY: t.ClassVar[str]

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        client.require(self.GET_RPC)
        items = client.execute(self.GET_RPC)
        try:
            changes = self.plan_changes(items, args)
        except ValueError as exc:
            raise AnsibleActionFail("%s: %s" % (self._host_name(), exc)) from None
        self.read_details(client)
        before = online_summary(items, self.ID_KEY)
        after = online_summary(items, self.ID_KEY, changes)
        result[self.CHANGED_KEY] = [{self.ID_KEY: index, "online": up} for index, up in changes.items()]
        if self.diff_mode:
            result["diff"] = {"before": before, "after": after}
        if changes:
            result["changed"] = True
            if not self.check_mode:
                client.require(self.SET_RPC)
                failures = self.apply_changes(client, changes)
                items = client.execute(self.GET_RPC)
                after = online_summary(items, self.ID_KEY)
                if failures:
                    self.report(result, items, after)
                    done = len(changes) - len(failures)
                    raise AnsibleActionFail(
                        "%s: %s" % (self._host_name(), "; ".join(failures)),
                        result=dict(result, changed=done > 0),
                    )
        self.report(result, items, after)

    def plan_changes(self, items: list[dict[str, t.Any]], args: dict[str, t.Any]) -> dict[int, bool]:
        """The items whose state must change ({id: online}) for the task's arguments; ValueError when impossible."""
        raise NotImplementedError

    def read_details(self, client: QgaClient) -> None:
        """Read what else the report needs from the agent (before anything changes); nothing by default."""

    def apply_changes(self, client: QgaClient, changes: dict[int, bool]) -> list[str]:
        """Ask the agent for `changes`; the failures, one text each, for the items it did not change."""
        raise NotImplementedError

    def report(self, result: dict[str, t.Any], items: list[dict[str, t.Any]], after: dict[str, list[int]]) -> None:
        """Fill the module's return values from the items as read and their online summary."""
        raise NotImplementedError


def online_summary(items: list[dict[str, t.Any]], key: str,
                   changes: dict[int, bool] | None = None) -> dict[str, list[int]]:
    """{"online": [...], "offline": [...]} of vCPUs or memory blocks keyed by `key`, `changes` applied."""
    state = {int(item[key]): bool(item["online"]) for item in items}
    state.update(changes or {})
    return {
        "online": sorted(index for index, up in state.items() if up),
        "offline": sorted(index for index, up in state.items() if not up),
    }
