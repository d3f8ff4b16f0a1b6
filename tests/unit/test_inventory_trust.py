# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.agents: which host variables are trusted for templating (plain) and which are unsafe.

Through ansible-inventory --list and a play with a hostile agent: tests/inventory/test_inventory_agents.py.
"""

from __future__ import annotations

import pytest

try:
    from ansible.template import is_trusted_as_template
except ImportError:  # ansible-core < 2.19 has no trust tags: plain strings are trusted, wrap_var marks unsafe
    pytest.skip("template trust tags need ansible-core 2.19 or later", allow_module_level=True)

from ansible_collections.vmguest.qga.plugins.inventory.agents import host_variables
from ansible_collections.vmguest.qga.plugins.plugin_utils.inventory_discovery import AgentRecord, socket_record


def test_this_machines_values_are_trusted_and_the_guests_are_not() -> None:
    record = socket_record("/run/vms/web1/qga.sock")
    record.agent_version = "9.2.0"
    record.enabled_commands = ["guest-exec"]
    record.osinfo = {"id": "debian"}
    record.hostname = "web1"
    host_vars = host_variables(record)
    for key in ("ansible_connection", "ansible_qga_channel", "qga_channel", "qga_source", "qga_socket_path"):
        assert is_trusted_as_template(host_vars[key]), key
    for value in (host_vars["qga_agent_version"], host_vars["qga_enabled_commands"][0],
                  host_vars["qga_osinfo"]["id"], host_vars["qga_hostname"]):
        assert not is_trusted_as_template(value), value


def test_libvirt_names_are_trusted_unless_they_hold_template_markup() -> None:
    plain = host_variables(AgentRecord(channel="libvirt:qemu:///system", source="libvirt", vm_name="web1",
                                       libvirt_uri="qemu:///system", error="Connection refused"))
    assert is_trusted_as_template(plain["ansible_qga_domain"]) and is_trusted_as_template(plain["qga_libvirt_uri"])
    assert not is_trusted_as_template(plain["qga_probe_error"])  # the probe error may quote the guest
    for name in ("web{{ 1 }}", "web{% raw %}", "web{# x #}", "#jinja2:variable_start_string:'[['\nweb"):
        host_vars = host_variables(AgentRecord(channel="libvirt:qemu:///system", source="libvirt", vm_name=name))
        assert not is_trusted_as_template(host_vars["ansible_qga_domain"]), name
        assert not is_trusted_as_template(host_vars["qga_vm_name"]), name
