# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """The progress option of the modules that move files (qga_copy, qga_fetch)."""

    DOCUMENTATION = r"""
options:
  progress_after:
    description:
      - Seconds the transfer runs before it prints progress lines at C(-v) and above (bytes done and total,
        rate, time left), at most one every 5 seconds, and a last line with its size, time and rate. Shorter
        transfers print nothing. V(0) reports every transfer.
      - Defaults to the O(vmguest.qga.qga#connection:progress_after) option (C(ansible_qga_progress_after)) when
        the task runs over that connection, else V(3).
    type: float
    version_added: 0.1.0
"""
