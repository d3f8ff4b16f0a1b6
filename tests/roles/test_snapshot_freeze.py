# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role vmguest.qga.snapshot_freeze and the module vmguest.qga.qmp_snapshot, against real agents and QEMU.

The host agent (freeze blocked) shows the refusals and the snapshot without freeze; the plain test VM is
frozen for real and snapshotted over its QMP socket, and the data image is read on the host with debugfs to
prove what the snapshot holds. Every VM test leaves the guest thawed. Their VM's disk is left on our overlays,
so they are marked spoils_vm("snapshot"): only the VM-spoiling tests ranked after them (a suspend) share
that VM, and the overlays are removed once it stops.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import typing as t
import uuid
from pathlib import Path

import pytest
from ansible_run import AnsibleRun, _bin, ansible_env, failure_of, ok, qga_host, result_of, run_playbook, vm_channel
from guest import agent, guest_sh, thaw
from hostagent import HostAgent

from ansible_collections.vmguest.qga.plugins.plugin_utils.fsfreeze_watchdog import FreezeState

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLE = "vmguest.qga.snapshot_freeze"
GUEST_DATA = "/run/data"


# -- helpers ---------------------------------------------------------------------------


def role_play(hosts: str = "all", role_vars: str = "") -> str:
    """A play including the role, then a task that prints snapshot_freeze_result for the results callback."""
    indented = textwrap.indent(textwrap.dedent(role_vars).strip(), "        ") if role_vars.strip() else ""
    return textwrap.dedent("""\
        - hosts: {hosts}
          gather_facts: false
          tasks:
            - name: Snapshot
              ansible.builtin.include_role:
                name: {role}
              vars:
        {vars}
            - name: Result
              ansible.builtin.debug:
                var: snapshot_freeze_result
        """).format(hosts=hosts, role=ROLE, vars=indented or "        {}")


def snapshot_result(run: AnsibleRun, host: str) -> dict[str, t.Any]:
    """snapshot_freeze_result of `host`, as the Result task printed it."""
    return t.cast("dict[str, t.Any]", ok(run, "Result", host)["snapshot_freeze_result"])


def role_task(run: AnsibleRun, name: str) -> dict[str, t.Any]:
    """The result of the role's task `name`, asserting it succeeded."""
    return ok(run, "%s : %s" % (ROLE, name))


def debugfs_cat(image: Path, path: str) -> str | None:
    """The content of `path` in the ext4 image `image` (read on the host), or None when it does not exist."""
    proc = subprocess.run(["debugfs", "-R", "cat %s" % path, str(image)], capture_output=True, text=True,
                          check=False)
    if "File not found" in proc.stderr or "not found by ext2_lookup" in proc.stderr:
        return None
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# -- host agent: refusals and snapshot without freeze -------------------------------------


def test_a_guest_that_cannot_freeze_is_refused_and_nothing_snapshotted(host_agent: HostAgent) -> None:
    marker = Path(tempfile.gettempdir()) / ("snapshot-freeze-%s" % uuid.uuid4().hex)
    run = run_playbook(role_play(role_vars="""
        snapshot_freeze_provider: command
        snapshot_freeze_command: [touch, "%s"]
    """ % marker), {"h": qga_host(host_agent.channel)})
    assert run.rc != 0
    msg = failure_of(run, "h")
    assert msg.startswith("h: the guest agent cannot freeze the filesystems")
    assert "guest-fsfreeze-freeze" in msg and "guest-fsfreeze-thaw" in msg
    assert "--allow-rpcs" in msg and "snapshot_freeze_require_freeze" in msg
    assert not marker.exists()


def test_without_require_freeze_the_snapshot_runs_unfrozen_and_says_so(host_agent: HostAgent) -> None:
    run = run_playbook(role_play(role_vars="""
        snapshot_freeze_provider: command
        snapshot_freeze_require_freeze: false
        snapshot_freeze_name: nightly
        snapshot_freeze_domain: dom-{{ inventory_hostname }}
        snapshot_freeze_command: 'echo "$SNAPSHOT_FREEZE_HOST $SNAPSHOT_FREEZE_DOMAIN $SNAPSHOT_FREEZE_NAME"'
    """), {"h": qga_host(host_agent.channel)})
    assert run.rc == 0, run.output
    result = snapshot_result(run, "h")
    assert result["froze"] is False and result["frozen_filesystems"] == 0 and result["frozen_seconds"] is None
    assert result["provider"] == "command" and result["name"] == "nightly" and result["thawed"] is True
    assert result["error"] is None
    assert result["snapshot"]["stdout"] == "h dom-h nightly" and result["snapshot"]["rc"] == 0
    assert "snapshot WITHOUT freezing" in run.output


def test_without_freeze_status_the_unfrozen_snapshot_still_works() -> None:
    with HostAgent(extra_blocked=["guest-fsfreeze-status"]) as blind:
        run = run_playbook(role_play(role_vars="""
            snapshot_freeze_provider: command
            snapshot_freeze_require_freeze: false
            snapshot_freeze_command: [echo, done]
        """), {"h": qga_host(blind.channel)})
    assert run.rc == 0, run.output
    result = snapshot_result(run, "h")
    assert result["froze"] is False and result["thawed"] is True and result["snapshot"]["stdout"] == "done"
    assert "guest-fsfreeze-status" in run.output  # named in the "WITHOUT freezing" message


def test_missing_provider_settings_are_named(host_agent: HostAgent) -> None:
    run = run_playbook(role_play(role_vars="snapshot_freeze_provider: qmp"), {"h": qga_host(host_agent.channel)})
    assert run.rc != 0
    assert "snapshot_freeze_provider=qmp needs snapshot_freeze_qmp_socket" in failure_of(run, "h")
    run = run_playbook(role_play(role_vars="snapshot_freeze_provider: zfs"), {"h": qga_host(host_agent.channel)})
    assert run.rc != 0
    assert "snapshot_freeze_provider" in run.output and "zfs" in run.output
    run = run_playbook(role_play(role_vars="""
        snapshot_freeze_provider: tasks
        snapshot_freeze_tasks_file: /nonexistent/snapshot.yml
    """), {"h": qga_host(host_agent.channel)})
    assert run.rc != 0
    assert failure_of(run, "h") == (
        "h: snapshot_freeze: snapshot_freeze_tasks_file /nonexistent/snapshot.yml is no file on the controller")


def test_a_tasks_file_that_cannot_be_included_fails_clearly(host_agent: HostAgent) -> None:
    run = run_playbook(role_play(role_vars="""
        snapshot_freeze_provider: tasks
        snapshot_freeze_require_freeze: false
        snapshot_freeze_tasks_file: no-such-snapshot-tasks.yml
    """), {"h": qga_host(host_agent.channel)})
    assert run.rc != 0
    assert failure_of(run, "h") == (
        "h: snapshot_freeze with provider tasks failed, no consistent snapshot was taken: including the tasks "
        "provider tasks failed (no-such-snapshot-tasks.yml), see the error above. The guest was thawed (freeze "
        "state: thawed)."
    )


# -- the plain test VM, snapshotted over QMP ---------------------------------------------


class SnapVM:
    """The plain test VM for snapshot tests, and a directory of the test module's own for the overlays."""

    def __init__(self, vm: t.Any, overlay_dir: Path) -> None:
        self.vm = vm
        self.channel = vm_channel(vm)
        self.overlay_dir = overlay_dir

    def host_vars(self, **extra: t.Any) -> dict[str, t.Any]:
        """Inventory vars: the qga connection and the qmp provider on the VM's QMP socket."""
        return qga_host(
            self.channel,
            snapshot_freeze_provider="qmp",
            snapshot_freeze_qmp_socket=str(self.vm.qmp_socket),
            snapshot_freeze_qmp_snapshot_file=str(self.overlay_dir / "{device}.{name}.qcow2"),
            snapshot_freeze_auto_thaw=300,
            **extra,
        )


@pytest.fixture(scope="module")
def snap_vm_module(vm_pool: t.Any) -> SnapVM:
    """The plain VM; its disk runs on our overlays from the first snapshot on, so they go when the VM stops."""
    overlay_dir = Path(tempfile.mkdtemp(prefix="vmguest-qga-snap-"))
    vm = vm_pool.plain_vm()
    vm_pool.on_plain_stop(lambda: shutil.rmtree(overlay_dir, ignore_errors=True))
    return SnapVM(vm, overlay_dir)


@pytest.fixture
def snap_vm(snap_vm_module: SnapVM) -> t.Iterator[SnapVM]:
    """The VM thawed before and after each test, with no freeze state of an earlier test left."""
    channel = snap_vm_module.channel
    thaw(channel)
    FreezeState(channel).remove()
    try:
        yield snap_vm_module
    finally:
        thaw(channel)
        FreezeState(channel).remove()


@pytest.mark.vm_kind("plain")
@pytest.mark.spoils_vm("snapshot")
def test_qmp_snapshot_holds_what_was_written_before_the_freeze(snap_vm: SnapVM) -> None:
    token = uuid.uuid4().hex
    guest_sh(snap_vm.channel, "echo before-%s > %s/before.txt" % (token, GUEST_DATA))
    run = run_playbook(role_play(role_vars="snapshot_freeze_name: proof"), {"vm": snap_vm.host_vars()})
    assert run.rc == 0, run.output
    result = snapshot_result(run, "vm")
    assert result["provider"] == "qmp" and result["name"] == "proof" and result["error"] is None
    assert result["froze"] is True and result["frozen_filesystems"] >= 1 and result["thawed"] is True
    assert 0 < result["frozen_seconds"] < 300
    assert result["snapshot"]["name"] == "proof"
    [disk] = result["snapshot"]["snapshots"]
    overlay = snap_vm.overlay_dir / ("%s.proof.qcow2" % disk["device"])
    assert disk["base_file"] == str(snap_vm.vm.data_image) and disk["snapshot_file"] == str(overlay)
    assert disk["format"] == "qcow2" and overlay.is_file()
    assert agent(snap_vm.channel, "guest-fsfreeze-status") == "thawed"

    # The raw image is now the overlay's read-only backing file: it holds the state at the snapshot.
    assert debugfs_cat(snap_vm.vm.data_image, "/before.txt") == "before-%s\n" % token
    guest_sh(snap_vm.channel, "echo after-%s > %s/after.txt && sync" % (token, GUEST_DATA))
    assert debugfs_cat(snap_vm.vm.data_image, "/after.txt") is None
    flattened = snap_vm.overlay_dir / "flattened.raw"
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", str(overlay), str(flattened)], check=True)
    try:
        # The running guest's last writes may sit in the ext4 journal only: replay it in the copy.
        fsck = subprocess.run(["e2fsck", "-fy", str(flattened)], capture_output=True, text=True, check=False)
        assert fsck.returncode in (0, 1), fsck.stdout + fsck.stderr
        assert debugfs_cat(flattened, "/after.txt") == "after-%s\n" % token
        assert debugfs_cat(flattened, "/before.txt") == "before-%s\n" % token
    finally:
        flattened.unlink()


@pytest.mark.vm_kind("plain")
@pytest.mark.spoils_vm("snapshot")
def test_check_mode_freezes_and_snapshots_nothing(snap_vm: SnapVM) -> None:
    run = run_playbook(role_play(role_vars="snapshot_freeze_name: checked"), {"vm": snap_vm.host_vars()},
                       args=["--check"])
    assert run.rc == 0, run.output
    result = snapshot_result(run, "vm")
    assert result["froze"] is True and result["frozen_filesystems"] == 0 and result["frozen_seconds"] is None
    [disk] = result["snapshot"]["snapshots"]
    assert disk["snapshot_file"] == str(snap_vm.overlay_dir / "virtio0.checked.qcow2")
    assert not Path(disk["snapshot_file"]).exists()
    assert role_task(run, "Freeze the guest's filesystems")["changed"] is True
    assert agent(snap_vm.channel, "guest-fsfreeze-status") == "thawed"


@pytest.mark.vm_kind("plain")
@pytest.mark.spoils_vm("snapshot")
def test_a_guest_frozen_by_someone_else_is_refused_and_left_frozen(snap_vm: SnapVM) -> None:
    agent(snap_vm.channel, "guest-fsfreeze-freeze")
    run = run_playbook(role_play(role_vars="snapshot_freeze_name: other"), {"vm": snap_vm.host_vars()})
    assert run.rc != 0
    assert failure_of(run, "vm").startswith("vm: the guest's filesystems are frozen already")
    assert agent(snap_vm.channel, "guest-fsfreeze-status") == "frozen"
    assert not list(snap_vm.overlay_dir.glob("*other*"))


@pytest.mark.vm_kind("plain")
@pytest.mark.spoils_vm("snapshot")
def test_a_failing_snapshot_command_fails_clearly_and_thaws(snap_vm: SnapVM) -> None:
    run = run_playbook(role_play(role_vars="""
        snapshot_freeze_provider: command
        snapshot_freeze_command: [sh, -c, 'echo "no space for $SNAPSHOT_FREEZE_NAME" >&2; false']
        snapshot_freeze_name: doomed
    """), {"vm": snap_vm.host_vars()})
    assert run.rc != 0
    msg = failure_of(run, "vm")
    assert msg.startswith("vm: snapshot_freeze with provider command failed, no consistent snapshot was taken")
    assert "non-zero return code" in msg and "no space for doomed" in msg
    assert "The guest was thawed after" in msg
    assert role_task(run, "Verify the guest is thawed")
    assert role_task(run, "Thaw the guest's filesystems")["thawed_count"] >= 1
    assert agent(snap_vm.channel, "guest-fsfreeze-status") == "thawed"


@pytest.mark.vm_kind("plain")
@pytest.mark.spoils_vm("snapshot")
def test_a_bad_qmp_device_fails_clearly_and_thaws(snap_vm: SnapVM) -> None:
    run = run_playbook(role_play(role_vars="""
        snapshot_freeze_qmp_devices: [no-such-disk]
        snapshot_freeze_name: baddev
    """), {"vm": snap_vm.host_vars()})
    assert run.rc != 0
    msg = failure_of(run, "vm")
    assert msg.startswith("vm: snapshot_freeze with provider qmp failed")
    assert "no block device 'no-such-disk' in this VM; it has: virtio0" in msg
    assert "The guest was thawed" in msg
    assert role_task(run, "Thaw the guest's filesystems")["changed"] is True
    assert agent(snap_vm.channel, "guest-fsfreeze-status") == "thawed"
    assert not list(snap_vm.overlay_dir.glob("*baddev*"))


@pytest.mark.vm_kind("plain")
@pytest.mark.spoils_vm("snapshot")
def test_many_hosts_in_one_play_each_on_its_own(snap_vm: SnapVM, fresh_host_agent: HostAgent) -> None:
    marker = Path(tempfile.mkdtemp(prefix="vmguest-qga-snapmark-"))
    try:
        run = run_playbook(role_play(), {
            "vm": snap_vm.host_vars(snapshot_freeze_name="many"),
            "strict": qga_host(fresh_host_agent.channel, snapshot_freeze_provider="command",
                               snapshot_freeze_command=["touch", str(marker / "strict")]),
            "lenient": qga_host(fresh_host_agent.channel, snapshot_freeze_provider="command",
                                snapshot_freeze_require_freeze=False,
                                snapshot_freeze_command="touch %s/$SNAPSHOT_FREEZE_HOST" % marker),
        })
        assert run.rc != 0  # the strict host failed
        assert failure_of(run, "strict").startswith("strict: the guest agent cannot freeze the filesystems")
        vm = snapshot_result(run, "vm")
        assert vm["froze"] is True and vm["frozen_filesystems"] >= 1 and vm["error"] is None
        assert vm["snapshot"]["snapshots"][0]["snapshot_file"] == str(snap_vm.overlay_dir / "virtio0.many.qcow2")
        lenient = snapshot_result(run, "lenient")
        assert lenient["froze"] is False and lenient["snapshot"]["rc"] == 0
        assert sorted(os.listdir(marker)) == ["lenient"]
        assert agent(snap_vm.channel, "guest-fsfreeze-status") == "thawed"
    finally:
        shutil.rmtree(marker, ignore_errors=True)


@pytest.mark.vm_kind("plain")
@pytest.mark.spoils_vm("snapshot")
def test_tasks_provider_runs_the_users_tasks_while_frozen(snap_vm: SnapVM) -> None:
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-snaptasks-") as work:
        tasks_file = Path(work) / "snapshot.yml"
        tasks_file.write_text(textwrap.dedent("""\
            - name: Ask the agent while frozen
              vmguest.qga.qga_fsfreeze:
                state: status
              register: during
            - name: Snapshot with the module directly
              vmguest.qga.qmp_snapshot:
                socket: "{{ snapshot_freeze_qmp_socket }}"
                name: "{{ snapshot_freeze_snapshot_name }}"
                snapshot_file: "%s/{device}.{name}.qcow2"
              delegate_to: localhost
              register: made
            - name: Report
              ansible.builtin.set_fact:
                snapshot_freeze_snapshot:
                  status_during: "{{ during.status }}"
                  files: "{{ made.snapshots | map(attribute='snapshot_file') | list }}"
            """ % snap_vm.overlay_dir))
        run = run_playbook(role_play(role_vars="""
            snapshot_freeze_provider: tasks
            snapshot_freeze_tasks_file: %s
            snapshot_freeze_name: bytasks
        """ % tasks_file), {"vm": snap_vm.host_vars()})
    assert run.rc == 0, run.output
    result = snapshot_result(run, "vm")
    assert result["snapshot"] == {"status_during": "frozen",
                                  "files": [str(snap_vm.overlay_dir / "virtio0.bytasks.qcow2")]}
    assert result["froze"] is True and result["thawed"] is True
    assert agent(snap_vm.channel, "guest-fsfreeze-status") == "thawed"


@pytest.mark.vm_kind("plain")
@pytest.mark.spoils_vm("snapshot")
def test_qmp_snapshot_module_check_mode_and_refusals(snap_vm: SnapVM) -> None:
    (snap_vm.overlay_dir / "virtio0.taken.qcow2").write_bytes(b"")
    run = run_playbook(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          module_defaults:
            vmguest.qga.qmp_snapshot:
              socket: {socket}
              snapshot_file: "{overlays}/{{device}}.{{name}}.qcow2"
          tasks:
            - name: check
              vmguest.qga.qmp_snapshot:
                name: checked
              check_mode: true
            - name: taken name
              vmguest.qga.qmp_snapshot:
                name: taken
              ignore_errors: true
            - name: relative pattern
              vmguest.qga.qmp_snapshot:
                snapshot_file: "{{name}}.qcow2"
              ignore_errors: true
            - name: no socket
              vmguest.qga.qmp_snapshot:
                socket: /nonexistent/qmp.sock
              ignore_errors: true
        """).format(socket=snap_vm.vm.qmp_socket, overlays=snap_vm.overlay_dir), {})
    check = result_of(run, "check")
    assert check["changed"] is True and check["name"] == "checked"
    assert check["snapshots"] == [{
        "device": "virtio0", "node_name": check["snapshots"][0]["node_name"], "qdev": check["snapshots"][0]["qdev"],
        "base_file": check["snapshots"][0]["base_file"], "format": "qcow2",
        "snapshot_file": str(snap_vm.overlay_dir / "virtio0.checked.qcow2"),
    }]
    assert not (snap_vm.overlay_dir / "virtio0.checked.qcow2").exists()
    assert "virtio0.taken.qcow2 exists already" in result_of(run, "taken name")["msg"]
    assert "which is not an absolute path" in result_of(run, "relative pattern")["msg"]
    assert "the QMP socket /nonexistent/qmp.sock does not exist" in result_of(run, "no socket")["msg"]


@pytest.mark.vm_kind("plain")
@pytest.mark.spoils_vm("snapshot")
def test_the_example_playbook_snapshots_the_test_vm(snap_vm: SnapVM) -> None:
    with tempfile.TemporaryDirectory(prefix="vmguest-qga-example-") as work:
        inventory = Path(work) / "inventory.yml"
        inventory.write_text(textwrap.dedent("""\
            vms:
              hosts:
                testvm:
                  ansible_connection: vmguest.qga.qga
                  ansible_qga_channel: "{channel}"
                  qmp_socket: "{qmp}"
            """).format(channel=snap_vm.channel, qmp=snap_vm.vm.qmp_socket))
        proc = subprocess.run(
            [_bin("ansible-playbook"), "-i", str(inventory), str(REPO_ROOT / "examples" / "freeze_snapshot.yml")],
            env=ansible_env(), capture_output=True, text=True, check=False, timeout=600, cwd=work,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    match = re.search(r"(\d+) filesystem\(s\) frozen for ([\d.]+) s; new overlays: (\S+\.qcow2)", proc.stdout)
    assert match, proc.stdout
    assert int(match.group(1)) >= 1 and float(match.group(2)) > 0
    assert Path(match.group(3)).is_file() and ".freeze-" in match.group(3)
    assert agent(snap_vm.channel, "guest-fsfreeze-status") == "thawed"


# -- the same VM under libvirtd ------------------------------------------------------------


@pytest.mark.vm_kind("libvirt")
@pytest.mark.spoils_vm("snapshot")
def test_libvirt_provider_takes_external_disk_only_snapshots(vm_pool: t.Any) -> None:
    vm = vm_pool.libvirt_vm()
    channel = "libvirt:%s" % vm.uri
    host = qga_host(channel, ansible_qga_domain=vm.domain, snapshot_freeze_libvirt_uri=vm.uri,
                    snapshot_freeze_provider="libvirt")
    try:
        token = uuid.uuid4().hex
        guest_sh(channel, "echo before-%s > %s/before.txt" % (token, GUEST_DATA), domain=vm.domain)
        run = run_playbook(role_play(role_vars="""
            snapshot_freeze_libvirt_no_metadata: true
            snapshot_freeze_name: lvsnap
        """), {vm.domain: host})
        assert run.rc == 0, run.output
        result = snapshot_result(run, vm.domain)
        assert result["froze"] is True and result["frozen_filesystems"] >= 1 and result["error"] is None
        snapshot = result["snapshot"]
        assert snapshot["name"] == "lvsnap" and snapshot["domain"] == vm.domain and snapshot["metadata"] is False
        overlay = Path(snapshot["disks"]["vda"])
        assert overlay != vm.data_image and overlay.is_file() and "lvsnap" in overlay.name
        assert agent(channel, "guest-fsfreeze-status", domain=vm.domain) == "thawed"
        assert debugfs_cat(vm.data_image, "/before.txt") == "before-%s\n" % token

        # With metadata (the default) libvirt keeps the snapshot object, also for this transient domain.
        run = run_playbook(role_play(role_vars="""
            snapshot_freeze_name: lvmeta
            snapshot_freeze_libvirt_description: by snapshot_freeze
        """), {vm.domain: host})
        assert run.rc == 0, run.output
        snapshot = snapshot_result(run, vm.domain)["snapshot"]
        assert snapshot["metadata"] is True and "lvmeta" in Path(snapshot["disks"]["vda"]).name
        listed = subprocess.run(["virsh", "-c", vm.uri, "snapshot-list", "--domain", vm.domain, "--name"],
                                capture_output=True, text=True, check=True).stdout.split()
        assert listed == ["lvmeta"]
        assert agent(channel, "guest-fsfreeze-status", domain=vm.domain) == "thawed"
    finally:
        # The domain now writes to the overlays: later tests get a fresh one.
        vm_pool.discard_libvirt()
