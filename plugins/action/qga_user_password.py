# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_user_password: set a guest password with guest-set-user-password, idempotent where it can tell.

Secrets: the password (and every hash) stays in local variables; it appears in no
result key, warning, message or log line. The client logs command names and sizes only.
"""

from __future__ import annotations

import base64
import hmac
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec, posix
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import (
    QgaCommandError,
    QgaError,
    QgaFileError,
    QgaUserError,
)
from ansible_collections.vmguest.qga.plugins.modules.qga_user_password import ARGUMENT_SPEC
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase
from ansible_collections.vmguest.qga.plugins.plugin_utils.passwd_crypt import (
    describe_scheme,
    holds_no_password,
    shadow_field,
    verify_password,
)

SET = "guest-set-user-password"
FILE_READ = ("guest-file-open", "guest-file-read", "guest-file-close")
EXEC = ("guest-exec", "guest-exec-status")
SHADOW = "/etc/shadow"
ALWAYS = "always"
PASSWD_FILE = "/etc/passwd"  # noqa: S105 (a path, not a password)


class ActionModule(QgaActionBase):
    """Set a user's password when it differs (or always)."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        user = args["user"]
        crypted = bool(args["crypted"])
        result["user"] = user
        self._check_input(user, args["password"], crypted)
        client.require(SET)
        windows = guest_exec.guest_is_windows(client)
        if windows and crypted:
            raise AnsibleActionFail("crypted passwords are not supported by the agent on Windows guests; "
                                    "give the plain password (crypted: false)")
        warnings: list[str] = []
        if not windows:
            self._check_user_exists(client, user, warnings)

        always = args["update_password"] == ALWAYS
        same: bool | None = None
        if always:
            same = False
        elif windows:
            warnings.append("the password of %s cannot be compared on a Windows guest (the agent cannot read "
                            "the password database); it is set and reported changed" % user)
        else:
            same = self._compare(client, user, args["password"], crypted, warnings)
        verified = same is not None and not always
        changed = not same
        result.update(changed=changed, verified=verified)
        if warnings:
            result["warnings"] = warnings
        if self.diff_mode and changed:
            result["diff"] = {
                "before_header": "%s: password of %s" % (self._host_name(), user),
                "after_header": "%s: password of %s" % (self._host_name(), user),
                "before": "password: current\n",
                "after": "password changed\n" if verified or always
                else "password changed (not compared: see the warnings)\n",
            }
        if self.check_mode or not changed:
            return
        encoded = base64.b64encode(args["password"].encode("utf-8")).decode("ascii")
        try:
            client.execute(SET, {"username": user, "password": encoded, "crypted": crypted})
        except QgaCommandError as exc:
            # exc carries the agent's error text only, never the arguments.
            raise AnsibleActionFail("%s: setting the password of %s failed: %s (command %s)"
                                    % (self._host_name(), user, exc.desc, SET)) from None
        finally:
            del encoded
        if verified:
            self._confirm(client, user, args["password"], crypted)

    @staticmethod
    def _check_input(user: str, password: str, crypted: bool) -> None:
        if not user or any(char in user for char in ":\n\r") or user != user.strip():
            raise AnsibleActionFail("user %r is not a valid user name" % (user,))
        if not password:
            raise AnsibleActionFail("password is empty; to lock or clear a password use the user module")
        if "\n" in password or "\r" in password:
            raise AnsibleActionFail("password must not contain a line break")
        if crypted and (":" in password or " " in password
                        or (not password.startswith("$") and len(password) != 13)):
            raise AnsibleActionFail("with crypted: true, password must be a crypt(3) hash such as $6$salt$hash or "
                                    "$y$...; this value is not one (set crypted: false for a plain password)")

    def _check_user_exists(self, client: QgaClient, user: str, warnings: list[str]) -> None:
        """Fail clearly for an unknown user (getent when exec is allowed, else /etc/passwd)."""
        info = client.info()
        if all(info.enabled(command) for command in EXEC):
            try:
                posix.lookup_user(client, user)
            except QgaUserError as exc:
                raise AnsibleActionFail(
                    "%s: the guest has no user %r (%s)" % (self._host_name(), user, exc.reason)
                ) from None
            return
        if all(info.enabled(command) for command in FILE_READ):
            try:
                text = files.read_bytes(client, PASSWD_FILE).decode("utf-8", "replace")
            except QgaFileError as exc:
                warnings.append("could not check that user %s exists: %s" % (user, exc.reason))
                return
            if not any(line.split(":", 1)[0] == user for line in text.splitlines()):
                raise AnsibleActionFail(
                    "%s: the guest has no user %r (not in %s)" % (self._host_name(), user, PASSWD_FILE)
                )
            return
        warnings.append("could not check that user %s exists: the agent allows neither guest-exec nor "
                        "guest-file-read" % user)

    def _current_hash(self, client: QgaClient, user: str, warnings: list[str]) -> str | None:
        """The user's password field in /etc/shadow, None (with a warning) when it cannot be read."""
        info = client.info()
        disabled = [command for command in FILE_READ if not info.enabled(command)]
        if disabled:
            warnings.append("the current password of %s cannot be read: the agent has %s disabled; the password "
                            "is set and reported changed" % (user, ", ".join(disabled)))
            return None
        try:
            shadow = files.read_bytes(client, SHADOW).decode("utf-8", "replace")
        except QgaError as exc:
            warnings.append("the current password of %s cannot be read (%s); the password is set and reported "
                            "changed" % (user, exc.reason))
            return None
        field = shadow_field(shadow, user)
        del shadow
        if field is None:
            warnings.append("%s has no entry in %s (a network user?); the password is set and reported changed"
                            % (user, SHADOW))
        return field

    def _compare(self, client: QgaClient, user: str, password: str, crypted: bool,
                 warnings: list[str]) -> bool | None:
        """Whether the current password is the wanted one; None when that cannot be told."""
        current = self._current_hash(client, user, warnings)
        if current is None:
            return None
        if crypted:
            return hmac.compare_digest(current.encode("utf-8"), password.encode("utf-8"))
        if holds_no_password(current):
            return False
        same, why = verify_password(password, current)
        if same is None:
            warnings.append("the current password of %s uses %s, which this controller cannot check (%s); the "
                            "password is set and reported changed" % (user, describe_scheme(current), why))
        return same

    def _confirm(self, client: QgaClient, user: str, password: str, crypted: bool) -> None:
        """Read the new hash back: the agent must really have changed it."""
        warnings: list[str] = []
        same = self._compare(client, user, password, crypted, warnings)
        if same is False:
            raise AnsibleActionFail("%s: the agent reported success, but the password of %s in %s does not match "
                                    "the new one" % (self._host_name(), user, SHADOW))
