# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The quick start's install from a checkout, run as written; the README, the demo and examples/README.md show it.

The offline install (build a tarball, install it with --offline) is run by the `installed` fixture
(installed_collection.build_and_install), which the ansible-doc checks of test_galaxy_build.py use.
"""

from __future__ import annotations

import os
import typing as t

import yaml
from collection_path import REPO_ROOT
from hostagent import HostAgent
from installed_collection import documented_commands, run_documented, shell_env

# The agent socket of the quick start's ad hoc command; the test puts the host agent's channel in its place.
DOCUMENTED_CHANNEL = "channel=unix:/run/vm/qga.sock"


def read(*path: str) -> str:
    """A file of this checkout."""
    with open(os.path.join(REPO_ROOT, *path)) as handle:
        return handle.read()


def requirement_files(command: str) -> list[str]:
    """The files a pip command reads its requirements from (-r FILE)."""
    words = command.split()
    return [words[index + 1] for index, word in enumerate(words[:-1]) if word in ("-r", "--requirement")]


def test_the_quick_starts_checkout_install_makes_qga_info_resolve(host_agent: HostAgent, tmp_path: t.Any) -> None:
    env = shell_env(str(tmp_path / "collections"))
    ran: list[str] = []
    for command in documented_commands("checkout"):
        program = command.split()[0]
        if program == "pip":  # installs nothing here: the venv has the requirements, and there is no network
            assert requirement_files(command) == ["requirements.txt"], command
            assert os.path.isfile(os.path.join(REPO_ROOT, "requirements.txt"))
        elif program == "ansible-galaxy":
            run_documented(command, env, REPO_ROOT)
        else:
            assert program == "ansible" and DOCUMENTED_CHANNEL in command, command
            adhoc = run_documented(command.replace(DOCUMENTED_CHANNEL, "channel=" + host_agent.channel), env,
                                   REPO_ROOT)
            assert "localhost | SUCCESS" in adhoc.stdout and '"version"' in adhoc.stdout, adhoc.stdout
        ran.append(program)
    assert ran == ["ansible-galaxy", "pip", "ansible"], ran


def test_the_offline_build_writes_where_neither_git_nor_a_later_build_looks() -> None:
    build = next(command for command in documented_commands("offline") if "collection build" in command)
    words = build.split()
    output = words[words.index("--output-path") + 1]
    assert output in yaml.safe_load(read("galaxy.yml"))["build_ignore"], output
    assert output + "/" in read(".gitignore").splitlines(), output


def test_the_readme_the_demo_and_the_examples_show_the_quick_starts_commands() -> None:
    readme, demo, examples = read("README.md"), read("scripts", "demo.py"), read("examples", "README.md")
    for command in documented_commands("checkout"):
        assert command in readme, "README.md does not show %r of the quick start" % command
        assert command in demo, "scripts/demo.py does not show %r of the quick start" % command
        assert command.startswith("ansible ") or command in examples, "examples/README.md: %r missing" % command
    assert "quickstart.rst" in demo and "quickstart.rst" in examples
