"""Records -> model objects, one converter per table, collecting every problem.

Cells arrive as text (CSV, sheets, CliXML scalars) or tuples of text (CliXML
lists). Multi-valued text cells are split on line breaks, else ``;``, else
``,``: the forms a calculated property or a spreadsheet user produce.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import ipaddress
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from migrator.client_access import (
    AutodiscoverScp,
    ClientAccessArray,
    OrganizationConfig,
    OutlookAnywhere,
    VirtualDirectory,
    url_host,
    vdir_kind,
)
from migrator.errors import Problem
from migrator.inventory.kinds import TableKind
from migrator.inventory.powershell_csv import is_leftover
from migrator.inventory.records import Cell, RawTable, Record, from_columns
from migrator.iprange import IPRange, IPRangeError
from migrator.mailboxes import (
    RECIPIENT_TYPES,
    Mailbox,
    MailboxDatabase,
    MailboxLink,
    Right,
)
from migrator.model import (
    AcceptedDomain,
    AcceptedDomainType,
    ADPermission,
    Binding,
    Certificate,
    CloudUser,
    ExchangeVersion,
    Finding,
    Lifecycle,
    Location,
    MailRecipient,
    OnPremUser,
    ReceiveConnector,
    SendConnector,
    Server,
    ServerRole,
    Severity,
    TransportConfig,
    TransportRole,
)
from migrator.public_folders import (
    ROOT,
    MailPublicFolder,
    PublicFolder,
    PublicFolderDatabase,
    PublicFolderStat,
    folder_path,
    parent_of,
)

_SIZE_BYTES = re.compile(r"\(([\d,.\s\u00a0']+)\s*bytes\)", re.IGNORECASE)
_SIZE_UNIT = re.compile(r"^([\d.]+)\s*(B|KB|MB|GB|TB)$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40}
_VERSION = re.compile(r"(\d+)\.(\d+)\D+?(\d+)(?:\.(\d+))?")
_GUID_TEXT = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CANONICAL_GUID = re.compile(rf"^{_GUID_TEXT}$")
_NO_GUID = "00000000-0000-0000-0000-000000000000"
_SE_FIRST_BUILD = 2562  # Exchange Server SE RTM is 15.2.2562.17; earlier 15.2 builds are 2019


@dataclass
class Converted:
    """Model objects of every table, plus problems."""

    servers: list[Server] = field(default_factory=list)
    """Servers from Get-ExchangeServer exports."""
    receive_connectors: list[ReceiveConnector] = field(default_factory=list)
    """Receive connectors."""
    ad_permissions: list[ADPermission] = field(default_factory=list)
    """AD permissions."""
    accepted_domains: list[AcceptedDomain] = field(default_factory=list)
    """Accepted domains."""
    send_connectors: list[SendConnector] = field(default_factory=list)
    """Send connectors."""
    certificates: list[Certificate] = field(default_factory=list)
    """Certificates."""
    onprem_users: list[OnPremUser] = field(default_factory=list)
    """AD users."""
    cloud_users: list[CloudUser] = field(default_factory=list)
    """Cloud users."""
    mail_recipients: list[MailRecipient] = field(default_factory=list)
    """On-premises mail-enabled objects (Get-Recipient)."""
    recipients_exported: bool = False
    """Whether any Get-Recipient export was read (an empty one included)."""
    mailboxes: list[Mailbox] = field(default_factory=list)
    """Mailboxes (sizes joined later from ``mailbox_stats``)."""
    mailbox_stats: list[MailboxStat] = field(default_factory=list)
    """Get-MailboxStatistics rows."""
    mailbox_databases: list[MailboxDatabase] = field(default_factory=list)
    """Mailbox databases."""
    mailbox_links: list[MailboxLink] = field(default_factory=list)
    """Permission links as exported (names resolved later)."""
    transport_config: TransportConfig | None = None
    """Transport limits, where exported."""
    virtual_directories: list[VirtualDirectory] = field(default_factory=list)
    """Virtual directories (Get-*VirtualDirectory)."""
    outlook_anywhere: list[OutlookAnywhere] = field(default_factory=list)
    """Outlook Anywhere per server."""
    autodiscover_scps: list[AutodiscoverScp] = field(default_factory=list)
    """Autodiscover SCP per Client Access server."""
    client_access_arrays: list[ClientAccessArray] = field(default_factory=list)
    """Client Access arrays."""
    organization_config: OrganizationConfig | None = None
    """Get-OrganizationConfig, where exported."""
    public_folder_databases: list[PublicFolderDatabase] = field(default_factory=list)
    """Get-PublicFolderDatabase rows."""
    public_folders: list[PublicFolder] = field(default_factory=list)
    """Get-PublicFolder -Recurse rows (sizes joined later from ``public_folder_stats``)."""
    public_folder_stats: list[PublicFolderStat] = field(default_factory=list)
    """Get-PublicFolderStatistics rows."""
    mail_public_folders: list[MailPublicFolder] = field(default_factory=list)
    """Get-MailPublicFolder rows."""
    problems: list[Problem] = field(default_factory=list)
    """Everything wrong in the cells."""
    findings: list[Finding] = field(default_factory=list)
    """Warnings and infos about the cells."""


@dataclass(frozen=True)
class MailboxStat:
    """One Get-MailboxStatistics row: bytes moved (items + deleted items) of a primary or archive."""

    guid: str
    """MailboxGuid (the mailbox's ExchangeGuid or ArchiveGuid)."""
    archive: bool
    """IsArchiveMailbox."""
    size_bytes: int
    """TotalItemSize + TotalDeletedItemSize."""
    item_count: int
    """ItemCount."""
    where: Location
    """The row."""


# --------------------------------------------------------------------------- cell parsers


def split_multi(cell: Cell) -> tuple[str, ...]:
    """Items of a multi-valued cell (tuple as is; text split on newlines, ';' or ',')."""
    if isinstance(cell, tuple):
        return tuple(v.strip() for v in cell if v.strip())
    text = cell.strip()
    if not text:
        return ()
    if "\n" in text or "\r" in text:
        parts = re.split(r"[\r\n]+", text)
    elif ";" in text:
        parts = text.split(";")
    elif "," in text:
        parts = text.split(",")
    else:
        return (text,)  # one item (the common case of a big table)
    return tuple(p.strip() for p in parts if p.strip())


def split_flags(cell: Cell) -> tuple[str, ...]:
    """Names of a flags enum (``Tls, Integrated``); ``None`` and empty mean no flags."""
    items: list[str] = []
    for item in split_multi(cell):
        items.extend(p.strip() for p in re.split(r"[,;]", item) if p.strip())
    return tuple(i for i in items if i.lower() != "none")


def parse_size(text: str) -> int | None:
    """Bytes of ``10 MB (10,485,760 bytes)``, ``10MB`` or ``10485760``; None for Unlimited/empty."""
    raw = text.strip()
    if not raw or raw.lower() == "unlimited":
        return None
    m = _SIZE_BYTES.search(raw)
    if m:
        return int(re.sub(r"\D", "", m.group(1)))
    if raw.isdigit():
        return int(raw)
    m = _SIZE_UNIT.match(raw)
    if m:
        return int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    raise ValueError(
        f"'{raw}' is not a size; expected e.g. '10 MB (10,485,760 bytes)', '10MB', a byte count "
        "or 'Unlimited'"
    )


_PLAIN_BOOLS: dict[str, bool] = {"True": True, "False": False, "true": True, "false": False}
"""The spellings of a boolean cell that need no parsing (the rest go through :func:`parse_bool`)."""


def parse_mailbox_size(text: str) -> int:
    """Bytes of a mailbox or public folder size cell: ``49.5 GB (53,150,220,288 bytes)``, plain bytes, ``1.2 GB``; blank is 0."""
    raw = text.strip()
    if raw.lower() == "unlimited":
        raise ValueError(
            "'Unlimited' is a quota, not a size; expected e.g. "
            "'49.5 GB (53,150,220,288 bytes)' or a byte count"
        )
    size = parse_size(raw)
    return size or 0


@functools.cache
def _plain_bools(default: bool) -> dict[str, bool]:
    """:data:`_PLAIN_BOOLS` and the empty cell (the default), each as :func:`parse_bool` reads it."""
    return {text: parse_bool(text, default) for text in ("", *_PLAIN_BOOLS)}


def parse_bool(text: str, default: bool) -> bool:
    """``True``/``False`` (any case), ``1``/``0``, ``$true``; empty gives the default."""
    raw = text.strip().lower().lstrip("$")
    if not raw:
        return default
    if raw in {"true", "1", "yes"}:
        return True
    if raw in {"false", "0", "no"}:
        return False
    raise ValueError(f"'{text.strip()}' is not a boolean; expected True or False")


def parse_guid(text: str) -> str:
    """A GUID in any usual form (braces, no dashes, base64 of its 16 bytes) as lower-case text."""
    raw = text.strip()
    if not raw:
        return ""
    if _CANONICAL_GUID.match(raw):
        return raw.lower()  # the common case, without building a UUID per user
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        pass
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if len(data) == 16:
        return str(uuid.UUID(bytes_le=data))
    raise ValueError(
        f"'{raw}' is not a GUID; expected e.g. 0c0a1e55-7c1d-4c5e-9a2b-1f0e3c4d5a6b or its base64 form"
    )


def parse_date(text: str) -> dt.date | None:
    """ISO dates, ``M/d/yyyy [time]`` (en-US) and ``d.M.yyyy``; None for empty."""
    raw = text.strip()
    if not raw:
        return None
    for candidate in (raw, raw.split("T")[0], raw.split(" ")[0]):
        try:
            return dt.date.fromisoformat(candidate)
        except ValueError:
            pass
    first = raw.split(" ")[0]
    for fmt in ("%m/%d/%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(first, fmt).date()
        except ValueError:
            pass
    raise ValueError(f"'{raw}' is not a date; expected yyyy-MM-dd or M/d/yyyy")


def version_of(admin_display_version: str) -> tuple[ExchangeVersion, str]:
    """Major version and build from ``Version 15.1 (Build 2507.6)`` or ``15.1.2507.6``."""
    raw = admin_display_version.strip()
    m = _VERSION.search(raw)
    if not m:
        raise ValueError(
            f"'{raw}' is not an Exchange version; expected e.g. 'Version 14.3 (Build 123.4)'"
        )
    major, minor, build = int(m.group(1)), int(m.group(2)), int(m.group(3))
    # FileVersionInfo.FileVersion pads fields with zeros (14.03.0513.000): compare as numbers.
    revision = int(m.group(4) or "0")
    text = f"{major}.{minor}.{build}.{revision}"
    if major == 14:
        return ExchangeVersion.EX2010, text
    if major == 15 and minor == 0:
        return ExchangeVersion.EX2013, text
    if major == 15 and minor == 1:
        return ExchangeVersion.EX2016, text
    if major == 15 and minor == 2:
        return (ExchangeVersion.SE if build >= _SE_FIRST_BUILD else ExchangeVersion.EX2019), text
    raise ValueError(
        f"'{raw}' is not a supported Exchange version; expected 14.x (2010), 15.0 (2013), "
        "15.1 (2016) or 15.2 (2019/SE)"
    )


_ROLE_NAMES = {
    "mailbox": ServerRole.MAILBOX,
    "clientaccess": ServerRole.CLIENT_ACCESS,
    "hubtransport": ServerRole.HUB_TRANSPORT,
    "unifiedmessaging": ServerRole.UNIFIED_MESSAGING,
    "edge": ServerRole.EDGE,
    "edgetransport": ServerRole.EDGE,
}
# Role names Get-ExchangeServer shows that are no separate role in the model.
_ROLE_IGNORED = {
    "cafe",
    "frontendtransport",
    "monitoring",
    "centraladmin",
    "provisionedserver",
    "none",
}


def parse_roles(cell: Cell) -> frozenset[ServerRole]:
    """Server roles from ``Mailbox, ClientAccess, HubTransport``."""
    roles: set[ServerRole] = set()
    for name in split_flags(cell):
        key = name.replace(" ", "").lower()
        if key in _ROLE_NAMES:
            roles.add(_ROLE_NAMES[key])
        elif key not in _ROLE_IGNORED:
            raise ValueError(
                f"'{name}' is not a server role; expected Mailbox, ClientAccess, HubTransport, "
                "UnifiedMessaging or Edge"
            )
    return frozenset(roles)


def split_address_spaces(cell: Cell) -> tuple[str, ...]:
    """Address spaces; a ``;cost`` split off by a ';'-join is glued back (``SMTP:*;1``)."""
    out: list[str] = []
    for item in split_multi(cell):
        if item.isdigit() and out and ";" not in out[-1]:
            out[-1] = f"{out[-1]};{item}"
        else:
            out.append(item)
    return tuple(out)


# --------------------------------------------------------------------------- the converter

EMPTY_REQUIRED = "empty value; expected a value in this column"


def cell_text(value: Cell) -> str:
    """A cell as one text: stripped; the items of a list cell (CliXML) joined with ';'."""
    if isinstance(value, tuple):
        return ";".join(value)
    return value.strip()


def _cell_problem(table: RawTable, rec: Record, key: str | None, message: str) -> Problem | None:
    """The problem of one cell, or None where the cell holds a .NET type name (reported once per
    column already, with the command that exports it properly)."""
    raw = rec.cells.get(key, "") if key else ""
    if isinstance(raw, str) and is_leftover(raw.strip()):
        return None
    return Problem(str(rec.where(table.columns.get(key, key) if key else None)), message)


class _Reader:
    """Reads cells of one record, turning every failure into a Problem."""

    def __init__(self, table: RawTable, problems: list[Problem]) -> None:
        self.table = table
        self.problems = problems
        self.rec: Record | None = None
        self.failed = False

    def start(self, rec: Record) -> None:
        self.rec = rec
        self.failed = False

    def name(self, key: str) -> str:
        return self.table.columns.get(key, key)

    def fail(self, key: str | None, message: str) -> None:
        assert self.rec is not None
        self.failed = True
        problem = _cell_problem(self.table, self.rec, key, message)
        if problem is not None:
            self.problems.append(problem)

    def text(self, key: str) -> str:
        assert self.rec is not None
        return cell_text(self.rec.cells.get(key, ""))

    def multi(self, key: str) -> tuple[str, ...]:
        assert self.rec is not None
        return split_multi(self.rec.cells.get(key, ""))

    def cell(self, key: str) -> Cell:
        assert self.rec is not None
        return self.rec.cells.get(key, "")

    def parsed(self, key: str, fn: Callable[[str], Any], default: Any) -> Any:
        try:
            return fn(self.text(key))
        except ValueError as exc:
            self.fail(key, str(exc))
            return default

    def boolean(self, key: str, default: bool) -> bool:
        assert self.rec is not None
        fast = _PLAIN_BOOLS.get(self.rec.cells.get(key, ""))  # type: ignore[arg-type]
        if fast is not None:
            return fast  # "True"/"False" as Export-Csv writes them: no parsing
        result: bool = self.parsed(key, lambda t: parse_bool(t, default), default)
        return result

    def required(self, key: str) -> str:
        value = self.text(key)
        if not value:
            self.fail(key, EMPTY_REQUIRED)
        return value


class _Columns:
    """Reads the cells of a big table column by column, with the rules and messages of
    :class:`_Reader` (the same parse functions), and notes which rows failed.

    The common case of a column costs one pass in C (a strip of every cell, a
    dictionary lookup of every boolean, one numpy check of a column of canonical
    GUIDs); a cell that needs more goes through the parse function of its rule.
    """

    def __init__(self, table: RawTable, problems: list[Problem]) -> None:
        self.table = table
        self.problems = problems
        self.failed = bytearray(len(table))
        """1 for each row with a problem (no object is made of it)."""

    def fail(self, row: int, key: str, message: str) -> None:
        self.failed[row] = 1
        problem = _cell_problem(self.table, self.table.records[row], key, message)
        if problem is not None:
            self.problems.append(problem)

    def raw(self, key: str) -> Sequence[Cell]:
        return self.table.column(key)

    def text(self, key: str) -> list[str]:
        """:func:`cell_text` of every cell (for text cells that is ``str.strip``)."""
        column = self.raw(key)
        if not self.table.text_only and tuple in set(map(type, column)):
            return [cell_text(v) for v in column]
        return list(map(str.strip, column))  # type: ignore[arg-type]

    def required(self, key: str, message: str = EMPTY_REQUIRED) -> list[str]:
        column = self.text(key)
        if "" in column:
            for row, value in enumerate(column):
                if not value:
                    self.fail(row, key, message)
        return column

    def multi(self, key: str) -> list[tuple[str, ...]]:
        return [split_multi(v) if v else () for v in self.raw(key)]

    def guids(self, key: str) -> list[str]:
        """:func:`parse_guid` of every non-empty cell, '' for an empty or a bad one (a problem)."""
        column = self.text(key)
        if _canonical_guids(column):
            joined = "".join(column)
            if joined == joined.lower():
                return column  # the GUIDs as written (lower case already)
            return list(map(str.lower, column))
        out: list[str] = []
        for row, value in enumerate(column):
            try:
                out.append(parse_guid(value))
            except ValueError as exc:
                self.fail(row, key, str(exc))
                out.append("")
        return out

    def booleans(self, key: str, default: bool) -> list[bool]:
        """:func:`parse_bool` of every cell (``True``/``False`` as Export-Csv writes them: a lookup)."""
        column = self.raw(key)
        plain = _plain_bools(default)
        fast: list[bool | None] = [plain.get(v) for v in column]  # type: ignore[arg-type]
        if None not in fast:
            return fast  # type: ignore[return-value]
        out: list[bool] = []
        for row, (value, known) in enumerate(zip(column, fast, strict=True)):
            if known is None:
                try:
                    known = parse_bool(cell_text(value), default)
                except ValueError as exc:
                    self.fail(row, key, str(exc))
                    known = default
            out.append(known)
        return out


_HEX_DIGIT = np.zeros(256, dtype=bool)
_HEX_DIGIT[np.frombuffer(b"0123456789abcdefABCDEF", dtype=np.uint8)] = True
_GUID_HYPHENS = [8, 13, 18, 23]
_GUID_HEX = [k for k in range(36) if k not in _GUID_HYPHENS]


def _canonical_guids(column: Sequence[str]) -> bool:
    """Whether every value is empty or a canonical GUID (``_CANONICAL_GUID``: 8-4-4-4-12
    hexadecimal digits, parse_guid's first rule), checked over the whole column at once: 36
    ASCII characters each, hyphens where the form has them, hexadecimal digits elsewhere."""
    lengths = np.fromiter(map(len, column), dtype=np.int64, count=len(column))
    if not ((lengths == 0) | (lengths == 36)).all():
        return False
    joined = "".join(column)
    if not joined.isascii():
        return False
    chars = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(-1, 36)
    return bool(
        (chars[:, _GUID_HYPHENS] == ord("-")).all() and _HEX_DIGIT[chars[:, _GUID_HEX]].all()
    )


def _receive_connectors(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        identity = r.text("identity")
        server, name = r.text("server"), r.text("name")
        if "\\" in identity:
            server, _, name = identity.partition("\\")
        elif not (server and name):
            column = "identity" if "identity" in table.columns else "name"
            if identity:
                r.fail(column, f"'{identity}' is not a connector identity; expected SERVER\\Name")
            else:
                r.fail(column, "empty value; expected a connector identity SERVER\\Name")
        bindings: list[Binding] = []
        for item in r.multi("bindings"):
            try:
                bindings.append(Binding.parse(item))
            except ValueError as exc:
                msg = str(exc)
                if not msg.startswith("'"):
                    msg = f"'{item}' is not a binding; expected address:port such as 0.0.0.0:25 or [::]:25"
                r.fail("bindings", msg)
        if not bindings and not r.multi("bindings"):
            r.fail("bindings", "empty value; expected at least one binding such as 0.0.0.0:25")
        ranges: list[IPRange] = []
        for item in r.multi("remoteipranges"):
            try:
                ranges.append(IPRange.parse(item))
            except IPRangeError as exc:
                r.fail("remoteipranges", str(exc))
        if not ranges and not r.multi("remoteipranges"):
            r.fail(
                "remoteipranges",
                "empty value; expected at least one address, range or CIDR block "
                "(Exchange's default is 0.0.0.0-255.255.255.255)",
            )
        role_text = r.text("transportrole")
        role: TransportRole | None = None
        if role_text:
            try:
                role = TransportRole(role_text)
            except ValueError:
                r.fail(
                    "transportrole",
                    f"'{role_text}' is not a transport role; expected HubTransport or FrontendTransport",
                )
        size = r.parsed("maxmessagesize", parse_size, None)
        enabled = r.boolean("enabled", True)
        logging = r.text("protocollogginglevel") or "None"
        if logging not in {"None", "Verbose"}:
            r.fail(
                "protocollogginglevel",
                f"'{logging}' is not a protocol logging level; expected None or Verbose",
            )
        if r.failed:
            continue
        out.receive_connectors.append(
            ReceiveConnector(
                server=server,
                name=name,
                bindings=tuple(bindings),
                remote_ip_ranges=tuple(ranges),
                auth_mechanism=split_flags(r.cell("authmechanism")),
                permission_groups=split_flags(r.cell("permissiongroups")),
                transport_role=role,
                max_message_size_bytes=size,
                fqdn=r.text("fqdn"),
                tls_certificate_name=r.text("tlscertificatename"),
                tls_domain_capabilities=r.multi("tlsdomaincapabilities"),
                enabled=enabled,
                protocol_logging_level=logging,
                comment=r.text("comment"),
                source=rec.where(),
            )
        )


def _ad_permissions(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        identity = r.required("identity")
        user = r.required("user")
        deny = r.boolean("deny", False)
        inherited = r.boolean("isinherited", False)
        if r.failed:
            continue
        extended = split_flags(r.cell("extendedrights"))
        if any(x.replace(" ", "").lower() == "send-as" for x in extended):
            # Get-Mailbox | Get-ADPermission (CliXML): Send As of a trustee on a mailbox, a
            # delegate link of the moves, not a connector right.
            if not (deny or inherited or user.lower() in _SELF):
                out.mailbox_links.append(MailboxLink(identity, user, Right.SEND_AS, rec.where()))
            continue
        out.ad_permissions.append(
            ADPermission(
                identity=identity,
                user=user,
                extended_rights=split_flags(r.cell("extendedrights")),
                access_rights=split_flags(r.cell("accessrights")),
                deny=deny,
                inherited=inherited,
                source=rec.where(),
            )
        )


def _servers(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        name = r.required("name")
        version, build = r.parsed("admindisplayversion", version_of, (None, ""))
        exsetup = r.text("exsetupversion")
        if exsetup:
            try:
                _, build = version_of(exsetup)
            except ValueError as exc:
                r.fail("exsetupversion", str(exc))
        elif version is ExchangeVersion.EX2010:
            # AdminDisplayVersion stops at the service pack (14.3.123.4 on every SP3 server):
            # without ExSetup.exe's file version the update rollup is unknown, not old.
            build = ""
        try:
            roles = parse_roles(r.cell("serverrole"))
        except ValueError as exc:
            r.fail("serverrole", str(exc))
            roles = frozenset()
        site = r.text("site").replace("\\", "/").rsplit("/", 1)[-1]
        addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
        for item in r.multi("ipaddresses"):
            try:
                addresses.append(ipaddress.ip_address(item.split("%")[0]))
            except ValueError:
                r.fail("ipaddresses", f"'{item}' is not an IP address")
        if r.failed or version is None:
            continue
        if version is ExchangeVersion.EX2010 and not exsetup:
            out.findings.append(
                Finding(
                    Severity.WARNING,
                    "inventory.build-unknown",
                    str(rec.where(r.name("admindisplayversion"))),
                    f"server '{name}': AdminDisplayVersion does not show the 2010 update rollup, so the coexistence prerequisite (SP3 RU11 or later) cannot be judged",
                    "add the ExSetupVersion column (file version of ExSetup.exe), see docs/inventory.md",
                )
            )
        out.servers.append(
            Server(
                name=name,
                version=version,
                lifecycle=Lifecycle.LEGACY
                if version is ExchangeVersion.EX2010
                else Lifecycle.TARGET,
                site=site,
                fqdn=r.text("fqdn"),
                build=build,
                operating_system=r.text("operatingsystem"),
                roles=roles,
                ip_addresses=tuple(addresses),
                source=rec.where(),
            )
        )


def _accepted_domains(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        domain = r.required("domainname")
        type_text = r.text("domaintype")
        dtype = AcceptedDomainType.AUTHORITATIVE
        try:
            dtype = AcceptedDomainType(type_text)
        except ValueError:
            r.fail(
                "domaintype",
                f"'{type_text}' is not a domain type; expected Authoritative, InternalRelay or ExternalRelay",
            )
        default = r.boolean("default", False)
        if r.failed:
            continue
        out.accepted_domains.append(
            AcceptedDomain(
                name=r.text("name") or domain,
                domain_name=domain,
                domain_type=dtype,
                default=default,
                source=rec.where(),
            )
        )


def _send_connectors(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        name = r.required("name")
        spaces = split_address_spaces(r.cell("addressspaces"))
        if not spaces:
            r.fail(
                "addressspaces", "empty value; expected at least one address space such as SMTP:*;1"
            )
        enabled = r.boolean("enabled", True)
        cloud = r.boolean("cloudservicesmailenabled", False)
        size = r.parsed("maxmessagesize", parse_size, None)
        if r.failed:
            continue
        out.send_connectors.append(
            SendConnector(
                name=name,
                address_spaces=spaces,
                source_transport_servers=r.multi("sourcetransportservers"),
                smart_hosts=r.multi("smarthosts"),
                enabled=enabled,
                fqdn=r.text("fqdn"),
                cloud_services_mail_enabled=cloud,
                tls_certificate_name=r.text("tlscertificatename"),
                max_message_size_bytes=size,
                source=rec.where(),
            )
        )


def _transport_config(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records[:1]:
        r.start(rec)
        send = r.parsed("maxsendsize", parse_size, None)
        receive = r.parsed("maxreceivesize", parse_size, None)
        if not r.failed:
            out.transport_config = TransportConfig(send, receive)


def _certificates(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        thumb = r.required("thumbprint").upper()
        subject = r.required("subject")
        not_after = r.parsed("notafter", parse_date, None)
        self_signed = r.boolean("isselfsigned", False)
        server = (r.text("server") or r.text("pscomputername")).split(".")[0]
        if r.failed:
            continue
        out.certificates.append(
            Certificate(
                server=server,
                thumbprint=thumb,
                subject=subject,
                issuer=r.text("issuer"),
                subject_alternative_names=r.multi("certificatedomains"),
                not_after=not_after,
                services=split_flags(r.cell("services")),
                self_signed=self_signed,
                source=rec.where(),
            )
        )


def _guid_or_fail(r: _Reader, key: str) -> str:
    text = r.text(key)
    if not text:
        return ""
    try:
        return parse_guid(text)
    except ValueError as exc:
        r.fail(key, str(exc))
        return ""


def _onprem_users(table: RawTable, out: Converted) -> None:
    c = _Columns(table, out.problems)
    guid = c.guids("objectguid")
    if "" in guid:
        for row, value in enumerate(guid):
            if not value and not c.failed[row]:
                c.fail(row, "objectguid", "empty value; expected the user's objectGUID")
    columns: dict[str, Sequence[Any]] = {
        "sam_account_name": c.required("samaccountname"),
        "consistency_guid": c.guids("ms-ds-consistencyguid"),
        "exchange_guid": c.guids("msexchmailboxguid"),
        "enabled": c.booleans("enabled", True),
        "distinguished_name": c.text("distinguishedname"),
        "user_principal_name": c.text("userprincipalname"),
        "mail": c.text("mail"),
        "proxy_addresses": c.multi("proxyaddresses"),
        "recipient_type_details": c.text("msexchrecipienttypedetails"),
        "target_address": c.text("targetaddress"),
    }
    columns.update(object_guid=guid, source=table.locations())
    out.onprem_users.extend(from_columns(OnPremUser, columns, c.failed))


def _cloud_users(table: RawTable, out: Converted) -> None:
    c = _Columns(table, out.problems)
    columns: dict[str, Sequence[Any]] = {
        "id": c.required("id"),
        "user_principal_name": c.required("userprincipalname"),
        "on_premises_sync_enabled": c.booleans("onpremisessyncenabled", False),
        "has_mailbox": c.booleans("hasmailbox", False),
        "exchange_guid": c.guids("exchangeguid"),
        # Exchange Online shows the empty GUID where there is no archive
        "archive_guid": ["" if g == _NO_GUID else g for g in c.guids("archiveguid")],
        "mail": c.text("mail"),
        "proxy_addresses": c.multi("proxyaddresses"),
        "immutable_id": c.text("onpremisesimmutableid"),
        "admin_roles": c.multi("adminroles"),
        "legacy_exchange_dn": c.text("legacyexchangedn"),
        "mailbox_type": c.text("mailboxtype"),
        "source": table.locations(),
    }
    out.cloud_users.extend(from_columns(CloudUser, columns, c.failed))


def _recipients(table: RawTable, out: Converted) -> None:
    out.recipients_exported = True
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        rtd = r.required("recipienttypedetails")
        primary = r.text("primarysmtpaddress").lower()
        if primary.upper().startswith("SMTP:"):
            primary = primary[5:]
        if primary and "@" not in primary:
            r.fail(
                "primarysmtpaddress", f"'{primary}' is not an SMTP address; expected name@domain"
            )
        if r.failed:
            continue
        out.mail_recipients.append(
            MailRecipient(
                name=r.text("name") or primary,
                recipient_type_details=rtd,
                primary_smtp_address=primary,
                email_addresses=r.multi("emailaddresses"),
                distinguished_name=r.text("distinguishedname"),
                source=rec.where(),
            )
        )


def _mailboxes(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        identity = r.required("identity")
        smtp = r.required("primarysmtpaddress").lower()
        if smtp and "@" not in smtp:
            r.fail("primarysmtpaddress", f"'{smtp}' is not an SMTP address; expected user@domain")
        type_text = r.text("recipienttypedetails")
        kind = RECIPIENT_TYPES.get(type_text.replace(" ", "").lower())
        if kind is None:
            r.fail(
                "recipienttypedetails",
                f"'{type_text}' is not a 2010 mailbox type; expected UserMailbox, SharedMailbox, "
                "RoomMailbox, EquipmentMailbox, LinkedMailbox, DiscoveryMailbox, LegacyMailbox "
                "or ArbitrationMailbox",
            )
        database = r.required("database").split("\\")[-1]
        exchange_guid = _guid_or_fail(r, "exchangeguid")
        archive_guid = _guid_or_fail(r, "archiveguid")
        if archive_guid == _NO_GUID:
            archive_guid = ""
        if r.failed or kind is None:
            continue
        attrs = tuple(
            (f"customattribute{i}", r.text(f"customattribute{i}"))
            for i in range(1, 16)
            if r.text(f"customattribute{i}")
        )
        out.mailboxes.append(
            Mailbox(
                identity=identity,
                primary_smtp=smtp,
                kind=kind,
                database=database,
                server=r.text("servername"),
                alias=r.text("alias"),
                sam_account_name=r.text("samaccountname"),
                distinguished_name=r.text("distinguishedname"),
                exchange_guid=exchange_guid,
                archive_guid=archive_guid,
                archive_database=r.text("archivedatabase").split("\\")[-1],
                custom_attributes=attrs,
                member_of=r.multi("memberof"),
                source=rec.where(),
            )
        )


def _size_or_fail(r: _Reader, text_key: str, bytes_key: str) -> int:
    """The size from the explicit bytes column where present, else from the text form."""
    if r.text(bytes_key):
        raw = r.text(bytes_key).replace(",", "")
        if raw.isdigit():
            return int(raw)
        r.fail(bytes_key, f"'{r.text(bytes_key)}' is not a byte count; expected digits only")
        return 0
    size: int = r.parsed(text_key, parse_mailbox_size, 0)
    return size


def _mailbox_stats(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        guid = _guid_or_fail(r, "mailboxguid")
        if not guid and not r.failed:
            r.fail("mailboxguid", "empty value; expected the mailbox's MailboxGuid")
        size = _size_or_fail(r, "totalitemsize", "totalitemsizebytes")
        deleted = _size_or_fail(r, "totaldeleteditemsize", "totaldeleteditemsizebytes")
        items_text = r.text("itemcount").replace(",", "")
        if items_text and not items_text.isdigit():
            r.fail("itemcount", f"'{items_text}' is not an item count; expected a whole number")
        archive = r.boolean("isarchivemailbox", False)
        if r.failed:
            continue
        out.mailbox_stats.append(
            MailboxStat(
                guid, archive, size + deleted, int(items_text) if items_text else 0, rec.where()
            )
        )


def _mailbox_databases(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        name = r.required("name")
        server = r.required("server").split(".")[0]
        copies_cell = r.cell("databasecopies")
        copies = 1
        if isinstance(copies_cell, tuple):
            copies = max(1, len(copies_cell))
        elif copies_cell.strip():
            if copies_cell.strip().isdigit():
                copies = max(1, int(copies_cell.strip()))
            else:
                copies = max(1, len(split_multi(copies_cell)))
        free: int | None = None
        free_text = r.text("logvolumefreebytes")
        if free_text:
            free = r.parsed("logvolumefreebytes", parse_size, None)
        circular = r.boolean("circularloggingenabled", False)
        if r.failed:
            continue
        dag = r.text("masterserveroravailabilitygroup")
        out.mailbox_databases.append(
            MailboxDatabase(
                name=name,
                server=server,
                dag="" if dag.lower() == server.lower() else dag,
                copies=copies,
                free_bytes=free,
                circular_logging=circular,
                rpc_client_access_server=r.text("rpcclientaccessserver").lower(),
                offline_address_book=(
                    r.text("offlineaddressbook").split("\\")[-1]
                    if "offlineaddressbook" in table.columns
                    else None
                ),
                source=rec.where(),
            )
        )


_RIGHTS = {
    "fullaccess": Right.FULL_ACCESS,
    "sendas": Right.SEND_AS,
    "send-as": Right.SEND_AS,
    "sendonbehalf": Right.SEND_ON_BEHALF,
    "grantsendonbehalfto": Right.SEND_ON_BEHALF,
    "calendar": Right.CALENDAR,
}
_SELF = {"nt authority\\self", "s-1-5-10"}


def _mailbox_permissions(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        mailbox = r.required("mailbox")
        trustee = r.required("trustee")
        inherited = r.boolean("isinherited", False)
        deny = r.boolean("deny", False)
        right_text = r.text("permission")
        right = _RIGHTS.get(right_text.replace(" ", "").lower())
        if right is None:
            # Get-MailboxPermission's own rows (CliXML): AccessRights names the rights.
            names = {a.replace(" ", "").lower() for a in split_flags(right_text)}
            if "fullaccess" in names:
                right = Right.FULL_ACCESS
            elif names:
                continue  # ReadPermission, ChangeOwner...: no delegate link
            else:
                r.fail(
                    "permission",
                    f"'{right_text}' is not a mailbox permission; expected FullAccess, SendAs, "
                    "SendOnBehalf or Calendar",
                )
        if r.failed or right is None or inherited or deny or trustee.lower() in _SELF:
            continue
        out.mailbox_links.append(MailboxLink(mailbox, trustee, right, rec.where()))


# --------------------------------------------------------------------------- client access


def parse_url(text: str) -> str:
    """An absolute http(s) URL as written, or '' for an empty cell."""
    raw = text.strip()
    if raw and not url_host(raw):
        raise ValueError(
            f"'{raw}' is not a URL; expected an absolute https URL such as "
            "https://mail.contoso.com/owa, or an empty cell"
        )
    return raw


def parse_host(text: str) -> str:
    """A DNS host name (lower case), or '' for an empty cell."""
    raw = text.strip().lower()
    if raw and not re.fullmatch(
        r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", raw
    ):
        raise ValueError(
            f"'{text.strip()}' is not a host name; expected e.g. mail.contoso.com, or an empty cell"
        )
    return raw


def _server_and_name(r: _Reader) -> tuple[str, str]:
    """Server (short name) and directory name, from Server/Name or Identity ``SERVER\\name``."""
    server, name = r.text("server"), r.text("name")
    identity = r.text("identity")
    if "\\" in identity:
        head, _, tail = identity.partition("\\")
        server, name = server or head, name or tail
    if not server:
        r.fail("server", "empty value; expected the server name")
    return server.split(".")[0], name


def _virtual_directories(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        server, name = _server_and_name(r)
        kind = vdir_kind(name)
        if kind is None:
            r.fail(
                "name",
                f"'{name}' is not a virtual directory name; expected e.g. 'owa (Default Web Site)' "
                "(owa, ecp, EWS, Microsoft-Server-ActiveSync, OAB, mapi or Autodiscover)",
            )
        internal = r.parsed("internalurl", parse_url, "")
        external = r.parsed("externalurl", parse_url, "")
        if r.failed or kind is None:
            continue
        out.virtual_directories.append(
            VirtualDirectory(
                server=server,
                name=name,
                kind=kind,
                internal_url=internal,
                external_url=external,
                internal_authentication=split_flags(r.cell("internalauthenticationmethods")),
                external_authentication=split_flags(r.cell("externalauthenticationmethods")),
                source=rec.where(),
            )
        )


def _outlook_anywhere(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        server, _name = _server_and_name(r)
        external = r.parsed("externalhostname", parse_host, "")
        internal = r.parsed("internalhostname", parse_host, "")
        offloading = r.boolean("ssloffloading", False)
        if r.failed:
            continue
        out.outlook_anywhere.append(
            OutlookAnywhere(
                server=server,
                external_hostname=external,
                internal_hostname=internal,
                client_authentication=(
                    r.text("clientauthenticationmethod")
                    or r.text("externalclientauthenticationmethod")
                ),
                iis_authentication=split_flags(r.cell("iisauthenticationmethods")),
                ssl_offloading=offloading,
                source=rec.where(),
            )
        )


def _client_access_servers(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        name = r.required("name").split(".")[0]
        uri = r.parsed("autodiscoverserviceinternaluri", parse_url, "")
        if r.failed:
            continue
        out.autodiscover_scps.append(AutodiscoverScp(name, uri, rec.where()))


def _client_access_arrays(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        name = r.required("name")
        fqdn = r.parsed("fqdn", parse_host, "")
        if not fqdn and not r.failed:
            r.fail(
                "fqdn",
                "empty value; expected the array's FQDN (the name RPC/TCP clients connect to)",
            )
        if r.failed:
            continue
        site = r.text("site").split("/")[-1]
        out.client_access_arrays.append(ClientAccessArray(name, fqdn, site, rec.where()))


def _optional_bool(r: _Reader, key: str) -> bool | None:
    if not r.text(key):
        return None
    return r.boolean(key, False)


def _organization_config(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records[:1]:
        r.start(rec)
        enabled = r.text("publicfoldersenabled")
        if enabled and enabled.lower() not in {"local", "remote", "none"}:
            r.fail(
                "publicfoldersenabled",
                f"'{enabled}' is not a public folder setting; expected Local, Remote or None",
            )
        config = OrganizationConfig(
            mapi_http_enabled=_optional_bool(r, "mapihttpenabled"),
            public_folders_enabled=enabled,
            public_folders_locked_for_migration=_optional_bool(
                r, "publicfolderslockedformigration"
            ),
            public_folder_migration_complete=_optional_bool(r, "publicfoldermigrationcomplete"),
            remote_public_folder_mailboxes=r.multi("remotepublicfoldermailboxes"),
            default_public_folder_mailbox=r.text("defaultpublicfoldermailbox"),
            source=rec.where(),
        )
        if not r.failed:
            out.organization_config = config


def _public_folder_databases(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        name = r.required("name")
        server = r.required("server").split(".")[0]
        if r.failed:
            continue
        out.public_folder_databases.append(PublicFolderDatabase(name, server, rec.where()))


def _public_folders(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        raw = r.required("identity")
        mail = r.boolean("mailenabled", False)
        if r.failed:
            continue
        path = folder_path(raw)
        parent = folder_path(r.text("parentpath")) if r.text("parentpath") else parent_of(path)
        if path == ROOT:
            parent = ""
        name = r.text("name") or path.rsplit("\\", 1)[-1]
        out.public_folders.append(
            PublicFolder(
                path,
                name,
                parent,
                mail_enabled=mail,
                source=rec.where(),
                replicas=r.multi("replicas"),
            )
        )


def _public_folder_stats(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        raw = r.required("folderpath")
        size = _size_or_fail(r, "totalitemsize", "totalitemsizebytes")
        items_text = r.text("itemcount").replace(",", "")
        if items_text and not items_text.isdigit():
            r.fail("itemcount", f"'{items_text}' is not an item count; expected a whole number")
        if r.failed:
            continue
        path = folder_path(raw)
        out.public_folder_stats.append(
            PublicFolderStat(
                path,
                r.text("name") or path.rsplit("\\", 1)[-1],
                size,
                int(items_text) if items_text else 0,
                rec.where(),
                r.text("servername").split(".")[0],
            )
        )


def _mail_public_folders(table: RawTable, out: Converted) -> None:
    r = _Reader(table, out.problems)
    for rec in table.records:
        r.start(rec)
        identity = r.required("identity")
        smtp = r.required("primarysmtpaddress").lower()
        if smtp and "@" not in smtp:
            r.fail("primarysmtpaddress", f"'{smtp}' is not an SMTP address; expected user@domain")
        if r.failed:
            continue
        out.mail_public_folders.append(
            MailPublicFolder(identity, smtp, r.multi("emailaddresses"), rec.where())
        )


_CONVERTERS: dict[TableKind, Callable[[RawTable, Converted], None]] = {
    TableKind.RECEIVE_CONNECTORS: _receive_connectors,
    TableKind.AD_PERMISSIONS: _ad_permissions,
    TableKind.EXCHANGE_SERVERS: _servers,
    TableKind.ACCEPTED_DOMAINS: _accepted_domains,
    TableKind.SEND_CONNECTORS: _send_connectors,
    TableKind.TRANSPORT_CONFIG: _transport_config,
    TableKind.CERTIFICATES: _certificates,
    TableKind.AD_USERS: _onprem_users,
    TableKind.CLOUD_USERS: _cloud_users,
    TableKind.RECIPIENTS: _recipients,
    TableKind.MAILBOXES: _mailboxes,
    TableKind.MAILBOX_STATISTICS: _mailbox_stats,
    TableKind.MAILBOX_DATABASES: _mailbox_databases,
    TableKind.MAILBOX_PERMISSIONS: _mailbox_permissions,
    TableKind.VIRTUAL_DIRECTORIES: _virtual_directories,
    TableKind.OUTLOOK_ANYWHERE: _outlook_anywhere,
    TableKind.CLIENT_ACCESS_SERVERS: _client_access_servers,
    TableKind.CLIENT_ACCESS_ARRAYS: _client_access_arrays,
    TableKind.ORGANIZATION_CONFIG: _organization_config,
    TableKind.PUBLIC_FOLDER_DATABASES: _public_folder_databases,
    TableKind.PUBLIC_FOLDERS: _public_folders,
    TableKind.PUBLIC_FOLDER_STATISTICS: _public_folder_stats,
    TableKind.MAIL_PUBLIC_FOLDERS: _mail_public_folders,
}


def convert(tables: list[RawTable], out: Converted | None = None) -> Converted:
    """Convert every table; problems for every bad cell (into ``out``, where given)."""
    out = out if out is not None else Converted()
    for table in tables:
        _CONVERTERS[table.kind](table, out)
    return out
