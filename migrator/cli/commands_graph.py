"""``migrator graph``: the plan's dependency graph as DOT, Mermaid or PNG."""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrator.cli import app, out
from migrator.errors import MigratorError
from migrator.fileio import atomic_write_bytes, write_text

if TYPE_CHECKING:
    pass


class GraphFormat(enum.Enum):
    """Output formats of ``migrator graph``."""

    DOT = "dot"
    MERMAID = "mermaid"
    PNG = "png"


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise MigratorError(
            f"--start: '{text}' is not a date; expected YYYY-MM-DD, e.g. 2026-12-07"
        ) from None


@app.command("graph")
def graph(
    inventory: Annotated[
        Path, typer.Argument(readable=False, help="Inventory folder (inventory.yaml and exports).")
    ],
    fmt: Annotated[
        GraphFormat,
        typer.Option("--format", "-f", help="dot, mermaid or png (png needs Graphviz)."),
    ] = GraphFormat.DOT,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start", help="Plan start date YYYY-MM-DD (default: plan.start of the inventory)."
        ),
    ] = None,
) -> None:
    """Print or write the migration plan's dependency graph (phases as clusters, critical path highlighted)."""
    from migrator.inventory import load_inventory
    from migrator.pipeline import build_plan
    from migrator.render.graph_text import render_dot, render_mermaid, render_png

    day = _date(start)
    plan = build_plan(load_inventory(inventory), day)
    if fmt is GraphFormat.PNG:
        if output is None:
            raise MigratorError("--format png writes a binary file: give -o FILE.png")
        atomic_write_bytes(output, render_png(render_dot(plan)))
    else:
        text = render_dot(plan) if fmt is GraphFormat.DOT else render_mermaid(plan)
        if output is None:
            typer.echo(text, nl=False)
            return
        write_text(output, text)
    out.print(
        f"{output}: {len(plan.steps)} steps, critical path {len(plan.critical_path)} steps, "
        f"finish {plan.finish.isoformat(timespec='minutes') if plan.finish else 'n/a'}",
        markup=False,
    )
