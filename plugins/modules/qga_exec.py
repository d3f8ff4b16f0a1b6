#!/usr/bin/python
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: qga_exec
short_description: Run a command in a guest through the QEMU guest agent
version_added: 0.1.0
description:
  - Runs a program (O(argv)) or a shell command line (O(cmd), run by C(/bin/sh -c)) in the guest with
    C(guest-exec), optionally as another user, with input on stdin, extra environment and a timeout.
  - Behaves like M(ansible.builtin.command) otherwise - a non-zero exit code fails the task, O(creates) and
    O(removes) skip the command, and the task reports changed whenever the command ran.
  - Needs no Python in the guest, only C(guest-exec) and C(guest-exec-status) enabled in the agent.
  - Takes a free-form command line like M(ansible.builtin.shell) (see the examples; C(-a 'uname -a') ad hoc), the
    same as O(cmd).
  - POSIX guests only for O(user), O(chdir), O(creates) and O(removes).
author:
  - vmguest.qga contributors (@vmguest)
extends_documentation_fragment:
  - vmguest.qga.attributes
  - vmguest.qga.channel
attributes:
  check_mode:
    support: partial
    description: Like M(ansible.builtin.command).
    details:
      - The command never runs in check mode; with O(creates) or O(removes) the task says whether it would have run.
  diff_mode:
    support: none
    description: Nothing to compare.
options:
  argv:
    description:
      - The program and its arguments, passed to the program as they are (no shell).
      - A program name without C(/) is looked up in E(PATH).
      - Exactly one of O(argv) and O(cmd) is required.
    type: list
    elements: str
  cmd:
    description:
      - A command line for the guest's C(/bin/sh -c) (pipes, redirections, globs and variables work).
      - The free-form argument of the task is this option.
    type: str
  output_b64:
    description:
      - When to return the exact bytes of the output base64 encoded (RV(stdout_b64), RV(stderr_b64)).
      - V(auto) returns them for a stream that is not valid UTF-8 (RV(stdout) then has those bytes replaced);
        V(always) for both streams on every run (for the trailing newlines O(strip_empty_ends) removes, say).
    type: str
    choices: [auto, always]
    default: auto
  spill_output:
    description:
      - Send the output through a private guest file instead of the agent's reply, so output over the agent's
        16 MiB capture limit comes back whole (a few more agent calls). Without it such output fails the task
        (RV(stdout_truncated)). libvirt channels always spill. Not on Windows guests.
    type: bool
    default: false
  stdin:
    description: Text written to the command's stdin (UTF-8), which is then closed.
    type: str
  stdin_b64:
    description: Bytes (base64 encoded) written to the command's stdin, for binary input.
    type: str
  stdin_add_newline:
    description: Add a newline to O(stdin) (not to O(stdin_b64)), as M(ansible.builtin.command) does.
    type: bool
    default: true
  env:
    description:
      - Environment variables added to the login-like environment the command gets (E(HOME), E(PATH),
        E(LANG), E(USER), E(LOGNAME), E(SHELL) of O(user)).
    type: dict
    default: {}
  user:
    description:
      - The guest user to run as (through C(runuser), else C(su)); the agent itself runs as root.
    type: str
    default: root
  chdir:
    description:
      - Change into this guest directory before running the command (and before checking O(creates)/O(removes)).
    type: str
  creates:
    description:
      - A guest path (glob patterns allowed). When it exists, the command is not run.
      - Checked in the guest by the shell, as O(user), after O(chdir).
    type: str
  removes:
    description:
      - A guest path (glob patterns allowed). When it does not exist, the command is not run.
    type: str
  timeout:
    description:
      - Seconds the command may run. Then its whole process group is killed (C(SIGKILL)) and the task fails
        with RV(signal) set and the output captured so far.
      - V(0) means no limit.
    type: float
    default: 0
  strip_empty_ends:
    description: Strip trailing newlines from RV(stdout) and RV(stderr) (not from the base64 variants).
    type: bool
    default: true
notes:
  - The agent captures at most 16 MiB of each stream; output cut there fails the task (with what was captured and
    RV(stdout_truncated) or RV(stderr_truncated)) unless O(spill_output) brings all of it.
seealso:
  - module: ansible.builtin.command
  - module: ansible.builtin.shell
"""

EXAMPLES = r"""
# Ad hoc, free-form (ansible-core 2.19+): ansible web1 -m vmguest.qga.qga_exec -a 'uname -a'
- name: A command line, free-form
  vmguest.qga.qga_exec: df -h /

- name: Run a program with arguments, no shell
  vmguest.qga.qga_exec:
    argv: [systemctl, restart, nginx]

- name: A shell pipeline as alice, with input and a time limit
  vmguest.qga.qga_exec:
    cmd: sort | uniq -c > counts.txt
    chdir: /home/alice
    user: alice
    stdin: "{{ lines | join('\n') }}"
    timeout: 60

- name: Initialise once
  vmguest.qga.qga_exec:
    argv: [/usr/local/bin/setup-db, --init]
    creates: /var/lib/db/.initialised
    env:
      DB_MODE: production

- name: Through libvirt from the controller, binary output
  vmguest.qga.qga_exec:
    channel: libvirt:qemu:///system
    domain: web1
    argv: [cat, /boot/initrd.img]
    output_b64: always  # initrd.stdout_b64 holds the exact bytes
  register: initrd
  delegate_to: localhost
"""

RETURN = r"""
cmd:
  description: The command as given (O(argv) list or O(cmd) string).
  returned: always
  type: raw
rc:
  description: The exit code; C(-N) when the process was killed by signal N.
  returned: when the command ran
  type: int
  sample: 0
stdout:
  description: Standard output, decoded as UTF-8 (undecodable bytes replaced).
  returned: when the command ran
  type: str
stderr:
  description: Standard error, decoded as UTF-8 (undecodable bytes replaced).
  returned: when the command ran
  type: str
stdout_lines:
  description: RV(stdout) split into lines.
  returned: when the command ran
  type: list
  elements: str
stderr_lines:
  description: RV(stderr) split into lines.
  returned: when the command ran
  type: list
  elements: str
stdout_b64:
  description: The exact bytes of standard output, base64 encoded.
  returned: when the command ran and O(output_b64=always) or its standard output is not valid UTF-8
  type: str
stderr_b64:
  description: The exact bytes of standard error, base64 encoded.
  returned: when the command ran and O(output_b64=always) or its standard error is not valid UTF-8
  type: str
stdout_truncated:
  description: The agent cut standard output at its 16 MiB capture limit (the task failed; see O(spill_output)).
  returned: when it happened
  type: bool
stderr_truncated:
  description: The agent cut standard error at its 16 MiB capture limit (the task failed; see O(spill_output)).
  returned: when it happened
  type: bool
signal:
  description: The signal that killed the process (9 after a O(timeout)).
  returned: when the process was killed by a signal
  type: int
timed_out:
  description: Whether the process was killed because it ran longer than O(timeout).
  returned: when the command ran
  type: bool
pid:
  description: The guest process id.
  returned: when the command ran
  type: int
start:
  description: When the command started (controller clock).
  returned: when the command ran
  type: str
end:
  description: When the command ended (controller clock).
  returned: when the command ran
  type: str
delta:
  description: How long it ran.
  returned: when the command ran
  type: str
msg:
  description: Why the command did not run, or why the task failed.
  returned: when skipped or failed
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmguest.qga.plugins.module_utils.qga.argspec import with_channel

ARGUMENT_SPEC = with_channel({
    "argv": {"type": "list", "elements": "str"},
    "cmd": {"type": "str"},
    "stdin": {"type": "str"},
    "stdin_b64": {"type": "str"},
    "stdin_add_newline": {"type": "bool", "default": True},
    "env": {"type": "dict", "default": {}},
    "user": {"type": "str", "default": "root"},
    "chdir": {"type": "str"},
    "creates": {"type": "str"},
    "removes": {"type": "str"},
    "timeout": {"type": "float", "default": 0.0},
    "strip_empty_ends": {"type": "bool", "default": True},
    "output_b64": {"type": "str", "choices": ["auto", "always"], "default": "auto"},
    "spill_output": {"type": "bool", "default": False},
})
MUTUALLY_EXCLUSIVE = [["argv", "cmd"], ["stdin", "stdin_b64"]]
REQUIRED_ONE_OF = [["argv", "cmd"]]


def main() -> None:
    """This module runs as an action plugin on the controller; executed in a guest it only explains that."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE,
                           required_one_of=REQUIRED_ONE_OF, supports_check_mode=True)
    module.fail_json(msg="vmguest.qga.qga_exec runs on the controller (action plugin); it cannot run in a guest")


if __name__ == "__main__":
    main()
