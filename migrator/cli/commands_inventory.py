"""``migrator check``, ``migrator plan`` and ``migrator inventory show``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from migrator.cli import app, err, inventory_app, out, print_findings, progress_display

_PATH_HELP = "Inventory folder (inventory.yaml and exports) or a single export file."


_EVIDENCE_HELP = "relay-evidence.json from 'migrator logs scan' (default: the one in the inventory folder, if any)."


_CLIENT_EVIDENCE_HELP = (
    "client-evidence.json from 'migrator logs scan' of IIS / RPC Client Access / HttpProxy logs"
    " (default: the one in the inventory folder, if any)."
)


_ALL_HELP = "Print every finding (default: more than 40 are grouped by code, the first 5 of each)."


@app.command("check")
def check(
    path: Annotated[Path, typer.Argument(readable=False, help=_PATH_HELP)],
    evidence: Annotated[Path | None, typer.Option("--evidence", help=_EVIDENCE_HELP)] = None,
    client_evidence: Annotated[
        Path | None, typer.Option("--client-evidence", help=_CLIENT_EVIDENCE_HELP)
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help=_ALL_HELP)] = False,
    findings_file: Annotated[
        Path | None,
        typer.Option("--findings", help="Write every finding to this file, one line each."),
    ] = None,
) -> None:
    """Load and check an inventory; print the findings (grouped by code when many); exit 1 on errors."""
    from migrator.pipeline import CHECK_STAGES, check_path
    from migrator.render.findings import write_findings

    with progress_display(CHECK_STAGES):
        analysis = check_path(path, evidence, client_evidence_path=client_evidence)
    inv = analysis.inventory
    if findings_file is not None:
        write_findings(analysis.findings, findings_file)
    errors, warnings = print_findings(
        analysis.findings,
        show_all=show_all,
        full_list=str(findings_file) if findings_file is not None else None,
    )
    out.print(
        f"{inv.root}: {len(inv.servers)} servers, {len(inv.receive_connectors)} receive connectors, "
        f"{len(inv.onprem_users)} AD users, {len(inv.cloud_users)} cloud users; "
        f"{errors} errors, {warnings} warnings",
        markup=False,
    )
    if errors:
        raise typer.Exit(1)


@app.command("plan")
def plan(
    path: Annotated[Path, typer.Argument(readable=False, help=_PATH_HELP)],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder to write the plan into.")
    ] = Path("plan"),
    start: Annotated[
        str | None,
        typer.Option("--start", help="Plan start date YYYY-MM-DD (overrides plan.start)."),
    ] = None,
    keep_status: Annotated[
        Path | None,
        typer.Option(
            "--keep-status",
            readable=False,
            help="Carry the tracking (status, dates, notes) over from this checklist.xlsx.",
        ),
    ] = None,
    evidence: Annotated[Path | None, typer.Option("--evidence", help=_EVIDENCE_HELP)] = None,
    client_evidence: Annotated[
        Path | None, typer.Option("--client-evidence", help=_CLIENT_EVIDENCE_HELP)
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help=_ALL_HELP)] = False,
) -> None:
    """Check the inventory, plan the migration and write runbooks, workbook and reports."""
    from migrator.pipeline import PLAN_STAGES, plan_folder
    from migrator.render.findings import FINDINGS_FILE

    day = None
    if start is not None:
        try:
            day = dt.date.fromisoformat(start)
        except ValueError:
            err.print(f"error: --start '{start}' is not a date; expected YYYY-MM-DD", markup=False)
            raise typer.Exit(1) from None
    with progress_display(PLAN_STAGES):
        result = plan_folder(
            path,
            output,
            start=day,
            keep_status=keep_status,
            evidence_path=evidence,
            client_evidence_path=client_evidence,
        )
    listed = output / FINDINGS_FILE
    errors, warnings = print_findings(
        result.analysis.findings,
        show_all=show_all,
        full_list=str(listed) if result.plan is not None else None,
    )
    if result.plan is None:
        err.print(
            f"plan refused: {errors} error{'s' if errors != 1 else ''} must be fixed first; "
            "nothing was written",
            markup=False,
        )
        raise typer.Exit(1)
    p = result.plan
    first = min((p.schedule[s.id].start for s in p.steps), default=None)
    total = (p.finish - first) if first and p.finish else dt.timedelta(0)
    # p.waves are the schedule's groups (window occurrences, or days outside windows), not
    # mailbox move waves: say which is which (review 5 follow-up).
    moves = result.analysis.moves
    users = [w.name for w in moves.waves if not w.arbitration] if moves else []
    out.print(
        f"{p.organisation}: {len(p.steps)} steps in {len({s.phase for s in p.steps})} phases, "
        f"scheduled in {len(p.waves)} maintenance windows or days"
        + (
            f"; {len(users)} mailbox move wave{'s' if len(users) != 1 else ''} "
            f"({users[0]}{f' to {users[-1]}' if len(users) > 1 else ''})"
            if users
            else ""
        )
        + f"; {warnings} warnings",
        markup=False,
    )
    if first and p.finish:
        out.print(
            f"schedule: {first:%Y-%m-%d %H:%M} to {p.finish:%Y-%m-%d %H:%M} "
            f"({total.days} d {total.seconds // 3600} h); critical path {len(p.critical_path)} steps",
            markup=False,
        )
    c = result.checklist
    if c is not None and c.carried_from:
        out.print(
            f"tracking carried over from {c.carried_from}: {c.kept} steps kept, "
            f"{c.removed} removed (sheet 'Removed steps'), {c.new} new",
            markup=False,
        )
    if c is not None and c.backup is not None:
        out.print(f"previous checklist kept as {c.backup}", markup=False)
    out.print(f"wrote {len(result.written)} files to {output}", markup=False)


@inventory_app.command("show")
def show(
    path: Annotated[Path, typer.Argument(readable=False, help=_PATH_HELP)],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the normalised inventory as JSON.")
    ] = False,
) -> None:
    """Print the loaded, normalised inventory."""
    from rich.table import Table

    from migrator.inventory import load_inventory
    from migrator.render.inventory_json import inventory_json

    inv = load_inventory(path)
    if as_json:
        typer.echo(inventory_json(inv), nl=False)
        return
    table = Table(
        "server",
        "connector",
        "bindings",
        "remote IP ranges",
        "auth",
        "permission groups",
        "enabled",
    )
    for c in inv.receive_connectors:
        table.add_row(
            c.server,
            c.name,
            ", ".join(str(b) for b in c.bindings),
            ", ".join(r.exchange_text() for r in c.remote_ip_ranges),
            ", ".join(c.auth_mechanism) or "None",
            ", ".join(c.permission_groups) or "None",
            "yes" if c.enabled else "no",
        )
    out.print(
        f"{inv.organisation}: {len(inv.servers)} servers, {len(inv.sites)} sites", markup=False
    )
    for s in inv.servers:
        out.print(
            f"  {s.name}  {s.version.label}  {s.build}  {s.lifecycle.value}  site {s.site or '-'}",
            markup=False,
        )
    out.print(table)
