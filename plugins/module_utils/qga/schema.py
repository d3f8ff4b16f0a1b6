# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The guest agent protocol schema: command lookup and argument / reply validation.

The data comes from ``_schema_data.py``, generated from the QAPI schema file by
``tools/qapi2jsonschema.py``.  Validation uses the jsonschema library (draft
2020-12), imported only when a validator is first needed: a value first goes
through a small check compiled from the same schema (importing jsonschema and
building its validators costs a fresh process, i.e. every Ansible task, about
0.2 s of CPU), and only a value that check refuses, or a schema with keywords it
does not know, is handed to jsonschema, which decides and explains.  Errors are turned
into plain English naming the argument or field path, never raw jsonschema
dumps, and never echo string values (they may be secrets).
"""

from __future__ import annotations

import copy
import difflib
import typing as t

from ._schema_data import SCHEMA
from .errors import QgaArgumentError, QgaError, QgaProtocolError

_COMMANDS = t.cast("dict[str, dict[str, t.Any]]", SCHEMA["commands"])
_DEFS = t.cast("dict[str, dict[str, t.Any]]", SCHEMA["$defs"])
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_REF_PREFIX = "#/$defs/"

# Compiled validators, by (command, "args" | "returns"): they run on every RPC.
_VALIDATORS: dict[tuple[str, str], t.Any] = {}
_FAST_CHECKS: dict[tuple[str, str], t.Callable[[t.Any], bool]] = {}
# What the fast check understands; any other keyword sends the schema to jsonschema.
_FAST_KEYWORDS = frozenset(
    ("type", "minimum", "maximum", "properties", "required", "additionalProperties", "items", "enum", "const", "$ref")
)
_ANNOTATIONS = frozenset(("description", "$schema", "$defs"))
_VALIDATOR_CLASS: list[t.Any] = []

# int and int64 are just "an integer"; narrower ranges are spelled out.
_PLAIN_INT_RANGES = ((None, None), (-(2**63), 2**63 - 1))

_TYPE_WORDS: dict[str, str] = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "a boolean (true or false)",
    "array": "a list",
    "object": "a dict (JSON object)",
    "null": "null (None)",
}


def command_names() -> list[str]:
    """Return the names of every command of the schema, sorted."""
    return sorted(_COMMANDS)


def is_known(name: str) -> bool:
    """Tell whether the schema defines the command name."""
    return isinstance(name, str) and name in _COMMANDS


def command_spec(name: str) -> dict:
    """Return (a copy of) the schema entry of a command.

    Keys: ``args`` and ``returns`` (JSON Schemas, or None), ``since``, ``summary``,
    ``if`` (the QAPI condition, or None), and ``allow_oob`` / ``success_response``
    when the QAPI file sets them.  Raises QgaArgumentError for an unknown command.
    """
    _check_known(name, None)
    return copy.deepcopy(_COMMANDS[name])


def validate_arguments(command: str, arguments: dict | None, channel: str | None = None) -> None:
    """Check a command's arguments against the schema before anything is sent.

    Raises QgaArgumentError for an unknown command, an unknown argument, a
    missing required argument, or a value of the wrong type or range.
    """
    _check_known(command, channel)
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise QgaArgumentError(
            f"the arguments of {command} must be a dict of argument names to values, got {_json_type(arguments)}",
            channel=channel,
            command=command,
        )
    if _COMMANDS[command]["args"] is None:
        if arguments:
            raise QgaArgumentError(
                f"{command} takes no arguments, got {_quoted_list(arguments)}",
                channel=channel,
                command=command,
            )
        return
    if _fast_check(command, "args")(arguments):
        return
    errors = list(_validator(command, "args").iter_errors(arguments))
    if errors:
        problems = _explain(errors, "argument")
        raise QgaArgumentError(f"invalid arguments for {command}: {problems}", channel=channel, command=command)


def validate_return(command: str, value: t.Any, channel: str | None = None) -> None:
    """Check the agent's reply (the value of "return") to a command.

    Replies may carry members the schema does not know (newer agents add
    fields); everything else (types, enum values, required members) must match.
    Raises QgaProtocolError naming the command and the field path, or
    QgaArgumentError when the schema does not know the command.
    """
    _check_known(command, channel)
    spec = _COMMANDS[command]
    if spec["returns"] is None:
        # QMP answers commands without a return type with an empty object.
        if isinstance(value, dict) or (value is None and spec.get("success_response") is False):
            return
        raise QgaProtocolError(
            f"the reply to {command} must be an empty object, got {_json_type(value)}",
            channel=channel,
            command=command,
        )
    if _fast_check(command, "returns")(value):
        return
    errors = list(_validator(command, "returns").iter_errors(value))
    if errors:
        problems = _explain(errors, "field")
        raise QgaProtocolError(
            f"the reply to {command} does not match the protocol schema: {problems}",
            channel=channel,
            command=command,
        )


# --------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------


def _check_known(command: str, channel: str | None) -> None:
    if is_known(command):
        return
    names = command_names()
    close = difflib.get_close_matches(command, names, n=3, cutoff=0.75) if isinstance(command, str) else []
    if close:
        hint = f"did you mean {_or_list(close)}?"
    else:
        hint = f"the schema's commands are: {', '.join(names)}"
    raise QgaArgumentError(
        f"unknown command {command!r}: the QEMU guest agent protocol schema does not define it; {hint}",
        channel=channel,
        command=command if isinstance(command, str) else None,
    )


_NO_JSONSCHEMA = (
    "validating guest agent arguments and replies needs the Python library jsonschema (4.0 or later) "
    "on the machine that talks to the agent; install it, e.g. 'pip install jsonschema' "
    "or the python3-jsonschema package"
)


def _require_jsonschema() -> None:
    """Fail early and alike whether or not a value needs jsonschema: it is a dependency (found, not imported)."""
    import importlib.util  # pylint: disable=import-outside-toplevel

    try:
        found = importlib.util.find_spec("jsonschema") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise QgaError(_NO_JSONSCHEMA)


def _validator_class() -> t.Any:
    if _VALIDATOR_CLASS:
        return _VALIDATOR_CLASS[0]
    try:
        import jsonschema  # pylint: disable=import-outside-toplevel
        from jsonschema import validators  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise QgaError(_NO_JSONSCHEMA) from exc
    base = getattr(jsonschema, "Draft202012Validator", None)
    if base is None:
        raise QgaError(
            "the installed Python library jsonschema is too old: validating guest agent arguments "
            "needs jsonschema 4.0 or later (JSON Schema draft 2020-12)"
        )
    # Be exact about JSON types: the agent rejects 5.0 for an int, and
    # json.dumps sends tuples as arrays.
    checker = base.TYPE_CHECKER.redefine_many(
        {
            "integer": lambda _checker, value: isinstance(value, int) and not isinstance(value, bool),
            "array": lambda _checker, value: isinstance(value, (list, tuple)),
        }
    )
    cls = validators.extend(base, type_checker=checker)
    _VALIDATOR_CLASS.append(cls)
    return cls


def _validator(command: str, direction: str) -> t.Any:
    key = (command, direction)
    validator = _VALIDATORS.get(key)
    if validator is None:
        root = dict(_COMMANDS[command][direction])
        root["$schema"] = _DIALECT
        root["$defs"] = _DEFS
        validator = _validator_class()(root)
        _VALIDATORS[key] = validator
    return validator


def _fast_check(command: str, direction: str) -> t.Callable[[t.Any], bool]:
    """A predicate that is True only for values jsonschema would accept (False: ask jsonschema)."""
    key = (command, direction)
    check = _FAST_CHECKS.get(key)
    if check is None:
        _require_jsonschema()
        check = _compile(_COMMANDS[command][direction], {}) or _never
        _FAST_CHECKS[key] = check
    return check


def _never(_value: t.Any) -> bool:
    return False


_TYPE_TESTS: dict[str, t.Callable[[t.Any], bool]] = {
    # Exact JSON types, as in _validator_class(): no bool for integer or number.
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "array": lambda value: isinstance(value, (list, tuple)),
    "object": lambda value: isinstance(value, dict),
    "null": lambda value: value is None,
}


def _compile(schema: t.Any, refs: dict[str, t.Any]) -> t.Callable[[t.Any], bool] | None:
    """Compile a schema into a predicate, or None when it uses keywords the fast check does not know."""
    if schema is True or schema == {}:
        return lambda _value: True
    if not isinstance(schema, dict):
        return None
    keywords = {k for k in schema if k not in _ANNOTATIONS and not k.startswith("x-")}
    if not keywords <= _FAST_KEYWORDS:
        return None
    tests: list[t.Callable[[t.Any], bool]] = []
    if "$ref" in schema:
        target = _compile_ref(schema["$ref"], refs)
        if target is None:
            return None
        tests.append(target)
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not all(kind in _TYPE_TESTS for kind in kinds):
            return None
        kind_tests = [_TYPE_TESTS[kind] for kind in kinds]
        tests.append(lambda value: any(test(value) for test in kind_tests))
    if "enum" in schema or "const" in schema:
        allowed = list(schema["enum"]) if "enum" in schema else [schema["const"]]
        tests.append(lambda value: _json_in(value, allowed))
    bounds = _compile_bounds(schema)
    if bounds is not None:
        tests.append(bounds)
    for compiled in (_compile_object(schema, refs), _compile_items(schema, refs)):
        if compiled is False:
            return None
        if compiled is not None:
            tests.append(t.cast("t.Callable[[t.Any], bool]", compiled))
    return lambda value: all(test(value) for test in tests)


def _compile_ref(ref: str, refs: dict[str, t.Any]) -> t.Callable[[t.Any], bool] | None:
    if not ref.startswith(_REF_PREFIX) or ref[len(_REF_PREFIX) :] not in _DEFS:
        return None
    if ref not in refs:
        refs[ref] = None  # a recursive reference sees the placeholder and calls through refs
        refs[ref] = _compile(_DEFS[ref[len(_REF_PREFIX) :]], refs) or False
    if refs[ref] is False:
        return None
    # Looked up at call time (recursive definitions); a definition that failed to compile answers False.
    return lambda value: bool(refs[ref]) and refs[ref](value)


def _compile_bounds(schema: dict) -> t.Callable[[t.Any], bool] | None:
    if "minimum" not in schema and "maximum" not in schema:
        return None
    low, high = schema.get("minimum"), schema.get("maximum")

    def in_range(value: t.Any) -> bool:
        if not _TYPE_TESTS["number"](value):
            return True  # bounds apply to numbers only
        return (low is None or value >= low) and (high is None or value <= high)

    return in_range


def _compile_object(schema: dict, refs: dict[str, t.Any]) -> t.Callable[[t.Any], bool] | bool | None:
    """The object keywords as one predicate; None: there are none; False: cannot compile."""
    if not {"properties", "required", "additionalProperties"} & set(schema):
        return None
    members: dict[str, t.Callable[[t.Any], bool]] = {}
    for name, sub in schema.get("properties", {}).items():
        compiled = _compile(sub, refs)
        if compiled is None:
            return False
        members[name] = compiled
    required = list(schema.get("required", []))
    extra = schema.get("additionalProperties", True)
    extra_check = None if extra is False else _compile(extra, refs)
    if extra is not False and extra_check is None:
        return False

    def check(value: t.Any) -> bool:
        if not isinstance(value, dict):
            return True  # object keywords apply to objects only
        if any(name not in value for name in required):
            return False
        for name, member in value.items():
            test = members.get(name, extra_check)
            if test is None or not test(member):
                return False
        return True

    return check


def _compile_items(schema: dict, refs: dict[str, t.Any]) -> t.Callable[[t.Any], bool] | bool | None:
    if "items" not in schema:
        return None
    item = _compile(schema["items"], refs)
    if item is None:
        return False
    return lambda value: not isinstance(value, (list, tuple)) or all(item(element) for element in value)


def _json_in(value: t.Any, allowed: list[t.Any]) -> bool:
    """JSON equality for enum/const: True is not 1, 1.0 is 1."""
    numbers = _TYPE_TESTS["number"]
    return any(
        (type(value) is type(option) or (numbers(value) and numbers(option))) and value == option for option in allowed
    )


def _resolve(schema: t.Any) -> dict:
    """Follow $ref to a definition (one level is all the generated schema uses, but loop anyway)."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        ref = schema["$ref"]
        if not ref.startswith(_REF_PREFIX):
            break
        schema = _DEFS[ref[len(_REF_PREFIX) :]]
        seen += 1
    return schema if isinstance(schema, dict) else {}


def _members_of(schema: dict, instance: t.Any) -> list[str]:
    """Members an object schema allows for this instance (union branches included)."""
    schema = _resolve(schema)
    names = list(schema.get("properties", {}))
    for item in schema.get("allOf", []):
        cond = item.get("if", {}).get("properties", {})
        matches = isinstance(instance, dict) and all(
            key in instance and instance[key] == sub.get("const") for key, sub in cond.items()
        )
        if matches:
            names.extend(_members_of(item.get("then", {}), instance))
    return names


def _path(parts: t.Iterable[t.Any]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _json_type(value: t.Any) -> str:
    if value is None:
        return "null (None)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a dict"
    return f"a {type(value).__name__}"


def _got(value: t.Any, show_string: bool) -> str:
    """Describe a wrong value.

    Numbers are shown; strings only when compared against a list of names
    (enums), and then only a short excerpt: elsewhere they may be secrets.
    """
    if isinstance(value, bool) or value is None:
        return _json_type(value)
    if isinstance(value, (int, float)):
        return f"{_json_type(value)} ({value!r})"
    if isinstance(value, str) and show_string:
        excerpt = value if len(value) <= 20 else value[:17] + "..."
        return f"{excerpt!r}"
    return _json_type(value)


def _names_values(schema: t.Any) -> bool:
    """Tell whether a schema compares strings against names (an enum somewhere in it)."""
    schema = _resolve(schema)
    if "enum" in schema or "const" in schema:
        return True
    return any(_names_values(option) for key in ("oneOf", "anyOf") for option in schema.get(key, []))


def _quoted_list(names: t.Iterable[t.Any]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _or_list(names: list[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _expected(schema: t.Any) -> str:
    """Describe what a schema accepts, in English."""
    schema = _resolve(schema)
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return "one of " + _quoted_list(schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(_expected(option) for option in schema[key])
    kind = schema.get("type")
    if kind == "integer" and (schema.get("minimum"), schema.get("maximum")) not in _PLAIN_INT_RANGES:
        return f"an integer from {schema.get('minimum', '-inf')} to {schema.get('maximum', 'inf')}"
    if kind == "array":
        return f"a list of {_plural(_expected(schema.get('items', {})))}"
    if isinstance(kind, list):
        return " or ".join(_TYPE_WORDS.get(str(k), str(k)) for k in kind)
    if kind:
        return _TYPE_WORDS.get(kind, kind)
    return "any value"


def _plural(words: str) -> str:
    """'an integer' -> 'integers'; 'one of ...' -> 'items that are one of ...'."""
    for article in ("an ", "a "):
        if words.startswith(article):
            words = words[len(article) :]
            break
    else:
        return f"items that are {words}"
    head, _sep, rest = words.partition(" ")
    return f"{head}s {rest}".strip() if not head.endswith("s") else words


def _explain(errors: list[t.Any], noun: str) -> str:
    """Turn jsonschema errors into one message listing each problem once."""
    problems: list[tuple[int, str, str]] = []
    for error in errors:
        problems.extend(_explain_one(error, noun))
    problems.sort(key=lambda p: (p[0], p[1]))
    seen: set[str] = set()
    texts = []
    for _rank, _where, text in problems:
        if text not in seen:
            seen.add(text)
            texts.append(text)
    return "; ".join(texts)


def _explain_one(error: t.Any, noun: str) -> list[tuple[int, str, str]]:
    where = _path(error.absolute_path)
    named = f"{noun} '{where}'" if where else ("the reply" if noun == "field" else "the arguments")
    kind = error.validator
    instance = error.instance
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, dict):
        allowed = _members_of(error.schema, instance)
        results = []
        for name in sorted((k for k in instance if k not in allowed), key=str):
            full = f"{where}.{name}" if where else str(name)
            close = difflib.get_close_matches(str(name), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            valid = (
                f"valid {noun}s: {', '.join(sorted(allowed))}"
                if where == ""
                else (f"valid members of '{where}': {', '.join(sorted(allowed))}")
            )
            results.append((0, full, f"unknown {noun} '{full}'{hint}; {valid}"))
        return results
    if kind == "required" and isinstance(instance, dict):
        return [
            (1, f"{where}.{name}" if where else name, f"missing required {noun} '{where + '.' if where else ''}{name}'")
            for name in error.validator_value
            if name not in instance
        ]
    if kind in ("type", "oneOf", "anyOf", "enum", "const", "minimum", "maximum"):
        return [
            (2, where, f"{named} must be {_expected(error.schema)}, got {_got(instance, _names_values(error.schema))}")
        ]
    return [(3, where, f"{named} is invalid: {error.message}")]
