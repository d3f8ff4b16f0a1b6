# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Root's worker registers an identity worker's directory only if it is that identity's own (real files and a real
process of another user; the suite runs as root)."""

from __future__ import annotations

import os
import pwd
import subprocess
import typing as t

import pytest

from ansible_collections.vmguest.qga.plugins.module_utils.guest import executor_worker as worker

OTHER = pwd.getpwnam("daemon")


@pytest.fixture
def as_dir(tmp_path: t.Any) -> str:
    path = str(tmp_path / "as")
    os.mkdir(path)
    return path


@pytest.fixture
def daemon_process() -> t.Iterator[int]:
    """A live process of daemon's, as an identity worker would be."""
    proc = subprocess.Popen(["runuser", "-u", OTHER.pw_name, "--", "sleep", "60"])
    try:
        worker_pid = _child_of(proc.pid) or proc.pid
        yield worker_pid
    finally:
        proc.kill()
        proc.wait()


def _child_of(pid: int) -> int | None:
    for _attempt in range(50):
        found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout.split()
        if found:
            return int(found[0])
        os.sched_yield()
    return None


def identity_dir(as_dir: str, name: str, uid: int, gid: int, pid: int) -> str:
    home = os.path.join(as_dir, name)
    os.makedirs(os.path.join(home, "jobs"), mode=0o700)
    os.chmod(home, 0o700)
    with open(os.path.join(home, "pid"), "w") as handle:
        handle.write("%d %s /usr/bin/python3\n" % (pid, worker._start_time(pid)))
    for path in (home, os.path.join(home, "jobs"), os.path.join(home, "pid")):
        os.chown(path, uid, gid)
    return home


def register(as_dir: str, name: str) -> worker.IdentityWorker | None:
    as_fd = os.open(as_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return worker.IdentityWorker.register(as_fd, name)
    finally:
        os.close(as_fd)


def test_the_directory_of_a_live_worker_of_its_owner_is_registered(as_dir: str, daemon_process: int) -> None:
    identity_dir(as_dir, "1-own", OTHER.pw_uid, OTHER.pw_gid, daemon_process)
    registered = register(as_dir, "1-own")
    assert registered is not None and (registered.uid, registered.pid) == (OTHER.pw_uid, daemon_process)
    registered.stop()
    assert os.path.exists(os.path.join(as_dir, "1-own", "jobs", "stop"))


def test_a_symlink_or_a_directory_not_of_the_workers_user_is_refused(as_dir: str, daemon_process: int) -> None:
    target = identity_dir(as_dir, "1-target", OTHER.pw_uid, OTHER.pw_gid, daemon_process)
    os.symlink(target, os.path.join(as_dir, "1-link"))
    assert register(as_dir, "1-link") is None
    identity_dir(as_dir, "0-roots", 0, 0, daemon_process)  # names daemon's process, owned by root
    assert register(as_dir, "0-roots") is None
    jobs_link = identity_dir(as_dir, "1-jobs-link", OTHER.pw_uid, OTHER.pw_gid, daemon_process)
    os.rmdir(os.path.join(jobs_link, "jobs"))
    os.symlink("/etc", os.path.join(jobs_link, "jobs"))
    assert register(as_dir, "1-jobs-link") is None
    for name in ("", "..", "../as", "a/b", ".hidden"):
        assert register(as_dir, name) is None


def test_a_directory_whose_worker_is_gone_is_refused(as_dir: str) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    os.makedirs(os.path.join(as_dir, "1-gone", "jobs"))
    with open(os.path.join(as_dir, "1-gone", "pid"), "w") as handle:
        handle.write("%d 12345 /usr/bin/python3\n" % gone.pid)
    assert register(as_dir, "1-gone") is None
