"""Plan steps for the identity phase: per batch, prepare -> sync -> verify.

Each batch's users are in one CSV (``identity/batch-001.csv``, written by
``migrator.render.identity_report.write_identity_batches``); the runbook
steps read it, so a 300,000-user plan is a few hundred steps, not
300,000 commands. Steps run in three runbooks, by where they run:
``runbooks/40-identity/ad.ps1`` (AD module on an admin host),
``graph.ps1`` (Microsoft Graph PowerShell) and ``adsync.ps1`` (the Entra
Connect server).

Order inside a batch: remove admin roles (manual, only if any) and set
ImmutableId where hard match is chosen, before the AD changes that bring the
users into sync scope; then a delta sync and the sync-cycle wait; then the
Graph verification; then restore the admin roles (manual).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from migrator.model import Inventory, Tenant
from migrator.plan.identity import IdentityBatch, IdentityMatch
from migrator.plan.remote_mailbox import remote_mailbox_rows
from migrator.plan.steps import Action, Owner, Phase, RunsIn, Step

SYNC_CYCLE_WAIT_MINUTES = 30
"""Entra Connect's default sync cycle: changes may take this long to reach the cloud."""

_FOLDER = f"runbooks/{Phase.IDENTITY.number}-{Phase.IDENTITY.value}"
AD_RUNBOOK = f"{_FOLDER}/ad.ps1"
GRAPH_RUNBOOK = f"{_FOLDER}/graph.ps1"
ADSYNC_RUNBOOK = f"{_FOLDER}/adsync.ps1"
EMS_RUNBOOK = f"{_FOLDER}/ems.ps1"


def batch_csv_path(batch: IdentityBatch) -> str:
    """Where the batch CSV is written, relative to the output folder."""
    return f"identity/{batch.name}.csv"


def remote_mailbox_csv_path(batch: IdentityBatch) -> str:
    """Where the batch's remote-mailbox CSV is written, relative to the output folder."""
    return f"identity/{batch.name}-remote-mailboxes.csv"


def _csv_from_runbook(runbook: str, csv: str) -> str:
    """The CSV's path relative to the runbook's folder, Windows style (``..\\..\\identity\\x.csv``)."""
    up = len(PurePosixPath(runbook).parent.parts)
    return "\\".join([".."] * up + list(PurePosixPath(csv).parts))


def identity_steps(inventory: Inventory, result: IdentityMatch) -> list[Step]:
    """The identity phase's steps for every batch, in a stable order."""
    steps: list[Step] = []
    ou = result.sync_scope_ou
    for batch in result.batches:
        b = batch.name
        csv = batch_csv_path(batch)
        n = len(batch.results)
        admins = [r for r in batch.results if r.admin_roles]
        hard = [r for r in batch.results if r.set_immutable_id]
        prepare_prereqs: list[str] = []
        # The roles to remove before the sync and to assign again after it.
        listed = "\n".join(
            f"{r.cloud_upn}: {', '.join(r.admin_roles)}"
            for r in sorted(admins, key=lambda r: r.cloud_upn.lower())
        )

        remote = remote_mailbox_rows(batch, inventory.tenant or Tenant())
        if admins:
            steps.append(
                Step(
                    id=f"identity.remove-roles.{b}",
                    phase=Phase.IDENTITY,
                    title=f"Remove admin roles from {len(admins)} cloud user(s) of {b} before they sync",
                    target=b,
                    owner=Owner.IDENTITY_ADMIN,
                    runs_in=RunsIn.MANUAL,
                    duration_minutes=5 + 2 * len(admins),
                    verification="Entra admin center, Roles and administrators: the users hold none of the roles listed",
                    rollback="assign the roles again (they are listed in the instructions and the identity report)",
                    instructions=(
                        "Admin roles block both soft and hard match. In the Entra admin center remove these "
                        "role assignments (write them down: identity.restore-roles."
                        + b
                        + " restores them "
                        "after the match is verified):\n" + listed
                    ),
                    runbook=GRAPH_RUNBOOK,
                    # In the identity night, right after the remote mailboxes (which wait for a
                    # window), not on the plan's first day: 12 days without Exchange
                    # Administrator otherwise (review 5, n7). The ImmutableId and the tenant's
                    # matching switches (read at set-immutable-id) follow, minutes before the sync.
                    prerequisites=(f"identity.remote-mailbox.{b}",) if remote else (),
                )
            )
            prepare_prereqs.append(f"identity.remove-roles.{b}")

        if hard:
            rel = _csv_from_runbook(GRAPH_RUNBOOK, csv)
            steps.append(
                Step(
                    id=f"identity.set-immutable-id.{b}",
                    phase=Phase.IDENTITY,
                    title=f"Set OnPremisesImmutableId on {len(hard)} cloud user(s) of {b} for hard match",
                    target=b,
                    owner=Owner.IDENTITY_ADMIN,
                    runs_in=RunsIn.GRAPH,
                    duration_minutes=5 + len(hard) // 100,
                    verification="Get-MgUser reads OnPremisesImmutableId back and compares it case-sensitively",
                    rollback=(
                        "before the batch syncs: set OnPremisesImmutableId back to the previous value "
                        "(identity report). To clear it (empty before), Update-MgUser cannot send a "
                        "JSON null: in Graph Explorer (or any Graph client) send PATCH "
                        "https://graph.microsoft.com/v1.0/users/<CloudUserId> with the body "
                        '{"onPremisesImmutableId": null}; after the match it cannot be changed'
                    ),
                    instructions=(
                        "Connect first: Connect-MgGraph -Scopes 'User.ReadWrite.All'. Sets the ImmutableId "
                        "(base64 of the on-premises sourceAnchor GUID) on the rows with SetImmutableId True in "
                        + csv
                    ),
                    action=Action(
                        "identity.set-immutable-id", {"csv": rel, "csv_name": csv, "rows": n}
                    ),
                    # The tenant's matching switches are read here: in the identity night too,
                    # not days before the sync (review 5, n7).
                    prerequisites=(
                        *prepare_prereqs,
                        *((f"identity.remote-mailbox.{b}",) if remote else ()),
                    ),
                    runbook=GRAPH_RUNBOOK,
                )
            )
            prepare_prereqs.append(f"identity.set-immutable-id.{b}")

        remote_ready: dict[str, object] = {"remote_mailbox_csv": "", "remote_mailbox_rows": 0}
        remote_verify = dict(remote_ready)
        if remote:
            rm_csv = remote_mailbox_csv_path(batch)
            # identity.prepare reads them back before it moves anyone into sync scope (other owner, other runbook).
            remote_ready = {
                "remote_mailbox_csv": _csv_from_runbook(AD_RUNBOOK, rm_csv),
                "remote_mailbox_rows": len(remote),
            }
            remote_verify = {
                "remote_mailbox_csv": _csv_from_runbook(GRAPH_RUNBOOK, rm_csv),
                "remote_mailbox_rows": len(remote),
            }
            typed = sum(1 for row in remote if row.mailbox_type != "Regular")
            steps.append(
                Step(
                    id=f"identity.remote-mailbox.{b}",
                    phase=Phase.IDENTITY,
                    title=(
                        f"Create the on-premises remote mailbox of {len(remote)} cloud mailbox(es) "
                        f"of {b} before they sync"
                    ),
                    target=b,
                    owner=Owner.EXCHANGE_ADMIN,
                    runs_in=RunsIn.EMS_NEW,
                    duration_minutes=5 + len(remote) // 20,
                    verification=(
                        "Get-RemoteMailbox reads each one back: primary SMTP address, every cloud "
                        "address and the X500, email address policy off, ExchangeGuid (and ArchiveGuid)"
                    ),
                    rollback=(
                        "before the batch syncs: Disable-RemoteMailbox on the users listed in "
                        + rm_csv
                        + "; after the match keep them (they are the cloud mailboxes' on-premises side)"
                    ),
                    instructions=(
                        "These on-premises users have no Exchange attributes and their cloud users "
                        "already have an Exchange Online mailbox: on-premises Exchange has no "
                        "recipient for them, and at the first sync their empty on-premises values "
                        "would replace the cloud addresses. In the Exchange Management Shell of a "
                        "2016 server, before the batch syncs, the step runs Enable-RemoteMailbox "
                        "(cloud primary address, remote routing address"
                        + (f"; {typed} shared/room/equipment" if typed else "")
                        + "), adds every cloud address and the X500 of the cloud LegacyExchangeDN "
                        "with the email address policy off, then Set-RemoteMailbox -ExchangeGuid "
                        "(and -ArchiveGuid), and reads each back. Reads " + rm_csv + "."
                    ),
                    action=Action(
                        "identity.remote-mailbox",
                        {
                            "csv": _csv_from_runbook(EMS_RUNBOOK, rm_csv),
                            "csv_name": rm_csv,
                            "rows": len(remote),
                        },
                    ),
                    runbook=EMS_RUNBOOK,
                )
            )
            prepare_prereqs.append(f"identity.remote-mailbox.{b}")

        rel_ad = _csv_from_runbook(AD_RUNBOOK, csv)
        steps.append(
            Step(
                id=f"identity.prepare.{b}",
                phase=Phase.IDENTITY,
                title=f"Prepare {n} on-premises user(s) of {b}: UPN and proxyAddresses fixes, move into sync scope",
                target=b,
                owner=Owner.IDENTITY_ADMIN,
                runs_in=RunsIn.AD_POWERSHELL,
                duration_minutes=5 + n // 100,
                verification="Get-ADUser reads each changed user back from the pinned domain controller",
                rollback=(
                    "before the sync: set userPrincipalName back to CurrentUserPrincipalName, remove the "
                    "AddProxyAddresses values and move the user back to the parent of OnPremDistinguishedName "
                    "(all in "
                    + csv
                    + "); after the match, moving a user out of sync scope deletes the "
                    "cloud user, so do not"
                ),
                instructions=(
                    "Runs on an admin host with the ActiveDirectory module and Microsoft Graph "
                    "PowerShell (Connect-MgGraph -Scopes 'Directory.Read.All' first); reads "
                    + csv
                    + ". Before a user moves into sync scope it refuses that user (left out, the "
                    "rest of the batch goes on, the step stops at the end) if its cloud user holds "
                    "a directory role again (read with Get-MgUserMemberOf) or its "
                    "mS-DS-ConsistencyGuid is set to other than its objectGUID. PIM eligible "
                    "role assignments are not read: check them in the Entra admin center. "
                    + (
                        f"Moves users into '{ou}'."
                        if ou
                        else "policy.sync_scope_ou is empty: no user is moved; bring them into sync scope yourself."
                    )
                ),
                action=Action(
                    "identity.prepare",
                    {
                        "csv": rel_ad,
                        "csv_name": csv,
                        "rows": n,
                        "sync_scope_ou": ou,
                        **remote_ready,
                    },
                ),
                prerequisites=tuple(prepare_prereqs),
                runbook=AD_RUNBOOK,
            )
        )

        steps.append(
            Step(
                id=f"identity.sync.{b}",
                phase=Phase.IDENTITY,
                title=f"Start a delta sync on the Entra Connect server for {b}",
                target=b,
                owner=Owner.IDENTITY_ADMIN,
                runs_in=RunsIn.ADSYNC,
                duration_minutes=15,
                wait_minutes=SYNC_CYCLE_WAIT_MINUTES,
                reversible=False,
                verification="Get-ADSyncScheduler shows no sync cycle in progress afterwards",
                instructions=(
                    "Runs on the Entra Connect server (ADSync module). Waits for a running cycle to finish, "
                    "starts Start-ADSyncSyncCycle -PolicyType Delta and waits for it; then allow a sync "
                    f"cycle ({SYNC_CYCLE_WAIT_MINUTES} minutes) before verifying."
                ),
                action=Action("identity.sync", {"batch": b, "timeout_minutes": 60}),
                prerequisites=(f"identity.prepare.{b}",),
                runbook=ADSYNC_RUNBOOK,
            )
        )

        rel_graph = _csv_from_runbook(GRAPH_RUNBOOK, csv)
        steps.append(
            Step(
                id=f"identity.verify.{b}",
                phase=Phase.IDENTITY,
                title=f"Verify that the {n} cloud user(s) of {b} are synced (OnPremisesSyncEnabled)",
                target=b,
                owner=Owner.IDENTITY_ADMIN,
                runs_in=RunsIn.GRAPH,
                duration_minutes=5 + n // 200,
                reversible=False,
                verification="OnPremisesSyncEnabled is true and OnPremisesImmutableId is the expected sourceAnchor",
                instructions=(
                    f"Run after identity.sync.{b} and the sync-cycle wait, e.g. graph.ps1 -Only identity.verify.{b}. "
                    "A user that is not synced usually has a sync error in Entra Connect Health or "
                    "Synchronization Service Manager ('Unable to update this object')."
                ),
                action=Action(
                    "identity.verify",
                    {"csv": rel_graph, "csv_name": csv, "rows": n, **remote_verify},
                ),
                prerequisites=(f"identity.sync.{b}",),
                runbook=GRAPH_RUNBOOK,
            )
        )

        if admins:
            steps.append(
                Step(
                    id=f"identity.restore-roles.{b}",
                    phase=Phase.IDENTITY,
                    title=f"Restore the admin roles of {len(admins)} user(s) of {b}",
                    target=b,
                    owner=Owner.IDENTITY_ADMIN,
                    runs_in=RunsIn.MANUAL,
                    duration_minutes=5 + 2 * len(admins),
                    verification="Entra admin center, Roles and administrators: the roles are assigned again",
                    rollback="remove the role assignments again",
                    instructions="Assign these roles again in the Entra admin center:\n" + listed,
                    prerequisites=(f"identity.verify.{b}",),
                    runbook=GRAPH_RUNBOOK,
                )
            )
    return steps


__all__ = [
    "ADSYNC_RUNBOOK",
    "AD_RUNBOOK",
    "EMS_RUNBOOK",
    "GRAPH_RUNBOOK",
    "SYNC_CYCLE_WAIT_MINUTES",
    "batch_csv_path",
    "identity_steps",
    "remote_mailbox_csv_path",
]
