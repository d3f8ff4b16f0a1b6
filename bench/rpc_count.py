# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Agent calls per task: how many RPCs each task of a small play sends, by command.

A count, not a time: on a slow guest each call costs milliseconds to tens of them, and a
process start (guest-exec) far more. Polling for replies (guest-exec-status, the executor's
reply file) adds calls that depend on how long the guest takes; the rest is fixed. It reads
the connection's own -vvvvv log ("qga CHANNEL: -> COMMAND"). Runs against a fresh host agent
(dangerous RPCs blocked) unless --channel names another, e.g. the test VM's socket.

    python bench/rpc_count.py                      # pipelining and executor: persistent
    python bench/rpc_count.py --channel unix:/tmp/devvm/qga.sock --modes persistent
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import typing as t

from _common import ansible_env, write_inventory
from ansible_run import _bin
from hostagent import HostAgent

# Stops the persistent executor's worker, which would otherwise outlive the benchmark.
RESET = "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: reset_connection\n"
RPC_LINE = re.compile(r"qga \S+: -> (guest-[a-z-]+) \(")
TASK_BANNER = re.compile(r"^TASK \[(.+?)\]", re.M)
PROCESS_STARTS = ("guest-exec",)
FILE_CALLS = ("guest-file-open", "guest-file-read", "guest-file-write", "guest-file-close", "guest-file-flush")


def playbook(work: str) -> str:
    source = os.path.join(work, "source.bin")
    with open(source, "wb") as handle:
        handle.write(os.urandom(100 * 1024))
    return """- hosts: all
  gather_facts: false
  tasks:
    - name: warm
      command: echo warm
    - name: command
      command: echo one
    - name: ping
      ping:
    - name: copy 100 KiB
      copy: {src: %(source)s, dest: %(dest)s, mode: "0600"}
    - name: fetch 100 KiB
      fetch: {src: %(dest)s, dest: %(fetched)s, flat: true}
    - name: file absent
      file: {path: %(dest)s, state: absent}
""" % {"source": source, "dest": "/tmp/vmguest-qga-rpc-count-%d.bin" % os.getpid(),
       "fetched": os.path.join(work, "fetched.bin")}


def count_calls(output: str) -> dict[str, collections.Counter[str]]:
    """Per task name: a Counter of the agent commands its part of the log sent."""
    per_task: dict[str, collections.Counter[str]] = {}
    banners = list(TASK_BANNER.finditer(output))
    for index, banner in enumerate(banners):
        end = banners[index + 1].start() if index + 1 < len(banners) else len(output)
        per_task[banner.group(1)] = collections.Counter(RPC_LINE.findall(output, banner.end(), end))
    return per_task


def run_mode(channel: str, mode: str, work: str, play_text: str | None = None) -> dict[str, collections.Counter[str]]:
    host = {"ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": channel,
            "ansible_python_interpreter": "/usr/bin/python3", "ansible_qga_executor": mode}
    inventory = write_inventory(work, {"h": host})
    playbook_path = os.path.join(work, "play.yml")
    with open(playbook_path, "w") as handle:
        handle.write(play_text if play_text is not None else playbook(work))
    proc = subprocess.run([_bin("ansible-playbook"), "-i", inventory, playbook_path, "-vvvvv"],
                          env=ansible_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit("the %s play failed:\n%s" % (mode, proc.stdout[-4000:] + proc.stderr[-2000:]))
    return count_calls(proc.stdout)


def print_table(results: dict[str, dict[str, collections.Counter[str]]]) -> None:
    print("| task | " + " | ".join("%s: calls (exec, file)" % mode for mode in results) + " |")
    print("|---|" + "---|" * len(results))
    tasks = next(iter(results.values())).keys()
    for task in tasks:
        cells = []
        for counts in results.values():
            calls = counts.get(task, collections.Counter())
            cells.append("%d (%d, %d)" % (sum(calls.values()), sum(calls[c] for c in PROCESS_STARTS),
                                          sum(calls[c] for c in FILE_CALLS)))
        print("| %s | %s |" % (task, " | ".join(cells)))


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channel", help="an agent channel (default: a fresh host agent)")
    parser.add_argument("--modes", default="pipelining,persistent",
                        help="comma-separated ansible_qga_executor values")
    parser.add_argument("--runs", type=int, default=2, help="plays per mode; the table shows the last")
    args = parser.parse_args(argv)
    agent = None if args.channel else HostAgent().start()
    try:
        channel = args.channel or agent.channel  # type: ignore[union-attr]
        results = {}
        for mode in args.modes.split(","):
            # The last of --runs counts: by then the executor's worker and its preloaded forks run.
            for _run in range(args.runs):
                with tempfile.TemporaryDirectory(prefix="vmguest-qga-rpc-count-") as work:
                    results[mode] = run_mode(channel, mode, work)
            if mode == "persistent":
                with tempfile.TemporaryDirectory(prefix="vmguest-qga-rpc-count-") as work:
                    run_mode(channel, mode, work, RESET)
        print_table(results)
    finally:
        if agent is not None:
            agent.stop()


if __name__ == "__main__":
    main()
