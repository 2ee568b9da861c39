"""The moves phase: one runbook per wave (``runbooks/55-moves/wave-NNN.ps1``) and its cross-phase order.

Per wave: create the requests from ``moves/wave-NNN.csv`` (copy runs ahead,
outside a window), complete in a maintenance window and verify each
mailbox's new database, remove the completed requests. Wave 0 moves the
arbitration mailboxes (Migration mailbox first) before anything else.
Exchange Online waves are migration batches in Exchange Online PowerShell,
after hybrid, MRSProxy and the identity batches.

Order (MOVES-AND-CLIENT-ACCESS.md section F), added by :func:`moves_links`:
the first wave waits for the servers go/no-go (client access ready); a wave's copy waits for
the previous wave's copy and for the removed requests of the last earlier wave that writes logs
to one of its 2016 databases (:func:`log_predecessors`); each 2010 server's
database removal waits for every wave that moves mailboxes off it and the
removal of their requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from migrator.model import Inventory
from migrator.plan.moves import (
    EXCHANGE_ONLINE,
    LOG_SHARE_PERCENT,
    MovePlan,
    MoveWave,
    migration_database,
    rollback_bytes,
    wave_log_load,
)
from migrator.plan.steps import READS_ONLY, Action, Owner, Phase, RunsIn, Step

P = Phase.MOVES


def step_id(phase: Phase, *parts: str) -> str:
    """``<phase>.<part>...`` (wave names and server names are already safe id parts)."""
    return ".".join([phase.value, *parts])


FOLDER = f"runbooks/{P.number}-{P.value}"
MRSPROXY = step_id(P, "mrsproxy")
SETTLE_MINUTES = 12 * 60
"""Wait after a wave's completion before the next wave completes (free/busy lags up to 12 h)."""
_COMPLETE_AFTER = {
    "name": "CompleteAfterUtc",
    "type": "string",
    "default": "",
    "help": (
        "Start of the wave's completion window in UTC, as yyyy-MM-ddTHH:mm:ssZ (moves-report.md "
        "lists it per wave): the requests copy now and complete by themselves after it "
        "(New-MoveRequest -CompleteAfter, a UTC DateTime)."
    ),
}
_SUSPEND = {
    "name": "SuspendWhenReadyToComplete",
    "type": "switch",
    "help": (
        "Fallback: the requests stop at about 95% instead of completing after a time; the "
        "complete step resumes them (Resume-MoveRequest) in the window."
    ),
}
_LOG_CHECKED = {
    "name": "LogSpaceCheckedByHand",
    "type": "switch",
    "help": (
        "Only where neither WSMan nor DCOM can read a copy's volumes: you checked by hand that the "
        "wave's logs fit in the free space of each copy's log volume (the step prints what it needs)."
    ),
}
_DEFER = {
    "name": "DeferToUtc",
    "type": "string",
    "default": "",
    "help": (
        "Start of the NEXT completion window in UTC (yyyy-MM-ddTHH:mm:ssZ): requests of the wave that "
        "have not completed get it as their new -CompleteAfter (Set-MoveRequest, read back), so they "
        "do not complete by themselves during business hours once their copy catches up."
    ),
}


def wave_csv(wave: MoveWave) -> str:
    """``moves/wave-NNN.csv``."""
    return f"moves/{wave.name}.csv"


def rollback_csv(wave: MoveWave) -> str:
    """``moves/wave-NNN-rollback.csv``: the same mailboxes with their 2010 databases."""
    return f"moves/{wave.name}-rollback.csv"


def _runbook(wave: MoveWave) -> str:
    return f"{FOLDER}/{wave.name}.ps1"


def _rel(runbook: str, path: str) -> str:
    up = len(PurePosixPath(runbook).parent.parts)
    return "\\".join([".."] * up + list(PurePosixPath(path).parts))


def complete_id(wave: MoveWave) -> str:
    """Id of the step that completes a wave."""
    return step_id(P, "complete", wave.name)


def cleanup_id(wave: MoveWave) -> str:
    """Id of the step that removes a wave's completed requests."""
    return step_id(P, "cleanup", wave.name)


def log_predecessors(mp: MovePlan) -> dict[str, MoveWave]:
    """Wave name -> the last earlier wave writing transaction logs to one of its 2016 databases.

    Its copy waits for that wave's completion and the removal of its requests (12 hours after
    the completion with one wave per window): the copies of two waves never write to one
    database at once, and there is a gap for the full backup that truncates the logs, the
    mitigation of the ``moves.log-space`` finding (whose forecast is per wave). The databases
    are those of :func:`~migrator.plan.moves.wave_log_load` (for a migration batch also the one
    holding the Migration mailbox). Review 5, N6: all copies used to run within one day.
    """
    migration = migration_database(mp.assignments)
    last: dict[str, MoveWave] = {}
    out: dict[str, MoveWave] = {}
    for w in mp.waves:
        dbs = sorted(db.lower() for db in wave_log_load(w, migration))
        before = [last[db] for db in dbs if db in last]
        if before:
            out[w.name] = max(before, key=mp.waves.index)
        for db in dbs:
            last[db] = w
    return out


def _backup_note(w: MoveWave, before: MoveWave | None) -> str:
    if before is None:
        return ""
    return (
        f" Starts after {before.name} completed and its requests were removed (the same 2016 "
        "database): first a full backup of that database must have truncated the logs "
        "(Get-MailboxDatabase -Status shows LastFullBackup after that completion, and the log "
        "volume has room for this wave; moves-report.md has the forecast)."
    )


def arbitration_move_steps(
    *,
    phase: Phase,
    ids: tuple[str, str],
    titles: tuple[str, str],
    instructions: str,
    versions: tuple[str, str],
    then: str,
    sources: Sequence[str],
    target: str,
    batch: str,
    first: str,
    prerequisites: Sequence[str],
    runbook: str,
) -> tuple[Step, Step]:
    """The move of the arbitration mailboxes of ``sources`` (databases of the ``versions[0]``
    servers) to ``target``, the Migration mailbox (``first``) first, and its read-only check:
    the first hop's wave 0 and the onward phase's (``Move-ArbitrationMailbox``,
    ``Assert-ArbitrationMoved``: -Database keeps out the ones the new version created)."""
    old, _new = versions
    move = Step(
        id=ids[0],
        phase=phase,
        title=titles[0],
        target="arbitration mailboxes",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=30,
        maintenance_window=False,
        instructions=instructions,
        verification=f"{then} shows every request Completed and no arbitration mailbox left on a {old} database",
        rollback=f"move them back with New-MoveRequest -TargetDatabase <{old} database>",
        action=Action(
            "moves.arbitration",
            {
                "source_databases": list(sources),
                "target_database": target,
                "batch_name": batch,
                "first": first,
            },
        ),
        prerequisites=tuple(prerequisites),
        runbook=runbook,
    )
    check = Step(
        id=ids[1],
        phase=phase,
        title=titles[1],
        rollback=READS_ONLY,
        target="arbitration mailboxes",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=30,
        maintenance_window=False,
        verification=f"Get-Mailbox -Arbitration -Database <each {old} database> returns nothing",
        action=Action(
            "moves.arbitration-verify", {"source_databases": list(sources), "batch_name": batch}
        ),
        prerequisites=(move.id,),
        runbook=runbook,
    )
    return move, check


def moves_steps(inv: Inventory, mp: MovePlan, servers_ready: str) -> list[Step]:
    """Steps of every wave, in run order, chained wave after wave."""
    steps: list[Step] = []
    tenant = inv.tenant.initial_domain if inv.tenant else ""
    delivery = tenant.replace(".onmicrosoft.com", ".mail.onmicrosoft.com") if tenant else ""
    endpoint = f"Hybrid {inv.organisation}"
    by_db = {m.primary_smtp: m.database for m in inv.mailboxes}
    prev_copy = prev_complete = ""
    # One wave per window (moves.waves_per_window 1): also 12 hours after a completion (free/busy
    # may lag that long) before the next wave completes.
    settle = SETTLE_MINUTES if mp.policy.waves_per_window == 1 else 0
    # At most moves.waves_per_window completions start in one window occurrence.
    share = ("moves.complete", mp.policy.waves_per_window)
    arb_done = ""
    logs_before = log_predecessors(mp)
    if any(w.target == EXCHANGE_ONLINE for w in mp.waves):
        steps.append(
            Step(
                id=MRSPROXY,
                phase=P,
                title="enable MRSProxy and create the migration endpoint for Exchange Online moves",
                target="MRSProxy",
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.MANUAL,
                duration_minutes=60,
                instructions=(
                    "On every 2016 server behind the hybrid endpoint: Set-WebServicesVirtualDirectory "
                    "'<server>\\EWS (Default Web Site)' -MRSProxyEnabled $true (Windows "
                    "authentication on that directory). In Exchange Online PowerShell: "
                    "Test-MigrationServerAvailability -ExchangeRemoteMove -RemoteServer <hybrid fqdn> "
                    f"-Credentials $c, then New-MigrationEndpoint -ExchangeRemoteMove -Name '{endpoint}' "
                    "-RemoteServer <hybrid fqdn> -Credentials $c."
                ),
                verification="Test-MigrationServerAvailability returns Success",
                rollback="Set-WebServicesVirtualDirectory -MRSProxyEnabled $false",
                prerequisites=(servers_ready,),
                runbook=f"{FOLDER}/exchange-online.ps1",
            )
        )
    for w in mp.waves:
        rb = _runbook(w)
        csv = wave_csv(w)
        n = len(w.mailboxes)
        copy_minutes = max(30, math.ceil(w.copy_hours * 60))
        gb = w.size_bytes / 1024**3
        if w.arbitration:
            sources = sorted({by_db[s] for s in w.mailboxes if s in by_db})
            target_db = next((d for d, _ in w.bytes_by_target), "")
            create, complete = arbitration_move_steps(
                phase=P,
                ids=(step_id(P, "arbitration"), complete_id(w)),
                titles=(
                    "move the arbitration mailboxes to 2016, the Migration mailbox first",
                    "verify the arbitration mailboxes are on 2016",
                ),
                instructions=(
                    "Moves every arbitration mailbox of the 2010 databases with Get-Mailbox "
                    "-Arbitration -Database <2010 database> | New-MoveRequest (without -Database, "
                    "2016 EMS also returns the arbitration mailboxes 2016 created). Before any "
                    "migration batch or public folder migration: left on 2010 they stall moves."
                ),
                versions=("2010", "2016"),
                then="the complete step",
                sources=sources,
                target=target_db,
                batch=w.name,
                first=next((m.alias for m in inv.mailboxes if m.is_migration_mailbox), ""),
                prerequisites=(servers_ready,),
                runbook=rb,
            )
            cleanup = _cleanup(w, rb, complete.id, len(w.mailboxes), csv="")
            steps += [create, complete, cleanup]
            arb_done = complete.id
            continue
        first = (servers_ready, arb_done) if arb_done else (servers_ready,)
        before = logs_before.get(w.name)
        if before is not None and not before.arbitration:
            first = (*first, cleanup_id(before))
        else:
            before = None
        if w.target == EXCHANGE_ONLINE:
            create = Step(
                id=step_id(P, "copy", w.name),
                phase=P,
                title=f"start the Exchange Online migration batch {w.name} ({n} mailboxes, {gb:.1f} GB)",
                target=w.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EXCHANGE_ONLINE,
                duration_minutes=copy_minutes,
                maintenance_window=False,
                instructions=(
                    f"Creates migration batch {w.name} from {csv} (New-MigrationBatch -CSVData, "
                    "remote move through MRSProxy) with -CompleteAfter the window start in UTC. "
                    "Linked mailboxes move together: cross-premises rights with a 2010 side do not work."
                    + _backup_note(w, before)
                ),
                verification="Get-MigrationUserStatistics -BatchId shows every user Synced before the window",
                rollback=f"Remove-MigrationBatch {w.name} before completion; after it, the wave's rollback runbook (offboarding)",
                action=Action(
                    "moves.exo-batch",
                    {
                        "csv": _rel(rb, csv),
                        "rows": n,
                        "batch_name": w.name,
                        "endpoint": endpoint,
                        "delivery_domain": delivery,
                        "runbook_parameters": [_COMPLETE_AFTER],
                    },
                ),
                prerequisites=tuple(p for p in (*first, prev_copy, MRSPROXY) if p),
                runbook=rb,
            )
            complete = Step(
                id=complete_id(w),
                phase=P,
                title=f"verify migration batch {w.name} completed in the window",
                rollback=(
                    "none planned: a completed move to Exchange Online is undone by an offboarding "
                    "move (New-MigrationBatch with an outbound endpoint), decided case by case"
                ),
                target=w.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EXCHANGE_ONLINE,
                duration_minutes=min(150, 30 + n // 10),
                wait_minutes=settle,
                maintenance_window=True,
                window_share=share,
                verification="every user of the batch Completed; then assign the licences (within 30 days)",
                action=Action(
                    "moves.exo-complete", {"csv": _rel(rb, csv), "rows": n, "batch_name": w.name}
                ),
                prerequisites=tuple(p for p in (create.id, prev_complete) if p),
                runbook=rb,
            )
            cleanup = Step(
                id=cleanup_id(w),
                phase=P,
                title=f"remove the completed migration batch {w.name}",
                target=w.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EXCHANGE_ONLINE,
                duration_minutes=15,
                maintenance_window=False,
                reversible=False,
                verification="Get-MigrationBatch no longer lists it",
                action=Action("moves.exo-cleanup", {"batch_name": w.name}),
                prerequisites=(complete.id,),
                runbook=rb,
            )
        else:
            create = Step(
                id=step_id(P, "copy", w.name),
                phase=P,
                title=f"create the move requests of {w.name} ({n} mailboxes, {gb:.1f} GB)"
                + (" - pilot" if w.pilot else ""),
                target=w.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_NEW,
                duration_minutes=copy_minutes,
                maintenance_window=False,
                instructions=(
                    f"New-MoveRequest per row of {csv} with -BatchName {w.name} and -CompleteAfter "
                    f"(the window start, UTC): the copy runs ahead (about {w.copy_hours:g} h at the "
                    "assumed throughput), completion happens by itself after that time. Archives "
                    "move with their primary mailbox, never ahead of it." + _backup_note(w, before)
                ),
                verification="Get-MoveRequest -BatchName shows every request InProgress or AutoSuspended",
                rollback="Remove-MoveRequest of a request that has not completed cancels it",
                action=Action(
                    "moves.create",
                    {
                        "csv": _rel(rb, csv),
                        "rows": n,
                        "batch_name": w.name,
                        "bad_item_limit": mp.policy.bad_item_limit,
                        **_log_room_data(w.bytes_by_target),
                        "runbook_parameters": [_COMPLETE_AFTER, _SUSPEND, _LOG_CHECKED],
                    },
                ),
                prerequisites=tuple(p for p in (*first, prev_copy) if p),
                runbook=rb,
            )
            complete = Step(
                id=complete_id(w),
                phase=P,
                title=f"complete {w.name} in the window and verify each mailbox's new database",
                target=w.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_NEW,
                duration_minutes=min(150, 30 + n // 10),
                wait_minutes=settle,
                maintenance_window=True,
                window_share=share,
                instructions=(
                    "Outlook asks users to restart after the move; OWA may fail for about 30 "
                    "minutes, free/busy may lag up to 12 hours."
                ),
                verification="every request Completed and Get-Mailbox shows the CSV's TargetDatabase",
                rollback=f"runbooks/{P.number}-{P.value}/{w.name}-rollback.ps1 moves them back",
                action=Action(
                    "moves.complete",
                    {
                        "csv": _rel(rb, csv),
                        "rows": n,
                        "batch_name": w.name,
                        "runbook_parameters": [_DEFER],
                    },
                ),
                prerequisites=tuple(p for p in (create.id, prev_complete) if p),
                runbook=rb,
            )
            cleanup = _cleanup(w, rb, complete.id, n, csv=_rel(rb, csv))
        steps += [create, complete, cleanup]
        prev_copy, prev_complete = create.id, complete.id
    return steps


def _cleanup(w: MoveWave, rb: str, after: str, rows: int, csv: str) -> Step:
    return Step(
        id=cleanup_id(w),
        phase=P,
        title=f"remove the completed move requests of {w.name}",
        target=w.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=15,
        maintenance_window=False,
        reversible=False,
        instructions=(
            "Removes only Completed requests from a 2010 to a 2016 database (Remove-MoveRequest "
            "on a 2010->2010 move can delete the moved mailbox: the helper refuses it)."
        ),
        verification="Get-MoveRequest -BatchName returns nothing",
        action=Action("moves.cleanup", {"batch_name": w.name, "csv": csv, "rows": rows}),
        prerequisites=(after,),
        runbook=rb,
    )


def _log_room_data(bytes_by_database: Iterable[tuple[str, int]]) -> dict[str, object]:
    """The copy step's data for ``Assert-LogVolumeRoom``: bytes moved into each database."""
    pairs = sorted(bytes_by_database)
    return {
        "log_databases": [db for db, _ in pairs],
        "log_bytes": [b for _, b in pairs],
        "log_share_percent": LOG_SHARE_PERCENT,
    }


def moves_rollback_steps(mp: MovePlan) -> list[Step]:
    """One rollback runbook per on-premises wave: move the wave's mailboxes back to 2010."""
    out = []
    back = rollback_bytes(mp.assignments)
    for w in mp.waves:
        if w.arbitration or w.target == EXCHANGE_ONLINE:
            continue
        rb = f"{FOLDER}/{w.name}-rollback.ps1"
        out.append(
            Step(
                id=step_id(P, "rollback", w.name),
                phase=P,
                title=f"move the mailboxes of {w.name} back to their 2010 databases",
                target=w.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_NEW,
                duration_minutes=max(30, math.ceil(w.copy_hours * 60)),
                reversible=False,
                instructions=(
                    f"New-MoveRequest per row of {rollback_csv(w)} back to the 2010 database it "
                    "came from (a move like any other: it copies, then completes). A mailbox holds "
                    "one move request: the wave's Completed request is removed first; a request "
                    "still running stops the step. Moving back from 2016 to 2010 is not verified "
                    "for every CU: rehearse it with the pilot. To run the wave again later, its "
                    f"copy step stops at each Completed {w.name}-rollback request (its target is on "
                    "2010, where migrator never runs Remove-MoveRequest; the request expires 30 days "
                    "after completion): it checks the mailbox is on that 2010 database and prints the "
                    "Remove-MoveRequest command to run by hand in the 2016 shell (not verified for a "
                    "2016 to 2010 request: Exchange documents the risk for moves between 2010 "
                    "databases only)."
                ),
                verification="Get-Mailbox shows each mailbox on its 2010 database again",
                action=Action(
                    "moves.create",
                    {
                        "csv": _rel(rb, rollback_csv(w)),
                        "rows": len(w.mailboxes),
                        "batch_name": f"{w.name}-rollback",
                        "bad_item_limit": mp.policy.bad_item_limit,
                        **_log_room_data(back.get(w.number, {}).items()),
                        "runbook_parameters": [_COMPLETE_AFTER, _SUSPEND, _LOG_CHECKED],
                    },
                ),
                runbook=rb,
            )
        )
    return out


def moves_links(
    inv: Inventory, mp: MovePlan, steps: Sequence[Step], cloud_after: Sequence[str]
) -> dict[str, list[str]]:
    """Cross-phase prerequisites: step id -> ids it must wait for (only ids that exist)."""
    ids = {s.id for s in steps}
    out: dict[str, list[str]] = {}

    def add(step: str, *pre: str) -> None:
        if step in ids:
            out.setdefault(step, []).extend(p for p in pre if p in ids)

    server_of = {m.primary_smtp: m.server.lower() for m in inv.mailboxes}
    case = {s.name.lower(): s.name for s in inv.servers}
    by_server: dict[str, list[str]] = {}
    for w in mp.waves:
        done = [complete_id(w), cleanup_id(w)]
        if w.target == EXCHANGE_ONLINE:
            add(step_id(P, "copy", w.name), *cloud_after)
        for smtp in w.mailboxes:
            server = case.get(server_of.get(smtp, ""), "")
            if server:
                by_server.setdefault(server, []).extend(done)
    add(MRSPROXY, *cloud_after)
    if mp.waves and mp.waves[0].arbitration:
        add(step_id(Phase.DECOMMISSION, "arbitration-mailboxes"), complete_id(mp.waves[0]))
    for server, pre in by_server.items():
        add(step_id(Phase.DECOMMISSION, "databases", server), *sorted(set(pre)))
        add(step_id(Phase.DECOMMISSION, "remove", server), *sorted(set(pre)))
    return out
