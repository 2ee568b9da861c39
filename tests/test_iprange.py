"""IPRange: Exchange's RemoteIPRanges forms, and the merge rule as a property."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from migrator.iprange import IPRange, IPRangeError, merge_ranges


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("192.168.1.1", "192.168.1.1", "192.168.1.1"),
        ("192.168.1.1-192.168.1.254", "192.168.1.1", "192.168.1.254"),
        ("192.168.1.0/24", "192.168.1.0", "192.168.1.255"),
        (
            "192.168.1.1/24",
            "192.168.1.0",
            "192.168.1.255",
        ),  # host bits set, as Microsoft's examples
        ("2001:0DB8::CD3/60", "2001:db8::", "2001:db8:0:f:ffff:ffff:ffff:ffff"),
        ("fe80::39bd:88f7:6969:d223%11", "fe80::39bd:88f7:6969:d223", "fe80::39bd:88f7:6969:d223"),
        ("0.0.0.0-255.255.255.255", "0.0.0.0", "255.255.255.255"),
    ],
)
def test_every_exchange_form_parses(text: str, first: str, last: str) -> None:
    r = IPRange.parse(text)
    assert str(r.first_address) == first
    assert str(r.last_address) == last
    assert r.as_written() == text


def test_zone_is_kept_apart() -> None:
    r = IPRange.parse("fe80::1%11")
    assert r.zone == "11"
    assert r.exchange_text() == "fe80::1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.300", "'10.0.0.300' is not an IP address, range or CIDR block"),
        ("10.0.0.9-10.0.0.1", "'10.0.0.9-10.0.0.1' ends before it starts"),
        ("10.0.0.1-::1", "'10.0.0.1-::1' mixes IPv4 and IPv6"),
        ("", "empty value"),
    ],
)
def test_bad_ranges_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(IPRangeError) as exc:
        IPRange.parse(text)
    assert str(exc.value).startswith(message)


ipv4_ranges = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**16)).map(
    lambda t: IPRange(4, t[0], min(2**32 - 1, t[0] + t[1]))
)


@given(st.lists(ipv4_ranges, max_size=40))
def test_merge_keeps_every_address_and_drops_only_contained_entries(ranges: list[IPRange]) -> None:
    merged = merge_ranges(ranges)
    # Nothing is lost: every input range lies inside some kept range.
    for r in ranges:
        assert any(m.contains(r) for m in merged)
    # Nothing kept is contained in another kept entry, and nothing is invented.
    for i, a in enumerate(merged):
        assert a in ranges
        for j, b in enumerate(merged):
            if i != j:
                assert not b.contains(a)
    # Stable order: sorted by first address, widest first.
    assert merged == sorted(merged, key=lambda r: (r.version, r.first, -r.last))
    assert merge_ranges(list(reversed(ranges))) == merged


@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_exchange_text_round_trips(addr: int, prefix: int) -> None:
    net = ipaddress.ip_network((addr, prefix), strict=False)
    r = IPRange.parse(str(net))
    assert IPRange.parse(r.exchange_text()) == r
