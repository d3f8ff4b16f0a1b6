# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pytest fixtures: the collection on sys.path, a real host agent, the real test VM."""

from __future__ import annotations

import os
import sys
import threading
import time
import typing as t

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(REPO_ROOT, "tests", "harness")


for path in (HARNESS, os.path.join(REPO_ROOT, "tools")):
    if path not in sys.path:
        sys.path.insert(0, path)

from collection_path import add_to_sys_path  # noqa: E402

COLLECTIONS_ROOT = add_to_sys_path()

from executor_workers import (  # noqa: E402  (exports this run's executor directory)
    remove_run_directory,
    running_workers,
    stop_workers_started_since,
)
from hostagent import HostAgent  # noqa: E402


def vm_tests_required() -> bool:
    """CI must run the VM tests; elsewhere they may be skipped with VMGUEST_QGA_SKIP_VM=1."""
    return os.environ.get("VMGUEST_QGA_SKIP_VM") != "1"


@pytest.fixture(scope="session", autouse=True)
def stop_host_executor_workers() -> t.Iterator[None]:
    """Persistent-executor workers started through host agents run on this machine, in this run's own
    executor directory (executor_workers.PARENT_DIR): stop them and remove it at the end."""
    yield
    remove_run_directory()


@pytest.fixture(autouse=True)
def stop_host_executor_workers_of_the_test() -> t.Iterator[None]:
    """The executor is the connection's default: a worker a test's plays started through a host agent is stopped
    after it, so the next test starts from a machine without one, as the tests that count workers expect."""
    before = set(running_workers())
    yield
    stop_workers_started_since(before)


@pytest.fixture(scope="session")
def host_agent() -> t.Iterator[HostAgent]:
    """A real qemu-ga on a unix socket (dangerous RPCs blocked), with serial and tcp channels too."""
    with HostAgent(serial=True, tcp=True) as agent:
        yield agent


@pytest.fixture
def fresh_host_agent() -> t.Iterator[HostAgent]:
    """A host agent of the test's own, for tests that kill or restart it."""
    with HostAgent() as agent:
        yield agent


@pytest.fixture
def client(host_agent: HostAgent) -> t.Iterator[t.Any]:
    """A connected client on the host agent's unix socket."""
    from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

    with shared_client(host_agent.channel, timeout=30) as qga:
        yield qga


class VmPool:
    """The real test VMs, one at a time (2 cores): the plain QEMU one or the same VM under libvirtd.

    The run is ordered so each kind boots once (see pytest_collection_modifyitems); the first plain VM
    may be booting in the background while the host-agent tests run (prefetch_plain).
    """

    def __init__(self) -> None:
        self.plain: t.Any = None
        self.libvirt: t.Any = None
        self.boots: list[tuple[str, float]] = []  # (kind, seconds to a ready agent) per VM started
        self._prefetch: threading.Thread | None = None
        self._prefetch_error: BaseException | None = None
        self._on_plain_stop: list[t.Callable[[], None]] = []

    def prefetch_plain(self) -> None:
        """Start booting the plain VM in the background; plain_vm() waits for it."""
        if self.plain is None and self._prefetch is None:
            self._prefetch = threading.Thread(target=self._boot_plain_in_background, name="vm-prefetch", daemon=True)
            self._prefetch.start()

    def _boot_plain_in_background(self) -> None:
        try:
            self.plain = self._boot_plain()
        except BaseException as exc:  # handed to the first test that wants the VM
            self._prefetch_error = exc

    def _join_prefetch(self) -> None:
        thread, self._prefetch = self._prefetch, None
        if thread is not None:
            thread.join()
        error, self._prefetch_error = self._prefetch_error, None
        if error is not None:
            raise error

    def _boot_plain(self) -> t.Any:
        from testvm import TestVM

        started = time.monotonic()
        vm = TestVM()
        vm.start()
        self.boots.append(("plain", time.monotonic() - started))
        return vm

    def plain_vm(self) -> t.Any:
        """The TCG VM started by QEMU directly (agent socket, QMP socket, ext4 disk, user alice)."""
        self._join_prefetch()
        self._stop_libvirt()
        if self.plain is None:
            self.plain = self._boot_plain()
        return self.plain

    def libvirt_vm(self) -> t.Any:
        """The same VM as a libvirt domain (libvirtd started if needed, stopped again at the end)."""
        self._join_prefetch()
        self._stop_plain()
        if self.libvirt is None:
            from libvirt_vm import LibvirtTestVM

            started = time.monotonic()
            vm = LibvirtTestVM(stop_daemons=True)
            vm.start()
            self.boots.append(("libvirt", time.monotonic() - started))
            self.libvirt = vm
        return self.libvirt

    def on_plain_stop(self, callback: t.Callable[[], None]) -> None:
        """Call `callback` once the current plain VM has stopped (files its disk still uses, say)."""
        self._on_plain_stop.append(callback)

    def discard_plain(self) -> None:
        """Stop the plain VM so the next test that wants one boots a fresh one (after a suspend/resume)."""
        self._stop_plain()

    def discard_libvirt(self) -> None:
        """Stop the libvirt domain so the next test that wants one gets a fresh one (after a snapshot)."""
        self._stop_libvirt()

    def _stop_plain(self) -> None:
        vm, self.plain = self.plain, None
        try:
            if vm is not None:
                vm.stop()
        finally:
            callbacks, self._on_plain_stop = self._on_plain_stop, []
            for callback in callbacks:
                callback()

    def _stop_libvirt(self) -> None:
        vm, self.libvirt = self.libvirt, None
        if vm is not None:
            vm.stop()

    def close(self) -> None:
        """Stop whatever runs."""
        try:
            self._join_prefetch()
        finally:
            try:
                self._stop_plain()
            finally:
                self._stop_libvirt()


# The session's pool (it boots nothing until asked): the run's ordering starts the first boot early.
POOL = VmPool()


@pytest.fixture(scope="session")
def vm_pool() -> t.Iterator[VmPool]:
    """Owner of the test VMs; always stops them at the end of the session."""
    if not vm_tests_required():
        pytest.skip("VMGUEST_QGA_SKIP_VM=1 was set: the VM tests were asked to be skipped (CI refuses it)")
    try:
        yield POOL
    finally:
        POOL.close()


@pytest.fixture
def test_vm(vm_pool: VmPool) -> t.Any:
    """The real TCG test VM (booted once, shared by the tests that use it)."""
    return vm_pool.plain_vm()


@pytest.fixture
def vm_client(test_vm: t.Any) -> t.Iterator[t.Any]:
    """A connected client on the test VM's agent."""
    from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

    with shared_client("unix:%s" % test_vm.agent_socket, timeout=60) as qga:
        yield qga


@pytest.fixture
def libvirt_vm(vm_pool: VmPool) -> t.Any:
    """The test VM as a domain of a real libvirtd (qemu:///system)."""
    return vm_pool.libvirt_vm()


# ---------------------------------------------------------------------------- run order and report

VM_GROUPS = ("no VM", "plain VM", "libvirt VM")
# Tests that leave the VM changed run last in their VM's group, in this order: a reboot keeps the VM,
# snapshots leave its disk on overlays, a suspend/resume leaves it unusable (the pool boots a new one),
# a powerdown stops it.
SPOIL_ORDER = ("reboot", "snapshot", "suspend", "powerdown")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--no-vm", action="store_true", help="deselect every test that needs the test VM (quick tier)")
    parser.addoption("--vm-only", action="store_true", help="deselect every test that needs no VM (the VM part of CI)")


def vm_group(item: pytest.Item) -> int:
    """0: needs no VM, 1: the plain VM, 2: the libvirt domain (from the fixtures it uses or its vm_kind mark)."""
    names = set(getattr(item, "fixturenames", ()))
    marker = item.get_closest_marker("vm_kind")
    kinds = {marker.args[0]} if marker else set()
    if names & {"test_vm", "vm_client"}:
        kinds.add("plain")
    if "libvirt_vm" in names:
        kinds.add("libvirt")
    if not kinds and "vm_pool" in names:
        raise pytest.UsageError("%s uses vm_pool directly: mark it @pytest.mark.vm_kind('plain' or 'libvirt')" % (
            item.nodeid))
    if len(kinds) > 1 or not kinds <= {"plain", "libvirt"}:
        raise pytest.UsageError("%s: one VM kind per test, plain or libvirt (got %s)" % (item.nodeid, sorted(kinds)))
    return 2 if "libvirt" in kinds else 1 if kinds else 0


def spoil_rank(item: pytest.Item) -> int:
    marker = item.get_closest_marker("spoils_vm")
    if marker is None:
        return 0
    if marker.args[0] not in SPOIL_ORDER:
        raise pytest.UsageError("%s: spoils_vm(%r) is none of %s" % (item.nodeid, marker.args[0], SPOIL_ORDER))
    return 1 + SPOIL_ORDER.index(marker.args[0])


@pytest.hookimpl(trylast=True)  # after pytest groups items by higher-scoped fixture parameters
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Host-agent tests first (the plain VM boots meanwhile), then every plain-VM test, then every libvirt
    test, each VM group ending with the tests that spoil its VM: each kind boots once. --no-vm and --vm-only
    keep one side (scripts/test.sh runs the side without a VM on both cores with pytest-xdist)."""
    groups = {id(item): vm_group(item) for item in items}
    GROUP_OF.update((item.nodeid, groups[id(item)]) for item in items)
    no_vm, vm_only = config.getoption("no_vm"), config.getoption("vm_only")
    if no_vm or vm_only:
        deselected = [item for item in items if bool(groups[id(item)]) == bool(no_vm)]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if bool(groups[id(item)]) != bool(no_vm)]
    order = {id(item): (groups[id(item)], spoil_rank(item), index) for index, item in enumerate(items)}
    items.sort(key=lambda item: order[id(item)])
    if vm_tests_required() and any(groups[id(item)] == 1 for item in items) and not config.getoption("collectonly"):
        config.stash[PREFETCH_PENDING] = True


PREFETCH_PENDING = pytest.StashKey[bool]()
# Seconds spent (setup + call + teardown) per VM group and per test file, for the summary.
GROUP_SECONDS: dict[int, float] = {}
FILE_SECONDS: dict[str, float] = {}
GROUP_OF: dict[str, int] = {}


def pytest_runtestloop(session: pytest.Session) -> None:
    """Start the first plain VM's boot once the run begins (after collection, so --collect-only boots nothing)."""
    if session.config.stash.get(PREFETCH_PENDING, False):
        POOL.prefetch_plain()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    group = GROUP_OF.get(report.nodeid, 0)
    GROUP_SECONDS[group] = GROUP_SECONDS.get(group, 0.0) + report.duration
    path = report.nodeid.split("::", 1)[0]
    FILE_SECONDS[path] = FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    POOL.close()  # a prefetched VM no test asked for (all deselected or skipped) is stopped too


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    """Where the minutes went: per group and per file, and how many times a VM booted."""
    write = terminalreporter.write_line
    if GROUP_SECONDS:
        terminalreporter.section("time per group and per test file (setup + call + teardown)")
        for group, seconds in sorted(GROUP_SECONDS.items()):
            write("%8.1f s  %s" % (seconds, VM_GROUPS[group]))
        write("")
        for path, seconds in sorted(FILE_SECONDS.items(), key=lambda pair: -pair[1]):
            write("%8.1f s  %s" % (seconds, path))
    boots = POOL.boots
    write("VM boots: %d (%s)" % (len(boots), ", ".join("%s %.0f s" % boot for boot in boots) or "none"))
