"""Writing output files safely: atomic replace, explicit encodings and line endings."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

BOM = "\ufeff"


def _file_mode() -> int:
    """The mode a new file gets from ``open`` under the process umask (0o644 under 022)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def temp_file_beside(path: Path) -> tuple[int, str]:
    """An open temporary file in ``path``'s folder, readable as a file written by ``open`` is.

    ``tempfile.mkstemp`` creates files with mode 0600, which would leave a plan
    folder that colleagues sharing it cannot read; the umask decides, as it
    does for any other file the user writes.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    if hasattr(os, "fchmod"):  # not on Windows, where files inherit the folder's ACL
        os.fchmod(fd, _file_mode())
    return fd, tmp


_STAGED: contextvars.ContextVar[Path | None] = contextvars.ContextVar("_STAGED", default=None)
"""The folder :func:`staged_writes` writes straight into, if any."""


@contextlib.contextmanager
def staged_writes(folder: Path) -> Iterator[None]:
    """Within it, :func:`atomic_write_bytes` and :func:`atomic_write_chunks` write the files
    below ``folder`` straight to their place, with no temporary file and no fsync each.

    Only for a folder that is itself replaced whole (the plan's staging folder,
    :mod:`migrator.outdir`): a failure or a kill discards the folder, so no reader ever
    sees half a file, and :func:`migrator.outdir.seal` makes every file durable at once
    before the folder is switched in (one ``syncfs`` where Linux has it, else an fsync per
    file). Files elsewhere are written as always.
    """
    token = _STAGED.set(Path(os.path.abspath(folder)))
    try:
        yield
    finally:
        _STAGED.reset(token)


def _staged(path: Path) -> bool:
    """Whether ``path`` lies below the folder of :func:`staged_writes` (never the folder)."""
    folder = _STAGED.get()
    return folder is not None and Path(os.path.abspath(path)).is_relative_to(folder)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A failure part-way leaves the old file (or no file) in place, never half
    a file. Below the folder of :func:`staged_writes`, written straight to ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if _staged(path):
        with open(path, "wb") as fh:
            fh.write(data)
        return
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_MANY_AT_ONCE = 256
"""Files :func:`atomic_write_many` holds open at a time (far below the usual limit of 1,024)."""


def atomic_write_many(files: Iterable[tuple[Path, bytes]]) -> None:
    """:func:`atomic_write_bytes` for many files, with the same guarantee for each.

    The files are written in groups: every temporary file of a group is written,
    then each is flushed to disk (``fsync``) and closed, then each is renamed. The
    flushes of a group come after all its writes, so the disk takes the data in a few
    large commits rather than one per file: for the 1,178 runbooks of a 300,000-user
    plan, about half the CPU time and a third of the wall time (issue 18). A failure
    part-way leaves each file whole (old or new), never half a file. Below the folder
    of :func:`staged_writes`, each is written straight to its file, as there.
    """
    batch: list[tuple[Path, bytes]] = []
    for item in files:
        if _staged(
            item[0]
        ):  # below staged_writes' folder: straight to the file, synced when sealed
            atomic_write_bytes(*item)
            continue
        batch.append(item)
        if len(batch) == _MANY_AT_ONCE:
            _write_group(batch)
            batch = []
    if batch:
        _write_group(batch)


def _write_group(files: list[tuple[Path, bytes]]) -> None:
    open_files: list[tuple[int, str, Path]] = []
    done = 0
    try:
        for path, data in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = temp_file_beside(path)
            open_files.append((fd, tmp, path))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        for i, (fd, _tmp, _path) in enumerate(open_files):
            os.fsync(fd)
            os.close(fd)
            open_files[i] = (-1, _tmp, _path)
        for _fd, tmp, path in open_files:
            os.replace(tmp, path)
            done += 1
    except BaseException:
        for fd, tmp, _path in open_files[done:]:
            if fd >= 0:
                os.close(fd)
            Path(tmp).unlink(missing_ok=True)
        raise


_CHUNK_BUFFER = 1 << 20
"""Characters :func:`atomic_write_chunks` gathers before one write (pieces may be big or small)."""


def atomic_write_chunks(path: Path, chunks: Iterable[str]) -> None:
    """Write UTF-8 text given in pieces to ``path`` through a temporary file and a rename.

    For files too big to hold whole in memory (``inventory.json`` at 300,000
    users); like :func:`atomic_write_bytes`, a failure never leaves half a file
    (below the folder of :func:`staged_writes`, written straight to ``path``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if _staged(path):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            _write_chunks(fh, chunks)
        return
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            _write_chunks(fh, chunks)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_chunks(fh: Any, chunks: Iterable[str]) -> None:
    buffer: list[str] = []
    size = 0
    for chunk in chunks:
        buffer.append(chunk)
        size += len(chunk)
        if size >= _CHUNK_BUFFER or len(buffer) >= 4096:  # small pieces or big ones
            fh.write("".join(buffer))
            buffer.clear()
            size = 0
    fh.write("".join(buffer))


def windows_text(text: str) -> bytes:
    """Encode text for Windows PowerShell: UTF-8 with BOM and CRLF line endings."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    return (BOM + normalised).encode("utf-8")


def write_windows_text(path: Path, text: str) -> None:
    """Write a ``.ps1`` or a CSV a script reads: UTF-8 with BOM, CRLF, atomically."""
    atomic_write_bytes(path, windows_text(text))


def write_text(path: Path, text: str) -> None:
    """Write a UTF-8 text file with LF line endings, atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def kind(path: Path) -> str:
    """``file``, ``folder``, ``link``, ``other`` or ``missing`` (symbolic links not followed)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "other"
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (None when it can be opened as one).

    A symbolic link is followed; a loop, a link to nothing, a folder or a
    special file (FIFO, device) is named, so it is never skipped in silence
    (and a FIFO never blocks a read).
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return "is a symbolic link to something that does not exist"
        return "does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop (it leads back to itself)"
        return f"cannot be looked at ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(mode):
        return "is a special file (a pipe or a device), not a regular file"
    return None


def cannot_read(exc: OSError) -> str:
    """The message for a file that exists but cannot be read."""
    return (
        f"cannot be read ({exc.strerror or exc}); expected a file you can read: check its "
        "permissions (chmod u+r, or the file's Security tab on Windows) or copy it again"
    )


MAX_JSON_DEPTH = 64
"""Deepest nesting a JSON input migrator reads may have (its own files nest 6 deep)."""


def loads_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth`` with a JSONDecodeError.

    A drop-in for readers that already catch ``json.JSONDecodeError``: a
    document nested thousands deep is a decode error, never a RecursionError.
    """
    doc = text.decode("utf-8") if isinstance(text, bytes) else text
    try:
        value = json.loads(doc)
    except RecursionError:
        raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", doc, 0) from None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", doc, 0)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return value
