# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run real ansible-playbook / ansible against the collection and read back every task result."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import typing as t
from dataclasses import dataclass, field

from collection_path import collection_root

HARNESS = os.path.dirname(os.path.abspath(__file__))


@dataclass
class AnsibleRun:
    """What one ansible-playbook run printed and did."""

    rc: int
    stdout: str
    stderr: str
    results: list[dict[str, t.Any]] = field(default_factory=list)

    def task(self, name: str, host: str | None = None) -> dict[str, t.Any]:
        """The (last) result of the task called `name` (on `host`)."""
        matches = [r for r in self.results if r["task"] == name and (host is None or r["host"] == host)]
        if not matches:
            raise AssertionError("no result for task %r; tasks: %s\n%s" % (
                name, [r["task"] for r in self.results], self.output))
        return matches[-1]

    @property
    def output(self) -> str:
        """stdout and stderr together, for assertion messages."""
        return self.stdout + self.stderr


def _bin(name: str) -> str:
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    return candidate if os.path.exists(candidate) else name


def ansible_env(extra: t.Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a test run: this checkout as vmguest.qga, the results callback, no retry files."""
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": collection_root(),
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HARNESS, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "qga_test_results",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCAL_TEMP": os.path.join(tempfile.gettempdir(), "vmguest-qga-ansible-local"),
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
    })
    env.update(extra or {})
    return env


def write_inventory(directory: str, hosts: t.Mapping[str, t.Mapping[str, t.Any]]) -> str:
    """An inventory (YAML as JSON) with these hosts and their vars; returns its path."""
    path = os.path.join(directory, "inventory.json")
    with open(path, "w") as handle:
        json.dump({"all": {"hosts": hosts}}, handle)
    return path


def run_playbook(
    playbook: str,
    hosts: t.Mapping[str, t.Mapping[str, t.Any]],
    args: t.Sequence[str] = (),
    env: t.Mapping[str, str] | None = None,
    timeout: float = 600,
) -> AnsibleRun:
    """Run `playbook` (YAML text) against `hosts` ({name: vars}) and collect the task results."""
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-inventory-") as work:
        return run_playbook_with_inventory(playbook, write_inventory(work, hosts), args, env, timeout)


def run_playbook_with_inventory(
    playbook: str,
    inventory: str,
    args: t.Sequence[str] = (),
    env: t.Mapping[str, str] | None = None,
    timeout: float = 600,
) -> AnsibleRun:
    """Run `playbook` (YAML text) with `-i inventory` (a path) and collect the task results."""
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-play-") as work:
        play_path = os.path.join(work, "play.yml")
        with open(play_path, "w") as handle:
            handle.write(playbook)
        results_path = os.path.join(work, "results.json")
        proc = subprocess.run(
            [_bin("ansible-playbook"), "-i", inventory, play_path, *args],
            env=ansible_env({**(env or {}), "QGA_TEST_RESULTS": results_path}),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=work,
            check=False,
        )
        results = []
        if os.path.exists(results_path):
            with open(results_path) as handle:
                results = json.load(handle)
    return AnsibleRun(proc.returncode, proc.stdout, proc.stderr, results)


def run_adhoc(
    pattern: str,
    hosts: t.Mapping[str, t.Mapping[str, t.Any]],
    args: t.Sequence[str],
    env: t.Mapping[str, str] | None = None,
    timeout: float = 600,
) -> AnsibleRun:
    """Run `ansible PATTERN ARGS...` against `hosts`."""
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-adhoc-") as work:
        proc = subprocess.run(
            [_bin("ansible"), pattern, "-i", write_inventory(work, hosts), *args],
            env=ansible_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=work,
            check=False,
        )
    return AnsibleRun(proc.returncode, proc.stdout, proc.stderr)


def qga_host(channel: str, **extra: t.Any) -> dict[str, t.Any]:
    """Inventory vars of a host reached through vmguest.qga.qga on `channel`."""
    return {"ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": channel, **extra}


def vm_channel(test_vm: t.Any) -> str:
    """The test VM's agent channel (its unix socket)."""
    return "unix:%s" % test_vm.agent_socket


def play(*tasks: str, hosts: str = "all", gather_facts: bool = False) -> str:
    """A play on `hosts` made of `tasks` (YAML list items indented by 4, as module_task returns them)."""
    return "- hosts: %s\n  gather_facts: %s\n  tasks:\n%s" % (hosts, str(gather_facts).lower(), "".join(tasks))


# A command, meta: reset_connection, a command (tasks "before", "reset", "after").
RESET_BETWEEN_TWO_COMMANDS = """
    - name: before
      command: echo before
    - name: reset
      meta: reset_connection
    - name: after
      command: echo after
"""

# Task keywords for module_task's `extra`.
IGNORE_ERRORS = "      ignore_errors: true\n"
CHECK_MODE = "      check_mode: true\n"


def module_task(module: str, name: str, body: str = "", extra: str = "") -> str:
    """One task calling `module` with `body` (YAML lines of its arguments); `extra`: task keywords."""
    lines = "".join("        %s\n" % line for line in body.strip().splitlines())
    return "    - name: %s\n      %s:%s\n%s%s" % (name, module, "" if lines else " {}", lines, extra)


class TaskMaker(t.Protocol):
    """module_task with the module filled in."""

    def __call__(self, name: str, body: str = "", extra: str = "") -> str:
        """One task of the module called `name`."""


def tasks_of(module: str) -> TaskMaker:
    """A task(name, body, extra) maker for `module`: module_task with the module filled in."""

    def task(name: str, body: str = "", extra: str = "") -> str:
        return module_task(module, name, body, extra)

    return task


# How much of a run's output an assertion message shows (its end: where the error is).
OUTPUT_TAIL = 5000


def result_of(run: AnsibleRun, name: str, host: str | None = None) -> dict[str, t.Any]:
    """The result dict of the task called `name` (on `host`), whatever its status."""
    return t.cast("dict[str, t.Any]", run.task(name, host)["result"])


def _result_with_status(run: AnsibleRun, name: str, host: str | None, status: str) -> dict[str, t.Any]:
    entry = run.task(name, host)
    assert entry["status"] == status, "%s: %s\n%s" % (name, entry, run.output[-OUTPUT_TAIL:])
    return t.cast("dict[str, t.Any]", entry["result"])


def ok(run: AnsibleRun, name: str, host: str | None = None) -> dict[str, t.Any]:
    """The result of the task called `name` (on `host`), asserting it succeeded."""
    return _result_with_status(run, name, host, "ok")


def failed(run: AnsibleRun, name: str, host: str | None = None, status: str = "failed") -> dict[str, t.Any]:
    """The result of the task called `name` (on `host`), asserting it failed (or ended with `status`)."""
    return _result_with_status(run, name, host, status)


def failure_of(run: AnsibleRun, host: str) -> str:
    """The message of the (last) task that failed `host`, asserting one did."""
    failures = [r for r in run.results if r["host"] == host and r["status"] == "failed"]
    assert failures, "%s did not fail\n%s" % (host, run.output[-OUTPUT_TAIL:])
    return str(failures[-1]["result"].get("msg"))


def message(result: dict[str, t.Any]) -> str:
    """Everything a user reads about a failed task."""
    return "\n".join(str(result.get(key, "")) for key in ("msg", "module_stderr", "module_stdout", "stderr"))


def assert_no_secret(run: AnsibleRun, *secrets: str) -> None:
    """Neither the secrets nor their base64 appear in the output or in any task result."""
    everything = run.output + repr(run.results)
    for secret in secrets:
        for form in (secret, base64.b64encode(secret.encode()).decode()):
            assert form not in everything, "a secret leaked into the output"
