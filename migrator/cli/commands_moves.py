"""``migrator moves forecast``: re-schedule the remaining waves with the throughput the moves showed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from migrator.cli import moves_app, out, print_findings


@moves_app.command("forecast")
def forecast(
    plan_dir: Annotated[Path, typer.Argument(help="The plan folder (written by migrator plan).")],
    stats: Annotated[
        list[Path],
        typer.Argument(help="Get-MoveRequestStatistics / Get-MigrationUserStatistics CSV exports."),
    ],
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            "-i",
            help="The inventory the plan was made from (default: the one inventory.json names, "
            "else the plan folder alone: re-estimated, not rewritten).",
        ),
    ] = None,
) -> None:
    """Fit the observed GB/hour per 2010 server and database and re-plan the waves into PLAN_DIR (status kept)."""
    # Imported here, as every command does: `migrator --help` loads no heavy library.
    from migrator.moves_forecast import forecast_folder

    result = forecast_folder(plan_dir, stats, inventory)
    for o in result.observed:
        assumed = result.assumed.get(o.server.lower(), result.assumed[""])
        what = f"{o.server} {o.database}" if o.database else o.server
        out.print(
            f"{what}: assumed {assumed:g} GB/hour, observed {o.gb_per_hour:g} GB/hour "
            f"({o.samples} moves, {o.outliers} outliers dropped)",
            markup=False,
        )
    if result.result is None:
        for e in result.estimates:
            if e.before_hours != e.after_hours:
                out.print(
                    f"{e.wave}: copy {e.before_hours:g} h -> {e.after_hours:g} h", markup=False
                )
        out.print(
            "the plan folder was not rewritten (the inventory it was made from is not at the "
            "path inventory.json names): run again with --inventory to re-schedule the waves",
            markup=False,
        )
        return
    errors, _ = print_findings(
        tuple(f for f in result.result.analysis.findings if f.code.startswith("moves."))
    )
    if result.result.plan is None or errors:
        raise typer.Exit(1)
    out.print(
        f"last wave completes: before {result.finish_before}, now {result.finish_after}",
        markup=False,
    )
