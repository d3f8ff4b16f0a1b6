# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which way the connection runs one `exec_command`: the one place that decides.

Each planner is one rule: it accepts the command (a Route) or refuses it with the reason, which the
connection logs (Mitogen's planners are the model). The first to accept wins; guest-exec, the normal
way, accepts everything. Accepting is a promise only about the command's shape: a worker that cannot
be reached or started still sends the command the normal way (the connection says so at -vvv).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from ansible_collections.vmguest.qga.plugins.plugin_utils import facts_gather, shell_ops
from ansible_collections.vmguest.qga.plugins.plugin_utils.executor import module_command, pipelined_module

# The routes, as the connection's -vvv lines name them.
CONTROLLER_FACTS = "controller facts"
WORKER_MODULE = "worker module"
WORKER_OP = "worker op"
GUEST_EXEC = "guest-exec"
# Both worker planners' refusal when the connection's executor option is not persistent.
EXECUTOR_OFF = "the executor is off (ansible_qga_executor: pipelining)"


@dataclass(frozen=True)
class ExecRequest:
    """One exec_command as the planners see it."""

    cmd: str
    in_data: bytes | None
    user: str  # remote_user
    executor: bool  # ansible_qga_executor is persistent
    home: str = "/root"  # the remote user's home
    becomes: bool = False  # the command goes through the task's become method
    # When it does: the command ansible-core handed that become plugin, if `cmd` is exactly what the plugin
    # built around it (run by the default /bin/sh -c); else None.
    become_inner: str | None = None

    @property
    def as_root(self) -> bool:
        """Whether the command runs as the agent's own identity (root's worker), not another identity's."""
        return self.user == "root" and not self.becomes


@dataclass(frozen=True)
class Route:
    """An accepted plan: how to run the command and what the route needs."""

    name: str
    interpreter: str = ""  # WORKER_MODULE: the Python the task asked for
    env: dict[str, str] = field(default_factory=dict)  # WORKER_MODULE: the task's environment
    op: dict[str, t.Any] = field(default_factory=dict)  # WORKER_OP: the worker's request
    module_file: str = ""  # WORKER_MODULE: the AnsiballZ file to run, for a task that is not pipelined
    # In the worker of the command's identity (its become method and user, or a non-root remote_user),
    # not root's own.
    other_identity: bool = False


@dataclass(frozen=True)
class Refusal:
    """Why a planner did not take the command."""

    planner: str
    reason: str

    def __str__(self) -> str:
        return "%s: %s" % (self.planner, self.reason)


class Planner:
    """One rule: accept a command (a Route) or refuse it (the reason)."""

    route = ""
    # Whether a refusal is worth saying (why a faster way was not taken), or just "not this kind of command".
    says_refusals = True

    def plan(self, request: ExecRequest) -> Route | str:
        """The Route, or the reason this planner refuses."""
        raise NotImplementedError


class ControllerFactsPlanner(Planner):
    """vmguest.qga.qga_facts run by gather_facts (a module, not an action): answered on the controller from agent
    RPCs, nothing run in the guest (no Python needed there, not even guest-exec)."""

    route = CONTROLLER_FACTS
    says_refusals = False

    def plan(self, request: ExecRequest) -> Route | str:
        if not facts_gather.is_facts_payload(request.in_data):
            return "not the vmguest.qga.qga_facts module"
        return Route(CONTROLLER_FACTS)


class WorkerModulePlanner(Planner):
    """An AnsiballZ module (pipelined, or a module file), in the persistent executor's preloaded worker of the
    task's identity."""

    route = WORKER_MODULE

    def plan(self, request: ExecRequest) -> Route | str:
        if not request.executor:
            return EXECUTOR_OFF
        if request.becomes:
            if request.become_inner is None:
                return "the command is not what the task's become plugin built"
            module, reason = module_command(request.become_inner, request.in_data)
        else:
            module, reason = pipelined_module(request.cmd, request.in_data)
        if module is None:
            return reason
        return Route(WORKER_MODULE, interpreter=module.interpreter, env=module.env, module_file=module.file,
                     other_identity=not request.as_root)


class WorkerOpPlanner(Planner):
    """ansible-core's housekeeping commands (mkdtemp, chmod, rm of its tmp dir, echo ~) done by a running worker."""

    route = WORKER_OP

    def plan(self, request: ExecRequest) -> Route | str:
        if not request.executor:
            return EXECUTOR_OFF
        if request.in_data:
            return "the command has stdin"
        if request.becomes:
            return "a housekeeping command through become"
        op = shell_ops.recognise(request.cmd, request.home)
        if op is None:
            return "not one of ansible-core's housekeeping commands"
        return Route(WORKER_OP, op=op, other_identity=not request.as_root)


class GuestExecPlanner(Planner):
    """The normal way: the command in the guest's /bin/sh through guest-exec. Takes everything."""

    route = GUEST_EXEC

    def plan(self, request: ExecRequest) -> Route | str:
        return Route(GUEST_EXEC)


PLANNERS: tuple[Planner, ...] = (
    ControllerFactsPlanner(), WorkerModulePlanner(), WorkerOpPlanner(), GuestExecPlanner(),
)


def choose(request: ExecRequest, planners: t.Sequence[Planner] = PLANNERS) -> tuple[Route, list[Refusal]]:
    """The first route a planner accepts, and the refusals worth saying of those before it."""
    refusals: list[Refusal] = []
    for planner in planners:
        outcome = planner.plan(request)
        if isinstance(outcome, Route):
            return outcome, refusals
        if planner.says_refusals:
            refusals.append(Refusal(planner.route, outcome))
    raise AssertionError("no planner accepted %r (GuestExecPlanner accepts everything)" % request.cmd)
