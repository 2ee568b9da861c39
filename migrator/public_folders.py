"""Legacy public folders of Exchange 2010 (domain model of the public folder migration).

Plain frozen dataclasses, like :mod:`migrator.mailboxes`; the
:class:`~migrator.model.Inventory` holds them. Paths are Exchange 2010's
folder paths below the IPM subtree: ``\\`` is the root, ``\\Sales\\EMEA`` a
folder two levels down (Get-PublicFolder's Identity).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from migrator.model import Location

ROOT = "\\"
"""Path of the root of the public folder tree (IPM_SUBTREE)."""

SEPARATORS = ("\\", "/")
"""Characters Microsoft's batch migration refuses in a folder name (rename the folder first)."""


@dataclass(frozen=True)
class PublicFolderDatabase:
    """One 2010 public folder database (Get-PublicFolderDatabase)."""

    name: str
    """Database name."""
    server: str
    """Short name of the 2010 server that hosts it."""
    source: Location
    """Row it came from."""


@dataclass(frozen=True)
class PublicFolder:
    """One legacy public folder (Get-PublicFolder -Recurse, sizes from Get-PublicFolderStatistics)."""

    path: str
    """Folder path (``\\Sales\\EMEA``; ``\\`` for the root)."""
    name: str
    """Folder name as stored (may hold ``\\`` or ``/``, which the migration refuses)."""
    parent_path: str
    """Path of the parent folder (empty for the root)."""
    mail_enabled: bool = False
    """MailEnabled."""
    size_bytes: int = 0
    """TotalItemSize in bytes (0 where no statistics row names the folder)."""
    item_count: int = 0
    """ItemCount."""
    source: Location = field(default_factory=lambda: Location(""))
    """Row it came from."""
    replicas: tuple[str, ...] = ()
    """Public folder databases holding a replica (Get-PublicFolder's Replicas; empty where not exported)."""
    replica_stats: tuple[tuple[str, int, int], ...] = ()
    """(server, ItemCount, bytes) per statistics row that names a server, by server."""

    @property
    def depth(self) -> int:
        """Levels below the root (root 0, ``\\Sales`` 1)."""
        return 0 if self.path == ROOT else self.path.count("\\")


@dataclass(frozen=True)
class MailPublicFolder:
    """One mail-enabled public folder (Get-MailPublicFolder)."""

    identity: str
    """Identity (its name or path as exported)."""
    primary_smtp: str
    """PrimarySmtpAddress, lower case."""
    addresses: tuple[str, ...]
    """EmailAddresses."""
    source: Location
    """Row it came from."""


@dataclass(frozen=True)
class PublicFolderStat:
    """One Get-PublicFolderStatistics row, before it is joined to its folder."""

    path: str
    """Folder path (leading ``\\`` added where the export has none)."""
    name: str
    """Folder name."""
    size_bytes: int
    """TotalItemSize in bytes."""
    item_count: int
    """ItemCount."""
    source: Location
    """Row it came from."""
    server: str = ""
    """ServerName: the server whose replica the row describes (empty where not exported)."""


def folder_path(text: str) -> str:
    """A folder path as ``\\A\\B``: trimmed, leading backslash added, no trailing one (root ``\\``)."""
    raw = text.strip()
    if raw in ("", ROOT):
        return ROOT
    raw = raw.rstrip("\\") if len(raw) > 1 else raw
    return raw if raw.startswith("\\") else "\\" + raw


def parent_of(path: str) -> str:
    """The parent path of a folder path (the root's is empty)."""
    if path == ROOT:
        return ""
    head = path.rsplit("\\", 1)[0]
    return head or ROOT


def safe_name(name: str) -> str:
    """The name the plan renames a folder to: each ``\\`` and ``/`` becomes ``-``."""
    out = name
    for ch in SEPARATORS:
        out = out.replace(ch, "-")
    return out


def needs_rename(folder: PublicFolder) -> bool:
    """Whether the folder's name holds a character the batch migration refuses (never the root)."""
    return folder.path != ROOT and any(ch in folder.name for ch in SEPARATORS)


def _database_name(replica: str) -> str:
    """A Replicas entry as a database name (the last part of ``server\\group\\database`` forms)."""
    return replica.replace("/", "\\").rsplit("\\", 1)[-1].strip().lower()


def holds_replica(folder: PublicFolder, database: str) -> bool:
    """Whether the export names ``database`` among the folder's replicas."""
    return any(_database_name(r) == database.lower() for r in folder.replicas)


def map_source(
    databases: Sequence[PublicFolderDatabase], folders: Sequence[PublicFolder]
) -> PublicFolderDatabase | None:
    """The public folder database the map and the batch read from.

    The one holding a replica of the most folders by the export's Replicas (every
    folder, where one does), ties and exports without Replicas by name: a folder
    without a replica there is missing from Microsoft's size file and its content
    is not read by the batch (not verified), so the complete replica is the safe
    source. None without databases.
    """
    if not databases:
        return None
    content = [f for f in folders if f.path != ROOT]
    return min(
        databases,
        key=lambda d: (-sum(1 for f in content if holds_replica(f, d.name)), d.name.lower()),
    )


def missing_replicas(database: str, folders: Sequence[PublicFolder]) -> list[PublicFolder]:
    """Folders (not the root) whose exported replicas leave ``database`` out (none where not exported)."""
    return [f for f in folders if f.path != ROOT and f.replicas and not holds_replica(f, database)]
