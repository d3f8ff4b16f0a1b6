# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Argument specs shared by the collection's modules (documented once in doc_fragments/channel.py)."""

from __future__ import annotations

import typing as t

CHANNEL_ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "channel": {"type": "str"},
    "domain": {"type": "str"},
    "rpc_timeout": {"type": "float", "default": 30.0},
    "connect_timeout": {"type": "float", "default": 10.0},
    "lock_timeout": {"type": "float", "default": 120.0},
}


def with_channel(spec: dict[str, dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """A module's own argument spec plus the channel options."""
    merged = dict(CHANNEL_ARGUMENT_SPEC)
    merged.update(spec)
    return merged
