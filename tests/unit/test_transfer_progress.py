# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Progress lines of long transfers: when they appear, what they say (with a fake clock).

Printed at -v by real plays: test_transfer_progress_at_verbose_only in tests/connection/test_connection_host.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.vmguest.qga.plugins.plugin_utils.transfer_progress import (
    TransferProgress,
    format_duration,
    format_size,
)

MiB = 1024 * 1024


class FakeClock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


Reporter = tuple[TransferProgress, FakeClock, list[str]]


def reporter(total: int | None, after: float = 3.0, every: float = 5.0) -> Reporter:
    clock = FakeClock()
    lines: list[str] = []
    return TransferProgress(lines.append, "PUT a TO b", total, after=after, every=every, clock=clock), clock, lines


def test_a_short_transfer_says_nothing() -> None:
    progress, clock, lines = reporter(64 * MiB)
    for second in range(1, 3):
        clock.now += 1
        progress.update(second * MiB)
    clock.now += 0.9
    progress.finish()
    assert lines == []


def test_lines_start_after_the_threshold_and_come_at_most_every_interval() -> None:
    progress, clock, lines = reporter(64 * MiB)
    printed_at = []
    for second in range(1, 15):  # 2 MiB a second, one update a second
        clock.now += 1
        before = len(lines)
        progress.update(2 * second * MiB)
        if len(lines) > before:
            printed_at.append(second)
    assert printed_at == [3, 8, 13]
    assert lines[0] == "PUT a TO b: 6.0 MiB of 64.0 MiB (9%) at 2.0 MiB/s, ETA 29.0 s"
    assert lines[1] == "PUT a TO b: 16.0 MiB of 64.0 MiB (25%) at 2.0 MiB/s, ETA 24.0 s"


def test_the_last_line_says_size_time_and_rate() -> None:
    progress, clock, lines = reporter(64 * MiB)
    for second in range(1, 33):
        clock.now += 1
        progress.update(2 * second * MiB)
    progress.finish()
    assert lines[-1] == "PUT a TO b: done, 64.0 MiB in 32.0 s (2.0 MiB/s)"


def test_a_slow_transfer_without_a_line_yet_still_gets_the_last_one() -> None:
    """One chunk that took longer than the threshold: no update came late enough, the end is still said."""
    progress, clock, lines = reporter(MiB)
    clock.now += 4
    progress.update(MiB)  # the whole file: no progress line, the last line follows
    progress.finish()
    assert lines == ["PUT a TO b: done, 1.0 MiB in 4.0 s (256.0 KiB/s)"]


def test_an_unknown_total_gives_bytes_and_rate_without_eta() -> None:
    progress, clock, lines = reporter(None)
    for second in range(1, 5):
        clock.now += 1
        progress.update(3 * second * MiB)
    progress.finish()
    assert lines == ["PUT a TO b: 9.0 MiB at 3.0 MiB/s", "PUT a TO b: done, 12.0 MiB in 4.0 s (3.0 MiB/s)"]


def test_threshold_zero_reports_every_transfer_even_an_empty_one() -> None:
    progress, _clock, lines = reporter(0, after=0)
    progress.finish()
    assert lines == ["PUT a TO b: done, 0 B in 0.0 s (- B/s)"]


def test_threshold_zero_prints_the_first_chunk_at_once() -> None:
    progress, clock, lines = reporter(3 * MiB, after=0)
    clock.now += 0.5
    progress.update(MiB)
    assert lines == ["PUT a TO b: 1.0 MiB of 3.0 MiB (33%) at 2.0 MiB/s, ETA 1.0 s"]


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (64 * MiB, "64.0 MiB"), (3 * 1024 * MiB, "3.0 GiB"),
    (5000 * 1024 * MiB, "5000.0 GiB"),
])
def test_sizes(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0.04, "0.0 s"), (4.25, "4.2 s"), (59.4, "59.4 s"), (59.97, "1m00s"), (65, "1m05s"), (3599, "59m59s"),
    (7380, "2h03m"),
])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
