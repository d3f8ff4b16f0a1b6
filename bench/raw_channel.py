# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The physical ceiling of an agent channel: ping round trip and raw file throughput per chunk size.

Every transfer is checked end to end with sha256. By default it measures a host
qemu-ga (started here, dangerous RPCs blocked) and then the TCG test VM (booted
here); --channel measures any channel string instead (with --domain for libvirt:).

    python bench/raw_channel.py                      # host agent + test VM
    python bench/raw_channel.py --targets host --size-mib 64
    python bench/raw_channel.py --targets libvirt    # the test VM under libvirtd
    python bench/raw_channel.py --channel unix:/run/qemu-server/100.qga --path /tmp/bench.bin
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import time
import typing as t
from dataclasses import dataclass

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "harness"))

from collection_path import add_to_sys_path  # noqa: E402

add_to_sys_path()

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec  # noqa: E402
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient  # noqa: E402
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client  # noqa: E402

MiB = 1024 * 1024
DEFAULT_CHUNKS_KIB = (64, 256, 1024, 4096, 16384)


@dataclass
class Row:
    """One measured line of the table."""

    target: str
    chunk_kib: int
    write_mib_s: float
    read_mib_s: float
    verified: bool


def measure_ping(client: QgaClient, count: int) -> tuple[float, float]:
    """Median and 95th percentile guest-ping round trip, in ms."""
    samples = []
    for _i in range(count):
        started = time.perf_counter()
        client.ping()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


class _Sink(io.RawIOBase):
    """Discards what it is given, hashing it (so the read side measures the channel, not memory)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: t.Any) -> int:
        self.digest.update(data)
        return len(data)


def measure_chunk(client: QgaClient, path: str, payload: bytes, chunk: int, target: str) -> Row:
    """Write then read `payload` at `path` with `chunk`-byte messages; verify sha256 three ways."""
    return measure_ceiling(client, path, payload, chunk, chunk, target)


def measure_ceiling(client: QgaClient, path: str, payload: bytes, write_chunk: int, read_chunk: int,
                    target: str) -> Row:
    """Write `payload` at `path` in `write_chunk`-byte messages, read it back in `read_chunk`-byte ones; verify."""
    expected = hashlib.sha256(payload).hexdigest()
    started = time.perf_counter()
    written = files.write_file(client, path, io.BytesIO(payload), chunk_size=write_chunk)
    write_s = time.perf_counter() - started
    sink = _Sink()
    started = time.perf_counter()
    read = files.read_file(client, path, sink, chunk_size=read_chunk)
    read_s = time.perf_counter() - started
    in_guest = guest_exec.run(client, ["sha256sum", path], timeout=600).stdout.split()[0].decode()
    verified = written.sha256 == read.sha256 == sink.digest.hexdigest() == in_guest == expected
    size_mib = len(payload) / MiB
    effective_kib = min(write_chunk, files.write_chunk_size(client, write_chunk),
                        files.read_chunk_size(client, read_chunk)) // 1024
    return Row(target, effective_kib, size_mib / write_s, size_mib / read_s, verified)


def bench_client(client: QgaClient, target: str, path: str, size_mib: int, chunks_kib: t.Sequence[int],
                 pings: int) -> list[Row]:
    """Measure one channel; print its ping line; return the throughput rows."""
    median_ms, p95_ms = measure_ping(client, pings)
    print("%-8s guest-ping round trip: median %.2f ms, p95 %.2f ms (%d pings)" % (target, median_ms, p95_ms, pings))
    payload = os.urandom(size_mib * MiB)
    rows = []
    for chunk_kib in chunks_kib:
        rows.append(measure_chunk(client, path, payload, chunk_kib * 1024, target))
        print_row(rows[-1])
    guest_exec.run(client, ["rm", "-f", path])
    return rows


def print_header() -> None:
    """Print the table header."""
    print("%-8s %10s %14s %14s %9s" % ("target", "chunk KiB", "write MiB/s", "read MiB/s", "sha256"))


def print_row(row: Row) -> None:
    """Print one table row."""
    verdict = "ok" if row.verified else "MISMATCH"
    print("%-8s %10d %14.1f %14.1f %9s" % (row.target, row.chunk_kib, row.write_mib_s, row.read_mib_s, verdict))


def run_target(target: str, args: argparse.Namespace) -> list[Row]:
    """Start what a target needs, measure it, stop it."""
    if target == "host":
        from hostagent import HostAgent

        with HostAgent() as agent, shared_client(agent.channel, timeout=300) as client:
            path = os.path.join(agent.run_dir, "bench.bin")
            return bench_client(client, "host", path, args.size_mib, args.chunks_kib, args.pings)
    if target == "vm":
        from testvm import TestVM

        with TestVM() as vm, shared_client("unix:%s" % vm.agent_socket, timeout=300) as client:
            return bench_client(client, "vm", "/tmp/bench.bin", args.vm_size_mib, args.chunks_kib, args.pings)
    if target == "libvirt":
        from libvirt_vm import LibvirtTestVM

        with LibvirtTestVM(stop_daemons=True) as vm, \
                shared_client("libvirt:" + vm.uri, domain=vm.domain, timeout=300) as client:
            return bench_client(client, "libvirt", "/tmp/bench.bin", args.vm_size_mib, args.chunks_kib, args.pings)
    raise SystemExit("unknown target %r" % target)


def main(argv: t.Sequence[str]) -> int:
    """Parse arguments, run the benchmark, print the table; exit 1 on any checksum mismatch."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="host,vm", help="comma-separated: host, vm, libvirt (default host,vm)")
    parser.add_argument("--channel", help="measure this channel string instead of starting targets")
    parser.add_argument("--domain", help="libvirt domain for a libvirt: --channel")
    parser.add_argument("--path", default="/tmp/vmguest-qga-bench.bin", help="guest file for --channel")
    parser.add_argument("--size-mib", type=int, default=64, help="bytes moved per chunk size, host (default 64)")
    parser.add_argument("--vm-size-mib", type=int, default=16, help="bytes moved per chunk size, VM (default 16)")
    parser.add_argument("--chunks-kib", type=lambda text: [int(x) for x in text.split(",")],
                        default=list(DEFAULT_CHUNKS_KIB), help="comma-separated chunk sizes in KiB")
    parser.add_argument("--pings", type=int, default=500)
    args = parser.parse_args(argv)
    print_header()
    rows: list[Row] = []
    if args.channel:
        with shared_client(args.channel, domain=args.domain, timeout=300) as client:
            rows += bench_client(client, "channel", args.path, args.size_mib, args.chunks_kib, args.pings)
    else:
        for target in args.targets.split(","):
            rows += run_target(target.strip(), args)
    print("\nbest per target (MiB/s):")
    for target in dict.fromkeys(row.target for row in rows):
        mine = [row for row in rows if row.target == target]
        best_write = max(mine, key=lambda row: row.write_mib_s)
        best_read = max(mine, key=lambda row: row.read_mib_s)
        print("  %-8s write %.1f (chunk %d KiB), read %.1f (chunk %d KiB)" % (
            target, best_write.write_mib_s, best_write.chunk_kib, best_read.read_mib_s, best_read.chunk_kib))
    return 0 if all(row.verified for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
