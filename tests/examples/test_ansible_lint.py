# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""scripts/ansible-lint.sh: the production profile passes on every role and example, and it does bite.

This is the one place ansible-lint runs in the test suite (scripts/test.sh does not run it again).
"""

from __future__ import annotations

import os
import subprocess
import typing as t

from collection_path import REPO_ROOT

SCRIPT = os.path.join(REPO_ROOT, "scripts", "ansible-lint.sh")


def lint(*paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *paths], env={**os.environ, "NO_COLOR": "1"}, capture_output=True, text=True,
                          timeout=300, check=False)


def test_every_role_and_example_passes_the_production_profile() -> None:
    proc = lint()  # the script's default: roles/ and examples/
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Profile 'production' was required, and it passed" in output


def test_violations_and_an_unknown_module_fail_and_collection_modules_resolve(tmp_path: t.Any) -> None:
    """One lint run over two bad playbooks: each one's findings must be reported."""
    playbook = tmp_path / "bad.yml"
    playbook.write_text("""---
- hosts: all
  tasks:
    - command: echo hi
    - name: Known to ansible-lint through the checkout
      vmguest.qga.qga_info:
        gather_subset: [agent]
""")
    typo = tmp_path / "typo.yml"
    typo.write_text("""---
- name: Typo
  hosts: all
  gather_facts: false
  tasks:
    - name: Misspelt module
      vmguest.qga.qga_infos: {}
""")
    proc = lint(str(playbook), str(typo))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    for rule in ("name[play]", "fqcn[action-core]", "name[missing]", "no-changed-when"):
        assert "bad.yml" in output and rule in output, rule
    assert "couldn't resolve module/action 'vmguest.qga.qga_infos'" in output
    assert "qga_info:" not in output and "vmguest.qga.qga_info'" not in output  # the real module resolves
