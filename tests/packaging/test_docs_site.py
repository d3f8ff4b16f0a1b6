# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""scripts/docs.sh: the docs lint and the offline site build pass on this checkout and fail on a broken guide.

The one place the docs are linted and built (scripts/test.sh does not run docs.sh again).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import typing as t

import yaml
from collection_path import REPO_ROOT
from installed_collection import OFFLINE_ENV

DOCS_SH = os.path.join(REPO_ROOT, "scripts", "docs.sh")
DOCSITE = os.path.join(REPO_ROOT, "docs", "docsite")


def run_docs(args: list[str], collections_root: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run scripts/docs.sh offline, on this checkout or on a copy under collections_root."""
    env = dict(os.environ, **OFFLINE_ENV)
    if collections_root:
        env["QGA_DOCS_COLLECTIONS_ROOT"] = collections_root
    return subprocess.run(["bash", DOCS_SH, *args], env=env, capture_output=True, text=True, timeout=600, check=False)


def guide_names() -> list[str]:
    """Every guide extra-docs.yml puts into the site."""
    with open(os.path.join(DOCSITE, "extra-docs.yml")) as handle:
        sections = yaml.safe_load(handle)["sections"]
    return [name for section in sections for name in section["toctree"]]


def copy_of_the_collection(tmp_path: t.Any) -> str:
    """The files git would see, copied to TMP/ansible_collections/vmguest/qga; returns TMP."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    target = tmp_path / "ansible_collections" / "vmguest" / "qga"
    for name in filter(None, listed):
        source = os.path.join(REPO_ROOT, name)
        if os.path.isfile(source) and not name.startswith("bench/"):
            os.makedirs(target / os.path.dirname(name), exist_ok=True)
            shutil.copy2(source, target / name)
    return str(tmp_path)


def test_every_rst_guide_is_in_extra_docs_and_has_its_label() -> None:
    names = guide_names()
    on_disk = sorted(name[:-4] for name in os.listdir(os.path.join(DOCSITE, "rst")) if name.endswith(".rst"))
    assert sorted(names) == on_disk
    for name in names:
        with open(os.path.join(DOCSITE, "rst", name + ".rst")) as handle:
            assert ".. _ansible_collections.vmguest.qga.docsite.%s:" % name in handle.read(), name


def test_the_docs_lint_and_site_build_pass_offline(tmp_path: t.Any) -> None:
    site = tmp_path / "site"
    proc = run_docs(["--dest", str(site)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = site / "build" / "html"
    for name in guide_names():
        assert (html / "docsite" / (name + ".html")).stat().st_size > 0, name
    index = (html / "index.html").read_text()
    assert "docsite/quickstart.html" in index and "qga_connection.html" in index


def test_a_broken_reference_in_a_guide_fails_the_site_build(tmp_path: t.Any) -> None:
    root = copy_of_the_collection(tmp_path / "copy")
    guide = os.path.join(root, "ansible_collections", "vmguest", "qga", "docs", "docsite", "rst", "quickstart.rst")
    with open(guide, "a") as handle:
        handle.write("\nSee :ref:`ansible_collections.vmguest.qga.docsite.no_such_page`.\n")
    proc = run_docs(["--no-lint", "--dest", str(tmp_path / "site")], collections_root=root)
    assert proc.returncode != 0
    assert "undefined label: 'ansible_collections.vmguest.qga.docsite.no_such_page'" in proc.stderr


def test_a_broken_plugin_reference_in_a_guide_fails_the_lint(tmp_path: t.Any) -> None:
    root = copy_of_the_collection(tmp_path / "copy")
    guide = os.path.join(root, "ansible_collections", "vmguest", "qga", "docs", "docsite", "rst", "channels.rst")
    with open(guide, "a") as handle:
        handle.write("\nSee :ansplugin:`vmguest.qga.qga_no_such_module#module`.\n")
    proc = run_docs(["--no-site"], collections_root=root)
    assert proc.returncode != 0
    assert "there is no module vmguest.qga.qga_no_such_module" in proc.stdout + proc.stderr
