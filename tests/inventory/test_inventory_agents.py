# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.agents against real host agents on sockets found by a glob."""

from __future__ import annotations

import os
import platform
import tempfile

from hostagent import HostAgent
from inventory_helpers import (
    PROBE_TIMEOUT_S,
    AgentDir,
    HostileAgent,
    link_agent,
    run_inventory,
    run_playbook_on,
    unsafe_marked,
    write_config,
)


def _os_release_id() -> str:
    return platform.freedesktop_os_release()["ID"]


def _config(agent_dir: AgentDir, work_dir: str, extra: str = "") -> str:
    return write_config(work_dir, "sockets: ['%s']\nprobe_timeout: %d\n%s" % (agent_dir.glob(), PROBE_TIMEOUT_S, extra))


def test_each_answering_agent_becomes_a_host_for_the_qga_connection(agent_dir: AgentDir, work_dir: str) -> None:
    inventory = run_inventory(_config(agent_dir, work_dir))
    assert inventory.rc == 0, inventory.output
    hostvars = inventory.hostvars
    assert sorted(hostvars) == ["db1", "web1"]
    web1 = hostvars["web1"]
    assert web1["ansible_connection"] == "vmguest.qga.qga"
    assert web1["ansible_qga_channel"] == "unix:" + agent_dir.glob("web1.sock")
    assert web1["qga_source"] == "socket"
    assert web1["qga_agent_version"].startswith("7.")
    assert web1["qga_osinfo"]["id"] == _os_release_id()
    assert web1["qga_osinfo"]["kernel-release"] == os.uname().release
    assert web1["qga_hostname"] == os.uname().nodename
    assert "guest-exec" in web1["qga_enabled_commands"]
    assert "guest-shutdown" not in web1["qga_enabled_commands"]  # blocked in the host agent
    assert "ansible_qga_domain" not in web1


def test_guest_reported_values_are_unsafe_and_this_machines_are_plain(agent_dir: AgentDir, work_dir: str) -> None:
    inventory = run_inventory(_config(agent_dir, work_dir, "compose:\n  guest_kernel: qga_osinfo['kernel-release']\n"))
    raw = inventory.data["_meta"]["hostvars"]["web1"]
    for guest_value in (raw["qga_hostname"], raw["qga_osinfo"]["id"], raw["qga_agent_version"],
                        raw["qga_enabled_commands"][0], raw["guest_kernel"]):
        assert unsafe_marked(guest_value), raw
    assert raw["ansible_connection"] == "vmguest.qga.qga"
    assert raw["ansible_qga_channel"] == raw["qga_channel"] == "unix:" + agent_dir.glob("web1.sock")
    assert raw["qga_socket_path"] == agent_dir.glob("web1.sock")
    assert raw["qga_source"] == "socket"


def test_templates_a_guest_reports_are_never_templated(work_dir: str) -> None:
    marker = os.path.join(work_dir, "templated")
    template = "{{ lookup('pipe', 'touch %s') }}" % marker
    sockets = os.path.join(work_dir, "sockets")
    os.makedirs(sockets)
    agent = HostileAgent(os.path.join(sockets, "evil.sock"), hostname=template,
                         osinfo={"id": template, "pretty-name": template})
    try:
        config = write_config(work_dir, "sockets: ['%s/*.sock']\nprobe_timeout: %d\n%s" % (
            sockets, PROBE_TIMEOUT_S,
            "keyed_groups:\n  - key: qga_osinfo.id\n    prefix: os\ncompose:\n  guest_name: qga_hostname\n"))
        run = run_playbook_on(config, """
- hosts: all
  gather_facts: false
  tasks:
    - name: show
      debug:
        msg: "{{ qga_hostname }} | {{ qga_osinfo['pretty-name'] }} | {{ guest_name }}"
""")
    finally:
        agent.stop()
    assert run.rc == 0, run.output
    assert run.task("show", "evil")["result"]["msg"] == " | ".join([template] * 3)
    assert not os.path.exists(marker), "a template the guest reported was run on the controller"


def test_bad_sockets_are_skipped_and_the_reason_shown_with_verbose(agent_dir: AgentDir, work_dir: str) -> None:
    config = _config(agent_dir, work_dir)
    quiet = run_inventory(config)
    assert quiet.rc == 0
    assert "stale.sock" not in quiet.output and "WARNING" not in quiet.stderr, quiet.output

    verbose = run_inventory(config, "-v")
    assert sorted(verbose.hostvars) == ["db1", "web1"]
    lines = verbose.stdout.splitlines()
    stale = [line for line in lines if "skipping unix:" + agent_dir.glob("stale.sock") in line]
    assert stale and "Connection refused" in stale[0], verbose.output
    other = [line for line in lines if "skipping unix:" + agent_dir.glob("other.sock") in line]
    assert other and "this is an SSH server's socket, not the guest agent's" in other[0], verbose.output
    assert "not a unix socket" not in verbose.stdout  # that one is -vvv

    debug = run_inventory(config, "-vvv")
    assert "skipping %s: not a unix socket" % agent_dir.glob("notes.sock") in debug.stdout, debug.output


def test_unreachable_agents_can_be_kept_in_a_group(agent_dir: AgentDir, work_dir: str) -> None:
    inventory = run_inventory(_config(agent_dir, work_dir, "unreachable: group\nunreachable_group: broken\n"))
    assert inventory.rc == 0, inventory.output
    assert inventory.group("broken") == ["other", "stale"]
    assert "Connection refused" in inventory.hostvars["stale"]["qga_probe_error"]
    assert "qga_probe_error" not in inventory.hostvars["web1"]
    assert "notes" not in inventory.hostvars  # not a socket at all: never a host


def test_keyed_groups_groups_and_compose_over_agent_facts(agent_dir: AgentDir, work_dir: str) -> None:
    extra = """
keyed_groups:
  - key: qga_osinfo.id
    prefix: os
  - key: qga_hostname
    prefix: guest
groups:
  can_exec: "'guest-exec' in qga_enabled_commands"
  can_freeze: "'guest-fsfreeze-freeze' in qga_enabled_commands"
compose:
  guest_kernel: qga_osinfo['kernel-release']
  web_role: "'frontend' if inventory_hostname.startswith('web') else 'backend'"
"""
    inventory = run_inventory(_config(agent_dir, work_dir, extra))
    assert inventory.rc == 0, inventory.output
    assert inventory.group("os_" + _os_release_id()) == ["db1", "web1"]
    guest_group = "guest_" + os.uname().nodename.replace("-", "_").replace(".", "_")
    assert inventory.group(guest_group) == ["db1", "web1"]
    assert inventory.group("can_exec") == ["db1", "web1"]
    assert inventory.group("can_freeze") == []  # blocked in the host agents
    assert inventory.hostvars["web1"]["guest_kernel"] == os.uname().release
    assert inventory.hostvars["web1"]["web_role"] == "frontend"
    assert inventory.hostvars["db1"]["web_role"] == "backend"


def test_strict_makes_a_broken_compose_fail_the_inventory(agent_dir: AgentDir, work_dir: str) -> None:
    extra = "strict: true\ncompose:\n  broken: qga_no_such_fact.id\n"
    inventory = run_inventory(_config(agent_dir, work_dir, extra))
    assert "Could not set broken" in inventory.output and "qga_no_such_fact" in inventory.output, inventory.output
    assert inventory.hostvars == {}

    lenient = run_inventory(_config(agent_dir, work_dir, "strict: false\ncompose:\n  broken: qga_no_such_fact.id\n"))
    assert sorted(lenient.hostvars) == ["db1", "web1"]
    assert "broken" not in lenient.hostvars["web1"]


def test_guest_hostname_naming_keeps_the_first_of_two_guests_with_the_same_name(
    agent_dir: AgentDir, work_dir: str
) -> None:
    inventory = run_inventory(_config(agent_dir, work_dir, "hostnames: [guest_hostname, socket_name]\n"))
    assert inventory.rc == 0, inventory.output
    nodename = os.uname().nodename
    assert list(inventory.hostvars) == [nodename]
    assert inventory.hostvars[nodename]["ansible_qga_channel"].endswith("/db1.sock")  # db1 sorts first
    warning = " ".join(inventory.stderr.split())
    assert "2 agents get the host name %s (from hostnames: guest_hostname)" % nodename in warning, inventory.output
    assert "put a preference that differs for them first" in warning, inventory.output


def test_proxmox_sockets_are_named_by_vm_name_or_vmid(agent_dir: AgentDir, work_dir: str) -> None:
    sockets = os.path.join(work_dir, "qemu-server")
    configs = os.path.join(work_dir, "pve")
    os.makedirs(sockets)
    os.makedirs(configs)
    link_agent(sockets, "100.qga", agent_dir.agents["web1"])
    link_agent(sockets, "101.qga", agent_dir.agents["db1"])
    with open(os.path.join(configs, "100.conf"), "w") as handle:
        handle.write("boot: order=scsi0\nname: shop-web\nagent: 1\n\n[snap1]\nname: old-name\n")
    config = write_config(work_dir, "sockets: ['%s/*.qga']\nproxmox_config_dir: %s\n" % (sockets, configs))
    inventory = run_inventory(config)
    assert inventory.rc == 0, inventory.output
    assert sorted(inventory.hostvars) == ["101", "shop-web"]
    assert inventory.hostvars["shop-web"]["qga_vmid"] == "100"
    assert inventory.hostvars["shop-web"]["qga_vm_name"] == "shop-web"
    assert inventory.hostvars["101"]["qga_vmid"] == "101"


def test_probe_none_adds_every_socket_without_talking_to_agents(agent_dir: AgentDir, work_dir: str) -> None:
    inventory = run_inventory(_config(agent_dir, work_dir, "probe: none\n"))
    assert inventory.rc == 0, inventory.output
    assert sorted(inventory.hostvars) == ["db1", "other", "stale", "web1"]
    assert "qga_osinfo" not in inventory.hostvars["web1"]


def test_probe_ping_checks_agents_but_collects_no_facts(agent_dir: AgentDir, work_dir: str) -> None:
    inventory = run_inventory(_config(agent_dir, work_dir, "probe: ping\n"))
    assert sorted(inventory.hostvars) == ["db1", "web1"]
    assert "qga_osinfo" not in inventory.hostvars["web1"]
    assert "qga_agent_version" not in inventory.hostvars["web1"]


def test_cache_serves_the_agents_while_they_are_stopped(work_dir: str) -> None:
    sockets = os.path.join(work_dir, "sockets")
    os.makedirs(sockets)
    cache_dir = os.path.join(work_dir, "cache")
    config = write_config(
        work_dir,
        "sockets: ['%s/*.sock']\nprobe_timeout: %d\ncache: true\ncache_plugin: ansible.builtin.jsonfile\n"
        "cache_connection: %s\ncache_timeout: 3600\nkeyed_groups:\n  - key: qga_osinfo.id\n    prefix: os\n"
        % (sockets, PROBE_TIMEOUT_S, cache_dir),
    )
    with HostAgent() as agent:
        link_agent(sockets, "cached.sock", agent)
        first = run_inventory(config)
        assert list(first.hostvars) == ["cached"], first.output
        assert os.listdir(cache_dir), "nothing was written to the jsonfile cache"
    # The agent is gone: only the cache can still know it.
    second = run_inventory(config, "-vvv")
    assert list(second.hostvars) == ["cached"], second.output
    assert second.hostvars["cached"]["qga_osinfo"]["id"] == _os_release_id()
    assert second.group("os_" + _os_release_id()) == ["cached"]
    assert "1 agent channel(s) from the cache" in second.stdout

    refreshed = run_inventory(config, "--flush-cache", "-vvv")
    assert refreshed.hostvars == {}, refreshed.output
    # The link now points at the agent's removed socket.
    assert "skipping %s/cached.sock: cannot stat" % sockets in refreshed.stdout, refreshed.output


def test_a_play_runs_through_the_discovered_hosts(agent_dir: AgentDir, work_dir: str) -> None:
    playbook = """
- hosts: os_%s
  gather_facts: false
  tasks:
    - name: shell
      command: echo "{{ inventory_hostname }} via {{ ansible_qga_channel | basename }}"
    - name: info
      vmguest.qga.qga_info:
        gather_subset: [hostname]
""" % _os_release_id()
    config = _config(agent_dir, work_dir, "keyed_groups:\n  - key: qga_osinfo.id\n    prefix: os\n")
    run = run_playbook_on(config, playbook)
    assert run.rc == 0, run.output
    for host in ("web1", "db1"):
        assert run.task("shell", host)["result"]["stdout"] == "%s via %s.sock" % (host, host)
        assert run.task("info", host)["result"]["hostname"] == os.uname().nodename


def test_libvirt_uri_that_cannot_be_opened_warns_and_keeps_the_sockets(agent_dir: AgentDir, work_dir: str) -> None:
    bad_uri = "qemu+unix:///system?socket=%s/no-libvirtd.sock" % work_dir
    inventory = run_inventory(_config(agent_dir, work_dir, "libvirt_uris: ['%s']\n" % bad_uri))
    assert inventory.rc == 0, inventory.output
    assert sorted(inventory.hostvars) == ["db1", "web1"]
    assert "cannot list the domains of %s" % bad_uri in inventory.stderr, inventory.output


def test_libvirt_uris_without_libvirt_python_is_a_clear_error(agent_dir: AgentDir, work_dir: str) -> None:
    # A stand-in that fails to import, as on a controller without libvirt-python.
    shadow = tempfile.mkdtemp(dir=work_dir)
    with open(os.path.join(shadow, "libvirt.py"), "w") as handle:
        handle.write("raise ImportError('No module named libvirt')\n")
    config = _config(agent_dir, work_dir, "libvirt_uris: ['qemu:///system']\n")
    inventory = run_inventory(config, env={"PYTHONPATH": shadow})
    assert "libvirt_uris needs libvirt-python on the controller" in inventory.output, inventory.output
    assert inventory.hostvars == {}


def test_bad_option_values_are_clear_errors(agent_dir: AgentDir, work_dir: str) -> None:
    inventory = run_inventory(_config(agent_dir, work_dir, "probe_workers: 0\n"))
    assert "probe_workers must be at least 1" in inventory.output, inventory.output
    inventory = run_inventory(_config(agent_dir, work_dir, "probe: everything\n"))
    assert "everything" in inventory.output and inventory.hostvars == {}, inventory.output


def test_other_config_file_names_are_not_taken(agent_dir: AgentDir, work_dir: str) -> None:
    config = write_config(work_dir, "sockets: ['%s']\n" % agent_dir.glob(), name="agents.yml")
    inventory = run_inventory(config)
    assert inventory.hostvars == {}
    named = write_config(work_dir, "sockets: ['%s']\n" % agent_dir.glob(), name="vmguest.qga.agents.yml")
    assert sorted(run_inventory(named).hostvars) == ["db1", "web1"]
