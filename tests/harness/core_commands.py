# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Commands as the installed ansible-core hands them to a connection, for unit tests of what recognises them.

Built with its own sh shell plugin and wrapped as its ActionBase._low_level_execute_command wraps them, so a
change of their form in a core release fails the tests that run on that release.
"""

from __future__ import annotations

import inspect
import shlex
import typing as t

from ansible.plugins.action import ActionBase
from ansible.plugins.loader import get_shell_plugin, init_plugin_loader
from ansible.plugins.shell import ShellBase
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

# ansible-core up to 2.20 appends `&& sleep 0` to commands of the default executable (an old ssh workaround).
APPENDS_SLEEP = "'sleep 0'" in inspect.getsource(ActionBase._low_level_execute_command)


def sh_plugin() -> t.Iterator[ShellBase]:
    """The sh shell plugin, for a module-scoped fixture: it removes the collection finder the loader installs
    (it would take over imports of this collection's modules not imported yet in later tests of the process)."""
    init_plugin_loader()
    yield get_shell_plugin(shell_type="sh", executable="/bin/sh")
    _AnsibleCollectionFinder._remove()


def low_level(shell: ShellBase, cmd: str) -> str:
    """What ActionBase._low_level_execute_command hands the connection for `cmd` (default executable)."""
    return "/bin/sh -c " + shlex.quote(shell.append_command(cmd, "sleep 0") if APPENDS_SLEEP else cmd)
