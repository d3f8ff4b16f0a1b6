# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_ssh_keys: alice's keys in the test VM; on the host agent only what changes nothing."""

from __future__ import annotations

import base64
import os
import struct
import subprocess
import typing as t

import pytest
from ansible_run import AnsibleRun, _bin, ansible_env, ok, qga_host, run_playbook
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.module_utils.qga import guest_exec
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.ssh_keys import InvalidKeyError, parse_key

AUTHORIZED_KEYS = "/home/alice/.ssh/authorized_keys"


def failed(run: AnsibleRun, name: str) -> str:
    entry = run.task(name)
    assert entry["status"] == "failed", "%s: %s\n%s" % (name, entry, run.output)
    return str(entry["result"]["msg"])


def key_blob(key_type: str, body: bytes) -> str:
    encoded_type = key_type.encode()
    return base64.b64encode(struct.pack(">I", len(encoded_type)) + encoded_type + body).decode()


def ed25519(comment: str = "") -> str:
    line = "ssh-ed25519 " + key_blob("ssh-ed25519", struct.pack(">I", 32) + os.urandom(32))
    return line + (" " + comment if comment else "")


def rsa(comment: str = "") -> str:
    body = struct.pack(">I", 3) + b"\x01\x00\x01" + struct.pack(">I", 257) + b"\x00" + os.urandom(256)
    return "ssh-rsa " + key_blob("ssh-rsa", body) + (" " + comment if comment else "")


def guest_keys_file(channel: str) -> list[str]:
    """alice's authorized_keys lines as the file holds them ([] when there is no file)."""
    with QgaClient(channel, timeout=60) as client:
        result = guest_exec.run(client, ["/bin/sh", "-c", "cat %s 2>/dev/null; true" % AUTHORIZED_KEYS])
    return [line for line in result.stdout.decode().splitlines() if line.strip()]


def guest_sh(channel: str, script: str) -> str:
    with QgaClient(channel, timeout=60) as client:
        result = guest_exec.run(client, ["/bin/sh", "-c", script], timeout=60)
    assert result.rc == 0, result
    return result.stdout.decode()


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
    channel = "unix:%s" % test_vm.agent_socket
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
    channel = "unix:%s" % test_vm.agent_socket
    before = guest_keys_file(channel)
    good = ed25519("good")
    msg = failed(keys_run(channel, [good, "ssh-ed25519 AAAAnotakey"]), "keys")
    assert "keys[1] (ssh-ed25519 AAAAnotakey) is not a valid OpenSSH public key" in msg
    mismatched = "ssh-rsa " + good.split()[1]
    assert "is not a ssh-rsa key (it says 'ssh-ed25519')" in failed(keys_run(channel, [mismatched]), "keys")
    assert guest_keys_file(channel) == before  # nothing was sent
    unknown = failed(keys_run(channel, [good], user="no-such-user-qga"), "keys")
    assert "the guest has no user 'no-such-user-qga'" in unknown


@pytest.mark.fault
def test_errors_that_change_nothing_on_the_host_agent(host_agent: HostAgent) -> None:
    hosts = {"h": qga_host(host_agent.channel, keys=["bogus"], user="no-such-user-qga")}
    run = run_playbook(KEYS_PLAY, hosts)
    assert "keys[0] (bogus) is not a valid OpenSSH public key: no known key type" in failed(run, "keys")
    hosts["h"]["keys"] = [ed25519("x")]
    run = run_playbook(KEYS_PLAY, hosts, args=["--check"])
    assert "the guest has no user 'no-such-user-qga'" in failed(run, "keys")
    hosts["h"]["keys"] = [ed25519("a"), ed25519("b").rsplit(" ", 1)[0]]
    hosts["h"]["keys"].append(hosts["h"]["keys"][1] + " other-comment")
    run = run_playbook(KEYS_PLAY, hosts, args=["--check"])
    assert "keys[1] and keys[2] are the same key" in failed(run, "keys")


@pytest.mark.parametrize(("line", "reason"), [
    ("", "the key is empty"),
    ("# comment", "a comment line is not a key"),
    ("ssh-ed25519", "the base64 key data after the key type ssh-ed25519 is missing"),
    ("ssh-ed25519 !!!!", "not valid base64"),
    ("ssh-ed25519 AAAA\nssh-rsa AAAA", "one line"),
    ('command="unterminated ssh-ed25519 AAAA', "unterminated quote"),
    ("ssh-foo AAAA", "no known key type"),
])
def test_key_validation_reasons(line: str, reason: str) -> None:
    with pytest.raises(InvalidKeyError) as info:
        parse_key(line)
    assert reason in str(info.value)


def test_valid_key_forms() -> None:
    blob = key_blob("ecdsa-sha2-nistp256", b"\x00\x00\x00\x08nistp256" + os.urandom(20))
    assert parse_key("ecdsa-sha2-nistp256 %s" % blob).comment == ""
    sk = key_blob("sk-ssh-ed25519@openssh.com", os.urandom(40))
    key = parse_key('from="10.0.0.1,10.0.0.2",no-agent-forwarding sk-ssh-ed25519@openssh.com %s me@x' % sk)
    assert key.options == 'from="10.0.0.1,10.0.0.2",no-agent-forwarding' and key.comment == "me@x"


def test_ansible_doc() -> None:
    proc = subprocess.run([_bin("ansible-doc"), "-t", "module", "vmguest.qga.qga_ssh_keys"], env=ansible_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "exclusive" in proc.stdout and "removed" in proc.stdout
