# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Demo: boot the embedded TCG test VM and manage it through its guest agent alone.

Runs demo/site.yml with ansible-playbook over the vmguest.qga.qga connection
(facts, a command, copy and fetch, a task as another user), then shows the
protocol client underneath: agent info, a file round trip with checksums and
an fsfreeze/thaw of the guest's ext4 disk. The VM is always stopped at the end.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "harness"))

from ansible_run import _bin, ansible_env, write_inventory  # noqa: E402
from collection_path import add_to_sys_path  # noqa: E402

add_to_sys_path()
from testvm import TestVM  # noqa: E402

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec  # noqa: E402
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient  # noqa: E402

# What to run next, from the quick start's "Install from a checkout" (tests/packaging/test_documented_install.py
# checks that these are its commands).
NEXT_STEPS = """Next, use the collection from this checkout (with .venv/bin first on PATH: . .venv/bin/activate):
  ansible-galaxy collection install . --force
  pip install -r requirements.txt
  ansible localhost -m vmguest.qga.qga_info -a "channel=unix:/run/vm/qga.sock gather_subset=agent"
with your VM's agent socket as the channel; then docs/docsite/rst/quickstart.rst (inventories, offline installs)."""


def show(title: str, value: object) -> None:
    """Print one labelled result."""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True)
    print("== %s\n%s" % (title, text))


def run_playbook(channel: str) -> int:
    """ansible-playbook demo/site.yml against the VM; its output goes to the terminal."""
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-demo-") as work:
        hosts = {"demo-vm": {"ansible_connection": "vmguest.qga.qga", "ansible_qga_channel": channel,
                             "ansible_python_interpreter": "/usr/bin/python3", "demo_fetch_dir": work}}
        env = ansible_env()
        env.pop("ANSIBLE_CALLBACKS_ENABLED")
        started = time.monotonic()
        playbook = os.path.join(REPO_ROOT, "demo", "site.yml")
        status = subprocess.run([_bin("ansible-playbook"), "-i", write_inventory(work, hosts), playbook],
                                env=env, check=False).returncode
        print("== ansible-playbook demo/site.yml: exit %d in %.1f s" % (status, time.monotonic() - started))
        return status


def main() -> int:
    """Run the demo; return the exit status."""
    started = time.monotonic()
    with TestVM() as vm:
        boot_s = time.monotonic() - started
        print("VM booted (TCG, no network, no SSH) in %.1f s; agent at %s" % (boot_s, vm.agent_socket))
        if run_playbook("unix:%s" % vm.agent_socket) != 0:
            return 1
        with QgaClient("unix:%s" % vm.agent_socket, timeout=60) as qga:
            info = qga.info()
            enabled = sorted(name for name, on in info.commands.items() if on)
            show("guest-info", {"version": info.version, "enabled_commands": len(enabled)})
            show("guest-get-osinfo", qga.execute("guest-get-osinfo"))
            show("guest-get-host-name", qga.execute("guest-get-host-name"))
            show("guest-get-vcpus", qga.execute("guest-get-vcpus"))
            mounts = [(fs["mountpoint"], fs["type"]) for fs in qga.execute("guest-get-fsinfo")]
            show("guest-get-fsinfo (mountpoint, type)", mounts)

            result = guest_exec.run(qga, ["/bin/sh", "-c", "echo \"$(id -un) in $HOME: $(uname -sr)\"; wc -c"],
                                    stdin=b"stdin through guest-exec input-data\n", timeout=60)
            show("guest-exec", "rc=%d stdout=%r" % (result.rc, result.stdout.decode()))

            payload = os.urandom(4 * 1024 * 1024)
            put = files.write_file(qga, "/run/data/demo.bin", io.BytesIO(payload))
            back = io.BytesIO()
            got = files.read_file(qga, "/run/data/demo.bin", back)
            same = put.sha256 == got.sha256 == hashlib.sha256(payload).hexdigest() and back.getvalue() == payload
            show("4 MiB file written and read back", "sha256 %s, identical: %s" % (got.sha256[:16], same))

            frozen = qga.execute("guest-fsfreeze-freeze", timeout=60)
            status = qga.execute("guest-fsfreeze-status")
            thawed = qga.execute("guest-fsfreeze-thaw", timeout=60)
            show("fsfreeze", "froze %d filesystem(s), status %s, thawed %d" % (frozen, status, thawed))
            if not same or frozen != thawed:
                return 1
    print("demo finished in %.1f s; the VM is stopped" % (time.monotonic() - started))
    print(NEXT_STEPS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
