"""Every folder in tests/bad_inputs/ fails to load with exactly the messages in its expected.txt."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.errors import InventoryError
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
