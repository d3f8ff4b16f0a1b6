# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.agents: the socket_dir name and the warning for agents that get one host name.

Through ansible-inventory with real agents: tests/inventory/test_inventory_naming.py.
"""

from __future__ import annotations

from ansible_collections.vmguest.qga.plugins.inventory.agents import name_clash_message, socket_dir
from ansible_collections.vmguest.qga.plugins.plugin_utils.inventory_discovery import AgentRecord, socket_record


def test_socket_dir_is_the_directory_holding_the_socket() -> None:
    assert socket_dir(socket_record("/run/vms/web1/qga.sock")) == "web1"
    assert socket_dir(socket_record("/run/vms//db1/./qga.sock")) == "db1"
    assert socket_dir(socket_record("/qga.sock")) is None
    assert socket_dir(AgentRecord(channel="libvirt:qemu:///system", source="libvirt", vm_name="web1")) is None


def test_a_clash_that_socket_dir_cannot_solve_suggests_another_preference() -> None:
    holders = [socket_record("/srv/a/web1/qga.sock"), socket_record("/srv/b/web1/qga.sock")]
    message = name_clash_message("web1", "socket_dir", holders, "lab.qga_agents.yml")
    assert "unix:/srv/a/web1/qga.sock (kept), unix:/srv/b/web1/qga.sock (left out)" in message
    assert "set hostnames in lab.qga_agents.yml: put a preference that differs for them first" in message
    same_dir = [socket_record("/run/vms/web1/qga.sock"), socket_record("/run/vms/web1/qga2.sock")]
    assert "[socket_dir]" not in name_clash_message("qga", "socket_name", same_dir, "lab.qga_agents.yml")
