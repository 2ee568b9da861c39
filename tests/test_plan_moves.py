"""Move waves: caps, delegate-aware grouping, pins, ordering in the plan graph, the wave CSVs."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.inventory import load_inventory
from migrator.mailboxes import Mailbox, MailboxKind, MailboxLink, MovesPolicy, OnlineRule, Right
from migrator.model import Finding, Inventory, Severity
from migrator.pipeline import build_plan
from migrator.plan.moves import (
    ARBITRATION_WAVE,
    EXCHANGE_ONLINE,
    GB,
    LOG_SHARE_PERCENT,
    MovePlan,
    log_room,
    migration_database,
    plan_moves,
    wave_log_load,
)
from migrator.plan.moves_steps import cleanup_id, complete_id, moves_rollback_steps
from migrator.render.moves_output import DOCUMENTED_COLUMNS, wave_csv_text

ROOT = Path(__file__).parent.parent
CONTOSO = ROOT / "inventories" / "contoso"
SERVERS = ("EX1", "EX2", "EX3")
TARGETS = {"EX1": ("T1", "T2"), "EX2": ("T3",), "EX3": ("T4", "T5")}


def _inventory(
    sizes: list[int],
    servers: list[int],
    links: list[tuple[int, int]],
    policy: MovesPolicy,
    online: frozenset[int] = frozenset(),
) -> Inventory:
    mailboxes = tuple(
        Mailbox(
            identity=f"u{i}",
            primary_smtp=f"u{i:05d}@x.com",
            kind=MailboxKind.USER,
            database=f"DB-{SERVERS[servers[i]]}",
            server=SERVERS[servers[i]],
            alias=f"u{i}",
            size_bytes=size,
            custom_attributes=(("customattribute1", "Cloud"),) if i in online else (),
        )
        for i, size in enumerate(sizes)
    )
    link_objs = tuple(
        MailboxLink(f"u{a:05d}@x.com", f"u{b:05d}@x.com", Right.FULL_ACCESS)
        for a, b in links
        if a != b
    )
    return Inventory("t", mailboxes=mailboxes, mailbox_links=link_objs, moves=policy)


def _policy(**kw: object) -> MovesPolicy:
    base: dict[str, object] = {
        "target_databases": tuple(TARGETS.items()),
        "max_mailboxes": 8,
        "max_gb": 20.0,
        "max_per_source_server": 5,
        "max_per_target_database": 4,
        "service_account_cap": 1000,
        "online": OnlineRule(attribute=("customattribute1", "Cloud")),
    }
    base.update(kw)
    return MovesPolicy(**base)  # type: ignore[arg-type]


def _over(mp: MovePlan, number: int) -> list[str]:
    """The caps a wave breaks."""
    p = mp.policy
    w = mp.wave(number)
    by = {a.mailbox.primary_smtp: a for a in mp.assignments}
    out = []
    if len(w.mailboxes) > p.max_mailboxes:
        out.append("mailboxes")
    if w.size_bytes > p.max_gb * GB:
        out.append("gb")
    src = Counter(by[s].mailbox.server for s in w.mailboxes)
    if src and max(src.values()) > p.max_per_source_server:
        out.append("source")
    dbs = Counter(by[s].target_database for s in w.mailboxes if by[s].target_database)
    if dbs and max(dbs.values()) > p.max_per_target_database:
        out.append("target")
    return out


sizes_st = st.lists(st.integers(min_value=0, max_value=30 * GB), min_size=1, max_size=60)


@st.composite
def estates(draw: st.DrawFn) -> tuple[list[int], list[int], list[tuple[int, int]], frozenset[int]]:
    sizes = draw(sizes_st)
    n = len(sizes)
    servers = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    links = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))
    online = draw(st.frozensets(st.integers(0, n - 1), max_size=n // 3))
    return sizes, servers, links, online


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates())
def test_waves_never_exceed_the_caps_but_for_one_oversized_mailbox(
    estate: tuple[list[int], list[int], list[tuple[int, int]], frozenset[int]],
) -> None:
    sizes, servers, links, online = estate
    mp = plan_moves(_inventory(sizes, servers, links, _policy(), online))
    seen = Counter(a.mailbox.primary_smtp for a in mp.assignments)
    assert set(seen.values()) == {1} and len(seen) == len(sizes)  # each exactly once
    for w in mp.waves:
        over = _over(mp, w.number)
        if over:
            assert len(w.mailboxes) == 1 and over == ["gb"], (w, over)
            assert any(
                f.code == "moves.over-cap" and w.mailboxes[0] in f.message for f in mp.findings
            )
    for a in mp.assignments:
        assert (a.target == EXCHANGE_ONLINE) == (int(a.mailbox.identity[1:]) in online)
        assert mp.wave(a.wave).target == a.target


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates())
def test_linked_mailboxes_share_a_wave_whenever_their_component_fits(
    estate: tuple[list[int], list[int], list[tuple[int, int]], frozenset[int]],
) -> None:
    sizes, servers, links, online = estate
    policy = _policy()
    mp = plan_moves(_inventory(sizes, servers, links, policy, online))
    wave_of = {a.mailbox.primary_smtp: a.wave for a in mp.assignments}
    db_of = {a.mailbox.primary_smtp: a.target_database for a in mp.assignments}
    # Components over links between mailboxes of the same target.
    parent = list(range(len(sizes)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in links:
        if a != b and (a in online) == (b in online):
            parent[find(a)] = find(b)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(sizes)):
        groups[find(i)].append(i)
    for members in groups.values():
        names = [f"u{i:05d}@x.com" for i in members]
        src = Counter(SERVERS[servers[i]] for i in members)
        dbs = Counter(db_of[n] for n in names if db_of[n])
        fits = (
            len(members) <= policy.max_mailboxes
            and sum(sizes[i] for i in members) <= policy.max_gb * GB
            and max(src.values()) <= policy.max_per_source_server
            and (not dbs or max(dbs.values()) <= policy.max_per_target_database)
        )
        if fits:
            assert len({wave_of[n] for n in names}) == 1, names


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates(), st.data())
def test_replanning_with_overrides_keeps_every_override(
    estate: tuple[list[int], list[int], list[tuple[int, int]], frozenset[int]],
    data: st.DataObject,
) -> None:
    sizes, servers, links, online = estate
    inv = _inventory(sizes, servers, links, _policy(), online)
    first = plan_moves(inv)
    numbers = sorted(w.number for w in first.waves if w.number != ARBITRATION_WAVE)
    names = sorted(a.mailbox.primary_smtp for a in first.assignments)
    pins = data.draw(
        st.dictionaries(st.sampled_from(names), st.sampled_from(numbers), max_size=len(names))
    )
    second = plan_moves(inv, pins)
    got = {a.mailbox.primary_smtp: a for a in second.assignments}
    assert len(got) == len(sizes)
    for smtp, wave in pins.items():
        assert got[smtp].wave == wave and got[smtp].pinned


def test_service_accounts_are_reported_not_used_to_glue() -> None:
    links = [(i, 0) for i in range(1, 30)]  # u0 holds FullAccess on 29 mailboxes
    mp = plan_moves(_inventory([GB] * 30, [0] * 30, links, _policy(service_account_cap=10)))
    assert mp.service_accounts == (("u00000@x.com", 29),)
    assert any(f.code == "moves.service-account" for f in mp.findings)


def test_a_split_component_lists_every_broken_link_on_both_sides() -> None:
    # A chain of 12 linked mailboxes cannot fit an 8-mailbox wave: one cut suffices.
    links = [(i, i + 1) for i in range(11)]
    mp = plan_moves(_inventory([GB] * 12, [0, 1, 2] * 4, links, _policy()))
    broken = [
        (a.mailbox.primary_smtp, b.with_mailbox) for a in mp.assignments for b in a.broken_links
    ]
    assert len(broken) == 2  # one link, listed for both mailboxes
    assert len({w.number for w in mp.waves}) == 2


def test_contoso_plans_moves_in_order() -> None:
    inv = load_inventory(CONTOSO)
    mp = plan_moves(inv)
    moved = {a.mailbox.primary_smtp for a in mp.assignments}
    excluded = {s for s, _ in mp.excluded}
    assert moved | excluded == {m.primary_smtp for m in inv.mailboxes}
    assert not moved & excluded
    first = mp.waves[0]
    assert first.arbitration and first.mailboxes[0].startswith("migration.8f3e7716")
    assert mp.waves[1].pilot
    cloud = [w for w in mp.waves if w.target == EXCHANGE_ONLINE]
    assert cloud and all(
        mp.waves.index(c) > mp.waves.index(w) for c in cloud for w in mp.waves if w not in cloud
    )
    plan = build_plan(inv)

    def before(a: str, b: str) -> bool:
        """Whether a is a (transitive) prerequisite of b."""
        todo, seen = [b], set()
        while todo:
            s = todo.pop()
            for p in plan.prerequisites(s):
                if p == a:
                    return True
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return False

    arbitration = complete_id(first)
    for w in mp.waves[1:]:
        assert before(arbitration, f"moves.copy.{w.name}")
        assert before("servers.readiness", f"moves.copy.{w.name}")
    for w in mp.waves:
        servers = {a.mailbox.server.upper() for a in mp.assignments if a.wave == w.number}
        for server in servers:
            assert before(complete_id(w), f"decommission.databases.{server}")
            assert before(cleanup_id(w), f"decommission.databases.{server}")
        if w.target != EXCHANGE_ONLINE:
            assert before(complete_id(w), "public-folders.lock")
    for c in cloud:
        assert before("moves.mrsproxy", f"moves.copy.{c.name}")
        assert before("hybrid.hcw-rerun", f"moves.copy.{c.name}")


def test_wave_csvs_hold_only_the_documented_columns() -> None:
    inv = load_inventory(CONTOSO)
    mp = plan_moves(inv)
    by = {a.mailbox.primary_smtp: a for a in mp.assignments}
    for w in mp.waves[1:]:
        text = wave_csv_text(w, by, 10)
        rows = list(csv.reader(io.StringIO(text)))
        header = rows[0]
        assert header[0] == "EmailAddress"
        assert set(header) <= set(DOCUMENTED_COLUMNS)
        assert len(header) == len(set(h.lower() for h in header))
        assert [r[0] for r in rows[1:]] == list(w.mailboxes)
        for r in rows[1:]:
            row = dict(zip(header, r, strict=True))
            assert row.get("MailboxType", "PrimaryOnly") in {"PrimaryOnly", "PrimaryAndArchive"}
            if w.target != EXCHANGE_ONLINE:
                assert 0 <= int(row["BadItemLimit"]) <= 50
                assert row["TargetDatabase"] in {"DB16-LON-01", "DB16-LON-02", "DB16-DUB-01"}


def _set_cells(xlsx: Path, smtp: str, values: dict[str, object]) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(xlsx)
    ws = wb["Mailboxes"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == smtp:
            for name, value in values.items():
                row[header.index(name)].value = value
    wb.save(xlsx)


def test_replan_honours_the_wave_override_and_keeps_what_was_typed(tmp_path: Path) -> None:
    import json

    from migrator.pipeline import plan_folder

    out = tmp_path / "plan"
    first = plan_folder(CONTOSO, out)
    assert first.plan is not None
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    waves = {m["primary_smtp"]: m["wave"] for m in doc["mailboxes"]}
    assert doc["waves"][0]["id"] == "wave-000"
    target = next(s for s, w in waves.items() if w == "wave-005")
    _set_cells(out / "checklist.xlsx", target, {"Wave (override)": 2, "Notes": "CEO: move early"})
    second = plan_folder(CONTOSO, out)
    assert second.plan is not None
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    row = next(m for m in doc["mailboxes"] if m["primary_smtp"] == target)
    assert row["wave"] == "wave-002" and row["pinned"] is True
    import openpyxl

    ws = openpyxl.load_workbook(out / "checklist.xlsx")["Mailboxes"]
    header = [c.value for c in ws[1]]
    kept = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == target)
    assert kept[header.index("Wave (override)")] == 2
    assert kept[header.index("Notes")] == "CEO: move early"


def test_an_override_naming_no_wave_stops_the_plan_with_its_cell(tmp_path: Path) -> None:
    from migrator.pipeline import plan_folder

    out = tmp_path / "plan"
    plan_folder(CONTOSO, out)
    before = (out / "plan.json").read_bytes()
    _set_cells(out / "checklist.xlsx", "staff01@contoso.com", {"Wave (override)": 99})
    _set_cells(out / "checklist.xlsx", "staff02@contoso.com", {"Wave (override)": "soon"})
    result = plan_folder(CONTOSO, out)
    assert result.plan is None
    messages = [f"{f.where}: {f.message}" for f in result.analysis.errors]
    assert any(
        "sheet 'Mailboxes', cell H" in m and "'99' is not a wave of this plan" in m
        for m in messages
    )
    assert any("'soon' is not a wave" in m for m in messages)
    assert (out / "plan.json").read_bytes() == before  # nothing written


def test_exchange_online_waves_need_the_tenant() -> None:
    inv = _inventory([GB, GB], [0, 0], [], _policy(), frozenset({1}))
    mp = plan_moves(inv)
    assert any(
        f.code == "moves.exchange-online-without-tenant" and f.severity.value == "error"
        for f in mp.findings
    )


def _stats_csv(path: Path, rows: list[tuple[str, str, int, int]]) -> Path:
    lines = ['"Identity","SourceServer","BytesTransferred","TotalInProgressDuration"']
    for ident, server, nbytes, seconds in rows:
        h, rest = divmod(seconds, 3600)
        span = f"{h:02d}:{rest // 60:02d}:{rest % 60:02d}"
        lines.append(f'"{ident}","{server}","{nbytes / GB:.1f} GB ({nbytes:,} bytes)","{span}"')
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-16"))
    return path


def test_forecast_fits_a_robust_throughput_and_replans_keeping_status(tmp_path: Path) -> None:
    import json

    from migrator.inventory.move_stats import read_move_stats
    from migrator.pipeline import plan_folder
    from migrator.plan.forecast import fit_throughput

    inv = load_inventory(CONTOSO)
    rows = [(f"staff{i:02d}@contoso.com", "EX10-02", 2 * GB, 1800) for i in range(1, 9)]
    rows.append(("staff09@contoso.com", "EX10-02", 2 * GB, 360000))  # stalled: an outlier
    rows.append(("staff10@contoso.com", "EX10-02", 1024, 1))  # tiny: not a copy
    stats = read_move_stats([_stats_csv(tmp_path / "s.csv", rows)])
    fit, *per_db = fit_throughput(inv, stats)
    assert fit.server == "EX10-02" and fit.gb_per_hour == 4.0 and fit.outliers == 1
    assert not fit.database and all(o.database and o.server == "EX10-02" for o in per_db)
    out = tmp_path / "plan"
    plan_folder(CONTOSO, out)
    before = json.loads((out / "plan.json").read_text(encoding="utf-8"))["waves"]
    _set_cells(out / "checklist.xlsx", "staff01@contoso.com", {"Status": "Done", "Notes": "ok"})
    plan_folder(CONTOSO, out, throughput={"EX10-02": fit.gb_per_hour})
    after = json.loads((out / "plan.json").read_text(encoding="utf-8"))["waves"]
    slower = [
        (b["estimated_copy_hours"], a["estimated_copy_hours"])
        for b, a in zip(before, after, strict=True)
        if a["estimated_copy_hours"] != b["estimated_copy_hours"]
    ]
    assert slower and all(a > b for b, a in slower)
    assert "| EX10-02 | 10 | 4 |" in (out / "moves-report.md").read_text(encoding="utf-8")
    import openpyxl

    ws = openpyxl.load_workbook(out / "checklist.xlsx")["Mailboxes"]
    header = [c.value for c in ws[1]]
    kept = next(
        r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == "staff01@contoso.com"
    )
    assert kept[header.index("Status")] == "Done" and kept[header.index("Notes")] == "ok"


def test_a_bad_statistics_cell_names_file_row_and_column(tmp_path: Path) -> None:
    import pytest

    from migrator.errors import InventoryError
    from migrator.inventory.move_stats import read_move_stats

    p = tmp_path / "s.csv"
    p.write_text(
        '"Identity","BytesTransferred","TotalInProgressDuration"\n"a@x.com","lots","1:00:00"\n'
    )
    with pytest.raises(
        InventoryError, match=r"s.csv, row 2, column 'BytesTransferred': 'lots' is not a size"
    ):
        read_move_stats([p])


def test_a_row_whose_mailbox_left_the_inventory_is_reported_with_what_was_typed(
    tmp_path: Path,
) -> None:
    import openpyxl

    from migrator.pipeline import plan_folder

    out = tmp_path / "plan"
    plan_folder(CONTOSO, out)
    wb = openpyxl.load_workbook(out / "checklist.xlsx")
    ws = wb["Mailboxes"]
    header = [c.value for c in ws[1]]
    row = [None] * len(header)
    row[header.index("Mailbox")] = "gone@contoso.com"
    row[header.index("Wave")] = 1
    row[header.index("Notes")] = "left in March"
    ws.append(row)
    wb.save(out / "checklist.xlsx")
    result = plan_folder(CONTOSO, out)
    assert result.plan is not None
    dropped = [f for f in result.analysis.findings if f.code == "moves.row-dropped"]
    assert len(dropped) == 1 and "left in March" in dropped[0].message


def _contoso_with(**moves: object) -> Inventory:
    inv = load_inventory(CONTOSO)
    assert inv.moves is not None
    return dataclasses.replace(inv, moves=dataclasses.replace(inv.moves, **moves))


def _complete_slots(plan_inv: Inventory) -> tuple[object, Counter[int]]:
    plan = build_plan(plan_inv)
    per_window: Counter[int] = Counter(
        plan.schedule[s.id].wave for s in plan.steps if s.id.startswith("moves.complete.wave-")
    )
    return plan, per_window


@pytest.mark.parametrize("per_window", [1, 2, 3])
def test_waves_per_window_caps_the_completions_started_in_one_window(per_window: int) -> None:
    inv = _contoso_with(waves_per_window=per_window, max_mailboxes=4)
    _, counts = _complete_slots(inv)
    assert counts and max(counts.values()) <= per_window
    if per_window > 1:
        assert max(counts.values()) > 1  # waves do share a window when allowed


def test_a_wave_completes_only_after_its_copy_and_a_slow_copy_pushes_it_to_a_later_window() -> None:
    fast = build_plan(_contoso_with(throughput_gb_per_hour=1000.0))
    # slow enough that the pilot's copy outlasts the window its completion gets in the fast plan
    # (that window is after the namespace, mail-flow, NAT, alias and MX cut-over nights, each a
    # business day from the next: review 3, F3)
    slow_inv = _contoso_with(throughput_gb_per_hour=0.008)
    slow = build_plan(slow_inv)
    mp = plan_moves(slow_inv)
    for w in mp.waves[1:]:
        copy = slow.schedule[f"moves.copy.{w.name}"]
        complete = slow.schedule[complete_id(w)]
        assert complete.start >= copy.finish  # the copy runs ahead of its completion window
    pilot = mp.waves[1]
    assert pilot.copy_hours > 24
    copy_finish = slow.schedule[f"moves.copy.{pilot.name}"].finish
    assert copy_finish > fast.schedule[complete_id(pilot)].start
    assert slow.schedule[complete_id(pilot)].start >= copy_finish  # pushed to a later window
    assert slow.schedule[complete_id(pilot)].start - copy_finish < dt.timedelta(days=7)


def test_n6_copies_into_one_database_never_overlap_and_leave_a_gap_for_the_backup() -> None:
    # Review 5, N6: the log forecast (moves.log-space) is per wave with a full backup between
    # waves; all copies used to run back to back within 24 hours.
    inv = load_inventory(CONTOSO)
    mp = plan_moves(inv)
    plan = build_plan(inv)
    migration = migration_database(mp.assignments)
    users = [w for w in mp.waves if not w.arbitration]
    pairs = 0
    for i, later in enumerate(users):
        dbs = set(wave_log_load(later, migration))
        copy = plan.schedule[f"moves.copy.{later.name}"]
        for earlier in users[:i]:
            if dbs & set(wave_log_load(earlier, migration)):
                pairs += 1
                # the earlier wave completed, settled and its requests were removed
                assert copy.start >= plan.schedule[cleanup_id(earlier)].finish, (earlier, later)
                assert copy.start >= plan.schedule[complete_id(earlier)].finish + dt.timedelta(
                    hours=12
                )
        step = plan.step(f"moves.copy.{later.name}")
        if later is not users[0]:
            assert "LastFullBackup" in step.instructions, later.name
    assert pairs
    # no later copy starts before the pilot completed (they all ran within one day before): the
    # copies follow the completions instead of running weeks ahead of them
    pilot_done = plan.schedule[complete_id(users[0])].finish
    for w in users[1:]:
        assert plan.schedule[f"moves.copy.{w.name}"].start >= pilot_done, w.name


def test_batches_add_log_load_on_the_database_holding_the_migration_mailbox() -> None:
    inv = load_inventory(CONTOSO)
    mp = plan_moves(inv)
    migration = next(a for a in mp.assignments if a.mailbox.is_migration_mailbox)
    cloud = [w for w in mp.waves if w.target == EXCHANGE_ONLINE]
    assert cloud
    by_db = {lf.database: lf for lf in mp.logs}
    lf = by_db[migration.target_database]
    assert lf.batch_bytes == sum(w.size_bytes for w in cloud) * lf.copies
    moved_in = sum(b for w in mp.waves for db, b in w.bytes_by_target if db == lf.database)
    assert lf.total_bytes == (moved_in * lf.copies) + lf.batch_bytes
    assert all(o.batch_bytes == 0 for o in mp.logs if o is not lf)

    # Free space below the batch load: the batches are cut smaller (planned around, no finding);
    # when one mailbox alone is over the room, a warning naming the Migration mailbox; when it is
    # over the whole free space, an error (review 6, B1).
    def shrunk(factor: int) -> MovePlan:
        dbs = tuple(
            dataclasses.replace(d, free_bytes=lf.largest_wave_bytes // factor)
            if d.name == lf.database
            else d
            for d in inv.mailbox_databases
        )
        return plan_moves(dataclasses.replace(inv, mailbox_databases=dbs))

    def log_findings(p: MovePlan) -> list[Finding]:
        return [f for f in p.findings if f.code == "moves.log-space"]

    half = shrunk(2)
    slf = {o.database: o for o in half.logs}[lf.database]
    assert slf.free_bytes is not None
    assert slf.largest_wave_bytes * 100 <= slf.free_bytes * LOG_SHARE_PERCENT
    assert log_findings(half) == []
    assert len([w for w in half.waves if w.target == EXCHANGE_ONLINE]) > len(cloud)
    (warning,) = log_findings(shrunk(5))
    assert warning.severity is Severity.WARNING and lf.database in warning.where
    assert "Migration mailbox" in warning.message and "copy step reads" in warning.message
    (error,) = log_findings(shrunk(20))
    assert error.severity is Severity.ERROR and "dismounts the database" in error.message


def test_no_wave_writes_more_logs_than_its_databases_log_room() -> None:
    """Review 6, B1: a 68.5 GB mailbox went to the database with 60 GB of log space."""
    inv = load_inventory(CONTOSO)
    mp = plan_moves(inv)
    room = log_room(inv)
    db_of = {a.mailbox.primary_smtp: a.target_database for a in mp.assignments}
    assert db_of["grace.hopper@contoso.com"] == "DB16-LON-01"  # 400 GB free, not LON-02's 60
    for w in mp.waves:
        for db, moved in w.bytes_by_target:
            fits = moved <= room.get(db.lower(), moved)
            assert fits or len(w.mailboxes) == 1, (w.name, db)
    for lf in mp.logs:
        assert lf.free_bytes is None or lf.largest_wave_bytes <= lf.free_bytes
    assert not [f for f in mp.findings if f.code == "moves.log-space"]


def test_the_copy_step_reads_each_copys_log_volume_before_the_first_request() -> None:
    inv = load_inventory(CONTOSO)
    plan = build_plan(inv)
    mp = plan_moves(inv)  # the same waves as the plan's (deterministic)
    rollbacks = {s.target: s for s in moves_rollback_steps(mp)}
    for w in mp.waves:
        if w.arbitration or w.target == EXCHANGE_ONLINE:
            continue
        data = plan.step(f"moves.copy.{w.name}").action.params  # type: ignore[union-attr]
        assert list(zip(data["log_databases"], data["log_bytes"], strict=True)) == sorted(
            w.bytes_by_target
        )
        assert data["log_share_percent"] == LOG_SHARE_PERCENT
        back = rollbacks[w.name].action.params  # type: ignore[union-attr]
        assert all(db.startswith("DB10-") for db in back["log_databases"]), w.name
        assert sum(back["log_bytes"]) == w.size_bytes
    helper = (ROOT / "templates" / "powershell" / "Migrator.Runbook.ps1").read_text(
        encoding="utf-8"
    )
    body = helper.split("function New-MoveWave {")[1].split("\nfunction ")[0]
    first = body.index("Assert-LogVolumeRoom")
    assert first < body.index("New-MoveRequest -Identity")  # before any request, under -WhatIf too
    check = helper.split("function Assert-LogVolumeRoom {")[1].split("\nfunction ")[0]
    assert "WhatIfPreference" not in check  # it only reads: it runs under -WhatIf too
    assert "Win32_Volume" in check and "$database.Servers" in check


def test_forecast_fits_per_database_where_enough_moves_came_from_it(tmp_path: Path) -> None:
    from migrator.inventory.move_stats import read_move_stats
    from migrator.plan.forecast import MIN_DATABASE_MOVES, fit_throughput

    inv = load_inventory(CONTOSO)
    db_of = {m.primary_smtp: m.database for m in inv.mailboxes if m.server.upper() == "EX10-02"}
    by_db: dict[str, list[str]] = defaultdict(list)
    for smtp, db in sorted(db_of.items()):
        by_db[db].append(smtp)
    (slow_db, slow), (fast_db, fast) = sorted(by_db.items())[:2]
    assert len(slow) >= MIN_DATABASE_MOVES and len(fast) >= MIN_DATABASE_MOVES
    rows = [(s, "", 2 * GB, 3600) for s in slow]  # 2 GB/hour
    rows += [(s, "", 2 * GB, 720) for s in fast]  # 10 GB/hour
    fitted = fit_throughput(inv, read_move_stats([_stats_csv(tmp_path / "s.csv", rows)]))
    rates = {o.name: o.gb_per_hour for o in fitted}
    assert rates[slow_db] == 2.0 and rates[fast_db] == 10.0
    assert 2.0 < rates["EX10-02"] < 10.0
    # The re-plan: a wave copying from the slow database takes its measured time.
    mp = plan_moves(inv, throughput=rates)
    base = plan_moves(inv)
    assert any(a.copy_hours > b.copy_hours for a, b in zip(mp.waves, base.waves, strict=True))
    assert dict(mp.observed)[slow_db] == 2.0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(1.0, 20.0), min_size=4, max_size=40),
    st.lists(st.floats(0.001, 0.05), min_size=1, max_size=1),
)
def test_one_stalled_move_does_not_drag_the_fit_down(
    rates: list[float], stalled: list[float]
) -> None:
    from migrator.inventory.move_stats import MoveStat
    from migrator.plan.forecast import Sources, fit_observed

    # Moves of one server within a factor of 1.5 of each other, plus one stalled move.
    base = rates[0]
    usable = [base * (1 + (r % 0.5)) for r in rates]
    stats = [
        MoveStat(f"u{k}@x.com", "EX1", "", 4 * GB, 4 * 3600 / r, "s.csv")
        for k, r in enumerate(usable)
    ]
    stats.append(MoveStat("late@x.com", "EX1", "", 4 * GB, 4 * 3600 / stalled[0], "s.csv"))
    (fit,) = fit_observed(stats, Sources())
    assert fit.outliers >= 1 and fit.samples <= len(usable)  # the stalled move is dropped
    assert min(usable) * 0.99 <= fit.gb_per_hour <= max(usable) * 1.01


def test_forecast_cli_works_from_the_plan_folder_alone(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from migrator.cli import app
    from migrator.pipeline import plan_folder

    out = tmp_path / "plan"
    plan_folder(CONTOSO, out)
    rows = [(f"staff{i:02d}@contoso.com", "", 2 * GB, 3600) for i in range(1, 9)]
    stats = _stats_csv(tmp_path / "s.csv", rows)
    before = (out / "plan.json").read_bytes()
    # inventory.json names the inventory by the path it was given: gone here.
    doc = json.loads((out / "inventory.json").read_text(encoding="utf-8"))
    doc["root"] = str(tmp_path / "moved-away")
    (out / "inventory.json").write_text(json.dumps(doc), encoding="utf-8")
    res = CliRunner().invoke(app, ["moves", "forecast", str(out), str(stats)])
    assert res.exit_code == 0, res.output
    assert "EX10-02: assumed 10 GB/hour, observed 2 GB/hour (8 moves" in res.output
    assert "copy" in res.output and "-> " in res.output
    assert "run again with --inventory" in res.output
    assert (out / "plan.json").read_bytes() == before  # nothing rewritten
    # With the inventory where inventory.json says: re-planned in place.
    doc["root"] = str(CONTOSO)
    (out / "inventory.json").write_text(json.dumps(doc), encoding="utf-8")
    res = CliRunner().invoke(app, ["moves", "forecast", str(out), str(stats)])
    assert res.exit_code == 0, res.output
    assert "last wave completes: before" in res.output
    assert "| EX10-02 | 10 | 2 |" in (out / "moves-report.md").read_text(encoding="utf-8")


def test_the_collector_writes_the_move_statistics_export_the_forecast_reads(
    tmp_path: Path,
) -> None:
    import re
    import sys

    from migrator.inventory.move_stats import read_move_stats
    from migrator.render.collect import COLLECT_SCRIPTS, collect_script_path

    sys.path.insert(0, str(Path(__file__).parent))
    from powershell_check import check_script, parse_errors, unknown_commands

    assert "Export-MigratorMoveStatistics.ps1" in COLLECT_SCRIPTS
    text = collect_script_path("Export-MigratorMoveStatistics.ps1").read_text(encoding="utf-8")
    assert parse_errors(text) == [] and check_script(text, ps2=False) == []
    # Get-MigrationUser (Exchange Online) is not in cmdlets.json; Resolve-Path is a built-in.
    assert unknown_commands(text) == ["Get-MigrationUser", "Resolve-Path"]
    assert "Get-MoveRequestStatistics" in text and "Get-MigrationUserStatistics" in text
    # Both branches write the same columns, and a file with them reads.
    branches = text.split("\nelse {")
    columns = [re.findall(r"Name = '(\w+)'", b) for b in branches]
    assert columns[0] == columns[1] and len(columns[0]) == 7
    header = ",".join(f'"{c}"' for c in columns[0])
    row = '"u1@x.com","wave-001","Completed","EX1","DB1","1 GB (1,073,741,824 bytes)","3600"'
    path = tmp_path / "MoveStatistics.csv"
    path.write_bytes(f"{header}\r\n{row}\r\n".encode("utf-8-sig"))
    (stat,) = read_move_stats([path])
    assert (stat.bytes_transferred, stat.seconds, stat.source_database) == (GB, 3600.0, "DB1")


def test_forecast_reads_the_move_waves_of_both_plan_json_formats() -> None:
    """Format 2 calls the move-wave summary ``waves``; a format 1 plan folder had ``move_waves``."""
    from migrator.moves_forecast import move_waves

    wave = {"id": "wave-001", "completion_window_start": "2026-12-16T21:00"}
    assert move_waves({"format_version": 2, "waves": [wave], "step_waves": {"1": ["x"]}}) == [wave]
    assert move_waves({"format_version": 1, "waves": {"1": ["x"]}, "move_waves": [wave]}) == [wave]
    assert move_waves({"format_version": 2}) == []


def test_a_late_wave_can_be_deferred_to_the_next_window() -> None:
    """Review 6, M1: past -CompleteAfter a request completes by itself whenever its copy catches up; the
    completion step can give the late ones the next window's start (Set-MoveRequest -CompleteAfter, read back)."""
    helper = (ROOT / "templates" / "powershell" / "Migrator.Runbook.ps1").read_text(
        encoding="utf-8"
    )
    body = helper.split("function Complete-MoveWave {")[1].split("\nfunction ")[0]
    assert "[string]$DeferToUtc = ''" in body
    # each request on its own (review 7): a failure does not leave the rest undeferred
    assert "try {\n                    Set-MoveRequestCompleteAfter -Identity $address" in body
    assert "$failed += ($address" in body and "Suspend-MoveRequest" in body
    assert "(-not $defer) -and $PSCmdlet.ShouldProcess($address, 'Resume-MoveRequest')" in body
    assert "$status -ne 'CompletionInProgress'" in body
    assert "business hours or not" in body and "-DeferToUtc <its start" in body
    one = helper.split("function Set-MoveRequestCompleteAfter {")[1].split("\nfunction ")[0]
    assert one.index("if ($PSCmdlet.ShouldProcess($Identity, 'Set-MoveRequest") < one.index(
        "Set-MoveRequest -Identity"
    )
    assert "PSObject.Properties['CompleteAfter']" in one  # Set-StrictMode safe
    inv = load_inventory(CONTOSO)
    plan = build_plan(inv)
    for w in plan_moves(inv).waves:
        if w.arbitration or w.target == EXCHANGE_ONLINE:
            continue
        params = plan.step(f"moves.complete.{w.name}").action.params  # type: ignore[union-attr]
        assert [p["name"] for p in params["runbook_parameters"]] == ["DeferToUtc"]


def test_the_copy_reads_each_rows_bad_item_limit_and_the_completion_checks_the_archive() -> None:
    """Review 6, m1 and m2: the CSV's BadItemLimit and MailboxType were written but never read, and the
    completion checked only the primary database."""
    helper = (ROOT / "templates" / "powershell" / "Migrator.Runbook.ps1").read_text(
        encoding="utf-8"
    )
    create = helper.split("function New-MoveWave {")[1].split("\nfunction ")[0]
    assert "if ([string]$row.BadItemLimit -ne '') { $limit = [int]$row.BadItemLimit }" in create
    assert "if ($limit -gt 50) { $archive['AcceptLargeDataLoss'] = $true }" in create
    assert create.count("-BadItemLimit $limit") == 2 and "-BadItemLimit $BadItemLimit" not in create
    assert "-notcontains [string]$row.MailboxType" in create
    complete = helper.split("function Complete-MoveWave {")[1].split("\nfunction ")[0]
    assert "Assert-Equal -What ('archive database of ' + $address)" in complete
    assert "[string]$mailbox.ArchiveDatabase" in complete


def test_a_rollback_over_the_2010_log_room_is_said_before_the_wave() -> None:
    """Review 7: wave-003's rollback moves 68.5 GB back into DB10-LON-02 (80 GB free): its log check
    stops it, so the plan says so before the wave (log space is added while there is time)."""
    mp = plan_moves(load_inventory(CONTOSO))
    (f,) = [f for f in mp.findings if f.code == "moves.rollback-log-space"]
    assert f.severity is Severity.WARNING and f.where == "DB10-LON-02"
    assert f.message.startswith("the rollback of wave-003 moves about 68.5 GB back into")


def test_a_blocked_wmi_needs_the_operators_own_check() -> None:
    """Review 7: with WMI blocked neither the wave nor its rollback could start; WSMan first, then DCOM,
    then only -LogSpaceCheckedByHand (kept in the transcript) lets the step go on."""
    helper = (ROOT / "templates" / "powershell" / "Migrator.Runbook.ps1").read_text(
        encoding="utf-8"
    )
    body = helper.split("function Assert-LogVolumeRoom {")[1].split("\nfunction ")[0]
    assert body.index("Get-CimInstance -ClassName Win32_Volume") < body.index(
        "Get-WmiObject -Class Win32_Volume"
    )
    assert "if (-not $LogSpaceCheckedByHand) { throw" in body
    wave = helper.split("function New-MoveWave {")[1].split("\nfunction ")[0]
    assert "-LogSpaceCheckedByHand:$LogSpaceCheckedByHand" in wave
