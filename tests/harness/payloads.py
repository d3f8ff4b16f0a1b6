# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test data that breaks naive transfers, and its digest."""

from __future__ import annotations

import hashlib
import os


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def binary_payload(size: int) -> bytes:
    """Random bytes with NUL runs, CR/LF and invalid UTF-8 (and UTF-16 surrogate) sequences, `size` bytes long."""
    special = b"\0" * 4096 + b"\r\n\n\r" + b"\xff\xfe\xc3\x28\x80\xed\xa0\x80" + b"\0"
    body = os.urandom(max(0, size - 2 * len(special)))
    return (special + body[: len(body) // 2] + special + body[len(body) // 2:])[:size]
