"""Render plan steps into PowerShell runbooks (UTF-8 with BOM, CRLF), with their one helper file.

A runbook is a frame (``templates/powershell/runbook.ps1.j2``: CmdletBinding
with SupportsShouldProcess, strict mode, the helper's version and SHA-256
check, dot-sourcing of the helper, ``-From``/``-Only``) and one section per
step (``step.ps1.j2``): its region comment and, from the action's own template
``templates/powershell/steps/<kind>.ps1.j2``, a hashtable of its data and one
call of a helper function. Steps without an action are manual: the section
prints the instructions and stops the script.

The helper (``templates/powershell/Migrator.Runbook.ps1``, static) is written
once per plan folder as ``runbooks/Migrator.Runbook.ps1``; docs/runbooks.md
describes it.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrator import __version__
from migrator.fileio import atomic_write_bytes, windows_text, write_windows_text
from migrator.plan.steps import RunsIn, Step
from migrator.render.templating import render, templates_dir

HELPER_NAME = "Migrator.Runbook.ps1"
"""File name of the helper, written in the plan's ``runbooks`` folder."""
RUNBOOKS_FOLDER = "runbooks"
"""Folder (relative to the output folder) that every runbook path starts with."""


@dataclass(frozen=True)
class Helper:
    """The helper file as written: its bytes, version and SHA-256 (upper-case hex, as .NET prints it)."""

    data: bytes
    version: str
    sha256: str


@functools.cache
def helper() -> Helper:
    """The helper file every runbook dot-sources, encoded as written (UTF-8 with BOM, CRLF)."""
    text = (templates_dir() / "powershell" / HELPER_NAME).read_text(encoding="utf-8")
    found = re.search(r"^# Version: (\S+)$", text, re.M)
    if found is None:
        raise ValueError(f"{HELPER_NAME} has no '# Version: ...' line")
    data = windows_text(text)
    return Helper(data, found.group(1), hashlib.sha256(data).hexdigest().upper())


def helper_path(runbook: str) -> str:
    """Path of the helper relative to a runbook's folder, Windows style (``..\\Migrator.Runbook.ps1``)."""
    folder = posixpath.dirname(runbook) or "."
    rel = posixpath.relpath(posixpath.join(RUNBOOKS_FOLDER, HELPER_NAME), folder)
    return rel.replace("/", "\\")


@dataclass(frozen=True)
class RunbookContext:
    """What every runbook frame shows besides its steps."""

    organisation: str
    """Organisation name."""
    plan_date: str
    """The plan's date (an input, never the clock)."""
    domain_controller: str = ""
    """Default for the ``-DomainController`` parameter."""


def _indent(text: str, spaces: int = 8) -> str:
    pad = " " * spaces
    return "\n".join((pad + line) if line.strip() else "" for line in text.strip("\n").splitlines())


def render_step_body(step: Step) -> str:
    """The PowerShell body of one step's action (empty for manual steps)."""
    if step.action is None:
        return ""
    body = render(
        f"powershell/steps/{step.action.kind}.ps1.j2",
        step=step,
        p=step.action.params,
        powershell2=step.runs_in.powershell_2,
    )
    return _indent(body)


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


def render_runbook(
    title: str,
    steps: Sequence[Step],
    context: RunbookContext,
    log_name: str,
    runbook: str = "",
) -> str:
    """Render one runbook holding ``steps`` in the given (run) order.

    ``runbook`` is its path relative to the output folder (default: the first
    step's), which places the helper relative to it.
    """
    where = runbook or (steps[0].runbook if steps else "") or f"{RUNBOOKS_FOLDER}/x.ps1"
    info = helper()
    runs_in = sorted({s.runs_in.value for s in steps})
    sections = []
    for i, step in enumerate(steps):
        next_id = steps[i + 1].id if i + 1 < len(steps) else ""
        sections.append(
            render(
                "powershell/step.ps1.j2", step=step, body=render_step_body(step), next_id=next_id
            ).rstrip("\n")
        )
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
        helper_path=helper_path(where),
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


def write_helper(out_dir: Path) -> Path:
    """Write the helper file into ``out_dir/runbooks`` (the same bytes every time); return its path."""
    path = out_dir / RUNBOOKS_FOLDER / HELPER_NAME
    atomic_write_bytes(path, helper().data)
    return path


def write_runbooks(steps: Sequence[Step], out_dir: Path, context: RunbookContext) -> list[Path]:
    """Write every runbook the steps name below ``out_dir``, and the helper they dot-source.

    Returns the runbook paths written, sorted (the helper is not among them).
    """
    written: list[Path] = []
    for rel, group in sorted(group_by_runbook(steps).items()):
        if not rel.startswith(RUNBOOKS_FOLDER + "/"):
            raise ValueError(f"runbook path '{rel}' is not below {RUNBOOKS_FOLDER}/")
        path = out_dir / rel
        title = f"{Path(rel).stem}: {len(group)} step(s) of the {group[0].phase.value} phase"
        text = render_runbook(title, group, context, log_name=Path(rel).stem, runbook=rel)
        write_windows_text(path, text)
        written.append(path)
    if written:
        write_helper(out_dir)
    return written
