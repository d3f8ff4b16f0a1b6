# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_user_password: alice's password in the test VM (its /etc is a writable copy).

The host agent blocks guest-set-user-password; there only the clear "disabled" error is checked.
Every run is searched for the password, its base64 form and the hash: none may appear.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import typing as t

import pytest
from ansible_run import AnsibleRun, _bin, ansible_env, ok, qga_host, run_playbook
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.plugin_utils.passwd_crypt import _libcrypt, shadow_field, verify_password

PASSWORD_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: password
      vmguest.qga.qga_user_password:
        user: "{{ user | default('alice') }}"
        password: "{{ secret }}"
        crypted: "{{ crypted | default(false) }}"
        update_password: "{{ update | default('on_change') }}"
      ignore_errors: true
"""


def failed(run: AnsibleRun, name: str) -> str:
    entry = run.task(name)
    assert entry["status"] == "failed", "%s: %s\n%s" % (name, entry, run.output)
    return str(entry["result"]["msg"])


def alice_hash(channel: str) -> str:
    with QgaClient(channel, timeout=60) as client:
        field = shadow_field(files.read_bytes(client, "/etc/shadow").decode(), "alice")
    assert field is not None
    return field


def assert_no_secret(run: AnsibleRun, *secrets_: str) -> None:
    """Neither the secrets nor their base64 appear in the output or in any task result."""
    everything = run.output + repr(run.results)
    for secret in secrets_:
        for form in (secret, base64.b64encode(secret.encode()).decode()):
            assert form not in everything, "a secret leaked into the output"


def password_run(channel: str, secret: str, args: t.Sequence[str] = (), **extra: t.Any) -> AnsibleRun:
    run = run_playbook(PASSWORD_PLAY, {"vm": qga_host(channel, secret=secret, **extra)}, args=args)
    assert_no_secret(run, secret)
    return run


def test_plain_password_set_verified_and_idempotent(test_vm: t.Any) -> None:
    channel = "unix:%s" % test_vm.agent_socket
    first_secret = "Pw-%s" % secrets.token_hex(6)
    first = ok(password_run(channel, first_secret, args=["--diff"]), "password")
    assert first["changed"] is True and first["verified"] is True
    assert first["diff"]["after"] == "password changed\n"
    set_hash = alice_hash(channel)
    assert verify_password(first_secret, set_hash) == (True, "")

    # second identical run: compared with the controller's crypt, unchanged; the hash is untouched
    again = ok(password_run(channel, first_secret, args=["--diff", "-vvvvv"]), "password")
    assert again["changed"] is False and again["verified"] is True and "diff" not in again
    assert alice_hash(channel) == set_hash

    # check mode with another password: reported, nothing written
    other = "Pw-%s" % secrets.token_hex(6)
    checked = ok(password_run(channel, other, args=["--check", "--diff"]), "password")
    assert checked["changed"] is True and checked["diff"]["before"] == "password: current\n"
    assert alice_hash(channel) == set_hash

    # a new password changes the hash; -vvvvv shows neither it, its base64 nor the hashes
    changed_run = password_run(channel, other, args=["-vvvvv"])
    assert ok(changed_run, "password")["changed"] is True
    new_hash = alice_hash(channel)
    assert new_hash != set_hash and verify_password(other, new_hash) == (True, "")
    assert "guest-set-user-password" in changed_run.output  # the command name is logged, not its arguments
    assert_no_secret(changed_run, other, new_hash, set_hash)

    always = ok(password_run(channel, other, update="always"), "password")
    assert always["changed"] is True
    assert verify_password(other, alice_hash(channel)) == (True, "")


def test_crypted_password_is_compared_as_a_hash(test_vm: t.Any) -> None:
    channel = "unix:%s" % test_vm.agent_socket
    compute = _libcrypt()
    assert compute is not None
    hashed = compute("Crypted-%s" % secrets.token_hex(4), "$6$%s$" % secrets.token_hex(8))
    assert hashed is not None and hashed.startswith("$6$")
    first = ok(password_run(channel, hashed, crypted=True), "password")
    assert first["changed"] is True
    assert alice_hash(channel) == hashed
    assert ok(password_run(channel, hashed, crypted=True, args=["-vvvv"]), "password")["changed"] is False
    yescrypt = compute("Other", "$y$j9T$%s$" % secrets.token_hex(8)[:16])
    assert yescrypt is not None
    assert ok(password_run(channel, yescrypt, crypted=True), "password")["changed"] is True
    assert alice_hash(channel) == yescrypt


@pytest.mark.fault
def test_bad_input_in_the_vm(test_vm: t.Any) -> None:
    channel = "unix:%s" % test_vm.agent_socket
    before = alice_hash(channel)
    unknown = failed(password_run(channel, "Whatever-1", user="no-such-user-qga"), "password")
    assert "the guest has no user 'no-such-user-qga'" in unknown
    not_a_hash = failed(password_run(channel, "plain-text", crypted=True), "password")
    assert "must be a crypt(3) hash" in not_a_hash
    assert alice_hash(channel) == before


@pytest.mark.fault
def test_disabled_command_on_the_host_agent_says_how_to_enable_it(host_agent: HostAgent) -> None:
    secret = "Host-%s" % secrets.token_hex(6)
    run = run_playbook(PASSWORD_PLAY, {"h": qga_host(host_agent.channel, secret=secret, user="root")},
                       args=["-vvvv"])
    msg = failed(run, "password")
    assert "guest-set-user-password has been disabled" in msg
    assert "--allow-rpcs" in msg and "--block-rpcs" in msg
    assert_no_secret(run, secret)


def test_own_channel_option_from_localhost(test_vm: t.Any) -> None:
    channel = "unix:%s" % test_vm.agent_socket
    secret = "Chan-%s" % secrets.token_hex(6)
    run = run_playbook("""
- hosts: all
  gather_facts: false
  tasks:
    - name: password
      vmguest.qga.qga_user_password:
        channel: "%s"
        user: alice
        password: "{{ secret }}"
""" % channel, {"localhost": {"ansible_connection": "local", "secret": secret}}, args=["-vvv"])
    assert ok(run, "password")["changed"] is True
    assert_no_secret(run, secret)
    assert verify_password(secret, alice_hash(channel)) == (True, "")


def test_ansible_doc() -> None:
    proc = subprocess.run([_bin("ansible-doc"), "-t", "module", "vmguest.qga.qga_user_password"],
                          env=ansible_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "update_password" in proc.stdout and "crypted" in proc.stdout
