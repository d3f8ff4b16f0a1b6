#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_fsfreeze
short_description: Freeze and thaw guest filesystems through the QEMU guest agent, with an auto-thaw watchdog
version_added: 0.1.0
description:
  - Freezes the guest's filesystems (C(guest-fsfreeze-freeze), or C(guest-fsfreeze-freeze-list) with O(mountpoints))
    for a consistent disk snapshot, thaws them (C(guest-fsfreeze-thaw)), or reports the freeze state.
  - Idempotent through C(guest-fsfreeze-status), so a second identical run reports no change.
  - With O(auto_thaw), a watchdog process on the controller thaws the guest when the time is up and the guest is still
    frozen, also when the play failed or was interrupted. A thaw, or a later freeze, cancels it.
  - Only agent commands that work while the guest is frozen are used on these paths (C(guest-info),
    C(guest-fsfreeze-*)); nothing is written to the guest.
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
attributes:
  check_mode:
    support: full
    description: Reports what would change; freezes, thaws and starts nothing.
  diff_mode:
    support: full
    description: The freeze state before and after.
options:
  state:
    description:
      - V(frozen) freezes the filesystems unless the guest is frozen already.
      - V(thawed) thaws them unless the guest is thawed already; it also cancels a pending auto-thaw.
      - V(status) changes nothing and reports the state, since when the guest is frozen (when known) and the watchdog.
    type: str
    choices: [frozen, thawed, status]
    required: true
  mountpoints:
    description:
      - Freeze only these mount points (C(guest-fsfreeze-freeze-list)). Default is every freezable filesystem.
      - The agent ignores mount points it cannot freeze; when none of them was frozen the guest is thawed again and the
        task fails.
      - Only with O(state=frozen). A guest that is frozen already is left as it is, whatever it froze.
    type: list
    elements: str
  auto_thaw:
    description:
      - Seconds after the freeze after which a watchdog on the controller thaws the guest if it is still frozen.
      - The watchdog is a detached process of the controller's Python, so it outlives the play. It connects with the
        same channel options as the task, waits for the channel lock like any other client, and keeps trying for ten
        minutes when the agent does not answer.
      - When the guest is frozen already and no watchdog guards it, one is started from now.
      - V(0) disables it (then something else must thaw the guest).
    type: int
    default: 60
  freeze_timeout:
    description:
      - Seconds to wait for the agent to finish the freeze or thaw (it syncs every filesystem first).
      - When a freeze times out it may still complete in the guest; the watchdog (if any) stays armed.
    type: float
    default: 120
notes:
  - The frozen state survives a restart of the agent (qemu-ga keeps it in its state directory), so a thaw is always
    needed; O(state=status) reports it.
  - While the guest is frozen the agent refuses everything but C(guest-ping), C(guest-info), C(guest-sync*),
    C(guest-fsfreeze-status) and C(guest-fsfreeze-thaw), and the guest's writes block.
    Keep freeze, snapshot, thaw short.
  - On Windows guests the agent freezes through VSS, which holds the freeze for about 10 seconds only;
    RV(frozen_seconds) of the thaw shows whether the snapshot was taken inside that window.
  - The freeze time and the watchdog are kept in a state file per channel in the channel lock directory
    (E(VMGUEST_QGA_LOCK_DIR), else a private directory in the temporary directory) on the controller.
    Plays on different controllers, or reaching the guest by different channels, do not see each other's watchdog.
  - qemu-ga runs its fsfreeze hook (option C(-F)) around freeze and thaw; databases quiesce there.
seealso:
  - module: vmguest.qga.qga_info
"""

EXAMPLES = r"""
- name: Freeze, snapshot, thaw
  block:
    - name: Freeze the guest filesystems (thawed by the controller after 30 s whatever happens)
      vmguest.qga.qga_fsfreeze:
        state: frozen
        auto_thaw: 30

    - name: Snapshot the disks on the hypervisor
      ansible.builtin.command: virsh snapshot-create-as {{ inventory_hostname }} --disk-only --atomic --no-metadata
      delegate_to: hypervisor
      changed_when: true
  always:
    - name: Thaw
      vmguest.qga.qga_fsfreeze:
        state: thawed
      register: thaw

- name: Freeze only the data filesystem, through libvirt from the controller
  vmguest.qga.qga_fsfreeze:
    channel: libvirt:qemu:///system
    domain: db1
    state: frozen
    mountpoints: [/var/lib/postgresql]
  delegate_to: localhost

- name: Is it frozen, and since when?
  vmguest.qga.qga_fsfreeze:
    state: status
  register: freeze
"""

RETURN = r"""
status:
  description: The freeze state after the task (as C(guest-fsfreeze-status) reports it; in check mode, what it would
    be).
  returned: always
  type: str
  choices: [frozen, thawed]
frozen_count:
  description: The number of filesystems the freeze froze.
  returned: when the task froze the guest
  type: int
  sample: 2
thawed_count:
  description: The number of filesystems the thaw thawed.
  returned: when the task thawed the guest
  type: int
frozen_since:
  description: When the guest was frozen (ISO 8601, UTC); null when it was frozen outside this module.
  returned: when the guest is or was frozen
  type: str
  sample: "2025-01-31T10:00:00.123+00:00"
frozen_seconds:
  description: How long the guest has been (on thaw, was) frozen; null when it was frozen outside this module.
  returned: when the guest is or was frozen
  type: float
  sample: 4.2
auto_thaw_at:
  description: When the watchdog will thaw the guest if it is still frozen then (ISO 8601, UTC).
  returned: when a watchdog guards the freeze
  type: str
watchdog_pid:
  description: The pid of the watchdog process on the controller.
  returned: when a watchdog guards the freeze
  type: int
auto_thawed:
  description:
    - Set when the watchdog thawed the last freeze of this channel. C(at) is when (ISO 8601), C(thawed) how many
      filesystems, C(frozen_seconds) how long the guest had been frozen.
  returned: after the watchdog thawed the guest, in every result until this module freezes or thaws it again (the
    warning that says so comes once, with the first task that learns it)
  type: dict
  sample: {"at": "2025-01-31T10:01:00.000+00:00", "thawed": 1, "frozen_seconds": 60.1}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "state": {"type": "str", "choices": ["frozen", "thawed", "status"], "required": True},
    "mountpoints": {"type": "list", "elements": "str"},
    "auto_thaw": {"type": "int", "default": 60},
    "freeze_timeout": {"type": "float", "default": 120.0},
})


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_fsfreeze runs on the controller (action plugin); it cannot run in a guest")


if __name__ == "__main__":
    main()
