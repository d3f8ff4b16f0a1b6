#!/usr/bin/env bash
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# ansible-lint (production profile, offline, .ansible-lint) over roles/ and examples/ with this checkout
# installed as vmguest.qga. Exits non-zero on any violation or warning.
#
#   scripts/ansible-lint.sh                 # roles/ and examples/
#   scripts/ansible-lint.sh roles/agent_check examples/fleet_facts.yml   # only these
#
# Needs .venv from scripts/setup.sh.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
venv=${VMGUEST_QGA_VENV:-$repo/.venv}
case $venv in /*) ;; *) venv=$repo/$venv ;; esac
lint=$venv/bin/ansible-lint
if [ ! -x "$lint" ]; then
  echo "ansible-lint.sh: $lint not found; run scripts/setup.sh first" >&2
  exit 2
fi
# The collection must be found as ansible_collections/vmguest/qga: the tests' symlink in a temp dir.
collections_root=$("$venv/bin/python" -c '
import sys
sys.path.insert(0, sys.argv[1])
from collection_path import collection_root
print(collection_root())' "$repo/tests/harness")

if [ "$#" -eq 0 ]; then
  set --
  for path in roles examples; do
    if [ -e "$repo/$path" ]; then
      set -- "$@" "$path"
    fi
  done
fi
cd "$repo"
export ANSIBLE_COLLECTIONS_PATH=$collections_root
export PATH=$venv/bin:$PATH
exec "$lint" --offline --strict --config-file "$repo/.ansible-lint" "$@"
