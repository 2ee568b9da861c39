"""IdFix-style checks of every on-premises user: the attribute values that would break sync.

The rules are those IdFix applies before Entra Connect runs
(https://microsoft.github.io/idfix/Errors%20supported%20by%20the%20IdFix%20tool):
duplicates of proxyAddresses, userPrincipalName and mail across all objects,
invalid characters, a missing ``SMTP:`` primary, a non-routable ``.local``
UPN suffix and length limits. Each rule is written once, over a column: every
user's UPN, mail or sAMAccountName, every proxyAddress of every user. The rule's
test runs over the whole column (mapped in C) and a finding is made for each
value it flags; duplicates are counted as integer codes (pandas factorize).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, compress, count, repeat
from operator import attrgetter, itemgetter, methodcaller
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from migrator.model import Finding, Inventory, OnPremUser, Severity

# IdFix: userPrincipalName invalid chars: whitespace \ % & * + / = ? { } | < > ( ) ; : , [ ] "
_UPN_BAD = re.compile(r'[\s\\%&*+/=?{}|<>();:,\[\]"]')
# IdFix: proxyAddresses invalid chars: whitespace < > ( ) ; , [ ] "  (the address part)
_PROXY_BAD = re.compile(r'[\s<>();,\[\]"]')
_SAM_BAD = re.compile(r'[\[\]\\"|,/:<>+=;?*]')
_NON_ROUTABLE = (".local", ".lan", ".internal", ".localdomain", ".corp")

UPN_MAX = 113
UPN_LOCAL_MAX = 64
UPN_DOMAIN_MAX = 48
PROXY_MAX = 256
MAIL_MAX = 256
SAM_MAX = 20


class _Indexed(Protocol):
    """A column read by row number (a list, or an :class:`_At`)."""

    def __getitem__(self, n: int, /) -> str: ...


class _At:
    """``values[rows[n]]`` at row ``n``: a column seen through row numbers, without a copy."""

    __slots__ = ("rows", "values")

    def __init__(self, values: _Indexed, rows: Sequence[int]) -> None:
        self.values = values
        self.rows = rows

    def __getitem__(self, n: int, /) -> str:
        return self.values[self.rows[n]]


def _factorize(keys: Sequence[str]) -> npt.NDArray[np.int64]:
    """Each key as an integer code, equal keys equal codes (pandas factorize)."""
    codes: npt.NDArray[np.int64] = pd.factorize(np.array(keys, dtype=object))[0]
    return codes


def _dup_findings(
    code: str,
    attribute: str,
    codes: npt.NDArray[np.int64],
    keys: _Indexed,
    wheres: _Indexed,
    shown: _Indexed,
) -> Iterable[Finding]:
    """Findings for every key held by more than one object (``keys[n]``, of code ``codes[n]``,
    is on ``wheres[n]``).

    The keys are counted as their integer codes; only repeated keys are looked at again. An
    object listing a key twice is one owner (owners are compared as a set), not a duplicate.
    """
    owners: dict[str, list[str]] = {}
    first_shown: dict[str, str] = {}
    for pos in np.flatnonzero(np.bincount(codes)[codes] > 1).tolist():
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
    return sorted(
        (
            Finding(Severity.WARNING, f.code, f.where, f.message, f.fix + HELD_BACK)
            if f.severity is Severity.ERROR
            else f
            for f in _check(inventory.onprem_users)
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


Mask = npt.NDArray[np.bool_]
T = TypeVar("T")


def _mask(flags: Iterable[object], n: int) -> Mask:
    """A column of flags (each value's truth) as a boolean array, built in C."""
    return np.fromiter(map(bool, flags), dtype=bool, count=n)


def _test(flags: Iterable[bool], n: int) -> Mask:
    """A column of booleans as a boolean array, built in C."""
    return np.fromiter(flags, dtype=bool, count=n)


def _contains(chars: re.Pattern[str], values: Sequence[str]) -> Mask:
    """Which values contain a character of ``chars`` (a single character class that does not
    match NUL): one scan of all the values joined by NUL, each hit placed by its position."""
    n = len(values)
    found = np.zeros(n, dtype=bool)
    if n:
        ends = np.cumsum(_lengths(values) + 1)  # where each value's separator ends
        hits = [m.start() for m in chars.finditer("\0".join(values))]
        found[np.searchsorted(ends, np.array(hits, dtype=np.int64), side="right")] = True
    return found


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _rows(flags: Iterable[object]) -> list[int]:
    """The row numbers whose flag is true (found in C)."""
    return list(compress(count(), flags))


def _pick(values: Sequence[T], rows: Iterable[int]) -> list[T]:
    """``values[n]`` for each of ``rows`` (looked up in C)."""
    return list(map(values.__getitem__, rows))


class _Column:
    """One attribute over all users: where each value is, and the value; rules add findings."""

    def __init__(self, wheres: _Indexed, values: Sequence[str], out: list[Finding]) -> None:
        self.wheres = wheres
        self.values = values
        self.out = out

    def rule(
        self,
        rows: Iterable[int] | Mask,
        severity: Severity,
        code: str,
        message: Callable[[str], str],
        fix: Callable[[str], str] | str,
    ) -> None:
        """A finding for each of ``rows`` (row numbers or a mask), its message (and fix) made
        from the row's value."""
        if isinstance(rows, np.ndarray):
            rows = np.flatnonzero(rows).tolist()
        for n in rows:
            value = self.values[n]
            self.out.append(
                Finding(
                    severity,
                    code,
                    self.wheres[n],
                    message(value),
                    fix if isinstance(fix, str) else fix(value),
                )
            )


def _check(users: Sequence[OnPremUser]) -> list[Finding]:
    out: list[Finding] = []
    wheres = list(map(attrgetter("distinguished_name"), users))
    if "" in wheres:  # (rare: the first of these three that is set)
        wheres = [u.distinguished_name or u.sam_account_name or u.object_guid for u in users]
    upns = list(map(str.strip, map(attrgetter("user_principal_name"), users)))
    mails = list(map(str.strip, map(attrgetter("mail"), users)))
    proxies = list(map(attrgetter("proxy_addresses"), users))
    _check_upns(_Column(wheres, upns, out))
    mail = _Column(wheres, mails, out)
    mail.rule(
        _rows(map(MAIL_MAX.__lt__, map(len, mails))),
        Severity.ERROR,
        "identity.too-long",
        lambda m: f"mail '{m}' has {len(m)} characters; at most {MAIL_MAX} sync",
        "shorten the address",
    )
    without_upn = [n for n, upn in enumerate(upns) if not upn]
    sams = _Column(
        _pick(wheres, without_upn), [users[n].sam_account_name for n in without_upn], out
    )
    sams.rule(
        _rows(map(SAM_MAX.__lt__, map(len, sams.values))),
        Severity.ERROR,
        "identity.too-long",
        lambda s: f"sAMAccountName '{s}' has {len(s)} characters; at most {SAM_MAX}",
        "set a userPrincipalName (preferred) or shorten sAMAccountName",
    )
    sams.rule(
        np.flatnonzero(_contains(_SAM_BAD, sams.values)).tolist(),
        Severity.ERROR,
        "identity.invalid-character",
        lambda s: f"sAMAccountName '{s}' contains one of [ \\ \" | , / : < > + = ; ? * ]",
        "set a userPrincipalName (preferred) or remove the character",
    )
    out.extend(
        _dup_findings(
            "identity.duplicate-proxy-address",
            "proxyAddress",
            *_check_proxies(wheres, mails, proxies, out),
        )
    )
    for code, attribute, values in (
        ("identity.duplicate-upn", "userPrincipalName", upns),
        ("identity.duplicate-mail", "mail", mails),
    ):
        holders = _rows(values)  # an empty value is no duplicate
        held = _pick(values, holders)
        keys = list(map(str.lower, held))
        out.extend(
            _dup_findings(code, attribute, _factorize(keys), keys, _At(wheres, holders), held)
        )
    return out


def _check_upns(upns: _Column) -> None:
    """The userPrincipalName rules, over every user's (stripped) UPN."""
    n = len(upns.values)
    # name and domain, each in a pass of its own (no 3-tuple per value kept)
    names = list(map(itemgetter(0), map(methodcaller("rpartition", "@"), upns.values)))
    domains = list(map(itemgetter(2), map(methodcaller("rpartition", "@"), upns.values)))
    present = _mask(upns.values, n)
    malformed = present & (
        ~_test(map(str.__contains__, upns.values, repeat("@")), n)
        | ~_mask(names, n)
        | ~_mask(domains, n)
        | _test(map(str.__contains__, names, repeat("@")), n)
    )
    upns.rule(
        malformed,
        Severity.ERROR,
        "identity.invalid-upn",
        lambda u: f"userPrincipalName '{u}' is not of the form name@domain",
        "set a UPN with exactly one '@' and a domain",
    )
    # The other rules look at the UPNs of the form name@domain.
    formed = present & ~malformed
    upns.rule(
        formed & _contains(_UPN_BAD, upns.values),
        Severity.ERROR,
        "identity.invalid-character",
        lambda u: (
            f"userPrincipalName '{u}' contains whitespace or one of "
            '\\ % & * + / = ? { } | < > ( ) ; : , [ ] "'
        ),
        "remove the character from the UPN",
    )
    upns.rule(
        formed & _contains(_NON_ASCII, upns.values),
        Severity.ERROR,
        "identity.invalid-character",
        lambda u: f"userPrincipalName '{u}' contains non-ASCII characters (umlauts, accents)",
        "replace them with ASCII letters (ä -> ae)",
    )
    upns.rule(
        formed
        & (
            _test(map(str.startswith, names, repeat(".")), n)
            | _test(map(str.endswith, names, repeat(".")), n)
        ),
        Severity.ERROR,
        "identity.invalid-upn",
        lambda u: f"userPrincipalName '{u}' begins or ends its name part with a period",
        "remove the period",
    )

    def too_long(upn: str) -> str:
        local, _, domain = upn.rpartition("@")
        return (
            f"userPrincipalName '{upn}' is too long ({len(local)} + {len(domain)} characters); "
            f"at most {UPN_MAX} in all, under {UPN_LOCAL_MAX} before '@' and under {UPN_DOMAIN_MAX} after"
        )

    upns.rule(
        formed
        & (
            (_lengths(upns.values) > UPN_MAX)
            | (_lengths(names) >= UPN_LOCAL_MAX)
            | (_lengths(domains) >= UPN_DOMAIN_MAX)
        ),
        Severity.ERROR,
        "identity.too-long",
        too_long,
        "shorten the UPN",
    )
    upns.rule(
        formed
        & (
            _test(map(str.endswith, map(str.lower, domains), repeat(_NON_ROUTABLE)), n)
            | ~_test(map(str.__contains__, domains, repeat(".")), n)
        ),
        Severity.WARNING,
        "identity.upn-suffix-local",
        lambda u: (
            f"userPrincipalName '{u}' has the non-routable suffix '{u.rpartition('@')[2]}': "
            "the cloud UPN becomes the onmicrosoft.com one"
        ),
        "add a routable UPN suffix (a verified domain) and set it on the user",
    )


def _lengths(values: Sequence[str]) -> npt.NDArray[np.int64]:
    return np.fromiter(map(len, values), dtype=np.int64, count=len(values))


def _check_proxies(
    wheres: Sequence[str],
    mails: Sequence[str],
    proxies: Sequence[tuple[str, ...]],
    out: list[Finding],
) -> tuple[npt.NDArray[np.int64], _At, _At, _At]:
    """The proxyAddresses rules, over every proxyAddress of every user; returns, for the
    duplicate rule, each user's proxyAddress keys (type and address in lower case, each once
    per user) as codes and as text, with where each is and the value as written."""
    flat = list(chain.from_iterable(proxies))
    n = len(flat)
    owner = np.repeat(np.arange(len(proxies)), list(map(len, proxies)))
    column = _Column(_At(wheres, owner.tolist()), flat, out)
    # type prefix and address, each in a pass of its own (no 3-tuple per value kept)
    prefixes = list(map(itemgetter(0), map(methodcaller("partition", ":"), flat)))
    addresses = list(map(itemgetter(2), map(methodcaller("partition", ":"), flat)))
    lengths = _lengths(flat)
    typed = _lengths(prefixes) < lengths  # the ':' was found
    column.rule(
        ~typed,
        Severity.ERROR,
        "identity.invalid-proxy-address",
        lambda p: f"proxyAddress '{p}' has no address type prefix",
        "write it as 'smtp:address' (secondary) or 'SMTP:address' (primary)",
    )
    column.rule(
        typed & (lengths > PROXY_MAX),
        Severity.ERROR,
        "identity.too-long",
        lambda p: f"proxyAddress '{p}' has {len(p)} characters; at most {PROXY_MAX} sync",
        "shorten or remove the address",
    )
    # SMTP addresses (either case of the prefix): the character and form rules.
    types = list(map(str.lower, prefixes))
    smtp = typed & _test(map("smtp".__eq__, types), n)
    stripped = list(map(str.strip, addresses))
    # X500/X400 addresses (legacyExchangeDN of migrated mailboxes) carry spaces and
    # parentheses by design; the character rule is for SMTP addresses.
    column.rule(
        smtp & _contains(_PROXY_BAD, addresses),  # \s covers untrimmed addresses
        Severity.ERROR,
        "identity.invalid-character",
        lambda p: f"proxyAddress '{p}' contains whitespace or one of < > ( ) ; , [ ] \"",
        "remove the character from the address",
    )
    lows = list(map(str.lower, stripped))
    # not local@domain: no '@', or '@' first or last
    not_smtp = smtp & (
        ~_test(map(str.__contains__, lows, repeat("@")), n)
        | _test(map(str.startswith, lows, repeat("@")), n)
        | _test(map(str.endswith, lows, repeat("@")), n)
    )
    column.rule(
        not_smtp,
        Severity.ERROR,
        "identity.invalid-proxy-address",
        lambda p: f"proxyAddress '{p}' is not an SMTP address (local@domain)",
        "correct or remove the address",
    )
    column.rule(
        smtp & ~not_smtp & _test(map(str.endswith, lows, repeat(_NON_ROUTABLE)), n),
        Severity.WARNING,
        "identity.non-routable-domain",
        lambda p: f"proxyAddress '{p}' is in a non-routable domain; Entra ID drops it",
        "remove it or replace it with an address in a verified domain",
    )

    # Per user: exactly one SMTP: primary where there are SMTP addresses.
    has_smtp = np.bincount(owner[smtp], minlength=len(proxies)) > 0
    primary = typed & _test(map("SMTP".__eq__, prefixes), n)
    primaries = np.bincount(owner[primary], minlength=len(proxies))
    users = _Column(wheres, list(map(str, primaries.tolist())), out)
    users.rule(
        has_smtp & (primaries == 0),
        Severity.ERROR,
        "identity.missing-primary-smtp",
        lambda _: "proxyAddresses has smtp: addresses but no 'SMTP:' primary",
        "make one address the primary by writing its prefix in capitals (SMTP:)",
    )
    users.rule(
        primaries > 1,
        Severity.ERROR,
        "identity.several-primary-smtp",
        lambda count: f"proxyAddresses has {count} 'SMTP:' primaries; exactly one is allowed",
        "write the prefix of all but one in lower case (smtp:)",
    )
    _Column(wheres, mails, out).rule(
        ~has_smtp & _mask(mails, len(mails)),
        Severity.WARNING,
        "identity.missing-primary-smtp",
        lambda mail: (
            f"mail is '{mail}' but proxyAddresses has no 'SMTP:' primary: "
            "soft match on primary SMTP cannot find this user"
        ),
        lambda mail: f"add 'SMTP:{mail}' to proxyAddresses",
    )

    # The keys the duplicate rule compares: type and address in lower case, once per user
    # (the first of a user's values with that key is the one shown).
    keys = list(map(":".join, zip(types, lows, strict=True)))
    rows = np.flatnonzero(typed)
    codes = _factorize(keys)
    repeat_in_user = pd.DataFrame({"owner": owner[rows], "key": codes[rows]}).duplicated()
    rows = rows[~repeat_in_user.to_numpy()]  # the first of a user's rows wins
    kept = rows.tolist()
    return codes[rows], _At(keys, kept), _At(column.wheres, kept), _At(flat, kept)


__all__ = ["check_identity"]
