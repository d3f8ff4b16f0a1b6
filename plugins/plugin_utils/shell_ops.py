# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible's own housekeeping shell commands, recognised so the executor's worker can do them in-process.

An action such as `copy` finds the remote user's home, makes its remote tmp dir, marks files
executable and removes the dir with shell commands built by ansible-core's `sh` shell plugin
(`expand_user`, `mkdtemp`, `chmod`, `remove`, and for a become user `set_user_facl` or `chown`), each run
as `/bin/sh -c '... && sleep 0'`. In an emulated guest every such command costs about a second of
process starts (sh, its subshells, mkdir, sleep). Only the exact forms ansible-core builds are
recognised, with plain paths; anything else runs in the guest's shell as usual.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import typing as t

# ansible-core up to 2.20 appends this to every command it runs (_low_level_execute_command); 2.21 does not.
_SLEEP = " && sleep 0"
# A path ansible-core pasted unquoted into `echo`: absolute or under ~, nothing the shell would expand.
_PLAIN_PATH = r"(?:/|~/)[A-Za-z0-9_.+@:/-]*|~"
_MKDTEMP = re.compile(
    r'\( umask 77 && mkdir -p "` echo (?P<base>%s) `"&& mkdir "` echo (?P<path>%s) `" '
    r'&& echo (?P<name>ansible-tmp-[0-9.]+-[0-9]+-[0-9]+)="` echo (?P=path) `" \)' % (_PLAIN_PATH, _PLAIN_PATH)
)
# ansible-core's expand_user('~') and expand_user('~', username): `echo ~` / `echo ~NAME` (POSIX user names).
_HOME_OF = re.compile(r"~(?:[A-Za-z0-9_][A-Za-z0-9_.-]*)?")
# The modes ActionBase._fixup_perms2 asks for without become: u+x, u+rwx and the like.
_USER_ADD = re.compile(r"u\+[rwx]+")
# A POSIX user name, as _fixup_perms2 hands a become user to chown and setfacl.
_USER_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?"
# The ACL entries _fixup_perms2 grants a become user (files to execute, or only to read).
_USER_FACL = re.compile(r"u:(?P<user>%s):(?:r-x|r-X)" % _USER_NAME)
# What ansible-core removes recursively: its own tmp dirs.
_TMP_DIR_NAME = re.compile(r"ansible-tmp-[0-9.]+-[0-9]+-[0-9]+")


def recognise(cmd: str, home: str) -> dict[str, t.Any] | None:
    """The worker request for `cmd`, or None if it is not one of the recognised commands.

    `home`: the HOME the guest shell would have, for `~` in a tmp dir path.
    """
    inner = low_level_body(cmd)
    if inner is None:
        return None
    found = _MKDTEMP.fullmatch(inner)
    if found:
        return _mkdtemp(found, home)
    try:
        argv = shlex.split(inner)
    except ValueError:
        return None
    if len(argv) == 7 and argv[:3] == ["rm", "-f", "-r"] and argv[4:] == [">", "/dev/null", "2>&1"]:
        path = argv[3]
        if path.startswith("/") and _TMP_DIR_NAME.fullmatch(posixpath.basename(path.rstrip("/"))):
            return {"kind": "rm", "path": path}
        return None
    if len(argv) > 2 and argv[0] == "chmod" and _USER_ADD.fullmatch(argv[1]) and _absolute(argv[2:]):
        return {"kind": "chmod_u", "add": argv[1][2:], "paths": argv[2:]}
    if len(argv) == 2 and argv[0] == "echo" and _HOME_OF.fullmatch(inner[len("echo "):]):
        return {"kind": "home", "user": argv[1][1:], "home": home}
    return _become_user_access(argv)


def _become_user_access(argv: list[str]) -> dict[str, t.Any] | None:
    """_fixup_perms2's commands that let an unprivileged become user read the task's files: `setfacl -m
    u:USER:r-x PATH...` and `chown USER PATH...`."""
    if len(argv) > 3 and argv[:2] == ["setfacl", "-m"] and _USER_FACL.fullmatch(argv[2]) and _absolute(argv[3:]):
        return {"kind": "setfacl", "entry": argv[2], "paths": argv[3:]}
    if len(argv) > 2 and argv[0] == "chown" and re.fullmatch(_USER_NAME, argv[1]) and _absolute(argv[2:]):
        return {"kind": "chown", "user": argv[1], "paths": argv[2:]}
    return None


def low_level_body(cmd: str) -> str | None:
    """What ansible-core ran as `/bin/sh -c 'BODY[ && sleep 0]'` (the default executable), or None."""
    try:
        words = shlex.split(cmd)
    except ValueError:
        return None
    if len(words) != 3 or words[:2] != ["/bin/sh", "-c"]:
        return None
    body = words[2]
    return body[: -len(_SLEEP)] if body.endswith(_SLEEP) else body


def _absolute(paths: list[str]) -> bool:
    return all(path.startswith("/") for path in paths)


def _mkdtemp(found: re.Match[str], home: str) -> dict[str, t.Any] | None:
    base, path = _expand_home(found.group("base"), home), _expand_home(found.group("path"), home)
    name = found.group("name")
    if not base.startswith("/") or path != posixpath.join(base, name):
        return None
    return {"kind": "mkdtemp", "base": base, "name": name}


def _expand_home(word: str, home: str) -> str:
    if word == "~":
        return home
    if word.startswith("~/"):
        return home.rstrip("/") + word[1:]
    return word
