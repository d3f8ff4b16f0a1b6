# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the packaging tests: the installed collection and running its command-line tools."""

from __future__ import annotations

import os
import subprocess
import typing as t
from dataclasses import dataclass

from ansible_run import _bin, ansible_env
from collection_path import REPO_ROOT

# Any HTTP(S) request fails at once: what runs with this environment must not need the network.
OFFLINE_ENV = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": "",
               "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


@dataclass(frozen=True)
class InstalledCollection:
    """vmguest.qga installed from its built tarball, and the environment that sees only that copy."""

    tarball: str
    collections_path: str
    env: dict[str, str]

    @property
    def root(self) -> str:
        """The installed collection's directory."""
        return os.path.join(self.collections_path, "ansible_collections", "vmguest", "qga")


@dataclass(frozen=True)
class Completed:
    """What a finished command printed."""

    stdout: str
    stderr: str


def run_ok(argv: t.Sequence[str], env: t.Mapping[str, str] | None = None, cwd: str | None = None) -> Completed:
    """Run a command; fail the test with its output unless it exits 0."""
    proc = subprocess.run(list(argv), env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, "%s failed (rc %d):\n%s\n%s" % (argv, proc.returncode, proc.stdout, proc.stderr)
    return Completed(proc.stdout, proc.stderr)


def build_and_install(work: str) -> InstalledCollection:
    """Build the tarball from this checkout and install it into a clean collections path."""
    run_ok([_bin("ansible-galaxy"), "collection", "build", REPO_ROOT, "--output-path", work, "--force"])
    tarballs = [name for name in os.listdir(work) if name.endswith(".tar.gz")]
    assert len(tarballs) == 1 and tarballs[0].startswith("vmguest-qga-"), tarballs
    target = os.path.join(work, "collections")
    run_ok([_bin("ansible-galaxy"), "collection", "install", os.path.join(work, tarballs[0]), "-p", target])
    env = ansible_env({"ANSIBLE_COLLECTIONS_PATH": target})
    env.pop("ANSIBLE_CALLBACKS_ENABLED")
    return InstalledCollection(tarball=os.path.join(work, tarballs[0]), collections_path=target, env=env)
