"""``migrator logs scan``: relay evidence from SMTP Receive protocol logs."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrator.cli import err, logs_app, out, print_findings

if TYPE_CHECKING:
    from rich.table import Table

    from migrator.logs.evidence import Evidence

EVIDENCE_FILE = "relay-evidence.json"


class Engine(StrEnum):
    """Scan engine (``--engine``)."""

    COMPILED = "compiled"
    PYTHON = "python"


def _summary(evidence: Evidence) -> Table:
    from rich.table import Table

    table = Table(title="Relay evidence per connector and client", show_lines=False)
    for name, justify in (
        ("connector", "left"),
        ("client", "left"),
        ("sessions", "right"),
        ("messages", "right"),
        ("internal rcpt", "right"),
        ("external rcpt", "right"),
        ("refused relay", "right"),
        ("auth", "right"),
        ("tls", "right"),
        ("last seen", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=name in ("client", "sessions"))  # type: ignore[arg-type]
    split = bool(evidence.scan.accepted_domains)
    for ce in evidence.connectors:
        for cl in ce.clients:
            table.add_row(
                ce.connector,
                cl.address,
                str(cl.sessions),
                str(cl.messages),
                str(cl.internal_recipients) if split else "-",
                str(cl.external_recipients) if split else "-",
                str(cl.relay_refused_5_7_1 + cl.relay_refused_5_7_54),
                str(cl.authenticated_sessions),
                str(cl.tls_sessions),
                cl.last_seen[:10],
            )
    return table


@logs_app.command("scan")
def scan_command(
    logdirs: Annotated[
        list[Path], typer.Argument(help="Log files, folders, .gz or .zip archives (any number).")
    ],
    inventory: Annotated[
        Path | None,
        typer.Option("--inventory", help="Inventory folder: accepted domains and the relay plan."),
    ] = None,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder to write relay-evidence.json into.")
    ] = Path("."),
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            help="Threads of the compiled engine or processes of the Python one (0: one per CPU).",
        ),
    ] = 0,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="compiled (fast, default; compiles once on first use) or python"
            " (the streaming reference reader).",
        ),
    ] = Engine.COMPILED,
) -> None:
    """Scan SMTP Receive protocol logs and write OUT/relay-evidence.json with a summary table."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from migrator.checks.evidence import evidence_findings
    from migrator.inventory import load_inventory
    from migrator.logs.evidence import write_evidence
    from migrator.logs.scanner import scan_logs
    from migrator.plan.relay import plan_relay

    inv = load_inventory(inventory) if inventory is not None else None
    accepted = tuple(d.domain_name for d in inv.accepted_domains) if inv else ()
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not progress,
        transient=True,
    ) as bar:
        task = bar.add_task("reading logs", total=None)

        def tick(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=f"reading {Path(name).name}")

        evidence = scan_logs(
            [str(p) for p in logdirs],
            accepted,
            progress=tick,
            workers=workers or None,
            engine=engine.value,
        )
    output.mkdir(parents=True, exist_ok=True)
    target = output / EVIDENCE_FILE
    write_evidence(evidence, target)
    out.print(_summary(evidence))
    for w in evidence.servers:
        out.print(
            f"{w.server}: {w.days_covered} days of evidence ({w.first_seen[:10]} to {w.last_seen[:10]},"
            f" {w.days_with_data} with data)",
            markup=False,
        )
    for s in evidence.scan.files_skipped:
        out.print(f"skipped {s.path}: {s.reason}", markup=False)
    for w_text in evidence.scan.warnings:
        err.print(f"warning: {w_text}", markup=False)
    if inv is not None:
        print_findings(tuple(evidence_findings(inv, evidence, plan_relay(inv).ranges_by_source())))
    out.print(
        f"{len(evidence.scan.files_read)} files, {evidence.scan.lines} lines,"
        f" {evidence.scan.sessions} sessions; wrote {target}",
        markup=False,
    )
