# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The execution environment definition: ansible-builder makes its build context offline, and finds our requirements."""

from __future__ import annotations

import os
import re
import typing as t

import yaml
from ansible_run import _bin
from collection_path import REPO_ROOT
from installed_collection import OFFLINE_ENV, InstalledCollection, run_ok

EE_DEFINITION = os.path.join(REPO_ROOT, "execution-environment.yml")


def requirement_names(path: str) -> set[str]:
    """The distribution names a pip requirements file asks for (lower case, no versions or markers)."""
    names = set()
    with open(path) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                names.add(re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0].lower())
    return names


def bindep_lines(path: str) -> list[str]:
    """The package lines of a bindep file, comments dropped."""
    with open(path) as handle:
        return [line.split("#", 1)[0].strip() for line in handle if line.split("#", 1)[0].strip()]


def build_context(tmp_path: t.Any) -> str:
    """`ansible-builder create` for our definition into a temp dir; returns the context directory."""
    context = str(tmp_path / "context")
    run_ok([_bin("ansible-builder"), "create", "--file", EE_DEFINITION, "--context", context], cwd=REPO_ROOT,
           env=dict(os.environ, **OFFLINE_ENV))
    return context


def test_the_definition_is_ansible_builder_v3_and_installs_this_collection() -> None:
    with open(EE_DEFINITION) as handle:
        definition = yaml.safe_load(handle)
    assert definition["version"] == 3
    collections = definition["dependencies"]["galaxy"]["collections"]
    assert [entry["name"] for entry in collections] == ["vmguest.qga"]


def test_ansible_builder_create_writes_a_context_with_our_requirements_offline(tmp_path: t.Any) -> None:
    context = build_context(tmp_path)
    containerfiles = [name for name in ("Containerfile", "Dockerfile") if os.path.exists(os.path.join(context, name))]
    assert len(containerfiles) == 1, os.listdir(context)
    with open(os.path.join(context, containerfiles[0])) as handle:
        steps = handle.read()
    assert "ansible-galaxy collection install" in steps and "install-from-bindep" in steps
    build = os.path.join(context, "_build")
    with open(os.path.join(build, "requirements.yml")) as handle:
        assert "vmguest.qga" in handle.read()
    assert requirement_names(os.path.join(build, "requirements.txt")) >= {"pyserial", "jsonschema", "libvirt-python"}
    assert bindep_lines(os.path.join(build, "bindep.txt")) == bindep_lines(os.path.join(REPO_ROOT, "bindep.txt"))


def test_the_ee_requirements_are_the_controller_requirements_plus_the_optional_ones() -> None:
    controller = requirement_names(os.path.join(REPO_ROOT, "requirements.txt")) - {"ansible-core"}
    ee = requirement_names(os.path.join(REPO_ROOT, "meta", "ee-requirements.txt"))
    assert ee == controller | {"libvirt-python", "qemu.qmp"}


def test_bindep_parses_and_names_the_libvirt_build_and_ssh_packages() -> None:
    # bindep lists what this platform would install: the file parses, and the profiles select the right packages.
    runtime = run_ok([_bin("bindep"), "--file", os.path.join(REPO_ROOT, "bindep.txt"), "-l", "newline"]).stdout.split()
    compile_time = run_ok(
        [_bin("bindep"), "--file", os.path.join(REPO_ROOT, "bindep.txt"), "-l", "newline", "compile"]
    ).stdout.split()
    assert "gcc" in compile_time and "gcc" not in runtime
    assert any(name.startswith("libvirt") for name in runtime)
    assert any(name.startswith("openssh") for name in runtime)
    assert "qemu-guest-agent" not in runtime + compile_time  # the controller never needs the agent


def test_ansible_builder_introspect_finds_our_requirements_in_the_installed_collection(
    installed: InstalledCollection, tmp_path: t.Any
) -> None:
    pip_out, bindep_out = str(tmp_path / "pip.txt"), str(tmp_path / "bindep.txt")
    run_ok([_bin("ansible-builder"), "introspect", installed.collections_path,
            "--write-pip", pip_out, "--write-bindep", bindep_out])
    python_lines = open(pip_out).read().splitlines()
    system_lines = open(bindep_out).read().splitlines()
    assert requirement_names(pip_out) == requirement_names(os.path.join(REPO_ROOT, "meta", "ee-requirements.txt"))
    assert all("from collection vmguest.qga" in line for line in python_lines + system_lines if line.strip())
    ours = set(bindep_lines(os.path.join(REPO_ROOT, "bindep.txt")))
    assert {line.split("#")[0].strip() for line in system_lines} >= ours
