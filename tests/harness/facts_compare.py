# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""qga_facts against setup on the same machine, key by key (the host agent's and the VM's tests).

Every fact both return must be equal, or be one of facts.SETUP_DIFFERENCES (the documented list) and
pass that difference's own check here.
"""

from __future__ import annotations

import typing as t

from ansible_collections.vmguest.qga.plugins.plugin_utils.facts import SETUP_DIFFERENCES

Facts = t.Mapping[str, t.Any]
# Seconds between the two reads of the clock (two plays in a row; setup takes up to 25 s on the TCG VM).
CLOCK_SLACK = 180
# Bytes a filesystem may fill or free between the two reads: 2 % of its size plus 64 MiB.
WRITE_SLACK = 0.02, 64 * 1024 * 1024


def _same_set(ours: t.Any, theirs: t.Any, _setup: Facts) -> bool:
    return sorted(ours) == sorted(theirs)


def _distribution_version(ours: str, theirs: str, _setup: Facts) -> bool:
    return theirs == ours or theirs.startswith(ours + ".")


def _any(_ours: t.Any, _theirs: t.Any, _setup: Facts) -> bool:
    return True


def _memtotal(ours: int, theirs: int, _setup: Facts) -> bool:
    return 0 <= ours - theirs <= max(ours // 10, 256)


def _date_time(ours: Facts, theirs: Facts, _setup: Facts) -> bool:
    return (ours["tz_offset"] == theirs["tz_offset"] and ours.get("tz") == theirs["tz"]
            and abs(int(ours["epoch"]) - int(theirs["epoch"])) <= CLOCK_SLACK
            and set(ours) == set(theirs) - {"tz_dst"})


def _mounts(ours: list[Facts], theirs: list[Facts], _setup: Facts) -> bool:
    by_mount = {entry["mount"]: entry for entry in theirs}
    return all(_mount(entry, by_mount[entry["mount"]]) for entry in ours if entry["mount"] in by_mount)


def _mount(ours: Facts, theirs: Facts) -> bool:
    """The agent's size_total leaves out the blocks reserved for root (setup gives no count of those to check
    against, and they can be most of a filesystem): at most setup's, at least what is available."""
    slack = WRITE_SLACK[0] * theirs["size_total"] + WRITE_SLACK[1]
    device_ok = ours["device"] == theirs["device"] or (
        ours["device"].startswith("/dev/dm-") and theirs["device"].startswith("/dev/mapper/"))
    return (device_ok and ours["fstype"] == theirs["fstype"]
            and ours["size_available"] <= ours["size_total"] <= theirs["size_total"]
            and abs(ours["size_available"] - theirs["size_available"]) <= slack)


def _interface(ours: Facts, theirs: Facts, _setup: Facts) -> bool:
    for key in set(ours) & set(theirs):
        if key == "ipv6":
            if sorted(ours[key], key=str) != sorted(theirs[key], key=str):
                return False
        elif key in ("ipv4", "ipv4_secondaries"):
            pairs = zip(_listed(ours[key]), _listed(theirs[key]))
            if len(_listed(ours[key])) != len(_listed(theirs[key])) or not all(_same_ipv4(*pair) for pair in pairs):
                return False
        elif ours[key] != theirs[key]:
            return False
    return True


def _listed(value: t.Any) -> list[Facts]:
    return value if isinstance(value, list) else [value]


def _same_ipv4(ours: Facts, theirs: Facts) -> bool:
    """Equal, but for a broadcast setup did not find (none configured) where qga_facts computes one."""
    if theirs.get("broadcast") == "":
        ours = {k: v for k, v in ours.items() if k != "broadcast"}
        theirs = {k: v for k, v in theirs.items() if k != "broadcast"}
    return ours == theirs


CHECKS: dict[str, t.Callable[[t.Any, t.Any, Facts], bool]] = {
    "fqdn": _any,
    "domain": _any,
    "distribution_version": _distribution_version,
    "memtotal_mb": _memtotal,
    "mounts": _mounts,
    "date_time": _date_time,
    "interfaces": _same_set,
    "all_ipv4_addresses": _same_set,
    "all_ipv6_addresses": _same_set,
    "IFACE": _interface,
}
assert set(CHECKS) == set(SETUP_DIFFERENCES), "every documented difference has its check, and only those"


def strip_prefix(ansible_facts: Facts) -> dict[str, t.Any]:
    """Facts as a module returns them (ansible_x) keyed as ansible_facts.x."""
    return {key.removeprefix("ansible_"): value for key, value in ansible_facts.items()}


def compare(ours: Facts, setup: Facts) -> tuple[list[str], list[str]]:
    """(the keys compared, the mismatches explained by nothing documented) of two fact dicts (no ansible_)."""
    interfaces = {name.replace("-", "_") for name in ours.get("interfaces", []) if isinstance(name, str)}
    compared, mismatches = [], []
    for key in sorted(set(ours) & set(setup)):
        if key == "qga":
            continue
        compared.append(key)
        check_name = "IFACE" if key in interfaces else key
        check = CHECKS.get(check_name)
        if ours[key] == setup[key] or (check is not None and check(ours[key], setup[key], setup)):
            continue
        mismatches.append("%s: qga_facts %r, setup %r" % (key, ours[key], setup[key]))
    return compared, mismatches


# Facts qga_facts gives on every Linux guest whose agent allows the read-only commands: the comparison
# must cover each of them (a fact setup stopped returning, or one we stopped returning, fails the test).
EXPECTED_COMMON = (
    "hostname", "nodename", "fqdn", "domain", "system", "kernel", "kernel_version", "architecture", "machine",
    "distribution", "distribution_version", "distribution_major_version", "distribution_release", "os_family",
    "processor_vcpus", "processor_nproc", "memtotal_mb", "interfaces", "all_ipv4_addresses",
    "all_ipv6_addresses", "mounts", "date_time", "lo",
)
