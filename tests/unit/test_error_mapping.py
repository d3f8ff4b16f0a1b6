# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Client errors by kind, and the one place that maps them to Ansible's unreachable or failed."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound

from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import (
    QgaAgentGone,
    QgaCommandDisabled,
    QgaCommandError,
    QgaCommandNotFound,
    QgaCommandRefused,
    QgaError,
    QgaFileError,
    QgaFrozenError,
    QgaLockTimeout,
    command_error,
)
from ansible_collections.vmguest.qga.plugins.plugin_utils.qga_channel import to_ansible_error

CHANNEL = "unix:/run/vm/qga.sock"


@pytest.mark.parametrize(("error", "unreachable"), [
    (command_error("CommandNotFound", "Command guest-exec has been disabled", CHANNEL, "guest-exec"), True),
    (command_error("CommandNotFound", "Command guest-exec has been disabled: the agent is in frozen state",
                   CHANNEL, "guest-exec"), False),
    (command_error("CommandNotFound", "The command guest-x has not been found", CHANNEL, "guest-x"), False),
    (command_error("GenericError", "User 'bob' not found", CHANNEL, "guest-set-user-password"), False),
    (QgaAgentGone("libvirt: Guest agent is not responding", channel=CHANNEL), True),
    (QgaLockTimeout("another client has been using the channel", channel=CHANNEL), True),
])
def test_each_kind_maps_by_what_it_is_not_by_the_order_of_checks(error: QgaError, unreachable: bool) -> None:
    mapped = to_ansible_error(error, "web1")
    assert isinstance(mapped, AnsibleConnectionFailure) is unreachable
    assert isinstance(mapped, AnsibleError) and str(mapped).startswith("web1: ")


def test_refusals_are_siblings_with_their_reason() -> None:
    kinds = {QgaCommandNotFound: "unknown", QgaCommandDisabled: "disabled", QgaFrozenError: "frozen"}
    for kind, why in kinds.items():
        assert issubclass(kind, QgaCommandRefused) and issubclass(kind, QgaCommandError) and kind.why == why
        assert not any(issubclass(kind, other) for other in kinds if other is not kind)


def test_a_missing_guest_file_is_ansibles_file_not_found() -> None:
    error = QgaFileError("open failed /etc/x: No such file or directory", channel=CHANNEL)
    assert isinstance(to_ansible_error(error, "web1"), AnsibleFileNotFound)
