"""Mailbox exports: recognised by content (CSV in any encoding, CliXML), sizes of every form, joins."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.errors import InventoryError
from migrator.inventory import load_inventory
from migrator.inventory.kinds import TableKind, kind_of_columns
from migrator.inventory.tables import parse_mailbox_size
from migrator.mailboxes import MailboxKind, Right

CONTOSO = Path(__file__).parent.parent / "inventories" / "contoso"

MBX_HEADER = (
    '"Identity","Alias","PrimarySmtpAddress","RecipientTypeDetails","Database","ServerName",'
    '"ArchiveDatabase","ArchiveGuid","ExchangeGuid"'
)
G1 = "11111111-1111-1111-1111-111111111111"
G2 = "22222222-2222-2222-2222-222222222222"
G3 = "33333333-3333-3333-3333-333333333333"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("49.5 GB (53,150,220,288 bytes)", 53_150_220_288),
        ("49,5 GB (53.150.220.288 bytes)", 53_150_220_288),
        ("1.2 MB (1\u00a0258\u00a0291 bytes)", 1_258_291),
        ("0 B (0 bytes)", 0),
        ("53150220288", 53_150_220_288),
        ("", 0),
        ("   ", 0),
        ("2 GB", 2 * 1024**3),
    ],
)
def test_every_size_form_exchange_writes(text: str, expected: int) -> None:
    assert parse_mailbox_size(text) == expected


@pytest.mark.parametrize("text", ["Unlimited", "lots", "12 parsecs"])
def test_a_size_in_an_unknown_form_is_an_error(text: str) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_mailbox_size(text)


@pytest.mark.parametrize(
    ("columns", "kind"),
    [
        (
            ["Identity", "PrimarySmtpAddress", "RecipientTypeDetails", "Database", "ArchiveGuid"],
            TableKind.MAILBOXES,
        ),
        (
            ["MailboxGuid", "TotalItemSize", "TotalItemSizeBytes", "ItemCount"],
            TableKind.MAILBOX_STATISTICS,
        ),
        (
            ["Name", "Server", "MasterServerOrAvailabilityGroup", "DatabaseCopies"],
            TableKind.MAILBOX_DATABASES,
        ),
        (["Mailbox", "Trustee", "Permission"], TableKind.MAILBOX_PERMISSIONS),
    ],
)
def test_tables_are_recognised_by_their_columns(columns: list[str], kind: TableKind) -> None:
    assert kind_of_columns(columns) is kind


def _write(folder: Path, name: str, text: str, encoding: str = "utf-8-sig") -> None:
    (folder / name).write_bytes(text.replace("\n", "\r\n").encode(encoding))


def _folder(tmp_path: Path, stats: str, perms: str = "", dbs: str = "") -> Path:
    _write(
        tmp_path,
        "m.csv",
        MBX_HEADER
        + "\n"
        + f'"a","anna","anna@x.com","UserMailbox","DB1","ex1","DB1","{G2}","{G1}"\n'
        + f'"b","bob","bob@x.com","SharedMailbox","DB1","ex1",,"00000000-0000-0000-0000-000000000000","{G3}"\n',
        "utf-16",
    )
    _write(tmp_path, "s.csv", stats)
    if perms:
        _write(tmp_path, "p.csv", perms)
    if dbs:
        _write(tmp_path, "d.csv", dbs)
    return tmp_path


STATS = (
    '"MailboxGuid","IsArchiveMailbox","TotalItemSize","TotalDeletedItemSize"\n'
    f'"{G1}","False","49.5 GB (53,150,220,288 bytes)","1 KB (1,024 bytes)"\n'
    f'"{G2}","True","10 MB (10,485,760 bytes)",""\n'
    f'"{G3}","False","123",""\n'
)


def test_sizes_join_primary_and_archive_by_guid(tmp_path: Path) -> None:
    inv = load_inventory(_folder(tmp_path, STATS))
    anna, bob = inv.mailboxes
    assert anna.size_bytes == 53_150_220_288 + 1024
    assert anna.archive_bytes == 10_485_760
    assert anna.has_archive and not bob.has_archive
    assert bob.kind is MailboxKind.SHARED and bob.size_bytes == 123


def test_the_bytes_column_wins_over_the_text(tmp_path: Path) -> None:
    stats = (
        f'"MailboxGuid","TotalItemSize","TotalItemSizeBytes"\n"{G1}","49.5 GB (whatever)","42"\n'
    )
    inv = load_inventory(_folder(tmp_path, stats))
    assert inv.mailboxes[0].size_bytes == 42


def test_bad_cells_are_reported_all_at_once_with_file_row_and_column(tmp_path: Path) -> None:
    stats = (
        '"MailboxGuid","TotalItemSize","ItemCount"\n'
        f'"{G1}","about 3 GB","12"\n'
        f'"{G3}","Unlimited","x"\n'
    )
    perms = '"Mailbox","Trustee","Permission"\n"nobody@x.com","anna@x.com","FullAccess"\n'
    dbs = '"Name","Server","DatabaseCopies","MasterServerOrAvailabilityGroup"\n"DB2","ex1","1",""\n'
    with pytest.raises(InventoryError) as exc:
        load_inventory(_folder(tmp_path, stats, perms, dbs))
    text = str(exc.value)
    assert "s.csv, row 2, column 'TotalItemSize': 'about 3 GB' is not a size" in text
    assert "s.csv, row 3, column 'TotalItemSize': 'Unlimited' is a quota" in text
    assert "s.csv, row 3, column 'ItemCount': 'x' is not an item count" in text
    assert "p.csv, row 2, column 'Mailbox': 'nobody@x.com' is not a mailbox" in text
    assert "m.csv, row 2, column 'Database': 'DB1' is not a database of the inventory" in text


def test_permissions_resolve_every_name_form_and_drop_self_inherited_deny(tmp_path: Path) -> None:
    perms = (
        '"Mailbox","Trustee","Permission","IsInherited","Deny"\n'
        '"bob@x.com","CONTOSO\\anna","FullAccess","False","False"\n'
        '"b","anna@x.com","SendAs","False","False"\n'
        '"bob","NT AUTHORITY\\SELF","FullAccess","False","False"\n'
        '"bob","anna","FullAccess","True","False"\n'
        '"bob","anna","Calendar","False","True"\n'
        '"anna@x.com","bob","SendOnBehalf","False","False"\n'
        '"anna@x.com","CONTOSO\\svc-backup","FullAccess","False","False"\n'
    )
    folder = _folder(tmp_path, STATS, perms)
    # anna's sam is not exported here: 'CONTOSO\anna' resolves through the alias.
    inv = load_inventory(folder)
    got = {(link.mailbox, link.trustee, link.right) for link in inv.mailbox_links}
    assert got == {
        ("bob@x.com", "anna@x.com", Right.FULL_ACCESS),
        ("bob@x.com", "anna@x.com", Right.SEND_AS),
        ("anna@x.com", "bob@x.com", Right.SEND_ON_BEHALF),
    }
    assert any(f.code == "moves.trustee-not-mailbox" for f in inv.load_findings)


def test_contoso_has_realistic_mailboxes() -> None:
    inv = load_inventory(CONTOSO)
    kinds = {m.kind for m in inv.mailboxes}
    assert {
        MailboxKind.USER,
        MailboxKind.SHARED,
        MailboxKind.ROOM,
        MailboxKind.EQUIPMENT,
        MailboxKind.ARBITRATION,
        MailboxKind.DISCOVERY,
    } <= kinds
    assert any(m.is_migration_mailbox for m in inv.mailboxes)
    assert sum(m.has_archive for m in inv.mailboxes) >= 3
    assert max(m.total_bytes for m in inv.mailboxes) > 60 * 1024**3
    sites = {m.server.lower() for m in inv.mailboxes}
    assert sites == {"ex10-02", "ex10-03"}
    assert {link.right for link in inv.mailbox_links} == set(Right)
    assert inv.moves is not None and inv.moves.service_account_cap == 8
    assert {d.name for d in inv.mailbox_databases} >= {"DB10-LON-01", "DB16-LON-01"}


def test_get_mailboxpermission_clixml_is_read_as_fullaccess(tmp_path: Path) -> None:
    ns = "http://schemas.microsoft.com/powershell/2004/04"
    tn = "Deserialized.Microsoft.Exchange.Management.RecipientTasks.MailboxAcePresentationObject"

    def obj(ref: int, user: str, rights: str, inherited: str) -> str:
        return (
            f'<Obj RefId="{ref}"><TN RefId="{ref}"><T>{tn}</T><T>Deserialized.System.Object</T></TN>'
            f'<Props><S N="Identity">b</S><S N="User">{user}</S><S N="AccessRights">{rights}</S>'
            f'<B N="IsInherited">{inherited}</B><B N="Deny">false</B></Props></Obj>'
        )

    xml = (
        f'<Objs Version="1.1.0.1" xmlns="{ns}">'
        + obj(0, "CONTOSO\\anna", "FullAccess", "false")
        + obj(1, "NT AUTHORITY\\SELF", "FullAccess, ReadPermission", "false")
        + obj(2, "CONTOSO\\anna", "ReadPermission", "false")
        + obj(3, "CONTOSO\\Exchange Servers", "FullAccess", "true")
        + "</Objs>"
    )
    folder = _folder(tmp_path, STATS)
    (folder / "perm.xml").write_bytes(b"\xff\xfe" + xml.encode("utf-16-le"))
    inv = load_inventory(folder)
    assert [(x.mailbox, x.trustee, x.right) for x in inv.mailbox_links] == [
        ("bob@x.com", "anna@x.com", Right.FULL_ACCESS)
    ]


def test_send_as_from_a_get_adpermission_clixml_becomes_a_send_as_link(tmp_path: Path) -> None:
    # Get-Mailbox | Get-ADPermission | Export-Clixml (remote session: Deserialized types,
    # Identity an ADObjectId, ExtendedRights a collection of ExtendedRightIdParameter).
    ns = "http://schemas.microsoft.com/powershell/2004/04"
    tn = "Deserialized.Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject"

    def obj(
        ref: int, identity: str, user: str, rights: list[str], inherited: str, deny: str
    ) -> str:
        items = "".join(
            f'<Obj RefId="{ref}{k}"><TN RefId="{ref}{k}"><T>Deserialized.Microsoft.Exchange.'
            "Configuration.Tasks.ExtendedRightIdParameter</T><T>Deserialized.System.Object</T>"
            f'</TN><ToString>{r}</ToString><Props><S N="RawIdentity">{r}</S></Props></Obj>'
            for k, r in enumerate(rights)
        )
        return (
            f'<Obj RefId="{ref}"><TN RefId="{ref}"><T>{tn}</T><T>Deserialized.System.Object</T></TN>'
            f"<ToString>{identity}</ToString><Props>"
            f'<Obj N="Identity" RefId="{ref}i"><TN RefId="{ref}i"><T>Deserialized.Microsoft.'
            "Exchange.Data.Directory.ADObjectId</T><T>Deserialized.System.Object</T></TN>"
            f"<ToString>{identity}</ToString></Obj>"
            f'<S N="User">{user}</S>'
            f'<Obj N="ExtendedRights" RefId="{ref}e"><TN RefId="{ref}e"><T>Deserialized.System.'
            f"Collections.ArrayList</T><T>Deserialized.System.Object</T></TN><LST>{items}</LST></Obj>"
            '<S N="AccessRights">ExtendedRight</S>'
            f'<B N="IsInherited">{inherited}</B><B N="Deny">{deny}</B></Props></Obj>'
        )

    xml = (
        f'<Objs Version="1.1.0.1" xmlns="{ns}">'
        + obj(1, "b", "CONTOSO\\anna", ["Send-As"], "false", "false")
        + obj(2, "b", "NT AUTHORITY\\SELF", ["Send-As"], "false", "false")
        + obj(3, "b", "CONTOSO\\anna", ["Receive-As"], "false", "false")
        + obj(4, "a", "CONTOSO\\Exchange Servers", ["Send-As"], "true", "false")
        + obj(5, "a", "CONTOSO\\bob", ["Send-As"], "false", "true")
        + "</Objs>"
    )
    folder = _folder(tmp_path, STATS)
    (folder / "sendas.xml").write_bytes(b"\xff\xfe" + xml.encode("utf-16-le"))
    inv = load_inventory(folder)
    assert [(x.mailbox, x.trustee, x.right) for x in inv.mailbox_links] == [
        ("bob@x.com", "anna@x.com", Right.SEND_AS)
    ]
    assert not any(p.extended_rights == ("Send-As",) for p in inv.ad_permissions)
