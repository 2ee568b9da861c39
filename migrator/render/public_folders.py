"""``public-folders/map-forecast.csv``: migrator's forecast of the public-folder-to-mailbox map.

The columns of Microsoft's map (``FolderPath``, ``TargetMailbox``) plus the
folder's own bytes; every folder on its own row, the root first. UTF-8 with
BOM and CRLF: the compare step of the runbook reads it with Import-Csv. Every
path starts with ``\\``, so no cell reads as a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from migrator.fileio import write_windows_text
from migrator.model import Inventory
from migrator.plan.public_folder_steps import FORECAST_CSV, forecast_rows


def forecast_csv_text(inv: Inventory) -> str:
    """The forecast as CSV text (LF; written with CRLF)."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["FolderPath", "TargetMailbox", "Bytes"])
    for path, mailbox, size in forecast_rows(inv):
        writer.writerow([path, mailbox, str(size)])
    return buf.getvalue()


def write_public_folder_forecast(inv: Inventory, out: Path) -> Path | None:
    """Write the forecast below ``out`` where the inventory has public folders."""
    if not inv.public_folder_databases or not inv.public_folders:
        return None
    path = out / FORECAST_CSV
    path.parent.mkdir(parents=True, exist_ok=True)
    write_windows_text(path, forecast_csv_text(inv))
    return path
