# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The "no warnings" checks drop third-party import warnings and keep every warning of ours."""

from __future__ import annotations

from stderr_warnings import our_stderr

# What cryptography 51 makes ansible-core 2.19's ansible-doc print on every run (seen 2026-12-05).
CRYPTOGRAPHY_DSA = (
    "/work/main/.venv/lib/python3.11/site-packages/ansible/_internal/_ssh/_ssh_agent.py:18: "
    "CryptographyDeprecationWarning: DSA is deprecated and support will be removed in a future release. "
    "Use a more modern signature algorithm.\n"
    "  from cryptography.hazmat.primitives.asymmetric.dsa import (\n"
)
OUR_PYTHON_WARNING = (
    "/tmp/c/ansible_collections/vmguest/qga/plugins/connection/qga.py:301: DeprecationWarning: "
    "datetime.datetime.utcnow() is deprecated\n"
    "  now = datetime.datetime.utcnow()\n"
)
ANSIBLE_WARNING = "[WARNING]: vmguest.qga.qga_info: an option of ours warned\n"
DEPRECATION = "[DEPRECATION WARNING]: Passing warnings to exit_json is deprecated.\n"


def test_a_third_party_import_warning_is_not_ours() -> None:
    assert our_stderr(CRYPTOGRAPHY_DSA) == ""
    assert our_stderr(CRYPTOGRAPHY_DSA + CRYPTOGRAPHY_DSA) == ""


def test_warnings_of_ours_and_ansibles_own_stay_whatever_surrounds_them() -> None:
    for ours in (OUR_PYTHON_WARNING, ANSIBLE_WARNING, DEPRECATION, "Traceback (most recent call last):\n  x\n"):
        assert our_stderr(ours) == ours
        assert our_stderr(CRYPTOGRAPHY_DSA + ours + CRYPTOGRAPHY_DSA) == ours
    detailed = ANSIBLE_WARNING + "  indented detail\n"
    assert our_stderr(CRYPTOGRAPHY_DSA + detailed) == detailed


def test_a_file_under_an_own_root_is_ours() -> None:
    harness = "/repo/tests/harness/callback_plugins/qga_test_results.py:5: UserWarning: x\n  y\n"
    assert our_stderr(harness) == ""
    assert our_stderr(harness, own_roots=("/repo/tests",)) == harness
    assert our_stderr(harness, own_roots=("/repo/tes",)) == ""
