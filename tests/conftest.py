# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pytest fixtures: the collection on sys.path, a real host agent, the real test VM."""

from __future__ import annotations

import os
import sys
import tempfile
import typing as t

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(REPO_ROOT, "tests", "harness")


def _collection_root() -> str:
    """A directory holding ansible_collections/vmguest/qga -> this checkout."""
    parts = REPO_ROOT.split(os.sep)
    if parts[-3:-1] == ["ansible_collections", "vmguest"] and parts[-1] == "qga":
        return os.sep.join(parts[:-3])
    root = os.path.join(tempfile.gettempdir(), "vmguest-qga-collections-%d" % os.getuid())
    link = os.path.join(root, "ansible_collections", "vmguest", "qga")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.realpath(link) != REPO_ROOT:
        tmp_link = "%s.%d" % (link, os.getpid())
        os.symlink(REPO_ROOT, tmp_link)
        os.replace(tmp_link, link)
    return root


COLLECTIONS_ROOT = _collection_root()
for path in (COLLECTIONS_ROOT, HARNESS, os.path.join(REPO_ROOT, "tools")):
    if path not in sys.path:
        sys.path.insert(0, path)

from hostagent import HostAgent  # noqa: E402


def vm_tests_required() -> bool:
    """CI must run the VM tests; elsewhere they may be skipped with VMGUEST_QGA_SKIP_VM=1."""
    return os.environ.get("VMGUEST_QGA_SKIP_VM") != "1"


@pytest.fixture(scope="session")
def host_agent() -> t.Iterator[HostAgent]:
    """A real qemu-ga on a unix socket (dangerous RPCs blocked), with serial and tcp channels too."""
    with HostAgent(serial=True, tcp=True) as agent:
        yield agent


@pytest.fixture()
def fresh_host_agent() -> t.Iterator[HostAgent]:
    """A host agent of the test's own, for tests that kill or restart it."""
    with HostAgent() as agent:
        yield agent


@pytest.fixture()
def client(host_agent: HostAgent) -> t.Iterator[t.Any]:
    """A connected client on the host agent's unix socket."""
    from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient

    with QgaClient(host_agent.channel, timeout=30) as qga:
        yield qga


@pytest.fixture(scope="session")
def test_vm() -> t.Iterator[t.Any]:
    """The real TCG test VM (agent socket, QMP socket, ext4 disk at /run/data, user alice)."""
    if not vm_tests_required():
        pytest.skip("VMGUEST_QGA_SKIP_VM=1 was set: the VM tests were asked to be skipped (CI never sets it)")
    from testvm import TestVM

    vm = TestVM()
    vm.start()
    try:
        yield vm
    finally:
        vm.stop()


@pytest.fixture()
def vm_client(test_vm: t.Any) -> t.Iterator[t.Any]:
    """A connected client on the test VM's agent."""
    from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient

    with QgaClient("unix:" + test_vm.agent_socket, timeout=60) as qga:
        yield qga
