"""IdFix-style checks of every on-premises user: the attribute values that would break sync.

The rules are those IdFix applies before Entra Connect runs
(https://microsoft.github.io/idfix/Errors%20supported%20by%20the%20IdFix%20tool):
duplicates of proxyAddresses, userPrincipalName and mail across all objects,
invalid characters, a missing ``SMTP:`` primary, a non-routable ``.local``
UPN suffix and length limits. Each value is looked at once (plain values
pass one regular expression); duplicates are counted with ``Counter``.
"""

from __future__ import annotations

import gc
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from migrator.model import Finding, Inventory, OnPremUser, Severity

# IdFix: userPrincipalName invalid chars: whitespace \ % & * + / = ? { } | < > ( ) ; : , [ ] "
_UPN_BAD = re.compile(r'[\s\\%&*+/=?{}|<>();:,\[\]"]')
# IdFix: proxyAddresses invalid chars: whitespace < > ( ) ; , [ ] "  (the address part)
_PROXY_BAD = re.compile(r'[\s<>();,\[\]"]')
_SMTP_FAST = re.compile(r'(?:SMTP|smtp):[^\s<>();,\[\]"@]+@[^\s<>();,\[\]"@]+')
_SAM_BAD = re.compile(r'[\[\]\\"|,/:<>+=;?*]')
_NON_ROUTABLE = (".local", ".lan", ".internal", ".localdomain", ".corp")

UPN_MAX = 113
UPN_LOCAL_MAX = 64
UPN_DOMAIN_MAX = 48
PROXY_MAX = 256
MAIL_MAX = 256
SAM_MAX = 20


def _dup_findings(
    code: str, attribute: str, keys: Sequence[str], wheres: Sequence[str], shown: Sequence[str]
) -> Iterable[Finding]:
    """Findings for every key held by more than one object (``keys[n]`` is on ``wheres[n]``).

    ``Counter`` finds the repeats in C; only repeated keys are looked at again. Each object
    lists a key once.
    """
    repeated = {k for k, n in Counter(keys).items() if n > 1}
    if not repeated:
        return
    owners: dict[str, list[str]] = {}
    first_shown: dict[str, str] = {}
    for k, w, v in zip(keys, wheres, shown, strict=True):
        if k in repeated:
            owners.setdefault(k, []).append(w)
            first_shown.setdefault(k, v)
    for key in sorted(owners):
        names = sorted(set(owners[key]))
        if len(names) < 2:
            continue
        value = first_shown[key]
        listed = ", ".join(f"'{n}'" for n in names)
        for n in names:
            yield Finding(
                Severity.ERROR,
                code,
                n,
                f"{attribute} '{value}' is also on {len(names) - 1} other object(s): {listed}",
                "remove or change the value on all but one object; otherwise sync stops with "
                "'Unable to update this object because the following attributes associated with this "
                "object have values that may already be associated with another object'",
            )


HELD_BACK = "; until then the object is held back from the identity batches"


def check_identity(inventory: Inventory) -> list[Finding]:
    """Every IdFix-style finding over all on-premises users, sorted.

    A problem that makes Entra Connect fail on an object breaks sync for that
    object only, not the migration: it is a warning for the plan, and the
    object is held back from the identity batches (see :func:`held_back`).
    """
    # Pause the cyclic collector: hundreds of thousands of acyclic index entries would make it
    # rescan everything repeatedly (the same reason as migrator.plan.identity.gc_paused).
    enabled = gc.isenabled()
    gc.disable()
    try:
        found = _check(inventory.onprem_users)
    finally:
        if enabled:
            gc.enable()
    return sorted(
        (
            Finding(Severity.WARNING, f.code, f.where, f.message, f.fix + HELD_BACK)
            if f.severity is Severity.ERROR
            else f
            for f in found
        ),
        key=Finding.sort_key,
    )


def held_back(findings: Iterable[Finding]) -> frozenset[str]:
    """Lower-cased DistinguishedNames of the objects whose attributes would break their sync."""
    return frozenset(
        f.where.lower()
        for f in findings
        if f.code.startswith("identity.") and f.fix.endswith(HELD_BACK)
    )


def _check(users: Sequence[OnPremUser]) -> list[Finding]:
    out: list[Finding] = []
    wheres = [u.distinguished_name or u.sam_account_name or u.object_guid for u in users]
    upns = [u.user_principal_name.strip() for u in users]
    mails = [u.mail.strip() for u in users]
    proxy_keys: list[str] = []
    proxy_wheres: list[str] = []
    proxy_shown: list[str] = []

    for u, where, upn, mail in zip(users, wheres, upns, mails, strict=True):
        if upn and not _upn_fast_ok(upn):
            out.extend(_check_upn(where, upn))
        if mail and len(mail) > MAIL_MAX:
            out.append(
                Finding(
                    Severity.ERROR,
                    "identity.too-long",
                    where,
                    f"mail '{mail}' has {len(mail)} characters; at most {MAIL_MAX} sync",
                    "shorten the address",
                )
            )
        primaries = 0
        has_smtp = False
        seen_here: set[str] = set()
        for p in u.proxy_addresses:
            if len(p) <= PROXY_MAX and _SMTP_FAST.fullmatch(p):
                # the common case: a plain SMTP address that no rule below objects to
                low = p[5:].lower()
                if not low.endswith(_NON_ROUTABLE):
                    has_smtp = True
                    primaries += p[0] == "S"
                    key = "smtp:" + low
                    if key not in seen_here:
                        seen_here.add(key)
                        proxy_keys.append(key)
                        proxy_wheres.append(where)
                        proxy_shown.append(p)
                    continue
            prefix, sep, address = p.partition(":")
            if not sep:
                out.append(
                    Finding(
                        Severity.ERROR,
                        "identity.invalid-proxy-address",
                        where,
                        f"proxyAddress '{p}' has no address type prefix",
                        "write it as 'smtp:address' (secondary) or 'SMTP:address' (primary)",
                    )
                )
                continue
            if prefix == "SMTP":
                primaries += 1
            if len(p) > PROXY_MAX:
                out.append(
                    Finding(
                        Severity.ERROR,
                        "identity.too-long",
                        where,
                        f"proxyAddress '{p}' has {len(p)} characters; at most {PROXY_MAX} sync",
                        "shorten or remove the address",
                    )
                )
            # X500/X400 addresses (legacyExchangeDN of migrated mailboxes) carry spaces and
            # parentheses by design; the character rule is for SMTP addresses.
            if prefix.lower() == "smtp" and (
                _PROXY_BAD.search(address) or address != address.strip()
            ):
                out.append(
                    Finding(
                        Severity.ERROR,
                        "identity.invalid-character",
                        where,
                        f"proxyAddress '{p}' contains whitespace or one of < > ( ) ; , [ ] \"",
                        "remove the character from the address",
                    )
                )
            if prefix.lower() == "smtp":
                has_smtp = True
                low = address.strip().lower()
                if "@" not in low or low.startswith("@") or low.endswith("@"):
                    out.append(
                        Finding(
                            Severity.ERROR,
                            "identity.invalid-proxy-address",
                            where,
                            f"proxyAddress '{p}' is not an SMTP address (local@domain)",
                            "correct or remove the address",
                        )
                    )
                elif low.endswith(_NON_ROUTABLE):
                    out.append(
                        Finding(
                            Severity.WARNING,
                            "identity.non-routable-domain",
                            where,
                            f"proxyAddress '{p}' is in a non-routable domain; Entra ID drops it",
                            "remove it or replace it with an address in a verified domain",
                        )
                    )
                key = "smtp:" + low
            else:
                key = prefix.lower() + ":" + address.strip().lower()
            if key in seen_here:
                continue
            seen_here.add(key)
            proxy_keys.append(key)
            proxy_wheres.append(where)
            proxy_shown.append(p)
        if has_smtp and primaries == 0:
            out.append(
                Finding(
                    Severity.ERROR,
                    "identity.missing-primary-smtp",
                    where,
                    "proxyAddresses has smtp: addresses but no 'SMTP:' primary",
                    "make one address the primary by writing its prefix in capitals (SMTP:)",
                )
            )
        elif primaries > 1:
            out.append(
                Finding(
                    Severity.ERROR,
                    "identity.several-primary-smtp",
                    where,
                    f"proxyAddresses has {primaries} 'SMTP:' primaries; exactly one is allowed",
                    "write the prefix of all but one in lower case (smtp:)",
                )
            )
        elif not has_smtp and u.mail.strip():
            out.append(
                Finding(
                    Severity.WARNING,
                    "identity.missing-primary-smtp",
                    where,
                    f"mail is '{u.mail.strip()}' but proxyAddresses has no 'SMTP:' primary: "
                    "soft match on primary SMTP cannot find this user",
                    f"add 'SMTP:{u.mail.strip()}' to proxyAddresses",
                )
            )
        if not upn:
            sam = u.sam_account_name
            if len(sam) > SAM_MAX:
                out.append(
                    Finding(
                        Severity.ERROR,
                        "identity.too-long",
                        where,
                        f"sAMAccountName '{sam}' has {len(sam)} characters; at most {SAM_MAX}",
                        "set a userPrincipalName (preferred) or shorten sAMAccountName",
                    )
                )
            if _SAM_BAD.search(sam):
                out.append(
                    Finding(
                        Severity.ERROR,
                        "identity.invalid-character",
                        where,
                        f"sAMAccountName '{sam}' contains one of [ \\ \" | , / : < > + = ; ? * ]",
                        "set a userPrincipalName (preferred) or remove the character",
                    )
                )

    out.extend(
        _dup_findings(
            "identity.duplicate-proxy-address",
            "proxyAddress",
            proxy_keys,
            proxy_wheres,
            proxy_shown,
        )
    )
    with_upn = [(upn.lower(), w, upn) for upn, w in zip(upns, wheres, strict=True) if upn]
    out.extend(
        _dup_findings(
            "identity.duplicate-upn",
            "userPrincipalName",
            [k for k, _, _ in with_upn],
            [w for _, w, _ in with_upn],
            [v for _, _, v in with_upn],
        )
    )
    with_mail = [(m.lower(), w, m) for m, w in zip(mails, wheres, strict=True) if m]
    out.extend(
        _dup_findings(
            "identity.duplicate-mail",
            "mail",
            [k for k, _, _ in with_mail],
            [w for _, w, _ in with_mail],
            [v for _, _, v in with_mail],
        )
    )
    return out


# Most UPNs are plain: one regex proves that none of the rules in _check_upn fires.
_UPN_FAST = re.compile(
    r"[A-Za-z0-9!#'^~_-](?:[A-Za-z0-9!#'^~._-]{0,61}[A-Za-z0-9!#'^~_-])?@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)


def _upn_fast_ok(upn: str) -> bool:
    if len(upn) > UPN_MAX or not _UPN_FAST.fullmatch(upn):
        return False
    domain = upn.rpartition("@")[2]
    return len(domain) < UPN_DOMAIN_MAX and not domain.lower().endswith(_NON_ROUTABLE)


def _check_upn(where: str, upn: str) -> list[Finding]:
    out: list[Finding] = []
    local, at, domain = upn.rpartition("@")
    if not at or not local or not domain or "@" in local:
        return [
            Finding(
                Severity.ERROR,
                "identity.invalid-upn",
                where,
                f"userPrincipalName '{upn}' is not of the form name@domain",
                "set a UPN with exactly one '@' and a domain",
            )
        ]
    if _UPN_BAD.search(upn):
        out.append(
            Finding(
                Severity.ERROR,
                "identity.invalid-character",
                where,
                f"userPrincipalName '{upn}' contains whitespace or one of \\ % & * + / = ? {{ }} | < > ( ) ; : , [ ] \"",
                "remove the character from the UPN",
            )
        )
    if not upn.isascii():
        out.append(
            Finding(
                Severity.ERROR,
                "identity.invalid-character",
                where,
                f"userPrincipalName '{upn}' contains non-ASCII characters (umlauts, accents)",
                "replace them with ASCII letters (ä -> ae)",
            )
        )
    if local.startswith(".") or local.endswith("."):
        out.append(
            Finding(
                Severity.ERROR,
                "identity.invalid-upn",
                where,
                f"userPrincipalName '{upn}' begins or ends its name part with a period",
                "remove the period",
            )
        )
    if len(upn) > UPN_MAX or len(local) >= UPN_LOCAL_MAX or len(domain) >= UPN_DOMAIN_MAX:
        out.append(
            Finding(
                Severity.ERROR,
                "identity.too-long",
                where,
                f"userPrincipalName '{upn}' is too long ({len(local)} + {len(domain)} characters); "
                f"at most {UPN_MAX} in all, under {UPN_LOCAL_MAX} before '@' and under {UPN_DOMAIN_MAX} after",
                "shorten the UPN",
            )
        )
    if domain.lower().endswith(_NON_ROUTABLE) or "." not in domain:
        out.append(
            Finding(
                Severity.WARNING,
                "identity.upn-suffix-local",
                where,
                f"userPrincipalName '{upn}' has the non-routable suffix '{domain}': the cloud UPN "
                "becomes the onmicrosoft.com one",
                "add a routable UPN suffix (a verified domain) and set it on the user",
            )
        )
    return out


__all__ = ["check_identity"]
