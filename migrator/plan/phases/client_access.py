"""Client access coexistence 2010/2016: URLs, SCPs, Outlook Anywhere, OAB and the namespace cut-over.

Facts: ``MOVES-AND-CLIENT-ACCESS.md`` sections D, F and G. The steps:

- ``prepare.offline-address-book`` (2010 EMS): an explicit OAB on every 2010 database
  that has none, before any 2016 setup (rule F1: setup makes a new default OAB that
  databases without one would then use);
- ``servers.autodiscover-scp.<2016>`` right after the install and
  ``servers.virtual-directories.<2016>`` after the certificate: every URL, Outlook
  Anywhere and MAPI on the shared namespace, the current values exported first (the
  rollback runbook sets them back from that file);
- ``servers.outlook-anywhere.<2010 CAS>`` (2010 EMS): Outlook Anywhere on, NTLM in
  IISAuthenticationMethods, the shared external host name (2016 proxies 2010 users over it);
- ``servers.outlook-clients``: the Outlook client minimum, checked by a person;
- ``servers.namespace`` (DNS, manual) then ``servers.namespace-verify``: waits for DNS
  to answer with the 2016 addresses, then probes OWA and Autodiscover for a 2010 and a
  2016 mailbox.

:func:`client_access_links` adds the ordering rules F1, F3, F4, F5 and F7 as edges.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from migrator.checks.certificates import certificate_need
from migrator.client_access import Namespace, VdirKind, namespace_of
from migrator.model import Finding, Inventory, Server, ServerRole, Severity
from migrator.plan.phases._common import Estate, by_name, runbook, step_id
from migrator.plan.relay import load_balancer_pool
from migrator.plan.steps import Action, MigrationPlan, Owner, Phase, RunsIn, Step

P = Phase.SERVERS
PREP = Phase.PREPARE

OAB_STEP = step_id(PREP, "offline-address-book")
NAMESPACE = step_id(P, "namespace")
NAMESPACE_VERIFY = step_id(P, "namespace-verify")
OUTLOOK_CLIENTS = step_id(P, "outlook-clients")
LEGACY_OA_RUNBOOK = runbook(P, "outlook-anywhere-2010")

_URL_KINDS = (
    VdirKind.OWA,
    VdirKind.ECP,
    VdirKind.EWS,
    VdirKind.ACTIVESYNC,
    VdirKind.OAB,
    VdirKind.MAPI,
)
"""Directories of a 2016 server that get the shared URLs (Autodiscover gets none: its SCP instead)."""


def legacy_cas(est: Estate) -> list[Server]:
    """The 2010 Client Access servers (every 2010 server whose roles are not known)."""
    return [
        s
        for s in est.legacy_2010
        if not s.is_edge and (not s.roles or ServerRole.CLIENT_ACCESS in s.roles)
    ]


def export_file(server: str, what: str) -> str:
    """File name (next to the runbook) of the values a step exports before it changes them."""
    return f"{server}-{what}-before.xml"


def _url_rows(ns: Namespace) -> list[dict[str, str]]:
    rows = [
        {"Kind": k.value, "InternalUrl": ns.url(k), "ExternalUrl": ns.url(k)} for k in _URL_KINDS
    ]
    # NTLM for Outlook Anywhere clients while 2010 remains (2016 proxies 2010 users over it;
    # Negotiate only once no older server is left): MOVES-AND-CLIENT-ACCESS D, G.
    rows.append(
        {
            "Kind": "OutlookAnywhere",
            "InternalUrl": ns.mail,
            "ExternalUrl": ns.mail,
            "Auth": "Ntlm",
            "InternalAuth": "Ntlm",
        }
    )
    return rows


def _oab(inv: Inventory, est: Estate) -> Step | None:
    legacy = {s.name.lower() for s in est.legacy_2010}
    dbs = [d for d in inv.mailbox_databases if d.server.lower() in legacy]
    blank = sorted((d.name for d in dbs if d.offline_address_book == ""), key=str.lower)
    if not blank or not est.hop:
        return None
    used = sorted({d.offline_address_book for d in dbs if d.offline_address_book})
    oab = used[0] if len(used) == 1 else ""
    which = f"'{oab}' (the OAB the other 2010 databases use)" if oab else "the current default OAB"
    return Step(
        id=OAB_STEP,
        phase=PREP,
        title=f"assign an offline address book to {len(blank)} 2010 database(s) that have none",
        target="2010 mailbox databases",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_2010,
        duration_minutes=15,
        maintenance_window=False,
        instructions=(
            f"Databases {', '.join(blank)} have no OfflineAddressBook: their users get the "
            "organisation's default OAB, and Exchange 2016 setup makes a new default OAB that "
            f"they would then download in full. The step assigns {which} to each of them "
            "before the first 2016 server is installed; databases that already have one are "
            "left alone."
        ),
        verification="Get-MailboxDatabase shows the OAB on each database (read back by the step)",
        rollback="runbooks/00-prepare/offline-address-book-rollback.ps1 clears it again",
        action=Action(
            "prepare.offline-address-book",
            {"databases": blank, "offline_address_book": oab, "clear": False},
        ),
        runbook=runbook(PREP, "offline-address-book"),
    )


def _scp(server: Server, ns: Namespace) -> Step:
    return Step(
        id=step_id(P, "autodiscover-scp", server.name),
        phase=P,
        title=f"point the Autodiscover SCP of {server.name} at {ns.autodiscover}",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=10,
        maintenance_window=False,
        instructions=(
            "Setup publishes an SCP with the server's own name, which domain-joined Outlook "
            "finds at once and then meets the self-signed certificate: run this right after "
            f"the install. The current value is exported to {export_file(server.name, 'scp')} "
            "next to this runbook before the change."
        ),
        verification="Get-ClientAccessService shows the new AutoDiscoverServiceInternalUri (read back)",
        rollback=f"{runbook(P, server.name + '-rollback')} sets it back from the exported file",
        action=Action(
            "servers.client-access-urls",
            {
                "server": server.name,
                "urls": [
                    {"Kind": "Autodiscover", "InternalUrl": ns.autodiscover_uri, "ExternalUrl": ""}
                ],
                "export": export_file(server.name, "scp"),
            },
        ),
        prerequisites=(step_id(P, "install", server.name),),
        runbook=runbook(P, server.name),
    )


def _urls(server: Server, ns: Namespace) -> Step:
    return Step(
        id=step_id(P, "virtual-directories", server.name),
        phase=P,
        title=f"set the virtual directory URLs of {server.name} to {ns.mail}",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=30,
        instructions=(
            f"InternalUrl and ExternalUrl of OWA, ECP, EWS, ActiveSync, OAB and MAPI, and the "
            f"Outlook Anywhere host names, to {ns.mail} (the name the 2010 Client Access servers "
            "publish; OWA and ECP internal URLs match; the Autodiscover directory gets none). "
            "MAPI over HTTP is on by default when 2016 joins: its URLs must be right before any "
            "mailbox reaches 2016. The current values are exported to "
            f"{export_file(server.name, 'urls')} next to this runbook before any change."
        ),
        verification="each URL and host name read back with -ADPropertiesOnly equals the planned one",
        rollback=f"{runbook(P, server.name + '-rollback')} sets every value back from the exported file",
        action=Action(
            "servers.client-access-urls",
            {
                "server": server.name,
                "urls": _url_rows(ns),
                "export": export_file(server.name, "urls"),
            },
        ),
        prerequisites=(
            step_id(P, "certificate", server.name),
            step_id(P, "autodiscover-scp", server.name),
        ),
        runbook=runbook(P, server.name),
    )


def _legacy_oa(inv: Inventory, server: Server, ns: Namespace) -> Step:
    oa = next((o for o in inv.outlook_anywhere if o.server.lower() == server.name.lower()), None)
    # keep what IIS accepts today and add NTLM (2016 proxies with it); Exchange spells it NTLM
    kept = {m for m in (oa.iis_authentication if oa else ("Basic",)) if m.lower() != "ntlm"}
    iis = sorted({*kept, "NTLM"}, key=str.lower)
    # 2010 accepts Basic or Ntlm for the clients; keep today's where it is one of them
    current = (oa.client_authentication if oa else "").capitalize()
    auth = current if current in {"Basic", "Ntlm"} else "Basic"
    state = (
        f"enabled today with external host name {oa.external_hostname or '(none)'}, IIS "
        f"authentication {', '.join(oa.iis_authentication) or '(none)'}"
        if oa
        else "not enabled today (the inventory has no Outlook Anywhere row for it)"
    )
    return Step(
        id=step_id(P, "outlook-anywhere", server.name),
        phase=P,
        title=f"Outlook Anywhere on {server.name}: NTLM for IIS, external host name {ns.mail}",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_2010,
        duration_minutes=20,
        instructions=(
            f"Exchange 2016 proxies the Outlook connections of 2010 mailboxes to {server.name} "
            f"over Outlook Anywhere with NTLM: it must be on, with NTLM in IISAuthenticationMethods "
            f"and {ns.mail} as external host name, before the namespace moves. It is {state}. "
            f"The current values are exported to {export_file(server.name, 'outlook-anywhere')} "
            "first. Windows 2008 R2 servers may need KB3140410 against password prompts (field "
            "report, not verified)."
        ),
        verification="Get-OutlookAnywhere -ADPropertiesOnly shows the host name and methods (read back)",
        rollback=(
            f"{runbook(P, 'outlook-anywhere-2010-rollback')} sets the exported values back"
            + ("" if oa else "; Outlook Anywhere was off: Disable-OutlookAnywhere by hand")
        ),
        action=Action(
            "servers.outlook-anywhere-2010",
            {
                "server": server.name,
                "external_hostname": ns.mail,
                "client_authentication": auth,
                "iis_authentication": iis,
                "export": export_file(server.name, "outlook-anywhere"),
            },
        ),
        runbook=LEGACY_OA_RUNBOOK,
    )


def _outlook_clients() -> Step:
    return Step(
        id=OUTLOOK_CLIENTS,
        phase=P,
        title="check that every Outlook client meets the Exchange 2016 minimum",
        target="Outlook clients",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.MANUAL,
        duration_minutes=60,
        maintenance_window=False,
        instructions=(
            "Exchange 2016 supports no Outlook 2007; Outlook 2010 needs SP2 with the latest "
            "updates (MAPI over HTTP: KB2956191 and KB2965295). From the software inventory (or "
            "the 2010 RPC Client Access logs) list the Outlook builds in use and update or replace "
            "the older ones before the namespace moves: after it they connect through 2016."
        ),
        verification="no Outlook 2007 and no Outlook 2010 below SP2 with KB2956191/KB2965295 is left",
        rollback="nothing to undo (a check)",
        runbook=runbook(P, "namespace"),
    )


def expected_addresses(inv: Inventory, servers: Sequence[Server]) -> list[str]:
    """Addresses the namespace should resolve to: HTTPS load balancers of these servers, else the servers."""
    names = {s.name.lower() for s in servers}
    vips = [
        str(a)
        for lb in inv.load_balancers
        if 443 in lb.ports and any(s.name.lower() in names for s in load_balancer_pool(inv, lb))
        for a in lb.virtual_addresses
    ]
    if vips:
        return sorted(set(vips))
    return sorted({str(a) for s in servers for a in s.ip_addresses})


_EXTERNAL_PUBLISHING = (
    "Never put these internal addresses into public DNS: from the Internet the names keep "
    "their public records (the mail host may also be an MX host until the MX steps); instead "
    "point the firewall or reverse-proxy rule that publishes HTTPS (TCP 443) for them at the "
    "same servers or their load balancer, and leave the SMTP (port 25) rules to the relay and "
    "MX steps."
)


def _namespace(inv: Inventory, ns: Namespace, new: list[Server], old: list[Server]) -> Step:
    now = ", ".join(expected_addresses(inv, old)) or "the 2010 Client Access servers"
    then = ", ".join(expected_addresses(inv, new)) or "the 2016 servers"
    return Step(
        id=NAMESPACE,
        phase=P,
        title=f"point {ns.mail} and {ns.autodiscover} at the Exchange 2016 servers",
        target="client namespace",
        owner=Owner.DNS_ADMIN,
        runs_in=RunsIn.DNS_CONSOLE,
        duration_minutes=30,
        instructions=(
            f"In the internal DNS zone, change the records (or the internal load balancer rule) "
            f"of {ns.mail} and {ns.autodiscover} from {now} to {then} "
            f"({', '.join(s.name for s in new)}). {_EXTERNAL_PUBLISHING} Lower the internal "
            "TTL one TTL ahead. The next step waits for internal DNS and probes OWA and "
            "Autodiscover; probe them from outside by hand."
        ),
        verification=f"{NAMESPACE_VERIFY} (scripted)",
        rollback=f"{runbook(P, 'namespace-rollback')}: point the records back at {now} and verify",
        prerequisites=(
            *(
                step_id(P, what, s.name)
                for s in new
                for what in ("certificate", "virtual-directories")
            ),
            *(step_id(P, "outlook-anywhere", s.name) for s in old),
            OUTLOOK_CLIENTS,
            step_id(P, "readiness"),
        ),
        runbook=runbook(P, "namespace"),
    )


_PROBE_PARAMETERS = [
    {
        "name": "Mailbox2010",
        "type": "string",
        "default": "",
        "help": "SMTP address of a test mailbox still on 2010 (Autodiscover and OWA probes)",
    },
    {
        "name": "Mailbox2016",
        "type": "string",
        "default": "",
        "help": "SMTP address of a test mailbox on 2016 (Autodiscover and OWA probes)",
    },
    {
        "name": "WaitMinutes",
        "type": "int",
        "default": 60,
        "help": "how long to wait for DNS to answer with the expected addresses",
    },
]


def _verify(ns: Namespace, expected: list[str], step: str, runbook_path: str, prereq: str) -> Step:
    return Step(
        id=step,
        phase=P,
        title=f"wait for DNS and probe {ns.mail} and {ns.autodiscover}",
        target="client namespace",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=60,  # the DNS wait (-WaitMinutes) and the probes
        instructions=(
            f"Waits (up to -WaitMinutes) until {ns.mail} and {ns.autodiscover} resolve to "
            f"{', '.join(expected) or 'the expected addresses'} only, then fetches OWA and posts an "
            "Autodiscover request for -Mailbox2010 and -Mailbox2016 (it asks for credentials); a "
            "certificate error or a failed answer stops it. Run it on a domain member that uses "
            "the internal DNS; check the external records (the public address the firewall "
            "publishes) by hand."
        ),
        verification="every name answers with the expected addresses; OWA and Autodiscover answer for both mailboxes",
        rollback="nothing to undo (reads only)",
        action=Action(
            "servers.namespace-verify",
            {
                "names": [ns.mail, ns.autodiscover],
                "expected": expected,
                "owa_url": ns.url(VdirKind.OWA),
                "autodiscover_url": f"https://{ns.autodiscover}/Autodiscover/Autodiscover.xml",
                "runbook_parameters": _PROBE_PARAMETERS,
            },
        ),
        prerequisites=(prereq,),
        runbook=runbook_path,
    )


def _manual_urls(server: Server) -> Step:
    """Without the 2010 URLs in the inventory the step stays a manual one."""
    return Step(
        id=step_id(P, "virtual-directories", server.name),
        phase=P,
        title=f"set the virtual directory URLs of {server.name} to the shared namespace",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=30,
        instructions=(
            "The inventory has no virtual directory export of the 2010 servers (see "
            "docs/collect.md), so the shared namespace is not known: set InternalUrl/ExternalUrl "
            "of OWA, ECP, EWS, OAB, ActiveSync, MAPI and the Outlook Anywhere host names, and "
            "AutoDiscoverServiceInternalUri, to the names the 2010 Client Access servers use today."
        ),
        verification="Get-*VirtualDirectory -Server shows the shared namespace URLs",
        rollback="set the URLs back to the values recorded before the change",
        prerequisites=(step_id(P, "certificate", server.name),),
        runbook=runbook(P, server.name),
    )


def _manual_namespace(servers: list[Server]) -> Step:
    return Step(
        id=NAMESPACE,
        phase=P,
        title="point the client namespace (Autodiscover, mail) at the Exchange 2016 servers",
        target="client namespace",
        owner=Owner.DNS_ADMIN,
        runs_in=RunsIn.DNS_CONSOLE,
        duration_minutes=30,
        wait_minutes=60,
        instructions=(
            "In the internal DNS zone, point the records (or the internal load balancer rule) of "
            "the client namespace at the Exchange 2016 servers: "
            + ", ".join(s.name for s in servers)
            + f". {_EXTERNAL_PUBLISHING} Lower the internal TTL one TTL ahead."
        ),
        verification="Resolve-DnsName for the namespace names returns the 2016 servers or their load balancer; OWA and Autodiscover work for a 2010 and a 2016 mailbox",
        rollback="point the namespace records back at the 2010 Client Access servers",
        prerequisites=(
            *(step_id(P, "virtual-directories", s.name) for s in servers),
            OUTLOOK_CLIENTS,
            step_id(P, "readiness"),
        ),
        runbook=runbook(P, "namespace"),
    )


def server_client_access_steps(inv: Inventory, server: Server) -> list[Step]:
    """The client access steps of one new Mailbox server (its runbook, after the install)."""
    ns = namespace_of(inv)
    if ns is None:
        return [_manual_urls(server)]
    return [_scp(server, ns), _urls(server, ns)]


def client_access_steps(inv: Inventory, est: Estate) -> list[Step]:
    """The organisation-wide client access steps: OAB, 2010 Outlook Anywhere, clients, namespace."""
    new = list(est.hop_mailbox)
    if not new:
        return []
    ns = namespace_of(inv)
    steps: list[Step] = []
    oab = _oab(inv, est)
    if oab is not None:
        steps.append(oab)
    steps.append(_outlook_clients())
    if ns is None:
        steps.append(_manual_namespace(new))
        return steps
    old = by_name(legacy_cas(est))
    steps.extend(_legacy_oa(inv, s, ns) for s in old)
    steps.append(_namespace(inv, ns, new, old))
    steps.append(
        _verify(
            ns, expected_addresses(inv, new), NAMESPACE_VERIFY, runbook(P, "namespace"), NAMESPACE
        )
    )
    return steps


def client_access_rollback_steps(inv: Inventory, est: Estate) -> list[Step]:
    """Rollback runbooks: URLs and SCPs from the exported files, 2010 Outlook Anywhere, OAB, DNS."""
    ns = namespace_of(inv)
    if ns is None or not est.hop_mailbox:
        return []
    out: list[Step] = []
    oab = _oab(inv, est)
    if oab is not None and oab.action is not None:
        out.append(
            Step(
                id=step_id(PREP, "rollback", "offline-address-book"),
                phase=PREP,
                title="clear the offline address book the plan assigned to 2010 databases",
                target="2010 mailbox databases",
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_2010,
                duration_minutes=10,
                reversible=False,
                verification="OfflineAddressBook is empty again on each database (read back)",
                action=Action(oab.action.kind, {**oab.action.params, "clear": True}),
                runbook=runbook(PREP, "offline-address-book-rollback"),
            )
        )
    for server in est.hop_mailbox:
        for what, label in (("urls", "virtual directory URLs"), ("scp", "Autodiscover SCP")):
            out.append(
                Step(
                    id=step_id(P, "rollback", server.name, what),
                    phase=P,
                    title=f"set the {label} of {server.name} back to the exported values",
                    target=server.name,
                    owner=Owner.EXCHANGE_ADMIN,
                    runs_in=RunsIn.EMS_NEW,
                    duration_minutes=15,
                    reversible=False,
                    verification="each value read back equals the exported one",
                    action=Action(
                        "servers.client-access-restore",
                        {"server": server.name, "export": export_file(server.name, what)},
                    ),
                    runbook=runbook(P, server.name + "-rollback"),
                )
            )
    for server in by_name(legacy_cas(est)):
        out.append(
            Step(
                id=step_id(P, "rollback", server.name, "outlook-anywhere"),
                phase=P,
                title=f"set Outlook Anywhere of {server.name} back to the exported values",
                target=server.name,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_2010,
                duration_minutes=15,
                reversible=False,
                verification="the values read back equal the exported ones",
                action=Action(
                    "servers.outlook-anywhere-2010-restore",
                    {"server": server.name, "export": export_file(server.name, "outlook-anywhere")},
                ),
                runbook=runbook(P, "outlook-anywhere-2010-rollback"),
            )
        )
    old = by_name(legacy_cas(est))
    back = Step(
        id=step_id(P, "rollback", "namespace"),
        phase=P,
        title=f"point {ns.mail} and {ns.autodiscover} back at the 2010 Client Access servers",
        target="client namespace",
        owner=Owner.DNS_ADMIN,
        runs_in=RunsIn.DNS_CONSOLE,
        duration_minutes=30,
        reversible=False,
        instructions=(
            f"Set the internal DNS records (or internal load balancer rule) of {ns.mail} and "
            f"{ns.autodiscover} back to "
            f"{', '.join(expected_addresses(inv, old)) or 'the 2010 Client Access servers'}, and "
            "the firewall or reverse-proxy rule that publishes HTTPS (TCP 443) for them back at "
            "the 2010 Client Access servers; the next step waits for DNS and probes again."
        ),
        runbook=runbook(P, "namespace-rollback"),
    )
    out.append(back)
    out.append(
        _verify(
            ns,
            expected_addresses(inv, old),
            step_id(P, "rollback", "namespace-verify"),
            runbook(P, "namespace-rollback"),
            back.id,
        )
    )
    return out


def client_access_links(inv: Inventory, steps: Sequence[Step]) -> dict[str, list[str]]:
    """Ordering rules of section F as edges: step id -> prerequisites (only ids that exist).

    F1 OAB before every 2016 install; F3 (URLs, SCP, certificate before the namespace)
    is built into the namespace step; F4 (Outlook Anywhere on every 2010 CAS) likewise;
    F5 the namespace verified before every on-premises mailbox wave (the pilot too: its
    users are real users, and 2010 cannot serve a 2016 mailbox); F7 the URLs (MAPI) and
    certificates of every 2016 server before any mailbox reaches 2016, arbitration first.
    """
    ids = {s.id for s in steps}
    est_new = [s.target for s in steps if s.id.startswith(step_id(P, "virtual-directories") + ".")]
    out: dict[str, list[str]] = {}

    def add(step: str, *pre: str) -> None:
        if step in ids:
            out.setdefault(step, []).extend(p for p in pre if p in ids and p != step)

    for s in steps:
        if s.id.startswith(step_id(P, "install") + "."):
            add(s.id, OAB_STEP)
        first_2016 = s.id == step_id(Phase.MOVES, "arbitration") or (
            s.id.startswith(step_id(Phase.MOVES, "copy") + ".")
            and s.runs_in is not RunsIn.EXCHANGE_ONLINE
        )
        if first_2016:
            add(
                s.id,
                *(
                    step_id(P, what, n)
                    for n in est_new
                    for what in ("certificate", "virtual-directories")
                ),
            )
            if s.id != step_id(Phase.MOVES, "arbitration"):
                add(s.id, NAMESPACE_VERIFY if NAMESPACE_VERIFY in ids else NAMESPACE)
    return out


def certificate_expiry_findings(inv: Inventory, plan: MigrationPlan) -> list[Finding]:
    """A warning per certificate the plan puts behind the namespace that expires while steps remain.

    The certificate of each new server (:func:`certificate_need`) is checked against
    the schedule: every step that starts on or after its NotAfter day runs with an
    expired IIS/SMTP certificate unless it is renewed first (review finding M10).
    """
    users: dict[str, list[str]] = {}
    for server in sorted(inv.target_servers, key=lambda s: s.name.lower()):
        if server.is_edge:
            continue
        need = certificate_need(inv, server)
        if need.thumbprint:
            users.setdefault(need.thumbprint, []).append(server.name)
    out: list[Finding] = []
    for thumb, servers in sorted(users.items()):
        cert = next((c for c in inv.certificates if c.thumbprint == thumb and c.not_after), None)
        if cert is None or cert.not_after is None:
            continue
        expiry = dt.datetime.combine(cert.not_after, dt.time())
        late = sorted(
            (plan.schedule[s.id].start, s.id)
            for s in plan.steps
            if s.id in plan.schedule and plan.schedule[s.id].start >= expiry
        )
        if not late:
            continue
        shown = ", ".join(sid for _, sid in late[:5]) + (", ..." if len(late) > 5 else "")
        day = cert.not_after.isoformat()
        out.append(
            Finding(
                Severity.WARNING,
                "servers.certificate-expires-mid-plan",
                str(cert.source) if cert.source else f"certificate {thumb}",
                f"certificate {thumb} ({cert.subject}), which the plan uses on "
                f"{', '.join(servers)}, expires on {day} while {len(late)} steps are scheduled "
                f"on or after that day: {shown}",
                fix=f"renew it with the same names before {day}, import the new one on every "
                "server behind the namespace and enable it for IIS and SMTP "
                "(Enable-ExchangeCertificate -Services IIS,SMTP -Force), then export the "
                "certificates again and plan",
            )
        )
    return out


__all__ = [
    "NAMESPACE",
    "NAMESPACE_VERIFY",
    "OAB_STEP",
    "certificate_expiry_findings",
    "client_access_links",
    "client_access_rollback_steps",
    "client_access_steps",
    "expected_addresses",
    "server_client_access_steps",
]
