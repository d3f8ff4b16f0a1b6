# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Become methods that ask for a password, through an agent that offers no terminal.

guest-exec cannot answer a prompt while a command runs, so the become password goes first on the command's
stdin, as one line, followed by the payload. Only methods known to read exactly that one line from a stdin
that is not a terminal get it: sudo (ansible's sudo plugin passes -S; sudo reads the password byte by byte)
and su (PAM's conversation reads one line). It is sent only when the method will ask: otherwise it would be
the command's (or the pipelined module's) first line of input.
"""

from __future__ import annotations

import re
import shlex
import typing as t

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text

# Become plugin names (their `name`) that read the password as the first line of a non-terminal stdin.
PASSWORD_ON_STDIN = frozenset(("sudo", "su"))
BECOME_SETTINGS = "ansible_become_password (or --ask-become-pass)"


def password_line(become: t.Any) -> bytes | None:
    """The line to write before the payload, or None: no password given, or a method that cannot take it."""
    if become is None or not become.expect_prompt() or become.name not in PASSWORD_ON_STDIN:
        return None
    return to_bytes(become.get_option("become_pass"), errors="surrogate_or_strict") + b"\n"


def su_asks(become: t.Any, user_is_root: bool) -> bool:
    """Whether su will ask: always, except for root (pam_rootok) running the system's own su."""
    return not user_is_root or (become.get_option("become_exe") or "su") != "su"


def sudo_probe_argv(become: t.Any) -> list[str]:
    """The task's sudo with -n and `true`: rc 0 says it would not ask. -n fails before authentication, so the
    probe is no failed login (pam_faillock counts those)."""
    exe = become.get_option("become_exe") or "sudo"
    flags = shlex.split(become.get_option("become_flags") or "")
    return [exe, *flags, "-n", "-u", become.get_option("become_user") or "root", "true"]


def check_outcome(become: t.Any, stdout: bytes, stderr: bytes, sent: bool, host: str) -> bytes:
    """Raise when the become method refused or missed the password; return stderr without its prompt."""
    unlisted = _unlisted_su_prompt(become, stderr) if sent else None
    if unlisted:
        # ssh and local wait for a prompt they recognise and give up (unreachable); here the password was
        # already written, so the command may have run, but the setting is wrong all the same.
        raise AnsibleConnectionFailure(
            "%s: su asked %r, which the su become plugin's prompt_l10n (ansible_su_prompt_l10n) does not list: add "
            "it, or unset prompt_l10n to use the built-in translations (the password was written before su asked, "
            "so the command may have run)" % (host, unlisted)
        )
    if to_bytes(become.success) in stdout:
        return _without_prompt(become, stderr) if sent else stderr
    method, user = become.name, become.get_option("become_user") or "root"
    if sent and become.check_incorrect_password(stderr):
        raise AnsibleError(
            "%s: Incorrect %s password: %s refused the become password for %s; check %s"
            % (host, method, method, user, BECOME_SETTINGS)
        )
    if not sent and (become.check_missing_password(stderr) or become.check_password_prompt(stderr)):
        raise AnsibleError(
            "%s: Missing %s password: %s asks the connection user for a password to become %s; set %s, or "
            "connect as root (the agent's own user, which is never asked)"
            % (host, method, method, user, BECOME_SETTINGS)
        )
    return stderr


def _unlisted_su_prompt(become: t.Any, stderr: bytes) -> str | None:
    """su's prompt when it is one of su's own translations but not in the prompt_l10n the user configured."""
    if become.name != "su" or not become.get_option("prompt_l10n") or become.check_password_prompt(stderr):
        return None
    builtin = "|".join(re.escape(prompt) for prompt in getattr(become, "SU_PROMPT_LOCALIZATIONS", ()))
    match = re.search("(?:%s)\\s*[:\uff1a]" % builtin, to_text(stderr, errors="surrogate_or_replace"), re.IGNORECASE)
    return match.group(0) if builtin and match else None


def _without_prompt(become: t.Any, stderr: bytes) -> bytes:
    """stderr minus the one prompt the method printed before it read the password."""
    prompt = become.prompt if isinstance(become.prompt, str) else ""
    if prompt:
        return stderr.replace(to_bytes(prompt), b"", 1)
    # su's prompt is localised; its plugin recognises it by pattern ("Password:" and translations).
    first, newline, rest = stderr.partition(b"\n")
    if become.check_password_prompt(first):
        return re.sub(rb"^.*?(:|\xef\xbc\x9a) ?", b"", first, count=1) + newline + rest
    return stderr
