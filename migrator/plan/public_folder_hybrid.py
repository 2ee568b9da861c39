"""Public folders for users moved to Exchange Online (review 2, M2), and their order.

Planned only when the inventory has public folder databases and the move plan
has an Exchange Online wave (MOVES-AND-CLIENT-ACCESS.md section E):

1. while the public folders are on 2010, **legacy hybrid public folders**
   [L/hybrid-deployment/set-up-legacy-hybrid-public-folders], before the first
   Exchange Online wave: the mail-enabled folders synced to Exchange Online
   with Microsoft's ``Sync-MailPublicFolders.ps1`` (manual: Microsoft says "on
   the legacy Exchange server", but the script needs the Exchange Online
   PowerShell module, which needs Windows PowerShell 5.1, and the 2010 servers
   have 2.0; its own check accepts any Exchange 2007 or later Management Shell,
   so the plan runs it in the 2016 Management Shell: review 3, F7, not
   verified by Microsoft for 2010 public folders), then in Exchange
   Online ``Set-OrganizationConfig -PublicFoldersEnabled Remote
   -RemotePublicFolderMailboxes`` with the 2010 proxy mailboxes
   (``public-folders.proxy-mailbox.<server>``), each checked to be synced as a
   MailUser first, read back;
2. after the migration to 2016, in the go-live change, **modern hybrid public
   folders** [L/hybrid-deployment/set-up-modern-hybrid-public-folders]:
   Microsoft's ``Sync-ModernMailPublicFolders.ps1`` from the 2016 Management
   Shell (scripted like the other Microsoft scripts: from the public folder
   work folder, checked to be there, behind ShouldProcess), then Exchange
   Online's RemotePublicFolderMailboxes switched to the 2016 public folder
   mailboxes of Microsoft's map, read back; the rollback runbook switches back
   to the proxy mailboxes.

The edges (:func:`hybrid_links`) are each held by a test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from migrator.mailboxes import MovesPolicy
from migrator.model import ExchangeVersion, Finding, Inventory, ServerRole, Severity
from migrator.plan.moves import EXCHANGE_ONLINE, MovePlan
from migrator.plan.public_folder_steps import (
    FOLDER,
    LEGACY_RECORD,
    LOCK,
    MAP_CSV,
    WORK_FOLDER,
    P,
    pf_servers,
    proxy_name,
    step_id,
)
from migrator.plan.steps import Action, Owner, Phase, RunsIn, Step
from migrator.public_folders import ROOT, PublicFolder, PublicFolderDatabase, holds_replica

MAIL_SYNC_LEGACY = step_id("hybrid", "mail-sync-legacy")
LEGACY = step_id("hybrid", "legacy")
MAIL_SYNC_MODERN = step_id("hybrid", "mail-sync-modern")
MODERN = step_id("hybrid", "modern")
ROLLBACK_MODERN = step_id("rollback", "hybrid-legacy")
ROLLBACK_CHECK = step_id("rollback", "hybrid-legacy-check")
ROLLBACK_CHECK_RUNBOOK = "rollback-5-check-legacy-databases"
SUMMARY_CSV = "sync_summary.csv"
"""The log Microsoft's sync scripts write (-CsvSummaryFile), in the public folder work folder."""


@dataclass(frozen=True)
class CloudProxies:
    """The 2010 proxy mailboxes Exchange Online's users reach the legacy public folders through (review 3, F6).

    Microsoft ("Configure legacy on-premises public folders for a hybrid deployment", Step 2)
    requires the Client Access role on every 2010 server holding a public folder database.
    Rather than install that role on a Mailbox-only server in production (it would publish an
    Autodiscover SCP with a self-signed certificate and join its site's CAS array), the plan
    lists only the proxy mailboxes of public folder servers with the role, and first adds a
    replica of every folder to one of them where none holds them all.
    """

    servers: tuple[str, ...]
    """Public folder servers with the Client Access role whose proxy mailbox Exchange Online lists."""
    without_client_access: tuple[str, ...]
    """Public folder servers without the Client Access role (left out of Exchange Online's list)."""
    replica_target: PublicFolderDatabase | None
    """The database that needs a replica of :attr:`missing` first, or None."""
    missing: tuple[PublicFolder, ...]
    """Folders without a (known) replica on :attr:`replica_target`."""

    @property
    def proxies(self) -> list[str]:
        """Proxy mailbox names for RemotePublicFolderMailboxes."""
        return [proxy_name(s) for s in self.servers]


def cloud_proxies(inv: Inventory) -> CloudProxies:
    """Which proxy mailboxes Exchange Online may list, and the replicas needed first (review 3, F6)."""
    servers = pf_servers(inv)

    def has_cas(name: str) -> bool:
        srv = inv.server(name)
        # a server the inventory does not describe is taken as without the role (the safe reading)
        return srv is not None and ServerRole.CLIENT_ACCESS in srv.roles

    without = tuple(s for s in servers if not has_cas(s))
    if not without:
        return CloudProxies(tuple(servers), (), None, ())
    content = [f for f in inv.public_folders if f.path != ROOT]
    # a folder whose replicas the export does not name is not known to be there: it gets one
    missing = {
        d.name: tuple(f for f in content if not holds_replica(f, d.name))
        for d in inv.public_folder_databases
        if has_cas(d.server)
    }
    if not missing:
        return CloudProxies((), without, None, ())
    complete = sorted(
        {
            d.server
            for d in inv.public_folder_databases
            if d.name in missing and not missing[d.name]
        },
        key=str.lower,
    )
    if complete:
        return CloudProxies(tuple(complete), without, None, ())
    target = min(
        (d for d in inv.public_folder_databases if d.name in missing),
        key=lambda d: (len(missing[d.name]), d.name.lower()),
    )
    return CloudProxies((target.server,), without, target, missing[target.name])


def add_replicas_id(server: str) -> str:
    """The manual step adding the missing replicas on ``server``."""
    return step_id("hybrid", "add-replicas", server)


def replicas_id(server: str) -> str:
    """The read-back of those replicas on ``server``."""
    return step_id("hybrid", "replicas", server)


def public_folder_hybrid_findings(inv: Inventory, moves: MovePlan | None) -> list[Finding]:
    """A 2010 public folder server without the Client Access role, where Exchange Online users need them.

    A warning naming what the plan does instead (:class:`CloudProxies`); an error where no public
    folder server has the role, since then no proxy mailbox may be listed (review 3, F6).
    """
    if not inv.public_folder_databases or not exo_waves(moves):
        return []
    cp = cloud_proxies(inv)
    if not cp.without_client_access:
        return []
    names = ", ".join(cp.without_client_access)
    why = (
        f"2010 public folder server(s) {names} have no Client Access role, which Microsoft "
        "requires on every server holding a public folder database for Exchange Online users "
        "(legacy hybrid public folders, Step 2)"
    )
    first = inv.server(cp.without_client_access[0])
    where = str(first.source) if first is not None and first.source else inv.root
    if not cp.servers:
        return [
            Finding(
                Severity.ERROR,
                "public-folders.hybrid-no-client-access",
                where,
                f"{why}; no public folder server has it, so Exchange Online users could not "
                "open the public folders",
                fix="install the Client Access role (with the organisation's certificate, "
                "Outlook Anywhere and its Autodiscover SCP on the namespace) on one 2010 public "
                "folder server, or add a public folder database on a 2010 Mailbox and Client "
                "Access server and replicate every folder to it; then export again and plan",
            )
        ]
    plan = f"the plan lists only {', '.join(cp.proxies)} in Exchange Online"
    if cp.replica_target is not None:
        plan += (
            f" and first adds a replica of {len(cp.missing)} folder(s) to "
            f"{cp.replica_target.name} ({add_replicas_id(cp.replica_target.server)})"
        )
    return [
        Finding(
            Severity.WARNING,
            "public-folders.hybrid-no-client-access",
            where,
            f"{why}; {plan}",
            fix="nothing to do if the plan's way suits you; to list every server instead, "
            "install the Client Access role on it and export again",
        )
    ]


def exo_waves(moves: MovePlan | None) -> list[str]:
    """Names of the Exchange Online waves, in order."""
    if moves is None:
        return []
    return [w.name for w in moves.waves if w.target == EXCHANGE_ONLINE]


def _step(sid: str, title: str, runs_in: RunsIn, runbook: str, **more: object) -> Step:
    return Step(
        id=sid,
        phase=P,
        title=title,
        target=str(more.pop("target", "Exchange Online public folder access")),
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=runs_in,
        duration_minutes=int(more.pop("minutes", 30)),  # type: ignore[call-overload]
        runbook=f"{FOLDER}/{runbook}.ps1",
        **more,  # type: ignore[arg-type]
    )


def _sync_server(inv: Inventory) -> str:
    """The new server whose Management Shell runs Sync-MailPublicFolders.ps1 (review 3, F7): the
    hybrid one where the inventory marks it, else one of the first new version, by name."""
    order = list(ExchangeVersion)
    new = sorted(
        (
            s
            for s in inv.target_servers
            if s.version is not ExchangeVersion.EX2010 and not s.is_edge
        ),
        key=lambda s: (not s.hybrid, order.index(s.version), s.name.lower()),
    )
    return new[0].name if new else "a 2016 server"


def _addresses(inv: Inventory) -> list[str]:
    return sorted({m.primary_smtp for m in inv.mail_public_folders})


def public_folder_hybrid_steps(inv: Inventory, moves: MovePlan | None) -> list[Step]:
    """Legacy hybrid public folders before the first Exchange Online wave, modern ones at go-live."""
    if not inv.public_folder_databases or not exo_waves(moves):
        return []
    cp = cloud_proxies(inv)
    proxies = cp.proxies
    addresses = _addresses(inv)
    sync_server = _sync_server(inv)
    mail = (
        f"its {len(addresses)} mail-enabled folder(s) ({', '.join(addresses)})"
        if addresses
        else "no mail-enabled folder (the script then has nothing to sync)"
    )
    return [
        *_replica_steps(inv, cp),
        _step(
            MAIL_SYNC_LEGACY,
            "sync the mail-enabled public folders to Exchange Online (Sync-MailPublicFolders.ps1)",
            RunsIn.MANUAL,
            "hybrid-legacy",
            target=sync_server,
            instructions=(
                f"On {sync_server}, in the Exchange 2016 Management Shell (Windows PowerShell 5.1) "
                "with the Exchange Online PowerShell module (Install-Module ExchangeOnlineManagement), "
                "never on a 2010 server: the script needs that module, which needs PowerShell 5.1, "
                "and the 2010 servers run 2.0 (Microsoft's article says the legacy server; the "
                "script itself accepts any Exchange 2007 or later Management Shell, and the "
                "mail-enabled folders are Active Directory objects the 2016 shell reads: not "
                "verified by Microsoft for 2010 public folders, so try it with -WhatIf first). From "
                "the public folder work folder with SyncMailPublicFolders.strings.psd1 beside it: "
                f".\\Sync-MailPublicFolders.ps1 -CsvSummaryFile {SUMMARY_CSV} -WhatIf, check the "
                "changes it lists, then the same without -WhatIf (a tenant administrator signs in "
                f"when asked); {mail}. Never add -FixInconsistencies from the 2016 shell: its check "
                "reads the public folders through 2016, which does not see the 2010 hierarchy, and "
                "would take every mail-enabled folder for an orphan. Schedule it daily (a Windows "
                f"task on {sync_server}) while the folders are on 2010. Manual: Microsoft's script "
                "with a tenant administrator's sign-in."
            ),
            verification=f"{SUMMARY_CSV} lists no error; the next step finds each address in Exchange Online",
            rollback="the script removes what it created when the folder is no longer mail-enabled",
        ),
        _step(
            LEGACY,
            "let Exchange Online users reach the 2010 public folders through the proxy mailboxes",
            RunsIn.EXCHANGE_ONLINE,
            "hybrid-legacy",
            minutes=15,
            action=Action(
                f"{P.value}.cloud-access",
                {
                    "remote_mailboxes": proxies,
                    "map_csv": "",
                    "addresses": addresses,
                    "legacy_record": "",
                },
            ),
            prerequisites=(
                MAIL_SYNC_LEGACY,
                *((replicas_id(cp.replica_target.server),) if cp.replica_target else ()),
            ),
            instructions=(
                "Before the first Exchange Online wave. Users in Exchange Online need an "
                "on-premises object (the remote mailbox a move leaves behind) to open them."
                + (
                    f" Only the proxy mailboxes of public folder servers with the Client Access "
                    f"role (Microsoft's Step 2): not those of {', '.join(cp.without_client_access)}."
                    if cp.without_client_access
                    else ""
                )
            ),
            verification=(
                "each proxy mailbox a MailUser in Exchange Online; Get-OrganizationConfig shows "
                "PublicFoldersEnabled Remote and the proxy mailboxes; then, before the first "
                "Exchange Online wave completes, an Exchange Online test user opens the public "
                "folders in Outlook (hierarchy, a folder's items, a post)"
            ),
            rollback=(
                "Set-OrganizationConfig -PublicFoldersEnabled Local -RemotePublicFolderMailboxes "
                "$null in Exchange Online (the values before it: Exchange Online's defaults)"
            ),
        ),
        _step(
            MAIL_SYNC_MODERN,
            "sync the migrated mail-enabled public folders (Sync-ModernMailPublicFolders.ps1)",
            RunsIn.EMS_NEW,
            "finalise",  # right after the unlock, in its runbook and shell (review 3, F8)
            action=Action(
                f"{P.value}.mail-sync",
                {"summary_csv": SUMMARY_CSV, "runbook_parameters": [WORK_FOLDER]},
            ),
            maintenance_window=True,
            instructions=(
                "Needs the Exchange Online PowerShell module on this server (Microsoft's script "
                "connects to Exchange Online; a tenant administrator signs in when asked). "
                "Then disable the daily task that ran Sync-MailPublicFolders.ps1 and schedule "
                "Sync-ModernMailPublicFolders.ps1 daily instead."
            ),
            verification=f"{SUMMARY_CSV} written; the next step finds each address in Exchange Online",
            rollback="the legacy script, run again, puts the 2010 objects back",
        ),
        _step(
            MODERN,
            "switch Exchange Online users to the 2016 public folder mailboxes",
            RunsIn.EXCHANGE_ONLINE,
            "go-live-exchange-online",
            minutes=15,
            action=Action(
                f"{P.value}.cloud-access",
                {
                    "remote_mailboxes": [],
                    "map_csv": MAP_CSV,
                    "addresses": addresses,
                    "legacy_record": "",
                    "runbook_parameters": [WORK_FOLDER],
                },
            ),
            prerequisites=(MAIL_SYNC_MODERN,),
            maintenance_window=True,
            instructions=(
                "Right after the unlock, before 2010 is marked complete: Exchange Online users "
                "have had no public folders since the lock, and from here on they work on the "
                "2016 copy. The 2016 public folder mailboxes are the TargetMailbox names of "
                f"Microsoft's map ({MAP_CSV}); each must be synced as a MailUser first."
            ),
            verification="Get-OrganizationConfig shows PublicFoldersEnabled Remote and the 2016 public folder mailboxes",
            rollback=(
                f"{ROLLBACK_CHECK_RUNBOOK}.ps1 in the 2016 Management Shell, then "
                f"rollback-5-hybrid-legacy.ps1 (back to {', '.join(proxies)}; both refuse once "
                "the 2010 public folder databases are gone)"
            ),
        ),
    ]


def public_folder_hybrid_rollback_steps(inv: Inventory, moves: MovePlan | None) -> list[Step]:
    """Exchange Online back to the 2010 proxy mailboxes (after Microsoft's rollback 1-4), guarded.

    The switch back runs in Exchange Online PowerShell, which cannot see the 2010 databases: a
    step in the 2016 Management Shell first reads back ``Get-PublicFolderDatabase`` for each
    2010 public folder server and records it in the work folder; the Exchange Online step
    refuses without a record less than an hour old that lists them (review 3, F8). Once
    ``public-folders.remove-databases`` has run, the check throws and nothing points Exchange
    Online users at proxies with no database behind them.
    """
    if not inv.public_folder_databases or not exo_waves(moves):
        return []
    servers = pf_servers(inv)
    proxies = cloud_proxies(inv).proxies
    return [
        _step(
            ROLLBACK_CHECK,
            "rollback 5, first: the 2010 public folder databases still exist (read back)",
            RunsIn.EMS_NEW,
            ROLLBACK_CHECK_RUNBOOK,
            minutes=5,
            reversible=False,
            action=Action(
                f"{P.value}.legacy-databases",
                {
                    "servers": list(servers),
                    "record": LEGACY_RECORD,
                    "rolled_back": True,
                    "runbook_parameters": [WORK_FOLDER],
                },
            ),
            instructions=(
                "In the 2016 Management Shell, before rollback-5-hybrid-legacy.ps1 and after "
                "rollbacks 1-4: it refuses while PublicFoldersLockedForMigration or "
                "PublicFolderMigrationComplete is not False or PublicFoldersEnabled is not Remote "
                "(rollbacks 1-4 not run: Exchange Online users would reach locked or stale 2010 "
                "folders), and when a 2010 public folder server has no database left (the 2016 "
                "mailboxes are then the only copy: fix forward); else records what it read for "
                "the next step."
            ),
            verification=(
                "Get-OrganizationConfig shows both migration flags False and PublicFoldersEnabled "
                f"Remote; Get-PublicFolderDatabase -Server lists a database on {', '.join(servers)}"
            ),
        ),
        _step(
            ROLLBACK_MODERN,
            "rollback 5 (Exchange Online users): back to the 2010 public folders",
            RunsIn.EXCHANGE_ONLINE,
            "rollback-5-hybrid-legacy",
            reversible=False,
            action=Action(
                f"{P.value}.cloud-access",
                {
                    "remote_mailboxes": proxies,
                    "map_csv": "",
                    "addresses": _addresses(inv),
                    "legacy_record": LEGACY_RECORD,
                    "runbook_parameters": [WORK_FOLDER],
                },
            ),
            instructions=(
                f"Refuses without {LEGACY_RECORD} from {ROLLBACK_CHECK_RUNBOOK}.ps1, written "
                "less than an hour ago (copy it from the public folder work folder if this "
                "shell runs elsewhere)."
            ),
            verification="PublicFoldersEnabled Remote with the proxy mailboxes",
        ),
    ]


def _replica_steps(inv: Inventory, cp: CloudProxies) -> list[Step]:
    """A replica of every folder on the one Client Access public folder server Exchange Online lists."""
    db = cp.replica_target
    if db is None:
        return []
    others = [d.name for d in inv.public_folder_databases if d.name != db.name]
    size = sum(f.size_bytes for f in cp.missing)
    policy = inv.moves or MovesPolicy()
    hours = size / 1024**3 / max(policy.throughput_gb_per_hour, 0.1)
    shown = ", ".join(f.path for f in cp.missing[:20]) + (", ..." if len(cp.missing) > 20 else "")
    add = _step(
        add_replicas_id(db.server),
        f"add a replica of every public folder to {db.name} for Exchange Online users",
        RunsIn.MANUAL,
        "legacy-access-2010",
        target=db.server,
        minutes=30,
        wait_minutes=max(240, math.ceil(hours * 60)),
        instructions=(
            f"Exchange Online users reach the 2010 public folders only through {db.server}, the "
            f"public folder server with the Client Access role ({', '.join(cp.without_client_access)} "
            f"has none), so every folder needs a replica on {db.name}: {len(cp.missing)} folder(s) "
            f"lack one ({shown}; {size / 1024**3:.1f} GB). In EMS 2010 on {db.server}: cd "
            f"$exscripts; .\\AddReplicaToPFRecursive.ps1 -TopPublicFolder '\\' -ServerToAdd "
            f"{db.server} (keeps the replicas on {', '.join(others) or 'the other databases'}); "
            f"then Update-PublicFolderHierarchy -Server {db.server} and let replication copy the "
            "content (the wait here; the next step checks the item counts). Manual: "
            "Set-PublicFolder is not in migrator's cmdlet reference, so it is not generated."
        ),
        verification=f"the next step: every folder lists {db.name}; item counts agree",
        rollback=(
            f"RemoveReplicaFromPFRecursive.ps1 -TopPublicFolder '\\' -ServerToRemove {db.server} "
            "after the public folder migration (keep the replicas until then)"
        ),
    )
    check = _step(
        replicas_id(db.server),
        f"check every public folder has an up-to-date replica on {db.name}",
        RunsIn.EMS_2010,
        "legacy-access-2010",
        target=db.server,
        minutes=15,
        action=Action(
            f"{P.value}.replicas",
            {"database": db.name, "server": db.server, "servers": pf_servers(inv)},
        ),
        prerequisites=(add.id,),
        verification=f"every folder lists {db.name} among its replicas; item counts agree",
        rollback="nothing to undo: reads only",
    )
    return [add, check]


def hybrid_links(
    inv: Inventory, moves: MovePlan | None, steps: Sequence[Step], cloud_after: Sequence[str]
) -> dict[str, list[str]]:
    """Step id -> ids it waits for (only existing ids):

    - the legacy sync after the hybrid and identity steps (the tenant and directory sync in place);
    - legacy access after the proxy mailboxes exist;
    - legacy access before the first Exchange Online wave starts;
    - the PF lock after every Exchange Online wave's completion (none completes in the lock
      window; the lock also starts a window of its own, :attr:`Step.fresh_window`);
    - the modern switch inside the go-live change, right after the unlock and before
      ``public-folders.complete-2010`` (the lock window's length includes it:
      :func:`go_live_changes`);
    - the proxy mailboxes removed only after the modern switch.
    """
    ids = {s.id for s in steps}
    out: dict[str, list[str]] = {}
    if LEGACY not in ids:
        return out

    def add(step: str, *pre: str) -> None:
        if step in ids:
            out.setdefault(step, []).extend(p for p in pre if p in ids and p != step)

    waves = exo_waves(moves)
    add(MAIL_SYNC_LEGACY, *cloud_after)
    add(LEGACY, *(step_id("proxy-mailbox", s) for s in pf_servers(inv)), *cloud_after)
    add(f"{Phase.MOVES.value}.copy.{waves[0]}", LEGACY)
    add(LOCK, *(f"{Phase.MOVES.value}.complete.{w}" for w in waves))
    # The go-live order for Exchange Online users (review 3, F8): right after the unlock (the
    # 2016 mailboxes serve the hierarchy) and before 2010 is marked complete, so they never work
    # on the stale 2010 copy after the migration, and their outage ends with everyone's.
    add(MAIL_SYNC_MODERN, step_id("unlock"))
    add(step_id("complete-2010"), MODERN)
    add(step_id("remove-databases"), MODERN)
    return out


def go_live_changes(steps: Sequence[Step]) -> dict[str, dict[str, object]]:
    """Step id -> fields to replace once the Exchange Online switch joins the lock window.

    The lock's window holds the downtime, lock to unlock; with Exchange Online users it also
    holds their switch to the 2016 mailboxes (``mail-sync-modern``, ``modern``), which follows
    the unlock in the same night (review 3, F8): its ``window_minutes`` grow by those steps,
    and its instructions tell the Exchange Online users of the outage too. Empty without
    that switch.
    """
    by_id = {s.id: s for s in steps}
    if LOCK not in by_id or MODERN not in by_id or MAIL_SYNC_MODERN not in by_id:
        return {}
    lock = by_id[LOCK]
    more = sum(
        by_id[i].duration_minutes + by_id[i].wait_minutes for i in (MAIL_SYNC_MODERN, MODERN)
    )
    copy = f"{Phase.MOVES.value}.copy."
    waves = sorted(
        s.id.removeprefix(copy)
        for s in steps
        if s.id.startswith(copy) and s.runs_in is RunsIn.EXCHANGE_ONLINE
    )
    notice = (
        f" Users in Exchange Online ({', '.join(waves) or 'the Exchange Online waves'}) lose "
        f"public folder access too, from this lock until {MODERN} switches them to the 2016 "
        "public folder mailboxes later in this window: announce the outage to them with the "
        "others."
    )
    return {
        LOCK: {
            "window_minutes": lock.window_minutes + more,
            "instructions": lock.instructions + notice,
        }
    }


__all__ = [
    "LEGACY",
    "MODERN",
    "CloudProxies",
    "cloud_proxies",
    "exo_waves",
    "go_live_changes",
    "hybrid_links",
    "public_folder_hybrid_findings",
    "public_folder_hybrid_rollback_steps",
    "public_folder_hybrid_steps",
]
