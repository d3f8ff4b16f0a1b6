# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: agents
short_description: Discover VMs by their QEMU guest agent channels
description:
  - Finds guest agent channels on this machine, asks each agent who it is and adds one host per
    answering agent, ready for the P(vmguest.qga.qga#connection) connection, which it sets with
    C(ansible_connection), C(ansible_qga_channel) and, for libvirt, C(ansible_qga_domain).
  - Two sources, used together. Socket globs (O(sockets)) find the agent sockets of libvirt
    (C(/var/lib/libvirt/qemu/channel/target/domain-N-NAME/org.qemu.guest_agent.0)), Proxmox
    (C(/run/qemu-server/VMID.qga)) or any QEMU started with a unix-socket agent chardev.
    libvirt URIs (O(libvirt_uris)) list the running domains that have an agent channel; those
    hosts reach their agent through libvirt's API (C(libvirt:URI) channel).
  - Agents are probed in parallel with a short timeout. One bad candidate (a stale socket, a socket
    nothing answers on, something that is not an agent) never fails the inventory; it is skipped
    and the reason shown with C(-v), or added to O(unreachable_group) when O(unreachable=group).
  - Host variables carry what the agent said, under the C(qga_) prefix (see the notes), so
    O(compose), O(groups) and O(keyed_groups) can build groups from the guest OS and hostname.
  - Uses a YAML configuration file whose name ends in C(qga_agents.yml) or C(qga_agents.yaml)
    (for example C(hypervisor.qga_agents.yml)), or is C(vmguest.qga.agents.yml).
author:
  - vmguest.qga contributors (@vmguest)
version_added: 0.1.0
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin; it marks the file as this plugin's configuration.
    type: string
    required: true
    choices: [vmguest.qga.agents]
  sockets:
    description:
      - Paths or globs of agent unix sockets; each may start with V(unix:).
      - The defaults cover libvirt's and Proxmox's agent sockets. Set V([]) to use libvirt URIs only.
      - libvirtd keeps the agent socket of each of its domains connected for itself, so agents behind
        those sockets usually do not answer (the reason says so); use O(libvirt_uris) for libvirt domains.
        A socket of a domain also found through O(libvirt_uris) is not probed at all.
      - Matches that are not sockets are skipped (shown with C(-vvv)).
    type: list
    elements: string
    default:
      - /var/lib/libvirt/qemu/channel/target/*/org.qemu.guest_agent.0
      - /run/qemu-server/*.qga
  libvirt_uris:
    description:
      - libvirt connection URIs (for example V(qemu:///system), V(qemu+ssh://root@hv1/system)) whose running
        domains with an agent channel become hosts. Their agents are reached through libvirt.
      - Needs libvirt-python on the controller; the inventory fails with a message saying so when it is missing.
      - A URI that cannot be opened gives a warning; the other sources still count.
    type: list
    elements: string
    default: []
  probe:
    description:
      - What to ask each agent before adding its host.
      - V(facts) runs C(guest-info), C(guest-get-osinfo) and C(guest-get-host-name) (commands the agent disabled
        are left out) and fills the C(qga_*) facts.
      - V(ping) only checks that the agent answers (C(guest-ping)).
      - V(none) adds every socket found and every libvirt domain whose agent channel is connected without
        talking to any agent (fast, but a dead agent is only noticed by the play).
    type: string
    choices: [facts, ping, none]
    default: facts
  probe_timeout:
    description:
      - Seconds to wait for one agent (to open its channel, answer the sync and each command).
      - Also the longest wait for a channel that a running play holds.
    type: float
    default: 5
  probe_workers:
    description: How many agents are probed at the same time.
    type: int
    default: 8
  unreachable:
    description:
      - What to do with a channel whose agent does not answer.
      - V(skip) leaves it out (the reason is shown with C(-v)).
      - V(group) adds it to O(unreachable_group) with the reason in C(qga_probe_error); use it to see broken
        agents in C(ansible-inventory --graph), or to end the play early for them.
    type: string
    choices: [skip, group]
    default: skip
  unreachable_group:
    description: The group of unreachable agents when O(unreachable=group).
    type: string
    default: qga_unreachable
  hostnames:
    description:
      - How hosts are named, in order of preference; the first that gives a name for an agent wins.
      - V(vm_name) is the libvirt domain name (from libvirt's API, or from the socket's directory, where libvirt
        cuts it to 20 characters) or the Proxmox VM name (C(name:) in O(proxmox_config_dir)/VMID.conf).
      - V(vmid) is the Proxmox VMID of a C(VMID.qga) socket.
      - V(guest_hostname) is what C(guest-get-host-name) returns (needs O(probe=facts)). Several guests may
        share one (for example C(localhost)).
      - V(socket_dir) is the name of the directory that holds the socket (V(web1) for C(/run/vms/web1/qga.sock)),
        for one directory per VM where every socket has the same file name.
      - V(socket_name) is the socket's file name without its extension (V(web1) for C(web1.sock)).
      - V(channel) is the channel string itself; it always gives a name.
      - When no preference gives a name, the channel is used. Two agents with the same name keep the first
        found (libvirt domains in URI order, then sockets in path order); a warning names both channels and
        this option.
    type: list
    elements: string
    choices: [vm_name, vmid, guest_hostname, socket_dir, socket_name, channel]
    default: [vm_name, vmid, socket_name]
  proxmox_config_dir:
    description: Where Proxmox keeps this node's VM configurations (C(VMID.conf)), read for V(vm_name).
    type: path
    default: /etc/pve/qemu-server
notes:
  - "Host variables: C(ansible_connection=vmguest.qga.qga), C(ansible_qga_channel), C(ansible_qga_domain)
    (libvirt), and C(qga_channel), C(qga_source) (V(socket) or V(libvirt)), C(qga_vm_name), C(qga_vmid),
    C(qga_socket_path), C(qga_libvirt_uri) when known. With O(probe=facts) also C(qga_agent_version),
    C(qga_enabled_commands) (list), C(qga_osinfo) (C(guest-get-osinfo) as the agent returns it, so
    C(qga_osinfo.id) or C(qga_osinfo['version-id'])) and C(qga_hostname), each when the agent allows it."
  - What the guest reports (C(qga_agent_version), C(qga_enabled_commands), C(qga_osinfo), C(qga_hostname),
    C(qga_probe_error)) is marked unsafe (never templated), so a guest cannot inject templates into the controller
    through its hostname or OS release data. The other variables come from this machine (the configuration, socket
    paths, libvirt and Proxmox names) and are plain, except one that contains template markup, which stays unsafe.
    O(compose) results follow ansible-core (a variable passed through keeps its marking, a new string is unsafe).
  - Reaching agent sockets usually needs root (or the hypervisor's user).
seealso:
  - plugin: vmguest.qga.qga
    plugin_type: connection
  - name: The inventory guide of this collection
    description: docs/inventory.md in the collection.
    link: https://github.com/vmguest/qga/blob/main/docs/inventory.md
"""

EXAMPLES = r"""
---
# hypervisor.qga_agents.yml -- libvirt and Proxmox sockets on this machine (the defaults)
plugin: vmguest.qga.agents

---
# libvirt.qga_agents.yml -- domains of two libvirt hosts, grouped by guest OS
plugin: vmguest.qga.agents
sockets: []
libvirt_uris:
  - qemu:///system
  - qemu+ssh://root@hv2/system
keyed_groups:
  - key: qga_osinfo.id
    prefix: os
groups:
  can_exec: "'guest-exec' in qga_enabled_commands"
compose:
  guest_kernel: qga_osinfo['kernel-release']

---
# lab.qga_agents.yml -- QEMU VMs started with -chardev socket,path=/run/vms/NAME/qga.sock,server=on,wait=off
# (one directory per VM): hosts are named after the directory, NAME
plugin: vmguest.qga.agents
sockets:
  - /run/vms/*/qga.sock
hostnames: [socket_dir]
compose:
  qmp_socket: qga_socket_path | dirname ~ '/qmp.sock'
unreachable: group
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/qga_agents
cache_timeout: 300
"""

import os
import re
import typing as t

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 trusts every plain string an inventory plugin sets

    def trust_as_template(value: str) -> str:
        """The value as it is: already trusted."""
        return value

from ansible_collections.vmguest.qga.plugins.plugin_utils.inventory_discovery import (
    AgentRecord,
    LibvirtMissing,
    ProbeSettings,
    held_by_libvirtd,
    import_libvirt,
    probe_all,
    scan_libvirt,
    scan_sockets,
    served_by_libvirt,
)

display = Display()

CONFIG_SUFFIXES = ("qga_agents.yml", "qga_agents.yaml")
CONFIG_NAMES = ("vmguest.qga.agents.yml", "vmguest.qga.agents.yaml")
CONNECTION = "vmguest.qga.qga"
# A guest chooses its hostname: only plain names become inventory names.
_SAFE_HOST_NAME = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")
# What makes Jinja2 see a template in a string (the default delimiters, or an override header).
_TEMPLATE_MARKERS = re.compile(r"^#jinja2:|\{\{|\{%|\{#")


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Hosts from the guest agent channels found on this machine and behind libvirt URIs."""

    NAME = "vmguest.qga.agents"
    # The config file being parsed, for messages.
    _config_path = ""

    def verify_file(self, path: str) -> bool:
        """Accept *qga_agents.yml/.yaml and vmguest.qga.agents.yml/.yaml files."""
        if not super().verify_file(path):
            return False
        name = os.path.basename(path)
        return name.endswith(CONFIG_SUFFIXES) or name in CONFIG_NAMES

    def parse(self, inventory: t.Any, loader: t.Any, path: str, cache: bool = True) -> None:
        """Discover (or read from the cache) the agents, then add their hosts and constructed groups."""
        super().parse(inventory, loader, path, cache)
        self._config_path = path
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = bool(self.get_option("cache"))
        records: list[AgentRecord] | None = None
        if use_cache and cache:
            records = self._cached_records(cache_key)
        if records is None:
            records = self._discover()
            if use_cache:
                self._cache[cache_key] = {"records": [record.to_dict() for record in records]}
        self._populate(records)

    # -- discovery ---------------------------------------------------------

    def _cached_records(self, cache_key: str) -> list[AgentRecord] | None:
        try:
            cached = self._cache[cache_key]
        except KeyError:
            return None
        if not isinstance(cached, dict) or not isinstance(cached.get("records"), list):
            return None
        display.vvv("vmguest.qga.agents: %d agent channel(s) from the cache" % len(cached["records"]))
        return [AgentRecord.from_dict(entry) for entry in cached["records"]]

    def _discover(self) -> list[AgentRecord]:
        settings = self._probe_settings()
        libvirt_records = self._scan_libvirt_uris()
        libvirt_names = {record.vm_name for record in libvirt_records if record.vm_name}
        scan = scan_sockets(self.get_option("sockets") or [], self.get_option("proxmox_config_dir"))
        for path, reason in scan.rejected.items():
            display.vvv("vmguest.qga.agents: skipping %s: %s" % (path, reason))
        socket_records = []
        for record in scan.records:
            if served_by_libvirt(record, libvirt_names):
                display.vvv("vmguest.qga.agents: skipping %s: domain %s is listed through libvirt_uris"
                            % (record.socket_path, record.vm_name))
            else:
                socket_records.append(record)
        records = libvirt_records + socket_records
        display.vvv("vmguest.qga.agents: probing %d agent channel(s) (%s, %.1f s timeout, %d at once)"
                    % (len(records), settings.mode, settings.timeout_s, settings.workers))
        probe_all(records, settings)
        for record in records:
            if record.reachable:
                display.vvv("vmguest.qga.agents: %s answered (qemu-ga %s)"
                            % (_where(record), record.agent_version or "?"))
        return records

    def _probe_settings(self) -> ProbeSettings:
        timeout_s = float(self.get_option("probe_timeout"))
        workers = int(self.get_option("probe_workers"))
        if timeout_s <= 0:
            raise AnsibleParserError("vmguest.qga.agents: probe_timeout must be more than 0, got %s" % timeout_s)
        if workers < 1:
            raise AnsibleParserError("vmguest.qga.agents: probe_workers must be at least 1, got %s" % workers)
        return ProbeSettings(mode=self.get_option("probe"), timeout_s=timeout_s, workers=workers)

    def _scan_libvirt_uris(self) -> list[AgentRecord]:
        uris = self.get_option("libvirt_uris") or []
        if not uris:
            return []
        try:
            libvirt = import_libvirt()
        except LibvirtMissing as exc:
            raise AnsibleParserError("vmguest.qga.agents: %s" % exc) from None
        records: list[AgentRecord] = []
        for uri in uris:
            try:
                found = scan_libvirt(uri)
            except libvirt.libvirtError as exc:
                display.warning("vmguest.qga.agents: cannot list the domains of %s: %s"
                                % (uri, exc.get_error_message() or exc))
                continue
            display.vvv("vmguest.qga.agents: %s has %d running domain(s) with an agent channel" % (uri, len(found)))
            records.extend(found)
        return records

    # -- hosts -------------------------------------------------------------

    def _populate(self, records: list[AgentRecord]) -> None:
        keep_unreachable = self.get_option("unreachable") == "group"
        # Host name -> the agents that got it, the one kept first; and which hostnames preference gave it.
        named: dict[str, list[AgentRecord]] = {}
        named_by: dict[str, str] = {}
        self._warn_of_libvirt_sockets(records)
        for record in records:
            if not record.reachable and not keep_unreachable:
                display.v("vmguest.qga.agents: skipping %s: %s" % (_where(record), record.error))
                continue
            name, preference = self._host_name(record)
            if name in named:
                named[name].append(record)
                continue
            named[name] = [record]
            named_by[name] = preference
            self._add_host(name, record)
        for name, holders in named.items():
            if len(holders) > 1:
                display.warning(name_clash_message(name, named_by[name], holders, self._config_path))

    def _warn_of_libvirt_sockets(self, records: list[AgentRecord]) -> None:
        """Say at default verbosity why libvirt's domains are missing, and the fix (the default config finds them)."""
        held = [record for record in records if not record.reachable and held_by_libvirtd(record)]
        if held:
            display.warning(
                "vmguest.qga.agents: %d agent socket(s) of libvirt domains did not answer: libvirtd keeps them "
                "connected for itself. Add libvirt_uris: ['qemu:///system'] to %s to list those domains "
                "through libvirt (they are then reached with the libvirt: channel)"
                % (len(held), self._config_path)
            )

    def _host_name(self, record: AgentRecord) -> tuple[str, str]:
        """The host name of an agent and the hostnames preference that gave it."""
        candidates = {
            "vm_name": record.vm_name,
            "vmid": record.vmid,
            "guest_hostname": record.hostname,
            "socket_dir": socket_dir(record),
            "socket_name": _socket_name(record),
            "channel": record.channel,
        }
        for preference in self.get_option("hostnames") or []:
            name = candidates.get(preference)
            if name and _SAFE_HOST_NAME.match(name):
                return name, preference
            if name:
                display.vvv("vmguest.qga.agents: %s: %s %r is not a usable host name"
                            % (_where(record), preference, name))
        return record.channel, "channel"

    def _add_host(self, name: str, record: AgentRecord) -> None:
        host_vars = host_variables(record)
        self.inventory.add_host(name)
        if not record.reachable:
            group = self.inventory.add_group(self._sanitize_group_name(self.get_option("unreachable_group")))
            self.inventory.add_child(group, name)
        for key, value in host_vars.items():
            self.inventory.set_variable(name, key, value)
        strict = self.get_option("strict")
        # Compose sees what groups and keyed_groups see: the host's variables with inventory_hostname.
        self._set_composite_vars(self.get_option("compose"), self.inventory.get_host(name).get_vars(), name,
                                 strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), host_vars, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, name, strict=strict)


def host_variables(record: AgentRecord) -> dict[str, t.Any]:
    """The host variables of one agent: what the guest reports marked unsafe, what this machine says plain."""
    from_this_machine: dict[str, str | None] = {
        "ansible_connection": CONNECTION,
        "ansible_qga_channel": record.channel,
        "qga_channel": record.channel,
        "qga_source": record.source,
        "ansible_qga_domain": record.vm_name if record.source == "libvirt" else None,
        "qga_vm_name": record.vm_name,
        "qga_vmid": record.vmid,
        "qga_socket_path": record.socket_path,
        "qga_libvirt_uri": record.libvirt_uri,
    }
    # A hostile guest controls all of these; the probe error may quote what it sent.
    from_the_guest: dict[str, t.Any] = {
        "qga_agent_version": record.agent_version,
        "qga_enabled_commands": record.enabled_commands or None,
        "qga_osinfo": record.osinfo,
        "qga_hostname": record.hostname,
        "qga_probe_error": record.error,
    }
    host_vars = {key: configured_value(value) for key, value in from_this_machine.items() if value is not None}
    host_vars.update((key, wrap_var(value)) for key, value in from_the_guest.items() if value is not None)
    return host_vars


def configured_value(value: str) -> str:
    """A value from this machine (the configuration, paths, hypervisor names): trusted like any inventory value.

    A path or a name is never meant as a template, so one that would template stays unsafe.
    """
    if _TEMPLATE_MARKERS.search(value):
        return t.cast(str, wrap_var(value))
    return trust_as_template(value)


def name_clash_message(name: str, preference: str, holders: t.Sequence[AgentRecord], config_path: str) -> str:
    """The warning for agents that all got one host name: which were left out, and how to name them apart."""
    channels = ", ".join([_where(holders[0]) + " (kept)"] + [_where(record) + " (left out)" for record in holders[1:]])
    dir_names = [name for name in (socket_dir(record) for record in holders) if name]
    if preference != "socket_dir" and len(set(dir_names)) == len(holders):
        fix = "hostnames: [socket_dir] names each socket after its directory (%s)" % ", ".join(dir_names)
    else:
        fix = "put a preference that differs for them first (vm_name, vmid, socket_dir, socket_name, channel)"
    return ("vmguest.qga.agents: %d agents get the host name %s (from hostnames: %s) and only the first is kept: %s. "
            "To name them apart, set hostnames in %s: %s"
            % (len(holders), name, preference, channels, config_path or "the inventory configuration", fix))


def socket_dir(record: AgentRecord) -> str | None:
    """The name of the directory that holds the agent's socket (web1 for /run/vms/web1/qga.sock)."""
    if not record.socket_path:
        return None
    return os.path.basename(os.path.dirname(os.path.normpath(record.socket_path))) or None


def _socket_name(record: AgentRecord) -> str | None:
    if not record.socket_path:
        return None
    return os.path.splitext(os.path.basename(record.socket_path))[0] or None


def _where(record: AgentRecord) -> str:
    if record.source == "libvirt":
        return "domain %s at %s" % (record.vm_name, record.libvirt_uri)
    return record.channel
