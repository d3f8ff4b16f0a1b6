# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make `ansible_collections.vmguest.qga` importable from a plain checkout."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collection_root() -> str:
    """A directory holding ansible_collections/vmguest/qga -> this checkout (a symlink in the temp dir)."""
    parts = REPO_ROOT.split(os.sep)
    if parts[-3:-1] == ["ansible_collections", "vmguest"] and parts[-1] == "qga":
        return os.sep.join(parts[:-3])
    # One root per checkout: two checkouts tested at once must not flip each other's link.
    checkout = hashlib.sha256(REPO_ROOT.encode()).hexdigest()[:12]
    root = os.path.join(tempfile.gettempdir(), "vmguest-qga-collections-%d-%s" % (os.getuid(), checkout))
    link = os.path.join(root, "ansible_collections", "vmguest", "qga")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.realpath(link) != REPO_ROOT:
        tmp_link = "%s.%d" % (link, os.getpid())
        os.symlink(REPO_ROOT, tmp_link)
        os.replace(tmp_link, link)
    return root


def add_to_sys_path() -> str:
    """Put the collection root first on sys.path; return it."""
    root = collection_root()
    if root not in sys.path:
        sys.path.insert(0, root)
    return root
