# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_fetch: stream a guest file to the controller, sha256-checked and idempotent."""

from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec, pathinfo
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaFileError
from ansible_collections.vmguest.qga.plugins.modules.qga_fetch import ARGUMENT_SPEC
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase

HELPER_TIMEOUT = 600.0


def local_sha256(path: str) -> str | None:
    """The sha256 of a local file, None when there is none."""
    if not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(to_bytes(path, errors="surrogate_or_strict"), "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class ActionModule(QgaActionBase):
    """Fetch one guest file to the controller."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        src = args["src"]
        result["file"] = src
        if not src.startswith("/"):
            raise AnsibleActionFail("src must be an absolute path in the guest, not %r" % src)
        client.require("guest-file-open", "guest-file-read", "guest-file-close")
        dest = self._local_dest(src, args)

        remote_sha: str | None = None
        remote_size: int | None = None
        can_exec = client.supports("guest-exec") and client.supports("guest-exec-status")
        if can_exec and not guest_exec.guest_is_windows(client):
            info = pathinfo.stat_path(client, src, follow=True, timeout=HELPER_TIMEOUT)
            if not info.exists:
                self._missing(args, result, "the guest file %s does not exist" % src)
                return
            if info.kind == "directory":
                self._missing(args, result, "%s is a directory in the guest; qga_fetch fetches single files" % src)
                return
            if info.kind != "file":
                raise AnsibleActionFail("%s is not a regular file in the guest" % src)
            remote_sha, remote_size = info.sha256, info.size

        before = local_sha256(dest)
        if remote_sha is not None and before == remote_sha:
            result.update(changed=False, dest=dest, checksum=before, remote_checksum=remote_sha,
                          size=os.path.getsize(dest))
            return
        if self.check_mode and remote_sha is not None:
            result.update(changed=True, dest=dest, checksum=before, remote_checksum=remote_sha)
            return
        self._transfer(client, src, dest, remote_sha, remote_size, before, args, result)

    def _local_dest(self, src: str, args: dict[str, t.Any]) -> str:
        """Where the file goes on the controller (fetch's rules)."""
        dest = args["dest"]
        if args["flat"]:
            if os.path.isdir(dest) and not dest.endswith(os.sep):
                raise AnsibleActionFail(
                    "dest %s is an existing directory; end it with / to fetch src into that directory" % dest
                )
            if dest.endswith(os.sep):
                dest = os.path.join(dest, posixpath.basename(src))
            if not os.path.isabs(dest):
                dest = self._loader.path_dwim(dest)
            dest = os.path.normpath(dest)
        else:
            base = os.path.normpath(self._loader.path_dwim(dest))
            host = str(self.task_vars.get("inventory_hostname") or self._host_name())
            dest = os.path.normpath("%s/%s/%s" % (base, host, src))
            if not dest.startswith(base + os.sep):
                raise AnsibleActionFail("src %s would be stored outside of dest %s" % (src, base))
        if os.path.isdir(dest):
            raise AnsibleActionFail("the local path %s is an existing directory" % dest)
        return dest

    def _missing(self, args: dict[str, t.Any], result: dict[str, t.Any], reason: str) -> None:
        result["changed"] = False
        if args["fail_on_missing"]:
            result["failed"] = True
            result["msg"] = reason
        else:
            result["msg"] = "%s, not transferring, ignored" % reason

    def _transfer(self, client: QgaClient, src: str, dest: str, remote_sha: str | None, remote_size: int | None,
                  before: str | None, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        """Stream into a temp file next to dest; it replaces dest only when complete and verified."""
        directory = os.path.dirname(dest) or "."
        if not self.check_mode:
            os.makedirs(directory, exist_ok=True)
        handle, partial = tempfile.mkstemp(prefix=".qga-fetch-", dir=directory if os.path.isdir(directory) else None)
        progress = self._transfer_progress(args, "FETCH %s TO %s" % (src, dest), remote_size)
        try:
            with os.fdopen(handle, "wb") as sink:
                try:
                    moved = files.read_file(client, src, sink, progress=progress.update)
                except QgaFileError as exc:
                    if "No such file" in str(exc):
                        self._missing(args, result, "the guest file %s does not exist" % src)
                        return
                    if "Is a directory" in str(exc):
                        self._missing(args, result, "%s is a directory in the guest; qga_fetch fetches single "
                                                    "files" % src)
                        return
                    raise
            progress.finish()
            if args["validate_checksum"] and remote_sha is not None and moved.sha256 != remote_sha:
                result.update(failed=True, msg="checksum mismatch: the guest file changed while it was fetched "
                                               "(sha256 %s before, %s transferred)" % (remote_sha, moved.sha256),
                              dest=dest, checksum=moved.sha256, remote_checksum=remote_sha)
                return
            changed = moved.sha256 != before
            result.update(changed=changed, dest=dest, checksum=moved.sha256, remote_checksum=moved.sha256,
                          size=moved.size)
            if changed and not self.check_mode:
                os.chmod(partial, 0o644 & ~_umask())
                os.replace(partial, dest)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
