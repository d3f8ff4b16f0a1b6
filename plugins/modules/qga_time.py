#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_time
short_description: Set the guest clock through the QEMU guest agent
version_added: 0.1.0
description:
  - Sets the guest's system clock (C(guest-set-time)) to the controller's clock (O(state=synced)) or to a given
    O(time), when it is off by more than O(tolerance). The agent then also writes the hardware clock (C(hwclock -w)).
  - Reports the drift of the guest clock before and after (guest minus the wanted time, in seconds).
  - Useful after a VM was paused, restored from a snapshot or resumed from suspend.
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
attributes:
  check_mode:
    support: full
    description: Reports the drift and whether the clock would be set; sets nothing.
  diff_mode:
    support: full
    description: The guest clock and its drift before and after.
options:
  state:
    description:
      - V(synced) sets the guest clock to the controller's clock. This is the default when O(time) is not given.
      - Mutually exclusive with O(time).
    type: str
    choices: [synced]
  time:
    description:
      - The time to set, as ISO 8601 (V(2030-01-01T12:00:00+00:00); without an offset it is taken as UTC) or as
        nanoseconds since the epoch (an integer).
      - The agent accepts times from 1970 up to the end of 2069.
      - The given time is compared with the guest clock when the task runs, so with a fixed time a later run usually
        sets the clock again (the guest clock moved on).
    type: raw
  tolerance:
    description:
      - Seconds the guest clock may be off before it is set. Below this the task reports no change.
    type: float
    default: 1.0
notes:
  - Needs C(guest-get-time) and C(guest-set-time); the agent needs C(/sbin/hwclock) in the guest, else it reports
    C(guest-set-time) as unsupported.
  - The drift is measured against the controller clock at the middle of the C(guest-get-time) round trip; channel
    latency (libvirt adds some) limits the precision to a few milliseconds.
seealso:
  - module: vmguest.qga.qga_info
"""

EXAMPLES = r"""
- name: Set the guest clock from the controller after restoring a snapshot
  vmguest.qga.qga_time:
    state: synced

- name: Travel in time (tests of certificate expiry)
  vmguest.qga.qga_time:
    time: "2031-06-01T00:00:00Z"
"""

RETURN = r"""
drift_before:
  description: The guest clock minus the wanted time in seconds, before the task (negative is behind).
  returned: success
  type: float
  sample: -42.07
drift_after:
  description: The guest clock minus the wanted time in seconds, after the task (the same as before when not set).
  returned: success
  type: float
  sample: 0.003
guest_time_before:
  description: The guest clock before the task (ISO 8601, UTC).
  returned: success
  type: str
guest_time_after:
  description: The guest clock after the task (ISO 8601, UTC).
  returned: success
  type: str
target_time:
  description: The wanted time the drift was measured against (ISO 8601, UTC; for V(synced), the controller clock then).
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "state": {"type": "str", "choices": ["synced"]},
    "time": {"type": "raw"},
    "tolerance": {"type": "float", "default": 1.0},
})
MUTUALLY_EXCLUSIVE = [["state", "time"]]


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE,
                           supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_time runs on the controller (action plugin); it cannot run in a guest")


if __name__ == "__main__":
    main()
