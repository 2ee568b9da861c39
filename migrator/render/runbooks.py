"""Render plan steps into PowerShell runbooks (UTF-8 with BOM, CRLF), with the helper file of each folder.

A runbook is a frame (``templates/powershell/runbook.ps1.j2``: CmdletBinding
with SupportsShouldProcess, strict mode, the helper's version and SHA-256
check, dot-sourcing of the helper, ``-From``/``-Only``) and one section per
step (``steps.ps1.j2``, one render for all the sections of a runbook): its region
comment and its body, rendered by the action's own template
``templates/powershell/steps/<kind>.ps1.j2``: a hashtable of its data and one call
of a helper function. Steps without an action are manual: the section prints the
instructions and stops the script (``manual-stop.ps1.j2``).

The helper functions are written once, in ``templates/powershell/Migrator.Runbook.ps1``.
Each runbook folder (``runbooks/20-relay/`` ...) gets its own
``Migrator.Runbook.ps1``: that file's header and the functions the folder's
runbooks call (the frame's, :data:`_FRAME_CALLS`, and those named in the step
bodies), with every function those call, in the source's order
(:func:`folder_helper`). So a folder's helper holds only what its runbooks can
run, and an admin reviews the few hundred lines that matter to a phase;
docs/runbooks.md describes it.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrator import __version__
from migrator.fileio import atomic_write_bytes, atomic_write_many, windows_text
from migrator.plan.steps import Owner, RunsIn, Step
from migrator.render.templating import ps_block, render, render_plain, templates_dir
from migrator.wording import examples

HELPER_NAME = "Migrator.Runbook.ps1"
"""File name of the helper source (templates/powershell) and of each runbook folder's helper."""
RUNBOOKS_FOLDER = "runbooks"
"""Folder (relative to the output folder) that every runbook path starts with."""


@dataclass(frozen=True)
class Helper:
    """The helper file as written: its bytes, version and SHA-256 (upper-case hex, as .NET prints it)."""

    data: bytes
    version: str
    sha256: str


def _encode(text: str) -> Helper:
    found = re.search(r"^# Version: (\S+)$", text, re.M)
    if found is None:
        raise ValueError(f"{HELPER_NAME} has no '# Version: ...' line")
    data = windows_text(text)
    return Helper(data, found.group(1), hashlib.sha256(data).hexdigest().upper())


@functools.cache
def helper() -> Helper:
    """The whole helper source, every function (the folder helpers are parts of it), encoded as written."""
    return _encode(_helper_source())


@functools.cache
def _helper_source() -> str:
    return (templates_dir() / "powershell" / HELPER_NAME).read_text(encoding="utf-8")


@dataclass(frozen=True)
class _Chunk:
    """A piece of the helper source: a section rule (``name`` None) or a function with its leading comment."""

    name: str | None
    text: str
    calls: frozenset[str]


_FUNCTION = re.compile(r"^function ([A-Za-z]+-[A-Za-z0-9]+) \{$")


@functools.cache
def _helper_chunks() -> tuple[str, tuple[_Chunk, ...]]:
    return parse_helper(_helper_source())


def parse_helper(source: str) -> tuple[str, tuple[_Chunk, ...]]:
    """The helper source's header (up to its first section rule) and its chunks, in order.

    A function starts at ``function Verb-Noun {`` in column 0 (with the comment
    lines right above it) and ends at the next ``}`` in column 0; a line
    ``# ---...`` starts a section. Anything else between functions is an error,
    so no code outside a function can be left out of a folder's helper unseen.
    """
    lines = source.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("# ---")), len(lines))
    header = "\n".join(lines[:first]).rstrip("\n") + "\n"
    raw: list[tuple[str | None, list[str]]] = []
    pending: list[str] = []
    i = first
    while i < len(lines):
        line = lines[i]
        found = _FUNCTION.match(line)
        if line.startswith("# ---"):
            if pending:
                raise ValueError(
                    f"{HELPER_NAME} line {i + 1}: a comment that belongs to no function"
                )
            raw.append((None, [line]))
        elif found:
            end = next((j for j in range(i, len(lines)) if lines[j] == "}"), -1)
            if end < 0:
                raise ValueError(
                    f"{HELPER_NAME} line {i + 1}: function {found.group(1)} has no '}}' in column 0"
                )
            raw.append((found.group(1), [*pending, *lines[i : end + 1]]))
            pending = []
            i = end
        elif line.startswith("#"):
            pending.append(line)
        elif line.strip():
            raise ValueError(f"{HELPER_NAME} line {i + 1}: code outside a function: {line!r}")
        i += 1
    names = {name for name, _ in raw if name}
    chunks = tuple(
        _Chunk(name, "\n".join(body) + "\n", _calls_in("\n".join(body[1:]), names) - {name})
        for name, body in raw
    )
    return header, chunks


_WORD = re.compile(r"(?<![\w-])[A-Za-z]+-[A-Za-z0-9]+(?![\w-])")
"""A helper function's name as a word: neither a word character nor ``-`` on either side."""
_NOT_WORD_BYTES = bytes(
    b if not chr(b).isascii() or chr(b).isalnum() or chr(b) in "_-" else ord(" ")
    for b in range(256)
)
"""UTF-8 bytes -> a space for each ASCII byte that is not a word character or ``-``."""


def _calls_in(text: str, names: Iterable[str]) -> frozenset[str]:
    """The helper functions whose name appears in ``text`` as a word (a command or a mention).

    The text's runs of word characters and ``-`` are cut at every other ASCII character in
    one pass over its bytes (runbooks run to megabytes); a run holding a non-ASCII character
    is searched as text, since some of those are word characters and some are not.
    """
    runs = set(text.encode("utf-8", "surrogatepass").translate(_NOT_WORD_BYTES).split())
    words: set[str] = set()
    for run in runs:
        if run.isascii():
            words.add(run.decode("ascii"))
        else:
            words.update(_WORD.findall(run.decode("utf-8", "surrogatepass")))
    return frozenset(n for n in names if n in words)


def helper_functions() -> frozenset[str]:
    """Names of every function of the helper source."""
    return frozenset(c.name for c in _helper_chunks()[1] if c.name)


def folder_helper(called: Iterable[str]) -> Helper:
    """The helper for runbooks that call ``called``: the header, those functions and all they call."""
    return _folder_helper(frozenset(called) & helper_functions())


@functools.cache
def _folder_helper(called: frozenset[str]) -> Helper:
    header, chunks = _helper_chunks()
    by_name = {c.name: c for c in chunks if c.name}
    keep: set[str] = set()
    todo = list(called)
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo.extend(by_name[name].calls)
    parts = [header]
    section: str | None = None
    for chunk in chunks:
        if chunk.name is None:
            section = chunk.text
        elif chunk.name in keep:
            # A blank line before each section rule and between functions, as in the source.
            parts.append("\n" if section is None else "\n" + section)
            section = None
            parts.append(chunk.text)
    return _encode("".join(parts))


def helper_path(runbook: str) -> str:
    """Path of a runbook's helper relative to the runbook: the one in its own folder."""
    return HELPER_NAME


@dataclass(frozen=True)
class RunbookContext:
    """What every runbook frame shows besides its steps."""

    organisation: str
    """Organisation name."""
    plan_date: str
    """The plan's date (an input, never the clock)."""
    domain_controller: str = ""
    """Default for the ``-DomainController`` parameter."""


_PARAMETER_TYPES = {"int": "int", "string": "string", "switch": "switch"}


def runbook_parameters(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """Extra script parameters the steps' actions declare (``params["runbook_parameters"]``).

    Each is a dict with ``name`` (a PowerShell identifier), ``type`` (``int``,
    ``string`` or ``switch``), ``help`` and, except for switches, ``default``.
    The first declaration of a name wins; a second one with another type is an error.
    """
    out: dict[str, dict[str, Any]] = {}
    for step in steps:
        if step.action is None:
            continue
        for decl in step.action.params.get("runbook_parameters", ()):
            name = str(decl["name"])
            kind = str(decl["type"])
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name) or kind not in _PARAMETER_TYPES:
                raise ValueError(f"step '{step.id}' declares an invalid runbook parameter {decl!r}")
            if name.lower() in _FRAME_PARAMETERS:
                raise ValueError(f"step '{step.id}' redeclares the frame parameter '{name}'")
            seen = out.get(name.lower())
            if seen is not None and seen["type"] != kind:
                raise ValueError(
                    f"runbook parameter '{name}' is declared as {seen['type']} and {kind}"
                )
            out.setdefault(name.lower(), dict(decl))
    return list(out.values())


_FRAME_PARAMETERS = {"domaincontroller", "from", "only", "logdirectory"}


def _sections(steps: Sequence[Step]) -> tuple[str, frozenset[str]]:
    """The step sections of a runbook in run order, each ending in a newline but the last, and the
    helper functions the runbook calls (:func:`_frame_calls` and the names its step bodies write).

    One render frames all the sections; each step's body is its action template's
    render (or the manual stop's). Only the bodies are searched for helper names: they
    are a sixth of the text (the comments, titles and instructions are the rest), and
    searching all of it took a second at 300,000 users (issue 18).
    """
    if not steps:
        return "", _frame_calls(steps)
    rows, bodies = _rows(steps)
    text = render("powershell/steps.ps1.j2", rows=rows).removesuffix("\n")
    return text, _calls_in("\n".join(bodies), helper_functions()) | _frame_calls(steps)


_OWNERS = {o: o.value for o in Owner}
_RUNS_IN = {r: (r.value, r.powershell_2) for r in RunsIn}


def _rows(steps: Sequence[Step]) -> tuple[list[tuple[Any, ...]], list[str]]:
    """What steps.ps1.j2 shows of each step, as the tuple it unpacks (its names, in order), and the
    steps' bodies: the action template's render indented into the step's ``if`` (``psblock``), or,
    for a step without an action or whose action writes nothing, the manual stop's."""
    here = {s.id for s in steps}
    rows = []
    bodies = []
    last = len(steps) - 1
    for i, step in enumerate(steps):
        following = steps[i + 1] if i < last else None
        action = step.action
        runs_in, powershell2 = _RUNS_IN[step.runs_in]
        body = ""
        if action is not None:
            template = f"powershell/steps/{action.kind}.ps1.j2"
            body = ps_block(
                render_plain(template, p=action.params, step=step, powershell2=powershell2)
            )
        if not body:
            next_id = "" if following is None else following.id
            first = _done_elsewhere(step, following, here)
            body = ps_block(render_plain(_MANUAL_STOP, id=step.id, next_id=next_id, first=first))
        bodies.append(body)
        rows.append(
            (
                step.id,
                step.title,
                step.target,
                _OWNERS[step.owner],
                runs_in,
                ", ".join(step.prerequisites),
                step.verification,
                step.rollback,
                step.reversible,
                step.instructions.splitlines(),
                body,
            )
        )
    return rows, bodies


_MANUAL_STOP = "powershell/manual-stop.ps1.j2"


def _done_elsewhere(step: Step, following: Step | None, here: set[str]) -> str:
    """What a manual stop names before ``-From <next>``: the next step's prerequisites that live in
    other runbooks and are not already prerequisites of this step (an operator who goes on with
    -From right away would otherwise skip a check another runbook holds)."""
    if following is None:
        return ""
    ids = [p for p in following.prerequisites if p not in here]
    if ids and step.prerequisites:  # a set: both lists can run to hundreds of ids
        mine = set(step.prerequisites)
        ids = [p for p in ids if p not in mine]
    return examples(ids, 3, quoted=False) + (" (plan.json)" if len(ids) > 3 else "")


_FRAME_CALLS = ("Start-Runbook", "Test-RunStep")
"""Helper functions the frame calls (runbook.ps1.j2 and steps.ps1.j2, outside the step bodies): Start-Runbook
once, Test-RunStep once per step. A test holds this list to the frame templates' text."""


def _frame_calls(steps: Sequence[Step]) -> frozenset[str]:
    return frozenset(_FRAME_CALLS if steps else _FRAME_CALLS[:1])


def render_runbook(
    title: str,
    steps: Sequence[Step],
    context: RunbookContext,
    log_name: str,
    runbook: str = "",
    helper_file: Helper | None = None,
) -> str:
    """Render one runbook holding ``steps`` in the given (run) order.

    ``runbook`` is its path relative to the output folder (default: the first
    step's). ``helper_file`` is the helper of its folder, whose version and
    hash it checks (default: the helper of this runbook alone).
    """
    sections, called = _sections(steps)
    return _frame(title, steps, context, log_name, sections, helper_file or folder_helper(called))


def _frame(
    title: str,
    steps: Sequence[Step],
    context: RunbookContext,
    log_name: str,
    sections: str,
    info: Helper,
) -> str:
    runs_in = sorted({s.runs_in.value for s in steps})
    return render(
        "powershell/runbook.ps1.j2",
        title=title,
        version=__version__,
        organisation=context.organisation,
        plan_date=context.plan_date,
        runs_in=", ".join(runs_in),
        powershell2=any(s.runs_in is RunsIn.EMS_2010 for s in steps),
        steps=steps,
        domain_controller=context.domain_controller,
        log_name=log_name,
        sections=sections,
        extra_parameters=runbook_parameters(steps),
        helper_path=HELPER_NAME,
        helper_version=info.version,
        helper_sha256=info.sha256,
    )


def group_by_runbook(steps: Iterable[Step]) -> dict[str, list[Step]]:
    """Steps grouped by their ``runbook`` path, keeping run order inside each group."""
    groups: dict[str, list[Step]] = {}
    for step in steps:
        if step.runbook:
            groups.setdefault(step.runbook, []).append(step)
    return groups


def write_helper(folder: Path, info: Helper) -> Path:
    """Write a folder's helper file (skipped when the same bytes are there); return its path."""
    path = folder / HELPER_NAME
    if not (path.is_file() and path.read_bytes() == info.data):
        atomic_write_bytes(path, info.data)
    return path


def write_runbooks(steps: Sequence[Step], out_dir: Path, context: RunbookContext) -> list[Path]:
    """Write every runbook the steps name below ``out_dir``, and each folder's helper they dot-source.

    Returns the runbook paths written, sorted (the helpers are not among them).
    A folder's helper holds the functions all its runbooks call, so all the
    runbooks of a folder are written by one call: a folder whose helper is there
    already with other bytes (an earlier call wrote other runbooks into it, whose
    pinned hash this call would break) is an error, and nothing is written.
    """
    groups = sorted(group_by_runbook(steps).items())
    sections: dict[str, str] = {}
    called: dict[str, set[str]] = {}
    for rel, group in groups:
        if not rel.startswith(RUNBOOKS_FOLDER + "/"):
            raise ValueError(f"runbook path '{rel}' is not below {RUNBOOKS_FOLDER}/")
        if Path(rel).name == HELPER_NAME:
            raise ValueError(f"runbook path '{rel}' is the name of the helper file")
        sections[rel], calls = _sections(group)
        called.setdefault(posixpath.dirname(rel), set()).update(calls)
    helpers = {folder: folder_helper(names) for folder, names in called.items()}
    for folder, info in sorted(helpers.items()):
        there = out_dir / folder / HELPER_NAME
        if there.is_file() and there.read_bytes() != info.data:
            raise ValueError(
                f"{folder}/{HELPER_NAME} was written by an earlier call for other runbooks: "
                "write every runbook of a folder in one call (their helper holds what all of them call)"
            )
    written = [out_dir / rel for rel, _group in groups]

    def files() -> Iterator[tuple[Path, bytes]]:
        # Each file is made when its group is written: a group's bytes in memory at a time.
        for rel, group in groups:
            title = f"{Path(rel).stem}: {len(group)} step(s) of the {group[0].phase.value} phase"
            info = helpers[posixpath.dirname(rel)]
            text = _frame(title, group, context, Path(rel).stem, sections.pop(rel), info)
            yield out_dir / rel, windows_text(text)

    atomic_write_many(files())
    for folder, info in sorted(helpers.items()):
        write_helper(out_dir / folder, info)
    return written
