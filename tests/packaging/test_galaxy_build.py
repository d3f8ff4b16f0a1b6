# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as users get it: built with ansible-galaxy, installed from the tarball, used by a play."""

from __future__ import annotations

import os
import subprocess
import typing as t

import pytest
from ansible_run import _bin, ansible_env
from collection_path import REPO_ROOT
from hostagent import HostAgent

MODULES = (
    "qga_copy", "qga_exec", "qga_fetch", "qga_fsfreeze", "qga_fstrim", "qga_info", "qga_memory_blocks",
    "qga_shutdown", "qga_ssh_keys", "qga_suspend", "qga_time", "qga_user_password", "qga_vcpus",
)


def _run(argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> str:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, "%s failed:\n%s\n%s" % (argv, proc.stdout, proc.stderr)
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Build the tarball from this checkout and install it into a clean collections path."""
    work = tmp_path_factory.mktemp("galaxy")
    _run([_bin("ansible-galaxy"), "collection", "build", REPO_ROOT, "--output-path", str(work), "--force"])
    tarballs = [name for name in os.listdir(work) if name.endswith(".tar.gz")]
    assert len(tarballs) == 1 and tarballs[0].startswith("vmguest-qga-"), tarballs
    target = work / "collections"
    _run([_bin("ansible-galaxy"), "collection", "install", str(work / tarballs[0]), "-p", str(target)])
    env = ansible_env({"ANSIBLE_COLLECTIONS_PATH": str(target)})
    env.pop("ANSIBLE_CALLBACKS_ENABLED")
    return {"path": str(target), **{"env:" + key: value for key, value in env.items()}}


def _env(installed: dict[str, str]) -> dict[str, str]:
    return {key[4:]: value for key, value in installed.items() if key.startswith("env:")}


def test_the_tarball_carries_no_test_output_or_venv(installed: dict[str, str]) -> None:
    root = os.path.join(installed["path"], "ansible_collections", "vmguest", "qga")
    for unwanted in (".venv", "tests/output", ".ci"):
        assert not os.path.exists(os.path.join(root, unwanted)), unwanted
    assert os.path.exists(os.path.join(root, "plugins", "connection", "qga.py"))
    assert os.path.exists(os.path.join(root, "qapi", "qapi-schema.json"))


def test_ansible_doc_lists_every_module_and_the_connection(installed: dict[str, str]) -> None:
    listing = _run([_bin("ansible-doc"), "-l", "vmguest.qga"], env=_env(installed))
    for module in MODULES:
        assert "vmguest.qga.%s " % module in listing, module
    connections = _run([_bin("ansible-doc"), "-t", "connection", "-l", "vmguest.qga"], env=_env(installed))
    assert "vmguest.qga.qga " in connections


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_each_module(installed: dict[str, str], module: str) -> None:
    text = _run([_bin("ansible-doc"), "-t", "module", "vmguest.qga." + module], env=_env(installed))
    assert "channel" in text  # the shared doc fragment made it in


def test_a_play_runs_from_the_installed_copy(installed: dict[str, str], tmp_path: t.Any) -> None:
    with HostAgent() as agent:
        inventory = tmp_path / "inventory.ini"
        inventory.write_text("h ansible_connection=vmguest.qga.qga ansible_qga_channel=%s\n" % agent.channel)
        play = tmp_path / "play.yml"
        play.write_text(
            "- hosts: all\n  gather_facts: false\n  tasks:\n"
            "    - vmguest.qga.qga_info: {gather_subset: [osinfo]}\n      register: info\n"
            "    - command: echo installed\n      register: echo\n"
            "    - assert: {that: [info.osinfo.id | length > 0, echo.stdout == 'installed']}\n"
        )
        output = _run([_bin("ansible-playbook"), "-i", str(inventory), str(play)], env=_env(installed),
                      cwd=str(tmp_path))
    assert "failed=0" in output
    header = _run([_bin("ansible-doc"), "-t", "connection", "vmguest.qga.qga"], env=_env(installed)).splitlines()[0]
    assert installed["path"] in header  # the installed copy, not the checkout, served the play
