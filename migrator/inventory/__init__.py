"""Loaders: PowerShell exports (CliXML, CSV, .xlsx) and inventory.yaml -> the model.

Files are recognised by content, not by name. Errors raise
:class:`~migrator.errors.InventoryError` carrying every problem, sorted;
warnings land in ``Inventory.load_findings``.
"""

from __future__ import annotations

from migrator.errors import InventoryError
from migrator.inventory.kinds import TableKind
from migrator.inventory.loader import load_inventory
from migrator.inventory.yaml_file import schema, schema_path

__all__ = ["InventoryError", "TableKind", "load_inventory", "schema", "schema_path"]
