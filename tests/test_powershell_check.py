"""The PowerShell validator catches what it is meant to catch (and passes good scripts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from powershell_check import (
    CMDLETS_JSON,
    check_helper,
    check_parameters,
    check_script,
    parse_errors,
    safety_problems,
    unknown_commands,
    version_problems,
)

GOOD = """\
[CmdletBinding(SupportsShouldProcess = $true)]
param([string]$DomainController = 'dc01')
$rc = @(Get-ReceiveConnector -Server 'EX16-01' -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Name -eq 'Relay' })
if ($rc.Count -eq 1 -and $PSCmdlet.ShouldProcess('EX16-01\\Relay', 'disable')) {
    Set-ReceiveConnector -Identity ([string]$rc[0].DistinguishedName) -Enabled $false -DomainController $DomainController -ErrorAction Stop
}
"""


def test_reference_is_the_shared_copy() -> None:
    data = json.loads(CMDLETS_JSON.read_text(encoding="utf-8"))
    assert "New-ReceiveConnector" in data["cmdlets"]
    shared = Path("/work/shared/cmdlets.json")
    if shared.exists():
        assert shared.read_bytes() == CMDLETS_JSON.read_bytes()


def test_good_script_passes_both_shells() -> None:
    assert check_script(GOOD, ps2=False) == []
    assert check_script(GOOD, ps2=True) == []
    assert unknown_commands(GOOD) == []


def test_unknown_parameter() -> None:
    text = "Set-ReceiveConnector -Identity 'a\\b' -Enabeld $false -ErrorAction Stop\n"
    assert check_parameters(text, ps2=False) == [
        "line 1: Set-ReceiveConnector: -Enabeld is not a documented parameter of Set-ReceiveConnector"
    ]


def test_prefix_alias_and_case_are_accepted_but_ambiguity_is_not() -> None:
    assert (
        check_parameters(
            "Set-StrictMode -vers Latest\nWrite-Host -fore 'Red' 'x' -ea Stop\n", ps2=False
        )
        == []
    )
    assert check_parameters("Set-StrictMode -Ver Latest\n", ps2=False) == [
        "line 1: Set-StrictMode: -Ver is ambiguous for Set-StrictMode: it could be Verbose, Version"
    ]


def test_whatif_only_where_the_cmdlet_lists_it() -> None:
    assert check_parameters("Get-ReceiveConnector -Server 'x' -WhatIf\n", ps2=False) == [
        "line 1: Get-ReceiveConnector: -WhatIf is not a parameter of Get-ReceiveConnector"
        " (it does not support ShouldProcess)"
    ]
    assert check_parameters("Remove-ReceiveConnector -Identity 'x\\y' -WhatIf\n", ps2=False) == []


def test_bad_enumerated_value() -> None:
    text = (
        "New-ReceiveConnector -Name 'R' -Custom -Bindings '0.0.0.0:25' -RemoteIPRanges '10.0.0.1'"
        " -TransportRole Frontend -PermissionGroups 'AnonymousUsers', 'Everyone'\n"
    )
    assert check_parameters(text, ps2=False) == [
        "line 1: New-ReceiveConnector: -TransportRole value 'Frontend' is not one of FrontendTransport, HubTransport",
        "line 1: New-ReceiveConnector: -PermissionGroups value 'Everyone' is not one of None, AnonymousUsers,"
        " ExchangeUsers, ExchangeServers, ExchangeLegacyServers, Partners, Custom",
    ]


def test_boolean_parameter_needs_true_or_false() -> None:
    text = "Set-ReceiveConnector -Identity 'a\\b' -Enabled 'false'\n"
    assert check_parameters(text, ps2=False) == [
        "line 1: Set-ReceiveConnector: -Enabled takes $true or $false, not 'false'"
    ]


def test_parameter_sets_and_mandatory_parameters() -> None:
    text = "Get-ReceiveConnector -Server 'EX16-01' -Identity 'EX16-01\\Relay'\n"
    assert check_parameters(text, ps2=False) == [
        "line 1: Get-ReceiveConnector: parameters -identity, -server do not fit one parameter set (Identity, Server)"
    ]
    missing = "New-ReceiveConnector -Name 'R' -Custom -Bindings '0.0.0.0:25'\n"
    assert check_parameters(missing, ps2=False) == [
        "line 1: New-ReceiveConnector: missing mandatory parameter(s) -remoteipranges"
        " (or too many positional arguments)"
    ]
    # Piped input may bind a mandatory parameter: not reported.
    assert (
        check_parameters("$rc | Add-ADPermission -User 'u' -ExtendedRights 'x'\n", ps2=False) == []
    )


def test_parse_errors() -> None:
    assert parse_errors("if ($a { Write-Host 'x' }\n")
    # tree-sitter rejects bare-word comma lists: quote each element.
    assert parse_errors("Get-ADUser -Identity 'x' -Properties a,b\n")
    assert parse_errors("Get-ADUser -Identity 'x' -Properties 'a','b'\n") == []
    assert check_script("Write-Host ('x'\n", ps2=False)[0].startswith("line 1, column")


def test_powershell3_constructs_in_a_2010_script() -> None:
    text = "\n".join(
        [
            "$h = [ordered]@{ a = 1 }",
            "if ($a -in $b) { }",
            "$PSItem",
            "$x = [System.Text.StringBuilder]::new()",
            "class Foo { [int]$x }",
            "Get-ReceiveConnector -Server 'x' -ErrorAction Stop | Where-Object Name -eq 'y'",
            "$o | ConvertTo-Json",
            "$o | Export-Csv -Path 'a.csv' -Append -NoTypeInformation",
            "",
        ]
    )
    problems = check_script(text, ps2=True)
    for expected in (
        "line 1: [ordered] needs PowerShell 3.0 or later",
        "line 2: -in needs PowerShell 3.0 or later",
        "line 3: $PSItem needs PowerShell 3.0 or later",
        "line 4: ::new() needs PowerShell 5.0 or later",
        "line 5: class/enum definitions need PowerShell 5.0 or later",
        "line 6: Where-Object: simplified Where-Object syntax needs PowerShell 3.0; use a script block",
        "line 7: ConvertTo-Json needs PowerShell 3.0 or later (2010 shell is 2.0)",
        "line 8: Export-Csv: -Append needs PowerShell 3.0 or later",
    ):
        assert expected in problems
    # The same constructs are fine for PowerShell 5.1 (EMS on 2016+), except PowerShell 7 syntax.
    assert version_problems(text, ps2=False) == []
    assert version_problems("Get-Date && Get-Date\n", ps2=False) == [
        "line 1: '&&'/'||' pipeline chains need PowerShell 7"
    ]


def test_2010_applicability() -> None:
    text = "New-ReceiveConnector -Name 'R' -Custom -Bindings '0.0.0.0:25' -RemoteIPRanges '10.0.0.1' -TransportRole 'FrontendTransport'\n"
    assert check_parameters(text, ps2=False) == []
    assert check_parameters(text, ps2=True) == [
        "line 1: New-ReceiveConnector: -TransportRole is not available in Exchange Server 2010"
        " (documented for Exchange Server 2013, Exchange Server 2016, Exchange Server 2019, Exchange Server SE)"
    ]


def test_script_functions_are_checked_against_their_param_block() -> None:
    text = "function Test-It { param([string]$Id, $Next) }\nTest-It -Id 'a' -Next 'b'\nTest-It -Nope 1\n"
    assert check_parameters(text, ps2=True) == [
        "line 3: Test-It: -Nope is not a parameter of the script's function"
    ]
    assert unknown_commands(text) == []


def test_unknown_commands_are_listed_not_checked() -> None:
    assert unknown_commands("Get-Thing -Whatever 1\n$x | Out-Null\n") == ["Get-Thing", "Out-Null"]
    assert check_parameters("Get-Thing -Whatever 1\n", ps2=False) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Set-ReceiveConnector -Identity 'a\\b' -Enabled $false\n",
            [
                "line 1: Set-ReceiveConnector without -ErrorAction Stop",
                "line 1: Set-ReceiveConnector changes state outside if ($PSCmdlet.ShouldProcess(...))",
            ],
        ),
        (
            "if ($PSCmdlet.ShouldProcess('a', 'b')) { Set-ReceiveConnector -Identity 'a\\b' -Enabled $false -ErrorAction Stop }\n",
            [],
        ),
        (
            "if ($PSCmdlet.ShouldProcess('a', 'b')) { } else { Remove-ReceiveConnector -Identity 'a\\b' -ErrorAction Stop }\n",
            [
                "line 1: Remove-ReceiveConnector changes state outside if ($PSCmdlet.ShouldProcess(...))"
            ],
        ),
    ],
)
def test_safety(text: str, expected: list[str]) -> None:
    assert safety_problems(text) == expected


# --------------------------------------------------------------------------- helper functions

HELPER = """\
function Set-Thing {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([string]$Server, [ValidateSet('Tls', 'ExternalAuthoritative')][string[]]$AuthMechanism, [switch]$Force)
    if ($PSCmdlet.ShouldProcess($Server, 'Set AuthMechanism')) {
        Set-ReceiveConnector -Identity $Server -AuthMechanism $AuthMechanism -ErrorAction Stop
    }
}
function Get-Old {
    param([string]$Server)
    Get-TransportService -Identity $Server -ErrorAction Stop
}
function Remove-Thing {
    param([string]$Server)
    if ($PSCmdlet.ShouldProcess($Server, 'Remove')) { Get-Old -Server $Server }
}
"""


def test_calls_into_the_helper_pass_only_declared_parameters() -> None:
    good = "$step = @{ Server = 'EX16-01'; AuthMechanism = @('Tls') }\nSet-Thing @step -Force -WhatIf\n"
    assert check_script(good, ps2=False, helper=HELPER) == []
    bad = (
        "$step = @{ Server = 'EX16-01'; Servr = 'x'; AuthMechanism = @('Tls', 'Basic') }\n"
        "Set-Thing @step -Forse\n"
    )
    assert check_script(bad, ps2=False, helper=HELPER) == [
        "line 2: Set-Thing: -Forse is not a parameter of function Set-Thing (line 1 of its file)",
        "line 1: Set-Thing: key Servr is not a parameter of function Set-Thing (line 1 of its file)",
        "line 1: Set-Thing: key AuthMechanism value 'Basic' is not one of Tls, ExternalAuthoritative",
    ]
    assert unknown_commands(good, helper=HELPER) == []
    assert check_script("Set-Thing @nothing\n", ps2=False, helper=HELPER) == [
        "line 1: Set-Thing: splats a variable that is not a hashtable literal assigned before the call"
    ]


def test_helper_check_closes_the_powershell_2_set_and_wants_should_process_declared() -> None:
    problems = check_helper(HELPER, ps2_functions={"remove-thing"})
    assert problems == [
        "line 10: Get-TransportService: Get-TransportService does not exist in Exchange Server 2010",
        "line 10: Get-TransportService: -Identity is not available in Exchange Server 2010"
        " (documented for Exchange Server 2013, Exchange Server 2016, Exchange Server 2019,"
        " Exchange Server SE)",
        "line 12: function Remove-Thing calls ShouldProcess without"
        " [CmdletBinding(SupportsShouldProcess = $true)]",
    ]
    assert check_helper(HELPER.replace("Get-TransportService", "Get-TransportServer")) == [
        "line 12: function Remove-Thing calls ShouldProcess without"
        " [CmdletBinding(SupportsShouldProcess = $true)]",
    ]
