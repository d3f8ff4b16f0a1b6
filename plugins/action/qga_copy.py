# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_copy: put content or a controller file into the guest, idempotent by sha256, atomically."""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import re
import secrets
import typing as t

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec, pathinfo, posix
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.modules.qga_copy import (
    ARGUMENT_SPEC,
    MUTUALLY_EXCLUSIVE,
    REQUIRED_ONE_OF,
)
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase

NEW_FILE_MODE = 0o644
HELPER_TIMEOUT = 600.0
NO_LOG_DIFF = " [[ Diff output has been hidden because 'no_log: true' was specified for this result ]]\n"

# $1 temp file, $2 dest, $3 mode (octal, or ""), $4 owner[:group] for chown (or ""), $5 backup (1|0),
# $6 validate command line (or "").
FINALIZE_SCRIPT = r"""
tmp=$1 dest=$2
if [ -n "$4" ]; then chown -- "$4" "$tmp" || exit 20; fi
if [ -n "$3" ]; then chmod "$3" "$tmp" || exit 21; fi
if [ -n "$6" ]; then /bin/sh -c "$6" || exit 24; fi
if [ "$5" = 1 ] && [ -f "$dest" ]; then
    b="$dest.$$.$(date +%Y-%m-%d@%H:%M:%S)~"
    cp -p -- "$dest" "$b" || exit 22
    printf 'backup=%s\n' "$b"
fi
mv -f -- "$tmp" "$dest" || exit 23
"""
FINALIZE_ERRORS = {
    20: "cannot set the owner/group",
    21: "cannot set the mode",
    22: "cannot make the backup copy",
    23: "cannot move the new file into place",
    24: "the validate command failed",
}
# $1 path, $2 mode (or ""), $3 owner[:group] (or "").
ATTRIBUTES_SCRIPT = r"""
if [ -n "$3" ]; then chown -- "$3" "$1" || exit 20; fi
if [ -n "$2" ]; then chmod "$2" "$1" || exit 21; fi
"""
# Why a plain agent write is not enough: said when the agent blocks one of these commands.
NEEDS = ("vmguest.qga.qga_copy runs guest-exec (and guest-exec-status) in the guest to stat dest, set its mode and "
         "owner, validate it and move it into place atomically, and the guest-file commands to write it; "
         "vmguest.qga.qga_fetch needs only guest-file-open/read/close")


class ActionModule(QgaActionBase):
    """Write a file in the guest when its content or attributes differ."""

    ARGUMENT_SPEC = ARGUMENT_SPEC
    MUTUALLY_EXCLUSIVE = MUTUALLY_EXCLUSIVE
    REQUIRED_ONE_OF = REQUIRED_ONE_OF

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        dest = args["dest"]
        if not dest or not dest.startswith("/"):
            raise AnsibleActionFail("dest must be an absolute path in the guest, not %r" % dest)
        self._wanted_mode(args["mode"], NEW_FILE_MODE)  # a bad mode fails before anything is sent
        client.require("guest-exec", "guest-exec-status", "guest-file-open", "guest-file-write",
                       "guest-file-read", "guest-file-close", purpose=NEEDS)
        if guest_exec.guest_is_windows(client):
            raise AnsibleActionFail("vmguest.qga.qga_copy supports POSIX guests only; this guest runs Windows")
        local_path, cleanup = self._source_file(args)
        try:
            self._copy(client, args, result, local_path)
        finally:
            if cleanup:
                self._loader.cleanup_tmp_file(local_path)

    # -- source --------------------------------------------------------------------

    def _source_file(self, args: dict[str, t.Any]) -> tuple[str | None, bool]:
        """The local file to send (None for content) and whether it is a decrypted temp copy to clean up."""
        if args["src"] is None:
            return None, False
        try:
            found = self._find_needle("files", args["src"])
        except AnsibleError as exc:
            raise AnsibleActionFail("src %s: %s" % (args["src"], exc.message)) from None
        if os.path.isdir(found):
            raise AnsibleActionFail("src %s is a directory; vmguest.qga.qga_copy copies single files" % found)
        real = self._loader.get_real_file(found, decrypt=args["decrypt"])
        return real, real != found

    @staticmethod
    def _open_source(args: dict[str, t.Any], local_path: str | None) -> t.BinaryIO:
        if local_path is None:
            return io.BytesIO(to_bytes(args["content"], errors="surrogate_or_strict"))
        return open(to_bytes(local_path, errors="surrogate_or_strict"), "rb")

    def _digest(self, args: dict[str, t.Any], local_path: str | None) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        with self._open_source(args, local_path) as source:
            for block in iter(lambda: source.read(1024 * 1024), b""):
                digest.update(block)
                size += len(block)
        return digest.hexdigest(), size

    # -- the copy ------------------------------------------------------------------

    def _copy(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any],
              local_path: str | None) -> None:
        checksum, size = self._digest(args, local_path)
        dest = args["dest"]
        info = pathinfo.stat_path(client, dest, follow=args["follow"], timeout=HELPER_TIMEOUT)
        if info.kind == "directory":
            if args["src"] is None:
                raise AnsibleActionFail("dest %s is a directory; with content, dest must be a file path" % dest)
            dest = posixpath.join(dest, os.path.basename(args["src"].rstrip("/")))
            info = pathinfo.stat_path(client, dest, follow=args["follow"], timeout=HELPER_TIMEOUT)
            if info.kind == "directory":
                raise AnsibleActionFail("dest %s is a directory" % dest)
        elif dest.endswith("/"):
            raise AnsibleActionFail("the destination directory %s does not exist in the guest" % dest)
        if info.kind == "absent" and info.parent != "directory":
            parent = posixpath.dirname(info.path)
            raise AnsibleActionFail(
                "the destination directory %s %s in the guest" % (
                    parent, "does not exist" if info.parent == "missing" else "is not a directory")
            )
        if info.kind == "other":
            raise AnsibleActionFail("dest %s exists and is not a regular file" % info.path)
        target = info.path

        result.update(dest=target, checksum=checksum, size=size)
        if args["src"] is not None:
            result["src"] = args["src"]
        if info.exists and not args["force"]:
            result.update(changed=False, msg="dest exists and force is false: left alone",
                          checksum=info.sha256, size=info.size)
            self._report_attributes(result, info)
            return

        content_changed = not info.exists or info.sha256 != checksum
        base_mode = info.mode if info.exists and info.mode is not None else NEW_FILE_MODE
        want_mode = self._wanted_mode(args["mode"], base_mode)
        chown = self._chown_spec(args, info)
        mode_changed = want_mode is not None and (not info.exists or want_mode != info.mode)
        changed = content_changed or mode_changed or bool(chown)
        result["changed"] = changed

        if self.diff_mode and changed:
            result["diff"] = self._diff(client, args, info, target, local_path, content_changed, want_mode, chown)
        if self.check_mode or not changed:
            self._report_attributes(result, info, want_mode, args)
            return

        if content_changed:
            final_mode = want_mode if want_mode is not None else base_mode
            if not chown and info.exists and info.uid is not None:
                chown = "%d:%d" % (info.uid, info.gid or 0)
            backup = self._write(client, args, local_path, target, final_mode, chown, size)
            if backup:
                result["backup_file"] = backup
        else:
            self._set_attributes(client, target, want_mode if mode_changed else None, chown)
        after = pathinfo.stat_path(client, target, checksum=False, timeout=HELPER_TIMEOUT)
        self._report_attributes(result, after)

    @staticmethod
    def _wanted_mode(mode: t.Any, base_mode: int) -> int | None:
        if mode is None:
            return None
        if isinstance(mode, int):
            return mode
        text = str(mode).strip()
        if re.fullmatch(r"[0-7]{1,4}", text):
            return int(text, 8)
        try:
            fake_stat = os.stat_result((0o100000 | base_mode, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            return int(AnsibleModule._symbolic_mode_to_octal(fake_stat, text))
        except (ValueError, AttributeError, KeyError) as exc:
            raise AnsibleActionFail("mode %r is neither an octal mode like '0644' nor a symbolic one like "
                                    "'u=rw,g=r,o=r': %s" % (mode, exc)) from None

    @staticmethod
    def _chown_spec(args: dict[str, t.Any], info: pathinfo.GuestPath) -> str:
        """The chown argument needed to reach the wanted owner/group ("" when nothing changes)."""
        def differs(wanted: str | None, name: str | None, number: int | None) -> bool:
            if not wanted:
                return False
            if not info.exists:
                return True
            return wanted not in (name, str(number))

        owner = args["owner"] if differs(args["owner"], info.owner, info.uid) else ""
        group = args["group"] if differs(args["group"], info.group, info.gid) else ""
        if not owner and not group:
            return ""
        return owner + (":" + group if group else "")

    def _write(self, client: QgaClient, args: dict[str, t.Any], local_path: str | None, target: str,
               mode: int, chown: str, size: int) -> str:
        """Write a private temp file next to `target`, set its attributes, validate, back up, mv; return the backup."""
        directory, name = posixpath.split(target)
        tmp = posixpath.join(directory, ".%s.qga-%s.tmp" % (name, secrets.token_hex(6)))
        validate = ""
        if args["validate"]:
            if "%s" not in args["validate"]:
                raise AnsibleActionFail("validate must contain %%s (the file to check): %r" % args["validate"])
            validate = args["validate"].replace("%s", pathinfo.shell_quote(tmp))
        progress = self._transfer_progress(args, "PUT %s TO %s" % (args["src"] or "(content)", target), size)
        with self._open_source(args, local_path) as source:
            posix.write_private_file(client, tmp, source, posix.ROOT, progress=progress.update)
        progress.finish()
        try:
            finish = guest_exec.run(
                client,
                ["/bin/sh", "-c", FINALIZE_SCRIPT, "sh", tmp, target, "%o" % mode, chown,
                 "1" if args["backup"] else "0", validate],
                timeout=HELPER_TIMEOUT,
            )
            if finish.rc != 0:
                what = FINALIZE_ERRORS.get(finish.rc, "finishing the copy failed (exit %d)" % finish.rc)
                output = (finish.stderr or finish.stdout).decode("utf-8", "replace").strip()
                raise AnsibleActionFail("%s for %s: %s" % (what, target, output or "no error output"))
        except BaseException:
            posix.remove_quietly(client, tmp)
            raise
        for line in finish.stdout.decode("utf-8", "replace").splitlines():
            if line.startswith("backup="):
                return line[len("backup="):]
        return ""

    @staticmethod
    def _set_attributes(client: QgaClient, target: str, mode: int | None, chown: str) -> None:
        done = guest_exec.run(client, ["/bin/sh", "-c", ATTRIBUTES_SCRIPT, "sh", target,
                                       "" if mode is None else "%o" % mode, chown], timeout=HELPER_TIMEOUT)
        if done.rc != 0:
            what = FINALIZE_ERRORS.get(done.rc, "setting attributes failed (exit %d)" % done.rc)
            raise AnsibleActionFail("%s for %s: %s" % (what, target, done.stderr.decode("utf-8", "replace").strip()))

    @staticmethod
    def _report_attributes(result: dict[str, t.Any], info: pathinfo.GuestPath, want_mode: int | None = None,
                           args: dict[str, t.Any] | None = None) -> None:
        """Mode/owner/group as they are (or, in check mode, as they would be)."""
        mode = want_mode if want_mode is not None else (info.mode if info.exists else None)
        if mode is None and not info.exists:
            mode = NEW_FILE_MODE
        result["mode"] = "%04o" % mode if mode is not None else None
        result["owner"] = (args or {}).get("owner") or (info.owner if info.exists else "root")
        result["group"] = (args or {}).get("group") or (info.group if info.exists else "root")
        if info.exists and not (args or {}).get("owner"):
            result["uid"] = info.uid
        if info.exists and not (args or {}).get("group"):
            result["gid"] = info.gid

    # -- diff ------------------------------------------------------------------------

    def _diff(self, client: QgaClient, args: dict[str, t.Any], info: pathinfo.GuestPath, target: str,
              local_path: str | None, content_changed: bool, want_mode: int | None,
              chown: str) -> dict[str, t.Any] | list[dict[str, t.Any]]:
        diffs: list[dict[str, t.Any]] = []
        limit = C.MAX_FILE_SIZE_FOR_DIFF
        if content_changed:
            diff: dict[str, t.Any] = {"before_header": target,
                                      "after_header": local_path if local_path else "dynamically generated"}
            if not info.exists:
                diff["before"] = ""
            elif limit > 0 and (info.size or 0) > limit:
                diff["dst_larger"] = limit
            else:
                before = files.read_bytes(client, target, max_bytes=max(limit, info.size or 0) + 1)
                if b"\x00" in before:
                    diff["dst_binary"] = 1
                else:
                    diff["before"] = to_text(before, errors="surrogate_or_replace")
            with self._open_source(args, local_path) as source:
                after = source.read(limit + 1 if limit > 0 else -1)
            if limit > 0 and len(after) > limit:
                diff["src_larger"] = limit
            elif b"\x00" in after:
                diff["src_binary"] = 1
            else:
                diff["after"] = to_text(after, errors="surrogate_or_replace")
            if self._task.no_log:
                if "before" in diff:
                    diff["before"] = ""
                if "after" in diff:
                    diff["after"] = NO_LOG_DIFF
            diffs.append(diff)
        mode_changes = want_mode is not None and info.exists and want_mode != info.mode
        if info.exists and (mode_changes or chown):
            before_lines = ["mode: %s" % info.mode_string, "owner: %s" % info.owner, "group: %s" % info.group]
            after_lines = [
                "mode: %04o" % want_mode if mode_changes and want_mode is not None else before_lines[0],
                "owner: %s" % (args["owner"] or info.owner),
                "group: %s" % (args["group"] or info.group),
            ]
            diffs.append({"before_header": "%s (attributes)" % target, "after_header": "%s (attributes)" % target,
                          "before": "\n".join(before_lines) + "\n", "after": "\n".join(after_lines) + "\n"})
        return diffs[0] if len(diffs) == 1 else diffs
