# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_user_password: alice's password in the test VM (its /etc is a writable copy).

The host agent blocks guest-set-user-password; there only the clear "disabled" error is checked.
Every run is searched for the password, its base64 form and the hash: none may appear.
"""

from __future__ import annotations

import secrets
import typing as t

import pytest
from ansible_run import AnsibleRun, assert_no_secret, failed, ok, qga_host, run_playbook, vm_channel
from guest import shadow_hash
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.plugin_utils.passwd_crypt import _libcrypt, verify_password

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


def password_run(channel: str, secret: str, args: t.Sequence[str] = (), **extra: t.Any) -> AnsibleRun:
    run = run_playbook(PASSWORD_PLAY, {"vm": qga_host(channel, secret=secret, **extra)}, args=args)
    assert_no_secret(run, secret)
    return run


def test_plain_password_set_verified_and_idempotent(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    first_secret = "Pw-%s" % secrets.token_hex(6)
    first = ok(password_run(channel, first_secret, args=["--diff"]), "password")
    assert first["changed"] is True and first["verified"] is True
    assert first["diff"]["after"] == "password changed\n"
    set_hash = shadow_hash(channel)
    assert verify_password(first_secret, set_hash) == (True, "")

    # second identical run: compared with the controller's crypt, unchanged; the hash is untouched
    again = ok(password_run(channel, first_secret, args=["--diff", "-vvvvv"]), "password")
    assert again["changed"] is False and again["verified"] is True and "diff" not in again
    assert shadow_hash(channel) == set_hash

    # check mode with another password: reported, nothing written
    other = "Pw-%s" % secrets.token_hex(6)
    checked = ok(password_run(channel, other, args=["--check", "--diff"]), "password")
    assert checked["changed"] is True and checked["diff"]["before"] == "password: current\n"
    assert shadow_hash(channel) == set_hash

    # a new password changes the hash; -vvvvv shows neither it, its base64 nor the hashes
    changed_run = password_run(channel, other, args=["-vvvvv"])
    assert ok(changed_run, "password")["changed"] is True
    new_hash = shadow_hash(channel)
    assert new_hash != set_hash and verify_password(other, new_hash) == (True, "")
    assert "guest-set-user-password" in changed_run.output  # the command name is logged, not its arguments
    assert_no_secret(changed_run, other, new_hash, set_hash)

    always = ok(password_run(channel, other, update="always"), "password")
    assert always["changed"] is True
    assert verify_password(other, shadow_hash(channel)) == (True, "")


def test_crypted_password_is_compared_as_a_hash(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    compute = _libcrypt()
    assert compute is not None
    hashed = compute("Crypted-%s" % secrets.token_hex(4), "$6$%s$" % secrets.token_hex(8))
    assert hashed is not None and hashed.startswith("$6$")
    first = ok(password_run(channel, hashed, crypted=True), "password")
    assert first["changed"] is True
    assert shadow_hash(channel) == hashed
    assert ok(password_run(channel, hashed, crypted=True, args=["-vvvv"]), "password")["changed"] is False
    yescrypt = compute("Other", "$y$j9T$%s$" % secrets.token_hex(8)[:16])
    assert yescrypt is not None
    assert ok(password_run(channel, yescrypt, crypted=True), "password")["changed"] is True
    assert shadow_hash(channel) == yescrypt


@pytest.mark.fault
def test_bad_input_in_the_vm(test_vm: t.Any) -> None:
    """An unknown user changes nothing. (Input refused before the agent is asked: test_user_password_input.py.)"""
    channel = vm_channel(test_vm)
    before = shadow_hash(channel)
    unknown = failed(password_run(channel, "Whatever-1", user="no-such-user-qga"), "password")["msg"]
    assert "the guest has no user 'no-such-user-qga'" in unknown
    assert shadow_hash(channel) == before


@pytest.mark.fault
def test_disabled_command_on_the_host_agent_says_how_to_enable_it(host_agent: HostAgent) -> None:
    secret = "Host-%s" % secrets.token_hex(6)
    run = run_playbook(PASSWORD_PLAY, {"h": qga_host(host_agent.channel, secret=secret, user="root")},
                       args=["-vvvv"])
    msg = failed(run, "password")["msg"]
    assert "guest-set-user-password has been disabled" in msg
    assert "--allow-rpcs" in msg and "--block-rpcs" in msg
    assert_no_secret(run, secret)


def test_own_channel_option_from_localhost(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
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
    assert verify_password(secret, shadow_hash(channel)) == (True, "")
