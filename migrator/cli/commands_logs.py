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

    from migrator.logs.client_access import LogType
    from migrator.logs.client_evidence import EvidenceSummary
    from migrator.logs.evidence import ClientEvidence, ConnectorEvidence, Evidence, SkippedFile
    from migrator.logs.sources import Source
    from migrator.model import Inventory
    from migrator.plan.moves import MovePlan

EVIDENCE_FILE = "relay-evidence.json"
CLIENT_EVIDENCE_FILE = "client-evidence.json"
CLIENT_REPORT_FILE = "client-evidence.md"
OLD_OUTLOOK_LISTED = 20
"""Users with an old Outlook printed by the scan (all with --all; all in client-evidence.md)."""


class Engine(StrEnum):
    """Scan engine (``--engine``, hidden: one engine is left; kept so scripts naming it still run)."""

    COMPILED = "compiled"


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


_NUMERIC = (*_CONNECTOR_COLUMNS[1:-1], "requests", "monitoring")
"""Right-aligned columns: the figures of the relay tables (clients .. tls) and of the client tables."""


def _table(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False)
    for name in columns:
        table.add_column(name, justify="right" if name in _NUMERIC else "left")
    for row in rows:
        table.add_row(*(Text(v) for v in row))  # log text is data, never markup
    return table


_NAMES = ("connector", "client", "server", "protocol", "user")


def _plain(columns: tuple[str, ...], row: list[str]) -> str:
    """One line for a pipe or file: the names first, then ``column value`` pairs."""
    names = [v for c, v in zip(columns, row, strict=True) if c in _NAMES]
    rest = [f"{c} {v}" for c, v in zip(columns, row, strict=True) if c not in _NAMES and v]
    return " ".join(names) + ": " + ", ".join(rest)


def _print_rows(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    """A table on a terminal, plain lines for a pipe or file."""
    if out.is_terminal:
        out.print(_table(title, columns, rows))
        return
    out.print(title, markup=False)
    for row in rows:
        out.print(_plain(columns, row), markup=False)


_SERVER_COLUMNS = ("server", "protocol", "clients", "requests", "monitoring", "last seen")
_ACCESS_COLUMNS = (
    "server",
    "protocol",
    "user",
    "address",
    "agent",
    "outlook",
    "via",
    "requests",
    "last seen",
)


def print_client_summary(
    evidence: EvidenceSummary,
    *,
    top: int,
    all_clients: bool,
    target: Path,
    waves: dict[str, int],
) -> None:
    """Per server and protocol totals, the busiest clients, and the users with an old Outlook."""
    from migrator.logs.client_evidence import user_key

    totals: list[list[str]] = []
    clients: list[list[str]] = []
    hidden = 0
    for s in evidence.servers:
        for p in s.protocols:
            real = [c for c in p.busiest if not c.monitoring]
            totals.append(
                [
                    s.server,
                    p.protocol,
                    str(p.clients),
                    str(p.requests),
                    str(p.monitoring),
                    p.last_seen[:10],
                ]
            )
            shown = real if all_clients else real[:top]
            hidden += p.entries - p.monitoring - len(shown)
            clients += [
                [
                    s.server,
                    p.protocol,
                    c.user or "(anonymous)",
                    c.client_ip,
                    c.user_agent[:60],
                    c.outlook_build,
                    c.via,
                    str(c.requests),
                    c.last_seen[:10],
                ]
                for c in shown
            ]
    _print_rows("Client access per 2010 server and protocol", _SERVER_COLUMNS, totals)
    which = "all clients" if all_clients else f"top {top} clients per protocol by requests"
    if clients:
        _print_rows(
            f"Client access: {which} (monitoring accounts left out)", _ACCESS_COLUMNS, clients
        )
    if hidden:
        out.print(
            f"{hidden} more clients not listed: every client is in {target} (or use --all)",
            markup=False,
        )
    if evidence.old_outlook:
        listed = evidence.old_outlook if all_clients else evidence.old_outlook[:OLD_OUTLOOK_LISTED]
        rows = [
            [
                o.user,
                ", ".join(o.builds),
                ", ".join(o.servers),
                o.last_seen[:10],
                str(waves[user_key(o.user)]) if user_key(o.user) in waves else "",
            ]
            for o in listed
        ]
        _print_rows(
            f"Outlook older than {evidence.outlook_minimum} (Outlook 2010 SP2, the 2016 minimum)",
            ("user", "builds", "servers", "last seen", "wave"),
            rows,
        )
        if len(listed) < len(evidence.old_outlook):
            out.print(
                f"{len(evidence.old_outlook) - len(listed)} more users with an old Outlook:"
                f" every one is in {target.with_suffix('.md')} (or use --all)",
                markup=False,
            )


def _scan_client_access(
    found: list[tuple[Source, LogType]],
    skipped: list[SkippedFile],
    inv: Inventory | None,
    output: Path,
    *,
    top: int,
    all_clients: bool,
) -> None:
    """Scan the client-access logs, write client-evidence.json and .md, print the summary."""
    from migrator.logs.client_access import read_client_access, servers_from
    from migrator.model import ExchangeVersion
    from migrator.render.client_evidence_report import (
        LISTED_PER_PROTOCOL,
        write_client_evidence_report,
    )

    servers = (
        servers_from(
            ((s.name, s.version is not ExchangeVersion.EX2010) for s in inv.servers),
            ((str(a), s.name) for s in inv.servers for a in s.ip_addresses),
        )
        if inv is not None
        else None
    )
    with read_client_access(found, servers, skipped=skipped) as result:
        waves: dict[str, int] = {}
        moves: MovePlan | None = None
        if inv is not None:  # (the planner is imported only for the waves and findings)
            from migrator.plan.client_access import waves_by_user
            from migrator.plan.moves import plan_moves

            moves = plan_moves(inv) if inv.mailboxes else None
            waves = waves_by_user(inv, moves)
        output.mkdir(parents=True, exist_ok=True)
        target = output / CLIENT_EVIDENCE_FILE
        result.write(target)
        summary = result.summary(
            top=None if all_clients else top, listed=max(LISTED_PER_PROTOCOL, top)
        )
        write_client_evidence_report(summary, output / CLIENT_REPORT_FILE, waves)
        print_client_summary(summary, top=top, all_clients=all_clients, target=target, waves=waves)
        scan = result.scan
        for f in scan.files_skipped:
            out.print(f"skipped {f.path}: {f.reason}", markup=False)
        for text in (*scan.warnings, *scan.rejected_lines):
            err.print(f"warning: {text}", markup=False)
        if scan.rejected > len(scan.rejected_lines):
            more = scan.rejected - len(scan.rejected_lines)
            err.print(f"warning: and {more} more malformed lines (not listed)", markup=False)
        if inv is not None:
            from migrator.plan.client_access import findings_of

            spans = {s.server.lower(): (s.first_seen, s.last_seen) for s in summary.servers}

            print_findings(
                tuple(
                    findings_of(
                        inv,
                        result.real_clients,
                        result.old_outlook,
                        result.minimum,
                        moves,
                        lambda name: spans.get(name.lower()),
                    )
                )
            )
    out.print(
        f"{len(scan.files_read)} client access log files, {scan.records} records,"
        f" {scan.counted} client requests, {scan.rejected} malformed lines;"
        f" wrote {target} and {output / CLIENT_REPORT_FILE}",
        markup=False,
    )


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
            help="Threads of the SMTP log scan (0: one per CPU).",
        ),
    ] = 0,
    engine: Annotated[
        Engine,
        typer.Option("--engine", hidden=True, help="compiled (the only engine)."),
    ] = Engine.COMPILED,
) -> None:
    """Scan SMTP Receive protocol logs and client-access logs; write the evidence and a summary.

    SMTP Receive logs give OUT/relay-evidence.json (per connector totals and its
    busiest clients are printed). 2010 IIS logs, 2010 RPC Client Access logs and
    2016 HttpProxy logs, recognised by their header, give OUT/client-evidence.json
    and client-evidence.md (per server and protocol the clients still connecting).
    ``--all`` prints every client.
    """
    from migrator.errors import LogScanError
    from migrator.inventory import load_inventory
    from migrator.logs.client_access import classify
    from migrator.logs.smtp_files import smtp_candidates
    from migrator.logs.sources import discover

    inv = load_inventory(inventory) if inventory is not None else None
    accepted = tuple(d.domain_name for d in inv.accepted_domains) if inv else ()
    # One discovery for both scans: the client-access logs are recognised by their
    # header, the SMTP scan takes the rest that its naming rule lets in. Paths that
    # do not exist, damaged archives and unreadable files are listed in both
    # evidence files; each scan lists the files of its own kind it could not count.
    sources, missing = discover(logdirs)
    found, others, unreadable = classify(sources)
    shown: set[tuple[str, str]] = set()
    if found:
        _scan_client_access(
            found,
            [*missing, *unreadable],
            inv,
            output,
            top=top,
            all_clients=all_clients,
        )
        shown = {(f.path, f.reason) for f in (*missing, *unreadable)}
    smtp = smtp_candidates(others, named=[p for p in logdirs if p.is_file()])
    if found and not smtp:
        return
    # The SMTP engine (compiled machine code, loaded from numba's cache) is imported only
    # when there are SMTP logs to scan: an IIS-only scan does not pay for loading it.
    from migrator.checks.evidence import evidence_findings
    from migrator.logs.evidence import write_evidence
    from migrator.logs.smtp import scan_sources
    from migrator.plan.relay import plan_relay

    bar = _LateProgress(progress)
    try:
        evidence = scan_sources(
            smtp,
            accepted,
            skipped=[*missing, *unreadable],
            progress=bar.tick,
            workers=workers or None,
        )
    except LogScanError as exc:
        if not found:
            raise
        out.print(f"no SMTP Receive protocol log among the other files ({exc})", markup=False)
        return
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
        if (s.path, s.reason) not in shown:  # already printed by the client-access scan
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
