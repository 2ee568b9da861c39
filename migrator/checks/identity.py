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
from itertools import accumulate, chain, compress, repeat
from operator import attrgetter

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

# Whole-value patterns for the users no rule objects to (see _check): they accept exactly what
# _upn_fast_ok and the fast path of _check_user accept, restricted to ASCII so that lower-casing
# and the case-insensitive suffix tests cannot meet a Unicode special case.
_ROUTABLE_END = "".join(rf"(?<!(?i:{re.escape(s)}))" for s in _NON_ROUTABLE)
_UPN_PLAIN = re.compile(
    rf"(?=.{{1,{UPN_MAX}}}\Z)"
    + r"[A-Za-z0-9!#'^~_-](?:[A-Za-z0-9!#'^~._-]{0,61}[A-Za-z0-9!#'^~_-])?"
    + rf"@(?=[^@]{{1,{UPN_DOMAIN_MAX - 1}}}\Z)"
    + r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
    + _ROUTABLE_END,
    re.ASCII,
)


def _plain_address(prefix: str) -> str:
    """A plain SMTP proxyAddress of at most PROXY_MAX characters, ending in a routable domain."""
    length = rf"(?=[^\t]{{1,{PROXY_MAX}}}(?:\t|\Z))"
    return length + prefix + r':[^\s<>();,\[\]"@]+@[^\s<>();,\[\]"@]+' + _ROUTABLE_END


# One user's proxyAddresses joined with tabs (a plain address holds no whitespace, so the
# tabs split them unambiguously): plain SMTP addresses, exactly one the SMTP: primary.
_PROXIES_PLAIN = re.compile(
    rf"(?:{_plain_address('smtp')}\t)*{_plain_address('SMTP')}(?:\t{_plain_address('smtp')})*",
    re.ASCII,
)


def _dup_findings(
    code: str, attribute: str, keys: Sequence[str], wheres: Sequence[str], shown: Sequence[str]
) -> Iterable[Finding]:
    """Findings for every key held by more than one object (``keys[n]`` is on ``wheres[n]``).

    ``Counter`` finds the repeats in C; only repeated keys are looked at again. An object
    listing a key twice is one owner (owners are compared as a set), not a duplicate.
    """
    counts = Counter(keys)
    repeated = set(compress(counts, map((1).__lt__, counts.values())))  # count > 1, in C
    del counts
    if not repeated:
        return
    owners: dict[str, list[str]] = {}
    first_shown: dict[str, str] = {}
    # Positions of the repeated keys, found in C (compress over a membership mask).
    for pos in compress(range(len(keys)), map(repeated.__contains__, keys)):
        k = keys[pos]
        owners.setdefault(k, []).append(wheres[pos])
        first_shown.setdefault(k, shown[pos])
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
    # map() with attrgetter and str methods runs in C: no Python code per user.
    upns = list(map(str.strip, map(attrgetter("user_principal_name"), users)))
    mails = list(map(str.strip, map(attrgetter("mail"), users)))
    proxies = list(map(attrgetter("proxy_addresses"), users))

    # Most users are plain: a routable ASCII UPN, a short mail and plain ASCII SMTP addresses
    # with exactly one primary. Whole values are classified with compiled regexes mapped in C
    # (no Python code per user); only the others go through every rule in _check_user.
    joined = list(map("\t".join, proxies))
    classified = zip(
        map(_UPN_PLAIN.fullmatch, upns),
        map(str.isascii, joined),
        map(_PROXIES_PLAIN.fullmatch, joined),
        mails,
        strict=True,
    )
    irregular = [
        n
        for n, (upn_ok, ascii_ok, proxies_ok, mail) in enumerate(classified)
        if not (upn_ok and ascii_ok and proxies_ok) or len(mail) > MAIL_MAX
    ]
    del joined

    # Duplicate keys of plain users are their lower-cased proxyAddresses (``smtp:`` + the
    # lower-cased address, as _check_user makes them). A plain user listing one address twice
    # keeps both keys: _dup_findings counts owners, not keys, so that is no duplicate.
    flat = list(chain.from_iterable(proxies))
    flat_keys = list(map(str.lower, flat))
    flat_wheres = list(chain.from_iterable(map(repeat, wheres, map(len, proxies))))
    ends = list(accumulate(map(len, proxies)))
    proxy_keys: list[str] = []
    proxy_wheres: list[str] = []
    proxy_shown: list[str] = []
    done = 0  # flat[:done] is in the proxy_ lists; users are taken in order, as keys' first shown
    for n in irregular:
        start = ends[n] - len(proxies[n])
        proxy_keys += flat_keys[done:start]
        proxy_wheres += flat_wheres[done:start]
        proxy_shown += flat[done:start]
        _check_user(
            users[n], wheres[n], upns[n], mails[n], out, proxy_keys, proxy_wheres, proxy_shown
        )
        done = ends[n]
    proxy_keys += flat_keys[done:]
    proxy_wheres += flat_wheres[done:]
    proxy_shown += flat[done:]
    del flat, flat_keys, flat_wheres

    out.extend(
        _dup_findings(
            "identity.duplicate-proxy-address",
            "proxyAddress",
            proxy_keys,
            proxy_wheres,
            proxy_shown,
        )
    )
    for code, attribute, values in (
        ("identity.duplicate-upn", "userPrincipalName", upns),
        ("identity.duplicate-mail", "mail", mails),
    ):
        if "" in values:  # an empty value is no duplicate
            holders = [n for n, v in enumerate(values) if v]
            values = [values[n] for n in holders]
            value_wheres = [wheres[n] for n in holders]
        else:
            value_wheres = wheres
        out.extend(
            _dup_findings(code, attribute, list(map(str.lower, values)), value_wheres, values)
        )
    return out


def _check_user(
    u: OnPremUser,
    where: str,
    upn: str,
    mail: str,
    out: list[Finding],
    proxy_keys: list[str],
    proxy_wheres: list[str],
    proxy_shown: list[str],
) -> None:
    """Every per-object rule for one user; appends its findings and its proxyAddress keys."""
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
        if prefix.lower() == "smtp" and (_PROXY_BAD.search(address) or address != address.strip()):
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
