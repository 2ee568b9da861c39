"""The tracking workbook in LibreOffice: it converts cleanly, formulas compute, hostile text stays text.

Skipped when ``soffice`` is not installed, unless MIGRATOR_REQUIRE_LIBREOFFICE=1
(then a missing LibreOffice fails the test, so CI cannot skip it silently).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
from workbook_plans import plan_of, sample_plan, step

from migrator.model import Finding, Severity
from migrator.plan.steps import Owner
from migrator.render.views import RelayRow, WorkbookData
from migrator.render.workbook import cell_text, write_workbook
from migrator.tracking.model import STEP_HEADERS

pytestmark = pytest.mark.libreoffice

HOSTILE = (
    '=HYPERLINK("http://evil.example/","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "=1+1",
)

# CSV export of every sheet (last token -1) into <name>-<sheet>.csv, UTF-8 (76), values as shown.
_CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        if os.environ.get("MIGRATOR_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail("soffice not found but MIGRATOR_REQUIRE_LIBREOFFICE=1")
        pytest.skip("LibreOffice (soffice) is not installed")
    return found


@pytest.fixture(scope="module")
def lo_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One LibreOffice user profile for this module's runs: made by the first, reused by the next.

    Per worker under ``pytest -n`` (tmp_path_factory), and the runs of one module are sequential,
    so two soffice processes never share it.
    """
    return tmp_path_factory.mktemp("lo") / "profile"


def _convert(xlsx: Path, tmp_path: Path, profile: Path) -> dict[str, list[list[str]]]:
    """Sheet name -> rows, as LibreOffice computes and shows them."""
    out = tmp_path / "csv"
    out.mkdir()
    result = subprocess.run(
        [
            _soffice(),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            _CSV_FILTER,
            "--outdir",
            str(out),
            str(xlsx),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stdout.lower(), result.stdout
    sheets: dict[str, list[list[str]]] = {}
    for f in out.glob(f"{xlsx.stem}-*.csv"):
        with f.open(encoding="utf-8", newline="") as fh:
            sheets[f.stem[len(xlsx.stem) + 1 :]] = list(csv.reader(fh))
    return sheets


def _workbook(tmp_path: Path) -> Path:
    plan = plan_of(
        [
            *sample_plan().steps,
            step(
                "onward.hostile",
                ["decommission.EX10-01"],
                title=HOSTILE[0],
                target=HOSTILE[1],
                owner=Owner.APPLICATION_OWNERS,
            ),
        ],
        organisation=HOSTILE[1],
    )
    data = WorkbookData(
        plan=plan,
        relay_rows=[RelayRow(h, (h,), ("10.0.0.1",), h, (h,)) for h in HOSTILE],
        findings=[Finding(Severity.WARNING, "relay.x", h, h, h) for h in HOSTILE],
    )
    path = tmp_path / "checklist.xlsx"
    write_workbook(path, data)
    return path


def _mark(path: Path, statuses: dict[str, str]) -> None:
    """Change statuses the way a user would: open the file, pick values, save."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Steps"]
    status_col = STEP_HEADERS.index("Status") + 1
    for row in ws.iter_rows(min_row=2):
        step_id = row[0].value
        if step_id in statuses:
            row[status_col - 1].value = statuses[step_id]
    wb.save(path)


def _summary(rows: list[list[str]], title: str) -> dict[str, list[str]]:
    start = next(i for i, r in enumerate(rows) if r and r[0] == title)
    out: dict[str, list[str]] = {}
    for r in rows[start + 1 :]:
        if not r or not r[0]:
            break
        out[r[0]] = r[1:8]
    return out


def _expected(steps: list[list[str]], key: str) -> dict[str, list[str]]:
    header = steps[0]
    k, s = header.index(key), header.index("Status")
    per: dict[str, Counter[str]] = {}
    for r in steps[1:]:
        if r and r[0]:
            per.setdefault(r[k], Counter())[r[s] or "Not started"] += 1
    out = {}
    total: Counter[str] = Counter()
    for c in per.values():
        total.update(c)
    for name, c in [*per.items(), ("Total", total)]:
        n = sum(c.values())
        pct = (c["Done"] + c["Skipped"]) * 100 / n if n else 0
        out[name] = [
            str(n),
            str(c["Not started"]),
            str(c["In progress"]),
            str(c["Done"]),
            str(c["Blocked"]),
            str(c["Skipped"]),
            f"{round(pct)}%",
        ]
    return out


def test_converts_and_overview_counts_follow_the_steps_sheet(
    tmp_path: Path, lo_profile: Path
) -> None:
    path = _workbook(tmp_path)
    _mark(
        path,
        {
            "prepare.schema": "Done",
            "prepare.certificates": "Done",
            "servers.install.EX16-01": "In progress",
            "mx.lower-ttl": "Blocked",
            "relay.create.EX16-01.printers": "Skipped",
            "decommission.EX10-01": "",  # cleared by the user: counts as not started
        },
    )
    sheets = _convert(path, tmp_path, lo_profile)
    assert set(sheets) == {
        "Overview",
        "Steps",
        "Relay",
        "Relay clients",
        "Identities",
        "DNS",
        "Findings",
    }
    overview, steps = sheets["Overview"], sheets["Steps"]
    assert steps[0][: len(STEP_HEADERS)] == list(STEP_HEADERS)
    by_phase = _summary(overview, "Phase")
    assert by_phase == _expected(steps, "Phase")
    assert by_phase["prepare"] == ["2", "0", "0", "2", "0", "0", "100%"]
    assert by_phase["Total"] == ["9", "4", "1", "2", "1", "1", "33%"]
    assert _summary(overview, "Owner") == _expected(steps, "Owner")
    facts = {r[0]: r[1:] for r in overview if r and r[0]}
    assert facts["Steps"][0] == "9"
    assert facts["Done or skipped"][:2] == ["3", "33%"]
    assert facts["Organisation"][0] == HOSTILE[1]


def test_hostile_strings_are_text_in_libreoffice(tmp_path: Path, lo_profile: Path) -> None:
    sheets = _convert(_workbook(tmp_path), tmp_path, lo_profile)
    relay = sheets["Relay"]
    assert [r[0] for r in relay[1:]] == [cell_text(h) for h in HOSTILE]
    assert [r[3] for r in relay[1:]] == list(HOSTILE)
    findings = sheets["Findings"]
    assert sorted(r[2] for r in findings[1:]) == sorted(HOSTILE)
    steps = sheets["Steps"]
    row = next(r for r in steps if r[0] == "onward.hostile")
    assert row[3] == HOSTILE[0] and row[4] == HOSTILE[1]
    # A computed HYPERLINK would show "click"; "-2+3" would show 1; "=1+1" would show 2.
    flat = {c for r in relay for c in r}
    assert "click" not in flat and "1" not in flat and "2" not in flat


def _save_in_libreoffice(xlsx: Path, tmp_path: Path, profile: Path) -> Path:
    """Open ``xlsx`` in LibreOffice and save it again as .xlsx, as a team member would."""
    out = tmp_path / "saved"
    out.mkdir()
    result = subprocess.run(
        [
            _soffice(),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(out),
            str(xlsx),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    saved = out / xlsx.name
    assert saved.is_file(), result.stdout + result.stderr
    return saved


def test_100k_steps_open_in_libreoffice_then_status_and_re_plan(
    tmp_path: Path, lo_profile: Path
) -> None:
    """Issue 18: at 100,000 steps no cell passes Excel's limits, and the file LibreOffice
    saves back is read by ``status`` and carried over by a re-plan into the same folder."""
    from migrator.cli.commands_status import render_progress
    from migrator.render.checklist import write_checklist
    from migrator.tracking.progress import progress
    from migrator.tracking.read import read_tracking

    n = 100_000
    work = [step(f"identity.sync.batch-{i:06d}") for i in range(n - 1)]
    wide = step("decommission.org-wide", [s.id for s in work[-5000:]])
    plan = plan_of([*work, wide])
    folder = tmp_path / "plan"
    folder.mkdir()
    checklist = folder / "checklist.xlsx"
    write_checklist(checklist, WorkbookData(plan=plan))

    saved = _save_in_libreoffice(checklist, tmp_path, lo_profile)
    shutil.copy2(saved, checklist)

    # What `migrator status` does, on the file LibreOffice wrote.
    tracking = read_tracking(checklist)
    lines = render_progress(progress(tracking), str(checklist))
    assert lines[0] == f"{checklist}: 0 of {n} steps done or skipped"
    assert {s.step_id: s for s in tracking.steps}[wide.id].prerequisites == wide.prerequisites

    # A re-plan into the same folder carries the tracking over from it.
    again = write_checklist(checklist, WorkbookData(plan=plan))
    assert again.kept == n and again.removed == 0 and again.backup is not None
