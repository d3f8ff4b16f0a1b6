# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""scripts/ansible-lint.sh: the production profile passes on agent_check and the examples, and it does bite."""

from __future__ import annotations

import os
import subprocess
import typing as t

from collection_path import REPO_ROOT

SCRIPT = os.path.join(REPO_ROOT, "scripts", "ansible-lint.sh")
LINTED = ["roles/agent_check", "examples/fleet_facts.yml", "examples/rotate_ssh_keys.yml",
          "examples/rotate_password.yml", "examples/inventory.yml"]


def lint(*paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *paths], env={**os.environ, "NO_COLOR": "1"}, capture_output=True, text=True,
                          timeout=300, check=False)


def test_role_and_examples_pass_the_production_profile() -> None:
    proc = lint(*LINTED)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


def test_violations_fail_and_collection_modules_resolve(tmp_path: t.Any) -> None:
    playbook = tmp_path / "bad.yml"
    playbook.write_text("""---
- hosts: all
  tasks:
    - command: echo hi
    - name: Known to ansible-lint through the checkout
      vmguest.qga.qga_info:
        gather_subset: [agent]
""")
    proc = lint(str(playbook))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    for rule in ("name[play]", "fqcn[action-core]", "name[missing]", "no-changed-when"):
        assert rule in output, rule
    assert "unknown-module" not in output and "qga_info" not in output


def test_an_unknown_collection_module_is_caught(tmp_path: t.Any) -> None:
    playbook = tmp_path / "typo.yml"
    playbook.write_text("""---
- name: Typo
  hosts: all
  gather_facts: false
  tasks:
    - name: Misspelt module
      vmguest.qga.qga_infos: {}
""")
    proc = lint(str(playbook))
    assert proc.returncode != 0
    assert "couldn't resolve module/action 'vmguest.qga.qga_infos'" in proc.stdout + proc.stderr
