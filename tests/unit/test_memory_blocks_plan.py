# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_memory_blocks: which blocks change, worked out from guest-get-memory-blocks (plan()).

The refusals of the plan reach a play as the task's failure: tests/modules/test_qga_memory_blocks.py proves one.
"""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.vmguest.qga.plugins.action.qga_memory_blocks import _ranges, plan


def blocks(count: int, offline: t.Iterable[int] = (), fixed: t.Iterable[int] = ()) -> list[dict[str, t.Any]]:
    """guest-get-memory-blocks of `count` blocks: those in `offline` are offline, those in `fixed` cannot go offline."""
    return [{"phys-index": index, "online": index not in offline, "can-offline": index not in fixed}
            for index in range(count)]


def pinned(*states: tuple[int, bool]) -> list[dict[str, t.Any]]:
    """The module's `blocks` option."""
    return [{"phys_index": index, "online": online} for index, online in states]


def test_an_unknown_block_is_refused_naming_the_guests() -> None:
    with pytest.raises(ValueError, match=r"the guest has no memory block 999999 \(its blocks are 0-7\)"):
        plan(blocks(8), pinned((999999, False)), None)


def test_one_block_asked_online_and_offline_is_refused() -> None:
    with pytest.raises(ValueError, match="memory block 0 is asked both online and offline"):
        plan(blocks(8), pinned((0, False), (0, True)), None)


@pytest.mark.parametrize("count", [1, 8, 64])
def test_zero_online_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="online_count must be between 1 and %d" % count):
        plan(blocks(count), None, 0)


@pytest.mark.parametrize("count", [1, 8, 64])
def test_more_than_the_guest_has_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="between 1 and %d .*, not %d" % (count, count + 1)):
        plan(blocks(count), None, count + 1)


def test_a_count_the_pins_and_fixed_blocks_prevent_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot have 2 memory blocks online: 3 would be"):
        plan(blocks(4, fixed=(3,)), pinned((0, True), (1, True)), 2)


def test_a_fixed_block_asked_offline_is_refused() -> None:
    with pytest.raises(ValueError, match="memory block 2 cannot go offline: the guest reports can-offline false"):
        plan(blocks(4, fixed=(2,)), pinned((2, False)), None)


def test_a_lower_count_takes_the_highest_blocks_offline() -> None:
    assert plan(blocks(8), None, 4) == {4: False, 5: False, 6: False, 7: False}
    assert plan(blocks(8), None, 8) == {}


def test_a_count_with_pinned_blocks_moves_only_the_others() -> None:
    others_online = pinned(*((index, True) for index in range(8) if index != 5))
    assert plan(blocks(8), others_online, 7) == {5: False}
    assert plan(blocks(8, offline=(5,)), others_online, 7) == {}


def test_block_ranges_read_like_a_person_writes_them() -> None:
    assert _ranges([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8"
    assert _ranges([]) == "none"
