"""Whether a receive connector relays: the one rule, used by the checks and the plan.

A connector lets clients relay (send to any recipient, not only to accepted
domains) when

- its ``AuthMechanism`` holds ``ExternalAuthoritative`` (externally secured:
  every client counts as an Exchange server), or
- ``Ms-Exch-SMTP-Accept-Any-Recipient`` is granted to an anonymous trustee,
  ``NT AUTHORITY\\ANONYMOUS LOGON`` or ``Everyone`` (by name, with or without
  domain, or by well-known SID), and not cancelled by a Deny of the same trustee.

The grant counts whether it came with ``PermissionGroups AnonymousUsers`` or as
an explicit AD permission: either way an anonymous client may relay. Which kind
of relay connector it is (and whether it is migrated) is the relay planner's
classification (``migrator.plan.relay``), built on this rule.

It lives beside the model (it reads only model objects) so that ``migrator.checks``
and ``migrator.plan`` can both import it (``tests/test_layers.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from migrator.model import ADPermission, ReceiveConnector

ACCEPT_ANY_RECIPIENT = "ms-exch-smtp-accept-any-recipient"
"""The extended right that lets a client relay, lower-cased."""


def trustee_key(user: str) -> str:
    """``anonymous``, ``everyone`` or '' for any other trustee (by name with or without domain, or SID)."""
    low = user.strip().lower()
    tail = low.rsplit("\\", 1)[-1]
    if tail == "anonymous logon" or low == "s-1-5-7":
        return "anonymous"
    if tail == "everyone" or low == "s-1-1-0":
        return "everyone"
    return ""


def is_anonymous_trustee(user: str) -> bool:
    """Whether a trustee is ANONYMOUS LOGON or Everyone (by name or well-known SID)."""
    return bool(trustee_key(user))


def anonymous_relay_grants(permissions: Iterable[ADPermission]) -> tuple[str, ...]:
    """Trustees (ANONYMOUS LOGON, Everyone) holding Accept-Any-Recipient in ``permissions`` (one
    connector's), not cancelled by a Deny of the same trustee; as written, sorted."""
    allowed: dict[str, str] = {}
    denied: set[str] = set()
    for p in permissions:
        key = trustee_key(p.user)
        if not key:
            continue
        if not any(r.strip().lower() == ACCEPT_ANY_RECIPIENT for r in p.extended_rights):
            continue
        if p.deny:
            denied.add(key)
        else:
            allowed.setdefault(key, p.user.strip())
    return tuple(sorted(v for k, v in allowed.items() if k not in denied))


def is_externally_secured(connector: ReceiveConnector) -> bool:
    """Whether the connector's AuthMechanism holds ExternalAuthoritative."""
    return any(a.strip().lower() == "externalauthoritative" for a in connector.auth_mechanism)


def is_relay_connector(connector: ReceiveConnector, permissions: Iterable[ADPermission]) -> bool:
    """Whether a connector lets clients relay (module docstring); ``permissions``: the AD permissions
    on this connector (``Inventory.permissions_for``, or an index of them)."""
    return is_externally_secured(connector) or bool(anonymous_relay_grants(permissions))
