# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Code here runs inside the guest under the guest's Python (>= 3.6, standard library only); nothing here may
import controller code.

The controller imports it too (plugins/plugin_utils/executor.py sends the worker's source to the guest and
computes what the worker computes alike). tests/unit/test_guest_code_pythons.py compiles every file here with
the oldest and the newest guest Python, imports the worker with the oldest and checks the imports.
"""
