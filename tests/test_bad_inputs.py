"""Every folder in tests/bad_inputs/ fails to load with exactly the messages in its expected.txt."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from migrator.errors import InventoryError
from migrator.fileio import loads_json
from migrator.inventory import load_inventory

BAD = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir())


def test_enough_distinct_cases() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    expected = (BAD / case / "expected.txt").read_text(encoding="utf-8")
    with pytest.raises(InventoryError) as info:
        load_inventory(Path(case))
    got = "".join(f"{p}\n" for p in info.value.problems)
    assert got == expected


def test_problems_are_sorted_by_row_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    with pytest.raises(InventoryError) as info:
        load_inventory(Path("many_problems_sorted"))
    rows = [p.where.split(", row ")[1].split(",")[0] for p in info.value.problems]
    assert rows == ["3", "10", "11"]


# --------------------------------------------------------------------------- cases made in the test
# What git cannot hold (symbolic link loops, FIFOs, unreadable files) is made here, each paired
# with its exact message. Tests run as root, and mode 000 does not stop root from reading: the
# unreadable cases run the CLI as the unprivileged user 'nobody' through setpriv where that is
# possible, and otherwise make the read itself fail (monkeypatch), as the test names say.

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
SERVERS = (CONTOSO / "ExchangeServers.csv").read_bytes()


def _skipped(inv: Path) -> list[str]:
    loaded = load_inventory(inv)
    return [
        f"{f.where}: {f.message}"
        for f in loaded.load_findings
        if f.code == "inventory.skipped-file"
    ]


def test_export_replaced_by_a_symlink_loop_is_named_not_skipped_silently(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "ExchangeServers.csv").write_bytes(SERVERS)
    (inv / "ReceiveConnectors.csv").symlink_to(inv / "ReceiveConnectors.csv")
    assert _skipped(inv) == [
        f"{inv}/ReceiveConnectors.csv: is a symbolic link loop (it leads back to itself), so it "
        "was not read; the inventory may be missing a table"
    ]


def test_export_replaced_by_a_folder_or_a_fifo_is_named(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "ExchangeServers.csv").write_bytes(SERVERS)
    (inv / "ReceiveConnectors.csv").mkdir()
    os.mkfifo(inv / "SendConnectors.csv")  # would block a read for ever
    os.symlink(inv / "gone.csv", inv / "Users.csv")
    assert _skipped(inv) == [
        f"{inv}/ReceiveConnectors.csv: is a folder, not a file, so it was not read; the "
        "inventory may be missing a table",
        f"{inv}/SendConnectors.csv: is a special file (a pipe or a device), not a regular file, "
        "so it was not read; the inventory may be missing a table",
        f"{inv}/Users.csv: is a symbolic link to something that does not exist, so it was not "
        "read; the inventory may be missing a table",
    ]


def test_inventory_path_that_is_a_symlink_loop(tmp_path: Path) -> None:
    loop = tmp_path / "inv"
    loop.symlink_to(loop)
    with pytest.raises(InventoryError) as info:
        load_inventory(loop)
    assert [str(p) for p in info.value.problems] == [
        f"{loop}: is a symbolic link loop (it leads back to itself); expected an inventory "
        "folder or an export file"
    ]


def test_file_listed_in_inventory_yaml_that_is_a_folder(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "inventory.yaml").write_text("organisation: X\nfiles: [servers.csv]\n", "utf-8")
    (inv / "servers.csv").mkdir()
    with pytest.raises(InventoryError) as info:
        load_inventory(inv)
    assert [str(p) for p in info.value.problems] == [
        f"{inv}/inventory.yaml, key 'files[0]': file 'servers.csv' is a folder, not a file in "
        f"{inv}; expected an export file there"
    ]


def test_unreadable_export_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mode 000 as a non-root user sees: the read fails with EACCES (simulated: root reads anyway)."""
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "ExchangeServers.csv").write_bytes(SERVERS)
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self.name == "ExchangeServers.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(InventoryError) as info:
        load_inventory(inv)
    assert [str(p) for p in info.value.problems] == [
        f"{inv}/ExchangeServers.csv: cannot be read (Permission denied); expected a file you "
        "can read: check its permissions (chmod u+r, or the file's Security tab on Windows) or "
        "copy it again"
    ]


def test_unreadable_folder_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = tmp_path / "inv"
    inv.mkdir()

    def denied(self: Path) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", denied)
    with pytest.raises(InventoryError) as info:
        load_inventory(inv)
    assert [str(p) for p in info.value.problems] == [
        f"{inv}: the folder cannot be read (Permission denied); expected a folder you can "
        "read: check its permissions"
    ]


def _as_nobody() -> list[str] | None:
    """A command prefix that runs as the unprivileged user 'nobody' (None where impossible)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        return None
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def _cli(prefix: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "migrator", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "COLUMNS": "300"},
    )


@pytest.mark.skipif(_as_nobody() is None, reason="needs root and setpriv to run as 'nobody'")
def test_mode_000_file_and_folder_as_a_real_unprivileged_user(tmp_path: Path) -> None:
    """The real thing: 'nobody' cannot read a mode-000 inventory.yaml, or a mode-000 folder."""
    prefix = _as_nobody()
    assert prefix is not None
    tmp_path.chmod(0o755)
    inv = tmp_path / "inv"
    shutil.copytree(CONTOSO, inv)
    for p in (inv, *inv.iterdir()):
        p.chmod(0o755 if p.is_dir() else 0o644)
    (inv / "inventory.yaml").chmod(0o000)
    got = _cli(prefix, "check", "inv", cwd=tmp_path)
    assert (got.returncode, got.stderr) == (
        1,
        "error: inv/inventory.yaml: cannot be read (Permission denied); expected a file you can "
        "read: check its permissions (chmod u+r, or the file's Security tab on Windows) or copy "
        "it again\n1 problem found; nothing was written\n",
    )
    (inv / "inventory.yaml").chmod(0o644)
    inv.chmod(0o000)
    try:
        got = _cli(prefix, "check", "inv", cwd=tmp_path)
    finally:
        inv.chmod(0o755)
    # Typer's own check would exit 2 with a usage error; the project's message exits 1.
    assert (got.returncode, got.stderr) == (
        1,
        "error: inv: the folder cannot be read (Permission denied); expected a folder you can "
        "read: check its permissions\n1 problem found; nothing was written\n",
    )


def test_relay_evidence_nested_deep_is_a_clean_error(tmp_path: Path) -> None:
    from migrator.pipeline import check_path

    inv = tmp_path / "inv"
    shutil.copytree(CONTOSO, inv)
    (inv / "relay-evidence.json").write_text(
        '{"format": ' + "[" * 100_000 + "]" * 100_000 + "}", "utf-8"
    )
    with pytest.raises(InventoryError) as info:
        check_path(inv)
    assert [str(p) for p in info.value.problems] == [
        f"{inv}/relay-evidence.json: is nested too deep to read; expected a relay-evidence.json "
        "as 'migrator logs scan' writes it"
    ]


def test_bounded_json_loader_refuses_deep_nesting() -> None:
    with pytest.raises(json.JSONDecodeError, match="nested deeper than 64 levels"):
        loads_json("[" * 65 + "]" * 65)
    with pytest.raises(json.JSONDecodeError, match="nested deeper than 64 levels"):
        loads_json("[" * 100_000 + "]" * 100_000)
    assert loads_json(b'{"a": [[1]]}') == {"a": [[1]]}


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (
            IsADirectoryError(21, "Is a directory", "out/plan.json"),
            "error: out/plan.json: Is a directory; expected a file or folder migrator can read "
            "and write (check the path, its permissions and free space); nothing half-written "
            "was left behind\n",
        ),
        (
            RecursionError("maximum recursion depth exceeded"),
            "error: an input is nested too deep to process; expected an inventory as the "
            "collector scripts export it (see docs/inventory.md)\n",
        ),
        (
            MemoryError(),
            "error: an input is too large to process; expected an inventory as the collector "
            "scripts export it (see docs/inventory.md)\n",
        ),
        (
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
            "error: an input is not text in the expected encoding ('utf-8' codec can't decode "
            "byte 0xff in position 0: invalid start byte); expected UTF-8 or UTF-16\n",
        ),
    ],
    ids=["oserror", "recursion", "memory", "unicode"],
)
def test_the_cli_boundary_words_any_stray_failure(
    exc: BaseException,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Whatever a reader or writer fails to catch is one line and exit 1, never a traceback."""
    import migrator.pipeline as pipeline
    from migrator.cli import main

    def fail(*_args: object, **_kwargs: object) -> None:
        raise exc

    # the command imports check_path from the pipeline when it runs
    monkeypatch.setattr(pipeline, "check_path", fail)
    monkeypatch.setattr(sys, "argv", ["migrator", "check", str(CONTOSO)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    assert capsys.readouterr().err == message


def test_tracking_workbook_with_a_value_in_xfd1048576_is_refused_not_an_abort(
    tmp_path: Path,
) -> None:
    """calamine would allocate 512 GB for this sheet and abort the process (migrator status, re-plan)."""
    import openpyxl

    from migrator.errors import WorkbookError
    from migrator.tracking.read import read_tracking

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Steps"
    ws.append(["ID", "Status"])
    ws["XFD1048576"] = "typed far away"
    book = tmp_path / "checklist.xlsx"
    wb.save(book)
    with pytest.raises(WorkbookError) as info:
        read_tracking(book, "checklist.xlsx")
    assert [str(p) for p in info.value.problems] == [
        "checklist.xlsx, sheet 'Steps': the sheet's cells reach row 1,048,576 and column XFD "
        "(17,179,869,184 cells); expected at most 16,777,216 cells (rows x columns): delete the "
        "rows and columns past the table (a value far away, e.g. in XFD1048576), or copy the "
        "table into a new sheet"
    ]
