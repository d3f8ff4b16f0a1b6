# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmguest.qga.qga_exec: run a command in the guest with guest-exec, command-module semantics."""

from __future__ import annotations

import base64
import binascii
import datetime
import time
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmguest.qga.plugins.module_utils.qga import guest_exec, posix
from ansible_collections.vmguest.qga.plugins.module_utils.qga.client import QgaClient
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import QgaError, QgaExecTimeout
from ansible_collections.vmguest.qga.plugins.modules.qga_exec import (
    ARGUMENT_SPEC,
    MUTUALLY_EXCLUSIVE,
    REQUIRED_ONE_OF,
)
from ansible_collections.vmguest.qga.plugins.plugin_utils.action import QgaActionBase

# $1 chdir (or ""), $2 creates pattern (or ""), $3 removes pattern (or "").
# IFS is emptied so that a pattern is globbed but never split on spaces.
PRECHECK_SCRIPT = r"""
if [ -n "$1" ]; then cd -- "$1" || exit 12; fi
IFS=
if [ -n "$2" ]; then
    for f in $2; do if [ -e "$f" ] || [ -L "$f" ]; then exit 10; fi; done
fi
if [ -n "$3" ]; then
    for f in $3; do if [ -e "$f" ] || [ -L "$f" ]; then exit 0; fi; done
    exit 11
fi
exit 0
"""
PRECHECK_CREATES_EXISTS = 10
PRECHECK_REMOVES_MISSING = 11
PRECHECK_NO_CHDIR = 12
CHDIR_WRAPPER = 'cd -- "$1" || exit 125; shift; exec "$@"'
HELPER_TIMEOUT = 60.0


class ActionModule(QgaActionBase):
    """Run argv or a shell command line in the guest; fail on a non-zero exit code."""

    ARGUMENT_SPEC = ARGUMENT_SPEC
    MUTUALLY_EXCLUSIVE = MUTUALLY_EXCLUSIVE
    REQUIRED_ONE_OF = REQUIRED_ONE_OF
    # ansible-core 2.19+: `qga_exec: uname -a` and `-a 'uname -a'` arrive as _raw_params (older ones refuse them).
    supports_raw_params = True

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        """The free-form argument is the cmd option."""
        free_form = self._task.args.pop("_raw_params", None)
        if free_form:
            if self._task.args.get("cmd") is not None or self._task.args.get("argv") is not None:
                raise AnsibleActionFail("give the command either free-form or as cmd/argv, not both")
            self._task.args["cmd"] = free_form
        return super().run(tmp, task_vars)

    def run_qga(self, client: QgaClient, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        argv = self._argv(args)
        result["cmd"] = args["argv"] if args["argv"] is not None else args["cmd"]
        stdin = self._stdin(args)
        env = {str(name): self._env_value(name, value) for name, value in (args["env"] or {}).items()}
        client.require("guest-exec", "guest-exec-status")
        windows = guest_exec.guest_is_windows(client)
        if windows:
            self._refuse_on_windows(args)
        user = posix.ROOT if args["user"] == "root" or windows else posix.lookup_user(client, args["user"])

        skip_reason, skip_stdout = "", ""
        if not windows and (args["chdir"] or args["creates"] or args["removes"]):
            skip_reason, skip_stdout = self._precheck(client, user, args)
        if skip_reason:
            result.update(changed=False, rc=0, msg=skip_reason, stdout=skip_stdout, stdout_lines=[skip_stdout],
                          stderr="", stderr_lines=[])
            return
        if self.check_mode:
            result["msg"] = "Command would have run if not in check mode"
            result["rc"] = 0
            if args["creates"] is None and args["removes"] is None:
                result["skipped"] = True
                result["changed"] = False
            else:
                result["changed"] = True
            return

        if args["chdir"] and not windows:
            argv = ["/bin/sh", "-c", CHDIR_WRAPPER, "sh", args["chdir"], *argv]
        if not windows:
            argv = posix.run_as_argv(user, argv)
            user_env = user.environment()
            user_env.update(env)
            full_env: dict[str, str] | None = user_env
        else:
            full_env = env or None
        self._run(client, argv, stdin, full_env, float(args["timeout"] or 0) or None, windows, args, result)

    # -- arguments ------------------------------------------------------------

    @staticmethod
    def _argv(args: dict[str, t.Any]) -> list[str]:
        if args["argv"] is not None:
            if not args["argv"] or not args["argv"][0]:
                raise AnsibleActionFail("argv is empty: give the program to run as its first element")
            return [str(item) for item in args["argv"]]
        if not args["cmd"] or not args["cmd"].strip():
            raise AnsibleActionFail("cmd is empty: give the command line to run")
        return ["/bin/sh", "-c", args["cmd"]]

    @staticmethod
    def _stdin(args: dict[str, t.Any]) -> bytes | None:
        if args["stdin_b64"] is not None:
            try:
                return base64.b64decode(args["stdin_b64"], validate=True)
            except (binascii.Error, ValueError):
                raise AnsibleActionFail("stdin_b64 is not valid base64") from None
        if args["stdin"] is not None:
            text = args["stdin"] + ("\n" if args["stdin_add_newline"] else "")
            return text.encode("utf-8")
        return None

    @staticmethod
    def _env_value(name: t.Any, value: t.Any) -> str:
        if not str(name) or "=" in str(name):
            raise AnsibleActionFail("env: %r is not a valid variable name" % (name,))
        if isinstance(value, bool):
            return "1" if value else ""
        return "" if value is None else str(value)

    @staticmethod
    def _refuse_on_windows(args: dict[str, t.Any]) -> None:
        unsupported = [name for name in ("cmd", "chdir", "creates", "removes") if args[name]]
        if args["user"] != "root":
            unsupported.append("user")
        if unsupported:
            raise AnsibleActionFail(
                "%s need a POSIX guest; this guest runs Windows (use argv, e.g. [cmd.exe, /c, ...])"
                % ", ".join(unsupported)
            )

    # -- creates / removes / chdir -----------------------------------------------------

    def _precheck(self, client: QgaClient, user: posix.GuestUser, args: dict[str, t.Any]) -> tuple[str, str]:
        """Return why the command must not run and the stdout to report (both "" when it should run)."""
        argv = posix.run_as_argv(user, ["/bin/sh", "-c", PRECHECK_SCRIPT, "sh", args["chdir"] or "",
                                        args["creates"] or "", args["removes"] or ""])
        check = guest_exec.run(client, argv, env=user.environment(), clean_env=True, timeout=HELPER_TIMEOUT)
        shoulda = "Would" if self.check_mode else "Did"
        if check.rc == PRECHECK_CREATES_EXISTS:
            return ("%s not run command since '%s' exists" % (shoulda, args["creates"]),
                    "skipped, since %s exists" % args["creates"])
        if check.rc == PRECHECK_REMOVES_MISSING:
            return ("%s not run command since '%s' does not exist" % (shoulda, args["removes"]),
                    "skipped, since %s does not exist" % args["removes"])
        if check.rc == PRECHECK_NO_CHDIR:
            raise AnsibleActionFail("Unable to change directory before execution: %s"
                                    % (check.stderr.decode("utf-8", "replace").strip() or args["chdir"]))
        if check.rc != 0:
            raise AnsibleActionFail("checking creates/removes in the guest failed (exit %d): %s"
                                    % (check.rc, check.stderr.decode("utf-8", "replace").strip()))
        return "", ""

    # -- running ------------------------------------------------------------------------

    def _run(self, client: QgaClient, argv: list[str], stdin: bytes | None, env: dict[str, str] | None,
             timeout: float | None, windows: bool, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        started = datetime.datetime.now()
        timed_out = False
        if timeout is not None and self._captures_directly(client, stdin) and not args["spill_output"]:
            outcome, timed_out = self._run_with_timeout(client, argv, stdin, env, timeout, windows)
        else:
            try:
                outcome = guest_exec.run(client, argv, stdin=stdin, env=env, clean_env=True, timeout=timeout,
                                         allow_truncation=True, spill_output=args["spill_output"])
            except QgaExecTimeout:
                ended = datetime.datetime.now()
                result.update(failed=True, changed=True, timed_out=True, rc=-9, signal=9,
                              stdout="", stderr="", stdout_lines=[], stderr_lines=[], stdout_b64="", stderr_b64="",
                              start=str(started), end=str(ended), delta=str(ended - started),
                              msg="the command ran longer than %s s; its process group was killed (the agent "
                                  "keeps no output of a killed process on this transport)" % args["timeout"])
                return
        ended = datetime.datetime.now()
        self._fill(outcome, args, result)
        result.update(changed=True, timed_out=timed_out, start=str(started), end=str(ended),
                      delta=str(ended - started))
        cut = [name for name, flag in (("stdout", outcome.out_truncated), ("stderr", outcome.err_truncated)) if flag]
        if timed_out:
            result["failed"] = True
            result["msg"] = "the command ran longer than %s s; its process group was killed" % args["timeout"]
        elif cut:
            result["failed"] = True
            result["msg"] = (
                "the agent cut the command's %s at its 16 MiB capture limit, so the output is incomplete (rc %d); "
                "set spill_output: true to get all of it through a guest file" % (" and ".join(cut), outcome.rc)
            )
        elif outcome.rc != 0:
            result["failed"] = True
            result["msg"] = "non-zero return code"

    @staticmethod
    def _captures_directly(client: QgaClient, stdin: bytes | None) -> bool:
        """Whether output comes back in guest-exec-status and stdin fits one request (no spill files)."""
        stdin_b64 = (len(stdin) + 2) // 3 * 4 if stdin else 0
        return client.limits.exec_capture_fits and stdin_b64 + 8192 <= client.limits.max_request_bytes

    @staticmethod
    def _run_with_timeout(client: QgaClient, argv: list[str], stdin: bytes | None, env: dict[str, str] | None,
                          timeout: float, windows: bool) -> tuple[guest_exec.ExecResult, bool]:
        """Run; past `timeout` kill the process group and still return what it wrote so far."""
        if not windows:
            argv = guest_exec.own_process_group(argv)
        begun = time.monotonic()
        pid = guest_exec.start(client, argv, stdin=stdin, env=env)
        timed_out = False
        try:
            status = guest_exec.wait(client, pid, timeout=timeout, kill_on_timeout=False)
        except QgaExecTimeout:
            timed_out = True
            _kill_tree(client, pid, windows)
            status = guest_exec.wait(client, pid, timeout=guest_exec.KILL_REAP_TIMEOUT, kill_on_timeout=False)
        return guest_exec.result_from_status(pid, status, begun), timed_out

    def _fill(self, outcome: guest_exec.ExecResult, args: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        for name, data in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
            text_data = data.rstrip(b"\r\n") if args["strip_empty_ends"] else data
            text = text_data.decode("utf-8", "replace")
            result[name] = text
            result[name + "_lines"] = text.splitlines()
            if args["output_b64"] == "always" or not _is_utf8(data):
                result[name + "_b64"] = base64.b64encode(data).decode("ascii")
        result["rc"] = outcome.rc
        result["pid"] = outcome.pid
        if outcome.signal is not None:
            result["signal"] = outcome.signal
        for name, cut in (("stdout", outcome.out_truncated), ("stderr", outcome.err_truncated)):
            if cut:
                result[name + "_truncated"] = True


def _is_utf8(data: bytes) -> bool:
    """Whether the text result holds these bytes unchanged (but for strip_empty_ends): no byte was replaced."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _kill_tree(client: QgaClient, pid: int, windows: bool) -> None:
    """SIGKILL the process group led by `pid` (and `pid`), without reaping its status."""
    if windows:
        argv = ["taskkill", "/F", "/T", "/PID", str(pid)]
        env = None
    else:
        argv = ["/bin/sh", "-c", "kill -9 -%d 2>/dev/null; kill -9 %d 2>/dev/null; exit 0" % (pid, pid)]
        env = guest_exec.default_environment()
    try:
        killer = guest_exec.start(client, argv, capture=False, env=env)
        guest_exec.wait(client, killer, timeout=HELPER_TIMEOUT, kill_on_timeout=False)
    except QgaError:
        pass
