# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""POSIX guests: users, running as a user, and files that must not be world-writable.

qemu-ga runs as root and starts every process as root with its own service
environment; these helpers give a process the identity and environment of the
user Ansible expects (remote_user), and create files privately before the agent
writes into them (qemu-ga creates files 0666, but keeps the mode of a file that
already exists).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from .errors import QgaError, QgaUserError
from .files import ProgressCallback, TransferResult, write_file
from .guest_exec import default_environment, run

if t.TYPE_CHECKING:
    from .client import QgaClient


@dataclass(frozen=True)
class GuestUser:
    """One passwd entry of the guest."""

    name: str
    uid: int
    gid: int
    home: str
    shell: str

    @property
    def is_root(self) -> bool:
        """Whether this is uid 0 (the agent's own identity)."""
        return self.uid == 0

    def environment(self) -> dict[str, str]:
        """A login-like environment for this user."""
        return default_environment(home=self.home, user=self.name)


ROOT = GuestUser(name="root", uid=0, gid=0, home="/root", shell="/bin/sh")  # noqa: S604 (a login shell, not a call)


def lookup_user(client: QgaClient, name: str) -> GuestUser:
    """The guest's passwd entry for `name` (getent, so NSS users count), cached on the client."""
    known = client.guest.users
    if name not in known:
        result = run(client, ["getent", "passwd", name], timeout=60)
        if result.rc == 2 or not result.stdout.strip():
            raise QgaUserError("the guest has no user %r (getent passwd found nothing)" % name, channel=client.channel)
        if result.rc != 0:
            raise QgaUserError(
                "looking up user %r in the guest failed (getent exited %d: %s)"
                % (name, result.rc, result.stderr.decode("utf-8", "replace").strip()),
                channel=client.channel,
            )
        known[name] = parse_passwd_line(result.stdout.decode("utf-8", "replace").splitlines()[0])
    return known[name]


def parse_passwd_line(line: str) -> GuestUser:
    """Parse `name:x:uid:gid:gecos:home:shell`."""
    fields = line.rstrip("\n").split(":")
    if len(fields) < 7:
        raise ValueError("not a passwd line: %r" % line)
    return GuestUser(name=fields[0], uid=int(fields[2]), gid=int(fields[3]), home=fields[5] or "/", shell=fields[6])


# A shell prefix that starts a command in $HOME, as an ssh login does (guest-exec has no cwd and
# would leave it in qemu-ga's own); without a usable home, in the temp dir as AnsibleModule falls
# back, else in /.
START_IN_HOME = 'cd "$HOME" 2>/dev/null || cd "${TMPDIR:-/tmp}" 2>/dev/null || cd /tmp 2>/dev/null || cd /\n'


def in_home(command: str) -> list[str]:
    """`/bin/sh -c COMMAND`, started in the home of the user whose environment it gets."""
    return ["/bin/sh", "-c", START_IN_HOME + command]


def run_as_argv(user: GuestUser, argv: t.Sequence[str]) -> list[str]:
    """`argv` run as `user`: unchanged for root, else through runuser (util-linux) or su."""
    if user.is_root:
        return list(argv)
    # runuser needs no password and no PAM auth when called by root; su is the fallback.
    script = (
        'u=$1; shift; if command -v runuser >/dev/null 2>&1; then exec runuser -u "$u" -- "$@"; fi; '
        'exec su -s /bin/sh -c \'exec "$0" "$@"\' "$u" -- "$@"'
    )
    return ["/bin/sh", "-c", script, "sh", user.name] + list(argv)


def write_private_file(
    client: QgaClient,
    path: str,
    source: t.BinaryIO,
    user: GuestUser,
    create: t.Callable[[], None] | None = None,
    chunk_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> TransferResult:
    """Stream `source` into `path`, made 0600 as `user` before the first byte; on any failure remove it.

    `create` makes the empty private file another way (a running executor worker); the default is
    create_private_file. Nothing partial, and nothing the agent made 0666, is left behind.
    """
    if create is None:
        create_private_file(client, path, user)
    else:
        create()
    try:
        # r+: open the file made private above without re-creating it (qemu-ga would make it 0666).
        return write_file(client, path, source, chunk_size=chunk_size, mode="r+", progress=progress)
    except BaseException:
        remove_quietly(client, path)
        raise


def remove_quietly(client: QgaClient, path: str) -> None:
    """rm -f a guest path; errors are swallowed (the caller is already reporting a failure)."""
    try:
        if client.connected:
            run(client, ["/bin/rm", "-f", "--", path], timeout=30)
    except QgaError:
        pass


def create_private_file(client: QgaClient, path: str, user: GuestUser, mode: int = 0o600) -> None:
    """Create (or truncate) `path` as `user` with `mode`, so the agent's later writes keep owner and mode."""
    script = 'umask 077 && : > "$1" && chmod %o "$1"' % mode
    result = run(client, run_as_argv(user, ["/bin/sh", "-c", script, "sh", path]), env=user.environment(),
                 timeout=60)
    if result.rc != 0:
        raise QgaError(
            "cannot create %s as %s: %s" % (path, user.name, result.stderr.decode("utf-8", "replace").strip()),
            channel=client.channel,
        )
