# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Discovery of guest agent channels for the vmguest.qga.agents inventory plugin.

Finds candidate agents (socket globs, libvirt domains), probes them in parallel with
short timeouts and returns plain JSON-able records, so the inventory can cache them and
build hosts from them. One bad candidate never fails the others: its record says why.
"""

from __future__ import annotations

import concurrent.futures
import glob
import os
import re
import stat
import typing as t
import xml.etree.ElementTree as ET  # libvirt's own domain XML, not untrusted input
from dataclasses import asdict, dataclass, field

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaError, QgaTimeoutError
from ansible_collections.vmguest.qga.plugins.plugin_utils.channel_access import shared_client

AGENT_PORT_NAME = "org.qemu.guest_agent.0"
LIBVIRT_CHANNEL_GLOB = "/var/lib/libvirt/qemu/channel/target/*/" + AGENT_PORT_NAME
PROXMOX_SOCKET_GLOB = "/run/qemu-server/*.qga"
DEFAULT_SOCKET_GLOBS = (LIBVIRT_CHANNEL_GLOB, PROXMOX_SOCKET_GLOB)
PROXMOX_CONFIG_DIR = "/etc/pve/qemu-server"
# libvirt names the channel dir domain-<id>-<name>, <name> cut to 20 characters.
LIBVIRT_SHORT_NAME_CHARS = 20
_LIBVIRT_CHANNEL_DIR = re.compile(r"^domain-\d+-(?P<name>.+)$")
_PROXMOX_SOCKET = re.compile(r"^(?P<vmid>\d+)\.qga$")
_PROXMOX_NAME_LINE = re.compile(r"^name:\s*(?P<name>\S+)\s*$")

PROBE_MODES = ("facts", "ping", "none")
Log = t.Callable[[str], None]


@dataclass
class AgentRecord:
    """One discovered agent channel and what probing it found (JSON-able, for the inventory cache)."""

    channel: str
    source: str  # "socket" or "libvirt"
    socket_path: str | None = None
    libvirt_uri: str | None = None
    vm_name: str | None = None
    vmid: str | None = None
    reachable: bool = False
    error: str | None = None
    agent_version: str | None = None
    enabled_commands: list[str] = field(default_factory=list)
    osinfo: dict[str, t.Any] | None = None
    hostname: str | None = None

    def to_dict(self) -> dict[str, t.Any]:
        """The record as a plain dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> AgentRecord:
        """A record from to_dict() output (e.g. read back from the cache); unknown keys are ignored."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


@dataclass(frozen=True)
class ProbeSettings:
    """How to probe: what to ask, how long to wait, how many agents at once."""

    mode: str = "facts"
    timeout_s: float = 5.0
    workers: int = 8


@dataclass
class SocketScan:
    """Agent sockets found by the globs, and paths that matched but cannot be agents (with the reason)."""

    records: list[AgentRecord] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)


# -- sockets -----------------------------------------------------------------


def scan_sockets(patterns: t.Sequence[str], proxmox_config_dir: str = PROXMOX_CONFIG_DIR) -> SocketScan:
    """Expand the socket globs (a plain path is a glob matching itself) into agent records, not yet probed."""
    scan = SocketScan()
    seen: set[str] = set()
    for pattern in patterns:
        path_pattern = pattern[len("unix:"):] if pattern.startswith("unix:") else pattern
        for path in sorted(glob.glob(os.path.expanduser(path_pattern))):
            real_path = os.path.realpath(path)
            if real_path in seen:
                continue
            seen.add(real_path)
            reason = _not_a_socket(path)
            if reason:
                scan.rejected[path] = reason
                continue
            scan.records.append(socket_record(path, proxmox_config_dir))
    return scan


def _not_a_socket(path: str) -> str:
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return "cannot stat: %s" % (exc.strerror or exc)
    if not stat.S_ISSOCK(mode):
        return "not a unix socket"
    return ""


def socket_record(path: str, proxmox_config_dir: str = PROXMOX_CONFIG_DIR) -> AgentRecord:
    """The record of one agent socket, with the VM name / VMID its path reveals."""
    record = AgentRecord(channel="unix:" + path, source="socket", socket_path=path)
    parent = os.path.basename(os.path.dirname(path))
    libvirt_dir = _LIBVIRT_CHANNEL_DIR.match(parent)
    if libvirt_dir and os.path.basename(path) == AGENT_PORT_NAME:
        record.vm_name = libvirt_dir.group("name")
    proxmox_socket = _PROXMOX_SOCKET.match(os.path.basename(path))
    if proxmox_socket:
        record.vmid = proxmox_socket.group("vmid")
        record.vm_name = proxmox_vm_name(record.vmid, proxmox_config_dir)
    return record


def proxmox_vm_name(vmid: str, config_dir: str = PROXMOX_CONFIG_DIR) -> str | None:
    """The `name:` of a Proxmox VM from its config file (None when there is no file or no name)."""
    try:
        with open(os.path.join(config_dir, "%s.conf" % vmid), encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("["):  # snapshot sections follow the current config
                    break
                match = _PROXMOX_NAME_LINE.match(line)
                if match:
                    return match.group("name")
    except (OSError, UnicodeDecodeError):
        return None
    return None


def served_by_libvirt(record: AgentRecord, libvirt_names: t.Collection[str]) -> bool:
    """Whether a socket found in libvirt's channel dir belongs to a domain already found through a libvirt URI."""
    name = record.vm_name
    if record.source != "socket" or not name or record.vmid is not None:
        return False
    if name in libvirt_names:
        return True
    return len(name) == LIBVIRT_SHORT_NAME_CHARS and any(full.startswith(name) for full in libvirt_names)


# -- libvirt -----------------------------------------------------------------


class LibvirtMissing(Exception):
    """libvirt-python is not installed but a libvirt URI was configured."""


def import_libvirt() -> t.Any:
    """The libvirt module, errors routed away from stderr; LibvirtMissing when it is not installed."""
    try:
        import libvirt  # pylint: disable=import-outside-toplevel,import-error
    except ImportError:
        raise LibvirtMissing(
            "libvirt_uris needs libvirt-python on the controller: pip install libvirt-python "
            "(or the distribution's python3-libvirt), or remove libvirt_uris"
        ) from None
    libvirt.registerErrorHandler(lambda _context, _error: None, None)
    return libvirt


def scan_libvirt(uri: str) -> list[AgentRecord]:
    """Records of the running domains at `uri` that have a guest agent channel (raises libvirt errors)."""
    libvirt = import_libvirt()
    conn = libvirt.openReadOnly(uri or None)
    try:
        records = []
        for domain in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            state = agent_channel_state(domain.XMLDesc(0))
            if state is None:
                continue
            records.append(
                AgentRecord(
                    channel="libvirt:" + uri,
                    source="libvirt",
                    libvirt_uri=uri,
                    vm_name=domain.name(),
                    # libvirt tracks whether the guest opened the port; "disconnected" means no agent runs.
                    error=None if state in ("connected", "") else "the agent channel is %s" % state,
                )
            )
        return sorted(records, key=lambda record: record.vm_name or "")
    finally:
        conn.close()


def agent_channel_state(domain_xml: str) -> str | None:
    """The guest agent channel's state in a domain's XML ("" when unknown), None when it has none."""
    root = ET.fromstring(domain_xml)  # noqa: S314
    for target in root.iterfind("./devices/channel/target"):
        if target.get("name") == AGENT_PORT_NAME:
            return target.get("state", "")
    return None


# -- probing -----------------------------------------------------------------


def probe_all(records: t.Sequence[AgentRecord], settings: ProbeSettings, log: Log | None = None) -> None:
    """Probe every record in parallel (at most settings.workers at once), filling in facts or the error.

    Records that already carry an error (a libvirt channel the guest never opened) are not probed.
    """
    for record in records:
        record.reachable = record.error is None
    candidates = [record for record in records if record.error is None]
    if settings.mode == "none" or not candidates:
        return
    workers = max(1, min(settings.workers, len(candidates)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qga-probe") as pool:
        list(pool.map(lambda record: probe(record, settings, log), candidates))


def probe(record: AgentRecord, settings: ProbeSettings, log: Log | None = None) -> AgentRecord:
    """Ask one agent who it is; never raises for agent trouble: the record's error says what went wrong."""
    record.error = None
    try:
        with shared_client(
            record.channel,
            domain=record.vm_name if record.source == "libvirt" else None,
            timeout=settings.timeout_s,
            connect_timeout=settings.timeout_s,
            lock_timeout=settings.timeout_s,
            log=log,
        ) as client:
            _collect(client, record, settings.mode)
        record.reachable = True
    except QgaTimeoutError as exc:
        record.error = "%s%s" % (exc, _timeout_hint(record))
    except QgaError as exc:
        # The client names libvirt's own socket itself; here the fix is libvirt_uris, not a channel.
        record.error = "%s%s" % (exc, _libvirt_hint(record))
    except Exception as exc:  # pylint: disable=broad-except
        # Whatever one candidate does (libvirt oddities, a peer speaking garbage) must not end discovery.
        record.error = "%s: %s" % (type(exc).__name__, exc)
    if record.error:
        record.reachable = False
    return record


def _collect(client: QgaClient, record: AgentRecord, mode: str) -> None:
    if mode == "ping":
        client.ping()
        return
    info = client.info()
    record.agent_version = info.version
    record.enabled_commands = sorted(name for name, enabled in info.commands.items() if enabled)
    if info.enabled("guest-get-osinfo"):
        record.osinfo = client.execute("guest-get-osinfo")
    if info.enabled("guest-get-host-name"):
        record.hostname = client.execute("guest-get-host-name").get("host-name")


def held_by_libvirtd(record: AgentRecord) -> bool:
    """A socket in libvirt's own directories: libvirtd keeps it connected, so nothing else gets an answer."""
    return record.source == "socket" and bool(record.socket_path) and "/libvirt/" in str(record.socket_path)


def _libvirt_hint(record: AgentRecord) -> str:
    if held_by_libvirtd(record):
        return " (libvirtd keeps this socket connected for itself: list the domain through libvirt_uris instead)"
    return ""


def _timeout_hint(record: AgentRecord) -> str:
    if held_by_libvirtd(record):
        return _libvirt_hint(record)
    if record.source == "socket":
        return " (no guest agent answers on this socket: the agent is not running in the guest, or it is busy)"
    return ""
