"""Helpers shared by the phase step builders: ids, runbook paths, inventory look-ups."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from migrator.model import (
    AcceptedDomainType,
    ADPermission,
    ExchangeVersion,
    Inventory,
    ReceiveConnector,
    Server,
    ServerRole,
)
from migrator.plan.steps import Phase
from migrator.relay_rights import is_relay_connector

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

DEFAULT_OLD_TTL_SECONDS = 86400
"""TTL assumed for an MX record the inventory does not describe (the longest common value)."""
LOWERED_TTL_SECONDS = 300
"""TTL the MX records are lowered to before the cut-over."""


@functools.lru_cache(maxsize=1 << 16)
def slug(text: str) -> str:
    """A step-id or file-name part: letters, digits, dot, underscore, hyphen; others become ``-``.

    Cached: the same server and connector names come back in most of a plan's step ids
    (400,000 ids at 300,000 users).
    """
    return _UNSAFE.sub("-", text.strip()).strip("-") or "unnamed"


_PHASE_PARTS = {phase: phase.value for phase in Phase}
"""Each phase's id part (a look-up: an enum's ``value`` is a property, and ids are made 400,000 times)."""


def step_id(phase: Phase, *parts: str) -> str:
    """``<phase>.<part>.<part>`` with each part made safe."""
    return ".".join([_PHASE_PARTS[phase], *map(slug, parts)])


def runbook(phase: Phase, topic: str) -> str:
    """``runbooks/<NN>-<phase>/<topic>.ps1``."""
    return f"runbooks/{phase.number}-{phase.value}/{slug(topic)}.ps1"


def by_name(servers: Iterable[Server]) -> list[Server]:
    """Servers sorted by lower-cased name (the plan's deterministic order)."""
    return sorted(servers, key=lambda s: s.name.lower())


@dataclass(frozen=True)
class Estate:
    """The inventory, pre-sorted into what the phase builders ask about."""

    legacy_2010: tuple[Server, ...]
    """Legacy Exchange 2010 servers, by name."""
    hop: tuple[Server, ...]
    """Target servers that coexist with 2010 (2016, or 2013), by name."""
    final: tuple[Server, ...]
    """Target servers of the final version (2019/SE) installed after 2010 is gone, by name."""
    relay_connectors: tuple[ReceiveConnector, ...]
    """2010 receive connectors that relay (anonymous accept-any-recipient or ExternalAuthoritative)."""

    @property
    def hop_mailbox(self) -> tuple[Server, ...]:
        """Hop servers that are not Edge servers."""
        return tuple(s for s in self.hop if not s.is_edge)

    @property
    def has_edge(self) -> bool:
        """Whether the organisation has (or plans) Edge Transport servers."""
        return any(s.is_edge for s in (*self.legacy_2010, *self.hop))


def estate(inv: Inventory) -> Estate:
    """Sort the inventory's servers and find the 2010 relay connectors (one pass each)."""
    legacy = by_name(s for s in inv.legacy_servers if s.version is ExchangeVersion.EX2010)
    hop_versions = {ExchangeVersion.EX2013, ExchangeVersion.EX2016}
    hop = by_name(s for s in inv.target_servers if s.version in hop_versions)
    final = by_name(s for s in inv.target_servers if s.version not in hop_versions)
    return Estate(tuple(legacy), tuple(hop), tuple(final), tuple(_relay_connectors(inv, legacy)))


def _relay_connectors(inv: Inventory, legacy: list[Server]) -> list[ReceiveConnector]:
    # The one rule (migrator.relay_rights); the relay planner's classification builds on it.
    names = {s.name.lower() for s in legacy}
    perms: dict[str, list[ADPermission]] = {}
    for perm in inv.ad_permissions:
        perms.setdefault(perm.identity.lower(), []).append(perm)
    out = [
        c
        for c in inv.receive_connectors
        if c.server.lower() in names and is_relay_connector(c, perms.get(c.identity.lower(), ()))
    ]
    return sorted(out, key=lambda c: (c.server.lower(), c.name.lower()))


def is_hub(server: Server) -> bool:
    """Whether a 2010 server runs Hub Transport (or its roles are not known)."""
    return not server.roles or ServerRole.HUB_TRANSPORT in server.roles


def mail_domains(inv: Inventory) -> list[str]:
    """Accepted domains that receive Internet mail (no wildcards), lower-case, sorted."""
    out = set()
    for d in inv.accepted_domains:
        name = d.domain_name.strip().lower()
        if "*" in name or name.endswith(".onmicrosoft.com"):
            continue
        if d.domain_type in (AcceptedDomainType.AUTHORITATIVE, AcceptedDomainType.INTERNAL_RELAY):
            out.add(name)
    return sorted(out)


def minutes(seconds: int) -> int:
    """Seconds rounded up to whole minutes."""
    return -(-seconds // 60)
