# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role vmguest.qga.agent_check against real agents: the host agent (dangerous RPCs blocked),
host agents with more RPCs blocked, channels that lead nowhere, and the test VM."""

from __future__ import annotations

import os
import subprocess
import typing as t

from ansible_run import AnsibleRun, failure_of, qga_host, run_playbook, vm_channel
from hostagent import HostAgent

ROLE_PLAY = """
- hosts: all
  gather_facts: false
  roles:
    - role: vmguest.qga.agent_check
"""
ROLE = "vmguest.qga.agent_check : "
REPORT_TASK = ROLE + "Put the report together"
NO_SOCKET = "unix:/nonexistent/vmguest-qga-agent-check.sock"


def report(run: AnsibleRun, host: str) -> dict[str, t.Any]:
    """The agent_check_report fact the role set on `host`."""
    facts = run.task(REPORT_TASK, host)["result"]["ansible_facts"]
    return t.cast("dict[str, t.Any]", facts["agent_check_report"])


def host_python() -> tuple[str, str]:
    """What the probe must find on this host: /usr/bin/python3 and its version."""
    version = subprocess.run(["/usr/bin/python3", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return "/usr/bin/python3", version


def host_os_id() -> str:
    with open("/etc/os-release") as handle:
        fields = dict(line.rstrip("\n").split("=", 1) for line in handle if "=" in line)
    return fields["ID"].strip('"')


def test_host_agent_report_blocked_rpcs_disabled_and_python_found(host_agent: HostAgent) -> None:
    run = run_playbook(ROLE_PLAY, {"h1": qga_host(host_agent.channel)})
    assert run.rc == 0, run.output
    found = report(run, "h1")
    assert found["reachable"] is True and found["error"] == ""
    assert found["agent_version"].startswith(("7.", "8.", "9.", "10."))
    assert found["os"]["id"] == host_os_id()
    assert found["hostname"] == os.uname().nodename
    for blocked in ("guest-shutdown", "guest-fsfreeze-freeze", "guest-set-user-password", "guest-fstrim"):
        assert blocked in found["commands_disabled"] and blocked not in found["commands_enabled"]
    assert "guest-exec" in found["commands_enabled"] and "guest-file-write" in found["commands_enabled"]
    assert found["ready"]["connection"] is True and found["ready"]["exec"] is True
    assert found["ready"]["freeze"] is False and found["ready"]["password"] is False
    assert found["missing"]["freeze"] == ["guest-fsfreeze-freeze", "guest-fsfreeze-thaw"]
    assert "connection" not in found["missing"]
    path, version = host_python()
    assert found["python"] == {"checked": True, "found": True, "path": path, "version": version, "note": "found"}
    assert found["ready"]["python"] is True
    summary = found["summary"]
    assert summary.startswith("h1: reachable, qemu-ga %s on " % found["agent_version"])
    assert "guest-fsfreeze-freeze" in summary and "not ready: freeze" in summary
    assert "python: %s %s" % (path, version) in summary
    assert summary in run.stdout  # printed, not only set
    assert [r["task"] for r in run.results if r["result"].get("changed")] == []  # a check changes nothing


def test_check_mode_reports_the_same(host_agent: HostAgent) -> None:
    run = run_playbook(ROLE_PLAY, {"h1": qga_host(host_agent.channel)}, args=["--check"])
    assert run.rc == 0, run.output
    assert report(run, "h1")["python"]["found"] is True


def test_required_features_present_pass(host_agent: HostAgent) -> None:
    host = qga_host(host_agent.channel, agent_check_required_features=["connection", "exec", "files", "python"],
                    agent_check_required_commands=["guest-get-fsinfo", "guest-fsfreeze-status"])
    # the same through the modules' own channel option, from a host that is not on the qga connection
    via_channel = {"ansible_connection": "local", "agent_check_channel": host_agent.channel,
                   "agent_check_required_features": ["connection", "python"]}
    run = run_playbook(ROLE_PLAY, {"h1": host, "via-channel": via_channel})
    assert run.rc == 0, run.output
    assert report(run, "h1")["required_not_ready"] == []
    assert report(run, "via-channel")["python"] == report(run, "h1")["python"]
    assert report(run, "via-channel")["python"]["found"] is True


def test_required_features_missing_fail_naming_each_command() -> None:
    with HostAgent(extra_blocked=["guest-exec", "guest-ssh-add-authorized-keys"]) as agent:
        host = qga_host(agent.channel, agent_check_required_features=["connection", "ssh_keys", "files"],
                        agent_check_required_commands=["guest-get-fsinfo", "guest-no-such-command-qga"])
        run = run_playbook(ROLE_PLAY, {"strict": host})
    assert run.rc != 0
    msg = failure_of(run, "strict")
    assert msg.startswith("strict: the guest agent (qemu-ga ")
    assert "feature connection needs guest-exec (disabled)" in msg
    assert "feature ssh_keys needs guest-ssh-add-authorized-keys (disabled)" in msg
    assert "command guest-no-such-command-qga is not in this agent version" in msg
    assert "files" not in msg and "guest-get-fsinfo" not in msg
    assert "--allow-rpcs" in msg
    found = report(run, "strict")
    assert found["required_not_ready"] == ["connection", "ssh_keys"]
    assert found["required_commands_missing"] == ["guest-no-such-command-qga"]
    # without guest-exec the guest cannot be searched for Python: said so, not "absent"
    assert found["python"]["checked"] is False and found["python"]["found"] is False
    assert found["python"]["note"] == "cannot look: the agent does not allow guest-exec"
    assert "python: unknown (cannot look" in found["summary"]


def test_python_absent_is_reported_and_fails_when_required(host_agent: HostAgent) -> None:
    """Candidates that do not exist in the guest: the probe (plain /bin/sh) reports Python absent.

    This host has Python, so it proves the "not found" path of the probe and that the rest of the
    check does not depend on the interpreters found; it cannot prove a Python-free guest boots the probe.
    """
    candidates = ["/nonexistent/bin/python3", "no-such-python-qga"]
    reporting = qga_host(host_agent.channel, agent_check_python_candidates=candidates)
    requiring = dict(reporting, agent_check_required_features=["connection", "python"])
    run = run_playbook(ROLE_PLAY, {"reporting": reporting, "requiring": requiring})
    found = report(run, "reporting")
    assert found["python"] == {"checked": True, "found": False, "path": None, "version": None,
                               "note": "none of /nonexistent/bin/python3, no-such-python-qga runs in the guest"}
    assert found["ready"]["connection"] is True and found["ready"]["python"] is False
    assert "python: absent (none of" in found["summary"]
    requirement_task = ROLE + "Fail when a required feature or command is not available"
    assert run.task(requirement_task, "reporting")["status"] == "skipped"
    msg = failure_of(run, "requiring")
    assert "feature python: no Python interpreter (none of /nonexistent/bin/python3" in msg
    assert "feature connection" not in msg


def test_unreachable_agent_fails_by_default_and_the_others_go_on(host_agent: HostAgent) -> None:
    hosts = {"gone": qga_host(NO_SOCKET), "up": qga_host(host_agent.channel)}
    run = run_playbook(ROLE_PLAY, hosts)
    assert run.rc != 0
    msg = failure_of(run, "gone")
    assert msg.startswith("gone: the guest agent cannot be reached: cannot connect")
    assert "/nonexistent/vmguest-qga-agent-check.sock" in msg and "agent_check_fail_unreachable" in msg
    assert report(run, "gone")["reachable"] is False
    assert report(run, "up")["reachable"] is True
    assert run.task(ROLE + "Fail when a required feature or command is not available", "up")["status"] == "skipped"
    assert not [r for r in run.results if r["host"] == "up" and r["status"] == "failed"]


def test_unreachable_agent_only_reported_when_asked(host_agent: HostAgent) -> None:
    hosts = {
        "gone": qga_host(NO_SOCKET, agent_check_required_features=["connection"]),
        # the module's own channel (not the connection): the failure comes back as a failed task, not unreachable
        "gone-channel": {"ansible_connection": "local", "agent_check_channel": NO_SOCKET},
        "up": qga_host(host_agent.channel),
    }
    run = run_playbook(ROLE_PLAY + """
- hosts: all
  gather_facts: false
  tasks:
    - name: After the check
      ansible.builtin.debug:
        msg: "{{ agent_check_report.reachable }}"
""", hosts, args=["-e", "agent_check_fail_unreachable=false", "-e", "agent_check_fleet_summary=true"])
    assert run.rc == 0, run.output
    for host in ("gone", "gone-channel"):
        found = report(run, host)
        assert found["reachable"] is False
        assert found["error"].startswith("cannot connect: No such file or directory"), found["error"]
        assert found["ready"]["connection"] is False and not any(found["ready"].values())
        assert found["missing"] == {} and found["required_not_ready"] == []
        assert found["python"]["checked"] is False
        assert found["python"]["note"] == "not looked for: the agent is unreachable"
        assert found["summary"] == "%s: UNREACHABLE - %s" % (host, found["error"])
        assert run.task("After the check", host)["result"]["msg"] is False
    fleet = run.task(ROLE + "Show the summary of every host of the batch")["result"]["msg"]
    assert [line.split(":")[0] for line in fleet] == ["gone", "gone-channel", "up"]
    assert fleet[2] == report(run, "up")["summary"]


def test_unknown_feature_is_refused_by_the_argument_spec(host_agent: HostAgent) -> None:
    run = run_playbook(ROLE_PLAY, {"h1": qga_host(host_agent.channel, agent_check_required_features=["snapshots"])})
    assert run.rc != 0
    msg = failure_of(run, "h1")
    assert "agent_check_required_features" in msg and "snapshots" in msg


def test_the_test_vm_has_everything_with_a_fleet(test_vm: t.Any, host_agent: HostAgent) -> None:
    required = ["connection", "freeze", "ssh_keys", "password", "shutdown", "time", "vcpus", "python"]
    hosts = {
        "vm": qga_host(vm_channel(test_vm), agent_check_required_features=required),
        "host": qga_host(host_agent.channel),
        "gone": qga_host(NO_SOCKET, agent_check_fail_unreachable=False),
    }
    run = run_playbook(ROLE_PLAY, hosts, args=["-e", "agent_check_fleet_summary=true"])
    assert run.rc == 0, run.output
    found = report(run, "vm")
    assert found["reachable"] is True and found["hostname"] == "qga-testvm" and found["fsfreeze"] == "thawed"
    assert {"guest-fsfreeze-freeze", "guest-set-user-password", "guest-shutdown"} <= set(found["commands_enabled"])
    assert all(found["ready"].values()), found["ready"]
    assert found["missing"] == {}
    assert found["python"]["found"] is True and found["python"]["path"] == "/usr/bin/python3"
    assert found["summary"].startswith("vm: reachable, qemu-ga ") and "(qga-testvm)" in found["summary"]
    fleet = run.task(ROLE + "Show the summary of every host of the batch")["result"]["msg"]
    assert sorted(line.split(":")[0] for line in fleet) == ["gone", "host", "vm"]


def test_frozen_vm_is_reported_as_frozen_not_as_missing_commands(test_vm: t.Any, vm_client: t.Any) -> None:
    vm_client.execute("guest-fsfreeze-freeze", timeout=120)
    try:
        vm_client.close()  # the play needs the channel
        run = run_playbook(ROLE_PLAY, {"vm": qga_host(vm_channel(test_vm),
                                                      agent_check_required_features=["connection"])})
    finally:
        vm_client.connect()
        vm_client.execute("guest-fsfreeze-thaw", timeout=120)
    assert run.rc != 0
    found = report(run, "vm")
    assert found["fsfreeze"] == "frozen" and found["ready"]["connection"] is False
    assert found["python"]["note"] == "cannot look while the guest filesystems are frozen"
    assert found["summary"].endswith("; filesystems FROZEN (the agent disables most commands until they are thawed)")
    msg = failure_of(run, "vm")
    assert "feature connection needs guest-exec (disabled)" in msg
    assert msg.endswith("The guest filesystems are frozen now: the agent disables most commands until they are thawed.")
