# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_facts, the pure part: agent replies -> Ansible's own fact names and shapes.

Every function takes decoded agent replies (the "return" values) and returns facts without the
``ansible_`` prefix, shaped as ansible-core's setup (POSIX guests) or ansible.windows.setup (Windows
guests, guest-get-osinfo id ``mswindows``) returns them. Nothing here talks to an agent.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import typing as t

from ansible.module_utils.facts.network.linux import LinuxNetwork
from ansible.module_utils.facts.system.distribution import Distribution
from ansible.module_utils.facts.system.pkg_mgr import PKG_MGRS

# gather_subset names, as setup's: "min" is always gathered unless excluded with "!min".
SUBSETS = ("platform", "distribution", "date_time", "qga", "hardware", "mounts", "network", "users")
MIN_SUBSETS = frozenset({"platform", "distribution", "date_time", "qga"})
# "!hardware" leaves out its parts too (setup's aliases).
SUBSET_ALIASES = {"hardware": frozenset({"mounts"})}

# The agent commands each group of facts reads (all must be enabled).
COMMANDS: dict[str, tuple[str, ...]] = {
    "osinfo": ("guest-get-osinfo",),
    "hostname": ("guest-get-host-name",),
    "date_time": ("guest-get-time", "guest-get-timezone"),
    "vcpus": ("guest-get-vcpus",),
    "memory": ("guest-get-memory-blocks", "guest-get-memory-block-info"),
    "mounts": ("guest-get-fsinfo",),
    "disks": ("guest-get-disks",),
    "network": ("guest-network-get-interfaces",),
    "users": ("guest-get-users",),
}
# Which groups each gather_subset reads.
SUBSET_GROUPS: dict[str, tuple[str, ...]] = {
    "platform": ("osinfo", "hostname"),
    "distribution": ("osinfo",),
    "date_time": ("date_time",),
    "qga": ("osinfo",),
    "hardware": ("vcpus", "memory", "mounts", "disks"),
    "mounts": ("mounts",),
    "network": ("network",),
    "users": ("users",),
}

# Facts both qga_facts and setup return whose values may differ, and why. The tests compare the two
# key by key and accept a difference only for these keys (each with its own check); the connection guide
# lists them. Keys are fact names without ansible_; "IFACE" stands for every ansible_<interface>.
SETUP_DIFFERENCES: dict[str, str] = {
    "fqdn": "setup asks the guest's resolver (socket.getfqdn()); the agent knows the host name only, "
            "so qga_facts gives the host name (the fqdn when it has dots).",
    "domain": "the part of the host name after its first dot; setup takes it from the resolver's fqdn.",
    "distribution_version": "the agent reads VERSION_ID of os-release; setup reads more precise files where "
                            "they exist (Debian's point release from /etc/debian_version: 12.11 against 12).",
    "memtotal_mb": "the memory blocks the guest has online (whole blocks of usually 128 MiB); setup's MemTotal "
                   "leaves out what the kernel reserved at boot, so qga_facts is a few percent higher.",
    "mounts": "size_total: the agent counts used + available bytes, leaving out the blocks reserved for root "
              "(setup's size_total counts them); size_available moves with writes between the two reads; "
              "device is /dev/<kernel name> (a device-mapper volume is /dev/dm-N, setup names /dev/mapper/...).",
    "date_time": "each reads the guest clock when it runs: the same zone and offset, a later moment.",
    "interfaces": "the same names, in the agent's order (setup lists them in /sys/class/net order).",
    "all_ipv4_addresses": "the same addresses, in the agent's order.",
    "all_ipv6_addresses": "the same addresses, in the agent's order.",
    "IFACE": "ipv6 in the agent's order; ipv4 broadcast is computed from the prefix (empty for loopback, /31 "
             "and /32 addresses) where setup reads it from `ip addr`.",
}

WINDOWS_ID = "mswindows"
# System names of non-Linux POSIX guests by os-release ID (what platform.system() says there).
SYSTEM_BY_ID = {"freebsd": "FreeBSD", "netbsd": "NetBSD", "openbsd": "OpenBSD", "dragonfly": "DragonFly"}
# os-release ID -> the distribution name setup reports (it reads the distribution files; for a
# distribution not listed here it falls back to os-release NAME, as setup does).
DISTRIBUTION_BY_ID = {
    "almalinux": "AlmaLinux",
    "alpine": "Alpine",
    "amzn": "Amazon",
    "arch": "Archlinux",
    "centos": "CentOS",
    "cloudlinux": "CloudLinux",
    "debian": "Debian",
    "devuan": "Devuan",
    "euleros": "EulerOS",
    "fedora": "Fedora",
    "flatcar": "Flatcar",
    "freebsd": "FreeBSD",
    "gentoo": "Gentoo",
    "kali": "Kali",
    "linuxmint": "Linux Mint",
    "ol": "OracleLinux",
    "openEuler": "openEuler",
    "opensuse-leap": "openSUSE Leap",
    "opensuse-microos": "openSUSE MicroOS",
    "opensuse-tumbleweed": "openSUSE Tumbleweed",
    "parrot": "Parrot",
    "raspbian": "Debian",
    "rhel": "RedHat",
    "rocky": "Rocky",
    "sl-micro": "SL-Micro",
    "sled": "SLED",
    "sles": "SLES",
    "sles_sap": "SLES_SAP",
    "ubuntu": "Ubuntu",
    "virtuozzo": "Virtuozzo",
}
# Windows guest-get-osinfo "machine" -> ansible.windows.setup's architecture2.
WINDOWS_ARCHITECTURE2 = {"x86": "i386", "x86_64": "x86_64", "arm": "arm", "arm64": "arm64", "ia64": "ia64"}
_I86 = re.compile(r"i([3456]86|86pc)")
# distro's codename rule for os-release VERSION: "12 (bookworm)" -> bookworm.
_CODENAME = re.compile(r"\((\D+)\)|,\s*(\D+)")


def selected_subsets(requested: t.Sequence[str]) -> set[str]:
    """gather_subset resolved as setup resolves it: min always, all, names, !names (!all keeps min).

    Raises ValueError for an unknown name (an unknown !name is ignored, as setup ignores it).
    """
    valid = set(SUBSETS)
    wanted: set[str] = set()
    excluded: set[str] = set()
    explicit: set[str] = set()
    for entry in ["min", *requested]:
        name = entry.strip()
        if name == "min":
            wanted |= MIN_SUBSETS
        elif name == "all":
            wanted |= valid
        elif name == "!min":
            excluded |= MIN_SUBSETS
        elif name == "!all":
            excluded |= valid - MIN_SUBSETS
        elif name.startswith("!"):
            excluded |= SUBSET_ALIASES.get(name[1:], frozenset()) | {name[1:]}
        elif name in valid:
            wanted.add(name)
            explicit.add(name)
        else:
            raise ValueError("unknown gather_subset %r; choose from all, min, %s" % (entry, ", ".join(SUBSETS)))
    return wanted - (excluded - explicit)


def groups_for(subsets: t.Iterable[str]) -> list[str]:
    """The command groups (keys of COMMANDS) the subsets read, in a stable order."""
    wanted = {group for subset in subsets for group in SUBSET_GROUPS[subset]}
    return [group for group in COMMANDS if group in wanted]


def is_windows(osinfo: t.Mapping[str, t.Any] | None) -> bool:
    """Whether guest-get-osinfo describes a Windows guest."""
    return bool(osinfo) and osinfo.get("id") == WINDOWS_ID  # type: ignore[union-attr]


# -- platform and distribution -------------------------------------------------------------------------------


def platform_facts(osinfo: t.Mapping[str, t.Any] | None, host_name: str | None) -> dict[str, t.Any]:
    """system, kernel, kernel_version, machine, architecture from osinfo; hostname, nodename, fqdn, domain."""
    facts: dict[str, t.Any] = {}
    if osinfo is not None:
        facts.update(_windows_platform(osinfo) if is_windows(osinfo) else _posix_platform(osinfo))
    if host_name:
        facts["nodename"] = host_name
        facts["hostname"] = host_name if osinfo is not None and is_windows(osinfo) else host_name.split(".")[0]
        facts["fqdn"] = host_name
        facts["domain"] = host_name.partition(".")[2]
    return facts


def _posix_platform(osinfo: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    facts: dict[str, t.Any] = {"system": SYSTEM_BY_ID.get(str(osinfo.get("id", "")), "Linux")}
    if "kernel-release" in osinfo:
        facts["kernel"] = osinfo["kernel-release"]
    if "kernel-version" in osinfo:
        facts["kernel_version"] = osinfo["kernel-version"]
    machine = osinfo.get("machine")
    if machine:
        facts["machine"] = machine
        facts["architecture"] = "i386" if _I86.search(machine) else machine
    return facts


def _windows_version(osinfo: t.Mapping[str, t.Any]) -> str:
    """[Environment]::OSVersion.Version as ansible.windows.setup prints it: 10.0.17763.0."""
    return "%s.%s.0" % (osinfo.get("kernel-version", ""), osinfo.get("kernel-release", ""))


def _windows_platform(osinfo: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    facts: dict[str, t.Any] = {"system": "Win32NT"}
    if "kernel-version" in osinfo and "kernel-release" in osinfo:
        facts["kernel"] = _windows_version(osinfo)
    machine = osinfo.get("machine")
    if machine:
        facts["architecture2"] = WINDOWS_ARCHITECTURE2.get(machine, "unknown")
        facts["architecture"] = "32-bit" if machine in ("x86", "arm") else "64-bit"
    return facts


def distribution_facts(osinfo: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """distribution, distribution_version, _major_version, _release and os_family (ansible-core's map)."""
    if is_windows(osinfo):
        return _windows_distribution(osinfo)
    os_id = str(osinfo.get("id", ""))
    name = DISTRIBUTION_BY_ID.get(os_id) or osinfo.get("name") or os_id.capitalize() or "OtherLinux"
    version = str(osinfo.get("version-id") or "NA")
    facts: dict[str, t.Any] = {
        "distribution": name,
        "distribution_version": version,
        "distribution_major_version": version.split(".", maxsplit=1)[0] or "NA",
        "distribution_release": _release(os_id, osinfo),
    }
    if os_id == "freebsd" and osinfo.get("kernel-release"):
        facts.update(_freebsd_version(str(osinfo["kernel-release"])))
    facts["os_family"] = Distribution.OS_FAMILY.get(name) or name
    return facts


def _release(os_id: str, osinfo: t.Mapping[str, t.Any]) -> str:
    """distribution_release as setup derives it from os-release (VERSION_CODENAME is not in osinfo)."""
    version = str(osinfo.get("version", ""))
    if os_id == "fedora":
        return ""  # Fedora sets VERSION_CODENAME="" on purpose
    if os_id == "centos" and "Stream" in str(osinfo.get("name", "")):
        return "Stream"
    match = _CODENAME.search(version)
    if not match:
        return "NA"
    codename = match.group(1) or match.group(2)
    if os_id == "ubuntu":  # "22.04.4 LTS (Jammy Jellyfish)" -> VERSION_CODENAME jammy
        return codename.split()[0].lower()
    return codename


def _freebsd_version(release: str) -> dict[str, str]:
    facts = {"distribution_release": release}
    match = re.search(r"(\d+)\.(\d+)-(RELEASE|STABLE|CURRENT|RC|PRERELEASE).*", release)
    if match:
        facts["distribution_major_version"] = match.group(1)
        facts["distribution_version"] = "%s.%s" % (match.group(1), match.group(2))
    return facts


def _windows_distribution(osinfo: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """ansible.windows.setup's: distribution and os_name are Win32_OperatingSystem.Caption, which the
    agent's pretty-name ("Windows Server 2019 Datacenter") is without its "Microsoft " prefix."""
    pretty = str(osinfo.get("pretty-name") or osinfo.get("version") or "Microsoft Windows")
    caption = pretty if pretty.startswith("Microsoft") else "Microsoft " + pretty
    version = _windows_version(osinfo)
    return {
        "distribution": caption,
        "os_name": caption,
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0],
        "os_family": "Windows",
    }


# -- date_time -----------------------------------------------------------------------------------------------


def date_time_facts(guest_ns: int, timezone: t.Mapping[str, t.Any]) -> dict[str, str]:
    """setup's date_time for the guest clock (guest-get-time) in its zone (guest-get-timezone)."""
    offset = int(timezone.get("offset", 0))
    utc = datetime.datetime.fromtimestamp(guest_ns // 1000 / 1e6, tz=datetime.timezone.utc)
    now = utc.astimezone(datetime.timezone(datetime.timedelta(seconds=offset)))
    epoch = str(guest_ns // 1_000_000_000)
    sign = "-" if offset < 0 else "+"
    facts = {
        "year": now.strftime("%Y"),
        "month": now.strftime("%m"),
        "weekday": now.strftime("%A"),
        "weekday_number": now.strftime("%w"),
        "weeknumber": now.strftime("%W"),
        "day": now.strftime("%d"),
        "hour": now.strftime("%H"),
        "minute": now.strftime("%M"),
        "second": now.strftime("%S"),
        "epoch": epoch,
        "epoch_int": epoch,
        "date": now.strftime("%Y-%m-%d"),
        "time": now.strftime("%H:%M:%S"),
        "iso8601_micro": utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "iso8601": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "iso8601_basic": now.strftime("%Y%m%dT%H%M%S%f"),
        "iso8601_basic_short": now.strftime("%Y%m%dT%H%M%S"),
        "tz_offset": "%s%02d%02d" % (sign, abs(offset) // 3600, abs(offset) % 3600 // 60),
    }
    if timezone.get("zone"):
        facts["tz"] = str(timezone["zone"])
    return facts


# -- hardware ------------------------------------------------------------------------------------------------


def vcpu_facts(vcpus: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, int]:
    """processor_vcpus and processor_nproc: the vCPUs online (the agent does not see sockets and cores)."""
    online = sum(1 for vcpu in vcpus if vcpu.get("online"))
    return {"processor_vcpus": online, "processor_nproc": online}


def memory_facts(blocks: t.Sequence[t.Mapping[str, t.Any]], block_size: int) -> dict[str, int]:
    """memtotal_mb: the online memory blocks, in MiB."""
    online = sum(1 for block in blocks if block.get("online"))
    return {"memtotal_mb": online * int(block_size) // (1024 * 1024)}


def mount_facts(filesystems: t.Sequence[t.Mapping[str, t.Any]]) -> list[dict[str, t.Any]]:
    """setup's mounts entries (mount, device, fstype, size_total, size_available) from guest-get-fsinfo."""
    mounts = []
    for filesystem in filesystems:
        entry: dict[str, t.Any] = {
            "mount": filesystem["mountpoint"],
            "device": _device(str(filesystem["name"])),
            "fstype": filesystem["type"],
        }
        total = filesystem.get("total-bytes-privileged", filesystem.get("total-bytes"))
        if total is not None:
            entry["size_total"] = int(total)
        if "total-bytes" in filesystem and "used-bytes" in filesystem:
            entry["size_available"] = int(filesystem["total-bytes"]) - int(filesystem["used-bytes"])
        mounts.append(entry)
    return mounts


def _device(name: str) -> str:
    """The agent names a filesystem's device by its kernel name (vda1, dm-0); Windows by volume path."""
    return name if name.startswith(("/", "\\")) else "/dev/" + name


# -- network -------------------------------------------------------------------------------------------------


def fact_name(interface: str) -> str:
    """The fact (without ansible_) holding an interface: setup replaces ":" and "-" with "_"."""
    return interface.replace(":", "_").replace("-", "_")


def network_facts(interfaces: t.Sequence[t.Mapping[str, t.Any]], windows: bool = False) -> dict[str, t.Any]:
    """interfaces, one dict per interface and all_ipv4/ipv6_addresses, in setup's (or Windows setup's) shape."""
    if windows:
        return _windows_network(interfaces)
    facts: dict[str, t.Any] = {"interfaces": [], "all_ipv4_addresses": [], "all_ipv6_addresses": []}
    for interface in interfaces:
        name = str(interface["name"])
        facts["interfaces"].append(name.replace(":", "_"))
        facts[fact_name(name)] = _interface(interface)
        for address in interface.get("ip-addresses", []):
            text = address["ip-address"]
            if address["ip-address-type"] == "ipv4" and not text.startswith("127."):
                facts["all_ipv4_addresses"].append(text)
            elif address["ip-address-type"] == "ipv6" and text != "::1":
                facts["all_ipv6_addresses"].append(text)
    return facts


def _interface(interface: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    facts: dict[str, t.Any] = {"device": interface["name"]}
    mac = interface.get("hardware-address")
    if mac and mac != "00:00:00:00:00:00":
        facts["macaddress"] = mac
    ipv4 = [ipv4_entry(a["ip-address"], int(a["prefix"])) for a in interface.get("ip-addresses", [])
            if a["ip-address-type"] == "ipv4"]
    ipv6 = [ipv6_entry(a["ip-address"], int(a["prefix"])) for a in interface.get("ip-addresses", [])
            if a["ip-address-type"] == "ipv6"]
    if ipv4:
        facts["ipv4"] = ipv4[0]
    if ipv4[1:]:
        facts["ipv4_secondaries"] = ipv4[1:]
    if ipv6:
        facts["ipv6"] = ipv6
    return facts


def ipv4_entry(address: str, prefix: int) -> dict[str, str]:
    """setup's ipv4 dict; the broadcast is the network's (none for loopback, /31 and /32: setup finds none)."""
    network = ipaddress.IPv4Network("%s/%d" % (address, prefix), strict=False)
    no_broadcast = ipaddress.IPv4Address(address).is_loopback or prefix >= 31
    return {
        "address": address,
        "broadcast": "" if no_broadcast else str(network.broadcast_address),
        "netmask": str(network.netmask),
        "network": str(network.network_address),
        "prefix": str(prefix),
    }


def ipv6_entry(address: str, prefix: int) -> dict[str, str]:
    """setup's ipv6 entry; the scope is what `ip addr` prints for such an address."""
    parsed = ipaddress.IPv6Address(address.split("%")[0])
    scope = ("host" if parsed.is_loopback else "link" if parsed.is_link_local
             else "site" if parsed.is_site_local else "global")
    return {"address": address, "prefix": str(prefix), "scope": scope}


def _windows_network(interfaces: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, t.Any]:
    """ansible.windows.setup's: interfaces is a list of dicts (loopback left out), no per-interface facts."""
    facts: dict[str, t.Any] = {"interfaces": [], "all_ipv4_addresses": [], "all_ipv6_addresses": []}
    for interface in interfaces:
        addresses = interface.get("ip-addresses", [])
        if addresses and all(ipaddress.ip_address(a["ip-address"].split("%")[0]).is_loopback for a in addresses):
            continue
        entry: dict[str, t.Any] = {"connection_name": interface["name"]}
        if interface.get("hardware-address"):
            entry["macaddress"] = str(interface["hardware-address"]).upper()
        for family in ("ipv4", "ipv6"):
            entry[family] = [{"address": a["ip-address"], "prefix": str(a["prefix"])}
                             for a in addresses if a["ip-address-type"] == family]
            facts["all_%s_addresses" % family].extend(a["address"] for a in entry[family])
        facts["interfaces"].append(entry)
    return facts


# -- guest-exec extras (pkg_mgr, service_mgr, default_ipv4) ----------------------------------------------------

PROBE_PATHS = sorted({pkg["path"] for pkg in PKG_MGRS} | {
    "/run/ostree-booted", "/usr/bin/dnf", "/usr/bin/microdnf", "/usr/bin/rpm",
    "/run/systemd/system/", "/dev/.run/systemd/", "/dev/.systemd/", "/etc/init/", "/sbin/openrc",
    "/etc/init.d/", "/etc/dinit.d/",
})
# One /bin/sh run prints what setup's pkg_mgr, service_mgr and default_ipv4 collectors look at, one
# "key value" per line; parse_probe() and the *_from_probe functions decide as those collectors do.
PROBE_SCRIPT = r"""
for p in %s; do [ -e "$p" ] && echo "exists $p"; done
for p in /usr/bin/dnf /usr/bin/microdnf; do [ -e "$p" ] && echo "realpath_$p $(readlink -f "$p")"; done
[ -x /usr/bin/rpm ] && /usr/bin/rpm -q --whatprovides /usr/bin/apt-get >/dev/null 2>&1 && echo "apt_rpm yes"
[ -r /proc/1/comm ] && echo "proc1 $(cat /proc/1/comm)"
[ -L /sbin/init ] && echo "sbin_init $(readlink /sbin/init)"
for c in systemctl initctl ip; do command -v "$c" >/dev/null 2>&1 && echo "command $c"; done
if command -v ip >/dev/null 2>&1; then
    route=$(ip -4 route get 8.8.8.8 2>/dev/null | head -n 1)
    echo "route4 $route"
    dev=$(echo "$route" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
    if [ -n "$dev" ] && [ -d "/sys/class/net/$dev" ]; then
        echo "mtu $(cat "/sys/class/net/$dev/mtu")"
        echo "type $(cat "/sys/class/net/$dev/type")"
        [ -d "/sys/class/net/$dev/bridge" ] && echo "kind bridge"
        [ -d "/sys/class/net/$dev/bonding" ] && echo "kind bonding"
    fi
fi
exit 0
""" % " ".join(PROBE_PATHS)


class Probe(t.NamedTuple):
    """What PROBE_SCRIPT printed."""

    exists: frozenset[str]
    values: dict[str, str]
    commands: frozenset[str]


def parse_probe(output: str) -> Probe:
    """PROBE_SCRIPT's output as a Probe."""
    exists: set[str] = set()
    commands: set[str] = set()
    values: dict[str, str] = {}
    for line in output.splitlines():
        key, _sep, value = line.partition(" ")
        if key == "exists":
            exists.add(value)
        elif key == "command":
            commands.add(value)
        elif key:
            values[key] = value.strip()
    return Probe(frozenset(exists), values, frozenset(commands))


def pkg_mgr_from_probe(probe: Probe, os_family: str) -> str:
    """ansible-core's PkgMgrFactCollector decision on the probed paths."""
    name = "unknown"
    for pkg in PKG_MGRS:
        if os_family == "Altlinux" and pkg["path"] == "/usr/bin/pkg":
            continue
        if pkg["path"] in probe.exists:
            name = pkg["name"]
    if os_family == "RedHat":
        name = "unknown"
        if "/run/ostree-booted" in probe.exists:
            name = "atomic_container"
        else:
            for path in ("/usr/bin/dnf", "/usr/bin/microdnf"):
                if path in probe.exists:
                    name = "dnf5" if probe.values.get("realpath_" + path) == "/usr/bin/dnf5" else "dnf"
                    break
    elif os_family == "Debian":
        name = "apt"
    elif os_family == "Altlinux" and name == "apt":
        name = "apt_rpm"
    if name == "apt" and "/usr/bin/rpm" in probe.exists:
        name = "apt_rpm" if probe.values.get("apt_rpm") == "yes" else "apt"
    return name


SERVICE_MGR_BY_PROC1 = {"procd": "openwrt_init", "runit-init": "runit", "svscan": "svc", "openrc-init": "openrc"}


def service_mgr_from_probe(probe: Probe, system: str) -> str:
    """ansible-core's ServiceMgrFactCollector decision on the probed PID 1 and paths (Linux and BSD guests)."""
    proc1: str | None = probe.values.get("proc1") or probe.values.get("sbin_init")
    if proc1 is not None:
        proc1 = proc1.rsplit("/", 1)[-1].strip()
        if proc1 == "init" or proc1.endswith("sh") or not proc1:
            proc1 = None
    if proc1 is not None:
        return SERVICE_MGR_BY_PROC1.get(proc1, proc1)
    if "BSD" in system or system == "DragonFly":
        return "bsdinit"
    if system == "Linux":
        systemctl = "systemctl" in probe.commands
        if systemctl and probe.exists & {"/run/systemd/system/", "/dev/.run/systemd/", "/dev/.systemd/"}:
            return "systemd"
        if "initctl" in probe.commands and "/etc/init/" in probe.exists:
            return "upstart"
        if "/sbin/openrc" in probe.exists:
            return "openrc"
        if systemctl and probe.values.get("sbin_init", "").rsplit("/", 1)[-1] == "systemd":
            return "systemd"
        if "/etc/init.d/" in probe.exists:
            return "sysvinit"
        if "/etc/dinit.d/" in probe.exists:
            return "dinit"
    return "service"


def default_ipv4_from_probe(probe: Probe, interfaces: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """setup's default_ipv4 from `ip -4 route get 8.8.8.8` and the interface facts (network_facts' output)."""
    words = probe.values.get("route4", "").split()
    if not words or words[0] != "8.8.8.8":
        return {}
    default: dict[str, t.Any] = {}
    for index, word in enumerate(words[:-1]):
        if word == "dev":
            default["interface"] = words[index + 1]
        elif word == "src":
            default["address"] = words[index + 1]
        elif word == "via" and words[index + 1] != "8.8.8.8":
            default["gateway"] = words[index + 1]
    device = interfaces.get(fact_name(default.get("interface", "")), {})
    for entry in [device.get("ipv4"), *device.get("ipv4_secondaries", [])]:
        if entry and entry["address"] == default.get("address"):
            default.update({key: entry[key] for key in ("broadcast", "netmask", "network", "prefix")})
            default["alias"] = default["interface"]
            if "macaddress" in device:
                default["macaddress"] = device["macaddress"]
            if probe.values.get("mtu", "").isdigit():
                default["mtu"] = int(probe.values["mtu"])
            kind = probe.values.get("kind") or LinuxNetwork.INTERFACE_TYPE.get(probe.values.get("type", ""), "unknown")
            default["type"] = kind
            break
    return default
