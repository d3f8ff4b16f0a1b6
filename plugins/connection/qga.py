# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: qga
short_description: Run tasks in a VM through the QEMU guest agent alone
description:
  - Runs commands with C(guest-exec) and moves files with C(guest-file-read)/C(guest-file-write)
    through the QEMU guest agent (qemu-ga). The guest needs no network, no SSH and nothing
    installed but the agent; Python in the guest is needed only for Python modules.
  - The channel is a unix socket (libvirt's, Proxmox's or a QEMU chardev), TCP, a serial line,
    the stdin/stdout of a command (for example C(ssh) + C(socat) to a remote hypervisor), or
    libvirt's API.
  - Pipelining is on by default; a Python module task then costs one agent exec.
  - Commands run as O(remote_user) (default V(root), the agent's own identity) with that user's
    HOME, PATH and LANG, so C(~) and C($HOME) work (the agent's own environment has no HOME).
author:
  - vmguest.qga contributors (@vmguest)
version_added: 0.1.0
extends_documentation_fragment:
  - ansible.builtin.connection_pipelining
options:
  channel:
    description:
      - The agent channel.
      - A socket path or V(unix:PATH), V(tcp:HOST:PORT), V(serial:URL) (any pyserial URL),
        V(exec:COMMAND) (a command whose stdin/stdout reach the agent, for example
        V(exec:ssh hv socat - UNIX-CONNECT:/run/qemu-server/100.qga)), or V(libvirt:URI)
        (for example V(libvirt:qemu:///system)) with O(domain).
      - libvirt keeps the agent socket of its domains for itself
        (C(/var/lib/libvirt/qemu/channel/target/DOMAIN/org.qemu.guest_agent.0)); use V(libvirt:URI) for those.
      - Required; a host without it fails with a message saying which variable to set.
    type: string
    vars:
      - name: ansible_qga_channel
    env:
      - name: VMGUEST_QGA_CHANNEL
  domain:
    description:
      - The libvirt domain name for V(libvirt:) channels.
      - Defaults to the inventory hostname.
    type: string
    vars:
      - name: inventory_hostname
      - name: ansible_qga_domain
  remote_user:
    description:
      - The guest user commands run as (through C(runuser)).
      - The agent runs as root, so any user works without a password.
    type: string
    default: root
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    vars:
      - name: ansible_user
      - name: ansible_qga_user
    cli:
      - name: user
    keyword:
      - name: remote_user
  pipelining:
    description:
      - Send Python modules through the command's stdin instead of copying them first (one agent exec per module).
      - On by default for this connection (ansible-core's C(connection_pipelining) fragment, whose C(ANSIBLE_PIPELINING)
        and ini keys apply, defaults it off); it works with C(become) too, as no TTY is involved.
    default: true
    vars:
      - name: ansible_pipelining
      - name: ansible_qga_pipelining
  connect_timeout:
    description:
      - Seconds to wait for the channel to open and the agent to answer the initial sync.
      - Ansible's standard connection timeout (C(--timeout), C(ANSIBLE_TIMEOUT), C([defaults] timeout),
        C(ansible_timeout)) sets it too, as it sets ssh's; the vmguest.qga names take precedence.
    type: float
    default: 10
    cli:
      - name: timeout
    env:
      - name: ANSIBLE_TIMEOUT
      - name: VMGUEST_QGA_CONNECT_TIMEOUT
    ini:
      - section: defaults
        key: timeout
      - section: vmguest_qga
        key: connect_timeout
    vars:
      - name: ansible_timeout
      - name: ansible_qga_connect_timeout
  rpc_timeout:
    description: Seconds to wait for the reply to one agent command (not the run time of a guest process).
    type: float
    default: 30
    env:
      - name: VMGUEST_QGA_RPC_TIMEOUT
    ini:
      - section: vmguest_qga
        key: rpc_timeout
    vars:
      - name: ansible_qga_rpc_timeout
  command_timeout:
    description:
      - Seconds a command may run in the guest before it is killed (with its whole process group) and the task fails.
      - V(0) means no limit. The task's C(timeout) keyword also ends and kills a running command.
    type: float
    default: 0
    env:
      - name: VMGUEST_QGA_COMMAND_TIMEOUT
    ini:
      - section: vmguest_qga
        key: command_timeout
    vars:
      - name: ansible_qga_command_timeout
  lock_timeout:
    description:
      - An agent serves one client at a time; forks reaching the same channel queue on a lock file.
        Seconds to wait for it before failing.
      - A client holds the channel per exchange, not per task. After 0.5 s it hands the channel, between two agent
        commands, to a client that waits for it, so a long task (a slow command, a loop) does not keep a second play
        or fork on the same guest out until it ends.
    type: float
    default: 120
    env:
      - name: VMGUEST_QGA_LOCK_TIMEOUT
    vars:
      - name: ansible_qga_lock_timeout
  persist:
    description:
      - Seconds to keep the channel open after a task, for the next one (like ssh's ControlPersist).
        V(0) (the default) closes it after every task.
      - Above 0, the first task starts a small relay process on the controller that holds the channel and
        passes bytes between it and one task at a time, through a 0600 unix socket in the lock directory.
        Each task then skips opening the channel; on a QEMU socket that also skips waiting for qemu-ga,
        which polls its virtio-serial port only every 100 ms while no client is attached (about 80 ms a
        task on a TCG guest), and an C(exec:ssh ...) channel skips an ssh login per task.
      - Every client of this collection on the same channel (modules with their own O(channel), other plays)
        goes through a running relay. Other programs cannot reach the agent while the relay holds it, since a
        QEMU or Proxmox agent socket serves one client at a time, so keep this short where other tools
        use the socket (Proxmox's C(qm guest) commands do). The relay ends after this many seconds without
        a task, on the C(reset_connection) meta task, and at once when the agent, the VM or the command behind the
        channel goes away.
      - Applies to socket, C(tcp:) and C(exec:) channels; C(libvirt:) channels stay open in libvirtd anyway
        and C(serial:) channels are not relayed.
    type: float
    default: 0
    version_added: 0.1.0
    env:
      - name: VMGUEST_QGA_PERSIST
    ini:
      - section: vmguest_qga
        key: persist
    vars:
      - name: ansible_qga_persist
  write_chunk_size:
    description:
      - Raw bytes per C(guest-file-write) message when uploading (base64 on the wire).
      - Capped by the transport (libvirt allows about 149 KiB).
    type: int
    default: 1048576
    env:
      - name: VMGUEST_QGA_WRITE_CHUNK_SIZE
    vars:
      - name: ansible_qga_write_chunk_size
  read_chunk_size:
    description:
      - Bytes asked per C(guest-file-read) message when downloading. Capped by the transport (libvirt about 2.2 MiB).
    type: int
    default: 4194304
    env:
      - name: VMGUEST_QGA_READ_CHUNK_SIZE
    vars:
      - name: ansible_qga_read_chunk_size
  progress_after:
    description:
      - Seconds a file transfer (a put or fetch of this connection, for example by M(ansible.builtin.copy) or
        M(ansible.builtin.fetch)) runs before it prints progress lines at C(-v) and above, at most one every
        5 seconds (bytes done and total, rate, time left), and a last line with its size, time and rate.
      - Shorter transfers print nothing more. The lines name the paths and sizes, never the content.
      - V(0) reports every transfer. The default verbosity prints none.
      - M(vmguest.qga.qga_copy) and M(vmguest.qga.qga_fetch) use this too when they run over this connection.
    type: float
    default: 3
    version_added: 0.1.0
    env:
      - name: VMGUEST_QGA_PROGRESS_AFTER
    ini:
      - section: vmguest_qga
        key: progress_after
    vars:
      - name: ansible_qga_progress_after
  spill_output:
    description:
      - Send every command's output through a private guest file (in C(/run/vmguest-qga-spill)) instead of the
        C(guest-exec-status) reply, so output over the agent's 16 MiB capture limit comes back whole.
      - Off by default because it costs a few more agent calls per command; without it, output over 16 MiB fails
        the task with an error saying so (never short output passed on as complete). libvirt channels, whose
        replies are small, always spill; the persistent executor has no such limit.
    type: bool
    default: false
    version_added: 0.1.0
    env:
      - name: VMGUEST_QGA_SPILL_OUTPUT
    ini:
      - section: vmguest_qga
        key: spill_output
    vars:
      - name: ansible_qga_spill_output
  poll_max_interval:
    description:
      - Longest pause between two C(guest-exec-status) polls. Polling starts at 1 ms and doubles up to this.
    type: float
    default: 0.01
    env:
      - name: VMGUEST_QGA_POLL_MAX_INTERVAL
    vars:
      - name: ansible_qga_poll_max_interval
  executor:
    description:
      - How Python module tasks (and ansible-core's housekeeping commands) run in the guest.
      - V(persistent) keeps one worker per guest alive (a root process in a directory of its own under
        O(executor_dir)), and one per other identity (a become method and user, or a non-root
        O(remote_user)), started through that identity's own become command; each task runs in a fork of
        an interpreter that already imported the module_utils of the task's own AnsiballZ payload (same
        content by hash), requests and replies move as private guest files, no agent exec per task. The
        first module task of a play runs the normal way while the worker starts beside it. Workers exit
        after O(executor_idle_timeout) seconds without tasks; the C(reset_connection) meta task stops them.
      - V(pipelining) starts a fresh guest interpreter for every task (one agent exec) and leaves no
        process behind, the choice for guests where no process may outlive a task.
      - Tasks the worker cannot run exactly as pipelining would (C(async), an C(environment) that sets what
        an interpreter reads as it starts, no Python in the guest, a frozen filesystem, Windows) run the
        normal way; C(-vvv) says why.
    type: string
    default: persistent
    choices: [pipelining, persistent]
    version_added: 0.1.0
    env:
      - name: VMGUEST_QGA_EXECUTOR
    ini:
      - section: vmguest_qga
        key: executor
    vars:
      - name: ansible_qga_executor
  executor_idle_timeout:
    description:
      - Seconds the persistent executor's worker stays alive without tasks before it exits by itself
        (and removes its directory). Applies when a worker starts.
    type: float
    default: 600
    version_added: 0.1.0
    env:
      - name: VMGUEST_QGA_EXECUTOR_IDLE_TIMEOUT
    ini:
      - section: vmguest_qga
        key: executor_idle_timeout
    vars:
      - name: ansible_qga_executor_idle_timeout
  executor_dir:
    description:
      - Guest directory that holds the persistent executor's workers, one root-only 0700 subdirectory
        C(executor-VERSION) per controller release and settings. It is created 0700 if missing; the worker
        refuses one that is a symlink or not private to root, and stops workers of other releases it finds there.
      - Controllers (or test runs) that must never share a worker with each other, for example two checkouts
        of this collection driving the same guest, each need a directory of their own.
    type: string
    default: /run/vmguest-qga
    version_added: 0.1.0
    env:
      - name: VMGUEST_QGA_EXECUTOR_DIR
    ini:
      - section: vmguest_qga
        key: executor_dir
    vars:
      - name: ansible_qga_executor_dir
  executor_wake:
    description:
      - How the persistent executor's worker notices a new request.
      - V(inotify) wakes it the moment the request file is complete (it falls back to polling where the
        guest has no inotify).
      - V(poll) looks at its jobs directory every 20 ms while tasks arrive, every 0.2 s after 5 s without
        one. Meant for guests where inotify misbehaves, and for measuring (C(bench/executor.py --wake)).
      - Applies when a worker starts; a worker of the other mode is a different worker.
    type: string
    default: inotify
    choices: [inotify, poll]
    version_added: 0.1.0
    env:
      - name: VMGUEST_QGA_EXECUTOR_WAKE
    ini:
      - section: vmguest_qga
        key: executor_wake
    vars:
      - name: ansible_qga_executor_wake
notes:
  - The agent must allow C(guest-exec), C(guest-exec-status) and C(guest-file-*). Distributions that ship an
    allow-list (RHEL 9.4+, Rocky 10) leave them out; the error names the command and how to enable it.
  - The agent runs as root, so C(become) needs no password for the default O(remote_user) (root). For another
    user C(sudo) and C(su) take C(ansible_become_password), written on stdin before the command when they will
    ask (no terminal is involved); other become methods must not ask.
  - Files the agent creates are made private (0600, owned by O(remote_user)) before any byte is written.
seealso:
  - name: QEMU guest agent protocol
    description: The commands this plugin uses.
    link: https://www.qemu.org/docs/master/interop/qemu-ga-ref.html
"""

EXAMPLES = r"""
# inventory.yml
all:
  hosts:
    vm1:
      ansible_connection: vmguest.qga.qga
      ansible_qga_channel: libvirt:qemu:///system      # the domain defaults to the inventory name, vm1
    vm2:
      ansible_connection: vmguest.qga.qga
      ansible_qga_channel: unix:/run/qemu-server/102.qga  # Proxmox, on the hypervisor itself
    vm3:
      ansible_connection: vmguest.qga.qga
      ansible_qga_channel: "exec:ssh root@pve1 socat - UNIX-CONNECT:/run/qemu-server/103.qga"
      ansible_user: alice
"""

import json
import os
import re
import shlex
import tempfile
import time
import typing as t

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

from ansible_collections.vmguest.qga.plugins.module_utils.qga import files, guest_exec, posix
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaError, QgaFileError, QgaUserError
from ansible_collections.vmguest.qga.plugins.plugin_utils import (
    become_prompt,
    exec_planner,
    facts_gather,
    relay,
    worker_identity,
)
from ansible_collections.vmguest.qga.plugins.plugin_utils.executor import (
    START_TIMEOUT,
    ExecutorUnavailable,
    IdentityRoute,
    PersistentExecutor,
    WorkerStarting,
)
from ansible_collections.vmguest.qga.plugins.plugin_utils.qga_channel import client_from_options, to_ansible_error
from ansible_collections.vmguest.qga.plugins.plugin_utils.transfer_progress import (
    TransferProgress,
    displayed_progress,
)

display = Display()

EXEC_COMMANDS = ("guest-exec", "guest-exec-status")
NO_PYTHON_HINT = (
    "\n[vmguest.qga] The guest has no Python interpreter at %s. Python modules need one in the guest; "
    "raw and the vmguest.qga.qga_* modules work without it (or set ansible_python_interpreter)."
)


class Connection(ConnectionBase):
    """Run tasks through the QEMU guest agent."""

    transport = "vmguest.qga.qga"
    has_pipelining = True
    _connected: bool  # set by ConnectionBase

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: QgaClient | None = None
        self._user: posix.GuestUser | None = None
        self._runner: PersistentExecutor | None = None
        # (connection user, *sudo probe argv) -> whether sudo asks that user for a password.
        self._sudo_asks: dict[tuple[str, ...], bool] = {}
        self._become_record: worker_identity.BecomeRecorder | None = None
        self._starting: WorkerStarting | None = None  # a worker starting beside the task that runs now

    def set_become_plugin(self, plugin: t.Any) -> None:
        """The task's become plugin (None: no become); what it builds is recorded for the executor's planner."""
        super().set_become_plugin(plugin)
        self._become_record = worker_identity.BecomeRecorder(plugin) if plugin is not None else None

    @property
    def _host(self) -> str:
        return to_text(self._play_context.remote_addr or "qga")

    # -- connection lifecycle -----------------------------------------------

    def _connect(self) -> Connection:
        if self._connected and self._client is not None and self._client.connected:
            return self
        if self._client is None:
            self._client = client_from_options(
                self.get_option, self._host, log=self._log_rpc, persist=float(self.get_option("persist") or 0)
            )
        display.vvv(
            "ESTABLISH QGA CONNECTION ON %s FOR USER %s" % (self._client.channel, self.get_option("remote_user")),
            host=self._host,
        )
        self._call(self._client.connect)
        self._connected = True
        return self

    def qga_client(self) -> QgaClient:
        """The connected protocol client, for the collection's action plugins (they reuse this channel)."""
        self._connect()
        if self._client is None:
            raise AssertionError("self._client is not None")
        return self._client

    def close(self) -> None:
        """Close the channel (its lock is released); the next task reconnects."""
        if self._client is not None:
            self._client.close()
        self._connected = False

    def reset(self) -> None:
        """meta: reset_connection: drop the channel and everything learned about the guest, and stop the executor
        and the channel relay (as ssh's reset ends its ControlPersist master)."""
        if self.get_option("executor") == "persistent":
            self._stop_executor()
        # meta: reset_connection may reach a connection object that never connected in this process.
        client = self._client or client_from_options(self.get_option, self._host)
        self.close()
        stopped = relay.stop(client.channel, client.domain)
        if stopped is not None:
            display.vvv("RESET stopped the channel relay (pid %d)" % stopped, host=self._host)
        self._client = None
        self._user = None
        self._runner = None
        self._sudo_asks.clear()

    # -- commands -------------------------------------------------------------

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        """Run `cmd` with the guest's /bin/sh as the remote user, in that user's home as ssh would;
        `in_data` becomes its stdin."""
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        display.vvv(
            "EXEC %s%s" % (to_text(cmd), " (%d bytes on stdin)" % len(in_data) if in_data else ""), host=self._host
        )
        become = self._become_for(to_text(cmd), sudoable)
        route = self._route(to_text(cmd), in_data, become)
        if route.name == exec_planner.CONTROLLER_FACTS and in_data:
            return self._answer_facts_module(in_data)
        client = self._require_client()
        user = self._effective_user()
        command_timeout = float(self.get_option("command_timeout") or 0) or None
        poll = self._poll_policy()
        done = None
        identity = self._identity_route(client, user, become) if route.other_identity else None
        if route.name == exec_planner.WORKER_MODULE:
            done = self._module_in_worker(client, route, in_data or b"", command_timeout, poll, identity)
        elif route.name == exec_planner.WORKER_OP:
            done = self._op_in_executor(client, route.op, poll, identity)
        if done is not None:
            rc, stdout, stderr = done.rc, done.stdout, done.stderr
        else:
            try:
                rc, stdout, stderr = self._run_in_guest(
                    client, user, to_text(cmd), in_data, become, command_timeout, poll)
            finally:
                self._finish_worker_start()
        if rc == 127 and (in_data or route.module_file):
            stderr += self._python_hint(cmd, stderr)
        return rc, stdout, stderr

    def _run_in_guest(
        self,
        client: QgaClient,
        user: posix.GuestUser,
        cmd: str,
        in_data: bytes | None,
        become: t.Any,
        timeout: float | None,
        poll: guest_exec.PollPolicy,
    ) -> tuple[int, bytes, bytes]:
        """`cmd` in the guest's /bin/sh through guest-exec, as `user` in their home, the password first on stdin
        when `become` (the plugin that built `cmd`, or None) will ask for it."""
        password = self._become_password_line(client, user, become, poll) if become is not None else None
        argv = guest_exec.own_process_group(posix.run_as_argv(user, posix.in_home(cmd)))
        result = self._call(
            guest_exec.run,
            client,
            argv,
            stdin=password + (in_data or b"") if password else in_data,
            env=user.environment(),
            clean_env=True,
            timeout=timeout,
            poll=poll,
            spill_output=bool(self.get_option("spill_output")),
        )
        stdout, stderr = result.stdout, result.stderr
        if become is not None:
            stderr = become_prompt.check_outcome(become, stdout, stderr, password is not None, self._host)
            stdout = _strip_through(become.success, stdout)
        display.vvvv("EXEC rc=%d, %d bytes stdout, %d bytes stderr, %.3f s" % (
            result.rc, len(stdout), len(stderr), result.duration), host=self._host)
        return result.rc, stdout, stderr

    def _become_for(self, cmd: str, sudoable: bool) -> t.Any:
        """The task's become plugin if `cmd` goes through it (it carries its success marker), else None."""
        become = self.become if sudoable else None
        success = getattr(become, "success", None)
        return become if success and success in cmd else None

    def _answer_facts_module(self, in_data: bytes) -> tuple[int, bytes, bytes]:
        """gather_facts runs facts modules as modules: vmguest.qga.qga_facts's payload is answered here, from
        agent RPCs, without running anything in the guest (no Python needed, not even guest-exec)."""
        reply = self._call(facts_gather.answer_payload, self.qga_client(), in_data, self._host)
        return 0, to_bytes(json.dumps(reply)), b""

    def _become_password_line(
        self, client: QgaClient, user: posix.GuestUser, become: t.Any, poll: guest_exec.PollPolicy
    ) -> bytes | None:
        """The become password line to put before stdin, when the become method will ask for it."""
        line = become_prompt.password_line(become)
        if line is None:
            return None
        if become.name == "su":
            return line if become_prompt.su_asks(become, user.is_root) else None
        probe = become_prompt.sudo_probe_argv(become)
        key = (user.name, *probe)
        if key not in self._sudo_asks:
            result = self._call(guest_exec.run, client, posix.run_as_argv(user, probe), env=user.environment(),
                                clean_env=True, timeout=60, poll=poll)
            self._sudo_asks[key] = result.rc != 0
            display.vvv("BECOME sudo %s %s for a password to become %s" % (
                "asks" if self._sudo_asks[key] else "does not ask", user.name, probe[-2]), host=self._host)
        return line if self._sudo_asks[key] else None

    def _route(self, cmd: str, in_data: bytes | None, become: t.Any) -> exec_planner.Route:
        """The way to run `cmd` (exec_planner decides), said at -vvv with why the faster ways refused it."""
        executor = self.get_option("executor") == "persistent"
        user_name = self.get_option("remote_user") or "root"
        request = exec_planner.ExecRequest(
            cmd,
            in_data,
            user_name,
            executor=executor,
            home=self._effective_user().home if executor and user_name != "root" else posix.ROOT.home,
            becomes=become is not None,
            become_inner=self._become_record.inner_of(cmd) if become is not None and self._become_record else None,
        )
        route, refusals = exec_planner.choose(request)
        why = " (refused: %s)" % "; ".join(map(str, refusals)) if refusals else ""
        identity = worker_identity.identity_of(user_name, become, self._shell) if route.other_identity else None
        if identity is not None:
            why = " (as %s)%s" % (identity.label, why)
        # Without the executor, guest-exec is simply the way: said only at -vvvv.
        (display.vvv if request.executor else display.vvvv)("EXEC ROUTE %s%s" % (route.name, why), host=self._host)
        return route

    def _module_in_worker(
        self,
        client: QgaClient,
        route: exec_planner.Route,
        in_data: bytes,
        timeout: float | None,
        poll: guest_exec.PollPolicy,
        identity: IdentityRoute | None,
    ) -> guest_exec.ExecResult | None:
        """Run a module in the persistent executor; None: the worker is out of reach (said at -vvv) or is starting
        beside this task (exec_command runs it the normal way, then _finish_worker_start)."""
        runner = self._executor(client, route.interpreter)
        try:
            self._call(runner.ensure_worker, True)
            return t.cast(guest_exec.ExecResult, self._call(
                runner.run, in_data, timeout, poll, route.env, identity, route.module_file))
        except WorkerStarting as starting:
            display.vvv("EXECUTOR not used: %s" % starting, host=self._host)
            self._starting = starting
            return None
        except ExecutorUnavailable as exc:
            display.vvv("EXECUTOR not used: %s" % exc, host=self._host)
            return None

    def _finish_worker_start(self) -> None:
        """Wait for the worker that started beside the task that just ran (it is usually ready already)."""
        starting, self._starting = self._starting, None
        if starting is None or self._runner is None:
            return
        try:
            self._call(self._runner.finish_start, starting)
        except (ExecutorUnavailable, AnsibleError) as exc:
            display.vvv("EXECUTOR could not start: %s" % exc, host=self._host)

    def _poll_policy(self) -> guest_exec.PollPolicy:
        return guest_exec.PollPolicy(max_interval=float(self.get_option("poll_max_interval")))

    def _op_in_executor(
        self, client: QgaClient, op: dict[str, t.Any], poll: guest_exec.PollPolicy, identity: IdentityRoute | None
    ) -> guest_exec.ExecResult | None:
        """A running worker's result for `op`; None (said at -vvvv) when no worker can do it."""
        try:
            return t.cast(guest_exec.ExecResult, self._call(self._executor(client, "").run_op, op, poll, identity))
        except ExecutorUnavailable as exc:
            display.vvvv("EXECUTOR not used for %s: %s" % (op["kind"], exc), host=self._host)
            return None

    def _identity_route(self, client: QgaClient, user: posix.GuestUser, become: t.Any) -> IdentityRoute | None:
        """The worker identity of `user`'s commands through `become` (None: no become); None for root's own."""
        identity = worker_identity.identity_of(user.name, become, self._shell)
        if identity is None:
            return None

        def start(argv: list[str], source: bytes) -> str:
            command, builder = identity.start_command(argv, self._shell)
            rc, stdout, stderr = self._run_in_guest(
                client, user, command, source, builder, START_TIMEOUT, self._poll_policy())
            if rc != 0:
                reason = to_text(stderr).strip() or "exit code %d" % rc
                raise ExecutorUnavailable("starting the worker of %s failed: %s" % (identity.label, reason[-500:]))
            return to_text(stdout).strip()

        return IdentityRoute(identity.key, identity.label, start)

    def _executor(self, client: QgaClient, interpreter: str) -> PersistentExecutor:
        """The connection's executor (one per client: it remembers the worker it last saw)."""
        runner = self._runner
        if runner is None or runner.client is not client:
            try:
                runner = self._runner = PersistentExecutor(
                    client,
                    interpreter,
                    posix.ROOT.environment(),
                    idle_timeout=float(self.get_option("executor_idle_timeout")),
                    log=lambda text: display.vvv(text, host=self._host),
                    wake=self.get_option("executor_wake"),
                    parent_dir=str(self.get_option("executor_dir")),
                )
            except ValueError as exc:  # a bad executor_dir
                raise AnsibleError("vmguest.qga.qga: %s" % exc) from None
        runner.interpreter = interpreter
        return runner

    def _stop_executor(self) -> None:
        try:
            runner = self._executor(self._require_client(), "")
            if self._call(runner.stop):
                display.vvv("EXECUTOR asked the worker in %s to stop" % runner.base, host=self._host)
        except (AnsibleError, QgaError) as exc:
            display.vvv("EXECUTOR could not be stopped: %s" % to_text(exc), host=self._host)

    def _python_hint(self, cmd: str, stderr: bytes) -> bytes:
        words = shlex.split(to_text(cmd)) if cmd else []
        if len(words) > 2 and words[1] == "-c":  # "/bin/sh -c '/usr/bin/python3 && sleep 0'"
            words = shlex.split(words[2])
        interpreter = next((word for word in words if "python" in os.path.basename(word)), None)
        if interpreter and b"not found" in stderr:
            return to_bytes(NO_PYTHON_HINT % interpreter)
        return b""

    # -- files ----------------------------------------------------------------

    def put_file(self, in_path: str, out_path: str) -> None:
        """Upload a local file, private to the remote user from its first byte."""
        super().put_file(in_path, out_path)
        client = self._require_client()
        local_path = to_bytes(in_path, errors="surrogate_or_strict")
        if not os.path.isfile(local_path):
            raise AnsibleFileNotFound("file or module does not exist: %s" % to_native(in_path))
        user = self._effective_user()
        display.vvv("PUT %s TO %s" % (in_path, out_path), host=self._host)
        progress = self._progress("PUT %s TO %s" % (in_path, out_path), os.path.getsize(local_path))
        started = time.monotonic()
        with open(local_path, "rb") as source:
            moved = self._call(
                posix.write_private_file, client, out_path, source, user,
                create=lambda: self._create_private_file(client, out_path, user),
                chunk_size=self.get_option("write_chunk_size"), progress=progress.update,
            )
        progress.finish()
        display.vvvv("PUT %d bytes in %.3f s, sha256 %s" % (moved.size, time.monotonic() - started, moved.sha256),
                     host=self._host)

    def _create_private_file(self, client: QgaClient, path: str, user: posix.GuestUser) -> None:
        """Create `path` 0600 as `user` (a running executor worker does it without a process start)."""
        if self.get_option("executor") == "persistent":
            op = {"kind": "create", "path": path, "mode": 0o600}
            done = self._op_in_executor(client, op, self._poll_policy(), self._identity_route(client, user, None))
            if done is not None:
                if done.rc != 0:
                    raise AnsibleError("%s: cannot create %s in the guest: %s" % (
                        self._host, path, to_text(done.stderr).strip()))
                return
        self._call(posix.create_private_file, client, path, user)

    def fetch_file(self, in_path: str, out_path: str) -> None:
        """Download a guest file; the local file appears only once complete."""
        super().fetch_file(in_path, out_path)
        client = self._require_client()
        user = self._effective_user()
        display.vvv("FETCH %s TO %s" % (in_path, out_path), host=self._host)
        if not user.is_root:
            self._check_readable_as(user, in_path)
        local_dir = os.path.dirname(os.path.abspath(out_path)) or "."
        # The size is not known without one more agent command: the lines say bytes and rate, no ETA.
        progress = self._progress("FETCH %s TO %s" % (in_path, out_path), None)
        started = time.monotonic()
        handle, partial = tempfile.mkstemp(prefix=".qga-fetch-", dir=local_dir)
        try:
            with os.fdopen(handle, "wb") as sink:
                moved = self._call(
                    files.read_file, client, in_path, sink, chunk_size=self.get_option("read_chunk_size"),
                    progress=progress.update,
                )
            os.chmod(partial, 0o644 & ~_umask())
            os.replace(partial, out_path)
        except BaseException:
            if os.path.exists(partial):
                os.unlink(partial)
            raise
        progress.finish()
        display.vvvv("FETCH %d bytes in %.3f s, sha256 %s" % (moved.size, time.monotonic() - started, moved.sha256),
                     host=self._host)

    def _progress(self, label: str, total: int | None) -> TransferProgress:
        return displayed_progress(self._host, label, total, float(self.get_option("progress_after")))

    def _check_readable_as(self, user: posix.GuestUser, path: str) -> None:
        argv = posix.run_as_argv(user, ["/bin/sh", "-c", 'test -r "$1" || { ls -d -- "$1" >/dev/null; exit 1; }',
                                        "sh", path])
        result = self._call(guest_exec.run, self._require_client(), argv, env=user.environment(), clean_env=True)
        if result.rc != 0:
            reason = to_text(result.stderr).strip()
            if "No such file" in reason:
                raise AnsibleFileNotFound("%s: the guest file %s does not exist" % (self._host, path))
            raise AnsibleError("%s: %s cannot read %s in the guest (permission denied)" % (self._host, user.name, path))

    # -- helpers --------------------------------------------------------------

    def _require_client(self) -> QgaClient:
        if self._client is None or not self._client.connected:
            self._connect()
        if self._client is None:
            raise AssertionError("self._client is not None")
        self._call(self._client.require, *EXEC_COMMANDS)  # guest-info once per connection, then the guest record
        return self._client

    def _effective_user(self) -> posix.GuestUser:
        name = self.get_option("remote_user") or "root"
        if self._user is None or self._user.name != name:
            if name == "root":
                self._user = posix.ROOT
            else:
                self._user = self._lookup_remote_user(name)
        if self._user is None:
            raise AssertionError("self._user is not None")
        return self._user

    def _lookup_remote_user(self, name: str) -> posix.GuestUser:
        """The guest's passwd entry for remote_user; a user the guest lacks makes the host unreachable.

        As with ssh's failed login nothing can run on the host as that user, so ignore_unreachable and
        meta: clear_host_errors apply to it, not rescue and ignore_errors.
        """
        client = self._require_client()

        def lookup() -> posix.GuestUser:
            try:
                return posix.lookup_user(client, name)
            except QgaUserError as exc:
                raise AnsibleConnectionFailure(
                    "%s: %s (remote_user %r: set ansible_user, or the connection's remote_user, to a user the guest "
                    "has)" % (self._host, exc, name)
                ) from None

        return t.cast(posix.GuestUser, self._call(lookup))

    def _call(self, function: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
        """Run a client call; turn client errors into Ansible errors naming the host."""
        try:
            return function(*args, **kwargs)
        except QgaFileError as exc:
            raise to_ansible_error(exc, self._host) from None
        except QgaError as exc:
            error = to_ansible_error(exc, self._host)
            if isinstance(error, AnsibleConnectionFailure):
                self.close()
            raise error from None

    def _log_rpc(self, text: str) -> None:
        display.vvvvv(text, host=self._host)


def _strip_through(marker: str, data: bytes) -> bytes:
    """Drop everything up to and including the become success marker line."""
    return re.sub(b"^.*?" + re.escape(to_bytes(marker)) + rb"\s*", b"", data, count=1, flags=re.DOTALL)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
