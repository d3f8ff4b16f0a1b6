# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-only callback: write every task result to the JSON file named by $QGA_TEST_RESULTS."""

from __future__ import annotations

DOCUMENTATION = """
name: qga_test_results
type: aggregate
short_description: record task results for the vmguest.qga tests
description: Writes a JSON list of {host, task, status, result} to the file named by QGA_TEST_RESULTS.
"""

import json
import os
import typing as t

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Collect results; write them when the run ends."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "qga_test_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.results: list[dict[str, t.Any]] = []

    def _record(self, result: t.Any, status: str) -> None:
        payload = getattr(result, "_result", {})
        self.results.append({
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "status": status,
            "result": json.loads(json.dumps(payload, default=str)),
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
        path = os.environ.get("QGA_TEST_RESULTS")
        if path:
            with open(path, "w") as handle:
                json.dump(self.results, handle, indent=1)
