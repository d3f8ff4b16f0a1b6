# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed errors of the QGA client.

Every message names the channel and, where there is one, the agent command,
so that an operator reading a failed task knows what failed where.
"""

from __future__ import annotations

import typing as t

ENABLE_HINT = (
    "Enable it in the guest: remove it from qemu-ga's --block-rpcs list (formerly -b) or add it to "
    "--allow-rpcs, wherever the guest sets them: /etc/qemu/qemu-ga.conf ([general] block-rpcs=/allow-rpcs=), "
    "/etc/sysconfig/qemu-ga (FILTER_RPC_ARGS or BLACKLIST_RPC) or the qemu-guest-agent unit's command line, "
    "then restart qemu-guest-agent."
)


class QgaError(Exception):
    """Base class of every error raised by the QGA client."""

    def __init__(self, message: str, channel: str | None = None, command: str | None = None) -> None:
        self.channel = channel
        self.command = command
        self.reason = message
        super().__init__(self._format(message))

    def _format(self, message: str) -> str:
        where = []
        if self.command:
            where.append("command %s" % self.command)
        if self.channel:
            where.append("channel %s" % self.channel)
        if not where:
            return message
        return "%s (%s)" % (message, ", ".join(where))


class QgaChannelError(QgaError):
    """The channel could not be opened, or it broke (agent gone, EOF, I/O error)."""


class QgaAgentGone(QgaChannelError):
    """libvirt says the guest's agent went away (or is not there): it stopped, restarted or the guest went down."""


class QgaRequestLost(QgaError):
    """The agent answered again without answering a command that sends no reply on success: it restarted."""


class QgaTimeoutError(QgaError):
    """No reply arrived within the time allowed."""


class QgaLockTimeout(QgaTimeoutError):
    """Another client held the channel's lock for longer than the time allowed."""


class QgaProtocolError(QgaError):
    """The agent (or what stands in for it) sent something that is not the protocol."""


class QgaArgumentError(QgaError):
    """Arguments did not match the command's schema; nothing was sent."""


class QgaCommandError(QgaError):
    """The agent answered with an error object."""

    def __init__(
        self,
        error_class: str,
        desc: str,
        channel: str | None = None,
        command: str | None = None,
    ) -> None:
        self.error_class = error_class
        self.desc = desc
        super().__init__("%s: %s" % (error_class, desc), channel=channel, command=command)


class QgaCommandRefused(QgaCommandError):
    """The agent would not run the command; `why` says why, and each reason is its own subclass:
    "unknown" (QgaCommandNotFound), "disabled" (QgaCommandDisabled), "frozen" (QgaFrozenError)."""

    why: t.ClassVar[str] = ""
    HINT: t.ClassVar[str] = ""

    def _format(self, message: str) -> str:
        return super()._format("%s. %s" % (message, self.HINT % {"command": self.command or "it"}))


class QgaCommandNotFound(QgaCommandRefused):
    """The agent does not know the command (too old, or another platform)."""

    why = "unknown"
    HINT = "This guest agent does not implement %(command)s; a newer qemu-guest-agent may."


class QgaCommandDisabled(QgaCommandRefused):
    """The agent knows the command but it is disabled (allow/block list)."""

    why = "disabled"
    HINT = ENABLE_HINT.replace("%", "%%")


class QgaFrozenError(QgaCommandRefused):
    """The command is refused because the guest's filesystems are frozen."""

    why = "frozen"
    HINT = ("The guest filesystems are frozen: only guest-ping, guest-info, guest-sync*, guest-fsfreeze-status and "
            "guest-fsfreeze-thaw work until guest-fsfreeze-thaw runs.")


class QgaUnsupportedError(QgaError):
    """A feature needs something the agent or transport lacks (found by the capability probe)."""


class QgaExecError(QgaError):
    """A guest-exec run did not complete as asked (timeout, output lost or truncated)."""


class QgaExecTimeout(QgaExecError):
    """A guest process ran past the time allowed (it was killed unless told otherwise)."""


class QgaOutputTruncated(QgaExecError):
    """The agent dropped part of a command's output (its capture limit is 16 MiB per stream)."""


class QgaUserError(QgaError):
    """The guest has no such user, or looking it up failed."""


class QgaFileError(QgaError):
    """A file transfer failed; the partial result must not be used."""


def command_error(
    error_class: str, desc: str, channel: str | None, command: str | None
) -> QgaCommandError:
    """Return the most specific error for an agent error reply."""
    error_type: t.Type[QgaCommandError] = QgaCommandError
    if error_class == "CommandNotFound":
        if "frozen state" in desc:
            error_type = QgaFrozenError
        elif "has been disabled" in desc:
            error_type = QgaCommandDisabled
        else:
            error_type = QgaCommandNotFound
    elif "frozen state" in desc:
        error_type = QgaFrozenError
    return error_type(error_class, desc, channel=channel, command=command)
