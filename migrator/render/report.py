"""The self-contained HTML plan report (``report.html``).

One file, CSS inlined, no script and no fetches: it opens offline and from
an email. Rendered from ``templates/report/report.html.j2`` with
autoescaping on, so inventory text such as ``<script>`` stays text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migrator import __version__
from migrator.fileio import write_text
from migrator.model import Finding, MaintenanceWindow, Severity
from migrator.plan.steps import MigrationPlan, Phase
from migrator.render.findings import FINDINGS_FILE, SHOWN_PER_CODE, group_by_code
from migrator.render.svg import DETAIL_LIMIT, gantt_picture, graph_picture
from migrator.render.templating import render
from migrator.render.views import DnsRow, RelayRow

FINDINGS_LISTED_UP_TO = 1000
"""Up to this many findings the report lists each one; above it, they are grouped by code
(the count and the first few of each) and ``findings.txt`` holds every one."""


@dataclass(frozen=True)
class ServerLine:
    """A server in the summary."""

    name: str
    """Server name."""
    version: str
    """Version label."""
    site: str
    """AD site."""
    role: str
    """``legacy`` or ``target`` (and ``hybrid``)."""


@dataclass(frozen=True)
class ReportData:
    """What the report shows; built by the pipeline from the plan and its inputs."""

    plan: MigrationPlan
    """The plan."""
    generated: str
    """Timestamp shown in the report (an input, so the file is deterministic)."""
    findings: Sequence[Finding] = ()
    """Every finding."""
    servers: Sequence[ServerLine] = ()
    """Old and new servers."""
    relay: Sequence[RelayRow] = ()
    """Relay mapping."""
    identity_outcomes: Sequence[tuple[str, int]] = ()
    """(outcome, number of users)."""
    dns: Sequence[DnsRow] = ()
    """DNS changes."""
    windows: tuple[MaintenanceWindow, ...] = ()
    """Maintenance windows (drawn on the timeline)."""
    evidence_scanned: bool = False
    """Whether protocol logs were scanned."""
    step_limit: int = field(default=DETAIL_LIMIT)
    """Above this many steps the pictures are summarised."""
    findings_limit: int = FINDINGS_LISTED_UP_TO
    """Above this many findings the findings table is grouped by code."""


def _duration(minutes: float) -> str:
    days, rem = divmod(int(minutes), 24 * 60)
    hours, mins = divmod(rem, 60)
    parts = [f"{days} d"] if days else []
    if hours or days:
        parts.append(f"{hours} h")
    parts.append(f"{mins} min")
    return " ".join(parts)


def render_report(data: ReportData) -> str:
    """The report as HTML text."""
    plan = data.plan
    findings = sorted(data.findings, key=Finding.sort_key)
    by_sev = Counter(f.severity for f in findings)
    per_phase = Counter(s.phase for s in plan.steps)
    first = min((plan.schedule[s.id].start for s in plan.steps), default=None)
    last = plan.finish
    total = _duration((last - first).total_seconds() / 60) if first and last else "0 min"
    return render(
        "report/report.html.j2",
        d=data,
        plan=plan,
        version=__version__,
        findings=findings,
        finding_groups=group_by_code(findings) if len(findings) > data.findings_limit else None,
        shown_per_code=SHOWN_PER_CODE,
        findings_file=FINDINGS_FILE,
        severities=[(sev, by_sev.get(sev, 0)) for sev in Severity],
        phases=[(p, per_phase[p]) for p in Phase if per_phase.get(p)],
        total_duration=total,
        first=first,
        last=last,
        critical=set(plan.critical_path),
        graph=graph_picture(plan, data.step_limit),
        gantt=gantt_picture(plan, data.windows, data.step_limit),
        detailed_steps=len(plan.steps) <= 20 * data.step_limit,
        css=render("report/report.css"),
    )


def write_report(path: Path, data: ReportData) -> Path:
    """Write ``report.html`` atomically and return its path."""
    write_text(path, render_report(data))
    return path
