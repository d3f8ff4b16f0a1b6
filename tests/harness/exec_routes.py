# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How many of each task's commands the persistent executor's worker ran, read from a -vvv run's output.

The connection says `EXEC <cmd>` once per exec_command and the executor `EXECUTOR job ID done (HOW)` once per
command the worker answered, so the share of the second in the first is the fast path actually taken.
"""

from __future__ import annotations

import os
import re
import typing as t

TASK_LINE = re.compile(r"^TASK \[(?P<name>.*?)\] \*+$")
EXEC_LINE = re.compile(r"^<[^>]+> EXEC (?!ROUTE |rc=)")
DONE_LINE = re.compile(r"^<[^>]+> EXECUTOR job \w+ done \((?!need)")
TRANSFER_LINE = re.compile(r"^<[^>]+> (?:PUT|FETCH) ")


# Identities other than root's, each with a worker of its own started through its own command. daemon has no
# login shell (su needs one given) and a home of root's (remote_user's tmp goes elsewhere).
OTHER_USER = "daemon"
IDENTITIES: dict[str, dict[str, t.Any]] = {
    "become sudo": {"ansible_become": True, "ansible_become_method": "sudo", "ansible_become_user": OTHER_USER},
    "become su": {"ansible_become": True, "ansible_become_method": "su", "ansible_become_user": OTHER_USER,
                  "ansible_become_flags": "-s /bin/sh"},
    "remote_user": {"ansible_user": OTHER_USER, "ansible_remote_tmp": "/tmp"},
}

# One task of each ordinary kind, after a first task (as root, whatever the play's identity) that starts the worker.
ORDINARY_KINDS = ["command", "module with stdin", "environment", "copy", "template", "fetch", "file", "stat", "setup"]
ORDINARY_TASKS = """
    - name: start the worker
      ping:
      vars: {ansible_user: root, ansible_become: false}
    - name: command
      command: id -un
    - name: module with stdin
      command: cat
      args: {stdin: from-stdin}
    - name: environment
      command: printenv QGA_KIND
      environment: {QGA_KIND: env}
    - name: copy
      copy: {content: "copied\\n", dest: "%(dir)s/copied.txt", mode: "0600"}
    - name: template
      template: {src: "%(dir)s/motd.j2", dest: "%(dir)s/motd"}
      vars: {greeting: hello}
    - name: fetch
      fetch: {src: "%(dir)s/motd", dest: "%(dir)s/fetched/", flat: true}
    - name: file
      file: {path: "%(dir)s/copied.txt", mode: "0640"}
    - name: stat
      stat: {path: "%(dir)s/motd"}
    - name: setup
      setup: {gather_subset: ["!all", "!min", "date_time"]}
"""


def ordinary_tasks(directory: str) -> str:
    """ORDINARY_TASKS (list items indented for ansible_run.play) working in `directory`, its template written."""
    with open(os.path.join(directory, "motd.j2"), "w") as handle:
        handle.write("{{ greeting }}\n")
    return ORDINARY_TASKS % {"dir": directory}


def worker_share_by_task(output: str) -> dict[str, tuple[int, int]]:
    """task name -> (commands the worker ran, commands in all), for the tasks that ran any command.

    A command counts as the worker's when a job of the worker finished before the next command or transfer
    (a PUT's own job, the worker creating the file, is not a command).
    """
    shares: dict[str, tuple[int, int]] = {}
    task = ""
    waiting = False  # an EXEC whose answer is not seen yet
    for line in output.splitlines():
        found = TASK_LINE.match(line)
        if found:
            task, waiting = found.group("name"), False
            continue
        in_worker, total = shares.get(task, (0, 0))
        if EXEC_LINE.match(line):
            shares[task] = (in_worker, total + 1)
            waiting = True
        elif TRANSFER_LINE.match(line):
            waiting = False
        elif DONE_LINE.match(line) and waiting:
            shares[task] = (in_worker + 1, total)
            waiting = False
    return shares
