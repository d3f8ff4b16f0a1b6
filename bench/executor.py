# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pipelining vs the persistent executor (ansible_qga_executor=persistent), same run, same agent.

Plays: 10 `command` tasks, and `gather_facts` alone. For the executor, "cold" is the first
run (the worker starts, the first task of each module runs in a fresh interpreter) and
"warm" a later one (the worker and its preloaded zygotes are alive). The worker is
stopped at the end (reset_connection). Wall time of ansible-playbook, best of --runs.
(community.libvirt's libvirt_qemu is measured by bench/compare.py.)

    python bench/executor.py --target host --runs 3
    python bench/executor.py --target vm --runs 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import typing as t

HARNESS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "harness")
sys.path.insert(0, HARNESS)

from ansible_run import _bin, ansible_env, write_inventory  # noqa: E402

TEN_COMMANDS = "- hosts: all\n  gather_facts: false\n  tasks:\n" + "".join(
    "    - command: echo task %d\n" % number for number in range(10)
)
ONE_COMMAND = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: echo one\n"
GATHER_FACTS = "- hosts: all\n  gather_facts: true\n  tasks: []\n"
RESET = "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: reset_connection\n"


def run_play(playbook: str, host_vars: dict[str, t.Any]) -> float:
    """Seconds one ansible-playbook run takes; raises if it fails."""
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-bench-exec-") as work:
        play_path = os.path.join(work, "play.yml")
        with open(play_path, "w") as handle:
            handle.write(playbook)
        env = ansible_env()
        env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
        argv = [_bin("ansible-playbook"), "-i", write_inventory(work, {"target": host_vars}), play_path]
        started = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=work)
        elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit("playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed


def measure(channel_vars: dict[str, t.Any], runs: int) -> list[tuple[str, str, float]]:
    """(play, mode, seconds) rows."""
    pipelining = {**channel_vars, "ansible_qga_executor": "pipelining"}
    persistent = {**channel_vars, "ansible_qga_executor": "persistent"}
    rows = []
    for name, playbook in (("1 command", ONE_COMMAND), ("10 commands", TEN_COMMANDS), ("gather_facts", GATHER_FACTS)):
        rows.append((name, "pipelining", min(run_play(playbook, pipelining) for _run in range(runs))))
        run_play(RESET, persistent)
        rows.append((name, "executor cold", run_play(playbook, persistent)))
        rows.append((name, "executor warm", min(run_play(playbook, persistent) for _run in range(runs))))
    run_play(RESET, persistent)
    return rows


def print_table(target: str, rows: list[tuple[str, str, float]]) -> None:
    """The rows, plus the per-task cost of the 10-command play over the 1-command one."""
    print("\n%s" % target)
    print("%-14s %-15s %9s" % ("play", "mode", "seconds"))
    for name, mode, seconds in rows:
        print("%-14s %-15s %9.2f" % (name, mode, seconds))
    by_key = {(name, mode): seconds for name, mode, seconds in rows}
    for mode in ("pipelining", "executor cold", "executor warm"):
        per_task = (by_key[("10 commands", mode)] - by_key[("1 command", mode)]) / 9
        print("per extra command task, %-14s %6.3f s" % (mode + ":", per_task))


def main(argv: t.Sequence[str]) -> int:
    """Run the chosen target(s) and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("host", "vm", "both"), default="host")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    base = {"ansible_connection": "vmguest.qga.qga", "ansible_python_interpreter": "/usr/bin/python3"}
    if args.target in ("host", "both"):
        from hostagent import HostAgent

        with HostAgent() as agent:
            print_table("host agent", measure({**base, "ansible_qga_channel": agent.channel}, args.runs))
    if args.target in ("vm", "both"):
        from testvm import TestVM

        with TestVM() as vm:
            channel = "unix:%s" % vm.agent_socket
            print_table("TCG test VM", measure({**base, "ansible_qga_channel": channel}, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
