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
    assert "Contoso Ltd: " in result.stdout and "steps in 10 phases" in result.stdout
    # the schedule's groups are not called waves next to wave-001..008 (review 5 follow-up)
    assert "maintenance windows or days; 9 mailbox move waves (wave-001 to wave-009);" in (
        result.stdout
    )
    assert " waves;" not in result.stdout.replace("mailbox move waves (", "")
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


def _contoso_with_one_user_held_back(tmp_path: Path) -> Path:
    """Contoso with David Jones (not yet synced) held back by an IdFix rule (a space in his UPN)."""
    inv = tmp_path / "contoso"
    shutil.copytree(ROOT / "inventories" / "contoso", inv)
    users = inv / "ADUsers-NotSynced.csv"
    text = users.read_bytes().decode("utf-16")
    before = 'DC=com","david.jones@contoso.com"'
    assert before in text
    text = text.replace(before, 'DC=com","david jones@contoso.com"', 1)
    users.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    return inv


def test_graph_and_plan_json_list_the_same_steps_and_edges(tmp_path: Path) -> None:
    """One plan builder: ``migrator graph`` shows exactly the plan ``migrator plan`` writes.

    With one on-premises user held back by an identity rule, the graph used to
    build its own plan without the hold and put 11 users in batch-001, the plan 10.
    """
    import json
    import re

    from migrator import build_plan, load_inventory
    from migrator.pipeline import analyse
    from migrator.render.moves_output import moves_json
    from migrator.render.plan_json import render_plan_json

    inv = _contoso_with_one_user_held_back(tmp_path)
    graph = run("graph", str(inv), "--format", "dot")
    assert graph.returncode == 0, graph.stderr
    planned = run("plan", str(inv), "-o", str(tmp_path / "plan"))
    assert planned.returncode == 0, planned.stdout + planned.stderr

    def unescape(text: str) -> str:
        return re.sub(r"\\(.)", r"\1", text)

    quoted = r'"((?:[^"\\]|\\.)*)"'
    nodes = {unescape(m) for m in re.findall(rf"^\s*{quoted} \[label=", graph.stdout, re.M)}
    edges = {
        (unescape(a), unescape(b))
        for a, b in re.findall(rf"^\s*{quoted} -> {quoted}", graph.stdout, re.M)
    }
    written = (tmp_path / "plan" / "plan.json").read_text("utf-8")
    data = json.loads(written)
    steps = {s["id"]: s for s in data["steps"]}
    prereqs = {(p, s["id"]) for s in data["steps"] for p in s["prerequisites"]}
    assert nodes == set(steps)
    assert edges == prereqs
    assert steps["identity.prepare.batch-001"]["title"].startswith("Prepare 10 on-premises user(s)")
    # The library call the graph makes gives the plan.json `migrator plan` wrote, byte for byte
    # (plan.json adds the mailbox moves the same analysis planned).
    analysis = analyse(load_inventory(inv))
    plan = build_plan(analysis)
    assert render_plan_json(build_plan(load_inventory(inv))) == render_plan_json(plan)
    assert analysis.moves is not None
    assert render_plan_json(plan, moves_json(analysis.moves, plan)) == written


def _contoso_with_many_warnings(tmp_path: Path, extra_users: int = 60) -> Path:
    """Contoso plus users with a non-routable UPN suffix: one identity.upn-suffix-local each."""
    inv = tmp_path / "contoso"
    shutil.copytree(ROOT / "inventories" / "contoso", inv)
    users = inv / "ADUsers-NotSynced.csv"
    text = users.read_bytes().decode("utf-16")
    rows = "".join(
        f'"Local {i}","00000000-0000-4000-8000-{i:012d}","local{i}",'
        f'"CN=Local {i},OU=Users,OU=Contoso,DC=contoso,DC=com","local{i}@corp.local",'
        f'"local{i}@contoso.com","SMTP:local{i}@contoso.com",,,,,"True"\r\n'
        for i in range(extra_users)
    )
    users.write_bytes(b"\xff\xfe" + (text.rstrip("\r\n") + "\r\n" + rows).encode("utf-16-le"))
    return inv


def test_many_findings_are_grouped_by_code_and_listed_in_full_elsewhere(tmp_path: Path) -> None:
    """Issue 18: check printed 42,000 lines; now a count per code, the first few, and where the rest is."""
    inv = _contoso_with_many_warnings(tmp_path)
    full = tmp_path / "findings.txt"
    result = run("check", str(inv), "--findings", str(full))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    listed = full.read_text("utf-8").splitlines()
    n = sum(line.startswith("warning: identity.upn-suffix-local ") for line in listed)
    assert n >= 60
    assert f"warning: identity.upn-suffix-local: {n} findings" in lines
    assert f"  ... and {n - 5} more" in lines
    at = lines.index(f"warning: identity.upn-suffix-local: {n} findings")
    assert lines[at + 6] == f"  ... and {n - 5} more"
    assert all(line.startswith("  ") and "non-routable" in line for line in lines[at + 1 : at + 6])
    assert f"every finding is listed in {full}" in lines[-2]
    # Piped: plain lines, never a table's box characters.
    assert not any(ch in result.stdout for ch in "┃│━─")

    every = run("check", str(inv), "--all")
    assert sum("upn-suffix-local" in line for line in every.stdout.splitlines()) == n
    assert [line for line in every.stdout.splitlines() if line.startswith("warning: ")] == [
        line for line in listed if line.startswith("warning: ")
    ]

    planned = run("plan", str(inv), "-o", str(tmp_path / "plan"))
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert f"every finding is listed in {tmp_path / 'plan' / 'findings.txt'}" in planned.stdout
    assert (tmp_path / "plan" / "findings.txt").read_text("utf-8").count("corp.local") >= 60


def test_check_does_not_say_nothing_can_be_planned_when_plan_succeeds(tmp_path: Path) -> None:
    """Issue 18: check warned "nothing can be planned" (no relay.targets) while plan succeeded."""
    inv = tmp_path / "contoso"
    shutil.copytree(ROOT / "inventories" / "contoso", inv)
    yaml_path = inv / "inventory.yaml"
    text = yaml_path.read_text("utf-8")
    start = text.index("  targets:")
    end = text.index("  public_ranges:")
    yaml_path.write_text(text[:start] + text[end:], "utf-8")
    checked = run("check", str(inv), "--all")
    planned = run("plan", str(inv), "-o", str(tmp_path / "plan"))
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "nothing can be planned" not in checked.stdout
    assert "inventory.no-targets" in checked.stdout
    assert "relay connectors are not carried over" in checked.stdout


def test_help_imports_no_heavy_library() -> None:
    """Issue 18: --help took 1.7 s; the heavy libraries are imported where they are used."""
    code = (
        "import sys; sys.argv = ['migrator', '--help']\n"
        "from migrator.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('openpyxl', 'numpy', 'networkx', 'pandas', 'jinja2', 'jsonschema', 'psrpcore',"
        " 'numba', 'duckdb', 'migrator.pipeline', 'migrator.plan')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
