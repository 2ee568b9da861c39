"""AD and cloud user tables are converted column by column: the same rules, the same messages.

The files in tests/data/users_columns hold one good and several bad rows of each
table (bad GUIDs, empty required cells, booleans, a .NET type name left in a
cell, braces, base64 and dash-less GUIDs, padded cells); the expected problems and
objects were written down from the row-by-row converter before it was replaced.
"""

from __future__ import annotations

from pathlib import Path

from migrator.inventory.sniff import read_export
from migrator.inventory.tables import convert
from migrator.model import CloudUser, Location, OnPremUser

DATA = Path(__file__).parent / "data" / "users_columns"

PROBLEMS = [
    "ADUsers.csv, row 3, column 'Enabled': 'maybe' is not a boolean; expected True or False",
    "ADUsers.csv, row 3, column 'ObjectGUID': 'not-a-guid' is not a GUID; expected e.g. 0c0a1e55-7c1d-4c5e-9a2b-1f0e3c4d5a6b or its base64 form",
    "ADUsers.csv, row 4, column 'ObjectGUID': empty value; expected the user's objectGUID",
    "ADUsers.csv, row 4, column 'SamAccountName': empty value; expected a value in this column",
    "ADUsers.csv, row 4, column 'mS-DS-ConsistencyGuid': 'zzz' is not a GUID; expected e.g. 0c0a1e55-7c1d-4c5e-9a2b-1f0e3c4d5a6b or its base64 form",
    "ADUsers.csv, row 5, column 'proxyAddresses': 'Microsoft.ActiveDirectory.Management.ADPropertyValueCollection' is a .NET type name, not the values; a plain Export-Csv cannot write multi-valued properties: join them with a calculated property, e.g.: Get-ADUser -Filter * -Properties objectGUID,mS-DS-ConsistencyGuid,proxyAddresses,mail,userPrincipalName,msExchRecipientTypeDetails,msExchMailboxGuid,targetAddress | Select-Object DistinguishedName,SamAccountName,ObjectGUID,UserPrincipalName,mail,@{Name='proxyAddresses';Expression={$_.proxyAddresses -join ';'}},@{Name='mS-DS-ConsistencyGuid';Expression={if ($_.'mS-DS-ConsistencyGuid') {[Convert]::ToBase64String($_.'mS-DS-ConsistencyGuid')}}},msExchRecipientTypeDetails,@{Name='msExchMailboxGuid';Expression={if ($_.msExchMailboxGuid) {[guid]$_.msExchMailboxGuid}}},targetAddress,Enabled | Export-Csv -NoTypeInformation -Encoding UTF8 -Path ADUsers.csv",
    "CloudUsers.csv, row 3, column 'ExchangeGuid': 'bad-guid' is not a GUID; expected e.g. 0c0a1e55-7c1d-4c5e-9a2b-1f0e3c4d5a6b or its base64 form",
    "CloudUsers.csv, row 3, column 'HasMailbox': 'nope' is not a boolean; expected True or False",
    "CloudUsers.csv, row 3, column 'Id': empty value; expected a value in this column",
    "CloudUsers.csv, row 3, column 'UserPrincipalName': empty value; expected a value in this column",
]


def _convert():  # type: ignore[no-untyped-def]
    tables, problems = [], []
    for name in ("ADUsers.csv", "CloudUsers.csv"):
        result = read_export((DATA / name).read_bytes(), name)
        tables += result.tables
        problems += result.problems
    converted = convert(tables)
    return sorted(str(p) for p in [*problems, *converted.problems]), converted


def test_problems_are_exact() -> None:
    problems, _ = _convert()
    assert problems == PROBLEMS


def test_good_rows_become_users() -> None:
    _, converted = _convert()
    assert converted.onprem_users == [
        OnPremUser(
            distinguished_name="CN=Ann,DC=c",
            sam_account_name="ann",
            object_guid="0c0a1e55-7c1d-4c5e-9a2b-1f0e3c4d5a6b",
            user_principal_name="ann@contoso.com",
            mail="ann@contoso.com",
            proxy_addresses=("SMTP:ann@contoso.com", "smtp:a@contoso.com"),
            consistency_guid="0c0a1e55-7c1d-4c5e-9a2b-1f0e3c4d5a6b",
            recipient_type_details="1",
            exchange_guid="11111111-2222-3333-4444-555555555555",
            target_address="",
            enabled=True,
            source=Location(file="ADUsers.csv", row=2, column=None, element=None),
        ),
        OnPremUser(
            distinguished_name="CN=Dee,DC=c",
            sam_account_name="dee",
            object_guid="22222222-0000-4000-8000-000000000001",
            user_principal_name="dee@contoso.com",
            mail="dee@contoso.com",
            proxy_addresses=("Microsoft.ActiveDirectory.Management.ADPropertyValueCollection",),
            consistency_guid="",
            recipient_type_details="",
            exchange_guid="",
            target_address="",
            enabled=True,
            source=Location(file="ADUsers.csv", row=5, column=None, element=None),
        ),
        OnPremUser(
            distinguished_name="CN=Eve,DC=c",
            sam_account_name="eve",
            object_guid="33333333-0000-4000-8000-000000000001",
            user_principal_name="eve@contoso.com",
            mail="",
            proxy_addresses=(),
            consistency_guid="",
            recipient_type_details="2147483648",
            exchange_guid="",
            target_address="SMTP:eve@contoso.mail.onmicrosoft.com",
            enabled=True,
            source=Location(file="ADUsers.csv", row=6, column=None, element=None),
        ),
    ]
    assert converted.cloud_users == [
        CloudUser(
            id="c1",
            user_principal_name="ann@contoso.com",
            mail="ann@contoso.com",
            proxy_addresses=("SMTP:ann@contoso.com",),
            immutable_id="VR4KDB18XkyaKx8OPE1aaw==",
            on_premises_sync_enabled=True,
            admin_roles=("Global Administrator", "Exchange Administrator"),
            has_mailbox=True,
            exchange_guid="aaaaaaaa-0000-4000-8000-000000000001",
            archive_guid="",
            legacy_exchange_dn="",
            mailbox_type="",
            source=Location(file="CloudUsers.csv", row=2, column=None, element=None),
        ),
        CloudUser(
            id="c3",
            user_principal_name="cid@contoso.com",
            mail="",
            proxy_addresses=(),
            immutable_id="",
            on_premises_sync_enabled=False,
            admin_roles=(),
            has_mailbox=False,
            exchange_guid="",
            archive_guid="bbbbbbbb-0000-4000-8000-000000000001",
            legacy_exchange_dn="",
            mailbox_type="",
            source=Location(file="CloudUsers.csv", row=4, column=None, element=None),
        ),
    ]


def test_columns_and_records_of_csv_rows_agree() -> None:
    # a blank line, a short row, a long row and a header named twice (the last one counts)
    data = (
        b'"Id","UserPrincipalName","OnPremisesImmutableId","HasMailbox","Mail","mail"\r\n'
        b'"a","a@contoso.com","","True","x","A@contoso.com"\r\n'
        b"\r\n"
        b'"b","b@contoso.com"\r\n'
        b'"c","c@contoso.com","","False","y","C@contoso.com","extra"\r\n'
    )
    table = read_export(data, "CloudUsers.csv").tables[0]
    assert table.text_only and len(table) == 3
    columns = {k: list(table.column(k)) for k in ("id", "mail", "adminroles")}
    locations = table.locations()
    records = table.records  # made from the rows now
    assert not table.text_only
    assert columns == {k: [r.cells.get(k, "") for r in records] for k in columns}
    assert columns["mail"] == ["A@contoso.com", "", "C@contoso.com"]
    assert locations == [r.where() for r in records]
    assert [r.row for r in records] == [2, 4, 5]
    assert list(table.column("mail")) == columns["mail"]  # from the records now
