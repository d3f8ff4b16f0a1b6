# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The vmguest.qga.qga connection end to end: real ansible-playbook runs against the TCG test VM.

The plain QEMU VM (agent on a unix socket) first, then the same VM under libvirtd (the
libvirt transport: small request/reply caps, guest-exec output spilled to guest files).
The VM pool runs one VM at a time, so the libvirt tests come last. Every test runs twice, with
pipelining and with the persistent executor (`vm_connection_mode`, tests/connection/conftest.py).
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import typing as t
import uuid

import pytest
from ansible_run import AnsibleRun, ok, run_playbook
from connection_modes import CONNECTION_MODES
from payloads import binary_payload, sha256

GUEST_PYTHON = "/usr/bin/python3"
GUEST_HOSTNAME = "qga-testvm"
DATA_DIR = "/run/data"
ALICE_HOME = "/home/alice"


def vm_host(test_vm: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    """Inventory vars reaching the plain VM's agent socket."""
    return {
        "ansible_connection": "vmguest.qga.qga",
        "ansible_qga_channel": "unix:%s" % test_vm.agent_socket,
        "ansible_python_interpreter": GUEST_PYTHON,
        **extra,
    }


def libvirt_host(libvirt_vm: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    """Inventory vars reaching the VM through libvirt's agent API."""
    return {
        "ansible_connection": "vmguest.qga.qga",
        "ansible_qga_channel": "libvirt:" + libvirt_vm.uri,
        "ansible_qga_domain": libvirt_vm.domain,
        "ansible_python_interpreter": GUEST_PYTHON,
        **extra,
    }


def unique() -> str:
    """A suffix that keeps one test's guest files apart from every other run's (the VM is shared)."""
    return uuid.uuid4().hex[:10]


# ---------------------------------------------------------------------------------------- plain VM
# A Python module task costs ~4 s of TCG time; checks that need no module use `raw` (~0.3 s).


FACTS_AND_FILES_PLAY = """
- hosts: all
  gather_facts: true
  gather_subset: ["!all", "hardware"]
  vars:
    blob: "{{ data_dir }}/blob-{{ tag }}.bin"
    rendered: "{{ data_dir }}/rendered-{{ tag }}.txt"
  tasks:
    - name: copy binary
      ansible.builtin.copy:
        src: "{{ local_dir }}/blob.bin"
        dest: "{{ blob }}"
        mode: "0640"
    - name: sha256 in guest
      ansible.builtin.raw: sha256sum -- {{ blob }}
    - name: fetch binary
      ansible.builtin.fetch:
        src: "{{ blob }}"
        dest: "{{ local_dir }}/fetched.bin"
        flat: true
    - name: template without mode
      ansible.builtin.template:
        src: "{{ local_dir }}/page.j2"
        dest: "{{ rendered }}"
    - name: files in guest
      ansible.builtin.raw: stat -c '%a %U %s' -- {{ blob }} {{ rendered }} && cat -- {{ rendered }}
    - name: clean up
      ansible.builtin.raw: rm -f -- {{ blob }} {{ rendered }}
"""


class FilesRun(t.NamedTuple):
    run: AnsibleRun
    payload: bytes
    local_dir: t.Any


@pytest.fixture(scope="module", params=["pipelining", "executor"])
def facts_and_files(request: pytest.FixtureRequest, vm_pool: t.Any, tmp_path_factory: t.Any) -> FilesRun:
    """One play per connection mode (a Python task costs seconds in the TCG VM): gather facts, then
    copy/fetch/template with them."""
    local_dir = tmp_path_factory.mktemp("round-trip")
    payload = binary_payload(3 * 1024 * 1024 + 12345)  # several 1 MiB write chunks, not chunk-aligned
    (local_dir / "blob.bin").write_bytes(payload)
    (local_dir / "page.j2").write_text("host={{ ansible_hostname }}\nfamily={{ ansible_os_family }}\n")
    host = vm_host(vm_pool.plain_vm(), data_dir=DATA_DIR, tag=unique(), local_dir=str(local_dir))
    return FilesRun(run_playbook(FACTS_AND_FILES_PLAY, {"vm": host}, env=CONNECTION_MODES[request.param]),
                    payload, local_dir)


@pytest.mark.vm_kind("plain")
def test_gather_facts_describe_the_vm(facts_and_files: FilesRun) -> None:
    facts = ok(facts_and_files.run, "Gathering Facts")["ansible_facts"]
    assert facts["ansible_distribution"] == "Debian"
    assert facts["ansible_os_family"] == "Debian"
    assert facts["ansible_system"] == "Linux"
    assert facts["ansible_hostname"] == GUEST_HOSTNAME
    assert facts["ansible_processor_vcpus"] == 2
    assert facts["ansible_user_id"] == "root"
    assert facts["ansible_env"]["HOME"] == "/root"
    data = [mount for mount in facts["ansible_mounts"] if mount["mount"] == DATA_DIR]
    assert len(data) == 1, facts["ansible_mounts"]
    assert (data[0]["fstype"], data[0]["device"]) == ("ext4", "/dev/vda")
    assert 0 < data[0]["size_total"] <= 64 * 1024 * 1024


@pytest.mark.vm_kind("plain")
def test_copy_template_fetch_round_trip_keeps_bytes_and_modes(facts_and_files: FilesRun) -> None:
    run, payload, local_dir = facts_and_files
    assert run.rc == 0, run.output

    copied = ok(run, "copy binary")
    assert copied["changed"] is True
    assert copied["checksum"] == hashlib.sha1(payload).hexdigest()  # noqa: S324 (what copy reports)
    assert copied["size"] == len(payload)
    assert ok(run, "sha256 in guest")["stdout"].split()[0] == sha256(payload)
    assert ok(run, "fetch binary")["changed"] is True
    assert (local_dir / "fetched.bin").read_bytes() == payload
    assert ok(run, "template without mode")["changed"] is True

    blob_line, rendered_line, *page = ok(run, "files in guest")["stdout_lines"]
    assert blob_line.split() == ["640", "root", str(len(payload))]
    rendered_mode, rendered_owner, _size = rendered_line.split()
    assert rendered_owner == "root"
    # the agent creates files 0666; what the connection uploads must never end up group/world-writable
    assert int(rendered_mode, 8) & (stat.S_IWGRP | stat.S_IWOTH) == 0, rendered_mode
    # rendered on the controller with facts gathered in the guest
    assert page == ["host=%s" % GUEST_HOSTNAME, "family=Debian"]


BECOME_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: identity
      ansible.builtin.raw: whoami; echo "$HOME"; echo ~
      become: true
      become_user: alice
      become_method: "{{ method }}"
    - name: touch
      ansible.builtin.file:
        path: "/tmp/become-{{ tag }}"
        state: touch
        mode: "0640"
      become: true
      become_user: alice
      become_method: "{{ method }}"
    - name: check as root
      ansible.builtin.raw: whoami; stat -c %U:%a /tmp/become-{{ tag }}; rm -f /tmp/become-{{ tag }}
"""


@pytest.mark.usefixtures("vm_connection_mode")
@pytest.mark.parametrize("method", ["su", "sudo"])
def test_become_alice(test_vm: t.Any, method: str) -> None:
    if method == "sudo" and shutil.which("sudo") is None:  # the guest's root is the host's, read-only
        pytest.skip("sudo is not installed on the host (scripts/setup.sh installs it)")
    run = run_playbook(BECOME_PLAY, {"vm": vm_host(test_vm, method=method, tag=unique())})
    assert run.rc == 0, run.output
    # the become success marker is gone from the output, HOME and ~ are alice's
    assert ok(run, "identity")["stdout_lines"] == ["alice", ALICE_HOME, ALICE_HOME]
    touched = ok(run, "touch")  # a Python module, pipelined through su/sudo
    assert touched["changed"] is True and touched["owner"] == "alice"
    assert ok(run, "check as root")["stdout_lines"] == ["root", "alice:640"]


REMOTE_USER_PLAY = """
- hosts: all
  gather_facts: false
  vars:
    dest: "/home/alice/from-copy-{{ tag }}.txt"
    upload_report: "/tmp/upload-{{ tag }}"
  tasks:
    - name: identity
      ansible.builtin.raw: whoami; echo ~; echo "$HOME"; pwd
    - name: copy as alice
      ansible.builtin.copy:
        content: "written by alice\\n"
        dest: "~/from-copy-{{ tag }}.txt"  # expanded by the action in the guest, as alice
        # runs on the uploaded temporary file before it is moved into place
        validate: "/bin/sh -c 'stat -c %%U:%%a:%%n \\"$1\\" > {{ upload_report }}' sh %s"
    - name: check
      ansible.builtin.raw: cat {{ upload_report }}; stat -c %U:%a {{ dest }} /home/alice/.ansible/tmp; cat {{ dest }}
    - name: fetch as alice
      ansible.builtin.fetch:
        src: "{{ dest }}"
        dest: "{{ local_dir }}/fetched-as-alice.txt"
        flat: true
    - name: literal tilde directories
      vars:
        ansible_user: root
      ansible.builtin.raw: |
        for d in / /root /home/alice /tmp "$(pwd)"; do
          if [ -e "$d/~" ]; then echo "$d/~"; fi
        done
        find /root /home /tmp /var/tmp /run -xdev -maxdepth 4 -name '~' 2>/dev/null
        rm -f {{ dest }} {{ upload_report }}
"""


@pytest.mark.usefixtures("vm_connection_mode")
def test_remote_user_alice_home_uploads_and_remote_tmp(test_vm: t.Any, tmp_path: t.Any) -> None:
    host = vm_host(test_vm, ansible_user="alice", tag=unique(), local_dir=str(tmp_path))
    run = run_playbook(REMOTE_USER_PLAY, {"vm": host})
    assert run.rc == 0, run.output
    user, tilde, home, cwd = ok(run, "identity")["stdout_lines"]
    assert (user, tilde, home, cwd) == ("alice", ALICE_HOME, ALICE_HOME, ALICE_HOME)  # started in the home, as ssh
    assert ok(run, "copy as alice")["changed"] is True
    upload_line, dest_line, remote_tmp_line, content = ok(run, "check")["stdout_lines"]
    owner, mode, upload = upload_line.split(":", 2)
    # put_file created the upload as alice, private (0600; the copy action then adds u+x) from its first byte,
    # in the default remote_tmp ~/.ansible/tmp expanded to alice's home
    assert owner == "alice"
    assert int(mode, 8) & 0o077 == 0, mode
    assert upload.startswith(ALICE_HOME + "/.ansible/tmp/ansible-tmp-"), upload
    dest_owner, dest_mode = dest_line.split(":")
    assert dest_owner == "alice"
    assert int(dest_mode, 8) & (stat.S_IWGRP | stat.S_IWOTH) == 0, dest_mode
    assert remote_tmp_line == "alice:700"
    assert content == "written by alice"
    assert ok(run, "fetch as alice")["changed"] is True
    assert (tmp_path / "fetched-as-alice.txt").read_bytes() == b"written by alice\n"
    found = ok(run, "literal tilde directories")["stdout"].strip()
    assert found == "", "literal '~' directories in the guest (task cwd %s):\n%s" % (cwd, found)


RESET_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: before reset
      ansible.builtin.raw: echo before
    - name: reset
      ansible.builtin.meta: reset_connection
    - name: module after reset
      ansible.builtin.ping:
    - name: raw after reset
      ansible.builtin.raw: echo after
    - name: reset again
      ansible.builtin.meta: reset_connection
    - name: raw after second reset
      ansible.builtin.raw: echo again
"""


@pytest.mark.usefixtures("vm_connection_mode")
def test_reset_connection_mid_play(test_vm: t.Any) -> None:
    run = run_playbook(RESET_PLAY, {"vm": vm_host(test_vm)}, args=["-vvv"])
    assert run.rc == 0, run.output
    assert ok(run, "before reset")["stdout"] == "before\n"
    assert ok(run, "module after reset")["ping"] == "pong"
    assert ok(run, "raw after reset")["stdout"] == "after\n"
    assert ok(run, "raw after second reset")["stdout"] == "again\n"
    assert run.stdout.count("reset connection") == 2, run.stdout


FORKS_PLAY = """
- hosts: all
  gather_facts: false
  vars:
    own: "/tmp/forks-{{ tag }}-{{ inventory_hostname }}"
  tasks:
    - name: hold the channel
      ansible.builtin.raw: sleep 4; echo "{{ inventory_hostname }}" > {{ own }}; echo $$
    - name: copy own file
      ansible.builtin.copy:
        content: "payload of {{ inventory_hostname }}\\n"
        dest: "{{ own }}.copy"
    - name: read own files
      ansible.builtin.raw: cat {{ own }} {{ own }}.copy
    - name: read all files
      ansible.builtin.raw: >-
        cd /tmp && for f in forks-{{ tag }}-*; do printf '%s=%s\\n' "$f" "$(cat "$f")"; done && rm -f forks-{{ tag }}-*
      run_once: true
"""


@pytest.mark.parametrize("shared_domain", [
    pytest.param(False, id="default_domain"),
    pytest.param(True, id="shared_domain"),
])
@pytest.mark.usefixtures("vm_connection_mode")
@pytest.mark.fault
def test_two_hosts_on_one_channel_with_forks(test_vm: t.Any, shared_domain: bool) -> None:
    tag = unique()
    names = ("vm_a", "vm_b")
    # Both forks reach the one agent socket at once; they must take turns. A short connect timeout makes a
    # client that does not wait for its turn fail fast instead of by luck.
    extra: dict[str, t.Any] = {"tag": tag, "ansible_qga_connect_timeout": 2}
    if shared_domain:
        extra["ansible_qga_domain"] = "the-test-vm"  # the same lock key for both hosts
    run = run_playbook(FORKS_PLAY, {name: vm_host(test_vm, **extra) for name in names}, args=["--forks", "2"])
    assert run.rc == 0, run.output
    for name in names:
        assert ok(run, "copy own file", name)["changed"] is True
        assert ok(run, "read own files", name)["stdout_lines"] == [name, "payload of %s" % name]
    assert ok(run, "hold the channel", "vm_a")["stdout"] != ok(run, "hold the channel", "vm_b")["stdout"]
    assert sorted(ok(run, "read all files")["stdout_lines"]) == sorted([
        "forks-%s-vm_a=vm_a" % tag,
        "forks-%s-vm_a.copy=payload of vm_a" % tag,
        "forks-%s-vm_b=vm_b" % tag,
        "forks-%s-vm_b.copy=payload of vm_b" % tag,
    ])


LARGE_STDOUT_PLAY = """
- hosts: all
  gather_facts: false
  vars:
    big: "{{ data_dir }}/big-{{ tag }}.txt"
  tasks:
    - name: make 6 MB
      ansible.builtin.raw: head -c 4500000 /dev/urandom | base64 -w 0 > {{ big }} && sha256sum -- {{ big }}
    - name: cat 6 MB
      ansible.builtin.command: cat -- {{ big }}
    - name: remove
      ansible.builtin.raw: rm -f -- {{ big }}
    - name: still works
      ansible.builtin.raw: echo still here
"""


def check_large_stdout(run: AnsibleRun) -> None:
    assert run.rc == 0, run.output[-5000:]
    guest_sum = ok(run, "make 6 MB")["stdout"].split()[0]
    big = ok(run, "cat 6 MB")
    assert (big["rc"], big["stderr"]) == (0, "")
    assert len(big["stdout"]) == 6000000
    assert sha256(big["stdout"].encode("ascii")) == guest_sum
    assert ok(run, "still works")["stdout"] == "still here\n"


@pytest.mark.usefixtures("vm_connection_mode")
def test_large_stdout_through_command_is_intact(test_vm: t.Any) -> None:
    run = run_playbook(LARGE_STDOUT_PLAY, {"vm": vm_host(test_vm, data_dir=DATA_DIR, tag=unique())})
    check_large_stdout(run)


UNICODE_TEXT = "grüße ✓ 日本語 — ünïcødé\n"

STDIN_RC_UNICODE_PLAY = """
- hosts: all
  gather_facts: false
  vars:
    udir: "/tmp/qga ünï ✓ {{ tag }}"
    ufile: "{{ udir }}/fïlé 日本.txt"
    utmp: "/tmp/qga tmp ✓ {{ tag }}"
  tasks:
    - name: stdin and rc
      ansible.builtin.command: sh -c 'cat; echo " on stderr ✓" >&2; exit 3'
      args:
        stdin: "first line\\nzweite Zeile ✓"
      ignore_errors: true
    - name: killed by signal
      ansible.builtin.raw: kill -9 $$
      ignore_errors: true
    - name: unicode dir
      ansible.builtin.raw: mkdir -p -- "{{ udir }}"
    - name: unicode copy
      ansible.builtin.copy:
        content: "{{ text }}"
        dest: "{{ ufile }}"
      vars:
        ansible_remote_tmp: "{{ utmp }}"  # the upload path itself is unicode
    - name: unicode fetch
      ansible.builtin.fetch:
        src: "{{ ufile }}"
        dest: "{{ local_dir }}/ünï fetched.txt"
        flat: true
    - name: unicode raw
      ansible.builtin.raw: >-
        printf '%s\\n' "ünï ✓ 日本" && ls -- "{{ udir }}" && cat -- "{{ ufile }}" && test -d "{{ utmp }}"
    - name: clean up
      ansible.builtin.raw: rm -rf -- "{{ udir }}" "{{ utmp }}"
"""


@pytest.mark.usefixtures("vm_connection_mode")
def test_command_stdin_rc_and_unicode(test_vm: t.Any, tmp_path: t.Any) -> None:
    host = vm_host(test_vm, tag=unique(), text=UNICODE_TEXT, local_dir=str(tmp_path))
    run = run_playbook(STDIN_RC_UNICODE_PLAY, {"vm": host})
    assert run.rc == 0, run.output
    failed = run.task("stdin and rc")
    assert failed["status"] == "failed"
    assert failed["result"]["rc"] == 3
    assert failed["result"]["stdout"] == "first line\nzweite Zeile ✓"
    assert failed["result"]["stderr"] == " on stderr ✓"
    killed = run.task("killed by signal")
    assert (killed["status"], killed["result"]["rc"]) == ("failed", -9)

    assert ok(run, "unicode copy")["changed"] is True
    assert ok(run, "unicode fetch")["changed"] is True
    assert (tmp_path / "ünï fetched.txt").read_bytes() == UNICODE_TEXT.encode("utf-8")
    assert ok(run, "unicode raw")["stdout_lines"] == ["ünï ✓ 日本", "fïlé 日本.txt", UNICODE_TEXT.rstrip("\n")]


ASYNC_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: start
      ansible.builtin.shell: 'while [ ! -e /tmp/go-{{ tag }} ]; do sleep 0.2; done; echo "done {{ tag }}"; exit 5'
      async: 60
      poll: 0
      register: started
    - name: right after start
      ansible.builtin.async_status:
        jid: "{{ started.ansible_job_id }}"
    - name: release the job
      ansible.builtin.raw: touch /tmp/go-{{ tag }}
    - name: wait
      ansible.builtin.async_status:
        jid: "{{ started.ansible_job_id }}"
      register: job
      until: job.finished
      retries: 30
      delay: 1
      failed_when: false
    - name: job file
      ansible.builtin.raw: ls ~/.ansible_async/{{ started.ansible_job_id }} && rm -f /tmp/go-{{ tag }}
"""


@pytest.mark.usefixtures("vm_connection_mode")
def test_async_task_and_async_status(test_vm: t.Any) -> None:
    tag = unique()
    run = run_playbook(ASYNC_PLAY, {"vm": vm_host(test_vm, tag=tag)})
    assert run.rc == 0, run.output
    started = ok(run, "start")
    assert (started["started"], started["finished"]) == (1, 0)
    assert started["results_file"] == "/root/.ansible_async/%s" % started["ansible_job_id"]
    assert ok(run, "right after start")["finished"] == 0  # still waiting in the background
    job = ok(run, "wait")
    assert job["finished"] == 1
    assert (job["rc"], job["stdout"]) == (5, "done %s" % tag)
    assert ok(run, "job file")["stdout"].strip() == started["results_file"]


# ---------------------------------------------------------------------------------------- libvirt
# (after the plain-VM tests: the pool stops the plain VM to boot the libvirt one)


LIBVIRT_PLAY = """
- hosts: all
  gather_facts: true
  gather_subset: ["!all", "hardware"]
  vars:
    blob: "/run/data/libvirt-{{ tag }}.bin"
  tasks:
    - name: ping
      ansible.builtin.ping:
    - name: command
      ansible.builtin.command: uname -n
    - name: copy
      ansible.builtin.copy:
        src: "{{ local_dir }}/blob.bin"
        dest: "{{ blob }}"
        mode: "0600"
    - name: fetch
      ansible.builtin.fetch:
        src: "{{ blob }}"
        dest: "{{ local_dir }}/fetched.bin"
        flat: true
    - name: in guest
      ansible.builtin.raw: sha256sum -- {{ blob }} && stat -c '%a %s' -- {{ blob }} && rm -f -- {{ blob }}
    - name: raw rc and unicode
      ansible.builtin.raw: echo "through libvirt ✓"; exit 4
      ignore_errors: true
    - name: become alice
      ansible.builtin.raw: whoami
      become: true
      become_user: alice
      become_method: su
"""


@pytest.mark.usefixtures("vm_connection_mode")
def test_play_over_libvirt(libvirt_vm: t.Any, tmp_path: t.Any) -> None:
    payload = binary_payload(3 * 1024 * 1024 + 777)  # over libvirt's ~3 MiB reply cap and many write chunks
    (tmp_path / "blob.bin").write_bytes(payload)
    run = run_playbook(LIBVIRT_PLAY, {"vm": libvirt_host(libvirt_vm, tag=unique(), local_dir=str(tmp_path))})
    assert run.rc == 0, run.output
    facts = ok(run, "Gathering Facts")["ansible_facts"]
    assert facts["ansible_distribution"] == "Debian"
    assert facts["ansible_hostname"] == GUEST_HOSTNAME
    assert facts["ansible_processor_vcpus"] == 2
    assert any(mount["mount"] == DATA_DIR and mount["fstype"] == "ext4" for mount in facts["ansible_mounts"])
    assert ok(run, "ping")["ping"] == "pong"
    assert ok(run, "command")["stdout"] == GUEST_HOSTNAME
    assert ok(run, "copy")["checksum"] == hashlib.sha1(payload).hexdigest()  # noqa: S324 (what copy reports)
    assert ok(run, "fetch")["changed"] is True
    assert (tmp_path / "fetched.bin").read_bytes() == payload
    guest_sum, mode_size = ok(run, "in guest")["stdout_lines"]
    assert guest_sum.split()[0] == sha256(payload)
    assert mode_size == "600 %d" % len(payload)
    failed = run.task("raw rc and unicode")
    assert (failed["status"], failed["result"]["rc"]) == ("failed", 4)
    assert failed["result"]["stdout"] == "through libvirt ✓\n"
    assert ok(run, "become alice")["stdout"] == "alice\n"


RAW_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: raw
      ansible.builtin.raw: echo ok
"""


@pytest.mark.usefixtures("vm_connection_mode")
@pytest.mark.fault
def test_large_stdout_over_libvirt_is_spilled_and_the_channel_survives(libvirt_vm: t.Any) -> None:
    # 6 MB of stdout is an 8 MB module reply: one guest-exec-status through libvirt cannot carry it
    # (replies are capped near 4 MiB, and past 10 MiB the domain's agent channel breaks).
    run = run_playbook(LARGE_STDOUT_PLAY, {"vm": libvirt_host(libvirt_vm, data_dir=DATA_DIR, tag=unique())})
    check_large_stdout(run)
    # "still works" ran after it in the same play; a new connection to the domain works too
    again = run_playbook(RAW_PLAY, {"vm": libvirt_host(libvirt_vm)})
    assert again.rc == 0, again.output
    assert ok(again, "raw")["stdout"] == "ok\n"
