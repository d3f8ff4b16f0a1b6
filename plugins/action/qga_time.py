# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_time: set the guest clock from the controller or to a given time, within a tolerance."""

from __future__ import annotations

import datetime
import re
import time
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaCommandError
from ansible_collections.vmguest.qga.plugins.modules.qga_time import ARGUMENT_SPEC, MUTUALLY_EXCLUSIVE
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# qemu-ga refuses times whose year is before 1970 or from 2070 on.
LATEST = datetime.datetime(2070, 1, 1, tzinfo=datetime.timezone.utc)
NS = 1_000_000_000


def _to_ns(moment: datetime.datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000


def iso_ns(ns: int) -> str:
    """Nanoseconds since the epoch as ISO 8601 UTC (microsecond precision)."""
    moment = EPOCH + datetime.timedelta(microseconds=ns // 1000)
    return moment.isoformat(timespec="microseconds")


def parse_time(value: t.Any) -> int:
    """An ISO 8601 string or integer nanoseconds since the epoch -> nanoseconds; ValueError with the reason."""
    if isinstance(value, bool) or value is None:
        raise ValueError("time must be an ISO 8601 date and time or nanoseconds since the epoch, not %r" % (value,))
    if isinstance(value, float):
        raise ValueError("time in nanoseconds must be an integer, not %r" % (value,))
    if isinstance(value, int):
        ns = value
    else:
        text = str(value).strip()
        if re.fullmatch(r"[+-]?\d+", text):
            ns = int(text)
        else:
            iso = re.sub(r"[zZ]$", "+00:00", text)
            try:
                moment = datetime.datetime.fromisoformat(iso)
            except ValueError:
                raise ValueError(
                    "time %r is neither ISO 8601 (such as 2030-01-01T12:00:00+00:00) nor nanoseconds since the epoch"
                    % text
                ) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.timezone.utc)
            ns = _to_ns(moment)
    if ns < 0 or ns >= _to_ns(LATEST):
        raise ValueError(
            "time %r is outside what the guest agent can set (1970-01-01 up to the end of 2069 UTC)" % (value,)
        )
    return ns


class ActionModule(QgaActionBase):
    """Set the guest clock when it is off by more than the tolerance."""

    ARGUMENT_SPEC = ARGUMENT_SPEC
    MUTUALLY_EXCLUSIVE = MUTUALLY_EXCLUSIVE

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        tolerance = float(args["tolerance"])
        if tolerance < 0:
            raise AnsibleActionFail("tolerance must not be negative, not %s" % tolerance)
        fixed: int | None = None
        if args.get("time") is not None:
            try:
                fixed = parse_time(args["time"])
            except ValueError as exc:
                raise AnsibleActionFail("%s: %s" % (self._host_name(), exc)) from None
        client.require("guest-get-time")
        started = time.time_ns()
        guest, target, round_trip = self._measure(client, fixed, started)
        drift = (guest - target) / NS
        result.update(
            drift_before=round(drift, 6),
            drift_after=round(drift, 6),
            guest_time_before=iso_ns(guest),
            guest_time_after=iso_ns(guest),
            target_time=iso_ns(target),
        )
        needed = abs(drift) > tolerance
        if self.diff_mode:
            result["diff"] = {
                "before": {"guest_time": iso_ns(guest), "drift_seconds": round(drift, 3)},
                "after": {"guest_time": iso_ns(target) if needed else iso_ns(guest),
                          "drift_seconds": 0.0 if needed else round(drift, 3)},
            }
        if not needed:
            return
        result["changed"] = True
        if self.check_mode:
            return
        client.require("guest-set-time")
        # The guest takes the value about half a round trip after it was read here.
        now = time.time_ns()
        value = (fixed + (now - started) if fixed is not None else now) + round_trip // 2
        try:
            client.execute("guest-set-time", {"time": value})
        except QgaCommandError as exc:
            if "not currently supported" in exc.desc or "unsupported" in exc.desc.lower():
                raise AnsibleActionFail(
                    "%s: %s (qemu-ga sets the time only where /sbin/hwclock exists in the guest)"
                    % (self._host_name(), exc)
                ) from None
            raise
        guest, target, _round_trip = self._measure(client, fixed, started)
        result.update(
            drift_after=round((guest - target) / NS, 6),
            guest_time_after=iso_ns(guest),
        )
        if self.diff_mode:
            result["diff"]["after"] = {"guest_time": iso_ns(guest), "drift_seconds": round((guest - target) / NS, 3)}

    @staticmethod
    def _measure(client: QgaClient, fixed: int | None, started: int) -> tuple[int, int, int]:
        """(guest clock, wanted time at that moment, round trip) in ns; a fixed time moves on from `started`."""
        before = time.time_ns()
        guest = int(client.execute("guest-get-time"))
        after = time.time_ns()
        middle = (before + after) // 2
        target = middle if fixed is None else fixed + (middle - started)
        return guest, target, after - before
