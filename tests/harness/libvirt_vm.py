# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The test VM of testvm.py as a transient libvirt domain under a real libvirtd (qemu:///system).

libvirt owns the agent socket, so the agent is reached through libvirt only
(``virsh qemu-agent-command`` / libvirt-python's ``qemuAgentCommand``). The
harness drives libvirt with ``virsh`` so it works from any Python; the
``libvirt`` module is only imported, lazily, by ``libvirt_connect()``.

    python tests/harness/libvirt_vm.py start|stop|status|daemons-stop

start() takes testvm's one-VM-at-a-time lock and holds it in this process
until stop(); a VM left running by the CLI `start` no longer holds it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

if __package__:
    from .testvm import (
        AGENT_PORT_NAME,
        DATA_DISK_MIB,
        KERNEL_CMDLINE,
        VM_SLOT_TIMEOUT_S,
        TestVMError,
        VMAssets,
        _tail,
        acquire_vm_slot,
        build_assets,
        default_cache_dir,
        make_data_image,
        release_vm_slot,
    )
else:  # run as a script or with tests/harness on sys.path
    from testvm import (  # type: ignore
        AGENT_PORT_NAME,
        DATA_DISK_MIB,
        KERNEL_CMDLINE,
        VM_SLOT_TIMEOUT_S,
        TestVMError,
        VMAssets,
        _tail,
        acquire_vm_slot,
        build_assets,
        default_cache_dir,
        make_data_image,
        release_vm_slot,
    )

DEFAULT_URI = "qemu:///system"
DEFAULT_DOMAIN = "vmguest-qga-test"
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
# The 9p share of the host root needs root, and no AppArmor/DAC relabelling of host files.
QEMU_CONF_SETTINGS = {"security_driver": '"none"', "user": '"root"', "group": '"root"'}
LIBVIRTD_SOCKET = Path("/run/libvirt/libvirt-sock")
_DAEMON_PIDFILES = {"virtlogd": Path("/run/virtlogd.pid"), "libvirtd": Path("/run/libvirtd.pid")}
_DOMAIN_MARKER = "vmguest.qga test harness"
_STATE_FILE = Path("/tmp/vmguest-qga-libvirt.json")


class LibvirtVMError(TestVMError):
    """libvirtd or the libvirt test domain failed."""


@dataclasses.dataclass
class LibvirtDaemons:
    """What ensure_libvirtd() did: the PIDs it started (only those may be stopped) and config changes."""

    started_pids: dict[str, int] = dataclasses.field(default_factory=dict)
    # qemu.conf as it was before ensure_libvirtd() changed it ("" for no file); None: left as it was.
    original_qemu_conf: str | None = None
    networks_started: list[str] = dataclasses.field(default_factory=list)

    @property
    def config_changed(self) -> bool:
        """Whether ensure_libvirtd() changed qemu.conf (stop_libvirtd() puts it back)."""
        return self.original_qemu_conf is not None


# ---------------------------------------------------------------- libvirtd


def configure_qemu_conf(path: Path = QEMU_CONF) -> str | None:
    """Set security_driver="none", user="root", group="root" in qemu.conf; the text it had ("" for no file)
    if it changed, else None."""
    original = path.read_text() if path.exists() else ""
    lines = original.splitlines()
    effective: dict[str, str] = {}
    for line in lines:
        key, value = _conf_assignment(line)
        if key in QEMU_CONF_SETTINGS:
            effective[key] = value
    if effective == QEMU_CONF_SETTINGS:
        return None
    kept = [line for line in lines if _conf_assignment(line)[0] not in QEMU_CONF_SETTINGS]
    kept.append(f"# set by {_DOMAIN_MARKER} (tests/harness/libvirt_vm.py)")
    kept.extend(f"{key} = {value}" for key, value in QEMU_CONF_SETTINGS.items())
    path.write_text("\n".join(kept) + "\n")
    return original


def restore_qemu_conf(original: str, path: Path = QEMU_CONF) -> None:
    """Put back qemu.conf as configure_qemu_conf() found it (no file if it had none)."""
    if original:
        path.write_text(original)
    else:
        path.unlink(missing_ok=True)


def _conf_assignment(line: str) -> tuple[str, str]:
    stripped = line.strip()
    if stripped.startswith("#") or "=" not in stripped:
        return "", ""
    key, value = stripped.split("=", 1)
    return key.strip(), value.strip()


def _daemon_pid(name: str) -> int | None:
    try:
        pid = int(_DAEMON_PIDFILES[name].read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid if comm == name else None


def _start_daemon(name: str, timeout: float) -> int:
    binary = shutil.which(name) or f"/usr/sbin/{name}"
    result = subprocess.run([binary, "-d"], capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise LibvirtVMError(f"{name} -d failed: {result.stderr.strip()}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _daemon_pid(name)
        if pid is not None:
            return pid
        time.sleep(0.1)
    raise LibvirtVMError(f"{name} started but wrote no pid to {_DAEMON_PIDFILES[name]}")


def ensure_libvirtd(uri: str = DEFAULT_URI, timeout: float = 30.0) -> LibvirtDaemons:
    """Configure qemu.conf, start virtlogd and libvirtd if not running, wait until libvirt answers."""
    daemons = LibvirtDaemons(original_qemu_conf=configure_qemu_conf())
    running = _daemon_pid("libvirtd")
    if daemons.config_changed and running is not None:
        raise LibvirtVMError(f"{QEMU_CONF} changed but libvirtd (pid {running}) is already running: restart it")
    for name in ("virtlogd", "libvirtd"):
        if _daemon_pid(name) is None:
            daemons.started_pids[name] = _start_daemon(name, timeout)
    _wait_for_libvirt(uri, timeout)
    if "libvirtd" in daemons.started_pids:
        # Autostarted networks would leave dnsmasq behind when libvirtd stops.
        daemons.networks_started = _virsh_lines(uri, "net-list", "--name")
    return daemons


def _wait_for_libvirt(uri: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    error = ""
    while time.monotonic() < deadline:
        if LIBVIRTD_SOCKET.exists():
            result = _virsh(uri, "version", check=False, timeout=10)
            if result.returncode == 0:
                return
            error = result.stderr.strip()
        time.sleep(0.2)
    raise LibvirtVMError(f"libvirt at {uri} did not answer within {timeout:.0f} s: {error or 'no socket'}")


def stop_libvirtd(daemons: LibvirtDaemons, uri: str = DEFAULT_URI, timeout: float = 15.0) -> None:
    """Stop only what ensure_libvirtd() started (networks, then libvirtd, then virtlogd), by PID, and put
    back the qemu.conf it changed once the libvirtd that read it is gone."""
    for network in daemons.networks_started:
        _virsh(uri, "net-destroy", network, check=False)
    for name in ("libvirtd", "virtlogd"):
        pid = daemons.started_pids.pop(name, None)
        if pid is not None and _daemon_pid(name) == pid:
            _kill_and_wait(pid, timeout)
    if daemons.original_qemu_conf is not None and _daemon_pid("libvirtd") is None:
        restore_qemu_conf(daemons.original_qemu_conf)
        daemons.original_qemu_conf = None


def _kill_and_wait(pid: int, timeout: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.1)


# ---------------------------------------------------------------- virsh


def _virsh(uri: str, *args: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    command = ["virsh", "-q", "-c", uri, *args]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LibvirtVMError(f"{' '.join(command[:6])} timed out after {timeout} s") from exc
    if check and result.returncode != 0:
        raise LibvirtVMError(f"virsh {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return result


def _virsh_lines(uri: str, *args: str) -> list[str]:
    return [line.strip() for line in _virsh(uri, *args).stdout.splitlines() if line.strip()]


def libvirt_connect(uri: str = DEFAULT_URI) -> Any:
    """Open a libvirt-python connection (imports ``libvirt`` lazily; needs python3-libvirt or libvirt-python)."""
    import libvirt

    return libvirt.open(uri)


# ---------------------------------------------------------------- the domain


def domain_xml(name: str, assets: VMAssets, data_image: Path, console_log: Path, memory_mib: int = 1024,
               cpus: int = 2) -> str:
    """The libvirt XML of the test VM: same kernel, initramfs and data disk as TestVM."""
    emulator = shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"
    return f"""<domain type='qemu'>
  <name>{escape(name)}</name>
  <description>{_DOMAIN_MARKER}</description>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>{cpus}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(str(assets.kernel))}</kernel>
    <initrd>{escape(str(assets.initrd))}</initrd>
    <cmdline>{escape(KERNEL_CMDLINE)}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{escape(emulator)}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file={quoteattr(str(data_image))}/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <filesystem type='mount' accessmode='squash' multidevs='remap'>
      <source dir='/'/>
      <target dir='hostroot'/>
      <readonly/>
    </filesystem>
    <serial type='file'>
      <source path={quoteattr(str(console_log))}/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='{AGENT_PORT_NAME}'/>
    </channel>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
"""


class LibvirtTestVM:
    """The test VM as a transient libvirt domain; start()/stop() or ``with LibvirtTestVM() as vm``."""

    __test__ = False  # not a pytest test class

    def __init__(self, domain: str = DEFAULT_DOMAIN, uri: str = DEFAULT_URI, cache_dir: Path | str | None = None,
                 memory_mib: int = 1024, cpus: int = 2, data_disk_mib: int = DATA_DISK_MIB,
                 stop_daemons: bool = False, slot_timeout: float = VM_SLOT_TIMEOUT_S) -> None:
        self.domain = domain
        self.uri = uri
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.memory_mib = memory_mib
        self.cpus = cpus
        self.data_disk_mib = data_disk_mib
        self.stop_daemons = stop_daemons
        self.slot_timeout = slot_timeout
        self._slot_fd: int | None = None
        self.daemons: LibvirtDaemons | None = None
        self.assets: VMAssets | None = None
        self.run_dir: Path | None = None
        self.boot_seconds: float | None = None

    @property
    def data_image(self) -> Path:
        """The raw ext4 image attached as vda."""
        return self._run_path("data.img")

    @property
    def console_log(self) -> Path:
        """The guest's serial console output."""
        return self._run_path("console.log")

    def _run_path(self, name: str) -> Path:
        if self.run_dir is None:
            raise LibvirtVMError("VM not started")
        return self.run_dir / name

    def __enter__(self) -> LibvirtTestVM:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout: float = 180.0) -> None:
        """Start libvirtd if needed, create the transient domain and wait until the agent answers guest-ping."""
        self._slot_fd = acquire_vm_slot(f"LibvirtTestVM {self.domain}", self.slot_timeout)
        try:
            self.daemons = ensure_libvirtd(self.uri)
            self.assets = build_assets(self.cache_dir)
            self._remove_stale_domain()
        except BaseException:
            self.stop()
            raise
        self.run_dir = Path(tempfile.mkdtemp(prefix="vmguest-qga-libvirt-"))
        try:
            make_data_image(self.data_image, self.data_disk_mib)
            xml_path = self.run_dir / "domain.xml"
            xml_path.write_text(domain_xml(self.domain, self.assets, self.data_image, self.console_log,
                                           self.memory_mib, self.cpus))
            _virsh(self.uri, "create", str(xml_path))
            self.boot_seconds = self.wait_for_agent(timeout)
        except BaseException as exc:
            console = _tail(self.console_log)
            self.stop()
            if isinstance(exc, TestVMError):
                raise LibvirtVMError(f"{exc}\n--- console tail ---\n{console}") from exc
            raise

    def _is_harness_domain(self) -> bool:
        result = _virsh(self.uri, "dumpxml", self.domain, check=False, timeout=15)
        return result.returncode == 0 and _DOMAIN_MARKER in result.stdout

    def _remove_stale_domain(self) -> None:
        if self._is_harness_domain():  # left by a crashed run; the VM lock says no other harness VM runs
            _virsh(self.uri, "destroy", self.domain, check=False)
            _virsh(self.uri, "undefine", self.domain, check=False)
        elif _virsh(self.uri, "domstate", self.domain, check=False).returncode == 0:
            raise LibvirtVMError(f"a domain named {self.domain} exists and is not the harness's: pick another name")

    def is_running(self) -> bool:
        """True while the domain exists and runs."""
        result = _virsh(self.uri, "domstate", self.domain, check=False, timeout=15)
        return result.returncode == 0 and result.stdout.strip() in ("running", "paused", "in shutdown")

    def qemu_pid(self) -> int | None:
        """The pid of the domain's QEMU process (libvirt's pid file), if running."""
        try:
            return int(Path(f"/run/libvirt/qemu/{self.domain}.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def agent_command(self, command: str, arguments: dict[str, Any] | None = None, timeout: int = 10) -> Any:
        """Run one agent command through libvirt (virsh qemu-agent-command); return its "return" value.

        guest-shutdown returns None: the agent sends no reply to it.
        """
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        result = _virsh(self.uri, "qemu-agent-command", self.domain, json.dumps(message), "--timeout",
                        str(timeout), check=False, timeout=timeout + 15)
        if result.returncode != 0:
            # guest-shutdown never replies: libvirt reports the agent gone once the guest goes down.
            if command == "guest-shutdown" and "disappeared" in result.stderr:
                return None
            raise LibvirtVMError(f"{command} via libvirt failed: {result.stderr.strip()}")
        text = result.stdout.strip()
        return json.loads(text).get("return") if text else None

    def wait_for_agent(self, timeout: float = 180.0) -> float:
        """Wait until guest-ping answers through libvirt; return the seconds it took."""
        started = time.monotonic()
        error = ""
        while time.monotonic() - started < timeout:
            if not self.is_running():
                raise LibvirtVMError(f"domain {self.domain} is not running")
            try:
                self.agent_command("guest-ping", timeout=5)
                return time.monotonic() - started
            except LibvirtVMError as exc:
                error = str(exc)
            time.sleep(0.5)
        raise LibvirtVMError(f"the agent of {self.domain} did not answer within {timeout:.0f} s: {error}")

    def wait_for_exit(self, timeout: float = 60.0) -> bool:
        """Wait until the domain is gone or shut off (guest powered off); True if it was within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                return True
            time.sleep(0.2)
        return False

    def stop(self, timeout: float = 30.0) -> None:
        """Destroy and undefine the domain, remove the run dir; stop the daemons if asked to at init."""
        if self._is_harness_domain():
            _virsh(self.uri, "destroy", self.domain, check=False, timeout=timeout)
            _virsh(self.uri, "undefine", self.domain, check=False, timeout=timeout)
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
        if self.stop_daemons and self.daemons is not None:
            stop_libvirtd(self.daemons, self.uri)
        release_vm_slot(self._slot_fd)
        self._slot_fd = None


# ---------------------------------------------------------------- CLI


def _save_state(vm: LibvirtTestVM) -> None:
    daemons = dataclasses.asdict(vm.daemons) if vm.daemons else None
    state = {"domain": vm.domain, "uri": vm.uri, "run_dir": str(vm.run_dir), "daemons": daemons,
             "boot_seconds": vm.boot_seconds}
    _STATE_FILE.write_text(json.dumps(state, indent=2) + "\n")


def _load_state() -> dict[str, Any]:
    try:
        return json.loads(_STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: start | stop | status | daemons-stop."""
    parser = argparse.ArgumentParser(prog="libvirt_vm.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--domain", default=DEFAULT_DOMAIN)
    parser.add_argument("--uri", default=DEFAULT_URI)
    parser.add_argument("action", choices=("start", "stop", "status", "daemons-stop"))
    args = parser.parse_args(argv)
    vm = LibvirtTestVM(domain=args.domain, uri=args.uri)
    state = _load_state()
    try:
        if args.action == "start":
            try:
                vm.start()
            finally:
                # Daemons started by an earlier `start` stay recorded until daemons-stop.
                if vm.daemons is not None and state.get("daemons"):
                    vm.daemons.started_pids = {**state["daemons"]["started_pids"], **vm.daemons.started_pids}
                _save_state(vm)
            print(json.dumps({"domain": vm.domain, "uri": vm.uri, "run_dir": str(vm.run_dir),
                              "qemu_pid": vm.qemu_pid(), "boot_seconds": vm.boot_seconds}, indent=2))
        elif args.action == "stop":
            vm.run_dir = Path(state["run_dir"]) if state.get("run_dir") else None
            vm.stop()
        elif args.action == "status":
            running = vm.is_running()
            agent_ok = running and _agent_ok(vm)
            print(json.dumps({"domain": vm.domain, "running": running, "agent_ok": agent_ok,
                              "qemu_pid": vm.qemu_pid(), "daemons": state.get("daemons")}, indent=2))
            return 0 if running else 1
        elif state.get("daemons"):
            stop_libvirtd(LibvirtDaemons(**state["daemons"]), args.uri)
            _STATE_FILE.unlink()
    except TestVMError as exc:
        print(f"libvirt_vm: {exc}", file=sys.stderr)
        return 2
    return 0


def _agent_ok(vm: LibvirtTestVM) -> bool:
    try:
        vm.agent_command("guest-ping", timeout=5)
    except LibvirtVMError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
