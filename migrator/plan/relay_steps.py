"""Relay-phase steps: create the planned Front End connectors, test them, repoint clients,
then observe, disable and remove the 2010 relay connectors.

Step ids are derived from server and connector names (never counters), so the
tracking workbook keeps its rows across re-plans:

- ``relay.create.<server>.<slug>`` create or align the connector (runbook ``<server>.ps1``)
- ``relay.permission.<server>.<slug>`` grant Accept-Any-Recipient (anonymous method only)
- ``relay.test.<server>.<slug>.from-admin-host`` scripted SMTP conversation (no message sent)
- ``relay.test.<server>.<slug>.<range>`` manual test from a client in each range
- ``relay.repoint.<alias>`` DNS alias (or each application) to the new servers
- ``relay.observe-wait.<2010 server>`` the ``observation_days`` after the repoint (a wait), then
  ``relay.observe.<2010 server>`` reads the 2010 protocol logs of that period
- ``relay.disable-old.<2010 server>.<slug>`` / ``relay.remove-old.<2010 server>.<slug>``
  (runbook ``<2010 server>-decommission.ps1``, Exchange 2010 shell)

Rollback steps (``relay.rollback...``) come from :func:`relay_rollback_steps`; they
are nobody's prerequisite and are not part of the main order.

With ``phase=Phase.ONWARD`` the same steps carry the 2016 connectors on to the
final-version servers (:func:`migrator.plan.relay.plan_onward_relay`): ids start
with ``onward.relay.``, runbooks go to ``runbooks/70-onward/``, and the old
connectors are observed, disabled and removed on the 2016 servers from EMS on
the new servers (not the 2010 shell), reading the Front End receive logs.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from migrator.errors import PlanError
from migrator.iprange import IPRange, merge_ranges
from migrator.model import (
    ExchangeVersion,
    Inventory,
    ReceiveConnector,
    RelayMethod,
    Server,
    TransportRole,
)
from migrator.plan.relay import (
    Classification,
    ConnectorKind,
    PlannedConnector,
    RelayPlan,
    alias_groups,
)
from migrator.plan.steps import Action, Owner, Phase, RunsIn, Step
from migrator.relay_rights import is_anonymous_trustee

ANONYMOUS_LOGON = "NT AUTHORITY\\ANONYMOUS LOGON"
ACCEPT_ANY_RECIPIENT = "Ms-Exch-SMTP-Accept-Any-Recipient"
COMMENT_MARKER = "Created by migrator"
RUNBOOK_DIR = f"runbooks/{Phase.RELAY.number}-{Phase.RELAY.value}"
TEST_RECIPIENT_DOMAIN = "example.com"
"""RFC 2606 domain used in the scripted RCPT TO (the conversation ends before DATA)."""


_FRONTEND_LOG_PATH: dict[str, Any] = {
    "name": "FrontEndReceiveLogPath",
    "type": "string",
    "default": "",
    "help": (
        "Front End receive protocol log folder on the old servers, where it is not the default"
        " next to the Transport service's."
    ),
}
"""Runbook parameter of the onward steps that read the 2016 servers' Front End receive logs."""


@functools.lru_cache(maxsize=1 << 14)
def slug(text: str) -> str:
    """A readable id fragment: lower case, runs of other characters become one ``-``.

    Cached (a pure function of its text): connector and server names come back in many ids."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return out or "x"


@functools.lru_cache(maxsize=1 << 12)
def _safe(server: str) -> str:
    """A server name as an id part and file name (NetBIOS names already are; anything else becomes ``-``)."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", server).strip("-") or "server"


def connector_comment(pc: PlannedConnector) -> str:
    """The Comment marker written on a new connector; rollback removes only connectors carrying it."""
    return pc.comment or f"{COMMENT_MARKER} from {pc.source_identity}"


def _dir(phase: Phase) -> str:
    return f"runbooks/{phase.number}-{phase.value}"


def _server_runbook(server: str, phase: Phase = Phase.RELAY) -> str:
    return f"{_dir(phase)}/{_safe(server)}.ps1"


def _decommission_runbook(server: str, phase: Phase = Phase.RELAY) -> str:
    return f"{_dir(phase)}/{_safe(server)}-decommission.ps1"


def _after_soak_runbook(server: str, phase: Phase = Phase.RELAY) -> str:
    """The soak check and the removals: their own runbook, run once the soak is over, never in the night
    of the disable (the decommission runbook ends with the disables)."""
    return f"{_dir(phase)}/{_safe(server)}-after-soak.ps1"


def _rollback_runbook(server: str, phase: Phase = Phase.RELAY) -> str:
    return f"{_dir(phase)}/{_safe(server)}-rollback.ps1"


def _prefix(phase: Phase) -> str:
    """``relay`` in the relay phase, ``onward.relay`` in the onward phase."""
    if phase is Phase.RELAY:
        return "relay"
    if phase is Phase.ONWARD:
        return "onward.relay"
    raise ValueError(f"relay steps belong to the relay or the onward phase, not '{phase.value}'")


def _old_label(inventory: Inventory, phase: Phase, server: str) -> str:
    """``2010``, or the old server's version in the onward phase (``2016``)."""
    if phase is Phase.RELAY:
        return "2010"
    found = inventory.server(server)
    return found.version.value if found is not None else ExchangeVersion.EX2016.value


def _old_runs_in(phase: Phase) -> RunsIn:
    """The 2010 shell for 2010 connectors; EMS on the new servers for the 2016 ones."""
    return RunsIn.EMS_2010 if phase is Phase.RELAY else RunsIn.EMS_NEW


def _sources(pc: PlannedConnector) -> tuple[str, ...]:
    """Every old identity the connector replaces (merged ones included)."""
    return (pc.source_identity, *pc.merged_from)


def connector_key(pc: PlannedConnector) -> str:
    """``<server>.<connector slug>``: the part of a planned connector's step ids after the kind."""
    return f"{_safe(pc.server)}.{slug(pc.name)}"


def probe_id(pc: PlannedConnector, phase: Phase = Phase.RELAY) -> str:
    """``relay.test.<server>.<connector>.from-admin-host``: the scripted SMTP test of a planned connector."""
    return f"{_prefix(phase)}.test.{connector_key(pc)}.from-admin-host"


def _range_slugs(ranges: Iterable[IPRange]) -> list[tuple[IPRange, str]]:
    out: list[tuple[IPRange, str]] = []
    seen: set[str] = set()
    for rng in ranges:
        base = slug(rng.exchange_text())
        s, n = base, 2
        while s in seen:
            s, n = f"{base}-{n}", n + 1
        seen.add(s)
        out.append((rng, s))
    return out


def _hex(rng: IPRange, value: int) -> str:
    return format(value, "08x" if rng.version == 4 else "032x")


def _connector_params(inventory: Inventory, pc: PlannedConnector) -> dict[str, Any]:
    # An internal-only connector carried over: AnonymousUsers, no Accept-Any-Recipient grant.
    anonymous = pc.method is RelayMethod.ANONYMOUS or not pc.relay
    return {
        "server": pc.server,
        "name": pc.name,
        "identity": pc.identity,
        "source_identity": pc.source_identity,
        "bindings": [str(b) for b in pc.bindings],
        "remote_ip_ranges": [r.exchange_text() for r in pc.remote_ip_ranges],
        "method": pc.method.value if pc.relay else "internal-only",
        "permission_groups": ["AnonymousUsers"] if anonymous else ["ExchangeServers"],
        "auth_mechanism": ["Tls"] if anonymous else ["Tls", "ExternalAuthoritative"],
        "fqdn": pc.fqdn,
        "max_message_size_bytes": pc.max_message_size_bytes,
        "tls_certificate_name": pc.tls_certificate_name,
        "transport_role": pc.transport_role.value,
        "protocol_logging_level": "Verbose",
        "comment": connector_comment(pc),
    }


def _host_names(inventory: Inventory, rng: IPRange) -> list[str]:
    names = []
    for text, host in inventory.host_names:
        try:
            known = IPRange.parse(text)
        except ValueError:
            continue
        if rng.contains(known):
            names.append(f"{host} ({known.exchange_text()})")
    return sorted(set(names))


def _smtp_host(inventory: Inventory, pc: PlannedConnector) -> str:
    server = inventory.server(pc.server)
    return (server.fqdn if server and server.fqdn else "") or pc.fqdn or pc.server


def _refuse_open(connectors: Iterable[PlannedConnector]) -> None:
    """Last line of defence: never emit a relay connector for every address (the checks explain why)."""
    problems = []
    for pc in connectors:
        if not pc.remote_ip_ranges:
            problems.append(
                f"planned connector '{pc.identity}' has no remote IP ranges (that means every address)"
            )
        for rng in pc.remote_ip_ranges:
            if rng.is_all():
                problems.append(
                    f"planned connector '{pc.identity}' would relay for every address: '{rng.exchange_text()}'"
                )
    if problems:
        raise PlanError("open relay refused: " + "; ".join(problems))


def relay_steps(
    inventory: Inventory, relay_plan: RelayPlan, phase: Phase = Phase.RELAY
) -> list[Step]:
    """The relay phase's steps for every planned connector and every 2010 relay connector they replace.

    Returned in a stable order (per new server and connector, then repoint, then
    per 2010 server); prerequisites make removal of a 2010 connector wait for
    the observation of its server, which waits for the repoint, which waits for
    every test. ``phase`` is :attr:`Phase.RELAY` (2010 -> 2016) or
    :attr:`Phase.ONWARD` (2016 -> final version).
    """
    pre = _prefix(phase)
    steps: list[Step] = []
    tests: list[str] = []
    tests_of: dict[int, int] = {}  # id(connector) -> end of its tests in ``tests``
    connectors = sorted(relay_plan.connectors, key=lambda c: (c.server.lower(), c.name.lower()))
    _refuse_open(connectors)
    for pc in connectors:
        key = connector_key(pc)
        params = _connector_params(inventory, pc)
        runbook = _server_runbook(pc.server, phase)
        anonymous = pc.method is RelayMethod.ANONYMOUS
        create_id = f"{pre}.create.{key}"
        ranges_text = ", ".join(params["remote_ip_ranges"])
        trade_off = (
            "anonymous relay: AnonymousUsers plus Ms-Exch-SMTP-Accept-Any-Recipient for ANONYMOUS LOGON;"
            " anti-spam and message size limits still apply"
            if anonymous
            else "externally secured: ExternalAuthoritative with ExchangeServers; senders count as"
            " Exchange servers, so anti-spam and message size limits are bypassed"
        )
        steps.append(
            Step(
                id=create_id,
                phase=phase,
                title=f"Create receive connector '{pc.name}' on {pc.server} (Front End Transport)",
                target=pc.identity,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_NEW,
                duration_minutes=15,
                verification=(
                    "the script reads the connector back from the pinned domain controller and"
                    " compares bindings, ranges, permission groups, authentication, FQDN, size and comment"
                ),
                rollback=f"{_rollback_runbook(pc.server, phase)} removes it (only while its Comment marker is intact)",
                instructions=(
                    f"Successor of {pc.source_identity}; {trade_off}. Remote IP ranges: {ranges_text}."
                ),
                action=Action("relay.create", params),
                runbook=runbook,
            )
        )
        last = create_id
        if anonymous:
            perm_id = f"{pre}.permission.{key}"
            steps.append(
                Step(
                    id=perm_id,
                    phase=phase,
                    title=f"Grant {ACCEPT_ANY_RECIPIENT} to ANONYMOUS LOGON on '{pc.name}'",
                    target=pc.identity,
                    owner=Owner.EXCHANGE_ADMIN,
                    runs_in=RunsIn.EMS_NEW,
                    duration_minutes=5,
                    verification="the script reads the permission back from the pinned domain controller",
                    rollback=f"{_rollback_runbook(pc.server, phase)} removes the permission",
                    action=Action(
                        "relay.permission",
                        {**params, "user": ANONYMOUS_LOGON, "extended_right": ACCEPT_ANY_RECIPIENT},
                    ),
                    prerequisites=(create_id,),
                    runbook=runbook,
                )
            )
            last = perm_id
        smtp_host = _smtp_host(inventory, pc)
        probe = probe_id(pc, phase)
        steps.append(
            Step(
                id=probe,
                phase=phase,
                title=f"SMTP conversation from this host to {smtp_host} (no message is sent)",
                target=pc.identity,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.EMS_NEW,
                duration_minutes=5,
                verification=(
                    "RCPT TO an external address is accepted when this host's address is in the"
                    " connector's ranges and refused otherwise"
                ),
                rollback="nothing to undo (no message is sent)",
                instructions=(
                    "Talks SMTP to the new server up to RCPT TO, then quits (nothing is delivered):"
                    " from outside the ranges it must refuse relay (5.7.54), from inside accept the recipient."
                ),
                action=Action(
                    "relay.smtp-probe",
                    {
                        **params,
                        "smtp_host": smtp_host,
                        "all_addresses": False,
                        "recipient": f"relay-test@{TEST_RECIPIENT_DOMAIN}",
                        "ranges_hex": [
                            {
                                "text": r.exchange_text(),
                                "version": r.version,
                                "first": _hex(r, r.first),
                                "last": _hex(r, r.last),
                            }
                            for r in pc.remote_ip_ranges
                        ],
                    },
                ),
                prerequisites=(last,),
                runbook=runbook,
            )
        )
        tests.append(probe)
        for rng, rslug in _range_slugs(pc.remote_ip_ranges):
            hosts = _host_names(inventory, rng)
            test_id = f"{pre}.test.{key}.{rslug}"
            who = (
                ", ".join(hosts) if hosts else f"a client whose address is in {rng.exchange_text()}"
            )
            steps.append(
                Step(
                    id=test_id,
                    phase=phase,
                    title=f"Relay test from {rng.exchange_text()} through '{pc.name}' on {pc.server}",
                    target=pc.identity,
                    owner=Owner.APPLICATION_OWNERS,
                    runs_in=RunsIn.MANUAL,
                    duration_minutes=15,
                    verification="the external recipient receives the test message",
                    reversible=True,
                    rollback="nothing to undo",
                    instructions=(
                        f"On {who}, send a test message to an external mailbox you can read,"
                        f" directly to {smtp_host} port 25 (not through the DNS alias yet).\n"
                        f"Windows PowerShell: Send-MailMessage -SmtpServer '{smtp_host}' -Port 25"
                        " -From '<the application's sender address>' -To '<external test mailbox>'"
                        f" -Subject 'Relay test {pc.server} {rng.exchange_text()}'\n"
                        f"Without PowerShell: telnet {smtp_host} 25, then EHLO <client name>,"
                        " MAIL FROM:<sender>, RCPT TO:<external mailbox>, DATA, a line, '.', QUIT.\n"
                        "Expected: 250 after RCPT TO and after the final '.', and the message arrives;"
                        " 550 5.7.54 (unable to relay) means another connector took the client:"
                        f" run 'migrator relay which <client address>' and fix the ranges of '{pc.name}'."
                    ),
                    prerequisites=(probe,),  # the scripted probe first: it needs nobody at a client
                    runbook=runbook,
                )
            )
            tests.append(test_id)
        tests_of[id(pc)] = len(tests)

    # Repoint: each alias (or each application's SMTP setting) moves to the new servers, with the
    # tests of the connectors of its clients first (one org-wide alias: every connector).
    starts = {
        id(pc): (tests_of[id(connectors[k - 1])] if k else 0) for k, pc in enumerate(connectors)
    }
    for pc in sorted(relay_plan.internal, key=lambda c: (c.server.lower(), c.name.lower())):
        steps.append(_internal_create(inventory, pc, pre, phase))
    after_repoint: dict[
        str, list[str]
    ] = {}  # 2010 server (lower case) -> its clients' repoint and tests
    for alias, group in alias_groups(inventory, connectors):
        group_tests = [t for pc in group for t in tests[starts[id(pc)] : tests_of[id(pc)]]]
        old_servers = sorted(
            {i.split("\\", 1)[0] for pc in group for i in _sources(pc)}, key=str.lower
        )
        old_hosts = [inventory.server(o) or o for o in old_servers]
        prerequisites = _repoint_prerequisites(pre, group_tests, relay_plan)
        if alias:
            repoint_id = f"{pre}.repoint.{slug(alias)}"
            steps.extend(
                _alias_repoint(inventory, group, old_hosts, pre, alias, phase, prerequisites)
            )
            # Through the alias: every server behind it must answer each client the same way.
            verify_id = f"{pre}.verify-alias.{slug(alias)}"
            through = _alias_tests(inventory, group, pre, alias, verify_id, phase)
            steps.extend(through)
            done = [repoint_id, *(t.id for t in through)]
        else:
            repoint_id = f"{pre}.repoint.applications"
            old_labels = sorted({_old_label(inventory, phase, o) for o in old_servers})
            old_text = f"the {'/'.join(old_labels or ['2010'])} servers"
            new_hosts = sorted({_smtp_host(inventory, pc) for pc in group}, key=str.lower)
            steps.append(
                Step(
                    id=repoint_id,
                    phase=phase,
                    title="Point every relay application at the new servers",
                    target="relay applications",
                    owner=Owner.APPLICATION_OWNERS,
                    runs_in=RunsIn.MANUAL,
                    duration_minutes=30,
                    verification="each application's next message shows in the new servers' protocol logs",
                    rollback="restore each application's SMTP setting",
                    instructions=(
                        "Change the SMTP server setting of every application and device that relays"
                        f" through {old_text} to {', '.join(new_hosts)}."
                    ),
                    prerequisites=prerequisites,
                )
            )
            done = [repoint_id]
        for o in old_servers:
            after_repoint.setdefault(o.lower(), []).extend(done)

    # Old side: observe, then disable, then remove, per legacy server (merged sources included).
    by_legacy: dict[str, set[str]] = {}
    for pc in connectors:
        for ident in _sources(pc):
            legacy_server, _, old_name = ident.partition("\\")
            by_legacy.setdefault(legacy_server, set()).add(old_name)
    days = inventory.policy.observation_days
    old_runs_in = _old_runs_in(phase)
    by_identity = _old_connectors(inventory, relay_plan)
    for legacy_server in sorted(by_legacy, key=str.lower):
        label = _old_label(inventory, phase, legacy_server)
        sources = sorted(by_legacy[legacy_server], key=str.lower)
        runbook = _decommission_runbook(legacy_server, phase)
        observe_id = f"{pre}.observe.{_safe(legacy_server)}"
        wait_id = f"{pre}.observe-wait.{_safe(legacy_server)}"
        # The observation period comes before the observe step (review 4, m7): the step reads the last
        # ``days`` of logs, which hold the sessions from before the repoint until ``days`` have passed.
        steps.append(
            Step(
                id=wait_id,
                phase=phase,
                title=(
                    f"Observation period: {days} days from the repoint before the {label} relay"
                    f" connectors on {legacy_server} are observed"
                ),
                target=legacy_server,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=RunsIn.MANUAL,
                duration_minutes=0,
                wait_minutes=days * 24 * 60,
                maintenance_window=False,
                reversible=True,
                rollback="nothing to undo (a wait)",
                verification=f"{days} days have passed since the repoint",
                instructions=(
                    f"Nothing to do now: the clients moved to the new servers with the repoint; the"
                    f" next step ({observe_id}) reads the last {days} days of {legacy_server}'s receive"
                    f" protocol logs, so run it no earlier than {days} days after the repoint (sessions"
                    " from before the repoint would make it stop)."
                ),
                prerequisites=tuple(dict.fromkeys(after_repoint[legacy_server.lower()])),
                runbook=runbook,
            )
        )
        steps.append(
            Step(
                id=observe_id,
                phase=phase,
                title=f"Observe the {label} relay connectors on {legacy_server} for {days} days",
                target=legacy_server,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=old_runs_in,
                duration_minutes=30,
                # Room for the disables (5 min) after it in the same window occurrence: what it read
                # must be that night's logs, not those of three days before the disable.
                window_minutes=35,
                reversible=True,
                rollback="nothing to undo (read only)",
                verification="no client session on the old relay connectors during the observation period",
                instructions=(
                    f"Runs {days} days after the repoint (the wait step before it): it reads the receive"
                    f" protocol logs of {legacy_server} of the last {days} days and lists every client"
                    " that still connected to the old relay connectors; it stops while any did."
                ),
                action=Action(
                    "relay.observe",
                    {
                        "server": legacy_server,
                        "connectors": sources,
                        "identities": [f"{legacy_server}\\{n}" for n in sources],
                        "observation_days": days,
                        # 2013+ relay connectors are on Front End Transport: their logs are
                        # the Front End receive logs, not the Transport service's.
                        "frontend": phase is not Phase.RELAY,
                        "runbook_parameters": [
                            {
                                "name": "ObservationDays",
                                "type": "int",
                                "default": days,
                                "help": "Days of receive protocol logs the observe step reads.",
                            },
                            *([_FRONTEND_LOG_PATH] if phase is not Phase.RELAY else []),
                        ],
                    },
                ),
                prerequisites=(wait_id,),
                runbook=runbook,
            )
        )
        # Never shorter than the evidence window: evidence.window-short warns that fewer days
        # of logs may miss the clients that send monthly, so no removal follows a shorter soak.
        soak = max(inventory.policy.soak_days, inventory.policy.log_days_wanted)
        soak_id = f"{pre}.soak.{_safe(legacy_server)}"
        after_soak = _after_soak_runbook(legacy_server, phase)
        disables: list[str] = []
        for name in sources:
            identity = f"{legacy_server}\\{name}"
            disable_id = f"{pre}.disable-old.{_safe(legacy_server)}.{slug(name)}"
            disables.append(disable_id)
            steps.append(
                Step(
                    id=disable_id,
                    phase=phase,
                    title=f"Disable {label} connector '{name}' on {legacy_server} (then soak {soak} days)",
                    target=identity,
                    owner=Owner.EXCHANGE_ADMIN,
                    runs_in=old_runs_in,
                    duration_minutes=5,
                    wait_minutes=soak * 24 * 60,
                    verification="the script reads Enabled back from the pinned domain controller",
                    rollback=(
                        f"{_rollback_runbook(legacy_server, phase)} enables it again"
                        " (Set-ReceiveConnector -Enabled $true)"
                    ),
                    instructions=(
                        "Disable first: a forgotten client fails visibly and can be helped back"
                        f" quickly. The connector then stays disabled for {soak} days (plan.soak_days:"
                        " at least 30 and past a month-end, so monthly and quarterly jobs show up)"
                        f" before it is removed: the soak check and the removal are in"
                        f" {_after_soak_runbook(legacy_server, phase).rpartition('/')[2]}, run after the soak;"
                        " they refuse to run earlier."
                    ),
                    action=Action(
                        "relay.legacy-enabled",
                        {
                            "server": legacy_server,
                            "name": name,
                            "identity": identity,
                            "enabled": False,
                        },
                    ),
                    prerequisites=(observe_id,),
                    runbook=runbook,
                )
            )
        ranges = _old_ranges(by_identity, legacy_server, sources)
        steps.append(
            Step(
                id=soak_id,
                phase=phase,
                title=(
                    f"Check the {soak}-day soak on {legacy_server}: no client refused since the"
                    f" {label} relay connectors were disabled"
                ),
                target=legacy_server,
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=old_runs_in,
                duration_minutes=30,
                reversible=True,
                rollback="nothing to undo (read only)",
                verification=(
                    "no relay refusal (550 5.7.1 on 2010, 550 5.7.54 on 2013+) in the receive logs of"
                    f" {legacy_server} since the disable, on any connector (Default ones included)"
                ),
                instructions=(
                    f"{soak} days after the disable (the step refuses earlier: the disable time is the"
                    " connectors' WhenChanged), read the receive protocol logs of every connector"
                    f" of {legacy_server} (the Default connectors log Verbose since the prepare phase):"
                    " a client still sending here after its relay connector was disabled lands on"
                    " Default and is refused; the step lists each one and stops while any is left."
                ),
                action=Action(
                    "relay.soak-check",
                    {
                        "server": legacy_server,
                        "identities": [f"{legacy_server}\\{n}" for n in sources],
                        "names": sources,
                        "soak_days": soak,
                        "frontend": phase is not Phase.RELAY,
                        "ranges_hex": [
                            {
                                "text": r.exchange_text(),
                                "version": r.version,
                                "first": _hex(r, r.first),
                                "last": _hex(r, r.last),
                            }
                            for r in ranges
                        ],
                        "runbook_parameters": [
                            {
                                "name": "SoakDays",
                                "type": "int",
                                "default": soak,
                                "help": "Days of receive protocol logs the soak check reads.",
                            },
                            *([_FRONTEND_LOG_PATH] if phase is not Phase.RELAY else []),
                        ],
                    },
                ),
                prerequisites=tuple(disables),
                runbook=after_soak,
            )
        )
        for name in sources:
            identity = f"{legacy_server}\\{name}"
            legacy_params = {"server": legacy_server, "name": name, "identity": identity}
            steps.append(
                Step(
                    id=f"{pre}.remove-old.{_safe(legacy_server)}.{slug(name)}",
                    phase=phase,
                    title=f"Remove {label} connector '{name}' on {legacy_server} after the soak",
                    target=identity,
                    owner=Owner.EXCHANGE_ADMIN,
                    runs_in=old_runs_in,
                    duration_minutes=5,
                    reversible=True,
                    rollback=(
                        f"{_rollback_runbook(legacy_server, phase)} recreates it as the inventory"
                        " shows it, with its permission"
                    ),
                    verification="the script checks the connector is gone on the pinned domain controller",
                    instructions=(
                        "Runs only with -ConfirmObserved, only while the connector is disabled and only"
                        f" once it has been disabled {soak} days (its WhenChanged): after the soak check"
                        " found no refused client."
                    ),
                    action=Action(
                        "relay.remove-old",
                        {
                            **legacy_params,
                            "soak_days": soak,
                            "runbook_parameters": [
                                {
                                    "name": "ConfirmObserved",
                                    "type": "switch",
                                    "help": (
                                        "Confirms the soak period is over and nobody missed"
                                        " the disabled connectors; without it nothing is removed."
                                    ),
                                }
                            ],
                        },
                    ),
                    prerequisites=(soak_id,),
                    runbook=after_soak,
                )
            )
    return steps


def _old_connectors(
    inventory: Inventory, relay_plan: RelayPlan
) -> dict[str, list[tuple[int, ReceiveConnector]]]:
    """Lower-cased identity -> (position, connector) of the inventory's receive connectors, then the
    plan's classifications' (made once per plan, not once per server: 2,000 connectors at the largest)."""
    out: dict[str, list[tuple[int, ReceiveConnector]]] = {}
    every = (*inventory.receive_connectors, *(cl.connector for cl in relay_plan.classifications))
    for n, c in enumerate(every):
        out.setdefault(c.identity.lower(), []).append((n, c))
    return out


def _old_ranges(
    connectors: dict[str, list[tuple[int, ReceiveConnector]]], server: str, names: Iterable[str]
) -> list[IPRange]:
    """RemoteIPRanges of the old connectors being removed (from the inventory or the plan's classifications),
    found in :func:`_old_connectors` and taken in its order (merging keeps the first of equal ranges)."""
    wanted = {f"{server}\\{n}".lower() for n in names}
    found: list[IPRange] = []
    for _n, c in sorted(x for w in wanted for x in connectors.get(w, ())):
        found.extend(r for r in c.remote_ip_ranges if not r.zone)
    return merge_ranges(found)


def _internal_create(inventory: Inventory, pc: PlannedConnector, pre: str, phase: Phase) -> Step:
    """Create an internal-only connector carried over (no relay: AnonymousUsers only)."""
    params = _connector_params(inventory, pc)
    return Step(
        id=f"{pre}.create.{connector_key(pc)}",
        phase=phase,
        title=(
            f"Create internal-only receive connector '{pc.name}' on {pc.server}"
            " (Front End Transport, no relay)"
        ),
        target=pc.identity,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=10,
        verification=(
            "the script reads the connector back from the pinned domain controller and compares"
            " bindings, ranges, permission groups, authentication, FQDN, size and comment"
        ),
        rollback=f"{_rollback_runbook(pc.server, phase)} removes it (only while its Comment marker is intact)",
        instructions=(
            f"Successor of {pc.source_identity}, without relay rights: {pc.method_reason}."
            f" Remote IP ranges: {', '.join(params['remote_ip_ranges'])}. No"
            " Ms-Exch-SMTP-Accept-Any-Recipient is granted on it."
        ),
        action=Action("relay.create", params),
        runbook=_server_runbook(pc.server, phase),
    )


def _repoint_prerequisites(pre: str, tests: list[str], relay_plan: RelayPlan) -> tuple[str, ...]:
    """Every relay test of the new connectors, and every internal-only connector carried over."""
    return tuple(
        sorted([*tests, *(f"{pre}.create.{connector_key(pc)}" for pc in relay_plan.internal)])
    )


def alias_families(connectors: Iterable[PlannedConnector]) -> frozenset[int]:
    """The address families an SMTP alias publishes records of (the one rule, for every repoint and its
    rollback, first hop and onward): IPv4 always; IPv6 only where a relay connector behind the alias has
    an IPv6 range.

    A dual-stack client tries the AAAA address first (RFC 6724); an IPv6 address in no relay range lands
    on Default Frontend and is refused relay (550 5.7.54). Without an IPv6 relay range, an AAAA record
    would take relay away from every dual-stack client, so the alias gets A records only (clients keep
    relaying over IPv4, as they did through the 2010 alias without one); carry the clients' IPv6
    addresses into a relay range (``relay.overrides[].add_ranges``) to publish it.
    """
    versions = {r.version for pc in connectors for r in pc.remote_ip_ranges}
    return frozenset({4} | ({6} if 6 in versions else set()))


def alias_records(
    servers: Iterable[Server | str], families: frozenset[int] = frozenset({4, 6})
) -> tuple[list[str], list[str], list[str]]:
    """The A and AAAA records an alias needs to reach ``servers`` (from the inventory's addresses), and
    the servers the inventory gives no address for.

    IPv6 only where ``families`` holds it (:func:`alias_families`) and a server has a global or
    unique-local IPv6 address (link-local addresses are never published); a name the inventory does
    not know is listed as unknown.
    """
    a: set[str] = set()
    aaaa: set[str] = set()
    unknown: list[str] = []
    for srv in servers:
        if isinstance(srv, str):
            unknown.append(srv)
            continue
        v4 = [x for x in srv.ip_addresses if x.version == 4]
        v6 = [x for x in srv.ip_addresses if x.version == 6 and not x.is_link_local]
        if not v4 and not v6:
            unknown.append(srv.name)
        if 4 in families:
            a.update(str(x) for x in v4)
        if 6 in families:
            aaaa.update(str(x) for x in v6)
    return _sorted_addresses(a), _sorted_addresses(aaaa), sorted(unknown, key=str.lower)


def _unpublished_ipv6(servers: Iterable[Server | str], families: frozenset[int]) -> list[str]:
    """Servers with an IPv6 address that gets no AAAA record because no relay range is IPv6."""
    if 6 in families:
        return []
    return [
        s.name
        for s in servers
        if not isinstance(s, str)
        and any(x.version == 6 and not x.is_link_local for x in s.ip_addresses)
    ]


def _sorted_addresses(values: Iterable[str]) -> list[str]:
    return sorted(values, key=_address_key)


def _address_key(text: str) -> tuple[int, ipaddress.IPv4Address | ipaddress.IPv6Address]:
    address = ipaddress.ip_address(text)  # (parsed once per value)
    return address.version, address


def _records_text(a: list[str], aaaa: list[str]) -> str:
    """``A 10.1.1.20, 10.2.1.20; AAAA 2001:db8::20`` (``no AAAA record`` where there is none)."""
    return f"A {', '.join(a) if a else '(none)'}; " + (
        f"AAAA {', '.join(aaaa)}" if aaaa else "no AAAA record"
    )


def _alias_repoint(
    inventory: Inventory,
    connectors: list[PlannedConnector],
    old: list[Server | str],
    pre: str,
    alias: str,
    phase: Phase,
    prerequisites: tuple[str, ...],
) -> list[Step]:
    """The DNS change of the alias (manual: the runner stops there) and its scripted verification.

    The records come from the inventory: A for every new server with a relay
    connector, AAAA only for those with IPv6 and only where :func:`alias_families` allows
    it (a client that gets an AAAA record of a server without IPv6 cannot connect; one
    that gets none for a server with IPv6 still reaches it over IPv4). The rollback gives
    back the old servers' records of the same families.
    """
    runbook = f"{_dir(phase)}/{slug(alias)}.ps1"
    new_servers: list[Server | str] = []
    for name in sorted({pc.server for pc in connectors}, key=str.lower):
        new_servers.append(inventory.server(name) or name)
    families = alias_families(connectors)
    a, aaaa, unknown = alias_records(new_servers, families)
    old_a, old_aaaa, old_unknown = alias_records(old, families)
    no_aaaa = _unpublished_ipv6(new_servers, families)
    new_names = ", ".join(s if isinstance(s, str) else s.name for s in new_servers)
    old_names = ", ".join(s if isinstance(s, str) else s.name for s in old)
    repoint_id = f"{pre}.repoint.{slug(alias)}"
    verify_id = f"{pre}.verify-alias.{slug(alias)}"
    missing = (
        f" The inventory gives no address for {', '.join(unknown)}: add its servers[].ip and plan"
        " again (the verification stops until then)."
        if unknown
        else ""
    )
    old_missing = (
        f" (the inventory gives no address for {', '.join(old_unknown)}: add it by hand)"
        if old_unknown
        else ""
    )
    rollback = (
        f"give {alias} back the old records of {old_names}: {_records_text(old_a, old_aaaa)}"
        f"{old_missing}, and delete the new ones ({_rollback_runbook_of(alias, phase)}: the"
        f" change, then {pre}.rollback.verify-alias.{slug(alias)} compares the old addresses)"
    )
    return [
        Step(
            id=repoint_id,
            phase=phase,
            title=f"Point DNS alias {alias} at the new servers",
            target=alias,
            owner=Owner.DNS_ADMIN,
            runs_in=RunsIn.DNS_CONSOLE,
            duration_minutes=30,
            wait_minutes=60,
            verification=f"{verify_id} resolves {alias} (A and AAAA) and compares",
            rollback=rollback,
            instructions=(
                f"In the DNS zone of {alias}, make its records exactly: {_records_text(a, aaaa)}"
                f" (the new servers {new_names}). Replace a CNAME by these records; delete every"
                f" other A and AAAA record of {alias} (today: {_records_text(old_a, old_aaaa)}, the"
                f" servers {old_names}). AAAA only for a server with IPv6, and only while a relay"
                " connector behind the alias has an IPv6 range: a dual-stack client tries AAAA first,"
                " and an IPv6 address in no relay range lands on Default Frontend and is refused"
                " (550 5.7.54)."
                + (
                    f" No AAAA record although {', '.join(no_aaaa)} has IPv6: no relay range behind"
                    f" {alias} is IPv6, so the clients keep relaying over IPv4 (to publish it, carry"
                    " their IPv6 addresses with relay.overrides add_ranges and plan again)."
                    if no_aaaa
                    else ""
                )
                + " The wait covers the old TTL."
                + missing
            ),
            prerequisites=prerequisites,
            runbook=runbook,
        ),
        _verify_alias_step(
            verify_id,
            phase,
            alias,
            "the new servers",
            (a, aaaa, unknown),
            [s if isinstance(s, str) else s.name for s in new_servers],
            repoint_id,
            runbook,
            instructions=(
                "Reads only. A resolver that still caches the old records makes it stop: wait the"
                " old TTL and run it again."
            ),
        ),
    ]


def _verify_alias_step(
    step_id: str,
    phase: Phase,
    alias: str,
    which: str,
    records: tuple[list[str], list[str], list[str]],
    servers: list[str],
    prerequisite: str,
    runbook: str,
    instructions: str = "",
) -> Step:
    """The scripted check that ``alias`` resolves to exactly ``records`` (A, AAAA; servers without
    an address in the inventory make it stop), after the repoint or its rollback."""
    a, aaaa, unknown = records
    return Step(
        id=step_id,
        phase=phase,
        title=f"Check that {alias} resolves to exactly {which} (A and AAAA)",
        target=alias,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=5,
        maintenance_window=False,
        verification=(
            f"Resolve-DnsName {alias} -Type A and -Type AAAA return exactly {_records_text(a, aaaa)}"
        ),
        rollback="nothing to undo (read only)",
        instructions=instructions,
        action=Action(
            "relay.alias-records",
            {"alias": alias, "ipv4": a, "ipv6": aaaa, "unknown": unknown, "servers": servers},
        ),
        prerequisites=(prerequisite,),
        runbook=runbook,
    )


def _rollback_runbook_of(alias: str, phase: Phase) -> str:
    return f"{_dir(phase)}/{slug(alias)}-rollback.ps1"


def alias_rollback_steps(
    inventory: Inventory, relay_plan: RelayPlan, phase: Phase = Phase.RELAY
) -> list[Step]:
    """Rollback of each alias's repoint: the old records back (manual), then the same scripted check
    with the old servers' addresses; in ``<alias>-rollback.ps1``. Empty without an alias or a relay
    connector."""
    out: list[Step] = []
    for alias, group in alias_groups(inventory, relay_plan.connectors):
        if alias:
            out.extend(_alias_rollback(inventory, group, alias, phase))
    return out


def _alias_rollback(
    inventory: Inventory, connectors: list[PlannedConnector], alias: str, phase: Phase
) -> list[Step]:
    pre = _prefix(phase)
    old_servers = sorted(
        {i.split("\\", 1)[0] for pc in connectors for i in _sources(pc)}, key=str.lower
    )
    old: list[Server | str] = [inventory.server(o) or o for o in old_servers]
    # the records the repoint replaced: the same families (alias_families) as the repoint publishes
    a, aaaa, unknown = alias_records(old, alias_families(connectors))
    names = ", ".join(old_servers)
    runbook = _rollback_runbook_of(alias, phase)
    back_id = f"{pre}.rollback.repoint.{slug(alias)}"
    return [
        Step(
            id=back_id,
            phase=phase,
            title=f"Point DNS alias {alias} back at the old servers ({names})",
            target=alias,
            owner=Owner.DNS_ADMIN,
            runs_in=RunsIn.DNS_CONSOLE,
            duration_minutes=30,
            wait_minutes=60,
            verification=f"{pre}.rollback.verify-alias.{slug(alias)} compares the records",
            rollback=f"run {pre}.repoint.{slug(alias)} again",
            instructions=(
                f"Before any new connector is removed: make the records of {alias} exactly"
                f" {_records_text(a, aaaa)} (the old servers {names}, from the inventory) and delete"
                " the new servers' records."
                + (
                    f" The inventory gives no address for {', '.join(unknown)}: add it by hand."
                    if unknown
                    else ""
                )
            ),
            runbook=runbook,
        ),
        _verify_alias_step(
            f"{pre}.rollback.verify-alias.{slug(alias)}",
            phase,
            alias,
            "the old servers again",
            (a, aaaa, unknown),
            old_servers,
            back_id,
            runbook,
        ),
    ]


def _alias_tests(
    inventory: Inventory,
    connectors: list[PlannedConnector],
    pre: str,
    alias: str,
    verify_id: str,
    phase: Phase,
) -> list[Step]:
    """Relay tests through the DNS alias once it points at the new servers (and resolves to them).

    The scripted conversation runs against every address the alias resolves to
    (A and AAAA), so each server behind it answers once; then a client of each
    old connector sends a real test message through the alias.
    """
    ranges = merge_ranges(r for pc in connectors for r in pc.remote_ip_ranges)
    params = {
        "identity": f"the relay connectors behind {alias}",
        "smtp_host": alias,
        "all_addresses": True,
        "recipient": f"relay-test@{TEST_RECIPIENT_DOMAIN}",
        "ranges_hex": [
            {
                "text": r.exchange_text(),
                "version": r.version,
                "first": _hex(r, r.first),
                "last": _hex(r, r.last),
            }
            for r in ranges
        ],
    }
    runbook = f"{_dir(phase)}/{slug(alias)}.ps1"
    probe_id = f"{pre}.test-alias.{slug(alias)}.from-admin-host"
    out = [
        Step(
            id=probe_id,
            phase=phase,
            title=f"SMTP conversation through {alias} with every server it resolves to (no message is sent)",
            target=alias,
            owner=Owner.EXCHANGE_ADMIN,
            runs_in=RunsIn.EMS_NEW,
            duration_minutes=10,
            # Reads only (no message is sent): right after the alias resolves to the new servers,
            # not in the next window; the onward repoint's window had closed by then, and the
            # tests waited 3 days while relay clients already used the new servers (review 5, N3).
            maintenance_window=False,
            verification=(
                "every address the alias resolves to (A and AAAA) accepts RCPT TO an external"
                " address when this host is inside a relay range, and refuses it otherwise"
            ),
            rollback="nothing to undo (no message is sent)",
            instructions=(
                f"Resolves {alias} and talks SMTP to each of its addresses up to RCPT TO, then quits:"
                " a server behind the alias that lacks a relay connector answers differently and"
                " the step stops."
            ),
            action=Action("relay.smtp-probe", params),
            prerequisites=(verify_id,),
            runbook=runbook,
        )
    ]
    by_source: dict[str, list[PlannedConnector]] = {}
    for pc in connectors:
        by_source.setdefault(pc.source_identity, []).append(pc)
    for source in sorted(by_source, key=str.lower):
        group = by_source[source]
        servers = sorted({pc.server for pc in group}, key=str.lower)
        ranges_text = ", ".join(
            r.exchange_text() for r in merge_ranges(r for pc in group for r in pc.remote_ip_ranges)
        )
        out.append(
            Step(
                id=f"{pre}.test-alias.{slug(alias)}.{slug(source)}",
                phase=phase,
                title=f"Relay test through {alias} from a client of {source}",
                target=alias,
                owner=Owner.APPLICATION_OWNERS,
                runs_in=RunsIn.MANUAL,
                duration_minutes=15,
                verification=(
                    "each test message arrives, and the Received headers show every server"
                    f" behind {alias} ({', '.join(servers)}) took one"
                ),
                rollback="nothing to undo",
                instructions=(
                    f"From a client in {ranges_text}, send test messages to an external mailbox"
                    f" through {alias} port 25 (the name the clients use), several times, until"
                    f" each of {', '.join(servers)} shows in the Received headers.\n"
                    f"Windows PowerShell: Send-MailMessage -SmtpServer '{alias}' -Port 25"
                    " -From '<the application's sender address>' -To '<external test mailbox>'"
                    f" -Subject 'Relay test {alias}'\n"
                    "550 5.7.54 from one server means it lacks this client's connector: stop and"
                    " point the alias back."
                ),
                prerequisites=(probe_id,),
                runbook=runbook,
            )
        )
    return out


def relay_rollback_steps(
    inventory: Inventory, relay_plan: RelayPlan, phase: Phase = Phase.RELAY
) -> list[Step]:
    """Rollback steps: per new server, remove exactly the permissions and connectors migrator created;
    per 2010 server, enable the old connectors again.

    None of them is a prerequisite of a step of the main order: they are rendered
    into their own ``-rollback.ps1`` runbooks. Per new server the grants go first,
    then the relay connectors, then the internal-only ones (whose removal has the
    relay removals as prerequisites), so relay is never wider than before at any
    point of the rollback.
    ``phase`` as for :func:`relay_steps`.
    """
    pre = _prefix(phase)
    # Clients first go back to the old servers (the alias), then anything new is removed.
    steps: list[Step] = alias_rollback_steps(inventory, relay_plan, phase)
    back = tuple(s.id for s in steps if s.action is not None)
    connectors = sorted(relay_plan.connectors, key=lambda c: (c.server.lower(), c.name.lower()))
    guards = _rollback_guards(inventory, relay_plan, pre)
    by_server: dict[str, list[PlannedConnector]] = {}
    for pc in sorted(
        (*relay_plan.connectors, *relay_plan.internal),
        key=lambda c: (c.server.lower(), c.name.lower()),
    ):
        by_server.setdefault(pc.server.lower(), []).append(pc)
    for made in by_server.values():
        # Never wider than before at any point of the rollback (it can stop after any step): first every
        # Accept-Any-Recipient grant goes, then the relay connectors, and only then the internal-only
        # connectors that carve their clients out of a relay connector's wider range (removed first, those
        # clients would land on the relay connector and could relay until it went too).
        relays = [pc for pc in made if pc.relay]
        internal = [pc for pc in made if not pc.relay]
        for pc in relays:
            if pc.method is RelayMethod.ANONYMOUS:
                # the same prerequisites as the removal (review 4, R2): the clients are back first
                steps.append(_rollback_permission(inventory, pc, pre, phase, back, guards))
        steps.extend(_rollback_remove(inventory, pc, pre, phase, [], back, guards) for pc in relays)
        steps.extend(
            _rollback_remove(inventory, pc, pre, phase, relays, (), guards) for pc in internal
        )
    legacy: set[tuple[str, str]] = set()
    for pc in connectors:
        for ident in _sources(pc):
            server, _, name = ident.partition("\\")
            legacy.add((server, name))
    # the first inventory connector and the first classification of each identity (lower case)
    old_connectors: dict[str, ReceiveConnector] = {}
    for c in inventory.receive_connectors:
        old_connectors.setdefault(c.identity.lower(), c)
    classified: dict[str, Classification] = {}
    for cl in relay_plan.classifications:
        classified.setdefault(cl.connector.identity.lower(), cl)
    for server, name in sorted(legacy, key=lambda x: (x[0].lower(), x[1].lower())):
        # Recreate (where it was removed) before enabling: the enable needs the connector, and the
        # recreate leaves an existing one alone, so the rollback runs the same whatever stage it undoes.
        recreate = _recreate_old(inventory, pre, phase, server, name, old_connectors, classified)
        if recreate is not None:
            steps.append(recreate)
        steps.append(
            Step(
                id=_enable_old_id(pre, f"{server}\\{name}"),
                phase=phase,
                title=f"Enable {_old_label(inventory, phase, server)} connector '{name}' on {server} again",
                target=f"{server}\\{name}",
                owner=Owner.EXCHANGE_ADMIN,
                runs_in=_old_runs_in(phase),
                duration_minutes=5,
                verification="the script reads Enabled back from the pinned domain controller",
                action=Action(
                    "relay.legacy-enabled",
                    {
                        "server": server,
                        "name": name,
                        "identity": f"{server}\\{name}",
                        "enabled": True,
                    },
                ),
                rollback=f"run {pre}.disable-old.{_safe(server)}.{slug(name)} again",
                runbook=_rollback_runbook(server, phase),
            )
        )
    # The alias goes back only to old connectors that are there and enabled again.
    enabled = tuple(s.id for s in steps if s.id.startswith(f"{pre}.rollback.enable-old."))
    return [
        replace(s, prerequisites=(*s.prerequisites, *enabled))
        if s.id.startswith(f"{pre}.rollback.repoint.")
        else s
        for s in steps
    ]


def _enable_old_id(pre: str, identity: str) -> str:
    """``relay.rollback.enable-old.<old server>.<connector>``: the rollback step that enables an old connector."""
    server, _, name = identity.partition("\\")
    return f"{pre}.rollback.enable-old.{_safe(server)}.{slug(name)}"


def _rollback_guards(
    inventory: Inventory, relay_plan: RelayPlan, pre: str
) -> dict[int, dict[str, Any]]:
    """Per planned connector (``id``): what its rollback on the new server checks before it changes anything
    (review 4, R2): the DNS aliases its clients use must no longer resolve to this server's addresses, and
    the old connectors they go back to must exist and be enabled (``successors``; their enable steps are
    prerequisites where the rollback has them)."""
    made = [*relay_plan.connectors, *relay_plan.internal]
    aliases: dict[int, list[str]] = {}
    for alias, group in alias_groups(inventory, made):
        for pc in group:
            if alias:
                aliases.setdefault(id(pc), []).append(alias)
    enables = {ident.lower() for pc in relay_plan.connectors for ident in _sources(pc)}
    out: dict[int, dict[str, Any]] = {}
    for pc in made:
        server = inventory.server(pc.server)
        out[id(pc)] = {
            "aliases": sorted(set(aliases.get(id(pc), [])), key=str.lower),
            "addresses": _sorted_addresses(
                {str(a) for a in (server.ip_addresses if server else ()) if not a.is_link_local}
            ),
            "successors": list(_sources(pc)),
            "enable_ids": [
                _enable_old_id(pre, ident) for ident in _sources(pc) if ident.lower() in enables
            ],
        }
    return out


def _rollback_permission(
    inventory: Inventory,
    pc: PlannedConnector,
    pre: str,
    phase: Phase,
    alias_back: tuple[str, ...] = (),
    guards: Mapping[int, Mapping[str, Any]] | None = None,
) -> Step:
    """Rollback of ``permission``: remove the Accept-Any-Recipient grant migrator made, once the clients
    are back on the old connectors (the same prerequisites and checks as the removal)."""
    key = connector_key(pc)
    params = _connector_params(inventory, pc)
    guard = dict((guards or {}).get(id(pc), {}))
    return Step(
        id=f"{pre}.rollback.permission.{key}",
        phase=phase,
        title=f"Remove {ACCEPT_ANY_RECIPIENT} for ANONYMOUS LOGON from '{pc.name}'",
        target=pc.identity,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=5,
        verification="the script reads the permissions back and checks the grant is gone",
        instructions=_guard_text(inventory, phase, pc, alias_back),
        action=Action(
            "relay.rollback-permission",
            {
                **params,
                "user": ANONYMOUS_LOGON,
                "extended_right": ACCEPT_ANY_RECIPIENT,
                **_guard_params(guard),
            },
        ),
        rollback=f"run {pre}.permission.{key} again",
        prerequisites=(*alias_back, *guard.get("enable_ids", ())),
        runbook=_rollback_runbook(pc.server, phase),
    )


def _guard_params(guard: Mapping[str, Any]) -> dict[str, Any]:
    """The helper's checks before a rollback changes a new server (aliases, addresses, successors)."""
    return {
        "aliases": list(guard.get("aliases", ())),
        "addresses": list(guard.get("addresses", ())),
        "successors": list(guard.get("successors", ())),
    }


def _guard_text(
    inventory: Inventory, phase: Phase, pc: PlannedConnector, alias_back: tuple[str, ...]
) -> str:
    old_label = _old_label(inventory, phase, pc.source_identity.partition("\\")[0])
    return (
        f"Repoint clients back to the {old_label} servers first"
        + (f" ({', '.join(alias_back)})" if alias_back else "")
        + f"; the script refuses while a DNS alias of these clients still resolves to {pc.server}"
        f" or while {', '.join(_sources(pc))} is missing or disabled (they would be refused relay,"
        " 550 5.7.54)."
    )


def _rollback_remove(
    inventory: Inventory,
    pc: PlannedConnector,
    pre: str,
    phase: Phase,
    gone_first: list[PlannedConnector],
    alias_back: tuple[str, ...] = (),
    guards: Mapping[int, Mapping[str, Any]] | None = None,
) -> Step:
    """Rollback of ``create``: remove the connector migrator made (only while it carries the marker).

    ``gone_first``: for an internal-only connector, the relay connectors of the same server: their
    removals are its prerequisites, and the helper refuses to remove it while one of them is still
    there (``-Only`` included), so its clients never fall into a relay connector's range.
    """
    guard = dict((guards or {}).get(id(pc), {}))
    after = (
        *alias_back,
        *guard.get("enable_ids", ()),
        *(f"{pre}.rollback.remove.{connector_key(r)}" for r in gone_first),
    )
    return Step(
        id=f"{pre}.rollback.remove.{connector_key(pc)}",
        phase=phase,
        title=f"Remove receive connector '{pc.name}' from {pc.server}",
        target=pc.identity,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=5,
        reversible=False,
        verification="the script checks the connector is gone on the pinned domain controller",
        instructions=(
            "Removes the connector only if it still carries migrator's Comment marker. "
            + _guard_text(inventory, phase, pc, alias_back)
            + (
                " It goes last: its clients sit inside a relay connector's range, which must be"
                " gone before they can land on it."
                if gone_first
                else ""
            )
        ),
        action=Action(
            "relay.rollback-remove",
            {
                **_connector_params(inventory, pc),
                "gone_first": [r.name for r in gone_first],
                **_guard_params(guard),
            },
        ),
        prerequisites=after,
        runbook=_rollback_runbook(pc.server, phase),
    )


def _recreate_old(
    inventory: Inventory,
    pre: str,
    phase: Phase,
    server: str,
    name: str,
    old_connectors: Mapping[str, ReceiveConnector],
    classified: Mapping[str, Classification],
) -> Step | None:
    """Roll back the removal of an old connector: recreate it as the inventory shows it.

    Exchange 2010 has no ``-TransportRole`` (its one transport service takes
    every connector): the 2010 form leaves it out; a 2016 connector of the
    onward phase is recreated on Front End Transport. The Accept-Any-Recipient
    grants come from the inventory's AD permissions (for a planned 2016
    connector: ANONYMOUS LOGON where it was an anonymous relay).
    """
    identity = f"{server}\\{name}"
    low = identity.lower()
    found = classified.get(low)
    kind = found.kind if found is not None else None
    old = old_connectors.get(low)
    if old is None and found is not None:
        old = found.connector
    if old is None:
        return None
    grants = sorted(
        {
            p.user
            for p in inventory.permissions_for(identity)
            # the groups' own entries (Exchange Servers...) come back with -PermissionGroups
            if not p.deny
            and not p.inherited
            and is_anonymous_trustee(p.user)
            and any(r.lower() == ACCEPT_ANY_RECIPIENT.lower() for r in p.extended_rights)
        }
    )
    if not grants and kind is ConnectorKind.ANONYMOUS_RELAY:
        grants = [ANONYMOUS_LOGON]
    version_2010 = phase is Phase.RELAY
    params: dict[str, Any] = {
        "server": server,
        "name": name,
        "identity": identity,
        "bindings": [str(b) for b in old.bindings],
        # as the export wrote them (Exchange's own text, which the read-back compares with), zone
        # ranges included: the old connector is recreated on its own server, where the zone is its own
        "remote_ip_ranges": [r.as_written() for r in old.remote_ip_ranges],
        "permission_groups": list(old.permission_groups),
        "auth_mechanism": list(old.auth_mechanism),
        "fqdn": old.fqdn,
        "max_message_size_bytes": old.max_message_size_bytes,
        "comment": old.comment,
        # 2010: the parameter does not exist; 2013+: relay belongs on Front End Transport
        "transport_role": None
        if version_2010
        else (old.transport_role or TransportRole.FRONTEND).value,
        "grants": grants,
        "extended_right": ACCEPT_ANY_RECIPIENT,
    }
    label = _old_label(inventory, phase, server)
    return Step(
        id=f"{pre}.rollback.recreate-old.{_safe(server)}.{slug(name)}",
        phase=phase,
        title=f"Recreate {label} connector '{name}' on {server} as it was (after its removal)",
        target=identity,
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=_old_runs_in(phase),
        duration_minutes=15,
        verification=(
            "the script reads the connector and its permission back from the pinned domain controller"
        ),
        instructions=(
            "Where relay.remove-old removed it (an existing connector is left as it is, then checked),"
            " before it is enabled again: recreates the connector with the bindings,"
            " ranges, permission groups, authentication, FQDN and size the inventory shows,"
            + (" in the Exchange 2010 form (no -TransportRole)," if version_2010 else "")
            + " then grants Ms-Exch-SMTP-Accept-Any-Recipient to "
            + (", ".join(grants) if grants else "nobody (it had no such grant)")
            + "."
        ),
        action=Action("relay.recreate-old", params),
        rollback=f"run {pre}.remove-old.{_safe(server)}.{slug(name)} again",
        runbook=_rollback_runbook(server, phase),
    )
