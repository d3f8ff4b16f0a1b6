# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OpenSSH public key lines of random keys: well-formed for the parsers, the private halves never existed."""

from __future__ import annotations

import base64
import os
import struct


def key_blob(key_type: str, body: bytes) -> str:
    """The base64 key data of a key of `key_type` whose wire form continues with `body`."""
    encoded_type = key_type.encode()
    return base64.b64encode(struct.pack(">I", len(encoded_type)) + encoded_type + body).decode()


def ed25519(comment: str = "") -> str:
    """A random ssh-ed25519 authorized_keys line."""
    line = "ssh-ed25519 " + key_blob("ssh-ed25519", struct.pack(">I", 32) + os.urandom(32))
    return line + (" " + comment if comment else "")


def rsa(comment: str = "") -> str:
    """A random 2048-bit ssh-rsa authorized_keys line."""
    body = struct.pack(">I", 3) + b"\x01\x00\x01" + struct.pack(">I", 257) + b"\x00" + os.urandom(256)
    return "ssh-rsa " + key_blob("ssh-rsa", body) + (" " + comment if comment else "")
