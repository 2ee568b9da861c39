"""``migrator moves forecast``: re-schedule the remaining waves with the throughput the moves showed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from migrator.cli import moves_app, out, print_findings
from migrator.errors import MigratorError


def _finish(plan_json: Path) -> str:
    try:
        doc = json.loads(plan_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown"
    waves = doc.get("move_waves") or []
    ends = [w.get("completion_window_start") for w in waves if w.get("completion_window_start")]
    return str(max(ends)) if ends else "unknown"


@moves_app.command("forecast")
def forecast(
    plan_dir: Annotated[Path, typer.Argument(help="The plan folder (written by migrator plan).")],
    stats: Annotated[
        list[Path],
        typer.Argument(help="Get-MoveRequestStatistics / Get-MigrationUserStatistics CSV exports."),
    ],
    inventory: Annotated[
        Path, typer.Option("--inventory", "-i", help="The inventory the plan was made from.")
    ],
) -> None:
    """Fit the observed GB/hour per 2010 server and re-plan the waves into PLAN_DIR (status kept)."""
    # Imported here, as every command does: `migrator --help` loads no heavy library.
    from migrator.inventory import load_inventory
    from migrator.inventory.move_stats import read_move_stats
    from migrator.pipeline import plan_folder
    from migrator.plan.forecast import fit_throughput

    rows = read_move_stats(stats)
    inv = load_inventory(inventory)
    observed = fit_throughput(inv, rows)
    if not observed:
        raise MigratorError(
            "no finished move of 50 MB or more could be tied to a 2010 server; expected the "
            "export of finished waves (docs/moves.md)"
        )
    before = _finish(plan_dir / "plan.json")
    assumed = inv.moves.throughput_gb_per_hour if inv.moves else 10.0
    for o in observed:
        out.print(
            f"{o.server}: assumed {assumed:g} GB/hour, observed {o.gb_per_hour:g} GB/hour "
            f"({o.samples} moves, {o.outliers} outliers dropped)",
            markup=False,
        )
    result = plan_folder(
        inventory, plan_dir, throughput={o.server: o.gb_per_hour for o in observed}
    )
    errors, _ = print_findings(
        tuple(f for f in result.analysis.findings if f.code.startswith("moves."))
    )
    if result.plan is None or errors:
        raise typer.Exit(1)
    out.print(
        f"last wave completes: before {before}, now {_finish(plan_dir / 'plan.json')}",
        markup=False,
    )
