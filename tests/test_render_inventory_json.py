"""inventory.json: plain JSON for json.load, one record per line, written as it is encoded."""

from __future__ import annotations

import json
from pathlib import Path

from migrator.inventory import load_inventory
from migrator.render.inventory_json import inventory_dict, inventory_json, write_inventory_json

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


def test_written_file_is_the_inventory_for_json_load(tmp_path: Path) -> None:
    inv = load_inventory(CONTOSO)
    path = tmp_path / "inventory.json"
    write_inventory_json(inv, path)
    text = path.read_text("utf-8")
    assert text == inventory_json(inv)
    data = json.loads(text)
    assert data == inventory_dict(inv)
    assert data["format_version"] == 1
    assert len(data["onprem_users"]) == len(inv.onprem_users)
    # One record per line: each user's line is a whole JSON object.
    lines = text.splitlines()
    start = lines.index('  "onprem_users": [')
    users = lines[start + 1 : start + 1 + len(inv.onprem_users)]
    assert [json.loads(line.strip().rstrip(",")) for line in users] == data["onprem_users"]
