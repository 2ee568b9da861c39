"""Which steps are production cut-overs, and of which class (``Step.cutover``; review 2 M3, review 3 F3/F4).

The scheduler (:func:`migrator.plan.schedule.schedule_steps`) holds the rule: a window
occurrence holds cut-overs of one class only, and between cut-overs of two classes lies at
least one business day of production (:func:`migrator.plan.schedule.soak_end`). This module
only says which step belongs to which class; every class is named here once.

| class | steps |
|---|---|
| client namespace | ``servers.namespace`` |
| SMTP alias | ``relay.repoint.<alias>``, ``onward.relay.repoint.<alias>`` |
| relay disable | ``relay.disable-old.<server>.<connector>``, ``onward.relay.disable-old.<server>.<connector>``: the old servers' relay connectors stop, the moment a forgotten relay client fails (review 5, N2); a class of its own, not the alias's, because it follows the observation period, not the plan's cut-over chain, and so the certificate renewal need not wait for it |
| MX | ``mx.change.<domain>`` (its domains together) |
| inbound SMTP (NAT) | ``relay.nat.<rule>``: the public SMTP address moves to the new servers, the MX path in practice while the MX host is on-premises and EOP's path to on-premises after it; MX-class, but a night of its own, so a fault in inbound mail points at the NAT or at the MX change, never both; in the onward phase ``onward.load-balancer.<lb>`` (the pool behind the public address takes the final-version servers and drops the 2016 ones) and ``onward.nat.<rule>`` (review 5, N3) |
| outbound and hybrid mail flow | ``servers.send-connector.<connector>`` (Internet and partner send connectors), the HCW and the hybrid connectors (``hybrid.configure``, ``send-connector-add``, ``receive-path``, ``hcw-rerun``, ``send-connector-remove-old``), ``onward.send-connectors``, ``onward.hybrid`` |
| identity match | ``identity.remote-mailbox.<batch>`` (on-premises mail to those users now routes to Exchange Online); the match itself (roles off, ImmutableId, move into sync scope, sync, verify, roles back) follows it in the same night without a window of its own: a Monday complaint of a matched user (sign-in, address, GAL, mail to them) points at the identity rollback, a hybrid mail fault at the mail-flow one (review 5, n6) |
| first wave | ``moves.complete.<first on-premises user wave>`` |
| wave completion | ``moves.complete.<every other user wave>`` (Exchange Online waves too) |
| public folder go-live | ``public-folders.lock`` (the lock window through the switch of Exchange Online users) |
| decommission | ``decommission.arbitration-mailboxes``, ``.oab-generation``, ``.send-connector.<connector>`` (the 2010 servers leave the send connectors), ``.databases.<server>``, ``.cas-array-name.<array>`` (the RPC/TCP name leaves DNS), ``.remove.<server>``, and ``onward.remove-2016.<server>``: what the old servers still did stops; the checks before them (observation, client-access evidence) say nothing uses it, and a fault the next day points at the removal, not at a cut-over of the next phase |
| certificate <server> | ``servers.certificate-renew.<server>``: each server its own class (set by :mod:`.certificate_renewal`), so the second server's renewal follows a business day of the first in production |
| client namespace (onward) | ``onward.namespace``: the namespace moves to the final version, the same class as the first hop's |
| wave completion (onward) | ``onward.moves-complete`` |
| server removal <server> | ``onward.remove-2016.<server>``: each 2016 server its own class, so the two removals fall on separate nights with a business day of production between them (review 6, B2) |
"""

from __future__ import annotations

from collections.abc import Sequence

from migrator.plan.phases._common import step_id
from migrator.plan.steps import Phase, RunsIn, Step

CUTOVER_NAMESPACE = "client namespace"
CUTOVER_SMTP_ALIAS = "SMTP alias"
CUTOVER_RELAY_DISABLE = "relay disable"
CUTOVER_MX = "MX"
CUTOVER_INBOUND_NAT = "inbound SMTP (NAT)"
CUTOVER_MAIL_FLOW = "outbound and hybrid mail flow"
CUTOVER_FIRST_WAVE = "first wave"
CUTOVER_WAVE = "wave completion"
CUTOVER_PUBLIC_FOLDERS = "public folder go-live"
CUTOVER_IDENTITY = "identity match"
CUTOVER_DECOMMISSION = "decommission"
CUTOVER_CERTIFICATE = "certificate"
CUTOVER_REMOVAL = "server removal"
"""Removal of a 2016 server in the onward phase: one class per server (``removal_cutover``)."""
"""Renewal of the namespace certificate: one class per server (``certificate_cutover``)."""

_NAMESPACE = step_id(Phase.SERVERS, "namespace")
_PF_LOCK = "public-folders.lock"
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("relay.repoint.", CUTOVER_SMTP_ALIAS),
    ("onward.relay.repoint.", CUTOVER_SMTP_ALIAS),
    ("mx.change.", CUTOVER_MX),
    ("relay.nat.", CUTOVER_INBOUND_NAT),
    ("onward.load-balancer.", CUTOVER_INBOUND_NAT),
    ("onward.nat.", CUTOVER_INBOUND_NAT),
    ("relay.disable-old.", CUTOVER_RELAY_DISABLE),
    ("onward.relay.disable-old.", CUTOVER_RELAY_DISABLE),
    ("servers.send-connector.", CUTOVER_MAIL_FLOW),
    ("hybrid.configure.", CUTOVER_MAIL_FLOW),
    ("hybrid.send-connector-add.", CUTOVER_MAIL_FLOW),
    ("hybrid.receive-path.", CUTOVER_MAIL_FLOW),
    ("identity.remote-mailbox.", CUTOVER_IDENTITY),
    ("decommission.send-connector.", CUTOVER_DECOMMISSION),
    ("decommission.databases.", CUTOVER_DECOMMISSION),
    ("decommission.cas-array-name.", CUTOVER_DECOMMISSION),
    ("decommission.remove.", CUTOVER_DECOMMISSION),
    ("onward.remove-2016.", CUTOVER_DECOMMISSION),
)
_EXACT: dict[str, str] = {
    _NAMESPACE: CUTOVER_NAMESPACE,
    "hybrid.hcw-rerun": CUTOVER_MAIL_FLOW,
    "hybrid.send-connector-remove-old": CUTOVER_MAIL_FLOW,
    "onward.send-connectors": CUTOVER_MAIL_FLOW,
    "onward.hybrid": CUTOVER_MAIL_FLOW,
    _PF_LOCK: CUTOVER_PUBLIC_FOLDERS,
    "decommission.arbitration-mailboxes": CUTOVER_DECOMMISSION,
    "decommission.oab-generation": CUTOVER_DECOMMISSION,
    step_id(Phase.ONWARD, "namespace"): CUTOVER_NAMESPACE,
    step_id(Phase.ONWARD, "moves-complete"): CUTOVER_WAVE,
}
_REMOVE_2016 = step_id(Phase.ONWARD, "remove-2016") + "."


def cutover_kinds(steps: Sequence[Step]) -> dict[str, str]:
    """Step id -> class of production cut-over (``Step.cutover``), for the steps that are one.

    A fault the morning after must point at one change: after a namespace change Outlook and
    mobile clients fail one way, after an alias repoint relay clients another, after an MX
    change or a NAT move inbound Internet mail (each its own class), after a send connector or HCW change outbound and hybrid
    mail, after the old relay connectors' disable a forgotten relay client, after a wave completion the moved users. The completion of the first on-premises
    user wave is a class of its own (the pilot in production), the later completions another.
    """
    out: dict[str, str] = {}
    copy = step_id(Phase.MOVES, "copy") + "."
    waves = sorted(s.id.removeprefix(copy) for s in steps if s.id.startswith(copy))
    onprem = sorted(
        s.id.removeprefix(copy)
        for s in steps
        if s.id.startswith(copy) and s.runs_in is not RunsIn.EXCHANGE_ONLINE
    )
    for wave in waves:
        first = bool(onprem) and wave == onprem[0]
        out[step_id(Phase.MOVES, "complete", wave)] = CUTOVER_FIRST_WAVE if first else CUTOVER_WAVE
    starts = tuple(p for p, _k in _PREFIXES)  # (most steps start with none: one test for them)
    for s in steps:
        kind = _EXACT.get(s.id) or (
            next((k for p, k in _PREFIXES if s.id.startswith(p)), "")
            if s.id.startswith(starts)
            else ""
        )
        if s.id.startswith(_REMOVE_2016):
            kind = removal_cutover(s.id.removeprefix(_REMOVE_2016))
        if kind:
            out[s.id] = kind
    ids = {s.id for s in steps}
    return {k: v for k, v in out.items() if k in ids}


__all__ = [
    "CUTOVER_DECOMMISSION",
    "CUTOVER_FIRST_WAVE",
    "CUTOVER_IDENTITY",
    "CUTOVER_INBOUND_NAT",
    "CUTOVER_MAIL_FLOW",
    "CUTOVER_MX",
    "CUTOVER_NAMESPACE",
    "CUTOVER_PUBLIC_FOLDERS",
    "CUTOVER_RELAY_DISABLE",
    "CUTOVER_REMOVAL",
    "CUTOVER_SMTP_ALIAS",
    "CUTOVER_WAVE",
    "cutover_kinds",
    "removal_cutover",
]


def certificate_cutover(server: str) -> str:
    """The cut-over class of a certificate renewal on ``server`` and of its checks in the same window:
    one server per night, the next a business day later (review 3, F4)."""
    return f"{CUTOVER_CERTIFICATE} {server}"


def removal_cutover(server: str) -> str:
    """The cut-over class of removing ``server`` (a 2016 server, onward phase): one server per night,
    the next a business day later (review 6, B2)."""
    return f"{CUTOVER_REMOVAL} {server}"
