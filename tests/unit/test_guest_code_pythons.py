# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The code that runs in the guest (plugins/module_utils/guest) on the guest Pythons it supports.

It compiles on the oldest (3.6) and the newest, the worker imports on the oldest (a newer standard library call
at import time fails there), and it imports nothing but the standard library. The interpreters are pyenv's
(tests/harness/guest_pythons.py); nothing is written in the tree.
"""

from __future__ import annotations

import ast
import glob
import os
import subprocess
import sys

import pytest
from guest_pythons import NEWEST_GUEST_PYTHON, OLDEST_GUEST_PYTHON, pyenv_python

GUEST_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "module_utils", "guest")
# Compile each file named on the command line, as the interpreter would before running it.
COMPILE = """
import sys
for path in sys.argv[1:]:
    with open(path, "rb") as handle:
        compile(handle.read(), path, "exec", dont_inherit=True)
"""
IMPORT_WORKER = """
import sys
sys.path.insert(0, sys.argv[1])
import executor_worker
print(executor_worker.__file__)
"""


def guest_sources() -> list[str]:
    sources = sorted(glob.glob(os.path.join(GUEST_DIR, "**", "*.py"), recursive=True))
    assert os.path.join(GUEST_DIR, "executor_worker.py") in sources
    return sources


@pytest.mark.parametrize("minor", [OLDEST_GUEST_PYTHON, NEWEST_GUEST_PYTHON])
def test_guest_code_compiles(minor: str) -> None:
    python = pyenv_python(minor)
    # -W error: a SyntaxWarning (an invalid escape, `is` with a literal) is tomorrow's SyntaxError.
    compiled = subprocess.run(
        [python, "-I", "-W", "error", "-c", COMPILE, *guest_sources()],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert compiled.returncode == 0, "the guest code does not compile with %s:\n%s" % (python, compiled.stderr)


def test_worker_imports_on_the_oldest_guest_python() -> None:
    python = pyenv_python(OLDEST_GUEST_PYTHON)
    # -B: no __pycache__ in the tree; -I: only the standard library and the worker's own folder.
    imported = subprocess.run(
        [python, "-I", "-B", "-c", IMPORT_WORKER, os.path.abspath(GUEST_DIR)], capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert imported.returncode == 0, "the worker does not import with %s:\n%s" % (python, imported.stderr)
    assert imported.stdout.strip() == os.path.join(os.path.abspath(GUEST_DIR), "executor_worker.py")


@pytest.mark.parametrize("path", guest_sources(), ids=os.path.basename)
def test_guest_code_imports_only_the_standard_library(path: str) -> None:
    with open(path, "rb") as handle:
        tree = ast.parse(handle.read(), path)
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= sys.stdlib_module_names, "not the standard library: %s" % sorted(
        imported - sys.stdlib_module_names
    )
