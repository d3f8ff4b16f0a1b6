# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A play running in the background while the test breaks something, and the tasks that pace it."""

from __future__ import annotations

import os
import subprocess
import time
import typing as t

from ansible_run import _bin, ansible_env, write_inventory


def wait_until(predicate: t.Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


class PlayInBackground:
    """ansible-playbook started in the background, so the test can break the agent while it runs."""

    def __init__(self, playbook: str, hosts: t.Mapping[str, t.Mapping[str, t.Any]], work: str,
                 args: t.Sequence[str] = ()) -> None:
        play_path = os.path.join(work, "play-%d.yml" % id(self))
        with open(play_path, "w") as handle:
            handle.write(playbook)
        self.proc = subprocess.Popen(
            [_bin("ansible-playbook"), "-i", write_inventory(work, hosts), play_path, *args],
            env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work,
        )
        self.output = ""

    def finish(self, timeout: float = 300) -> int:
        """Wait for the play to end; its exit status (its output in self.output)."""
        self.output = self.proc.communicate(timeout=timeout)[0]
        return self.proc.returncode


def gate_tasks(ready: str, go: str) -> str:
    """Two controller-side tasks: announce `ready`, then wait until the test creates `go`."""
    return (
        "    - name: between tasks, ready\n"
        "      ansible.builtin.file: {path: %s, state: touch, mode: '0600'}\n"
        "      delegate_to: localhost\n"
        "    - name: between tasks, wait\n"
        "      ansible.builtin.wait_for: {path: %s, timeout: 120}\n"
        "      delegate_to: localhost\n" % (ready, go)
    )


def echo_task(name: str, text: str) -> str:
    """A task running `echo TEXT` in the guest (through the connection)."""
    return "    - name: %s\n      ansible.builtin.command: echo %s\n" % (name, text)
