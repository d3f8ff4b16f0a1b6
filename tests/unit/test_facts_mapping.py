# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_facts' mapping: real agent replies (tests/unit/fixtures) -> setup's fact names and shapes.

Against setup on a real machine (host agent, TCG VM): tests/modules/test_qga_facts.py.
"""

from __future__ import annotations

import json
import os
import typing as t

import pytest

from ansible_collections.vmguest.qga.plugins.plugin_utils import facts
from ansible_collections.vmguest.qga.plugins.plugin_utils.facts_gather import is_facts_payload, payload_arguments

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs", "docsite",
                    "rst", "connection_guide.rst")


def replies(name: str) -> dict[str, t.Any]:
    with open(os.path.join(FIXTURES, name)) as handle:
        return t.cast("dict[str, t.Any]", json.load(handle))


DEBIAN = replies("qga_replies_debian12.json")
WINDOWS = replies("qga_replies_windows2019.json")


def test_debian_platform_and_distribution_as_setup_names_them() -> None:
    found = facts.platform_facts(DEBIAN["guest-get-osinfo"], "vm")
    found.update(facts.distribution_facts(DEBIAN["guest-get-osinfo"]))
    assert found == {
        "system": "Linux", "kernel": "6.18.44-fc-v1300", "kernel_version": "#1 SMP PREEMPT_DYNAMIC @0",
        "machine": "x86_64", "architecture": "x86_64", "nodename": "vm", "hostname": "vm", "fqdn": "vm", "domain": "",
        "distribution": "Debian", "distribution_version": "12", "distribution_major_version": "12",
        "distribution_release": "bookworm", "os_family": "Debian",
    }


@pytest.mark.parametrize(("osinfo", "expected"), [
    ({"id": "rhel", "name": "Red Hat Enterprise Linux", "version-id": "9.4", "version": "9.4 (Plow)"},
     ("RedHat", "9.4", "9", "Plow", "RedHat")),
    ({"id": "ubuntu", "name": "Ubuntu", "version-id": "22.04", "version": "22.04.4 LTS (Jammy Jellyfish)"},
     ("Ubuntu", "22.04", "22", "jammy", "Debian")),
    ({"id": "fedora", "name": "Fedora Linux", "version-id": "40", "version": "40 (Server Edition)"},
     ("Fedora", "40", "40", "", "RedHat")),
    ({"id": "opensuse-leap", "name": "openSUSE Leap", "version-id": "15.5", "version": "15.5"},
     ("openSUSE Leap", "15.5", "15", "NA", "Suse")),
    ({"id": "arch", "name": "Arch Linux"}, ("Archlinux", "NA", "NA", "NA", "Archlinux")),
    ({"id": "nixos", "name": "NixOS", "version-id": "24.05", "version": "24.05 (Uakari)"},
     ("NixOS", "24.05", "24", "Uakari", "NixOS")),
])
def test_distributions_and_ansible_cores_os_family(osinfo: dict[str, str], expected: tuple[str, ...]) -> None:
    found = facts.distribution_facts(osinfo)
    keys = ("distribution", "distribution_version", "distribution_major_version", "distribution_release", "os_family")
    assert tuple(found[key] for key in keys) == expected


def test_windows_maps_to_ansible_windows_setup_values() -> None:
    osinfo = WINDOWS["guest-get-osinfo"]
    found = facts.platform_facts(osinfo, WINDOWS["guest-get-host-name"]["host-name"])
    found.update(facts.distribution_facts(osinfo))
    assert found == {
        "system": "Win32NT", "kernel": "10.0.17763.0", "architecture": "64-bit", "architecture2": "x86_64",
        "nodename": "WIN-2019", "hostname": "WIN-2019", "fqdn": "WIN-2019", "domain": "",
        "distribution": "Microsoft Windows Server 2019 Datacenter",
        "os_name": "Microsoft Windows Server 2019 Datacenter",
        "distribution_version": "10.0.17763.0", "distribution_major_version": "10", "os_family": "Windows",
    }
    network = facts.network_facts(WINDOWS["guest-network-get-interfaces"], windows=True)
    assert network == {
        "interfaces": [{"connection_name": "Ethernet", "macaddress": "52:54:00:12:34:56",
                        "ipv4": [{"address": "192.168.122.50", "prefix": "24"}],
                        "ipv6": [{"address": "fe80::b1c3:9e2d:5a4f:1e2b%6", "prefix": "64"}]}],
        "all_ipv4_addresses": ["192.168.122.50"], "all_ipv6_addresses": ["fe80::b1c3:9e2d:5a4f:1e2b%6"],
    }


def test_network_interfaces_in_setups_shape() -> None:
    found = facts.network_facts(DEBIAN["guest-network-get-interfaces"])
    assert found["interfaces"] == ["lo", "ifb0", "ifb1", "eth0"]
    assert found["all_ipv4_addresses"] == ["192.0.2.2"]
    assert found["all_ipv6_addresses"] == ["fd00::2", "fe80::fc:ff:fe00:1"]
    assert found["eth0"] == {
        "device": "eth0", "macaddress": "02:fc:00:00:00:01",
        "ipv4": {"address": "192.0.2.2", "broadcast": "192.0.2.255", "netmask": "255.255.255.0",
                 "network": "192.0.2.0", "prefix": "24"},
        "ipv6": [{"address": "fd00::2", "prefix": "64", "scope": "global"},
                 {"address": "fe80::fc:ff:fe00:1", "prefix": "64", "scope": "link"}],
    }
    assert found["lo"] == {
        "device": "lo",
        "ipv4": {"address": "127.0.0.1", "broadcast": "", "netmask": "255.0.0.0", "network": "127.0.0.0",
                 "prefix": "8"},
        "ipv6": [{"address": "::1", "prefix": "128", "scope": "host"}],
    }
    assert found["ifb0"] == {"device": "ifb0", "macaddress": "be:14:a7:17:25:3a"}


def test_secondary_addresses_and_names_setup_rewrites() -> None:
    found = facts.network_facts([{"name": "br-lan:1", "ip-addresses": [
        {"ip-address-type": "ipv4", "ip-address": "10.0.0.1", "prefix": 31},
        {"ip-address-type": "ipv4", "ip-address": "10.0.1.1", "prefix": 16}]}])
    assert found["interfaces"] == ["br-lan_1"]
    assert found["br_lan_1"]["ipv4"]["broadcast"] == ""
    assert found["br_lan_1"]["ipv4_secondaries"] == [
        {"address": "10.0.1.1", "broadcast": "10.0.255.255", "netmask": "255.255.0.0", "network": "10.0.0.0",
         "prefix": "16"}]


def test_hardware_vcpus_memory_mounts() -> None:
    assert facts.vcpu_facts(DEBIAN["guest-get-vcpus"]) == {"processor_vcpus": 2, "processor_nproc": 2}
    memory = facts.memory_facts(DEBIAN["guest-get-memory-blocks"], DEBIAN["guest-get-memory-block-info"]["size"])
    assert memory == {"memtotal_mb": 4 * 128}
    assert facts.mount_facts(DEBIAN["guest-get-fsinfo"]) == [{
        "mount": "/", "device": "/dev/vda", "fstype": "ext4", "size_total": 108944293888,
        "size_available": 108944293888 - 25947705344}]
    privileged = dict(DEBIAN["guest-get-fsinfo"][0], **{"total-bytes-privileged": 270553174016})
    assert facts.mount_facts([privileged])[0]["size_total"] == 270553174016


def test_date_time_in_the_guests_zone() -> None:
    # 2026-12-06T04:46:36.449088Z, a Sunday, in a zone 5 h 30 min east of UTC
    found = facts.date_time_facts(1796532396449088000, {"zone": "IST", "offset": 19800})
    assert found == {
        "year": "2026", "month": "12", "weekday": "Sunday", "weekday_number": "0", "weeknumber": "48",
        "day": "06", "hour": "10", "minute": "16", "second": "36", "epoch": "1796532396", "epoch_int": "1796532396",
        "date": "2026-12-06", "time": "10:16:36", "iso8601_micro": "2026-12-06T04:46:36.449088Z",
        "iso8601": "2026-12-06T04:46:36Z", "iso8601_basic": "20261206T101636449088",
        "iso8601_basic_short": "20261206T101636", "tz_offset": "+0530", "tz": "IST",
    }
    assert facts.date_time_facts(0, {"offset": -12600})["tz_offset"] == "-0330"


@pytest.mark.parametrize(("requested", "expected"), [
    (["all"], set(facts.SUBSETS)),
    (["!all"], set(facts.MIN_SUBSETS)),
    (["network"], set(facts.MIN_SUBSETS) | {"network"}),
    (["!min", "qga"], {"qga"}),
    (["all", "!hardware"], set(facts.SUBSETS) - {"hardware", "mounts"}),
    (["!hardware", "mounts"], set(facts.MIN_SUBSETS) | {"mounts"}),
    (["all", "!nonsense"], set(facts.SUBSETS)),
])
def test_gather_subset_as_setup_resolves_it(requested: list[str], expected: set[str]) -> None:
    assert facts.selected_subsets(requested) == expected


def test_unknown_subset_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown gather_subset 'cpu'; choose from all, min, platform"):
        facts.selected_subsets(["cpu"])


def test_guest_exec_probe_decides_as_ansible_core() -> None:
    probe = facts.parse_probe(
        "exists /usr/bin/apt-get\nexists /etc/init.d/\nexists /run/systemd/system/\nproc1 systemd\n"
        "command systemctl\ncommand ip\nroute4 8.8.8.8 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0\n"
        "mtu 1400\ntype 1\n")
    assert facts.pkg_mgr_from_probe(probe, "Debian") == "apt"
    assert facts.service_mgr_from_probe(probe, "Linux") == "systemd"
    interfaces = facts.network_facts(DEBIAN["guest-network-get-interfaces"])
    assert facts.default_ipv4_from_probe(probe, interfaces) == {
        "interface": "eth0", "address": "192.0.2.2", "gateway": "192.0.2.1", "alias": "eth0",
        "broadcast": "192.0.2.255", "netmask": "255.255.255.0", "network": "192.0.2.0", "prefix": "24",
        "macaddress": "02:fc:00:00:00:01", "mtu": 1400, "type": "ether",
    }
    busybox_init = facts.parse_probe("proc1 init\nexists /etc/init.d/\nexists /usr/bin/dnf\n"
                                     "realpath_/usr/bin/dnf /usr/bin/dnf5\n")
    assert facts.service_mgr_from_probe(busybox_init, "Linux") == "sysvinit"
    assert facts.pkg_mgr_from_probe(busybox_init, "RedHat") == "dnf5"
    assert facts.default_ipv4_from_probe(busybox_init, interfaces) == {}


def test_pipelined_payload_of_the_module_and_its_arguments() -> None:
    # As ansible-core 2.19's module_common writes the wrapper's call: one `key=repr,` line per argument.
    params = json.dumps({"ANSIBLE_MODULE_ARGS": {"gather_subset": ["network"], "_ansible_verbosity": 1}})
    call = {"ansible_module": "qga_facts", "module_fqn": "ansible_collections.vmguest.qga.plugins.modules.qga_facts",
            "params": params}
    wrapper = ("_ANSIBALLZ_WRAPPER = True\n\nif __name__ == \"__main__\":\n    _ansiballz_main(\n%s\n)\n"
               % "\n".join("%s=%r," % item for item in call.items())).encode()
    assert is_facts_payload(wrapper) and not is_facts_payload(wrapper.replace(b"qga_facts", b"qga_info"))
    assert payload_arguments(wrapper) == {"gather_subset": ["network"], "_ansible_verbosity": 1}


def test_every_documented_difference_is_in_the_connection_guide() -> None:
    with open(DOCS) as handle:
        guide = handle.read()
    for key in facts.SETUP_DIFFERENCES:
        assert "``%s``" % (key if key != "IFACE" else "ansible_<interface>") in guide, key
