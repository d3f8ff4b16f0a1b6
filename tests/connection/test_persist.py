# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ansible_qga_persist: a channel relay keeps the agent channel open between tasks (real host agents)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import typing as t

import pytest
from ansible_run import RESET_BETWEEN_TWO_COMMANDS, AnsibleRun, play, run_playbook
from executor_workers import wait_for
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaChannelError
from ansible_collections.vmguest.qga.plugins.plugin_utils import relay
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

COMMANDS = """
    - name: first
      command: echo one
    - name: second
      vmguest.qga.qga_exec:
        argv: [echo, two]
    - name: third
      command: echo three
"""


def persistent_host(channel: str, persist: float = 30) -> dict[str, t.Any]:
    return {
        "ansible_connection": "vmguest.qga.qga",
        "ansible_qga_channel": channel,
        "ansible_qga_persist": persist,
        "ansible_python_interpreter": "/usr/bin/python3",
    }


def relay_pids(channel: str) -> list[int]:
    """Relay processes serving `channel` (by their command line), on this machine."""
    path = relay.socket_path(channel)
    proc = subprocess.run(["pgrep", "-f", path], capture_output=True, text=True, check=False)
    return [int(pid) for pid in proc.stdout.split() if int(pid) != os.getpid()]


def stdout_of(run: AnsibleRun, name: str) -> str:
    entry = run.task(name)
    assert entry["status"] == "ok", "%s: %s\n%s" % (name, entry, run.output[-4000:])
    return t.cast(str, entry["result"]["stdout"]).strip()


@pytest.fixture
def agent() -> t.Iterator[HostAgent]:
    with HostAgent() as host_agent:
        yield host_agent
        for pid in relay_pids(host_agent.channel):
            os.kill(pid, signal.SIGTERM)


def test_tasks_share_one_relay_that_outlives_the_play_and_ends_when_idle(agent: HostAgent) -> None:
    run = run_playbook(play(COMMANDS), {"h": persistent_host(agent.channel, persist=3)}, args=["-vvvvv"])
    assert run.rc == 0, run.output
    assert [stdout_of(run, name) for name in ("first", "second", "third")] == ["one", "two", "three"]
    assert run.output.count("through the channel relay") == 3, run.output
    assert len(relay_pids(agent.channel)) == 1
    path = relay.socket_path(agent.channel)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == "0o700"
    # Any client of the channel goes through the running relay: the agent has one client slot.
    with shared_client(agent.channel, connect_timeout=5) as client:
        assert client.execute("guest-ping") == {}
    assert wait_for(lambda: not relay_pids(agent.channel), 15), "the relay did not end after 3 s idle"
    assert not os.path.exists(path)
    with shared_client(agent.channel, connect_timeout=5) as client:  # straight to the agent again
        assert client.execute("guest-ping") == {}


def test_reset_connection_stops_the_relay_and_the_next_task_starts_a_new_one(agent: HostAgent) -> None:
    run = run_playbook(play(RESET_BETWEEN_TWO_COMMANDS), {"h": persistent_host(agent.channel)}, args=["-vvv"])
    assert run.rc == 0, run.output
    assert [stdout_of(run, name) for name in ("before", "after")] == ["before", "after"]
    stopped = re.findall(r"RESET stopped the channel relay \(pid (\d+)\)", run.output)
    assert len(stopped) == 1, run.output
    assert int(stopped[0]) not in relay_pids(agent.channel)  # the relay of "after" is a new one
    assert len(relay_pids(agent.channel)) == 1


def test_agent_restarted_between_plays_ends_the_relay_and_the_next_play_works(agent: HostAgent) -> None:
    host = {"h": persistent_host(agent.channel)}
    first = run_playbook(play(COMMANDS), host)
    assert first.rc == 0, first.output
    (old_relay,) = relay_pids(agent.channel)
    agent.restart()
    assert wait_for(lambda: old_relay not in relay_pids(agent.channel), 10), "the relay outlived its agent"
    second = run_playbook(play(COMMANDS), host)
    assert second.rc == 0, second.output
    assert [stdout_of(second, name) for name in ("first", "second", "third")] == ["one", "two", "three"]


def test_agent_killed_while_relayed_is_a_clear_channel_error(agent: HostAgent) -> None:
    with shared_client(agent.channel, connect_timeout=5, persist=30) as client:
        assert client.execute("guest-ping") == {}
        agent.kill()
        with pytest.raises(QgaChannelError, match="the agent or the VM went away"):
            client.execute("guest-ping", timeout=10)


def test_two_plays_at_once_through_one_relay_each_get_their_own_replies(agent: HostAgent) -> None:
    tasks = "".join("    - command: echo %s-%d\n" % ("{{ inventory_hostname }}", n) for n in range(4))
    hosts = {"a": persistent_host(agent.channel), "b": persistent_host(agent.channel)}
    run = run_playbook(play(tasks), hosts, args=["--forks", "2"])
    assert run.rc == 0, run.output
    outputs = sorted((r["host"], r["result"]["stdout"]) for r in run.results if r["status"] == "ok")
    assert outputs == sorted((host, "%s-%d" % (host, n)) for host in ("a", "b") for n in range(4))
    assert len(relay_pids(agent.channel)) == 1


def test_unreachable_channel_fails_as_without_a_relay(tmp_path: t.Any) -> None:
    channel = "unix:%s" % (tmp_path / "no-such.sock")
    run = run_playbook(play("    - name: first\n      command: echo one\n"), {"h": persistent_host(channel)})
    entry = run.task("first")
    assert entry["status"] == "unreachable", entry
    assert "no such socket" in entry["result"]["msg"], entry
    assert relay_pids(channel) == []


def test_exec_channel_keeps_one_command_for_every_task(agent: HostAgent) -> None:
    socket_path = agent.channel.partition(":")[2] or agent.channel
    channel = "exec:socat - UNIX-CONNECT:%s" % socket_path
    run = run_playbook(play(COMMANDS), {"h": persistent_host(channel)})
    assert run.rc == 0, run.output
    assert [stdout_of(run, name) for name in ("first", "second", "third")] == ["one", "two", "three"]
    (relay_pid,) = relay_pids(channel)
    children = subprocess.run(["pgrep", "-P", str(relay_pid), "socat"], capture_output=True, text=True, check=False)
    assert len(children.stdout.split()) == 1, "one socat for the whole play, held by the relay"
    os.kill(relay_pid, signal.SIGTERM)
    assert wait_for(lambda: not relay_pids(channel), 10)
    assert not os.path.exists(relay.socket_path(channel))
