"""``migrator status CHECKLIST``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
from typer.testing import CliRunner
from workbook_plans import sample_plan

from migrator.cli import app
from migrator.render.views import WorkbookData
from migrator.render.workbook import write_workbook


def _checklist(tmp_path: Path, statuses: dict[str, tuple[str, str]]) -> Path:
    path = tmp_path / "checklist.xlsx"
    write_workbook(path, WorkbookData(plan=sample_plan()))
    wb = openpyxl.load_workbook(path)
    ws = wb["Steps"]
    for row in ws.iter_rows(min_row=2):
        if row[0].value in statuses:
            row[13].value, row[16].value = statuses[str(row[0].value)]
    wb.save(path)
    return path


def test_status_prints_progress_blocked_and_next(tmp_path: Path) -> None:
    path = _checklist(
        tmp_path,
        {
            "prepare.schema": ("Done", ""),
            "prepare.certificates": ("Done", ""),
            "servers.install.EX16-01": ("Blocked", "media missing\nasked vendor"),
        },
    )
    result = CliRunner().invoke(app, ["status", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{path}: 2 of 8 steps done or skipped"
    assert "progress per phase:" in lines
    prepare = next(line for line in lines if line.startswith("  prepare"))
    assert "2/2" in prepare and "100%" in prepare
    blocked = lines.index("blocked (1):")
    assert lines[blocked + 1 : blocked + 4] == [
        "  servers.install.EX16-01: Do servers.install.EX16-01",
        "    notes: media missing asked vendor",
        "    blocks 4: relay.create.EX16-01.apps, relay.create.EX16-01.printers, mx.switch, "
        "decommission.EX10-01",
    ]
    start = lines.index("can start now (1):")
    assert lines[start + 1] == "  mx.lower-ttl: Do mx.lower-ttl [DNS admin]"
    assert "done (2):" in lines


def test_status_error_names_the_cell_without_traceback(tmp_path: Path) -> None:
    path = _checklist(tmp_path, {"mx.switch": ("Finished", "")})
    result = subprocess.run(
        [sys.executable, "-m", "migrator", "status", "checklist.xlsx"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: checklist.xlsx, sheet 'Steps', cell N8: 'Finished' is not a status; "
        "expected one of Not started, In progress, Done, Blocked, Skipped",
        "1 problem found; nothing was written",
    ]
    assert path.exists()
