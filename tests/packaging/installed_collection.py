# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the packaging tests: the installed collection and running its command-line tools."""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sys
import typing as t
from dataclasses import dataclass

from ansible_run import ansible_env
from collection_path import REPO_ROOT

# Any HTTP(S) request fails at once: what runs with this environment must not need the network.
OFFLINE_ENV = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": "",
               "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}

# The quick start's install commands are run from there as written (documented_commands), so the guide and the
# tests cannot drift: each of its blocks marked `.. tested-commands: NAME` is read here.
QUICK_START = os.path.join(REPO_ROOT, "docs", "docsite", "rst", "quickstart.rst")
TRAILING_COMMENT = re.compile(r"\s+#.*$")


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


def documented_commands(block: str) -> list[str]:
    """The commands of the quick start's shell block marked `.. tested-commands: BLOCK`, without comments."""
    with open(QUICK_START) as handle:
        lines = handle.read().splitlines()
    markers = [index for index, line in enumerate(lines) if line.split()[:3] == ["..", "tested-commands:", block]]
    assert len(markers) == 1, "quickstart.rst: %d blocks marked `.. tested-commands: %s`" % (len(markers), block)
    directive = next((index for index in range(markers[0] + 1, len(lines)) if lines[index].strip()), len(lines))
    assert lines[directive:directive + 1] == [".. code-block:: shell"], "quickstart.rst:%d: a shell block expected" % (
        directive + 1)
    commands: list[str] = []
    for line in lines[directive + 1:]:
        if line.strip() and not line.startswith(" "):
            break
        command = TRAILING_COMMENT.sub("", line).strip()
        if command and not command.startswith("#"):
            commands.append(command)
    assert commands, "quickstart.rst: the block `%s` has no command" % block
    return commands


def shell_env(collections_path: str) -> dict[str, str]:
    """The environment a documented command runs in: Ansible's commands of this venv first on PATH, this
    collections path as the user's, no network."""
    env = ansible_env({"ANSIBLE_COLLECTIONS_PATH": collections_path, **OFFLINE_ENV})
    env.pop("ANSIBLE_CALLBACKS_ENABLED")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", os.defpath)
    return env


def run_documented(command: str, env: t.Mapping[str, str], cwd: str) -> Completed:
    """Run a command of the guide with bash, as a user would type it."""
    return run_ok(["bash", "-c", command], env=env, cwd=cwd)


def build_and_install(work: str) -> InstalledCollection:
    """Build the tarball from this checkout and install it into a clean collections path without network, with
    the quick start's ansible-galaxy commands for a controller without network (block `offline`).

    The guide builds in the checkout (the collection argument defaults to `.`); here the checkout is given as that
    argument and the build runs in `work`, so that the tarball is written there and not into the checkout.
    """
    build, install = [command for command in documented_commands("offline") if command.startswith("ansible-galaxy ")]
    assert build.startswith("ansible-galaxy collection build ") and "--offline" in install.split(), (build, install)
    target = os.path.join(work, "collections")
    env = shell_env(target)
    run_documented("%s %s" % (build, shlex.quote(REPO_ROOT)), env, work)
    tarballs = glob.glob(os.path.join(work, "**", "*.tar.gz"), recursive=True)
    assert len(tarballs) == 1 and os.path.basename(tarballs[0]).startswith("vmguest-qga-"), tarballs
    run_documented(install, env, work)
    env = ansible_env({"ANSIBLE_COLLECTIONS_PATH": target})
    env.pop("ANSIBLE_CALLBACKS_ENABLED")
    return InstalledCollection(tarball=tarballs[0], collections_path=target, env=env)
