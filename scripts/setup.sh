#!/usr/bin/env bash
# Set up a fresh Debian 12 machine (as root) for vmguest.qga's demo, tests and benchmarks:
# the Debian packages (qemu-ga, QEMU, libvirt, the kernel the test VM boots) and a
# Python venv in .venv with requirements-test.txt at the exact versions of requirements-lock.txt
# (scripts/lock.sh refreshes it). Safe to run again: it skips what is there.
#
# VMGUEST_QGA_VENV=DIR   the venv to set up (default .venv)
# VMGUEST_QGA_NEWEST=1   ignore the lock: the newest releases requirements-test.txt allows (scripts/newest.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  qemu-guest-agent qemu-system-x86 qemu-utils busybox-static socat cpio kmod e2fsprogs
  linux-image-amd64 libvirt-daemon-system libvirt-clients libvirt-dev pkg-config procps sudo shellcheck
)

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
venv=${VMGUEST_QGA_VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv with $($PYTHON --version)"
  "$PYTHON" -m venv "$venv"
fi
stamp=$venv/.requirements.sha256
if [ "${VMGUEST_QGA_NEWEST:-}" = 1 ]; then
  # Newest releases on purpose: re-resolved once a day.
  wanted=newest-$(date -u +%Y-%m-%d)-$(cat requirements.txt requirements-test.txt | sha256sum | cut -d' ' -f1)
  pins=()
  upgrade=(--upgrade --upgrade-strategy eager)
else
  wanted=$(cat requirements.txt requirements-test.txt requirements-lock.txt | sha256sum | cut -d' ' -f1)
  pins=(-c requirements-lock.txt)
  upgrade=()
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing Python requirements into $venv${pins[*]:+ (pinned by requirements-lock.txt)}"
  "$venv/bin/python" -m pip install -q --upgrade "${pins[@]}" pip setuptools wheel
  "$venv/bin/python" -m pip install -q "${upgrade[@]}" "${pins[@]}" -r requirements-test.txt
  echo "$wanted" > "$stamp"
fi
# ansible-core's own integration targets (its sdist carries them), for tests/conformance: the connection
# target is run through vmguest.qga.qga as community.libvirt runs it for libvirt_qemu.
core_version=$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')
targets=$venv/share/ansible-core-targets/$core_version
if [ ! -d "$targets" ]; then
  echo "setup: ansible-core $core_version integration targets -> $targets"
  download=$(mktemp -d)
  "$venv/bin/python" -m pip download -q --no-deps --no-binary :all: -d "$download" "ansible-core==$core_version"
  tar -xzf "$download"/ansible_core-"$core_version".tar.gz -C "$download" "ansible_core-$core_version/test/integration/targets"
  mkdir -p "$(dirname "$targets")"
  mv "$download/ansible_core-$core_version/test/integration/targets" "$targets"
  rm -rf "$download"
fi
echo "setup: done"
