"""``migrator identity immutable-id``, ``identity guid`` and ``identity match``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrator.cli import app, main
from migrator.cli import out as out_console
from migrator.model import CloudUser, Inventory, OnPremUser, Policy, Tenant
from migrator.plan.immutable_id import IdentifierError

runner = CliRunner()


@pytest.mark.parametrize(
    "form",
    [
        "3ab39606-c642-489b-84b6-58c038d3ef39",
        "3AB39606-C642-489B-84B6-58C038D3EF39",
        "{3ab39606-c642-489b-84b6-58c038d3ef39}",
        "{3AB39606-C642-489B-84B6-58C038D3EF39}",
    ],
)
def test_immutable_id(form: str) -> None:
    result = runner.invoke(app, ["identity", "immutable-id", form])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "BpazOkLGm0iEtljAONPvOQ=="


def test_guid() -> None:
    result = runner.invoke(app, ["identity", "guid", "MsNKjF+XF0ete7pKTpaP/w=="])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "8c4ac332-975f-4717-ad7b-ba4a4e968fff"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["immutable-id", "nope"], "error: 'nope' is not a GUID; expected 32 hexadecimal digits"),
        (
            ["guid", "AAAA"],
            "error: 'AAAA' is not an ImmutableId of a GUID: it decodes to 3 bytes, not 16",
        ),
    ],
)
def test_malformed_values_are_clean_errors(
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Through Typer alone the library error surfaces with exit code 1 ...
    result = runner.invoke(app, ["identity", *args])
    assert result.exit_code == 1
    assert isinstance(result.exception, IdentifierError)
    # ... and main(), the one error boundary, prints it without a traceback.
    monkeypatch.setattr(sys, "argv", ["migrator", "identity", *args])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(message)
    assert "Traceback" not in captured.err and captured.out == ""


def _inventory() -> Inventory:
    return Inventory(
        "Contoso",
        onprem_users=(
            OnPremUser(
                "CN=Ann,OU=Synced,DC=contoso,DC=com",
                "ann",
                "3ab39606-c642-489b-84b6-58c038d3ef39",
                "ann@contoso.com",
                "ann@contoso.com",
                ("SMTP:ann@contoso.com",),
            ),
            OnPremUser(
                "CN=[Bob],OU=Synced,DC=contoso,DC=com",
                "bob",
                "8c4ac332-975f-4717-ad7b-ba4a4e968fff",
                "bob@contoso.com",
                "bob@contoso.com",
                ("smtp:bob@contoso.com",),
            ),
        ),
        cloud_users=(
            CloudUser("id-ann", "ann@contoso.com", proxy_addresses=("SMTP:ann@contoso.com",)),
            CloudUser("id-bob", "bob@contoso.com", proxy_addresses=("SMTP:bob@contoso.com",)),
        ),
        tenant=Tenant("contoso.onmicrosoft.com", ("contoso.com",)),
        policy=Policy(sync_scope_ou="OU=Synced,DC=contoso,DC=com"),
    )


def test_match_prints_the_table_and_writes_the_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[Path] = []

    def fake_load(path: Path) -> Inventory:
        seen.append(Path(path))
        return _inventory()

    monkeypatch.setattr("migrator.inventory.load_inventory", fake_load)
    monkeypatch.setattr(out_console, "width", 250)  # keep each table row on one line
    result = runner.invoke(app, ["identity", "match", "inv", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert seen == [Path("inv")]
    out = result.stdout
    assert "ann@contoso.com" in out and "clean soft match" in out
    # bob has no SMTP: primary: he matches on UPN; '[Bob]' is printed as text, not rich markup
    assert "bob@contoso.com" in out and "soft match on UPN" in out
    assert "CN=[Bob],OU=Synced,DC=contoso,DC=com" in out
    assert "2 cloud user(s): clean soft match 2" in out
    # bob's missing SMTP: primary breaks his sync: he is held back from the batches
    assert "1 on-premises attribute finding(s); 1 object(s) held back" in out
    report = (tmp_path / "identity" / "identity-report.md").read_text(encoding="utf-8")
    assert "identity.missing-primary-smtp" in report
    assert (tmp_path / "identity" / "batch-001.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_match_limits_the_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("migrator.inventory.load_inventory", lambda _p: _inventory())
    result = runner.invoke(app, ["identity", "match", "inv", "-o", str(tmp_path), "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "... 1 more user(s) in the report" in result.stdout
    assert "bob@contoso.com" not in result.stdout.split("... 1 more")[0]
