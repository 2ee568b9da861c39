"""inventory.yaml: the published schema, key paths in messages, merging with exports, xlsx, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from migrator.cli import app
from migrator.errors import InventoryError
from migrator.inventory import load_inventory, schema, schema_path
from migrator.model import ExchangeVersion, Lifecycle, RelayMethod

SERVERS_CSV = (
    b'\xef\xbb\xbf"Name","ServerRole","Site","AdminDisplayVersion","ExSetupVersion"\r\n'
    b'"EX10-01","Mailbox, ClientAccess, HubTransport","London","Version 14.3 (Build 123.4)","14.3.513.0"\r\n'
)
YAML = """organisation: Contoso Ltd
plan:
  start: 2026-12-07
  final_version: SE
  maintenance_windows:
    - {day: Saturday, start: "20:00", end: "23:59"}
sites:
  - name: London
    subnets: [10.1.0.0/16]
servers:
  - name: EX10-01
    hybrid: true
  - name: EX16-01
    site: London
    version: "2016"
    ip: [10.1.1.20, "2001:db8::20"]
relay:
  method: anonymous
  targets:
    London: [EX16-01]
  public_ranges: [203.0.113.0/28]
  overrides:
    - connector: "EX10-01\\\\Relay Scanners"
      method: externally-secured
      add_ranges: [10.1.5.0/24]
tenant:
  initial_domain: contoso.onmicrosoft.com
  mx_hosts: {contoso.com: contoso-com.mail.protection.outlook.com}
dns:
  - domain: contoso.com
    mx: [{host: mail.contoso.com, preference: 10, ttl: 3600}]
"""


def _write(tmp_path: Path, yaml_text: str) -> Path:
    (tmp_path / "inventory.yaml").write_text(yaml_text, encoding="utf-8")
    (tmp_path / "servers.csv").write_bytes(SERVERS_CSV)
    return tmp_path


def test_schema_is_shipped_and_valid() -> None:
    assert schema_path().is_file()
    Draft202012Validator.check_schema(schema())
    assert json.loads(schema_path().read_text(encoding="utf-8")) == schema()


def test_yaml_merges_with_exports(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, YAML))
    assert inv.organisation == "Contoso Ltd"
    ex10, ex16 = inv.servers
    assert (ex10.version, ex10.lifecycle, ex10.hybrid, ex10.build) == (
        ExchangeVersion.EX2010,
        Lifecycle.LEGACY,
        True,
        "14.3.513.0",
    )
    assert (ex16.version, ex16.lifecycle, [str(a) for a in ex16.ip_addresses]) == (
        ExchangeVersion.EX2016,
        Lifecycle.TARGET,
        ["10.1.1.20", "2001:db8::20"],
    )
    assert inv.policy.targets_by_site == (("London", ("EX16-01",)),)
    assert inv.policy.overrides[0].method is RelayMethod.EXTERNALLY_SECURED
    assert inv.policy.start_date is not None and inv.policy.start_date.isoformat() == "2026-12-07"
    assert (
        inv.tenant is not None
        and inv.tenant.mx_host("contoso.com") == "contoso-com.mail.protection.outlook.com"
    )
    assert inv.dns_zones[0].mx[0].ttl_seconds == 3600


CASES = [
    (
        "    London: [EX16-01]",
        "    London: [EX16-01, 10]",
        "inventory.yaml, key 'relay.targets.London[1]': 10 is not a text",
    ),
    (
        "  method: anonymous",
        "  method: open",
        "inventory.yaml, key 'relay.method': 'open' is not allowed; expected one of: anonymous, externally-secured",
    ),
    (
        "  public_ranges: [203.0.113.0/28]",
        "  public_ranges: [203.0.113.300]",
        "inventory.yaml, key 'relay.public_ranges[0]': '203.0.113.300' is not an IP address, range or CIDR block",
    ),
    (
        "    hybrid: true",
        "    hybird: true",
        "inventory.yaml, key 'servers[0].hybird': unknown key 'hybird'",
    ),
    (
        "organisation: Contoso Ltd",
        "organization: Contoso Ltd",
        "inventory.yaml, key 'organisation': required key is missing",
    ),
    # a date that is none stopped PyYAML with a traceback (plan.start too)
    (
        "  start: 2026-12-07",
        "  start: 2026-12-32",
        "inventory.yaml, key 'plan.start': '2026-12-32' is not a date; expected yyyy-mm-dd",
    ),
    (
        "  final_version: SE",
        "  final_version: SE\n  holidays: [2026-12-25, 2026-02-30]",
        "inventory.yaml, key 'plan.holidays[1]': '2026-02-30' is not a date; expected yyyy-mm-dd",
    ),
]


def test_holidays_are_read_sorted(tmp_path: Path) -> None:
    """plan.holidays (review 5, n5): public holidays, no business days for the soak between cut-overs."""
    text = YAML.replace(
        "  final_version: SE", "  final_version: SE\n  holidays: [2027-01-01, 2026-12-25]"
    )
    inv = load_inventory(_write(tmp_path, text))
    assert [d.isoformat() for d in inv.policy.holidays] == ["2026-12-25", "2027-01-01"]


@pytest.mark.parametrize(("old", "new", "expected"), CASES)
def test_key_paths_in_messages(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in YAML
    folder = _write(tmp_path, YAML.replace(old, new))
    with pytest.raises(InventoryError) as info:
        load_inventory(folder)
    messages = [str(p).replace(str(folder) + "/", "") for p in info.value.problems]
    assert any(m.startswith(expected) for m in messages), messages


def test_xlsx_workbook_with_sheets(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Servers"
    ws.append(["Name", "ServerRole", "Site", "AdminDisplayVersion"])
    ws.append(["EX10-01", "Mailbox, HubTransport", "London", "Version 14.3 (Build 123.4)"])
    rc = book.create_sheet("Connectors")
    rc.append(["Identity", "Bindings", "RemoteIPRanges", "PermissionGroups", "Enabled"])
    rc.append(
        ["EX10-01\\Relay Apps", "0.0.0.0:25", "10.1.5.0/24\n10.1.6.1", "AnonymousUsers", True]
    )
    rc.append(["EX10-01\\Relay Bad", "0.0.0.0:25", "10.0.0.300", "AnonymousUsers", True])
    book.create_sheet("Notes")
    path = tmp_path / "inventory book.xlsx"
    book.save(path)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}, sheet 'Connectors', row 3, column 'RemoteIPRanges': '10.0.0.300' is not an IP "
        "address, range or CIDR block; expected an address (10.0.0.1), a range (10.0.0.1-10.0.0.9) "
        "or a CIDR block (10.0.0.0/24)"
    ]
    rc.delete_rows(3)
    book.save(path)
    inv = load_inventory(path)
    assert [r.exchange_text() for r in inv.receive_connectors[0].remote_ip_ranges] == [
        "10.1.5.0/24",
        "10.1.6.1",
    ]
    assert inv.servers[0].version is ExchangeVersion.EX2010


def test_cli_check_reports_and_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = _write(tmp_path, YAML)
    ok = runner.invoke(app, ["check", str(folder)])
    assert ok.exit_code == 0, ok.output
    assert "1 AD users" not in ok.stdout and "2 servers" in ok.stdout
    bad = _write(tmp_path, YAML.replace("London: [EX16-01]", "London: [EX16-99]"))
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    assert isinstance(result.exception, InventoryError)
    assert "'EX16-99' is not a known server" in str(result.exception)


def test_cli_main_prints_problems_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from migrator.cli import main

    folder = _write(tmp_path, YAML.replace("London: [EX16-01]", "London: [EX16-99]"))
    monkeypatch.setattr("sys.argv", ["migrator", "check", str(folder)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "key 'relay.targets.London[0]': 'EX16-99' is not a known server" in err
    assert "Traceback" not in err and "nothing was written" in err
