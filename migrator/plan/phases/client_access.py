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

from collections.abc import Sequence

from migrator.client_access import ClientAccessArray, Namespace, VdirKind, namespace_of
from migrator.model import Inventory, Server, ServerRole
from migrator.plan.phases._common import Estate, by_name, runbook, step_id
from migrator.plan.public_folder_hybrid import MODERN as PF_HYBRID_MODERN
from migrator.plan.public_folder_steps import step_id as pf_step_id
from migrator.plan.relay import load_balancer_pool
from migrator.plan.steps import Action, Owner, Phase, RunsIn, Step

P = Phase.SERVERS
PREP = Phase.PREPARE
PF_GO_LIVE = "public-folders.local"
"""Public folders served from 2016 (``PublicFoldersEnabled Local``), where the plan migrates any."""

OAB_STEP = step_id(PREP, "offline-address-book")
NAMESPACE = step_id(P, "namespace")
NAMESPACE_VERIFY = step_id(P, "namespace-verify")
OUTLOOK_CLIENTS = step_id(P, "outlook-clients")
LEGACY_OA_RUNBOOK = runbook(P, "outlook-anywhere-2010")
NAMESPACE_GUARD = step_id(P, "rollback", "namespace-guard")

NAMESPACE_SETTLE_MINUTES = 24 * 60
"""After the namespace is verified, a business day of production traffic on it (2010 users proxied
through 2016) before any mailbox move starts, so a client-access fault shows before a wave adds one."""
OA_APPLY_MINUTES = 15
"""2010 writes Outlook Anywhere to AD; the Service Host applies it to IIS about 15 minutes later."""

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


def _scp(server: Server, ns: Namespace, phase: Phase = P) -> Step:
    return Step(
        id=step_id(phase, "autodiscover-scp", server.name),
        phase=phase,
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
        rollback=f"{runbook(phase, server.name + '-rollback')} sets it back from the exported file",
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
        prerequisites=(step_id(phase, "install", server.name),),
        runbook=runbook(phase, server.name),
    )


def _urls(server: Server, ns: Namespace, phase: Phase = P) -> Step:
    older, newer = ("2010 Client Access", "2016") if phase is P else ("Exchange 2016", server.name)
    return Step(
        id=step_id(phase, "virtual-directories", server.name),
        phase=phase,
        title=f"set the virtual directory URLs of {server.name} to {ns.mail}",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=30,
        instructions=(
            f"InternalUrl and ExternalUrl of OWA, ECP, EWS, ActiveSync, OAB and MAPI, and the "
            f"Outlook Anywhere host names, to {ns.mail} (the name the {older} servers "
            "publish; OWA and ECP internal URLs match; the Autodiscover directory gets none). "
            f"MAPI over HTTP is on by default when {newer} joins: its URLs must be right before any "
            f"mailbox reaches {newer}. The current values are exported to "
            f"{export_file(server.name, 'urls')} next to this runbook before any change."
        ),
        verification="each URL and host name read back with -ADPropertiesOnly equals the planned one",
        rollback=f"{runbook(phase, server.name + '-rollback')} sets every value back from the exported file",
        action=Action(
            "servers.client-access-urls",
            {
                "server": server.name,
                "urls": _url_rows(ns),
                "export": export_file(server.name, "urls"),
            },
        ),
        prerequisites=(
            step_id(phase, "certificate", server.name),
            step_id(phase, "autodiscover-scp", server.name),
        ),
        runbook=runbook(phase, server.name),
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
        verification=(
            "Get-OutlookAnywhere -ADPropertiesOnly shows the host name and methods (read back); "
            f"{step_id(P, 'outlook-anywhere-verify', server.name)} probes IIS once the Service "
            "Host has applied it"
        ),
        rollback=(
            f"{runbook(P, 'outlook-anywhere-2010-rollback')} sets the exported values back"
            + ("" if oa else "; Outlook Anywhere was off: Disable-OutlookAnywhere by hand")
        ),
        wait_minutes=OA_APPLY_MINUTES,
        prerequisites=() if oa else (step_id(P, "rpc-over-http", server.name),),
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


def _rpc_feature(server: Server) -> Step:
    """Before Outlook Anywhere is enabled on a 2010 server: the RPC over HTTP Proxy feature is there."""
    dll = rpc_proxy_path(server)
    return Step(
        id=step_id(P, "rpc-over-http", server.name),
        phase=P,
        title=f"check that the RPC over HTTP Proxy feature is installed on {server.name}",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_2010,
        duration_minutes=15,
        maintenance_window=False,
        instructions=(
            "Enable-OutlookAnywhere only writes Active Directory: IIS serves /rpc only where the "
            "Windows feature RPC over HTTP Proxy is installed, else the AD read-back passes and "
            f"every 2010 user of {server.name} breaks when the namespace moves. Get-WindowsFeature "
            "is not in the cmdlet reference migrator checks against, so the step checks read-only "
            f"for the feature's file {dll}; where it is missing, install the feature by hand on "
            f"{server.name} (PowerShell 2.0: Import-Module ServerManager; Add-WindowsFeature "
            "RPC-over-HTTP-proxy) and run the step again."
        ),
        verification=f"{dll} exists (checked by the step)",
        rollback="nothing to undo (reads only); a feature installed by hand may stay",
        action=Action("servers.rpc-proxy-feature", {"server": server.name, "path": dll}),
        runbook=LEGACY_OA_RUNBOOK,
    )


def rpc_proxy_path(server: Server) -> str:
    """UNC path of the RPC over HTTP Proxy DLL on a 2010 server (the feature installs it; inference)."""
    return f"\\\\{server.fqdn or server.name}\\ADMIN$\\System32\\RpcProxy\\RpcProxy.dll"


def _oa_verify(server: Server, legacy: Step) -> Step:
    """After the Service Host applied Outlook Anywhere to IIS: read back from IIS and probe /rpc."""
    assert legacy.action is not None
    url = f"https://{server.fqdn or server.name}/rpc/rpcproxy.dll"
    params = {k: v for k, v in legacy.action.params.items() if k != "export"}
    return Step(
        id=step_id(P, "outlook-anywhere-verify", server.name),
        phase=P,
        title=f"probe Outlook Anywhere on {server.name} ({url}: 401 with NTLM)",
        target=server.name,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_2010,
        duration_minutes=10,
        maintenance_window=False,
        instructions=(
            f"{OA_APPLY_MINUTES} minutes after the change the Service Host has applied it to IIS: "
            "reads Outlook Anywhere back without -ADPropertiesOnly (external host name, client and "
            f"IIS authentication) and requests {url} without credentials: it must answer 401 and "
            "offer NTLM (a 404 means /rpc is missing: the RPC over HTTP Proxy feature or the "
            "Service Host; a certificate error stops it too)."
        ),
        verification="the values read back equal the planned ones; HTTP 401 with NTLM offered",
        rollback="nothing to undo (reads only)",
        action=Action("servers.outlook-anywhere-probe", {**params, "url": url}),
        prerequisites=(legacy.id,),
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


def _namespace(
    inv: Inventory,
    ns: Namespace,
    new: list[Server],
    old: list[Server],
    phase: Phase = P,
    prerequisites: Sequence[str] | None = None,
) -> Step:
    """Point the namespace at ``new`` (DNS, manual); ``prerequisites`` default to the first hop's (F3, F4)."""
    first = phase is P
    now = ", ".join(expected_addresses(inv, old)) or (
        "the 2010 Client Access servers" if first else "the Exchange 2016 servers"
    )
    label = "Exchange 2016" if first else inv.policy.final_version.label
    then = ", ".join(expected_addresses(inv, new)) or f"the {label} servers"
    return Step(
        id=step_id(phase, "namespace"),
        phase=phase,
        title=f"point {ns.mail} and {ns.autodiscover} at the {label} servers",
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
        verification=f"{step_id(phase, 'namespace-verify')} (scripted)",
        rollback=f"{runbook(phase, 'namespace-rollback')}: point the records back at {now} and verify"
        if first
        else f"point the records back at {now} (2016 still serves every mailbox until its removal) and verify",
        prerequisites=tuple(prerequisites)
        if prerequisites is not None
        else (
            *(
                step_id(P, what, s.name)
                for s in new
                for what in ("certificate", "virtual-directories")
            ),
            *(step_id(P, "outlook-anywhere-verify", s.name) for s in old),
            OUTLOOK_CLIENTS,
            step_id(P, "readiness"),
        ),
        runbook=runbook(phase, "namespace"),
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
        "help": "SMTP address of a test mailbox on 2016 (Autodiscover and OWA probes; the rollback guard does not count it)",
    },
    {
        "name": "WaitMinutes",
        "type": "int",
        "default": 60,
        "help": "how long to wait for DNS to answer with the expected addresses",
    },
]


def _verify(
    ns: Namespace,
    expected: list[str],
    step: str,
    runbook_path: str,
    prereq: str,
    settle: int = 0,
    back: bool = False,
    phase: Phase = P,
    mailboxes: Sequence[tuple[str, str]] = (),
) -> Step:
    """The DNS wait and probes; ``back``: after the rollback, the 2010 test mailbox alone.

    ``mailboxes``: (runbook parameter, what it holds) of each test mailbox where not the first
    hop's ``-Mailbox2010`` and ``-Mailbox2016``.
    """
    if mailboxes:
        said = " and ".join(f"-{name}" for name, _ in mailboxes)
        parameters = [
            *(
                {"name": name, "type": "string", "default": "", "help": text}
                for name, text in mailboxes
            ),
            _PROBE_PARAMETERS[-1],
        ]
        extra: dict[str, object] = {"mailboxes": [name for name, _ in mailboxes]}
    else:
        said = "-Mailbox2010" if back else "-Mailbox2010 and -Mailbox2016"
        parameters, extra = _PROBE_PARAMETERS, {}
    return Step(
        id=step,
        phase=phase,
        title=f"wait for DNS and probe {ns.mail} and {ns.autodiscover}",
        target="client namespace",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=60,  # the DNS wait (-WaitMinutes) and the probes
        wait_minutes=settle,
        instructions=(
            f"Waits (up to -WaitMinutes) until {ns.mail} and {ns.autodiscover} resolve to "
            f"{', '.join(expected) or 'the expected addresses'} only, then fetches OWA (200, or 302 "
            "to /owa/auth/), posts an anonymous Autodiscover request (401) and one for "
            f"{said} (it asks for credentials; 200 with Outlook settings); a certificate "
            "error or any other answer stops it. Run it on a domain member that uses the internal "
            "DNS; check the external records (the public address the firewall publishes) by hand."
            + (
                f" Then {settle // 60} hours of production on the new namespace before any mailbox "
                "move starts, so a client-access fault shows before a wave adds one."
                if settle
                else ""
            )
        ),
        verification="every name answers with the expected addresses; OWA and Autodiscover answer for "
        + (
            "the 2010 mailbox"
            if back
            else "both mailboxes"
            if not mailboxes
            else "each test mailbox"
        ),
        rollback="nothing to undo (reads only)",
        action=Action(
            "servers.namespace-verify",
            {
                "names": [ns.mail, ns.autodiscover],
                "expected": expected,
                "owa_url": ns.url(VdirKind.OWA),
                "autodiscover_url": f"https://{ns.autodiscover}/Autodiscover/Autodiscover.xml",
                "runbook_parameters": parameters,
                "back": back,
                **extra,
            },
        ),
        prerequisites=(prereq,),
        runbook=runbook_path,
    )


def _manual_urls(server: Server, phase: Phase = P) -> Step:
    """Without the 2010 URLs in the inventory the step stays a manual one."""
    return Step(
        id=step_id(phase, "virtual-directories", server.name),
        phase=phase,
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
        prerequisites=(step_id(phase, "certificate", server.name),),
        runbook=runbook(phase, server.name),
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


def _retire_array_names(inv: Inventory, old: list[Server]) -> list[Step]:
    """Per 2010 CAS array: its RPC/TCP name leaves DNS once no RPC client is left, before 2010 goes."""
    out: list[Step] = []
    for array in sorted(inv.client_access_arrays, key=lambda a: a.name.lower()):
        members = array_members(array, old)
        now = ", ".join(expected_addresses(inv, members)) or "the array's current addresses"
        # Review 3, F9: no database (a PFProxy-* one included) may still send Outlook to the name.
        out.append(
            Step(
                id=step_id(Phase.DECOMMISSION, "cas-array-unused", array.name),
                phase=Phase.DECOMMISSION,
                title=f"check no mailbox database still names {array.fqdn} as its RpcClientAccessServer",
                target=array.fqdn,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_NEW,
                duration_minutes=10,
                instructions=(
                    "Reads every mailbox database of the organisation, the 2010 ones and the "
                    "public folder proxy mailboxes' PFProxy-* databases included (Get-MailboxDatabase "
                    f"-IncludePreExchange2013), and stops while one has RpcClientAccessServer {array.fqdn}: "
                    "Outlook would still be sent to the name the next step removes."
                ),
                verification=f"no database has RpcClientAccessServer {array.fqdn} (read back by the step)",
                rollback="nothing to undo: reads only",
                action=Action("decommission.cas-array-unused", {"fqdn": array.fqdn}),
                runbook=runbook(Phase.DECOMMISSION, "dns"),
            )
        )
        out.append(
            Step(
                id=step_id(Phase.DECOMMISSION, "cas-array-name", array.name),
                phase=Phase.DECOMMISSION,
                title=f"retire the RPC/TCP name {array.fqdn} of CAS array {array.name} from DNS",
                target=array.fqdn,
                owner=Owner.DNS_ADMIN,
                runs_in=RunsIn.DNS_CONSOLE,
                duration_minutes=30,
                instructions=(
                    f"Outlook profiles of 2010 mailboxes connect over RPC/TCP to {array.fqdn} (the "
                    "databases' RpcClientAccessServer); 2016 has no RPC/TCP. Once every mailbox has "
                    "left 2010 and the client-access evidence of "
                    f"{', '.join(s.name for s in members) or 'the 2010 Client Access servers'} (its "
                    "RPC Client Access logs) shows no client left, note the record's current "
                    f"addresses ({now}) for the rollback, then remove the A (and AAAA) record of "
                    f"{array.fqdn} from the internal zone (DNS console, or Remove-DnsServerResourceRecord "
                    "on the DNS server). Do not repoint it at 2016 or at an HTTP name: an Outlook "
                    "that still tries RPC/TCP must fail fast and fall back to Autodiscover. Exchange "
                    "2010 is removed only after this."
                ),
                verification=f"Resolve-DnsName {array.fqdn} finds no record; no client logs an RPC/TCP connection to it",
                rollback=f"create the A record of {array.fqdn} again with the addresses noted ({now})",
                prerequisites=(out[-1].id,),
                runbook=runbook(Phase.DECOMMISSION, "dns"),
            )
        )
    return out


def array_members(array: ClientAccessArray, old: Sequence[Server]) -> list[Server]:
    """The 2010 Client Access servers of an array's AD site (all of them when the site is not known)."""
    same = [s for s in old if array.site and s.site.lower() == array.site.lower()]
    return same or list(old)


def server_client_access_steps(inv: Inventory, server: Server, phase: Phase = P) -> list[Step]:
    """The client access steps of one new Mailbox server (its runbook, after the install): the
    first hop's 2016 servers, and in the onward phase the final version's (``phase``)."""
    ns = namespace_of(inv)
    if ns is None:
        return [_manual_urls(server, phase)]
    return [_scp(server, ns, phase), _urls(server, ns, phase)]


def namespace_steps(
    inv: Inventory, new: list[Server], old: list[Server], phase: Phase, prerequisites: Sequence[str]
) -> list[Step]:
    """The namespace move of a later hop (``phase``; the onward phase): ``<phase>.namespace`` (DNS,
    after ``prerequisites``) and ``<phase>.namespace-verify`` (DNS wait and probes of a mailbox on
    the old and one on the new servers, then a business day of production before any mailbox
    moves). None where the inventory does not know the namespace."""
    ns = namespace_of(inv)
    if ns is None:
        return []
    label = inv.policy.final_version.label
    move = _namespace(inv, ns, new, old, phase, prerequisites)
    probe = _verify(
        ns,
        expected_addresses(inv, new),
        step_id(phase, "namespace-verify"),
        runbook(phase, "namespace"),
        move.id,
        NAMESPACE_SETTLE_MINUTES,
        phase=phase,
        mailboxes=(
            (
                "Mailbox2016",
                "SMTP address of a test mailbox still on 2016 (Autodiscover and OWA probes)",
            ),
            (
                "MailboxNew",
                f"SMTP address of a test mailbox on {label} (Autodiscover and OWA probes)",
            ),
        ),
    )
    return [move, probe]


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
    enabled = {o.server.lower() for o in inv.outlook_anywhere}
    for s in old:
        if s.name.lower() not in enabled:
            steps.append(_rpc_feature(s))
        legacy = _legacy_oa(inv, s, ns)
        steps += [legacy, _oa_verify(s, legacy)]
    steps.append(_namespace(inv, ns, new, old))
    steps.append(
        _verify(
            ns,
            expected_addresses(inv, new),
            NAMESPACE_VERIFY,
            runbook(P, "namespace"),
            NAMESPACE,
            NAMESPACE_SETTLE_MINUTES,
        )
    )
    steps += _retire_array_names(inv, old)
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
        out += server_rollback_steps(server)
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
    hop = [s.name for s in est.hop_mailbox]
    guard = Step(
        id=NAMESPACE_GUARD,
        phase=P,
        title=f"refuse the namespace rollback while production mailboxes are on {', '.join(hop)}",
        target="client namespace",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=10,
        reversible=False,
        instructions=(
            "2010 Client Access cannot serve a 2016 mailbox: once a user, shared, room or equipment "
            f"mailbox is on {', '.join(hop)}, pointing the namespace back at 2010 cuts those users "
            "off. The step reads the mailboxes from Exchange (not from the plan) and stops if any "
            "is there. Then do not roll back: fix forward on 2016 (namespace-verify names what "
            "fails), or first move those mailboxes back to 2010 (the waves' rollback), then run "
            "this runbook again."
        ),
        verification="Get-Mailbox -Server returns no production mailbox on the 2016 servers (checked by the step)",
        action=Action("servers.namespace-guard", {"servers": hop}),
        runbook=runbook(P, "namespace-rollback"),
    )
    out.append(guard)
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
        prerequisites=(guard.id,),
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
            back=True,
        )
    )
    return out


def server_rollback_steps(server: Server, phase: Phase = P) -> list[Step]:
    """The rollback runbook of one new server's URLs and SCP (``<server>-rollback``): set back from
    the files :func:`server_client_access_steps` exported (the onward phase's servers by ``phase``)."""
    return [
        Step(
            id=step_id(phase, "rollback", server.name, what),
            phase=phase,
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
            runbook=runbook(phase, server.name + "-rollback"),
        )
        for what, label in (("urls", "virtual directory URLs"), ("scp", "Autodiscover SCP"))
    ]


def client_access_links(inv: Inventory, steps: Sequence[Step]) -> dict[str, list[str]]:
    """Ordering rules of section F as edges: step id -> prerequisites (only ids that exist).

    F1 OAB before every 2016 install; F3 (URLs, SCP, certificate before the namespace)
    is built into the namespace step; F4 (Outlook Anywhere on every 2010 CAS) likewise;
    F5 the namespace verified before every on-premises mailbox wave (the pilot too: its
    users are real users, and 2010 cannot serve a 2016 mailbox); F7 the URLs (MAPI) and
    certificates of every 2016 server before any mailbox reaches 2016, arbitration first.
    """
    ids = {s.id for s in steps}
    # (each id prefix made once, not once per step)
    vdirs = step_id(P, "virtual-directories") + "."
    copy = step_id(Phase.MOVES, "copy") + "."
    est_new = [s.target for s in steps if s.id.startswith(vdirs)]
    out: dict[str, list[str]] = {}
    online = RunsIn.EXCHANGE_ONLINE
    onprem = sorted(
        s.id.removeprefix(copy) for s in steps if s.id.startswith(copy) and s.runs_in is not online
    )
    last_wave = step_id(Phase.MOVES, "complete", onprem[-1]) if onprem else ""
    gate = step_id(Phase.DECOMMISSION, "client-access") + "."
    gates = sorted(s.id for s in steps if s.id.startswith(gate))
    # M6: the client-access gate of a 2010 server needs the namespace on 2016, public folders
    # live on 2016 (where there are any), the last on-premises wave and (review 3, F9) Exchange
    # Online users off the 2010 proxy mailboxes (the modern hybrid switch, after every EXO wave).
    for gate in gates:
        out.setdefault(gate, []).extend(
            p for p in (NAMESPACE_VERIFY, PF_GO_LIVE, PF_HYBRID_MODERN, last_wave) if p in ids
        )
    outlook_anywhere = step_id(P, "outlook-anywhere") + "."
    legacy = {s.target.lower(): s.target for s in steps if s.id.startswith(outlook_anywhere)}
    pf_removed = pf_step_id("remove-databases")
    for array in sorted(inv.client_access_arrays, key=lambda a: a.name.lower()):
        retire = step_id(Phase.DECOMMISSION, "cas-array-name", array.name)
        members = [s for s in inv.servers if s.name.lower() in legacy]
        names = [s.name for s in array_members(array, members)] or list(legacy.values())
        # the read-back right before the removal waits for the same steps (review 3, F9)
        unused = step_id(Phase.DECOMMISSION, "cas-array-unused", array.name)
        # and for the removal of every database that names the array: the 2010 ones of the
        # inventory and the public folder proxy mailboxes' (removed with the 2010 public folders)
        fqdn = array.fqdn.lower()
        naming = sorted(
            {d.server for d in inv.mailbox_databases if d.rpc_client_access_server.lower() == fqdn},
            key=str.lower,
        )
        out.setdefault(unused, []).extend(
            p
            for p in (
                *(step_id(Phase.DECOMMISSION, "databases", n) for n in naming),
                pf_removed,
            )
            if p in ids
        )
        out.setdefault(unused if unused in ids else retire, []).extend(
            p
            for p in (
                *(step_id(Phase.DECOMMISSION, "client-access", n) for n in names),
                last_wave,
                PF_HYBRID_MODERN,  # a 2010 proxy mailbox may name the array (review 3, F9)
            )
            if p in ids
        )
        for n in names:
            remove = step_id(Phase.DECOMMISSION, "remove", n)
            if remove in ids and retire in ids:
                out.setdefault(remove, []).append(retire)

    def add(step: str, *pre: str) -> None:
        if step in ids:
            out.setdefault(step, []).extend(p for p in pre if p in ids and p != step)

    install = step_id(P, "install") + "."
    arbitration = step_id(Phase.MOVES, "arbitration")
    for s in steps:
        if s.id.startswith(install):
            add(s.id, OAB_STEP)
        first_2016 = s.id == arbitration or (s.id.startswith(copy) and s.runs_in is not online)
        if first_2016:
            add(
                s.id,
                *(
                    step_id(P, what, n)
                    for n in est_new
                    for what in ("certificate", "virtual-directories")
                ),
            )
            if s.id != arbitration:
                add(s.id, NAMESPACE_VERIFY if NAMESPACE_VERIFY in ids else NAMESPACE)
    return out


__all__ = [
    "NAMESPACE",
    "NAMESPACE_VERIFY",
    "OAB_STEP",
    "client_access_links",
    "client_access_rollback_steps",
    "client_access_steps",
    "expected_addresses",
    "namespace_steps",
    "server_client_access_steps",
    "server_rollback_steps",
]
