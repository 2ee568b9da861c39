"""Inbound NAT rules that deliver to a 2010 server: retargeted to new servers before 2010 goes (review M8).

A firewall rule that delivers Internet SMTP (``nat:`` in inventory.yaml) to the
address of an Exchange 2010 server keeps delivering there until someone changes
it: disable the 2010 relay connectors or remove the server first and inbound
mail (and any client that reaches the server through the public address) fails.
Per such rule the plan has a network-admin step that points it at new servers,
then a scripted check of the SMTP greeting through the public address, and
``relay.disable-old.<server>.*`` and ``decommission.remove.<server>`` wait for both.

Where it points (one rule, :func:`nat_retargets`): a client the rule brings to
the 2010 server meets that server's relay connectors (a public client address can
sit in a relay range), so the new target must carry a successor of each of them
(the reach rule of ``relay_checks``: an entry point never sends clients to a
server without their connector). In order of preference: a port-``rule.port``
load balancer that keeps client addresses (no source NAT) whose whole pool
carries them; else the hybrid server among the carriers (inbound mail from
Exchange Online comes the same way); else a carrier in the 2010 server's site;
else any carrier. No carrier: an error (``relay.nat.no-target``), and no step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from migrator.iprange import IPRange
from migrator.model import (
    ExchangeVersion,
    Finding,
    Inventory,
    IPAddress,
    NatRule,
    Server,
    Severity,
)
from migrator.plan.relay import RelayPlan, load_balancer_pool
from migrator.plan.relay_steps import connector_key, probe_id, slug
from migrator.plan.steps import Action, Owner, Phase, RunsIn, Step

P = Phase.RELAY
ROLLBACK_RUNBOOK = f"runbooks/{P.number}-{P.value}/network-rollback.ps1"


@dataclass(frozen=True)
class NatRetarget:
    """One NAT rule that delivers to a 2010 server, and where the plan points it."""

    rule: NatRule
    """The rule."""
    old: Server
    """The 2010 server it delivers to today."""
    address: IPAddress
    """The new inside address: a load balancer's virtual address or a new server's own."""
    servers: tuple[Server, ...]
    """The new servers behind that address (each carries the old server's relay connectors)."""
    load_balancer: str = ""
    """The load balancer's name, where the address is one."""
    connectors: tuple[str, ...] = ()
    """The old server's relay connectors (identities) whose successors the new servers carry."""
    before: tuple[Server, ...] = ()
    """The servers it delivers to today where not only ``old`` (onward: the hop's servers behind it)."""
    current: IPAddress | None = None
    """Its inside address today where not the rule's own (onward: the first hop's target)."""

    @property
    def old_servers(self) -> tuple[Server, ...]:
        """The servers it delivers to today."""
        return self.before or (self.old,)

    @property
    def current_address(self) -> IPAddress:
        """Its inside address today."""
        return self.current if self.current is not None else self.rule.inside_address

    @property
    def target_text(self) -> str:
        """``load balancer 'LB' (10.1.1.50: EX16-01)`` or ``EX16-01 (10.1.1.20)``."""
        names = ", ".join(s.name for s in self.servers)
        if self.load_balancer:
            return f"load balancer '{self.load_balancer}' ({self.address}: {names})"
        return f"{names} ({self.address})"


def nat_step_id(rule: NatRule, phase: Phase = P) -> str:
    """``relay.nat.<rule>`` (``onward.nat.<rule>``): the network admin's change."""
    return f"{phase.value}.nat.{slug(rule.name)}"


def nat_verify_id(rule: NatRule, phase: Phase = P) -> str:
    """``relay.nat-verify.<rule>`` (``onward.nat-verify.<rule>``): the SMTP greeting through the public address."""
    return f"{phase.value}.nat-verify.{slug(rule.name)}"


def network_runbook(phase: Phase) -> str:
    """``runbooks/20-relay/network.ps1`` (``runbooks/70-onward/network.ps1``)."""
    return f"runbooks/{phase.number}-{phase.value}/network.ps1"


def _legacy_at(inventory: Inventory, address: IPAddress) -> Server | None:
    for s in inventory.legacy_servers:
        if s.version is ExchangeVersion.EX2010 and address in s.ip_addresses:
            return s
    return None


def _carriers(
    inventory: Inventory, plan: RelayPlan, old: Server, port: int
) -> tuple[list[str], list[Server]]:
    """The old server's relay connectors on ``port`` that the plan carries over, and the new servers that
    carry a successor of each."""
    needed = sorted(
        (
            cl.connector.identity
            for cl in plan.classifications
            if cl.migrate
            and cl.connector.server.lower() == old.name.lower()
            and any(b.port == port for b in cl.connector.bindings)
        ),
        key=str.lower,
    )
    carried: dict[str, set[str]] = {}
    for pc in plan.connectors:
        for source in (pc.source_identity, *pc.merged_from):
            carried.setdefault(pc.server.lower(), set()).add(source.lower())
    # A connector the plan carries nowhere (relay.ipv6.unreachable-on-2010, say) has no successor to find.
    anywhere = set().union(*carried.values()) if carried else set()
    needed = [n for n in needed if n.lower() in anywhere]
    hop = [
        s
        for s in inventory.target_servers
        if s.version in (ExchangeVersion.EX2013, ExchangeVersion.EX2016) and not s.is_edge
    ]
    carriers = [
        s for s in hop if all(n.lower() in carried.get(s.name.lower(), set()) for n in needed)
    ]
    return needed, sorted(carriers, key=lambda s: s.name.lower())


def nat_retargets(inventory: Inventory, plan: RelayPlan) -> tuple[list[NatRetarget], list[Finding]]:
    """Where each NAT rule that delivers to a 2010 server goes (module docstring), and the rules
    that cannot go anywhere safe (errors)."""
    out: list[NatRetarget] = []
    findings: list[Finding] = []
    for rule in sorted(inventory.nat_rules, key=lambda r: r.name.lower()):
        old = _legacy_at(inventory, rule.inside_address)
        if old is None:
            continue
        needed, carriers = _carriers(inventory, plan, old, rule.port)
        names = {s.name.lower() for s in carriers}
        family = rule.inside_address.version
        chosen: NatRetarget | None = None
        for lb in sorted(inventory.load_balancers, key=lambda b: b.name.lower()):
            pool = load_balancer_pool(inventory, lb)
            vips = [a for a in lb.virtual_addresses if a.version == family]
            if (
                lb.source_nat
                or rule.port not in lb.ports
                or not vips
                or not pool
                or any(s.name.lower() not in names for s in pool)
            ):
                continue
            chosen = NatRetarget(rule, old, vips[0], pool, lb.name, tuple(needed))
            break
        if chosen is None:
            ranked = sorted(
                (s for s in carriers if any(a.version == family for a in s.ip_addresses)),
                key=lambda s: (not s.hybrid, s.site.lower() != old.site.lower(), s.name.lower()),
            )
            if ranked:
                s = ranked[0]
                address = next(a for a in s.ip_addresses if a.version == family)
                chosen = NatRetarget(rule, old, address, (s,), "", tuple(needed))
        if chosen is None:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "relay.nat.no-target",
                    f"NAT rule '{rule.name}'",
                    f"NAT rule '{rule.name}' delivers port {rule.port} to {old.name}"
                    f" ({rule.inside_address}), an exchange 2010 server, and no new server with an"
                    f" IPv{family} address carries a successor of each of its relay connectors"
                    f" ({', '.join(needed) or 'none'}): the rule cannot be pointed anywhere without"
                    " sending clients to a server that lacks their connector",
                    "plan those connectors together on one new server (relay.targets or the"
                    " override's targets), or put the new servers behind a load balancer without"
                    " source NAT (load_balancers) and list the new servers' addresses in"
                    " servers[].ip",
                )
            )
            continue
        out.append(chosen)
    return out, findings


def nat_steps(inventory: Inventory, plan: RelayPlan, servers_ready: str) -> list[Step]:
    """Per NAT rule that delivers to a 2010 server: the change (manual, network admin) and, where the
    inventory gives the public address, the scripted check of the greeting through it."""
    retargets, _ = nat_retargets(inventory, plan)
    steps: list[Step] = []
    for rt in retargets:
        behind = {s.name.lower() for s in rt.servers}
        wanted = {c.lower() for c in rt.connectors}
        tests = sorted(
            probe_id(pc, P)
            for pc in plan.connectors
            if pc.server.lower() in behind
            and any(src.lower() in wanted for src in (pc.source_identity, *pc.merged_from))
        )
        steps.extend(retarget_steps(rt, P, (servers_ready, *tests)))
    return steps


def retarget_steps(
    rt: NatRetarget, phase: Phase, prerequisites: Sequence[str], change: bool = True
) -> list[Step]:
    """The steps of one retarget (the one builder, first hop and onward): the network admin's change
    (``<phase>.nat.<rule>``; ``change=False`` where the rule keeps its address and a load balancer's pool
    changes instead) and, where the inventory gives the public address, the scripted greeting check
    (``<phase>.nat-verify.<rule>``) after it, or after ``prerequisites`` without a change."""
    rule = rt.rule
    public = f"{rule.public_address}:{rule.port}" if rule.public_address else f"port {rule.port}"
    change_id = nat_step_id(rule, phase)
    olds = rt.old_servers
    old_names = ", ".join(s.name for s in olds)
    new_names = ", ".join(s.name for s in rt.servers)
    steps: list[Step] = []
    if change:
        verify = (
            f"{nat_verify_id(rule, phase)} talks SMTP to {public} from outside and reads the greeting"
            if rule.public_address
            else (
                f"the receive protocol log of {new_names} shows Internet senders; that of"
                f" {old_names} shows none any more"
            )
        )
        steps.append(
            Step(
                id=change_id,
                phase=phase,
                title=(
                    f"Point NAT rule {rule.name} ({public}) at {rt.target_text} instead of"
                    f" {old_names}"
                ),
                target=f"NAT rule {rule.name}",
                owner=Owner.NETWORK_ADMIN,
                runs_in=RunsIn.MANUAL,
                duration_minutes=30,
                verification=verify,
                rollback=f"point {rule.name} back at {rt.current_address} ({old_names})",
                instructions=(
                    f"On the firewall, change the inside address of {rule.name} from"
                    f" {rt.current_address} ({old_names}, Exchange {rt.old.version.value}) to"
                    f" {rt.target_text}, port {rule.port}"
                    + (
                        ", still without source NAT (relay connectors must see the senders' own"
                        " addresses)."
                        if not rule.source_nat
                        else "; it source-NATs today: deliver without source NAT if you can (an"
                        " address in a relay range would make the relay open to the Internet)."
                    )
                    + (
                        f" Each new server behind it carries the successors of {old_names}'s relay"
                        f" connectors ({', '.join(rt.connectors)}), so a client that reaches it this"
                        " way keeps its connector."
                        if rt.connectors
                        else ""
                    )
                    + " Keep TLS intact (no SMTP inspection that strips STARTTLS)."
                ),
                prerequisites=tuple(sorted(set(prerequisites))),
                runbook=network_runbook(phase),
            )
        )
    if rule.public_address is None:
        return steps
    steps.append(
        Step(
            id=nat_verify_id(rule, phase),
            phase=phase,
            title=f"SMTP greeting through {public} from outside the firewall (no message is sent)",
            target=f"NAT rule {rule.name}",
            owner=Owner.NETWORK_ADMIN,
            runs_in=RunsIn.OUTSIDE,
            duration_minutes=10,
            maintenance_window=False,
            verification=f"the greeting or EHLO reply names {new_names} and not {old_names}",
            rollback="nothing to undo (no message is sent)",
            instructions=(
                "Run this step from a host on the Internet (inside, the public address may not"
                " loop back through the rule). It reads the 220 greeting and the EHLO reply and"
                " quits. A customised banner or connector FQDN that names no server makes it"
                " stop: then check the new servers' receive protocol log for this host's session."
            ),
            action=Action(
                "relay.nat-verify",
                {
                    "rule": rule.name,
                    "address": str(rule.public_address),
                    "port": rule.port,
                    "expected": [s.fqdn or s.name for s in rt.servers],
                    "old": [s.fqdn or s.name for s in olds],
                },
            ),
            prerequisites=(change_id,) if change else tuple(sorted(set(prerequisites))),
            runbook=network_runbook(phase),
        )
    )
    return steps


def onward_retargets(
    inventory: Inventory, first: RelayPlan, onward: RelayPlan
) -> list[NatRetarget]:
    """Where each NAT rule the first hop retargeted goes in the onward phase (review 4, R5): from the
    hop's servers to the final-version servers that carry a successor of each relay connector the rule
    reaches. The same load balancer where its final-version pool (:func:`load_balancer_pool`) carries them
    all (the rule keeps its address; the pool changes), else the hybrid server among the carriers, else
    one of the hop server's site, else any; a rule no carrier can take is left to the onward relay check."""
    final = inventory.policy.final_version
    carried: dict[str, set[str]] = {}
    for pc in onward.connectors:
        for source in (pc.source_identity, *pc.merged_from):
            carried.setdefault(pc.server.lower(), set()).add(source.lower())
    candidates = [s for s in inventory.target_servers if s.version is final and not s.is_edge]
    out: list[NatRetarget] = []
    for rt in nat_retargets(inventory, first)[0]:
        behind = {s.name.lower() for s in rt.servers}
        wanted = {c.lower() for c in rt.connectors}
        needed = sorted(
            (
                pc.identity
                for pc in first.connectors
                if pc.server.lower() in behind
                and any(src.lower() in wanted for src in (pc.source_identity, *pc.merged_from))
            ),
            key=str.lower,
        )
        carriers = [
            s
            for s in candidates
            if all(n.lower() in carried.get(s.name.lower(), set()) for n in needed)
        ]
        names = {s.name.lower() for s in carriers}
        family = rt.address.version
        lb = next(
            (b for b in inventory.load_balancers if b.name.lower() == rt.load_balancer.lower()),
            None,
        )
        pool = load_balancer_pool(inventory, lb, frozenset({final})) if lb is not None else ()
        hop = rt.servers[0]
        if lb is not None and pool and all(s.name.lower() in names for s in pool):
            out.append(
                NatRetarget(
                    rt.rule, hop, rt.address, pool, lb.name, tuple(needed), rt.servers, rt.address
                )
            )
            continue
        ranked = sorted(
            (s for s in carriers if any(a.version == family for a in s.ip_addresses)),
            key=lambda s: (not s.hybrid, s.site.lower() != hop.site.lower(), s.name.lower()),
        )
        if ranked:
            s = ranked[0]
            address = next(a for a in s.ip_addresses if a.version == family)
            out.append(
                NatRetarget(rt.rule, hop, address, (s,), "", tuple(needed), rt.servers, rt.address)
            )
    return out


def nat_links(inventory: Inventory, plan: RelayPlan, steps: Sequence[Step]) -> dict[str, list[str]]:
    """``relay.disable-old.<2010 server>.*`` and ``decommission.remove.<2010 server>`` -> the last NAT
    step of every rule that delivers to that server; a rule's change -> the load balancer step that
    puts the new servers into its pool (only ids that exist)."""
    ids = {s.id for s in steps}
    last: dict[str, list[str]] = {}
    out: dict[str, list[str]] = {}
    for rt in nat_retargets(inventory, plan)[0]:
        done = nat_verify_id(rt.rule) if nat_verify_id(rt.rule) in ids else nat_step_id(rt.rule)
        if done in ids:
            last.setdefault(rt.old.name.lower(), []).append(done)
        if rt.load_balancer and nat_step_id(rt.rule) in ids:
            # the pool must hold the new servers before the rule sends anyone there
            out.setdefault(nat_step_id(rt.rule), []).extend(
                s.id
                for s in steps
                if s.id.startswith(f"{Phase.SERVERS.value}.load-balancer.")
                and s.target.lower() == rt.load_balancer.lower()
            )
    head = f"{P.value}.disable-old."
    for s in steps:
        for server, finished in last.items():
            if (
                s.id.startswith(head) and s.id[len(head) :].split(".", 1)[0].lower() == server
            ) or s.id.lower() == f"{Phase.DECOMMISSION.value}.remove.{server}":
                out.setdefault(s.id, []).extend(finished)
    return out


def nat_rollback_id(rule: NatRule) -> str:
    """``relay.rollback.nat.<rule>``: the network admin points the rule back at the 2010 server."""
    return f"{P.value}.rollback.nat.{slug(rule.name)}"


def nat_rollback_verify_id(rule: NatRule) -> str:
    """``relay.rollback.nat-verify.<rule>``: the SMTP greeting through the public address names the 2010 server."""
    return f"{P.value}.rollback.nat-verify.{slug(rule.name)}"


NOT_FROM_THE_INTERNET = tuple(
    IPRange.from_network(n)
    for n in (
        "10.0.0.0/8",  # RFC 1918
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",  # RFC 6598, carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",  # unique local
        "fe80::/10",
        "::1/128",
    )
)
"""Blocks no Internet sender comes from (a firewall does not route them in); documentation blocks such as
203.0.113.0/24 count as Internet addresses here, as they stand for public ones in examples."""


def reachable_through(rule: NatRule, ranges: Sequence[IPRange]) -> bool:
    """Whether a client in one of ``ranges`` can reach the server through the NAT rule: the range holds an
    Internet address (outside :data:`NOT_FROM_THE_INTERNET`), or, with source NAT, the rule's inside address
    (every Internet sender appears as it)."""
    for r in ranges:
        if rule.source_nat and r.contains_address(rule.inside_address):
            return True
        if not any(b.contains(r) for b in NOT_FROM_THE_INTERNET):
            return True
    return False


def with_nat_rollback(
    inventory: Inventory, plan: RelayPlan, rollback: Sequence[Step]
) -> list[Step]:
    """The relay rollback steps (:func:`migrator.plan.relay_steps.relay_rollback_steps`) plus, per NAT rule the
    plan retargets, its rollback: the rule back at the 2010 server (once the old connectors it delivers to are
    enabled again), then the greeting check; the rollback of the new servers behind the rule (their grants and
    connectors) waits for both (review 4, R2), so a client that reaches them through the rule is back first."""
    ids = {s.id for s in rollback}
    extra: dict[str, list[str]] = {}
    out: list[Step] = []
    for rt in nat_retargets(inventory, plan)[0]:
        rule = rt.rule
        public = (
            f"{rule.public_address}:{rule.port}" if rule.public_address else f"port {rule.port}"
        )
        enables = [
            s.id
            for s in rollback
            if s.id.startswith(f"{P.value}.rollback.enable-old.")
            and s.target.lower() in {c.lower() for c in rt.connectors}
        ]
        back = Step(
            id=nat_rollback_id(rule),
            phase=P,
            title=f"Point NAT rule {rule.name} ({public}) back at {rt.old.name} ({rule.inside_address})",
            target=f"NAT rule {rule.name}",
            owner=Owner.NETWORK_ADMIN,
            runs_in=RunsIn.MANUAL,
            duration_minutes=30,
            verification=(
                f"{nat_rollback_verify_id(rule)} reads the greeting through {public}"
                if rule.public_address
                else f"the receive protocol log of {rt.old.name} shows Internet senders again"
            ),
            rollback=f"run {nat_step_id(rule)} again",
            instructions=(
                f"On the firewall, change the inside address of {rule.name} from {rt.target_text}"
                f" back to {rule.inside_address} ({rt.old.name}), port {rule.port}, before any"
                f" relay connector of {', '.join(s.name for s in rt.servers)} loses its right or"
                " goes: a client that reaches them through the rule would be refused relay."
                f" Mind what else the rule carries: after the MX change and the hybrid"
                f" configuration it is also the path of all mail Exchange Online (and the"
                f" Internet) delivers to on-premises recipients, which then goes to {rt.old.name}"
                f" too. Roll it back only while {rt.old.name} still receives Internet mail (its"
                " Default receive connector enabled, its certificate valid for STARTTLS), and"
                " send a test message from Exchange Online afterwards; otherwise fix forward."
            ),
            prerequisites=tuple(enables),
            runbook=ROLLBACK_RUNBOOK,
        )
        out.append(back)
        done = back.id
        if rule.public_address is not None:
            verify = Step(
                id=nat_rollback_verify_id(rule),
                phase=P,
                title=f"SMTP greeting through {public} names {rt.old.name} again (no message is sent)",
                target=f"NAT rule {rule.name}",
                owner=Owner.NETWORK_ADMIN,
                runs_in=RunsIn.OUTSIDE,
                duration_minutes=10,
                maintenance_window=False,
                verification=(
                    f"the greeting or EHLO reply names {rt.old.name} and not"
                    f" {', '.join(s.name for s in rt.servers)}"
                ),
                rollback="nothing to undo (no message is sent)",
                instructions="Run this step from a host on the Internet; it reads the greeting and quits.",
                action=Action(
                    "relay.nat-verify",
                    {
                        "rule": rule.name,
                        "address": str(rule.public_address),
                        "port": rule.port,
                        "expected": [rt.old.fqdn or rt.old.name],
                        "old": [s.fqdn or s.name for s in rt.servers],
                    },
                ),
                prerequisites=(back.id,),
                runbook=ROLLBACK_RUNBOOK,
            )
            out.append(verify)
            done = verify.id
        behind = {s.name.lower() for s in rt.servers}
        # Only connectors whose clients can come through the rule wait for it (review 6, M4): rolling the
        # rule back also sends Exchange Online's and the Internet's mail to the old server.
        through = {
            connector_key(pc)
            for pc in (*plan.connectors, *plan.internal)
            if pc.server.lower() in behind and reachable_through(rule, pc.remote_ip_ranges)
        }
        for s in rollback:
            head = s.id.split(".", 3)
            if (
                len(head) == 4
                and head[:2] == [P.value, "rollback"]
                and head[2] in ("permission", "remove")
                and head[3] in through
            ):
                extra.setdefault(s.id, []).append(done)
    linked = [
        replace(s, prerequisites=(*s.prerequisites, *extra[s.id])) if s.id in extra else s
        for s in rollback
    ]
    return [*linked, *(s for s in out if s.id not in ids)]
