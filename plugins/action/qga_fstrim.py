# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_fstrim: guest-fstrim, with the trimmed bytes per mount point."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.modules.qga_fstrim import ARGUMENT_SPEC
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase


class ActionModule(QgaActionBase):
    """Trim the guest filesystems (never in check mode)."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        minimum = int(args["minimum"])
        if minimum < 0:
            raise AnsibleActionFail("minimum must be 0 or a number of bytes, not %d" % minimum)
        client.require("guest-fstrim")
        if self.check_mode:
            result.update(skipped=True, msg="check mode: guest-fstrim was not run (nothing was trimmed)")
            return
        reply = client.execute("guest-fstrim", {"minimum": minimum}, timeout=float(args["timeout"]))
        paths = list(reply.get("paths") or [])
        trimmed: dict[str, int] = {}
        errors: dict[str, str] = {}
        for entry in paths:
            path = str(entry.get("path"))
            if entry.get("error"):
                errors[path] = str(entry["error"])
            else:
                trimmed[path] = int(entry.get("trimmed") or 0)
        total = sum(trimmed.values())
        result.update(paths=paths, trimmed=trimmed, trimmed_bytes=total, errors=errors, changed=total > 0)
        warnings = result.setdefault("warnings", []) if errors else []
        for path, error in sorted(errors.items()):
            warnings.append("%s: %s could not be trimmed: %s" % (self._host_name(), path, error))
