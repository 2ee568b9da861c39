"""``migrator logs scan`` on client-access logs, alone and beside SMTP protocol logs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from migrator.cli import app

DATA = Path(__file__).parent / "data"
runner = CliRunner()


def test_client_logs_alone_write_client_evidence_only(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "logs",
            "scan",
            str(DATA / "client-logs"),
            "-o",
            str(tmp_path),
            "--no-progress",
            "--top",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "client-evidence.json").is_file()
    assert (tmp_path / "client-evidence.md").is_file()
    assert not (tmp_path / "relay-evidence.json").exists()
    out = result.output
    # Plain lines when piped, never a table.
    assert "EX10-01 OWA: clients 2, requests 2, monitoring 0, last seen 2023-01-05" in out
    assert "more clients not listed" in out
    assert "Outlook older than 14.0.7015" in out
    assert "u_ex230105.log, line 15: fewer fields than its #Fields line names" in out
    assert "5 client access log files" in out


def test_all_lists_every_client(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["logs", "scan", str(DATA / "client-logs"), "-o", str(tmp_path), "--no-progress", "--all"],
    )
    assert result.exit_code == 0, result.output
    assert "more clients not listed" not in result.output
    assert "EX10-01 OWA (anonymous): address 10.1.9.5" in result.output


def test_smtp_and_client_logs_in_one_scan(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "logs",
            "scan",
            str(DATA / "logs"),
            str(DATA / "client-logs"),
            "-o",
            str(tmp_path),
            "--no-progress",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    relay = json.loads((tmp_path / "relay-evidence.json").read_text("utf-8"))
    assert relay["scan"]["sessions"] == 8
    client = json.loads((tmp_path / "client-evidence.json").read_text("utf-8"))
    assert [s["server"] for s in client["servers"]] == ["EX10-01", "EX10-03"]
    assert "no SMTP Receive" not in result.output
