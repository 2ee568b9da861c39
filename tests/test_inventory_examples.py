"""Every example inventory in inventories/ loads without errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.checks.inventory import check_inventory_basics
from migrator.inventory import load_inventory
from migrator.model import Severity

EXAMPLES = sorted(p for p in (Path(__file__).parent.parent / "inventories").glob("*") if p.is_dir())


@pytest.mark.parametrize("folder", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_loads(folder: Path) -> None:
    inv = load_inventory(folder)
    assert inv.receive_connectors
    assert not [f for f in check_inventory_basics(inv) if f.severity is Severity.ERROR]
