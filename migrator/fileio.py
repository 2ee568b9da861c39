"""Writing output files safely: atomic replace, explicit encodings and line endings."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

BOM = "\ufeff"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A failure part-way leaves the old file (or no file) in place, never half
    a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_chunks(path: Path, chunks: Iterable[str]) -> None:
    """Write UTF-8 text given in pieces to ``path`` through a temporary file and a rename.

    For files too big to hold whole in memory (``inventory.json`` at 300,000
    users); like :func:`atomic_write_bytes`, a failure never leaves half a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            buffer: list[str] = []
            for chunk in chunks:
                buffer.append(chunk)
                if len(buffer) >= 4096:
                    fh.write("".join(buffer))
                    buffer.clear()
            fh.write("".join(buffer))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
