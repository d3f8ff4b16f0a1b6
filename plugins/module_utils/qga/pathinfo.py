# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a path in a POSIX guest is (type, mode, owner, size, sha256), found without Python in the guest.

One guest-exec of /bin/sh with coreutils (or busybox) stat and sha256sum; where
sha256sum is missing the file is read through guest-file-read and hashed here.
"""

from __future__ import annotations

import hashlib
import typing as t
from dataclasses import dataclass

from .errors import QgaExecError
from .files import read_file
from .guest_exec import run
from .posix import ROOT, GuestUser, run_as_argv

if t.TYPE_CHECKING:
    from .client import QgaClient

# Seconds a stat (+ sha256sum of a large file) may take in the guest.
DEFAULT_STAT_TIMEOUT = 600.0

# $1 path, $2 follow symlinks (1|0), $3 checksum (1|0). Prints key=value lines.
_STAT_SCRIPT = r"""
p=$1
if [ "$2" = 1 ] && [ -L "$p" ]; then
    r=$(readlink -f -- "$p") && [ -n "$r" ] && p=$r
fi
printf 'path=%s\n' "$p"
if [ ! -e "$p" ] && [ ! -L "$p" ]; then
    d=$(dirname -- "$p")
    echo type=absent
    if [ -d "$d" ]; then echo parent=directory; elif [ -e "$d" ]; then echo parent=other; else echo parent=missing; fi
    exit 0
fi
[ -L "$p" ] && echo link=1
if [ -L "$p" ] && [ ! -e "$p" ]; then echo type=dangling; exit 0; fi
if [ -d "$p" ]; then echo type=directory; elif [ -f "$p" ]; then echo type=file; else echo type=other; fi
stat -L -c 'mode=%a
uid=%u
gid=%g
owner=%U
group=%G
size=%s' -- "$p" || exit 3
if [ "$3" = 1 ] && [ -f "$p" ]; then
    if command -v sha256sum >/dev/null 2>&1; then
        s=$(sha256sum <"$p") || exit 4
        echo "sha256=${s%% *}"
    else
        echo sha256=
    fi
fi
exit 0
"""


@dataclass(frozen=True)
class GuestPath:
    """One guest path as stat saw it (symlinks followed for everything but `is_link`)."""

    path: str
    kind: str  # file | directory | other | absent | dangling
    parent: str = "directory"  # for absent paths: directory | other | missing
    is_link: bool = False
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    owner: str | None = None
    group: str | None = None
    size: int | None = None
    sha256: str | None = None

    @property
    def exists(self) -> bool:
        """Whether something (not a dangling link) is at the path."""
        return self.kind not in ("absent", "dangling")

    @property
    def mode_string(self) -> str | None:
        """The permission bits as a 4-digit octal string (0644)."""
        return None if self.mode is None else "%04o" % self.mode


def stat_path(
    client: QgaClient,
    path: str,
    follow: bool = False,
    checksum: bool = True,
    user: GuestUser = ROOT,
    timeout: float = DEFAULT_STAT_TIMEOUT,
) -> GuestPath:
    """Stat `path` in the guest as `user`; with `checksum`, also its sha256 (hashed here if sha256sum is missing)."""
    argv = run_as_argv(user, ["/bin/sh", "-c", _STAT_SCRIPT, "sh", path, "1" if follow else "0",
                              "1" if checksum else "0"])
    result = run(client, argv, env=user.environment(), clean_env=True, timeout=timeout)
    if result.rc != 0:
        raise QgaExecError(
            "cannot stat %s in the guest (exit %d): %s"
            % (path, result.rc, result.stderr.decode("utf-8", "replace").strip() or "no error output"),
            channel=client.channel,
            command="guest-exec",
        )
    fields: dict[str, str] = {}
    for line in result.stdout.decode("utf-8", "surrogateescape").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key] = value
    info = GuestPath(
        path=fields.get("path", path),
        kind=fields.get("type", "absent"),
        parent=fields.get("parent", "directory"),
        is_link=fields.get("link") == "1",
        mode=int(fields["mode"], 8) if fields.get("mode") else None,
        uid=int(fields["uid"]) if fields.get("uid") else None,
        gid=int(fields["gid"]) if fields.get("gid") else None,
        owner=fields.get("owner"),
        group=fields.get("group"),
        size=int(fields["size"]) if fields.get("size") else None,
        sha256=fields.get("sha256") or None,
    )
    if checksum and info.kind == "file" and info.sha256 is None:
        info = GuestPath(**{**info.__dict__, "sha256": sha256_by_reading(client, info.path)})
    return info


class _HashSink:
    """A write-only binary sink that only hashes."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)


def sha256_by_reading(client: QgaClient, path: str) -> str:
    """The sha256 of a guest file, streamed through guest-file-read and hashed on this side."""
    return read_file(client, path, t.cast(t.BinaryIO, _HashSink())).sha256


def shell_quote(text: str) -> str:
    """Quote `text` for a POSIX shell."""
    return "'" + text.replace("'", "'\"'\"'") + "'"
