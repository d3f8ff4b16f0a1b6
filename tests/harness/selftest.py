# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end check of the test VM harness: boots the plain VM, then the libvirt one (never both at once).

    python tests/harness/selftest.py [--skip-libvirt] [--keep-daemons]

Prints one JSON report with timings; exit status 1 if any check failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__:
    from . import libvirt_vm, testvm
else:
    import libvirt_vm  # type: ignore
    import testvm  # type: ignore

AgentCall = Callable[..., Any]


class CheckFailed(AssertionError):
    """A harness check did not hold."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def _timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = action()
    return result, round(time.monotonic() - started, 2)


def guest_exec(call: AgentCall, argv: list[str], timeout: float = 60.0) -> dict[str, Any]:
    """Run argv with guest-exec through ``call`` and poll guest-exec-status; output decoded."""
    pid = call("guest-exec", {"path": argv[0], "arg": argv[1:], "capture-output": True})["pid"]
    deadline = time.monotonic() + timeout
    while True:
        status = call("guest-exec-status", {"pid": pid})
        if status.get("exited"):
            break
        _expect(time.monotonic() < deadline, f"{argv} still running after {timeout} s")
        time.sleep(0.05)
    for stream in ("out-data", "err-data"):
        status[stream] = base64.b64decode(status.get(stream, "")).decode(errors="replace")
    return status


def check_guest_state(call: AgentCall) -> dict[str, Any]:
    """Freeze/thaw, vCPU offline/online, exec of sh and python3, user alice; return timings."""
    report: dict[str, Any] = {}
    frozen, report["fsfreeze_freeze_s"] = _timed(lambda: call("guest-fsfreeze-freeze"))
    _expect(frozen == 1, f"guest-fsfreeze-freeze returned {frozen}, expected 1 (the ext4 disk)")
    _expect(call("guest-fsfreeze-status") == "frozen", "fsfreeze-status is not frozen")
    thawed = call("guest-fsfreeze-thaw")
    _expect(thawed == 1 and call("guest-fsfreeze-status") == "thawed", f"thaw returned {thawed}")
    report["fsfreeze"] = {"freeze": frozen, "thaw": thawed}
    _expect(call("guest-set-vcpus", {"vcpus": [{"logical-id": 1, "online": False}]}) == 1, "offline cpu1")
    cpu1 = [cpu for cpu in call("guest-get-vcpus") if cpu["logical-id"] == 1]
    _expect(bool(cpu1) and not cpu1[0]["online"], f"cpu1 still online: {cpu1}")
    _expect(call("guest-set-vcpus", {"vcpus": [{"logical-id": 1, "online": True}]}) == 1, "online cpu1")
    report["set_vcpus"] = "cpu1 offline+online ok"
    shell_argv = ["/bin/sh", "-c", "echo $((6*7)); echo ${HOME-unset}"]
    shell, report["exec_sh_s"] = _timed(lambda: guest_exec(call, shell_argv))
    _expect(shell.get("exitcode") == 0 and shell["out-data"] == "42\nunset\n", f"sh: {shell}")
    python, report["exec_python3_s"] = _timed(
        lambda: guest_exec(call, ["/usr/bin/python3", "-c", "import sys; print(sys.version.split()[0])"]))
    _expect(python.get("exitcode") == 0, f"python3: {python}")
    report["guest_python"] = python["out-data"].strip()
    alice = guest_exec(call, ["/bin/sh", "-c", "getent passwd alice | cut -d: -f6; stat -c %U /home/alice"])
    _expect(alice["out-data"].split() == ["/home/alice", "alice"], f"alice: {alice}")
    tools = guest_exec(call, ["/bin/sh", "-c", "for t in sudo su runuser; do command -v $t || :; done"])
    report["guest_become_tools"] = tools["out-data"].split()
    return report


def _boot_id(call: AgentCall) -> str:
    return guest_exec(call, ["/bin/cat", "/proc/sys/kernel/random/boot_id"])["out-data"].strip()


def check_plain_vm(cache_dir: Path) -> dict[str, Any]:
    """Boot testvm.TestVM and run every check, ending with reboot and powerdown."""
    report: dict[str, Any] = {}
    with testvm.TestVM(cache_dir=cache_dir) as vm:
        report["boot_to_agent_s"] = round(vm.boot_seconds or 0, 2)
        sock = vm.agent_socket

        def call(command: str, arguments: dict[str, Any] | None = None, reply: bool = True) -> Any:
            return testvm._agent_call(sock, command, arguments, timeout=30, reply=reply)

        _result, report["ping_s"] = _timed(lambda: call("guest-ping"))
        report.update(check_guest_state(call))
        call("guest-exec", {"path": "/bin/sh", "arg": ["-c", "kill -9 $PPID"]})
        time.sleep(0.2)
        report["agent_respawn_s"] = round(vm.wait_for_agent(30) + 0.2, 2)
        report["reboot_to_agent_s"] = _reboot(call, vm.wait_for_agent)
        call("guest-shutdown", {"mode": "powerdown"}, reply=False)
        exited, report["powerdown_to_exit_s"] = _timed(lambda: vm.wait_for_exit(60))
        _expect(exited, "QEMU still running 60 s after guest-shutdown powerdown")
    return report


def _reboot(call: AgentCall, wait_for_agent: Callable[[float], float]) -> float:
    before = _boot_id(call)
    started = time.monotonic()
    call("guest-shutdown", {"mode": "reboot"}, reply=False)
    time.sleep(2.0)  # the shim acts 0.5 s after returning; do not catch the old agent
    wait_for_agent(180)
    elapsed = round(time.monotonic() - started, 2)
    _expect(_boot_id(call) != before, "boot_id unchanged after guest-shutdown reboot")
    return elapsed


def check_libvirt_vm(cache_dir: Path, keep_daemons: bool) -> dict[str, Any]:
    """Start libvirtd if needed, boot LibvirtTestVM and run every check through libvirt."""
    report: dict[str, Any] = {}
    daemons, report["libvirtd_ready_s"] = _timed(libvirt_vm.ensure_libvirtd)
    report["daemons_started"] = dict(daemons.started_pids)
    vm = libvirt_vm.LibvirtTestVM(cache_dir=cache_dir)
    try:
        vm.start()
        report["boot_to_agent_s"] = round(vm.boot_seconds or 0, 2)

        def call(command: str, arguments: dict[str, Any] | None = None, reply: bool = True) -> Any:
            return vm.agent_command(command, arguments, timeout=30)

        _result, report["ping_via_virsh_s"] = _timed(lambda: call("guest-ping"))
        report.update(check_guest_state(call))
        report["reboot_to_agent_s"] = _reboot(call, vm.wait_for_agent)
        started = time.monotonic()
        call("guest-shutdown", {"mode": "powerdown"})
        _expect(vm.wait_for_exit(60), "domain still running 60 s after guest-shutdown powerdown")
        report["powerdown_to_exit_s"] = round(time.monotonic() - started, 2)
    finally:
        vm.stop()
        if not keep_daemons:
            libvirt_vm.stop_libvirtd(daemons)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the checks and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--skip-libvirt", action="store_true")
    parser.add_argument("--keep-daemons", action="store_true", help="leave libvirtd/virtlogd running")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-cold-") as cold:
        report["cold_build_s"] = round(testvm.build_assets(cold).build_seconds, 2)
    cache_dir = testvm.default_cache_dir()
    testvm.build_assets(cache_dir)
    report["cached_build_s"] = round(testvm.build_assets(cache_dir).build_seconds, 3)
    failed = False
    checks: list[tuple[str, Callable[[], dict[str, Any]]]] = [("plain", lambda: check_plain_vm(cache_dir))]
    if not args.skip_libvirt:
        checks.append(("libvirt", lambda: check_libvirt_vm(cache_dir, args.keep_daemons)))
    for name, check in checks:
        try:
            report[name] = check()
        except (CheckFailed, testvm.TestVMError) as exc:
            report[name] = {"FAILED": str(exc)}
            failed = True
    print(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
