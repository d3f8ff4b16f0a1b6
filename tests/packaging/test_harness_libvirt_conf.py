# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The libvirt harness leaves /etc/libvirt/qemu.conf as it found it (it changes it to run the test VM)."""

from __future__ import annotations

import typing as t

from libvirt_vm import QEMU_CONF_SETTINGS, configure_qemu_conf, restore_qemu_conf

DEBIAN_LIKE = '#user = "libvirt-qemu"\nsecurity_driver = "apparmor"\n# a comment\nvnc_listen = "0.0.0.0"\n'


def test_a_changed_qemu_conf_is_put_back_byte_for_byte(tmp_path: t.Any) -> None:
    conf = tmp_path / "qemu.conf"
    conf.write_text(DEBIAN_LIKE)
    original = configure_qemu_conf(conf)
    assert original == DEBIAN_LIKE
    changed = conf.read_text()
    assert all(f"{key} = {value}" in changed for key, value in QEMU_CONF_SETTINGS.items())
    assert 'vnc_listen = "0.0.0.0"' in changed
    assert configure_qemu_conf(conf) is None  # already right: nothing to put back later
    restore_qemu_conf(original, conf)
    assert conf.read_text() == DEBIAN_LIKE


def test_a_qemu_conf_the_harness_created_is_removed_again(tmp_path: t.Any) -> None:
    conf = tmp_path / "qemu.conf"
    original = configure_qemu_conf(conf)
    assert original == "" and conf.exists()
    restore_qemu_conf(original, conf)
    assert not conf.exists()
