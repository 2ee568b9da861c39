"""Output files get the mode any file the user writes gets (the umask decides), not mkstemp's 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrator import fileio
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


def test_many_files_are_written_whole_in_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fileio, "_MANY_AT_ONCE", 2)  # three groups of two and one
    files = [(tmp_path / "a" / f"{i}.ps1", bytes([65 + i]) * (i + 1)) for i in range(7)]
    fileio.atomic_write_many(iter(files))
    for path, data in files:
        assert path.read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"{i}.ps1" for i in range(7)]


def test_a_failure_in_a_group_leaves_no_temporary_file_and_the_old_files_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old.ps1"
    old.write_bytes(b"old")
    calls = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        fileio.atomic_write_many([(tmp_path / "new.ps1", b"new"), (old, b"changed")])
    assert old.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.ps1"]
