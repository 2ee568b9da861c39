"""``migrator collect-script``: write the inventory collector scripts out of the package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrator.cli import app, out
from migrator.errors import MigratorError

if TYPE_CHECKING:
    pass


@app.command("collect-script")
def collect_script(
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Folder to write the collector scripts into."),
    ] = Path("."),
) -> None:
    """Write Export-MigratorInventory.ps1 (Exchange 2010 shell), Export-MigratorCloudInventory.ps1 (Graph) and Export-MigratorMoveStatistics.ps1 (after each wave)."""
    from migrator.render.collect import write_collect_scripts

    if out_dir.exists() and not out_dir.is_dir():
        raise MigratorError(f"--out '{out_dir}' is a file; expected a folder")
    try:
        paths = write_collect_scripts(out_dir)
    except OSError as exc:
        raise MigratorError(f"--out '{out_dir}': cannot write ({exc.strerror or exc})") from exc
    for path in paths:
        out.print(f"wrote {path}", markup=False)
    out.print(
        "run Export-MigratorInventory.ps1 in the Exchange 2010 Management Shell and "
        "Export-MigratorCloudInventory.ps1 with Microsoft Graph PowerShell; see docs/collect.md. "
        "After each move wave, Export-MigratorMoveStatistics.ps1 (2016 EMS, or -ExchangeOnline) "
        "exports what migrator moves forecast reads (docs/moves.md)",
        markup=False,
    )
