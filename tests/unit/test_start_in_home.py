# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Commands start in the user's home, else the temp dir, else / (posix.in_home), run by the real /bin/sh.

That a task really starts there over the connection: tests/connection/test_connection_host.py.
"""

from __future__ import annotations

import subprocess
import typing as t

import pytest

from ansible_collections.vmguest.qga.plugins.module_utils.qga import posix


def pwd_in(env: dict[str, str], cwd: str = "/") -> str:
    argv = posix.in_home('pwd; echo "$0"')
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(("home", "tmpdir", "expected"), [
    ("home", None, "home"),
    ("home", "tmp", "home"),
    ("/nonexistent/home", "tmp", "tmp"),
    ("/nonexistent/home", None, "/tmp"),
    ("/nonexistent/home", "/nonexistent/tmp", "/tmp"),
])
def test_the_first_usable_of_home_tmpdir_and_tmp(home: str, tmpdir: str | None, expected: str, tmp_path: t.Any) -> None:
    for name in ("home", "tmp", "elsewhere"):
        (tmp_path / name).mkdir()

    def path(value: str) -> str:
        return value if value.startswith("/") else str(tmp_path / value)

    env = {"PATH": "/usr/bin:/bin", "HOME": path(home)}
    if tmpdir is not None:
        env["TMPDIR"] = path(tmpdir)
    assert pwd_in(env, cwd=str(tmp_path / "elsewhere")).splitlines() == [path(expected), "/bin/sh"]
