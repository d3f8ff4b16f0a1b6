# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pytest fixtures: the collection on sys.path, a real host agent, the real test VM."""

from __future__ import annotations

import os
import sys
import typing as t

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(REPO_ROOT, "tests", "harness")


for path in (HARNESS, os.path.join(REPO_ROOT, "tools")):
    if path not in sys.path:
        sys.path.insert(0, path)

from collection_path import add_to_sys_path  # noqa: E402

COLLECTIONS_ROOT = add_to_sys_path()

from hostagent import HostAgent  # noqa: E402


def vm_tests_required() -> bool:
    """CI must run the VM tests; elsewhere they may be skipped with VMGUEST_QGA_SKIP_VM=1."""
    return os.environ.get("VMGUEST_QGA_SKIP_VM") != "1"


@pytest.fixture(scope="session", autouse=True)
def stop_host_executor_workers() -> t.Iterator[None]:
    """Persistent-executor workers started through host agents run on this machine: stop them at the end."""
    from executor_workers import running_workers, stop_workers_started_since

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
    from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient

    with QgaClient(host_agent.channel, timeout=30) as qga:
        yield qga


class VmPool:
    """The real test VMs, one at a time (2 cores): the plain QEMU one or the same VM under libvirtd."""

    def __init__(self) -> None:
        self.plain: t.Any = None
        self.libvirt: t.Any = None

    def plain_vm(self) -> t.Any:
        """The TCG VM started by QEMU directly (agent socket, QMP socket, ext4 disk, user alice)."""
        self._stop_libvirt()
        if self.plain is None:
            from testvm import TestVM

            vm = TestVM()
            vm.start()
            self.plain = vm
        return self.plain

    def libvirt_vm(self) -> t.Any:
        """The same VM as a libvirt domain (libvirtd started if needed, stopped again at the end)."""
        self._stop_plain()
        if self.libvirt is None:
            from libvirt_vm import LibvirtTestVM

            vm = LibvirtTestVM(stop_daemons=True)
            vm.start()
            self.libvirt = vm
        return self.libvirt

    def discard_plain(self) -> None:
        """Stop the plain VM so the next test that wants one boots a fresh one (after a suspend/resume)."""
        self._stop_plain()

    def discard_libvirt(self) -> None:
        """Stop the libvirt domain so the next test that wants one gets a fresh one (after a snapshot)."""
        self._stop_libvirt()

    def _stop_plain(self) -> None:
        vm, self.plain = self.plain, None
        if vm is not None:
            vm.stop()

    def _stop_libvirt(self) -> None:
        vm, self.libvirt = self.libvirt, None
        if vm is not None:
            vm.stop()

    def close(self) -> None:
        """Stop whatever runs."""
        try:
            self._stop_plain()
        finally:
            self._stop_libvirt()


@pytest.fixture(scope="session")
def vm_pool() -> t.Iterator[VmPool]:
    """Owner of the test VMs; always stops them at the end of the session."""
    if not vm_tests_required():
        pytest.skip("VMGUEST_QGA_SKIP_VM=1 was set: the VM tests were asked to be skipped (CI refuses it)")
    pool = VmPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def test_vm(vm_pool: VmPool) -> t.Any:
    """The real TCG test VM (booted once, shared by the tests that use it)."""
    return vm_pool.plain_vm()


@pytest.fixture
def vm_client(test_vm: t.Any) -> t.Iterator[t.Any]:
    """A connected client on the test VM's agent."""
    from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient

    with QgaClient("unix:%s" % test_vm.agent_socket, timeout=60) as qga:
        yield qga


@pytest.fixture
def libvirt_vm(vm_pool: VmPool) -> t.Any:
    """The test VM as a domain of a real libvirtd (qemu:///system)."""
    return vm_pool.libvirt_vm()
