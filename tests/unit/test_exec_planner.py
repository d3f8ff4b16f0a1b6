# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""exec_planner: one rule per way of running a command, on the commands the installed ansible-core builds."""

from __future__ import annotations

import json
import typing as t

import pytest
from ansible.plugins.loader import become_loader
from ansible.plugins.shell import ShellBase
from core_commands import low_level, sh_plugin

from ansible_collections.vmguest.qga.plugins.plugin_utils import exec_planner, facts_gather, worker_identity
from ansible_collections.vmguest.qga.plugins.plugin_utils.exec_planner import (
    GUEST_EXEC,
    WORKER_MODULE,
    WORKER_OP,
    ExecRequest,
    choose,
)

# What the planner looks for in an AnsiballZ wrapper (the host-agent tests run real ones).
MODULE = b"#!/usr/bin/python3\n_ANSIBALLZ_WRAPPER = True\nzip_data='UEsD'\n"


@pytest.fixture(scope="module")
def shell() -> t.Iterator[ShellBase]:
    yield from sh_plugin()


def pipelined(shell: ShellBase, inner: str) -> str:
    """The command ActionBase hands the connection for a pipelined module (default executable)."""
    return low_level(shell, inner)


def with_environment(shell: ShellBase, env: dict[str, str]) -> str:
    """The pipelined command of a task with `environment:`, as ActionBase builds it through the shell plugin."""
    return low_level(shell, shell.build_module_command(shell.env_prefix(**env), "#!/usr/bin/python3", "").strip())


def request(cmd: str, in_data: bytes | None = MODULE, user: str = "root", executor: bool = True) -> ExecRequest:
    return ExecRequest(cmd, in_data, user, executor)


def test_a_plain_pipelined_module_of_roots_goes_to_the_worker(shell: ShellBase) -> None:
    route, refusals = choose(request(pipelined(shell, "/usr/bin/python3")))
    assert (route.name, route.interpreter, refusals) == (WORKER_MODULE, "/usr/bin/python3", [])


def test_a_tasks_environment_goes_to_the_worker_with_it_exactly(shell: ShellBase) -> None:
    env = {"QGA_A": "two words", "QGA_B": "it's $HOME `id` \\n", "QGA_EMPTY": ""}
    route, refusals = choose(request(with_environment(shell, env)))
    assert (route.name, route.interpreter, route.env, refusals) == (WORKER_MODULE, "/usr/bin/python3", env, [])


def test_ansible_cores_tmp_dir_housekeeping_goes_to_the_worker_as_an_op(shell: ShellBase) -> None:
    route, refusals = choose(request(pipelined(shell, shell.mkdtemp("ansible-tmp-1-2-3", tmpdir="/tmp")), in_data=None))
    assert route.name == WORKER_OP and route.op["kind"] == "mkdtemp"
    assert [str(refusal) for refusal in refusals] == ["worker module: no pipelined module on stdin, nor a module "
                                                      "file to run"]


@pytest.mark.parametrize("method", ["sudo", "su"])
def test_a_become_command_goes_to_its_identitys_worker_when_the_plugin_built_it(shell: ShellBase, method: str) -> None:
    become = become_loader.get(method)
    recorder = worker_identity.BecomeRecorder(become)
    cmd = low_level(shell, become.build_become_command("/usr/bin/python3", shell))
    inner = recorder.inner_of(cmd)
    assert inner == "/usr/bin/python3"
    route, refusals = choose(ExecRequest(cmd, MODULE, "root", True, becomes=True, become_inner=inner))
    assert (route.name, route.interpreter, route.other_identity, refusals) == (
        WORKER_MODULE, "/usr/bin/python3", True, [])
    # A command carrying the plugin's marker that the plugin did not build (edited, or built another way).
    edited = cmd.replace("/usr/bin/python3", "/usr/bin/python3 -E")
    assert recorder.inner_of(edited) is None
    route, refusals = choose(ExecRequest(edited, MODULE, "root", True, becomes=True, become_inner=None))
    assert route.name == GUEST_EXEC and refusals[0].reason == "the command is not what the task's become plugin built"


def test_a_module_file_of_a_task_not_pipelined_goes_to_the_worker_and_async_does_not(shell: ShellBase) -> None:
    path = "/root/.ansible/tmp/ansible-tmp-1-2-3/AnsiballZ_ping.py"
    body = shell.build_module_command("", "#!/usr/bin/python3", path).strip()
    route, refusals = choose(request(pipelined(shell, body), in_data=None))
    assert (route.name, route.interpreter, route.module_file, refusals) == (WORKER_MODULE, "/usr/bin/python3", path, [])
    wrapper = "/root/.ansible/tmp/ansible-tmp-1-2-3/async_wrapper.py"
    async_body = shell.build_module_command("", "#!/usr/bin/python3", wrapper) + " 123 45 %s _" % path
    route, refusals = choose(request(pipelined(shell, async_body.strip()), in_data=None))
    assert route.name == GUEST_EXEC and refusals[0].reason.startswith("async: ")


def test_a_non_root_remote_users_commands_go_to_that_users_worker(shell: ShellBase) -> None:
    route, _refusals = choose(request(pipelined(shell, "/usr/bin/python3"), user="alice"))
    assert (route.name, route.other_identity) == (WORKER_MODULE, True)
    as_alice = ExecRequest(pipelined(shell, shell.expand_user("~")), None, "alice", True, home="/home/alice")
    route, _refusals = choose(as_alice)
    assert (route.name, route.op, route.other_identity) == (
        WORKER_OP, {"kind": "home", "user": "", "home": "/home/alice"}, True)


Build = t.Callable[[ShellBase], ExecRequest]


@pytest.mark.parametrize(
    ("build", "module_reason", "op_reason"),
    [
        (lambda sh: request(with_environment(sh, {"PYTHONPATH": "/opt", "LC_ALL": "C"})),
         "sets LC_ALL, PYTHONPATH, which a", "the command has stdin"),
        (lambda sh: request(pipelined(sh, "/usr/bin/python3 -E")), "'[ENVIRONMENT] INTERPRETER'", "has stdin"),
        (lambda sh: request(pipelined(sh, "/usr/bin/python3"), executor=False), "the executor is off", "is off"),
        (lambda sh: request(pipelined(sh, "/usr/bin/python3"), in_data=b"print(1)\n"), "not an AnsiballZ", "stdin"),
        (lambda sh: request(pipelined(sh, "echo raw"), in_data=None), "no pipelined module", "not one of"),
        (lambda sh: request(pipelined(sh, "rm -f -r /etc > /dev/null 2>&1"), in_data=None), "no pipel", "not one"),
        (lambda sh: ExecRequest(pipelined(sh, "rm -f -r /tmp/ansible-tmp-1-2-3 > /dev/null 2>&1"), None, "root", True,
                                becomes=True), "not what the task's become plugin built", "through become"),
    ],
    ids=["interpreter start environment", "interpreter arguments", "executor off", "not AnsiballZ",
         "raw", "other rm", "housekeeping through become"],
)
def test_everything_else_goes_through_guest_exec_with_each_refusal(
    shell: ShellBase, build: Build, module_reason: str, op_reason: str
) -> None:
    route, refusals = choose(build(shell))
    assert route.name == GUEST_EXEC
    assert [refusal.planner for refusal in refusals] == [WORKER_MODULE, WORKER_OP]
    assert module_reason in refusals[0].reason and op_reason in refusals[1].reason


def test_gather_facts_running_qga_facts_is_answered_on_the_controller_whoever_the_user(shell: ShellBase) -> None:
    facts = MODULE + b"\n_ansiballz_main(\nmodule_fqn='ansible_collections.vmguest.qga.plugins.modules.qga_facts',\n)\n"
    as_alice = request(pipelined(shell, "/nonexistent"), facts, "alice", executor=False)
    for req in (request(pipelined(shell, "/usr/bin/python3"), facts), as_alice):
        assert choose(req) == (exec_planner.Route(exec_planner.CONTROLLER_FACTS), [])
    # A module whose arguments mention qga_facts is not it (2.19 writes each wrapper argument as `key=repr,`).
    args = json.dumps({"ANSIBLE_MODULE_ARGS": {"content": "\nmodule_fqn='%s',\n" % facts_gather.MODULE_FQN.decode()}})
    mention = MODULE + ("params=%r,\n" % args).encode()
    assert choose(request(pipelined(shell, "/usr/bin/python3"), mention))[0].name == WORKER_MODULE


def test_the_normal_way_takes_everything() -> None:
    assert exec_planner.GuestExecPlanner().plan(request("", in_data=None)) == exec_planner.Route(GUEST_EXEC)
