#!/usr/bin/env bash
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Refresh requirements-lock.txt, the exact version of every Python package the tests, linters and
# docs build use (scripts/setup.sh installs requirements-test.txt under it, so CI does not change
# when PyPI does). Users are not pinned: requirements.txt keeps its ranges.
#
#   bash scripts/lock.sh            # resolve requirements-test.txt afresh (newest releases) and write the lock
#   bash scripts/lock.sh --print    # print the new lock and how it differs; write nothing
#
# Refresh on purpose, then run the whole suite (bash scripts/test.sh) before committing the new lock.
# To see first whether the newest releases break anything: bash scripts/newest.sh.
# Needs the Debian packages of scripts/setup.sh (libvirt-python builds against libvirt-dev).
set -euo pipefail
cd "$(dirname "$0")/.."

write=1
case ${1:-} in
  --print) write=0 ;;
  "") ;;
  *) echo "lock: unknown argument $1 (use --print)" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "lock: resolving requirements-test.txt with $($PYTHON --version) in a fresh venv" >&2
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip setuptools wheel
"$work/venv/bin/python" -m pip install -q -r requirements-test.txt
{
  echo "# Exact versions of everything requirements-test.txt pulls in, for $($PYTHON --version 2>&1)."
  echo "# Written by scripts/lock.sh on $(date -u +%Y-%m-%d); do not edit by hand. scripts/setup.sh installs"
  echo "# with '-c requirements-lock.txt'. Refresh: bash scripts/lock.sh (README, \"Test environment\")."
  "$work/venv/bin/python" -m pip freeze --all | LC_ALL=C sort -f
} >"$work/lock.txt"

if [ -f requirements-lock.txt ]; then
  changes=$(diff <(grep -v '^#' requirements-lock.txt) <(grep -v '^#' "$work/lock.txt") | grep '^[<>]' || true)
  if [ -n "$changes" ]; then
    echo "lock: changes (< old, > new):" >&2
    echo "$changes" >&2
  else
    echo "lock: no version changed" >&2
  fi
fi
if [ "$write" = 1 ]; then
  cp "$work/lock.txt" requirements-lock.txt
  echo "lock: wrote requirements-lock.txt ($(grep -vc '^#' requirements-lock.txt) packages)" >&2
else
  cat "$work/lock.txt"
fi
