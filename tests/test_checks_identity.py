"""IdFix-style checks over every on-premises user."""

from __future__ import annotations

import pytest

from migrator.checks.identity import check_identity, held_back
from migrator.model import Finding, Inventory, OnPremUser, Severity


def user(
    name: str,
    *,
    upn: str | None = None,
    mail: str | None = None,
    proxies: tuple[str, ...] | None = None,
    sam: str | None = None,
) -> OnPremUser:
    return OnPremUser(
        distinguished_name=f"CN={name},OU=Staff,DC=contoso,DC=com",
        sam_account_name=sam if sam is not None else name,
        object_guid="3ab39606-c642-489b-84b6-58c038d3ef39",
        user_principal_name=upn if upn is not None else f"{name}@contoso.com",
        mail=mail if mail is not None else f"{name}@contoso.com",
        proxy_addresses=proxies if proxies is not None else (f"SMTP:{name}@contoso.com",),
    )


def findings(*users: OnPremUser) -> list[Finding]:
    return check_identity(Inventory("Contoso", onprem_users=users))


def codes(*users: OnPremUser) -> list[str]:
    return sorted({f.code for f in findings(*users)})


def test_clean_users_have_no_findings() -> None:
    assert findings(user("ann"), user("bob")) == []


def test_duplicate_proxy_address_reported_on_both_objects() -> None:
    a = user("ann", proxies=("SMTP:ann@contoso.com", "smtp:sales@contoso.com"))
    b = user("bob", proxies=("SMTP:bob@contoso.com", "SMTP:Sales@Contoso.com"))
    dup = [f for f in findings(a, b) if f.code == "identity.duplicate-proxy-address"]
    assert [f.where for f in dup] == [a.distinguished_name, b.distinguished_name]
    # Sync fails for these objects only: a warning for the plan, and both are held back.
    assert all(f.severity is Severity.WARNING for f in dup)
    assert held_back(dup) == {a.distinguished_name.lower(), b.distinguished_name.lower()}
    assert dup[0].message == (
        "proxyAddress 'smtp:sales@contoso.com' is also on 1 other object(s): "
        "'CN=ann,OU=Staff,DC=contoso,DC=com', 'CN=bob,OU=Staff,DC=contoso,DC=com'"
    )
    assert "Unable to update this object" in dup[0].fix


def test_duplicate_upn_and_mail() -> None:
    a = user("ann", upn="x@contoso.com", mail="x@contoso.com")
    b = user("bob", upn="X@contoso.com", mail="X@Contoso.com")
    assert {"identity.duplicate-upn", "identity.duplicate-mail"} <= set(codes(a, b))


def test_same_address_twice_on_one_object_is_not_a_duplicate() -> None:
    a = user("ann", proxies=("SMTP:ann@contoso.com", "smtp:ann@contoso.com"))
    assert "identity.duplicate-proxy-address" not in codes(a)


@pytest.mark.parametrize(
    ("upn", "code"),
    [
        ("ann smith@contoso.com", "identity.invalid-character"),
        ("ann(smith)@contoso.com", "identity.invalid-character"),
        ("jürgen@contoso.com", "identity.invalid-character"),
        ("ann.contoso.com", "identity.invalid-upn"),
        ("ann@b@contoso.com", "identity.invalid-upn"),
        (".ann@contoso.com", "identity.invalid-upn"),
        ("a" * 64 + "@contoso.com", "identity.too-long"),
        ("ann@" + "d" * 44 + ".com", "identity.too-long"),
        ("ann@contoso.local", "identity.upn-suffix-local"),
        ("ann@contoso", "identity.upn-suffix-local"),
    ],
)
def test_upn_rules(upn: str, code: str) -> None:
    assert code in codes(user("ann", upn=upn))


def test_upn_suffix_local_is_a_warning() -> None:
    [f] = findings(user("ann", upn="ann@corp.local"))
    assert f.severity is Severity.WARNING
    assert f.message == (
        "userPrincipalName 'ann@corp.local' has the non-routable suffix 'corp.local': "
        "the cloud UPN becomes the onmicrosoft.com one"
    )


@pytest.mark.parametrize(
    ("proxies", "code"),
    [
        (("SMTP:ann smith@contoso.com",), "identity.invalid-character"),
        (("SMTP:ann@contoso.com", "smtp:a,b@contoso.com"), "identity.invalid-character"),
        (("SMTP:annatcontoso.com",), "identity.invalid-proxy-address"),
        (("ann@contoso.com",), "identity.invalid-proxy-address"),
        (("smtp:ann@contoso.com",), "identity.missing-primary-smtp"),
        (("SMTP:ann@contoso.com", "SMTP:a2@contoso.com"), "identity.several-primary-smtp"),
        (("SMTP:" + "a" * 250 + "@contoso.com",), "identity.too-long"),
        (("SMTP:ann@contoso.com", "smtp:ann@contoso.local"), "identity.non-routable-domain"),
    ],
)
def test_proxy_address_rules(proxies: tuple[str, ...], code: str) -> None:
    assert code in codes(user("ann", proxies=proxies))


def test_mail_without_any_smtp_proxy_is_a_warning() -> None:
    [f] = findings(user("ann", proxies=("X500:/o=Contoso/ou=x/cn=ann",)))
    assert f.code == "identity.missing-primary-smtp" and f.severity is Severity.WARNING
    assert f.fix == "add 'SMTP:ann@contoso.com' to proxyAddresses"


def test_sam_account_name_rules_apply_without_upn() -> None:
    assert "identity.too-long" in codes(user("ann", upn="", sam="a" * 21))
    assert "identity.invalid-character" in codes(user("ann", upn="", sam="ann*"))
    assert codes(user("ann", sam="a" * 21)) == []  # with a UPN, sAMAccountName is not used


def test_sync_breaking_problems_hold_the_object_back_others_do_not() -> None:
    out = findings(
        user("ann", upn="ann@corp.local"), user("bob", proxies=("smtp:bob@contoso.com",))
    )
    assert {f.severity for f in out} == {Severity.WARNING}
    # bob has no SMTP: primary (sync breaks for him); ann's .local suffix only changes her cloud UPN.
    assert held_back(out) == {user("bob").distinguished_name.lower()}


def test_x500_addresses_with_spaces_are_not_flagged() -> None:
    x500 = "X500:/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=ann"
    assert findings(user("ann", proxies=("SMTP:ann@contoso.com", x500))) == []
