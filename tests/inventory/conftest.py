# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the vmguest.qga.agents inventory tests."""

from __future__ import annotations

import os
import shutil
import tempfile
import typing as t

import pytest
from hostagent import HostAgent
from inventory_helpers import AgentDir, NotAnAgent, link_agent, stale_socket


@pytest.fixture(scope="module")
def agent_dir() -> t.Iterator[AgentDir]:
    """web1.sock, db1.sock (real host agents), stale.sock, other.sock (not an agent), notes.sock (a file)."""
    directory = tempfile.mkdtemp(prefix="vmguest-qga-inv-")
    not_an_agent: NotAnAgent | None = None
    try:
        with HostAgent() as web1, HostAgent() as db1:
            link_agent(directory, "web1.sock", web1)
            link_agent(directory, "db1.sock", db1)
            stale_socket(os.path.join(directory, "stale.sock"))
            not_an_agent = NotAnAgent(os.path.join(directory, "other.sock"))
            with open(os.path.join(directory, "notes.sock"), "w") as handle:
                handle.write("not a socket\n")
            yield AgentDir(directory, {"web1": web1, "db1": db1})
    finally:
        if not_an_agent is not None:
            not_an_agent.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def work_dir() -> t.Iterator[str]:
    """A private temp dir for config files and caches."""
    directory = tempfile.mkdtemp(prefix="vmguest-qga-inv-work-")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
