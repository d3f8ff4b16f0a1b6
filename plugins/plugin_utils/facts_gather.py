# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_facts, the agent part: read the RPCs the chosen subsets need, map them (plugin_utils.facts).

Used by the qga_facts action plugin (a task) and by the vmguest.qga.qga connection when gather_facts runs
qga_facts as a facts module (ansible-core runs facts modules as modules, never as action plugins: the
connection answers that module's pipelined payload on the controller with gather()).
"""

from __future__ import annotations

import ast
import json
import re
import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.utils.display import Display

from ansible_collections.vmguest.qga.plugins.module_utils.qga import guest_exec
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import AgentInfo, QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaCommandError, QgaExecError
from ansible_collections.vmguest.qga.plugins.modules.qga_facts import ARGUMENT_SPEC
from ansible_collections.vmguest.qga.plugins.plugin_utils import facts

display = Display()

MODULE_FQN = b"ansible_collections.vmguest.qga.plugins.modules.qga_facts"
# How an AnsiballZ wrapper (ansible-core 2.19+) names the module it runs: `module_fqn='...',` on a line of its own
# in the call of _ansiballz_main. Module arguments sit inside an escaped string literal there: no such line.
MODULE_IN_WRAPPER = re.compile(rb"^module_fqn=" + re.escape(b"'" + MODULE_FQN + b"'") + rb",$", re.MULTILINE)
PROBE_TIMEOUT = 30.0


class Gathered(t.NamedTuple):
    """The facts (keys prefixed ansible_, as setup returns them) and what could not be gathered, with why."""

    ansible_facts: dict[str, t.Any]
    unavailable: dict[str, str]


def gather(client: QgaClient, args: t.Mapping[str, t.Any]) -> Gathered:
    """Gather the facts `args` (qga_facts' options) ask for. Agent errors of one command leave its facts
    out (named in `unavailable`); only a lost channel raises (QgaError)."""
    subsets = facts.selected_subsets(args.get("gather_subset") or ["all"])
    info = client.info()
    reader = _Reader(client, info)
    replies = {group: reader.read(group) for group in facts.groups_for(subsets)}
    found: dict[str, t.Any] = {}
    osinfo = replies.get("osinfo")
    windows = facts.is_windows(osinfo)
    if "platform" in subsets and (osinfo is not None or replies.get("hostname") is not None):
        found.update(facts.platform_facts(osinfo, (replies.get("hostname") or {}).get("host-name")))
    if "distribution" in subsets and osinfo is not None:
        found.update(facts.distribution_facts(osinfo))
    if replies.get("date_time") is not None:
        guest_ns, timezone = replies["date_time"]
        found["date_time"] = facts.date_time_facts(int(guest_ns), timezone)
    if replies.get("vcpus") is not None:
        found.update(facts.vcpu_facts(replies["vcpus"]))
    if replies.get("memory") is not None:
        blocks, block_info = replies["memory"]
        found.update(facts.memory_facts(blocks, block_info["size"]))
    if replies.get("mounts") is not None:
        found["mounts"] = facts.mount_facts(replies["mounts"])
    if replies.get("network") is not None:
        found.update(facts.network_facts(replies["network"], windows=windows))
    qga: dict[str, t.Any] = {}
    if "qga" in subsets:
        qga.update(version=info.version, enabled_commands=sorted(c for c, on in info.commands.items() if on))
        if osinfo is not None:
            qga["osinfo"] = osinfo
    if replies.get("disks") is not None:
        qga["disks"] = replies["disks"]
    if replies.get("users") is not None:
        qga["users"] = replies["users"]
    if args.get("guest_exec_facts"):
        found.update(_guest_exec_facts(client, info, subsets, found, windows, reader.unavailable))
    qga["unavailable"] = reader.unavailable
    found["qga"] = qga
    return Gathered({"ansible_" + name: value for name, value in found.items()}, reader.unavailable)


class _Reader:
    """Runs each group's commands once; a command the agent lacks, blocks or refuses is recorded, not raised."""

    def __init__(self, client: QgaClient, info: AgentInfo) -> None:
        self.client = client
        self.info = info
        self.unavailable: dict[str, str] = {}

    def read(self, group: str) -> t.Any:
        commands = facts.COMMANDS[group]
        for command in commands:
            reason = unavailable_reason(self.info, command)
            if reason:
                self.unavailable[group] = reason
                return None
        try:
            replies = [self.client.execute(command) for command in commands]
        except QgaCommandError as exc:
            self.unavailable[group] = "%s failed: %s" % (exc.command, exc.desc)
            return None
        return replies[0] if len(replies) == 1 else replies


def show_unavailable(host: str, unavailable: t.Mapping[str, str]) -> None:
    """Name the facts left out, with why, at -v (never a warning: a locked-down agent is normal)."""
    for group, reason in unavailable.items():
        display.v("vmguest.qga.qga_facts: no %s facts: %s" % (group, reason), host=host)


def unavailable_reason(info: AgentInfo, command: str) -> str:
    """Why the agent will not run `command` ("" when it will)."""
    if not info.knows(command):
        return "%s is not implemented by qemu-guest-agent %s" % (command, info.version)
    if not info.enabled(command):
        return "%s is disabled in this agent" % command
    return ""


def _guest_exec_facts(client: QgaClient, info: AgentInfo, subsets: set[str], found: dict[str, t.Any],
                      windows: bool, unavailable: dict[str, str]) -> dict[str, t.Any]:
    """pkg_mgr, service_mgr (with min) and default_ipv4 (with network) from one /bin/sh run in the guest."""
    if windows:
        unavailable["guest_exec_facts"] = "not gathered on Windows guests"
        return {}
    wanted_min = bool(subsets & facts.MIN_SUBSETS)
    if not wanted_min and "network" not in subsets:
        return {}
    reason = unavailable_reason(info, "guest-exec") or unavailable_reason(info, "guest-exec-status")
    if reason:
        unavailable["guest_exec_facts"] = reason
        return {}
    try:
        result = guest_exec.run(client, ["/bin/sh", "-c", facts.PROBE_SCRIPT], timeout=PROBE_TIMEOUT)
    except (QgaCommandError, QgaExecError) as exc:
        unavailable["guest_exec_facts"] = "the probe in the guest failed: %s" % exc
        return {}
    if result.rc != 0:
        unavailable["guest_exec_facts"] = "the probe in the guest exited %d: %s" % (
            result.rc, result.stderr.decode("utf-8", "replace").strip())
        return {}
    probe = facts.parse_probe(result.stdout.decode("utf-8", "replace"))
    extra: dict[str, t.Any] = {}
    if wanted_min and "os_family" in found:
        extra["pkg_mgr"] = facts.pkg_mgr_from_probe(probe, found["os_family"])
    if wanted_min and "system" in found:
        extra["service_mgr"] = facts.service_mgr_from_probe(probe, found["system"])
    if "network" in subsets and "interfaces" in found:
        default = facts.default_ipv4_from_probe(probe, found)
        if default:
            extra["default_ipv4"] = default
    return extra


# -- gather_facts: the module's pipelined payload, answered on the controller ---------------------------------


def is_facts_payload(in_data: bytes | None) -> bool:
    """Whether a pipelined module payload runs vmguest.qga.qga_facts (as the wrapper's own code names it, not
    a module argument that happens to mention it)."""
    return bool(in_data) and MODULE_IN_WRAPPER.search(in_data) is not None  # type: ignore[arg-type]


def payload_arguments(in_data: bytes) -> dict[str, t.Any]:
    """The module arguments in an AnsiballZ wrapper: the string constant holding {"ANSIBLE_MODULE_ARGS": ...}."""
    for node in ast.walk(ast.parse(in_data)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "ANSIBLE_MODULE_ARGS" in node.value:
            try:
                return dict(json.loads(node.value)["ANSIBLE_MODULE_ARGS"])
            except (ValueError, KeyError, TypeError):
                continue
    raise ValueError("no module arguments found in the payload")


def answer_payload(client: QgaClient, in_data: bytes, host: str) -> dict[str, t.Any]:
    """The module result for a pipelined qga_facts payload (what the module would print), gathered here."""
    try:
        raw = payload_arguments(in_data)
    except (SyntaxError, ValueError) as exc:
        return {"failed": True, "msg": "vmguest.qga.qga_facts: cannot read its arguments: %s" % exc}
    args = {key: value for key, value in raw.items() if not key.startswith("_ansible_")}
    validation = ArgumentSpecValidator(ARGUMENT_SPEC).validate(args)
    if validation.error_messages:
        return {"failed": True, "msg": "vmguest.qga.qga_facts: %s" % "; ".join(validation.error_messages)}
    try:
        gathered = gather(client, validation.validated_parameters)
    except ValueError as exc:
        return {"failed": True, "msg": "vmguest.qga.qga_facts: %s" % exc}
    show_unavailable(host, gathered.unavailable)
    return {"changed": False, "ansible_facts": gathered.ansible_facts}
