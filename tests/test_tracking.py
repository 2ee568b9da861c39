"""Reading the tracking workbook back, progress, and re-planning without losing what the team typed."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.table import TableColumn
from workbook_plans import plan_of, sample_plan, step

from migrator.errors import WorkbookError
from migrator.plan.steps import MigrationPlan
from migrator.render.checklist import backup_path, write_checklist
from migrator.render.views import WorkbookData
from migrator.render.workbook import write_workbook
from migrator.tracking.merge import carry_over
from migrator.tracking.model import STEP_HEADERS, Status, StepTracking, Tracking
from migrator.tracking.progress import progress
from migrator.tracking.read import column_letter, read_tracking

COL = {h: i + 1 for i, h in enumerate(STEP_HEADERS)}
MTIME = dt.datetime(2026, 12, 3, 10, 15, 0, tzinfo=dt.UTC).timestamp()


def _edit(
    path: Path,
    changes: dict[str, dict[str, object]],
    reverse: bool = False,
    own_column: dict[str, str] | None = None,
) -> None:
    """Edit the Steps sheet like a user: type values, sort rows another way, add a column."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Steps"]
    width = ws.max_column
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2, max_col=width)]
    if reverse:
        rows.reverse()
    for r, values in enumerate(rows, start=2):
        for c, v in enumerate(values, start=1):
            ws.cell(r, c).value = v
        for header, value in changes.get(str(values[0]), {}).items():
            ws.cell(r, COL[header]).value = value
    if own_column is not None:
        col = width + 1
        ws.cell(1, col).value = "Ticket"
        for r, values in enumerate(rows, start=2):
            if str(values[0]) in own_column:
                ws.cell(r, col).value = own_column[str(values[0])]
        table = ws.tables["StepsTable"]
        table.ref = f"A1:{column_letter(col - 1)}{len(rows) + 1}"
        table.autoFilter.ref = table.ref
        table.tableColumns.append(TableColumn(id=col, name="Ticket"))
    wb.save(path)
    os.utime(path, (MTIME, MTIME))


def _plan_v2() -> MigrationPlan:
    """The inventory changed: the printer connector is gone, a second server's relay is new."""
    steps = [s for s in sample_plan().steps if s.id != "relay.create.EX16-01.printers"]
    steps.insert(4, step("relay.create.EX16-02.apps", ["servers.install.EX16-01"]))
    switch = next(i for i, s in enumerate(steps) if s.id == "mx.switch")
    steps[switch] = step(
        "mx.switch",
        ["relay.create.EX16-01.apps", "relay.create.EX16-02.apps", "mx.lower-ttl"],
    )
    return plan_of(steps)


TYPED = {
    "prepare.schema": {
        "Status": "Done",
        "Done date": dt.date(2026, 12, 1),
        "Done by": "ann",
        "Notes": "schema 15.1.2507\nchecked =in ADSIEdit",
    },
    "prepare.certificates": {"Status": "done", "Done by": "bob"},
    "relay.create.EX16-01.printers": {
        "Status": "Done",
        "Done date": "2026-12-02",
        "Notes": "printers moved; +keep logs",
    },
    "mx.lower-ttl": {"Status": "Blocked", "Notes": "waiting for the DNS provider"},
    "servers.install.EX16-01": {"Status": "In progress"},
}


def test_round_trip_re_plan_keeps_everything_typed(tmp_path: Path) -> None:
    path = tmp_path / "checklist.xlsx"
    first = write_checklist(path, WorkbookData(plan=sample_plan()))
    assert first.backup is None and first.carried_from is None
    _edit(
        path,
        TYPED,
        reverse=True,
        own_column={"mx.lower-ttl": "CHG-42", "relay.create.EX16-01.printers": "CHG-7"},
    )
    edited = path.read_bytes()

    tracking = read_tracking(path, display="checklist.xlsx")
    assert tracking.steps[0].step_id == "decommission.EX10-01"  # reordered
    assert tracking.extra_columns == ("Ticket",)
    by_id = tracking.by_id
    assert by_id["prepare.schema"].done_date == dt.date(2026, 12, 1)
    assert by_id["prepare.certificates"].status is Status.DONE
    assert by_id["relay.create.EX16-01.printers"].done_date == dt.date(2026, 12, 2)

    result = write_checklist(path, WorkbookData(plan=_plan_v2()))
    assert result.backup == tmp_path / "checklist.20261203-101500.xlsx"
    assert result.backup.read_bytes() == edited
    assert (result.kept, result.removed, result.new) == (7, 1, 1)

    after = read_tracking(path)
    rows = after.by_id
    for step_id, typed in TYPED.items():
        if step_id == "relay.create.EX16-01.printers":
            continue
        row = rows[step_id]
        assert row.status is Status.parse(str(typed["Status"]))
        if "Done by" in typed:
            assert row.done_by == typed["Done by"]
        if "Notes" in typed:
            assert row.notes == typed["Notes"]
    assert rows["prepare.schema"].done_date == dt.date(2026, 12, 1)
    assert dict(rows["mx.lower-ttl"].extra) == {"Ticket": "CHG-42"}
    assert after.extra_columns == ("Ticket",)
    (removed,) = after.removed
    assert (removed.step_id, removed.status, removed.done_date, removed.notes) == (
        "relay.create.EX16-01.printers",
        Status.DONE,
        dt.date(2026, 12, 2),
        "printers moved; +keep logs",
    )
    assert dict(removed.extra)["Ticket"] == "CHG-7"
    assert dict(removed.extra)["Removed from"] == str(path)

    wb = openpyxl.load_workbook(path)
    marks = {
        r[0]: r[COL["Plan change"] - 1] for r in wb["Steps"].iter_rows(min_row=2, values_only=True)
    }
    assert marks["relay.create.EX16-02.apps"] == "new"
    assert [k for k, v in marks.items() if v] == ["relay.create.EX16-02.apps"]
    assert (
        wb["Steps"]["A1"].value == "ID"
        and wb["Steps"].cell(1, len(STEP_HEADERS) + 1).value == "Ticket"
    )

    # Re-plan again: the removed step stays listed, the new backup does not replace the old one.
    os.utime(path, (MTIME + 60, MTIME + 60))
    third = write_checklist(path, WorkbookData(plan=_plan_v2()))
    assert third.backup == tmp_path / "checklist.20261203-101600.xlsx"
    assert result.backup.read_bytes() == edited
    assert [r.step_id for r in read_tracking(path).removed] == ["relay.create.EX16-01.printers"]
    assert third.new == 0

    # The step comes back: it takes its old row back.
    write_checklist(path, WorkbookData(plan=sample_plan()))
    back = read_tracking(path)
    printers = back.by_id["relay.create.EX16-01.printers"]
    assert (printers.status, printers.notes, dict(printers.extra)) == (
        Status.DONE,
        "printers moved; +keep logs",
        {"Ticket": "CHG-7"},
    )
    assert [r.step_id for r in back.removed] == ["relay.create.EX16-02.apps"]


def test_keep_status_from_a_workbook_elsewhere(tmp_path: Path) -> None:
    old = tmp_path / "old" / "checklist.xlsx"
    write_checklist(old, WorkbookData(plan=sample_plan()))
    _edit(old, {"prepare.schema": {"Status": "Skipped", "Notes": "done by the vendor"}})
    new = tmp_path / "new" / "checklist.xlsx"
    result = write_checklist(new, WorkbookData(plan=_plan_v2()), keep_status=old)
    assert result.backup is None and result.carried_from == str(old)
    row = read_tracking(new).by_id["prepare.schema"]
    assert (row.status, row.notes) == (Status.SKIPPED, "done by the vendor")
    assert sorted(p.name for p in new.parent.iterdir()) == ["checklist.xlsx"]


def test_unreadable_old_workbook_stops_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "checklist.xlsx"
    write_checklist(path, WorkbookData(plan=sample_plan()))
    _edit(path, {"mx.switch": {"Status": "Finished"}})
    before = path.read_bytes()
    with pytest.raises(WorkbookError, match="'Finished' is not a status"):
        write_checklist(path, WorkbookData(plan=_plan_v2()))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checklist.xlsx"]


def test_backup_name_never_reuses_a_different_file(tmp_path: Path) -> None:
    path = tmp_path / "checklist.xlsx"
    path.write_bytes(b"current")
    os.utime(path, (MTIME, MTIME))
    taken = tmp_path / "checklist.20261203-101500.xlsx"
    taken.write_bytes(b"older backup")
    assert backup_path(path) == tmp_path / "checklist.20261203-101500-2.xlsx"
    taken.write_bytes(b"current")
    assert backup_path(path) == taken  # the same file already kept: reuse the name


# --------------------------------------------------------------------------- errors


def _workbook(tmp_path: Path) -> Path:
    path = tmp_path / "checklist.xlsx"
    write_workbook(path, WorkbookData(plan=sample_plan()))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(WorkbookError) as info:
        read_tracking(path, display="checklist.xlsx")
    return [str(p) for p in info.value.problems]


def test_unknown_status_names_the_cell(tmp_path: Path) -> None:
    path = _workbook(tmp_path)
    _edit(
        path,
        {"prepare.certificates": {"Status": "Finished"}, "mx.switch": {"Done date": "last week"}},
    )
    assert _problems(path) == [
        "checklist.xlsx, sheet 'Steps', cell N3: 'Finished' is not a status; "
        "expected one of Not started, In progress, Done, Blocked, Skipped",
        "checklist.xlsx, sheet 'Steps', cell O8: 'last week' is not a date; type a date such as 2026-12-01",
    ]


def test_deleted_required_column_is_named(tmp_path: Path) -> None:
    path = _workbook(tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Steps"]
    ws.delete_cols(COL["Status"])
    del ws.tables["StepsTable"]  # Excel shrinks the table; openpyxl does not
    wb.save(path)
    (problem,) = _problems(path)
    assert problem.startswith(
        "checklist.xlsx, sheet 'Steps', row 1: required column 'Status' is missing; the columns migrator needs are "
        "ID, Phase, Title, Prerequisites, Status, Done date, Done by, Notes"
    )


def test_duplicate_ids_and_unknown_prerequisites(tmp_path: Path) -> None:
    path = _workbook(tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Steps"]
    ws["A9"] = "prepare.schema"
    ws["J4"] = "servers.install.EX16-99"
    wb.save(path)
    assert _problems(path) == [
        "checklist.xlsx, sheet 'Steps', cell A9: step id 'prepare.schema' also appears in row 2; "
        "each step has one row (delete the copy)",
        "checklist.xlsx, sheet 'Steps', cell J4: prerequisite 'servers.install.EX16-99' is not a step id in this sheet",
    ]


def test_not_a_workbook_and_missing_sheet(tmp_path: Path) -> None:
    bad = tmp_path / "checklist.xlsx"
    bad.write_text("id,status\n")
    (problem,) = _problems(bad)
    assert problem.startswith("checklist.xlsx: cannot be read as an Excel workbook (.xlsx)")
    other = openpyxl.Workbook()
    other.active.title = "Sheet1"
    other.save(bad)
    assert _problems(bad) == [
        "checklist.xlsx: no sheet 'Steps'; this is not a migrator tracking workbook (sheets found: 'Sheet1')"
    ]
    assert _problems(tmp_path / "nope.xlsx") == ["checklist.xlsx: file not found"]


def test_blank_rows_and_rows_without_id_are_tolerated_and_kept(tmp_path: Path) -> None:
    path = _workbook(tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Steps"]
    ws["N5"] = None  # status cleared: not started
    ws["D11"] = "call the printer vendor"
    ws["Q11"] = "ad-hoc task the team added"
    wb.save(path)
    tracking = read_tracking(path)
    assert tracking.by_id["servers.install.EX16-01"].status is Status.NOT_STARTED
    (unkeyed,) = tracking.removed
    assert (unkeyed.step_id, unkeyed.title, unkeyed.notes, unkeyed.row) == (
        "",
        "call the printer vendor",
        "ad-hoc task the team added",
        11,
    )
    carried = carry_over(tracking, sample_plan())
    assert carried.removed == (unkeyed,)


# --------------------------------------------------------------------------- progress and carry-over


def _tracking(statuses: dict[str, Status]) -> Tracking:
    plan = sample_plan()
    return Tracking(
        path="t.xlsx",
        steps=tuple(
            StepTracking(
                s.id,
                s.phase.value,
                s.title,
                s.prerequisites,
                statuses.get(s.id, Status.NOT_STARTED),
            )
            for s in plan.steps
        ),
        columns=STEP_HEADERS,
    )


def test_progress_blocked_steps_and_what_can_start() -> None:
    p = progress(
        _tracking(
            {
                "prepare.schema": Status.DONE,
                "prepare.certificates": Status.SKIPPED,
                "servers.install.EX16-01": Status.BLOCKED,
                "mx.lower-ttl": Status.IN_PROGRESS,
            }
        )
    )
    assert [(ph.phase, ph.total, ph.resolved, ph.percent_done) for ph in p.phases] == [
        ("prepare", 2, 2, 100),
        ("servers", 1, 0, 0),
        ("relay", 2, 0, 0),
        ("mx", 2, 0, 0),
        ("decommission", 1, 0, 0),
    ]
    (blocked,) = p.blocked
    assert blocked.step.step_id == "servers.install.EX16-01"
    assert blocked.blocks == (
        "relay.create.EX16-01.apps",
        "relay.create.EX16-01.printers",
        "mx.switch",
        "decommission.EX10-01",
    )
    assert [s.step_id for s in p.done] == ["prepare.schema"]
    assert [s.step_id for s in p.in_progress] == ["mx.lower-ttl"]
    assert p.can_start == ()
    assert (p.total, p.resolved) == (8, 2)


def test_progress_of_a_fresh_plan() -> None:
    p = progress(sample_plan())
    assert [s.step_id for s in p.can_start] == ["prepare.schema", "mx.lower-ttl"]
    assert p.blocked == () and p.done == ()


def test_carry_over_lists_kept_removed_and_new() -> None:
    old = _tracking({"relay.create.EX16-01.printers": Status.DONE, "prepare.schema": Status.DONE})
    carried = carry_over(old, _plan_v2())
    assert carried.new_step_ids == ("relay.create.EX16-02.apps",)
    assert [r.step_id for r in carried.removed] == ["relay.create.EX16-01.printers"]
    assert carried.kept["prepare.schema"].status is Status.DONE
    assert set(carried.kept) == {s.id for s in _plan_v2().steps} - {"relay.create.EX16-02.apps"}


def _long_plan(n: int) -> MigrationPlan:
    """n batch steps and one org-wide step that needs all of them (a list no cell can hold)."""
    batches = [step(f"relay.create.EX16-{i:06d}.relay-application-connector") for i in range(n)]
    return plan_of([*batches, step("decommission.org-wide", [s.id for s in batches])])


def test_long_prerequisite_lists_go_to_their_own_sheet_and_read_back(tmp_path: Path) -> None:
    """Issue 18: a list over 32,767 characters was cut, and status then refused the workbook."""
    plan = _long_plan(1000)
    last = plan.steps[-1]
    assert len("\n".join(last.prerequisites)) > 32_767
    path = tmp_path / "checklist.xlsx"
    write_checklist(path, WorkbookData(plan=plan))
    wb = openpyxl.load_workbook(path, read_only=True)
    steps = list(wb["Steps"].iter_rows(values_only=True))
    cell = steps[-1][STEP_HEADERS.index("Prerequisites")]
    assert cell == "1000 steps: see sheet 'Prerequisites'"
    edges = list(wb["Prerequisites"].iter_rows(values_only=True))
    assert edges[0] == ("Step ID", "Prerequisite")
    assert edges[1:] == [(last.id, p) for p in last.prerequisites]
    assert all(len(str(v or "")) <= 32_767 for row in steps for v in row)
    wb.close()

    tracking = read_tracking(path)
    assert {s.step_id: s.prerequisites for s in tracking.steps}[last.id] == last.prerequisites
    assert progress(tracking).total == len(plan.steps)
    # A re-plan into the same folder carries everything over.
    again = write_checklist(path, WorkbookData(plan=plan))
    assert again.kept == len(plan.steps) and again.removed == 0


def test_a_deleted_prerequisites_sheet_is_named(tmp_path: Path) -> None:
    path = tmp_path / "checklist.xlsx"
    write_workbook(path, WorkbookData(plan=_long_plan(60)))
    wb = openpyxl.load_workbook(path)
    del wb["Prerequisites"]
    wb.save(path)
    with pytest.raises(WorkbookError) as info:
        read_tracking(path)
    assert "sheet 'Prerequisites'" in str(info.value.problems[0])
