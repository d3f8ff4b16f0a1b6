# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whose worker runs a task in the persistent executor: root's own, or that of the task's identity.

An identity is a non-root remote_user, a become method with its user and settings, or both. Its worker is
started through the identity's own command, built by the task's own become plugin (Mitogen's way), so
tasks forked from it get the identity, groups, environment and PAM/sudo policy they would get without the
executor; the become password is checked then, before anything of the task runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import typing as t
from dataclasses import dataclass

from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.vmguest.qga.plugins.plugin_utils import shell_ops

# What stands for the command when a become plugin's wrapper is built only to be compared.
_PLACEHOLDER = "VMGUESTQGACOMMAND"


class BecomeRecorder:
    """Remembers what the task's become plugin last built and from what.

    The connection then knows a become command for exactly what it is, for any become plugin, without
    parsing the syntax of sudo, su or any other method.
    """

    def __init__(self, plugin: t.Any) -> None:
        self.inner: str | None = None
        self.built: str | None = None
        build = plugin.build_become_command

        def recording_build(cmd: str, shell: t.Any) -> str:
            built = t.cast(str, build(cmd, shell))
            self.inner, self.built = cmd, built
            return built

        plugin.build_become_command = recording_build

    def inner_of(self, cmd: str) -> str | None:
        """What ansible-core handed the become plugin, if `cmd` is the plugin's command run by the default
        `/bin/sh -c`; else None."""
        body = shell_ops.low_level_body(cmd)
        if body is None or self.built is None or body != self.built:
            return None
        return self.inner


@dataclass(frozen=True)
class WorkerIdentity:
    """An identity other than root's: what names its worker and how to start it."""

    key: str  # never shown: it covers the become password
    label: str  # for -vvv lines: "remote_user alice", "become sudo to bob"
    become: t.Any = None  # the task's become plugin, or None (remote_user alone)

    def start_command(self, argv: t.Sequence[str], shell: t.Any) -> tuple[str, t.Any]:
        """(the shell command that runs `argv` as this identity, the become plugin that built it or None).

        The task's plugin is copied: its success marker and prompt stay those of the task's own command.
        """
        command = " ".join(shell.quote(word) for word in argv)
        if self.become is None:
            return command, None
        builder = _unrecorded_copy(self.become)
        return builder.build_become_command(command, shell), builder


def _unrecorded_copy(become: t.Any) -> t.Any:
    """A copy of the task's become plugin whose builds change nothing of the task's (nor its BecomeRecorder's)."""
    duplicate = copy.copy(become)
    duplicate.__dict__.pop("build_become_command", None)
    return duplicate


def _password_of(become: t.Any) -> bytes:
    """The become password the task was given (b"": none): a worker started with one password is not another's."""
    try:
        password = become.get_option("become_pass")
    except KeyError:  # a become plugin without the option
        return b""
    return to_bytes(password or "", errors="surrogate_or_strict")


def identity_of(remote_user: str, become: t.Any, shell: t.Any) -> WorkerIdentity | None:
    """The identity a command of `remote_user` through `become` (None: no become) runs as; None for root's own."""
    if become is None and remote_user == "root":
        return None
    parts: list[t.Any] = [remote_user]
    label = "remote_user %s" % remote_user
    if become is not None:
        probe = _unrecorded_copy(become)
        wrapper = probe.build_become_command(_PLACEHOLDER, shell).replace(probe._id, "-")
        parts += [become.name, wrapper, hashlib.sha256(_password_of(probe)).hexdigest()]
        label = "%sbecome %s to %s" % (
            "" if remote_user == "root" else label + ", ", become.name, become.get_option("become_user") or "root")
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
    return WorkerIdentity(key, label, become)
