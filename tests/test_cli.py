"""The ``migrator`` command through its real entry point: exit codes, messages, no tracebacks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from migrator import __version__

ROOT = Path(__file__).resolve().parent.parent
BAD = Path(__file__).parent / "bad_inputs"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert message in result.stdout + result.stderr


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"migrator {__version__}"


def test_plan_contoso_as_the_readme_does(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = run("plan", "inventories/contoso", "-o", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contoso Ltd: " in result.stdout and "steps in 9 phases" in result.stdout
    assert "critical path" in result.stdout
    assert (out / "report.html").is_file() and (out / "checklist.xlsx").is_file()


def test_check_reports_every_problem_at_once_without_traceback() -> None:
    result = run("check", str(BAD / "many_problems_sorted"))
    expected = (
        (BAD / "many_problems_sorted" / "expected.txt").read_text("utf-8").strip().splitlines()
    )
    assert_clean_failure(result, "nothing was written")
    assert len(expected) > 1
    for line in expected:
        assert line.split(": ", 1)[-1] in result.stderr


def test_plan_refuses_an_open_relay_and_writes_nothing(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(ROOT / "inventories" / "contoso", inv)
    yaml = inv / "inventory.yaml"
    text = yaml.read_text("utf-8").replace(
        "  overrides:\n",
        "  overrides:\n    - connector: 'EX10-01\\Relay Apps'\n      add_ranges: [0.0.0.0/0]\n",
        1,
    )
    yaml.write_text(text, "utf-8")
    out = tmp_path / "plan"
    result = run("plan", str(inv), "-o", str(out))
    assert_clean_failure(result, "plan refused")
    assert "open relay" in result.stdout
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("plan", "inventories/contoso", "--start", "next monday"),
            "--start 'next monday' is not a date",
        ),
        (("identity", "guid", "not-base64!"), "not-base64!"),
        (("identity", "immutable-id", "1234"), "'1234'"),
        (("check", "does/not/exist"), "does/not/exist"),
        (("status", "README.md"), "README.md"),
    ],
)
def test_bad_arguments_are_clean_errors(args: tuple[str, ...], message: str) -> None:
    assert_clean_failure(run(*args), message)


def test_immutable_id_round_trip_prints_the_result_last() -> None:
    guid = "748a5e9e-1d34-4b5c-9b0e-1f2a3b4c5d6e"
    to_id = run("identity", "immutable-id", "{" + guid.upper() + "}")
    assert to_id.returncode == 0
    immutable_id = to_id.stdout.strip().splitlines()[-1]
    back = run("identity", "guid", immutable_id)
    assert back.returncode == 0
    assert back.stdout.strip().splitlines()[-1] == guid


def test_runs_from_another_directory_with_the_installed_templates(tmp_path: Path) -> None:
    # In CI the package is installed from a wheel: templates must come from inside it.
    result = run("plan", str(ROOT / "inventories" / "contoso"), "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted((tmp_path / "out" / "runbooks").glob("*/*.ps1"))
    result = run("collect-script", "--out", "scripts", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "scripts" / "Export-MigratorInventory.ps1").is_file()


@pytest.mark.parametrize("terminal", [True, False])
def test_findings_print_inventory_text_literally(
    terminal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    import migrator.cli as cli
    from migrator.model import Finding, Severity

    console = Console(force_terminal=terminal, width=300, record=True, color_system=None)
    monkeypatch.setattr(cli, "out", console)
    f = Finding(
        Severity.WARNING, "x.y", "CN=[Bob],OU=Users", "client [2001:db8::5]:25 [bold]x", "fix [red]"
    )
    assert cli.print_findings((f,)) == (0, 1)
    text = console.export_text()
    for literal in ("CN=[Bob],OU=Users", "[2001:db8::5]:25", "[bold]x", "fix [red]"):
        assert literal in text
