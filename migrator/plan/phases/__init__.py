"""Step builders per phase, derived from the inventory, and the plan assembler.

:func:`assemble_plan` takes the relay and identity steps (built elsewhere) as
``extra_steps``, adds the steps of the other phases, links the phases by
rule (see :func:`link_phases`) and hands everything to the graph. The one
function that makes a whole plan from an inventory is :func:`migrator.build_plan`
(``migrator/pipeline.py``): it checks the inventory, plans relay and identity
and calls this; every command goes through it.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Sequence
from dataclasses import replace
from itertools import repeat
from operator import attrgetter

from migrator.checks.certificates import check_certificates
from migrator.errors import PlanError
from migrator.logs.client_evidence import ClientEvidence
from migrator.model import ExchangeVersion, Finding, Inventory, Severity
from migrator.plan.graph import draft_plan
from migrator.plan.identity import IdentityMatch
from migrator.plan.moves import MovePlan
from migrator.plan.moves_steps import moves_links
from migrator.plan.nat import nat_links
from migrator.plan.phases._common import LOWERED_TTL_SECONDS, Estate, estate, step_id
from migrator.plan.phases.certificate_renewal import certificate_renewal_steps, renewal_links
from migrator.plan.phases.client_access import client_access_links
from migrator.plan.phases.cutover import cutover_kinds
from migrator.plan.phases.decommission import ORG_WIDE, decommission_steps
from migrator.plan.phases.hybrid import hybrid_setup, hybrid_steps
from migrator.plan.phases.mx import READINESS as MX_READINESS
from migrator.plan.phases.mx import mx_findings, mx_steps
from migrator.plan.phases.onward import onward_steps
from migrator.plan.phases.prepare import prepare_steps
from migrator.plan.phases.servers import servers_steps
from migrator.plan.public_folder_hybrid import go_live_changes, hybrid_links
from migrator.plan.public_folder_steps import (
    public_folder_findings,
    public_folder_links,
    public_folder_steps,
)
from migrator.plan.relay import RelayPlan, plan_onward_relay, plan_relay
from migrator.plan.remote_mailbox import remote_mailbox_findings
from migrator.plan.routing_addresses import routing_address_links
from migrator.plan.steps import MigrationPlan, Phase, Step

SERVERS_READY = step_id(Phase.SERVERS, "readiness")


def check_coexistence(inv: Inventory, est: Estate) -> None:
    """Raise :class:`PlanError` when the inventory asks for 2019/SE next to 2010 with no 2016 hop."""
    if est.legacy_2010 and est.final and not est.hop:
        versions = sorted({s.version.label.lower() for s in est.final})
        raise PlanError(
            f"{' and '.join(versions)} cannot coexist with exchange 2010 "
            f"({', '.join(s.name for s in est.final)} planned next to "
            f"{', '.join(s.name for s in est.legacy_2010)}); move through exchange 2016 first: "
            "add 2016 target servers, move everything, remove every 2010 server, then add the new version"
        )


def check_final_after_2010(inv: Inventory, est: Estate, steps: Sequence[Step]) -> None:
    """Raise :class:`PlanError` when a step outside the onward phase acts on a 2019/SE server
    while 2010 servers remain (they cannot coexist: those servers join after decommissioning)."""
    if not est.legacy_2010 or not est.final:
        return
    final = {s.name.lower() for s in est.final}
    for fqdn in (s.fqdn for s in est.final if s.fqdn):
        final.add(fqdn.lower())
    wrong = sorted(
        s.id
        for s in steps
        if s.phase is not Phase.ONWARD and s.target.split("\\", 1)[0].lower() in final
    )
    if wrong:
        raise PlanError(
            f"steps {', '.join(repr(w) for w in wrong)} act on "
            f"{', '.join(s.name for s in est.final)} before the last exchange 2010 server is "
            "removed; servers of the final version belong to the onward phase"
        )


_BATCH_OF: list[tuple[weakref.ref[IdentityMatch], dict[str, str]]] = []
"""The last identity match asked about and its :func:`batch_of` (an identity match is immutable)."""


def batch_of(identity: IdentityMatch | None) -> dict[str, str]:
    """Lower-cased DistinguishedName of every on-premises user an identity batch syncs -> batch name.

    Made once per identity match (the MX steps, the plan's findings and the recipient CSVs each
    ask; 300,000 users at the largest); each caller gets its own copy.
    """
    if identity is None:
        return {}
    if _BATCH_OF and _BATCH_OF[0][0]() is identity:
        return dict(_BATCH_OF[0][1])
    out: dict[str, str] = {}
    for batch in identity.batches:
        # (the batch's on-premises users, not its results: check makes no result; mapped in C)
        dns = filter(None, map(attrgetter("distinguished_name"), batch.onprem_users))
        out.update(zip(map(str.lower, dns), repeat(batch.name)))
    _BATCH_OF[:] = [(weakref.ref(identity), out)]
    return dict(out)


def phase_steps(
    inv: Inventory,
    onward_relay: RelayPlan | None = None,
    identity: IdentityMatch | None = None,
    client_evidence: ClientEvidence | None = None,
) -> list[Step]:
    """The steps of the prepare, servers, hybrid, mx, decommission and onward phases (unlinked).

    ``client_evidence`` gates the removal of each 2010 Client Access server.

    ``onward_relay`` is the onward relay plan (:func:`plan_onward_relay`); it is
    computed from the inventory where not given. ``identity`` is the identity
    match whose batches the MX gate counts on (None: no user is synced by the plan).
    """
    est = estate(inv)
    check_coexistence(inv, est)
    setup = hybrid_setup(inv, est)
    hybrid_names = {setup.new.name.lower()} if setup else set()
    steps = prepare_steps(inv, est)
    servers = servers_steps(inv, est, hybrid_names)
    steps += servers
    if setup is not None:
        steps += hybrid_steps(inv, setup)
    steps += mx_steps(inv, setup.tls_name if setup else "", batch_of(identity))
    moved = []
    legacy = {s.name.lower() for s in est.legacy_2010}
    by_target = {s.target.lower() for s in servers if s.id.startswith("servers.send-connector.")}
    for sc in sorted(inv.send_connectors, key=lambda c: c.name.lower()):
        if sc.name.lower() in by_target:
            moved.append(
                (sc.name, sorted(s for s in sc.source_transport_servers if s.lower() in legacy))
            )
    steps += public_folder_steps(inv, SERVERS_READY)
    steps += decommission_steps(inv, est, moved, client_evidence)
    if onward_relay is None:
        onward_relay = plan_onward_relay(inv, plan_relay(inv))
    steps += onward_steps(
        inv, est, setup.new.name if setup else "", onward_relay, setup.tls_name if setup else ""
    )
    return steps


def plan_findings(inv: Inventory, identity: IdentityMatch | None = None) -> list[Finding]:
    """Findings about the plan itself (MX: unverified domains, hosts the tenant did not report,
    recipients not in the cloud; certificates; a 2016 landing)."""
    out = mx_findings(inv, batch_of(identity))
    out += public_folder_findings(inv)
    out += remote_mailbox_findings(identity)
    out += check_certificates(inv, estate(inv).hop_mailbox)
    if inv.policy.maintenance_windows and not inv.policy.holidays:
        out.append(
            Finding(
                Severity.INFO,
                "schedule.no-holidays",
                "policy.holidays",
                "plan.holidays lists no public holiday: the whole business day the plan keeps "
                "between production cut-overs of two classes counts Monday to Friday, public "
                "holidays included (the plan warns where such a day falls only between 24 December "
                "and 1 January)",
                fix="list the public holidays of your sites under plan.holidays in inventory.yaml "
                "(YYYY-MM-DD)",
            )
        )
    if inv.policy.final_version is ExchangeVersion.EX2016:
        out.append(
            Finding(
                Severity.WARNING,
                "plan.lands-on-2016",
                "policy.final_version",
                "the plan ends on exchange 2016, out of support since 14 october 2025; "
                "it is a time-boxed hop, not a destination",
                fix="set plan.final_version: SE in inventory.yaml to plan the onward phase",
            )
        )
    return sorted(out, key=Finding.sort_key)


def _server_of(target: str, servers: dict[str, str]) -> str:
    low = target.lower()
    head = low.split("\\", 1)[0]
    if head in servers:
        return servers[head]
    return servers.get(low, "")


def _sinks(steps: Sequence[Step], phase: Phase, needed: set[str]) -> list[str]:
    return sorted(s.id for s in steps if s.phase is phase and s.id not in needed)


def link_phases(
    inv: Inventory,
    steps: Sequence[Step],
    moves: MovePlan | None = None,
    relay: RelayPlan | None = None,
) -> list[Step]:
    """Add the cross-phase edges, by rule, in one pass (no pairwise scan).

    - relay steps with no prerequisite wait for the install of the new server they
      name, else for the servers go/no-go; relay steps on a 2010 server wait for its
      Verbose logging (every connector of the server); relay steps on the SMTP alias wait for the alias preparation;
    - hybrid needs the servers go/no-go (built in), SPF for Exchange Online waits for the HCW;
    - the Internet and partner send connectors (``servers.send-connector.*``) and the remote
      mailboxes wait for the servers go/no-go;
    - the MX go/no-go waits for the last hybrid and identity steps (and the servers
      go/no-go when MX stays on-premises);
    - the org-wide decommission moves wait for the last relay, hybrid, identity and MX steps;
    - removing a 2010 server waits for every step whose target is that server and every
      ``relay.remove-old.<server>`` step; its relay connectors' disable and its removal wait
      for every NAT rule that delivers to it (``relay.nat``, ``relay.nat-verify``);
    - an Exchange Online wave's batch waits for its routing addresses (``moves.routing-address``);
    - the onward phase waits for the last 2010 server to go (built in);
    - public folders (:func:`public_folder_links`): legacy access before the first user wave, the
      batch after the arbitration mailboxes, the lock after every on-premises wave and the MX and
      hybrid transport steps, each 2010 server's removal after its public folder databases are gone;
      legacy hybrid public folders before the first Exchange Online wave (:func:`hybrid_links`).
    """
    ids = {s.id for s in steps}
    needed = {p for s in steps for p in s.prerequisites}
    est = estate(inv)
    legacy = {srv.name.lower(): srv.name for srv in est.legacy_2010}
    for srv in est.legacy_2010:
        if srv.fqdn:
            legacy[srv.fqdn.lower()] = srv.name
    new = {srv.name.lower(): srv.name for srv in est.hop}
    aliases = {a.lower() for a in inv.policy.smtp_aliases}
    extra: dict[str, list[str]] = {}

    def add(step: str, *pre: str) -> None:
        extra.setdefault(step, []).extend(p for p in pre if p in ids and p != step)

    relay_sinks = _sinks(steps, Phase.RELAY, needed)
    identity_sinks = _sinks(steps, Phase.IDENTITY, needed)
    hybrid_sinks = _sinks(steps, Phase.HYBRID, needed)
    mx_sinks = _sinks(steps, Phase.MX, needed)
    uses_old: dict[str, list[str]] = {}
    send_connector = step_id(Phase.SERVERS, "send-connector") + "."
    for s in steps:
        if s.phase is Phase.RELAY:
            server_new = _server_of(s.target, new)
            server_old = _server_of(s.target, legacy)
            if not s.prerequisites and server_new:
                # The new connector may name the server's certificate (TlsCertificateName).
                add(
                    s.id,
                    step_id(Phase.SERVERS, "install", server_new),
                    step_id(Phase.SERVERS, "certificate", server_new),
                )
            elif not s.prerequisites:
                add(s.id, SERVERS_READY)
            if server_old:
                add(s.id, step_id(Phase.PREPARE, "protocol-logging", server_old))
            if s.target.lower() in aliases:
                add(s.id, step_id(Phase.SERVERS, "smtp-alias"), SERVERS_READY)
        if s.id.startswith("identity.remote-mailbox."):
            # Runs in the Exchange Management Shell of a 2016 server.
            add(s.id, SERVERS_READY)
        if s.id.startswith(send_connector):
            # Outbound Internet and partner mail through the new servers is a production
            # cut-over (review 3, F3): after the go/no-go like the others.
            add(s.id, SERVERS_READY)
        if s.phase is Phase.MX and s.id.startswith("mx.spf."):
            add(s.id, step_id(Phase.HYBRID, "hcw-rerun"))
        if s.phase not in (Phase.DECOMMISSION, Phase.ONWARD):
            old = _server_of(s.target, legacy)
            if old:
                uses_old.setdefault(old, []).append(s.id)
            if s.id.startswith("relay.remove-old."):
                # Server names hold no dots, so the id part up to the first dot is the server.
                head = s.id.removeprefix("relay.remove-old.").split(".", 1)[0].lower()
                if head in legacy and legacy[head] != old:
                    uses_old.setdefault(legacy[head], []).append(s.id)
    add(MX_READINESS, *hybrid_sinks, *identity_sinks)
    if inv.policy.mail_flow_target.value != "exchange-online":
        add(MX_READINESS, SERVERS_READY)
    for org in ORG_WIDE:
        add(org, *relay_sinks, *hybrid_sinks, *identity_sinks, *mx_sinks)
    for name, users in uses_old.items():
        add(step_id(Phase.DECOMMISSION, "remove", name), *users)
    for sid, pre in client_access_links(inv, steps).items():
        add(sid, *pre)
    if moves is not None:
        for sid, pre in moves_links(inv, moves, steps, [*hybrid_sinks, *identity_sinks]).items():
            add(sid, *pre)
    nat = nat_links(inv, relay or plan_relay(inv), steps) if inv.nat_rules else {}
    for sid, pre in nat.items():
        # 2010 relay connectors and the server wait for the NAT rules that deliver to it (review M8)
        add(sid, *pre)
    for copy, routing in routing_address_links(steps).items():
        # an Exchange Online batch waits for its mailboxes' routing addresses (review M9), and
        # those for the hybrid configuration, whose email address policy may stamp them first
        # (review 2 and 3, m4)
        add(copy, routing)
        add(routing, *hybrid_sinks)
    pf_links = public_folder_links(inv, moves, steps, [*mx_sinks, *hybrid_sinks], ORG_WIDE[0])
    for sid, pre in pf_links.items():
        add(sid, *pre)
    for sid, pre in hybrid_links(inv, moves, steps, [*hybrid_sinks, *identity_sinks]).items():
        # public folders for Exchange Online users: legacy, then modern hybrid (review 2, M2)
        add(sid, *pre)
    cutover = cutover_kinds(steps)
    go_live = go_live_changes(steps)
    out = []
    for s in steps:
        changes: dict[str, object] = {}  # (one copy of the step for all its changes)
        more = extra.get(s.id)
        if more:
            changes["prerequisites"] = (*s.prerequisites, *more)
        if s.id in cutover:
            changes["cutover"] = cutover[s.id]
        if s.id in go_live:
            changes.update(go_live[s.id])
        out.append(replace(s, **changes) if changes else s)  # type: ignore[arg-type]
    return out


def assemble_plan(
    inventory: Inventory,
    extra_steps: Sequence[Step] = (),
    start: dt.date | None = None,
    onward_relay: RelayPlan | None = None,
    identity: IdentityMatch | None = None,
    moves: MovePlan | None = None,
    client_evidence: ClientEvidence | None = None,
    relay: RelayPlan | None = None,
) -> MigrationPlan:
    """This module's phases plus ``extra_steps`` (relay, identity, moves), linked, ordered and scheduled.

    ``start`` overrides the inventory's ``plan.start``; one of them is
    required (the plan never reads the clock). ``onward_relay`` is the onward
    relay plan (computed from the inventory where not given). ``identity`` is
    the identity match the ``extra_steps`` were built from (the MX gate waits
    for its batches). ``relay`` is the first hop's relay plan (computed where not given and needed).
    """
    day = start or inventory.policy.start_date
    if day is None:
        raise PlanError(
            "no start date: set plan.start in inventory.yaml or pass --start YYYY-MM-DD"
        )
    steps = link_phases(
        inventory,
        [*phase_steps(inventory, onward_relay, identity, client_evidence), *extra_steps],
        moves,
        relay,
    )
    check_final_after_2010(inventory, estate(inventory), steps)
    windows = inventory.policy.maintenance_windows
    holidays = inventory.policy.holidays
    first = draft_plan(inventory.organisation, steps, day, windows, holidays=holidays)
    # A certificate that expires while steps remain: its renewal joins the plan (review 2, M10).
    renew = certificate_renewal_steps(inventory, first.plan)
    if not renew:
        return first.plan
    # One scheduling pass: the run order's head that the renewal leaves as it was keeps its schedule.
    more = [*renewal_links(steps, renew), *renew]
    return draft_plan(
        inventory.organisation, more, day, windows, earlier=first, holidays=holidays
    ).plan


__all__ = [
    "LOWERED_TTL_SECONDS",
    "assemble_plan",
    "batch_of",
    "check_coexistence",
    "check_final_after_2010",
    "link_phases",
    "phase_steps",
    "plan_findings",
]
