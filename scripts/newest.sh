#!/usr/bin/env bash
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run the quick tier (scripts/test.sh --quick) against the newest releases of everything
# requirements-test.txt allows, ignoring requirements-lock.txt, in a venv of its own (.venv-newest,
# re-resolved once a day). Tells which packages are newer than the lock and whether the quick tier
# passed with them, so upstream breakage is found here on purpose, not by CI on a random day.
#
#   bash scripts/newest.sh [PYTEST ARGS...]
#
# If it passes: bash scripts/lock.sh, then the full bash scripts/test.sh, and commit the new lock.
# If it fails: the failure is upstream's change meeting our code; fix or work around it before
# refreshing the lock (CI stays on the lock meanwhile).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-newest
status=0
VMGUEST_QGA_VENV=$venv VMGUEST_QGA_NEWEST=1 bash scripts/test.sh --quick "$@" || status=$?

echo
echo "== newest: packages newer than (or missing from) requirements-lock.txt"
newer=$(diff <(grep -v '^#' requirements-lock.txt | LC_ALL=C sort -f) \
  <("$venv/bin/python" -m pip freeze --all 2>/dev/null | LC_ALL=C sort -f) | grep '^>' | sed 's/^> /  /' || true)
echo "${newer:-  (none: the lock is the newest)}"
if [ "$status" = 0 ]; then
  echo "newest: the quick tier PASSED with the newest releases"
else
  echo "newest: the quick tier FAILED with the newest releases (exit $status): upstream changed under us;" \
    "the lock keeps CI on the versions above it until this is fixed"
fi
exit "$status"
