"""Output files get the mode any file the user writes gets (the umask decides), not mkstemp's 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrator.fileio import atomic_write_bytes, atomic_write_chunks


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX modes")
def test_written_files_are_readable_by_colleagues_under_the_umask(
    tmp_path: Path, umask_022: None
) -> None:
    atomic_write_bytes(tmp_path / "plan.json", b"{}")
    atomic_write_chunks(tmp_path / "inventory.json", iter(["{", "}"]))
    for name in ("plan.json", "inventory.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
