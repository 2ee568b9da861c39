"""The Markdown relay report: golden file, escaping, error banner.

Regenerate the golden file with ``MIGRATOR_REGEN_GOLDEN=1 pytest tests/test_render_relay_report.py``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from golden_files import check_golden
from relay_builders import connector, inventory, relay, server, with_policy

from migrator.checks.relay import check_relay
from migrator.model import Certificate, Inventory, RelayOverride
from migrator.plan.relay import plan_relay
from migrator.render.relay_report import md, relay_report_markdown, write_relay_report

GOLDEN = Path(__file__).parent / "golden" / "relay-report" / "small.md"


def small() -> Inventory:
    """Anonymous, externally secured, internal-only and disabled connectors; one alias with a certificate."""
    apps, g1 = relay("EX10-01", "Relay Apps", ["10.1.20.0/24", "10.1.20.15"], size=10 * 1024 * 1024)
    scan, g2 = relay(
        "EX10-01", "Scanners", ["10.1.30.0/24"], fqdn="smtp.contoso.test", size=25 * 1024 * 1024
    )
    ext = connector(
        "EX10-01",
        "Ext MFP",
        ["10.1.40.5"],
        groups=("ExchangeServers",),
        auth=("Tls", "ExternalAuthoritative"),
    )
    internal = connector("EX10-01", "Internal App", ["10.1.20.15"])
    off, g3 = relay("EX10-01", "Old Relay", ["10.1.60.0/24"], enabled=False)
    cert = Certificate(
        "EX16-01",
        "AB12",
        "CN=mail.contoso.test",
        "CN=Contoso CA",
        ("mail.contoso.test", "smtp.contoso.test"),
        dt.date(2027, 5, 1),
        ("SMTP",),
    )
    servers = (server("EX10-01", ips=("10.1.0.10",)), server("EX16-01", "2016", ips=("10.1.0.20",)))
    return inventory(
        [apps, scan, ext, internal, off],
        [g1, g2, g3],
        servers=servers,
        certificates=(cert,),
        host_names=(("10.1.40.5", "mfp01.contoso.test"),),
    )


def report(inv: Inventory) -> str:
    plan = plan_relay(inv)
    return relay_report_markdown(inv, plan, [*plan.findings, *check_relay(inv, plan)])


def test_golden_small_report() -> None:
    text = report(small())
    check_golden(GOLDEN, text)


def test_report_content() -> None:
    text = report(small())
    assert (
        "| EX10-01\\\\Relay Apps | anonymous relay | yes | Ms-Exch-SMTP-Accept-Any-Recipient"
        in text
    )
    assert "| EX10-01\\\\Old Relay | disabled | no | Enabled is False" in text
    assert (
        "| EX10-01\\\\Scanners | EX16-01\\\\Relay Scanners | 10.1.30.0/24 | anonymous | 0.0.0.0:25 | "
        "smtp.contoso.test; TlsCertificateName \\<I\\>CN=Contoso CA\\<S\\>CN=mail.contoso.test | "
        "25 MB (26,214,400 bytes) |"
    ) in text
    assert "size limits and anti-spam are bypassed" in text  # the externally secured trade-off
    assert "anti-spam still apply" in text  # the anonymous trade-off
    assert (
        "the organisation limit 10 MB (10,485,760 bytes) still applies to anonymous relay" in text
    )
    assert "externally secured: size limits are bypassed" in text
    # the internal-only connector is carried over (no relay), so its client gains nothing
    assert "| info | relay.internal-only.carried | EX10-01\\\\Internal App |" in text
    assert "internal-only, no relay" in text
    assert "relay.shadow.moved" not in text
    assert "writes no runbook" not in text


def test_errors_get_the_banner_and_every_cell_is_escaped() -> None:
    hostile = "Relay | *x* `y` <b>"
    c, g = relay("EX10-01", hostile, ["10.1.20.0/24", "0.0.0.0/0"])
    text = report(inventory([c], [g]))
    assert "**While any error stands, `migrator plan` writes no runbook.**" in text
    assert "Relay \\| \\*x\\* \\`y\\` \\<b\\>" in text
    assert "Relay | *x*" not in text
    row = next(line for line in text.splitlines() if line.startswith("| EX10-01\\\\Relay \\|"))
    assert row.replace("\\|", "").count("|") == 5  # four cells: the name's pipe is escaped


def test_md_escapes_markup_and_newlines() -> None:
    assert md("a|b\nc*d_e\\f") == "a\\|b c\\*d\\_e\\\\f"


def test_override_name_shows_in_report(tmp_path: Path) -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    inv = inventory(
        [c], [g], policy=with_policy(overrides=(RelayOverride("Relay Apps", name="Apps 2016"),))
    )
    plan = plan_relay(inv)
    path = write_relay_report(tmp_path / "relay-report.md", inv, plan, plan.findings)
    assert path == tmp_path / "relay-report.md"
    assert "| EX10-01\\\\Relay Apps | EX16-01\\\\Apps 2016 |" in path.read_text(encoding="utf-8")


def test_other_areas_findings_are_left_out() -> None:
    from migrator.model import Finding, Severity

    inv = small()
    plan = plan_relay(inv)
    other = Finding(Severity.ERROR, "identity.too-long", "user x", "upn is too long")
    text = relay_report_markdown(inv, plan, [*plan.findings, other])
    assert "identity.too-long" not in text
