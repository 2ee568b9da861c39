"""The collector scripts: copied out of the installed package for the user to run at the customer.

They are plain PowerShell files under ``templates/collect/`` (not Jinja2
templates: nothing in them depends on an inventory), written with
:func:`~migrator.fileio.write_windows_text` so that Windows PowerShell reads
them as UTF-8 (BOM) with CRLF line endings.
"""

from __future__ import annotations

from pathlib import Path

from migrator.fileio import write_windows_text
from migrator.render.templating import templates_dir

COLLECT_SCRIPTS = (
    "Export-MigratorInventory.ps1",
    "Export-MigratorCloudInventory.ps1",
    "Export-MigratorMoveStatistics.ps1",
)
"""File names of the collector scripts, in the order they are written."""


def collect_script_path(name: str) -> Path:
    """Where one collector script lives inside the installed package (or the source tree)."""
    return templates_dir() / "collect" / name


def write_collect_scripts(out_dir: Path) -> list[Path]:
    """Write the collector scripts into ``out_dir`` (created if missing); return their paths."""
    written: list[Path] = []
    for name in COLLECT_SCRIPTS:
        text = collect_script_path(name).read_text(encoding="utf-8-sig")
        target = out_dir / name
        write_windows_text(target, text)
        written.append(target)
    return written
