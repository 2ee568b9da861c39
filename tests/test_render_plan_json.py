"""plan.json: shape, run order, determinism, and the contoso golden file.

Regenerate the golden files with ``MIGRATOR_REGEN_GOLDEN=1 pytest tests/test_render_plan_json.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden_files import check_golden
from hypothesis import given, settings
from hypothesis import strategies as st
from test_plan_phases import make_inventory

from migrator.inventory import load_inventory
from migrator.pipeline import analyse, build_plan
from migrator.render.moves_output import moves_json
from migrator.render.plan_json import (
    _column_text,
    _indented,
    plan_document,
    render_plan_json,
    write_plan_json,
)

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "plan"
REQUIRED = {
    "id",
    "phase",
    "title",
    "prerequisites",
    "owner",
    "runs_in",
    "target",
    "duration_minutes",
    "wait_minutes",
    "runbook",
}


def _golden(name: str, data: bytes) -> None:
    check_golden(GOLDEN / name, data)


def test_document_has_the_documented_fields_in_run_order() -> None:
    plan = build_plan(make_inventory())
    doc = json.loads(render_plan_json(plan))
    assert doc["format_version"] == 2
    assert doc["organisation"] == "Contoso"
    assert doc["plan_date"] == "2026-12-07"
    seen: set[str] = set()
    for step in doc["steps"]:
        assert set(step) >= REQUIRED
        assert isinstance(step["duration_minutes"], int)
        assert all(p in seen for p in step["prerequisites"]), step["id"]
        seen.add(step["id"])
        for dep in step["dependents"]:
            assert dep not in seen
    assert [s["id"] for s in doc["steps"]] == [s.id for s in plan.steps]
    assert doc["critical_path"] == list(plan.critical_path)
    assert sum(len(v) for v in doc["step_waves"].values()) == len(doc["steps"])
    assert doc == plan_document(plan)


def test_two_runs_write_identical_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "plan.json", tmp_path / "b" / "plan.json"
    write_plan_json(build_plan(make_inventory()), a)
    write_plan_json(build_plan(make_inventory()), b)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes().endswith(b"}\n")
    assert b"\r\n" not in a.read_bytes()


def test_non_ascii_is_kept_as_utf8() -> None:
    plan = build_plan(make_inventory(organisation="Contoso Zürich"))
    text = render_plan_json(plan)
    assert '"organisation": "Contoso Zürich"' in text


@pytest.fixture(scope="module")
def contoso_json() -> bytes:
    inv = load_inventory(ROOT / "inventories" / "contoso")
    return render_plan_json(build_plan(inv)).encode("utf-8")


def test_contoso_plan_golden(contoso_json: bytes) -> None:
    doc = json.loads(contoso_json)
    phases = {s["phase"] for s in doc["steps"]}
    assert phases == {
        "prepare",
        "servers",
        "relay",
        "hybrid",
        "identity",
        "mx",
        "moves",
        "public-folders",
        "decommission",
        "onward",
    }
    _golden("contoso.plan.json", contoso_json)


def test_text_is_json_dumps_of_the_document() -> None:
    inv = load_inventory(ROOT / "inventories" / "contoso")
    analysis = analyse(inv)
    plan = build_plan(analysis)
    assert analysis.moves is not None
    extra = moves_json(analysis.moves, plan)
    expected = json.dumps(plan_document(plan, extra), indent=2, ensure_ascii=False) + "\n"
    assert render_plan_json(plan, extra) == expected


_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
_COLUMN = st.one_of(
    st.lists(st.text(alphabet='a"\\\n\x00é😀', max_size=4), min_size=1, max_size=5),
    st.lists(st.booleans() | st.none(), min_size=1, max_size=5),
    st.lists(st.integers(), min_size=1, max_size=5),
    st.lists(st.lists(st.text(alphabet='a"\\\né', max_size=3), max_size=3), min_size=1, max_size=5),
    st.lists(_VALUE, min_size=1, max_size=5),
)


@settings(deadline=None)  # a shared, loaded machine
@given(_COLUMN)
def test_a_column_is_written_as_each_value_is(values: list[object]) -> None:
    assert _column_text(values, "      ") == [_indented(v, "      ") for v in values]
