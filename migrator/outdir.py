"""A plan folder replaced whole: built beside the old one, then switched in one step.

``migrator plan -o OUT`` renders every file into a staging folder next to
``OUT`` (``.OUT.staging-PID``), carries over what the team keeps there
(checklist backups, their own files), and then exchanges the two folders:

* on Linux with ``renameat2(RENAME_EXCHANGE)``, one system call: a reader sees
  the old folder or the new one, never a mix, whatever moment the process dies
  at. The old plan then has the staging folder's name and is deleted.
* elsewhere (Windows, macOS, file systems without the exchange such as some
  network shares) with two renames: ``OUT`` -> ``.OUT.old-PID``, then the
  staging folder -> ``OUT``. Between the two there is a moment (microseconds)
  when ``OUT`` does not exist: a reader then finds no plan, never a mix. If the
  process dies in that moment, the next run finishes the switch (the staging
  folder is complete: it carries a marker written last) or puts the old
  folder back.

Left-overs of a killed run (staging and old folders whose process is gone) are
removed by the next run, before it writes anything. Every check of ``OUT``
(a folder, writable, nothing of the wrong kind where the plan writes) happens
before anything moves; a failure leaves ``OUT`` exactly as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

from migrator.errors import MigratorError
from migrator.fileio import kind

COMPLETE = ".migrator-complete"
"""Written last into a staging folder: the folder holds a whole plan."""
_STAGING = "staging"
_OLD = "old"
TEST_KILL_ENV = "MIGRATOR_TEST_KILL_AT"
"""Test hook: ``staged``, ``swapping`` or ``swapped`` kills the process there (SIGKILL)."""


class OutputFolderError(MigratorError):
    """The output folder cannot be written as asked; nothing in it was changed."""


def output_folder(out_dir: Path) -> Path:
    """The folder to replace: ``out_dir`` absolute, a symbolic link followed to its target.

    Refuses a symbolic link loop, a file where the folder must be and a
    read-only folder or parent, before anything is written.
    """
    path = Path(os.path.abspath(out_dir))
    if path.is_symlink():
        try:
            path = Path(os.path.realpath(path, strict=True))
        except FileNotFoundError:
            path = Path(os.path.realpath(path))  # a link to a folder yet to be made: make it
        except OSError as exc:
            raise OutputFolderError(
                f"{out_dir}: is a symbolic link that cannot be followed ({_why(exc)}); "
                "expected a folder: point -o at a real folder"
            ) from exc
    if os.path.lexists(path) and not path.is_dir():
        raise OutputFolderError(
            f"{out_dir}: exists and is not a folder; expected an output folder "
            "(choose another -o or move the file away)"
        )
    if os.path.ismount(path):
        raise OutputFolderError(
            f"{out_dir}: is a mount point, and a plan folder is replaced whole by renaming it, "
            "which a mount point does not allow; expected a folder inside the mounted one "
            f"(e.g. -o {out_dir}/plan) or the parent mounted instead; nothing was changed"
        )
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(
            f"{parent}: the folder for the plan cannot be created ({_why(exc)}); "
            "expected a place you can write to"
        ) from exc
    for folder in (parent, path):
        if folder.is_dir() and not _writable(folder):
            raise OutputFolderError(
                f"{folder}: the folder is read-only; expected a folder you can write to "
                "(make it writable, e.g. chmod u+w, or choose another -o); nothing was changed"
            )
    return path


def _writable(folder: Path) -> bool:
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    if sys.platform == "win32":  # pragma: no cover - a folder's read-only flag means nothing there
        return True
    # A folder with every write bit off is read-only on purpose, even for root.
    return os.access(folder, os.W_OK | os.X_OK) and bool(mode & 0o222)


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def staging_folder(target: Path) -> Path:
    """A fresh, empty staging folder beside ``target`` (left-overs of killed runs removed first)."""
    recover(target)
    staging = _sibling(target, _STAGING, os.getpid())
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def _sibling(target: Path, what: str, pid: int) -> Path:
    return target.parent / f".{target.name}.{what}-{pid}"


def _siblings(target: Path, what: str) -> list[tuple[Path, int]]:
    prefix = f".{target.name}.{what}-"
    found = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return []
    for entry in entries:
        rest = entry.name[len(prefix) :] if entry.name.startswith(prefix) else ""
        if rest.isdigit():
            found.append((entry, int(rest)))
    return sorted(found)


def recover(target: Path) -> None:
    """Finish or undo a switch a killed run left half done, and remove its left-overs.

    Only folders of processes that are gone are touched (a run writing the
    same folder right now keeps its own).
    """
    stale_staging = [p for p, pid in _siblings(target, _STAGING) if not _alive(pid)]
    stale_old = [p for p, pid in _siblings(target, _OLD) if not _alive(pid)]
    if not os.path.lexists(target):
        # Killed between the two renames of the fallback switch.
        complete = [p for p in stale_staging if (p / COMPLETE).is_file()]
        if complete:
            os.rename(complete[-1], target)
            (target / COMPLETE).unlink()
            stale_staging.remove(complete[-1])
        elif stale_old:
            os.rename(stale_old[-1], target)
            stale_old.pop()
    for leftover in (*stale_staging, *stale_old):
        _remove_tree(leftover)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a left-over of an earlier process with this id; this run starts afresh
    if sys.platform == "win32":
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _alive_windows(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    synchronize, wait_timeout = 0x00100000, 0x00000102
    handle = kernel32.OpenProcess(synchronize, False, pid)
    if not handle:
        return False
    try:
        return bool(kernel32.WaitForSingleObject(handle, 0) == wait_timeout)
    finally:
        kernel32.CloseHandle(handle)


def _remove_tree(path: Path) -> None:
    if os.path.islink(path) or not os.path.isdir(path):
        Path(path).unlink(missing_ok=True)
        return
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path):
        # Something read-only inside (a folder the team made read-only): make it writable, retry.
        for dirpath, dirnames, _files in os.walk(path):
            for name in (dirpath, *(os.path.join(dirpath, d) for d in dirnames)):
                with contextlib.suppress(OSError):
                    os.chmod(name, stat.S_IRWXU)
        shutil.rmtree(path, ignore_errors=True)


def check_conflicts(target: Path, new_files: Iterable[Path]) -> None:
    """Refuse when ``target`` holds something of the wrong kind where the plan writes.

    ``new_files`` are relative paths of the new plan's files. A folder where
    the plan writes a file (``checklist.xlsx``), a file where it needs a folder
    (``runbooks``), a symbolic link or a special file in either place is
    never replaced in silence: the team may keep something there.
    """
    problems: list[str] = []
    checked: dict[Path, bool] = {}  # path -> fine
    for rel in new_files:
        for depth, part in enumerate((*rel.parents[::-1][1:], rel)):
            if part not in checked:
                wanted = "file" if depth == len(rel.parts) - 1 else "folder"
                found = kind(target / part)
                checked[part] = found in ("missing", wanted)
                if not checked[part]:
                    problems.append(
                        f"{target / part}: is a {_kind_word(found)}, but the plan writes a "
                        f"{wanted} there; expected it out of the way (move or delete it, then "
                        "plan again)"
                    )
            if not checked[part]:
                break  # nothing below a conflict is looked at
    if problems:
        raise OutputFolderError("; ".join(problems) + "; nothing was changed")


def _kind_word(found: str) -> str:
    return {"link": "symbolic link", "other": "special file (not a file or a folder)"}.get(
        found, found
    )


def carry_over(target: Path, staging: Path, old_outputs: set[str]) -> None:
    """Bring what the team keeps in ``target`` (backups, own files) into ``staging``.

    Files the previous plan wrote (``old_outputs``) are left behind; anything
    the new plan wrote itself wins. Files are hard-linked where the file system
    allows, else copied with their times.
    """
    if not target.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(target):
        here = Path(dirpath)
        rel_dir = here.relative_to(target)
        for name in [*filenames, *(d for d in dirnames if (here / d).is_symlink())]:
            rel = rel_dir / name
            dest = staging / rel
            if rel.as_posix() in old_outputs or rel.as_posix() == COMPLETE:
                continue
            if os.path.lexists(dest):
                continue
            _carry(here / name, dest)
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]


def _carry(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    found = kind(source)
    if found == "link":
        os.symlink(os.readlink(source), dest)
    elif found == "file":
        try:
            os.link(source, dest)
        except OSError:
            shutil.copy2(source, dest)


def seal(staging: Path) -> None:
    """Mark ``staging`` complete and flush it to disk (the marker is written last).

    Every file is made durable here, not only the folders: the plan's files are written
    straight into the staging folder without an fsync each
    (:func:`migrator.fileio.staged_writes`).
    """
    (staging / COMPLETE).write_bytes(b"")
    if not _syncfs(staging):
        _fsync_files(staging)
    _fsync_tree(staging)


def _syncfs(folder: Path) -> bool:
    """Flush the file system holding ``folder`` in one call (Linux ``syncfs``): every file
    written below it is on disk after it. False where the call is not there or fails."""
    if os.environ.get("MIGRATOR_NO_SYNCFS") or not sys.platform.startswith("linux"):
        return False
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    syncfs.argtypes = [ctypes.c_int]
    syncfs.restype = ctypes.c_int
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        return bool(syncfs(fd) == 0)
    finally:
        os.close(fd)


def _fsync_files(root: Path) -> None:
    """fsync every regular file below ``root`` (where one ``syncfs`` is not available)."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if kind(Path(path)) != "file":
                continue  # a carried-over symbolic link: its target is not ours to flush
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            try:
                os.fsync(fd)  # a failure here is a failure to write the plan: nothing switches
            finally:
                os.close(fd)


def _fsync_tree(root: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - folders cannot be opened for fsync there
        return
    for dirpath, _dirs, _files in os.walk(root):
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def switch(staging: Path, target: Path) -> None:
    """Put the sealed ``staging`` folder in the place of ``target`` in one step; remove the old."""
    _hook("staged")
    (staging / COMPLETE).unlink()
    if not os.path.lexists(target):
        os.rename(staging, target)
        _fsync_dir(target.parent)
        _hook("swapped")
        return
    old = _sibling(target, _OLD, os.getpid())
    _remove_tree(old)
    if _exchange(staging, target):
        old = staging  # the old plan now has the staging name (a left-over if killed now)
    else:
        (staging / COMPLETE).write_bytes(b"")  # recover() may finish this switch after a kill
        os.rename(target, old)
        _hook("swapping")
        try:
            os.rename(staging, target)
        except OSError:
            os.rename(old, target)
            raise
        (target / COMPLETE).unlink(missing_ok=True)
    _fsync_dir(target.parent)
    _hook("swapped")
    _remove_tree(old)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Exchange two paths atomically (Linux ``renameat2``); False where not supported."""
    if os.environ.get("MIGRATOR_NO_RENAME_EXCHANGE") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _hook(point: str) -> None:
    """Tests kill the process here (``MIGRATOR_TEST_KILL_AT``) to prove a kill leaves no mix."""
    if os.environ.get(TEST_KILL_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def discard(staging: Path) -> None:
    """Remove a staging folder a failed run leaves (nothing when the switch took it)."""
    if os.path.lexists(staging):
        _remove_tree(staging)
