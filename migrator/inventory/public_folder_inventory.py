"""Public folder exports joined: sizes into the tree, the tree in order, problems collected."""

from __future__ import annotations

from dataclasses import dataclass, replace

from migrator.errors import Problem
from migrator.inventory.tables import Converted
from migrator.model import Finding, Location, Severity
from migrator.public_folders import (
    ROOT,
    MailPublicFolder,
    PublicFolder,
    PublicFolderDatabase,
    parent_of,
)


@dataclass(frozen=True)
class PublicFolderData:
    """What the inventory holds about legacy public folders."""

    databases: tuple[PublicFolderDatabase, ...]
    """Public folder databases, by name."""
    folders: tuple[PublicFolder, ...]
    """Folders in tree order: the root, then depth first, children by name."""
    mail_folders: tuple[MailPublicFolder, ...]
    """Mail-enabled folders, by address."""


def tree_order(folders: list[PublicFolder]) -> list[PublicFolder]:
    """Depth first from the root, children by name (case-insensitive), then by path."""
    children: dict[str, list[PublicFolder]] = {}
    for f in folders:
        children.setdefault(f.parent_path.lower(), []).append(f)
    for kids in children.values():
        kids.sort(key=lambda f: (f.name.lower(), f.path))
    out: list[PublicFolder] = []
    seen: set[str] = set()
    known = _paths(folders)
    # A stack: orphans (parent not exported) last in name order, the root popped first.
    stack = sorted(
        (f for f in folders if f.path != ROOT and f.parent_path.lower() not in known),
        key=lambda f: f.path.lower(),
        reverse=True,
    )
    stack += [f for f in folders if f.path == ROOT][:1]
    while stack:
        f = stack.pop()
        if f.path.lower() in seen:
            continue
        seen.add(f.path.lower())
        out.append(f)
        stack.extend(reversed(children.get(f.path.lower(), [])))
    return out


def _paths(folders: list[PublicFolder]) -> set[str]:
    return {f.path.lower() for f in folders}


def join_public_folders(
    converted: Converted, problems: list[Problem], findings: list[Finding]
) -> PublicFolderData:
    """Sizes into folders (the largest replica's statistics), the root added where missing."""
    stats: dict[str, tuple[int, int]] = {}
    per_server: dict[str, dict[str, tuple[int, int]]] = {}
    for st in converted.public_folder_stats:
        key = st.path.lower()
        old = stats.get(key, (0, 0))
        # One row per server holding a replica: the largest is the folder's size.
        stats[key] = (max(old[0], st.size_bytes), max(old[1], st.item_count))
        if st.server:
            per_server.setdefault(key, {})[st.server] = (st.item_count, st.size_bytes)
    folders = list(converted.public_folders)
    if not folders and converted.public_folder_stats:
        seen: set[str] = set()
        for st in converted.public_folder_stats:
            if st.path.lower() not in seen:
                seen.add(st.path.lower())
                folders.append(PublicFolder(st.path, st.name, parent_of(st.path), source=st.source))
    by_path: dict[str, PublicFolder] = {}
    for f in folders:
        first = by_path.get(f.path.lower())
        if first is not None:
            problems.append(
                Problem(
                    str(f.source),
                    f"public folder '{f.path}' appears twice (also {first.source}); expected one "
                    "row per folder: a name holding '\\' can make two paths equal, rename it in "
                    "EMS 2010 and export again",
                )
            )
            continue
        by_path[f.path.lower()] = f
    if by_path and ROOT not in by_path:
        by_path[ROOT] = PublicFolder(ROOT, "IPM_SUBTREE", "", source=Location("(root)"))
    unknown = sorted(p for p in stats if p not in by_path)
    if unknown and converted.public_folders:
        shown = ", ".join(f"'{p}'" for p in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        findings.append(
            Finding(
                Severity.WARNING,
                "public-folders.statistics-unmatched",
                str(converted.public_folder_stats[0].source.file),
                f"{len(unknown)} public folder statistics row(s) name no folder of the "
                f"Get-PublicFolder export: {shown}{more}; their sizes are not counted",
                fix="export PublicFolders.csv and PublicFolderStatistics.csv in the same run",
            )
        )
    joined = [
        replace(
            f,
            size_bytes=stats.get(k, (0, 0))[0],
            item_count=stats.get(k, (0, 0))[1],
            replica_stats=tuple(
                (srv, n, b) for srv, (n, b) in sorted(per_server.get(k, {}).items())
            ),
        )
        for k, f in by_path.items()
    ]
    if joined and not converted.public_folder_databases:
        problems.append(
            Problem(
                str(folders[0].source.file),
                "public folders are exported but no public folder database is; expected "
                "PublicFolderDatabases.csv (Get-PublicFolderDatabase) in the same folder",
            )
        )
    return PublicFolderData(
        tuple(sorted(converted.public_folder_databases, key=lambda d: d.name.lower())),
        tuple(tree_order(joined)),
        tuple(sorted(converted.mail_public_folders, key=lambda m: m.primary_smtp)),
    )
