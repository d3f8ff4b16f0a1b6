#!/usr/bin/env bash
# Run every check of vmguest.qga, each once: schema freshness, ruff, mypy, changelog lint and
# ansible-test sanity here; then pytest with everything else: the tests without a VM (unit tests, the
# docs lint and site build, ansible-lint, ansible-doc of the built tarball, the real host agent) on both
# cores, the tests that read ansible-core's own forms once more on its newest release, then the tests of the
# real TCG test VM and of the same VM under libvirtd. Exits non-zero when anything fails; prints how long each
# step took, and pytest prints each test's time (--durations) and the VM boots.
#
#   bash scripts/test.sh [PYTEST ARGS...]           # everything: the CI gate (.ci/run)
#   bash scripts/test.sh --quick [PYTEST ARGS...]   # before every commit: all but the VM tests (a few minutes)
#
# VMGUEST_QGA_VENV=DIR runs with another venv (scripts/newest.sh uses that).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
if [ "${1:-}" = --quick ]; then
  quick=1
  shift
fi
if [ "${CI:-}" = "true" ] && [ "${VMGUEST_QGA_SKIP_VM:-}" = "1" ]; then
  echo "test: VMGUEST_QGA_SKIP_VM=1 is not allowed in CI: the VM tests must run" >&2
  exit 1
fi

venv=${VMGUEST_QGA_VENV:-.venv}
PY=$venv/bin/python
export VMGUEST_QGA_VENV=$venv

steps=()
print_steps() {
  local status=$?
  if ((${#steps[@]})); then
    echo
    echo "== time per step (s)"
    printf '  %s\n' "${steps[@]}"
  fi
  return "$status"
}
trap print_steps EXIT

# step NAME COMMAND...: run it, time it, stop the run if it fails.
step() {
  local name=$1 started status=0
  shift
  echo "== $name"
  started=$(date +%s)
  "$@" || status=$?
  steps+=("$(printf '%5d  %s%s' "$(($(date +%s) - started))" "$name" "$([ "$status" = 0 ] || echo "  FAILED (exit $status)")")")
  return "$status"
}

step "setup (Debian packages, $venv)" bash scripts/setup.sh
step "schema: generated file is current" "$PY" tools/qapi2jsonschema.py --check
step "ruff" "$PY" -m ruff check .
step "mypy (as ansible_collections.vmguest.qga)" bash scripts/mypy.sh
step "antsibull-changelog lint" env PATH="$PWD/$venv/bin:$PATH" antsibull-changelog lint
step "ansible-test sanity (offline, --venv)" bash scripts/sanity.sh
pytest_args=(--durations=0 --durations-min=1)
# The tests without a VM on both cores; the VM tests in one process, ordered so each VM kind boots once.
step "pytest --no-vm -n 2 (units, docs, lint, packaging, host agents)" \
  "$PY" -m pytest --no-vm -n 2 "${pytest_args[@]}" "$@"
if [ "$quick" = 0 ]; then
  # The lock pins the oldest supported ansible-core; what reads its forms runs once more on the newest.
  step "newest ansible-core (units, executor, qga_facts; scripts/newest_core.sh)" bash scripts/newest_core.sh -q
  step "pytest --vm-only (the plain VM, then libvirt)" "$PY" -m pytest --vm-only "${pytest_args[@]}" "$@"
fi
