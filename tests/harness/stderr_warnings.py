# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What an Ansible command printed on stderr that this collection is answerable for.

The "prints no warnings" checks must fail on a warning our plugins, docs or roles cause, and not
on a Python warning that a third-party import prints for every Ansible command whatever the
collection does (ansible-core 2.19 importing cryptography's DSA, for one). Python's warnings
module prints `FILE:LINE: CATEGORY: MESSAGE`, then the source line indented; FILE is where the
warning points, the caller's code for a deprecation (stacklevel). A record pointing into a file
outside this collection is dropped. Everything else stays: Ansible's [WARNING] and [DEPRECATION
WARNING] lines, tracebacks, and any Python warning that points into our own code.
"""

from __future__ import annotations

import re

# "/path/file.py:18: CryptographyDeprecationWarning: DSA is deprecated ..."
PYTHON_WARNING = re.compile(r"^(?P<file>\S.*?\.py):(?P<line>\d+): (?P<category>[A-Za-z_][\w.]*(?:Warning|Error)): ")
OUR_PATH_MARKERS = ("/ansible_collections/vmguest/qga/",)


def is_ours(path: str, own_roots: tuple[str, ...] = ()) -> bool:
    """Whether a file a warning points to belongs to this collection (any installed copy, or a root given)."""
    return any(marker in path for marker in OUR_PATH_MARKERS) or any(
        path == root or path.startswith(root.rstrip("/") + "/") for root in own_roots
    )


def our_stderr(stderr: str, own_roots: tuple[str, ...] = ()) -> str:
    """`stderr` without the Python warning records that point into third-party files."""
    kept: list[str] = []
    skipping_source = False
    for line in stderr.splitlines(keepends=True):
        match = PYTHON_WARNING.match(line)
        if match:
            skipping_source = not is_ours(match.group("file"), own_roots)
            if not skipping_source:
                kept.append(line)
            continue
        if skipping_source and line.startswith((" ", "\t")):
            continue  # the warned-about source line, printed indented under its record
        skipping_source = False
        kept.append(line)
    return "".join(kept)
