# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_ssh_keys: alice's keys in the test VM; on the host agent only what changes nothing."""

from __future__ import annotations

import typing as t

import pytest
from ansible_run import AnsibleRun, failed, ok, qga_host, run_playbook, vm_channel
from fake_ssh_keys import ed25519, rsa
from guest import guest_sh
from hostagent import HostAgent

AUTHORIZED_KEYS = "/home/alice/.ssh/authorized_keys"


def guest_keys_file(channel: str) -> list[str]:
    """alice's authorized_keys lines as the file holds them ([] when there is no file)."""
    return [line for line in guest_sh(channel, "cat %s 2>/dev/null; true" % AUTHORIZED_KEYS).splitlines()
            if line.strip()]


KEYS_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: keys
      vmguest.qga.qga_ssh_keys:
        user: "{{ user | default('alice') }}"
        keys: "{{ keys }}"
        state: "{{ state | default('present') }}"
      ignore_errors: true
"""


def keys_run(channel: str, keys: list[str], state: str = "present", args: t.Sequence[str] = (),
             **extra: t.Any) -> AnsibleRun:
    return run_playbook(KEYS_PLAY, {"vm": qga_host(channel, keys=keys, state=state, **extra)}, args=args)


def test_present_absent_exclusive_for_alice(test_vm: t.Any) -> None:
    channel = vm_channel(test_vm)
    guest_sh(channel, "rm -rf /home/alice/.ssh")
    k1, k2, k3 = ed25519("k1@test"), rsa("k2@test"), ed25519("k3@test")
    with_options = 'no-pty,command="echo hi there" ' + ed25519("forced")

    # no authorized_keys yet: counts as empty; the agent creates ~/.ssh 0700 and the file 0600 as alice
    first = ok(keys_run(channel, [k1, k2], args=["--diff"]), "keys")
    assert first["changed"] is True and sorted(first["added"]) == sorted([k1, k2]) and first["removed"] == []
    assert first["diff"]["before"] == "" and sorted(first["diff"]["after"].splitlines()) == sorted([k1, k2])
    assert sorted(guest_keys_file(channel)) == sorted([k1, k2])
    assert guest_sh(channel, "stat -c '%a %U' /home/alice/.ssh /home/alice/.ssh/authorized_keys").split("\n")[:2] \
        == ["700 alice", "600 alice"]
    assert ok(keys_run(channel, [k1, k2]), "keys")["changed"] is False
    # extra whitespace in a given key is normalised, not a new key
    assert ok(keys_run(channel, ["  " + k1.replace(" ", "   ") + " "]), "keys")["changed"] is False

    # check mode: reported, not done
    checked = ok(keys_run(channel, [k3, with_options], args=["--check", "--diff"]), "keys")
    assert checked["changed"] is True and sorted(checked["added"]) == sorted([k3, with_options])
    assert with_options in checked["diff"]["after"] and with_options not in checked["diff"]["before"]
    assert sorted(guest_keys_file(channel)) == sorted([k1, k2])

    # the same key with another comment replaces its line
    renamed = k1.rsplit(" ", 1)[0] + " k1-renamed"
    replaced = ok(keys_run(channel, [renamed]), "keys")
    assert replaced["changed"] is True and replaced["removed"] == [k1] and replaced["added"] == [renamed]
    assert sorted(guest_keys_file(channel)) == sorted([k2, renamed])

    # exclusive: exactly these
    exclusive = ok(keys_run(channel, [k3, with_options], state="exclusive", args=["--diff"]), "keys")
    assert exclusive["changed"] is True
    assert sorted(exclusive["removed"]) == sorted([k2, renamed])
    assert sorted(exclusive["diff"]["after"].splitlines()) == sorted([k3, with_options])
    assert sorted(guest_keys_file(channel)) == sorted([k3, with_options])
    assert ok(keys_run(channel, [with_options, k3], state="exclusive"), "keys")["changed"] is False

    # absent matches the key whatever its comment or options
    bare = with_options[with_options.index("ssh-ed25519"):].rsplit(" ", 1)[0]
    absent = ok(keys_run(channel, [bare], state="absent", args=["--diff"]), "keys")
    assert absent["changed"] is True and absent["removed"] == [with_options]
    assert absent["diff"]["after"] == k3 + "\n"
    assert guest_keys_file(channel) == [k3]
    assert ok(keys_run(channel, [bare], state="absent"), "keys")["changed"] is False

    # exclusive with no keys empties the file
    assert ok(keys_run(channel, [], state="exclusive"), "keys")["changed"] is True
    assert guest_keys_file(channel) == []
    assert ok(keys_run(channel, [], state="exclusive"), "keys")["changed"] is False


@pytest.mark.fault
def test_bad_keys_and_unknown_user_in_the_vm(test_vm: t.Any) -> None:
    """A malformed key is refused before anything is sent; the other refusals: tests/unit/test_ssh_keys.py."""
    channel = vm_channel(test_vm)
    before = guest_keys_file(channel)
    good = ed25519("good")
    msg = failed(keys_run(channel, [good, "ssh-ed25519 AAAAnotakey"]), "keys")["msg"]
    assert "keys[1] (ssh-ed25519 AAAAnotakey) is not a valid OpenSSH public key" in msg
    assert guest_keys_file(channel) == before  # nothing was sent
    unknown = failed(keys_run(channel, [good], user="no-such-user-qga"), "keys")["msg"]
    assert "the guest has no user 'no-such-user-qga'" in unknown


@pytest.mark.fault
def test_an_unknown_user_changes_nothing_on_the_host_agent(host_agent: HostAgent) -> None:
    hosts = {"h": qga_host(host_agent.channel, keys=[ed25519("x")], user="no-such-user-qga")}
    run = run_playbook(KEYS_PLAY, hosts, args=["--check"])
    assert "the guest has no user 'no-such-user-qga'" in failed(run, "keys")["msg"]
