"""relay-evidence.json: written deterministically, read back equal, bad files named precisely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrator.errors import InventoryError
from migrator.logs.evidence import (
    domain_is_accepted,
    evidence_to_json,
    load_evidence,
    write_evidence,
)
from migrator.logs.smtp import scan_logs

DATA = Path(__file__).parent / "data" / "logs"


def test_round_trip_and_determinism(tmp_path: Path) -> None:
    ev = scan_logs([DATA], ("contoso.com",), workers=1)
    path = tmp_path / "relay-evidence.json"
    write_evidence(ev, path)
    assert load_evidence(path) == ev
    again = scan_logs([DATA], ("contoso.com",), workers=2)
    assert evidence_to_json(again) == path.read_text(encoding="utf-8")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "migrator.relay-evidence/1"


def test_bad_file_lists_every_problem(tmp_path: Path) -> None:
    ev = scan_logs([DATA], workers=1)
    doc = json.loads(evidence_to_json(ev))
    doc["connectors"][0]["sessions"] = "many"
    del doc["connectors"][1]["clients"][0]["address"]
    path = tmp_path / "relay-evidence.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InventoryError) as info:
        load_evidence(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}, key 'connectors[0].sessions': 'many' is not a whole number",
        f"{path}, key 'connectors[1].clients[0].address': is missing",
    ]


def test_unknown_format_and_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_text('{"format": "other/9"}', encoding="utf-8")
    with pytest.raises(InventoryError, match="'other/9' is not a known format"):
        load_evidence(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(InventoryError, match="is not valid JSON"):
        load_evidence(path)


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("contoso.com", True),
        ("hr.contoso.com", True),
        ("CONTOSO.COM.", True),
        ("notcontoso.com", False),
        ("fabrikam.com", False),
    ],
)
def test_wildcard_accepted_domains(domain: str, expected: bool) -> None:
    assert domain_is_accepted(domain, ("contoso.com", "*.contoso.com")) is expected
    assert domain_is_accepted("hr.contoso.com", ("contoso.com",)) is False
