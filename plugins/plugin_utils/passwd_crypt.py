# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check a plain password against a crypt(3) hash on the controller, and read /etc/shadow entries.

crypt(3) implementations, tried in order: Python's `crypt` module (3.12 and
older; on Linux it is libxcrypt: yescrypt $y$, sha512 $6$, bcrypt $2b$ ...),
libcrypt through ctypes (crypt_rn, else crypt), passlib. Nothing here logs or
returns a password or a hash.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hmac
import typing as t
import warnings

SCHEME_NAMES = {
    "1": "md5crypt ($1$)",
    "2a": "bcrypt ($2a$)",
    "2b": "bcrypt ($2b$)",
    "2y": "bcrypt ($2y$)",
    "5": "sha256crypt ($5$)",
    "6": "sha512crypt ($6$)",
    "7": "scrypt ($7$)",
    "y": "yescrypt ($y$)",
    "gy": "gost-yescrypt ($gy$)",
    "sha1": "sha1crypt ($sha1$)",
}
_PASSLIB_SCHEMES = {"1": "md5_crypt", "2a": "bcrypt", "2b": "bcrypt", "2y": "bcrypt", "5": "sha256_crypt",
                    "6": "sha512_crypt", "sha1": "sha1_crypt"}
_CRYPT_DATA_SIZE = 65536  # larger than libxcrypt's struct crypt_data (about 33 KiB)

CryptFunction = t.Callable[[str, str], t.Optional[str]]


def scheme_of(hashed: str) -> str:
    """The scheme id of a crypt hash ("6", "y", ...), "des" for a 13-character DES hash, "" for none."""
    if hashed.startswith("$"):
        parts = hashed.split("$")
        return parts[1] if len(parts) > 2 else ""
    if len(hashed) == 13 and all(c.isalnum() or c in "./" for c in hashed):
        return "des"
    return ""


def describe_scheme(hashed: str) -> str:
    """A human name of a hash's scheme (never the hash itself)."""
    scheme = scheme_of(hashed)
    if scheme == "des":
        return "traditional DES crypt"
    return SCHEME_NAMES.get(scheme, "the $%s$ scheme" % scheme if scheme else "an unknown scheme")


def holds_no_password(hashed: str) -> bool:
    """Whether a shadow password field can match no password (empty, locked "!...", "*", "!!")."""
    return not hashed or hashed[0] in "!*" or scheme_of(hashed) == ""


def _python_crypt() -> CryptFunction | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import crypt as crypt_module  # deprecated in 3.11, gone in 3.13
    except ImportError:
        return None

    def compute(password: str, setting: str) -> str | None:
        try:
            return t.cast("str | None", crypt_module.crypt(password, setting))
        except OSError:
            return None

    return compute


def _libcrypt() -> CryptFunction | None:
    names = [ctypes.util.find_library("crypt"), "libcrypt.so.2", "libcrypt.so.1"]
    library = None
    for name in names:
        if not name:
            continue
        try:
            library = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if library is None:
        return None
    crypt_rn = getattr(library, "crypt_rn", None)
    if crypt_rn is not None:
        crypt_rn.restype = ctypes.c_char_p
        crypt_rn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]

        def compute_rn(password: str, setting: str) -> str | None:
            data = ctypes.create_string_buffer(_CRYPT_DATA_SIZE)
            out = crypt_rn(password.encode("utf-8"), setting.encode("utf-8"), data, _CRYPT_DATA_SIZE)
            ctypes.memset(data, 0, _CRYPT_DATA_SIZE)
            return out.decode("ascii", "replace") if out else None

        return compute_rn
    crypt = getattr(library, "crypt", None)
    if crypt is None:
        return None
    crypt.restype = ctypes.c_char_p
    crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]

    def compute(password: str, setting: str) -> str | None:
        out = crypt(password.encode("utf-8"), setting.encode("utf-8"))
        return out.decode("ascii", "replace") if out else None

    return compute


def _passlib_verify(password: str, hashed: str) -> bool | None:
    scheme = _PASSLIB_SCHEMES.get(scheme_of(hashed))
    if scheme is None:
        return None
    try:
        from passlib import hash as passlib_hash  # optional
    except ImportError:
        return None
    try:
        return bool(getattr(passlib_hash, scheme).verify(password, hashed))
    except (ValueError, TypeError):
        return None


def _valid_output(out: str | None, hashed: str) -> bool:
    # libxcrypt answers an unsupported setting with "*0" / "*1" (or NULL); glibc crypt with NULL or EINVAL.
    del hashed
    return bool(out) and not t.cast(str, out).startswith("*")


def verify_password(password: str, hashed: str) -> tuple[bool | None, str]:
    """Whether `password` matches `hashed`: (True|False, "") when known, (None, why not) when it cannot be told."""
    if holds_no_password(hashed):
        return False, ""
    tried = []
    for name, factory in (("Python's crypt module", _python_crypt), ("libcrypt (ctypes)", _libcrypt)):
        compute = factory()
        if compute is None:
            tried.append("%s is not available" % name)
            continue
        out = compute(password, hashed)
        if out is not None and _valid_output(out, hashed):
            return hmac.compare_digest(out.encode(), hashed.encode()), ""
        tried.append("%s does not support %s" % (name, describe_scheme(hashed)))
    result = _passlib_verify(password, hashed)
    if result is not None:
        return result, ""
    tried.append("passlib is not installed or does not support %s" % describe_scheme(hashed))
    return None, "; ".join(tried)


def shadow_field(shadow_text: str, user: str) -> str | None:
    """The password field of `user` in /etc/shadow text, None when the user has no line."""
    for line in shadow_text.splitlines():
        fields = line.split(":")
        if len(fields) >= 2 and fields[0] == user:
            return fields[1]
    return None
