# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the benchmarks share: import paths, playbook texts, timed ansible runs, statistics."""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass, field

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
HARNESS_DIR = os.path.join(REPO_ROOT, "tests", "harness")
for _path in (HARNESS_DIR, BENCH_DIR):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from collection_path import add_to_sys_path  # noqa: E402

add_to_sys_path()

from ansible_run import ansible_env, write_inventory  # noqa: E402

MiB = 1024 * 1024
CALLBACK_DIR = os.path.join(BENCH_DIR, "callback_plugins")
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
OUR_BIN_DIR = os.path.dirname(sys.executable)


def command_play(task_count: int) -> str:
    """A play of `task_count` `command: echo task N` tasks, no fact gathering."""
    return "- hosts: all\n  gather_facts: false\n  tasks:\n" + "".join(
        "    - command: echo task %d\n" % number for number in range(task_count)
    )


def transfer_seconds(output: str, verb: str, size_bytes: int) -> float | None:
    """The seconds the qga connection logged at -vvvv for a PUT or FETCH of exactly `size_bytes`."""
    for size, seconds in re.findall(r"%s (\d+) bytes in ([0-9.]+) s" % verb, output):
        if int(size) == size_bytes:
            return float(seconds)
    return None


@dataclass
class TaskTiming:
    """One host's run of one task, as the bench_timer callback saw it."""

    host: str
    task: str
    status: str
    seconds: float
    msg: str = ""


@dataclass
class AnsibleRun:
    """A timed ansible or ansible-playbook run."""

    rc: int
    wall_s: float
    output: str
    tasks: list[TaskTiming] = field(default_factory=list)
    timed_out: bool = False

    @property
    def task_s(self) -> float:
        """The summed wall time of every task (the play's overhead outside tasks excluded)."""
        return sum(timing.seconds for timing in self.tasks)

    @property
    def failures(self) -> list[TaskTiming]:
        """Task results that were not ok."""
        return [timing for timing in self.tasks if timing.status != "ok"]

    def error(self) -> str | None:
        """Why the run failed, or None when it succeeded."""
        if self.timed_out:
            return "timed out after %.0f s" % self.wall_s
        if self.failures:
            first = self.failures[0]
            return "%s %s: %s" % (first.task, first.status, first.msg or "(no message)")
        if self.rc != 0:
            return "rc %d: %s" % (self.rc, self.output.strip().splitlines()[-1:] or "")
        if not self.tasks:
            return "no task results (was the bench_timer callback loaded?)"
        return None


def bench_env(with_collection: bool = True, extra: t.Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a timed run: the bench_timer callback; this checkout as vmguest.qga if asked."""
    env = ansible_env()
    if not with_collection:
        env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    env.update({
        "ANSIBLE_CALLBACK_PLUGINS": CALLBACK_DIR,
        "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "true",
    })
    env.update(extra or {})
    return env


def run_ansible(
    hosts: t.Mapping[str, t.Mapping[str, t.Any]],
    playbook: str | None = None,
    adhoc: t.Sequence[str] = (),
    args: t.Sequence[str] = (),
    bin_dir: str = OUR_BIN_DIR,
    with_collection: bool = True,
    timeout: float = 900,
) -> AnsibleRun:
    """Run a playbook (or `ansible all ADHOC...` when no playbook) and time it; never raises on failure."""
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-bench-") as work:
        timings_path = os.path.join(work, "timings.json")
        inventory = write_inventory(work, hosts)
        if playbook is None:
            argv = [os.path.join(bin_dir, "ansible"), "all", "-i", inventory, *adhoc, *args]
        else:
            play_path = os.path.join(work, "play.yml")
            with open(play_path, "w") as handle:
                handle.write(playbook)
            argv = [os.path.join(bin_dir, "ansible-playbook"), "-i", inventory, play_path, *args]
        env = bench_env(with_collection, {"BENCH_TIMINGS": timings_path})
        rc, wall_s, output, timed_out = _run_timed(argv, env, work, timeout)
        tasks = _read_timings(timings_path)
    return AnsibleRun(rc, wall_s, output, tasks, timed_out)


def _run_timed(argv: list[str], env: dict[str, str], cwd: str, timeout: float) -> tuple[int, float, str, bool]:
    started = time.perf_counter()
    # A session of its own, so a timed-out run's workers can be stopped by its process group id.
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _unused = proc.communicate(timeout=timeout)
        return proc.returncode, time.perf_counter() - started, output, False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _unused = proc.communicate()
        return -9, time.perf_counter() - started, output, True


def _read_timings(path: str) -> list[TaskTiming]:
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        entries = json.load(handle)
    return [TaskTiming(entry["host"], entry["task"], entry["status"], entry["seconds"] or 0.0, entry.get("msg", ""))
            for entry in entries]


def summary(values: t.Sequence[float]) -> tuple[float, float] | None:
    """(min, median) of the values, or None when there are none."""
    if not values:
        return None
    return min(values), statistics.median(values)


def write_results(name: str, payload: t.Any) -> str:
    """Write `payload` as JSON to bench/results/NAME-<timestamp>.json; return the path."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, "%s-%s.json" % (name, time.strftime("%Y%m%d-%H%M%S")))
    with open(path, "w") as handle:
        json.dump(payload, handle, indent=2, default=str)
    return path
