# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The persistent executor's fast-path counters: for each kind of task and identity, how many of its commands
the worker ran (the rest went through guest-exec), on a host agent with ansible_qga_executor: persistent.

Identities: root; become sudo and su to daemon (no password needed as root); remote_user daemon. A worker is started
by a first task before the counted ones. The goal (issue 18) is every command in the worker for every identity.

    python bench/fast_path.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import typing as t

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import run_ansible
from ansible_run import play
from exec_routes import IDENTITIES as OTHER_IDENTITIES
from exec_routes import ORDINARY_KINDS, ordinary_tasks, worker_share_by_task
from hostagent import HostAgent

IDENTITIES: dict[str, dict[str, t.Any]] = {"root": {}, **OTHER_IDENTITIES}


def main() -> int:
    columns: dict[str, dict[str, tuple[int, int]]] = {}
    with HostAgent() as agent:
        for identity, host_vars in IDENTITIES.items():
            with tempfile.TemporaryDirectory(prefix="vmguest-qga-fastpath-") as work:
                os.chmod(work, 0o1777)  # noqa: S103 (daemon writes here too: a directory like /tmp)
                host = {
                    "ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": agent.channel,
                    "ansible_qga_executor": "persistent", "ansible_python_interpreter": "/usr/bin/python3",
                    **host_vars,
                }
                run = run_ansible({"h": host}, play(ordinary_tasks(work)), args=["-vvv"])
                if run.rc != 0:
                    print("%s: the play failed (rc %d):\n%s" % (identity, run.rc, run.output[-3000:]))
                    return 1
                columns[identity] = worker_share_by_task(run.output)
    print("== commands the worker ran / commands, per task (host agent, ansible_qga_executor: persistent)")
    print("%-20s" % "task" + "".join("%22s" % identity for identity in IDENTITIES))
    totals = dict.fromkeys(IDENTITIES, (0, 0))
    for kind in ORDINARY_KINDS:
        cells = []
        for identity in IDENTITIES:
            in_worker, total = columns[identity].get(kind, (0, 0))
            done, all_ = totals[identity]
            totals[identity] = (done + in_worker, all_ + total)
            cells.append("%22s" % ("%d/%d" % (in_worker, total)))
        print("%-20s" % kind + "".join(cells))
    print("%-20s" % "share" + "".join(
        "%21.0f%%" % (100.0 * done / all_ if all_ else 0.0) for done, all_ in totals.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
