# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_facts: Ansible facts (setup's names and shapes) from the guest agent's RPCs alone."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail
from ansible.utils.display import Display

from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.modules.qga_facts import ARGUMENT_SPEC
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase
from ansible_collections.vmguest.qga.plugins.plugin_utils.facts_gather import gather, show_unavailable

display = Display()


class ActionModule(QgaActionBase):
    """Gather facts; change nothing."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        try:
            gathered = gather(client, args)
        except ValueError as exc:
            raise AnsibleActionFail(str(exc)) from None
        show_unavailable(self._host_name(), gathered.unavailable)
        result["ansible_facts"] = gathered.ansible_facts
