"""Public folders for users moved to Exchange Online (review 2, M2), and their order.

Planned only when the inventory has public folder databases and the move plan
has an Exchange Online wave (MOVES-AND-CLIENT-ACCESS.md section E):

1. while the public folders are on 2010, **legacy hybrid public folders**
   [L/hybrid-deployment/set-up-legacy-hybrid-public-folders], before the first
   Exchange Online wave: the mail-enabled folders synced to Exchange Online
   with Microsoft's ``Sync-MailPublicFolders.ps1`` (manual: Microsoft runs it on
   the 2010 server in Windows PowerShell with the Exchange Online module, not
   in the 2010 Management Shell of migrator's 2010 runbooks), then in Exchange
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

from collections.abc import Sequence

from migrator.model import Inventory
from migrator.plan.moves import EXCHANGE_ONLINE, MovePlan
from migrator.plan.public_folder_steps import (
    FOLDER,
    LOCK,
    MAP_CSV,
    WORK_FOLDER,
    P,
    pf_servers,
    proxy_name,
    step_id,
)
from migrator.plan.steps import Action, Owner, Phase, RunsIn, Step

MAIL_SYNC_LEGACY = step_id("hybrid", "mail-sync-legacy")
LEGACY = step_id("hybrid", "legacy")
MAIL_SYNC_MODERN = step_id("hybrid", "mail-sync-modern")
MODERN = step_id("hybrid", "modern")
ROLLBACK_MODERN = step_id("rollback", "hybrid-legacy")
ROLLBACK_CHECK = step_id("rollback", "hybrid-legacy-check")
ROLLBACK_CHECK_RUNBOOK = "rollback-5-check-legacy-databases"
LEGACY_RECORD = "legacy-databases.xml"
"""Rollback 5's read-back of the 2010 public folder databases, handed from the 2016 shell to Exchange Online's."""
SUMMARY_CSV = "sync_summary.csv"
"""The log Microsoft's sync scripts write (-CsvSummaryFile), in the public folder work folder."""


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


def _addresses(inv: Inventory) -> list[str]:
    return sorted({m.primary_smtp for m in inv.mail_public_folders})


def public_folder_hybrid_steps(inv: Inventory, moves: MovePlan | None) -> list[Step]:
    """Legacy hybrid public folders before the first Exchange Online wave, modern ones at go-live."""
    if not inv.public_folder_databases or not exo_waves(moves):
        return []
    proxies = [proxy_name(s) for s in pf_servers(inv)]
    addresses = _addresses(inv)
    mail = (
        f"its {len(addresses)} mail-enabled folder(s) ({', '.join(addresses)})"
        if addresses
        else "no mail-enabled folder (the script then has nothing to sync)"
    )
    return [
        _step(
            MAIL_SYNC_LEGACY,
            "sync the mail-enabled public folders to Exchange Online (Sync-MailPublicFolders.ps1)",
            RunsIn.MANUAL,
            "hybrid-legacy",
            instructions=(
                "On a 2010 public folder server, in Windows PowerShell as administrator with the "
                "Exchange Online PowerShell module (not the 2010 Management Shell: PowerShell 2.0 "
                "cannot load that module): Add-PSSnapin *Exchange*; then, from the public folder "
                "work folder with SyncMailPublicFolders.strings.psd1 beside it, "
                f".\\Sync-MailPublicFolders.ps1 -CsvSummaryFile {SUMMARY_CSV} (a tenant "
                f"administrator signs in when asked); {mail}. Schedule it daily (a Windows task) "
                "while the folders are on 2010. Manual: Microsoft's script, in a shell migrator's "
                "2010 runbooks do not run in."
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
            prerequisites=(MAIL_SYNC_LEGACY,),
            instructions=(
                "Before the first Exchange Online wave. Users in Exchange Online need an "
                "on-premises object (the remote mailbox a move leaves behind) to open them."
            ),
            verification=(
                "each proxy mailbox a MailUser in Exchange Online; Get-OrganizationConfig shows "
                "PublicFoldersEnabled Remote and the proxy mailboxes"
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
    proxies = [proxy_name(s) for s in servers]
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
                    "runbook_parameters": [WORK_FOLDER],
                },
            ),
            instructions=(
                "In the 2016 Management Shell, before rollback-5-hybrid-legacy.ps1: it refuses "
                "when a 2010 public folder server has no database left (the 2016 mailboxes are "
                "then the only copy: fix forward), else records what it read for the next step."
            ),
            verification=f"Get-PublicFolderDatabase -Server lists a database on {', '.join(servers)}",
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
    "exo_waves",
    "go_live_changes",
    "hybrid_links",
    "public_folder_hybrid_rollback_steps",
    "public_folder_hybrid_steps",
]
