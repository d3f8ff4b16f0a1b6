# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The example playbooks in examples/, run as they are against the test VM (alice is its user).

Each test checks the effect in the guest through the agent (authorized_keys, /etc/shadow, the report
files) and that no secret reaches the output or a task result.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import typing as t

import yaml
from ansible_run import AnsibleRun, _bin, ansible_env, assert_no_secret, qga_host, run_playbook, vm_channel
from collection_path import REPO_ROOT
from fake_ssh_keys import ed25519
from guest import guest_sh, shadow_hash
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.plugin_utils.passwd_crypt import _libcrypt, verify_password

EXAMPLES = os.path.join(REPO_ROOT, "examples")
AUTHORIZED_KEYS = "/home/alice/.ssh/authorized_keys"
NO_SOCKET = "unix:/nonexistent/vmguest-qga-examples.sock"


def example(name: str) -> str:
    """The text of examples/NAME."""
    with open(os.path.join(EXAMPLES, name)) as handle:
        return handle.read()


def tasks_named(run: AnsibleRun, suffix: str, host: str) -> list[dict[str, t.Any]]:
    return [r for r in run.results if r["task"].endswith(suffix) and r["host"] == host]


def write_vars(directory: str, name: str, data: dict[str, t.Any]) -> str:
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle)
    return path


def vault_encrypt(path: str, password_file: str) -> None:
    subprocess.run([_bin("ansible-vault"), "encrypt", "--vault-password-file", password_file, path],
                   env=ansible_env(), check=True, capture_output=True)
    with open(path) as handle:
        assert handle.read().startswith("$ANSIBLE_VAULT;")


def test_fleet_facts_writes_a_report_per_reachable_guest(test_vm: t.Any, host_agent: HostAgent,
                                                         tmp_path: t.Any) -> None:
    report_dir = tmp_path / "reports"
    hosts = {"vm": qga_host(vm_channel(test_vm)), "hostagent": qga_host(host_agent.channel),
             "gone": qga_host(NO_SOCKET)}
    run = run_playbook(example("fleet_facts.yml"), hosts, args=["-e", "fleet_facts_dir=%s" % report_dir])
    assert run.rc == 0, run.output
    assert sorted(os.listdir(report_dir)) == ["hostagent.json", "vm.json"]
    vm_report = json.loads((report_dir / "vm.json").read_text())
    assert vm_report["inventory_hostname"] == "vm" and vm_report["hostname"] == "qga-testvm"
    assert vm_report["agent"]["commands"]["guest-exec"] is True
    assert vm_report["fsfreeze"] == "thawed"
    assert any(fs["mountpoint"] == "/run/data" for fs in vm_report["fsinfo"])
    assert vm_report["python"]["path"] == "/usr/bin/python3"
    assert "invocation" not in vm_report and "changed" not in vm_report
    line = tasks_named(run, "Print one line per guest", "vm")[0]["result"]["msg"]
    assert line.startswith("vm: qga-testvm, ") and "filesystems thawed" in line
    assert tasks_named(run, "Ask each agent about its guest", "gone") == []  # ended, not failed
    fleet = [r for r in run.results if r["task"].endswith("Show the summary of every host of the batch")]
    assert len(fleet) == 1  # run_once
    assert [entry.split(":")[0] for entry in fleet[0]["result"]["msg"]] == ["vm", "hostagent", "gone"]
    assert fleet[0]["result"]["msg"][2].startswith("gone: UNREACHABLE - cannot connect")


def test_rotate_ssh_keys_leaves_exactly_the_given_keys(test_vm: t.Any, tmp_path: t.Any) -> None:
    channel = vm_channel(test_vm)
    old_key, new_key, second_key = ed25519("old@example"), ed25519("new@example"), ed25519("second@example")
    guest_sh(channel, "mkdir -p /home/alice/.ssh && printf '%%s\\n' '%s' > %s && chown -R alice /home/alice/.ssh"
             % (old_key, AUTHORIZED_KEYS))
    keys_file = write_vars(str(tmp_path), "keys.yml", {"ssh_key_rotation": {"alice": [new_key, second_key]}})
    run = run_playbook(example("rotate_ssh_keys.yml"), {"vm": qga_host(channel)}, args=["-e", "@" + keys_file])
    assert run.rc == 0, run.output
    lines = [line for line in guest_sh(channel, "cat %s" % AUTHORIZED_KEYS).splitlines() if line.strip()]
    assert sorted(lines) == sorted([new_key, second_key])
    summary = tasks_named(run, "Say what changed", "vm")[0]["result"]["results"][0]["msg"]
    assert summary == "alice: 2 keys added, 1 removed"

    again = run_playbook(example("rotate_ssh_keys.yml"), {"vm": qga_host(channel)}, args=["-e", "@" + keys_file])
    assert again.rc == 0, again.output
    assert tasks_named(again, "Set exactly these keys for each user", "vm")[0]["result"]["changed"] is False


def test_rotate_ssh_keys_without_keys_says_what_to_set(test_vm: t.Any) -> None:
    run = run_playbook(example("rotate_ssh_keys.yml"), {"vm": qga_host(vm_channel(test_vm))})
    assert run.rc != 0
    assert "set ssh_key_rotation to a mapping of guest user" in run.output


def test_rotate_password_from_a_vaulted_hash(test_vm: t.Any, tmp_path: t.Any) -> None:
    channel = vm_channel(test_vm)
    compute = _libcrypt()
    assert compute is not None
    plain = "Rot-%s" % secrets.token_hex(6)
    hashed = compute(plain, "$6$%s$" % secrets.token_hex(8))
    assert hashed is not None and hashed.startswith("$6$")
    vault_password = secrets.token_hex(16)
    password_file = tmp_path / "vault-pass"
    password_file.write_text(vault_password)
    vault_file = write_vars(str(tmp_path), "vault.yml",
                            {"password_rotation": [{"user": "alice", "password_hash": hashed}]})
    vault_encrypt(vault_file, str(password_file))
    args = ["-e", "@" + vault_file, "--vault-password-file", str(password_file)]

    run = run_playbook(example("rotate_password.yml"), {"vm": qga_host(channel)}, args=[*args, "-vvv"])
    assert run.rc == 0, run.output
    assert shadow_hash(channel) == hashed
    assert verify_password(plain, shadow_hash(channel)) == (True, "")
    said = tasks_named(run, "Say whose password changed", "vm")[0]["result"]["msg"]
    assert said == "changed: alice; unchanged: nobody"
    assert_no_secret(run, plain, hashed, vault_password)

    again = run_playbook(example("rotate_password.yml"), {"vm": qga_host(channel)}, args=args)
    assert again.rc == 0, again.output
    assert tasks_named(again, "Say whose password changed", "vm")[0]["result"]["msg"] == \
        "changed: nobody; unchanged: alice"
    assert_no_secret(again, plain, hashed, vault_password)


def test_rotate_password_plain_vaulted_password(test_vm: t.Any, tmp_path: t.Any) -> None:
    channel = vm_channel(test_vm)
    before = shadow_hash(channel)
    plain = "Plain-%s" % secrets.token_hex(6)
    password_file = tmp_path / "vault-pass"
    password_file.write_text(secrets.token_hex(16))
    vault_file = write_vars(str(tmp_path), "vault.yml", {"password_rotation": [{"user": "alice", "password": plain}]})
    vault_encrypt(vault_file, str(password_file))
    run = run_playbook(example("rotate_password.yml"), {"vm": qga_host(channel)},
                       args=["-e", "@" + vault_file, "--vault-password-file", str(password_file), "-vvvv"])
    assert run.rc == 0, run.output
    after = shadow_hash(channel)
    assert after != before and verify_password(plain, after) == (True, "")
    assert_no_secret(run, plain, after)


def test_rotate_password_refuses_an_agent_without_the_command(host_agent: HostAgent) -> None:
    """The host agent blocks guest-set-user-password: the pre-flight stops before any password is sent."""
    secret = "Never-%s" % secrets.token_hex(6)
    run = run_playbook(example("rotate_password.yml"),
                       {"h": qga_host(host_agent.channel, password_rotation=[{"user": "root", "password": secret}])})
    assert run.rc != 0
    assert "feature password needs guest-set-user-password (disabled)" in run.output
    assert tasks_named(run, "Set each user's password", "h") == []
    assert_no_secret(run, secret)
