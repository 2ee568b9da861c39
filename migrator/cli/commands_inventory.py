"""``migrator check`` and ``migrator inventory show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from migrator.checks.inventory import check_inventory_basics
from migrator.cli import app, inventory_app, out
from migrator.inventory import load_inventory
from migrator.model import Severity
from migrator.render.inventory_json import inventory_json

_PATH_HELP = "Inventory folder (inventory.yaml and exports) or a single export file."


@app.command("check")
def check(path: Annotated[Path, typer.Argument(help=_PATH_HELP)]) -> None:
    """Load and validate an inventory; print every finding; exit 1 on errors."""
    inv = load_inventory(path)
    findings = check_inventory_basics(inv)
    if findings:
        table = Table("severity", "where", "message", "fix", show_lines=False)
        for f in findings:
            table.add_row(f.severity.value, f.where, f.message, f.fix)
        out.print(table)
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    out.print(
        f"{inv.root}: {len(inv.servers)} servers, {len(inv.receive_connectors)} receive connectors, "
        f"{len(inv.onprem_users)} AD users, {len(inv.cloud_users)} cloud users; "
        f"{errors} errors, {warnings} warnings",
        markup=False,
    )
    if errors:
        raise typer.Exit(1)


@inventory_app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help=_PATH_HELP)],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the normalised inventory as JSON.")
    ] = False,
) -> None:
    """Print the loaded, normalised inventory."""
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
