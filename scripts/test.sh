#!/usr/bin/env bash
# Run every check of vmguest.qga: schema freshness, ruff, mypy, changelog lint,
# ansible-test sanity and units, then pytest (unit tests, the real host agent, the real
# TCG test VM and the same VM under libvirtd: client, connection and modules).
# Exits non-zero when anything fails. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python

if [ "${CI:-}" = "true" ] && [ "${VMGUEST_QGA_SKIP_VM:-}" = "1" ]; then
  echo "test: VMGUEST_QGA_SKIP_VM=1 is not allowed in CI: the VM tests must run" >&2
  exit 1
fi

echo "== schema: generated file is current"
$PY tools/qapi2jsonschema.py --check
echo "== ruff"
$PY -m ruff check .
echo "== mypy"
$PY -m mypy
echo "== antsibull-changelog lint"
(PATH="$PWD/.venv/bin:$PATH" antsibull-changelog lint)
echo "== ansible-lint (production profile): roles and example playbooks"
bash scripts/ansible-lint.sh
echo "== docs: antsibull-docs lint + offline site build"
bash scripts/docs.sh
echo "== ansible-test sanity (offline, --venv)"
bash scripts/sanity.sh
echo "== ansible-test units"
bash scripts/sanity.sh units
echo "== pytest"
$PY -m pytest "$@"
echo "== pytest: the host connection suite again through the channel relay (ansible_qga_persist)"
VMGUEST_QGA_PERSIST=5 $PY -m pytest tests/connection/test_connection_host.py "$@"
echo "== pytest: the connection suites again with the persistent executor on"
VMGUEST_QGA_EXECUTOR=persistent VMGUEST_QGA_EXECUTOR_IDLE_TIMEOUT=60 \
  $PY -m pytest tests/connection/test_connection_host.py tests/connection/test_connection_vm.py "$@"
