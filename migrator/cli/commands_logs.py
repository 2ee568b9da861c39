"""``migrator logs scan``: relay evidence from SMTP Receive protocol logs."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrator.cli import PROGRESS_AFTER_SECONDS, err, logs_app, out, print_findings

if TYPE_CHECKING:  # heavy modules are imported where they are used (migrator --help stays fast)
    from rich.progress import Progress, TaskID
    from rich.table import Table

    from migrator.logs.evidence import ClientEvidence, ConnectorEvidence, Evidence

EVIDENCE_FILE = "relay-evidence.json"


class Engine(StrEnum):
    """Scan engine (``--engine``)."""

    COMPILED = "compiled"
    PYTHON = "python"


_CONNECTOR_COLUMNS = (
    "connector",
    "clients",
    "sessions",
    "messages",
    "internal rcpt",
    "external rcpt",
    "refused relay",
    "auth",
    "tls",
    "last seen",
)
_CLIENT_COLUMNS = ("connector", "client", *_CONNECTOR_COLUMNS[2:])


def _figures(rows: tuple[ClientEvidence, ...], split: bool) -> list[str]:
    """sessions .. last seen of a set of clients (one client, or all of a connector)."""
    return [
        str(sum(c.sessions for c in rows)),
        str(sum(c.messages for c in rows)),
        str(sum(c.internal_recipients for c in rows)) if split else "-",
        str(sum(c.external_recipients for c in rows)) if split else "-",
        str(sum(c.relay_refused_5_7_1 + c.relay_refused_5_7_54 for c in rows)),
        str(sum(c.authenticated_sessions for c in rows)),
        str(sum(c.tls_sessions for c in rows)),
        max((c.last_seen for c in rows), default="")[:10],
    ]


def _connector_row(ce: ConnectorEvidence, split: bool) -> list[str]:
    return [ce.connector, str(len(ce.clients)), *_figures(ce.clients, split)]


def _client_row(ce: ConnectorEvidence, c: ClientEvidence, split: bool) -> list[str]:
    return [ce.connector, c.address, *_figures((c,), split)]


def _table(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False)
    for name in columns:
        table.add_column(
            name, justify="left" if name in ("connector", "client", "last seen") else "right"
        )
    for row in rows:
        table.add_row(*(Text(v) for v in row))  # log text is data, never markup
    return table


def _plain(columns: tuple[str, ...], row: list[str]) -> str:
    """One line for a pipe or file: the name first, then ``column value`` pairs."""
    names = [v for c, v in zip(columns, row, strict=True) if c in ("connector", "client")]
    rest = [
        f"{c} {v}" for c, v in zip(columns, row, strict=True) if c not in ("connector", "client")
    ]
    return " ".join(names) + ": " + ", ".join(rest)


def print_summary(evidence: Evidence, *, top: int, all_clients: bool, target: Path) -> None:
    """Per connector totals and its busiest clients (every client with ``all_clients``)."""
    split = bool(evidence.scan.accepted_domains)
    connector_rows = [_connector_row(ce, split) for ce in evidence.connectors]
    client_rows = [
        _client_row(ce, c, split)
        for ce in evidence.connectors
        for c in (ce.clients if all_clients else ce.clients[:top])
    ]
    hidden = (
        sum(max(0, len(ce.clients) - top) for ce in evidence.connectors) if not all_clients else 0
    )
    which = "all clients" if all_clients else f"top {top} clients per connector by sessions"
    if out.is_terminal:
        out.print(_table("Relay evidence per connector", _CONNECTOR_COLUMNS, connector_rows))
        if client_rows:
            out.print(_table(f"Relay evidence: {which}", _CLIENT_COLUMNS, client_rows))
    else:
        out.print("Relay evidence per connector", markup=False)
        for row in connector_rows:
            out.print(_plain(_CONNECTOR_COLUMNS, row), markup=False)
        out.print(f"Relay evidence: {which}", markup=False)
        for row in client_rows:
            out.print(_plain(_CLIENT_COLUMNS, row), markup=False)
    if hidden:
        out.print(
            f"{hidden} more clients not listed: every client is in {target} (or use --all)",
            markup=False,
        )


class _LateProgress:
    """A progress bar on stderr that appears once a scan has run for a second (terminals only)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and err.is_terminal
        self.began = time.monotonic()
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def tick(self, done: int, total: int, name: str) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.began < PROGRESS_AFTER_SECONDS:
                return
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("reading logs", total=total)
        assert self.task is not None
        self.bar.update(
            self.task, completed=done, total=total, description=f"reading {Path(name).name}"
        )

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


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
        bool,
        typer.Option(
            "--progress/--no-progress",
            help="Show a progress bar on a terminal when the scan takes over a second.",
        ),
    ] = True,
    top: Annotated[
        int, typer.Option("--top", min=0, help="Clients listed per connector (busiest first).")
    ] = 5,
    all_clients: Annotated[
        bool, typer.Option("--all", help="List every client of every connector.")
    ] = False,
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
    """Scan SMTP Receive protocol logs; write OUT/relay-evidence.json and print a summary.

    The summary gives per connector totals and its busiest clients; the full
    figures of every client are in relay-evidence.json (``--all`` prints them).
    """
    from migrator.checks.evidence import evidence_findings
    from migrator.inventory import load_inventory
    from migrator.logs.evidence import write_evidence
    from migrator.logs.scan import scan_logs
    from migrator.plan.relay import plan_relay

    inv = load_inventory(inventory) if inventory is not None else None
    accepted = tuple(d.domain_name for d in inv.accepted_domains) if inv else ()
    bar = _LateProgress(progress)
    try:
        evidence = scan_logs(
            [str(p) for p in logdirs],
            accepted,
            progress=bar.tick,
            workers=workers or None,
            engine=engine.value,
        )
    finally:
        bar.stop()
    output.mkdir(parents=True, exist_ok=True)
    target = output / EVIDENCE_FILE
    write_evidence(evidence, target)
    print_summary(evidence, top=top, all_clients=all_clients, target=target)
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
