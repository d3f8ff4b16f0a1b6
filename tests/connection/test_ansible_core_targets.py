# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ansible-core's own integration targets, run through vmguest.qga.qga: written by nobody here.

Its `connection` integration target (from the installed ansible-core's sdist, which scripts/setup.sh
unpacks into the venv) runs raw with unicode, copy and fetch of a unicode file name, wait_for_connection,
reset_connection (also templated) and checks that connection variables stay out of `-v` output. It is
run as ansible-core's connection_local and community.libvirt's connection_libvirt_qemu targets run it:
its test.sh with an inventory of one host with pipelining and one without. On the host agent in every
connection mode, and on the test VM with pipelining and with the persistent executor.

Its `become_su` and `become_sudo` targets (destructive: they add users, so only on the VM) become a user
whose su/sudo asks for a password, through shims that force the prompt, and check a wrong password, a su
prompt the settings do not list (unreachable) and sudo's chdir.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing as t
import uuid

import pytest
from ansible.release import __version__ as ANSIBLE_CORE_VERSION
from ansible_run import _bin, ansible_env
from hostagent import HostAgent

TARGETS = os.path.join(sys.prefix, "share", "ansible-core-targets", ANSIBLE_CORE_VERSION)
GROUP = "qga"


def connection_target() -> str:
    path = os.path.join(TARGETS, "connection")
    if not os.path.isfile(os.path.join(path, "test.sh")):
        pytest.fail("ansible-core %s's integration targets are not in %s: run scripts/setup.sh" % (
            ANSIBLE_CORE_VERSION, TARGETS))
    return path


def write_inventory(directory: str, channel: str, extra: str = "") -> str:
    """One host with pipelining, one without, both on `channel` (as connection_local's inventory)."""
    path = os.path.join(directory, "inventory.ini")
    with open(path, "w") as handle:
        handle.write(
            "[%(group)s]\n"
            "%(group)s-pipelining ansible_pipelining=true\n"
            "%(group)s-no-pipelining ansible_pipelining=false\n"
            "[%(group)s:vars]\n"
            # ansible_host is set so the target's check that connection vars stay out of -v output means something.
            "ansible_host=guest.invalid\n"
            "ansible_connection=vmguest.qga.qga\n"
            "ansible_qga_channel=%(channel)s\n"
            "ansible_python_interpreter=/usr/bin/python3\n"
            "%(extra)s\n" % {"group": GROUP, "channel": channel, "extra": extra}
        )
    return path


def run_connection_target(inventory: str, tag: str) -> subprocess.CompletedProcess[str]:
    env = ansible_env({"INVENTORY": inventory, "PATH": os.path.dirname(_bin("ansible-playbook")) + os.pathsep +
                       os.environ.get("PATH", "")})
    env.pop("ANSIBLE_CALLBACKS_ENABLED")  # the target reads the default callback's output
    extra_vars = ["target_hosts=%s" % GROUP, "action_prefix=", "local_tmp=/tmp/vmguest-qga-core-local-%s" % tag,
                  "remote_tmp=/tmp/vmguest-qga-core-remote-%s" % tag]
    return subprocess.run(
        ["bash", "./test.sh", *[word for extra in extra_vars for word in ("-e", extra)]],
        cwd=connection_target(), env=env, capture_output=True, text=True, timeout=900, check=False,
    )


def assert_passed(proc: subprocess.CompletedProcess[str]) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-8000:]
    assert "SUCCESS: Connection vars not found" in output, output[-4000:]
    recaps = [line for line in proc.stdout.splitlines() if re.match(r"%s-\S+\s+: ok=" % GROUP, line)]
    # test_connection.yml's recap, a line per host, none failed; then the two reset_connection playbooks
    # (only a meta task each: a recap with no host lines).
    assert len(recaps) == 2 and all("failed=0" in line and "unreachable=0" in line for line in recaps), recaps
    assert proc.stdout.count("PLAY RECAP") == 3, proc.stdout[-4000:]


@pytest.mark.usefixtures("connection_mode")
def test_ansible_cores_connection_target_on_the_host_agent(host_agent: HostAgent, tmp_path: t.Any) -> None:
    assert_passed(run_connection_target(write_inventory(str(tmp_path), host_agent.channel), uuid.uuid4().hex[:8]))


@pytest.mark.usefixtures("vm_connection_mode")
def test_ansible_cores_connection_target_on_the_vm(test_vm: t.Any, tmp_path: t.Any) -> None:
    inventory = write_inventory(str(tmp_path), "unix:%s" % test_vm.agent_socket)
    assert_passed(run_connection_target(inventory, uuid.uuid4().hex[:8]))


BECOME_PLAYBOOK = """\
- hosts: qga
  gather_facts: false
  vars:
    # What the targets read from facts (setup would add a minute under TCG).
    ansible_distribution: Debian
    ansible_os_family: Debian
  roles: [become_su, become_sudo]
"""


def test_ansible_cores_become_su_and_sudo_targets_on_the_vm(test_vm: t.Any, tmp_path: t.Any) -> None:
    for role in ("become_su", "become_sudo", "setup_become_user_pair", "setup_test_user"):
        if not os.path.isdir(os.path.join(TARGETS, role)):
            pytest.fail("ansible-core %s's %s target is not in %s: run scripts/setup.sh" % (
                ANSIBLE_CORE_VERSION, role, TARGETS))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        "[%s]\nvm ansible_connection=vmguest.qga.qga ansible_qga_channel=unix:%s "
        "ansible_python_interpreter=/usr/bin/python3 "
        # The targets' user setup (no become) runs in the executor's worker: half the time under TCG.
        "ansible_qga_executor=persistent ansible_qga_executor_idle_timeout=30\n" % (GROUP, test_vm.agent_socket)
    )
    playbook = tmp_path / "become.yml"
    playbook.write_text(BECOME_PLAYBOOK)
    env = ansible_env({"ANSIBLE_ROLES_PATH": TARGETS})
    env.pop("ANSIBLE_CALLBACKS_ENABLED")
    proc = subprocess.run([_bin("ansible-playbook"), "-i", str(inventory), str(playbook)], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-8000:]
    recap = [line for line in proc.stdout.splitlines() if re.match(r"vm\s+: ok=", line)]
    # The expected failures (a wrong password each, su's unlisted prompt, sudo's missing chdir) are ignored.
    assert len(recap) == 1 and "failed=0" in recap[0] and "unreachable=0" in recap[0], output[-4000:]
    assert "Incorrect su password" in output and "Incorrect sudo password" in output
