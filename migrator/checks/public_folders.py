"""Public folder checks of the inventory, in the spirit of Microsoft's SourceSideValidations.ps1.

Names the batch migration refuses, the limits of public folders on Exchange
2016 [L/collaboration/public-folders/limits] and of the batch migration from
2010 [L/collaboration/public-folders/batch-migration-from-previous-versions],
and where the public folder databases live. The 2010 build the migration needs
(SP3 RU8) is below the coexistence minimum every 2010 server is checked against
already (SP3 RU11, :mod:`migrator.checks.versions`), so no second rule here.
"""

from __future__ import annotations

from collections import Counter

from migrator.model import ExchangeVersion, Finding, Inventory, Lifecycle, Severity
from migrator.public_folders import ROOT, map_source, missing_replicas, needs_rename, safe_name
from migrator.wording import examples

MAX_FOLDERS_2010_BATCH = 500_000
"""Folders a batch migration from Exchange 2010 supports."""
MAX_SUBFOLDERS = 10_000
"""Subfolders of one folder."""
MAX_DEPTH = 300
"""Levels of the hierarchy."""
MAX_ITEMS = 1_000_000
"""Items in one folder."""
MAX_FOLDER_BYTES = 10 * 1024**3
"""Size of one folder (10 GB)."""
MAX_MAILBOXES = 1_000
"""Public folder mailboxes in an organisation."""
MAX_MAILBOX_BYTES = 100 * 1024**3
"""Size of one public folder mailbox (100 GB)."""
_LIMITS = "public folder limits (learn.microsoft.com/exchange/collaboration/public-folders/limits)"


def _gb(n: int) -> str:
    return f"{n / 1024**3:.1f} GB"


def check_public_folders(inv: Inventory) -> list[Finding]:
    """Every problem of the legacy public folders the migration would meet."""
    out: list[Finding] = []
    folders = inv.public_folders
    legacy = {s.name.lower() for s in inv.servers if s.lifecycle is Lifecycle.LEGACY}
    legacy_2010 = {
        s.name.lower()
        for s in inv.servers
        if s.lifecycle is Lifecycle.LEGACY and s.version is ExchangeVersion.EX2010
    }
    for db in inv.public_folder_databases:
        if db.server.lower() not in legacy_2010:
            out.append(
                Finding(
                    Severity.ERROR,
                    "public-folders.database-server",
                    str(db.source),
                    f"public folder database '{db.name}' is on '{db.server}', which is "
                    + (
                        "not an exchange 2010 server"
                        if db.server.lower() in legacy
                        else "not in the inventory"
                    )
                    + "; expected a legacy exchange 2010 server",
                    "add the server to ExchangeServers.csv and inventory.yaml (lifecycle: legacy), "
                    "or export Get-PublicFolderDatabase from the right organisation",
                )
            )
    source = map_source(inv.public_folder_databases, folders)
    missing = missing_replicas(source.name, folders) if source is not None else []
    if source is not None and missing:
        shown = examples([f.path for f in missing], 5)
        out.append(
            Finding(
                Severity.WARNING,
                "public-folders.replicas",
                str(missing[0].source),
                f"{len(missing)} public folder(s) have no replica on '{source.name}' "
                f"({source.server}), the database that holds the most and that the map and the "
                f"batch read from: {shown}; the runbook step public-folders.replicas "
                "stops until each has one",
                f"add a replica on '{source.name}' to each (Set-PublicFolder -Replicas, keeping "
                "the existing ones, in EMS 2010) and wait for replication before the migration",
            )
        )
    differ = [f for f in folders if len({(n, b) for _, n, b in f.replica_stats}) > 1]
    if differ:
        shown = "; ".join(
            f"'{f.path}' ("
            + ", ".join(f"{srv}: {n:,} items, {b:,} bytes" for srv, n, b in f.replica_stats)
            + ")"
            for f in differ[:3]
        )
        more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
        out.append(
            Finding(
                Severity.WARNING,
                "public-folders.replicas",
                str(differ[0].source),
                f"the replicas of {len(differ)} public folder(s) differ between servers at "
                f"export time: {shown}{more}; the forecast uses the largest, and the runbook "
                "step public-folders.replicas stops until the item counts agree",
                "let public folder replication catch up (Update-PublicFolder in EMS 2010) "
                "before the migration; export again to see the current state",
            )
        )
    children: Counter[str] = Counter(f.parent_path.lower() for f in folders if f.path != ROOT)
    siblings: dict[str, dict[str, str]] = {}
    for f in folders:
        siblings.setdefault(f.parent_path.lower(), {})[f.name.lower()] = f.path
    depth_of: dict[str, int] = {ROOT: 0}
    for f in folders:  # tree order: a parent comes before its children
        depth_of[f.path.lower()] = (
            depth_of.get(f.parent_path.lower(), 0) + 1 if f.path != ROOT else 0
        )
    for f in folders:
        where = str(f.source)
        if needs_rename(f):
            new = safe_name(f.name)
            taken = siblings.get(f.parent_path.lower(), {}).get(new.lower())
            if taken is not None:
                out.append(
                    Finding(
                        Severity.ERROR,
                        "public-folders.name-separator",
                        where,
                        f"public folder '{f.path}' has '\\' or '/' in its name '{f.name}', which "
                        f"the batch migration refuses, and the name the plan would give it, "
                        f"'{new}', is taken by '{taken}'",
                        f"rename '{f.path}' in EMS 2010 (Set-PublicFolder -Identity '{f.path}' "
                        "-Name <a name without \\ or />) and export the public folders again",
                    )
                )
            else:
                out.append(
                    Finding(
                        Severity.WARNING,
                        "public-folders.name-separator",
                        where,
                        f"public folder '{f.path}' has '\\' or '/' in its name '{f.name}', which "
                        f"the batch migration refuses: the plan renames it to '{new}' "
                        "(step public-folders.rename) before the migration; links and favourites "
                        "to the old path stop working",
                        "agree the new name with the folder's owners, or rename it yourself in "
                        "EMS 2010 (Set-PublicFolder) and export the public folders again",
                    )
                )
        if children[f.path.lower()] > MAX_SUBFOLDERS:
            out.append(
                _limit(
                    where,
                    f"public folder '{f.path}' has {children[f.path.lower()]:,} subfolders",
                    f"at most {MAX_SUBFOLDERS:,}",
                    "move subfolders under new parents before the migration",
                )
            )
        if depth_of.get(f.path.lower(), 0) > MAX_DEPTH:
            out.append(
                _limit(
                    where,
                    f"public folder '{f.path}' is {depth_of[f.path.lower()]} levels deep",
                    f"at most {MAX_DEPTH}",
                    "move the branch higher up the tree before the migration",
                )
            )
        if f.item_count > MAX_ITEMS:
            out.append(
                _limit(
                    where,
                    f"public folder '{f.path}' holds {f.item_count:,} items",
                    f"at most {MAX_ITEMS:,}",
                    "move old items to a new folder before the migration",
                )
            )
        if f.size_bytes > MAX_FOLDER_BYTES:
            out.append(
                _limit(
                    where,
                    f"public folder '{f.path}' holds {_gb(f.size_bytes)}",
                    "at most 10 GB",
                    "move old items to a new folder or delete them before the migration",
                )
            )
    if len(folders) > MAX_FOLDERS_2010_BATCH:
        out.append(
            Finding(
                Severity.ERROR,
                "public-folders.limit",
                inv.root,
                f"{len(folders):,} public folders; a batch migration from exchange 2010 moves at "
                f"most {MAX_FOLDERS_2010_BATCH:,} (exchange 2016 holds at most 1,000,000)",
                "delete or archive unused folders before the migration",
            )
        )
    if folders:
        mail = sum(1 for f in folders if f.mail_enabled)
        total = sum(f.size_bytes for f in folders)
        items = sum(f.item_count for f in folders)
        out.append(
            Finding(
                Severity.INFO,
                "public-folders.summary",
                inv.root,
                f"{len(folders) - 1:,} public folders below the root ({mail} mail-enabled), "
                f"{_gb(total)} in {items:,} items, on {len(inv.public_folder_databases)} public "
                f"folder database(s): the plan migrates them after the last user wave "
                "(runbooks/58-public-folders)",
            )
        )
    return out


def _limit(where: str, what: str, limit: str, fix: str) -> Finding:
    return Finding(
        Severity.ERROR,
        "public-folders.limit",
        where,
        f"{what}; exchange 2016 allows {limit} ({_LIMITS})",
        fix,
    )
