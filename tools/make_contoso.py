"""Generate the bundled example organisation ``inventories/contoso/``.

Run from the repository root::

    python tools/make_contoso.py            # (re)writes inventories/contoso/
    python tools/make_contoso.py --check    # exits 1 if the files on disk differ

Every file is written in the exact bytes the PowerShell command named in
``inventories/contoso/README.md`` produces: the encoding that command uses
(UTF-16 LE with BOM for Windows PowerShell's ``Unicode`` and for ``Export-Clixml``'s
default, UTF-8 with BOM for Windows PowerShell's ``UTF8``, plain ASCII for its
``Export-Csv`` default, UTF-8 without BOM for PowerShell 7), CRLF line ends, the
``#TYPE`` line where Windows PowerShell writes one, every non-null field quoted and
null fields left empty and unquoted (as ``Export-Csv`` does).

Everything is deterministic: GUIDs are ``uuid5`` of names, dates are fixed.
Only the standard library is used.
"""

from __future__ import annotations

import base64
import ipaddress
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "inventories" / "contoso"

NS = uuid.UUID("6f1c1a52-7d0e-5a8e-9c3b-2f4e0c5d9a10")
"""Namespace of every generated GUID (uuid5 of a readable name)."""

CRLF = "\r\n"
AD_DOMAIN = "DC=contoso,DC=com"
ORG_DN = (
    "CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,"
    "CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration," + AD_DOMAIN
)
CONFIG_PARTITION = "CN=Configuration," + AD_DOMAIN


def guid(name: str) -> uuid.UUID:
    """A deterministic GUID for a readable name."""
    return uuid.uuid5(NS, name)


def immutable_id(g: uuid.UUID) -> str:
    """Base64 of the GUID's bytes in .NET ``Guid.ToByteArray()`` order (ImmutableId)."""
    return base64.b64encode(g.bytes_le).decode("ascii")


# --------------------------------------------------------------------------- writing files


def write(name: str, text: str, encoding: str) -> None:
    """Write ``text`` (lines already joined with CRLF) in one of PowerShell's encodings."""
    if encoding == "unicode":  # Windows PowerShell -Encoding Unicode / Export-Clixml default
        data = b"\xff\xfe" + text.encode("utf-16-le")
    elif encoding == "utf8bom":  # Windows PowerShell -Encoding UTF8
        data = text.encode("utf-8-sig")
    elif encoding == "ascii":  # Windows PowerShell Export-Csv default
        data = text.encode("ascii")  # raises if a non-ASCII letter slipped in (PS would write '?')
    elif encoding == "utf8":  # PowerShell 7 default (utf8NoBOM)
        data = text.encode("utf-8")
    else:
        raise ValueError(encoding)
    FILES[name] = data


FILES: dict[str, bytes] = {}


def csv_field(value: object) -> str:
    """One field as Export-Csv writes it: null empty and unquoted, else quoted with ``""``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "True" if value else "False"
    return '"' + str(value).replace('"', '""') + '"'


def export_csv(
    name: str,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, object]],
    *,
    type_name: str | None,
    encoding: str,
) -> None:
    """Write rows as ``Export-Csv`` does (optional ``#TYPE`` line, all fields quoted, CRLF)."""
    lines = []
    if type_name is not None:
        lines.append("#TYPE " + type_name)
    lines.append(",".join(csv_field(c) for c in columns))
    for row in rows:
        lines.append(",".join(csv_field(row.get(c)) for c in columns))
    write(name, CRLF.join(lines) + CRLF, encoding)


# --------------------------------------------------------------------------- CliXML


@dataclass
class Obj:
    """A CliXML ``<Obj>``: type names, ToString, then Props, an LST or an enum value, then MS."""

    name: str | None
    types: tuple[str, ...]
    to_string: str | None = None
    props: list[Node] = field(default_factory=list)
    lst: list[Node] | None = None
    enum: int | None = None
    ms: list[Node] = field(default_factory=list)
    key: str | None = None


@dataclass
class Prim:
    """A primitive element (``S``, ``B``, ``I32``, ``I64``, ``G``, ``DT``, ``Db``, ``By``, ``Nil``)."""

    tag: str
    name: str | None
    value: object = None


@dataclass
class Ref:
    """``<Ref N=".." RefId=".." />`` to an object serialised earlier (by its key)."""

    name: str
    key: str


Node = Obj | Prim | Ref


class Clixml:
    """Serialise nodes the way PowerShell's serializer lays them out (2-space indent, RefIds)."""

    def __init__(self) -> None:
        self.lines: list[str] = [
            '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        ]
        self.obj_ids = 0
        self.tn_ids: dict[tuple[str, ...], int] = {}
        self.keys: dict[str, int] = {}

    @staticmethod
    def _n(name: str | None) -> str:
        return f' N="{escape(name, {chr(34): "&quot;"})}"' if name is not None else ""

    def node(self, n: Node, depth: int) -> None:
        pad = "  " * depth
        if isinstance(n, Ref):
            self.lines.append(f'{pad}<Ref N="{n.name}" RefId="{self.keys[n.key]}" />')
            return
        if isinstance(n, Prim):
            if n.tag == "Nil" or n.value is None:
                self.lines.append(f"{pad}<Nil{self._n(n.name)} />")
                return
            v = n.value
            text = ("true" if v else "false") if n.tag == "B" else escape(str(v))
            self.lines.append(f"{pad}<{n.tag}{self._n(n.name)}>{text}</{n.tag}>")
            return
        ref = self.obj_ids
        self.obj_ids += 1
        if n.key:
            self.keys[n.key] = ref
        self.lines.append(f'{pad}<Obj{self._n(n.name)} RefId="{ref}">')
        inner = pad + "  "
        if n.types in self.tn_ids:
            self.lines.append(f'{inner}<TNRef RefId="{self.tn_ids[n.types]}" />')
        else:
            tn = len(self.tn_ids)
            self.tn_ids[n.types] = tn
            self.lines.append(f'{inner}<TN RefId="{tn}">')
            for t in n.types:
                self.lines.append(f"{inner}  <T>{escape(t)}</T>")
            self.lines.append(f"{inner}</TN>")
        if n.to_string is not None:
            if n.to_string == "":
                self.lines.append(f"{inner}<ToString />")
            else:
                self.lines.append(f"{inner}<ToString>{escape(n.to_string)}</ToString>")
        if n.enum is not None:
            self.lines.append(f"{inner}<I32>{n.enum}</I32>")
        if n.lst is not None:
            if not n.lst:
                self.lines.append(f"{inner}<LST />")
            else:
                self.lines.append(f"{inner}<LST>")
                for item in n.lst:
                    self.node(item, depth + 2)
                self.lines.append(f"{inner}</LST>")
        if n.props:
            self.lines.append(f"{inner}<Props>")
            for p in n.props:
                self.node(p, depth + 2)
            self.lines.append(f"{inner}</Props>")
        if n.ms:
            self.lines.append(f"{inner}<MS>")
            for p in n.ms:
                self.node(p, depth + 2)
            self.lines.append(f"{inner}</MS>")
        self.lines.append(f"{pad}</Obj>")

    def text(self, objs: Iterable[Obj]) -> str:
        for o in objs:
            self.node(o, 1)
        self.lines.append("</Objs>")
        return CRLF.join(self.lines)  # Export-Clixml ends without a final newline


def S(name: str | None, v: str | None) -> Prim:
    return Prim("S", name, v)


def B(name: str, v: bool) -> Prim:
    return Prim("B", name, v)


def I32(name: str, v: int) -> Prim:
    return Prim("I32", name, v)


def I64(name: str, v: int) -> Prim:
    return Prim("I64", name, v)


def G(name: str, v: uuid.UUID) -> Prim:
    return Prim("G", name, str(v))


def DT(name: str, v: str) -> Prim:
    return Prim("DT", name, v)


def Nil(name: str) -> Prim:
    return Prim("Nil", name)


# Exchange 2010 assemblies are version 14.0.0.0 on .NET 3.5 (mscorlib 2.0.0.0).
EXDATA = (
    "Microsoft.Exchange.Data, Version=14.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35"
)
MSCORLIB = "mscorlib, Version=2.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089"
ENUM = ("System.Enum", "System.ValueType", "System.Object")
MVP_BASE = ("Microsoft.Exchange.Data.MultiValuedPropertyBase", "System.Object")


def mvp(inner: str, assembly: str) -> tuple[str, ...]:
    return (f"Microsoft.Exchange.Data.MultiValuedProperty`1[[{inner}, {assembly}]]", *MVP_BASE)


def enum(name: str, type_name: str, text: str, value: int) -> Obj:
    return Obj(name, (type_name, *ENUM), text, enum=value)


AUTH = {
    "None": 0,
    "Tls": 1,
    "Integrated": 2,
    "BasicAuth": 4,
    "BasicAuthRequireTLS": 8,
    "ExchangeServer": 16,
    "ExternalAuthoritative": 32,
}
PERM = {
    "None": 0,
    "AnonymousUsers": 1,
    "ExchangeUsers": 2,
    "ExchangeServers": 4,
    "ExchangeLegacyServers": 8,
    "Partners": 16,
    "Custom": 32,
}


def flags(table: dict[str, int], names: Sequence[str]) -> tuple[str, int]:
    if not names:
        return "None", 0
    return ", ".join(names), sum(table[n] for n in names)


def ip_address_obj(addr: str) -> Obj:
    a = ipaddress.ip_address(addr)
    if a.version == 4:
        props: list[Node] = [
            I64("Address", int.from_bytes(a.packed, "little")),
            S("AddressFamily", "InterNetwork"),
        ]
    else:
        props = [S("AddressFamily", "InterNetworkV6"), I64("ScopeId", 0)]
    props += [
        B("IsIPv6Multicast", False),
        B("IsIPv6LinkLocal", False),
        B("IsIPv6SiteLocal", False),
        B("IsIPv6Teredo", False),
        B("IsIPv4MappedToIPv6", False),
    ]
    return Obj(
        "Address",
        ("System.Net.IPAddress", "System.Object"),
        str(a),
        props,
        ms=[S("IPAddressToString", str(a))],
    )


def ip_binding(text: str) -> Obj:
    if text.startswith("["):
        addr, port = text[1:].split("]:")
    else:
        addr, port = text.rsplit(":", 1)
    fam = "InterNetworkV6" if ":" in addr else "InterNetwork"
    return Obj(
        None,
        (
            "Microsoft.Exchange.Data.IPBinding",
            "System.Net.IPEndPoint",
            "System.Net.EndPoint",
            "System.Object",
        ),
        text,
        [I32("Port", int(port)), S("AddressFamily", fam), ip_address_obj(addr)],
    )


def _v6size(n: int) -> str:
    """Exchange prints an IPRange's Size as an IPvxAddress (IPv6 notation)."""
    return str(ipaddress.IPv6Address(min(n, 2**128 - 1)))


def ip_range(text: str) -> Obj:
    """An Exchange IPRange as Exchange 2010 serialises it (ToString, bounds, format, size)."""
    zone = ""
    core = text
    if "%" in text:
        core, zone = text.split("%", 1)
    if "/" in core:
        net = ipaddress.ip_network(core, strict=False)
        lo, hi, fmt = net.network_address, net.broadcast_address, "CIDR"
        shown = f"{net.network_address}/{net.prefixlen}"
    elif "-" in core:
        a, b = core.split("-")
        lo, hi, fmt = ipaddress.ip_address(a), ipaddress.ip_address(b), "LoHi"
        shown = core
    else:
        lo = hi = ipaddress.ip_address(core)
        fmt = "SingleAddress"
        shown = core
    suffix = f"%{zone}" if zone else ""
    return Obj(
        None,
        ("Microsoft.Exchange.Data.IPRange", "System.Object"),
        shown + suffix,
        [
            S("LowerBound", str(lo) + suffix),
            S("UpperBound", str(hi) + suffix),
            S("RangeFormat", fmt),
            S("Size", _v6size(int(hi) - int(lo) + 1)),
            S("Expression", text),
        ],
    )


def timespan(name: str, seconds: int) -> Obj:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)

    def db(v: float) -> str:
        return repr(v) if v != int(v) else str(int(v))

    return Obj(
        name,
        ("Microsoft.Exchange.Data.EnhancedTimeSpan", "System.ValueType", "System.Object"),
        f"{h:02d}:{m:02d}:{s:02d}",
        [
            I32("Days", 0),
            I32("Hours", h),
            I32("Milliseconds", 0),
            I32("Minutes", m),
            I32("Seconds", s),
            I64("Ticks", seconds * 10_000_000),
            Prim("Db", "TotalDays", db(seconds / 86400)),
            Prim("Db", "TotalHours", db(seconds / 3600)),
            Prim("Db", "TotalMilliseconds", db(seconds * 1000)),
            Prim("Db", "TotalMinutes", db(seconds / 60)),
            Prim("Db", "TotalSeconds", db(seconds)),
            I32("Sign", 1),
        ],
    )


UNLIMITED_INT = (
    f"Microsoft.Exchange.Data.Unlimited`1[[System.Int32, {MSCORLIB}]]",
    "System.ValueType",
    "System.Object",
)


def unlimited(name: str, value: int | None) -> Obj:
    if value is None:
        return Obj(name, UNLIMITED_INT, "Unlimited", [B("IsUnlimited", True)])
    return Obj(name, UNLIMITED_INT, str(value), [B("IsUnlimited", False), I32("Value", value)])


def bqs(name: str, nbytes: int) -> Obj:
    return Obj(
        name,
        ("Microsoft.Exchange.Data.ByteQuantifiedSize", "System.ValueType", "System.Object"),
        size_text(nbytes),
    )


def size_text(nbytes: int) -> str:
    """``10 MB (10,485,760 bytes)`` as Exchange's ByteQuantifiedSize prints it."""
    for unit, div in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if nbytes >= div and nbytes % div == 0:
            return f"{nbytes // div} {unit} ({nbytes:,} bytes)"
    return f"{nbytes:,} B ({nbytes:,} bytes)"


def adobjectid(name: str | None, dn: str, short: str, depth: int, key: str | None = None) -> Obj:
    rdn, _, parent_dn = dn.partition(",")
    parent = parent_dn.split(",", 1)[0].split("=", 1)[1]
    return Obj(
        name,
        (
            "Microsoft.Exchange.Data.Directory.ADObjectId",
            "Microsoft.Exchange.Data.ObjectId",
            "System.Object",
        ),
        short,
        [
            B("IsDeleted", False),
            S("Rdn", rdn),
            S("Parent", parent),
            I32("Depth", depth),
            S("DistinguishedName", dn),
            B("IsRelativeDn", False),
            S("DomainId", "contoso.com"),
            G("ObjectGuid", guid("ad:" + dn)),
            S("Name", rdn.split("=", 1)[1]),
        ],
        key=key,
    )


# --------------------------------------------------------------------------- the organisation


@dataclass(frozen=True)
class RC:
    """A receive connector, in Exchange's own terms."""

    server: str
    name: str
    bindings: tuple[str, ...]
    ranges: tuple[str, ...]
    auth: tuple[str, ...]
    perms: tuple[str, ...]
    role: str | None = None
    max_bytes: int = 10 * 1024**2
    fqdn: str = ""
    cert: str | None = None
    tls_caps: tuple[str, ...] = ()
    enabled: bool = True
    logging: str = "None"
    comment: str = ""
    relay_grant: bool = False
    """Whether ANONYMOUS LOGON holds ms-Exch-SMTP-Accept-Any-Recipient (admin-added)."""
    created: str = "2013-05-14T10:12:33+01:00"
    max_recipients: int = 200
    conn_per_source: int | None = 20


ALL_RANGES = ("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0-255.255.255.255")
DEFAULT_AUTH = ("Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer")
CLIENT_AUTH = ("Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS")
DIGICERT = "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US"
SAN_SUBJECT = "CN=mail.contoso.com, O=Contoso Ltd, L=London, C=GB"
SAN_TLS_NAME = f"<I>{DIGICERT}<S>{SAN_SUBJECT}"
MB = 1024**2

CONNECTORS_2010 = [
    RC(
        "EX10-01",
        "Default EX10-01",
        ("0.0.0.0:25",),
        ALL_RANGES,
        DEFAULT_AUTH,
        ("AnonymousUsers", "ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"),
        fqdn="mail.contoso.com",
        tls_caps=("mail.protection.outlook.com:AcceptCloudServicesMail",),
        max_recipients=5000,
        conn_per_source=None,
        created="2013-05-14T10:12:33+01:00",
    ),
    RC(
        "EX10-01",
        "Client EX10-01",
        ("0.0.0.0:587",),
        ALL_RANGES,
        CLIENT_AUTH,
        ("ExchangeUsers",),
        fqdn="EX10-01.contoso.com",
    ),
    RC(
        "EX10-01",
        "Relay Apps",
        ("0.0.0.0:25",),
        ("10.1.20.15", "10.1.20.16", "10.1.21.0/28", "203.0.113.10"),
        ("Tls",),
        ("AnonymousUsers",),
        fqdn="EX10-01.contoso.com",
        relay_grant=True,
        comment="Line-of-business applications (app01, app02, web farm, DMZ web server)",
        created="2013-09-03T15:40:02+01:00",
    ),
    RC(
        "EX10-01",
        "Relay Scanners",
        ("0.0.0.0:25",),
        ("10.1.40.0/26",),
        ("Tls", "ExternalAuthoritative"),
        ("ExchangeServers",),
        fqdn="EX10-01.contoso.com",
        max_bytes=30 * MB,
        comment="Multi-function printers, scan to e-mail",
        created="2014-02-11T09:05:47+00:00",
    ),
    RC(
        "EX10-01",
        "Relay IPv6 Apps",
        ("0.0.0.0:25",),
        ("2001:db8:10:20::/64", "2001:db8:10:21::15", "fe80::a1b2:c3ff:fed4:e5f6%11"),
        ("Tls",),
        ("AnonymousUsers",),
        fqdn="EX10-01.contoso.com",
        relay_grant=True,
        created="2017-06-20T11:31:09+01:00",
    ),
    RC(
        "EX10-01",
        "Relay Old Fax",
        ("0.0.0.0:25",),
        ("10.1.60.5", "10.1.60.6"),
        ("Tls",),
        ("AnonymousUsers",),
        fqdn="EX10-01.contoso.com",
        enabled=False,
        relay_grant=True,
        comment="Fax gateway, retired 2022; kept disabled",
        created="2013-11-28T16:22:51+00:00",
    ),
    RC(
        "EX10-03",
        "Default EX10-03",
        ("0.0.0.0:25",),
        ALL_RANGES,
        DEFAULT_AUTH,
        ("AnonymousUsers", "ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"),
        fqdn="EX10-03.contoso.com",
        max_recipients=5000,
        conn_per_source=None,
        created="2013-05-21T13:47:10+01:00",
    ),
    RC(
        "EX10-03",
        "Client EX10-03",
        ("0.0.0.0:587",),
        ALL_RANGES,
        CLIENT_AUTH,
        ("ExchangeUsers",),
        fqdn="EX10-03.contoso.com",
        created="2013-05-21T13:47:10+01:00",
    ),
    RC(
        "EX10-03",
        "Relay Legacy CRM",
        ("0.0.0.0:25",),
        ("10.2.50.1/24", "10.2.50.40", "10.2.51.20-10.2.51.29"),
        ("Tls",),
        ("AnonymousUsers",),
        fqdn="EX10-03.contoso.com",
        relay_grant=True,
        comment="Legacy CRM and its batch servers",
        created="2015-03-17T10:02:44+00:00",
    ),
    RC(
        "EX10-03",
        "Internal Mail Apps",
        ("0.0.0.0:25",),
        ("10.2.50.16/28", "10.2.60.0/24"),
        ("Tls",),
        ("AnonymousUsers",),
        fqdn="EX10-03.contoso.com",
        comment="Internal notifications only (no relay right)",
        created="2016-08-09T14:18:36+01:00",
    ),
]


def connectors_2016(server: str, hybrid: bool) -> list[RC]:
    """The five connectors setup creates on a 2016 server (plus the HCW's changes on the hybrid one).

    Every 2016 default connector binds both address families, whatever the server's addresses.
    """
    fqdn = f"{server}.contoso.com"
    created = "2026-10-05T14:02:11+01:00" if server == "EX16-01" else "2026-10-12T10:41:57+01:00"
    common = dict(max_bytes=36 * MB, fqdn=fqdn, created=created)
    return [
        RC(
            server,
            f"Default {server}",
            ("0.0.0.0:2525", "[::]:2525"),
            ALL_RANGES,
            DEFAULT_AUTH,
            ("ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"),
            role="HubTransport",
            **common,  # type: ignore[arg-type]
        ),
        RC(
            server,
            f"Client Proxy {server}",
            ("[::]:465", "0.0.0.0:465"),
            ALL_RANGES,
            DEFAULT_AUTH,
            ("ExchangeUsers", "ExchangeServers"),
            role="HubTransport",
            **common,  # type: ignore[arg-type]
        ),
        RC(
            server,
            f"Default Frontend {server}",
            ("[::]:25", "0.0.0.0:25"),
            ALL_RANGES,
            DEFAULT_AUTH,
            ("AnonymousUsers", "ExchangeServers", "ExchangeLegacyServers"),
            role="FrontendTransport",
            cert=SAN_TLS_NAME if hybrid else None,
            tls_caps=("mail.protection.outlook.com:AcceptCloudServicesMail",) if hybrid else (),
            logging="Verbose",
            **common,  # type: ignore[arg-type]
        ),
        RC(
            server,
            f"Outbound Proxy Frontend {server}",
            ("[::]:717", "0.0.0.0:717"),
            ALL_RANGES,
            DEFAULT_AUTH,
            ("ExchangeServers",),
            role="FrontendTransport",
            logging="Verbose",
            **common,  # type: ignore[arg-type]
        ),
        RC(
            server,
            f"Client Frontend {server}",
            ("[::]:587", "0.0.0.0:587"),
            ALL_RANGES,
            CLIENT_AUTH,
            ("ExchangeUsers",),
            role="FrontendTransport",
            **common,  # type: ignore[arg-type]
        ),
    ]


CONNECTORS_2016 = connectors_2016("EX16-01", True) + connectors_2016("EX16-02", False)


def to_utc(dt: str) -> str:
    """``2013-05-14T10:12:33+01:00`` -> ``2013-05-14T09:12:33Z``."""
    import datetime as _dt

    d = _dt.datetime.fromisoformat(dt).astimezone(_dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def rc_clixml(rc: RC, idx: int) -> Obj:
    """A 2010 ReceiveConnector as Export-Clixml writes it (no 2013+ properties)."""
    server_dn = f"CN={rc.server},CN=Servers,{ORG_DN}"
    dn = f"CN={rc.name},CN=SMTP Receive Connectors,CN=Protocols,{server_dn}"
    identity = f"{rc.server}\\{rc.name}"
    auth_text, auth_val = flags(AUTH, rc.auth)
    perm_text, perm_val = flags(PERM, rc.perms)
    key = f"id{idx}"
    changed = rc.created
    props: list[Node] = [
        enum(
            "AuthMechanism",
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.AuthMechanisms",
            auth_text,
            auth_val,
        ),
        S("Banner", None),
        B("BinaryMimeEnabled", True),
        Obj(
            "Bindings",
            mvp("Microsoft.Exchange.Data.IPBinding", EXDATA),
            lst=[ip_binding(b) for b in rc.bindings],
        ),
        B("ChunkingEnabled", True),
        Nil("DefaultDomain"),
        B("DeliveryStatusNotificationEnabled", True),
        B("EightBitMimeEnabled", True),
        B("BareLinefeedRejectionEnabled", False),
        B("DomainSecureEnabled", "Default" in rc.name),
        B("EnhancedStatusCodesEnabled", True),
        B("LongAddressesEnabled", False),
        B("OrarEnabled", False),
        B("SuppressXAnonymousTls", False),
        B("AdvertiseClientSettings", False),
        Obj(
            "Fqdn",
            ("Microsoft.Exchange.Data.Fqdn", "Microsoft.Exchange.Data.SmtpDomain", "System.Object"),
            rc.fqdn,
            [S("Domain", rc.fqdn)],
        ),
        S("Comment", rc.comment),
        B("Enabled", rc.enabled),
        timespan("ConnectionTimeout", 600),
        timespan("ConnectionInactivityTimeout", 300),
        unlimited("MessageRateLimit", None),
        enum(
            "MessageRateSource",
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.MessageRateSourceFlags",
            "IPAddress",
            1,
        ),
        unlimited("MaxInboundConnection", 5000),
        unlimited("MaxInboundConnectionPerSource", rc.conn_per_source),
        I32("MaxInboundConnectionPercentagePerSource", 100 if rc.conn_per_source is None else 2),
        bqs("MaxHeaderSize", 64 * 1024),
        I32("MaxHopCount", 30),
        I32("MaxLocalHopCount", 8),
        I32("MaxLogonFailures", 3),
        bqs("MaxMessageSize", rc.max_bytes),
        unlimited("MaxProtocolErrors", 5),
        I32("MaxRecipientsPerMessage", rc.max_recipients),
        enum("PermissionGroups", "Microsoft.Exchange.Data.PermissionGroups", perm_text, perm_val),
        B("PipeliningEnabled", True),
        enum(
            "ProtocolLoggingLevel",
            "Microsoft.Exchange.Data.ProtocolLoggingLevel",
            rc.logging,
            0 if rc.logging == "None" else 1,
        ),
        Obj(
            "RemoteIPRanges",
            mvp("Microsoft.Exchange.Data.IPRange", EXDATA),
            lst=[ip_range(r) for r in rc.ranges],
        ),
        B("RequireEHLODomain", False),
        B("RequireTLS", False),
        B("EnableAuthGSSAPI", False),
        enum(
            "ExtendedProtectionPolicy",
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ExtendedProtectionPolicySetting",
            "None",
            0,
        ),
        B("LiveCredentialEnabled", False),
        Obj(
            "TlsDomainCapabilities",
            mvp("Microsoft.Exchange.Data.SmtpReceiveDomainCapabilities", EXDATA),
            lst=[
                Obj(
                    None,
                    ("Microsoft.Exchange.Data.SmtpReceiveDomainCapabilities", "System.Object"),
                    cap,
                    [
                        S("Domain", cap.split(":")[0]),
                        S("Capabilities", cap.split(":")[1]),
                        Nil("SmtpX509Identifier"),
                    ],
                )
                for cap in rc.tls_caps
            ],
        ),
        adobjectid("Server", server_dn, rc.server, 9),
        enum("SizeEnabled", "Microsoft.Exchange.Data.SizeMode", "Enabled", 1),
        timespan("TarpitInterval", 5),
        timespan("MaxAcknowledgementDelay", 30),
        S("AdminDisplayName", ""),
        Obj(
            "ExchangeVersion",
            ("Microsoft.Exchange.Data.ExchangeObjectVersion", "System.Object"),
            "0.1 (8.0.535.0)",
            [
                S("NextMajorVersion", "1.0 (0.0.0.0)"),
                S("NextMinorVersion", "0.2 (0.0.0.0)"),
                Prim("By", "Major", 0),
                Prim("By", "Minor", 1),
                S("ExchangeBuild", "8.0.535.0"),
            ],
        ),
        S("Name", rc.name),
        S("DistinguishedName", dn),
        adobjectid("Identity", dn, identity, 12, key=key),
        G("Guid", guid("ad:" + dn)),
        adobjectid(
            "ObjectCategory",
            f"CN=ms-Exch-Smtp-Receive-Connector,CN=Schema,{CONFIG_PARTITION}",
            "contoso.com/Configuration/Schema/ms-Exch-Smtp-Receive-Connector",
            4,
        ),
        Obj(
            "ObjectClass",
            mvp("System.String", MSCORLIB),
            lst=[S(None, "top"), S(None, "msExchSmtpReceiveConnector")],
        ),
        DT("WhenChanged", changed),
        DT("WhenCreated", rc.created),
        DT("WhenChangedUTC", to_utc(changed)),
        DT("WhenCreatedUTC", to_utc(rc.created)),
        Obj(
            "OrganizationId",
            ("Microsoft.Exchange.Data.Directory.OrganizationId", "System.Object"),
            "",
            [Nil("OrganizationalUnit"), Nil("ConfigurationUnit")],
        ),
        Ref("Id", key),
        S("OriginatingServer", "DC01.contoso.com"),
        B("IsValid", True),
        enum("ObjectState", "Microsoft.Exchange.Data.ObjectState", "Unchanged", 1),
    ]
    return Obj(
        None,
        (
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector",
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADConfigurationObject",
            "Microsoft.Exchange.Data.Directory.ADObject",
            "Microsoft.Exchange.Data.Directory.ADRawEntry",
            "Microsoft.Exchange.Data.ConfigurableObject",
            "System.Object",
        ),
        identity,
        props,
        ms=[
            S("PSComputerName", "ex10-01.contoso.com"),
            G("RunspaceId", guid("runspace:ex10-01:2026-11-02")),
            B("PSShowComputerName", False),
        ],
    )


def make_receive_connectors() -> None:
    objs = [rc_clixml(rc, i) for i, rc in enumerate(CONNECTORS_2010)]
    write("ReceiveConnectors-EX2010.xml", Clixml().text(objs), "unicode")

    cols = [
        "Identity",
        "Server",
        "Name",
        "TransportRole",
        "Bindings",
        "RemoteIPRanges",
        "AuthMechanism",
        "PermissionGroups",
        "MaxMessageSize",
        "Fqdn",
        "TlsCertificateName",
        "TlsDomainCapabilities",
        "Enabled",
        "ProtocolLoggingLevel",
        "Comment",
    ]
    rows = []
    for rc in CONNECTORS_2016:
        rows.append(
            {
                "Identity": f"{rc.server}\\{rc.name}",
                "Server": rc.server,
                "Name": rc.name,
                "TransportRole": rc.role,
                "Bindings": ";".join(rc.bindings),
                "RemoteIPRanges": ";".join(rc.ranges),
                "AuthMechanism": flags(AUTH, rc.auth)[0],
                "PermissionGroups": flags(PERM, rc.perms)[0],
                "MaxMessageSize": size_text(rc.max_bytes),
                "Fqdn": rc.fqdn,
                "TlsCertificateName": rc.cert,
                "TlsDomainCapabilities": ";".join(rc.tls_caps),
                "Enabled": rc.enabled,
                "ProtocolLoggingLevel": rc.logging,
                "Comment": rc.comment,
            }
        )
    export_csv(
        "ReceiveConnectors-EX2016.csv",
        cols,
        rows,
        type_name="Selected.Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector",
        encoding="utf8bom",
    )


# --------------------------------------------------------------------------- AD permissions

GROUP_ACES: dict[str, dict[str, tuple[str, ...]]] = {
    "AnonymousUsers": {
        "NT AUTHORITY\\ANONYMOUS LOGON": (
            "ms-Exch-SMTP-Submit",
            "ms-Exch-SMTP-Accept-Any-Sender",
            "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender",
            "ms-Exch-Accept-Headers-Routing",
        ),
    },
    "ExchangeUsers": {
        "NT AUTHORITY\\Authenticated Users": (
            "ms-Exch-SMTP-Submit",
            "ms-Exch-SMTP-Accept-Any-Recipient",
            "ms-Exch-Bypass-Anti-Spam",
            "ms-Exch-Accept-Headers-Routing",
        ),
    },
    "ExchangeServers": {
        server_group: (
            "ms-Exch-SMTP-Submit",
            "ms-Exch-SMTP-Accept-Any-Recipient",
            "ms-Exch-SMTP-Accept-Any-Sender",
            "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender",
            "ms-Exch-SMTP-Accept-Authentication-Flag",
            "ms-Exch-Bypass-Anti-Spam",
            "ms-Exch-Bypass-Message-Size-Limit",
            "ms-Exch-SMTP-Accept-Exch50",
            "ms-Exch-Accept-Headers-Routing",
            "ms-Exch-Accept-Headers-Organization",
            "ms-Exch-Accept-Headers-Forest",
        )
        for server_group in (
            "MS Exchange\\Hub Transport Servers",
            "MS Exchange\\Edge Transport Servers",
        )
    },
    "ExchangeLegacyServers": {
        "MS Exchange\\Legacy Exchange Servers": (
            "ms-Exch-SMTP-Submit",
            "ms-Exch-SMTP-Accept-Any-Recipient",
            "ms-Exch-SMTP-Accept-Any-Sender",
            "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender",
            "ms-Exch-SMTP-Accept-Authentication-Flag",
            "ms-Exch-Bypass-Anti-Spam",
            "ms-Exch-Bypass-Message-Size-Limit",
            "ms-Exch-SMTP-Accept-Exch50",
            "ms-Exch-Accept-Headers-Routing",
        ),
    },
}
EXTERNALLY_SECURED = {
    "MS Exchange\\Externally Secured Servers": (
        "ms-Exch-SMTP-Submit",
        "ms-Exch-SMTP-Accept-Any-Recipient",
        "ms-Exch-SMTP-Accept-Any-Sender",
        "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender",
        "ms-Exch-SMTP-Accept-Authentication-Flag",
        "ms-Exch-Bypass-Anti-Spam",
        "ms-Exch-Bypass-Message-Size-Limit",
        "ms-Exch-SMTP-Accept-Exch50",
        "ms-Exch-Accept-Headers-Routing",
        "ms-Exch-Accept-Headers-Organization",
        "ms-Exch-Accept-Headers-Forest",
    ),
}


def make_ad_permissions() -> None:
    rows = []
    for rc in CONNECTORS_2010 + CONNECTORS_2016:
        identity = f"{rc.server}\\{rc.name}"
        aces: list[tuple[str, str]] = []
        for group in rc.perms:
            for user, rights in GROUP_ACES[group].items():
                aces += [(user, r) for r in rights]
        if "ExternalAuthoritative" in rc.auth:
            for user, rights in EXTERNALLY_SECURED.items():
                aces += [(user, r) for r in rights]
        if rc.relay_grant:  # Add-ADPermission -User 'NT AUTHORITY\ANONYMOUS LOGON' ...
            aces.append(("NT AUTHORITY\\ANONYMOUS LOGON", "ms-Exch-SMTP-Accept-Any-Recipient"))
        for user, right in aces:
            rows.append(
                {
                    "Identity": identity,
                    "User": user,
                    "AccessRights": "ExtendedRight",
                    "ExtendedRights": right,
                    "Deny": False,
                    "IsInherited": False,
                    "InheritanceType": "All",
                }
            )
    export_csv(
        "ADPermissions.csv",
        [
            "Identity",
            "User",
            "AccessRights",
            "ExtendedRights",
            "Deny",
            "IsInherited",
            "InheritanceType",
        ],
        rows,
        type_name="Selected.Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject",
        encoding="utf8bom",
    )


# --------------------------------------------------------------------------- servers, domains, ...


def make_exchange_servers() -> None:
    v2010 = "Version 14.3 (Build 123.4)"
    v2016 = "Version 15.1 (Build 2507.6)"
    servers = [
        ("EX10-01", "ClientAccess, HubTransport", "London", v2010, "14.03.0513.000"),
        ("EX10-02", "Mailbox", "London", v2010, "14.03.0513.000"),
        ("EX10-03", "Mailbox, ClientAccess, HubTransport", "Dublin", v2010, "14.03.0513.000"),
        ("EX16-01", "Mailbox", "London", v2016, "15.01.2507.055"),
        ("EX16-02", "Mailbox", "Dublin", v2016, "15.01.2507.055"),
    ]
    rows = [
        {
            "Name": name,
            "Fqdn": f"{name}.contoso.com",
            "ServerRole": roles,
            "Site": f"contoso.com/Configuration/Sites/{site}",
            "AdminDisplayVersion": adv,
            "Edition": "Enterprise" if name.startswith("EX10") else "Standard",
            "ExSetupVersion": exsetup,
        }
        for name, roles, site, adv, exsetup in servers
    ]
    export_csv(
        "ExchangeServers.csv",
        ["Name", "Fqdn", "ServerRole", "Site", "AdminDisplayVersion", "Edition", "ExSetupVersion"],
        rows,
        type_name="Selected.Microsoft.Exchange.Data.Directory.Management.ExchangeServer",
        encoding="ascii",
    )


def make_accepted_domains() -> None:
    """``Get-AcceptedDomain | Select-Object ... | Export-Csv`` from the 2010 shell (PowerShell 2.0)."""
    domains = [
        ("contoso.com", "contoso.com", "Authoritative", True),
        ("fabrikam.com", "fabrikam.com", "Authoritative", False),
        ("Partner Contoso Net", "partner.contoso.net", "InternalRelay", False),
    ]
    export_csv(
        "AcceptedDomains.csv",
        ["Name", "DomainName", "DomainType", "Default"],
        (
            {"Name": name, "DomainName": domain, "DomainType": dtype, "Default": default}
            for name, domain, dtype, default in domains
        ),
        type_name="Selected.Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomain",
        encoding="ascii",
    )


def make_send_connectors() -> None:
    cols = [
        "Name",
        "AddressSpaces",
        "SourceTransportServers",
        "SmartHosts",
        "DNSRoutingEnabled",
        "Enabled",
        "Fqdn",
        "RequireTLS",
        "TlsAuthLevel",
        "TlsDomain",
        "TlsCertificateName",
        "CloudServicesMailEnabled",
        "MaxMessageSize",
    ]
    rows = [
        {
            "Name": "Internet",
            "AddressSpaces": "SMTP:*;1",
            "SourceTransportServers": "EX10-01;EX10-03",
            "SmartHosts": "",
            "DNSRoutingEnabled": True,
            "Enabled": True,
            "Fqdn": "mail.contoso.com",
            "RequireTLS": False,
            "TlsAuthLevel": None,
            "TlsDomain": None,
            "TlsCertificateName": None,
            "CloudServicesMailEnabled": False,
            "MaxMessageSize": size_text(25 * MB),
        },
        {
            "Name": "Partner Northwind TLS",
            "AddressSpaces": "SMTP:northwindtraders.com;1",
            "SourceTransportServers": "EX10-01",
            "SmartHosts": "smtp.northwindtraders.com",
            "DNSRoutingEnabled": False,
            "Enabled": True,
            "Fqdn": "mail.contoso.com",
            "RequireTLS": True,
            "TlsAuthLevel": "DomainValidation",
            "TlsDomain": "northwindtraders.com",
            "TlsCertificateName": None,
            "CloudServicesMailEnabled": False,
            "MaxMessageSize": size_text(25 * MB),
        },
        {
            "Name": "Outbound to Office 365",
            "AddressSpaces": "SMTP:contoso.mail.onmicrosoft.com;1",
            "SourceTransportServers": "EX10-01",
            "SmartHosts": "",
            "DNSRoutingEnabled": True,
            "Enabled": True,
            "Fqdn": "mail.contoso.com",
            "RequireTLS": True,
            "TlsAuthLevel": "DomainValidation",
            "TlsDomain": "mail.protection.outlook.com",
            "TlsCertificateName": SAN_TLS_NAME,
            "CloudServicesMailEnabled": True,
            "MaxMessageSize": size_text(35 * MB),
        },
    ]
    export_csv("SendConnectors.csv", cols, rows, type_name=None, encoding="utf8bom")


def make_transport_config() -> None:
    export_csv(
        "TransportConfig.csv",
        ["MaxSendSize", "MaxReceiveSize", "MaxRecipientEnvelopeLimit", "ExternalPostmasterAddress"],
        [
            {
                "MaxSendSize": size_text(25 * MB),
                "MaxReceiveSize": size_text(25 * MB),
                "MaxRecipientEnvelopeLimit": "5000",
                "ExternalPostmasterAddress": None,
            }
        ],
        type_name=None,
        encoding="ascii",
    )


def make_certificates() -> None:
    san_thumb = "3F8A1C5D92B7E04A6C1D8F2E5B9A70C4D1E6F283"
    certs = [
        (
            "EX10-01",
            san_thumb,
            SAN_SUBJECT,
            DIGICERT,
            "mail.contoso.com;autodiscover.contoso.com;smtp.contoso.com",
            "2027-03-24",
            "IMAP, POP, IIS, SMTP",
            False,
        ),
        (
            "EX10-01",
            "A1B2C3D4E5F60718293A4B5C6D7E8F9011223344",
            "CN=EX10-01",
            "CN=EX10-01",
            "EX10-01;EX10-01.contoso.com",
            "2028-05-13",
            "IMAP, POP, SMTP",
            True,
        ),
        (
            "EX10-03",
            "B7C1D9E2F30415263748596A7B8C9D0E1F203142",
            "CN=EX10-03",
            "CN=EX10-03",
            "EX10-03;EX10-03.contoso.com",
            "2028-05-20",
            "IMAP, POP, IIS, SMTP",
            True,
        ),
        (
            "EX16-01",
            san_thumb,
            SAN_SUBJECT,
            DIGICERT,
            "mail.contoso.com;autodiscover.contoso.com;smtp.contoso.com",
            "2027-03-24",
            "SMTP",
            False,
        ),
        (
            "EX16-01",
            "C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F7",
            "CN=EX16-01",
            "CN=EX16-01",
            "EX16-01;EX16-01.contoso.com",
            "2031-10-05",
            "IMAP, POP, IIS, SMTP",
            True,
        ),
        (
            "EX16-01",
            "D9E8F7A6B5C4D3E2F1A0B9C8D7E6F5A4B3C2D1E0",
            "CN=Microsoft Exchange Server Auth Certificate",
            "CN=Microsoft Exchange Server Auth Certificate",
            "",
            "2031-09-09",
            "SMTP",
            True,
        ),
        (
            "EX16-02",
            "E1F2A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4",
            "CN=EX16-02",
            "CN=EX16-02",
            "EX16-02;EX16-02.contoso.com",
            "2031-10-12",
            "IMAP, POP, IIS, SMTP",
            True,
        ),
    ]
    rows = [
        {
            "Server": server,
            "Thumbprint": thumb,
            "Subject": subject,
            "Issuer": issuer,
            "CertificateDomains": domains,
            "NotAfter": not_after,
            "Services": services,
            "IsSelfSigned": self_signed,
        }
        for server, thumb, subject, issuer, domains, not_after, services, self_signed in certs
    ]
    export_csv(
        "ExchangeCertificates.csv",
        [
            "Server",
            "Thumbprint",
            "Subject",
            "Issuer",
            "CertificateDomains",
            "NotAfter",
            "Services",
            "IsSelfSigned",
        ],
        rows,
        type_name=None,
        encoding="utf8bom",
    )


# --------------------------------------------------------------------------- users

SYNCED_OU = "OU=Synced,OU=Contoso," + AD_DOMAIN
USERS_OU = "OU=Users,OU=Contoso," + AD_DOMAIN
RESOURCES_OU = "OU=Resources,OU=Contoso," + AD_DOMAIN
SERVICE_OU = "OU=Service Accounts,OU=Contoso," + AD_DOMAIN

USER_MAILBOX = 1
SHARED_MAILBOX = 4
ROOM_MAILBOX = 16
REMOTE_USER_MAILBOX = 2147483648


@dataclass
class OnPrem:
    """One on-premises AD user, as the generator describes it."""

    sam: str
    name: str
    ou: str
    upn: str
    proxies: list[str]
    mail: str | None = None
    rtd: int | None = None
    """msExchRecipientTypeDetails."""
    mailbox_guid: uuid.UUID | None = None
    target: str | None = None
    consistency: uuid.UUID | None = None
    enabled: bool = True
    case: str = ""

    @property
    def object_guid(self) -> uuid.UUID:
        return guid("objectGUID:" + self.sam)


@dataclass
class Cloud:
    """One cloud user (Get-MgUser plus role membership and mailbox)."""

    key: str
    upn: str
    name: str
    proxies: list[str]
    mail: str | None = None
    immutable: str | None = None
    sync: bool | None = None
    roles: list[str] = field(default_factory=list)
    mailbox: uuid.UUID | None = None
    case: str = ""
    mailbox_type: str = "UserMailbox"

    @property
    def id(self) -> uuid.UUID:
        return guid("entra:" + self.key)

    @property
    def archive(self) -> uuid.UUID | None:
        """Every third cloud mailbox (by a stable hash of its key) has an archive."""
        if self.mailbox is None or guid("archive?:" + self.key).int % 3:
            return None
        return guid("archive:" + self.key)

    @property
    def legacy_dn(self) -> str | None:
        """LegacyExchangeDN as Exchange Online makes it (a hex id and the alias)."""
        if self.mailbox is None:
            return None
        alias = self.upn.partition("@")[0][:13]
        return (
            "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn="
            + guid("legacydn:" + self.key).hex
            + "-"
            + alias
        )


def addrs(local: str, domain: str = "contoso.com", extra: Sequence[str] = ()) -> list[str]:
    primary = f"{local}@{domain}"
    return [f"SMTP:{primary}", *extra, f"smtp:{local}@contoso.mail.onmicrosoft.com"]


def build_users() -> tuple[list[OnPrem], list[Cloud]]:
    onprem: list[OnPrem] = []
    cloud: list[Cloud] = []

    # --- already synced (in the sync scope OU; mS-DS-ConsistencyGuid written back) ---------
    synced = [
        ("awalker", "Alice Walker", "alice.walker", "contoso.com", True, ()),
        ("bcarter", "Ben Carter", "ben.carter", "contoso.com", False, ()),
        (
            "zmuller",
            "Zoë Müller",
            "zoe.muller",
            "contoso.com",
            True,
            (
                "smtp:zoe.mueller@contoso.com",
                "X500:/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
                "/cn=Recipients/cn=zmuller",
            ),
        ),
        ("hotake", "Ōtake Haruki", "haruki.otake", "contoso.com", True, ()),
        ("falsayed", "Fatima Al-Sayed", "fatima.alsayed", "contoso.com", False, ()),
        ("loconnor", "Liam O'Connor", "liam.o'connor", "contoso.com", False, ()),
        ("nkelly", "Niamh Kelly", "niamh.kelly", "contoso.com", True, ()),
        (
            "ghopper",
            "Grace Hopper",
            "grace.hopper",
            "contoso.com",
            False,
            ("smtp:info@contoso.com",),
        ),
        ("osmith", "Oliver Smith", "oliver.smith", "contoso.com", True, ()),
        ("smartin", "Sophie Martin", "sophie.martin", "fabrikam.com", True, ()),
        ("jwilson", "James Wilson", "james.wilson", "contoso.com", False, ()),
        ("ebrown", "Emma Brown", "emma.brown", "contoso.com", True, ()),
    ]
    for sam, name, local, domain, remote, extra in synced:
        mbx = guid("mailbox:" + sam)
        u = OnPrem(
            sam,
            name,
            SYNCED_OU,
            f"{local}@{domain}",
            addrs(local, domain, extra),
            mail=f"{local}@{domain}",
            rtd=REMOTE_USER_MAILBOX if remote else USER_MAILBOX,
            mailbox_guid=mbx,
            target=f"SMTP:{local}@contoso.mail.onmicrosoft.com" if remote else None,
            case="already synced",
        )
        # Ōtake was migrated with ADMT from the old Tokyo forest: her sourceAnchor is the old GUID.
        u.consistency = guid("objectGUID:tokyo:" + sam) if sam == "hotake" else u.object_guid
        onprem.append(u)
        cloud.append(
            Cloud(
                sam,
                u.upn,
                name,
                [p for p in u.proxies if not p.startswith("X500:")]
                + [f"smtp:{local}@contoso.onmicrosoft.com"],
                mail=u.mail,
                immutable=immutable_id(u.consistency),
                sync=True,
                mailbox=mbx if remote else None,
                case="already synced",
            )
        )

    def pair(
        sam: str,
        name: str,
        upn: str,
        proxies: list[str],
        case: str,
        *,
        ou: str = USERS_OU,
        mail: str | None = None,
        rtd: int | None = None,
        onprem_mailbox: bool = False,
        cloud_upn: str | None = None,
        cloud_proxies: list[str] | None = None,
        cloud_mail: str | None = "",
        cloud_mailbox: bool = True,
        immutable: str | None = None,
        sync: bool | None = None,
        roles: Sequence[str] = (),
        remote_prepared: bool = False,
    ) -> OnPrem:
        primary = next((p[5:] for p in proxies if p.startswith("SMTP:")), None)
        u = OnPrem(
            sam,
            name,
            ou,
            upn,
            proxies,
            mail=mail if mail is not None else primary,
            rtd=rtd,
            case=case,
        )
        cloud_guid = guid("mailbox:cloud:" + sam) if cloud_mailbox else None
        if onprem_mailbox:
            u.rtd = USER_MAILBOX
            u.mailbox_guid = guid("mailbox:" + sam)
        if remote_prepared:  # New-RemoteMailbox / Enable-RemoteMailbox with the cloud ExchangeGuid
            u.rtd = REMOTE_USER_MAILBOX
            u.mailbox_guid = cloud_guid
            u.target = f"SMTP:{upn.split('@')[0]}@contoso.mail.onmicrosoft.com"
        onprem.append(u)
        c_upn = cloud_upn or upn
        c_proxies = (
            cloud_proxies
            if cloud_proxies is not None
            else [
                p for p in proxies if p.lower().startswith("smtp:") and "mail.onmicrosoft" not in p
            ]
            + [f"smtp:{c_upn.split('@')[0]}@contoso.onmicrosoft.com"]
        )
        c_mail = (
            cloud_mail
            if cloud_mail != ""
            else next((p[5:] for p in c_proxies if p.startswith("SMTP:")), None)
        )
        cloud.append(
            Cloud(
                sam,
                c_upn,
                name,
                c_proxies,
                mail=c_mail,
                immutable=immutable,
                sync=sync,
                roles=list(roles),
                mailbox=cloud_guid,
                case=case,
            )
        )
        return u

    # --- clean soft match on the primary SMTP address ---------------------------------------
    pair(
        "djones",
        "David Jones",
        "david.jones@contoso.com",
        ["SMTP:david.jones@contoso.com"],
        "soft match (primary SMTP)",
    )
    pair(
        "sobrien",
        "Siobhán O'Brien",
        "siobhan.obrien@contoso.com",
        ["SMTP:siobhan.o'brien@contoso.com", "smtp:siobhan.o'brien@contoso.mail.onmicrosoft.com"],
        "soft match (primary SMTP), remote mailbox already prepared",
        remote_prepared=True,
    )
    pair(
        "lnowak",
        "Łukasz Nowak",
        "lukasz.nowak@contoso.com",
        addrs("lukasz.nowak"),
        "soft match (primary SMTP), 2010 mailbox, unlicensed cloud user",
        onprem_mailbox=True,
        cloud_mailbox=False,
    )
    pair(
        "cdavies",
        "Chloe Davies",
        "chloe.davies@contoso.com",
        ["SMTP:chloe.davies@fabrikam.com", "smtp:chloe.davies@contoso.com"],
        "soft match (primary SMTP in fabrikam.com)",
    )

    # --- soft match on userPrincipalName only -------------------------------------------------
    pair(
        "rpatel",
        "Ryan Patel",
        "ryan.patel@contoso.com",
        ["SMTP:ryan.patel@contoso.com"],
        "soft match (UPN only; cloud primary SMTP differs)",
        cloud_proxies=["SMTP:rpatel@contoso.com", "smtp:ryan.patel@contoso.onmicrosoft.com"],
    )
    pair(
        "mchen",
        "Mei Chen",
        "mei.chen@contoso.com",
        ["SMTP:mei.chen@contoso.com"],
        "soft match (UPN only; cloud user has no mail attributes)",
        cloud_proxies=[],
        cloud_mail=None,
        cloud_mailbox=False,
    )

    # --- hard match needed: a stale ImmutableId from the retired Tokyo forest blocks soft match -
    pair(
        "kmurphy",
        "Kevin Murphy",
        "kevin.murphy@contoso.com",
        ["SMTP:kevin.murphy@contoso.com"],
        "hard match needed (stale ImmutableId)",
        immutable=immutable_id(guid("objectGUID:tokyo:kmurphy")),
        sync=False,
    )
    pair(
        "fmarchand",
        "Fabrice Marchand",
        "fabrice.marchand@fabrikam.com",
        ["SMTP:fabrice.marchand@fabrikam.com"],
        "blocked: hard match needed but the cloud UPN is in federated fabrikam.com",
        immutable=immutable_id(guid("objectGUID:tokyo:fmarchand")),
        sync=False,
    )

    # --- hard match prepared: the cloud ImmutableId already equals the on-premises objectGUID --
    hs = pair(
        "hschmidt",
        "Hannah Schmidt",
        "hannah.schmidt@contoso.com",
        ["SMTP:hannah.schmidt@contoso.com"],
        "hard match (ImmutableId already equals the objectGUID)",
    )
    cloud[-1].immutable = immutable_id(hs.object_guid)

    # --- blocked: cloud user holds an admin role -----------------------------------------------
    pair(
        "praman",
        "Priya Raman",
        "priya.raman@contoso.com",
        ["SMTP:priya.raman@contoso.com"],
        "blocked: cloud user holds an admin role",
        roles=["Exchange Administrator"],
    )

    # --- warning: on-premises UPN suffix not verified in the tenant ----------------------------
    pair(
        "mrossi",
        "Marco Rossi",
        "marco.rossi@partner.contoso.net",
        ["SMTP:marco.rossi@contoso.com"],
        "soft match with warning: UPN suffix partner.contoso.net not verified",
        cloud_upn="marco.rossi@contoso.com",
    )

    # --- IdFix: .local UPN suffix (also unverified) --------------------------------------------
    pair(
        "jsmith",
        "John Smith",
        "jsmith@contoso.local",
        ["SMTP:john.smith@contoso.com"],
        "soft match with warning: UPN suffix .local",
        cloud_upn="john.smith@contoso.com",
    )

    # --- conflict: duplicate proxyAddress (smtp:info@contoso.com also on Grace Hopper) --------
    pair(
        "tbaker",
        "Tom Baker",
        "tom.baker@contoso.com",
        ["SMTP:tom.baker@contoso.com", "smtp:info@contoso.com"],
        "conflict: proxyAddress smtp:info@contoso.com also on ghopper",
        cloud_proxies=["SMTP:tom.baker@contoso.com", "smtp:tom.baker@contoso.onmicrosoft.com"],
    )

    # --- conflict: several candidates (SMTP matches one user, UPN another) --------------------
    pair(
        "cgreen",
        "Chris Green",
        "cgreen@contoso.com",
        ["SMTP:c.green@contoso.com"],
        "conflict: several candidates (SMTP -> cgreen, UPN -> chgreen)",
        cloud_upn="chris.green@contoso.com",
        cloud_proxies=["SMTP:c.green@contoso.com", "smtp:chris.green@contoso.onmicrosoft.com"],
    )
    onprem.append(
        OnPrem(
            "chgreen",
            "Christopher Green",
            USERS_OU,
            "chris.green@contoso.com",
            ["SMTP:christopher.green@contoso.com"],
            mail="christopher.green@contoso.com",
            rtd=USER_MAILBOX,
            mailbox_guid=guid("mailbox:chgreen"),
            case="conflict: second candidate for cloud chris.green@contoso.com (UPN)",
        )
    )

    # --- conflict: a 2010 mailbox and an Exchange Online mailbox ------------------------------
    pair(
        "lbianchi",
        "Laura Bianchi",
        "laura.bianchi@contoso.com",
        addrs("laura.bianchi"),
        "conflict: 2010 mailbox and Exchange Online mailbox",
        onprem_mailbox=True,
    )

    # --- on-premises only: IdFix findings and ordinary users not yet in sync scope ------------
    others = [
        OnPrem(
            "pnovak",
            "Peter Novák",
            USERS_OU,
            "peter.novak@contoso.com",
            ["smtp:peter.novak@contoso.com"],
            mail="peter.novak@contoso.com",
            case="IdFix: no SMTP: primary (only a lower-case smtp: address)",
        ),
        OnPrem(
            "alee",
            "Ann Lee",
            USERS_OU,
            "annlee@contoso.com",
            ["SMTP:ann lee@contoso.com"],
            mail="ann lee@contoso.com",
            case="IdFix: invalid character (space) in mail and proxyAddresses",
        ),
        OnPrem(
            "soceallaigh",
            "Seán Ó Ceallaigh",
            USERS_OU,
            "sean.oceallaigh@contoso.com",
            ["SMTP:seán.óceallaigh@contoso.com"],
            mail="seán.óceallaigh@contoso.com",
            case="IdFix: non-ASCII letters in an SMTP address",
        ),
        OnPrem(
            "mhohenberg",
            "Maximilian von Hohenberg-Lichtenstein",
            USERS_OU,
            "maximilian.alexander.wolfgang.von.hohenberg-lichtenstein.londonuk@contoso.com",
            ["SMTP:maximilian.hohenberg@contoso.com"],
            case="IdFix: UPN prefix longer than 64 characters",
        ),
        OnPrem(
            "abyrne",
            "Aoife Byrne",
            USERS_OU,
            "aoife.byrne@contoso.com",
            addrs("aoife.byrne"),
            rtd=USER_MAILBOX,
            mailbox_guid=guid("mailbox:abyrne"),
            case="not in cloud: 2010 mailbox, no cloud user (moves into scope, creates one)",
        ),
        OnPrem(
            "nfischer",
            "Noah Fischer",
            USERS_OU,
            "noah.fischer@contoso.com",
            addrs("noah.fischer"),
            rtd=USER_MAILBOX,
            mailbox_guid=guid("mailbox:nfischer"),
            case="not in cloud: 2010 mailbox",
        ),
        OnPrem(
            "igarcia",
            "Isabella García",
            USERS_OU,
            "isabella.garcia@contoso.com",
            addrs("isabella.garcia"),
            rtd=USER_MAILBOX,
            mailbox_guid=guid("mailbox:igarcia"),
            case="not in cloud: 2010 mailbox, non-ASCII display name",
        ),
        OnPrem(
            "mkhan",
            "Mohammed Khan",
            USERS_OU,
            "mohammed.khan@contoso.com",
            addrs("mohammed.khan"),
            rtd=USER_MAILBOX,
            mailbox_guid=guid("mailbox:mkhan"),
            case="not in cloud: 2010 mailbox",
        ),
        OnPrem(
            "reception.london",
            "Reception London",
            RESOURCES_OU,
            "reception.london@contoso.com",
            addrs("reception"),
            rtd=SHARED_MAILBOX,
            mailbox_guid=guid("mailbox:reception.london"),
            enabled=False,
            case="shared mailbox (disabled account)",
        ),
        OnPrem(
            "boardroom.dublin",
            "Boardroom Dublin",
            RESOURCES_OU,
            "boardroom.dublin@contoso.com",
            addrs("boardroom.dublin"),
            rtd=ROOM_MAILBOX,
            mailbox_guid=guid("mailbox:boardroom.dublin"),
            enabled=False,
            case="room mailbox (disabled account)",
        ),
        OnPrem(
            "svc-scan",
            "svc-scan",
            SERVICE_OU,
            "svc-scan@contoso.com",
            [],
            case="service account, no mail attributes",
        ),
        OnPrem(
            "svc-crm",
            "svc-crm",
            SERVICE_OU,
            "svc-crm@contoso.com",
            [],
            case="service account, no mail attributes",
        ),
    ]
    for o in others:
        if o.mail is None and o.proxies:
            o.mail = next((p[5:] for p in o.proxies if p.startswith("SMTP:")), None)
    onprem += others

    # --- cloud only: no on-premises candidate --------------------------------------------------
    cloud += [
        Cloud(
            "ytanaka",
            "yuki.tanaka@contoso.com",
            "Yuki Tanaka",
            ["SMTP:yuki.tanaka@contoso.com", "smtp:yuki.tanaka@contoso.onmicrosoft.com"],
            mail="yuki.tanaka@contoso.com",
            mailbox=guid("mailbox:cloud:ytanaka"),
            case="no candidate: create on-premises user + remote mailbox",
        ),
        Cloud(
            "otaylor",
            "olivia.taylor@fabrikam.com",
            "Olivia Taylor",
            ["SMTP:olivia.taylor@fabrikam.com", "smtp:olivia.taylor@contoso.onmicrosoft.com"],
            mail="olivia.taylor@fabrikam.com",
            mailbox=guid("mailbox:cloud:otaylor"),
            case="no candidate: create on-premises user + remote mailbox",
        ),
        Cloud(
            "breakglass",
            "breakglass@contoso.onmicrosoft.com",
            "Break Glass (emergency access)",
            [],
            roles=["Global Administrator"],
            case="no candidate: cloud-only emergency admin account (keep cloud-only)",
        ),
    ]
    return onprem, cloud


AD_COLS = [
    "Name",
    "ObjectGUID",
    "SamAccountName",
    "DistinguishedName",
    "UserPrincipalName",
    "mail",
    "proxyAddresses",
    "mS-DS-ConsistencyGuid",
    "msExchRecipientTypeDetails",
    "msExchMailboxGuid",
    "targetAddress",
    "Enabled",
]


def ad_row(u: OnPrem, sep: str) -> dict[str, object]:
    return {
        "Name": u.name,
        "ObjectGUID": str(u.object_guid),
        "SamAccountName": u.sam,
        "DistinguishedName": f"CN={u.name},{u.ou}",
        "UserPrincipalName": u.upn,
        "mail": u.mail,
        "proxyAddresses": sep.join(u.proxies),
        "mS-DS-ConsistencyGuid": immutable_id(u.consistency) if u.consistency else None,
        "msExchRecipientTypeDetails": u.rtd,
        "msExchMailboxGuid": str(u.mailbox_guid) if u.mailbox_guid else None,
        "targetAddress": u.target,
        "Enabled": u.enabled,
    }


def make_users() -> tuple[list[OnPrem], list[Cloud]]:
    onprem, cloud = build_users()
    synced = [u for u in onprem if u.ou == SYNCED_OU]
    other = [u for u in onprem if u.ou != SYNCED_OU]
    export_csv(
        "ADUsers-Synced.csv",
        AD_COLS,
        (ad_row(u, ";") for u in synced),
        type_name="Selected.Microsoft.ActiveDirectory.Management.ADUser",
        encoding="unicode",
    )
    export_csv(
        "ADUsers-NotSynced.csv",
        AD_COLS,
        (ad_row(u, "\r\n") for u in other),
        type_name=None,
        encoding="unicode",
    )
    cols = [
        "Id",
        "DisplayName",
        "UserPrincipalName",
        "Mail",
        "ProxyAddresses",
        "OnPremisesImmutableId",
        "OnPremisesSyncEnabled",
        "AdminRoles",
        "HasMailbox",
        "ExchangeGuid",
        "ArchiveGuid",
        "LegacyExchangeDN",
        "MailboxType",
    ]
    rows = [
        {
            "Id": str(c.id),
            "DisplayName": c.name,
            "UserPrincipalName": c.upn,
            "Mail": c.mail,
            "ProxyAddresses": ",".join(c.proxies),
            "OnPremisesImmutableId": c.immutable,
            "OnPremisesSyncEnabled": c.sync,
            "AdminRoles": ",".join(c.roles),
            "HasMailbox": c.mailbox is not None,
            "ExchangeGuid": str(c.mailbox) if c.mailbox else None,
            "ArchiveGuid": str(c.archive) if c.archive else None,
            "LegacyExchangeDN": c.legacy_dn,
            "MailboxType": c.mailbox_type if c.mailbox else None,
        }
        for c in cloud
    ]
    export_csv("CloudUsers.csv", cols, rows, type_name=None, encoding="utf8")
    return onprem, cloud


# --------------------------------------------------------------------------- recipients

RECIPIENT_TYPES = {
    USER_MAILBOX: ("UserMailbox", "UserMailbox"),
    SHARED_MAILBOX: ("UserMailbox", "SharedMailbox"),
    ROOM_MAILBOX: ("UserMailbox", "RoomMailbox"),
    REMOTE_USER_MAILBOX: ("MailUser", "RemoteUserMailbox"),
}
GROUPS_OU = "OU=Groups,OU=Contoso," + AD_DOMAIN

# Mail-enabled objects that are not users (Get-Recipient lists them too): what each exercises
# in the MX gate (Directory-Based Edge Blocking) is in README.md.
OTHER_RECIPIENTS = [
    (
        "All Staff London",
        "MailUniversalDistributionGroup",
        "MailUniversalDistributionGroup",
        ["SMTP:allstaff.london@contoso.com"],
        f"CN=All Staff London,{SYNCED_OU}",
    ),
    (
        "Dublin Office",
        "MailUniversalDistributionGroup",
        "MailUniversalDistributionGroup",
        ["SMTP:dublin.office@contoso.com"],
        f"CN=Dublin Office,{GROUPS_OU}",
    ),
    (
        "Everyone Dublin",
        "DynamicDistributionGroup",
        "DynamicDistributionGroup",
        ["SMTP:everyone.dublin@contoso.com"],
        f"CN=Everyone Dublin,{GROUPS_OU}",
    ),
    (
        "Payroll Bureau",
        "MailContact",
        "MailContact",
        ["SMTP:payroll@bureau.example"],
        f"CN=Payroll Bureau,{GROUPS_OU}",
    ),
    (
        "Sales Enquiries",
        "PublicFolder",
        "PublicFolder",
        ["SMTP:sales@contoso.com"],
        "CN=Sales Enquiries,CN=Microsoft Exchange System Objects," + AD_DOMAIN,
    ),
]


def make_recipients(onprem: Sequence[OnPrem]) -> None:
    """Recipients.csv as the collector writes it (Get-Recipient; Export-Csv -Encoding UTF8)."""
    rows: list[dict[str, object]] = []
    for u in onprem:
        if u.rtd not in RECIPIENT_TYPES:
            continue  # no Exchange attributes: not a recipient on-premises
        rtype, details = RECIPIENT_TYPES[u.rtd]
        primary = next((p[5:] for p in u.proxies if p.startswith("SMTP:")), u.mail or "")
        rows.append(
            {
                "Name": u.name,
                "RecipientType": rtype,
                "RecipientTypeDetails": details,
                "PrimarySmtpAddress": primary,
                "EmailAddresses": "\n".join(u.proxies),
                "DistinguishedName": f"CN={u.name},{u.ou}",
            }
        )
    for name, rtype, details, proxies, dn in OTHER_RECIPIENTS:
        rows.append(
            {
                "Name": name,
                "RecipientType": rtype,
                "RecipientTypeDetails": details,
                "PrimarySmtpAddress": proxies[0][5:],
                "EmailAddresses": "\n".join(proxies),
                "DistinguishedName": dn,
            }
        )
    rows.sort(key=lambda r: str(r["Name"]).lower())
    export_csv(
        "Recipients.csv",
        [
            "Name",
            "RecipientType",
            "RecipientTypeDetails",
            "PrimarySmtpAddress",
            "EmailAddresses",
            "DistinguishedName",
        ],
        rows,
        type_name=None,
        encoding="utf8bom",
    )


# --------------------------------------------------------------------------- mailboxes

GB = 1024**3
STAFF_OU = "OU=Staff,OU=Contoso," + AD_DOMAIN
SALES_OU = "OU=Sales,OU=Contoso," + AD_DOMAIN
IT_OU = "OU=IT,OU=Contoso," + AD_DOMAIN
DOMAIN_ID = "contoso.com/Contoso"

ARBITRATION = [
    (
        "SystemMailbox{1f05a927-3be2-4fb9-aa03-b59fe3b56f4c}",
        "Microsoft Exchange Approval Assistant",
    ),
    ("SystemMailbox{e0dc1c29-89c3-4034-b678-e6c29d823ed9}", "Microsoft Exchange"),
    (
        "FederatedEmail.4c1f4d8b-8179-4148-93bf-00a95fa1e042",
        "Microsoft Exchange Federation Mailbox",
    ),
    ("Migration.8f3e7716-2011-43e4-96b1-aba62d229136", "Microsoft Exchange Migration"),
]

DATABASES = [
    # name, server, DAG, copies, log volume free bytes, circular logging
    ("DB10-LON-01", "EX10-02", "", 1, 120 * GB, False),
    ("DB10-LON-02", "EX10-02", "", 1, 80 * GB, False),
    ("DB10-DUB-01", "EX10-03", "", 1, 90 * GB, False),
    ("DB16-LON-01", "EX16-01", "DAG16", 2, 400 * GB, False),
    ("DB16-LON-02", "EX16-01", "DAG16", 2, 60 * GB, False),
    ("DB16-DUB-01", "EX16-02", "DAG16", 2, 300 * GB, False),
]


@dataclass
class Mbx:
    """One mailbox of the Get-Mailbox export, with its statistics."""

    sam: str
    name: str
    smtp: str
    ou: str
    kind: str
    database: str
    gb: float
    archive_gb: float | None = None
    attr1: str = ""

    @property
    def server(self) -> str:
        return next(d[1] for d in DATABASES if d[0] == self.database)

    @property
    def dn(self) -> str:
        return f"CN={self.name},{self.ou}"

    @property
    def identity(self) -> str:
        ou = self.ou.split(",")[0].split("=")[1]
        return (
            f"{DOMAIN_ID}/{ou}/{self.name}"
            if self.kind != "ArbitrationMailbox"
            else (f"contoso.com/Users/{self.name}")
        )

    @property
    def exchange_guid(self) -> uuid.UUID:
        return guid("mailbox:" + self.sam)

    @property
    def archive_guid(self) -> uuid.UUID | None:
        return guid("archive:" + self.sam) if self.archive_gb is not None else None


def build_mailboxes(onprem: Sequence[OnPrem]) -> list[Mbx]:
    out: list[Mbx] = []
    dublin = {"abyrne", "igarcia", "lbianchi", "boardroom.dublin", "mkhan"}
    kinds = {1: "UserMailbox", 4: "SharedMailbox", 16: "RoomMailbox"}
    sizes = {"ghopper": (48.5, 20.0), "jwilson": (75.0, None), "bcarter": (12.25, 6.0)}
    for i, u in enumerate(u for u in onprem if u.rtd in kinds):
        assert u.mail is not None and u.rtd is not None
        db = "DB10-DUB-01" if u.sam in dublin else ("DB10-LON-01", "DB10-LON-02")[i % 2]
        gb, arch = sizes.get(u.sam, (round(0.4 + (i * 37 % 29) / 10, 2), None))
        out.append(Mbx(u.sam, u.name, u.mail, u.ou, kinds[u.rtd], db, gb, arch))
    for n in range(1, 25):
        sam = f"staff{n:02d}"
        db = "DB10-DUB-01" if n > 18 else ("DB10-LON-01", "DB10-LON-02")[n % 3 == 0]
        arch = round(1.5 + n / 4, 2) if n % 7 == 0 else None
        out.append(
            Mbx(
                sam,
                f"Staff {n:02d}",
                f"{sam}@contoso.com",
                STAFF_OU,
                "UserMailbox",
                db,
                round(0.3 + (n * 53 % 41) / 10, 2),
                arch,
            )
        )
    for n in range(1, 5):
        sam = f"sales{n}"
        out.append(
            Mbx(
                sam,
                f"Sales {n}",
                f"{sam}@contoso.com",
                SALES_OU,
                "UserMailbox",
                "DB10-DUB-01",
                round(1.0 + n * 0.75, 2),
                None,
                "Cloud",
            )
        )
    for sam, name in (("it.ops1", "IT Ops 1"), ("it.ops2", "IT Ops 2")):
        out.append(Mbx(sam, name, f"{sam}@contoso.com", IT_OU, "UserMailbox", "DB10-LON-01", 2.5))
    out.append(
        Mbx(
            "projector.lon",
            "Projector London",
            "projector.london@contoso.com",
            "OU=Resources,OU=Contoso," + AD_DOMAIN,
            "EquipmentMailbox",
            "DB10-LON-02",
            0.05,
        )
    )
    out.append(
        Mbx(
            "svc-journal",
            "Journal Review",
            "journal.review@contoso.com",
            SERVICE_OU,
            "UserMailbox",
            "DB10-LON-02",
            3.0,
        )
    )
    out.append(
        Mbx(
            "DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}",
            "Discovery Search Mailbox",
            "discoverysearchmailbox@contoso.com",
            "CN=Users," + AD_DOMAIN,
            "DiscoveryMailbox",
            "DB10-LON-01",
            0.01,
        )
    )
    return out


def arbitration_mailboxes() -> list[Mbx]:
    return [
        Mbx(
            alias,
            name,
            f"{alias.split('{')[0].split('.')[0].lower()}{n}@contoso.com"
            if "{" in alias
            else f"{alias}@contoso.com",
            "CN=Users," + AD_DOMAIN,
            "ArbitrationMailbox",
            "DB10-LON-01",
            0.02 * (n + 1),
        )
        for n, (alias, name) in enumerate(ARBITRATION)
    ]


MBX_COLS = [
    "Identity",
    "Alias",
    "SamAccountName",
    "DisplayName",
    "DistinguishedName",
    "PrimarySmtpAddress",
    "RecipientTypeDetails",
    "Database",
    "ServerName",
    "ArchiveDatabase",
    "ArchiveGuid",
    "ExchangeGuid",
    "CustomAttribute1",
]


def mbx_row(m: Mbx) -> dict[str, object]:
    return {
        "Identity": m.identity,
        "Alias": m.sam,
        "SamAccountName": m.sam[:20],
        "DisplayName": m.name,
        "DistinguishedName": m.dn,
        "PrimarySmtpAddress": m.smtp,
        "RecipientTypeDetails": m.kind,
        "Database": m.database,
        "ServerName": m.server.lower(),
        "ArchiveDatabase": m.database if m.archive_gb is not None else None,
        "ArchiveGuid": str(m.archive_guid or uuid.UUID(int=0)),
        "ExchangeGuid": str(m.exchange_guid),
        "CustomAttribute1": m.attr1,
    }


def make_mailboxes(onprem: Sequence[OnPrem]) -> None:
    mbx = build_mailboxes(onprem)
    arb = arbitration_mailboxes()
    export_csv(
        "Mailboxes.csv", MBX_COLS, (mbx_row(m) for m in mbx), type_name=None, encoding="utf8bom"
    )
    export_csv(
        "Mailboxes-Arbitration.csv",
        MBX_COLS,
        (mbx_row(m) for m in arb),
        type_name="Selected.Microsoft.Exchange.Data.Directory.Management.Mailbox",
        encoding="unicode",
    )
    stats_cols = [
        "MailboxGuid",
        "DisplayName",
        "Database",
        "IsArchiveMailbox",
        "ItemCount",
        "TotalItemSize",
        "TotalItemSizeBytes",
        "TotalDeletedItemSize",
        "TotalDeletedItemSizeBytes",
    ]
    rows_by_server: dict[str, list[dict[str, object]]] = {}
    for m in [*arb, *mbx]:
        parts = [(False, m.gb, m.exchange_guid)]
        if m.archive_gb is not None and m.archive_guid is not None:
            parts.append((True, m.archive_gb, m.archive_guid))
        for archive, gb, g in parts:
            total = int(gb * GB)
            deleted = total // 20
            rows_by_server.setdefault(m.server, []).append(
                {
                    "MailboxGuid": str(g),
                    "DisplayName": ("Personal Archive - " if archive else "") + m.name,
                    "Database": m.database,
                    "IsArchiveMailbox": archive,
                    "ItemCount": max(1, total // 90_000),
                    "TotalItemSize": size_text(total - deleted),
                    "TotalItemSizeBytes": total - deleted,
                    "TotalDeletedItemSize": size_text(deleted),
                    "TotalDeletedItemSizeBytes": deleted,
                }
            )
    export_csv(
        "MailboxStatistics-EX10-02.csv",
        stats_cols,
        rows_by_server["EX10-02"],
        type_name=None,
        encoding="utf8bom",
    )
    # Exported by hand on EX10-03 without the bytes columns: only the text form of the sizes.
    export_csv(
        "MailboxStatistics-EX10-03.csv",
        [c for c in stats_cols if not c.endswith("Bytes")],
        rows_by_server["EX10-03"],
        type_name="Selected.Microsoft.Exchange.Data.Mailbox.MailboxStatistics",
        encoding="unicode",
    )
    export_csv(
        "MailboxDatabases.csv",
        [
            "Name",
            "Server",
            "MasterServerOrAvailabilityGroup",
            "DatabaseCopies",
            "CircularLoggingEnabled",
            "LogFolderPath",
            "LogVolumeFreeBytes",
        ],
        (
            {
                "Name": n,
                "Server": srv,
                "MasterServerOrAvailabilityGroup": dag or srv,
                "DatabaseCopies": copies,
                "CircularLoggingEnabled": circ,
                "LogFolderPath": f"L:\\Logs\\{n}",
                "LogVolumeFreeBytes": free,
            }
            for n, srv, dag, copies, free, circ in DATABASES
        ),
        type_name=None,
        encoding="utf8bom",
    )
    links = [
        ("reception@contoso.com", "CONTOSO\\bcarter", "FullAccess"),
        ("reception@contoso.com", "isabella.garcia@contoso.com", "FullAccess"),
        ("reception@contoso.com", "CONTOSO\\bcarter", "SendAs"),
        ("grace.hopper@contoso.com", "lukasz.nowak@contoso.com", "SendOnBehalf"),
        ("boardroom.dublin@contoso.com", "aoife.byrne@contoso.com", "Calendar"),
        ("sales1@contoso.com", "sales2@contoso.com", "FullAccess"),
        ("sales3@contoso.com", "sales1@contoso.com", "Calendar"),
        ("staff01@contoso.com", "staff02@contoso.com", "FullAccess"),
        ("staff02@contoso.com", "staff19@contoso.com", "SendOnBehalf"),
        ("staff05@contoso.com", "CONTOSO\\svc-crm", "FullAccess"),
    ]
    links += [
        (f"staff{n:02d}@contoso.com", "journal.review@contoso.com", "FullAccess")
        for n in range(3, 15)
    ]
    export_csv(
        "MailboxPermissions.csv",
        ["Mailbox", "Trustee", "Permission", "AccessRights"],
        (
            {
                "Mailbox": a,
                "Trustee": b,
                "Permission": r,
                "AccessRights": "Editor" if r == "Calendar" else r,
            }
            for a, b, r in links
        ),
        type_name=None,
        encoding="utf8bom",
    )


# --------------------------------------------------------------------------- public folders

GB = 1024**3
MB = 1024**2
# (path, name, mail-enabled, bytes, items, replica on EX10-03 with these bytes or None)
PUBLIC_FOLDERS: list[tuple[str, str, bool, int, int, int | None]] = [
    ("\\", "IPM_SUBTREE", False, 0, 0, None),
    ("\\Company", "Company", False, 0, 0, None),
    ("\\Company\\Announcements", "Announcements", False, 180 * MB + 4_211, 1_204, None),
    ("\\Company\\Policies", "Policies", False, 95 * MB + 77_019, 312, None),
    ("\\IT", "IT", False, 0, 0, None),
    # A name with '/': Microsoft's batch migration refuses it (the plan renames it first).
    ("\\IT\\Hardware/Software", "Hardware/Software", False, 420 * MB + 9_187, 2_950, None),
    ("\\Projects", "Projects", False, 12 * MB + 2_048, 41, None),
    ("\\Projects\\Archive 2015", "Archive 2015", False, 6_979_321_856, 48_210, None),
    ("\\Sales", "Sales", False, 40 * MB + 1_001, 96, 40 * MB + 1_001),
    ("\\Sales\\Americas", "Americas", False, 1_181_116_006, 9_870, 1_181_116_006),
    ("\\Sales\\EMEA", "EMEA", False, 750 * MB + 12_345, 6_015, 750 * MB),
    ("\\Sales\\EMEA\\Contracts", "Contracts", False, 3_435_973_837, 22_480, 3_435_973_837),
    ("\\Sales\\Sales Enquiries", "Sales Enquiries", True, 2_576_980_378, 31_007, 2_576_980_378),
    ("\\Support", "Support", False, 0, 0, None),
    ("\\Support\\Knowledge Base", "Knowledge Base", False, 900 * MB + 55_555, 4_412, None),
]


def pf_size_text(nbytes: int) -> str:
    """``3.2 GB (3,435,973,837 bytes)`` as Exchange prints a folder's TotalItemSize."""
    for unit, div in (("GB", GB), ("MB", MB), ("KB", 1024)):
        if nbytes >= div:
            return f"{nbytes / div:.{1 if unit == 'GB' else 2}f} {unit} ({nbytes:,} bytes)"
    return f"{nbytes} B ({nbytes:,} bytes)"


def make_public_folders() -> None:
    """The legacy public folders as the collector writes them (2010 EMS, PowerShell 2.0)."""
    export_csv(
        "PublicFolderDatabases.csv",
        [
            "Name",
            "Server",
            "ProhibitPostQuota",
            "MaxItemSize",
            "ReplicationPeriod",
            "UseCustomReferralServerList",
        ],
        [
            {
                "Name": f"PFDB-{srv}",
                "Server": srv,
                "ProhibitPostQuota": "2 GB (2,147,483,648 bytes)",
                "MaxItemSize": "10 MB (10,485,760 bytes)",
                "ReplicationPeriod": "15",
                "UseCustomReferralServerList": False,
            }
            for srv in ("EX10-02", "EX10-03")
        ],
        type_name="Selected.Microsoft.Exchange.Data.Directory.SystemConfiguration.PublicFolderDatabase",
        encoding="ascii",
    )
    rows = []
    for path, name, mail, _size, _items, replica in PUBLIC_FOLDERS:
        parent = "" if path == "\\" else (path.rsplit("\\", 1)[0] or "\\")
        has_sub = any(
            p.rsplit("\\", 1)[0] == (path if path != "\\" else "")
            for p, *_ in PUBLIC_FOLDERS
            if p != path
        )
        replicas = "PFDB-EX10-02" + (";PFDB-EX10-03" if replica is not None else "")
        rows.append(
            {
                "Identity": path,
                "Name": name,
                "ParentPath": parent or None,
                "MailEnabled": mail,
                "HasSubFolders": has_sub,
                "Replicas": replicas,
            }
        )
    export_csv(
        "PublicFolders.csv",
        ["Identity", "Name", "ParentPath", "MailEnabled", "HasSubFolders", "Replicas"],
        rows,
        type_name="Selected.Microsoft.Exchange.Data.Mapi.PublicFolder",
        encoding="unicode",
    )
    stats = []
    for server in ("EX10-02", "EX10-03"):
        for path, name, _mail, size, items, replica in PUBLIC_FOLDERS:
            if path == "\\" or (server == "EX10-03" and replica is None):
                continue
            nbytes = size if server == "EX10-02" else replica
            assert nbytes is not None
            stats.append(
                {
                    "FolderPath": path[1:],
                    "Name": name,
                    "ServerName": server,
                    "ItemCount": items,
                    "TotalItemSize": pf_size_text(nbytes),
                    "TotalItemSizeBytes": nbytes,
                }
            )
    export_csv(
        "PublicFolderStatistics.csv",
        ["FolderPath", "Name", "ServerName", "ItemCount", "TotalItemSize", "TotalItemSizeBytes"],
        stats,
        type_name=None,
        encoding="utf8bom",
    )
    export_csv(
        "MailPublicFolders.csv",
        [
            "Identity",
            "Name",
            "Alias",
            "PrimarySmtpAddress",
            "EmailAddresses",
            "ExternalEmailAddress",
            "DeliverToMailboxAndForward",
            "HiddenFromAddressListsEnabled",
        ],
        [
            {
                "Identity": "contoso.com/Microsoft Exchange System Objects/Sales Enquiries",
                "Name": "Sales Enquiries",
                "Alias": "SalesEnquiries",
                "PrimarySmtpAddress": "sales@contoso.com",
                "EmailAddresses": "SMTP:sales@contoso.com\nsmtp:SalesEnquiries@contoso.com",
                "ExternalEmailAddress": None,
                "DeliverToMailboxAndForward": False,
                "HiddenFromAddressListsEnabled": False,
            }
        ],
        type_name=None,
        encoding="utf8bom",
    )


# --------------------------------------------------------------------------- main


def generate() -> dict[str, bytes]:
    FILES.clear()
    make_receive_connectors()
    make_ad_permissions()
    make_exchange_servers()
    make_accepted_domains()
    make_send_connectors()
    make_transport_config()
    make_certificates()
    onprem, _cloud = make_users()
    make_recipients(onprem)
    make_mailboxes(onprem)
    make_public_folders()
    return dict(FILES)


def main(argv: Sequence[str]) -> int:
    files = generate()
    if "--check" in argv:
        stale = [
            n for n, b in files.items() if not (OUT / n).exists() or (OUT / n).read_bytes() != b
        ]
        for n in stale:
            print(f"stale: {OUT / n}")
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(files.items()):
        (OUT / name).write_bytes(data)
        print(f"wrote {OUT.relative_to(ROOT) / name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
