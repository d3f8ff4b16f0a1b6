# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The protocol schema: generated from the QAPI file, and the validation built on it."""

from __future__ import annotations

import copy
import hashlib
import importlib
import os
import re
import subprocess
import sys
import typing as t

import pytest

from ansible_collections.vmguest.qga.plugins.module_utils.qga import schema
from ansible_collections.vmguest.qga.plugins.module_utils.qga._schema_data import SCHEMA
from ansible_collections.vmguest.qga.plugins.module_utils.qga.errors import (
    QgaArgumentError,
    QgaError,
    QgaProtocolError,
)

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QAPI_FILE = os.path.join(COLLECTION, "qapi", "qapi-schema.json")
DATA_FILE = os.path.join(COLLECTION, "plugins", "module_utils", "qga", "_schema_data.py")
sys.path.insert(0, os.path.join(COLLECTION, "tools"))

gen = importlib.import_module("qapi2jsonschema")  # the generator lives in tools/, put on sys.path just above

jsonschema = pytest.importorskip("jsonschema")


def read_qapi() -> str:
    with open(QAPI_FILE, encoding="utf-8") as f:
        return f.read()


def argument_error(command: t.Any, arguments: t.Any) -> str:
    with pytest.raises(QgaArgumentError) as caught:
        schema.validate_arguments(command, arguments, channel="unix:/run/qga.sock")
    assert caught.value.command == command
    assert caught.value.channel == "unix:/run/qga.sock"
    return str(caught.value)


def return_error(command: t.Any, value: t.Any) -> str:
    with pytest.raises(QgaProtocolError) as caught:
        schema.validate_return(command, value, channel="unix:/run/qga.sock")
    assert caught.value.command == command
    return str(caught.value)


# Replies shaped like those of a real qemu-ga 7.2 on Debian 12 (values from such a run).
GUEST_INFO = {
    "version": "7.2.22",
    "supported_commands": [
        {"enabled": True, "name": "guest-get-cpustats", "success-response": True},
        {"enabled": True, "name": "guest-exec", "success-response": True},
        {"enabled": False, "name": "guest-shutdown", "success-response": False},
        {"enabled": True, "name": "guest-sync-delimited", "success-response": True},
    ],
}
GUEST_EXEC_STATUS = {
    "exited": True,
    "exitcode": 3,
    "out-data": "aGkK",
    "err-data": "ZXJyCg==",
    "out-truncated": False,
    "err-truncated": False,
}
GUEST_OSINFO = {
    "name": "Debian GNU/Linux",
    "kernel-release": "6.1.0-18-amd64",
    "version": "12 (bookworm)",
    "pretty-name": "Debian GNU/Linux 12 (bookworm)",
    "version-id": "12",
    "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
    "machine": "x86_64",
    "id": "debian",
}


# --------------------------------------------------------------------------
# The generated file
# --------------------------------------------------------------------------


def test_generated_file_is_current() -> None:
    with open(DATA_FILE, encoding="utf-8") as f:
        current = f.read()
    assert gen.generate(QAPI_FILE) == current, (
        "plugins/module_utils/qga/_schema_data.py is stale: run python tools/qapi2jsonschema.py"
    )


def test_schema_records_the_hash_of_its_source() -> None:
    with open(QAPI_FILE, "rb") as f:
        assert SCHEMA["qapi_sha256"] == hashlib.sha256(f.read()).hexdigest()


def test_any_change_of_the_qapi_file_makes_the_generated_file_stale(tmp_path: t.Any) -> None:
    changed = tmp_path / "qapi-schema.json"
    changed.write_text(read_qapi() + "\n# a comment is a change too\n", encoding="utf-8")
    assert gen.generate(str(changed)) != gen.generate(QAPI_FILE)

    output = tmp_path / "_schema_data.py"
    output.write_text(gen.generate(QAPI_FILE), encoding="utf-8")
    assert gen.main(["--check", "--qapi", QAPI_FILE, "--output", str(output)]) == 0
    assert gen.main(["--check", "--qapi", str(changed), "--output", str(output)]) == 1


def test_check_mode_says_how_to_regenerate(tmp_path: t.Any, capsys: t.Any) -> None:
    output = tmp_path / "_schema_data.py"
    output.write_text("SCHEMA = {}\n", encoding="utf-8")
    assert gen.main(["--check", "--output", str(output)]) == 1
    assert "stale" in capsys.readouterr().err
    assert output.read_text(encoding="utf-8") == "SCHEMA = {}\n"


def test_rendering_is_deterministic_and_evaluates_back_to_the_schema() -> None:
    built = gen.build_schema(read_qapi())
    text = gen.render_module(built)
    assert text == gen.render_module(copy.deepcopy(built))
    namespace: dict = {}
    exec(compile(text, DATA_FILE, "exec"), namespace)  # noqa: S102  (our own generated file)
    assert namespace["SCHEMA"] == built


def test_schema_has_exactly_the_commands_of_the_qapi_file() -> None:
    in_qapi = set(re.findall(r"'command'\s*:\s*'([\w-]+)'", read_qapi()))
    assert len(in_qapi) == 40
    assert set(SCHEMA["commands"]) == in_qapi
    assert schema.command_names() == sorted(in_qapi)


def test_every_schema_is_valid_draft_2020_12() -> None:
    for entry in SCHEMA["commands"].values():
        for direction in ("args", "returns"):
            if entry[direction] is not None:
                root = dict(entry[direction], **{"$defs": SCHEMA["$defs"]})
                jsonschema.Draft202012Validator.check_schema(root)


# --------------------------------------------------------------------------
# Spot checks of the converted schema
# --------------------------------------------------------------------------


def test_guest_exec_arguments() -> None:
    args = schema.command_spec("guest-exec")["args"]
    assert args["required"] == ["path"]
    assert args["additionalProperties"] is False
    props = args["properties"]
    assert props["path"]["type"] == "string"
    assert props["arg"]["type"] == "array"
    assert props["arg"]["items"] == {"type": "string"}
    assert props["input-data"]["type"] == "string"
    capture = props["capture-output"]
    if "GuestExecCaptureOutput" in SCHEMA["$defs"]:  # QEMU >= 8.0 schemas
        assert capture["$ref"] == "#/$defs/GuestExecCaptureOutput"
        schema.validate_arguments("guest-exec", {"path": "/bin/true", "capture-output": "separated"})
    else:
        assert capture["type"] == "boolean"
    schema.validate_arguments("guest-exec", {"path": "/bin/true", "capture-output": True})


def test_guest_file_read_count_is_an_optional_integer() -> None:
    args = schema.command_spec("guest-file-read")["args"]
    assert args["properties"]["count"]["type"] == "integer"
    assert "count" not in args["required"]
    assert args["required"] == ["handle"]


def test_guest_sync_delimited_id_is_a_required_64_bit_integer() -> None:
    args = schema.command_spec("guest-sync-delimited")["args"]
    assert args["required"] == ["id"]
    assert args["properties"]["id"] == {
        "description": "randomly generated 64-bit integer",
        "type": "integer",
        "minimum": -(2**63),
        "maximum": 2**63 - 1,
    }


def test_command_entries_carry_doc_and_flags() -> None:
    spec = schema.command_spec("guest-exec")
    assert spec["since"] == "2.5"
    assert spec["summary"] == "Execute a command in the guest"
    assert spec["if"] is None
    assert "success_response" not in spec and "allow_oob" not in spec
    assert schema.command_spec("guest-shutdown")["success_response"] is False
    assert schema.command_spec("guest-ssh-add-authorized-keys")["if"] == "CONFIG_POSIX"
    assert schema.command_spec("guest-ping")["args"] is None
    assert schema.command_spec("guest-ping")["returns"] is None
    assert schema.command_spec("guest-get-time")["returns"]["type"] == "integer"


def test_uint_members_get_their_range() -> None:
    stat = SCHEMA["$defs"]["GuestNetworkInterfaceStat"]["properties"]["rx-bytes"]
    assert (stat["minimum"], stat["maximum"]) == (0, 2**64 - 1)
    pci = SCHEMA["$defs"]["GuestDeviceIdPCI"]["properties"]["vendor-id"]
    assert (pci["minimum"], pci["maximum"]) == (0, 0xFFFF)


def test_command_spec_is_a_copy() -> None:
    schema.command_spec("guest-exec")["args"]["properties"].clear()
    assert schema.command_spec("guest-exec")["args"]["properties"]


def test_is_known() -> None:
    assert schema.is_known("guest-ping")
    assert not schema.is_known("guest-pong")
    assert not schema.is_known(None)  # type: ignore[arg-type,unused-ignore]  # a reply or request without a name


# --------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, arguments",
    [
        ("guest-ping", None),
        ("guest-ping", {}),
        ("guest-exec", {"path": "/bin/sh", "arg": ["-c", "id"], "env": ["HOME=/root"], "input-data": "aGkK"}),
        ("guest-exec", {"path": "/bin/sh", "arg": ("-c", "id")}),
        ("guest-file-read", {"handle": 1000, "count": 65536}),
        ("guest-file-seek", {"handle": 1000, "offset": 10, "whence": "cur"}),
        ("guest-file-seek", {"handle": 1000, "offset": 10, "whence": 1}),
        ("guest-set-vcpus", {"vcpus": [{"logical-id": 1, "online": False}]}),
        ("guest-fsfreeze-freeze-list", {"mountpoints": ["/", "/var"]}),
        ("guest-sync-delimited", {"id": 2**63 - 1}),
    ],
)
def test_valid_arguments_pass(command: t.Any, arguments: t.Any) -> None:
    schema.validate_arguments(command, arguments)


def test_unknown_command_is_named_with_close_names() -> None:
    message = argument_error("guest-exex", {"path": "/bin/true"})
    assert "unknown command 'guest-exex'" in message
    assert "did you mean 'guest-exec'" in message


def test_unknown_command_without_close_names_lists_the_commands() -> None:
    message = argument_error("reboot-now", {})
    assert "unknown command 'reboot-now'" in message
    assert "guest-ping" in message


def test_unknown_argument_is_named_with_the_valid_ones() -> None:
    message = argument_error("guest-exec", {"path": "/bin/true", "capture_output": True})
    assert "unknown argument 'capture_output' (did you mean 'capture-output'?)" in message
    assert "valid arguments: arg, capture-output, env, input-data, path" in message


def test_unknown_member_of_a_nested_object_is_named_with_its_path() -> None:
    message = argument_error("guest-set-vcpus", {"vcpus": [{"logical-id": 0, "online": True, "state": "on"}]})
    assert "unknown argument 'vcpus[0].state'" in message
    assert "valid members of 'vcpus[0]': can-offline, logical-id, online" in message


def test_wrong_type_names_the_field_path_and_the_expected_type() -> None:
    message = argument_error("guest-exec", {"path": "/bin/echo", "arg": ["a", 2]})
    assert "argument 'arg[1]' must be a string, got an integer (2)" in message
    message = argument_error("guest-file-read", {"handle": "3"})
    assert "argument 'handle' must be an integer, got a string" in message
    message = argument_error("guest-exec", {"path": "/bin/true", "capture-output": "yes"})
    assert "argument 'capture-output' must be a boolean (true or false)" in message


def test_float_is_not_an_integer() -> None:
    message = argument_error("guest-file-read", {"handle": 3, "count": 4096.0})
    assert "argument 'count' must be an integer, got a float (4096.0)" in message


def test_out_of_range_integer_names_the_range() -> None:
    message = argument_error("guest-set-memory-blocks", {"mem-blks": [{"phys-index": -1, "online": True}]})
    assert "argument 'mem-blks[0].phys-index' must be an integer from 0 to 18446744073709551615" in message


def test_alternate_lists_its_choices() -> None:
    message = argument_error("guest-file-seek", {"handle": 3, "offset": 0, "whence": "start"})
    assert "argument 'whence' must be an integer or one of 'set', 'cur', 'end', got 'start'" in message


def test_missing_required_argument_is_named() -> None:
    message = argument_error("guest-sync-delimited", {})
    assert "missing required argument 'id'" in message
    message = argument_error("guest-set-vcpus", {"vcpus": [{"logical-id": 0}]})
    assert "missing required argument 'vcpus[0].online'" in message


def test_typo_reports_both_the_unknown_and_the_missing_argument() -> None:
    message = argument_error("guest-exec", {"pth": "/bin/true"})
    assert "unknown argument 'pth' (did you mean 'path'?)" in message
    assert "missing required argument 'path'" in message


def test_command_without_arguments_rejects_any() -> None:
    message = argument_error("guest-ping", {"verbose": True})
    assert "guest-ping takes no arguments, got 'verbose'" in message


def test_arguments_must_be_a_dict() -> None:
    message = argument_error("guest-exec", ["/bin/true"])
    assert "must be a dict" in message


def test_string_values_are_not_echoed() -> None:
    secret = "cGFzc3dvcmQxMjM0NTY3ODkw"
    message = argument_error("guest-set-user-password", {"username": "root", "password": 5, "crypted": secret})
    assert secret[:8] not in message
    assert "argument 'crypted' must be a boolean (true or false), got a string" in message


def test_messages_are_english_not_jsonschema_dumps() -> None:
    message = argument_error("guest-exec", {"path": 1, "bogus": 2})
    assert "Failed validating" not in message
    assert "{" not in message


def test_validators_are_compiled_once_per_command() -> None:
    first = schema._validator("guest-exec", "args")
    assert schema._validator("guest-exec", "args") is first
    assert schema._validator("guest-exec", "returns") is not first


def test_missing_jsonschema_is_a_clear_error(monkeypatch: t.Any) -> None:
    monkeypatch.setattr(schema, "_VALIDATORS", {})
    monkeypatch.setattr(schema, "_FAST_CHECKS", {})
    monkeypatch.setattr(schema, "_VALIDATOR_CLASS", [])
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    with pytest.raises(QgaError, match="needs the Python library jsonschema"):
        schema.validate_arguments("guest-exec", {"path": "/bin/true"})


def test_valid_values_do_not_import_jsonschema() -> None:
    """Importing jsonschema costs every Ansible task (a fresh process) about 0.2 s: valid values skip it."""
    code = (
        "import sys\n"
        "from ansible_collections.vmguest.qga.plugins.module_utils.qga import schema\n"
        "schema.validate_arguments('guest-exec', {'path': '/bin/true', 'arg': ['-c'], 'capture-output': True})\n"
        "schema.validate_return('guest-exec-status', {'exited': True, 'exitcode': 0, 'out-data': 'eA=='})\n"
        "assert 'jsonschema' not in sys.modules\n"
        "try:\n"
        "    schema.validate_arguments('guest-exec', {'path': 5})\n"
        "except Exception as exc:\n"
        "    assert \"argument 'path'\" in str(exc), exc\n"
        "assert 'jsonschema' in sys.modules\n"
    )
    run_in_a_fresh_interpreter(code)


def run_in_a_fresh_interpreter(code: str) -> None:
    """Run `code` in a new Python process that sees this collection (what was imported shows there)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_importing_the_module_does_not_import_jsonschema() -> None:
    code = (
        "import sys\n"
        "from ansible_collections.vmguest.qga.plugins.module_utils.qga import schema\n"
        "schema.command_spec('guest-exec')\n"
        "assert 'jsonschema' not in sys.modules\n"
    )
    run_in_a_fresh_interpreter(code)


# --------------------------------------------------------------------------
# Reply validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, value",
    [
        ("guest-info", GUEST_INFO),
        ("guest-exec-status", GUEST_EXEC_STATUS),
        ("guest-exec-status", {"exited": True, "signal": 9}),
        ("guest-exec-status", {"exited": False}),
        ("guest-get-osinfo", GUEST_OSINFO),
        ("guest-get-osinfo", {}),
        ("guest-exec", {"pid": 1234}),
        ("guest-get-time", 1732521600123456789),
        ("guest-fsfreeze-status", "thawed"),
        ("guest-ping", {}),
        ("guest-file-close", {}),
        ("guest-shutdown", None),
        (
            "guest-get-disks",
            [
                {
                    "name": "/dev/vda",
                    "partition": False,
                    "dependencies": [],
                    "address": {
                        "pci-controller": {"domain": 0, "bus": 0, "slot": 2, "function": 0},
                        "bus-type": "virtio",
                        "bus": 0,
                        "target": 0,
                        "unit": 0,
                        "dev": "/dev/vda",
                    },
                },
            ],
        ),
    ],
)
def test_realistic_replies_pass(command: t.Any, value: t.Any) -> None:
    schema.validate_return(command, value)


def test_replies_may_carry_members_the_schema_does_not_know() -> None:
    newer = dict(GUEST_EXEC_STATUS, **{"new-field": 1})
    schema.validate_return("guest-exec-status", newer)
    info: t.Any = copy.deepcopy(GUEST_INFO)
    info["supported_commands"][0]["since"] = "9.0"
    schema.validate_return("guest-info", info)
    disks = [{"name": "/dev/nvme0n1", "partition": False, "smart": {"type": "nvme", "temperature": 310}}]
    schema.validate_return("guest-get-disks", disks)


def test_wrong_typed_reply_is_rejected_with_the_field_path() -> None:
    info: t.Any = copy.deepcopy(GUEST_INFO)
    info["supported_commands"][2]["enabled"] = "no"
    message = return_error("guest-info", info)
    assert "the reply to guest-info does not match" in message
    assert "field 'supported_commands[2].enabled' must be a boolean (true or false), got a string" in message


def test_reply_missing_a_required_member_is_rejected() -> None:
    message = return_error("guest-exec-status", {"exitcode": 0})
    assert "missing required field 'exited'" in message


def test_reply_types_stay_strict() -> None:
    message = return_error("guest-get-osinfo", dict(GUEST_OSINFO, machine=64))
    assert "field 'machine' must be a string, got an integer (64)" in message
    message = return_error("guest-get-time", "1732521600")
    assert "the reply must be an integer" in message
    message = return_error(
        "guest-network-get-interfaces",
        [{"name": "eth0", "ip-addresses": [{"ip-address": "10.0.0.2", "ip-address-type": "ipv5", "prefix": 24}]}],
    )
    assert "field '[0].ip-addresses[0].ip-address-type' must be one of 'ipv4', 'ipv6', got 'ipv5'" in message


def test_reply_of_a_command_without_return_type_is_an_object() -> None:
    message = return_error("guest-file-close", [])
    assert "must be an empty object" in message


# --------------------------------------------------------------------------
# The generator on QAPI constructs the guest agent schema does not (yet) use
# --------------------------------------------------------------------------

SYNTHETIC = """
# A comment
##
# @Color:
#
# A color.
#
# Since: 9.1
##
{ 'enum': 'Color', 'data': [ 'red', { 'name': 'blue', 'if': 'CONFIG_BLUE' } ] }

##
# @Base:
#
# @kind: what it is
##
{ 'struct': 'Base', 'data': { 'kind': 'Color', '*note': 'str' } }

##
# @Child:
##
{ 'struct': 'Child', 'base': 'Base',
  'data': { 'size': 'size', '*tag': { 'type': 'int8', 'if': { 'all': [ 'A', { 'not': 'B' } ] } } },
  'features': [ 'deprecated' ] }

{ 'struct': 'RedPart', 'data': { 'shade': 'uint8' } }

{ 'union': 'Thing', 'base': { 'kind': 'Color', '*label': 'str' },
  'discriminator': 'kind',
  'data': { 'red': 'RedPart', 'blue': { 'type': 'RedPart', 'if': 'CONFIG_BLUE' } } }

{ 'alternate': 'IntOrColor', 'data': { 'number': 'int', 'color': 'Color', 'nothing': 'null' } }

##
# @do-child:
#
# Do things to a child. More text.
#
# Since: 8.0
##
{ 'command': 'do-child', 'data': 'Child', 'returns': ['Thing'], 'allow-oob': true,
  'if': { 'any': [ 'CONFIG_LINUX', 'CONFIG_WIN32' ] } }

{ 'command': 'do-thing', 'data': 'Thing', 'boxed': true, 'returns': 'IntOrColor' }
"""


@pytest.fixture(name="synthetic")
def fixture_synthetic() -> t.Any:
    return gen.build_schema(SYNTHETIC)


def validator(synthetic: t.Any, subschema: t.Any) -> t.Any:
    return jsonschema.Draft202012Validator(dict(subschema, **{"$defs": synthetic["$defs"]}))


def test_generator_flattens_struct_bases(synthetic: t.Any) -> None:
    child = synthetic["$defs"]["Child"]
    assert list(child["properties"]) == ["kind", "note", "size", "tag"]
    assert child["required"] == ["kind", "size"]
    assert child["additionalProperties"] is False
    assert child["x-qapi-base"] == "Base"
    assert child["deprecated"] is True
    assert child["properties"]["tag"]["x-qapi-if"] == {"all": ["A", {"not": "B"}]}
    assert child["properties"]["tag"]["maximum"] == 127
    assert child["properties"]["kind"]["description"] == "what it is"


def test_generator_records_enum_conditions(synthetic: t.Any) -> None:
    color = synthetic["$defs"]["Color"]
    assert color["enum"] == ["red", "blue"]
    assert color["x-qapi-value-if"] == {"blue": "CONFIG_BLUE"}
    assert color["x-qapi-since"] == "9.1"
    assert color["description"] == "A color."


def test_generator_command_entry(synthetic: t.Any) -> None:
    entry = synthetic["commands"]["do-child"]
    assert entry["allow_oob"] is True
    assert entry["if"] == {"any": ["CONFIG_LINUX", "CONFIG_WIN32"]}
    assert entry["since"] == "8.0"
    assert entry["summary"] == "Do things to a child."
    assert entry["args"]["x-qapi-type"] == "Child"
    check = validator(synthetic, entry["args"])
    assert check.is_valid({"kind": "red", "size": 1})
    assert not check.is_valid({"kind": "red", "size": 1, "extra": 1})
    assert not check.is_valid({"kind": "green", "size": 1})


def test_generator_union_arguments_are_strict(synthetic: t.Any) -> None:
    check = validator(synthetic, synthetic["commands"]["do-thing"]["args"])
    assert check.is_valid({"kind": "red", "shade": 3})
    assert check.is_valid({"kind": "blue", "shade": 3, "label": "sky"})
    assert not check.is_valid({"kind": "red"})  # branch member missing
    assert not check.is_valid({"kind": "red", "shade": 300})
    assert not check.is_valid({"kind": "red", "shade": 3, "extra": 1})


def test_generator_union_replies_are_lenient_about_extra_members(synthetic: t.Any) -> None:
    check = validator(synthetic, synthetic["commands"]["do-child"]["returns"])
    assert check.is_valid([{"kind": "red", "shade": 3, "extra": 1}])
    assert not check.is_valid([{"kind": "red", "shade": "dark"}])
    assert not check.is_valid([{"kind": "red"}])


def test_generator_alternates(synthetic: t.Any) -> None:
    check = validator(synthetic, synthetic["commands"]["do-thing"]["returns"])
    for good in (5, "red", None):
        assert check.is_valid(good)
    bad: t.Any
    for bad in ("green", True, [], {}):
        assert not check.is_valid(bad)


def test_parser_reports_the_line_of_an_error() -> None:
    with pytest.raises(gen.QAPIParseError, match="line 2: unterminated string"):
        gen.parse_qapi("{ 'enum': 'A',\n  'data': [ 'x ] }\n")
    with pytest.raises(gen.QAPIParseError, match="line 1"):
        gen.parse_qapi("{ 'enum': 'A', 'data': [ 'x' ] ")
