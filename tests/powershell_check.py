"""Validator for generated PowerShell, used by the tests of every phase (helpers, not tests).

``check_script(text, ps2=...)`` returns every problem found, as readable
strings that start with ``line N:``:

1. parse errors: tree-sitter-powershell ERROR and MISSING nodes (its grammar
   rejects bare-word comma lists such as ``-Properties a,b``);
2. cmdlet calls checked against ``tests/data/cmdlets.json`` (a copy of the
   shared reference extracted from Microsoft's cmdlet docs): every
   ``-Parameter`` must resolve (case-insensitive, exact name or alias first,
   else an unambiguous prefix) to a documented parameter or a common one
   (``WhatIf``/``Confirm`` only where the cmdlet lists them); the named
   parameters must fit one parameter set, whose mandatory parameters are
   named or can be filled by the positional arguments (only checked when
   nothing is piped in and nothing is splatted); literal arguments of
   enumerated parameters must be accepted values; in scripts for the
   Exchange 2010 shell, only parameters whose ``applicable`` list names
   Exchange Server 2010. Functions the script defines are checked against
   their own ``param()`` block. Other commands are not checked:
   :func:`unknown_commands` lists them so a test can assert they are expected;
3. for PowerShell 2.0 scripts, constructs that need PowerShell 3 or later;
   for every script, constructs that need PowerShell 7 (EMS runs 5.1);
4. runbook safety (``safety=True``): every Exchange cmdlet call passes
   ``-ErrorAction Stop``, and every Exchange cmdlet that changes something
   (``New-``, ``Set-``, ``Remove-``, ``Add-``, ``Enable-``, ``Import-``) sits
   inside an ``if`` whose condition calls ``ShouldProcess``.

Runbooks call the functions of the plan's helper file (``Migrator.Runbook.ps1``,
which they dot-source): a script that names it is checked with the helper's
functions known, so every parameter a runbook passes to a helper function, by
name or as a key of the hashtable it splats (``$step = @{...}`` then
``Function @step``), must be declared by that function, and a literal value
must be in the function's ``[ValidateSet()]``. :func:`check_helper` checks the
helper itself: parse, PowerShell 2.0 syntax for the whole file (2010 runbooks
dot-source it), cmdlet parameters (2010 applicability inside the functions
2010 runbooks call, and the functions those call), safety, and that a function
calling ``ShouldProcess`` declares ``SupportsShouldProcess = $true``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tree_sitter_powershell as tsp
from tree_sitter import Language, Node, Parser, Tree

CMDLETS_JSON = Path(__file__).parent / "data" / "cmdlets.json"
HELPER_NAME = "Migrator.Runbook.ps1"
HELPER_FILE = Path(__file__).resolve().parent.parent / "templates" / "powershell" / HELPER_NAME
EX2010 = "Exchange Server 2010"

# Built-in aliases a script might use for documented cmdlets.
_COMMAND_ALIASES = {
    "?": "Where-Object",
    "where": "Where-Object",
    "%": "ForEach-Object",
    "foreach": "ForEach-Object",
    "select": "Select-Object",
    "echo": "Write-Output",
}

# Cmdlets that first shipped with PowerShell 3.0 or later.
_PS3_CMDLETS = {
    "convertto-json",
    "convertfrom-json",
    "invoke-restmethod",
    "invoke-webrequest",
    "get-ciminstance",
    "new-ciminstance",
    "set-ciminstance",
    "remove-ciminstance",
    "invoke-cimmethod",
    "get-filehash",
    "new-temporaryfile",
    "compress-archive",
    "expand-archive",
    "get-clipboard",
    "set-clipboard",
    "convertfrom-string",
    "format-hex",
    "new-guid",
    "unblock-file",
    "resolve-dnsname",
    "test-netconnection",
    "get-netipaddress",
}

# Parameters that first shipped with PowerShell 3.0 or later (cmdlet -> parameters), for
# cmdlets that exist in 2.0 (cmdlets.json documents 5.1).
_PS3_PARAMETERS = {
    "export-csv": {"append"},
    "start-transcript": {"includeinvocationheader", "outputdirectory", "literalpath"},
    "select-object": {"skiplast", "wait"},
    "out-file": {"nonewline"},
    "set-content": {"nonewline"},
    "get-content": {"raw", "stream"},
    "write-host": set(),
    "get-childitem": {"file", "directory", "attributes", "hidden", "readonly", "system"},
    "where-object": {
        "property",
        "value",
        "inputobject",
    },
}

# Common parameters that need PowerShell 3.0 or later.
_PS3_COMMON = {"InformationAction", "InformationVariable", "PipelineVariable", "ProgressAction"}

_CHANGE_VERBS = ("new-", "set-", "remove-", "add-", "enable-", "import-")


# --------------------------------------------------------------------------- reference data


@dataclass(frozen=True)
class _Param:
    name: str
    type: str
    aliases: tuple[str, ...]
    accepted: tuple[str, ...]
    applicable: tuple[str, ...]
    in_sets: frozenset[str]

    @property
    def is_switch(self) -> bool:
        return "switchparameter" in self.type.lower()

    @property
    def is_boolean(self) -> bool:
        return self.type.lower() in {"boolean", "system.boolean", "bool"}


@dataclass(frozen=True)
class _Set:
    name: str
    parameters: frozenset[str]
    mandatory: tuple[str, ...]
    positional: tuple[str, ...]


@dataclass(frozen=True)
class _Cmdlet:
    name: str
    applicable: tuple[str, ...]
    params: dict[str, _Param]
    sets: tuple[_Set, ...]
    exchange: bool


@dataclass(frozen=True)
class _Reference:
    cmdlets: dict[str, _Cmdlet]
    common: dict[str, _Param]
    risk: dict[str, _Param]


def _aliases(raw: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for block in raw.get("yaml_blocks") or []:
        text = block.get("aliases")
        if text:
            out.extend(a.strip() for a in str(text).split(",") if a.strip())
    for a in raw.get("aliases") or []:
        out.append(str(a))
    return tuple(dict.fromkeys(out))


@functools.cache
def reference() -> _Reference:
    """The cmdlet reference loaded from ``tests/data/cmdlets.json``."""
    data = json.loads(CMDLETS_JSON.read_text(encoding="utf-8"))
    cmdlets: dict[str, _Cmdlet] = {}
    for name, raw in data["cmdlets"].items():
        params = {}
        for p in raw["parameters"]:
            params[p["name"].lower()] = _Param(
                name=p["name"],
                type=str(p.get("type") or ""),
                aliases=_aliases(p),
                accepted=tuple(p.get("accepted_values") or ()),
                applicable=tuple(p.get("applicable") or ()),
                in_sets=frozenset(p.get("in_sets") or ()),
            )
        sets = tuple(
            _Set(
                name=s["name"],
                parameters=frozenset(x.lower() for x in s["parameters"]),
                mandatory=tuple(x.lower() for x in s["mandatory"]),
                positional=tuple(x.lower() for x in s["positional"]),
            )
            for s in raw["parameter_sets"]
        )
        applicable = tuple(raw.get("applicable") or ())
        cmdlets[name.lower()] = _Cmdlet(
            name=name,
            applicable=applicable,
            params=params,
            sets=sets,
            exchange=any(a.startswith("Exchange Server") for a in applicable),
        )
    common: dict[str, _Param] = {}
    risk: dict[str, _Param] = {}
    for name, p in data["common_parameters"]["parameters"].items():
        param = _Param(
            name=name,
            type=str(p.get("type") or ""),
            aliases=tuple(p.get("aliases") or ()),
            accepted=tuple(p.get("accepted_values") or ()),
            applicable=(),
            in_sets=frozenset(),
        )
        (risk if p.get("kind") == "risk_mitigation" else common)[name.lower()] = param
    return _Reference(cmdlets, common, risk)


# --------------------------------------------------------------------------- parsing


@functools.cache
def _parser() -> Parser:
    return Parser(Language(tsp.language()))


def parse(text: str) -> tuple[Node, bytes]:
    """Parse a script; return the root node and the bytes it indexes."""
    tree, src = _parsed(text)
    return tree.root_node, src


# The checks below parse the same script several times (check_script: parse errors, parameters,
# versions, safety) and every script that dot-sources the helper parses the whole helper source
# again; trees and what is read from them are immutable, so each text is parsed and read once.
_CACHE = 64


@functools.lru_cache(maxsize=_CACHE)
def _parsed(text: str) -> tuple[Tree, bytes]:
    src = text.lstrip("\ufeff").encode("utf-8")
    return _parser().parse(src), src


def _text(node: Node, src: bytes) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


def _line(node: Node) -> int:
    return node.start_point[0] + 1


def _walk(node: Node) -> Iterator[Node]:
    """``node`` and every node below it, depth first in source order (a tree cursor: no child lists)."""
    cursor = node.walk()
    while True:
        n = cursor.node
        assert n is not None
        yield n
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return


def parse_errors(text: str) -> list[str]:
    """ERROR and MISSING nodes, with line and column and the text around them."""
    root, src = parse(text)
    problems = []
    for n in _walk(root):
        if n.is_missing:
            problems.append(
                f"line {_line(n)}, column {n.start_point[1] + 1}: parse error: missing {n.type!r}"
                f" near {_context(n, src)!r}"
            )
        elif n.is_error:
            problems.append(
                f"line {_line(n)}, column {n.start_point[1] + 1}: parse error near {_context(n, src)!r}"
            )
    return problems


def _context(node: Node, src: bytes) -> str:
    start = src.rfind(b"\n", 0, node.start_byte) + 1
    end = src.find(b"\n", node.end_byte)
    return (
        src[start : end if end >= 0 else len(src)].decode("utf-8", errors="replace").strip()[:120]
    )


# --------------------------------------------------------------------------- command calls


@dataclass
class CommandCall:
    """One command invocation as the parser saw it."""

    name: str
    """Command name as written."""
    line: int
    """1-based line."""
    node: Node
    """The ``command`` node."""
    named: list[tuple[str, Node | None, int]] = field(default_factory=list)
    """(parameter as written without '-', argument node or None, line) in order."""
    positional: list[Node] = field(default_factory=list)
    """Positional argument nodes."""
    piped: bool = False
    """Whether something is piped into it."""
    splatted: bool = False
    """Whether it passes ``@variable`` splatting."""


def _element_nodes(elements: Node) -> list[tuple[Node, str]]:
    """Children of command_elements as (node, sep-before) ignoring plain whitespace separators."""
    out: list[tuple[Node, str]] = []
    sep = ""
    for c in elements.children:
        if c.type == "command_argument_sep":
            sep = ":" if any(x.type == ":" for x in c.children) else sep or " "
            continue
        if c.type == "redirection":
            sep = ""
            continue
        out.append((c, sep))
        sep = ""
    return out


def _is_switch(cmd: str, param: str, functions: dict[str, set[str]]) -> bool:
    ref = reference()
    c = ref.cmdlets.get(cmd.lower())
    if c is None:
        return False
    resolved = _resolve(c, param)
    if isinstance(resolved, _Param):
        return resolved.is_switch
    return False


def command_calls(text: str) -> list[CommandCall]:
    """Every command call in the script (inside script blocks too), in source order."""
    return list(_command_calls(text))


@functools.lru_cache(maxsize=_CACHE)
def _command_calls(text: str) -> tuple[CommandCall, ...]:
    root, src = parse(text)
    functions = _functions(text)
    calls = []
    for n in _walk(root):
        if n.type != "command":
            continue
        name_node = n.child_by_field_name("command_name")
        if name_node is None:
            continue  # `& { ... }` and `& $x`: nothing to check by name
        name = _text(name_node, src)
        call = CommandCall(name=name, line=_line(n), node=n)
        parent = n.parent
        if parent is not None and parent.type == "pipeline_chain":
            first = next((c for c in parent.children if c.is_named), None)
            call.piped = first is not None and first.id != n.id
        elements = n.child_by_field_name("command_elements")
        if elements is not None:
            items = _element_nodes(elements)
            i = 0
            while i < len(items):
                node, _sep = items[i]
                if node.type == "command_parameter":
                    pname = _text(node, src)[1:]
                    arg: Node | None = None
                    if i + 1 < len(items):
                        nxt, nsep = items[i + 1]
                        if nsep == ":" or (
                            nxt.type != "command_parameter"
                            and not _is_switch(_canonical_name(name), pname, functions)
                        ):
                            arg = nxt
                            i += 1
                    call.named.append((pname, arg, _line(node)))
                else:
                    if _text(node, src).startswith("@") and any(
                        x.type == "variable" and _text(x, src).startswith("@") for x in _walk(node)
                    ):
                        call.splatted = True
                    else:
                        call.positional.append(node)
                i += 1
        calls.append(call)
    return tuple(calls)


def _canonical_name(name: str) -> str:
    return _COMMAND_ALIASES.get(name.lower(), name)


@dataclass(frozen=True)
class Function:
    """A function a script (or the helper) defines."""

    name: str
    line: int
    params: dict[str, tuple[str, ...]]
    """Parameter (lower case) -> the values of its ``[ValidateSet()]`` (empty: any value)."""
    switches: frozenset[str]
    """Parameters typed ``[switch]`` (lower case)."""
    supports_should_process: bool
    """Whether its ``[CmdletBinding()]`` says ``SupportsShouldProcess = $true``."""
    node: Node


def function_definitions(text: str) -> dict[str, Function]:
    """Functions the script defines, by lower-case name."""
    return dict(_function_definitions(text))


@functools.lru_cache(maxsize=_CACHE)
def _function_definitions(text: str) -> dict[str, Function]:
    root, src = parse(text)
    return _function_defs(root, src)


def _function_defs(root: Node, src: bytes) -> dict[str, Function]:
    out: dict[str, Function] = {}
    for n in _walk(root):
        if n.type != "function_statement":
            continue
        fname = next((c for c in n.children if c.type == "function_name"), None)
        if fname is None:
            continue
        params: dict[str, tuple[str, ...]] = {}
        switches: set[str] = set()
        supports = False
        for m in _walk(n):
            if m.type == "function_statement" and m.id != n.id:
                break
            if m.type == "attribute" and re.match(r"\[\s*CmdletBinding", _text(m, src), re.I):
                supports = bool(
                    re.search(r"SupportsShouldProcess\s*=\s*\$true", _text(m, src), re.I)
                )
            if m.type == "script_parameter":
                var = next((c for c in m.children if c.type == "variable"), None)
                if var is None:
                    continue
                pname = _text(var, src).lstrip("$").lower()
                accepted: tuple[str, ...] = ()
                for attr in (x for x in _walk(m) if x.type == "attribute"):
                    attr_text = _text(attr, src)
                    if re.match(r"\[\s*ValidateSet\s*\(", attr_text, re.I):
                        accepted = tuple(re.findall(r"'((?:[^']|'')*)'", attr_text))
                    if re.fullmatch(r"\[\s*switch\s*\]", attr_text, re.I):
                        switches.add(pname)
                params[pname] = accepted
        out[_text(fname, src).lower()] = Function(
            _text(fname, src), _line(n), params, frozenset(switches), supports, n
        )
    return out


def _functions(text: str) -> dict[str, set[str]]:
    """Functions the script defines -> names of their parameters (lower case)."""
    return {k: set(f.params) for k, f in _function_definitions(text).items()}


def helper_text(text: str) -> str | None:
    """The helper's text when ``text`` dot-sources the plan's helper file, else None."""
    if HELPER_NAME in text and HELPER_FILE.is_file():
        return HELPER_FILE.read_text(encoding="utf-8")
    return None


def _helper_functions(text: str, helper: str | None) -> dict[str, Function]:
    source = helper if helper is not None else helper_text(text)
    return function_definitions(source) if source is not None else {}


def _splats(root: Node, src: bytes) -> dict[int, dict[str, Node]]:
    """Command node start byte -> the entries (key -> value node) of the hashtable it splats.

    The hashtable is the last ``$name = @{ ... }`` literal before the call in
    source order (the step shape of the runbooks).
    """
    tables: dict[str, dict[str, Node]] = {}
    out: dict[int, dict[str, Node]] = {}
    for n in _walk(root):
        if n.type == "assignment_expression":
            left = n.children[0]
            value = n.children[-1]
            name = _text(left, src).strip()
            core = _core(value)
            if re.fullmatch(r"\$\w+", name) and core.type == "hash_literal_expression":
                tables[name[1:].lower()] = hash_entries(core, src)
        elif n.type == "command":
            elements = n.child_by_field_name("command_elements")
            if elements is None:
                continue
            for c in elements.children:
                m = re.fullmatch(r"@(\w+)", _text(c, src).strip())
                if m and m.group(1).lower() in tables:
                    out[n.start_byte] = tables[m.group(1).lower()]
    return out


def _core(node: Node) -> Node:
    """The node under chains of single-child expression wrappers."""
    while node.named_child_count == 1 and node.type not in {
        "string_literal",
        "variable",
        "hash_literal_expression",
        "script_block_expression",
        "command",
    }:
        node = node.named_children[0]
    return node


def hash_entries(node: Node, src: bytes) -> dict[str, Node]:
    """Entries of a hashtable literal: key (as written) -> value node."""
    out: dict[str, Node] = {}
    for entry in (x for x in _walk(node) if x.type == "hash_entry"):
        if entry.parent is None or entry.parent.parent is None or entry.parent.parent.id != node.id:
            continue
        key = next((c for c in entry.children if c.type == "key_expression"), None)
        value = entry.named_children[-1]
        if key is not None:
            out[_text(key, src).strip().strip("'")] = value
    return out


def _resolve(c: _Cmdlet, written: str) -> _Param | str:
    """Resolve a parameter name as PowerShell's binder does; a string is a problem."""
    ref = reference()
    pool: dict[str, _Param] = dict(ref.common)
    for key, p in c.params.items():
        pool[key] = p
    low = written.lower()
    exact = [
        p for p in pool.values() if p.name.lower() == low or low in (a.lower() for a in p.aliases)
    ]
    if exact:
        return exact[0]
    if low in ref.risk:
        return f"-{written} is not a parameter of {c.name} (it does not support ShouldProcess)"
    prefixed = {p.name: p for p in pool.values() if p.name.lower().startswith(low)}
    prefixed.update(
        {p.name: p for p in pool.values() for a in p.aliases if a.lower().startswith(low)}
    )
    if len(prefixed) == 1:
        return next(iter(prefixed.values()))
    if len(prefixed) > 1:
        return f"-{written} is ambiguous for {c.name}: it could be {', '.join(sorted(prefixed))}"
    return f"-{written} is not a documented parameter of {c.name}"


_LITERAL_TYPES = {"string_literal", "generic_token", "integer_literal"}


def _literal_values(node: Node, src: bytes) -> list[str] | None:
    """The literal values of an argument (each element of an array literal), or None when any part is computed."""
    values: list[str] = []
    core = node
    while (
        core.type in {"array_literal_expression", "unary_expression"}
        and core.named_child_count == 1
    ):
        core = core.named_children[0]
    parts = [c for c in core.named_children] if core.type == "array_literal_expression" else [core]
    for part in parts:
        while part.type == "unary_expression" and part.named_child_count == 1:
            part = part.named_children[0]
        if part.type == "generic_token":
            values.append(_text(part, src))
        elif part.type == "string_literal":
            inner = part.named_children[0] if part.named_child_count else None
            if inner is None:
                return None
            if inner.type == "verbatim_string_characters":
                raw = _text(inner, src)
                values.append(re.sub(r"(['\u2018\u2019\u201a\u201b])\1", r"\1", raw[1:-1]))
            elif inner.type == "expandable_string_literal" and inner.named_child_count == 0:
                values.append(_text(inner, src)[1:-1])
            else:
                return None
        elif part.type == "variable" and _text(part, src).lower() in {"$true", "$false", "$null"}:
            values.append(_text(part, src).lower())
        else:
            return None
    return values


def _check_function_call(
    call: CommandCall, src: bytes, function: Function, splat: dict[str, Node] | None
) -> list[str]:
    """Every parameter passed (by name or splatted) is declared; literal values fit its ValidateSet."""
    ref = reference()
    problems: list[str] = []
    allowed = set(function.params) | {p.lower() for p in ref.common}
    if function.supports_should_process:
        allowed |= {p.lower() for p in ref.risk}
    passed: list[tuple[str, Node | None, int, str]] = [
        (pname, arg, line, "-") for pname, arg, line in call.named
    ]
    if call.splatted and splat is None:
        problems.append(
            f"line {call.line}: {call.name}: splats a variable that is not a hashtable literal"
            " assigned before the call"
        )
    for key, value in (splat or {}).items():
        passed.append((key, value, _line(value), "key "))
    for pname, arg, line, how in passed:
        low = pname.lower()
        hits = {a for a in allowed if a == low} or {a for a in allowed if a.startswith(low)}
        if len(hits) != 1:
            problems.append(
                f"line {line}: {call.name}: {how}{pname} is not a parameter of"
                f" function {function.name} (line {function.line} of its file)"
            )
            continue
        accepted = function.params.get(next(iter(hits)), ())
        values = _literal_values(_core(arg), src) if arg is not None and accepted else None
        for v in values or []:
            if v.lower() not in {a.lower() for a in accepted}:
                problems.append(
                    f"line {line}: {call.name}: {how}{pname} value {v!r} is not one of"
                    f" {', '.join(accepted)}"
                )
    return problems


def _check_call(
    call: CommandCall,
    src: bytes,
    *,
    ps2: bool,
    functions: dict[str, set[str]],
    known: dict[str, Function] | None = None,
    splat: dict[str, Node] | None = None,
) -> list[str]:
    ref = reference()
    problems: list[str] = []
    canonical = _canonical_name(call.name)
    where = f"line {call.line}: {call.name}"
    if known and canonical.lower() in known:
        return _check_function_call(call, src, known[canonical.lower()], splat)
    if canonical.lower() in functions:
        allowed = functions[canonical.lower()] | {p.lower() for p in ref.common}
        for pname, _arg, line in call.named:
            low = pname.lower()
            hits = {a for a in allowed if a == low} or {a for a in allowed if a.startswith(low)}
            if len(hits) != 1:
                problems.append(
                    f"line {line}: {call.name}: -{pname} is not a parameter of the script's function"
                )
        return problems
    if ps2 and canonical.lower() in _PS3_CMDLETS:
        problems.append(f"{where} needs PowerShell 3.0 or later (2010 shell is 2.0)")
    c = ref.cmdlets.get(canonical.lower())
    if c is None:
        return problems
    if ps2 and c.applicable and c.exchange and EX2010 not in c.applicable:
        problems.append(f"{where}: {c.name} does not exist in Exchange Server 2010")
    used: list[_Param] = []
    for pname, arg, line in call.named:
        resolved = _resolve(c, pname)
        if isinstance(resolved, str):
            problems.append(f"line {line}: {call.name}: {resolved}")
            continue
        used.append(resolved)
        if ps2 and c.exchange and resolved.applicable and EX2010 not in resolved.applicable:
            problems.append(
                f"line {line}: {call.name}: -{resolved.name} is not available in Exchange Server 2010"
                f" (documented for {', '.join(resolved.applicable)})"
            )
        if ps2 and (
            resolved.name in _PS3_COMMON
            or resolved.name.lower() in _PS3_PARAMETERS.get(c.name.lower(), set())
        ):
            problems.append(
                f"line {line}: {call.name}: -{resolved.name} needs PowerShell 3.0 or later"
            )
        if arg is not None:
            problems.extend(_check_value(call, resolved, arg, src, line))
        elif not resolved.is_switch:
            problems.append(f"line {line}: {call.name}: -{resolved.name} has no value")
    # Parameter sets: the named, cmdlet-specific parameters must all be in one set.
    specific = {
        p.name.lower()
        for p in used
        if p.name.lower() not in ref.common and p.name.lower() not in ref.risk
    }
    if c.sets:
        fitting = [s for s in c.sets if specific <= s.parameters]
        if not fitting:
            problems.append(
                f"{where}: parameters {', '.join('-' + x for x in sorted(specific))}"
                f" do not fit one parameter set ({', '.join(s.name for s in c.sets)})"
            )
        elif (
            not call.piped
            and not call.splatted
            and not any(_mandatory_ok(s, specific, len(call.positional)) for s in fitting)
        ):
            missing = sorted({m for s in fitting for m in s.mandatory if m not in specific})
            problems.append(
                f"{where}: missing mandatory parameter(s) {', '.join('-' + m for m in missing)}"
                f" (or too many positional arguments)"
            )
    if ps2 and c.name in {"Where-Object", "ForEach-Object"}:
        script_block_set = {"filterscript", "process", "begin", "end", "inputobject"}
        if specific - script_block_set or any(not _is_script_block(a) for a in call.positional):
            problems.append(
                f"{where}: simplified {c.name} syntax needs PowerShell 3.0; use a script block"
            )
    return problems


def _is_script_block(node: Node) -> bool:
    core = node
    while core.named_child_count == 1 and core.type in {
        "array_literal_expression",
        "unary_expression",
    }:
        core = core.named_children[0]
    return core.type == "script_block_expression"


def _mandatory_ok(s: _Set, named: set[str], positional_count: int) -> bool:
    free = [p for p in s.positional if p not in named]
    if positional_count > len(free):
        return False
    filled = set(free[:positional_count])
    return all(m in named or m in filled for m in s.mandatory)


def _check_value(call: CommandCall, p: _Param, arg: Node, src: bytes, line: int) -> list[str]:
    values = _literal_values(arg, src)
    if values is None:
        return []
    if p.is_boolean:
        bad = [v for v in values if v not in {"$true", "$false"}]
        return [
            f"line {line}: {call.name}: -{p.name} takes $true or $false, not {v!r}" for v in bad
        ]
    if not p.accepted:
        return []
    accepted = {a.lower() for a in p.accepted}
    problems = []
    for v in values:
        if v.startswith("$"):
            continue
        if p.name == "ErrorAction" and v.isdigit():
            continue
        for item in (x.strip() for x in v.split(",")):
            if item and item.lower() not in accepted:
                problems.append(
                    f"line {line}: {call.name}: -{p.name} value {item!r} is not one of"
                    f" {', '.join(p.accepted)}"
                )
    return problems


def unknown_commands(text: str, helper: str | None = None) -> list[str]:
    """Commands the script calls that neither cmdlets.json, the script nor its helper defines (sorted).

    Dot-sourcing a file (``. $helper``) is not a command call.
    """
    functions = _functions(text)
    known = _helper_functions(text, helper)
    ref = reference()
    names = set()
    for call in command_calls(text):
        canonical = _canonical_name(call.name).lower()
        if call.name.startswith("$"):
            continue
        if canonical not in ref.cmdlets and canonical not in functions and canonical not in known:
            names.add(call.name)
    return sorted(names, key=str.lower)


def check_parameters(text: str, *, ps2: bool, helper: str | None = None) -> list[str]:
    """Problems with cmdlet parameters, sets, values and 2010 applicability.

    Calls into the helper (``helper``, or the plan's helper file when the
    script names it) are checked against the helper functions' parameters.
    """
    root, src = parse(text)
    functions = _functions(text)
    known = _helper_functions(text, helper)
    splats = _splats(root, src)
    problems = []
    for call in command_calls(text):
        problems.extend(
            _check_call(
                call,
                src,
                ps2=ps2,
                functions=functions,
                known=known,
                splat=splats.get(call.node.start_byte),
            )
        )
    return problems


# --------------------------------------------------------------------------- PowerShell versions


def version_problems(text: str, *, ps2: bool) -> list[str]:
    """Constructs that need PowerShell 7 (always) or PowerShell 3+ (for 2.0 scripts)."""
    root, src = parse(text)
    problems = []
    for n in _walk(root):
        t = n.type
        if t == "pipeline_chain_tail":
            problems.append(f"line {_line(n)}: '&&'/'||' pipeline chains need PowerShell 7")
        if not ps2:
            continue
        if (
            (
                t == "type_literal"
                and _text(n, src).replace(" ", "").lower()
                in {
                    "[ordered]",
                    "[pscustomobject]",
                }
            )
            or (
                t == "comparison_operator"
                and _text(n, src).lower()
                in {
                    "-in",
                    "-notin",
                    "-iin",
                    "-inotin",
                    "-cin",
                    "-cnotin",
                    "-shl",
                    "-shr",
                }
            )
            or (t == "variable" and _text(n, src).lower() in {"$psitem", "$using"})
        ):
            problems.append(f"line {_line(n)}: {_text(n, src)} needs PowerShell 3.0 or later")
        elif t == "variable" and _text(n, src).lower().startswith("$using:"):
            problems.append(f"line {_line(n)}: $using: needs PowerShell 3.0 or later")
        elif t == "invokation_expression" and re.search(r"::\s*new\s*\(", _text(n, src), re.I):
            problems.append(f"line {_line(n)}: ::new() needs PowerShell 5.0 or later")
        elif t in {"class_statement", "enum_statement"}:
            problems.append(f"line {_line(n)}: class/enum definitions need PowerShell 5.0 or later")
    if ps2:
        for m in re.finditer(r"(?im)^\s*#requires\s+-version\s+([3-9])", text):
            problems.append(f"#Requires -Version {m.group(1)} does not run in PowerShell 2.0")
    return problems


# --------------------------------------------------------------------------- runbook safety


def safety_problems(text: str) -> list[str]:
    """Exchange calls without ``-ErrorAction Stop``; Exchange changes outside a ShouldProcess gate."""
    ref = reference()
    _root, src = parse(text)
    problems = []
    for call in command_calls(text):
        c = ref.cmdlets.get(_canonical_name(call.name).lower())
        if c is None or not c.exchange:
            continue
        stop = False
        for pname, arg, _line_no in call.named:
            resolved = _resolve(c, pname)
            if isinstance(resolved, _Param) and resolved.name == "ErrorAction" and arg is not None:
                stop = (_literal_values(arg, src) or [""])[0].lower() == "stop"
        if not stop:
            problems.append(f"line {call.line}: {call.name} without -ErrorAction Stop")
        if c.name.lower().startswith(_CHANGE_VERBS) and not _gated(call.node, src):
            problems.append(
                f"line {call.line}: {call.name} changes state outside"
                " if ($PSCmdlet.ShouldProcess(...))"
            )
    return problems


def _gated(node: Node, src: bytes) -> bool:
    child = node
    parent = node.parent
    while parent is not None:
        if parent.type in {"if_statement", "elseif_clause"}:
            cond = next((c for c in parent.children if c.type == "pipeline"), None)
            if (
                cond is not None
                and cond.id != child.id
                and "shouldprocess(" in _text(cond, src).lower().replace(" ", "")
                and parent.type == "if_statement"
            ):
                # Only the then-branch counts: the first statement_block after the condition.
                block = next((c for c in parent.children if c.type == "statement_block"), None)
                if block is not None and block.start_byte <= node.start_byte < block.end_byte:
                    return True
        child = parent
        parent = parent.parent
    return False


# --------------------------------------------------------------------------- all together


def check_script(
    text: str, *, ps2: bool, safety: bool = True, helper: str | None = None
) -> list[str]:
    """Every problem of one generated script (empty when it is fine)."""
    errors = parse_errors(text)
    if errors:
        return errors  # a broken tree makes the other checks unreliable
    problems = check_parameters(text, ps2=ps2, helper=helper) + version_problems(text, ps2=ps2)
    if safety:
        problems += safety_problems(text)
    return problems


def _enclosing_function(node: Node, src: bytes) -> str | None:
    parent = node.parent
    while parent is not None:
        if parent.type == "function_statement":
            name = next((c for c in parent.children if c.type == "function_name"), None)
            return _text(name, src).lower() if name is not None else None
        parent = parent.parent
    return None


def helper_calls(text: str, helper: str | None = None) -> set[str]:
    """Names (lower case) of the helper functions a script calls."""
    known = _helper_functions(text, helper)
    return {
        _canonical_name(c.name).lower()
        for c in command_calls(text)
        if _canonical_name(c.name).lower() in known
    }


def check_helper(text: str, *, ps2_functions: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Every problem of the helper file.

    The whole file must parse and use PowerShell 2.0 syntax (a 2010 runbook
    dot-sources it whole); the cmdlets called inside ``ps2_functions`` (the
    functions 2010 runbooks call, lower case) and inside every helper function
    those call must exist, with those parameters, in Exchange 2010 and
    PowerShell 2.0. A function that calls ``ShouldProcess`` must declare
    ``[CmdletBinding(SupportsShouldProcess = $true)]``.
    """
    errors = parse_errors(text)
    if errors:
        return errors
    root, src = parse(text)
    defs = _function_definitions(text)
    calls = command_calls(text)
    # Close the set of 2.0 functions over the helper functions they call.
    ps2_set = {f.lower() for f in ps2_functions}
    grew = True
    while grew:
        grew = False
        for call in calls:
            callee = _canonical_name(call.name).lower()
            if (
                callee in defs
                and callee not in ps2_set
                and _enclosing_function(call.node, src) in ps2_set
            ):
                ps2_set.add(callee)
                grew = True
    problems = version_problems(text, ps2=True)
    functions = {k: set(f.params) for k, f in defs.items()}
    splats = _splats(root, src)
    for call in calls:
        ps2 = _enclosing_function(call.node, src) in ps2_set
        problems.extend(
            _check_call(
                call,
                src,
                ps2=ps2,
                functions=functions,
                known=defs,
                splat=splats.get(call.node.start_byte),
            )
        )
    for f in defs.values():
        body = _text(f.node, src)
        if "$pscmdlet.shouldprocess(" in body.lower().replace(" ", "") and not (
            f.supports_should_process
        ):
            problems.append(
                f"line {f.line}: function {f.name} calls ShouldProcess without"
                " [CmdletBinding(SupportsShouldProcess = $true)]"
            )
    return problems + safety_problems(text)
