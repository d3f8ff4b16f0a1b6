# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate plugins/module_utils/qga/_schema_data.py from the QEMU guest agent QAPI schema.

The QAPI file (qapi/qapi-schema.json) is the single source of truth for the guest
agent protocol.  This tool parses it (QAPI is not JSON: single-quoted strings,
``#`` comments, ``##`` doc blocks) and converts every type and command to JSON
Schema draft 2020-12.

Usage::

    python tools/qapi2jsonschema.py            # (re)write the generated module
    python tools/qapi2jsonschema.py --check    # exit 1 if the generated module is stale

Conventions of the generated schema:

* ``$defs[Name]`` is the strict form of every QAPI type: objects reject unknown
  members (``additionalProperties: false``, or ``unevaluatedProperties: false``
  for unions).  Argument schemas use these.
* ``$defs[Name.reply]`` is the reply form of each struct, union or alternate
  reachable from a command's ``returns``: it is the same except that objects
  allow additional members (a newer agent may add fields).  Types, enums and
  required members stay strict.
* Struct ``base`` members are flattened into the struct.
* ``if`` conditions keep the member/type/command (the schema is the union over
  all platforms) and are recorded as ``x-qapi-if`` annotations (``if`` itself
  is a JSON Schema keyword) and as ``if`` in the command entries.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import sys
import typing as t

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_QAPI = os.path.join(ROOT, "qapi", "qapi-schema.json")
DEFAULT_OUTPUT = os.path.join(ROOT, "plugins", "module_utils", "qga", "_schema_data.py")
REGENERATE = "python tools/qapi2jsonschema.py"

REPLY_SUFFIX = ".reply"
LINE_WIDTH = 100

# --------------------------------------------------------------------------
# Tokenizer / parser
# --------------------------------------------------------------------------


class QAPIParseError(Exception):
    """The QAPI text is malformed (or uses a construct this tool does not know)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


class Token(t.NamedTuple):
    kind: str  # one of '{', '}', '[', ']', ',', ':', 'STR', 'BOOL', 'DOC', 'EOF'
    value: t.Any
    line: int


def tokenize(text: str) -> list[Token]:
    """Split QAPI text into tokens.

    Doc comment blocks (a ``##`` line, ``#`` lines, a closing ``##`` line) become
    one 'DOC' token whose value is the list of their text lines; other comments
    are dropped.
    """
    tokens: list[Token] = []
    pos = 0
    line = 1
    line_start = 0
    doc: list[str] | None = None
    doc_line = 0
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "\n":
            pos += 1
            line += 1
            line_start = pos
            continue
        if ch in " \t\r\f":
            pos += 1
            continue
        if ch == "#":
            end = text.find("\n", pos)
            if end < 0:
                end = n
            comment = text[pos:end].rstrip()
            at_line_start = not text[line_start:pos].strip()
            if at_line_start and comment == "##":
                if doc is None:
                    doc = []
                    doc_line = line
                else:
                    tokens.append(Token("DOC", doc, doc_line))
                    doc = None
            elif doc is not None and at_line_start:
                doc.append(re.sub(r"^# ?", "", comment))
            pos = end
            continue
        if doc is not None:
            # A doc block not closed by '##' ends at the first non-comment.
            tokens.append(Token("DOC", doc, doc_line))
            doc = None
        if ch in "{}[],:":
            tokens.append(Token(ch, ch, line))
            pos += 1
            continue
        if ch == "'":
            pos += 1
            chars = []
            while True:
                if pos >= n or text[pos] == "\n":
                    raise QAPIParseError("unterminated string", line)
                c = text[pos]
                if c == "\\":
                    raise QAPIParseError("escape sequences are not supported in QAPI strings", line)
                if c == "'":
                    pos += 1
                    break
                chars.append(c)
                pos += 1
            tokens.append(Token("STR", "".join(chars), line))
            continue
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*").match(text, pos)
        if m and m.group(0) in ("true", "false"):
            tokens.append(Token("BOOL", m.group(0) == "true", line))
            pos = m.end()
            continue
        raise QAPIParseError("unexpected character %r" % (m.group(0) if m else ch), line)
    if doc is not None:
        tokens.append(Token("DOC", doc, doc_line))
    tokens.append(Token("EOF", None, line))
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self, kind: str | None = None) -> Token:
        tok = self.tokens[self.i]
        if kind is not None and tok.kind != kind:
            raise QAPIParseError(
                f"expected {kind}, found {repr(tok.value) if tok.kind == 'STR' else tok.kind}", tok.line
            )
        self.i += 1
        return tok

    def value(self) -> t.Any:
        tok = self.take()
        if tok.kind == "STR" or tok.kind == "BOOL":
            return tok.value
        if tok.kind == "{":
            result: dict[str, t.Any] = {}
            if self.peek().kind == "}":
                self.take()
                return result
            while True:
                key = self.take("STR")
                if key.value in result:
                    raise QAPIParseError(f"duplicate key {key.value!r}", key.line)
                self.take(":")
                result[key.value] = self.value()
                sep = self.take()
                if sep.kind == "}":
                    return result
                if sep.kind != ",":
                    raise QAPIParseError("expected ',' or '}'", sep.line)
        if tok.kind == "[":
            items: list[t.Any] = []
            if self.peek().kind == "]":
                self.take()
                return items
            while True:
                items.append(self.value())
                sep = self.take()
                if sep.kind == "]":
                    return items
                if sep.kind != ",":
                    raise QAPIParseError("expected ',' or ']'", sep.line)
        raise QAPIParseError(f"unexpected {tok.kind}", tok.line)


class Expr(t.NamedTuple):
    expr: dict
    doc: list[str] | None
    line: int


def parse_qapi(text: str) -> list[Expr]:
    """Parse QAPI text into its top-level expressions, each with the doc block before it."""
    parser = _Parser(tokenize(text))
    exprs: list[Expr] = []
    pending_doc: list[str] | None = None
    while True:
        tok = parser.peek()
        if tok.kind == "EOF":
            return exprs
        if tok.kind == "DOC":
            parser.take()
            pending_doc = tok.value
            continue
        if tok.kind != "{":
            raise QAPIParseError("top-level expressions must be dicts", tok.line)
        value = parser.value()
        exprs.append(Expr(value, pending_doc, tok.line))
        pending_doc = None


# --------------------------------------------------------------------------
# Doc comments
# --------------------------------------------------------------------------

_SECTION_RE = re.compile(r"^(Returns|Since|Notes?|Examples?|TODO|Errors|Features|Error)\s*:\s*(.*)$")
_SINCE_NO_COLON_RE = re.compile(r"^Since\s+(\d.*)$")
_MEMBER_RE = re.compile(r"^@([\w-]+):\s*(.*)$")
_VERSION_RE = re.compile(r"\d+\.\d+(?:\.\d+)?")
_REF_RE = re.compile(r"(?<![\w.])@([A-Za-z][\w-]*)")


class Doc(t.NamedTuple):
    symbol: str
    body: list[str]  # free-text paragraphs
    members: dict[str, str]
    sections: dict[str, list[str]]  # tag -> paragraphs (first one is the tag's own)


def _clean(text: str) -> str:
    """Join doc text into one line and drop the QAPI '@' reference markup."""
    return _REF_RE.sub(r"\1", " ".join(text.split()))


def parse_doc(lines: list[str] | None) -> Doc | None:
    """Parse one doc block; None for free-form (non-definition) blocks."""
    if not lines:
        return None
    first = _MEMBER_RE.match(lines[0].strip())
    if not first:
        return None
    symbol = first.group(1)
    body: list[str] = []
    members: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    # current: ('body', '') | ('member', name) | ('section', tag)
    current: tuple[str, str] = ("body", "")
    para: list[str] = []
    rest = [first.group(2)] if first.group(2) else []
    rest += lines[1:]

    def flush() -> None:
        if not para:
            return
        text = " ".join(p.strip() for p in para)
        kind, name = current
        if kind == "member":
            members[name] = (members.get(name, "") + " " + text).strip()
        elif kind == "section":
            sections.setdefault(name, []).append(text)
        else:
            body.append(text)
        del para[:]

    for raw in rest:
        stripped = raw.strip()
        if not stripped:
            flush()
            if current[0] == "member":
                current = ("body", "")
            continue
        member = _MEMBER_RE.match(stripped)
        section = _SECTION_RE.match(stripped) or None
        since = _SINCE_NO_COLON_RE.match(stripped)
        if member and not raw.startswith(" "):
            flush()
            current = ("member", member.group(1))
            para.append(member.group(2))
        elif (section or since) and not raw.startswith(" "):
            flush()
            if section:
                tag = section.group(1)
                tag = {"Note": "Notes", "Example": "Examples", "Error": "Errors"}.get(tag, tag)
                current = ("section", tag)
                if section.group(2):
                    para.append(section.group(2))
            else:
                current = ("section", "Since")
                para.append(since.group(1))  # type: ignore[union-attr]
        else:
            if current[0] == "body" and re.match(r"^([-*]|\d+\.)\s", stripped):
                flush()  # a list item starts a new paragraph
            para.append(stripped)
    flush()
    return Doc(symbol, body, members, sections)


def _first_sentence(text: str) -> str:
    for m in re.finditer(r"[.!?](?=\s)", text):
        word = text[: m.end()].rsplit(None, 1)[-1].lower()
        if word not in ("e.g.", "i.e.", "etc.", "vs."):
            return text[: m.end()].strip()
    return text.strip()


def doc_summary(doc: Doc | None) -> str | None:
    """First sentence of the description (or of the Returns section when there is none)."""
    if doc is None:
        return None
    if doc.body:
        return _clean(_first_sentence(doc.body[0]))
    returns = doc.sections.get("Returns")
    if returns:
        return "Returns: " + _clean(_first_sentence(returns[0]))
    return None


def doc_since(doc: Doc | None) -> str | None:
    """The version in the 'Since:' section, verbatim ('0.15.0', '2.2', ...)."""
    if doc is None or "Since" not in doc.sections:
        return None
    m = _VERSION_RE.search(doc.sections["Since"][0])
    return m.group(0) if m else None


# --------------------------------------------------------------------------
# Conversion to JSON Schema
# --------------------------------------------------------------------------

_INT_RANGES = {
    "int": (-(2**63), 2**63 - 1),
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
    "size": (0, 2**64 - 1),
}
BUILTINS: dict[str, dict] = {
    name: {"type": "integer", "minimum": lo, "maximum": hi} for name, (lo, hi) in _INT_RANGES.items()
}
BUILTINS.update(
    {
        "number": {"type": "number"},
        "str": {"type": "string"},
        "bool": {"type": "boolean"},
        "any": {},
        "null": {"type": "null"},
        "QType": {"type": "string", "enum": ["none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool"]},
    }
)
META_KEYS = ("enum", "struct", "union", "alternate", "command", "event", "include", "pragma")
SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"


class Member(t.NamedTuple):
    name: str
    type: t.Any  # type name or ['T'] or an inline dict (branches only)
    optional: bool
    cond: t.Any
    features: list


def _norm_cond(cond: t.Any) -> t.Any:
    """Conditions are already JSON-shaped (str, {'all': [...]}, {'any': [...]}, {'not': x})."""
    if cond is None or isinstance(cond, str):
        return cond
    if isinstance(cond, dict) and len(cond) == 1:
        key, val = next(iter(cond.items()))
        if key in ("all", "any") and isinstance(val, list):
            return {key: [_norm_cond(c) for c in val]}
        if key == "not":
            return {"not": _norm_cond(val)}
    raise QAPIParseError(f"invalid 'if' condition {cond!r}")


def _features(value: t.Any) -> list[str]:
    names = []
    for feat in value or []:
        names.append(feat["name"] if isinstance(feat, dict) else feat)
    return names


def _members(data: dict) -> list[Member]:
    result = []
    for key, val in data.items():
        optional = key.startswith("*")
        name = key[1:] if optional else key
        cond = None
        features: list = []
        if isinstance(val, dict):
            cond = _norm_cond(val.get("if"))
            features = _features(val.get("features"))
            val = val["type"]
        result.append(Member(name, val, optional, cond, features))
    return result


class Converter:
    """Convert parsed QAPI expressions into the SCHEMA dict."""

    def __init__(self, exprs: list[Expr]) -> None:
        self.types: dict[str, Expr] = {}
        self.commands: list[Expr] = []
        self.docs: dict[str, Doc] = {}
        for e in exprs:
            meta = [k for k in META_KEYS if k in e.expr]
            if len(meta) != 1:
                raise QAPIParseError(f"expression must have exactly one of {', '.join(META_KEYS)}", e.line)
            kind = meta[0]
            if kind == "include":
                raise QAPIParseError("'include' is not supported by this generator", e.line)
            if kind in ("pragma", "event"):
                continue
            name = e.expr[kind]
            doc = parse_doc(e.doc)
            if doc is not None:
                if doc.symbol != name:
                    raise QAPIParseError(f"doc block names @{doc.symbol} but precedes {name}", e.line)
                self.docs[name] = doc
            if kind == "command":
                self.commands.append(e)
            else:
                if name in self.types or name in BUILTINS:
                    raise QAPIParseError(f"duplicate type {name}", e.line)
                self.types[name] = e

    # -- helpers ----------------------------------------------------------

    def kind(self, name: str) -> str:
        if name in BUILTINS:
            return "builtin"
        if name not in self.types:
            raise QAPIParseError(f"unknown type {name!r}")
        e = self.types[name].expr
        return next(k for k in META_KEYS if k in e)

    def _annotate(self, schema: dict, name: str, expr: dict) -> dict:
        doc = self.docs.get(name)
        summary = doc_summary(doc)
        if summary:
            schema["description"] = summary
        since = doc_since(doc)
        if since:
            schema["x-qapi-since"] = since
        if expr.get("if") is not None:
            schema["x-qapi-if"] = _norm_cond(expr["if"])
        feats = _features(expr.get("features"))
        if feats:
            schema["x-qapi-features"] = feats
            if "deprecated" in feats:
                schema["deprecated"] = True
        return schema

    def type_ref(self, typ: t.Any, reply: bool) -> dict:
        """Schema of a member type: builtins inline, named types by $ref."""
        if isinstance(typ, list):
            if len(typ) != 1:
                raise QAPIParseError(f"array types must have exactly one element type: {typ!r}")
            return {"type": "array", "items": self.type_ref(typ[0], reply)}
        if not isinstance(typ, str):
            raise QAPIParseError(f"invalid type {typ!r}")
        kind = self.kind(typ)
        if kind == "builtin":
            return copy.deepcopy(BUILTINS[typ])
        if kind == "enum" or not reply:
            return {"$ref": "#/$defs/" + typ}
        return {"$ref": "#/$defs/" + typ + REPLY_SUFFIX}

    def member_schema(self, member: Member, doc: Doc | None, reply: bool) -> dict:
        schema = self.type_ref(member.type, reply)
        if doc is not None and member.name in doc.members and doc.members[member.name]:
            schema["description"] = _clean(doc.members[member.name])
        if member.cond is not None:
            schema["x-qapi-if"] = member.cond
        if member.features:
            schema["x-qapi-features"] = member.features
            if "deprecated" in member.features:
                schema["deprecated"] = True
        return schema

    def struct_members(self, name: str) -> list[tuple[Member, Doc | None]]:
        """Members of a struct, base members first (flattened inheritance)."""
        expr = self.types[name].expr
        if "struct" not in expr:
            raise QAPIParseError(f"{name} is not a struct")
        result = []
        base = expr.get("base")
        if base is not None:
            result.extend(self.struct_members(base))
        doc = self.docs.get(name)
        result.extend((m, doc) for m in _members(expr.get("data", {})))
        return result

    def object_schema(self, members: list[tuple[Member, Doc | None]], reply: bool) -> dict:
        props: dict[str, dict] = {}
        required: list[str] = []
        for member, doc in members:
            if member.name in props:
                raise QAPIParseError(f"duplicate member {member.name!r}")
            props[member.name] = self.member_schema(member, doc, reply)
            if not member.optional:
                required.append(member.name)
        schema: dict[str, t.Any] = {"type": "object", "properties": props}
        if required:
            schema["required"] = required
        if not reply:
            schema["additionalProperties"] = False
        return schema

    # -- type definitions ---------------------------------------------------

    def enum_schema(self, name: str) -> dict:
        expr = self.types[name].expr
        values = []
        conds = {}
        for v in expr.get("data", []):
            if isinstance(v, dict):
                if v.get("if") is not None:
                    conds[v["name"]] = _norm_cond(v["if"])
                v = v["name"]
            values.append(v)
        schema: dict[str, t.Any] = {"type": "string", "enum": values}
        if conds:
            schema["x-qapi-value-if"] = conds
        return schema

    def struct_schema(self, name: str, reply: bool) -> dict:
        schema = self.object_schema(self.struct_members(name), reply)
        base = self.types[name].expr.get("base")
        if base is not None:
            schema["x-qapi-base"] = base
        return schema

    def union_schema(self, name: str, reply: bool) -> dict:
        expr = self.types[name].expr
        doc = self.docs.get(name)
        base = expr.get("base")
        if isinstance(base, str):
            base_members = self.struct_members(base)
        elif isinstance(base, dict):
            base_members = [(m, doc) for m in _members(base)]
        else:
            raise QAPIParseError(f"union {name} needs a 'base'")
        disc = expr.get("discriminator")
        schema = self.object_schema(base_members, reply)
        schema.pop("additionalProperties", None)
        if disc not in schema["properties"]:
            raise QAPIParseError(f"discriminator {disc!r} of union {name} is not a base member")
        branches = []
        for value, branch in sorted(expr.get("data", {}).items()):
            cond = None
            if isinstance(branch, dict):
                cond = _norm_cond(branch.get("if"))
                branch = branch["type"]
            then = self.object_schema(self.struct_members(branch), reply)
            then.pop("additionalProperties", None)
            then.pop("type", None)
            item: dict[str, t.Any] = {
                "if": {"properties": {disc: {"const": value}}, "required": [disc]},
                "then": then,
                "x-qapi-branch": branch,
            }
            if cond is not None:
                item["x-qapi-if"] = cond
            branches.append(item)
        if branches:
            schema["allOf"] = branches
        schema["x-qapi-discriminator"] = disc
        if not reply:
            schema["unevaluatedProperties"] = False
        return schema

    def alternate_schema(self, name: str, reply: bool) -> dict:
        expr = self.types[name].expr
        doc = self.docs.get(name)
        options = []
        for member in _members(expr["data"]):
            option = self.member_schema(member, doc, reply)
            option["x-qapi-branch"] = member.name
            options.append(option)
        return {"oneOf": options}

    def type_schema(self, name: str, reply: bool) -> dict:
        kind = self.kind(name)
        if kind == "enum":
            schema = self.enum_schema(name)
        elif kind == "struct":
            schema = self.struct_schema(name, reply)
        elif kind == "union":
            schema = self.union_schema(name, reply)
        elif kind == "alternate":
            schema = self.alternate_schema(name, reply)
        else:
            raise QAPIParseError(f"{name} is not a type")
        return self._annotate(schema, name, self.types[name].expr)

    def referenced(self, typ: t.Any, seen: set[str]) -> None:
        """Collect named types reachable from typ."""
        if isinstance(typ, list):
            for x in typ:
                self.referenced(x, seen)
            return
        if isinstance(typ, dict):  # inline members
            for m in _members(typ):
                self.referenced(m.type, seen)
            return
        if typ is None or typ in BUILTINS or typ in seen:
            return
        seen.add(typ)
        expr = self.types[typ].expr
        kind = self.kind(typ)
        if kind in ("struct", "alternate"):
            self.referenced(expr.get("base"), seen)
            self.referenced(expr.get("data", {}), seen)
        elif kind == "union":
            self.referenced(expr.get("base"), seen)
            for branch in expr.get("data", {}).values():
                self.referenced(branch["type"] if isinstance(branch, dict) else branch, seen)

    # -- commands -----------------------------------------------------------

    def command_args(self, expr: dict) -> dict | None:
        data = expr.get("data")
        if data is None:
            return None
        if isinstance(data, dict):
            doc = self.docs.get(expr["command"])
            return self.object_schema([(m, doc) for m in _members(data)], reply=False)
        kind = self.kind(data)
        if kind == "struct":
            schema = self.struct_schema(data, reply=False)
        elif kind == "union" and expr.get("boxed"):
            schema = self.union_schema(data, reply=False)
        else:
            raise QAPIParseError(f"command {expr['command']}: 'data' must be a struct (or a union with 'boxed')")
        schema["x-qapi-type"] = data
        return schema

    def command_entry(self, expr: dict) -> dict:
        name = expr["command"]
        doc = self.docs.get(name)
        returns = expr.get("returns")
        entry: dict[str, t.Any] = {
            "args": self.command_args(expr),
            "returns": self.type_ref(returns, reply=True) if returns is not None else None,
            "since": doc_since(doc),
            "summary": doc_summary(doc),
            "if": _norm_cond(expr.get("if")),
        }
        if "allow-oob" in expr:
            entry["allow_oob"] = bool(expr["allow-oob"])
        if "success-response" in expr:
            entry["success_response"] = bool(expr["success-response"])
        feats = _features(expr.get("features"))
        if feats:
            entry["features"] = feats
        return entry

    def convert(self) -> dict:
        defs: dict[str, dict] = {}
        for name in self.types:
            defs[name] = self.type_schema(name, reply=False)
        reply_types: set[str] = set()
        for e in self.commands:
            self.referenced(e.expr.get("returns"), reply_types)
        for name in reply_types:
            if self.kind(name) != "enum":
                defs[name + REPLY_SUFFIX] = self.type_schema(name, reply=True)
        commands = {}
        for e in self.commands:
            name = e.expr["command"]
            if name in commands:
                raise QAPIParseError(f"duplicate command {name}", e.line)
            commands[name] = self.command_entry(e.expr)
        return {"$defs": defs, "commands": commands}


def build_schema(text: str) -> dict:
    """Parse QAPI text and return the SCHEMA dict."""
    schema = Converter(parse_qapi(text)).convert()
    schema["qapi_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return schema


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def _scalar(value: t.Any) -> str:
    if value is None:
        return "None"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are a subset of Python's; ensure_ascii=False avoids surrogate pairs.
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot render {value!r}")


def _flat(value: t.Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flat(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    return _scalar(value)


def _split_string(value: str, width: int) -> list[str]:
    words = re.findall(r"\S+\s*|\s+", value)
    chunks: list[str] = []
    cur = ""
    for w in words:
        if cur and len(_scalar(cur + w)) > width:
            chunks.append(cur)
            cur = ""
        cur += w
    if cur or not chunks:
        chunks.append(cur)
    return chunks


def _render(value: t.Any, indent: int, prefix: str, suffix: str, out: list[str]) -> None:
    """Append lines for 'prefix + value + suffix' at indent, flat when it fits."""
    pad = " " * indent
    flat = _flat(value)
    if len(pad) + len(prefix) + len(flat) + len(suffix) <= LINE_WIDTH or (
        not isinstance(value, (dict, list, str)) or (isinstance(value, (dict, list)) and not value)
    ):
        out.append(pad + prefix + flat + suffix)
        return
    if isinstance(value, str):
        out.append(pad + prefix + "(")
        for chunk in _split_string(value, LINE_WIDTH - indent - 4):
            out.append(pad + "    " + _scalar(chunk))
        out.append(pad + ")" + suffix)
        return
    if isinstance(value, dict):
        out.append(pad + prefix + "{")
        for key in sorted(value):
            _render(value[key], indent + 4, _scalar(key) + ": ", ",", out)
        out.append(pad + "}" + suffix)
        return
    out.append(pad + prefix + "[")
    for item in value:
        _render(item, indent + 4, "", ",", out)
    out.append(pad + "]" + suffix)


HEADER = '''\
# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# GENERATED FILE - DO NOT EDIT.
# Generated by tools/qapi2jsonschema.py from qapi/qapi-schema.json (the QEMU guest agent QAPI schema).
# To regenerate after changing the QAPI file or the generator, run from the collection root:
#     {regenerate}
# and check it is current with:
#     {regenerate} --check
"""JSON Schema (draft 2020-12) of the QEMU guest agent protocol, generated from its QAPI schema."""

import typing as t

# fmt: off
'''


def render_module(schema: dict) -> str:
    """Return the text of the generated Python module for schema."""
    lines: list[str] = []
    _render(schema, 0, "SCHEMA: t.Dict[str, t.Any] = ", "", lines)
    return HEADER.format(regenerate=REGENERATE) + "\n".join(lines) + "\n# fmt: on\n"


def generate(qapi_path: str = DEFAULT_QAPI) -> str:
    """Read the QAPI file and return the generated module text."""
    with open(qapi_path, "rb") as f:
        text = f.read().decode("utf-8")
    return render_module(build_schema(text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the generated module is stale, write nothing")
    parser.add_argument("--qapi", default=DEFAULT_QAPI, help="QAPI schema file (default: %(default)s)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="generated module (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        text = generate(args.qapi)
    except (OSError, QAPIParseError) as exc:
        print(f"qapi2jsonschema: {args.qapi}: {exc}", file=sys.stderr)
        return 2
    current = None
    if os.path.exists(args.output):
        with open(args.output, "rb") as f:
            current = f.read().decode("utf-8")
    if args.check:
        if current != text:
            print(
                f"{os.path.relpath(args.output)} is stale (or missing): it does not match "
                f"{os.path.relpath(args.qapi)}. Regenerate it with: {REGENERATE}",
                file=sys.stderr,
            )
            return 1
        print(f"{os.path.relpath(args.output)} is up to date.")
        return 0
    if current != text:
        with open(args.output, "wb") as f:
            f.write(text.encode("utf-8"))
        print(f"wrote {os.path.relpath(args.output)}")
    else:
        print(f"{os.path.relpath(args.output)} is already up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
