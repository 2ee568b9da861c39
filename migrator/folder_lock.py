"""One ``migrator plan`` at a time per plan folder: a lock file beside it.

Two consultants (or a double Enter) planning into the same folder would both
read the team's workbook, and the second switch would throw away the first
run's carry-over. So :func:`plan_lock` takes ``.OUT.lock`` beside ``OUT`` before
the old plan is read, and removes it when the run ends (an error and Ctrl-C
included).

* **Beside, not inside**: the plan folder is replaced whole by a rename
  (:mod:`migrator.outdir`); a lock inside would travel with the old folder.
* **How**: the file is created with ``O_CREAT | O_EXCL``, which only one
  process can win, on Windows and Linux, on local disks and on SMB and NFSv3+
  shares. It holds the holder (process id, host, user, start time) as JSON, so
  the error a second run meets names who plans there.
* **A stale lock** (the run was killed with ``kill -9``, the laptop lost power)
  whose holder is provably gone (same host, process no longer running) is
  removed and taken by the next run, as :func:`migrator.outdir.recover` removes
  the left-overs of such a run. The removal itself is guarded by a second
  file (``.OUT.lock.break``, ``O_EXCL`` too), so two runs that find the same
  stale lock cannot remove a lock the other one has just taken.
* A lock of **another host**, or whose holder cannot be judged, is never
  removed by migrator: the error says to delete the lock file by hand once no
  plan runs there (docs/plan.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from migrator.errors import MigratorError
from migrator.outdir import _alive

LOCK_SUFFIX = ".lock"
BREAK_SUFFIX = ".lock.break"
YOUNG_SECONDS = 10.0
"""A lock file without a readable holder this young is being written right now (held)."""

_held: dict[str, tuple[int, int]] = {}
"""Lock path -> (thread id, depth) of the locks this process holds."""
_held_guard = threading.Lock()


class FolderLockedError(MigratorError):
    """Another run plans into the same folder (or left a lock migrator cannot judge)."""


def lock_path(target: Path) -> Path:
    """The lock file of the plan folder ``target``: ``.NAME.lock`` beside it."""
    return target.parent / f".{target.name}{LOCK_SUFFIX}"


@contextlib.contextmanager
def plan_lock(target: Path) -> Iterator[Path]:
    """Hold the lock of the plan folder ``target`` (absolute, see ``outdir.output_folder``).

    Re-entrant in one thread (``plan_folder`` holds it around ``write_outputs``,
    which takes it too when called alone); another thread or process meets a
    :class:`FolderLockedError` naming the holder.
    """
    path = lock_path(target)
    key = os.path.normcase(str(path))
    me = threading.get_ident()
    with _held_guard:
        holder = _held.get(key)
        if holder is not None and holder[0] != me:
            raise FolderLockedError(
                f"{target}: another thread of this process is writing this plan folder "
                f"(lock file {path}); expected one plan at a time per folder"
            )
        if holder is not None:
            _held[key] = (me, holder[1] + 1)
    if holder is not None:
        try:
            yield path
        finally:
            with _held_guard:
                thread, depth = _held[key]
                _held[key] = (thread, depth - 1)
        return
    mine = _acquire(target, path)
    with _held_guard:
        _held[key] = (me, 1)
    try:
        yield path
    finally:
        with _held_guard:
            del _held[key]
        _release(path, mine)


def _holder_text() -> bytes:
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name (a service account without one)
        user = ""
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "user": user,
        "since": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": "migrator plan",
    }
    return (json.dumps(holder, sort_keys=True) + "\n").encode("utf-8")


def _create(path: Path, text: bytes) -> bool:
    """Create ``path`` holding ``text`` if nothing is there; False when something is."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0))
    except FileExistsError:
        return False
    try:
        os.write(fd, text)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return b""


def _parse(raw: bytes) -> dict[str, object] | None:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stale(holder: dict[str, object] | None) -> bool:
    """Whether the holder is provably gone: this host, and its process no longer runs."""
    if holder is None:
        return False
    pid = holder.get("pid")
    host = holder.get("host")
    if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(host, str):
        return False
    if host.lower() != socket.gethostname().lower():
        return False
    return not _alive(pid)


def _acquire(target: Path, path: Path) -> bytes:
    text = _holder_text()
    for _ in range(5):
        try:
            if _create(path, text):
                return text
        except OSError as exc:
            raise MigratorError(
                f"{path}: the lock file of the plan folder cannot be created "
                f"({exc.strerror or exc}); expected a folder beside {target.name} you can "
                "write to; nothing was changed"
            ) from exc
        raw = _read(path)
        if raw is None:
            continue  # released between the two calls: try again
        holder = _parse(raw)
        if not _stale(holder):
            raise FolderLockedError(_locked_message(target, path, holder))
        _break(target, path, raw)
    raise FolderLockedError(_locked_message(target, path, _parse(_read(path) or b"")))


def _break(target: Path, path: Path, stale: bytes) -> None:
    """Remove the stale lock ``path`` if it still holds ``stale`` (guarded by the break file)."""
    guard = path.with_name(path.name[: -len(LOCK_SUFFIX)] + BREAK_SUFFIX)
    if not _create(guard, _holder_text()):
        found = _read(guard)
        if found is not None and _stale(_parse(found)):
            # A run killed in the microseconds it held the guard: nothing else can remove it.
            with contextlib.suppress(FileNotFoundError):
                guard.unlink()
            return
        raise FolderLockedError(_locked_message(target, path, _parse(stale)))
    try:
        if _read(path) == stale:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    finally:
        with contextlib.suppress(FileNotFoundError):
            guard.unlink()


def _release(path: Path, mine: bytes) -> None:
    if _read(path) == mine:  # never remove a lock someone removed by hand and retook
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _locked_message(target: Path, path: Path, holder: dict[str, object] | None) -> str:
    if holder is None:
        age = _age(path)
        if age is not None and age < YOUNG_SECONDS:
            who = "another migrator plan started writing this plan folder just now"
        else:
            who = "this plan folder holds a lock file whose holder cannot be read"
    else:
        user = f", user {holder.get('user')}" if holder.get("user") else ""
        who = (
            f"another migrator plan is writing this plan folder (process {holder.get('pid')} "
            f"on host {holder.get('host')}{user}, since {holder.get('since')})"
        )
    return (
        f"{target}: {who}; lock file {path}; expected one plan at a time per folder: wait "
        f"for that run to end and plan again; if no plan is running there (a run killed on "
        f"another machine), delete {path} and plan again; nothing was changed"
    )


def _age(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None
