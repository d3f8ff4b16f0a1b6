# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The connection plugin's cost, against its floors, in one run on a host qemu-ga (or the test VM).

1. A 10-task command playbook over vmguest.qga.qga vs the same playbook with -c local.
2. A large copy (put) and fetch through the connection vs the raw channel ceiling
   (bench/raw_channel.py's measure_chunk at the plugin's chunk sizes), same channel.
3. The controller's peak RSS during a 1 GiB put (and fetch).

    python bench/connection.py                 # host agent, everything
    python bench/connection.py --target vm --transfer-mib 16 --skip-rss
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import typing as t

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import MiB, command_play, transfer_seconds
from ansible_run import _bin, ansible_env, write_inventory
from raw_channel import measure_ceiling

from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

TEN_TASKS = command_play(10)
TRANSFER = """- hosts: all
  gather_facts: false
  tasks:
    - copy: {src: "%(src)s", dest: "%(dest)s"}
    - fetch: {src: "%(dest)s", dest: "%(back)s", flat: true}
    - file: {path: "%(dest)s", state: absent}
"""


# Runs a command and prints the peak RSS (KiB) of its process tree, so earlier runs do not count.
PEAK_RSS_WRAPPER = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:], check=False).returncode; "
    "print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)"
)


def run_play(
    playbook: str, hosts: dict[str, dict[str, t.Any]], args: t.Sequence[str] = (), measure_rss: bool = False
) -> tuple[float, str]:
    """Run a playbook; return (seconds, output). Raises if it fails."""
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-bench-") as work:
        play_path = os.path.join(work, "play.yml")
        with open(play_path, "w") as handle:
            handle.write(playbook)
        env = ansible_env()
        env.pop("ANSIBLE_CALLBACKS_ENABLED")
        argv = [_bin("ansible-playbook"), "-i", write_inventory(work, hosts), play_path, *args]
        if measure_rss:
            argv = [sys.executable, "-c", PEAK_RSS_WRAPPER, *argv]
        started = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=work)
        elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit("playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed, proc.stdout


def best_of(runs: int, action: t.Callable[[], float]) -> float:
    """The minimum of `runs` timings (the least disturbed run)."""
    return min(action() for _i in range(runs))


def bench_tasks(channel_vars: dict[str, t.Any], runs: int) -> None:
    """Print the 10-task play timings over qga and -c local, and their ratio."""
    qga = best_of(runs, lambda: run_play(TEN_TASKS, {"target": channel_vars})[0])
    local_vars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    local = best_of(runs, lambda: run_play(TEN_TASKS, {"target": local_vars})[0])
    print("10-task command play (best of %d): vmguest.qga.qga %.2f s, -c local %.2f s, ratio %.2fx (goal <= 1.2x)"
          % (runs, qga, local, qga / local))


def bench_transfer(channel_vars: dict[str, t.Any], client_channel: str, size_mib: int, guest_dir: str) -> None:
    """Time put and fetch of `size_mib` through the plugin (its own -vvvv timings) against the raw ceiling."""
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-bench-") as work:
        src = os.path.join(work, "payload.bin")
        payload = os.urandom(size_mib * MiB)
        with open(src, "wb") as handle:
            handle.write(payload)
        back = os.path.join(work, "back.bin")
        playbook = TRANSFER % {"src": src, "dest": guest_dir + "/bench-payload.bin", "back": back}
        elapsed, output = run_play(playbook, {"target": channel_vars}, ["-vvvv"])
        with open(back, "rb") as handle:
            assert hashlib.sha256(handle.read()).digest() == hashlib.sha256(payload).digest(), "fetch differs"
    put_s = _logged_seconds(output, "PUT", size_mib)
    fetch_s = _logged_seconds(output, "FETCH", size_mib)
    with shared_client(client_channel, timeout=300) as client:
        raw = raw_read = measure_ceiling(client, guest_dir + "/bench-raw.bin", payload, 1 * MiB, 4 * MiB, "raw")
        client.execute("guest-exec", {"path": "rm", "arg": ["-f", guest_dir + "/bench-raw.bin"]})
    put_rate, fetch_rate = size_mib / put_s, size_mib / fetch_s
    print("%d MiB copy+fetch play: %.2f s end to end" % (size_mib, elapsed))
    print("  put   %.1f MiB/s vs raw write ceiling %.1f MiB/s (1 MiB chunks): %.0f%% (goal >= 80%%)"
          % (put_rate, raw.write_mib_s, 100 * put_rate / raw.write_mib_s))
    print("  fetch %.1f MiB/s vs raw read ceiling %.1f MiB/s (4 MiB chunks): %.0f%% (goal >= 80%%)"
          % (fetch_rate, raw_read.read_mib_s, 100 * fetch_rate / raw_read.read_mib_s))


def _logged_seconds(output: str, verb: str, size_mib: int) -> float:
    seconds = transfer_seconds(output, verb, size_mib * MiB)
    if seconds is None:
        raise SystemExit("no %s timing for the payload in the -vvvv output" % verb)
    return seconds


def bench_rss(channel_vars: dict[str, t.Any], guest_dir: str, size_mib: int) -> None:
    """Peak RSS of the controller processes during a put + fetch of `size_mib` MiB."""
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-bench-", dir=os.environ.get("BENCH_TMP")) as work:
        src = os.path.join(work, "big.bin")
        with open(src, "wb") as handle:
            block = os.urandom(MiB)
            for _i in range(size_mib):
                handle.write(block)
        playbook = TRANSFER % {"src": src, "dest": guest_dir + "/bench-big.bin", "back": os.path.join(work, "b")}
        elapsed, output = run_play(playbook, {"target": channel_vars}, measure_rss=True)
    peak_kib = int(re.findall(r"PEAK_RSS_KIB (\d+)", output)[-1])
    print("%d MiB put+fetch: %.1f s; controller peak RSS %.0f MiB (ansible-playbook and its workers; goal < 150 MiB)"
          % (size_mib, elapsed, peak_kib / 1024))


def main(argv: t.Sequence[str]) -> int:
    """Run the chosen benchmarks and print their lines."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("host", "vm"), default="host")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--transfer-mib", type=int, default=64)
    parser.add_argument("--rss-mib", type=int, default=1024)
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args(argv)
    if args.target == "host":
        from hostagent import HostAgent

        with HostAgent() as agent:
            channel_vars = {"ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": agent.channel,
                            "ansible_python_interpreter": "/usr/bin/python3"}
            bench_tasks(channel_vars, args.runs)
            bench_transfer(channel_vars, agent.channel, args.transfer_mib, agent.run_dir)
            if not args.skip_rss:
                bench_rss(channel_vars, agent.run_dir, args.rss_mib)
        return 0
    from testvm import TestVM

    with TestVM() as vm:
        channel = "unix:%s" % vm.agent_socket
        channel_vars = {"ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": channel,
                        "ansible_python_interpreter": "/usr/bin/python3"}
        bench_tasks(channel_vars, args.runs)
        bench_transfer(channel_vars, channel, args.transfer_mib, "/run/data")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
