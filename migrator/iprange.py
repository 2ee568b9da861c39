"""IP address ranges in Exchange's RemoteIPRanges notation, built on :mod:`ipaddress`.

Exchange accepts a single address (``192.168.1.1``, ``fe80::1%11``), a range
(``192.168.1.1-192.168.1.254``) and a CIDR block, also with host bits set
(``192.168.1.1/24``). Every form becomes one :class:`IPRange`: a closed
interval of integers of one address family, which is what the overlap and
most-specific-match rules need.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class IPRangeError(ValueError):
    """A text that is not an address, range or CIDR block; the message says what was expected."""


@dataclass(frozen=True, order=True, slots=True)
class IPRange:
    """A closed interval of addresses of one family, as Exchange's RemoteIPRanges holds them."""

    version: int
    """4 or 6."""
    first: int
    """First address of the interval, as an integer."""
    last: int
    """Last address of the interval, as an integer (inclusive)."""
    zone: str = field(default="", compare=False)
    """An IPv6 ``%zone`` suffix as written in the export (interface-specific: never copied)."""
    text: str = field(default="", compare=False)
    """The entry exactly as the export wrote it (``192.168.1.1/24``), empty for computed ranges."""

    @classmethod
    def parse(cls, text: str) -> IPRange:
        """Parse one RemoteIPRanges entry; raise :class:`IPRangeError` when it is none of the forms."""
        raw = text.strip()
        if not raw:
            raise IPRangeError("empty value; expected an IP address, range or CIDR block")
        expected = "expected an address (10.0.0.1), a range (10.0.0.1-10.0.0.9) or a CIDR block (10.0.0.0/24)"
        try:
            if "/" in raw:
                addr_text, _, prefix = raw.partition("/")
                addr_part, zone = _split_zone(addr_text)
                net = ipaddress.ip_network(f"{addr_part}/{prefix}", strict=False)
                return cls(
                    net.version, int(net.network_address), int(net.broadcast_address), zone, raw
                )
            if "-" in raw:
                left, _, right = raw.partition("-")
                a_text, zone_a = _split_zone(left.strip())
                b_text, zone_b = _split_zone(right.strip())
                a = ipaddress.ip_address(a_text)
                b = ipaddress.ip_address(b_text)
                if a.version != b.version:
                    raise IPRangeError(
                        f"'{raw}' mixes IPv4 and IPv6; a range has two addresses of one family"
                    )
                if int(b) < int(a):
                    raise IPRangeError(
                        f"'{raw}' ends before it starts; a range runs from the lower address to the higher"
                    )
                return cls(a.version, int(a), int(b), zone_a or zone_b, raw)
            addr_text, zone = _split_zone(raw)
            addr = ipaddress.ip_address(addr_text)
            return cls(addr.version, int(addr), int(addr), zone, raw)
        except IPRangeError:
            raise
        except ValueError as exc:
            raise IPRangeError(
                f"'{raw}' is not an IP address, range or CIDR block; {expected}"
            ) from exc

    @classmethod
    def from_network(cls, network: str) -> IPRange:
        """Build from a CIDR text known to be valid (used by code, not for user input)."""
        net = ipaddress.ip_network(network, strict=False)
        return cls(net.version, int(net.network_address), int(net.broadcast_address))

    @property
    def size(self) -> int:
        """Number of addresses in the range."""
        return self.last - self.first + 1

    @property
    def first_address(self) -> IPAddress:
        """First address as an :mod:`ipaddress` object."""
        return (
            ipaddress.ip_address(self.first)
            if self.version == 4
            else ipaddress.IPv6Address(self.first)
        )

    @property
    def last_address(self) -> IPAddress:
        """Last address as an :mod:`ipaddress` object."""
        return (
            ipaddress.ip_address(self.last)
            if self.version == 4
            else ipaddress.IPv6Address(self.last)
        )

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The smallest list of CIDR blocks that covers exactly this range."""
        return list(ipaddress.summarize_address_range(self.first_address, self.last_address))

    def contains(self, other: IPRange) -> bool:
        """Whether every address of ``other`` is in this range."""
        return (
            self.version == other.version and self.first <= other.first and other.last <= self.last
        )

    def contains_address(self, address: IPAddress) -> bool:
        """Whether one address is in this range."""
        return self.version == address.version and self.first <= int(address) <= self.last

    def overlaps(self, other: IPRange) -> bool:
        """Whether the two ranges share at least one address."""
        return (
            self.version == other.version and self.first <= other.last and other.first <= self.last
        )

    def is_all(self) -> bool:
        """Whether this is the whole address space of its family."""
        top = (1 << 32) - 1 if self.version == 4 else (1 << 128) - 1
        return self.first == 0 and self.last == top

    def exchange_text(self) -> str:
        """The range in Exchange's notation: an address, a CIDR block where exact, else ``a-b``."""
        return _exchange_text(self.version, self.first, self.last)

    def as_written(self) -> str:
        """The entry as the export wrote it, or Exchange's notation for a computed range."""
        return self.text or self.exchange_text()

    def __str__(self) -> str:
        return self.exchange_text()


def _split_zone(text: str) -> tuple[str, str]:
    if "%" in text:
        addr, _, zone = text.partition("%")
        return addr, zone
    return text, ""


def merge_ranges(ranges: Iterable[IPRange]) -> list[IPRange]:
    """Normalise a list of ranges: drop duplicates and entries contained in another.

    Ranges that merely overlap or touch are kept apart (Exchange treats each
    entry on its own and an admin recognises the entries they wrote); the
    result is sorted by family, then first address, then widest first.
    """
    ordered = sorted(set(ranges), key=lambda r: (r.version, r.first, -r.last))
    out: list[IPRange] = []
    widest_last: dict[int, int] = {}
    for rng in ordered:
        if rng.version in widest_last and rng.last <= widest_last[rng.version]:
            continue  # contained in an earlier (wider or equal-start) range
        out.append(rng)
        widest_last[rng.version] = max(widest_last.get(rng.version, -1), rng.last)
    return out


ALL_IPV4 = IPRange(4, 0, (1 << 32) - 1)
ALL_IPV6 = IPRange(6, 0, (1 << 128) - 1)


@functools.lru_cache(maxsize=65536)
def _exchange_text(version: int, first: int, last: int) -> str:
    """:meth:`IPRange.exchange_text` (cached: a plan writes the same ranges on many servers)."""
    rng = IPRange(version, first, last)
    if first == last:
        return str(rng.first_address)
    nets = rng.networks()
    if len(nets) == 1:
        return str(nets[0])
    return f"{rng.first_address}-{rng.last_address}"
