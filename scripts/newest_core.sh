#!/usr/bin/env bash
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The tests that read ansible-core's own forms (the commands its ActionBase and shell plugin build, its AnsiballZ
# wrapper, its task results), once more on the newest ansible-core release: the unit tests, and on the host agent
# the connection suite in its default mode (the persistent executor), the executor's own tests and qga_facts. requirements-lock.txt pins the oldest supported release (2.19), which
# every other test runs on; ansible-core 2.20 and later need Python 3.12 or later on the controller, taken from
# pyenv. The venv (.venv-core-newest) is made once per NEWEST_CORE; everything else in it keeps the lock's versions.
#
#   bash scripts/newest_core.sh [PYTEST ARGS...]     # scripts/test.sh runs it in CI
set -euo pipefail
cd "$(dirname "$0")/.."

NEWEST_CORE=2.21.5
venv=.venv-core-newest
python=$(find "${PYENV_ROOT:-$HOME/.pyenv}/versions" -maxdepth 3 -path '*/versions/3.1[2-9]*/bin/python3' \
  2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$python" ]; then
  echo "newest_core: ansible-core $NEWEST_CORE needs Python 3.12 or later on the controller: pyenv install 3.12" >&2
  exit 1
fi
if ! "$venv/bin/python" -c "import ansible.release, sys; sys.exit(ansible.release.__version__ != '$NEWEST_CORE')" \
    2>/dev/null; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  echo '*' > "$venv/.gitignore"
  grep -v '^ansible-core==' requirements-lock.txt > "$venv/constraints.txt"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$venv/constraints.txt" \
    "ansible-core==$NEWEST_CORE" pytest pytest-timeout pytest-xdist passlib pyserial jsonschema PyYAML
fi
"$venv/bin/ansible" --version 2>/dev/null | head -n 1
# The host-agent connection suite in the default mode (the executor), the executor's own and qga_facts.
export VMGUEST_QGA_TEST_MODES=executor
paths=(tests/unit tests/connection/test_connection_host.py tests/connection/test_executor.py
       tests/modules/test_qga_facts.py)
for arg in "$@"; do
  case $arg in -*) ;; *) paths=() ;; esac  # test paths given: those instead
done
exec "$venv/bin/python" -m pytest --no-vm -n 2 -p no:cacheprovider "$@" "${paths[@]}"
