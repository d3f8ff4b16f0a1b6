# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible's housekeeping commands, as ansible-core's own sh shell plugin builds them, and the worker's doing of them.

The commands come from the installed ansible-core (its shell plugin and the wrapping of
ActionBase._low_level_execute_command), so a change of their form there fails here. The worker's
side runs on real files in a temporary directory and is compared with what the shell does.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import typing as t

import pytest
from ansible.plugins.shell import ShellBase as ShellModule
from core_commands import low_level, sh_plugin

from ansible_collections.vmguest.qga.plugins.module_utils.guest import executor_worker as worker
from ansible_collections.vmguest.qga.plugins.plugin_utils import shell_ops

HOME = "/root"


@pytest.fixture(scope="module")
def shell() -> t.Iterator[ShellModule]:
    yield from sh_plugin()


def test_mkdtemp_of_the_default_remote_tmp(shell: ShellModule) -> None:
    cmd = low_level(shell, shell.mkdtemp(basefile="ansible-tmp-1764628800.1234-42-123456789"))
    assert shell_ops.recognise(cmd, HOME) == {
        "kind": "mkdtemp", "base": "/root/.ansible/tmp", "name": "ansible-tmp-1764628800.1234-42-123456789",
    }


def test_mkdtemp_in_an_absolute_tmpdir(shell: ShellModule) -> None:
    cmd = low_level(shell, shell.mkdtemp(basefile="ansible-tmp-1.2-3-4", tmpdir="/var/tmp/x"))
    assert shell_ops.recognise(cmd, HOME) == {"kind": "mkdtemp", "base": "/var/tmp/x", "name": "ansible-tmp-1.2-3-4"}


@pytest.mark.parametrize("tmpdir", ["~/a b", "$HOME/tmp", "~other/tmp", "/tmp/`id`", "relative/tmp", "-n"])
def test_mkdtemp_with_a_path_the_shell_would_expand_is_left_to_the_shell(shell: ShellModule, tmpdir: str) -> None:
    assert shell_ops.recognise(low_level(shell, shell.mkdtemp(basefile="ansible-tmp-1.2-3-4", tmpdir=tmpdir)),
                               HOME) is None


def test_remove_of_a_tmp_dir(shell: ShellModule) -> None:
    path = "/root/.ansible/tmp/ansible-tmp-1.2-3-4/"
    assert shell_ops.recognise(low_level(shell, shell.remove(path, recurse=True)), HOME) == {"kind": "rm", "path": path}


@pytest.mark.parametrize("path,recurse", [("/etc/passwd", True), ("/root/ansible-tmp-1.2-3-4", False),
                                          ("relative/ansible-tmp-1.2-3-4", True)])
def test_other_removes_are_left_to_the_shell(shell: ShellModule, path: str, recurse: bool) -> None:
    assert shell_ops.recognise(low_level(shell, shell.remove(path, recurse=recurse)), HOME) is None


@pytest.mark.parametrize("mode", ["u+x", "u+rwx", "u+rx"])
def test_chmod_u_plus(shell: ShellModule, mode: str) -> None:
    paths = ["/root/.ansible/tmp/ansible-tmp-1.2-3-4/", "/root/.ansible/tmp/ansible-tmp-1.2-3-4/source file"]
    assert shell_ops.recognise(low_level(shell, shell.chmod(paths, mode)), HOME) == {
        "kind": "chmod_u", "add": mode[2:], "paths": paths,
    }


@pytest.mark.parametrize("username", ["", "root", "no-such-user"])
def test_expand_user(shell: ShellModule, username: str) -> None:
    assert shell_ops.recognise(low_level(shell, shell.expand_user("~", username=username)), HOME) == {
        "kind": "home", "user": username, "home": HOME,
    }


def test_a_become_users_access_to_the_tasks_files(shell: ShellModule) -> None:
    """_fixup_perms2 for an unprivileged become user: an ACL entry, or (no setfacl, no ACLs) ownership."""
    paths = ["/var/tmp/ansible-tmp-1.2-3-4/", "/var/tmp/ansible-tmp-1.2-3-4/AnsiballZ_stat.py"]
    assert shell_ops.recognise(low_level(shell, shell.set_user_facl(paths, "daemon", "r-x")), HOME) == {
        "kind": "setfacl", "entry": "u:daemon:r-x", "paths": paths}
    assert shell_ops.recognise(low_level(shell, shell.chown(paths, "daemon")), HOME) == {
        "kind": "chown", "user": "daemon", "paths": paths}


@pytest.mark.parametrize("cmd", [
    "/bin/sh -c 'chown daemon:daemon /x && sleep 0'",
    "/bin/sh -c 'chown -R daemon /x && sleep 0'",
    "/bin/sh -c 'chown daemon relative && sleep 0'",
    "/bin/sh -c 'setfacl -m u:daemon:rwx /x && sleep 0'",
    "/bin/sh -c 'setfacl -x u:daemon /x && sleep 0'",
    "/bin/sh -c 'chmod u-x /x && sleep 0'",
    "/bin/sh -c 'chmod go+rwx /x && sleep 0'",
    "/bin/sh -c 'echo ~/x && sleep 0'",
    "/bin/sh -c 'echo \\'~root\\' && sleep 0'",
    "/bin/sh -c 'echo $HOME && sleep 0'",
    "/bin/sh -c 'chmod u+x relative && sleep 0'",
    "/bin/sh -c 'chmod u+x /x; id && sleep 0'",
    "/bin/sh -c 'chmod u+x /x && sleep 1'",
    "/bin/bash -c 'chmod u+x /x && sleep 0'",
    "sudo -u root /bin/sh -c 'chmod u+x /x && sleep 0'",
    "/bin/sh -c 'unbalanced \" && sleep 0'",
])
def test_anything_else_is_left_to_the_shell(cmd: str) -> None:
    assert shell_ops.recognise(cmd, HOME) is None


# -- the worker's side, against what the shell does -----------------------------------------------


def shell_result(cmd: str, home: str) -> tuple[int, bytes, bytes]:
    done = subprocess.run(shlex.split(cmd), capture_output=True, env={"HOME": home, "PATH": "/usr/bin:/bin"},
                          check=False)
    return done.returncode, done.stdout, done.stderr


def worker_result(cmd: str, home: str) -> tuple[int, bytes, bytes]:
    op = shell_ops.recognise(cmd, home)
    assert op is not None, cmd
    return worker.run_op(op)


def tree(root: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for top, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(top, name)
            found[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


@pytest.mark.parametrize("run", [shell_result, worker_result], ids=["shell", "worker"])
def test_the_worker_does_what_the_shell_does(shell: ShellModule, tmp_path: t.Any, run: t.Callable[..., t.Any]) -> None:
    home = str(tmp_path / "home")
    os.mkdir(home)
    name = "ansible-tmp-1.2-3-4"
    rc, out, err = run(low_level(shell, shell.mkdtemp(basefile=name)), home)
    assert (rc, out, err) == (0, ("%s=%s/.ansible/tmp/%s\n" % (name, home, name)).encode(), b"")
    assert tree(home) == {".ansible": 0o700, ".ansible/tmp": 0o700, ".ansible/tmp/" + name: 0o700}
    # The same name again: mkdir refuses, nothing is changed.
    rc, out, err = run(low_level(shell, shell.mkdtemp(basefile=name)), home)
    assert rc == 1 and out == b"" and b"File exists" in err
    tmp = "%s/.ansible/tmp/%s/" % (home, name)
    with open(tmp + "source", "w") as handle:
        handle.write("data")
    os.chmod(tmp + "source", 0o600)
    assert run(low_level(shell, shell.chmod([tmp, tmp + "source"], "u+x")), home) == (0, b"", b"")
    assert tree(home)[".ansible/tmp/%s/source" % name] == 0o700
    os.chmod(tmp + "source", 0o000)
    assert run(low_level(shell, shell.chmod([tmp + "source"], "u+rw")), home) == (0, b"", b"")
    assert tree(home)[".ansible/tmp/%s/source" % name] == 0o600
    rc, _out, err = run(low_level(shell, shell.chmod([tmp + "missing"], "u+x")), home)
    assert rc == 1 and b"No such file or directory" in err
    assert run(low_level(shell, shell.remove(tmp, recurse=True)), home)[0] == 0
    assert tree(home) == {".ansible": 0o700, ".ansible/tmp": 0o700}
    assert run(low_level(shell, shell.remove(tmp, recurse=True)), home)[0] == 0  # rm -f: gone already is fine


@pytest.mark.parametrize("username", ["", "root", "no-such-user-vmguest"])
def test_the_worker_expands_a_home_as_the_shell_does(shell: ShellModule, username: str) -> None:
    cmd = low_level(shell, shell.expand_user("~", username=username))
    assert worker_result(cmd, "/home/test") == shell_result(cmd, "/home/test")


def test_the_worker_creates_a_private_file_as_the_shell_does(tmp_path: t.Any) -> None:
    path = str(tmp_path / "put")
    assert worker.run_op({"kind": "create", "path": path, "mode": 0o600}) == (0, b"", b"")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and os.path.getsize(path) == 0
    with open(path, "w") as handle:
        handle.write("old")
    os.chmod(path, 0o644)
    assert worker.run_op({"kind": "create", "path": path, "mode": 0o600}) == (0, b"", b"")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and os.path.getsize(path) == 0
    rc, _out, err = worker.run_op({"kind": "create", "path": str(tmp_path / "no" / "dir"), "mode": 0o600})
    assert rc == 1 and b"No such file or directory" in err


def test_a_malformed_request_is_refused() -> None:
    assert worker.run_op({"kind": "rm"})[0] == 255
    assert worker.run_op({"kind": "format-disk"})[0] == 255


def test_the_worker_changes_ownership_as_chown_does(tmp_path: t.Any) -> None:
    owned, missing = str(tmp_path / "owned"), str(tmp_path / "missing")
    open(owned, "w").close()
    assert worker.run_op({"kind": "chown", "user": "daemon", "paths": [owned]}) == (0, b"", b"")
    assert os.stat(owned).st_uid == 1  # daemon, on every Debian
    rc, _out, err = worker.run_op({"kind": "chown", "user": "daemon", "paths": [missing, owned]})
    assert rc == 1 and err == shell_result("chown daemon %s" % missing, "/root")[2]
    assert worker.run_op({"kind": "chown", "user": "no-such-user-vmguest", "paths": [owned]}) == (
        1, b"", b"chown: invalid user: 'no-such-user-vmguest'\n")


def test_the_worker_runs_setfacl_or_fails_as_the_shell_would_without_it(tmp_path: t.Any) -> None:
    path = str(tmp_path / "file")
    open(path, "w").close()
    op = {"kind": "setfacl", "entry": "u:daemon:r-x", "paths": [path]}
    rc, _out, err = worker.run_op(op)
    setfacl = shutil.which("setfacl")
    if setfacl is None:  # (this machine has no acl package: the shell's own answer then)
        assert (rc, err) == (127, b"/bin/sh: 1: setfacl: not found\n")
    else:
        assert (rc, err) == shell_result("%s -m u:daemon:r-x %s" % (setfacl, path), "/root")[::2]
