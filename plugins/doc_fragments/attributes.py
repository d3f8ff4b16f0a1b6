# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """The attributes every vmguest.qga module shares (each sets check_mode and diff_mode itself)."""

    DOCUMENTATION = r"""
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the
      controller.
    support: full
    details: The whole module is its action plugin; nothing is copied to or run by Python in the guest.
  async:
    description: Supports being used with the C(async) keyword.
    support: none
    details: The work runs on the controller, which keeps the agent channel for the task.
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details: The guest's; the controller needs only Python. Linux guests are tested; other guests work as far as
      their agent implements and allows the commands the module uses (the error names any that is missing).
"""

    HYPERVISOR = r"""
attributes:
  platform:
    details: The hypervisor that runs the VM (its QMP socket); the guest is not involved.
"""
