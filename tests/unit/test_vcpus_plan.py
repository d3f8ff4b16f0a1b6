# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_vcpus: which processors change, worked out from guest-get-vcpus (plan()), without an agent.

The refusals of the plan reach a play as the task's failure: tests/modules/test_qga_vcpus.py proves one.
"""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.vmguest.qga.plugins.action.qga_vcpus import plan


def vcpus(count: int, offline: t.Iterable[int] = (), fixed: t.Iterable[int] = (0,)) -> list[dict[str, t.Any]]:
    """guest-get-vcpus of `count` processors: those in `offline` are offline, those in `fixed` cannot go offline."""
    return [{"logical-id": cpu_id, "online": cpu_id not in offline, "can-offline": cpu_id not in fixed}
            for cpu_id in range(count)]


@pytest.mark.parametrize("count", [1, 2, 8])
def test_zero_online_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="online_count must be between 1 and %d" % count):
        plan(vcpus(count), 0, None)


@pytest.mark.parametrize("count", [1, 2, 8])
def test_more_than_the_guest_has_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="between 1 and %d .*, not %d" % (count, count + 1)):
        plan(vcpus(count), count + 1, None)


@pytest.mark.parametrize("count", [2, 8])
def test_a_set_without_cpu0_is_refused_when_cpu0_cannot_go_offline(count: int) -> None:
    with pytest.raises(ValueError) as raised:
        plan(vcpus(count), None, [count - 1])
    assert "cpu 0 cannot go offline" in str(raised.value) and "nothing was changed" in str(raised.value)


def test_an_unknown_cpu_is_refused_naming_the_guests() -> None:
    with pytest.raises(ValueError, match=r"the guest has no cpu 4096 \(its logical processors are 0, 1\)"):
        plan(vcpus(2), None, [0, 4096])


def test_an_empty_set_is_refused() -> None:
    with pytest.raises(ValueError, match="online_cpus must name at least one processor"):
        plan(vcpus(2), None, [])


def test_a_count_below_what_cannot_go_offline_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot bring the online processors down to 1: cpu 0, 1 cannot go offline"):
        plan(vcpus(3, fixed=(0, 1)), 1, None)


def test_as_it_is_changes_nothing() -> None:
    assert plan(vcpus(4), 4, None) == {}
    assert plan(vcpus(4, offline=(3,)), None, [0, 1, 2]) == {}


def test_a_lower_count_takes_the_highest_processors_offline() -> None:
    assert plan(vcpus(4), 2, None) == {2: False, 3: False}
    assert plan(vcpus(4, fixed=(0, 3)), 2, None) == {2: False, 1: False}


def test_a_higher_count_brings_the_lowest_offline_processors_back() -> None:
    assert plan(vcpus(4, offline=(1, 2, 3)), 3, None) == {1: True, 2: True}


def test_a_set_changes_exactly_the_difference() -> None:
    assert plan(vcpus(4, offline=(3,)), None, [0, 3]) == {1: False, 2: False, 3: True}
