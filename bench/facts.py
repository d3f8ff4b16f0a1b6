# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gather_facts with vmguest.qga.qga_facts against setup, side by side in one run.

Columns (each a play of gather_facts and one debug task; the time is the "Gathering Facts" task's):
  host agent     one host agent (this machine as the guest): qga_facts, setup through our connection
  N agents       --agents host agents with --forks: the whole play's wall time, qga_facts and setup
  TCG VM         --vm: the test VM (plain QEMU, agent socket): qga_facts, setup through our connection
  libvirt        --libvirt (the test VM as a libvirtd domain) or --domain URI,NAME (an existing one):
                 qga_facts and setup through our libvirt: channel, and community.libvirt's libvirt_qemu
                 running setup (from bench/.venv-peer, bench/peer_venv.sh; --no-peer leaves it out)

Goals (issue 19): qga_facts <= 1 s per host on the TCG VM and >= 10x faster than setup.

    python bench/facts.py                       # host agent + 50 agents, forks 10
    python bench/facts.py --agents 10 --forks 5 --repeat 5
    python bench/facts.py --vm --libvirt        # the VM parts (boot the TCG test VM)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import typing as t
from contextlib import ExitStack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import BENCH_DIR, AnsibleRun, run_ansible, summary, write_results
from hostagent import HostAgent

PEER_VENV = os.path.join(BENCH_DIR, ".venv-peer")
GUEST_PYTHON = "/usr/bin/python3"
GATHER = "Gathering Facts"
PLAY = """- hosts: all
  gather_facts: true
  tasks:
    - name: use a fact
      debug: {msg: "{{ ansible_os_family }} {{ ansible_distribution_major_version }}"}
"""
# facts module -> the host vars that make gather_facts use it
MODULES: dict[str, dict[str, t.Any]] = {
    "qga_facts": {"ansible_facts_modules": ["vmguest.qga.qga_facts"], "ansible_python_interpreter": "/nonexistent"},
    "setup": {"ansible_facts_modules": ["setup"], "ansible_python_interpreter": GUEST_PYTHON},
}
Row = dict[str, t.Any]


def gather_seconds(run: AnsibleRun) -> list[float]:
    """Each host's Gathering Facts time, or [] when any task failed."""
    if run.error():
        print("   failed: %s" % run.error(), flush=True)
        return []
    return [timing.seconds for timing in run.tasks if timing.task == GATHER]


def per_host(hosts: dict[str, dict[str, t.Any]], module: str, repeat: int, bin_dir: str | None = None,
             with_collection: bool = True) -> Row:
    """min (median) of the Gathering Facts seconds of one host over `repeat` runs."""
    host_vars = {name: {**values, **MODULES[module]} for name, values in hosts.items()}
    if bin_dir is not None:
        host_vars = {name: {**values, "ansible_facts_modules": ["setup"]} for name, values in host_vars.items()}
    seconds: list[float] = []
    for _rep in range(repeat):
        run = run_ansible(host_vars, playbook=PLAY, bin_dir=bin_dir or os.path.dirname(sys.executable),
                          with_collection=with_collection)
        seconds += gather_seconds(run)
    return {"module": module, "seconds": seconds, "summary": summary(seconds)}


def fleet(agents: t.Sequence[HostAgent], module: str, forks: int) -> Row:
    """One play over every agent with `forks`: the wall time and the per-host median."""
    hosts = {"guest%02d" % number: {"ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": agent.channel,
                                    **MODULES[module]}
             for number, agent in enumerate(agents)}
    run = run_ansible(hosts, playbook=PLAY, args=["--forks", str(forks)], timeout=3600)
    seconds = gather_seconds(run)
    ok = len(seconds) == len(agents)
    return {"module": module, "wall_s": run.wall_s, "ok": ok,
            "median_host_s": statistics.median(seconds) if seconds else None}


def fmt(pair: tuple[float, float] | None) -> str:
    return "-" if pair is None else "%.2f (%.2f)" % pair


def print_rows(title: str, rows: t.Sequence[Row]) -> None:
    """Per-host Gathering Facts seconds, min (median), and each row's ratio to qga_facts."""
    print("\n== %s: Gathering Facts seconds per host, min (median)" % title)
    ours = next((row["summary"] for row in rows if row["module"] == "qga_facts"), None)
    for row in rows:
        ratio = ""
        if ours and row["summary"] and row["module"] != "qga_facts":
            ratio = "  %.1fx qga_facts" % (row["summary"][1] / ours[1])
        print("%-28s %16s%s" % (row.get("label", row["module"]), fmt(row["summary"]), ratio))


def goals(title: str, rows: t.Sequence[Row]) -> list[str]:
    """The issue's goals on one column set: qga_facts <= 1 s per host, >= 10x faster than setup."""
    ours = next((row["summary"] for row in rows if row["module"] == "qga_facts"), None)
    lines = []
    if ours:
        lines.append("%s qga_facts <= 1 s per host (%s): %.2f s median" % (
            "met    " if ours[1] <= 1 else "NOT met", title, ours[1]))
    for row in rows:
        if ours and row["summary"] and row["module"] != "qga_facts":
            factor = row["summary"][1] / ours[1]
            lines.append("%s qga_facts >= 10x faster than %s (%s): %.1fx" % (
                "met    " if factor >= 10 else "NOT met", row.get("label", row["module"]), title, factor))
    return lines


def host_agent_session(repeat: int) -> list[Row]:
    with HostAgent() as agent:
        hosts = {"h": {"ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": agent.channel}}
        return [per_host(hosts, module, repeat) for module in MODULES]


def fleet_session(count: int, forks: int) -> list[Row]:
    with ExitStack() as stack:
        agents = [stack.enter_context(HostAgent()) for _number in range(count)]
        return [fleet(agents, module, forks) for module in MODULES]


def vm_session(repeat: int) -> list[Row]:
    from testvm import TestVM

    with TestVM() as vm:
        hosts = {"vm": {"ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": "unix:%s" % vm.agent_socket}}
        return [per_host(hosts, module, repeat) for module in MODULES]


def libvirt_rows(uri: str, domain: str, repeat: int, with_peer: bool) -> list[Row]:
    hosts = {domain: {"ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": "libvirt:" + uri,
                      "ansible_qga_domain": domain}}
    rows = [per_host(hosts, module, repeat) for module in MODULES]
    if with_peer:
        # libvirt_qemu's guest-exec has no HOME: ansible-core's default ~/.ansible/tmp is no directory it can make.
        peer = {domain: {"ansible_connection": "community.libvirt.libvirt_qemu", "ansible_libvirt_uri": uri,
                         "ansible_remote_tmp": "/tmp/.ansible-bench"}}
        row = per_host(peer, "setup", repeat, bin_dir=os.path.join(PEER_VENV, "bin"), with_collection=False)
        rows.append(dict(row, label="setup (libvirt_qemu)"))
    return rows


def libvirt_session(repeat: int, with_peer: bool) -> list[Row]:
    from libvirt_vm import LibvirtTestVM

    with LibvirtTestVM(stop_daemons=True) as vm:
        return libvirt_rows(vm.uri, vm.domain, repeat, with_peer)


def main(argv: t.Sequence[str]) -> int:
    """Run the asked sessions, print the tables and goals, write the JSON; exit 1 when a run failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per module and column (default 3)")
    parser.add_argument("--agents", type=int, default=50, help="host agents for the fleet run (0: none)")
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--vm", action="store_true", help="also the TCG test VM (boots it)")
    parser.add_argument("--libvirt", action="store_true", help="also the test VM under libvirtd, with the peer")
    parser.add_argument("--domain", help="URI,NAME of an existing libvirt domain to measure instead")
    parser.add_argument("--no-peer", action="store_true", help="leave out libvirt_qemu")
    args = parser.parse_args(argv)
    results: dict[str, t.Any] = {}
    results["host agent"] = host_agent_session(args.repeat)
    print_rows("host agent", results["host agent"])
    if args.agents:
        results["fleet"] = fleet_session(args.agents, args.forks)
        print("\n== %d host agents, forks %d: the play's wall seconds" % (args.agents, args.forks))
        for row in results["fleet"]:
            print("%-28s %8.1f s  %s, median %s s per host" % (
                row["module"], row["wall_s"], "ok" if row["ok"] else "FAILED",
                "-" if row["median_host_s"] is None else "%.2f" % row["median_host_s"]))
    if args.vm:
        results["TCG VM"] = vm_session(args.repeat)
        print_rows("TCG VM", results["TCG VM"])
    if args.domain or args.libvirt:
        if args.domain:
            uri, _sep, domain = args.domain.partition(",")
            results["libvirt"] = libvirt_rows(uri, domain, args.repeat, not args.no_peer)
        else:
            results["libvirt"] = libvirt_session(args.repeat, not args.no_peer)
        print_rows("libvirt", results["libvirt"])
    print("\n== goals")
    for title in ("TCG VM", "libvirt"):  # the goals are for a TCG guest
        for line in goals(title, results.get(title, [])):
            print(line)
    print("results: %s" % write_results("facts", results))
    failed = [row for rows in results.values() for row in rows if not row.get("seconds", [1]) or row.get("ok") is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
