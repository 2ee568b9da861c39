"""Onward from Exchange 2016 to the final version (SE, or 2019) once the last 2010 server is gone."""

from __future__ import annotations

from dataclasses import replace

from migrator.model import ExchangeVersion, Inventory, Server
from migrator.plan.nat import onward_retargets, retarget_steps
from migrator.plan.phases._common import Estate, runbook, step_id
from migrator.plan.phases.decommission import VERIFY
from migrator.plan.phases.servers import load_balancer_step
from migrator.plan.relay import HOP_VERSIONS, RelayPlan, load_balancer_pool, plan_relay
from migrator.plan.relay_steps import probe_id, relay_steps
from migrator.plan.steps import Owner, Phase, RunsIn, Step

P = Phase.ONWARD


def successors(est: Estate, final: ExchangeVersion) -> list[tuple[str, Server | None]]:
    """(new server name, inventory server or None) for the final version.

    The inventory's target servers of the final version where it lists them,
    else one successor per 2016 server, named after it (``<name>-SE``).
    """
    listed = [s for s in est.final if s.version is final]
    if listed:
        return [(s.name, s) for s in listed]
    suffix = "SE" if final is ExchangeVersion.SE else final.value
    return [(f"{s.name}-{suffix}", None) for s in est.hop if not s.is_edge]


def onward_relay_steps(
    inv: Inventory, onward_relay: RelayPlan, install_ids: dict[str, str]
) -> list[Step]:
    """The relay steps that carry the 2016 connectors on to the listed final-version servers.

    The relay phase's steps with ``onward.relay.`` ids; each create step waits for
    the install of its server (``install_ids``: server name lower-case -> step id),
    which itself waits for the last 2010 server to be gone.
    """
    out = []
    for s in relay_steps(inv, onward_relay, Phase.ONWARD):
        if s.id.startswith("onward.relay.create."):
            server = s.target.split("\\", 1)[0].lower()
            install = install_ids.get(server)
            if install is None:
                raise ValueError(
                    f"onward relay step '{s.id}' names a server the plan does not install"
                )
            s = replace(s, prerequisites=(*s.prerequisites, install))
        out.append(s)
    return out


def onward_network_steps(
    inv: Inventory,
    onward_relay: RelayPlan,
    install_ids: dict[str, str],
    after: tuple[str, ...] = (),
) -> tuple[list[Step], dict[str, list[str]]]:
    """The inbound SMTP path from the hop's servers to the final version (review 4, R5), with the first
    hop's builders: per load balancer whose pool holds hop servers, ``onward.load-balancer.<lb>`` (add the
    final-version servers of its sites, then drain and remove the hop's); per NAT rule the first hop
    retargeted, ``onward.nat.<rule>`` where its address must change and ``onward.nat-verify.<rule>``
    (the greeting through the public address names a final-version server, not a 2016 one).

    Returns the steps and, per hop server (lower case), the steps that must be done before its relay
    connectors are disabled and it is removed. ``install_ids``: server name lower-case -> install step.
    ``after``: steps every one of them waits for besides (``onward.hybrid``: since the MX change Exchange
    Online's inbound mail comes through this path, so the old server leaves it only after the HCW made a
    new one the hybrid receive server; ER "Replacing a hybrid server", review 5 N1).
    """
    final = frozenset({inv.policy.final_version})
    probes: dict[str, list[str]] = {}
    for pc in onward_relay.connectors:
        probes.setdefault(pc.server.lower(), []).append(probe_id(pc, P))
    steps: list[Step] = []
    before: dict[str, list[str]] = {}
    lb_ids: dict[str, str] = {}
    for lb in sorted(inv.load_balancers, key=lambda b: b.name.lower()):
        old, new = load_balancer_pool(inv, lb, HOP_VERSIONS), load_balancer_pool(inv, lb, final)
        if not old or not new or any(s.name.lower() not in install_ids for s in new):
            continue
        # the new pool carries every relay connector its clients need before anyone is sent there
        ready = sorted(
            {install_ids[s.name.lower()] for s in new}
            | {p for s in new for p in probes.get(s.name.lower(), [])}
        )
        step = load_balancer_step(
            inv, lb.name, new, lb.source_nat, P, replaces=old, prerequisites=(*ready, *after)
        )
        steps.append(step)
        lb_ids[lb.name.lower()] = step.id
        for s in old:
            before.setdefault(s.name.lower(), []).append(step.id)
    first = plan_relay(inv) if inv.nat_rules else None
    for rt in onward_retargets(inv, first, onward_relay) if first is not None else []:
        same = bool(rt.load_balancer) and rt.address == rt.current_address
        if same and rt.load_balancer.lower() in lb_ids:
            ready = [lb_ids[rt.load_balancer.lower()]]
        else:
            ready = sorted(
                {install_ids[s.name.lower()] for s in rt.servers if s.name.lower() in install_ids}
                | {p for s in rt.servers for p in probes.get(s.name.lower(), [])}
                | (
                    {lb_ids[rt.load_balancer.lower()]}
                    if rt.load_balancer.lower() in lb_ids
                    else set()
                )
            )
        made = retarget_steps(rt, P, [*ready, *after], change=not same)
        steps.extend(made)
        if made:
            for s in rt.old_servers:
                before.setdefault(s.name.lower(), []).append(made[-1].id)
    return steps, before


def _after_path(step: Step, path_before: dict[str, list[str]]) -> Step:
    """``onward.relay.observe-wait.<2016 server>`` and ``onward.relay.disable-old.<2016 server>.*`` wait for
    the network steps that take the inbound path away from that server."""
    for head in ("onward.relay.observe-wait.", "onward.relay.disable-old."):
        if step.id.startswith(head):
            server = step.id[len(head) :].split(".", 1)[0].lower()
            return replace(step, prerequisites=(*step.prerequisites, *path_before.get(server, ())))
    return step


def onward_steps(
    inv: Inventory,
    est: Estate,
    hybrid_name: str,
    onward_relay: RelayPlan | None = None,
    tls_name: str = "",
) -> list[Step]:
    """Install the final version, carry relay/hybrid/send connectors over, remove 2016.

    Where the inventory lists servers of the final version, the relay connectors
    are carried by the steps of ``onward_relay`` (:func:`onward_relay_steps`);
    where it lists none, one manual step per 2016 server says how (suggested
    server names are placeholders, never a scripted step's target). ``hybrid_name``: the
    first hop's hybrid server ("" without hybrid); ``tls_name``: the hybrid mail name its
    transport certificate carries.
    """
    final = inv.policy.final_version
    if final not in (ExchangeVersion.SE, ExchangeVersion.EX2019) or not est.hop:
        return []
    label = final.label
    new = successors(est, final)
    if not new:
        return []
    names = [n for n, _ in new]
    hybrid_id = step_id(P, "hybrid") if hybrid_name else ""
    steps: list[Step] = []
    install_ids = []
    for name, server in new:
        sid = step_id(P, "install", name)
        install_ids.append(sid)
        note = (
            ""
            if server is not None
            else (
                f" ({name} is a suggested name: the inventory lists no {label} server; add them to "
                "inventory.yaml as target servers to plan with their real names)"
            )
        )
        steps.append(
            Step(
                id=sid,
                phase=P,
                title=f"install {label} on {name}{note}",
                target=name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.MANUAL,
                duration_minutes=240,
                instructions=(
                    f"{label} joins only once no Exchange 2010 server remains. Install it on Windows "
                    "Server 2019, 2022 or 2025 with the newest CU and update that still coexists with "
                    "2016 (field reports: SE CU2 blocks coexistence with 2016/2019, so use SE RTM/CU1 "
                    "for the hop), then the certificate and virtual directory URLs as for the 2016 "
                    "servers"
                    + (
                        f"; the load balancer pools take it only after {hybrid_id}, which configures "
                        "its Default Frontend for Exchange Online's mail."
                        if hybrid_id
                        else ", and the load balancer pools."
                    )
                ),
                verification=f"Get-ExchangeServer {name} shows version 15.2; Test-ServiceHealth passes",
                rollback=f"uninstall {label} from {name} before mail flows through it",
                prerequisites=(VERIFY,),
                runbook=runbook(P, name),
            )
        )
    relay_ids: list[str] = []
    by_2016: dict[str, list[str]] = {}
    listed = all(server is not None for _n, server in new)
    if listed:
        carried = onward_relay_steps(
            inv,
            onward_relay if onward_relay is not None else RelayPlan((), (), ()),
            {n.lower(): i for (n, _s), i in zip(new, install_ids, strict=True)},
        )
        network, path_before = onward_network_steps(
            inv,
            onward_relay if onward_relay is not None else RelayPlan((), (), ()),
            {n.lower(): i for (n, _s), i in zip(new, install_ids, strict=True)},
            (hybrid_id,) if hybrid_id else (),
        )
        # a 2016 server's relay connectors are observed and disabled only once no NAT/load-balancer path
        # leads there any more (clients reaching it that way would still use them)
        carried = [_after_path(s, path_before) for s in carried]
        steps += carried
        steps += network
        for s in carried:
            if s.id.startswith("onward.relay.remove-old."):
                old = s.target.split("\\", 1)[0].lower()
                by_2016.setdefault(old, []).append(s.id)
        for old, ids in path_before.items():
            by_2016.setdefault(old, []).extend(ids)
        # Removing a 2016 server waits for its own connectors' removal and for the repoint.
        relay_ids = sorted(s.id for s in carried if s.id.startswith("onward.relay.repoint."))
    for server in () if listed else est.hop_mailbox:
        sid = step_id(P, "relay-carry", server.name)
        relay_ids.append(sid)
        steps.append(
            Step(
                id=sid,
                phase=P,
                title=f"carry the relay connectors of {server.name} to {label} with the same mapping",
                target=server.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.MANUAL,
                duration_minutes=60,
                instructions=(
                    f"The inventory lists no {label} server, so {', '.join(names)} are placeholder "
                    f"names and nothing is scripted for them. Add the {label} servers to inventory.yaml "
                    "(version, lifecycle target, site, addresses) and plan again: the onward phase then "
                    f"carries the relay connectors of {server.name} with scripted steps (the same "
                    "connectors on Front End Transport, port 25, same RemoteIPRanges, method and "
                    "permissions, checked like the first hop), tests each client range, repoints the "
                    "SMTP alias and observes the old connectors before removing them."
                ),
                verification="every relay client range is accepted by the new servers (relay test runbook); the 2016 relay connectors log no traffic for the observation period",
                rollback="point the SMTP alias back at the 2016 servers",
                prerequisites=tuple(install_ids),
                runbook=runbook(P, "relay"),
            )
        )
    send = Step(
        id=step_id(P, "send-connectors"),
        phase=P,
        title=f"move the send connectors' source servers from 2016 to {label}",
        target="send connectors",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=30,
        instructions=(
            f"Add {', '.join(names)} to the source servers of every send connector (Internet, partner, "
            "hybrid), check outbound mail leaves through them (SPF/PTR for new addresses), then remove "
            "the 2016 servers."
        ),
        verification="Get-SendConnector shows only the new servers as SourceTransportServers; test mail to Internet and partners leaves",
        rollback="add the 2016 servers back to the source servers",
        prerequisites=tuple(install_ids),
        runbook=runbook(P, "send-connectors"),
    )
    steps.append(send)
    hybrid_ids: list[str] = []
    if hybrid_id:
        cert = f"CN/SAN {tls_name}, " if tls_name else ""
        hybrid = Step(
            id=hybrid_id,
            phase=P,
            title=f"move the hybrid role from {hybrid_name} to {names[0]}",
            target="hybrid configuration",
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=RunsIn.MANUAL,
            duration_minutes=90,
            instructions=(
                f"Repeat the hybrid server replacement for {names[0]} as "
                f"{step_id(Phase.HYBRID, 'configure', hybrid_name)} and "
                f"{step_id(Phase.HYBRID, 'hcw-rerun')} did for {hybrid_name}: enable the third-party "
                f"transport certificate ({cert}the renewed one the install put on it) for SMTP on "
                f"{names[0]} and set TlsCertificateName of 'Default Frontend {names[0]}' to "
                "<I>issuer<S>subject of that certificate, keeping the [::]:25 binding (HCW8010); do "
                "the same on every other new server a load balancer or NAT rule will send Internet "
                "mail to. Publish EWS/Autodiscover, dedicated hybrid application, add it to the hybrid "
                f"send connector, rerun the HCW with {names[0]} and {hybrid_name} for the receive "
                f"connector configuration ({hybrid_name} still takes Exchange Online's mail until the "
                "inbound path moves, after this step) and the certificate, check the Exchange Online "
                f"connectors, then remove {hybrid_name} from the hybrid send connector. The load "
                f"balancer and NAT steps of this phase move the inbound SMTP path to {names[0]} and "
                f"take {hybrid_name} out only after this step: configure, rerun the HCW, then take the "
                "old server out."
            ),
            verification=(
                f"the HCW completes; Get-ReceiveConnector 'Default Frontend {names[0]}' shows the "
                "TlsCertificateName and TlsDomainCapabilities mail.protection.outlook.com:"
                "AcceptCloudServicesMail; Exchange Online connectors name the certificate; mail "
                "flows both ways"
            ),
            rollback=(
                f"rerun the HCW with {hybrid_name}; once the inbound path moved (the load balancer "
                f"and NAT steps after this one), roll those back first so {hybrid_name} takes "
                "Exchange Online's mail again"
            ),
            prerequisites=(*install_ids, send.id),
            runbook=runbook(P, "hybrid"),
        )
        steps.append(hybrid)
        hybrid_ids.append(hybrid.id)
    for server in est.hop:
        steps.append(
            Step(
                id=step_id(P, "remove-2016", server.name),
                phase=P,
                title=f"remove Exchange 2016 from {server.name}",
                target=server.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.MANUAL,
                duration_minutes=120,
                reversible=False,
                instructions=(
                    f"Move every mailbox, arbitration mailbox and public folder mailbox off {server.name}, "
                    "remove its DAG membership and take it out of the load balancer and namespace; "
                    "then uninstall Exchange 2016 (a 2016 landing is a time-boxed hop, not a destination)."
                ),
                verification=f"Get-ExchangeServer no longer lists {server.name}",
                prerequisites=(
                    *relay_ids,
                    *by_2016.get(server.name.lower(), ()),
                    send.id,
                    *hybrid_ids,
                ),
                runbook=runbook(P, server.name),
            )
        )
    return steps
