"""The public folders phase (``runbooks/58-public-folders/``) and its cross-phase order.

Microsoft's batch migration from Exchange 2010 (MOVES-AND-CLIENT-ACCESS.md
section E, in its documented order), planned only when the inventory has
public folder databases:

1. before the first user wave: a proxy mailbox per 2010 public folder server
   and ``Set-OrganizationConfig -PublicFoldersEnabled Remote
   -RemotePublicFolderMailboxes`` on 2016, so users moved to 2016 keep seeing
   the 2010 folders (legacy access);
2. after the last on-premises wave: renames (``\\`` or ``/`` in a name),
   prerequisites on 2010, snapshot to CliXML, Microsoft's scripts
   (Export-PublicFolderStatistics.ps1, PublicFolderToMailboxMapGenerator.ps1,
   compared with migrator's forecast, Create-PublicFolderMailboxesForMigration.ps1),
   prerequisites on 2016, the one migration batch, wait for Synced;
3. the lock window (maintenance window, after the MX and hybrid transport
   steps): lock on 2010, finalise on 2016, verify with a test mailbox,
   unlock, PublicFolderMigrationComplete on 2010, PublicFoldersEnabled Local,
   anonymous CreateItems on the mail-enabled folders;
4. removal of the 2010 public folder databases, which every 2010 server
   removal waits for.

Rollback runbooks follow Microsoft's rollback order. Ordering rules F6, F10,
F11 and F12 are edges added by :func:`public_folder_links`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath

from migrator.mailboxes import MIGRATION_MAILBOX, MailboxKind, MovesPolicy
from migrator.model import ExchangeVersion, Finding, Inventory, ServerRole, Severity
from migrator.plan.moves import EXCHANGE_ONLINE, MovePlan
from migrator.plan.public_folder_map import FolderMap, cap_bytes, forecast_map
from migrator.plan.steps import Action, Owner, Phase, RunsIn, Step
from migrator.public_folders import ROOT, map_source, needs_rename, safe_name

P = Phase.PUBLIC_FOLDERS
FOLDER = f"runbooks/{P.number}-{P.value}"
FORECAST_CSV = "public-folders/map-forecast.csv"
"""migrator's forecast of the map, in the plan folder."""
BATCH_NAME = "PFMigration"
"""The one migration batch name, used by every step (Microsoft's own example name)."""
SIZE_CSV = "FolderToSize.csv"
MAP_CSV = "FolderToMailbox.csv"
MAX_MAILBOXES = 1_000
"""Public folder mailboxes an organisation may have."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

LEGACY_RECORD = "legacy-databases.xml"
"""The read-back of the 2010 public folder databases (``Assert-LegacyPublicFolderDatabase``): rollback 5
hands it from the 2016 shell to Exchange Online's; rollback 2 reads it before anything is deleted."""
WORK_FOLDER = {
    "name": "PFMigrationFolder",
    "type": "string",
    "default": "C:\\PFMigration",
    "help": (
        "Folder holding Microsoft's public folder migration scripts with their .psd1 files "
        "(Export-PublicFolderStatistics.ps1, PublicFolderToMailboxMapGenerator.ps1, "
        "Create-PublicFolderMailboxesForMigration.ps1; with Exchange Online users also "
        "Sync-ModernMailPublicFolders.ps1); the snapshot and the maps are written there. The "
        "2010, 2016 and Exchange Online runbooks must see the same folder (copy it between them)."
    ),
}
_TEST_MAILBOX = {
    "name": "TestMailbox",
    "type": "string",
    "default": "",
    "help": "A 2016 test user's mailbox to check the migrated public folders with before unlocking them.",
}


def step_id(*parts: str) -> str:
    """``public-folders.<part>...``, each part made safe."""
    return ".".join([P.value, *(_UNSAFE.sub("-", p).strip("-") or "unnamed" for p in parts)])


REMOTE_ACCESS = step_id("remote-access")
CHECK_2010 = step_id("check-2010")
BATCH = step_id("batch")
LOCK = step_id("lock")
FINALISE = step_id("finalise")
VERIFY_REMOVED = step_id("verify-removed")
ROLLBACK_DAYS = 7
"""Days between the go-live (``local``) and ``remove-databases``: the rollback period.

Every rollback runbook needs the 2010 public folder databases, so they stay until users have
worked on 2016 public folders for a whole week: any 7 calendar days hold 5 business days of
real use, whatever the weekday of the go-live (public holidays are not known)."""


def _rb(name: str) -> str:
    return f"{FOLDER}/{name}.ps1"


def _rel(runbook: str, path: str) -> str:
    up = len(PurePosixPath(runbook).parent.parts)
    return "\\".join([".."] * up + list(PurePosixPath(path).parts))


def proxy_name(server: str) -> str:
    """The proxy mailbox (and its database) of one 2010 public folder server."""
    return f"PFProxy-{server}"


def pf_servers(inv: Inventory) -> list[str]:
    """2010 servers holding a public folder database, by name."""
    return sorted({d.server for d in inv.public_folder_databases}, key=str.lower)


def folder_map(inv: Inventory) -> FolderMap:
    """migrator's forecast of the public-folder-to-mailbox map (``plan.public_folder_mailbox_gb``)."""
    return forecast_map(inv.public_folders, cap_bytes(inv.policy.public_folder_mailbox_gb))


def public_folder_findings(inv: Inventory) -> list[Finding]:
    """Findings of the forecast: folders larger than the cap, too many mailboxes, the count."""
    if not inv.public_folders:
        return []
    fm = folder_map(inv)
    gb = inv.policy.public_folder_mailbox_gb
    by_path = {f.path: f for f in inv.public_folders}
    out = [
        Finding(
            Severity.WARNING,
            "public-folders.over-cap",
            str(by_path[p].source),
            f"public folder '{p}' holds {by_path[p].size_bytes / 1024**3:.1f} GB, more than "
            f"the {gb:g} GB per public folder mailbox of the forecast: it gets a mailbox of its own",
            "raise plan.public_folder_mailbox_gb (at most 100), or move old items out of the folder",
        )
        for p in fm.oversized
    ]
    n = len(fm.mailboxes)
    if n > MAX_MAILBOXES:
        out.append(
            Finding(
                Severity.ERROR,
                "public-folders.limit",
                inv.root,
                f"the map forecast needs {n:,} public folder mailboxes; exchange 2016 allows at "
                f"most {MAX_MAILBOXES:,}",
                "raise plan.public_folder_mailbox_gb (at most 100) or delete unused folders",
            )
        )
    out.append(
        Finding(
            Severity.INFO,
            "public-folders.forecast",
            inv.root,
            f"migrator's map forecast puts the public folders into {n} public folder "
            f"mailbox(es) of at most {gb:g} GB ({FORECAST_CSV}); the runbook compares it with "
            "the map Microsoft's script writes",
        )
    )
    return out


def _copy_minutes(inv: Inventory) -> int:
    policy = inv.moves or MovesPolicy()
    total = sum(f.size_bytes for f in inv.public_folders) / 1024**3
    return max(60, math.ceil(total / max(policy.throughput_gb_per_hour, 0.1) * 60))


def _concurrent_users(inv: Inventory) -> int:
    kinds = {MailboxKind.USER, MailboxKind.SHARED, MailboxKind.LINKED}
    return max(1, sum(1 for m in inv.mailboxes if m.kind in kinds))


def _rpc_target(inv: Inventory, server: str) -> str:
    """What a proxy mailbox database's RpcClientAccessServer may name: a 2010 server with the Client
    Access role (review 2, M5: a Mailbox-only public folder server is not one)."""
    srv = inv.server(server)
    if srv is not None and ServerRole.CLIENT_ACCESS in srv.roles:
        return f"<the CAS array of its site, or {server}>"
    site = srv.site if srv is not None else ""
    arrays = [a.fqdn for a in inv.client_access_arrays if a.fqdn and (not site or a.site == site)]
    cas = sorted(
        s.name
        for s in inv.servers
        if ServerRole.CLIENT_ACCESS in s.roles
        and (not site or s.site == site)
        and s.version == ExchangeVersion.EX2010
    )
    named = ", ".join([*arrays, *cas]) or "a 2010 Client Access server"
    return f"<the CAS array or a 2010 Client Access server of its site: {named}> ({server} has no Client Access role)"


def public_folder_steps(inv: Inventory, servers_ready: str) -> list[Step]:
    """Every step of the phase, chained in Microsoft's order (none without public folder databases)."""
    if not inv.public_folder_databases:
        return []
    servers = pf_servers(inv)
    proxies = [proxy_name(s) for s in servers]
    fm = folder_map(inv)
    folders = len(inv.public_folders)
    mail = sum(1 for f in inv.public_folders if f.mail_enabled)
    # The map and the batch read from the database with a replica of every folder (review 2, m2).
    source_db = map_source(inv.public_folder_databases, inv.public_folders)
    source_server = source_db.server if source_db is not None else servers[0]
    source = inv.server(source_server)
    source_fqdn = source.fqdn if source and source.fqdn else source_server
    steps: list[Step] = []

    def add(
        sid: str,
        title: str,
        runs_in: RunsIn,
        runbook: str,
        minutes: int,
        *,
        kind: str = "",
        params: dict[str, object] | None = None,
        after: Sequence[str] = (),
        window: bool = False,
        **more: object,
    ) -> str:
        action = Action(f"{P.value}.{kind}", params or {}) if kind else None
        steps.append(
            Step(
                id=sid,
                phase=P,
                title=title,
                target=str(more.pop("target", "public folders")),
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=runs_in,
                duration_minutes=minutes,
                maintenance_window=window,
                action=action,
                prerequisites=tuple(after),
                runbook=runbook,
                **more,  # type: ignore[arg-type]
            )
        )
        return sid

    # 1. Legacy access for users moved to 2016, before the first user wave.
    proxy_ids = []
    for server, proxy in zip(servers, proxies, strict=True):
        proxy_ids.append(
            add(
                step_id("proxy-mailbox", server),
                f"create the public folder proxy mailbox {proxy} on {server}",
                RunsIn.EMS_2010,
                _rb("legacy-access-2010"),
                45,
                target=server,
                instructions=(
                    f"In EMS 2010: New-MailboxDatabase -Server {server} -Name {proxy} "
                    f"-IsExcludedFromProvisioning $true; Mount-Database {proxy}; New-Mailbox -Name "
                    f"{proxy} -Database {proxy} (a disabled account is enough); Set-Mailbox "
                    f"{proxy} -HiddenFromAddressListsEnabled $true; Set-MailboxDatabase {proxy} "
                    f"-RpcClientAccessServer {_rpc_target(inv, server)}. (Manual: New-MailboxDatabase "
                    "and New-Mailbox are not in migrator's cmdlet reference, so they are not generated.)"
                ),
                verification=f"Get-Mailbox {proxy} shows database {proxy} on {server} (the next step checks it)",
                rollback=f"Remove-Mailbox {proxy}, then remove the database {proxy}",
            )
        )
    add(
        REMOTE_ACCESS,
        "let users on 2016 reach the 2010 public folders through the proxy mailboxes",
        RunsIn.EMS_NEW,
        _rb("legacy-access"),
        15,
        kind="access",
        params={"enabled": "Remote", "remote_mailboxes": proxies},
        after=(*proxy_ids, servers_ready),
        instructions=(
            "Never from OWA. Before the first user wave: users moved to 2016 cannot see the 2010 "
            "public folders until this is set."
        ),
        verification="Get-OrganizationConfig shows PublicFoldersEnabled Remote and the proxy mailboxes",
        rollback="Set-OrganizationConfig -PublicFoldersEnabled Local",
    )
    # 2. After the last on-premises wave: prepare, copy, wait for Synced.
    prepare = _rb("prepare-2010")
    renames = [
        add(
            step_id("rename", f.path.strip("\\")),
            f"rename the public folder '{f.path}' to '{safe_name(f.name)}'",
            RunsIn.EMS_2010,
            prepare,
            10,
            target=f.path,
            instructions=(
                f"In EMS 2010: Set-PublicFolder -Identity '{f.path}' -Name '{safe_name(f.name)}' "
                "(the batch migration refuses \\ and / in names; agree the name with the owners). "
                "Manual: Set-PublicFolder is not in migrator's cmdlet reference."
            ),
            verification="the next step finds no folder name with \\ or /",
            rollback=f"Set-PublicFolder -Name '{f.name}' on the renamed folder",
        )
        for f in inv.public_folders
        if needs_rename(f)
    ]
    last = add(
        CHECK_2010,
        "check the 2010 side: no earlier migration, no folder name with \\ or /",
        RunsIn.EMS_2010,
        prepare,
        15,
        kind="check-2010",
        params={"folders": folders},
        after=renames,
        verification="PublicFoldersLockedForMigration and PublicFolderMigrationComplete False",
        rollback="nothing to undo: reads only",
    )
    if len(inv.public_folder_databases) > 1 and source_db is not None:
        last = add(
            step_id("replicas"),
            f"check every folder has a replica on {source_db.name} and the replicas are in sync",
            RunsIn.EMS_2010,
            prepare,
            15,
            kind="replicas",
            params={"database": source_db.name, "server": source_server, "servers": servers},
            after=(last,),
            instructions=(
                f"The map and the batch read from {source_db.name} ({source_server}): a folder "
                "without a replica there, or a replica behind the others, would be migrated "
                "incomplete (not verified for 2010: the safe reading)."
            ),
            verification="every folder lists the database among its replicas; item counts agree",
            rollback="nothing to undo: reads only",
        )
    last = add(
        step_id("snapshot"),
        "snapshot the public folders, their statistics and permissions to CliXML",
        RunsIn.EMS_2010,
        prepare,
        30,
        kind="snapshot",
        params={"server": source_server, "runbook_parameters": [WORK_FOLDER]},
        after=(last,),
        verification="Legacy_PFStructure.xml, Legacy_PFStatistics.xml, Legacy_PFPerms.xml written",
        rollback="nothing to undo: writes files only",
    )
    last = add(
        step_id("map"),
        "run Microsoft's statistics export and public-folder-to-mailbox map scripts",
        RunsIn.EMS_2010,
        prepare,
        30,
        kind="map",
        params={
            "server": source_fqdn,
            "max_bytes": fm.cap_bytes,
            "size_csv": SIZE_CSV,
            "map_csv": MAP_CSV,
            "runbook_parameters": [WORK_FOLDER],
        },
        after=(last,),
        verification=f"{MAP_CSV} written, its first row the root folder",
        rollback="nothing to undo: writes files only (delete the map to make it again)",
    )
    last = add(
        step_id("compare-map"),
        f"compare Microsoft's map with migrator's forecast ({len(fm.mailboxes)} mailboxes)",
        RunsIn.EMS_2010,
        prepare,
        10,
        kind="compare-map",
        params={
            "map_csv": MAP_CSV,
            "forecast": _rel(prepare, FORECAST_CSV),
            "mailboxes": len(fm.mailboxes),
            "runbook_parameters": [WORK_FOLDER],
        },
        after=(last,),
        verification="the mailbox counts agree, or the difference is understood",
        rollback="nothing to undo: reads only",
    )
    migrate = _rb("migrate")
    migration_alias = next(
        (m.alias or m.identity for m in inv.mailboxes if m.is_migration_mailbox),
        "Migration." + MIGRATION_MAILBOX.split(".", 1)[1],
    )
    last = add(
        step_id("check-2016"),
        "check the 2016 side: no public folder mailbox or batch, Migration mailbox on 2016",
        RunsIn.EMS_NEW,
        migrate,
        15,
        kind="check-2016",
        params={"batch_name": BATCH_NAME, "migration_mailbox": migration_alias},
        after=(last,),
        verification="no Get-Mailbox -PublicFolder mailbox, no public folder batch",
        rollback="nothing to undo: reads only",
    )
    last = add(
        step_id("create-mailboxes"),
        "create the public folder mailboxes from the map (Microsoft's script)",
        RunsIn.EMS_NEW,
        migrate,
        30,
        kind="create-mailboxes",
        params={
            "map_csv": MAP_CSV,
            "concurrent_users": _concurrent_users(inv),
            "runbook_parameters": [WORK_FOLDER],
        },
        after=(last,),
        verification="Get-Mailbox -PublicFolder lists at least the map's mailboxes",
        rollback="the rollback runbooks remove them",
    )
    last = add(
        BATCH,
        f"create and start the public folder migration batch {BATCH_NAME}",
        RunsIn.EMS_NEW,
        migrate,
        30,
        kind="batch",
        params={
            "batch_name": BATCH_NAME,
            "source_server": source_server,
            "map_csv": MAP_CSV,
            "runbook_parameters": [WORK_FOLDER],
        },
        after=(last,),
        wait_minutes=_copy_minutes(inv),
        instructions="Users keep working on the 2010 folders while the batch copies.",
        verification=f"Get-MigrationBatch {BATCH_NAME} shows Syncing",
        rollback=f"Remove-MigrationBatch {BATCH_NAME} before the lock",
    )
    last = add(
        step_id("synced"),
        f"wait until {BATCH_NAME} and its requests are Synced",
        RunsIn.EMS_NEW,
        migrate,
        15,
        kind="synced",
        params={"batch_name": BATCH_NAME},
        after=(last,),
        verification="Get-PublicFolderMailboxMigrationRequest shows every request Synced",
        rollback="nothing to undo: reads only",
    )
    # 3. The lock window.
    several = len(inv.public_folder_databases) > 1
    last = add(
        LOCK,
        "lock the 2010 public folders for the migration (downtime starts)",
        RunsIn.EMS_2010,
        _rb("lock-2010"),
        15,
        kind="org-flag",
        params={"flag": "PublicFoldersLockedForMigration", "value": True},
        after=(last,),
        window=True,
        fresh_window=True,
        wait_minutes=60 if several else 15,
        instructions=(
            "Users lose public folder access until the unlock step; mail to mail-enabled folders "
            "queues. "
            + (
                "Several public folder databases: wait until the lock has replicated to all of them."
                if several
                else ""
            )
        ).strip(),
        verification="Get-OrganizationConfig shows PublicFoldersLockedForMigration True",
        rollback="rollback runbooks (rollback-1-2010.ps1 first)",
    )
    last = add(
        FINALISE,
        f"finalise {BATCH_NAME} (Complete-MigrationBatch)",
        RunsIn.EMS_NEW,
        _rb("finalise"),
        120,
        kind="finalise",
        params={"batch_name": BATCH_NAME},
        after=(last,),
        window=True,
        instructions=(
            "Takes hours; run the step again until the batch shows Completed. If it never "
            "finalises, restart the Microsoft Exchange Information Store on the 2010 server."
        ),
        verification=f"Get-MigrationBatch {BATCH_NAME} shows Completed",
        rollback="rollback runbooks",
    )
    last = add(
        step_id("verify"),
        "test the migrated public folders with a test mailbox",
        RunsIn.EMS_NEW,
        _rb("finalise"),
        30,
        kind="verify",
        params={
            "folders": folders,
            "mail_enabled": mail,
            "runbook_parameters": [_TEST_MAILBOX],
        },
        after=(last,),
        window=True,
        instructions="Open the folders in Outlook as the test user: content, permissions, posting.",
        verification="the test user sees the folders; counts at least the inventory's",
        rollback="rollback runbooks (content added on 2016 is lost)",
    )
    last = add(
        step_id("unlock"),
        "unlock: every public folder mailbox serves the hierarchy",
        RunsIn.EMS_NEW,
        _rb("finalise"),
        15,
        kind="unlock",
        after=(last,),
        window=True,
        reversible=False,
        verification="Get-Mailbox -PublicFolder shows IsExcludedFromServingHierarchy False on each",
    )
    last = add(
        step_id("complete-2010"),
        "mark the public folder migration complete on 2010",
        RunsIn.EMS_2010,
        _rb("complete-2010"),
        15,
        kind="org-flag",
        params={"flag": "PublicFolderMigrationComplete", "value": True},
        after=(last,),
        window=True,
        verification="Get-OrganizationConfig shows PublicFolderMigrationComplete True",
        rollback="rollback runbooks",
    )
    last = add(
        step_id("local"),
        "serve public folders from 2016 (PublicFoldersEnabled Local)",
        RunsIn.EMS_NEW,
        _rb("go-live"),
        15,
        kind="access",
        params={"enabled": "Local", "remote_mailboxes": []},
        after=(last,),
        window=True,
        instructions=(
            "Go-live: users now write to the 2016 public folders. A rollback (the rollback "
            "runbooks, while the 2010 public folder databases exist: remove-databases waits "
            f"{ROLLBACK_DAYS} days) loses everything written on 2016 since the go-live: users "
            "must be told and re-post it."
        ),
        verification="Get-OrganizationConfig shows PublicFoldersEnabled Local",
        rollback="content written on 2016 since the go-live is lost; "
        "Set-OrganizationConfig -PublicFoldersEnabled Remote -RemotePublicFolderMailboxes "
        + ",".join(proxies),
    )
    mail_paths = [f.path for f in inv.public_folders if f.mail_enabled]
    if mail_paths:
        last = add(
            step_id("mail-enabled"),
            "let external senders post to the mail-enabled public folders",
            RunsIn.EMS_NEW,
            _rb("go-live"),
            15,
            after=(last,),
            instructions=(
                "In 2016 EMS, for each mail-enabled folder: Add-PublicFolderClientPermission "
                "-Identity <folder> -User Anonymous -AccessRights CreateItems ("
                + "; ".join(f"'{p}'" for p in mail_paths)
                + "). Manual: the cmdlet is not in migrator's cmdlet reference."
            ),
            verification="a message from outside reaches each folder",
            rollback="Remove-PublicFolderClientPermission -User Anonymous",
        )
    # The downtime, lock to unlock, in one window occurrence: the lock starts where all of it fits.
    chain = [s for s in steps if s.id in (LOCK, FINALISE, step_id("verify"), step_id("unlock"))]
    at = steps.index(chain[0])
    steps[at] = replace(
        chain[0], window_minutes=sum(s.duration_minutes + s.wait_minutes for s in chain)
    )
    # 4. Remove the 2010 public folder databases: every 2010 server removal waits for it. Not
    # before the rollback period is over: the last go-live step waits ROLLBACK_DAYS.
    go_live = next(i for i, s in enumerate(steps) if s.id == last)
    steps[go_live] = replace(steps[go_live], wait_minutes=ROLLBACK_DAYS * 24 * 60)
    remove = _rb("remove-2010")
    last = add(
        step_id("remove-databases"),
        "remove the proxy mailboxes and the 2010 public folder databases",
        RunsIn.EMS_2010,
        remove,
        60,
        after=(last,),
        reversible=False,
        instructions=(
            "In EMS 2010: Remove-Mailbox "
            + ", ".join(proxies)
            + " and their databases; then Remove-PublicFolderDatabase "
            + ", ".join(d.name for d in inv.public_folder_databases)
            + " (remove replicas first where it refuses). Manual: these cmdlets are not in "
            f"migrator's cmdlet reference. Only after the {ROLLBACK_DAYS}-day rollback period "
            "of the go-live: afterwards no public folder rollback is possible."
        ),
        verification="Get-PublicFolderDatabase returns nothing (the next step checks it)",
    )
    add(
        VERIFY_REMOVED,
        "verify no 2010 public folder database is left",
        RunsIn.EMS_2010,
        remove,
        10,
        kind="verify-removed",
        after=(last,),
        verification="Get-PublicFolderDatabase returns nothing",
        rollback="nothing to undo: reads only",
    )
    return steps


def public_folder_rollback_steps(inv: Inventory) -> list[Step]:
    """Microsoft's rollback, in its order, one runbook per shell change (not part of the plan's graph)."""
    if not inv.public_folder_databases:
        return []
    proxies = [proxy_name(s) for s in pf_servers(inv)]

    def step(n: int, sid: str, title: str, runs_in: RunsIn, **more: object) -> Step:
        return Step(
            id=step_id("rollback", sid),
            phase=P,
            title=title,
            target="public folders",
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=runs_in,
            duration_minutes=30,
            reversible=False,
            runbook=_rb(f"rollback-{n}-{sid}"),
            **more,  # type: ignore[arg-type]
        )

    return [
        step(
            1,
            "unlock-2010",
            "rollback 1/4: unlock the 2010 public folders",
            RunsIn.EMS_2010,
            action=Action(
                f"{P.value}.org-flag", {"flag": "PublicFoldersLockedForMigration", "value": False}
            ),
            verification="PublicFoldersLockedForMigration False",
        ),
        replace(
            step(
                2,
                "check-legacy-databases",
                "rollback 2/4, first: the 2010 public folder databases still exist (read back)",
                RunsIn.EMS_NEW,
                action=Action(
                    f"{P.value}.legacy-databases",
                    {
                        "servers": list(pf_servers(inv)),
                        "record": LEGACY_RECORD,
                        "rolled_back": False,
                        "runbook_parameters": [WORK_FOLDER],
                    },
                ),
                instructions=(
                    "Before any 2016 public folder mailbox is removed: once the 2010 public folder "
                    "databases are gone, the 2016 mailboxes hold the only copy and the rollback "
                    "must not go on (fix forward). Reads only."
                ),
                verification="Get-PublicFolderDatabase -Server lists a database on each 2010 public folder server",
            ),
            runbook=_rb("rollback-2-remove-mailboxes"),
        ),
        step(
            2,
            "remove-mailboxes",
            "rollback 2/4: remove the 2016 public folder mailboxes (non-root first)",
            RunsIn.EMS_NEW,
            instructions=(
                "In 2016 EMS: Get-Mailbox -PublicFolder | Where-Object { -not "
                "$_.IsRootPublicFolderMailbox } | Remove-Mailbox -PublicFolder -Permanent $true, "
                "then the root one the same way. Content added on 2016 is lost. Manual: "
                "Remove-Mailbox is not in migrator's cmdlet reference."
            ),
            verification="Get-Mailbox -PublicFolder returns nothing (the next step checks it)",
        ),
        replace(
            step(
                2,
                "remove-batch",
                f"rollback 2/4: no public folder mailbox left; remove the batch {BATCH_NAME}",
                RunsIn.EMS_NEW,
                action=Action(f"{P.value}.remove-batch", {"batch_name": BATCH_NAME}),
                verification=(
                    f"Get-Mailbox -PublicFolder returns nothing; Get-MigrationBatch {BATCH_NAME} "
                    "finds none (a new attempt's check-2016 refuses any public folder batch)"
                ),
            ),
            runbook=_rb("rollback-2-remove-mailboxes"),
        ),
        step(
            3,
            "complete-2010",
            "rollback 3/4: PublicFolderMigrationComplete back to False on 2010",
            RunsIn.EMS_2010,
            action=Action(
                f"{P.value}.org-flag", {"flag": "PublicFolderMigrationComplete", "value": False}
            ),
            verification="PublicFolderMigrationComplete False",
        ),
        step(
            4,
            "remote-access",
            "rollback 4/4: 2016 users back to the 2010 public folders",
            RunsIn.EMS_NEW,
            action=Action(f"{P.value}.access", {"enabled": "Remote", "remote_mailboxes": proxies}),
            verification="PublicFoldersEnabled Remote with the proxy mailboxes",
        ),
    ]


def public_folder_links(
    inv: Inventory,
    moves: MovePlan | None,
    steps: Sequence[Step],
    transport_sinks: Sequence[str],
    arbitration_fallback: str,
) -> dict[str, list[str]]:
    """Cross-phase prerequisites (section F), step id -> ids it must wait for (only existing ids).

    - legacy access before the first user wave (section G);
    - F6: the batch after every arbitration mailbox (the Migration mailbox too) is on 2016;
    - F10: the start of the migration and the lock after every on-premises wave;
    - F11: the lock and the finalisation after the MX and transport cut-over steps;
    - F12: each 2010 server's databases and removal after the public folder databases are gone.
    """
    ids = {s.id for s in steps}
    out: dict[str, list[str]] = {}
    if REMOTE_ACCESS not in ids:
        return out

    def add(step: str, *pre: str) -> None:
        if step in ids:
            out.setdefault(step, []).extend(p for p in pre if p in ids and p != step)

    onprem = []
    arbitration = arbitration_fallback
    if moves is not None:
        first_user = True
        for w in moves.waves:
            done = f"{Phase.MOVES.value}.complete.{w.name}"
            if w.arbitration:
                arbitration = done
                continue
            if w.target == EXCHANGE_ONLINE:
                continue
            onprem.append(done)
            if first_user:
                add(f"{Phase.MOVES.value}.copy.{w.name}", REMOTE_ACCESS)
                first_user = False
    start = [s.id for s in steps if s.id.startswith(step_id("rename") + ".")] or [CHECK_2010]
    for sid in start:
        add(sid, *onprem)
    add(BATCH, arbitration)
    add(LOCK, *onprem, *transport_sinks)
    add(FINALISE, *transport_sinks)
    for srv in inv.servers:
        for kind in ("databases", "remove"):
            add(f"{Phase.DECOMMISSION.value}.{kind}.{srv.name}", VERIFY_REMOVED)
    return out


def renamed_paths(inv: Inventory) -> dict[str, str]:
    """Folder path -> its path once the plan's renames are done (only where it changes)."""
    out: dict[str, str] = {}
    for f in inv.public_folders:  # tree order: a parent before its children
        parent = out.get(f.parent_path, "")
        if needs_rename(f) or parent:
            base = parent or f.parent_path
            out[f.path] = ("" if base == ROOT else base) + "\\" + safe_name(f.name)
    return out


def forecast_rows(inv: Inventory) -> list[tuple[str, str, int]]:
    """(FolderPath, TargetMailbox, bytes) of the forecast, root first, paths as after the renames."""
    renamed = renamed_paths(inv)
    return [(renamed.get(r.path, r.path), r.mailbox, r.size_bytes) for r in folder_map(inv).rows]


__all__ = [
    "BATCH_NAME",
    "FORECAST_CSV",
    "ROOT",
    "folder_map",
    "forecast_rows",
    "public_folder_findings",
    "public_folder_links",
    "public_folder_rollback_steps",
    "public_folder_steps",
]
