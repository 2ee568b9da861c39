"""Output files get the mode any file the user writes gets (the umask decides), not mkstemp's 0600."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migrator import fileio, outdir
from migrator.fileio import atomic_write_bytes, atomic_write_chunks, staged_writes


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


def test_staged_writes_go_straight_to_their_files_without_an_fsync_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_022: None
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    made: list[str] = []
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        fd, name = real_mkstemp(*args, **kwargs)
        made.append(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    staging, elsewhere = tmp_path / "staging", tmp_path / "elsewhere"
    with staged_writes(staging):
        atomic_write_bytes(staging / "a" / "plan.json", b"{}")
        atomic_write_chunks(staging / "inventory.json", iter(["{", "}"]))
        atomic_write_bytes(elsewhere / "other.json", b"[]")  # not below it: as always
    assert (staging / "a" / "plan.json").read_bytes() == b"{}"
    assert (staging / "inventory.json").read_text(encoding="utf-8") == "{}"
    assert stat.S_IMODE((staging / "inventory.json").stat().st_mode) == 0o644
    assert len(synced) == 1 and [Path(m).parent for m in made] == [elsewhere]
    atomic_write_bytes(staging / "after.json", b"1")  # the context is over: atomic again
    assert len(synced) == 2


@pytest.mark.skipif(os.name == "nt", reason="folders are not opened for fsync on Windows")
@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync-each"])
def test_seal_makes_every_staged_file_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs: bool
) -> None:
    """Without the per-file fsync, seal() flushes the files: one syncfs, else an fsync each."""
    staging = tmp_path / "staging"
    with staged_writes(staging):
        atomic_write_bytes(staging / "a" / "one.csv", b"1")
        atomic_write_bytes(staging / "two.csv", b"2")
    if not syncfs:
        monkeypatch.setenv("MIGRATOR_NO_SYNCFS", "1")
    flushed: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}") if Path("/proc/self/fd").is_dir() else "")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    outdir.seal(staging)
    files = {
        str(staging / "a" / "one.csv"),
        str(staging / "two.csv"),
        str(staging / outdir.COMPLETE),
    }
    if syncfs and sys.platform.startswith("linux"):
        assert not files & set(flushed)  # one syncfs for the whole file system
    elif Path("/proc/self/fd").is_dir():
        assert files <= set(flushed)
    assert {str(staging), str(staging / "a")} <= set(flushed) or not Path("/proc/self/fd").is_dir()


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


def test_many_files_below_the_staging_folder_are_written_straight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(fileio.os, "fsync", synced.append)
    with staged_writes(tmp_path):
        fileio.atomic_write_many([(tmp_path / "r" / "a.ps1", b"a"), (tmp_path / "b.ps1", b"b")])
    assert (tmp_path / "r" / "a.ps1").read_bytes() == b"a"
    assert (tmp_path / "b.ps1").read_bytes() == b"b"
    assert synced == []  # made durable when the staging folder is sealed
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.ps1", "b.ps1", "r"]
