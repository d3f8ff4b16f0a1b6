# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_time: the `time` option as a play hands it over (YAML str, int or float) -> nanoseconds.

A refusal reaches a play as the task's failure: tests/modules/test_qga_time.py proves one.
"""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.vmguest.qga.plugins.action.qga_time import iso_ns, parse_time

NS = 1_000_000_000
LIMITS = "outside what the guest agent can set (1970-01-01 up to the end of 2069 UTC)"


@pytest.mark.parametrize(("value", "reason"), [
    ("yesterday noon", "time 'yesterday noon' is neither ISO 8601"),
    ("2070-01-01T00:00:00Z", LIMITS),
    (-5, "outside what the guest agent can set"),
    ("-5", "outside what the guest agent can set"),
    (1.5, "must be an integer"),
    (True, "must be an ISO 8601 date and time or nanoseconds since the epoch"),
    (None, "must be an ISO 8601 date and time or nanoseconds since the epoch"),
])
def test_a_time_the_agent_cannot_set_is_refused(value: t.Any, reason: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_time(value)
    assert reason in str(raised.value)


@pytest.mark.parametrize(("value", "ns"), [
    ("2031-06-01T12:00:00+02:00", 1_938_074_400 * NS),
    ("2031-06-01T10:00:00Z", 1_938_074_400 * NS),
    ("2031-06-01T10:00:00", 1_938_074_400 * NS),  # no zone: UTC
    (1_900_000_000 * NS, 1_900_000_000 * NS),
    (" 1900000000000000000 ", 1_900_000_000 * NS),
    (0, 0),
    ("2069-12-31T23:59:59.999999Z", 3_155_759_999_999_999_000),
])
def test_iso_8601_and_nanoseconds(value: t.Any, ns: int) -> None:
    assert parse_time(value) == ns


def test_nanoseconds_read_back_as_iso_8601_utc() -> None:
    assert iso_ns(1_938_074_400 * NS + 1_500) == "2031-06-01T10:00:00.000001+00:00"
