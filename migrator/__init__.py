"""migrator: plans Exchange 2010 -> 2016/2019/SE (and hybrid) migrations.

The library is the product; the ``migrator`` command is a thin layer over it.
The pipeline runs load -> model -> check -> plan -> render:

    import migrator
    inventory = migrator.load_inventory(path)
    plan = migrator.build_plan(inventory)

The names below are imported when first used, so ``import migrator`` (and
``migrator --help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from migrator.inventory import load_inventory
    from migrator.pipeline import analyse, build_plan, check_path, plan_folder

_LAZY = {
    "load_inventory": "migrator.inventory",
    "analyse": "migrator.pipeline",
    "build_plan": "migrator.pipeline",
    "check_path": "migrator.pipeline",
    "plan_folder": "migrator.pipeline",
}


def __getattr__(name: str) -> Any:
    """Import the library's entry points on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'migrator' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "__version__",
    "analyse",
    "build_plan",
    "check_path",
    "load_inventory",
    "plan_folder",
]
