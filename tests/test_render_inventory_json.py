"""inventory.json: plain JSON for json.load, one record per line, written as it is encoded."""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.inventory import load_inventory
from migrator.model import CloudUser, Location, OnPremUser
from migrator.render.inventory_json import (
    _COMPACT,
    _record_lines,
    _records,
    _Table,
    _table_lines,
    inventory_dict,
    inventory_json,
    read_inventory_json,
    table_records,
    write_inventory_json,
)

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


def test_written_file_is_the_inventory_for_json_load(tmp_path: Path) -> None:
    inv = load_inventory(CONTOSO)
    path = tmp_path / "inventory.json"
    write_inventory_json(inv, path)
    text = path.read_text("utf-8")
    assert text == inventory_json(inv)
    data = json.loads(text)
    assert data["format_version"] == 2
    # read back through the one reader: every table as its list of objects
    assert read_inventory_json(path) == inventory_dict(inv)
    # the big lists are tables: the columns once, one row per line
    users = data["onprem_users"]
    assert set(users) == {"columns", "rows"} and len(users["rows"]) == len(inv.onprem_users)
    assert users["columns"] == sorted(users["columns"]) and "source" in users["columns"]
    lines = text.splitlines()
    start = lines.index('    "rows": [', lines.index('  "onprem_users": {'))
    rows = lines[start + 1 : start + 1 + len(inv.onprem_users)]
    assert [json.loads(line.strip().rstrip(",")) for line in rows] == users["rows"]
    # the other lists stay one object per line
    servers = lines[lines.index('  "servers": [') + 1]
    assert json.loads(servers.strip().rstrip(",")) == data["servers"][0]


def test_table_records_reads_format_1_and_empty_tables() -> None:
    records = [{"a": 1, "source": "x.csv, row 2"}, {"a": 2}]
    assert table_records(records) is records  # format_version 1: objects as they are
    table = {"columns": ["a", "source"], "rows": [[1, "x.csv, row 2"], [2, None]]}
    assert table_records(table) == records
    assert table_records({"columns": [], "rows": []}) == []


_TEXT = st.text(alphabet=st.sampled_from('ab"\\\x00\x1f\n\t é€😀%,u0'), max_size=6)
_LOCATION = st.builds(
    Location,
    st.sampled_from(["AD.csv", 'we"ird\\%.csv']),
    st.one_of(st.none(), st.integers(1, 99)),
    st.one_of(st.none(), _TEXT),
    st.one_of(st.none(), _TEXT),
)
_USER = st.builds(
    OnPremUser,
    _TEXT,
    _TEXT,
    _TEXT,
    proxy_addresses=st.lists(_TEXT, max_size=3).map(tuple),
    enabled=st.booleans(),
    source=st.one_of(st.none(), _LOCATION),
)
_CLOUD = st.builds(
    CloudUser,
    _TEXT,
    _TEXT,
    admin_roles=st.lists(_TEXT, max_size=2).map(tuple),
    has_mailbox=st.booleans(),
    source=st.one_of(st.none(), _LOCATION, st.just(Location("c.csv", 7))),
)


@settings(deadline=None, max_examples=300)  # a shared, loaded machine
@given(st.one_of(st.lists(_USER, max_size=9), st.lists(_CLOUD, max_size=9)), st.integers(1, 4))
def test_records_written_column_wise_are_the_per_record_encoders_lines(
    records: list[object], block: int
) -> None:
    if not records:
        return
    items = tuple(records)
    found = _records(items)
    assert found.encoder is not None
    expected = "".join(
        "    " + _COMPACT.encode(found.encode(r)) + (",\n" if n < len(items) - 1 else "\n")
        for n, r in enumerate(items)
    )
    with patch("migrator.render.inventory_json._BLOCK", block):
        assert "".join(_record_lines(items, found.encoder)) == expected


@settings(deadline=None, max_examples=300)  # a shared, loaded machine
@given(st.one_of(st.lists(_USER, max_size=9), st.lists(_CLOUD, max_size=9)), st.integers(1, 4))
def test_table_rows_read_back_as_the_per_record_encoders_objects(
    records: list[object], block: int
) -> None:
    if not records:
        return
    items = tuple(records)
    found = _records(items)
    assert found.encoder is not None
    columns = _Table(found).columns
    with patch("migrator.render.inventory_json._BLOCK", block):
        text = "".join(_table_lines(items, found.encoder, columns))
    lines = text.splitlines()
    assert len(lines) == len(items) and all(line.startswith("      [") for line in lines)
    rows = json.loads("[" + text + "]")
    assert table_records({"columns": columns, "rows": rows}) == [found.encode(r) for r in items]
