# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Side by side: community.libvirt's libvirt_qemu against vmguest.qga.qga on the same TCG test VM.

Columns, run one after the other (one VM at a time on this host):
  libvirt_qemu   the peer, from bench/.venv-peer (bench/peer_venv.sh), on the VM as a libvirtd domain
  qga libvirt:   vmguest.qga.qga over its libvirt transport, the same domain, right after the peer, with
                 executor: pipelining (a fresh interpreter per task, timed by the wrapper below)
  qga socket     vmguest.qga.qga on the agent's unix socket of the plain QEMU test VM (same kernel,
                 initramfs, disk recipe and TCG settings; booted after the domain was stopped, because
                 libvirtd holds the domain's own agent socket)
  -c local       the controller floor (ping and the N-task play only)
  qga libvirt:*, qga socket*   with --persistent: ours again with the default settings (executor: persistent)

Every guest Python run goes through a wrapper interpreter that logs its start and end in the
guest (bash's clock, no fork), so each task's time splits into the module's own time and the
connection's overhead. In the persistent-executor columns the module's own time is what the
worker reports for each job at -vvv: how long the job's process (a fork, or a fresh interpreter
for a module's first task) lived in the guest. 16 MiB transfers are also set against the raw channel ceiling measured
on the same VM (bench/raw_channel.py). Results: a plain-text table and bench/results/compare-*.json.

    python bench/compare.py                      # full run, min and median of 3 (about 20 min)
    python bench/compare.py --persistent         # plus the persistent-executor columns (about 25 min)
    python bench/compare.py --repeat 1 --quick   # smoke run (about 8 min)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import asdict, dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import BENCH_DIR, OUR_BIN_DIR, MiB, command_play, run_ansible, summary, transfer_seconds, write_results
from raw_channel import measure_ceiling

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

PEER_VENV = os.path.join(BENCH_DIR, ".venv-peer")
GUEST_PYTHON = "/usr/bin/python3"
WRAPPER_PATH = "/tmp/bench-python"
TIMES_PATH = "/tmp/bench-module-times"
GUEST_WORK = "/tmp/bench"
REMOTE_TMP = "/tmp/.ansible-bench"
# The plugin's default chunk sizes (the transport caps them), so the ceiling is the one the plugin could reach.
WRITE_CHUNK = 1 * MiB
READ_CHUNK = 4 * MiB
# Logs each guest Python run's start and end; bash's $EPOCHREALTIME needs no fork, so it adds ~nothing.
WRAPPER_TEMPLATE = """#!/bin/bash
started=$EPOCHREALTIME
%s "$@"
rc=$?
echo "$started $EPOCHREALTIME" >> %s
exit $rc
"""

PEER = "libvirt_qemu"
QGA_LIBVIRT = "qga libvirt:"
QGA_SOCKET = "qga socket"
# The same two with the default `executor: persistent` (--persistent): modules run in forks of a long-lived
# guest worker. (The two above set executor: pipelining.)
QGA_LIBVIRT_PERSISTENT = "qga libvirt:*"
QGA_SOCKET_PERSISTENT = "qga socket*"
LOCAL = "-c local"
OURS = (QGA_LIBVIRT, QGA_SOCKET, QGA_LIBVIRT_PERSISTENT, QGA_SOCKET_PERSISTENT)
COLUMNS = (PEER, *OURS, LOCAL)

# key: (label, columns it runs on)
SCENARIOS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ping": ("ansible -m ping", COLUMNS),
    "command": ("ansible -m command -a true", (PEER, *OURS)),
    "play": ("N-task command play", COLUMNS),
    "setup": ("setup (gather_facts)", (PEER, *OURS)),
    "copy1": ("copy 1 MiB", (PEER, *OURS)),
    "copy16": ("copy 16 MiB", (PEER, *OURS)),
    "fetch1": ("fetch 1 MiB", (PEER, *OURS)),
    "fetch16": ("fetch 16 MiB", (PEER, *OURS)),
    "qga_exec": ("qga_exec argv=[true]", OURS),
    "qga_copy16": ("qga_copy 16 MiB", OURS),
    "qga_info": ("qga_info", OURS),
}
PYTHON_SCENARIOS = ("ping", "command", "play", "setup", "copy1", "copy16", "fetch1", "fetch16")
# Our agent-only module against the peer's Python module doing the same job.
PYTHON_FREE_PAIRS = (("qga_exec", "command"), ("qga_copy16", "copy16"), ("qga_info", "setup"))
TRANSFER_SIZES_MIB = {"copy1": 1, "copy16": 16, "fetch1": 1, "fetch16": 16, "qga_copy16": 16}


# The connection's -vvv line for each job the persistent executor ran ("ran": the job process's lifetime).
EXECUTOR_DONE = re.compile(r"EXECUTOR job \w+ done \(\w+\): .*, ran (\d+\.\d+) s")


def executor_run_times(output: str) -> list[float]:
    """The guest run time of every job the persistent executor ran, from a -vvv run's output."""
    return [float(match.group(1)) for match in EXECUTOR_DONE.finditer(output)]


def durations(log_text: str) -> list[float]:
    """The durations in a wrapper's log ("start end" per line)."""
    result = []
    for line in log_text.splitlines():
        started, ended = line.split()
        result.append(float(ended) - float(started))
    return result


class ModuleClock(t.Protocol):
    """Where the wrapper interpreter logged the module runs."""

    def take_module_times(self) -> list[float]:
        """Durations of the Python runs logged since the last call (the log is emptied)."""


@dataclass
class LocalClock:
    """The wrapper's log on the controller (the -c local column)."""

    path: str

    def take_module_times(self) -> list[float]:
        """Durations of the Python runs logged since the last call (the log is emptied)."""
        if not os.path.exists(self.path):
            return []
        with open(self.path) as handle:
            text = handle.read()
        os.unlink(self.path)
        return durations(text)


@dataclass
class Guest:
    """How the benchmark itself reaches the guest between runs (to read module times, verify, clean up)."""

    channel: str
    domain: str | None = None

    def client(self) -> QgaClient:
        """A fresh client; closed by the caller's `with`."""
        return shared_client(self.channel, domain=self.domain, timeout=300)

    def run(self, argv: t.Sequence[str], stdin: bytes | None = None) -> str:
        """Run a command in the guest; its stdout; raise when it fails."""
        with self.client() as client:
            result = guest_exec.run(client, list(argv), stdin=stdin, timeout=300)
        if result.rc != 0:
            raise RuntimeError("%s in the guest: rc %d %s" % (argv[0], result.rc, result.stderr.decode()[-300:]))
        return result.stdout.decode()

    def write(self, path: str, payload: bytes) -> None:
        """Put `payload` at `path` over the raw channel."""
        with self.client() as client:
            files.write_file(client, path, io.BytesIO(payload))

    def sha256(self, path: str) -> str:
        """sha256 of a guest file, computed in the guest."""
        return self.run(["sha256sum", path]).split()[0]

    def take_module_times(self) -> list[float]:
        """Durations of the guest Python runs logged since the last call (the log is emptied)."""
        return durations(self.run(["sh", "-c", "cat %s 2>/dev/null; rm -f %s" % (TIMES_PATH, TIMES_PATH)]))


@dataclass
class Target:
    """One column: an inventory host and the ansible that drives it."""

    column: str
    host: str
    host_vars: dict[str, t.Any]
    guest: Guest | None
    clock: ModuleClock | None
    bin_dir: str = OUR_BIN_DIR
    with_collection: bool = True


@dataclass
class Sample:
    """One run of one scenario on one column."""

    wall_s: float
    task_s: float = 0.0
    tasks: int = 0
    module_s: float | None = None
    module_runs: int | None = None
    transfer_s: float | None = None
    error: str | None = None


@dataclass
class Context:
    """What the scenarios need: sizes, payloads on the controller, settings."""

    play_tasks: int
    timeout: float
    work_dir: str
    qga_vars: dict[str, str] = field(default_factory=dict)
    persistent: bool = False
    payloads: dict[int, str] = field(default_factory=dict)
    digests: dict[int, str] = field(default_factory=dict)

    def payload(self, size_mib: int) -> str:
        """A random local file of `size_mib` MiB (made once)."""
        if size_mib not in self.payloads:
            data = os.urandom(size_mib * MiB)
            path = os.path.join(self.work_dir, "payload-%d.bin" % size_mib)
            with open(path, "wb") as handle:
                handle.write(data)
            self.payloads[size_mib] = path
            self.digests[size_mib] = hashlib.sha256(data).hexdigest()
        return self.payloads[size_mib]


@dataclass
class Results:
    """Every sample, the ceilings and facts about the run, as written to JSON."""

    samples: dict[str, dict[str, list[Sample]]] = field(default_factory=dict)
    ceilings: dict[str, dict[str, float]] = field(default_factory=dict)
    facts: dict[str, t.Any] = field(default_factory=dict)

    def add(self, scenario: str, column: str, sample: Sample) -> None:
        """Record one sample."""
        self.samples.setdefault(scenario, {}).setdefault(column, []).append(sample)

    def ok(self, scenario: str, column: str) -> list[Sample]:
        """The successful samples of a cell."""
        return [sample for sample in self.samples.get(scenario, {}).get(column, []) if sample.error is None]

    def errors(self, scenario: str, column: str) -> list[str]:
        """The failures of a cell."""
        return [s.error for s in self.samples.get(scenario, {}).get(column, []) if s.error is not None]


# ---------------------------------------------------------------- scenarios


def single_task_play(task: str) -> str:
    """A play of one task (YAML of the task body), no fact gathering."""
    return "- hosts: all\n  gather_facts: false\n  tasks:\n    - %s\n" % task


def run_scenario(scenario: str, target: Target, ctx: Context, rep: int) -> Sample:
    """Run `scenario` once on `target`; check what it did; never raise."""
    try:
        return _run_scenario(scenario, target, ctx, rep)
    except Exception as exc:  # a broken peer or guest is a result to report, not a reason to stop
        return Sample(wall_s=0.0, error="%s: %s" % (type(exc).__name__, exc))


def scenario_invocation(scenario: str, ctx: Context, dest: str, local_back: str) -> tuple[str | None, list[str]]:
    """(playbook, None for ad hoc) and the ad hoc module arguments of a scenario."""
    size_mib = TRANSFER_SIZES_MIB.get(scenario, 0)
    plays = {
        "play": lambda: command_play(ctx.play_tasks),
        "setup": lambda: single_task_play("setup: {}"),
        "copy1": lambda: single_task_play('copy: {src: "%s", dest: "%s"}' % (ctx.payload(size_mib), dest)),
        "fetch1": lambda: single_task_play('fetch: {src: "%s/fetch-%d.bin", dest: "%s", flat: true}' % (
            GUEST_WORK, size_mib, local_back)),
        "qga_exec": lambda: single_task_play('vmguest.qga.qga_exec: {argv: ["true"]}'),
        "qga_copy16": lambda: single_task_play('vmguest.qga.qga_copy: {src: "%s", dest: "%s"}' % (
            ctx.payload(size_mib), dest)),
        "qga_info": lambda: single_task_play("vmguest.qga.qga_info: {}"),
    }
    plays["copy16"], plays["fetch16"] = plays["copy1"], plays["fetch1"]
    if scenario == "ping":
        return None, ["-m", "ping"]
    if scenario == "command":
        return None, ["-m", "command", "-a", "true"]
    return plays[scenario](), []


def _run_scenario(scenario: str, target: Target, ctx: Context, rep: int) -> Sample:
    ours = target.column in OURS
    size_mib = TRANSFER_SIZES_MIB.get(scenario, 0)
    dest = "%s/%s-%s-%d.bin" % (GUEST_WORK, scenario, re.sub(r"\W+", "-", target.column), rep)
    local_back = os.path.join(ctx.work_dir, "fetched-%s-%d.bin" % (scenario, rep))
    playbook, adhoc = scenario_invocation(scenario, ctx, dest, local_back)
    persistent = target.host_vars.get("ansible_qga_executor") == "persistent"
    verbose = ["-vvvv"] if ours and size_mib else ["-vvv"] if persistent else []
    run = run_ansible({target.host: target.host_vars}, playbook=playbook, adhoc=adhoc, args=verbose,
                      bin_dir=target.bin_dir, with_collection=target.with_collection, timeout=ctx.timeout)
    sample = Sample(wall_s=run.wall_s, task_s=run.task_s, tasks=len(run.tasks), error=run.error())
    if target.clock is not None:
        module_times = target.clock.take_module_times()
        sample.module_s, sample.module_runs = sum(module_times), len(module_times)
    elif persistent:
        module_times = executor_run_times(run.output)
        sample.module_s, sample.module_runs = sum(module_times), len(module_times)
    if sample.error is None:
        sample.error = _verify(scenario, target, ctx, dest, local_back, size_mib)
    if ours and size_mib and scenario != "qga_copy16":
        verb = "PUT" if scenario.startswith("copy") else "FETCH"
        sample.transfer_s = transfer_seconds(run.output, verb, size_mib * MiB)
    if scenario in ("copy1", "copy16", "qga_copy16") and target.guest is not None:
        target.guest.run(["rm", "-f", dest])
    if os.path.exists(local_back):
        os.unlink(local_back)
    return sample


def _verify(scenario: str, target: Target, ctx: Context, dest: str, local_back: str, size_mib: int) -> str | None:
    """What is wrong with the transferred file, or None."""
    if scenario in ("copy1", "copy16", "qga_copy16") and target.guest is not None:
        if target.guest.sha256(dest) != ctx.digests[size_mib]:
            return "the copied file differs from the source"
    if scenario in ("fetch1", "fetch16"):
        if not os.path.exists(local_back):
            return "fetch left no local file"
        with open(local_back, "rb") as handle:
            if hashlib.sha256(handle.read()).hexdigest() != ctx.digests[size_mib]:
                return "the fetched file differs from the guest's"
    return None


# ---------------------------------------------------------------- sessions


def prepare_guest(guest: Guest, ctx: Context) -> None:
    """Install the timing wrapper and the fetch sources in the guest."""
    guest.run(["mkdir", "-p", GUEST_WORK, REMOTE_TMP])
    guest.write(WRAPPER_PATH, (WRAPPER_TEMPLATE % (GUEST_PYTHON, TIMES_PATH)).encode())
    guest.run(["chmod", "0755", WRAPPER_PATH])
    for size_mib in (1, 16):
        with open(ctx.payload(size_mib), "rb") as handle:
            guest.write("%s/fetch-%d.bin" % (GUEST_WORK, size_mib), handle.read())
    guest.take_module_times()


def measure_raw_ceiling(guest: Guest, column: str, results: Results) -> None:
    """The raw guest-file-write/read throughput of this channel for 16 MiB at the plugin's chunk sizes."""
    with guest.client() as client:
        row = measure_ceiling(client, GUEST_WORK + "/raw.bin", os.urandom(16 * MiB), WRITE_CHUNK, READ_CHUNK, column)
    guest.run(["rm", "-f", GUEST_WORK + "/raw.bin"])
    if not row.verified:
        raise SystemExit("the raw ceiling transfer on %s did not verify" % column)
    results.ceilings[column] = {"write_mib_s": row.write_mib_s, "read_mib_s": row.read_mib_s}
    print("raw ceiling %s: write %.1f MiB/s, read %.1f MiB/s" % (column, row.write_mib_s, row.read_mib_s), flush=True)


def warm_up(targets: t.Sequence[Target], ctx: Context) -> None:
    """One unrecorded ping and setup per column, so no column pays for a cold guest page cache."""
    for target in targets:
        for scenario in ("ping", "setup"):
            if target.column in SCENARIOS[scenario][1]:
                sample = run_scenario(scenario, target, ctx, -1)
                print("  warm-up %-20s %-13s %7.1f s%s" % (scenario, target.column, sample.wall_s,
                                                           "  FAILED: " + sample.error[:200] if sample.error else ""),
                      flush=True)


def scenario_label(scenario: str, ctx: Context) -> str:
    """The scenario's name in the tables."""
    return "%d-task command play" % ctx.play_tasks if scenario == "play" else SCENARIOS[scenario][0]


def run_columns(targets: t.Sequence[Target], ctx: Context, scenarios: t.Sequence[str], repeat: int,
                results: Results) -> None:
    """Every scenario, `repeat` times, the columns one after the other (order reversed every other time)."""
    warm_up(targets, ctx)
    for scenario in scenarios:
        label, columns = scenario_label(scenario, ctx), SCENARIOS[scenario][1]
        for rep in range(repeat):
            for target in targets if rep % 2 == 0 else list(reversed(targets)):
                if target.column not in columns:
                    continue
                sample = run_scenario(scenario, target, ctx, rep)
                results.add(scenario, target.column, sample)
                failure = "  FAILED: " + sample.error[:200] if sample.error else ""
                print("  %-28s %-13s %7.1f s%s" % (label, target.column, sample.wall_s, failure), flush=True)


def libvirt_session(ctx: Context, scenarios: t.Sequence[str], repeat: int, results: Results,
                    with_peer: bool) -> None:
    """The peer and our libvirt transport on the test VM as a libvirtd domain."""
    from libvirt_vm import LibvirtTestVM

    with LibvirtTestVM(stop_daemons=True) as vm:
        print("libvirt domain %s up in %.0f s" % (vm.domain, vm.boot_seconds or 0), flush=True)
        guest = Guest("libvirt:" + vm.uri, vm.domain)
        prepare_guest(guest, ctx)
        measure_raw_ceiling(guest, QGA_LIBVIRT, results)
        common = {"ansible_python_interpreter": WRAPPER_PATH, "ansible_remote_tmp": REMOTE_TMP}
        qga_vars = {"ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": "libvirt:" + vm.uri,
                    "ansible_qga_domain": vm.domain, "ansible_qga_executor": "pipelining", **common, **ctx.qga_vars}
        targets = [Target(QGA_LIBVIRT, vm.domain, qga_vars, guest, guest)]
        if ctx.persistent:
            targets.append(persistent_target(QGA_LIBVIRT_PERSISTENT, vm.domain, qga_vars, guest))
        if with_peer:
            peer_vars = {"ansible_connection": "community.libvirt.libvirt_qemu", "ansible_libvirt_uri": vm.uri,
                         **common}
            targets.insert(0, Target(PEER, vm.domain, peer_vars, guest, guest, os.path.join(PEER_VENV, "bin"), False))
        run_columns(targets, ctx, scenarios, repeat, results)


def persistent_target(column: str, host: str, host_vars: dict[str, t.Any], guest: Guest) -> Target:
    """Our column with the persistent executor. Its modules run in forks of a worker that the wrapper
    would time as one endless run, so it gets the real interpreter; its module clock is the worker's
    own report of each job (executor_run_times)."""
    persistent_vars = {**host_vars, "ansible_python_interpreter": GUEST_PYTHON, "ansible_qga_executor": "persistent"}
    return Target(column, host, persistent_vars, guest, None)


def socket_session(ctx: Context, scenarios: t.Sequence[str], repeat: int, results: Results) -> None:
    """Our connection on the plain QEMU test VM's agent socket."""
    from testvm import TestVM

    with TestVM() as vm:
        guest = Guest("unix:%s" % vm.agent_socket)
        prepare_guest(guest, ctx)
        measure_raw_ceiling(guest, QGA_SOCKET, results)
        host_vars = {"ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": guest.channel,
                     "ansible_python_interpreter": WRAPPER_PATH, "ansible_remote_tmp": REMOTE_TMP,
                     "ansible_qga_executor": "pipelining", **ctx.qga_vars}
        targets = [Target(QGA_SOCKET, "testvm", host_vars, guest, guest)]
        if ctx.persistent:
            targets.append(persistent_target(QGA_SOCKET_PERSISTENT, "testvm", host_vars, guest))
        run_columns(targets, ctx, scenarios, repeat, results)


def local_session(ctx: Context, scenarios: t.Sequence[str], repeat: int, results: Results) -> None:
    """The controller floor: the same ansible with -c local, modules timed by the same kind of wrapper."""
    wrapper = os.path.join(ctx.work_dir, "local-python")
    clock = LocalClock(os.path.join(ctx.work_dir, "local-module-times"))
    with open(wrapper, "w") as handle:
        handle.write(WRAPPER_TEMPLATE % (sys.executable, clock.path))
    os.chmod(wrapper, 0o700)
    host_vars = {"ansible_connection": "local", "ansible_python_interpreter": wrapper}
    run_columns([Target(LOCAL, "controller", host_vars, None, clock)], ctx, scenarios, repeat, results)


# ---------------------------------------------------------------- report


def fmt(pair: tuple[float, float] | None, unit: str = "") -> str:
    """'min (median)' or '-'."""
    if pair is None:
        return "-"
    return "%.2f%s (%.2f)" % (pair[0], unit, pair[1])


def cell_text(results: Results, scenario: str, column: str) -> str:
    """The wall time of a cell, or why it has none."""
    samples = results.ok(scenario, column)
    if samples:
        return fmt(summary([s.wall_s for s in samples]))
    errors = results.errors(scenario, column)
    return "FAILED" if errors else "-"


def ratio(results: Results, scenario: str, peer_scenario: str, column: str, attribute: str = "wall_s") -> float | None:
    """peer min / ours min for one attribute, None when either side has no successful sample."""
    peer = [getattr(s, attribute) for s in results.ok(peer_scenario, PEER)]
    ours = [getattr(s, attribute) for s in results.ok(scenario, column)]
    if not peer or not ours or min(ours) <= 0:
        return None
    return min(peer) / min(ours)


def ratio_text(value: float | None) -> str:
    """'12.3x' or '-'."""
    return "-" if value is None else "%.1fx" % value


def overhead_per_task(samples: t.Sequence[Sample]) -> list[float]:
    """(task time - module time) / tasks of each sample that has both."""
    return [(s.task_s - s.module_s) / s.tasks for s in samples if s.module_s is not None and s.tasks]


def active_columns(results: Results, candidates: t.Sequence[str] = COLUMNS) -> list[str]:
    """The columns of `candidates` that have at least one sample."""
    return [column for column in candidates if any(column in cells for cells in results.samples.values())]


def report(results: Results, ctx: Context) -> list[tuple[str, bool | None, str]]:
    """Print the tables; return the goals as (goal, met or None when unmeasurable, evidence)."""
    columns = active_columns(results)
    ours = active_columns(results, OURS) if PEER in columns else []
    print("\n== End to end wall seconds, min (median) of %d; r = libvirt_qemu / ours ==" % results.facts["repeat"])
    row_format = "%-28s" + " %15s" * len(columns) + " %14s" * len(ours)
    print(row_format % ("scenario", *columns, *("r " + column for column in ours)))
    for scenario in SCENARIOS:
        cells = [cell_text(results, scenario, column) for column in columns]
        ratios = [ratio_text(ratio(results, scenario, scenario, column)) for column in ours]
        print(row_format % (scenario_label(scenario, ctx), *cells, *ratios))
    print("\n== Inside each run: task time (sum of tasks), guest Python time, overhead per task; min (median) ==")
    print("(net = overhead minus the same scenario's -c local overhead: the controller's own per-task work)")
    headers = ("scenario", "column", "task s", "module s", "runs", "overhead s/task", "net s")
    print("%-28s %-13s %16s %16s %5s %16s %8s" % headers)
    for scenario in SCENARIOS:
        floor = overhead_per_task(results.ok(scenario, LOCAL))
        for column in COLUMNS:
            samples = results.ok(scenario, column)
            if not samples:
                continue
            module = [s.module_s for s in samples if s.module_s is not None]
            overhead = overhead_per_task(samples)
            net = "%.2f" % (min(overhead) - min(floor)) if overhead and floor and column != LOCAL else "-"
            print("%-28s %-13s %16s %16s %5s %16s %8s" % (
                scenario_label(scenario, ctx), column, fmt(summary([s.task_s for s in samples])),
                fmt(summary(module)), "-" if samples[0].module_runs is None else samples[0].module_runs,
                fmt(summary(overhead)), net))
    print("\n== 16 MiB transfers through our connection vs the raw channel ceiling (same VM, same run) ==")
    for column in active_columns(results, OURS):
        ceiling = results.ceilings.get(column.rstrip("*"))
        for scenario, key in (("copy16", "write_mib_s"), ("fetch16", "read_mib_s")):
            rates = [16 / s.transfer_s for s in results.ok(scenario, column) if s.transfer_s]
            if ceiling and rates:
                print("%-13s %-8s %6.1f MiB/s vs raw %6.1f MiB/s = %3.0f%%" % (
                    column, scenario, max(rates), ceiling[key], 100 * max(rates) / ceiling[key]))
    goals = evaluate_goals(results)
    print("\n== Goals ==")
    for goal, met, evidence in goals:
        verdict = "n/a" if met is None else ("met" if met else "NOT met")
        print("%-8s %s: %s" % (verdict, goal, evidence))
    for scenario in SCENARIOS:
        for column in COLUMNS:
            for error in dict.fromkeys(results.errors(scenario, column)):
                print("failure: %s on %s: %s" % (scenario, column, error[:300]))
    print("\nNotes: * = executor: persistent (module s: each job's lifetime in the guest as the worker reports it;"
          " these columns run at -vvv to log it).")
    print("'%s' runs on the plain QEMU test VM (same kernel, initramfs, disk recipe, TCG -m 1024 -smp 2),"
          " booted after the libvirt domain was stopped: libvirtd holds the domain's agent socket." % QGA_SOCKET)
    print("Our transfer scenarios run at -vvvv (to log the transfer time); the peer's at default verbosity.")
    return goals


def evaluate_goals(results: Results) -> list[tuple[str, bool | None, str]]:
    """The issue's goals, each with its evidence from this run."""
    goals: list[tuple[str, bool | None, str]] = []
    peer_overhead = overhead_per_task(results.ok("play", PEER))
    floor = overhead_per_task(results.ok("play", LOCAL))
    for column in active_columns(results, OURS):
        ours_overhead = overhead_per_task(results.ok("play", column))
        if peer_overhead and ours_overhead:
            factor = min(peer_overhead) / max(min(ours_overhead), 1e-3)
            goals.append(("per-task overhead >= 5x smaller, play (%s)" % column, factor >= 5,
                          "%.2f s vs %.2f s per task = %.1fx" % (min(peer_overhead), min(ours_overhead), factor)))
        elif peer_overhead and results.ok("play", column):
            # No module clock: the whole task time per task bounds the overhead from above.
            bound = min(s.task_s / s.tasks for s in results.ok("play", column) if s.tasks)
            factor = min(peer_overhead) / max(bound, 1e-3)
            goals.append(("per-task overhead >= 5x smaller, play (%s)" % column, True if factor >= 5 else None,
                          "%.2f s vs <= %.2f s per task (whole task time) = >= %.1fx" % (
                              min(peer_overhead), bound, factor)))
        else:
            goals.append(("per-task overhead >= 5x smaller, play (%s)" % column, None, "no successful play on both"))
        if peer_overhead and ours_overhead and floor:
            peer_net, ours_net = min(peer_overhead) - min(floor), min(ours_overhead) - min(floor)
            factor = peer_net / max(ours_net, 1e-3)
            goals.append(("  same, net of the -c local overhead (%s)" % column, factor >= 5,
                          "%.2f s vs %.2f s per task = %.1fx" % (peer_net, ours_net, factor)))
        slower = [s for s in PYTHON_SCENARIOS if (ratio(results, s, s, column) or 99) <= 1]
        measured = [s for s in PYTHON_SCENARIOS if ratio(results, s, s, column) is not None]
        goals.append(("Python-module tasks faster end to end (%s)" % column, not slower if measured else None,
                      "%d of %d faster%s" % (len(measured) - len(slower), len(measured),
                                             "; not faster: " + ", ".join(slower) if slower else "")))
        for ours, peer in PYTHON_FREE_PAIRS:
            value = ratio(results, ours, peer, column, "task_s")
            goals.append(("%s vs peer %s >= 10x faster, task time (%s)" % (ours, peer, column),
                          None if value is None else value >= 10, ratio_text(value)))
        for scenario, key in (("copy16", "write_mib_s"), ("fetch16", "read_mib_s")):
            value = ratio(results, scenario, scenario, column)
            rates = [16 / s.transfer_s for s in results.ok(scenario, column) if s.transfer_s]
            ceiling = results.ceilings.get(column.rstrip("*"), {}).get(key)
            share = 100 * max(rates) / ceiling if rates and ceiling else None
            met = None if value is None or share is None else value >= 2 and share >= 80
            goals.append(("%s >= 2x faster and >= 80%% of raw (%s)" % (scenario, column), met,
                          "%s end to end, transfer %s of raw" % (
                              ratio_text(value), "-" if share is None else "%.0f%%" % share)))
    return goals


def peer_facts() -> dict[str, str]:
    """Versions of the peer's ansible and community.libvirt."""
    python = os.path.join(PEER_VENV, "bin", "python")
    code = ("import json, importlib.metadata as m, ansible_collections.community.libvirt as c, os; "
            "print(json.dumps({'ansible': m.version('ansible'), 'ansible-core': m.version('ansible-core'), "
            "'community.libvirt': json.load(open(os.path.join(list(c.__path__)[0], 'MANIFEST.json')))"
            "['collection_info']['version']}))")
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit("the peer venv is not usable (run bench/peer_venv.sh): %s" % result.stderr.strip()[-500:])
    return t.cast("dict[str, str]", json.loads(result.stdout))


def main(argv: t.Sequence[str]) -> int:
    """Run the sessions, print the tables, write the JSON; exit 1 when one of our runs failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario and column (default 3)")
    parser.add_argument("--quick", action="store_true", help="a 3-task play instead of the 10-task play")
    parser.add_argument("--sessions", default="libvirt,socket,local",
                        help="comma-separated: libvirt (peer + qga libvirt:), socket, local")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated scenario keys")
    parser.add_argument("--no-peer", action="store_true", help="leave out libvirt_qemu")
    parser.add_argument("--persistent", action="store_true",
                        help="add our columns again with the default settings, executor: persistent (qga libvirt:*, "
                             "qga socket*)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per ansible run (default 900)")
    parser.add_argument("--qga-var", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra host var for our columns, e.g. ansible_qga_poll_max_interval=0.1")
    args = parser.parse_args(argv)
    scenarios = [key.strip() for key in args.scenarios.split(",")]
    unknown = [key for key in scenarios if key not in SCENARIOS]
    if unknown:
        parser.error("unknown scenarios %s; known: %s" % (", ".join(unknown), ", ".join(SCENARIOS)))
    sessions = [name.strip() for name in args.sessions.split(",")]
    with_peer = "libvirt" in sessions and not args.no_peer
    results = Results(facts={"repeat": args.repeat, "quick": args.quick, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                             "peer": peer_facts() if with_peer else None, "sessions": sessions,
                             "qga_vars": args.qga_var})
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-compare-") as work:
        ctx = Context(play_tasks=3 if args.quick else 10, timeout=args.timeout, work_dir=work,
                      qga_vars=dict(item.split("=", 1) for item in args.qga_var), persistent=args.persistent)
        results.facts["play_tasks"] = ctx.play_tasks
        started = time.perf_counter()
        if "libvirt" in sessions:
            libvirt_session(ctx, scenarios, args.repeat, results, with_peer)
        if "socket" in sessions:
            socket_session(ctx, scenarios, args.repeat, results)
        if "local" in sessions:
            local_session(ctx, scenarios, args.repeat, results)
        results.facts["duration_s"] = time.perf_counter() - started
    goals = report(results, ctx)
    path = write_results("compare", {**asdict(results), "goals": goals})
    print("\nresults: %s (%.0f s)" % (path, results.facts["duration_s"]))
    our_failures = [error for scenario in SCENARIOS for column in (*OURS, LOCAL)
                    for error in results.errors(scenario, column)]
    return 1 if our_failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
