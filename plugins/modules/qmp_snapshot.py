#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qmp_snapshot
short_description: Take an atomic external disk snapshot of a running QEMU VM over its QMP socket
version_added: 0.1.0
description:
  - Creates an external snapshot (a new overlay image, by default qcow2) of block devices of a running QEMU through
    the QEMU Monitor Protocol (QMP), in one C(transaction) of C(blockdev-snapshot-sync) actions, so all disks are
    snapshotted at the same instant or none is.
  - After the snapshot the VM writes to the overlays; the former images become their read-only backing files, which
    can be copied or backed up as they are.
  - This is a B(hypervisor-side) module, unlike the C(qga_*) modules of this collection it does not talk to the guest
    agent. Run it where the QMP socket is, usually with C(delegate_to) (see the P(vmguest.qga.snapshot_freeze#role)
    role, whose V(qmp) provider uses it after freezing the guest's filesystems).
  - Meant for plain QEMU VMs. For libvirt domains use C(virsh snapshot-create-as --disk-only), so that libvirt knows
    the new images.
author:
  - vmguest.qga contributors (@vmguest)
requirements:
  - qemu.qmp (Python library, on the host the module runs on)
extends_documentation_fragment:
  - vmguest.qga.attributes.hypervisor  # before the shared fragment: its platform details win
  - vmguest.qga.attributes
attributes:
  check_mode:
    support: full
    description: Reads the block devices and reports the snapshot files it would create; creates nothing.
  diff_mode:
    support: none
    description: Reports no diff.
options:
  socket:
    description:
      - Path of the VM's QMP unix socket (C(-qmp unix:PATH,server=on,wait=off)).
      - QEMU serves one QMP client at a time on such a socket; while another client stays connected this module
        waits up to O(timeout) seconds.
    type: path
    required: true
  devices:
    description:
      - The block devices to snapshot, each by its device name (C(virtio0), C(drive-virtio-disk0)), node name, or
        qdev id/path, as C(query-block) reports them.
      - Default is every non-removable block device with a medium that is not read-only.
    type: list
    elements: str
  name:
    description:
      - The snapshot's name, used in O(snapshot_file). Default is C(snap-) and the UTC time, like
        V(snap-20250131T100000Z).
    type: str
  snapshot_file:
    description:
      - Pattern of the new overlay image's path per device (Python C(str.format)). Fields are C({dir}), C({basename})
        and C({stem}) (basename without its last extension) of the device's current image, C({file}) (its full
        path), C({device}), C({node}) (node name) and C({name}) (O(name)).
      - The result must be an absolute path and must be different for each device.
    type: str
    default: "{dir}/{stem}.{name}.qcow2"
  format:
    description: The format of the overlay images.
    type: str
    default: qcow2
  mode:
    description:
      - V(absolute-paths) lets QEMU create each overlay (the file must not exist yet; the module refuses to overwrite
        one).
      - V(existing) uses overlays created beforehand (for example with C(qemu-img create -b)); they must exist.
    type: str
    choices: [absolute-paths, existing]
    default: absolute-paths
  timeout:
    description: Seconds to wait for the QMP socket and for each QMP command.
    type: float
    default: 60
notes:
  - QEMU, not this module, writes the overlay files, so the paths are paths on the host QEMU runs on, and QEMU must be
    allowed to create them (directory permissions, AppArmor/SELinux).
  - The overlays are not added to any VM configuration; a VM started again from its original command line uses the
    old images. Merge them back with C(block-commit) or keep the command line in step.
  - For a consistent snapshot freeze the guest's filesystems first (M(vmguest.qga.qga_fsfreeze), or the
    P(vmguest.qga.snapshot_freeze#role) role that freezes, snapshots and always thaws).
seealso:
  - module: vmguest.qga.qga_fsfreeze
  - name: QEMU block device snapshots (QMP transaction)
    description: The QMP commands this module uses.
    link: https://qemu-project.gitlab.io/qemu/interop/live-block-operations.html
"""

EXAMPLES = r"""
- name: Snapshot every writable disk of the VM, on the hypervisor
  vmguest.qga.qmp_snapshot:
    socket: /run/vms/web1/qmp.sock
  delegate_to: hypervisor1
  register: snap

- name: Snapshot one disk into a backup directory, under a name of our own
  vmguest.qga.qmp_snapshot:
    socket: /run/vms/db1/qmp.sock
    devices: [virtio1]
    name: nightly
    snapshot_file: /srv/overlays/{device}-{name}.qcow2
  delegate_to: hypervisor1

- name: Freeze the guest, snapshot, thaw (the role does this and more)
  ansible.builtin.include_role:
    name: vmguest.qga.snapshot_freeze
  vars:
    snapshot_freeze_provider: qmp
    snapshot_freeze_qmp_socket: /run/vms/{{ inventory_hostname }}/qmp.sock
"""

RETURN = r"""
name:
  description: The snapshot's name (O(name) or the generated one).
  returned: always
  type: str
  sample: snap-20250131T100000Z
snapshots:
  description: One entry per device snapshotted (in check mode, that would be).
  returned: always
  type: list
  elements: dict
  contains:
    device:
      description: The device name (empty for devices known by node name only).
      type: str
      sample: virtio0
    node_name:
      description: The node name of the device's image before the snapshot.
      type: str
    qdev:
      description: The guest device's qdev id or path.
      type: str
    base_file:
      description: The image the device used before; now the overlay's read-only backing file.
      type: str
      sample: /run/vms/web1/disk0.img
    snapshot_file:
      description: The new overlay the device writes to from now on.
      type: str
      sample: /run/vms/web1/disk0.snap-20250131T100000Z.qcow2
    format:
      description: The overlay's format.
      type: str
      sample: qcow2
"""

import asyncio
import contextlib
import os
import time
import traceback
import typing as t

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

QMP_IMPORT_ERROR: str | None
try:
    from qemu.qmp import ConnectError, ExecuteError, QMPClient, QMPError
except ImportError:
    QMP_IMPORT_ERROR = traceback.format_exc()
else:
    QMP_IMPORT_ERROR = None

ARGUMENT_SPEC: dict[str, t.Any] = {
    "socket": {"type": "path", "required": True},
    "devices": {"type": "list", "elements": "str"},
    "name": {"type": "str"},
    "snapshot_file": {"type": "str", "default": "{dir}/{stem}.{name}.qcow2"},
    "format": {"type": "str", "default": "qcow2"},
    "mode": {"type": "str", "choices": ["absolute-paths", "existing"], "default": "absolute-paths"},
    "timeout": {"type": "float", "default": 60.0},
}


class SnapshotError(Exception):
    """A request this module refuses, or a QMP failure, explained for the user."""


def default_name() -> str:
    """snap-<UTC time>, sortable and safe in file names."""
    return time.strftime("snap-%Y%m%dT%H%M%SZ", time.gmtime())


def describe_block(block: dict[str, t.Any]) -> str:
    """One query-block entry as `device (node N, file F)` for error messages."""
    inserted = block.get("inserted") or {}
    label = block.get("device") or inserted.get("node-name") or block.get("qdev") or "?"
    details = ["node %s" % inserted.get("node-name")] if inserted.get("node-name") else []
    details.append(inserted.get("file") or "no medium")
    if block.get("removable"):
        details.append("removable")
    if inserted.get("ro"):
        details.append("read-only")
    return "%s (%s)" % (label, ", ".join(details))


def is_default_target(block: dict[str, t.Any]) -> bool:
    """A writable, non-removable device with a medium: what a VM's disks look like."""
    inserted = block.get("inserted") or {}
    return bool(inserted) and not block.get("removable") and not inserted.get("ro")


def find_block(blocks: list[dict[str, t.Any]], wanted: str) -> dict[str, t.Any]:
    """The query-block entry whose device name, node name or qdev is `wanted`."""
    for block in blocks:
        inserted = block.get("inserted") or {}
        if wanted in (block.get("device"), inserted.get("node-name"), block.get("qdev")):
            return block
    raise SnapshotError("no block device %r in this VM; it has: %s" % (
        wanted, "; ".join(describe_block(block) for block in blocks) or "none"))


def select_blocks(blocks: list[dict[str, t.Any]], devices: list[str] | None) -> list[dict[str, t.Any]]:
    """The requested devices (each must have a writable medium), or every default target."""
    if devices is None:
        chosen = [block for block in blocks if is_default_target(block)]
        if not chosen:
            raise SnapshotError("this VM has no writable, non-removable block device to snapshot; it has: %s" % (
                "; ".join(describe_block(block) for block in blocks) or "none"))
        return chosen
    chosen = []
    for wanted in devices:
        block = find_block(blocks, wanted)
        if not block.get("inserted"):
            raise SnapshotError("block device %r has no medium to snapshot" % wanted)
        if block["inserted"].get("ro"):
            raise SnapshotError("block device %r is read-only: %s" % (wanted, describe_block(block)))
        if block not in chosen:
            chosen.append(block)
    return chosen


def plan_snapshot(block: dict[str, t.Any], pattern: str, name: str, image_format: str) -> dict[str, str]:
    """The return entry for one device: where its overlay goes."""
    inserted = block["inserted"]
    current = inserted.get("file") or ""
    basename = os.path.basename(current)
    fields = {
        "file": current,
        "dir": os.path.dirname(current),
        "basename": basename,
        "stem": os.path.splitext(basename)[0],
        "device": block.get("device") or "",
        "node": inserted.get("node-name") or "",
        "name": name,
    }
    try:
        target = pattern.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise SnapshotError("snapshot_file %r is not a valid pattern (fields: %s): %s" % (
            pattern, ", ".join(sorted(fields)), exc)) from None
    if not os.path.isabs(target):
        raise SnapshotError("snapshot_file %r gives %r for %s, which is not an absolute path%s" % (
            pattern, target, describe_block(block),
            " (its image has no plain file name: set a snapshot_file without {dir}/{file})"
            if current.startswith("json:") or not current else ""))
    return {
        "device": block.get("device") or "",
        "node_name": inserted.get("node-name") or "",
        "qdev": block.get("qdev") or "",
        "base_file": current,
        "snapshot_file": target,
        "format": image_format,
    }


def check_targets(planned: list[dict[str, str]], mode: str) -> None:
    """Distinct overlay paths; new ones must not exist (never overwrite), existing ones must."""
    seen: set[str] = set()
    for entry in planned:
        target = entry["snapshot_file"]
        if target in seen:
            raise SnapshotError("two devices would get the same snapshot file %s: add {device} or {node} to "
                                "snapshot_file" % target)
        seen.add(target)
        if mode == "absolute-paths" and os.path.lexists(target):
            raise SnapshotError("snapshot file %s exists already (snapshot name used before?); choose another name "
                                "or snapshot_file, or mode=existing to use it as the overlay" % target)
        if mode == "existing" and not os.path.exists(target):
            raise SnapshotError("mode=existing but the overlay %s does not exist" % target)


def transaction_actions(planned: list[dict[str, str]], mode: str) -> list[dict[str, t.Any]]:
    """One blockdev-snapshot-sync action per device, addressed by device name or else node name."""
    actions = []
    for entry in planned:
        data: dict[str, t.Any] = {"snapshot-file": entry["snapshot_file"], "format": entry["format"], "mode": mode}
        if entry["device"]:
            data["device"] = entry["device"]
        else:
            data["node-name"] = entry["node_name"]
        actions.append({"type": "blockdev-snapshot-sync", "data": data})
    return actions


def verify_switched(blocks: list[dict[str, t.Any]], planned: list[dict[str, str]]) -> None:
    """After the transaction each device must write to its overlay."""
    for entry in planned:
        block = find_block(blocks, entry["device"] or entry["qdev"] or entry["node_name"])
        active = (block.get("inserted") or {}).get("file")
        if active != entry["snapshot_file"]:
            raise SnapshotError("the transaction succeeded but %s now uses %s, not %s" % (
                describe_block(block), active, entry["snapshot_file"]))


class QmpSession:
    """One QMP connection (qemu.qmp's asyncio QMPClient), each command bounded by a timeout."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.client = QMPClient("vmguest.qga.qmp_snapshot")

    async def __aenter__(self) -> QmpSession:
        try:
            await asyncio.wait_for(self.client.connect(self.socket_path), self.timeout)
        except asyncio.TimeoutError:
            await self.client.disconnect()
            raise SnapshotError("the QMP socket %s did not answer within %.0f s (another QMP client connected?)" % (
                self.socket_path, self.timeout)) from None
        except (ConnectError, OSError) as exc:
            raise SnapshotError("cannot connect to the QMP socket %s: %s" % (self.socket_path, exc)) from None
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # A hang-up while leaving must not hide the snapshot's outcome.
        with contextlib.suppress(Exception):
            await self.client.disconnect()

    async def execute(self, command: str, arguments: dict[str, t.Any] | None = None) -> t.Any:
        """Run one QMP command; its error (class and description) becomes a SnapshotError."""
        try:
            return await asyncio.wait_for(self.client.execute(command, arguments), self.timeout)
        except asyncio.TimeoutError:
            raise SnapshotError("QMP %s did not answer within %.0f s" % (command, self.timeout)) from None
        except ExecuteError as exc:
            raise SnapshotError("QMP %s failed: %s: %s" % (command, exc.error_class, exc)) from None
        except QMPError as exc:
            raise SnapshotError("QMP %s failed on %s: %s" % (command, self.socket_path, exc)) from None


async def take_snapshot(params: dict[str, t.Any], check_mode: bool) -> list[dict[str, str]]:
    """Plan the overlays from query-block, then (unless check_mode) snapshot all devices in one transaction."""
    async with QmpSession(params["socket"], params["timeout"]) as qmp:
        blocks = await qmp.execute("query-block")
        chosen = select_blocks(blocks, params["devices"])
        planned = [plan_snapshot(block, params["snapshot_file"], params["name"], params["format"])
                   for block in chosen]
        check_targets(planned, params["mode"])
        if check_mode:
            return planned
        await qmp.execute("transaction", {"actions": transaction_actions(planned, params["mode"])})
        verify_switched(await qmp.execute("query-block"), planned)
        return planned


def main() -> None:
    """Validate, snapshot, report."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if QMP_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("qemu.qmp", url="https://pypi.org/project/qemu.qmp/"),
                         exception=QMP_IMPORT_ERROR)
    params = dict(module.params)
    params["name"] = params["name"] or default_name()
    if params["devices"] is not None and not params["devices"]:
        module.fail_json(msg="devices is empty: leave it out to snapshot every writable disk, or name some")
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be a positive number of seconds, not %s" % params["timeout"])
    if not os.path.exists(params["socket"]):
        module.fail_json(msg="the QMP socket %s does not exist (is the VM running with -qmp unix:%s,server=on?)" % (
            params["socket"], params["socket"]))
    try:
        snapshots = asyncio.run(take_snapshot(params, module.check_mode))
    except SnapshotError as exc:
        module.fail_json(msg="%s: %s" % (params["socket"], exc), name=params["name"])
    module.exit_json(changed=True, name=params["name"], snapshots=snapshots)


if __name__ == "__main__":
    main()
