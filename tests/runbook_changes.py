"""The changes a runbook would make, read from its parsed text (helpers, not tests).

``changes(runbook, helper)`` lists, per step, what ``-WhatIf`` reports and what
the script would change: every ``$PSCmdlet.ShouldProcess(target, action)`` and
every command with a changing verb inside such a gate, each with its arguments
evaluated as far as the script's own data allows. Calls into functions (the
plan's helper, or the script's own) are followed with their parameters bound
from the call: named arguments, the splatted ``$step = @{...}`` table, defaults.
So the output of the old inline scripts and of the new helper-calling ones can
be compared: same steps, same ShouldProcess messages, same cmdlets with the
same parameters and values.

It is an abstract reading, not PowerShell: every branch is read (both the
old and the new scripts have the same branches), ``foreach`` over a literal
list is unrolled, a value that only exists at run time reads ``<runtime>``, a
runbook parameter reads ``$Name``. A change that needs a value the step does
not give (an optional parameter left out, e.g. no ``MaxMessageSize``) cannot
run and is left out, as the old template left it out; so is an item of a
literal list (a table of settings) that carries such a value, which the helper
skips; an entry set on a splatted table from such a value is not set.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from powershell_check import function_definitions, parse
from tree_sitter import Node

from migrator.plan.steps import Action, Owner, Phase, RunsIn, Step
from migrator.render.runbooks import RunbookContext


class _Runtime:
    def __repr__(self) -> str:
        return "<runtime>"


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


RUNTIME = _Runtime()
ABSENT = _Absent()
Value = str | tuple["Value", ...] | dict[str, "Value"] | _Runtime | _Absent

CHANGE_VERBS = (
    "new-",
    "set-",
    "remove-",
    "add-",
    "enable-",
    "disable-",
    "update-",
    "move-",
    "start-",
    "import-",
    "grant-",
    "revoke-",
    "clear-",
    "install-",
)
NOT_CHANGES = {
    "start-sleep",
    "start-transcript",
    "import-module",
    "import-csv",
    "import-clixml",  # reads a file the step exported before (client-access rollback)
    "new-object",
}


@dataclass(frozen=True, order=True)
class Change:
    """One change: a ShouldProcess message or a gated changing command, with evaluated arguments."""

    step: str
    what: str
    """``ShouldProcess`` or the command name."""
    args: tuple[tuple[str, str], ...]
    """(name, value) pairs: target/action, or parameter (lower case) and value, sorted."""

    def __str__(self) -> str:
        return f"[{self.step}] {self.what} " + " ".join(f"{k}={v}" for k, v in self.args)


def _text(node: Node, src: bytes) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


def _kind(node: Node) -> str:
    return node.type.replace("_argument_expression", "_expression")


_WRAPPERS = {
    "pipeline",
    "pipeline_chain",
    "logical_expression",
    "bitwise_expression",
    "comparison_expression",
    "additive_expression",
    "multiplicative_expression",
    "format_expression",
    "range_expression",
    "array_literal_expression",
    "unary_expression",
    "expression_with_unary_operator",
    "argument_expression",
    "statement_list",
    "left_assignment_expression",
}


def _unwrap(node: Node) -> Node:
    while _kind(node) in _WRAPPERS and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def _show(value: Value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        if len(value) == 1:
            return _show(value[0])
        return "@(" + ", ".join(_show(v) for v in value) + ")"
    if isinstance(value, dict):
        return "@{" + "; ".join(f"{k}={_show(v)}" for k, v in sorted(value.items())) + "}"
    return repr(value)


def _has_absent(value: Value) -> bool:
    if value is ABSENT:
        return True
    if isinstance(value, tuple):
        return any(_has_absent(v) for v in value)
    if isinstance(value, dict):
        return any(_has_absent(v) for v in value.values())
    return False


@dataclass
class _Frame:
    env: dict[str, Value]
    gated: bool = False


@dataclass
class _Reader:
    src: bytes
    functions: dict[str, tuple[Node, bytes]]
    """Lower-case function name -> (function_statement node, its file's bytes)."""
    symbols: set[str]
    """Runbook parameters (lower case): they read ``$Name``."""
    step: str = ""
    out: list[Change] = field(default_factory=list)
    depth: int = 0

    # ------------------------------------------------------------------ statements

    def block(self, node: Node, frame: _Frame, src: bytes) -> None:
        for child in node.named_children:
            self.statement(child, frame, src)

    def statement(self, node: Node, frame: _Frame, src: bytes) -> None:
        kind = _kind(node)
        if kind in {"statement_list", "statement_block", "script_block_body", "script_block"}:
            self.block(node, frame, src)
        elif kind == "function_statement" or kind == "param_block":
            return
        elif kind == "if_statement":
            self.if_statement(node, frame, src)
        elif kind == "foreach_statement":
            self.foreach(node, frame, src)
        elif kind in {"while_statement", "do_statement", "for_statement"}:
            for c in node.named_children:
                if c.type == "statement_block":
                    self.block(c, frame, src)
                else:
                    self.expression_effects(c, frame, src)
        elif kind == "try_statement":
            for c in node.named_children:
                if c.type == "statement_block":
                    self.block(c, frame, src)
                else:
                    for b in (x for x in c.named_children if x.type == "statement_block"):
                        self.block(b, frame, src)
        elif kind == "assignment_expression":
            self.assignment(node, frame, src)
        elif kind in {"flow_control_statement"}:
            for c in node.named_children:
                self.expression_effects(c, frame, src)
        else:
            core = _unwrap(node)
            if core.type == "assignment_expression":
                self.assignment(core, frame, src)
            else:
                self.expression_effects(node, frame, src)

    def if_statement(self, node: Node, frame: _Frame, src: bytes) -> None:
        clauses: list[tuple[Node | None, Node]] = []
        cond = next((c for c in node.named_children if c.type == "pipeline"), None)
        then = next((c for c in node.named_children if c.type == "statement_block"), None)
        if then is not None:
            clauses.append((cond, then))
        for c in node.named_children:
            if c.type == "elseif_clauses":
                for e in c.named_children:
                    ec = next((x for x in e.named_children if x.type == "pipeline"), None)
                    eb = next((x for x in e.named_children if x.type == "statement_block"), None)
                    if eb is not None:
                        clauses.append((ec, eb))
            elif c.type == "else_clause":
                eb = next((x for x in c.named_children if x.type == "statement_block"), None)
                if eb is not None:
                    clauses.append((None, eb))
        for cond_node, body in clauses:
            gate = False
            if cond_node is not None:
                self.expression_effects(cond_node, frame, src)
                gate = "shouldprocess(" in _text(cond_node, src).lower().replace(" ", "")
            inner = _Frame(frame.env, frame.gated or gate)
            self.block(body, inner, src)

    def foreach(self, node: Node, frame: _Frame, src: bytes) -> None:
        var = next(c for c in node.named_children if c.type == "variable")
        body = next(c for c in node.named_children if c.type == "statement_block")
        coll = next(c for c in node.named_children if c.type not in {"variable", "statement_block"})
        self.expression_effects(coll, frame, src)
        items = self.eval(coll, frame, src)
        name = _text(var, src)[1:].lower()
        values: tuple[Value, ...] = (
            items if isinstance(items, tuple) else (RUNTIME if items is not ABSENT else ABSENT,)
        )
        if isinstance(items, str):
            values = (items,)
        for item in values or ():
            if isinstance(item, dict) and _has_absent(item):
                continue  # a setting the step leaves out: the helper skips it (`continue`)
            frame.env[name] = item
            self.block(body, frame, src)
        frame.env[name] = RUNTIME

    def assignment(self, node: Node, frame: _Frame, src: bytes) -> None:
        left = _unwrap(node.children[0])
        right = node.children[-1]
        self.expression_effects(right, frame, src)
        value = self.eval(right, frame, src)
        if left.type == "variable":
            frame.env[_text(left, src)[1:].lower()] = value
        elif left.type == "element_access":
            target = _unwrap(left.named_children[0])
            key = self.eval(left.named_children[-1], frame, src)
            table = frame.env.get(_text(target, src)[1:].lower())
            if isinstance(table, dict) and isinstance(key, str) and value is not ABSENT:
                table[key.lower()] = value

    # ------------------------------------------------------------------ effects

    def expression_effects(self, node: Node, frame: _Frame, src: bytes) -> None:
        """Commands and ShouldProcess calls anywhere in an expression (not inside script blocks)."""
        for n in _walk_no_blocks(node):
            if n.type == "command":
                self.command(n, frame, src)
            elif n.type == "invokation_expression" and re.search(
                r"\.\s*ShouldProcess\s*\(", _text(n, src), re.I
            ):
                args = next((c for c in n.named_children if c.type == "argument_list"), None)
                values = [
                    self.eval(a, frame, src)
                    for a in (_argument_nodes(args) if args is not None else [])
                ]
                if not any(_has_absent(v) for v in values):
                    names = ("target", "action")[: len(values)]
                    self.out.append(
                        Change(
                            self.step,
                            "ShouldProcess",
                            tuple(zip(names, (_show(v) for v in values), strict=True)),
                        )
                    )

    def command(self, node: Node, frame: _Frame, src: bytes) -> None:
        name_node = node.child_by_field_name("command_name")
        if name_node is None:
            return
        name = _text(name_node, src)
        low = name.lower()
        named, splat = self.arguments(node, frame, src)
        if low in self.functions:
            self.call_function(low, named, splat, frame)
            return
        if not low.startswith(CHANGE_VERBS) or low in NOT_CHANGES:
            return
        params: dict[str, Value] = {}
        for table in splat:
            for k, v in table.items():
                params[k.lower()] = v
        for k, v in named:
            params[k.lower()] = v
        if any(_has_absent(v) for v in params.values()):
            return
        what = name if frame.gated else f"UNGATED {name}"
        self.out.append(
            Change(self.step, what, tuple(sorted((k, _show(v)) for k, v in params.items())))
        )

    def arguments(
        self, node: Node, frame: _Frame, src: bytes
    ) -> tuple[list[tuple[str, Value]], list[dict[str, Value]]]:
        named: list[tuple[str, Value]] = []
        splats: list[dict[str, Value]] = []
        elements = node.child_by_field_name("command_elements")
        if elements is None:
            return named, splats
        items: list[tuple[Node, bool]] = []
        colon = False
        for c in elements.children:
            if c.type == "command_argument_sep":
                colon = any(x.type == ":" for x in c.children)
                continue
            items.append((c, colon))
            colon = False
        i = 0
        while i < len(items):
            c, _ = items[i]
            text = _text(c, src).strip()
            if c.type == "command_parameter":
                pname = text[1:].rstrip(":")
                value: Value = "$true"
                if i + 1 < len(items) and (
                    items[i + 1][1]
                    or (items[i + 1][0].type != "command_parameter" and not _is_switch(pname))
                ):
                    value = self.eval(items[i + 1][0], frame, src)
                    i += 1
                named.append((pname, value))
            elif re.fullmatch(r"@\w+", text):
                table = frame.env.get(text[1:].lower())
                splats.append(dict(table) if isinstance(table, dict) else {"@": RUNTIME})
            i += 1
        return named, splats

    def call_function(
        self,
        name: str,
        named: list[tuple[str, Value]],
        splats: list[dict[str, Value]],
        frame: _Frame,
    ) -> None:
        if self.depth > 20:
            return
        fnode, fsrc = self.functions[name]
        params = _parameters(fnode, fsrc)
        bound: dict[str, Value] = {}
        for table in splats:
            for k, v in table.items():
                bound[_match(k, params)] = v
        for k, v in named:
            bound[_match(k, params)] = v
        env: dict[str, Value] = {}
        for pname, (default, switch) in params.items():
            if pname in bound:
                env[pname] = bound[pname]
            elif switch:
                env[pname] = "$false"
            elif default is not None:
                value = self.eval(default, _Frame({}), fsrc)
                # A $null default marks an optional value the step may leave out.
                env[pname] = ABSENT if value == "$null" else value
            else:
                env[pname] = ABSENT
        body = next(c for c in fnode.named_children if c.type == "script_block")
        self.depth += 1
        try:
            self.block(body, _Frame(env, frame.gated), fsrc)
        finally:
            self.depth -= 1

    # ------------------------------------------------------------------ values

    def eval(self, node: Node, frame: _Frame, src: bytes) -> Value:
        node = _unwrap(node)
        kind = _kind(node)
        text = _text(node, src)
        if kind == "string_literal":
            inner = node.named_children[0] if node.named_child_count else None
            if inner is not None and inner.type == "verbatim_string_characters":
                return re.sub(r"(['\u2018\u2019\u201a\u201b])\1", r"\1", text[1:-1])
            if (
                inner is not None
                and inner.type == "expandable_string_literal"
                and inner.named_child_count == 0
                and "`" not in text
            ):
                return text[1:-1]
            return RUNTIME
        if kind in {"integer_literal", "decimal_integer_literal", "generic_token"}:
            return text
        if kind == "variable":
            name = text[1:].lower()
            if name in {"true", "false", "null"}:
                return "$" + name
            if name in frame.env:
                return frame.env[name]
            if name in self.symbols:
                return text
            return RUNTIME
        if kind == "member_access" and node.named_child_count == 2:
            target = self.eval(node.named_children[0], frame, src)
            member = _text(node.named_children[1], src).lower()
            if isinstance(target, dict):
                return target.get(member, RUNTIME)
            return ABSENT if target is ABSENT else RUNTIME
        if kind == "parenthesized_expression":
            inner_nodes = node.named_children
            return self.eval(inner_nodes[0], frame, src) if inner_nodes else RUNTIME
        if kind == "array_expression":
            inner_nodes = node.named_children
            if not inner_nodes:
                return ()
            value = self.eval(inner_nodes[0], frame, src)
            if isinstance(value, tuple) or value is RUNTIME or value is ABSENT:
                return value
            return (value,)
        if kind == "array_literal_expression":
            return tuple(self.eval(c, frame, src) for c in node.named_children)
        if kind == "cast_expression":
            return self.eval(node.named_children[-1], frame, src)
        if kind == "hash_literal_expression":
            table: dict[str, Value] = {}
            for entry in _hash_entries(node):
                key = next(c for c in entry.named_children if c.type == "key_expression")
                table[_text(key, src).strip().strip("'").lower()] = self.eval(
                    entry.named_children[-1], frame, src
                )
            return table
        if kind == "additive_expression" and node.named_child_count == 2:
            left = self.eval(node.named_children[0], frame, src)
            right = self.eval(node.named_children[1], frame, src)
            if "+" not in {c.type for c in node.children}:
                return RUNTIME
            if left is ABSENT or right is ABSENT:
                return ABSENT
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            return RUNTIME
        if kind == "comparison_expression" and node.named_child_count == 3:
            op = _text(node.named_children[1], src).lower()
            left = self.eval(node.named_children[0], frame, src)
            right = self.eval(node.named_children[2], frame, src)
            if op == "-join" and isinstance(right, str):
                if left is ABSENT:
                    return ABSENT
                if isinstance(left, str):
                    return left
                if isinstance(left, tuple) and all(isinstance(v, str) for v in left):
                    return right.join(str(v) for v in left)
            return RUNTIME
        return RUNTIME


def _argument_nodes(args: Node) -> list[Node]:
    out = []
    for n in args.named_children:
        if n.type == "argument_expression_list":
            out.extend(x for x in n.named_children if x.type == "argument_expression")
    return out


def _hash_entries(node: Node) -> Iterator[Node]:
    for body in (c for c in node.named_children if c.type == "hash_literal_body"):
        yield from (c for c in body.named_children if c.type == "hash_entry")


def _walk_no_blocks(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in {"script_block_expression", "script_block", "sub_expression"}:
            continue
        yield n
        stack.extend(reversed(n.children))


_SWITCHES = {"custom", "force", "dnsonly", "all", "confirmobserved", "explicit", "frontend"}


def _is_switch(pname: str) -> bool:
    return pname.lower() in _SWITCHES


def _parameters(fnode: Node, src: bytes) -> dict[str, tuple[Node | None, bool]]:
    """Parameter (lower case) -> (default node or None, is a switch)."""
    out: dict[str, tuple[Node | None, bool]] = {}
    for m in _walk_no_blocks_function(fnode):
        if m.type != "script_parameter":
            continue
        var = next(c for c in m.children if c.type == "variable")
        default = next((c for c in m.children if c.type == "script_parameter_default"), None)
        switch = bool(re.search(r"\[\s*switch\s*\]", _text(m, src), re.I))
        out[_text(var, src)[1:].lower()] = (
            default.named_children[-1] if default is not None else None,
            switch,
        )
    return out


def _walk_no_blocks_function(fnode: Node) -> Iterator[Node]:
    body = next(c for c in fnode.named_children if c.type == "script_block")
    params = next((c for c in body.named_children if c.type == "param_block"), None)
    if params is None:
        return
    stack = [params]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _match(written: str, params: dict[str, tuple[Node | None, bool]]) -> str:
    low = written.lower()
    if low in params:
        return low
    hits = [p for p in params if p.startswith(low)]
    return hits[0] if len(hits) == 1 else low


def _step_id(cond: Node, src: bytes) -> str | None:
    m = re.search(r"Test-RunStep\s+(?:-Id\s+)?'((?:[^']|'')*)'", _text(cond, src))
    return m.group(1).replace("''", "'") if m else None


def changes(runbook: str, helper: str | None = None) -> list[Change]:
    """Every change each step of ``runbook`` would make, in step order (sorted inside a step)."""
    root, src = parse(runbook)
    functions: dict[str, tuple[Node, bytes]] = {}
    if helper is not None:
        hroot, hsrc = parse(helper)
        for name, f in function_definitions(helper).items():
            functions[name] = (_same_node(hroot, f.node), hsrc)
    for name, f in function_definitions(runbook).items():
        functions.setdefault(name, (_same_node(root, f.node), src))
    symbols = set()
    for n in root.named_children:
        for m in _walk_no_blocks(n):
            if m.type == "script_parameter":
                var = next(c for c in m.children if c.type == "variable")
                symbols.add(_text(var, src)[1:].lower())
    reader = _Reader(src, functions, symbols)
    result: list[Change] = []
    for node in _steps(root):
        cond = next(c for c in node.named_children if c.type == "pipeline")
        step = _step_id(cond, src)
        if step is None:
            continue
        reader.step = step
        reader.out = []
        body = next(c for c in node.named_children if c.type == "statement_block")
        reader.block(body, _Frame({}), src)
        result.extend(sorted(reader.out))
    return result


def _same_node(root: Node, node: Node) -> Node:
    """The node at the same place in ``root`` (function_definitions parses its own tree)."""
    found = root.descendant_for_byte_range(node.start_byte, node.end_byte)
    while found is not None and found.type != node.type:
        found = found.parent
    assert found is not None
    return found


def _steps(root: Node) -> Iterator[Node]:
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type == "if_statement":
            cond = next((c for c in n.named_children if c.type == "pipeline"), None)
            if cond is not None and "Test-RunStep" in cond.text.decode("utf-8", "replace"):
                yield n
                continue
        if n.type == "function_statement":
            continue
        stack.extend(reversed(n.children))


# --------------------------------------------------------------------------- frozen plan steps

FROZEN_STEPS = "steps.json"
"""Beside the frozen runbooks: the steps they were rendered from (see :func:`steps_document`)."""


def steps_document(calls: list[tuple[RunbookContext, list[Step]]]) -> dict[str, Any]:
    """The steps of each ``write_runbooks`` call, as JSON data (frozen with the runbooks they gave).

    Freezing the steps with the old output makes the comparison a test of the
    rendering only: the planner may change later without touching it.
    """
    return {
        "calls": [
            {
                "context": dataclasses.asdict(context),
                "steps": [_step_data(s) for s in steps],
            }
            for context, steps in calls
        ]
    }


def _step_data(step: Step) -> dict[str, Any]:
    data = {f.name: getattr(step, f.name) for f in dataclasses.fields(step)}
    for key in ("phase", "owner", "runs_in"):
        data[key] = data[key].value
    data["prerequisites"] = list(step.prerequisites)
    if step.window_share is None:
        del data["window_share"]  # added after the steps were frozen: absent means None
    # Added after the steps were frozen (hybrid public folders, cut-over kinds): absent means the default.
    for key, default in (("fresh_window", False), ("window_minutes", 0), ("cutover", "")):
        if data[key] == default:
            del data[key]
    if step.action is not None:
        data["action"] = {"kind": step.action.kind, "params": dict(step.action.params)}
    return data


def steps_from_document(doc: dict[str, Any]) -> list[tuple[RunbookContext, list[Step]]]:
    """The ``write_runbooks`` calls a frozen document describes."""
    out = []
    for call in doc["calls"]:
        steps = []
        for data in call["steps"]:
            fields = dict(data)
            fields["phase"] = Phase(fields["phase"])
            fields["owner"] = Owner(fields["owner"])
            fields["runs_in"] = RunsIn(fields["runs_in"])
            fields["prerequisites"] = tuple(fields["prerequisites"])
            if fields.get("window_share") is not None:
                fields["window_share"] = tuple(fields["window_share"])
            action = fields["action"]
            fields["action"] = None if action is None else Action(action["kind"], action["params"])
            steps.append(Step(**fields))
        out.append((RunbookContext(**call["context"]), steps))
    return out


def contoso_write_calls(root: Path) -> list[tuple[RunbookContext, list[Step]]]:
    """The ``write_runbooks`` calls ``migrator plan inventories/contoso`` makes (as pipeline.py does)."""
    from migrator.pipeline import build_plan, check_path
    from migrator.plan.relay_steps import relay_rollback_steps

    here = Path.cwd()
    os.chdir(root)
    try:
        analysis = check_path(Path("inventories/contoso"))
    finally:
        os.chdir(here)
    plan = build_plan(analysis)
    inv = analysis.inventory
    context = RunbookContext(
        inv.organisation, plan.plan_date.isoformat(), inv.policy.domain_controller
    )
    calls = [
        (context, list(plan.steps)),
        (context, relay_rollback_steps(inv, analysis.relay)),
    ]
    if analysis.onward_relay is not None:
        calls.append((context, relay_rollback_steps(inv, analysis.onward_relay, Phase.ONWARD)))
    return calls
