"""The whole job as library calls: load -> check -> plan -> render.

:func:`analyse` checks an inventory and plans its relay and identity parts;
:func:`plan_folder` does everything ``migrator plan`` does. Nothing is
written while an error-level finding stands, and what is written goes to a
staging folder first, so a failure never leaves half a plan behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from migrator import outdir
from migrator.checks.client_access import check_client_access
from migrator.checks.evidence import evidence_findings
from migrator.checks.identity import check_identity, held_back
from migrator.checks.inventory import check_inventory_basics
from migrator.checks.public_folders import check_public_folders
from migrator.errors import InventoryError, MigratorError, Problem
from migrator.fileio import atomic_write_bytes, not_a_file, staged_writes
from migrator.folder_lock import plan_lock
from migrator.inventory import load_inventory
from migrator.iprange import IPRange
from migrator.logs.client_evidence import ClientEvidence, load_client_evidence
from migrator.logs.evidence import Evidence, load_evidence
from migrator.memory import kept_alive
from migrator.model import Finding, Inventory, Lifecycle, Severity, Tenant
from migrator.plan.client_access import client_access_findings, no_evidence_findings
from migrator.plan.identity import IdentityMatch, match_identities
from migrator.plan.identity_steps import identity_steps
from migrator.plan.moves import MovePlan, override_problems, plan_moves
from migrator.plan.moves_steps import moves_rollback_steps, moves_steps
from migrator.plan.nat import nat_steps, with_nat_rollback
from migrator.plan.phases import LOWERED_TTL_SECONDS, SERVERS_READY, assemble_plan, plan_findings
from migrator.plan.phases._common import estate
from migrator.plan.phases.certificate_renewal import certificate_expiry_findings
from migrator.plan.phases.client_access import client_access_rollback_steps
from migrator.plan.phases.mx import spf_with_exchange_online
from migrator.plan.phases.onward import onward_rollback_steps
from migrator.plan.public_folder_hybrid import (
    public_folder_hybrid_findings,
    public_folder_hybrid_rollback_steps,
    public_folder_hybrid_steps,
)
from migrator.plan.public_folder_steps import public_folder_rollback_steps
from migrator.plan.relay import RelayPlan, plan_onward_relay, plan_relay
from migrator.plan.relay_checks import check_onward_relay, check_relay
from migrator.plan.relay_steps import relay_rollback_steps, relay_steps
from migrator.plan.routing_addresses import routing_address_steps
from migrator.plan.schedule import holiday_soak_findings
from migrator.plan.steps import MigrationPlan, Phase
from migrator.progress import stage
from migrator.render.checklist import ChecklistResult, backup_path, write_checklist
from migrator.render.findings import FINDINGS_FILE, write_findings
from migrator.render.identity_report import write_identity_batches, write_identity_report
from migrator.render.inventory_json import write_inventory_json
from migrator.render.moves_output import mailbox_rows, moves_json, write_moves_outputs
from migrator.render.mx_recipients import write_recipient_csvs
from migrator.render.plan_json import write_plan_json
from migrator.render.public_folders import write_public_folder_forecast
from migrator.render.relay_report import write_relay_report
from migrator.render.remote_mailboxes import write_remote_mailbox_csvs
from migrator.render.report import ReportData, ServerLine, write_report
from migrator.render.runbooks import RunbookContext, write_runbooks
from migrator.render.views import DnsRow, IdentityRow, RelayClientRow, RelayRow, WorkbookData
from migrator.tracking.mailboxes import MailboxSheet, read_mailbox_sheet

EVIDENCE_FILE = "relay-evidence.json"
"""Name of the evidence file ``migrator logs scan`` writes and the plan reads."""
CLIENT_EVIDENCE_FILE = "client-evidence.json"
"""Name of the client-access evidence file ``migrator logs scan`` writes and the plan reads."""
CHECKLIST = "checklist.xlsx"
"""Name of the tracking workbook in the output folder."""
MANIFEST = ".migrator-files.json"
"""Which files the last plan wrote, so a re-plan removes the ones it no longer writes."""


@dataclass(frozen=True)
class Analysis:
    """An inventory checked, with its relay and identity plans."""

    inventory: Inventory
    """The inventory."""
    relay: RelayPlan
    """Relay mapping."""
    identity: IdentityMatch
    """Identity matching."""
    findings: tuple[Finding, ...]
    """Every finding, errors first."""
    evidence: Evidence | None = None
    """Protocol log evidence, where a scan was given."""
    onward_relay: RelayPlan | None = None
    """Relay mapping of the onward move (2016 -> final version); None where not planned."""
    moves: MovePlan | None = None
    """Mailbox move waves; None where the inventory has no mailboxes."""
    mailbox_sheet: MailboxSheet | None = None
    """What the team typed in the old workbook's Mailboxes sheet (overrides, status, notes)."""
    client_evidence: ClientEvidence | None = None
    """Client-access log evidence (IIS, RPC Client Access, HttpProxy), where a scan was given."""

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The error-level findings (any one stops the plan)."""
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)


@dataclass(frozen=True)
class PlanOutput:
    """What :func:`plan_folder` did."""

    analysis: Analysis
    """Findings and sub-plans."""
    plan: MigrationPlan | None
    """The plan, or None when errors stopped it."""
    written: tuple[Path, ...] = ()
    """Files written, sorted."""
    checklist: ChecklistResult | None = None
    """What happened to the tracking workbook."""


ANALYSE_STAGES = 5
"""How many stages :func:`analyse` reports (:mod:`migrator.progress`)."""
CHECK_STAGES = 1 + ANALYSE_STAGES
"""Stages of :func:`check_path`."""
PLAN_STAGES = CHECK_STAGES + 1 + 5
"""Stages of :func:`plan_folder`: check, build the plan, write the outputs."""


def analyse(
    inventory: Inventory,
    evidence: Evidence | None = None,
    wave_overrides: Mapping[str, int] | None = None,
    throughput: Mapping[str, float] | None = None,
    client_evidence: ClientEvidence | None = None,
) -> Analysis:
    """Check an inventory and plan its relay, identity and moves parts (no files are touched).

    ``client_evidence`` (``client-evidence.json``) adds the client-access findings
    and gates the removal of each 2010 server in the plan.
    """
    stage("planning relay connectors")
    relay = plan_relay(inventory)
    onward = plan_onward_relay(inventory, relay)
    stage("checking identities")
    identity_findings = check_identity(inventory)
    stage("matching identities")
    identity = match_identities(inventory, held_back(identity_findings))
    stage("checking relay")
    relay_checks = check_relay(inventory, relay)
    stage("checking the onward move")
    findings: list[Finding] = [
        *check_inventory_basics(inventory),
        *check_client_access(inventory),
        *check_public_folders(inventory),
        *relay.findings,
        *relay_checks,
        *onward.findings,
        *check_onward_relay(inventory, relay, onward, relay_checks),
        *identity_findings,
        *plan_findings(inventory, identity),
    ]
    if evidence is not None:
        findings += evidence_findings(inventory, evidence, relay.ranges_by_source())
    moves = plan_moves(inventory, wave_overrides, throughput) if inventory.mailboxes else None
    if moves is not None:
        findings += moves.findings
    findings += public_folder_hybrid_findings(inventory, moves)
    if client_evidence is not None:
        findings += client_access_findings(inventory, client_evidence, moves)
    else:
        findings += no_evidence_findings(inventory)
    unique = sorted(set(findings), key=Finding.sort_key)
    return Analysis(
        inventory,
        relay,
        identity,
        tuple(unique),
        evidence,
        onward,
        moves,
        client_evidence=client_evidence,
    )


def check_path(
    path: Path,
    evidence_path: Path | None = None,
    sheet: MailboxSheet | None = None,
    throughput: Mapping[str, float] | None = None,
    client_evidence_path: Path | None = None,
) -> Analysis:
    """Load and analyse an inventory folder or file (what ``migrator check`` does).

    ``client_evidence_path`` names a client-evidence.json; without it, the one
    beside the inventory is read, if any.

    ``sheet`` is the old workbook's Mailboxes sheet: its Wave (override) values pin
    mailboxes; a bad or unknown override is an error finding.
    """
    stage("loading the inventory")
    inventory = load_inventory(path)  # the collector paused inside: acyclic data (migrator.memory)
    with kept_alive():  # the collector on for the analysis, not walking the inventory again
        analysis = analyse(
            inventory,
            _evidence(path, evidence_path),
            sheet.overrides if sheet is not None else None,
            throughput,
            _client_evidence(path, client_evidence_path),
        )
    if sheet is None:
        return analysis
    known = sheet.waves  # the waves of the plan the team typed into
    typed = {k: (v.override or 0, v.where) for k, v in sheet.overrides_where().items()}
    problems = [*sheet.problems, *override_problems(typed, inventory, known)]
    errors = [
        Finding(Severity.ERROR, "moves.override", p.where, p.message, "correct or clear the cell")
        for p in problems
    ]
    present = {m.primary_smtp for m in inventory.mailboxes}
    for smtp, row in sorted(sheet.rows.items()):
        if smtp not in present and (row.status or row.notes or row.override is not None):
            errors.append(
                Finding(
                    Severity.WARNING,
                    "moves.row-dropped",
                    row.where,
                    f"'{smtp}' is no longer in the inventory: its row leaves the Mailboxes sheet "
                    f"with what was typed (override {row.override}, status '{row.status}', "
                    f"notes '{row.notes}')",
                    "copy the values elsewhere if they still matter (the old workbook is kept "
                    "as a backup)",
                )
            )
    return replace(
        analysis,
        findings=tuple(sorted({*analysis.findings, *errors}, key=Finding.sort_key)),
        mailbox_sheet=sheet,
    )


def _evidence(path: Path, explicit: Path | None) -> Evidence | None:
    beside = (path if path.is_dir() else path.parent) / EVIDENCE_FILE
    chosen = explicit if explicit is not None else (beside if os.path.lexists(beside) else None)
    if chosen is None:
        return None
    why = not_a_file(chosen)
    if why is not None:
        raise InventoryError([Problem(str(chosen), f"{why}; expected a relay-evidence.json file")])
    try:
        return load_evidence(chosen)
    except RecursionError:
        raise InventoryError(
            [
                Problem(
                    str(chosen),
                    "is nested too deep to read; expected a relay-evidence.json as "
                    "'migrator logs scan' writes it",
                )
            ]
        ) from None


def _client_evidence(path: Path, explicit: Path | None) -> ClientEvidence | None:
    beside = (path if path.is_dir() else path.parent) / CLIENT_EVIDENCE_FILE
    chosen = explicit if explicit is not None else (beside if os.path.lexists(beside) else None)
    if chosen is None:
        return None
    why = not_a_file(chosen)
    if why is not None:
        raise InventoryError([Problem(str(chosen), f"{why}; expected a client-evidence.json file")])
    try:
        return load_client_evidence(chosen)
    except RecursionError:
        raise InventoryError(
            [
                Problem(
                    str(chosen),
                    "is nested too deep to read; expected a client-evidence.json as "
                    "'migrator logs scan' writes it",
                )
            ]
        ) from None


def build_plan(source: Inventory | Analysis, start: dt.date | None = None) -> MigrationPlan:
    """The migration plan: ordered, scheduled steps of every phase (relay and identity included).

    The one plan builder: ``migrator graph``, ``migrator plan`` and the library
    all come here. ``source`` is an inventory (it is analysed first, so users an
    identity rule holds back stay out of the batches) or an :class:`Analysis`
    already made. ``start`` overrides the inventory's ``plan.start``. Error-level
    findings do not stop this function; :func:`plan_folder` refuses to write a
    plan while one stands.
    """
    analysis = source if isinstance(source, Analysis) else analyse(source)
    inv = analysis.inventory
    stage("building the plan")
    extra = [
        *relay_steps(inv, analysis.relay),
        *nat_steps(inv, analysis.relay, SERVERS_READY),
        *identity_steps(inv, analysis.identity),
    ]
    if analysis.moves is not None:
        extra += moves_steps(inv, analysis.moves, SERVERS_READY)
        extra += routing_address_steps(inv, analysis.moves, SERVERS_READY)
    extra += public_folder_hybrid_steps(inv, analysis.moves)
    return assemble_plan(
        inv,
        extra,
        start,
        analysis.onward_relay,
        analysis.identity,
        analysis.moves,
        analysis.client_evidence,
        relay=analysis.relay,
    )


def plan_folder(
    path: Path,
    out_dir: Path,
    *,
    start: dt.date | None = None,
    keep_status: Path | None = None,
    evidence_path: Path | None = None,
    throughput: Mapping[str, float] | None = None,
    client_evidence_path: Path | None = None,
) -> PlanOutput:
    """Do the main job: check, plan and write every output into ``out_dir``.

    ``throughput`` (GB/hour per 2010 server, lower-case names) replaces the moves
    policy's assumption: ``migrator moves forecast`` passes what it measured.

    With an error-level finding nothing is written and ``plan`` is None.
    ``keep_status`` names a workbook whose tracking is carried over; without
    it, the one already in ``out_dir`` is. One run at a time per folder: while
    another holds ``.OUT.lock`` beside it, :class:`~migrator.folder_lock.FolderLockedError` names that
    run (:mod:`migrator.folder_lock`).
    """
    target = outdir.output_folder(out_dir)
    with plan_lock(target):  # before the team's workbook is read: one run at a time per folder
        return _plan_folder(
            path,
            out_dir,
            target,
            start,
            keep_status,
            evidence_path,
            throughput,
            client_evidence_path,
        )


def _plan_folder(
    path: Path,
    out_dir: Path,
    target: Path,
    start: dt.date | None,
    keep_status: Path | None,
    evidence_path: Path | None,
    throughput: Mapping[str, float] | None,
    client_evidence_path: Path | None,
) -> PlanOutput:
    existing = target / CHECKLIST
    source = keep_status if keep_status is not None else (existing if existing.is_file() else None)
    sheet = read_mailbox_sheet(source) if source is not None else None
    analysis = check_path(path, evidence_path, sheet, throughput, client_evidence_path)
    if not analysis.inventory.target_servers:
        no_targets = Finding(
            Severity.ERROR,
            "plan.no-target-servers",
            analysis.inventory.root,
            "no target servers are defined, so there is nothing to migrate to",
            "add the new servers under servers: (lifecycle: target) and relay.targets per site "
            "to inventory.yaml",
        )
        analysis = replace(
            analysis, findings=tuple(sorted({*analysis.findings, no_targets}, key=Finding.sort_key))
        )
    if analysis.errors:
        return PlanOutput(analysis, None)
    with kept_alive():  # the inventory and the analysis live to the end (migrator.memory)
        plan = build_plan(analysis, start)
        late = certificate_expiry_findings(analysis.inventory, plan)  # needs the schedule
        late += holiday_soak_findings(plan, analysis.inventory.policy.holidays)
        if late:
            analysis = replace(
                analysis,
                findings=tuple(sorted({*analysis.findings, *late}, key=Finding.sort_key)),
            )
            if analysis.errors:  # a certificate the plan cannot renew in time (review 2, M10)
                return PlanOutput(analysis, None)
        return write_outputs(analysis, plan, out_dir, keep_status=keep_status)


def write_outputs(
    analysis: Analysis,
    plan: MigrationPlan,
    out_dir: Path,
    *,
    keep_status: Path | None = None,
) -> PlanOutput:
    """Render every output to a staging folder, then switch it in place of ``out_dir`` whole.

    See :mod:`migrator.outdir`: a reader (or a killed run) finds the old plan
    or the new one, never a mix; a failure leaves ``out_dir`` as it was.
    """
    target = outdir.output_folder(out_dir)
    with plan_lock(target):
        return _write_outputs(analysis, plan, out_dir, target, keep_status)


def _write_outputs(
    analysis: Analysis,
    plan: MigrationPlan,
    out_dir: Path,
    target: Path,
    keep_status: Path | None,
) -> PlanOutput:
    try:
        staging = outdir.staging_folder(target)
    except OSError as exc:
        raise _write_error(exc, out_dir) from exc
    try:
        existing = target / CHECKLIST
        source = (
            keep_status if keep_status is not None else (existing if existing.is_file() else None)
        )
        # straight into the staging folder: seal() makes every file durable at once
        with staged_writes(staging):
            checklist = _render_all(analysis, plan, staging, source)
        written = _stage_and_switch(staging, target)
    except OSError as exc:
        raise _write_error(exc, out_dir) from exc
    finally:
        outdir.discard(staging)
    final = ChecklistResult(
        path=target / CHECKLIST,
        backup=written.backup,
        carried_from=checklist.carried_from,
        kept=checklist.kept,
        removed=checklist.removed,
        new=checklist.new,
    )
    return PlanOutput(analysis, plan, written.files, final)


def _write_error(exc: OSError, out_dir: Path) -> MigratorError:
    name = exc.filename if exc.filename is not None else out_dir
    return MigratorError(
        f"{name}: cannot be written ({exc.strerror or exc}); expected a folder with room you "
        f"can write to; nothing in {out_dir} was changed"
    )


def _render_all(
    analysis: Analysis, plan: MigrationPlan, out: Path, keep_status: Path | None
) -> ChecklistResult:
    inv = analysis.inventory
    # The workbook first: reading the team's old tracking may fail, and then nothing is written.
    stage("writing the workbook")
    views = build_views(analysis)
    checklist = write_checklist(out / CHECKLIST, workbook_data(analysis, plan, views), keep_status)
    context = RunbookContext(
        inv.organisation, plan.plan_date.isoformat(), inv.policy.domain_controller
    )
    stage("writing the runbooks")
    # One call for every runbook: each folder's helper holds what all its runbooks call.
    runbook_steps = [
        *plan.steps,
        *with_nat_rollback(inv, analysis.relay, relay_rollback_steps(inv, analysis.relay)),
        *client_access_rollback_steps(inv, estate(inv)),
        *onward_rollback_steps(inv, estate(inv)),
        *public_folder_rollback_steps(inv),
    ]
    if analysis.onward_relay is not None:
        runbook_steps += relay_rollback_steps(inv, analysis.onward_relay, Phase.ONWARD)
    if analysis.moves is not None:
        runbook_steps += moves_rollback_steps(analysis.moves)
    runbook_steps += public_folder_hybrid_rollback_steps(inv, analysis.moves)
    write_runbooks(runbook_steps, out, context)
    stage("writing the reports")
    write_relay_report(
        out / "relay-report.md", inv, analysis.relay, analysis.findings, analysis.onward_relay
    )
    write_identity_batches(analysis.identity, out)
    write_remote_mailbox_csvs(analysis.identity, inv.tenant or Tenant(), out)
    write_recipient_csvs(inv, analysis.identity, out)
    write_identity_report(analysis.identity, out, inv.organisation, analysis.findings)
    if analysis.moves is not None:
        write_moves_outputs(inv, analysis.moves, plan, out)
    write_public_folder_forecast(inv, out)
    stage("writing plan.json and inventory.json")
    write_plan_json(
        plan,
        out / "plan.json",
        moves_json(analysis.moves, plan) if analysis.moves is not None else None,
    )
    write_inventory_json(inv, out / "inventory.json")
    stage("writing report.html and findings.txt")
    write_report(out / "report.html", report_data(analysis, plan, views))
    write_findings(analysis.findings, out / FINDINGS_FILE)
    return checklist


@dataclass(frozen=True)
class _Moved:
    files: tuple[Path, ...]
    backup: Path | None


def _stage_and_switch(staging: Path, target: Path) -> _Moved:
    """Complete the staging folder (backup, the team's files, manifest), then switch it in."""
    new_files = sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file())
    old_outputs = _old_outputs(target)
    outdir.check_conflicts(target, new_files)
    backup = None
    current = target / CHECKLIST
    if current.is_file():
        # Today's backup rule: the team's workbook is kept, named from its own time.
        backup = backup_path(current)
        if not backup.exists():
            shutil.copy2(current, staging / backup.name)
    outdir.carry_over(target, staging, old_outputs)
    keep = sorted(r.as_posix() for r in new_files)
    atomic_write_bytes(staging / MANIFEST, (json.dumps(keep, indent=1) + "\n").encode("utf-8"))
    outdir.seal(staging)
    outdir.switch(staging, target)
    return _Moved(tuple(target / r for r in new_files), backup)


def _old_outputs(target: Path) -> set[str]:
    """What the previous plan wrote (its manifest); those files are not carried over."""
    manifest = target / MANIFEST
    try:
        listed = json.loads(manifest.read_text("utf-8")) if manifest.is_file() else []
    except (ValueError, OSError, RecursionError):
        listed = []
    if not isinstance(listed, list):
        return {MANIFEST}
    # Older versions wrote the platform's separators (backslashes on Windows).
    names = [x.replace("\\", "/") for x in listed if isinstance(x, str)]
    safe = {x for x in names if not Path(x).is_absolute() and ".." not in Path(x).parts}
    return safe | {MANIFEST}


# --------------------------------------------------------------------------- views for renderers


def relay_rows(analysis: Analysis) -> list[RelayRow]:
    """One row per 2010 receive connector and what replaces it, then the 2016 -> SE hop."""
    by_where = _findings_by_where(analysis.findings)
    rows = _relay_rows(analysis.relay, by_where, analysis.evidence, carried_only=False)
    if analysis.onward_relay is not None:
        rows += _relay_rows(analysis.onward_relay, by_where, None, carried_only=True)
    return rows


def _findings_by_where(findings: Sequence[Finding]) -> dict[str, tuple[str, ...]]:
    """Each location's findings as one line each, indexed once (not scanned per connector)."""
    out: dict[str, list[str]] = {}
    for f in findings:
        out.setdefault(f.where, []).append(f"{f.severity.value}: {f.message}")
    return {where: tuple(lines) for where, lines in out.items()}


def _relay_rows(
    plan: RelayPlan,
    findings_at: Mapping[str, tuple[str, ...]],
    evidence: Evidence | None,
    *,
    carried_only: bool,
) -> list[RelayRow]:
    by_source: dict[str, list[str]] = {}
    ranges: dict[str, list[str]] = {}
    methods: dict[str, str] = {}
    for pc in plan.connectors:
        by_source.setdefault(pc.source_identity, []).append(pc.identity)
        carried = ranges.setdefault(pc.source_identity, [])
        for r in pc.remote_ip_ranges:
            if r.exchange_text() not in carried:
                carried.append(r.exchange_text())
        methods[pc.source_identity] = pc.method.value
    rows = []
    for c in plan.classifications:
        ident = c.connector.identity
        if carried_only and ident not in by_source:
            continue
        rows.append(
            RelayRow(
                old_connector=ident,
                new_connectors=tuple(by_source.get(ident, ())),
                ranges=tuple(ranges.get(ident, ()))
                or tuple(r.as_written() for r in c.connector.remote_ip_ranges),
                method=methods.get(ident, "") or f"not migrated ({c.kind.value})",
                findings=findings_at.get(ident, ()),
                kind=c.kind.value,
                reason=c.reason,
                evidence=_evidence_text(evidence, ident),
            )
        )
    return rows


def _evidence_text(evidence: Evidence | None, identity: str) -> str:
    """What the scanned protocol logs show for one connector (empty where none were scanned)."""
    if evidence is None:
        return ""
    seen = evidence.connector(identity)
    if seen is None or not seen.sessions:
        return "no sessions in the scanned logs"
    return (
        f"{seen.sessions} sessions, {seen.messages} messages from {len(seen.clients)} "
        f"client address(es); last seen {seen.last_seen}"
    )


def _dns_views(inv: Inventory) -> list[DnsRow]:
    rows: list[DnsRow] = []
    target = inv.policy.mail_flow_target.value
    for zone in sorted(inv.dns_zones, key=lambda z: z.domain):
        after_host = inv.tenant.mx_host(zone.domain) if inv.tenant else ""
        for mx in zone.mx:
            after = (
                f"{mx.preference} {after_host}"
                if target == "exchange-online" and after_host
                else f"{mx.preference} {mx.host}"
            )
            note = (
                f"lowered to {LOWERED_TTL_SECONDS} s before the change and restored after; mail flow after cut-over: {target}"
                + (
                    ""
                    if after_host or target != "exchange-online"
                    else "; the tenant reported no MX host"
                )
            )
            rows.append(
                DnsRow(
                    zone.domain,
                    "MX",
                    f"{mx.preference} {mx.host}",
                    after,
                    mx.ttl_seconds,
                    LOWERED_TTL_SECONDS,
                    note,
                )
            )
        if zone.spf:
            spf_after = spf_with_exchange_online(zone.spf) if inv.tenant is not None else zone.spf
            rows.append(
                DnsRow(
                    zone.domain,
                    "TXT (SPF)",
                    zone.spf,
                    spf_after,
                    zone.spf_ttl_seconds,
                    zone.spf_ttl_seconds,
                    "Exchange Online's include when the first mailbox sends from the cloud; on-premises addresses stay while relay clients send out through them",
                )
            )
    return rows


@dataclass(frozen=True)
class Views:
    """Rows more than one renderer shows, built once per plan (workbook and HTML report)."""

    relay: tuple[RelayRow, ...]
    """Old relay connectors and what replaces them."""
    dns: tuple[DnsRow, ...]
    """DNS records before and after."""


def build_views(analysis: Analysis) -> Views:
    """The shared rows of an analysis (each renderer lays them out its own way)."""
    return Views(tuple(relay_rows(analysis)), tuple(_dns_views(analysis.inventory)))


def workbook_data(
    analysis: Analysis, plan: MigrationPlan, views: Views | None = None
) -> WorkbookData:
    """The tracking workbook's content (``views`` built here where not given)."""
    views = views or build_views(analysis)
    inv = analysis.inventory
    hosts = dict(inv.host_names)
    client_rows: list[RelayClientRow] = []
    seen_clients = _evidence_by_connector(analysis)
    for c in analysis.relay.classifications:
        if not c.migrate:
            continue
        for r in c.connector.remote_ip_ranges:
            text = r.as_written()
            ev = seen_clients.get((c.connector.identity.lower(), text))
            client_rows.append(
                RelayClientRow(
                    c.connector.identity,
                    text,
                    (hosts[text],) if text in hosts else (),
                    ev[0] if ev else None,
                    ev[1] if ev else None,
                    ""
                    if analysis.evidence is None
                    else ("seen in the logs" if ev else "not seen in the scanned logs"),
                )
            )
    identity_rows = [
        IdentityRow(
            r.cloud_upn, r.onprem_dn or "; ".join(r.candidates), r.cloud_upn, r.outcome.value, r.fix
        )
        for r in analysis.identity.results
    ]
    return WorkbookData(
        plan=plan,
        findings=analysis.findings,
        relay_rows=views.relay,
        relay_client_rows=client_rows,
        identity_rows=identity_rows,
        dns_rows=views.dns,
        mailbox_rows=mailbox_rows(analysis.moves, analysis.mailbox_sheet)
        if analysis.moves is not None
        else (),
    )


def _evidence_by_connector(
    analysis: Analysis,
) -> dict[tuple[str, str], tuple[dt.datetime | None, int]]:
    """(connector identity lower-case, range text) -> (last seen, messages) from the evidence."""
    ev = analysis.evidence
    if ev is None:
        return {}
    out: dict[tuple[str, str], tuple[dt.datetime | None, int]] = {}
    for c in analysis.relay.classifications:
        seen = ev.connector(c.connector.identity)
        if seen is None:
            continue
        for r in c.connector.remote_ip_ranges:
            last: dt.datetime | None = None
            messages = 0
            for client in seen.clients:
                try:
                    address = IPRange.parse(client.address)
                except ValueError:
                    continue
                if r.contains(address):
                    messages += client.messages
                    when = _when(client.last_seen)
                    if when is not None and (last is None or when > last):
                        last = when
            if messages or last:
                out[(c.connector.identity.lower(), r.as_written())] = (last, messages)
    return out


def _when(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def report_data(analysis: Analysis, plan: MigrationPlan, views: Views | None = None) -> ReportData:
    """The HTML report's content (the timestamp is the plan date: no clock is read)."""
    views = views or build_views(analysis)
    inv = analysis.inventory
    servers = [
        ServerLine(
            s.name,
            s.version.label + (f" ({s.build})" if s.build else ""),
            s.site,
            s.lifecycle.value + (", hybrid" if s.hybrid else ""),
        )
        for s in sorted(
            inv.servers, key=lambda s: (s.lifecycle is Lifecycle.TARGET, s.name.lower())
        )
    ]
    counts = analysis.identity.counts()
    outcomes = [(o.value, n) for o, n in counts.items() if n]
    return ReportData(
        plan=plan,
        generated=f"for the plan date {plan.plan_date.isoformat()}",
        findings=analysis.findings,
        servers=servers,
        relay=views.relay,
        identity_outcomes=outcomes,
        dns=views.dns,
        windows=inv.policy.maintenance_windows,
        evidence_scanned=analysis.evidence is not None,
    )
