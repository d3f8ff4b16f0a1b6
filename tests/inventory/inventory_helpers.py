# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the vmguest.qga.agents inventory tests: agent sockets in a private directory, runners."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import typing as t
from dataclasses import dataclass

from ansible_run import AnsibleRun, _bin, ansible_env, run_playbook_with_inventory
from hostagent import HostAgent

PROBE_TIMEOUT_S = 2


@dataclass
class Inventory:
    """What `ansible-inventory --list` printed."""

    rc: int
    data: dict[str, t.Any]
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, for assertion messages."""
        return self.stdout + self.stderr

    @property
    def hostvars(self) -> dict[str, dict[str, t.Any]]:
        """Host name -> its variables, with ansible-inventory's unsafe markers removed."""
        return t.cast("dict[str, dict[str, t.Any]]", plain(self.data.get("_meta", {}).get("hostvars", {})))

    def group(self, name: str) -> list[str]:
        """The hosts directly in group `name` (empty when the group does not exist)."""
        return sorted(self.data.get(name, {}).get("hosts", []))


def plain(value: t.Any) -> t.Any:
    """JSON from ansible-inventory without its {"__ansible_unsafe": ...} wrappers."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def unsafe_marked(value: t.Any) -> bool:
    """Whether ansible-inventory marked a string value unsafe (never templated)."""
    return isinstance(value, dict) and set(value) == {"__ansible_unsafe"}


def write_config(directory: str, body: str, name: str = "test.qga_agents.yml") -> str:
    """An inventory config file of this plugin (`plugin:` line added); returns its path."""
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        handle.write("plugin: vmguest.qga.agents\n" + body)
    return path


def run_inventory(config: str, *args: str, env: t.Mapping[str, str] | None = None) -> Inventory:
    """`ansible-inventory -i CONFIG --list ARGS...`."""
    proc = subprocess.run(
        [_bin("ansible-inventory"), "-i", config, "--list", *args],
        env=ansible_env(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # With -v the verbose lines come first on stdout; the JSON starts at a line that is just "{".
    start = re.search(r"^\{$", proc.stdout, re.MULTILINE)
    data = json.loads(proc.stdout[start.start():]) if start else {}
    return Inventory(proc.returncode, data, proc.stdout, proc.stderr)


def run_playbook_on(config: str, playbook: str, *args: str) -> AnsibleRun:
    """ansible-playbook with this plugin's config as the inventory; every task result collected."""
    return run_playbook_with_inventory(playbook, config, args)


class _UnixServer:
    """A unix socket server on a thread: each client is handed to `_talk` until `stop`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(path)
        self._server.listen(4)
        self._server.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                peer, _address = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with peer:
                peer.settimeout(0.2)
                self._talk(peer)

    def _received(self, peer: socket.socket) -> t.Iterator[bytes]:
        """What the client sends, until it hangs up or the server stops."""
        while not self._stopped.is_set():
            try:
                data = peer.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            yield data

    def _talk(self, peer: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stopped.set()
        self._server.close()
        self._thread.join(timeout=5)


class NotAnAgent(_UnixServer):
    """A unix socket server that accepts clients and speaks something else (an SSH-like banner)."""

    def _talk(self, peer: socket.socket) -> None:
        peer.sendall(b"SSH-2.0-NotAnAgent\r\n")
        for _data in self._received(peer):
            continue


class HostileAgent(_UnixServer):
    """A unix socket server that speaks the guest agent protocol and reports what a hostile guest chooses."""

    def __init__(self, path: str, hostname: str, osinfo: dict[str, str]) -> None:
        commands = ("guest-get-osinfo", "guest-get-host-name")
        self._replies: dict[str, t.Any] = {
            "guest-info": {"version": "9.9.9", "supported_commands": [
                {"name": name, "enabled": True, "success-response": True} for name in commands
            ]},
            "guest-get-osinfo": osinfo,
            "guest-get-host-name": {"host-name": hostname},
            "guest-ping": {},
        }
        super().__init__(path)

    def _talk(self, peer: socket.socket) -> None:
        pending = b""
        for data in self._received(peer):
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.strip(b"\xff \r"):
                    peer.sendall(self._reply(json.loads(line.strip(b"\xff \r"))))

    def _reply(self, request: dict[str, t.Any]) -> bytes:
        command = request.get("execute")
        if command == "guest-sync-delimited":
            return b"\xff" + json.dumps({"return": request["arguments"]["id"]}).encode() + b"\n"
        if command in self._replies:
            return json.dumps({"return": self._replies[command]}).encode() + b"\n"
        return json.dumps({"error": {"class": "CommandNotFound", "desc": "no %s here" % command}}).encode() + b"\n"


def stale_socket(path: str) -> None:
    """A socket file nobody listens on (what a killed QEMU leaves behind)."""
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)
    sock.close()


@dataclass
class AgentDir:
    """A private directory of agent sockets: web1.sock and db1.sock reach real host agents."""

    path: str
    agents: dict[str, HostAgent]

    def glob(self, pattern: str = "*.sock") -> str:
        """A socket glob inside the directory."""
        return os.path.join(self.path, pattern)


def link_agent(directory: str, name: str, agent: HostAgent) -> str:
    """Expose a host agent's socket as DIRECTORY/NAME (a symlink); returns the path."""
    path = os.path.join(directory, name)
    os.symlink(agent.socket_path, path)
    return path
