"""The whole job on every example inventory: it plans, writes every output, and is deterministic.

Golden files of the contoso plan live in ``tests/golden/contoso/``; regenerate them with
``MIGRATOR_REGEN_GOLDEN=1 pytest tests/test_pipeline.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from golden_files import check_golden_tree
from powershell_check import check_script

from migrator.errors import MigratorError
from migrator.model import Severity
from migrator.pipeline import CHECKLIST, MANIFEST, check_path, plan_folder

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "inventories").iterdir() if p.is_dir())
CONTOSO = ROOT / "inventories" / "contoso"
GOLDEN = Path(__file__).parent / "golden" / "contoso"
# Text outputs pinned byte for byte (the workbook is pinned by its own tests through a cell dump).
GOLDEN_GLOBS = (
    "runbooks/**/*.ps1",
    "identity/*.csv",
    "public-folders/*.csv",
    "*.md",
    "identity/*.md",
    "report.html",
    "plan.json",
)
PS2_MARKER = "Exchange 2010 Management Shell runs PowerShell 2.0"


@pytest.mark.parametrize("inventory", EXAMPLES, ids=lambda p: p.name)
def test_every_example_checks_without_errors(inventory: Path) -> None:
    analysis = check_path(inventory)
    assert [f"{f.where}: {f.message}" for f in analysis.errors] == []


def test_contoso_plans_cleanly_with_warnings_and_infos_only(contoso_plan: Path) -> None:
    analysis = check_path(CONTOSO)
    severities = {f.severity for f in analysis.findings}
    assert Severity.ERROR not in severities
    assert (
        Severity.WARNING in severities
    )  # e.g. the nested overlap that shadows, 2016 end of support


def test_contoso_writes_every_output(contoso_plan: Path) -> None:
    names = {str(p.relative_to(contoso_plan)) for p in contoso_plan.rglob("*") if p.is_file()}
    for expected in (
        "plan.json",
        "inventory.json",
        "relay-report.md",
        "report.html",
        CHECKLIST,
        "identity/identity-report.md",
        "runbooks/20-relay/EX16-01.ps1",
        "runbooks/20-relay/EX16-01-rollback.ps1",
        "runbooks/20-relay/EX10-01-decommission.ps1",
        MANIFEST,
    ):
        assert expected in names
    assert any(n.startswith("identity/batch-") for n in names)
    assert any(n.startswith("runbooks/00-prepare/") for n in names)
    assert any(n.startswith("runbooks/50-mx/") for n in names)


def test_every_generated_script_is_valid_powershell_for_its_shell(contoso_plan: Path) -> None:
    problems: dict[str, list[str]] = {}
    scripts = sorted(contoso_plan.rglob("*.ps1"))
    assert scripts
    for script in scripts:
        raw = script.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), f"{script.name}: no UTF-8 BOM"
        assert b"\n" not in raw.replace(b"\r\n", b""), f"{script.name}: bare LF line ending"
        text = raw.decode("utf-8-sig")
        found = check_script(text, ps2=PS2_MARKER in text)
        if found:
            problems[str(script.relative_to(contoso_plan))] = found
    assert problems == {}


def test_csvs_the_runbooks_read_are_windows_encoded(contoso_plan: Path) -> None:
    for csv in sorted((contoso_plan / "identity").glob("*.csv")):
        raw = csv.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        assert b"\n" not in raw.replace(b"\r\n", b"")


def test_two_runs_into_two_folders_are_byte_identical(
    contoso_plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    again = tmp_path / "again"
    monkeypatch.chdir(ROOT)
    plan_folder(Path("inventories/contoso"), again)
    first = {
        p.relative_to(contoso_plan): p.read_bytes() for p in contoso_plan.rglob("*") if p.is_file()
    }
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert sorted(first) == sorted(second)
    different = [str(k) for k in first if first[k] != second[k]]
    assert different == []


def test_contoso_golden_files(contoso_plan: Path) -> None:
    # A folder's Migrator.Runbook.ps1 is a cut of templates/powershell/Migrator.Runbook.ps1
    # (tests/test_runbook_size.py holds each function byte-equal to the source), so it is not a
    # golden file: editing one helper function changes the one source file, not a golden per folder.
    produced = {
        p
        for g in GOLDEN_GLOBS
        for p in contoso_plan.glob(g)
        if p.is_file() and p.name != "Migrator.Runbook.ps1"
    }
    check_golden_tree(
        GOLDEN, {p.relative_to(contoso_plan).as_posix(): p.read_bytes() for p in produced}
    )


def _open_relay_inventory(tmp_path: Path) -> Path:
    """contoso with one relay range widened to the whole Internet."""
    copy = tmp_path / "inv"
    shutil.copytree(CONTOSO, copy)
    yaml = copy / "inventory.yaml"
    text = yaml.read_text("utf-8")
    text = text.replace(
        "  overrides:\n",
        "  overrides:\n    - connector: 'EX10-01\\Relay Apps'\n      add_ranges: [0.0.0.0/0]\n",
        1,
    )
    assert "0.0.0.0/0" in text
    yaml.write_text(text, "utf-8")
    return copy


def test_an_open_relay_stops_the_plan_and_nothing_is_written(tmp_path: Path) -> None:
    inv = _open_relay_inventory(tmp_path)
    out = tmp_path / "plan"
    result = plan_folder(inv, out)
    assert result.plan is None
    assert any("open relay" in f.message for f in result.analysis.errors)
    assert not out.exists()
    # No staging folder is left behind either.
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_replan_removes_runbooks_the_new_plan_no_longer_writes(
    contoso_plan: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plan"
    plan_folder(CONTOSO, out)
    stale = out / "runbooks" / "20-relay" / "EX99-gone.ps1"
    stale.write_bytes(b"old")
    manifest = out / MANIFEST
    manifest.write_text(
        manifest.read_text("utf-8").replace("[", '[\n"runbooks/20-relay/EX99-gone.ps1",', 1),
        "utf-8",
    )
    plan_folder(CONTOSO, out)
    assert not stale.exists()
    # The team's workbook is kept as a backup, never silently overwritten.
    backups = [p for p in out.iterdir() if p.name.startswith("checklist.") and p.name != CHECKLIST]
    assert len(backups) == 1


def test_output_path_that_is_a_file_is_a_clean_error(tmp_path: Path) -> None:
    target = tmp_path / "plan"
    target.write_text("not a folder")
    with pytest.raises(MigratorError, match="is not a folder"):
        plan_folder(CONTOSO, target)


def test_log_evidence_reaches_the_workbook_and_the_report(tmp_path: Path) -> None:
    """logs scan -> relay-evidence.json -> plan --evidence: evidence shows where the team looks."""
    import subprocess
    import sys

    from python_calamine import CalamineWorkbook

    # The 2010 fixture, as if written at Contoso: its relay client becomes scan01 (10.1.20.15).
    logs = tmp_path / "logs"
    shutil.copytree(Path(__file__).parent / "data" / "logs" / "ex2010", logs)
    for f in logs.rglob("*"):
        if f.is_file():
            f.write_bytes(f.read_bytes().replace(b"10.1.1.50:", b"10.1.20.15:"))
    ev_dir = tmp_path / "evidence"
    scan = subprocess.run(
        [
            sys.executable,
            "-m",
            "migrator",
            "logs",
            "scan",
            str(logs),
            "--inventory",
            str(CONTOSO),
            "-o",
            str(ev_dir),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert scan.returncode in (0, 1), scan.stderr  # 1: the evidence itself found errors
    evidence = ev_dir / "relay-evidence.json"
    assert evidence.is_file(), scan.stdout + scan.stderr
    out = tmp_path / "plan"
    result = plan_folder(CONTOSO, out, evidence_path=evidence)
    assert result.analysis.evidence is not None
    # scan01 relays out through a connector the plan carries over with its address: nothing breaks.
    assert result.plan is not None, [f.message for f in result.analysis.errors]
    book = CalamineWorkbook.from_path(str(out / CHECKLIST))
    relay = book.get_sheet_by_name("Relay").to_python()
    header = relay[0]
    row = next(r for r in relay if r[0] == "EX10-01\\Relay Apps")
    assert "sessions" in str(row[header.index("Log evidence")])
    clients = book.get_sheet_by_name("Relay clients").to_python()
    assert any(r[0] == "EX10-01\\Relay Apps" and r[4] not in ("", None) for r in clients[1:])
    html = (out / "report.html").read_text("utf-8")
    assert '<th scope="col">Evidence</th>' in html
