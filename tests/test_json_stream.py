"""migrator/json_stream.py: a document read piece by piece gives what json.loads gives."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.errors import InventoryError
from migrator.json_stream import JsonStream
from migrator.logs.client_evidence import load_client_evidence

LOGS_EVIDENCE = Path(__file__).parent / "data" / "client-logs"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def walk(doc: JsonStream) -> Any:
    """Rebuild a value through members() and items() at every level (what a reader does)."""
    head = doc.peek()
    if head == "{":
        return {key: walk(doc) for key in doc.members()}
    if head == "[":
        return [walk(doc) for _ in doc.items()]
    return doc.value()


@settings(max_examples=300, deadline=None)
@given(json_values, st.integers(1, 9), st.sampled_from([None, 1, 2]))
def test_any_document_in_any_chunks_reads_as_json_loads(
    value: Any, chunk: int, indent: Any
) -> None:
    text = json.dumps(value, indent=indent)
    doc = JsonStream(io.StringIO(text), chunk=chunk)
    assert walk(doc) == json.loads(text)
    doc.end()
    whole = JsonStream(io.StringIO(text), chunk=chunk)
    assert whole.value() == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        '{\n "a": [1, 2,, 3]\n}',
        '{\n "servers": [\n  {"x": 1},\n  {"y": tru}\n ]\n}',
        '{\n "a": 1\n "b": 2}',
        '{\n "a": [1, 2]\n}\n  x',
        '{"a": "unterminated',
        "{",
        "",
    ],
)
def test_an_error_names_the_place_json_loads_names(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        walk_whole = JsonStream(io.StringIO(text), chunk=3)
        walk(walk_whole)
        walk_whole.end()
    assert str(got.value) == str(expected.value)


def test_a_number_at_the_end_of_a_chunk_is_read_whole() -> None:
    doc = JsonStream(io.StringIO("[12345678, 9]"), chunk=3)
    assert walk(doc) == [12345678, 9]


def test_a_cut_client_evidence_file_names_the_place(tmp_path: Path) -> None:
    from migrator.logs.client_access import classify, scan_client_access
    from migrator.logs.client_evidence import write_client_evidence
    from migrator.logs.sources import discover

    found, _, _ = classify(discover([str(LOGS_EVIDENCE)])[0])
    target = tmp_path / "client-evidence.json"
    write_client_evidence(scan_client_access(found, None), target)
    text = target.read_text("utf-8")
    cut = text[: text.index('"client_ip"', len(text) // 2) + 5]
    target.write_text(cut, "utf-8")
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(cut)
    with pytest.raises(InventoryError) as info:
        load_client_evidence(target)
    assert str(info.value) == (
        f"{target}: cannot be read as JSON ({expected.value}); expected a client-evidence.json"
        " as 'migrator logs scan' writes it"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "is not a client-evidence file; expected 'format': 'migrator.client-evidence/1'"),
        (
            '{"format": "other", "servers": [{"protocols": 5}]}',
            "is not a client-evidence file; expected 'format': 'migrator.client-evidence/1'",
        ),
        (
            '{"format": "migrator.client-evidence/1", "servers": {"a": 1}}',
            "key '.servers': expected a list of objects",
        ),
        (
            '{"format": "migrator.client-evidence/1", "servers": [{"server": "EX10-01",'
            ' "protocols": [{"protocol": "OWA", "clients": [{"user": 7, "requests": -1}, 3]}]}]}',
            "key 'servers[0].protocols[0].clients': expected a list of objects\n"
            "{path}: key 'servers[0].protocols[0].clients[0].requests': -1 is not a whole number\n"
            "{path}: key 'servers[0].protocols[0].clients[0].user': 7 is not text",
        ),
    ],
)
def test_bad_client_evidence_is_refused_with_every_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    target = tmp_path / "client-evidence.json"
    target.write_text(text, "utf-8")
    with pytest.raises(InventoryError) as info:
        load_client_evidence(target)
    assert str(info.value) == f"{target}: " + message.replace("{path}", str(target))
