#!/usr/bin/env bash
# Run `ansible-test sanity --venv --python 3.11` on this collection, offline apart from PyPI.
#
#   scripts/sanity.sh [more ansible-test sanity arguments, e.g. --test validate-modules]
#   scripts/sanity.sh units [ansible-test units arguments]   # the same set-up for `ansible-test units`
#
# Needs .venv from scripts/setup.sh. Exits with ansible-test's status. Safe to run again;
# later runs reuse ansible-test's virtual environments (first run takes a few minutes).
#
# - ansible-test only works with the current directory inside .../ansible_collections/vmguest/qga,
#   and it resolves symlinks (os.getcwd()), so a symlink to this checkout is refused. The files
#   git would see (tracked, plus untracked ones not ignored) are copied into
#   $QGA_SANITY_ROOT/ansible_collections/vmguest/qga on every run; the copy's tests/output
#   (results and ansible-test's virtual environments) is kept between runs.
# - ansible-test --venv bootstraps pip with a get-pip script downloaded from a host CI cannot
#   reach; scripts/_get_pip_standin.py is put in its cache under the name it looks for.
# - pyenv's interpreters (if any) are made visible as pythonX.Y for --python X.Y.
#
# Environment: QGA_SANITY_PYTHON (default 3.11; "all": compile and import on every Python
# ansible-test supports that is found), QGA_SANITY_ROOT (default a directory in /tmp
# named after this checkout's path).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
venv=${VMGUEST_QGA_VENV:-$repo/.venv}
case $venv in /*) ;; *) venv=$repo/$venv ;; esac
ansible_test=$venv/bin/ansible-test
python=$venv/bin/python
if [ ! -x "$ansible_test" ]; then
  echo "sanity: $ansible_test not found; run scripts/setup.sh first" >&2
  exit 2
fi

root=${QGA_SANITY_ROOT:-/tmp/vmguest-qga-sanity-$(printf %s "$repo" | sha256sum | cut -c1-12)}
collection=$root/ansible_collections/vmguest/qga
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9  # one run per copy at a time

# 1. Copy the collection, keeping the copy's tests/output.
kept=$root/.tests-output
rm -rf "$kept"
if [ -d "$collection/tests/output" ]; then
  mv "$collection/tests/output" "$kept"
fi
rm -rf "$collection"
mkdir -p "$collection"
(
  cd "$repo"
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do
      # Tracked files deleted in the work tree are still listed by ls-files --cached.
      if [ -e "$file" ] || [ -L "$file" ]; then printf '%s\0' "$file"; fi
    done |
    tar --null --no-recursion -T - -cf -
) | tar -xf - -C "$collection"
if [ -d "$kept" ]; then
  mkdir -p "$collection/tests"
  mv "$kept" "$collection/tests/output"
fi

# 2. Seed ansible-test's get-pip cache with the stand-in, under the name(s) ansible-test uses.
"$python" - "$repo/scripts/_get_pip_standin.py" <<'EOF'
import os
import pathlib
import re
import shutil
import sys
import types

import ansible_test

standin = pathlib.Path(sys.argv[1])
marker = b"VMGUEST-QGA-GET-PIP-STANDIN"
base = pathlib.Path(ansible_test.__file__).parent

# The pip version(s) ansible-test bootstraps: ask ansible-test, else read its source.
try:
    from ansible_test._internal.constants import SUPPORTED_PYTHON_VERSIONS
    from ansible_test._internal.python_requirements import get_venv_packages

    pip_versions = {get_venv_packages(types.SimpleNamespace(version=v))["pip"] for v in SUPPORTED_PYTHON_VERSIONS}
except Exception as ex:  # noqa: BLE001 - the internals may change; the source fallback below covers that
    print("sanity: asking ansible-test for its pip version failed (%s); reading its source" % ex, file=sys.stderr)
    source = (base / "_internal" / "python_requirements.py").read_text()
    pip_versions = set(re.findall(r"""\bpip\s*=\s*['"]([0-9][0-9.]*)['"]""", source))
if not pip_versions:
    sys.exit("sanity: cannot tell which pip version ansible-test bootstraps")

# The cache file name, from the bootstrap code ansible-test runs in each new virtual environment.
source = (base / "_util" / "target" / "setup" / "requirements.py").read_text()
match = re.search(
    r"""cache_path\s*=\s*os\.path\.expanduser\(\s*['"]([^'"]+)['"]\s*%\s*pip_version\.replace\(\s*['"]\.['"]\s*,\s*['"]_['"]\s*\)\s*\)""",
    source,
)
if not match:
    sys.exit("sanity: cannot find the get-pip cache path in %s" % (base / "_util/target/setup/requirements.py"))
template = match.group(1)

wanted = standin.read_bytes()
for pip_version in sorted(pip_versions):
    path = pathlib.Path(os.path.expanduser(template % pip_version.replace(".", "_")))
    if path.exists():
        current = path.read_bytes()
        if current == wanted:
            continue
        if marker not in current:  # a real get-pip script someone downloaded: keep it
            print("sanity: keeping %s" % path, file=sys.stderr)
            continue
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".standin")
    shutil.copyfile(standin, temporary)
    os.replace(temporary, path)
    print("sanity: get-pip stand-in for pip %s -> %s" % (pip_version, path), file=sys.stderr)
EOF

# 3. pythonX.Y for every pyenv interpreter (pyenv's shims fail for versions not selected).
if command -v pyenv >/dev/null 2>&1 || [ -d "${PYENV_ROOT:-$HOME/.pyenv}/versions" ]; then
  pyenv_root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
  bin=$root/bin
  rm -rf "$bin"
  mkdir -p "$bin"
  while IFS= read -r interpreter; do
    ln -sfn "$interpreter" "$bin/${interpreter##*/}"  # sorted: the newest patch release wins
  done < <(find "$pyenv_root"/versions/*/bin -maxdepth 1 -regex '.*/python3\.[0-9]+' 2>/dev/null | sort -V)
  PATH=$bin:$PATH
  export PATH
fi

# 4. Run.
cd "$collection"
python_version=${QGA_SANITY_PYTHON:-3.11}
python_args=(--python "$python_version")
if [ "$python_version" = all ]; then
  python_args=()  # the multi-version tests (compile, import) run on every Python found
fi
command=sanity
if [ "${1:-}" = units ]; then
  command=units
  shift
fi
status=0
"$ansible_test" "$command" --venv "${python_args[@]}" "$@" || status=$?
exit "$status"
