"""The moves outputs: ``moves/wave-NNN.csv`` (+ rollback CSVs), ``moves-report.md`` and plan.json's parts.

The wave CSVs carry only the columns Microsoft documents for migration CSV
files (``EmailAddress`` first; ``TargetDatabase``, ``TargetArchiveDatabase``,
``BadItemLimit``, ``MailboxType``): ``New-MigrationBatch`` fails a batch on
any other column. UTF-8 with BOM, CRLF, every field quoted.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from migrator.fileio import write_text, write_windows_text
from migrator.model import Inventory
from migrator.plan.moves import EXCHANGE_ONLINE, GB, MoveAssignment, MovePlan, MoveWave
from migrator.plan.moves_steps import FOLDER, complete_id, rollback_csv, wave_csv
from migrator.plan.steps import MigrationPlan

DOCUMENTED_COLUMNS = (
    "EmailAddress",
    "TargetDatabase",
    "TargetArchiveDatabase",
    "BadItemLimit",
    "MailboxType",
)
"""Columns of a migration CSV file Microsoft documents, in the order migrator writes them."""
REPORT = "moves-report.md"


def _columns(wave: MoveWave) -> tuple[str, ...]:
    if wave.target == EXCHANGE_ONLINE:
        # Onboarding has no BadItemLimit (Exchange Online uses its data consistency score);
        # the archive follows the primary.
        return ("EmailAddress",)
    return DOCUMENTED_COLUMNS


def _csv(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return buf.getvalue()


def wave_csv_text(wave: MoveWave, by_smtp: dict[str, MoveAssignment], bad_items: int) -> str:
    """The CSV of one wave (LF; written with CRLF)."""
    rows = []
    for smtp in wave.mailboxes:
        a = by_smtp[smtp]
        archive = a.mailbox.has_archive
        rows.append(
            {
                "EmailAddress": smtp,
                "TargetDatabase": a.target_database,
                "TargetArchiveDatabase": a.target_database if archive else "",
                "BadItemLimit": str(bad_items),
                "MailboxType": "PrimaryAndArchive" if archive else "PrimaryOnly",
            }
        )
    return _csv(_columns(wave), rows)


def rollback_csv_text(wave: MoveWave, by_smtp: dict[str, MoveAssignment], bad_items: int) -> str:
    """The rollback CSV of an on-premises wave: each mailbox back to its 2010 database(s).

    The way back takes the forward BadItemLimit: a mailbox that skipped bad items on the way in
    would otherwise fail on the way back (the same items are still bad)."""
    rows = []
    for smtp in wave.mailboxes:
        m = by_smtp[smtp].mailbox
        rows.append(
            {
                "EmailAddress": smtp,
                "TargetDatabase": m.database,
                "TargetArchiveDatabase": m.archive_database if m.has_archive else "",
                "BadItemLimit": str(bad_items),
                "MailboxType": "PrimaryAndArchive" if m.has_archive else "PrimaryOnly",
            }
        )
    return _csv(DOCUMENTED_COLUMNS, rows)


def write_moves_outputs(inv: Inventory, mp: MovePlan, plan: MigrationPlan, out: Path) -> None:
    """Every wave's CSV (the arbitration wave has none: it moves by database), rollback CSVs, the report."""
    by_smtp = {a.mailbox.primary_smtp: a for a in mp.assignments}
    for w in mp.waves:
        if w.arbitration:
            continue
        write_windows_text(out / wave_csv(w), wave_csv_text(w, by_smtp, mp.policy.bad_item_limit))
        if w.target != EXCHANGE_ONLINE:
            write_windows_text(
                out / rollback_csv(w), rollback_csv_text(w, by_smtp, mp.policy.bad_item_limit)
            )
    write_text(out / REPORT, moves_report(inv, mp, plan))


def _window(plan: MigrationPlan, w: MoveWave) -> str | None:
    sched = plan.schedule.get(complete_id(w))
    return sched.start.isoformat(timespec="minutes") if sched is not None else None


def moves_json(mp: MovePlan, plan: MigrationPlan) -> dict[str, Any]:
    """plan.json's ``mailboxes`` (in run order of waves) and ``waves`` (documented in docs/plan.md)."""
    names = {w.number: w.name for w in mp.waves}
    return {
        "mailboxes": [
            {
                "identity": a.mailbox.identity,
                "primary_smtp": a.mailbox.primary_smtp,
                "kind": a.mailbox.kind.value,
                "size_bytes": a.mailbox.total_bytes,
                "source_database": a.mailbox.database,
                "target": a.target,
                "target_database": a.target_database,
                "wave": names[a.wave],
                "pinned": a.pinned,
                "broken_links": [
                    {"with": b.with_mailbox, "right": b.right.value} for b in a.broken_links
                ],
            }
            for a in mp.assignments
        ],
        "waves": [
            {
                "id": w.name,
                "target": w.target,
                "pilot": w.pilot,
                "mailboxes": len(w.mailboxes),
                "bytes": w.size_bytes,
                "estimated_copy_hours": w.copy_hours,
                "completion_window_start": _window(plan, w),
            }
            for w in mp.waves
        ],
    }


def mailbox_rows(mp: MovePlan, sheet: Any = None) -> list[list[Any]]:
    """Rows of the workbook's Mailboxes sheet (columns ``MAILBOX_COLUMNS``), typed values kept.

    ``sheet`` is the old sheet (:class:`~migrator.tracking.mailboxes.MailboxSheet`) or None.
    """
    typed = sheet.rows if sheet is not None else {}
    out: list[list[Any]] = []
    for a in mp.assignments:
        smtp = a.mailbox.primary_smtp
        old = typed.get(smtp)
        links = "\n".join(
            f"{b.right.value} {'on' if b.holder else 'from'} {b.with_mailbox}"
            for b in a.broken_links
        )
        out.append(
            [
                smtp,
                a.mailbox.kind.value,
                round(a.mailbox.total_bytes / GB, 2),
                a.mailbox.database,
                a.target,
                a.target_database,
                a.wave,
                old.override if old is not None else None,
                links,
                old.status if old is not None else "",
                old.notes if old is not None else "",
            ]
        )
    return out


def _md(value: object) -> str:
    text = " ".join(str(value).split())
    for ch in ("\\", "|", "*", "_", "`", "<", ">", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text


def _copy_example(plan: MigrationPlan, mp: MovePlan) -> str:
    """How a wave's copy is started, shown with the first user wave's own window (never a fixed date)."""
    text = (
        "Start each wave's copy with its runbook ahead of the window, giving the window start in "
        "UTC (convert the local time above)"
    )
    for w in mp.waves:
        sched = plan.schedule.get(complete_id(w))
        if w.arbitration or w.target == EXCHANGE_ONLINE or sched is None:
            continue
        start = sched.start.strftime("%Y-%m-%dT%H:%M:00Z")
        return (
            f"{text}, e.g. for {w.name} when the site's local time is UTC: "
            f"`.\\{FOLDER.split('/')[-1]}\\{w.name}.ps1 -Only moves.copy.{w.name} -CompleteAfterUtc {start}`."
        )
    return text + "."


def moves_report(inv: Inventory, mp: MovePlan, plan: MigrationPlan) -> str:
    """``moves-report.md``: the waves, what breaks between them, the log forecast, the findings."""
    p = mp.policy
    lines = [
        f"# Mailbox moves: {_md(inv.organisation)}",
        "",
        f"{len(mp.assignments)} mailboxes in {len(mp.waves)} waves, "
        f"{sum(w.size_bytes for w in mp.waves) / GB:.1f} GB; {len(mp.excluded)} excluded.",
        "",
        f"Caps per wave: {p.max_mailboxes} mailboxes, {p.max_gb:g} GB, {p.max_per_source_server} "
        f"per source server, {p.max_per_target_database} per target database. Throughput: "
        f"{p.throughput_gb_per_hour:g} GB/hour per source server **(an assumption: measure it "
        "with the pilot and run `migrator moves forecast`)**.",
        "",
        "## Waves",
        "",
        "| wave | target | mailboxes | GB | copy hours | completion window (local) |",
        "|---|---|---:|---:|---:|---|",
    ]
    for w in mp.waves:
        kind = "arbitration" if w.arbitration else ("pilot, " if w.pilot else "") + w.target
        lines.append(
            f"| {w.name} | {kind} | {len(w.mailboxes)} | {w.size_bytes / GB:.1f} | "
            f"{w.copy_hours:g} | {_window(plan, w) or '-'} |"
        )
    if mp.observed:
        lines += [
            "",
            "Throughput measured by `migrator moves forecast` (GB/hour per source server, and "
            "per source database where enough moves came from it):",
            "",
            "| source server or database | assumed | observed |",
            "|---|---:|---:|",
        ]
        assumed = {k.lower(): v for k, v in p.throughput_by_server}
        for server, rate in mp.observed:
            lines.append(
                f"| {_md(server)} | {assumed.get(server.lower(), p.throughput_gb_per_hour):g} | {rate:g} |"
            )
    lines += ["", _copy_example(plan, mp)]
    lines += [
        "",
        "## Links a wave boundary breaks",
        "",
    ]
    broken = [(a, b) for a in mp.assignments for b in a.broken_links if not b.holder]
    if broken:
        lines += [
            "| mailbox | wave | delegate | wave | right | what users notice |",
            "|---|---|---|---|---|---|",
        ]
        wave_of = {a.mailbox.primary_smtp: a.wave for a in mp.assignments}
        for a, b in broken:
            lines.append(
                f"| {_md(a.mailbox.primary_smtp)} | {a.wave:03d} | {_md(b.with_mailbox)} | "
                f"{wave_of.get(b.with_mailbox, 0):03d} | {b.right.value} | {_md(b.right.noticed)} |"
            )
    else:
        lines.append("None: every linked pair moves in one wave.")
    lines += ["", "## Service accounts (reported, not used to group)", ""]
    if mp.service_accounts:
        lines += [f"- {_md(t)}: rights on {n} mailboxes" for t, n in mp.service_accounts]
    else:
        lines.append("None above the cap.")
    lines += [
        "",
        "## Transaction logs per target database",
        "",
        "Log bytes are about the bytes moved, times the database's DAG copies; a full backup "
        "between waves truncates them. The database holding the Migration mailbox also logs "
        "for every migration batch (Exchange Online waves): counted as the bytes the batch "
        "moves (how much exactly is not documented).",
        "",
        "| database | copies | largest wave (GB) | all waves (GB) | of which batches (GB) "
        "| free on log volume (GB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for lf in mp.logs:
        free = f"{lf.free_bytes / GB:.0f}" if lf.free_bytes is not None else "unknown"
        lines.append(
            f"| {_md(lf.database)} | {lf.copies} | {lf.largest_wave_bytes / GB:.1f} | "
            f"{lf.total_bytes / GB:.1f} | {lf.batch_bytes / GB:.1f} | {free} |"
        )
    lines += ["", "## Excluded", ""]
    lines += [f"- {_md(s)}: {_md(r)}" for s, r in mp.excluded] or ["None."]
    lines += ["", "## Findings", ""]
    lines += [f"- **{f.severity.value}** `{f.code}` {_md(f.message)}" for f in mp.findings] or [
        "None."
    ]
    return "\n".join(lines) + "\n"
