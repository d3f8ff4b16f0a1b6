# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The persistent executor's workers on this machine (started through a host agent): find and stop them.

Every test run keeps its workers in a directory of its own (EXECUTOR_DIR, exported as the connection's
VMGUEST_QGA_EXECUTOR_DIR by tests/conftest.py), so a worker another checkout, agent or test run left
on this machine, under the default /run/vmguest-qga or a directory of its own, is neither found nor
used, and ours cannot stop theirs.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import time
import typing as t

ENV_NAME = "VMGUEST_QGA_EXECUTOR_DIR"


def _run_directory() -> str:
    """This test process's own directory: one per pytest run, and one per xdist worker of a run (they inherit
    the run's environment, so the worker id keeps them apart)."""
    run = os.environ.setdefault("VMGUEST_QGA_TEST_RUN_DIR", "/run/vmguest-qga-tests-%d" % os.getpid())
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return "%s-%s" % (run, worker) if worker else run


PARENT_DIR = os.environ[ENV_NAME] = _run_directory()


def running_workers(parent: str = PARENT_DIR) -> dict[int, str]:
    """{pid: directory} of the executor workers under `parent` (pid file + a live process naming it), root's and
    the identities' (theirs in as/, their command line naming root's directory)."""
    found = {}
    for pid_file in glob.glob(parent + "/executor-*/pid") + glob.glob(parent + "/executor-*/as/*/pid"):
        directory = os.path.dirname(pid_file)
        try:
            with open(pid_file) as handle:
                pid = int(handle.read().split()[0])
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                if directory.split("/as/")[0].encode() in handle.read():
                    found[pid] = directory
        except (OSError, ValueError, IndexError):
            continue
    return found


def process_exists(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate: t.Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_worker(pid: int, directory: str) -> None:
    """Kill a worker (its zygotes and jobs follow it) and remove its directory."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_for(lambda: not process_exists(pid), 10)
    shutil.rmtree(directory, ignore_errors=True)


def stop_workers_started_since(before: t.Collection[int]) -> None:
    """Stop every worker running now whose pid is not in `before` (a running_workers() taken earlier)."""
    for pid, directory in running_workers().items():
        if pid not in before:
            stop_worker(pid, directory)


def remove_run_directory() -> None:
    """Stop what still runs in this run's executor directory and remove it (the session's last step)."""
    for pid, directory in running_workers().items():
        stop_worker(pid, directory)
    shutil.rmtree(PARENT_DIR, ignore_errors=True)
