"""Real Exchange Export-Clixml files (Microsoft's CSS-Exchange test data) load exactly."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from migrator.cli import app
from migrator.inventory import load_inventory
from migrator.inventory.clixml import read_clixml
from migrator.model import AcceptedDomainType, ExchangeVersion, Lifecycle, TransportRole

DATA = Path(__file__).parent / "data" / "clixml"
# Exactly as Exchange wrote them in the export (RemoteIPRanges ToString), not normalised.
ALL_V4_V6 = ["::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0-255.255.255.255"]
FULL_AUTH = ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"]


def test_inventory_show_json_reports_connectors_exactly() -> None:
    result = CliRunner().invoke(
        app, ["inventory", "show", str(DATA / "GetReceiveConnector.xml"), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    got = {
        c["name"]: (
            c["bindings"],
            c["remote_ip_ranges"],
            c["auth_mechanism"],
            c["permission_groups"],
            c["transport_role"],
        )
        for c in doc["receive_connectors"]
    }
    assert got == {
        "Default WIN-CTD3L0RGEN4": (
            ["0.0.0.0:2525", "[::]:2525"],
            ALL_V4_V6,
            FULL_AUTH,
            ["ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"],
            "HubTransport",
        ),
        "Client Proxy WIN-CTD3L0RGEN4": (
            ["[::]:465", "0.0.0.0:465"],
            ALL_V4_V6,
            FULL_AUTH,
            ["ExchangeUsers", "ExchangeServers"],
            "HubTransport",
        ),
        "Default Frontend WIN-CTD3L0RGEN4": (
            ["[::]:25", "0.0.0.0:25"],
            ALL_V4_V6,
            FULL_AUTH,
            ["AnonymousUsers", "ExchangeServers", "ExchangeLegacyServers"],
            "FrontendTransport",
        ),
        "Outbound Proxy Frontend WIN-CTD3L0RGEN4": (
            ["[::]:717", "0.0.0.0:717"],
            ALL_V4_V6,
            FULL_AUTH,
            ["ExchangeServers"],
            "FrontendTransport",
        ),
        "Client Frontend WIN-CTD3L0RGEN4": (
            ["[::]:587", "0.0.0.0:587"],
            ALL_V4_V6,
            ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS"],
            ["ExchangeUsers"],
            "FrontendTransport",
        ),
    }
    frontend = next(
        c for c in doc["receive_connectors"] if c["name"] == "Default Frontend WIN-CTD3L0RGEN4"
    )
    assert frontend["identity"] == "WIN-CTD3L0RGEN4\\Default Frontend WIN-CTD3L0RGEN4"
    assert frontend["server"] == "WIN-CTD3L0RGEN4"
    assert frontend["max_message_size_bytes"] == 37748736
    assert frontend["fqdn"] == "WIN-CTD3L0RGEN4.exlab.dom"
    assert frontend["enabled"] is True
    assert frontend["protocol_logging_level"] == "Verbose"
    assert frontend["tls_domain_capabilities"] == ["fabrikam.com:AcceptCloudServicesMail"]


def test_json_is_deterministic() -> None:
    runner = CliRunner()
    args = ["inventory", "show", str(DATA / "GetReceiveConnector.xml"), "--json"]
    assert runner.invoke(app, args).stdout == runner.invoke(app, args).stdout


def test_objects_carry_deserialized_type_names_and_ranges_stay_whole() -> None:
    inv = load_inventory(DATA / "GetReceiveConnector.xml")
    c = inv.receive_connectors[0]
    assert c.source is not None and c.source.element == "object 5"
    assert all(r.is_all() for r in c.remote_ip_ranges)
    assert {c.transport_role for c in inv.receive_connectors} == {
        TransportRole.HUB,
        TransportRole.FRONTEND,
    }


def test_exchange_servers_2019_and_2016() -> None:
    (e19,) = load_inventory(DATA / "GetExchangeServer.xml").servers
    assert (e19.name, e19.version, e19.build, e19.site, e19.lifecycle) == (
        "SOLO-E19A",
        ExchangeVersion.EX2019,
        "15.2.986.5",
        "Default-First-Site-Name",
        Lifecycle.TARGET,
    )
    (e16,) = load_inventory(DATA / "GetExchangeServer_E16.xml").servers
    assert (e16.version, e16.build) == (ExchangeVersion.EX2016, "15.1.2375.7")


def test_accepted_domains_send_connector_and_certificates() -> None:
    domains = load_inventory(DATA / "GetAcceptedDomain.xml").accepted_domains
    assert [(d.domain_name, d.domain_type, d.default) for d in domains] == [
        ("*.com", AcceptedDomainType.INTERNAL_RELAY, False),
        ("*.contoso.local", AcceptedDomainType.AUTHORITATIVE, False),
        ("Solo.com", AcceptedDomainType.AUTHORITATIVE, True),
    ]
    (send,) = load_inventory(DATA / "GetSendConnector.xml").send_connectors
    assert send.address_spaces == ("SMTP:*;1",)
    assert send.smart_hosts == ("microsoft-com.mail.protection.outlook.com",)
    assert send.cloud_services_mail_enabled and send.is_hybrid
    certs = load_inventory(DATA / "GetExchangeCertificate.xml").certificates
    # Thumbprints computed from RawData match what Exchange printed in <ToString>.
    assert "C3EDCF181EF4F9B53D01768ECA99564014BCA6E7" in {c.thumbprint for c in certs}
    solo = next(c for c in certs if c.subject == "CN=Solo-E19A")
    assert solo.subject_alternative_names == ("Solo-E19A", "Solo-E19A.Solo.com")
    assert solo.server == "solo-e19a" and solo.self_signed


def test_utf16_clixml_and_clixml_header() -> None:
    text = (DATA / "GetAcceptedDomain.xml").read_bytes()[3:].decode("utf-8")
    utf16 = b"\xff\xfe" + text.encode("utf-16-le")
    assert len(read_clixml(utf16, "x.xml").tables[0].records) == 3
    with_header = ("#< CLIXML\r\n" + text).encode("utf-8")
    assert len(read_clixml(with_header, "x.xml").tables[0].records) == 3


# An Exchange 2010 connector as the 2010 shell's Export-Clixml writes it (UTF-16 LE with BOM,
# CRLF): enums as <Obj> with <ToString>, multi-valued properties as <LST>, repeated types
# as <TNRef>, no TransportRole (2010 has none), an IPv6 range with a %zone suffix.
CLIXML_2010 = """<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">
  <Obj RefId="0">
    <TN RefId="0">
      <T>Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector</T>
      <T>Microsoft.Exchange.Data.Directory.ADObject</T>
      <T>System.Object</T>
    </TN>
    <ToString>EX10-01\\Relay Scanners</ToString>
    <Props>
      <Obj N="AuthMechanism" RefId="1">
        <TN RefId="1">
          <T>Microsoft.Exchange.Data.Directory.SystemConfiguration.AuthMechanisms</T>
          <T>System.Enum</T>
          <T>System.ValueType</T>
          <T>System.Object</T>
        </TN>
        <ToString>Tls, ExternalAuthoritative</ToString>
        <I32>33</I32>
      </Obj>
      <Obj N="Bindings" RefId="2">
        <TN RefId="2">
          <T>Microsoft.Exchange.Data.MultiValuedProperty`1[[Microsoft.Exchange.Data.IPBinding, Microsoft.Exchange.Data, Version=14.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35]]</T>
          <T>System.Object</T>
        </TN>
        <LST>
          <S>0.0.0.0:25</S>
        </LST>
      </Obj>
      <Obj N="RemoteIPRanges" RefId="3">
        <TNRef RefId="2" />
        <LST>
          <Obj RefId="4">
            <TN RefId="3">
              <T>Microsoft.Exchange.Data.IPRange</T>
              <T>System.Object</T>
            </TN>
            <ToString>192.168.1.1/24</ToString>
            <Props>
              <S N="Expression">192.168.1.1/24</S>
            </Props>
          </Obj>
          <Obj RefId="5">
            <TNRef RefId="3" />
            <ToString>10.1.5.20-10.1.5.29</ToString>
            <Props>
              <S N="Expression">10.1.5.20-10.1.5.29</S>
            </Props>
          </Obj>
          <Obj RefId="6">
            <TNRef RefId="3" />
            <ToString>fe80::39bd:88f7:6969:d223%11</ToString>
            <Props>
              <S N="Expression">fe80::39bd:88f7:6969:d223%11</S>
            </Props>
          </Obj>
        </LST>
      </Obj>
      <Obj N="PermissionGroups" RefId="7">
        <TN RefId="4">
          <T>Microsoft.Exchange.Data.PermissionGroups</T>
          <T>System.Enum</T>
          <T>System.ValueType</T>
          <T>System.Object</T>
        </TN>
        <ToString>ExchangeServers</ToString>
        <I32>4</I32>
      </Obj>
      <Obj N="MaxMessageSize" RefId="8">
        <TN RefId="5">
          <T>Microsoft.Exchange.Data.ByteQuantifiedSize</T>
          <T>System.ValueType</T>
          <T>System.Object</T>
        </TN>
        <ToString>10 MB (10,485,760 bytes)</ToString>
      </Obj>
      <S N="Fqdn">EX10-01.contoso.com</S>
      <B N="Enabled">false</B>
      <S N="Name">Relay Scanners</S>
      <S N="Comment">Scanners on floor 2</S>
      <Obj N="Server" RefId="9">
        <TN RefId="6">
          <T>Microsoft.Exchange.Data.Directory.ADObjectId</T>
          <T>System.Object</T>
        </TN>
        <ToString>EX10-01</ToString>
      </Obj>
      <Obj N="Identity" RefId="10">
        <TNRef RefId="6" />
        <ToString>EX10-01\\Relay Scanners</ToString>
      </Obj>
    </Props>
  </Obj>
</Objs>"""


def _ps_unicode(text: str) -> bytes:
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


def test_exchange_2010_clixml_in_utf16(tmp_path: Path) -> None:
    path = tmp_path / "anything.dat.xml"
    path.write_bytes(_ps_unicode(CLIXML_2010))
    inv = load_inventory(path)
    (c,) = inv.receive_connectors
    assert c.identity == "EX10-01\\Relay Scanners"
    assert [str(b) for b in c.bindings] == ["0.0.0.0:25"]
    assert [r.exchange_text() for r in c.remote_ip_ranges] == [
        "192.168.1.0/24",
        "10.1.5.20-10.1.5.29",
        "fe80::39bd:88f7:6969:d223",
    ]
    assert c.remote_ip_ranges[2].zone == "11"
    assert c.auth_mechanism == ("Tls", "ExternalAuthoritative")
    assert c.permission_groups == ("ExchangeServers",)
    assert c.transport_role is None
    assert c.max_message_size_bytes == 10485760
    assert c.enabled is False and c.comment == "Scanners on floor 2"


def test_mixed_object_types_are_reported() -> None:
    other = CLIXML_2010.replace(
        "</Objs>",
        """  <Obj RefId="11">
    <TN RefId="7">
      <T>Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomain</T>
      <T>System.Object</T>
    </TN>
    <ToString>contoso.com</ToString>
  </Obj>
</Objs>""",
    )
    result = read_clixml(_ps_unicode(other), "x.xml")
    assert [str(p) for p in result.problems] == [
        "x.xml, object 2: object of type 'Deserialized.Microsoft.Exchange.Data.Directory."
        "SystemConfiguration.AcceptedDomain' in a receive connectors export; expected one kind of "
        "object per file"
    ]
