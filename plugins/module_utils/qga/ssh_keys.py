# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OpenSSH authorized_keys lines: parse and validate them before they reach the guest.

qemu-ga checks almost nothing (it writes "bogus" into authorized_keys happily),
so every key is checked here: an optional options prefix, a known key type, a
base64 blob that decodes and whose first field (a length-prefixed string) is
that same key type, an optional comment.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass

PLAIN_TYPES = ("ssh-rsa", "ssh-dss", "ssh-ed25519", "ssh-ed448")
_TYPE_RE = re.compile(
    r"^(?:ssh-rsa|ssh-dss|ssh-ed25519|ssh-ed448|ecdsa-sha2-[a-z0-9]+|sk-[a-z0-9@.-]+)"
    r"(?:-cert-v0[0-9]@openssh\.com)?$"
)
_KNOWN_PREFIXES = "ssh-rsa, ssh-dss, ssh-ed25519, ecdsa-sha2-*, sk-* (and their -cert-v01@openssh.com forms)"


class InvalidKeyError(ValueError):
    """A key line that is not a valid OpenSSH public key."""


@dataclass(frozen=True)
class PublicKey:
    """One parsed authorized_keys line."""

    line: str
    options: str
    key_type: str
    blob: str
    comment: str

    @property
    def identity(self) -> tuple[str, str]:
        """What makes two lines the same key: type and blob (options and comment aside)."""
        return (self.key_type, self.blob)


def preview(line: str, length: int = 40) -> str:
    """A short prefix of a key line for messages."""
    line = line.replace("\n", "\\n")
    return line if len(line) <= length else line[:length] + "..."


def _split_options(line: str) -> tuple[str, str]:
    """Split a leading options field (quotes may hold spaces) from the rest of the line."""
    in_quotes = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and in_quotes:
            index += 2
            continue
        if char == '"':
            in_quotes = not in_quotes
        elif char in " \t" and not in_quotes:
            return line[:index], line[index:].lstrip(" \t")
        index += 1
    if in_quotes:
        raise InvalidKeyError("an unterminated quote in the options")
    return line, ""


def parse_key(line: str) -> PublicKey:
    """Parse one authorized_keys line; raise InvalidKeyError saying what is wrong."""
    if "\n" in line or "\r" in line:
        raise InvalidKeyError("a key must be one line (it contains a line break)")
    text = line.strip()
    if not text:
        raise InvalidKeyError("the key is empty")
    if text.startswith("#"):
        raise InvalidKeyError("a comment line is not a key")
    options = ""
    fields = text.split(None, 2)
    if not _TYPE_RE.match(fields[0]):
        options, rest = _split_options(text)
        fields = rest.split(None, 2)
        if not fields or not _TYPE_RE.match(fields[0]):
            raise InvalidKeyError("no known key type (%s) at its start or after its options" % _KNOWN_PREFIXES)
    if len(fields) < 2:
        raise InvalidKeyError("the base64 key data after the key type %s is missing" % fields[0])
    key_type, blob = fields[0], fields[1]
    comment = fields[2] if len(fields) > 2 else ""
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKeyError("the key data is not valid base64") from None
    if len(raw) < 4:
        raise InvalidKeyError("the key data is too short")
    (length,) = struct.unpack(">I", raw[:4])
    embedded = raw[4:4 + length]
    if length > len(raw) - 4 or embedded.decode("ascii", "replace") != key_type:
        raise InvalidKeyError(
            "the key data is not a %s key (it says %r)" % (key_type, embedded[:40].decode("ascii", "replace"))
        )
    normalized = " ".join(part for part in (options, key_type, blob, comment) if part)
    return PublicKey(line=normalized, options=options, key_type=key_type, blob=blob, comment=comment)


def parse_keys(lines: list[str], what: str = "keys") -> list[PublicKey]:
    """Parse every line; the first bad one raises InvalidKeyError naming its index and a short prefix."""
    parsed = []
    for index, line in enumerate(lines):
        try:
            parsed.append(parse_key(line))
        except InvalidKeyError as exc:
            raise InvalidKeyError(
                "%s[%d] (%s) is not a valid OpenSSH public key: %s" % (what, index, preview(line), exc)
            ) from None
    return parsed


def parse_existing(line: str) -> PublicKey | None:
    """Parse a line already in the guest's authorized_keys; None where it is not a key we understand."""
    try:
        return parse_key(line)
    except InvalidKeyError:
        return None
