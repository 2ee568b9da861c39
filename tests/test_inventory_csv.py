"""CSV exports in the exact bytes PowerShell writes: #TYPE line, BOMs, UTF-16 LE, CRLF."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.checks.inventory import check_inventory_basics
from migrator.inventory import load_inventory
from migrator.inventory.powershell_csv import _lines, read_csv
from migrator.inventory.tables import (
    _CANONICAL_GUID,
    _canonical_guids,
    parse_guid,
    parse_size,
    split_address_spaces,
    split_multi,
)

RC_TYPE = "Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector"
HEADER = ["Identity", "Bindings", "RemoteIPRanges", "AuthMechanism", "PermissionGroups", "Enabled"]


def ps_csv(rows: list[list[str]], *, type_name: str = "", encoding: str = "UTF8") -> bytes:
    """Bytes as Export-Csv writes them: quoted cells, CRLF, optional #TYPE line."""
    lines = [f"#TYPE {type_name}"] if type_name else []
    lines += [",".join('"' + v.replace('"', '""') + '"' for v in row) for row in rows]
    text = "\r\n".join(lines) + "\r\n"
    if encoding == "UTF8":  # Windows PowerShell -Encoding UTF8: with BOM
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    if encoding == "Unicode":  # UTF-16 LE with BOM
        return b"\xff\xfe" + text.encode("utf-16-le")
    if encoding == "ASCII":  # Windows PowerShell's default: non-ASCII becomes '?'
        return text.encode("ascii", errors="replace")
    return text.encode("utf-8")  # PowerShell 7: UTF-8 without BOM


ROW = [
    "EX10-01\\Relay Apps",
    "0.0.0.0:25",
    "10.1.5.0/24;192.168.1.1/24",
    "Tls",
    "AnonymousUsers",
    "True",
]


@pytest.mark.parametrize("encoding", ["UTF8", "Unicode", "ASCII", "UTF8NoBOM"])
@pytest.mark.parametrize(
    "type_line", ["", RC_TYPE, "Deserialized." + RC_TYPE, "Selected." + RC_TYPE]
)
def test_encodings_and_type_line(tmp_path: Path, encoding: str, type_line: str) -> None:
    path = tmp_path / "export.txt.csv"
    path.write_bytes(ps_csv([HEADER, ROW], type_name=type_line, encoding=encoding))
    (c,) = load_inventory(path).receive_connectors
    assert c.identity == "EX10-01\\Relay Apps"
    assert [r.exchange_text() for r in c.remote_ip_ranges] == ["10.1.5.0/24", "192.168.1.0/24"]
    assert c.source is not None and c.source.row == 2


@pytest.mark.parametrize(
    "cell",
    [
        "10.1.5.0/24;10.1.6.7",
        "10.1.5.0/24,10.1.6.7",
        "10.1.5.0/24, 10.1.6.7",
        "10.1.5.0/24\r\n10.1.6.7",
        "10.1.5.0/24\n10.1.6.7",
    ],
)
def test_multi_valued_cells(tmp_path: Path, cell: str) -> None:
    path = tmp_path / "rc.csv"
    path.write_bytes(
        ps_csv([HEADER, [ROW[0], ROW[1], cell, "Tls, ExternalAuthoritative", "None", "False"]])
    )
    (c,) = load_inventory(path).receive_connectors
    assert [r.exchange_text() for r in c.remote_ip_ranges] == ["10.1.5.0/24", "10.1.6.7"]
    assert c.auth_mechanism == ("Tls", "ExternalAuthoritative")
    assert c.permission_groups == ()
    assert c.enabled is False


def test_server_and_name_instead_of_identity(tmp_path: Path) -> None:
    path = tmp_path / "rc.csv"
    path.write_bytes(
        ps_csv(
            [
                ["Server", "Name", "Bindings", "RemoteIPRanges"],
                ["EX10-01", "Relay", "[::]:25", "2001:db8::/48"],
            ]
        )
    )
    (c,) = load_inventory(path).receive_connectors
    assert (c.identity, str(c.bindings[0]), c.remote_ip_ranges[0].exchange_text()) == (
        "EX10-01\\Relay",
        "[::]:25",
        "2001:db8::/48",
    )


def test_ascii_export_lost_letters_warns_with_command(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    header = ["SamAccountName", "ObjectGUID", "UserPrincipalName", "DistinguishedName"]
    row = [
        "jmuller",
        "5b1e9a3c-2f4d-4c8e-9b1a-0d2e3f4a5b6c",
        "jmuller@contoso.com",
        "CN=Jürgen Müller,OU=Staff,DC=contoso,DC=com",
    ]
    path.write_bytes(
        ps_csv(
            [header, row],
            type_name="Selected.Microsoft.ActiveDirectory.Management.ADUser",
            encoding="ASCII",
        )
    )
    inv = load_inventory(path)
    assert inv.onprem_users[0].distinguished_name == "CN=J?rgen M?ller,OU=Staff,DC=contoso,DC=com"
    (warning,) = [f for f in inv.load_findings if f.code == "inventory.ascii-export"]
    assert warning.where == f"{path}, row 2, column 'DistinguishedName'"
    assert "-Encoding UTF8" in warning.fix and "Get-ADUser" in warning.fix


def test_users_permissions_domains_send_connectors_folder(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(
        ps_csv(
            [
                ["Name", "Fqdn", "ServerRole", "Site", "AdminDisplayVersion", "ExSetupVersion"],
                [
                    "EX10-01",
                    "EX10-01.contoso.com",
                    "Mailbox, ClientAccess, HubTransport",
                    "contoso.com/Configuration/Sites/London",
                    "Version 14.3 (Build 123.4)",
                    "14.3.513.0",
                ],
                [
                    "EX16-01",
                    "EX16-01.contoso.com",
                    "Mailbox",
                    "contoso.com/Configuration/Sites/Dublin",
                    "Version 15.1 (Build 2507.6)",
                    "",
                ],
            ]
        )
    )
    (tmp_path / "b.csv").write_bytes(ps_csv([HEADER, ROW]))
    (tmp_path / "c.csv").write_bytes(
        ps_csv(
            [
                ["Identity", "User", "ExtendedRights", "AccessRights", "Deny", "IsInherited"],
                [
                    "EX10-01\\Relay Apps",
                    "NT AUTHORITY\\ANONYMOUS LOGON",
                    "ms-Exch-SMTP-Accept-Any-Recipient",
                    "ExtendedRight",
                    "False",
                    "False",
                ],
            ]
        )
    )
    (tmp_path / "d.csv").write_bytes(
        ps_csv(
            [
                ["Name", "DomainName", "DomainType", "Default"],
                ["Contoso", "contoso.com", "Authoritative", "True"],
            ]
        )
    )
    (tmp_path / "e.csv").write_bytes(
        ps_csv(
            [
                [
                    "Name",
                    "AddressSpaces",
                    "SourceTransportServers",
                    "SmartHosts",
                    "Enabled",
                    "CloudServicesMailEnabled",
                    "MaxMessageSize",
                ],
                ["Internet", "SMTP:*;1", "EX10-01", "", "True", "False", "Unlimited"],
                [
                    "Outbound to Office 365",
                    "smtp:contoso.mail.onmicrosoft.com;1",
                    "EX10-01;EX16-01",
                    "",
                    "True",
                    "True",
                    "35 MB (36,700,160 bytes)",
                ],
            ]
        )
    )
    guid = "5b1e9a3c-2f4d-4c8e-9b1a-0d2e3f4a5b6c"
    (tmp_path / "f.csv").write_bytes(
        ps_csv(
            [
                [
                    "SamAccountName",
                    "ObjectGUID",
                    "UserPrincipalName",
                    "proxyAddresses",
                    "mS-DS-ConsistencyGuid",
                    "Enabled",
                ],
                [
                    "alee",
                    guid,
                    "alee@contoso.com",
                    "SMTP:alee@contoso.com;smtp:ann@contoso.com",
                    "PJoeW00vjkybGg0uP0pbbA==",
                    "True",
                ],
            ]
        )
    )
    (tmp_path / "g.csv").write_bytes(
        ps_csv(
            [
                [
                    "Id",
                    "UserPrincipalName",
                    "Mail",
                    "ProxyAddresses",
                    "OnPremisesImmutableId",
                    "OnPremisesSyncEnabled",
                    "AdminRoles",
                    "HasMailbox",
                ],
                [
                    "0f0e",
                    "alee@contoso.com",
                    "alee@contoso.com",
                    "SMTP:alee@contoso.com",
                    "",
                    "",
                    "Global Administrator",
                    "True",
                ],
            ]
        )
    )
    (tmp_path / "h.csv").write_bytes(
        ps_csv([["MaxSendSize", "MaxReceiveSize"], ["25 MB (26,214,400 bytes)", "Unlimited"]])
    )
    inv = load_inventory(tmp_path)
    assert [s.name for s in inv.servers] == ["EX10-01", "EX16-01"]
    assert [s.name for s in inv.sites] == ["Dublin", "London"]
    assert inv.server("EX10-01") is not None and inv.server("EX10-01").build == "14.3.513.0"  # type: ignore[union-attr]
    assert inv.permissions_for("ex10-01\\relay apps")[0].extended_rights == (
        "ms-Exch-SMTP-Accept-Any-Recipient",
    )
    assert [d.domain_name for d in inv.accepted_domains] == ["contoso.com"]
    internet, hybrid = inv.send_connectors
    assert internet.address_spaces == ("SMTP:*;1",) and internet.is_internet
    assert hybrid.source_transport_servers == ("EX10-01", "EX16-01") and hybrid.is_hybrid
    (user,) = inv.onprem_users
    assert user.object_guid == guid and user.consistency_guid == guid
    assert user.proxy_addresses == ("SMTP:alee@contoso.com", "smtp:ann@contoso.com")
    (cloud,) = inv.cloud_users
    assert cloud.admin_roles == ("Global Administrator",) and cloud.has_mailbox
    assert inv.transport_config.max_send_size_bytes == 26214400
    assert inv.transport_config.max_receive_size_bytes is None
    codes = {f.code for f in check_inventory_basics(inv)}
    assert "inventory.no-targets" in codes


def test_zone_suffix_kept_and_flagged(tmp_path: Path) -> None:
    path = tmp_path / "rc.csv"
    path.write_bytes(
        ps_csv(
            [
                HEADER,
                [
                    ROW[0],
                    "[::]:25",
                    "fe80::39bd:88f7:6969:d223%11",
                    "Tls",
                    "AnonymousUsers",
                    "True",
                ],
            ]
        )
    )
    inv = load_inventory(path)
    assert inv.receive_connectors[0].remote_ip_ranges[0].zone == "11"
    zone = [f for f in check_inventory_basics(inv) if f.code == "inventory.zone-suffix"]
    assert len(zone) == 1 and "%11" in zone[0].message


def test_cell_parsers() -> None:
    assert parse_size("10 MB (10,485,760 bytes)") == 10485760
    assert parse_size("Unlimited") is None
    assert parse_size("36700160") == 36700160
    assert (
        parse_guid("{5B1E9A3C-2F4D-4C8E-9B1A-0D2E3F4A5B6C}")
        == "5b1e9a3c-2f4d-4c8e-9b1a-0d2e3f4a5b6c"
    )
    assert split_multi(("a", " ", "b")) == ("a", "b")
    assert split_address_spaces("SMTP:*;1;SMTP:contoso.com;2") == ("SMTP:*;1", "SMTP:contoso.com;2")


def test_exsetup_file_version_with_zero_padding_is_normalised() -> None:
    from migrator.inventory.tables import version_of
    from migrator.model import ExchangeVersion

    # FileVersionInfo.FileVersion of ExSetup.exe pads each field with zeros.
    assert version_of("14.03.0513.000") == (ExchangeVersion.EX2010, "14.3.513.0")
    assert version_of("15.01.2507.055") == (ExchangeVersion.EX2016, "15.1.2507.55")


# --------------------------------------------------------------------------- lines for the reader

_LINE_CHARS = [
    "a",
    ",",
    '"',
    "\r",
    "\n",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x85",
    "\u2028",
    "é",
    " ",
]


@given(
    st.lists(st.sampled_from(_LINE_CHARS), max_size=40),
    st.booleans(),
)
@settings(max_examples=400, deadline=None)
def test_reader_lines_are_the_lines_stringio_gives(parts: list[str], typed: bool) -> None:
    """read_csv hands the reader the lines of the text after the #TYPE line as io.StringIO
    (newline="") would, without copying the text (powershell_csv._lines)."""
    text = ("#TYPE X\r\n" if typed else "") + "".join(parts)
    start = text.find("\n") + 1 if typed else 0
    assert list(_lines(text, start)) == list(io.StringIO(text[start:], newline=""))


def test_type_lines_are_split_at_the_first_line_feed() -> None:
    """The #TYPE line ends at the first "\\n" (a lone "\\r" does not end it), as before the reader
    got its lines without a copy of the text."""
    rc = "Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector"
    alone = read_csv(f"#TYPE {rc}".encode(), "x.csv")
    assert not alone.tables
    assert [p.message.split(";")[0] for p in alone.problems] == [
        f"column '{c}' is missing" for c in ("Identity", "Bindings", "RemoteIPRanges")
    ]
    lone_cr = read_csv(b"#TYPE X\rIdentity,Bindings\r\n", "x.csv")
    assert [p.message for p in lone_cr.problems] == [
        "not a recognised export (type 'X\rIdentity,Bindings'); expected an Export-Csv or "
        "Export-Clixml file of one of the tables in docs/inventory.md"
    ]
    text = '#TYPE X\r\nIdentity,Bindings,RemoteIPRanges\r\n"a\\b","0.0.0.0:25","1.2.3.4"\r\n\r\n'
    utf16 = read_csv(b"\xff\xfe" + text.encode("utf-16-le"), "x.csv")
    assert not utf16.problems
    assert [(r.row, r.cells) for r in utf16.tables[0].records] == [
        (2, {"identity": "a\\b", "bindings": "0.0.0.0:25", "remoteipranges": "1.2.3.4"})
    ]


_GUID_PARTS = st.sampled_from(
    [
        "3ab39606-c642-489b-84b6-58c038d3ef39",
        "3AB39606-C642-489B-84B6-58C038D3EF39",
        "3ab39606-c642-489b-84b6-58c038d3ef3",  # one digit short
        "3ab39606-c642-489b-84b6-58c038d3ef3g",
        "3ab39606c642-489b-84b6-58c038d3ef39-",
        "{3ab39606-c642-489b-84b6-58c038d3ef39}",
        "3ab39606-c642-489b-84b6-58c038d3ef3\u0669",  # an Arabic-Indic digit
        "3ab39606-c642-489b-84b6-58c038d3ef39\n3ab39606-c642-489b-84b6-58c038d3ef39",
        "",
    ]
)


@given(st.lists(_GUID_PARTS, max_size=12))
@settings(max_examples=300, deadline=None)
def test_a_column_of_canonical_guids_is_checked_at_once_by_the_rule_of_parse_guid(
    column: list[str],
) -> None:
    """tables._canonical_guids: the whole column at once, parse_guid's first rule per cell."""
    assert _canonical_guids(column) == all(not v or _CANONICAL_GUID.fullmatch(v) for v in column)
