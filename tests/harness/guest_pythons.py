# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The guest Pythons tests run guest code with: pyenv's interpreters on this machine.

CI must have them: under CI=true a test whose interpreter is missing fails, naming the `pyenv install` that adds
it; elsewhere it is skipped with that reason.
"""

from __future__ import annotations

import glob
import os
import re

import pytest
from ansible.module_utils.basic import _PY_MIN

PYENV_ROOT = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
# The worker's own floor (plugins/module_utils/guest: python3 >= 3.6, standard library only) and the newest.
OLDEST_GUEST_PYTHON = "3.6"
NEWEST_GUEST_PYTHON = "3.13"
# The oldest target Python of the installed ansible-core (3.8 for 2.19 and 2.20, 3.9 from 2.21): the
# oldest a task can run on. (A private constant of its module_utils: what its modules check on the target.)
OLDEST_TARGET_PYTHON = "%d.%d" % _PY_MIN
# What `pyenv install` is told when one is missing: the releases CI's machine has.
RELEASES = {"3.6": "3.6.15", "3.7": "3.7.16", "3.8": "3.8.18", "3.9": "3.9.18", "3.13": "3.13.0"}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pyenv_python(minor: str) -> str:
    """pyenv's newest `pythonMINOR` binary (minor: "3.6"); the test fails under CI=true without one, else skips."""
    releases = []
    for binary in glob.glob(os.path.join(PYENV_ROOT, "versions", minor + ".*", "bin", "python" + minor)):
        release = os.path.basename(os.path.dirname(os.path.dirname(binary)))
        if re.fullmatch(r"\d+\.\d+\.\d+", release) and os.access(binary, os.X_OK):
            releases.append((tuple(int(part) for part in release.split(".")), binary))
    if releases:
        return max(releases)[1]
    message = "Python %s is missing: no %s/versions/%s.*/bin/python%s; install it with `pyenv install %s`" % (
        minor, PYENV_ROOT, minor, minor, RELEASES.get(minor, minor),
    )
    if in_ci():
        pytest.fail(message + " (CI=true: a missing guest Python fails, it is not skipped)", pytrace=False)
    pytest.skip(message)
