"""The one place golden files are compared and regenerated (helpers, not tests).

Every golden test goes through :func:`check_golden` (one file) or
:func:`check_golden_tree` (a folder of outputs). Run the tests with
``MIGRATOR_REGEN_GOLDEN=1`` to rewrite the golden files from what the code
produces now, then review the diff.

Runbooks pin the SHA-256 of the helper file they dot-source (the
``Migrator.Runbook.ps1`` of their folder). The golden copies of runbooks hold
:data:`HELPER_HASH_PLACEHOLDER` in its place, so editing one helper function
changes only the golden helper files that hold it, not every runbook's; the
tests of the runbook renderer check the real hash in the real output against
the helper written beside it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

GOLDEN_ROOT = Path(__file__).parent / "golden"
HELPER_HASH_PLACEHOLDER = b"<SHA-256 of Migrator.Runbook.ps1>"


def regenerating() -> bool:
    """Whether this run rewrites the golden files (``MIGRATOR_REGEN_GOLDEN=1``)."""
    return os.environ.get("MIGRATOR_REGEN_GOLDEN") == "1"


def normalise(name: str, data: bytes) -> bytes:
    """What the golden copy of an output holds: the helper's hash replaced in runbooks."""
    if name.endswith(".ps1"):
        return re.sub(rb"'[0-9A-F]{64}'", b"'" + HELPER_HASH_PLACEHOLDER + b"'", data)
    return data


def check_golden(golden: Path, data: bytes | str) -> None:
    """``data`` (text is written as UTF-8) equals the golden file; rewrite it first when regenerating."""
    raw = normalise(golden.name, data.encode("utf-8") if isinstance(data, str) else data)
    if regenerating():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(raw)
    assert golden.exists(), f"{golden} is missing: run the test with MIGRATOR_REGEN_GOLDEN=1"
    assert raw == golden.read_bytes(), (
        f"{golden.name} differs from its golden file {golden}: if the change is intended,"
        " regenerate with MIGRATOR_REGEN_GOLDEN=1 and review the diff"
    )


def check_golden_tree(golden_dir: Path, produced: Mapping[str, bytes]) -> None:
    """The outputs (relative POSIX path -> bytes) equal the golden folder: same file list, same bytes."""
    if regenerating():
        for old in sorted(golden_dir.rglob("*"), reverse=True):
            if old.is_file():
                old.unlink()
            elif old.is_dir() and not any(old.iterdir()):
                old.rmdir()
        for rel, data in produced.items():
            target = golden_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(normalise(rel, data))
    expected = sorted(
        p.relative_to(golden_dir).as_posix() for p in golden_dir.rglob("*") if p.is_file()
    )
    assert expected == sorted(produced), (
        "golden file list changed; regenerate with MIGRATOR_REGEN_GOLDEN=1 and review the diff"
    )
    changed = [
        rel for rel in expected if (golden_dir / rel).read_bytes() != normalise(rel, produced[rel])
    ]
    assert changed == [], (
        f"{changed} differ from {golden_dir}; regenerate with MIGRATOR_REGEN_GOLDEN=1 and review the diff"
    )
