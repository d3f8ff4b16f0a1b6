# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Many guests at once: N host agents (unix sockets, dangerous RPCs blocked) x forks, a 5-task play.

Every agent is a tests/harness/hostagent.py HostAgent (it blocks shutdown, suspend, freeze, ...),
stopped by PID at the end. The play mixes a Python module over the connection (command, copy,
stat) with the collection's agent-only modules (qga_info, qga_exec). Goal: 0 failures at every
forks value and the wall time falling as forks grow.

    python bench/scale.py                       # 50 agents x forks 1,5,10
    python bench/scale.py --agents 10 --forks 1,5
"""

from __future__ import annotations

import argparse
import os
import sys
import typing as t
from contextlib import ExitStack
from dataclasses import asdict, dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import AnsibleRun, run_ansible, write_results
from hostagent import HostAgent

TASK_NAMES = ("command", "qga_info", "copy small file", "stat", "qga_exec")
PLAY = """- hosts: all
  gather_facts: false
  tasks:
    - name: command
      command: echo {{ inventory_hostname }}
    - name: qga_info
      vmguest.qga.qga_info: {gather_subset: [agent, osinfo, hostname]}
    - name: copy small file
      copy: {content: "{{ inventory_hostname }}\\n", dest: "{{ bench_dir }}/small.txt"}
    - name: stat
      stat: {path: "{{ bench_dir }}/small.txt"}
    - name: qga_exec
      vmguest.qga.qga_exec: {argv: [cat, "{{ bench_dir }}/small.txt"]}
"""


@dataclass
class ScaleResult:
    """One forks value: how long the play took and what went wrong."""

    forks: int
    wall_s: float
    task_results: int
    failures: int
    missing: int
    first_error: str


def inventory(agents: t.Sequence[HostAgent]) -> dict[str, dict[str, t.Any]]:
    """One host per agent; each copies into its own agent's private run dir."""
    return {
        "guest%02d" % number: {
            "ansible_connection": "vmguest.qga.qga",
            "ansible_qga_channel": agent.channel,
            "ansible_python_interpreter": "/usr/bin/python3",
            "bench_dir": agent.run_dir,
        }
        for number, agent in enumerate(agents)
    }


def run_with_forks(hosts: dict[str, dict[str, t.Any]], forks: int, timeout: float) -> ScaleResult:
    """Run the play once with `forks` and count every result that is not ok or never came."""
    run = run_ansible(hosts, playbook=PLAY, args=["--forks", str(forks)], timeout=timeout)
    expected = len(hosts) * len(TASK_NAMES)
    missing = max(0, expected - len(run.tasks))
    return ScaleResult(forks, run.wall_s, len(run.tasks), len(run.failures), missing, _first_error(run, missing))


def _first_error(run: AnsibleRun, missing: int) -> str:
    if run.failures:
        first = run.failures[0]
        return "%s on %s: %s: %s" % (first.task, first.host, first.status, first.msg)
    if missing or run.rc != 0 or run.timed_out:
        return run.error() or "rc %d, %d results missing" % (run.rc, missing)
    return ""


def print_table(agent_count: int, results: t.Sequence[ScaleResult]) -> None:
    """The results, one line per forks value, and whether the goal is met."""
    print("\n%d host agents, a %d-task play (%s)" % (agent_count, len(TASK_NAMES), ", ".join(TASK_NAMES)))
    print("%6s %10s %10s %9s %8s" % ("forks", "wall s", "results", "failures", "missing"))
    for result in results:
        counts = (result.forks, result.wall_s, result.task_results, result.failures, result.missing)
        print("%6d %10.1f %10d %9d %8d" % counts)
        if result.first_error:
            print("       first error: %s" % result.first_error[:300])
    no_failures = all(result.failures == 0 and result.missing == 0 for result in results)
    walls = [result.wall_s for result in results]
    falling = all(later < earlier for earlier, later in zip(walls, walls[1:], strict=False))
    print("goal 0 failures: %s; goal time falling with forks: %s" % (_verdict(no_failures), _verdict(falling)))


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main(argv: t.Sequence[str]) -> int:
    """Start the agents, run the play per forks value, stop the agents; exit 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--forks", type=lambda text: [int(x) for x in text.split(",")], default=[1, 5, 10],
                        help="comma-separated forks values (default 1,5,10)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per play run")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        agents = [stack.enter_context(HostAgent()) for _number in range(args.agents)]
        hosts = inventory(agents)
        results = []
        for forks in args.forks:
            results.append(run_with_forks(hosts, forks, args.timeout))
            print("forks %d: %.1f s, %d failures, %d missing" % (
                forks, results[-1].wall_s, results[-1].failures, results[-1].missing), flush=True)
    print_table(args.agents, results)
    path = write_results("scale", {"agents": args.agents, "tasks": list(TASK_NAMES),
                                   "results": [asdict(result) for result in results]})
    print("results: %s" % path)
    return 0 if all(result.failures == 0 and result.missing == 0 for result in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
