#!/usr/bin/env bash
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Lint the collection's documentation and build its HTML docs site, offline.
#
#   scripts/docs.sh                # lint, then build the site
#   scripts/docs.sh --no-site      # lint only
#   scripts/docs.sh --no-lint      # the site only (the tests' broken-guide case: the lint has its own)
#   scripts/docs.sh --dest DIR     # build the site in DIR (default: $TMPDIR/vmguest-qga-docsite-UID)
#
# QGA_DOCS_COLLECTIONS_ROOT=DIR documents DIR/ansible_collections/vmguest/qga instead of this checkout.
#
# Needs .venv from scripts/setup.sh (antsibull-docs, sphinx, sphinx-ansible-theme from
# requirements-test.txt). Exits non-zero on any lint problem or site warning that is not an
# offline-only one (see step 2).
#
# 1. `antsibull-docs lint-collection-docs --plugin-docs`: every plugin's, module's and role's
#    documentation (schema, markup, rstcheck of the generated pages), docs/docsite/extra-docs.yml,
#    links.yml and the rst guides, including their references to this collection and ansible.builtin.
# 2. The site: `antsibull-docs sphinx-init` writes a Sphinx project, `antsibull-docs collection`
#    renders the plugin pages plus docs/docsite/rst, `sphinx-build` makes the HTML. Offline:
#    intersphinx is switched off, so labels of docs.ansible.com (common_return_values, other
#    collections' plugins) cannot resolve; those warnings are allowed, every other warning
#    (including an unresolved label of this collection) fails the build.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
venv=${VMGUEST_QGA_VENV:-$repo/.venv}
case $venv in /*) ;; *) venv=$repo/$venv ;; esac
venv_bin=$venv/bin
build_site=1
lint=1
dest=${TMPDIR:-/tmp}/vmguest-qga-docsite-$(id -u)
while [ $# -gt 0 ]; do
  case $1 in
    --no-site) build_site=0 ;;
    --no-lint) lint=0 ;;
    --dest) dest=$2; shift ;;
    *) echo "docs: unknown argument $1 (use --no-site, --no-lint, --dest DIR)" >&2; exit 2 ;;
  esac
  shift
done
if [ ! -x "$venv_bin/antsibull-docs" ]; then
  echo "docs: $venv_bin/antsibull-docs not found; run scripts/setup.sh first" >&2
  exit 2
fi
# antsibull-docs runs `ansible` and `ansible-doc` from PATH.
PATH=$venv_bin:$PATH
export PATH

# The collection must sit at .../ansible_collections/vmguest/qga (a symlink to this checkout).
collections_root=${QGA_DOCS_COLLECTIONS_ROOT:-}
[ -n "$collections_root" ] || collections_root=$("$venv_bin/python" -c '
import sys
sys.path.insert(0, sys.argv[1])
from collection_path import collection_root
print(collection_root())
' "$repo/tests/harness")
collection=$collections_root/ansible_collections/vmguest/qga
ANSIBLE_COLLECTIONS_PATH=$collections_root
export ANSIBLE_COLLECTIONS_PATH

if [ "$lint" = 1 ]; then
  echo "== antsibull-docs lint-collection-docs"
  antsibull-docs lint-collection-docs \
    --plugin-docs \
    --check-extra-docs-refs \
    --validate-collection-refs=dependent \
    "$collection"
fi

if [ "$build_site" = 0 ]; then
  exit 0
fi

echo "== docs site -> $dest/build/html"
rm -rf "$dest"
mkdir -p "$dest"
antsibull-docs sphinx-init \
  --use-current \
  --squash-hierarchy \
  --lenient \
  --fail-on-error \
  --no-add-antsibull-docs-version \
  --project "vmguest.qga" \
  --copyright "vmguest.qga contributors" \
  --title "vmguest.qga: Ansible through the QEMU guest agent" \
  --html-short-title "vmguest.qga" \
  --dest-dir "$dest" \
  vmguest.qga >/dev/null
# Offline: no intersphinx inventories to download (each would otherwise time out).
printf '\nintersphinx_mapping = {}\n' >>"$dest/conf.py"
mkdir -p "$dest/rst"
chmod og-w "$dest/rst"  # antsibull-docs wants that directory writable by its owner only
antsibull-docs --config-file "$dest/antsibull-docs.cfg" collection \
  --use-current --squash-hierarchy --fail-on-error --cleanup everything \
  --dest-dir "$dest/rst" vmguest.qga >/dev/null
warnings=$dest/sphinx-warnings.log
if ! sphinx-build -q -b html -c "$dest" --keep-going -w "$warnings" "$dest/rst" "$dest/build/html" \
  2>"$dest/sphinx-stderr.log"; then
  cat "$dest/sphinx-stderr.log" >&2
  echo "docs: sphinx-build failed" >&2
  exit 1
fi

# Allowed offline: an undefined label that is not this collection's (docs.ansible.com defines it,
# reached through intersphinx online). Labels of vmguest.qga must resolve.
unexpected=$( (grep -v "WARNING: undefined label: '" "$warnings"; \
  grep "WARNING: undefined label: 'ansible_collections\.vmguest\.qga\." "$warnings") || true)
if [ -n "$unexpected" ]; then
  echo "docs: the site build warned:" >&2
  echo "$unexpected" >&2
  exit 1
fi
for page in index.html qga_connection.html docsite/quickstart.html; do
  if [ ! -s "$dest/build/html/$page" ]; then
    echo "docs: $page is missing from the site" >&2
    exit 1
  fi
done
echo "docs: site in $dest/build/html ($(find "$dest/build/html" -name '*.html' | wc -l) pages)"
