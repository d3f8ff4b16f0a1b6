# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_ssh_keys: a guest user's authorized keys through guest-ssh-*-authorized-keys."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaCommandError
from ansible_collections.vmguest.qga.plugins.module_utils.qga.ssh_keys import (
    InvalidKeyError,
    PublicKey,
    parse_existing,
    parse_keys,
    preview,
)
from ansible_collections.vmguest.qga.plugins.modules.qga_ssh_keys import ARGUMENT_SPEC
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase

GET = "guest-ssh-get-authorized-keys"
ADD = "guest-ssh-add-authorized-keys"
REMOVE = "guest-ssh-remove-authorized-keys"


def normalized(line: str) -> str:
    """A line as parse_key writes it (single spaces between fields), or the line itself when it is no key."""
    key = parse_existing(line)
    return key.line if key is not None else line.strip()


def identity(line: str) -> tuple[str, str] | None:
    """The (type, key data) of a line, None when it is no key."""
    key = parse_existing(line)
    return key.identity if key is not None else None


class ActionModule(QgaActionBase):
    """Make a user's authorized keys present, absent or exactly the given ones."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        user = args["user"]
        state = args["state"]
        result["user"] = user
        if not user or not user.strip():
            raise AnsibleActionFail("user is empty")
        wanted = self._wanted(args["keys"], state)
        client.require(GET, *((ADD,) if state in ("present", "exclusive") else ()),
                       *((REMOVE,) if state in ("present", "absent") else ()))
        before = self._current(client, user)

        to_remove: list[str] = []
        to_add: list[str] = []
        before_normalized = {normalized(line) for line in before}
        if state == "present":
            for key in wanted:
                if key.line in before_normalized:
                    continue
                to_remove.extend(line for line in before if identity(line) == key.identity and line not in to_remove)
                to_add.append(key.line)
            after = [line for line in before if line not in to_remove] + to_add
        elif state == "absent":
            identities = {key.identity for key in wanted}
            to_remove = [line for line in before if identity(line) in identities]
            after = [line for line in before if line not in to_remove]
        else:
            after = [key.line for key in wanted]
            if sorted(after) != sorted(normalized(line) for line in before):
                kept = {key.line for key in wanted}
                to_remove = [line for line in before if normalized(line) not in kept]
                to_add = [line for line in after if line not in before_normalized]
                if not to_remove and not to_add:
                    to_remove = list(before)  # duplicates collapse: rewrite
                    to_add = list(after)
        changed = bool(to_remove or to_add)
        result.update(changed=changed, keys=after, added=to_add, removed=to_remove)
        if self.diff_mode and changed:
            result["diff"] = {
                "before_header": "%s: authorized keys of %s" % (self._host_name(), user),
                "after_header": "%s: authorized keys of %s" % (self._host_name(), user),
                "before": "".join(line + "\n" for line in before),
                "after": "".join(line + "\n" for line in after),
            }
        if self.check_mode or not changed:
            return
        try:
            if state == "exclusive":
                client.execute(ADD, {"username": user, "keys": after, "reset": True})
            else:
                if to_remove:
                    client.execute(REMOVE, {"username": user, "keys": to_remove})
                if to_add:
                    client.execute(ADD, {"username": user, "keys": to_add})
        except QgaCommandError as exc:
            raise self._user_error(exc, user) from None
        self._verify(client, user, to_add, to_remove, result)

    @staticmethod
    def _wanted(lines: list[str], state: str) -> list[PublicKey]:
        """Parse and check the given keys; drop exact repeats, refuse one key given twice differently."""
        try:
            keys = parse_keys(list(lines))
        except InvalidKeyError as exc:
            raise AnsibleActionFail(str(exc)) from None
        unique: list[PublicKey] = []
        seen: dict[tuple[str, str], int] = {}
        for index, key in enumerate(keys):
            first = seen.get(key.identity)
            if first is None:
                seen[key.identity] = index
                unique.append(key)
            elif keys[first].line != key.line and state != "absent":
                raise AnsibleActionFail(
                    "keys[%d] and keys[%d] are the same key (%s) with different options or comments; give it once"
                    % (first, index, preview(key.key_type + " " + key.blob))
                )
        return unique

    def _current(self, client: QgaClient, user: str) -> list[str]:
        """The user's authorized keys; none when the file does not exist yet."""
        try:
            reply = client.execute(GET, {"username": user})
        except QgaCommandError as exc:
            if "No such file" in exc.desc:
                return []
            raise self._user_error(exc, user) from None
        return [str(line) for line in reply.get("keys", [])]

    def _user_error(self, exc: QgaCommandError, user: str) -> Exception:
        if "failed to lookup user" in exc.desc or "failed to get passwd entry" in exc.desc:
            return AnsibleActionFail("%s: the guest has no user %r (%s: %s)" % (self._host_name(), user, exc.command,
                                                                                exc.desc))
        return exc

    def _verify(self, client: QgaClient, user: str, added: list[str], removed: list[str],
                result: dict[str, t.Any]) -> None:
        """Read the keys back: every added line must be there, every removed line gone."""
        now = self._current(client, user)
        now_normalized = {normalized(line) for line in now}
        missing = [line for line in added if line not in now_normalized]
        left = [line for line in removed if line in now and normalized(line) not in {normalized(a) for a in added}]
        result["keys"] = now
        if missing or left:
            result["failed"] = True
            result["msg"] = "the agent did not apply every change to the authorized keys of %s: %s" % (
                user, "; ".join(["not added: %s" % preview(line) for line in missing]
                                + ["not removed: %s (stored with extra whitespace?)" % preview(line)
                                   for line in left]))
