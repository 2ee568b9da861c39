"""The plan's graph as text: Graphviz DOT and Mermaid (phases as clusters, critical path highlighted).

Both are pure Python; PNG needs Graphviz's ``dot`` program, used only where
it is installed.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from dataclasses import dataclass

from migrator.errors import MigratorError
from migrator.plan.steps import MigrationPlan, Phase
from migrator.render.templating import render


@dataclass(frozen=True)
class _Node:
    id: str
    label: str
    critical: bool


@dataclass(frozen=True)
class _Edge:
    source: str
    target: str
    critical: bool


@dataclass(frozen=True)
class _Cluster:
    name: str
    label: str
    nodes: tuple[_Node, ...]


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _mermaid_escape(text: str) -> str:
    # Mermaid labels are quoted; entity codes keep quotes and markup characters literal.
    return (
        text.replace("#", "#35;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("\n", " ")
    )


def _critical_pairs(plan: MigrationPlan) -> set[tuple[str, str]]:
    path = plan.critical_path
    return set(itertools.pairwise(path))


def _label(plan: MigrationPlan, step_id: str) -> str:
    step = plan.step(step_id)
    wait = f" + wait {step.wait_minutes} min" if step.wait_minutes else ""
    return f"{step.id}\n{step.duration_minutes} min{wait}"


def render_dot(plan: MigrationPlan) -> str:
    """Graphviz DOT text of the plan."""
    critical = set(plan.critical_path)
    pairs = _critical_pairs(plan)
    clusters = []
    for phase in Phase:
        nodes = tuple(
            _Node(_dot_escape(s.id), _dot_escape(_label(plan, s.id)), s.id in critical)
            for s in plan.steps
            if s.phase is phase
        )
        if nodes:
            clusters.append(_Cluster(phase.value, f"{phase.number} {phase.value}", nodes))
    edges = [
        _Edge(_dot_escape(pre), _dot_escape(s.id), (pre, s.id) in pairs)
        for s in plan.steps
        for pre in s.prerequisites
    ]
    title = _dot_escape(f"{plan.organisation}: migration plan from {plan.plan_date.isoformat()}")
    return render("graph/plan.dot.j2", title=title, clusters=clusters, edges=edges)


def render_mermaid(plan: MigrationPlan) -> str:
    """Mermaid flowchart text of the plan (node ids are ``s<run position>``)."""
    critical = set(plan.critical_path)
    pairs = _critical_pairs(plan)
    key = {s.id: f"s{n}" for n, s in enumerate(plan.steps)}
    clusters = []
    for phase in Phase:
        nodes = tuple(
            _Node(key[s.id], _mermaid_escape(_label(plan, s.id)), s.id in critical)
            for s in plan.steps
            if s.phase is phase
        )
        if nodes:
            clusters.append(_Cluster(phase.value, f"{phase.number} {phase.value}", nodes))
    edges = [
        _Edge(key[pre], key[s.id], (pre, s.id) in pairs)
        for s in plan.steps
        for pre in s.prerequisites
    ]
    return render(
        "graph/plan.mmd.j2",
        clusters=clusters,
        edges=edges,
        critical_nodes=[key[i] for i in plan.critical_path],
        critical_edges=[n for n, e in enumerate(edges) if e.critical],
    )


def render_png(dot_text: str) -> bytes:
    """PNG bytes of DOT text, through Graphviz's ``dot`` (a clear error where it is missing)."""
    dot = shutil.which("dot")
    if dot is None:
        raise MigratorError(
            "--format png needs the 'dot' program of graphviz, which is not installed; "
            "install it (apt-get install graphviz, brew install graphviz, or "
            "https://graphviz.org/download/) or use --format dot or --format mermaid"
        )
    result = subprocess.run(
        [dot, "-Tpng"], input=dot_text.encode("utf-8"), capture_output=True, check=False
    )
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise MigratorError(f"graphviz 'dot' failed (exit {result.returncode}): {message}")
    return result.stdout
