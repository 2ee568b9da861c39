"""Pure-Python SVG pictures of a plan: the dependency graph and the schedule (Gantt).

No Graphviz needed: a ``pip install`` is enough. The graph is laid out in
horizontal bands, one per phase (the clusters); inside a band a step's
column is its depth in the graph, so every edge runs left to right. Above
:data:`DETAIL_LIMIT` steps the graph is summarised per phase and wave, so a
100,000-step plan stays a picture a person can read and a file of sane size.

Output is a list of plain shapes (dataclasses); the HTML template writes the
SVG elements, so every text passes through Jinja2's autoescaping.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from migrator.model import MaintenanceWindow
from migrator.plan.steps import MigrationPlan, Phase

DETAIL_LIMIT = 300
"""Above this many steps the graph and the Gantt are summarised per phase and wave."""

NODE_W = 190
NODE_H = 34
COL_GAP = 40
ROW_GAP = 12
BAND_PAD = 16
LABEL_W = 120


@dataclass(frozen=True)
class Node:
    """A box in the graph picture."""

    key: str
    """Step id, or ``phase/wave`` for a summary node."""
    label: str
    """First text line (the step id, or the group)."""
    sublabel: str
    """Second text line (title or count)."""
    x: int
    """Left edge."""
    y: int
    """Top edge."""
    critical: bool
    """On the critical path (drawn thicker and marked in text, not by colour alone)."""
    href: str
    """Link target inside the report (``#step-<id>``), or a phase section."""
    phase: str
    """Phase value, for the CSS class."""


@dataclass(frozen=True)
class Edge:
    """A line from a prerequisite to its dependent."""

    x1: int
    """Start x (right edge of the prerequisite)."""
    y1: int
    """Start y."""
    x2: int
    """End x (left edge of the dependent)."""
    y2: int
    """End y."""
    critical: bool
    """Whether both ends are on the critical path."""


@dataclass(frozen=True)
class Band:
    """A phase cluster."""

    phase: str
    """Phase value."""
    y: int
    """Top edge."""
    height: int
    """Height."""


@dataclass(frozen=True)
class GraphPicture:
    """Everything needed to draw the graph."""

    width: int
    """Canvas width."""
    height: int
    """Canvas height."""
    bands: tuple[Band, ...]
    """Phase clusters."""
    nodes: tuple[Node, ...]
    """Boxes."""
    edges: tuple[Edge, ...]
    """Lines."""
    summarised: bool
    """True when nodes stand for phase/wave groups, not single steps."""


def _depths(plan: MigrationPlan) -> dict[str, int]:
    depth: dict[str, int] = {}
    for step in plan.steps:  # run order: prerequisites first
        depth[step.id] = 1 + max((depth[p] for p in step.prerequisites if p in depth), default=-1)
    return depth


def _direct_prerequisites(plan: MigrationPlan) -> dict[str, tuple[str, ...]]:
    """Each step's prerequisites less those another prerequisite already depends on.

    The transitive reduction: the picture draws one line per real ordering
    constraint, not every implied one. Ancestor sets are bit masks built in
    run order (prerequisites come first).
    """
    bit = {s.id: 1 << i for i, s in enumerate(plan.steps)}
    ancestors: dict[str, int] = {}
    direct: dict[str, tuple[str, ...]] = {}
    for step in plan.steps:
        prereqs = [p for p in step.prerequisites if p in bit]
        covered = 0
        for p in prereqs:
            covered |= ancestors[p]
        direct[step.id] = tuple(p for p in prereqs if not covered & bit[p])
        mask = 0
        for p in prereqs:
            mask |= ancestors[p] | bit[p]
        ancestors[step.id] = mask
    return direct


def graph_picture(plan: MigrationPlan, limit: int = DETAIL_LIMIT) -> GraphPicture:
    """Lay out the plan's dependency graph (summarised above ``limit`` steps)."""
    if len(plan.steps) > limit:
        return _summary_picture(plan)
    critical = set(plan.critical_path)
    depth = _depths(plan)
    phases = [p for p in Phase if any(s.phase is p for s in plan.steps)]
    pos: dict[str, tuple[int, int]] = {}
    bands: list[Band] = []
    y = 0
    max_x = 0
    for phase in phases:
        steps = [s for s in plan.steps if s.phase is phase]
        by_depth: dict[int, list[str]] = defaultdict(list)
        for s in steps:
            by_depth[depth[s.id]].append(s.id)
        rows = max(len(v) for v in by_depth.values())
        band_h = BAND_PAD * 2 + rows * NODE_H + (rows - 1) * ROW_GAP
        # Columns count from the phase's own first depth, so a long plan stays narrow;
        # inside a band every edge still runs left to right.
        column = {d: i for i, d in enumerate(sorted(by_depth))}
        for d, ids in by_depth.items():
            for i, sid in enumerate(ids):
                x = LABEL_W + column[d] * (NODE_W + COL_GAP)
                pos[sid] = (x, y + BAND_PAD + i * (NODE_H + ROW_GAP))
                max_x = max(max_x, x + NODE_W)
        bands.append(Band(phase.value, y, band_h))
        y += band_h + ROW_GAP
    nodes = tuple(
        Node(
            key=s.id,
            label=s.id,
            sublabel=s.title,
            x=pos[s.id][0],
            y=pos[s.id][1],
            critical=s.id in critical,
            href=f"#step-{s.id}",
            phase=s.phase.value,
        )
        for s in plan.steps
    )
    direct = _direct_prerequisites(plan)
    edges = tuple(
        Edge(
            pos[p][0] + NODE_W,
            pos[p][1] + NODE_H // 2,
            pos[s.id][0],
            pos[s.id][1] + NODE_H // 2,
            p in critical and s.id in critical,
        )
        for s in plan.steps
        for p in direct[s.id]
    )
    return GraphPicture(max_x + COL_GAP, max(y, NODE_H), tuple(bands), nodes, edges, False)


def _summary_picture(plan: MigrationPlan) -> GraphPicture:
    critical = set(plan.critical_path)
    groups: dict[tuple[Phase, int], list[str]] = defaultdict(list)
    group_of: dict[str, tuple[Phase, int]] = {}
    for s in plan.steps:
        key = (s.phase, plan.schedule[s.id].wave)
        groups[key].append(s.id)
        group_of[s.id] = key
    phases = [p for p in Phase if any(k[0] is p for k in groups)]
    waves = sorted({k[1] for k in groups})
    col = {w: i for i, w in enumerate(waves)}
    pos: dict[tuple[Phase, int], tuple[int, int]] = {}
    bands = []
    y = 0
    for phase in phases:
        band_h = BAND_PAD * 2 + NODE_H
        for key in groups:
            if key[0] is phase:
                pos[key] = (LABEL_W + col[key[1]] * (NODE_W + COL_GAP), y + BAND_PAD)
        bands.append(Band(phase.value, y, band_h))
        y += band_h + ROW_GAP
    nodes = tuple(
        Node(
            key=f"{k[0].value}/wave-{k[1]}",
            label=f"{k[0].value}, window/day {k[1]}",
            sublabel=f"{len(ids)} steps",
            x=pos[k][0],
            y=pos[k][1],
            critical=any(i in critical for i in ids),
            href=f"#phase-{k[0].value}",
            phase=k[0].value,
        )
        for k, ids in sorted(groups.items(), key=lambda kv: (kv[0][0].order, kv[0][1]))
    )
    links: set[tuple[tuple[Phase, int], tuple[Phase, int]]] = set()
    for s in plan.steps:
        for p in s.prerequisites:
            a, b = group_of.get(p), group_of[s.id]
            if a is not None and a != b:
                links.add((a, b))
    edges = tuple(
        Edge(pos[a][0] + NODE_W, pos[a][1] + NODE_H // 2, pos[b][0], pos[b][1] + NODE_H // 2, False)
        for a, b in sorted(
            links, key=lambda ab: (ab[0][0].order, ab[0][1], ab[1][0].order, ab[1][1])
        )
    )
    width = LABEL_W + len(waves) * (NODE_W + COL_GAP)
    return GraphPicture(width, max(y, NODE_H), tuple(bands), nodes, edges, True)


# --------------------------------------------------------------------------- Gantt


@dataclass(frozen=True)
class Bar:
    """A bar on the timeline."""

    key: str
    """Step id or ``phase/wave``."""
    label: str
    """Text beside the bar."""
    x: float
    """Left edge."""
    y: int
    """Top edge."""
    width: float
    """Width (at least 2 px so short steps stay visible)."""
    critical: bool
    """On the critical path."""
    phase: str
    """Phase value, for the CSS class."""
    start: str
    """Start as text (for the tooltip)."""
    finish: str
    """Finish as text."""


@dataclass(frozen=True)
class Stripe:
    """A maintenance window on the timeline."""

    x: float
    """Left edge."""
    width: float
    """Width."""


@dataclass(frozen=True)
class Tick:
    """A date label on the axis."""

    x: float
    """Position."""
    label: str
    """Date text."""


@dataclass(frozen=True)
class GanttPicture:
    """Everything needed to draw the timeline."""

    width: int
    """Canvas width."""
    height: int
    """Canvas height."""
    bars: tuple[Bar, ...]
    """Bars in run order."""
    stripes: tuple[Stripe, ...]
    """Maintenance windows."""
    ticks: tuple[Tick, ...]
    """Axis labels."""
    summarised: bool
    """True when bars stand for phase/wave groups."""


GANTT_W = 1000
BAR_H = 14
LABEL_COL = 260


def gantt_picture(
    plan: MigrationPlan,
    windows: tuple[MaintenanceWindow, ...] = (),
    limit: int = DETAIL_LIMIT,
) -> GanttPicture:
    """Lay out the schedule as a timeline (summarised per phase and wave above ``limit``)."""
    if not plan.steps:
        return GanttPicture(GANTT_W + LABEL_COL, 40, (), (), (), False)
    start = min(plan.schedule[s.id].start for s in plan.steps)
    end = max(plan.schedule[s.id].finish for s in plan.steps)
    span = max((end - start).total_seconds(), 3600.0)
    scale = GANTT_W / span

    def xof(t: dt.datetime) -> float:
        return round(LABEL_COL + (t - start).total_seconds() * scale, 1)

    critical = set(plan.critical_path)
    rows: list[tuple[str, str, dt.datetime, dt.datetime, bool, str]] = []
    summarised = len(plan.steps) > limit
    if summarised:
        grp: dict[tuple[int, int], list[str]] = defaultdict(list)
        for s in plan.steps:
            grp[(s.phase.order, plan.schedule[s.id].wave)].append(s.id)
        for (order, wave), ids in sorted(grp.items()):
            phase = list(Phase)[order]
            rows.append(
                (
                    f"{phase.value}/wave-{wave}",
                    f"{phase.value}, window/day {wave} ({len(ids)} steps)",
                    min(plan.schedule[i].start for i in ids),
                    max(plan.schedule[i].finish for i in ids),
                    any(i in critical for i in ids),
                    phase.value,
                )
            )
    else:
        for s in plan.steps:
            sch = plan.schedule[s.id]
            rows.append((s.id, s.id, sch.start, sch.finish, s.id in critical, s.phase.value))
    bars = tuple(
        Bar(
            key=k,
            label=label,
            x=xof(a),
            y=30 + i * (BAR_H + 4),
            width=max(2.0, round((b - a).total_seconds() * scale, 1)),
            critical=c,
            phase=ph,
            start=a.strftime("%Y-%m-%d %H:%M"),
            finish=b.strftime("%Y-%m-%d %H:%M"),
        )
        for i, (k, label, a, b, c, ph) in enumerate(rows)
    )
    stripes: list[Stripe] = []
    day = start.date()
    while windows and dt.datetime.combine(day, dt.time()) <= end and len(stripes) < 500:
        for w in windows:
            if w.weekday == day.weekday():
                a = dt.datetime.combine(day, w.start)
                b = dt.datetime.combine(
                    day + dt.timedelta(days=1 if w.end <= w.start else 0), w.end
                )
                a, b = max(a, start), min(b, end)
                if b > a:
                    stripes.append(Stripe(xof(a), round((b - a).total_seconds() * scale, 1)))
        day += dt.timedelta(days=1)
    days = max(1, (end.date() - start.date()).days)
    step_days = max(1, days // 8)
    ticks = tuple(
        Tick(
            xof(
                dt.datetime.combine(start.date() + dt.timedelta(days=d), dt.time()).replace(
                    tzinfo=start.tzinfo
                )
            ),
            (start.date() + dt.timedelta(days=d)).isoformat(),
        )
        for d in range(0, days + 1, step_days)
        if dt.datetime.combine(start.date() + dt.timedelta(days=d), dt.time()).replace(
            tzinfo=start.tzinfo
        )
        >= start
    )
    height = 30 + len(bars) * (BAR_H + 4) + 10
    return GanttPicture(GANTT_W + LABEL_COL + 20, height, bars, tuple(stripes), ticks, summarised)
