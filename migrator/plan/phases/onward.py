"""Onward from Exchange 2016 to the final version (SE, or 2019) once the last 2010 server is gone."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from migrator.client_access import namespace_of
from migrator.mailboxes import MailboxDatabase, MailboxKind, MovesPolicy
from migrator.model import ExchangeVersion, Inventory, Server
from migrator.plan.moves_steps import arbitration_move_steps
from migrator.plan.nat import onward_retargets, retarget_steps
from migrator.plan.phases._common import Estate, runbook, step_id
from migrator.plan.phases.client_access import (
    namespace_steps,
    server_client_access_steps,
    server_rollback_steps,
)
from migrator.plan.phases.decommission import VERIFY
from migrator.plan.phases.servers import certificate_step, load_balancer_step
from migrator.plan.relay import HOP_VERSIONS, RelayPlan, load_balancer_pool, plan_relay
from migrator.plan.relay_steps import probe_id, relay_steps
from migrator.plan.steps import READS_ONLY, Action, Owner, Phase, RunsIn, Step

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
    se_servers = [server for _n, server in new if server is not None]
    client, client_ready = (
        client_access_onward(inv, se_servers, hybrid_name) if listed else ([], [])
    )
    steps += client
    namespace = (
        namespace_steps(inv, se_servers, list(est.hop_mailbox), P, (*install_ids, *client_ready))
        if listed
        else []
    )
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
        # a load balancer sends clients (HTTPS too) to the new servers only once their certificate
        # and URLs are read back (MCA D, F3; review 6, B2), and the namespace moves after it
        network = [
            replace(s, prerequisites=(*s.prerequisites, *client_ready))
            if s.id.startswith(step_id(P, "load-balancer") + ".")
            else s
            for s in network
        ]
        if namespace:
            lbs = [s.id for s in network if s.id.startswith(step_id(P, "load-balancer") + ".")]
            namespace[0] = replace(namespace[0], prerequisites=(*namespace[0].prerequisites, *lbs))
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
    steps += namespace
    hybrid_ids: list[str] = []
    mrsproxy: list[str] = []
    if hybrid_id:
        proxy = Step(
            id=step_id(P, "mrsproxy"),
            phase=P,
            title=f"enable MRSProxy on {', '.join(names)} and point the migration endpoint at them",
            target="MRSProxy",
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=RunsIn.MANUAL,
            duration_minutes=60,
            maintenance_window=False,
            instructions=(
                "Moves to and from Exchange Online (onboarding, offboarding) go through MRSProxy on the "
                "hybrid endpoint's servers (MCA C); once 2016 is gone it must run on "
                f"{label}: on each of {', '.join(names)}, Set-WebServicesVirtualDirectory "
                "'<server>\\EWS (Default Web Site)' -MRSProxyEnabled $true and read it back "
                "(Get-WebServicesVirtualDirectory -ADPropertiesOnly). Where the endpoint's "
                "RemoteServer name moves with the namespace nothing else changes; otherwise "
                "Set-MigrationEndpoint -RemoteServer in Exchange Online PowerShell. Then "
                "Test-MigrationServerAvailability -ExchangeRemoteMove -RemoteServer <hybrid fqdn> "
                "-Credentials $c."
            ),
            verification=f"MRSProxyEnabled True on every EWS directory of {', '.join(names)}; Test-MigrationServerAvailability returns Success",
            rollback="Set-WebServicesVirtualDirectory -MRSProxyEnabled $false on the new servers",
            prerequisites=(*install_ids, *client_ready),
            runbook=runbook(P, "hybrid"),
        )
        steps.append(proxy)
        mrsproxy.append(proxy.id)
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
            prerequisites=(*install_ids, send.id, *mrsproxy),
            runbook=runbook(P, "hybrid"),
        )
        steps.append(hybrid)
        hybrid_ids.append(hybrid.id)
    verified = [s.id for s in namespace if s.id == step_id(P, "namespace-verify")]
    moved, gone = mailbox_steps(
        inv, est, names, install_ids, client_ready, verified[0] if verified else ""
    )
    steps += moved
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
                    f"Only after {step_id(P, 'mailboxes-gone', server.name)} found no mailbox of any "
                    f"type on it, the namespace and load balancers send no client to it and {label} "
                    "serves every protocol: remove its database copies and its DAG membership "
                    "(Remove-DatabaseAvailabilityGroupServer), then its empty databases, then "
                    "uninstall Exchange 2016 (a 2016 landing is a time-boxed hop, not a destination). "
                    "One 2016 server a night, the next after a business day in production."
                ),
                verification=f"Get-ExchangeServer no longer lists {server.name}",
                prerequisites=(
                    *relay_ids,
                    *by_2016.get(server.name.lower(), ()),
                    send.id,
                    *hybrid_ids,
                    *mrsproxy,
                    *verified,
                    *((gone[server.name.lower()],) if server.name.lower() in gone else ()),
                ),
                runbook=runbook(P, server.name),
            )
        )
    return steps


def _databases(inv: Inventory, servers: Sequence[str]) -> list[MailboxDatabase]:
    names = {n.lower() for n in servers}
    return sorted(
        (d for d in inv.mailbox_databases if d.server.lower() in names),
        key=lambda d: d.name.lower(),
    )


def client_access_onward(
    inv: Inventory, new: Sequence[Server], hybrid_name: str
) -> tuple[list[Step], list[str]]:
    """Per final-version server, the first hop's builders in the onward phase: ``onward.certificate.<s>``
    (IIS and SMTP, read back), ``onward.autodiscover-scp.<s>`` and ``onward.virtual-directories.<s>``
    (URLs on the shared namespace, exported first, read back). Returns the steps and the ids a client
    may be sent to the server after (certificate and URLs: MCA D, F3, F7)."""
    steps: list[Step] = []
    ready: list[str] = []
    for i, server in enumerate(new):
        cert = certificate_step(inv, server, bool(hybrid_name) and i == 0, P)
        urls = server_client_access_steps(inv, server, P)
        steps += [cert, *urls]
        ready += [
            cert.id,
            *(s.id for s in urls if s.id.startswith(step_id(P, "virtual-directories"))),
        ]
    return steps, ready


def mailbox_steps(
    inv: Inventory,
    est: Estate,
    names: Sequence[str],
    install_ids: Sequence[str],
    client_ready: Sequence[str],
    namespace_ready: str,
) -> tuple[list[Step], dict[str, str]]:
    """Every mailbox off the 2016 servers before they go (ER SE; MCA F13, E, G): the target databases,
    arbitration (``-Database <2016 database>``, the Migration mailbox first), the OAB generation
    mailbox, user mailboxes, public folder mailboxes, then per 2016 server ``onward.mailboxes-gone.<s>``
    (reads only). Returns the steps and, per 2016 server (lower case), its read-only check."""
    label = inv.policy.final_version.label
    hop = [s.name for s in est.hop_mailbox]
    source = _databases(inv, hop)
    target = _databases(inv, names)
    steps: list[Step] = []
    sources = [d.name for d in source]
    src_text = ", ".join(sources) or f"the databases of {', '.join(hop)}"
    rb = runbook(P, "mailboxes")
    ready = (*install_ids, *client_ready)
    if target:
        tgt = target[0].name
        tgt_text = ", ".join(d.name for d in target)
        base: tuple[str, ...] = ready
    else:
        tgt = ""
        tgt_text = f"the {label} databases"
        dbs = Step(
            id=step_id(P, "databases"),
            phase=P,
            title=f"create the mailbox databases on {', '.join(names)} and add them to the inventory",
            target=", ".join(names),
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=RunsIn.MANUAL,
            duration_minutes=240,
            maintenance_window=False,
            instructions=(
                f"The inventory lists no mailbox database on {', '.join(names)}, so migrator names "
                "none and scripts no move. Create the databases (and the DAG with its copies) on "
                f"the {label} servers for what {src_text} hold today, with log volumes sized for "
                "the moves (logs ~ data moved, times the copies), export MailboxDatabases.csv again "
                "(docs/collect.md) and plan again: the arbitration move is then scripted to them. "
                "Until then the move steps below name the databases as <target database>."
            ),
            verification=f"Get-MailboxDatabase -Server <each {label} server> lists them, mounted, with their copies healthy",
            rollback="remove the empty databases",
            prerequisites=ready,
            runbook=rb,
        )
        steps.append(dbs)
        base = (*ready, dbs.id)
    migration = next((m.alias for m in inv.mailboxes if m.is_migration_mailbox), "")
    if target and source:
        arb, arb_done = arbitration_move_steps(
            phase=P,
            ids=(step_id(P, "arbitration"), step_id(P, "arbitration-verify")),
            titles=(
                f"move the arbitration mailboxes of the 2016 databases to {tgt}, the Migration mailbox first",
                f"verify the arbitration mailboxes are on {label}",
            ),
            instructions=(
                f"Moves every arbitration mailbox of {src_text} with Get-Mailbox -Arbitration "
                f"-Database <2016 database> | New-MoveRequest -TargetDatabase {tgt} (without "
                f"-Database the shell also returns the arbitration mailboxes {label} setup created), "
                "the Migration mailbox first, the OAB generation mailbox with them. Before any other "
                "mailbox: left on 2016 they stall moves and batches."
            ),
            versions=("2016", label),
            then="the next step",
            sources=sources,
            target=tgt,
            batch="onward-arbitration",
            first=migration,
            prerequisites=base,
            runbook=rb,
        )
        steps += [arb, arb_done]
    else:
        arb_done = Step(
            id=step_id(P, "arbitration"),
            phase=P,
            title=f"move the arbitration mailboxes of the 2016 databases to {label}, the Migration mailbox first",
            target="arbitration mailboxes",
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=RunsIn.MANUAL,
            duration_minutes=60,
            maintenance_window=False,
            instructions=(
                f"For each 2016 database ({src_text}): Get-Mailbox -Arbitration -Database <2016 "
                "database> | New-MoveRequest -TargetDatabase <target database> -BatchName "
                f"onward-arbitration (never without -Database: it also returns the ones {label} "
                "setup created), the Migration mailbox"
                + (f" ({migration})" if migration else "")
                + " first; wait until Get-MoveRequest -BatchName onward-arbitration shows every "
                "request Completed."
            ),
            verification="Get-Mailbox -Arbitration -Database <each 2016 database> returns nothing",
            rollback="move them back with New-MoveRequest -TargetDatabase <2016 database>",
            prerequisites=base,
            runbook=rb,
        )
        steps.append(arb_done)
    oab = Step(
        id=step_id(P, "oab-generation"),
        phase=P,
        title=f"check the offline address book is generated on {label}",
        target="offline address book",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=30,
        maintenance_window=False,
        instructions=(
            "The OAB is generated by the arbitration mailbox with the OABGen capability, which the "
            "arbitration step moved: Get-Mailbox -Arbitration | Where-Object { "
            "$_.PersistedCapabilities -contains 'OrganizationCapabilityOABGen' } must show a "
            f"{label} database; run Update-OfflineAddressBook for each OAB and check that "
            "Get-OfflineAddressBook shows a new LastTouchedTime and that Outlook on a moved mailbox "
            "downloads it (through the OAB URL the virtual directory step set)."
        ),
        verification="the OABGen arbitration mailbox is on a final-version database; the OAB's LastTouchedTime is after the move",
        rollback="move the OABGen arbitration mailbox back to a 2016 database",
        prerequisites=(arb_done.id,),
        runbook=rb,
    )
    steps.append(oab)
    # Review 8, M2: once the final version's databases exist, no new mailbox lands on 2016 (which the
    # no-mailbox check before each removal would then find).
    exclude = Step(
        id=step_id(P, "exclude-provisioning"),
        phase=P,
        title="exclude the 2016 databases from mailbox provisioning",
        target="2016 databases",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=10,
        maintenance_window=False,
        instructions=(
            f"New mailboxes (new hires, users moved back from Exchange Online) go to the {label} "
            f"databases only: Set-MailboxDatabase -IsExcludedFromProvisioning $true on {src_text}, "
            "read back. Existing mailboxes are not touched."
        ),
        verification="Get-MailboxDatabase shows IsExcludedFromProvisioning True on each 2016 database",
        rollback="Set-MailboxDatabase -IsExcludedFromProvisioning $false on each of them",
        action=Action("onward.exclude-provisioning", {"databases": sources, "excluded": True}),
        prerequisites=(arb_done.id,),
        runbook=rb,
    )
    if sources:
        steps.append(exclude)
    policy = inv.moves or MovesPolicy()
    users = [m for m in inv.mailboxes if m.kind is not MailboxKind.ARBITRATION]
    gb = sum(m.total_bytes for m in users) / 1024**3
    hours = gb / policy.throughput_gb_per_hour if policy.throughput_gb_per_hour else 0.0
    copy = Step(
        id=step_id(P, "moves"),
        phase=P,
        title=f"copy the mailboxes of the 2016 databases to {tgt_text} (about {len(users)} mailboxes, {gb:.1f} GB)",
        target="user mailboxes",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=max(60, math.ceil(hours * 60)),
        maintenance_window=False,
        instructions=(
            f"Local moves, as the first hop's waves: per 2016 database ({src_text}), Get-Mailbox "
            "-Database <2016 database> -ResultSize Unlimited | New-MoveRequest -TargetDatabase "
            f"<{label} database> -BatchName onward-<2016 database> -BadItemLimit "
            f"{policy.bad_item_limit} -CompleteAfter <the next step's window, UTC> (archives move "
            "with their primary), in batches whose logs the target log volumes hold (logs ~ data "
            "moved, times the copies; a full backup between batches truncates them). The size is "
            f"the inventory's mailboxes (those Exchange Online waves took are counted too) at "
            f"{policy.throughput_gb_per_hour:g} GB/h. {label} proxies to 2016 and back, so moved "
            "and unmoved users keep working while the copies run."
        ),
        verification="Get-MoveRequestStatistics -BatchName onward-* shows every request AutoSuspended or Synced, none Failed",
        rollback="Remove-MoveRequest before completion leaves every mailbox on 2016",
        prerequisites=(arb_done.id, *((namespace_ready,) if namespace_ready else ())),
        runbook=rb,
    )
    complete = Step(
        id=step_id(P, "moves-complete"),
        phase=P,
        title=f"complete the moves to {label} (Outlook restarts once per user)",
        target="user mailboxes",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=120,
        instructions=(
            "In the window the copies' -CompleteAfter names: Get-MoveRequest -BatchName onward-* "
            "shows Completed for every request (Resume-MoveRequest where one is AutoSuspended), then "
            "Remove-MoveRequest for the completed ones."
        ),
        verification="Get-Mailbox -Database <each 2016 database> returns no user, shared, room, equipment or discovery mailbox",
        rollback="New-MoveRequest -TargetDatabase <2016 database> moves a user back (2016 still serves until its removal)",
        prerequisites=(copy.id,),
        runbook=rb,
    )
    steps += [copy, complete]
    done = [complete.id, oab.id, *((exclude.id,) if sources else ())]
    if inv.public_folder_databases:
        pf = Step(
            id=step_id(P, "public-folders-move"),
            phase=P,
            title=f"move the public folder mailboxes to {tgt_text}, the primary hierarchy mailbox first",
            target="public folder mailboxes",
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=RunsIn.MANUAL,
            duration_minutes=120,
            instructions=(
                "Public folder mailboxes move like any other (MCA E): Get-Mailbox -PublicFolder "
                "-Database <2016 database> | New-MoveRequest -TargetDatabase "
                f"<{label} database> -BatchName onward-public-folders, the primary hierarchy mailbox "
                "(Get-OrganizationConfig RootPublicFolderMailbox) first, completed in the window: "
                "folders are briefly unavailable while each completes."
            ),
            verification="Get-Mailbox -PublicFolder -Database <each 2016 database> returns nothing; Get-PublicFolder \\ -Recurse works from a moved mailbox",
            rollback="New-MoveRequest -TargetDatabase <2016 database> moves one back",
            prerequisites=(arb_done.id,),
            runbook=rb,
        )
        steps.append(pf)
        done.append(pf.id)
    gone: dict[str, str] = {}
    for server in est.hop_mailbox:
        check = Step(
            id=step_id(P, "mailboxes-gone", server.name),
            phase=P,
            title=f"check no mailbox of any type is left on {server.name}",
            target=server.name,
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=RunsIn.EMS_NEW,
            duration_minutes=15,
            maintenance_window=False,
            instructions=(
                f"Reads, for every database with a copy on {server.name}, the user, shared, room, "
                "equipment, discovery, arbitration, public folder and audit log mailboxes "
                "(Get-Mailbox -Database, -Arbitration, -PublicFolder, -AuditLog, -AuxAuditLog) and "
                "the archives there (Get-Mailbox -Archive), and stops while any is left. Monitoring "
                "mailboxes are listed, not counted (Setup removes them; not verified)."
            ),
            verification=f"nothing is left on the databases of {server.name} (checked by the step)",
            rollback=READS_ONLY,
            action=Action("onward.mailboxes-gone", {"server": server.name}),
            prerequisites=tuple(done),
            runbook=rb,
        )
        steps.append(check)
        gone[server.name.lower()] = check.id
    return steps, gone


def onward_rollback_steps(inv: Inventory, est: Estate) -> list[Step]:
    """The rollback runbooks of the final-version servers' URLs and SCPs (the first hop's builder)."""
    final = inv.policy.final_version
    if final not in (ExchangeVersion.SE, ExchangeVersion.EX2019) or namespace_of(inv) is None:
        return []
    new = successors(est, final)
    if not new or any(server is None for _n, server in new):
        return []
    return [r for _n, server in new if server is not None for r in server_rollback_steps(server, P)]
