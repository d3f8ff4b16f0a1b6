#!/usr/bin/env bash
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# mypy with this checkout seen as Ansible loads it, ansible_collections.vmguest.qga (a symlink root in the temp
# dir): every import of our own code is then checked against that code instead of passing as Any.
#
#   bash scripts/mypy.sh [MYPY ARGS...]      # scripts/test.sh runs it
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${VMGUEST_QGA_VENV:-.venv}/bin/python
root="${TMPDIR:-/tmp}/vmguest-qga-mypy-$(printf %s "$PWD" | sha256sum | cut -c1-12)"
mkdir -p "$root/ansible_collections/vmguest"
ln -sfn "$PWD" "$root/ansible_collections/vmguest/qga"
export MYPYPATH=$root
cache=.mypy_cache/as-collection
"$PY" -m mypy --cache-dir "$cache" "$@" -p ansible_collections.vmguest.qga.plugins
"$PY" -m mypy --cache-dir "$cache" "$@" tools tests bench scripts
