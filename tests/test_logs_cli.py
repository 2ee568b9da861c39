"""``migrator logs scan`` end to end (library figures are tested in test_logs_smtp)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
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


def test_only_the_compiled_engine_is_left(tmp_path: Path) -> None:
    # --engine stays (hidden) so scripts naming the compiled engine still run.
    ok = runner.invoke(
        app,
        ["logs", "scan", str(DATA), "-o", str(tmp_path), "--no-progress", "--engine", "compiled"],
    )
    assert ok.exit_code == 0, ok.output
    for gone in ("python", "spark"):
        out_dir = tmp_path / gone
        result = runner.invoke(
            app, ["logs", "scan", str(DATA), "-o", str(out_dir), "--engine", gone]
        )
        assert result.exit_code != 0
        assert not (out_dir / "relay-evidence.json").exists()


def test_one_discovery_serves_both_scans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SMTP and client-access logs in one zip archive, and a path that does not exist.
    from migrator.logs import smtp_files, sources

    archive = tmp_path / "logs.zip"
    client_logs = DATA.parent / "client-logs"
    with zipfile.ZipFile(archive, "w") as zf:
        for root in (DATA, client_logs):
            for f in sorted(root.rglob("*")):
                if f.suffix.lower() == ".log":
                    zf.write(f, f"{root.name}/{f.relative_to(root).as_posix()}")
    calls: list[object] = []
    real = sources.discover

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    def never(*args: object, **kwargs: object) -> object:
        raise AssertionError("the SMTP scan discovered the files again")

    monkeypatch.setattr(sources, "discover", counted)
    monkeypatch.setattr(smtp_files, "discover_sources", never)
    out_dir = tmp_path / "out"
    missing = tmp_path / "missing"
    result = runner.invoke(
        app, ["logs", "scan", str(archive), str(missing), "-o", str(out_dir), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
    relay = load_evidence(out_dir / "relay-evidence.json")
    assert relay.scan.sessions == 8
    # The relay evidence lists what was not counted among the SMTP candidates (the send
    # log) and what no scan could read; the client-access logs are not "skipped" there.
    assert {(Path(s.path).name, s.reason) for s in relay.scan.files_skipped} == {
        ("SEND20230103-1.LOG", "SMTP Send protocol log (not counted)"),
        ("missing", "no such file or folder"),
    }
    client = json.loads((out_dir / "client-evidence.json").read_text("utf-8"))
    assert [Path(s["path"]).name for s in client["scan"]["files_skipped"]] == ["missing"]
    # A path both scans skipped is printed once.
    assert result.output.count(f"skipped {missing}: no such file or folder") == 1


def test_piped_summary_is_plain_lines_with_totals_and_top_clients(tmp_path: Path) -> None:
    # CliRunner output is not a terminal: plain lines, no table drawn at 80 columns,
    # per connector totals, the busiest clients, and where the rest is.
    args = ["logs", "scan", str(DATA), "-o", str(tmp_path), "--workers", "1"]
    result = runner.invoke(app, [*args, "--top", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert not any(ch in result.output for ch in "│┃━─")
    assert (
        "EX16-01\\Default Frontend EX16-01: clients 3, sessions 3, messages 1, internal rcpt -,"
        " external rcpt -, refused relay 1, auth 0, tls 1, last seen 2023-01-04"
    ) in lines
    listed = [line for line in lines if line.startswith("EX10-01\\Relay Apps ")]
    assert listed == [
        "EX10-01\\Relay Apps 10.1.1.50: sessions 3, messages 2, internal rcpt -, external rcpt -,"
        " refused relay 0, auth 0, tls 0, last seen 2023-01-05"
    ]
    assert f"3 more clients not listed: every client is in {tmp_path / 'relay-evidence.json'}" in (
        result.output
    )
    everything = runner.invoke(app, [*args, "--all"])
    assert everything.exit_code == 0, everything.output
    clients = [
        line
        for line in everything.output.splitlines()
        if " sessions " in line and "clients" not in line
    ]
    assert len(clients) == 6 and "more clients not listed" not in everything.output


def test_progress_is_silent_when_piped(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "migrator", "logs", "scan", str(DATA), "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "reading" not in proc.stderr and "\x1b[" not in proc.stderr + proc.stdout
    assert all(line.startswith("warning: ") for line in proc.stderr.splitlines())
