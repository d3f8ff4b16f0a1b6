#!/usr/bin/env bash
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Create bench/.venv-peer: the full `ansible` package from PyPI (it carries community.libvirt)
# plus libvirt-python, and nothing of this collection. bench/compare.py runs the peer from it.
#
#   bench/peer_venv.sh            # create (or reuse) the venv
#   PYTHON=python3.12 bench/peer_venv.sh
#   PEER_ANSIBLE_SPEC='ansible==12.*' bench/peer_venv.sh
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
venv="${PEER_VENV:-$here/.venv-peer}"
python="${PYTHON:-python3}"
ansible_spec="${PEER_ANSIBLE_SPEC:-ansible}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
# Keep git (and scripts/sanity.sh, which copies what git sees) away from the venv.
echo '*' > "$venv/.gitignore"
# libvirt-python compiles against libvirt-dev + pkg-config when no wheel fits this Python.
"$venv/bin/python" -m pip install --quiet "$ansible_spec" libvirt-python
"$venv/bin/ansible-galaxy" collection list community.libvirt 2>/dev/null | grep -q community.libvirt \
    || { echo "peer_venv: community.libvirt is missing from $venv" >&2; exit 1; }
"$venv/bin/python" -c "import libvirt" \
    || { echo "peer_venv: libvirt-python does not import in $venv" >&2; exit 1; }
"$venv/bin/ansible" --version | sed -n 1p
"$venv/bin/python" -m pip show ansible | sed -n 's/^Version: /ansible package /p'
