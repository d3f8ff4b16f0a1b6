# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fast check in front of jsonschema: it may only accept what jsonschema accepts.

For every command and direction, instances are built from the schema (valid ones, then each
mutated in every way the schema can refuse: wrong type, missing member, unknown member,
out of range, not one of the names) and both checks are asked. The fast check must never
accept an instance jsonschema refuses, and must accept the valid ones itself (else it is
no faster than jsonschema).
"""

from __future__ import annotations

import copy
import random
import typing as t

import pytest

from ansible_collections.vmguest.qga.plugins.module_utils.qga import schema
from ansible_collections.vmguest.qga.plugins.module_utils.qga._schema_data import SCHEMA

jsonschema = pytest.importorskip("jsonschema")

DEFS: dict[str, t.Any] = SCHEMA["$defs"]
DIRECTIONS = [
    (name, direction)
    for name in sorted(SCHEMA["commands"])
    for direction in ("args", "returns")
    if SCHEMA["commands"][name][direction] is not None
]
# Schemas with keywords the fast check leaves to jsonschema (QAPI unions and alternates).
LEFT_TO_JSONSCHEMA = {("guest-file-seek", "args"), ("guest-get-devices", "returns")}
WRONG_VALUES: list[t.Any] = [None, True, 0, -1, 1.5, "x", [], {}, [1], {"x": 1}, 2**64]


def resolve(node: dict) -> dict:
    while "$ref" in node:
        node = DEFS[node["$ref"].split("/")[-1]]
    return node


def example(node: t.Any, rng: random.Random, depth: int = 0) -> t.Any:
    """A valid instance of `node` (only for the keywords the fast check compiles)."""
    node = resolve(node)
    if "enum" in node:
        return rng.choice(node["enum"])
    if "const" in node:
        return node["const"]
    kind = node.get("type")
    if kind == "object":
        names = list(node.get("properties", {}))
        chosen = [n for n in names if n in node.get("required", []) or (depth < 3 and rng.random() < 0.7)]
        return {n: example(node["properties"][n], rng, depth + 1) for n in chosen}
    if kind == "array":
        return [example(node["items"], rng, depth + 1) for _count in range(rng.randint(0, 2 if depth < 3 else 0))]
    if kind == "integer":
        low, high = node.get("minimum", -(2**63)), node.get("maximum", 2**63 - 1)
        return rng.choice([low, high, max(low, min(high, 7))])
    if kind == "number":
        return 1.25
    if kind == "string":
        return "text"
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return {}


def paths(instance: t.Any, prefix: tuple[t.Any, ...] = ()) -> t.Iterator[tuple[t.Any, ...]]:
    yield prefix
    if isinstance(instance, dict):
        for key, value in instance.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(instance, list):
        for index, value in enumerate(instance):
            yield from paths(value, prefix + (index,))


def mutations(instance: t.Any) -> t.Iterator[t.Any]:
    """Every instance one change away: each node replaced by each wrong value, members removed and added."""
    for path in paths(instance):
        for wrong in WRONG_VALUES:
            yield set_at(instance, path, wrong)
        node = get_at(instance, path)
        if isinstance(node, dict):
            for key in node:
                changed = copy.deepcopy(instance)
                del get_at(changed, path)[key]
                yield changed
            changed = copy.deepcopy(instance)
            get_at(changed, path)["no-such-member"] = 1
            yield changed
        if isinstance(node, int) and not isinstance(node, bool):
            for delta in (-1, 1):
                yield set_at(instance, path, node + delta)


def get_at(instance: t.Any, path: tuple[t.Any, ...]) -> t.Any:
    for part in path:
        instance = instance[part]
    return instance


def set_at(instance: t.Any, path: tuple[t.Any, ...], value: t.Any) -> t.Any:
    if not path:
        return value
    changed = copy.deepcopy(instance)
    get_at(changed, path[:-1])[path[-1]] = value
    return changed


def jsonschema_accepts(command: str, direction: str, instance: t.Any) -> bool:
    return not list(schema._validator(command, direction).iter_errors(instance))


@pytest.mark.parametrize(("command", "direction"), DIRECTIONS, ids=["%s-%s" % d for d in DIRECTIONS])
def test_fast_check_never_accepts_what_jsonschema_refuses(command: str, direction: str) -> None:
    check = schema._fast_check(command, direction)
    if (command, direction) in LEFT_TO_JSONSCHEMA:
        assert check is schema._never
        return
    rng = random.Random("%s/%s" % (command, direction))
    node = SCHEMA["commands"][command][direction]
    tried = refused = 0
    for _round in range(6):
        valid = example(node, rng)
        assert jsonschema_accepts(command, direction, valid), valid
        assert check(valid), "the fast check refused a valid %s %s: %r" % (command, direction, valid)
        for candidate in mutations(valid):
            tried += 1
            if not jsonschema_accepts(command, direction, candidate):
                refused += 1
                assert not check(candidate), "the fast check accepted %r, which jsonschema refuses" % (candidate,)
    assert tried > 0
    if node.get("type") == "object" or resolve(node).get("type") == "object":
        assert refused > 0, "no mutation of %s %s was invalid: the test proves nothing" % (command, direction)


def test_fast_check_is_exact_about_json_types() -> None:
    check = schema._fast_check("guest-file-read", "args")
    assert check({"handle": 1, "count": 10})
    assert not check({"handle": True})  # a bool is no integer to the agent
    assert not check({"handle": 1.0})
    assert not check({"handle": 2**63})
    assert schema._fast_check("guest-set-vcpus", "args")({"vcpus": ({"logical-id": 1, "online": True},)})
