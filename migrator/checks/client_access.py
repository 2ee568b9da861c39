"""Client access checks: RPC/TCP names that collide with the HTTP namespace, a namespace not known."""

from __future__ import annotations

from migrator.client_access import http_names, namespace_of
from migrator.model import ExchangeVersion, Finding, Inventory, Severity


def check_client_access(inv: Inventory) -> list[Finding]:
    """Refuse a plan whose 2010 CAS array FQDN or RpcClientAccessServer is an HTTP namespace name.

    RPC/TCP Outlook clients connect to the array name; once the namespace moves to
    2016 (which speaks no RPC/TCP), a shared name breaks them at the DNS change
    (Exchange Team blog, "Ambiguous URLs", 2013-05-23).
    """
    findings: list[Finding] = []
    names = http_names(inv)
    legacy = {s.name.lower() for s in inv.legacy_servers}
    rpc: list[tuple[str, str, str]] = [
        (a.fqdn.lower(), f"the Client Access array {a.name}", str(a.source or a.name))
        for a in inv.client_access_arrays
    ]
    rpc += [
        (
            d.rpc_client_access_server,
            f"RpcClientAccessServer of database {d.name}",
            str(d.source or d.name),
        )
        for d in inv.mailbox_databases
        if d.server.lower() in legacy and d.rpc_client_access_server
    ]
    for fqdn, what, where in sorted(set(rpc)):
        if fqdn in names:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "client-access.rpc-name-collision",
                    where,
                    f"{what} is '{fqdn}', which is also an HTTP namespace name ({names[fqdn]}): "
                    "RPC/TCP Outlook clients break when that name moves to Exchange 2016",
                    "create a separate name for the CAS array (e.g. outlook.<domain>, internal DNS "
                    "only, pointing at the 2010 Client Access servers), Set-ClientAccessArray -Fqdn "
                    "to it and Set-MailboxDatabase -RpcClientAccessServer on each 2010 database, "
                    "then export again",
                )
            )
    hop = [s for s in inv.target_servers if s.version is ExchangeVersion.EX2016 and not s.is_edge]
    if hop and namespace_of(inv) is None:
        findings.append(
            Finding(
                Severity.WARNING,
                "client-access.no-namespace",
                inv.root,
                "the inventory has no shared client namespace (no ExternalUrl on the OWA virtual "
                "directories of the 2010 servers): the virtual directory and namespace steps stay manual",
                "add the virtual directory export of the 2010 servers (docs/collect.md)",
            )
        )
    return findings
