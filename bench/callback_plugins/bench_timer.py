# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark-only callback: the wall time of every task on every host, written to $BENCH_TIMINGS as JSON."""

from __future__ import annotations

import json
import os
import time
import typing as t

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timer
type: aggregate
short_description: per-task timings for the vmguest.qga benchmarks
description:
  - Writes a JSON list of {host, task, status, seconds} to the file named by BENCH_TIMINGS.
  - A task's time runs from the moment its worker is queued to the moment its result is processed.
"""


class CallbackModule(CallbackBase):
    """Time each host's run of each task."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.started: dict[tuple[str, str], float] = {}
        self.timings: list[dict[str, t.Any]] = []

    def v2_runner_on_start(self, host: t.Any, task: t.Any) -> None:
        self.started[(host.get_name(), task._uuid)] = time.monotonic()

    def _record(self, result: t.Any, status: str) -> None:
        key = (result._host.get_name(), result._task._uuid)
        started = self.started.pop(key, None)
        self.timings.append({
            "host": key[0],
            "task": result._task.get_name(),
            "status": status,
            "seconds": None if started is None else time.monotonic() - started,
            "msg": str(result._result.get("msg", ""))[:500] if status != "ok" else "",
        })

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._record(result, "ok")

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._record(result, "unreachable")

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._record(result, "skipped")

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        path = os.environ.get("BENCH_TIMINGS")
        if path:
            with open(path, "w") as handle:
                json.dump(self.timings, handle)
