# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_info: gather_subset (all, names, !names) resolved to the subsets gathered.

Gathering them from real agents, and an unknown subset failing a play: tests/modules/test_qga_info.py.
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.action.qga_info import SUBSETS, selected_subsets


def test_all_with_exclusions() -> None:
    selected = selected_subsets(["all", "!agent", "!memory_blocks", "!network", "!disks", "!fsinfo"])
    assert "agent" not in selected and "network" not in selected and "memory_blocks" not in selected
    assert "osinfo" in selected and "vcpus" in selected
    excluded = ("agent", "memory_blocks", "network", "disks", "fsinfo")
    assert selected == [name for name in SUBSETS if name not in excluded]


def test_names_come_in_a_stable_order_once() -> None:
    assert selected_subsets(["vcpus", "agent", " osinfo ", "agent"]) == ["agent", "osinfo", "vcpus"]


def test_nothing_or_only_exclusions_start_from_all() -> None:
    assert selected_subsets([]) == list(SUBSETS)
    assert selected_subsets(["!devices"]) == [name for name in SUBSETS if name != "devices"]


def test_an_exclusion_wins_over_a_name() -> None:
    assert selected_subsets(["osinfo", "hostname", "!osinfo"]) == ["hostname"]


@pytest.mark.parametrize("entry", ["cpu", "!cpu"])
def test_an_unknown_subset_is_refused_naming_it(entry: str) -> None:
    with pytest.raises(AnsibleActionFail, match="unknown gather_subset '%s'; choose from all, agent, " % entry):
        selected_subsets(["osinfo", entry])
