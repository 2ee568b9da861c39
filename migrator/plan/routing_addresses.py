"""The Exchange Online routing address of every mailbox that moves to Exchange Online (review M9).

A hybrid move (``New-MigrationBatch -TargetDeliveryDomain <tenant>.mail.onmicrosoft.com``)
needs each on-premises mailbox to hold a proxy address in that domain: the move
makes it the remote mailbox's ``RemoteRoutingAddress``, and without it the
move fails ("target delivery domain" not found). The email address policy stamps
``alias@<tenant>.mail.onmicrosoft.com`` (the Hybrid Configuration Wizard adds it to
the default policy) only on mailboxes where the policy applies:
``EmailAddressPolicyEnabled`` false leaves it out. The inventory does not say
which mailboxes have the policy off (nor which policy holds the entry), so the
plan does not guess: before each Exchange Online wave one step in the Exchange
Management Shell adds ``smtp:<alias>@<tenant>.mail.onmicrosoft.com`` to every
mailbox of the wave that has no address in that domain (``Set-Mailbox
-EmailAddresses @{Add=...}``, allowed with the policy on or off; the primary
address is never touched) and reads it back; a mailbox that already has one is
left alone, so a second run changes nothing. Entra Connect then syncs it to the
cloud mail user before the batch starts (the step waits one sync cycle).

The remote mailboxes the identity batches create get theirs in the same way
(:mod:`migrator.plan.remote_mailbox`).
"""

from __future__ import annotations

from collections.abc import Sequence

from migrator.model import Inventory
from migrator.plan.identity import remote_routing_domain
from migrator.plan.moves import EXCHANGE_ONLINE, MovePlan
from migrator.plan.moves_steps import wave_csv
from migrator.plan.steps import Action, Owner, Phase, RunsIn, Step

P = Phase.MOVES
RUNBOOK = f"runbooks/{P.number}-{P.value}/routing-addresses.ps1"
SYNC_WAIT_MINUTES = 30
"""One Entra Connect delta sync cycle: the address must reach the cloud mail user before the batch."""


def routing_address_id(wave: str) -> str:
    """``moves.routing-address.<wave>``: the step a wave's Exchange Online batch waits for."""
    return f"{P.value}.routing-address.{wave}"


def routing_address_steps(inv: Inventory, mp: MovePlan, servers_ready: str) -> list[Step]:
    """One step per Exchange Online wave (module docstring); none without a tenant or such a wave."""
    if inv.tenant is None or not inv.tenant.initial_domain.lower().endswith(".onmicrosoft.com"):
        return []
    domain = remote_routing_domain(inv.tenant)
    out: list[Step] = []
    for w in mp.waves:
        if w.target != EXCHANGE_ONLINE or not w.mailboxes:
            continue
        n = len(w.mailboxes)
        out.append(
            Step(
                id=routing_address_id(w.name),
                phase=P,
                title=(
                    f"give the {n} mailbox(es) of {w.name} their {domain} routing address before"
                    " the move"
                ),
                target=w.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_NEW,
                duration_minutes=10 + n // 100,
                wait_minutes=SYNC_WAIT_MINUTES,
                maintenance_window=False,
                verification=(
                    f"the script reads each mailbox back: it holds an address @{domain}"
                    " (Get-Mailbox EmailAddresses)"
                ),
                rollback=(
                    "leave it: the move needs it, and the remote mailbox keeps it as its routing"
                    " address (Set-Mailbox -EmailAddresses @{Remove=...} only for a mailbox taken"
                    " out of the wave)"
                ),
                instructions=(
                    f"For every mailbox of {wave_csv(w)} without an address @{domain}, adds"
                    f" smtp:<alias>@{domain} (Set-Mailbox -EmailAddresses @{{Add=...}}): the email"
                    " address policy stamps it only where the policy applies (EmailAddressPolicyEnabled"
                    " false leaves it out) and the Exchange Online move needs it as the target"
                    " delivery address. Then wait one Entra Connect sync cycle."
                ),
                action=Action(
                    "moves.routing-address",
                    {
                        "csv": "..\\..\\" + wave_csv(w).replace("/", "\\"),
                        "rows": n,
                        "domain": domain,
                    },
                ),
                prerequisites=(servers_ready,),
                runbook=RUNBOOK,
            )
        )
    return out


def routing_address_links(steps: Sequence[Step]) -> dict[str, str]:
    """``moves.copy.<wave>`` -> the routing-address step it waits for (only steps that exist)."""
    ids = {s.id for s in steps}
    out: dict[str, str] = {}
    for s in steps:
        if s.id.startswith(f"{P.value}.routing-address."):
            wave = s.id.removeprefix(f"{P.value}.routing-address.")
            copy = f"{P.value}.copy.{wave}"
            if copy in ids:
                out[copy] = s.id
    return out
