# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""exec_planner: one rule per way of running a command, on the commands the installed ansible-core builds."""

from __future__ import annotations

import json
import shlex
import typing as t

import pytest
from ansible.plugins.loader import become_loader, get_shell_plugin, init_plugin_loader

from ansible_collections.vmguest.qga.plugins.plugin_utils import exec_planner, facts_gather
from ansible_collections.vmguest.qga.plugins.plugin_utils.exec_planner import (
    GUEST_EXEC,
    WORKER_MODULE,
    WORKER_OP,
    ExecRequest,
    choose,
)

# What the planner looks for in an AnsiballZ wrapper (the host-agent tests run real ones).
MODULE = b"#!/usr/bin/python3\n_ANSIBALLZ_WRAPPER = True\nzip_data='UEsD'\n"


@pytest.fixture(scope="module", autouse=True)
def _plugins() -> None:
    init_plugin_loader()


def sh() -> t.Any:
    return get_shell_plugin(shell_type="sh", executable="/bin/sh")


def pipelined(inner: str) -> str:
    """The command ActionBase hands the connection for a pipelined module (default executable)."""
    return "/bin/sh -c " + shlex.quote(sh().append_command(inner, "sleep 0"))


def request(cmd: str, in_data: bytes | None = MODULE, user: str = "root", executor: bool = True) -> ExecRequest:
    return ExecRequest(cmd, in_data, user, executor)


def test_a_plain_pipelined_module_of_roots_goes_to_the_worker() -> None:
    route, refusals = choose(request(pipelined("/usr/bin/python3")))
    assert (route.name, route.interpreter, refusals) == (WORKER_MODULE, "/usr/bin/python3", [])


def with_environment(env: dict[str, str]) -> str:
    """The pipelined command of a task with `environment:`, as ActionBase builds it through the shell plugin."""
    return "/bin/sh -c " + shlex.quote(sh().append_command(
        sh().build_module_command(sh().env_prefix(**env), "#!/usr/bin/python3", "").strip(), "sleep 0"))


def test_a_tasks_environment_goes_to_the_worker_with_it_exactly() -> None:
    env = {"QGA_A": "two words", "QGA_B": "it's $HOME `id` \\n", "QGA_EMPTY": ""}
    route, refusals = choose(request(with_environment(env)))
    assert (route.name, route.interpreter, route.env, refusals) == (WORKER_MODULE, "/usr/bin/python3", env, [])


def test_ansible_cores_tmp_dir_housekeeping_goes_to_the_worker_as_an_op() -> None:
    route, refusals = choose(request(pipelined(sh().mkdtemp("ansible-tmp-1-2-3", tmpdir="/tmp")), in_data=None))
    assert route.name == WORKER_OP and route.op["kind"] == "mkdtemp"
    assert [str(refusal) for refusal in refusals] == ["worker module: no pipelined module on stdin"]


@pytest.mark.parametrize("method", ["sudo", "su"])
def test_become_goes_the_normal_way_saying_why(method: str) -> None:
    become = become_loader.get(method)
    wrapped = become.build_become_command(sh().append_command("/usr/bin/python3", "sleep 0"), sh())
    cmd = "/bin/sh -c " + shlex.quote(wrapped)
    route, refusals = choose(request(cmd))
    assert route.name == GUEST_EXEC
    assert refusals[0].planner == WORKER_MODULE and "INTERPRETER && sleep 0" in refusals[0].reason


@pytest.mark.parametrize(
    ("req", "module_reason", "op_reason"),
    [
        (request(with_environment({"PYTHONPATH": "/opt", "LC_ALL": "C"})), "sets LC_ALL, PYTHONPATH, which a",
         "the command has stdin"),
        (request(pipelined("/usr/bin/python3 -E")), "'[ENVIRONMENT] INTERPRETER && sleep 0'", "has stdin"),
        (request(pipelined("/usr/bin/python3"), user="alice"), "alice is not root", "the command has stdin"),
        (request(pipelined("/usr/bin/python3"), executor=False), "the executor is off", "the executor is off"),
        (request(pipelined("/usr/bin/python3"), in_data=b"print(1)\n"), "not an AnsiballZ module", "has stdin"),
        (request(pipelined("echo raw"), in_data=None), "no pipelined module on stdin", "not one of ansible-core's"),
        (request(pipelined("rm -f -r /etc > /dev/null 2>&1"), in_data=None), "no pipelined", "not one of"),
        (request(pipelined("echo ~"), in_data=None, user="alice"), "no pipelined", "remote_user alice is not root"),
    ],
    ids=["interpreter start environment", "interpreter arguments", "remote_user", "executor off", "not AnsiballZ",
         "raw", "other rm", "housekeeping of alice"],
)
def test_everything_else_goes_through_guest_exec_with_each_refusal(
    req: ExecRequest, module_reason: str, op_reason: str
) -> None:
    route, refusals = choose(req)
    assert route.name == GUEST_EXEC
    assert [refusal.planner for refusal in refusals] == [WORKER_MODULE, WORKER_OP]
    assert module_reason in refusals[0].reason and op_reason in refusals[1].reason


def test_gather_facts_running_qga_facts_is_answered_on_the_controller_whoever_the_user() -> None:
    facts = MODULE + b"\n_ansiballz_main(\nmodule_fqn='ansible_collections.vmguest.qga.plugins.modules.qga_facts',\n)\n"
    as_alice = request(pipelined("/nonexistent"), facts, "alice", executor=False)
    for req in (request(pipelined("/usr/bin/python3"), facts), as_alice):
        assert choose(req) == (exec_planner.Route(exec_planner.CONTROLLER_FACTS), [])
    # A module whose arguments mention qga_facts is not it (2.19 writes each wrapper argument as `key=repr,`).
    args = json.dumps({"ANSIBLE_MODULE_ARGS": {"content": "\nmodule_fqn='%s',\n" % facts_gather.MODULE_FQN.decode()}})
    mention = MODULE + ("params=%r,\n" % args).encode()
    assert choose(request(pipelined("/usr/bin/python3"), mention))[0].name == WORKER_MODULE


def test_the_normal_way_takes_everything() -> None:
    assert exec_planner.GuestExecPlanner().plan(request("", in_data=None)) == exec_planner.Route(GUEST_EXEC)
