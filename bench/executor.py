# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pipelining vs the persistent executor (ansible_qga_executor=persistent), same run, same agent.

Plays: 1 and 10 `command` tasks, and `gather_facts` alone. On the host agent also `-c local` on the same machine: the
controller's own floor, which still starts an interpreter per task. For the executor, "cold" is a run with
no worker (reset first; the first task runs the normal way while the worker starts beside it), best of --runs, and
"warm" a later one (the worker and its preloaded zygotes are alive), for each way the
worker wakes (--wake inotify,poll); for the warm runs it also prints what a preloaded job
costs beyond its own run: request to reply minus the job's lifetime in the guest (the
worker's wake-up, dispatch and reply, and the controller's polling for the reply). The worker is
stopped at the end (reset_connection). Wall time of ansible-playbook, best of --runs.
(community.libvirt's libvirt_qemu is measured by bench/compare.py.)

    python bench/executor.py --target host --runs 3
    python bench/executor.py --target vm --runs 1 --wake inotify,poll
    python bench/executor.py --target host --runs 3 --identities   # root vs become sudo/su and remote_user

--identities: per extra `command` task (10-command play minus 1-command play, over 9) for root and each other
identity (tests/harness/exec_routes.IDENTITIES), pipelining and the executor warm (its worker already running).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass, field

HARNESS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "harness")
sys.path.insert(0, HARNESS)

from ansible_run import _bin, ansible_env, write_inventory  # noqa: E402
from exec_routes import IDENTITIES  # noqa: E402

TEN_COMMANDS = "- hosts: all\n  gather_facts: false\n  tasks:\n" + "".join(
    "    - command: echo task %d\n" % number for number in range(10)
)
ONE_COMMAND = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: echo one\n"
GATHER_FACTS = "- hosts: all\n  gather_facts: true\n  tasks: []\n"
RESET = "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: reset_connection\n"
# The connection's -vvv line for each job the executor ran: seconds from request to reply, and
# seconds the job's process lived in the guest.
DONE_LINE = re.compile(r"EXECUTOR job \w+ done \((\w+)\): .*, (\d+\.\d+) s, ran (\d+\.\d+) s")


@dataclass
class Run:
    """One ansible-playbook run: wall seconds and, per preloaded job, (request to reply, ran)."""

    wall_s: float
    jobs: list[tuple[float, float]] = field(default_factory=list)


def run_play(playbook: str, host_vars: dict[str, t.Any]) -> Run:
    """One ansible-playbook run at -vvv; raises if it fails."""
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-bench-exec-") as work:
        play_path = os.path.join(work, "play.yml")
        with open(play_path, "w") as handle:
            handle.write(playbook)
        env = ansible_env()
        env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
        argv = [_bin("ansible-playbook"), "-vvv", "-i", write_inventory(work, {"target": host_vars}), play_path]
        started = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=work)
        elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit("playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    found = DONE_LINE.finditer(proc.stdout)
    jobs = [(float(match.group(2)), float(match.group(3))) for match in found if match.group(1) == "preloaded"]
    return Run(elapsed, jobs)


def cold_run(playbook: str, host_vars: dict[str, t.Any]) -> Run:
    """`playbook` with no worker running (stopped first, and its exit waited for): its first task starts one."""
    run_play(RESET, host_vars)
    time.sleep(1)  # (reset_connection asks the worker to exit; it does so within its next wake-up)
    return run_play(playbook, host_vars)


def best(runs: list[Run]) -> Run:
    """The fastest run, with the jobs of every run (for the wake figures)."""
    fastest = min(runs, key=lambda run: run.wall_s)
    return Run(fastest.wall_s, [job for run in runs for job in run.jobs])


def measure(
    channel_vars: dict[str, t.Any], runs: int, wakes: t.Sequence[str], local: bool = False
) -> list[tuple[str, str, Run]]:
    """(play, mode, run) rows: pipelining, then the executor cold and warm for each wake mode (and -c local)."""
    pipelining = {**channel_vars, "ansible_qga_executor": "pipelining"}
    local_vars = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
    rows = []
    for name, playbook in (("1 command", ONE_COMMAND), ("10 commands", TEN_COMMANDS), ("gather_facts", GATHER_FACTS)):
        if local:
            rows.append((name, "-c local", best([run_play(playbook, local_vars) for _run in range(runs)])))
        rows.append((name, "pipelining", best([run_play(playbook, pipelining) for _run in range(runs)])))
        for wake in wakes:
            persistent = {**channel_vars, "ansible_qga_executor": "persistent", "ansible_qga_executor_wake": wake}
            rows.append((name, "executor %s cold" % wake, best([cold_run(playbook, persistent) for _r in range(runs)])))
            rows.append((name, "executor %s warm" % wake, best([run_play(playbook, persistent) for _r in range(runs)])))
    for wake in wakes:
        run_play(RESET, {**channel_vars, "ansible_qga_executor": "persistent", "ansible_qga_executor_wake": wake})
    return rows


def per_task(host_vars: dict[str, t.Any], runs: int) -> float:
    """Seconds per extra command task: the 10-command play minus the 1-command play, over 9 (best of `runs`)."""
    one = best([run_play(ONE_COMMAND, host_vars) for _run in range(runs)])
    ten = best([run_play(TEN_COMMANDS, host_vars) for _run in range(runs)])
    return (ten.wall_s - one.wall_s) / 9


def print_identities(target: str, channel_vars: dict[str, t.Any], runs: int) -> None:
    """Per extra command task for root and each other identity, pipelining and the warm executor, side by side."""
    print("\n%s: per extra command task (s), by identity" % target)
    print("%-14s %11s %11s %17s" % ("identity", "pipelining", "executor", "executor vs root"))
    root_executor = 0.0
    for identity, identity_vars in {"root": {}, **IDENTITIES}.items():
        pipelining = per_task({**channel_vars, **identity_vars, "ansible_qga_executor": "pipelining"}, runs)
        persistent = {**channel_vars, **identity_vars, "ansible_qga_executor": "persistent"}
        run_play(ONE_COMMAND, persistent)  # warm: the identity's worker and its zygote run
        executor = per_task(persistent, runs)
        root_executor = root_executor or executor
        print("%-14s %11.3f %11.3f %16.0f%%" % (identity, pipelining, executor, 100.0 * executor / root_executor))
    run_play(RESET, {**channel_vars, "ansible_qga_executor": "persistent"})


def print_table(target: str, rows: list[tuple[str, str, Run]]) -> None:
    """The rows, the per-task cost of the 10-command play over the 1-command one, and the wait per job."""
    print("\n%s" % target)
    print("%-14s %-22s %9s" % ("play", "mode", "seconds"))
    for name, mode, run in rows:
        print("%-14s %-22s %9.2f" % (name, mode, run.wall_s))
    by_key = {(name, mode): run for name, mode, run in rows}
    for mode in dict.fromkeys(mode for _name, mode, _run in rows):
        per_task = (by_key[("10 commands", mode)].wall_s - by_key[("1 command", mode)].wall_s) / 9
        print("per extra command task, %-22s %6.3f s" % (mode + ":", per_task))
    print("preloaded jobs: request to reply minus the job's own run (wake, dispatch, reply), median:")
    for mode in dict.fromkeys(mode for _name, mode, _run in rows if mode.endswith("warm")):
        jobs = [job for (_name, other), run in by_key.items() if other == mode for job in run.jobs]
        if jobs:
            waits = [wait - ran for wait, ran in jobs]
            print("  %-22s %6.1f ms over %d jobs (the job itself: %.0f ms)" % (
                mode + ":", statistics.median(waits) * 1000, len(jobs),
                statistics.median(ran for _wait, ran in jobs) * 1000))


def main(argv: t.Sequence[str]) -> int:
    """Run the chosen target(s) and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("host", "vm", "both"), default="host")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--wake", default="inotify,poll", help="executor wake modes to compare (default: %(default)s)")
    parser.add_argument("--identities", action="store_true", help="root vs the other identities, per extra task")
    args = parser.parse_args(argv)
    wakes = [wake for wake in args.wake.split(",") if wake]
    base = {"ansible_connection": "vmguest.qga.qga", "ansible_python_interpreter": "/usr/bin/python3"}
    if args.target in ("host", "both"):
        from hostagent import HostAgent

        with HostAgent() as agent:
            if args.identities:
                print_identities("host agent", {**base, "ansible_qga_channel": agent.channel}, args.runs)
            else:
                rows = measure({**base, "ansible_qga_channel": agent.channel}, args.runs, wakes, local=True)
                print_table("host agent", rows)
    if args.target in ("vm", "both"):
        from testvm import TestVM

        with TestVM() as vm:
            channel = "unix:%s" % vm.agent_socket
            if args.identities:
                print_identities("TCG test VM", {**base, "ansible_qga_channel": channel}, args.runs)
            else:
                print_table("TCG test VM", measure({**base, "ansible_qga_channel": channel}, args.runs, wakes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
