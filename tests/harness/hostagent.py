# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real qemu-ga on this machine, for fast protocol and connection tests.

It runs as root on the host, so every RPC that could hurt the host is blocked
(BLOCKED_RPCS); there is no way to start one without that list. Channels:
a unix socket (always), a pty pair for the serial transport (`qemu-ga -m
isa-serial`), and a TCP port bridged to the unix socket by socat.

CLI: hostagent.py start [--serial] [--tcp] | stop RUN_DIR
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t

# Never remove an entry: the agent runs as root on the developer's (or CI's) machine.
BLOCKED_RPCS = (
    "guest-shutdown",
    "guest-suspend-disk",
    "guest-suspend-ram",
    "guest-suspend-hybrid",
    "guest-fsfreeze-freeze",
    "guest-fsfreeze-freeze-list",
    "guest-fsfreeze-thaw",
    "guest-set-user-password",
    "guest-set-vcpus",
    "guest-set-memory-blocks",
    "guest-set-time",
    "guest-fstrim",
)
# What a systemd service gets: no HOME, which is what real guests give guest-exec.
SERVICE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def _wait_for(predicate: t.Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def _connectable(path: str) -> bool:
    if not os.path.exists(path):
        return False
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _stop_pid(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HostAgent:
    """A qemu-ga on a unix socket in a private temp dir, dangerous RPCs blocked.

    `extra_blocked` blocks more RPCs (e.g. guest-exec, to test disabled-command errors).
    """

    def __init__(self, extra_blocked: t.Sequence[str] = (), serial: bool = False, tcp: bool = False) -> None:
        self.blocked = tuple(BLOCKED_RPCS) + tuple(extra_blocked)
        self.want_serial = serial
        self.want_tcp = tcp
        self.run_dir = ""
        self.socket_path = ""
        self.serial_path = ""
        self.tcp_port = 0
        self._agent: subprocess.Popen[bytes] | None = None
        self._serial_agent: subprocess.Popen[bytes] | None = None
        self._pty_bridge: subprocess.Popen[bytes] | None = None
        self._tcp_bridge: subprocess.Popen[bytes] | None = None

    @property
    def channel(self) -> str:
        """The unix channel string."""
        return "unix:" + self.socket_path

    @property
    def pid(self) -> int:
        """PID of the unix-socket agent."""
        assert self._agent is not None
        return self._agent.pid

    def start(self) -> HostAgent:
        """Start the agent(s) and wait until they accept clients."""
        self.run_dir = tempfile.mkdtemp(prefix="vmguest-qga-hostagent-")
        os.chmod(self.run_dir, 0o700)
        try:
            self.socket_path = os.path.join(self.run_dir, "qga.sock")
            self._agent = self._spawn_agent("unix-listen", self.socket_path, "unix")
            _wait_for(lambda: _connectable(self.socket_path), 10, "the host agent socket")
            if self.want_serial:
                self._start_serial()
            if self.want_tcp:
                self._start_tcp()
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self) -> None:
        """Kill the unix-socket agent and start it again (same socket path)."""
        _stop_pid(self._agent)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        self._agent = self._spawn_agent("unix-listen", self.socket_path, "unix")
        _wait_for(lambda: _connectable(self.socket_path), 10, "the restarted host agent socket")

    def kill(self) -> None:
        """SIGKILL the unix-socket agent (fault injection)."""
        if self._agent is not None and self._agent.poll() is None:
            self._agent.kill()
            self._agent.wait()

    def stop(self) -> None:
        """Stop everything this object started, by PID, and remove the temp dir."""
        for proc in (self._tcp_bridge, self._serial_agent, self._pty_bridge, self._agent):
            _stop_pid(proc)
        if self.run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> HostAgent:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn_agent(self, method: str, path: str, name: str) -> subprocess.Popen[bytes]:
        state_dir = os.path.join(self.run_dir, "state-" + name)
        os.makedirs(state_dir, exist_ok=True)
        argv = [
            shutil.which("qemu-ga") or "/usr/bin/qemu-ga",
            "-m", method,
            "-p", path,
            "-t", state_dir,
            "-f", os.path.join(self.run_dir, name + ".pid"),
            "-l", os.path.join(self.run_dir, name + ".log"),
            "-b", ",".join(self.blocked),
        ]
        assert "guest-shutdown" in argv[-1] and "guest-fsfreeze-freeze" in argv[-1]
        return subprocess.Popen(argv, env=SERVICE_ENV, stdin=subprocess.DEVNULL)

    def _start_serial(self) -> None:
        agent_end = os.path.join(self.run_dir, "pty-agent")
        self.serial_path = os.path.join(self.run_dir, "pty-client")
        self._pty_bridge = subprocess.Popen(
            ["socat", "pty,raw,echo=0,link=" + agent_end, "pty,raw,echo=0,link=" + self.serial_path],
            stdin=subprocess.DEVNULL,
        )
        _wait_for(lambda: os.path.exists(agent_end) and os.path.exists(self.serial_path), 10, "the pty pair")
        self._serial_agent = self._spawn_agent("isa-serial", agent_end, "serial")
        time.sleep(0.2)
        if self._serial_agent.poll() is not None:
            raise RuntimeError("the serial qemu-ga exited with %s" % self._serial_agent.returncode)

    def _start_tcp(self) -> None:
        self.tcp_port = _free_port()
        self._tcp_bridge = subprocess.Popen(
            [
                "socat",
                "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork" % self.tcp_port,
                "UNIX-CONNECT:" + self.socket_path,
            ],
            stdin=subprocess.DEVNULL,
        )

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.tcp_port), timeout=0.2).close()
            except OSError:
                return False
            return True

        _wait_for(listening, 10, "the tcp bridge")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    start = sub.add_parser("start", help="start a host agent in the background and print its channels as JSON")
    start.add_argument("--serial", action="store_true")
    start.add_argument("--tcp", action="store_true")
    stop = sub.add_parser("stop", help="stop the agents of a run dir printed by start")
    stop.add_argument("run_dir")
    args = parser.parse_args(argv)
    if args.action == "start":
        agent = HostAgent(serial=args.serial, tcp=args.tcp).start()
        pids = [p.pid for p in (agent._agent, agent._serial_agent, agent._pty_bridge, agent._tcp_bridge) if p]
        with open(os.path.join(agent.run_dir, "pids"), "w") as handle:
            handle.write(" ".join(map(str, pids)))
        print(json.dumps({"run_dir": agent.run_dir, "channel": agent.channel, "serial": agent.serial_path,
                          "tcp_port": agent.tcp_port}))
        return 0
    with open(os.path.join(args.run_dir, "pids")) as handle:
        for pid in handle.read().split():
            try:
                os.kill(int(pid), signal.SIGTERM)
            except ProcessLookupError:
                pass
    shutil.rmtree(args.run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
