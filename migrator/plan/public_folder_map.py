"""migrator's own forecast of the public-folder-to-mailbox map.

The idea of Microsoft's PublicFolderToMailboxMapGenerator.ps1, re-implemented:
folders are taken in tree order (the root first, then depth first, children
by name) and filled into public folder mailboxes under a byte cap; a folder
that does not fit opens the next mailbox. A single folder larger than the cap
gets a mailbox of its own (and a warning). Every folder lands in exactly one
mailbox; the root is in the first. The runbook compares this forecast with the
map Microsoft's script writes (``public-folders.compare-map``): Microsoft's
script works on subtrees and may split differently; the mailbox count is the
figure to compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from migrator.public_folders import PublicFolder

GIB = 1024**3
MAILBOX_PREFIX = "Mailbox"
"""Name stem of the forecast mailboxes (``Mailbox1``...), as Microsoft's script names them."""


@dataclass(frozen=True)
class MapRow:
    """One folder of the forecast map."""

    path: str
    """Folder path."""
    mailbox: str
    """Target public folder mailbox (``Mailbox1``...)."""
    size_bytes: int
    """The folder's own size."""


@dataclass(frozen=True)
class FolderMap:
    """The forecast map."""

    cap_bytes: int
    """Byte cap of one mailbox."""
    rows: tuple[MapRow, ...]
    """Every folder in tree order."""
    oversized: tuple[str, ...]
    """Paths of folders larger than the cap (each alone in its mailbox)."""

    @property
    def mailboxes(self) -> tuple[str, ...]:
        """Mailbox names in order of first use."""
        return tuple(dict.fromkeys(r.mailbox for r in self.rows))

    def bytes_of(self, mailbox: str) -> int:
        """Bytes the forecast puts into one mailbox."""
        return sum(r.size_bytes for r in self.rows if r.mailbox == mailbox)


def cap_bytes(gb: float) -> int:
    """The policy's GB as bytes."""
    return int(gb * GIB)


def forecast_map(folders: Sequence[PublicFolder], cap: int) -> FolderMap:
    """Folders (in tree order) filled into mailboxes of at most ``cap`` bytes each."""
    if cap <= 0:
        raise ValueError(f"the mailbox cap must be positive, not {cap}")
    rows: list[MapRow] = []
    oversized: list[str] = []
    number, used, count = 1, 0, 0
    for f in folders:
        size = max(0, f.size_bytes)
        big = size > cap
        if count and (big or used + size > cap):
            number, used, count = number + 1, 0, 0
        rows.append(MapRow(f.path, f"{MAILBOX_PREFIX}{number}", size))
        used, count = used + size, count + 1
        if big:
            oversized.append(f.path)
            number, used, count = number + 1, 0, 0
    return FolderMap(cap, tuple(rows), tuple(oversized))
