"""``migrator logs scan`` end to end (library figures are tested in test_logs_scanner)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from migrator.cli import app
from migrator.logs.evidence import load_evidence

DATA = Path(__file__).parent / "data" / "logs"
runner = CliRunner()


def test_scan_writes_evidence_and_prints_summary(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "logs",
            "scan",
            str(DATA / "ex2010"),
            str(DATA / "ex2016"),
            "-o",
            str(tmp_path),
            "--no-progress",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    ev = load_evidence(tmp_path / "relay-evidence.json")
    assert ev.scan.sessions == 8
    assert "EX10-01: 4 days of evidence" in result.output
    assert "SEND20230103-1.LOG: SMTP Send protocol log (not counted)" in result.output
    assert "8 sessions; wrote" in result.output


def test_scan_of_nothing_readable_fails_cleanly(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "migrator",
            "logs",
            "scan",
            str(tmp_path / "missing"),
            "-o",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "error: no SMTP Receive protocol log could be read" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "relay-evidence.json").exists()


def test_scan_with_the_example_inventory_prints_findings(tmp_path: Path) -> None:
    inv = Path(__file__).parent.parent / "inventories" / "contoso"
    result = runner.invoke(
        app,
        [
            "logs",
            "scan",
            str(DATA),
            "--inventory",
            str(inv),
            "-o",
            str(tmp_path),
            "--no-progress",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "evidence.relay-refused EX16-01\\Default Frontend EX16-01, client 10.1.1.70"
        in result.output
    )
    assert "evidence.window-short EX16-01" in result.output
    ev = load_evidence(tmp_path / "relay-evidence.json")
    assert ev.scan.accepted_domains  # recipients were split with the inventory's domains


def test_both_engines_write_the_same_file(tmp_path: Path) -> None:
    written = {}
    for engine in ("compiled", "python"):
        out_dir = tmp_path / engine
        result = runner.invoke(
            app,
            ["logs", "scan", str(DATA), "-o", str(out_dir), "--no-progress", "--engine", engine],
        )
        assert result.exit_code == 0, result.output
        written[engine] = (out_dir / "relay-evidence.json").read_bytes()
    assert written["compiled"] == written["python"]


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["logs", "scan", str(DATA), "-o", str(tmp_path), "--engine", "spark"]
    )
    assert result.exit_code != 0
    assert not (tmp_path / "relay-evidence.json").exists()
