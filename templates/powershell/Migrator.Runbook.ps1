# Migrator.Runbook.ps1: the helper functions of the runbooks in this folder (docs/runbooks.md); do not edit.
# Version: 9
# Each runbook checks this file's version and SHA-256, then dot-sources it (never Import-Module: -WhatIf and -Confirm
# reach every ShouldProcess here). PowerShell 2.0 syntax. Every change is gated by ShouldProcess, passes -ErrorAction
# Stop, and is read back from the pinned domain controller (except under -WhatIf).

# ----------------------------------------------------------------------------- step runner

function Start-Runbook {
    # A mistyped -From or -Only would otherwise run nothing and end as if all went well: refused first.
    param([string]$Name, [string[]]$Steps, [string]$From, [string[]]$Only, [string]$LogDirectory)
    foreach ($id in @(@($From) + @($Only))) {
        if ($id -ne '' -and -not ($Steps -contains $id)) { throw ('No step ''' + $id + ''' in this runbook; its steps are: ' + ($Steps -join ', ')) }
    }
    $script:RunbookFrom = $From; $script:RunbookOnly = @($Only); $script:Started = ($From -eq ''); $script:Stopped = $false
    # A -WhatIf run is logged too (and Stop-Transcript at the end then has a transcript to stop).
    Start-Transcript -Path (Join-Path -Path $LogDirectory -ChildPath ($Name + '-' + (Get-Date -Format 'yyyyMMdd-HHmmss') + '.log')) -WhatIf:$false
}

function Test-RunStep {
    # Whether step $Id runs (-From, -Only, a manual step met before); prints its title when it does.
    param([string]$Id, [string]$Title)
    if ($script:Stopped) { return $false }
    if (-not $script:Started -and $Id -eq $script:RunbookFrom) { $script:Started = $true }
    $run = $script:Started
    if ($script:RunbookOnly.Count -gt 0) { $run = ($script:RunbookOnly -contains $Id) }
    if ($run) { Write-Host ('[' + $Id + '] ' + $Title) }
    return $run
}

function Stop-AtManualStep {
    param([string]$Id, [string]$Next)
    if ($WhatIfPreference) { return }
    $script:Stopped = $true
    $then = '; it is the last step of this runbook'
    if ($Next -ne '') { $then = ', then run this script again with -From ' + $Next }
    Write-Warning ('Manual step ' + $Id + ': do it as described above' + $then)
}

function Assert-Equal {
    param([string]$What, $Expected, $Actual)
    if ([string]$Expected -ne [string]$Actual) { throw ('Verification failed: ' + $What + ' is ''' + [string]$Actual + ''', expected ''' + [string]$Expected + '''') }
}

function Assert-DomainController {
    param([string]$DomainController)
    if ($DomainController -eq '') { throw 'Pass -DomainController <FQDN of a domain controller>: every change is read back from that domain controller' }
}

function ConvertTo-SortedList {
    # A multi-valued setting as one comparable text: trimmed, lower case, sorted, unique, comma-joined.
    param($Value)
    return ((@($Value | ForEach-Object { ([string]$_).Trim().ToLowerInvariant() } | Sort-Object -Unique)) -join ',')
}

function ConvertTo-ByteCount {
    # '10 MB (10,485,760 bytes)' -> '10485760'; anything else as text.
    param($Size)
    if (([string]$Size) -match '\(([0-9][0-9,. ]*) bytes\)') { return ($matches[1] -replace '[^0-9]', '') }
    return [string]$Size
}

# ----------------------------------------------------------------------------- receive connectors

function Find-ReceiveConnector {
    # Select by -Server and exact name: an empty identity would return every connector, Default Frontend included.
    param([string]$Server, [string]$Name, [string]$DomainController)
    Get-ReceiveConnector -Server $Server -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Name -eq $Name }
}

function Assert-OneConnector {
    param([string]$Identity, [object[]]$Found)
    if ($Found.Count -ne 1) { throw ('Expected exactly one receive connector ' + $Identity + ', found ' + $Found.Count + '; nothing was changed') }
}

function Get-ConnectorSetting {
    # One setting of a receive connector as comparable text (lists sorted, sizes in bytes).
    param($Connector, [string]$Name)
    if ($Name -eq 'Bindings' -or $Name -eq 'RemoteIPRanges') { return (ConvertTo-SortedList $Connector.$Name) }
    if ($Name -eq 'PermissionGroups' -or $Name -eq 'AuthMechanism') { return (ConvertTo-SortedList (([string]$Connector.$Name) -split ',')) }
    if ($Name -eq 'MaxMessageSize') { return (ConvertTo-ByteCount $Connector.MaxMessageSize) }
    return [string]$Connector.$Name
}

function Set-RelayConnector {
    # relay.create: create the relay connector, or align the one migrator created before; read it back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Name, [string]$TransportRole, [string[]]$Bindings, [string[]]$RemoteIPRanges,
        [ValidateSet('AnonymousUsers', 'ExchangeServers')][string[]]$PermissionGroups, [ValidateSet('Tls', 'ExternalAuthoritative')][string[]]$AuthMechanism,
        [string]$Fqdn, $MaxMessageSize = $null, [string]$TlsCertificateName = $null, [string]$ProtocolLoggingLevel, [string]$Comment, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $identity = $Server + '\' + $Name
    # Each setting: value, text for ShouldProcess, comparable text; one the step leaves out ($null, '') is not touched.
    $settings = @(
        @{ Name = 'Bindings'; Value = $Bindings; Text = ($Bindings -join ', '); Want = (ConvertTo-SortedList $Bindings) },
        @{ Name = 'RemoteIPRanges'; Value = $RemoteIPRanges; Text = ($RemoteIPRanges -join ', '); Want = (ConvertTo-SortedList $RemoteIPRanges) },
        @{ Name = 'PermissionGroups'; Value = $PermissionGroups; Text = ($PermissionGroups -join ', '); Want = (ConvertTo-SortedList $PermissionGroups) },
        @{ Name = 'AuthMechanism'; Value = $AuthMechanism; Text = ($AuthMechanism -join ', '); Want = (ConvertTo-SortedList $AuthMechanism) },
        @{ Name = 'Fqdn'; Value = $Fqdn; Text = $Fqdn; Want = $Fqdn },
        @{ Name = 'MaxMessageSize'; Value = $MaxMessageSize; Text = ([string]$MaxMessageSize + ' bytes'); Want = [string]$MaxMessageSize },
        @{ Name = 'TlsCertificateName'; Value = $TlsCertificateName; Text = $TlsCertificateName; Want = $TlsCertificateName },
        @{ Name = 'ProtocolLoggingLevel'; Value = $ProtocolLoggingLevel; Text = $ProtocolLoggingLevel; Want = $ProtocolLoggingLevel }
    )
    $found = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    if ($found.Count -gt 1) { throw ('Found ' + $found.Count + ' receive connectors named ' + $identity + '; expected at most one') }
    if ($found.Count -eq 0) {
        $optional = @{}
        if ($null -ne $MaxMessageSize) { $optional['MaxMessageSize'] = $MaxMessageSize }
        if ($TlsCertificateName -ne '') { $optional['TlsCertificateName'] = $TlsCertificateName }
        if ($PSCmdlet.ShouldProcess($identity, 'New-ReceiveConnector on ' + $TransportRole + ', bindings ' + ($Bindings -join ', ') + ', remote IP ranges ' + ($RemoteIPRanges -join ', '))) {
            New-ReceiveConnector -Name $Name -Server $Server -TransportRole $TransportRole -Custom -Bindings $Bindings -RemoteIPRanges $RemoteIPRanges -PermissionGroups $PermissionGroups -AuthMechanism $AuthMechanism -Fqdn $Fqdn @optional -ProtocolLoggingLevel $ProtocolLoggingLevel -Comment $Comment -DomainController $DomainController -ErrorAction Stop | Out-Null
        }
    } else {
        $relay = $found[0]
        if ([string]$relay.Comment -ne $Comment) { throw ('Receive connector ' + $identity + ' exists but was not created by migrator (its Comment is ''' + [string]$relay.Comment + '''): rename the new connector in the inventory or remove the existing one') }
        if ([string]$relay.TransportRole -ne $TransportRole) { throw ('Receive connector ' + $identity + ' exists on ' + [string]$relay.TransportRole + ', expected ' + $TransportRole + ': remove it and run this step again') }
        foreach ($setting in $settings) {
            if ($null -eq $setting.Value -or [string]$setting.Value -eq '' -or (Get-ConnectorSetting -Connector $relay -Name $setting.Name) -eq $setting.Want) { continue }
            if ($PSCmdlet.ShouldProcess($identity, 'Set ' + $setting.Name + ' to ' + $setting.Text)) {
                $change = @{}; $change[$setting.Name] = $setting.Value
                Set-ReceiveConnector -Identity ([string]$relay.DistinguishedName) @change -DomainController $DomainController -ErrorAction Stop
            }
        }
    }
    if ($WhatIfPreference) { return }
    $check = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    Assert-OneConnector -Identity $identity -Found $check
    Assert-Equal -What ($identity + ' TransportRole') -Expected $TransportRole -Actual ([string]$check[0].TransportRole)
    foreach ($setting in $settings) {
        if ($null -ne $setting.Value -and [string]$setting.Value -ne '') { Assert-Equal -What ($identity + ' ' + $setting.Name) -Expected $setting.Want -Actual (Get-ConnectorSetting -Connector $check[0] -Name $setting.Name) }
    }
    Assert-Equal -What ($identity + ' Comment') -Expected $Comment -Actual ([string]$check[0].Comment)
    Write-Host ('    verified ' + $identity + ' on ' + $DomainController)
}

function Test-RelayPermission {
    # Whether $User holds $ExtendedRight on the connector (an allow entry; -Explicit: not inherited).
    param([string]$Dn, [string]$User, [string]$ExtendedRight, [switch]$Explicit, [string]$DomainController)
    $grant = @(Get-ADPermission -Identity $Dn -User $User -DomainController $DomainController -ErrorAction Stop | Where-Object { (-not $_.Deny) -and (-not ($Explicit -and $_.IsInherited)) -and (@($_.ExtendedRights | ForEach-Object { [string]$_ }) -contains $ExtendedRight) })
    return ($grant.Count -gt 0)
}

function Grant-RelayPermission {
    # relay.permission: grant the extended right on the new connector, only if missing; read it back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Name, [string]$User, [string]$ExtendedRight, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $identity = $Server + '\' + $Name
    $found = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    if ($WhatIfPreference -and $found.Count -eq 0) { Write-Host ('    What if: ' + $identity + ' does not exist yet (created by the previous step); would grant ' + $ExtendedRight + ' to ' + $User); return }
    Assert-OneConnector -Identity $identity -Found $found
    $dn = [string]$found[0].DistinguishedName
    $explicit = Test-RelayPermission -Dn $dn -User $User -ExtendedRight $ExtendedRight -Explicit -DomainController $DomainController
    if ((-not $explicit) -and (Test-RelayPermission -Dn $dn -User $User -ExtendedRight $ExtendedRight -DomainController $DomainController)) {
        # Inherited from a container above (server, protocols, organisation): it applies to every receive connector
        # there, Default Frontend too, which then relays for that user (review 6, m9). Never taken as "already has".
        throw ($User + ' holds ' + $ExtendedRight + ' on ' + $identity + ' only by inheritance: it applies to every receive connector below the container that sets it (Default Frontend too: an open relay). Find it with Get-ADPermission -Identity <container> -User ''' + $User + ''' (IsInherited False there), remove it, then run this step again')
    }
    if (-not $explicit) {
        if ($PSCmdlet.ShouldProcess($identity, 'Add-ADPermission ' + $ExtendedRight + ' for ' + $User)) {
            Add-ADPermission -Identity $dn -User $User -ExtendedRights $ExtendedRight -DomainController $DomainController -ErrorAction Stop | Out-Null
        }
    } else {
        Write-Host ('    ' + $User + ' already has ' + $ExtendedRight + ' on ' + $identity)
    }
    if ($WhatIfPreference) { return }
    if (-not (Test-RelayPermission -Dn $dn -User $User -ExtendedRight $ExtendedRight -Explicit -DomainController $DomainController)) { throw ('Verification failed: ' + $User + ' has no ' + $ExtendedRight + ' on ' + $identity + ' (read from ' + $DomainController + ')') }
    Write-Host ('    verified ' + $ExtendedRight + ' for ' + $User + ' on ' + $identity)
}

function Assert-ClientsBack {
    # Rollback on a new server (relay.rollback.permission / .remove): refuse while a DNS alias of its clients (-Aliases)
    # still resolves to one of this server's -Addresses, or while an old connector they go back to (-Successors,
    # server\name) is missing or disabled: they would be refused relay (550 5.7.54). Under -WhatIf: a warning only.
    param([string]$Identity, [string[]]$Aliases = @(), [string[]]$Addresses = @(), [string[]]$Successors = @(), [string]$DomainController)
    $problems = @()
    $mine = @($Addresses | ForEach-Object { ([System.Net.IPAddress]::Parse($_)).ToString() })
    foreach ($alias in $Aliases) {
        foreach ($type in @('A', 'AAAA')) {
            $answers = @(Resolve-DnsName -Name $alias -Type $type -DnsOnly -ErrorAction Stop | Where-Object { [string]$_.Type -eq $type } | ForEach-Object { ([System.Net.IPAddress]::Parse([string]$_.IPAddress)).ToString() })
            $still = @($answers | Where-Object { $mine -contains $_ })
            if ($still.Count -gt 0) { $problems += ($alias + ' still resolves to ' + ($still -join ', ') + ': point it back first (the alias rollback runbook) and wait its TTL') }
        }
    }
    foreach ($successor in $Successors) {
        $parts = $successor.Split([char]'\', 2)
        $old = @(Find-ReceiveConnector -Server $parts[0] -Name $parts[1] -DomainController $DomainController)
        if ($old.Count -ne 1 -or -not [bool]$old[0].Enabled) { $problems += ($successor + ' is missing or disabled: recreate and enable it first (the old server''s rollback runbook)') }
    }
    if ($problems.Count -eq 0) { return }
    if ($WhatIfPreference) { foreach ($problem in $problems) { Write-Warning ('    ' + $Identity + ': would refuse now: ' + $problem) }; return }
    throw ('Nothing was changed on ' + $Identity + ': ' + ($problems -join '; '))
}

function Revoke-RelayPermission {
    # Rollback of relay.permission: remove the grant migrator added, only from a connector with migrator's Comment marker,
    # once its clients are back on the old connectors (Assert-ClientsBack).
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Name, [string]$User, [string]$ExtendedRight, [string]$Comment, [string[]]$Aliases = @(), [string[]]$Addresses = @(), [string[]]$Successors = @(), [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $identity = $Server + '\' + $Name
    $found = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    if ($found.Count -eq 0) { Write-Host ('    ' + $identity + ' does not exist: nothing to remove'); return }
    Assert-OneConnector -Identity $identity -Found $found
    if ([string]$found[0].Comment -ne $Comment) { throw ('Receive connector ' + $identity + ' does not carry migrator''s Comment marker: it was not created by migrator; nothing was changed') }
    Assert-ClientsBack -Identity $identity -Aliases $Aliases -Addresses $Addresses -Successors $Successors -DomainController $DomainController
    $dn = [string]$found[0].DistinguishedName
    if (Test-RelayPermission -Dn $dn -User $User -ExtendedRight $ExtendedRight -Explicit -DomainController $DomainController) {
        if ($PSCmdlet.ShouldProcess($identity, 'Remove-ADPermission ' + $ExtendedRight + ' for ' + $User)) {
            Remove-ADPermission -Identity $dn -User $User -ExtendedRights $ExtendedRight -DomainController $DomainController -Confirm:$false -ErrorAction Stop
        }
    }
    if ($WhatIfPreference) { return }
    if (Test-RelayPermission -Dn $dn -User $User -ExtendedRight $ExtendedRight -DomainController $DomainController) { throw ('Verification failed: ' + $User + ' still has ' + $ExtendedRight + ' on ' + $identity) }
    Write-Host ('    verified: no ' + $ExtendedRight + ' for ' + $User + ' on ' + $identity)
}

function Remove-RelayConnector {
    # Remove one receive connector; read back. -Comment: only with that marker (relay.create rollback). -RequireDisabled
    # (relay.remove-old): only disabled, -ConfirmObserved, -SoakDays after the disable. -GoneFirst: only once those are gone.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Name, [string]$Comment = '', [switch]$RequireDisabled, [switch]$ConfirmObserved, [int]$SoakDays = 0, [string[]]$GoneFirst = @(), [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $identity = $Server + '\' + $Name
    if ($RequireDisabled -and -not $ConfirmObserved) { throw ('Removing ' + $identity + ' needs -ConfirmObserved: run it only after the observation period, once nobody missed the disabled connector') }
    $found = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    if ($found.Count -eq 0) { Write-Host ('    ' + $identity + ' does not exist: nothing to remove'); return }
    Assert-OneConnector -Identity $identity -Found $found
    if ($Comment -ne '' -and [string]$found[0].Comment -ne $Comment) { throw ('Receive connector ' + $identity + ' does not carry migrator''s Comment marker: it was not created by migrator; nothing was removed') }
    if ($RequireDisabled -and [bool]$found[0].Enabled) { throw ($identity + ' is still enabled: disable it first (previous step) and wait for the observation period') }
    if ($RequireDisabled -and $SoakDays -gt 0) { $null = Get-SoakStart -Connector $found[0] -Identity $identity -SoakDays $SoakDays }
    foreach ($first in $GoneFirst) {
        if (@(Find-ReceiveConnector -Server $Server -Name $first -DomainController $DomainController).Count -gt 0) { throw ($Server + '\' + $first + ' is still there: remove it first, else the clients of ' + $identity + ' would land on it and could relay; nothing was removed') }
    }
    if ($PSCmdlet.ShouldProcess($identity, 'Remove-ReceiveConnector')) {
        Remove-ReceiveConnector -Identity ([string]$found[0].DistinguishedName) -DomainController $DomainController -Confirm:$false -ErrorAction Stop
    }
    if ($WhatIfPreference) { return }
    if (@(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController).Count -ne 0) { throw ('Verification failed: ' + $identity + ' still exists on ' + $DomainController) }
    Write-Host ('    verified: ' + $identity + ' is gone')
}

function Undo-RelayConnector {
    # relay.rollback.remove (new servers only, never the 2010 shell): Remove-RelayConnector with migrator's Comment marker,
    # once the clients are back on the old connectors (Assert-ClientsBack).
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Name, [string]$Comment, [string[]]$GoneFirst = @(), [string[]]$Aliases = @(), [string[]]$Addresses = @(), [string[]]$Successors = @(), [string]$DomainController)
    if (@(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController).Count -gt 0) {
        Assert-ClientsBack -Identity ($Server + '\' + $Name) -Aliases $Aliases -Addresses $Addresses -Successors $Successors -DomainController $DomainController
    }
    Remove-RelayConnector -Server $Server -Name $Name -Comment $Comment -GoneFirst $GoneFirst -DomainController $DomainController
}

function Set-ConnectorEnabled {
    # relay.disable-old / rollback enable-old: set Enabled of one receive connector; read it back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Name, [bool]$Enabled, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $identity = $Server + '\' + $Name
    $found = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    # A rollback under -WhatIf: the recreate step before this one only said what it would do.
    if ($WhatIfPreference -and $Enabled -and $found.Count -eq 0) { Write-Host ('    What if: ' + $identity + ' does not exist yet; it is enabled once the previous step recreated it'); return }
    Assert-OneConnector -Identity $identity -Found $found
    if ([bool]$found[0].Enabled -ne $Enabled) {
        if ($PSCmdlet.ShouldProcess($identity, 'Set Enabled to ' + $Enabled)) {
            Set-ReceiveConnector -Identity ([string]$found[0].DistinguishedName) -Enabled $Enabled -DomainController $DomainController -ErrorAction Stop
        }
    } else {
        Write-Host ('    ' + $identity + ' already has Enabled = ' + $Enabled)
    }
    if ($WhatIfPreference) { return }
    $check = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    Assert-OneConnector -Identity $identity -Found $check
    Assert-Equal -What ($identity + ' Enabled') -Expected $Enabled -Actual ([bool]$check[0].Enabled)
    Write-Host ('    verified ' + $identity + ' Enabled = ' + $Enabled)
}

function Set-ConnectorLogging {
    # prepare.relay-logging: ProtocolLoggingLevel Verbose on the named receive connectors of one server.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string[]]$Names, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    foreach ($name in $Names) {
        $identity = $Server + '\' + $name
        $found = @(Find-ReceiveConnector -Server $Server -Name $name -DomainController $DomainController)
        if ($found.Count -ne 1) { throw ('Expected exactly one receive connector ' + $identity + ', found ' + $found.Count + '; nothing more was changed') }
        if ([string]$found[0].ProtocolLoggingLevel -eq 'Verbose') {
            Write-Host ('    ' + $identity + ': ProtocolLoggingLevel already Verbose')
            continue
        }
        if ($PSCmdlet.ShouldProcess($identity, 'Set-ReceiveConnector -ProtocolLoggingLevel Verbose')) {
            Set-ReceiveConnector -Identity ([string]$found[0].DistinguishedName) -ProtocolLoggingLevel 'Verbose' -DomainController $DomainController -ErrorAction Stop
            if (-not $WhatIfPreference) {
                $check = @(Find-ReceiveConnector -Server $Server -Name $name -DomainController $DomainController)
                Assert-Equal -What ($identity + ' ProtocolLoggingLevel') -Expected 'Verbose' -Actual ([string]$check[0].ProtocolLoggingLevel)
                Write-Host ('    verified: ' + $identity + ' logs Verbose')
            }
        }
    }
}

function Set-AllConnectorLogging {
    # prepare.protocol-logging: ProtocolLoggingLevel Verbose on every receive connector of one server (Default and
    # internal-only ones too, not only the relay ones), so every client leaves evidence before the server goes.
    # -Listed: the connectors the inventory showed; one that is gone is reported, one that is new is logged too.
    # -FrontEndOnly (2013+): only the FrontendTransport connectors, whose logs the onward observation and soak read.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string[]]$Listed = @(), [switch]$FrontEndOnly, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $names = @(Get-ReceiveConnector -Server $Server -DomainController $DomainController -ErrorAction Stop | Where-Object { (-not $FrontEndOnly) -or ([string]$_.TransportRole -eq 'FrontendTransport') } | ForEach-Object { [string]$_.Name })
    foreach ($name in $Listed) {
        if (-not ($names -contains $name)) { Write-Warning ('    ' + $Server + '\' + $name + ' is in the inventory but no longer on the server') }
    }
    Set-ConnectorLogging -Server $Server -Names $names -DomainController $DomainController
}

function Invoke-SmtpDialog {
    # SMTP with $Address:$Port through a TcpClient of its family (the parameterless one is IPv4 only): read the greeting,
    # send each command and read its reply (kept: the first line), QUIT; nothing is delivered. Returns Local and Replies.
    param([System.Net.IPAddress]$Address, [int]$Port, [string[]]$Commands)
    $tcp = New-Object -TypeName System.Net.Sockets.TcpClient -ArgumentList $Address.AddressFamily
    $tcp.Connect($Address, $Port)
    try {
        $stream = $tcp.GetStream()
        $reader = New-Object -TypeName System.IO.StreamReader -ArgumentList $stream
        $writer = New-Object -TypeName System.IO.StreamWriter -ArgumentList $stream
        $writer.NewLine = "`r`n"; $writer.AutoFlush = $true
        $replies = @()
        foreach ($command in @(@('') + $Commands)) {
            if ($command -ne '') { $writer.WriteLine($command) }
            $first = [string]$reader.ReadLine(); $line = $first
            while ($line -ne $null -and $line.Length -ge 4 -and $line.Substring(3, 1) -eq '-') { $line = $reader.ReadLine() }
            Write-Host ('    ' + $Address + ':' + $Port + ': ' + $command + ' -> ' + $first)
            $replies += $first
        }
        $writer.WriteLine('QUIT')
        return @{ Local = $tcp.Client.LocalEndPoint.Address; Replies = $replies }
    } finally { $tcp.Close() }
}

function Test-SmtpRelay {
    # relay.test ... from-admin-host: SMTP up to RCPT TO, then QUIT (Invoke-SmtpDialog), once per address family the ranges
    # use, to the first A/AAAA address or, with -AllAddresses, each (a DNS alias), and then also every address family the
    # name resolves to, whatever the ranges (a dual-stack client tries AAAA first). The reply must match whether this
    # host is inside the ranges (hexadecimal).
    [CmdletBinding()]
    param([string]$Identity, [string]$SmtpHost, [string]$Recipient, [object[]]$Ranges, [switch]$AllAddresses)
    $families = @([System.Net.Sockets.AddressFamily]::InterNetwork)
    if (@($Ranges | Where-Object { $_.Version -eq 6 }).Count -gt 0) { $families += [System.Net.Sockets.AddressFamily]::InterNetworkV6 }
    if ($WhatIfPreference) { Write-Host ('    What if: would talk SMTP to ' + $SmtpHost + ' port 25 (' + ($families -join ', ') + $(if ($AllAddresses) { ' and every other family it resolves to' } else { '' }) + ') up to RCPT TO:<' + $Recipient + '> and quit'); return }
    $resolved = @([System.Net.Dns]::GetHostAddresses($SmtpHost))
    if ($AllAddresses) {
        foreach ($address in $resolved) { if (-not ($families -contains $address.AddressFamily)) { $families += $address.AddressFamily } }
    }
    foreach ($family in $families) {
        $targets = @($resolved | Where-Object { $_.AddressFamily -eq $family })
        if ($targets.Count -eq 0) { throw ($SmtpHost + ' has no ' + $(if ($family -eq [System.Net.Sockets.AddressFamily]::InterNetworkV6) { 'AAAA' } else { 'A' }) + ' record: clients of that address family cannot reach ' + $Identity) }
        if (-not $AllAddresses) { $targets = @($targets[0]) }
        foreach ($target in $targets) {
            $smtp = Invoke-SmtpDialog -Address $target -Port 25 -Commands @('EHLO ' + [System.Net.Dns]::GetHostName(), 'MAIL FROM:<>', 'RCPT TO:<' + $Recipient + '>')
            $local = $smtp.Local
            $inside = Test-AddressInRange -Address $local -Ranges $Ranges
            $accepted = $smtp.Replies[3].StartsWith('250')
            if ($inside -and -not $accepted) { throw ('This host (' + $local + ') is inside the ranges of ' + $Identity + ' but ' + $target + ' refused relay: ' + $smtp.Replies[3] + '. Another connector may take this address, or the server lacks the connector: check with migrator relay which') }
            if (-not $inside -and $accepted) { throw ('This host (' + $local + ') is outside the ranges of ' + $Identity + ' but ' + $target + ' accepted relay: some connector relays for this address; find it before going on') }
            Write-Host ('    as expected on ' + $target + ': this host (' + $local + ') is ' + $(if ($inside) { 'inside' } else { 'outside' }) + ' the ranges and relay was ' + $(if ($accepted) { 'accepted' } else { 'refused' }))
        }
    }
}

function Assert-AliasRecord {
    # relay.alias-records (reads only): the SMTP alias resolves to exactly the expected A and AAAA addresses (an empty
    # -IPv6: no AAAA record at all), compared parsed ('2001:DB8::0020' equals '2001:db8::20'); a CNAME is followed.
    [CmdletBinding()]
    param([string]$Alias, [string[]]$IPv4 = @(), [string[]]$IPv6 = @(), [string[]]$Unknown = @(), [string[]]$Servers = @())
    if ($Unknown.Count -gt 0) { throw ('The inventory gives no address for ' + ($Unknown -join ', ') + ': add servers[].ip to inventory.yaml and plan again (or compare the records of ' + $Alias + ' by hand)') }
    foreach ($type in @('A', 'AAAA')) {
        $expected = @($IPv4)
        if ($type -eq 'AAAA') { $expected = @($IPv6) }
        $want = @($expected | ForEach-Object { ([System.Net.IPAddress]::Parse($_)).ToString() } | Sort-Object -Unique)
        $answers = @(Resolve-DnsName -Name $Alias -Type $type -DnsOnly -ErrorAction Stop | Where-Object { [string]$_.Type -eq $type })
        $have = @($answers | ForEach-Object { ([System.Net.IPAddress]::Parse([string]$_.IPAddress)).ToString() } | Sort-Object -Unique)
        Write-Host ('    ' + $type + ' ' + $Alias + ': ' + ($have -join ', '))
        if (($have -join ', ') -ne ($want -join ', ')) { throw ('Verification failed: ' + $Alias + ' has ' + $type + ' ' + ($have -join ', ') + ', expected exactly ' + $(if ($want.Count -gt 0) { $want -join ', ' } else { 'none' }) + ' (' + ($Servers -join ', ') + '); a resolver that still caches the old records: wait the TTL and run it again') }
    }
    Write-Host ('    verified: ' + $Alias + ' resolves to exactly ' + ($Servers -join ', '))
}

function Test-SmtpGreeting {
    # relay.nat-verify (reads only; from a host OUTSIDE the firewall): the 220 greeting and EHLO reply of the NAT rule's
    # public address and port (Invoke-SmtpDialog) name one of the expected (new) servers and none of the old ones.
    [CmdletBinding()]
    param([string]$Rule, [string]$Address, [int]$Port = 25, [string[]]$Expected = @(), [string[]]$Old = @())
    if ($WhatIfPreference) { Write-Host ('    What if: would read the SMTP greeting of ' + $Address + ':' + $Port + ' (' + $Rule + ') and quit'); return }
    $smtp = Invoke-SmtpDialog -Address ([System.Net.IPAddress]::Parse($Address)) -Port $Port -Commands @('EHLO ' + [System.Net.Dns]::GetHostName())
    $greeting = $smtp.Replies[0]
    $text = ($smtp.Replies -join ' ').ToLowerInvariant()
    $still = @($Old | Where-Object { $text.Contains($_.ToLowerInvariant()) })
    if ($still.Count -gt 0) { throw ('Verification failed: ' + $Rule + ' still delivers to ' + ($still -join ', ') + ' (' + $greeting + ')') }
    $hit = @($Expected | Where-Object { $text.Contains($_.ToLowerInvariant()) })
    if ($hit.Count -eq 0) { throw ('Verification failed: ' + $Address + ':' + $Port + ' answered ''' + $greeting + ''', which names none of ' + ($Expected -join ', ') + ' (a customised banner or connector FQDN: check the receive protocol log of the new servers for this host''s session instead)') }
    Write-Host ('    verified: ' + $Rule + ' delivers to ' + ($hit -join ', '))
}

function ConvertTo-AddressText {
    # A protocol log's remote endpoint without its port: '10.1.2.3:5123' -> '10.1.2.3', '[2001:db8::5]:51234' -> '2001:db8::5'.
    param([string]$Endpoint)
    if ($Endpoint.StartsWith('[')) { return $Endpoint.Substring(1, $Endpoint.IndexOf(']') - 1) }
    if (($Endpoint.Split(':')).Count -eq 2) { return $Endpoint.Split(':')[0] }
    return $Endpoint
}

function Test-AddressInRange {
    # Whether an address (IPAddress or text) is inside one of the ranges (hashtables Version/First/Last, hexadecimal).
    param($Address, [object[]]$Ranges)
    $parsed = $null
    if ($Address -is [System.Net.IPAddress]) { $parsed = $Address } elseif (-not [System.Net.IPAddress]::TryParse([string]$Address, [ref]$parsed)) { return $false }
    $hex = (@($parsed.GetAddressBytes() | ForEach-Object { $_.ToString('x2') }) -join '')
    $version = 4
    if ($parsed.AddressFamily -eq [System.Net.Sockets.AddressFamily]::InterNetworkV6) { $version = 6 }
    foreach ($range in $Ranges) {
        if ($range.Version -eq $version -and [string]::CompareOrdinal($hex, $range.First) -ge 0 -and [string]::CompareOrdinal($hex, $range.Last) -le 0) {
            return $true
        }
    }
    return $false
}

function Get-ReceiveLogFolder {
    # An old server's receive log folder through its admin share; logs shorter than $Days (or not reaching back to
    # -Since, the disable time of a soak) prove nothing: an error. Prints the period the kept files cover.
    param([string]$Server, [string]$LogPath, [int]$Days, [string]$Hint = '', $Since = $null)
    $unc = '\\' + $Server + '\' + $LogPath.Substring(0, 1) + '$' + $LogPath.Substring(2)
    if (-not (Test-Path -Path $unc)) { throw ('Cannot read the receive protocol logs at ' + $unc + $Hint) }
    $from = (Get-Date).AddDays(-$Days)
    if ($null -ne $Since) { $from = [datetime]$Since }
    $oldest = @(Get-ChildItem -Path $unc -Filter 'RECV*.LOG' | Sort-Object -Property 'LastWriteTime')
    if ($oldest.Count -eq 0 -or $oldest[0].LastWriteTime -gt $from) {
        if ($null -ne $Since) { throw ('The protocol logs of ' + $Server + ' do not reach back to ' + $from.ToString('yyyy-MM-dd HH:mm') + ' (the disable): the sessions of the first days after it are gone, so the soak proves nothing. Raise ReceiveProtocolLogMaxAge and ReceiveProtocolLogMaxDirectorySize above the soak plus its slack (the protocol-log-limits step), then enable and disable the connectors again to soak anew') }
        throw ('The protocol logs of ' + $Server + ' do not reach back ' + $Days + ' days: an observation over a shorter period proves nothing. Raise ReceiveProtocolLogMaxAge and ReceiveProtocolLogMaxDirectorySize, wait, and observe again')
    }
    Write-Host ('    period covered: ' + $from.ToString('yyyy-MM-dd HH:mm') + ' to ' + (Get-Date).ToString('yyyy-MM-dd HH:mm') + ' (oldest log file kept: ' + $oldest[0].Name + ', last written ' + $oldest[0].LastWriteTime.ToString('yyyy-MM-dd HH:mm') + ')')
    return $unc
}

function Assert-RelayUnused {
    # relay.observe (2010 -> 2016): read the 2010 server's receive protocol logs of the observation period;
    # stop while clients still use its old relay connectors.
    [CmdletBinding()]
    param([string]$Server, [string[]]$Names, [int]$ObservationDays, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    Assert-ConnectorLogging -Server $Server -Names $Names -DomainController $DomainController
    $transport = Get-TransportServer -Identity $Server -DomainController $DomainController -ErrorAction Stop
    Assert-NoRelaySession -Server $Server -Names $Names -LogPath ([string]$transport.ReceiveProtocolLogPath) -ObservationDays $ObservationDays
}

function Assert-FrontEndRelayUnused {
    # relay.observe (onward): the same for a 2013+ server, whose relay connectors log in the Front End receive logs.
    [CmdletBinding()]
    param([string]$Server, [string[]]$Names, [int]$ObservationDays, [string]$FrontEndReceiveLogPath = '', [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    Assert-ConnectorLogging -Server $Server -Names $Names -DomainController $DomainController
    $logPath = Get-FrontEndLogPath -Server $Server -Path $FrontEndReceiveLogPath -DomainController $DomainController
    $control = @(Get-FrontEndConnectorId -Server $Server -DomainController $DomainController)
    Assert-NoRelaySession -Server $Server -Names $Names -LogPath $logPath -ObservationDays $ObservationDays -Control $control -Hint ': pass -FrontEndReceiveLogPath with the Front End receive log folder'
}

function Get-FrontEndLogPath {
    # The Front End receive log folder of a 2013+ server: -Path, else the Front End Transport service's own
    # ReceiveProtocolLogPath (never derived from the Transport service's: a customised path would not follow).
    param([string]$Server, [string]$Path, [string]$DomainController)
    if ($Path -ne '') { return $Path }
    $frontEnd = @(Get-FrontendTransportService -Identity $Server -DomainController $DomainController -ErrorAction Stop)
    if ($frontEnd.Count -ne 1) { throw ('Expected exactly one Front End Transport service on ''' + $Server + ''', found ' + $frontEnd.Count + ': pass -FrontEndReceiveLogPath with the Front End receive log folder') }
    $logPath = [string]$frontEnd[0].ReceiveProtocolLogPath
    if ($logPath -eq '') { throw ('The Front End Transport service of ' + $Server + ' has no ReceiveProtocolLogPath: receive protocol logging is off, so there is no evidence to read') }
    return $logPath
}

function Get-FrontEndConnectorId {
    # The identities of a 2013+ server's FrontendTransport receive connectors (Default Frontend <server> among them): the
    # positive control that the files read are its Front End receive logs (the Hub logs hold none of them).
    param([string]$Server, [string]$DomainController)
    return @(Get-ReceiveConnector -Server $Server -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.TransportRole -eq 'FrontendTransport' } | ForEach-Object { $Server + '\' + [string]$_.Name })
}

function Assert-ControlSeen {
    # Throw when none of the -Control connectors logged a line in the files read: they are not the logs expected, and
    # finding no session in them proves nothing.
    param([string]$Server, [string[]]$Control, [int]$Seen, [string]$Hint = '')
    if ($Control.Count -gt 0 -and $Seen -eq 0) { throw ('The receive protocol logs read for ' + $Server + ' hold no line of its Front End connectors (' + ($Control -join ', ') + '): they are not its Front End receive logs, and finding no session in them proves nothing' + $Hint) }
}

function Assert-ConnectorLogging {
    param([string]$Server, [string[]]$Names, [string]$DomainController)
    foreach ($name in $Names) {
        $old = @(Find-ReceiveConnector -Server $Server -Name $name -DomainController $DomainController)
        if ($old.Count -eq 1 -and [string]$old[0].ProtocolLoggingLevel -ne 'Verbose') { throw ('Protocol logging is off on ' + $Server + '\' + $name + ': there is no evidence to observe; enable Verbose logging and observe again') }
    }
}

function Assert-NoRelaySession {
    # Count the sessions of the observation period per connector and client in the RECV*.LOG files (lines of the
    # period only: 2010 starts a file a day); throw if any.
    # -Control: connectors of which at least one line must be in the files read (Get-FrontEndConnectorId).
    param([string]$Server, [string[]]$Names, [string]$LogPath, [int]$ObservationDays, [string[]]$Control = @(), [string]$Hint = '')
    $identities = @($Names | ForEach-Object { $Server + '\' + $_ })
    $unc = Get-ReceiveLogFolder -Server $Server -LogPath $LogPath -Days $ObservationDays -Hint $Hint
    $since = (Get-Date).AddDays(-$ObservationDays)
    $files = @(Get-ChildItem -Path $unc -Filter 'RECV*.LOG' | Where-Object { $_.LastWriteTime -ge $since })
    $clients = @{}
    $seen = 0
    foreach ($file in $files) {
        Get-Content -Path $file.FullName | Where-Object { -not $_.StartsWith('#') } | ConvertFrom-Csv -Header 'DateTime', 'ConnectorId', 'SessionId', 'Sequence', 'Local', 'Remote', 'Event', 'Data', 'Context' | ForEach-Object {
            if ($Control -contains $_.ConnectorId) { $seen = $seen + 1 }
            # Only sessions of the period: a file written since then also holds older lines (review 6, M3).
            if (($identities -contains $_.ConnectorId) -and ($_.Event -eq '+') -and ([datetime]$_.DateTime -ge $since)) {
                $key = $_.ConnectorId + ' <- ' + ($_.Remote -replace ':[0-9]+$', '')
                if ($clients.ContainsKey($key)) { $clients[$key] = $clients[$key] + 1 } else { $clients[$key] = 1 }
            }
        }
    }
    Assert-ControlSeen -Server $Server -Control $Control -Seen $seen -Hint $Hint
    if ($clients.Count -gt 0) {
        foreach ($key in @($clients.Keys | Sort-Object)) { Write-Warning ('    still used: ' + $key + ' (' + $clients[$key] + ' sessions since ' + $since.ToString('yyyy-MM-dd') + ')') }
        throw ('Clients still connect to the old relay connectors of ' + $Server + ': repoint them, then observe again')
    }
    Write-Host ('    no client used the old relay connectors of ' + $Server + ' in the last ' + $ObservationDays + ' days (' + $files.Count + ' log files read)')
}

function Assert-NoClientLeft {
    # decommission.observe-clients: before a 2010 server is removed, its receive protocol logs of the observation
    # period, on every connector (Default and internal-only ones too), must show no client that is not an
    # Exchange server or accepted in inventory.yaml (plan.remaining_clients); -Skip holds both as hexadecimal ranges.
    [CmdletBinding()]
    param([string]$Server, [object[]]$Skip, [int]$ObservationDays, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $names = @(Get-ReceiveConnector -Server $Server -DomainController $DomainController -ErrorAction Stop | ForEach-Object { [string]$_.Name })
    Assert-ConnectorLogging -Server $Server -Names $names -DomainController $DomainController
    $transport = Get-TransportServer -Identity $Server -DomainController $DomainController -ErrorAction Stop
    $unc = Get-ReceiveLogFolder -Server $Server -LogPath ([string]$transport.ReceiveProtocolLogPath) -Days $ObservationDays
    $since = (Get-Date).AddDays(-$ObservationDays)
    $files = @(Get-ChildItem -Path $unc -Filter 'RECV*.LOG' | Where-Object { $_.LastWriteTime -ge $since })
    $prefix = $Server + '\'
    $clients = @{}
    foreach ($file in $files) {
        Get-Content -Path $file.FullName | Where-Object { -not $_.StartsWith('#') } | ConvertFrom-Csv -Header 'DateTime', 'ConnectorId', 'SessionId', 'Sequence', 'Local', 'Remote', 'Event', 'Data', 'Context' | Where-Object { ([string]$_.ConnectorId).StartsWith($prefix, [System.StringComparison]::OrdinalIgnoreCase) -and ($_.Event -eq '+') -and ([datetime]$_.DateTime -ge $since) } | ForEach-Object {
            $address = ConvertTo-AddressText -Endpoint ([string]$_.Remote)
            $parsed = $null
            $known = $false
            if ([System.Net.IPAddress]::TryParse($address, [ref]$parsed)) {
                $known = [System.Net.IPAddress]::IsLoopback($parsed) -or (Test-AddressInRange -Address $parsed -Ranges $Skip)
            }
            if (-not $known) {
                $key = [string]$_.ConnectorId + ' <- ' + $address
                if ($clients.ContainsKey($key)) { $clients[$key] = $clients[$key] + 1 } else { $clients[$key] = 1 }
            }
        }
    }
    if ($clients.Count -gt 0) {
        foreach ($key in @($clients.Keys | Sort-Object)) { Write-Warning ('    still used: ' + $key + ' (' + $clients[$key] + ' sessions since ' + $since.ToString('yyyy-MM-dd') + ')') }
        throw ('Non-Exchange clients still connect to ' + $Server + ': point them at the new servers (or accept each in plan.remaining_clients with a reason), then check again')
    }
    Write-Host ('    no non-Exchange client used any receive connector of ' + $Server + ' in the last ' + $ObservationDays + ' days (' + $files.Count + ' log files read)')
}

function Assert-SoakClean {
    # relay.soak-check (2010 -> 2016): after the soak, read the 2010 server's receive protocol logs (Assert-NoRefusal).
    [CmdletBinding()]
    param([string]$Server, [string[]]$Names, [object[]]$Ranges, [int]$SoakDays, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $transport = Get-TransportServer -Identity $Server -DomainController $DomainController -ErrorAction Stop
    Assert-NoRefusal -Server $Server -Names $Names -Ranges $Ranges -SoakDays $SoakDays -LogPath ([string]$transport.ReceiveProtocolLogPath) -DomainController $DomainController
}

function Assert-FrontEndSoakClean {
    # relay.soak-check (onward): the same for a 2013+ server, whose relay connectors log in the Front End receive logs.
    [CmdletBinding()]
    param([string]$Server, [string[]]$Names, [object[]]$Ranges, [int]$SoakDays, [string]$FrontEndReceiveLogPath = '', [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $logPath = Get-FrontEndLogPath -Server $Server -Path $FrontEndReceiveLogPath -DomainController $DomainController
    Assert-NoRefusal -Server $Server -Names $Names -Ranges $Ranges -SoakDays $SoakDays -LogPath $logPath -FrontEndOnly -DomainController $DomainController
}

function Get-SoakStart {
    # When a disabled connector was disabled (its WhenChangedUTC: a later change only moves it later, so the soak can
    # end late, never early; a date in the Comment could be edited by hand); throws before -SoakDays are over.
    param($Connector, [string]$Identity, [int]$SoakDays)
    $disabled = ([datetime]$Connector.WhenChangedUTC).ToLocalTime()
    $ends = $disabled.AddDays($SoakDays)
    if ((Get-Date) -lt $ends) { throw ($Identity + ' was disabled on ' + $disabled.ToString('yyyy-MM-dd HH:mm') + ': the soak ends on ' + $ends.ToString('yyyy-MM-dd HH:mm') + '; nothing is checked before then') }
    return $disabled
}

function Assert-NoRefusal {
    # After the soak (Get-SoakStart): no client in -Ranges refused as relay (550 5.7.1; 5.7.54 on 2013+) on any connector
    # since the earliest disable; those still disabled; every enabled one Verbose (-FrontEndOnly: FrontendTransport ones).
    param([string]$Server, [string[]]$Names, [object[]]$Ranges, [int]$SoakDays, [string]$LogPath, [switch]$FrontEndOnly, [string]$DomainController)
    $since = $null
    $control = @()
    if ($FrontEndOnly) { $control = @(Get-FrontEndConnectorId -Server $Server -DomainController $DomainController) }
    foreach ($connector in @(Get-ReceiveConnector -Server $Server -DomainController $DomainController -ErrorAction Stop | Where-Object { (-not $FrontEndOnly) -or ([string]$_.TransportRole -eq 'FrontendTransport') })) {
        $identity = $Server + '\' + [string]$connector.Name
        if ($Names -contains [string]$connector.Name) {
            if ([bool]$connector.Enabled) { throw ($identity + ' is enabled again: the soak starts when it is disabled') }
            $disabled = Get-SoakStart -Connector $connector -Identity $identity -SoakDays $SoakDays
            if (($null -eq $since) -or ($disabled -lt $since)) { $since = $disabled }
        }
        if ([bool]$connector.Enabled -and [string]$connector.ProtocolLoggingLevel -ne 'Verbose') { throw ('Protocol logging is off on ' + $identity + ': a refused client leaves no trace there; set it to Verbose (the protocol-logging step of its server) and soak again') }
    }
    if ($null -eq $since) { throw ('None of ' + ($Names -join ', ') + ' is on ' + $Server + ': the soak is checked before they are removed') }
    # the kept logs must reach back to the disable, not only SoakDays from now (review 4, R1)
    $unc = Get-ReceiveLogFolder -Server $Server -LogPath $LogPath -Days $SoakDays -Since $since
    $files = @(Get-ChildItem -Path $unc -Filter 'RECV*.LOG' | Where-Object { $_.LastWriteTime -ge $since })
    $refused = @{}
    $seen = 0
    foreach ($file in $files) {
        Get-Content -Path $file.FullName | Where-Object { -not $_.StartsWith('#') } | ConvertFrom-Csv -Header 'DateTime', 'ConnectorId', 'SessionId', 'Sequence', 'Local', 'Remote', 'Event', 'Data', 'Context' | ForEach-Object {
            if ($control -contains $_.ConnectorId) { $seen = $seen + 1 }
            if (($_.Event -eq '>') -and ([string]$_.Data -match '^550 5\.7\.(1|54)') -and ([datetime]$_.DateTime -ge $since)) {
                $address = ConvertTo-AddressText -Endpoint ([string]$_.Remote)
                if (Test-AddressInRange -Address $address -Ranges $Ranges) {
                    $key = [string]$_.ConnectorId + ' <- ' + $address
                    if ($refused.ContainsKey($key)) { $refused[$key] = $refused[$key] + 1 } else { $refused[$key] = 1 }
                }
            }
        }
    }
    Assert-ControlSeen -Server $Server -Control $control -Seen $seen -Hint ': pass -FrontEndReceiveLogPath with the Front End receive log folder'
    if ($refused.Count -gt 0) {
        foreach ($key in @($refused.Keys | Sort-Object)) { Write-Warning ('    refused as relay: ' + $key + ' (' + $refused[$key] + ' times since ' + $since.ToString('yyyy-MM-dd') + ')') }
        throw ('Clients of the disabled relay connectors of ' + $Server + ' were refused during the soak: point them at the new servers (or enable the connector again), then check again')
    }
    Write-Host ('    no client of the disabled relay connectors of ' + $Server + ' was refused since ' + $since.ToString('yyyy-MM-dd HH:mm') + ' (' + $files.Count + ' log files read)')
}

function Restore-ReceiveConnector {
    # relay.rollback.recreate-old: recreate a removed old connector as the inventory showed it, then its relay grants;
    # read back. No -TransportRole on 2010 (no such parameter); 2013+ relay connectors go back on Front End Transport.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Name, [string]$TransportRole = '', [string[]]$Bindings, [string[]]$RemoteIPRanges, [string[]]$PermissionGroups = @(),
        [string[]]$AuthMechanism = @(), [string]$Fqdn = '', $MaxMessageSize = $null, [string]$Comment = '', [string[]]$Grants = @(), [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $identity = $Server + '\' + $Name
    $right = 'Ms-Exch-SMTP-Accept-Any-Recipient'
    $found = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    if ($found.Count -eq 0) {
        $optional = @{}
        if ($TransportRole -ne '') { $optional['TransportRole'] = $TransportRole }
        if (@($PermissionGroups).Count -gt 0) { $optional['PermissionGroups'] = $PermissionGroups }
        if (@($AuthMechanism).Count -gt 0) { $optional['AuthMechanism'] = $AuthMechanism }
        if ($Fqdn -ne '') { $optional['Fqdn'] = $Fqdn }
        if ($null -ne $MaxMessageSize) { $optional['MaxMessageSize'] = $MaxMessageSize }
        if ($Comment -ne '') { $optional['Comment'] = $Comment }
        if ($PSCmdlet.ShouldProcess($identity, 'New-ReceiveConnector as it was: bindings ' + ($Bindings -join ', ') + ', remote IP ranges ' + ($RemoteIPRanges -join ', '))) {
            New-ReceiveConnector -Name $Name -Server $Server -Custom -Bindings $Bindings -RemoteIPRanges $RemoteIPRanges @optional -ProtocolLoggingLevel 'Verbose' -DomainController $DomainController -ErrorAction Stop | Out-Null
        }
    } else {
        Assert-OneConnector -Identity $identity -Found $found
        Write-Host ('    ' + $identity + ' exists: not recreated')
    }
    if ($WhatIfPreference) {
        foreach ($user in $Grants) { Write-Host ('    What if: would grant ' + $right + ' to ' + $user + ' on ' + $identity) }
        return
    }
    $check = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    Assert-OneConnector -Identity $identity -Found $check
    Assert-Equal -What ($identity + ' RemoteIPRanges') -Expected (ConvertTo-SortedList $RemoteIPRanges) -Actual (ConvertTo-SortedList $check[0].RemoteIPRanges)
    $dn = [string]$check[0].DistinguishedName
    foreach ($user in $Grants) {
        if (-not (Test-RelayPermission -Dn $dn -User $user -ExtendedRight $right -DomainController $DomainController) -and $PSCmdlet.ShouldProcess($identity, 'Add-ADPermission ' + $right + ' for ' + $user)) {
            Add-ADPermission -Identity $dn -User $user -ExtendedRights $right -DomainController $DomainController -ErrorAction Stop | Out-Null
        }
        if (-not (Test-RelayPermission -Dn $dn -User $user -ExtendedRight $right -DomainController $DomainController)) { throw ('Verification failed: ' + $user + ' has no ' + $right + ' on ' + $identity + ' (read from ' + $DomainController + ')') }
    }
    Write-Host ('    verified: ' + $identity + ' exists again with its ranges and permission')
}

# ----------------------------------------------------------------------------- transport servers, send connectors

function Set-ProtocolLogLimit {
    # prepare.protocol-log-limits: raise (never lower) the receive protocol log age and size cap of one 2010 transport server.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [int]$MaxAgeDays, [int]$MaxDirectoryMb, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $wantBytes = [int64]$MaxDirectoryMb * 1048576
    $found = @(Get-TransportServer -Identity $Server -DomainController $DomainController -ErrorAction Stop)
    if ($found.Count -ne 1) { throw ('Expected exactly one transport server ''' + $Server + ''', found ' + $found.Count + '; nothing was changed') }
    $age = [TimeSpan]::Parse([string]$found[0].ReceiveProtocolLogMaxAge)
    $sizeText = [string]$found[0].ReceiveProtocolLogMaxDirectorySize
    if ($sizeText -eq 'Unlimited') {
        $bytes = [int64]::MaxValue
    } elseif ($sizeText -match '\(([0-9][0-9,. ]*) bytes\)') {
        $bytes = [int64]($matches[1] -replace '[^0-9]', '')
    } else {
        throw ('Cannot read ReceiveProtocolLogMaxDirectorySize ''' + $sizeText + ''' of ' + $Server)
    }
    Write-Host ('    ' + $Server + ': ReceiveProtocolLogMaxAge ' + $age.ToString() + ', ReceiveProtocolLogMaxDirectorySize ' + $sizeText)
    if ($age.TotalDays -lt $MaxAgeDays) {
        $ageText = [string]$MaxAgeDays + '.00:00:00'
        if ($PSCmdlet.ShouldProcess($Server, 'Set-TransportServer -ReceiveProtocolLogMaxAge ' + $ageText)) {
            Set-TransportServer -Identity $Server -ReceiveProtocolLogMaxAge $ageText -DomainController $DomainController -ErrorAction Stop
            if (-not $WhatIfPreference) {
                $check = @(Get-TransportServer -Identity $Server -DomainController $DomainController -ErrorAction Stop)
                Assert-Equal -What ($Server + ' ReceiveProtocolLogMaxAge (days)') -Expected $MaxAgeDays -Actual ([TimeSpan]::Parse([string]$check[0].ReceiveProtocolLogMaxAge)).TotalDays
            }
        }
    } else {
        Write-Host ('    ' + $Server + ': ReceiveProtocolLogMaxAge already keeps ' + $MaxAgeDays + ' days or more')
    }
    if ($bytes -lt $wantBytes) {
        $sizeWanted = [string]$MaxDirectoryMb + 'MB'
        if ($PSCmdlet.ShouldProcess($Server, 'Set-TransportServer -ReceiveProtocolLogMaxDirectorySize ' + $sizeWanted)) {
            Set-TransportServer -Identity $Server -ReceiveProtocolLogMaxDirectorySize $sizeWanted -DomainController $DomainController -ErrorAction Stop
            if (-not $WhatIfPreference) {
                $check = @(Get-TransportServer -Identity $Server -DomainController $DomainController -ErrorAction Stop)
                $checkText = [string]$check[0].ReceiveProtocolLogMaxDirectorySize
                $checkBytes = [int64]0
                if ($checkText -match '\(([0-9][0-9,. ]*) bytes\)') { $checkBytes = [int64]($matches[1] -replace '[^0-9]', '') }
                Assert-Equal -What ($Server + ' ReceiveProtocolLogMaxDirectorySize (bytes)') -Expected $wantBytes -Actual $checkBytes
            }
        }
    } else {
        Write-Host ('    ' + $Server + ': ReceiveProtocolLogMaxDirectorySize already ' + $MaxDirectoryMb + ' MB or more')
    }
}

function Set-FrontEndLogLimit {
    # servers.frontend-log-limits: raise (never lower) the Front End Transport receive protocol log age and size cap
    # of one 2013+ server, where relay connectors log; read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [int]$MaxAgeDays, [int]$MaxDirectoryMb, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $wantBytes = [int64]$MaxDirectoryMb * 1048576
    $found = @(Get-FrontendTransportService -Identity $Server -DomainController $DomainController -ErrorAction Stop)
    if ($found.Count -ne 1) { throw ('Expected exactly one Front End Transport service on ''' + $Server + ''', found ' + $found.Count + '; nothing was changed') }
    $age = [TimeSpan]::Parse([string]$found[0].ReceiveProtocolLogMaxAge)
    $sizeText = [string]$found[0].ReceiveProtocolLogMaxDirectorySize
    if ($sizeText -eq 'Unlimited') { $bytes = [int64]::MaxValue } elseif ($sizeText -match '\(([0-9][0-9,. ]*) bytes\)') { $bytes = [int64]($matches[1] -replace '[^0-9]', '') } else { throw ('Cannot read ReceiveProtocolLogMaxDirectorySize ''' + $sizeText + ''' of ' + $Server) }
    Write-Host ('    ' + $Server + ' Front End: ReceiveProtocolLogMaxAge ' + $age.ToString() + ', ReceiveProtocolLogMaxDirectorySize ' + $sizeText)
    if ($age.TotalDays -lt $MaxAgeDays) {
        $ageText = [string]$MaxAgeDays + '.00:00:00'
        if ($PSCmdlet.ShouldProcess($Server, 'Set-FrontendTransportService -ReceiveProtocolLogMaxAge ' + $ageText)) {
            Set-FrontendTransportService -Identity $Server -ReceiveProtocolLogMaxAge $ageText -DomainController $DomainController -ErrorAction Stop
            if (-not $WhatIfPreference) {
                $check = @(Get-FrontendTransportService -Identity $Server -DomainController $DomainController -ErrorAction Stop)
                Assert-Equal -What ($Server + ' Front End ReceiveProtocolLogMaxAge (days)') -Expected $MaxAgeDays -Actual ([TimeSpan]::Parse([string]$check[0].ReceiveProtocolLogMaxAge)).TotalDays
            }
        }
    } else {
        Write-Host ('    ' + $Server + ': Front End ReceiveProtocolLogMaxAge already keeps ' + $MaxAgeDays + ' days or more')
    }
    if ($bytes -lt $wantBytes) {
        $sizeWanted = [string]$MaxDirectoryMb + 'MB'
        if ($PSCmdlet.ShouldProcess($Server, 'Set-FrontendTransportService -ReceiveProtocolLogMaxDirectorySize ' + $sizeWanted)) {
            Set-FrontendTransportService -Identity $Server -ReceiveProtocolLogMaxDirectorySize $sizeWanted -DomainController $DomainController -ErrorAction Stop
            if (-not $WhatIfPreference) {
                $check = @(Get-FrontendTransportService -Identity $Server -DomainController $DomainController -ErrorAction Stop)
                Assert-Equal -What ($Server + ' Front End ReceiveProtocolLogMaxDirectorySize (bytes)') -Expected $wantBytes -Actual (ConvertTo-ByteCount $check[0].ReceiveProtocolLogMaxDirectorySize)
            }
        }
    } else {
        Write-Host ('    ' + $Server + ': Front End ReceiveProtocolLogMaxDirectorySize already ' + $MaxDirectoryMb + ' MB or more')
    }
}

function Get-SourceServerName {
    param([object[]]$Servers)
    $Servers | ForEach-Object { if ($_.PSObject.Properties['Name']) { [string]$_.Name } else { [string]$_ } }
}

function Set-SendConnectorSource {
    # servers/hybrid/decommission send-connector steps: add and/or remove source transport servers of one send
    # connector; never leaves it without a source; read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Name, [string[]]$Add = @(), [string[]]$Remove = @(), [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    # Select by exact name and require exactly one connector before changing it.
    $found = @(Get-SendConnector -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Name -eq $Name })
    if ($found.Count -ne 1) { throw ('Expected exactly one send connector ''' + $Name + ''', found ' + $found.Count + '; nothing was changed') }
    $current = @(Get-SourceServerName -Servers $found[0].SourceTransportServers)
    $wanted = @($current | Where-Object { $Remove -notcontains $_ })
    foreach ($server in $Add) {
        if ($wanted -notcontains $server) { $wanted += $server }
    }
    if ($wanted.Count -eq 0) { throw ('Send connector ''' + $Name + ''' would be left without source servers; nothing was changed') }
    $missing = @($Add | Where-Object { $current -notcontains $_ })
    $extra = @($current | Where-Object { $Remove -contains $_ })
    if ($missing.Count -eq 0 -and $extra.Count -eq 0) {
        Write-Host ('    ' + $Name + ': source servers already ' + ($current -join ', '))
        return
    }
    if ($PSCmdlet.ShouldProcess($Name, 'Set-SendConnector -SourceTransportServers ' + ($wanted -join ', '))) {
        Set-SendConnector -Identity $Name -SourceTransportServers $wanted -DomainController $DomainController -ErrorAction Stop
        if (-not $WhatIfPreference) {
            $check = @(Get-SendConnector -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Name -eq $Name })
            $now = @(Get-SourceServerName -Servers $check[0].SourceTransportServers)
            foreach ($server in $Add) {
                if ($now -notcontains $server) { throw ('Verification failed: ' + $server + ' is not a source server of ' + $Name) }
            }
            foreach ($server in $Remove) {
                if ($now -contains $server) { throw ('Verification failed: ' + $server + ' is still a source server of ' + $Name) }
            }
            Write-Host ('    verified: ' + $Name + ' sources from ' + ($now -join ', '))
        }
    }
}

function Import-ServerCertificate {
    # servers.certificate, where the server lacks the organisation's CA certificate: export it with its private key
    # (which must be exportable) from -From and import it on -Server. Nothing happens when the server has it already.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Thumbprint, [string]$From, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $here = @(Get-ExchangeCertificate -Server $Server -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Thumbprint -eq $Thumbprint })
    if ($here.Count -gt 0) {
        Write-Host ('    ' + $Server + ' has certificate ' + $Thumbprint + ' already')
        return
    }
    if ($PSCmdlet.ShouldProcess($Server, 'Import certificate ' + $Thumbprint + ' exported from ' + $From)) {
        $password = Read-Host -AsSecureString -Prompt ('Password protecting the exported certificate ' + $Thumbprint + ' in transit')
        $export = Export-ExchangeCertificate -Server $From -Thumbprint $Thumbprint -BinaryEncoded -Password $password -DomainController $DomainController -ErrorAction Stop
        Import-ExchangeCertificate -Server $Server -FileData $export.FileData -Password $password -PrivateKeyExportable $true -DomainController $DomainController -ErrorAction Stop | Out-Null
    }
}

function Set-ServerCertificate {
    # servers.certificate: enable the organisation's CA certificate on one server behind the namespace for IIS and
    # SMTP (-Force: otherwise Exchange stops to ask about replacing the default SMTP certificate), then read it back:
    # not self-signed, unexpired, enabled for IIS and SMTP, covering every name. Without -Thumbprint (the inventory
    # has no usable certificate) it only checks the server; a certificate in -Exclude never passes.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string[]]$Names, [string]$Thumbprint = '', [switch]$Enable, [switch]$ThirdParty,
        [string[]]$Exclude = @(), [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $readBack = $true
    if ($Thumbprint -ne '') {
        $here = @(Get-ExchangeCertificate -Server $Server -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Thumbprint -eq $Thumbprint })
        if ($here.Count -eq 0 -and -not $WhatIfPreference) { throw ('Certificate ' + $Thumbprint + ' is not on ' + $Server + ': import it (the step does where the inventory shows where it is), then run this step again') }
        if ($Enable) {
            if ($PSCmdlet.ShouldProcess($Server, 'Enable-ExchangeCertificate ' + $Thumbprint + ' -Services IIS,SMTP -Force')) {
                Enable-ExchangeCertificate -Server $Server -Thumbprint $Thumbprint -Services 'IIS, SMTP' -Force -DomainController $DomainController -ErrorAction Stop
            }
        }
        $readBack = -not $WhatIfPreference
        $all = @(Get-ExchangeCertificate -Server $Server -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Thumbprint -eq $Thumbprint })
    } else {
        $all = @(Get-ExchangeCertificate -Server $Server -DomainController $DomainController -ErrorAction Stop)
    }
    if (-not $readBack) {
        Write-Host ('    -WhatIf: ' + $Server + ' certificate ' + $Thumbprint + ' not read back')
        return
    }
    $found = $null
    $why = @()
    foreach ($item in $all) {
        $lacks = @()
        # -Exclude: the certificate a renewal replaces; it must not pass for the renewed one (review 8, M6)
        if ($Exclude -contains [string]$item.Thumbprint) { $lacks += 'is the certificate the renewal replaces' }
        if ([bool]$item.IsSelfSigned) { $lacks += 'is self-signed' }
        if ([datetime]$item.NotAfter -lt (Get-Date)) { $lacks += ('expired on ' + [string]$item.NotAfter) }
        foreach ($service in @('IIS', 'SMTP')) {
            if ([string]$item.Services -notmatch $service) { $lacks += ('is not enabled for ' + $service) }
        }
        $domains = @($item.CertificateDomains | ForEach-Object { ([string]$_).ToLowerInvariant() })
        foreach ($name in $Names) {
            $low = $name.ToLowerInvariant()
            $wild = '*.' + $low.Substring($low.IndexOf('.') + 1)
            if (($domains -notcontains $low) -and ($domains -notcontains $wild)) { $lacks += ('does not cover ' + $name) }
        }
        if ($lacks.Count -eq 0) { $found = $item; break }
        $why += ([string]$item.Thumbprint + ' ' + ($lacks -join ', '))
    }
    if ($null -eq $found) { throw ('Verification failed on ' + $Server + ': no certificate is from a CA, unexpired, enabled for IIS and SMTP and covers ' + ($Names -join ', ') + ' (' + ($why -join '; ') + ')') }
    Write-Host ('    ' + $Server + ': certificate ' + [string]$found.Thumbprint + ' (' + [string]$found.Subject + ', issuer ' + [string]$found.Issuer + ') covers the names, enabled for ' + [string]$found.Services)
    if ($ThirdParty) {
        Write-Host '    hybrid transport: confirm the issuer above is a public (third-party) CA; the Hybrid Configuration Wizard refuses private-CA certificates'
    }
}

function Import-RenewedCertificate {
    # servers.certificate-renew: the renewed certificate (-Path, a PFX with its private key) imported on -Server where
    # it is missing, then enabled for IIS and SMTP and read back by Set-ServerCertificate; it must expire after -After.
    # In hybrid (-SendConnector), Set-HybridCertificateName then keeps the connectors naming it in step.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$After, [string[]]$Names, [string]$Path, [string]$DomainController,
        [string]$Frontend = '', [switch]$FrontendNamed, [string]$SendConnector = '', [switch]$Last, [string]$OldName = '')
    if ($Path -eq '' -or -not (Test-Path -LiteralPath $Path)) { throw ('Give the renewed certificate''s PFX file with -RenewedCertificatePath (found: ''' + $Path + ''')') }
    $password = Read-Host -AsSecureString -Prompt ('Password of ' + $Path)
    $pfx = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2($Path, $password)
    if ($pfx.NotAfter -le [datetime]$After) { throw ($Path + ' expires on ' + $pfx.NotAfter + ', not after ' + $After + ': it is not the renewed certificate') }
    $here = @(Get-ExchangeCertificate -Server $Server -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Thumbprint -eq $pfx.Thumbprint })
    if ($here.Count -eq 0 -and $PSCmdlet.ShouldProcess($Server, 'Import certificate ' + $pfx.Thumbprint + ' from ' + $Path)) {
        Import-ExchangeCertificate -Server $Server -FileData ([System.IO.File]::ReadAllBytes($Path)) -Password $password -PrivateKeyExportable $true -DomainController $DomainController -ErrorAction Stop | Out-Null
    }
    Set-ServerCertificate -Server $Server -Names $Names -Thumbprint $pfx.Thumbprint -Enable -DomainController $DomainController
    if ($SendConnector -ne '') {
        Set-HybridCertificateName -Server $Server -Thumbprint $pfx.Thumbprint -Frontend $Frontend -FrontendNamed:$FrontendNamed -SendConnector $SendConnector -Last:$Last -OldName $OldName -DomainController $DomainController
    }
}

function Set-HybridCertificateName {
    # servers.certificate-renew in hybrid (review 3, F5): Default Frontend of -Server and the hybrid send connector name
    # the certificate as <I>issuer<S>subject. Where they name the old one (-OldName), each is set to the renewed one
    # and read back; the send connector only once every source server holds it (-Last: stop if one lacks it). Exchange
    # Online matches on the certificate's name, which the renewal keeps: no Hybrid Configuration Wizard rerun. A
    # connector naming neither certificate stops the step, unchanged.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Thumbprint, [string]$Frontend, [switch]$FrontendNamed, [string]$SendConnector, [switch]$Last, [string]$OldName, [string]$DomainController)
    $found = @(Get-ExchangeCertificate -Server $Server -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Thumbprint -eq $Thumbprint })
    if ($found.Count -eq 0 -and $WhatIfPreference) { Write-Host ('    what if: the hybrid connectors would be compared with ' + $Thumbprint); return }
    if ($found.Count -eq 0) { throw ('Certificate ' + $Thumbprint + ' is not on ' + $Server) }
    $name = '<I>' + [string]$found[0].Issuer + '<S>' + [string]$found[0].Subject
    Write-Host ('    renewed certificate name: ' + $name + ' (today: ' + $OldName + ')')
    foreach ($kind in @('Receive', 'Send')) {
        if ($kind -eq 'Receive') { $id = $Frontend; $connector = Get-ReceiveConnector -Identity $id -DomainController $DomainController -ErrorAction Stop }
        else { $id = $SendConnector; $connector = Get-SendConnector -Identity $id -DomainController $DomainController -ErrorAction Stop }
        $now = [string]$connector.TlsCertificateName
        if ($now -eq $name) { Write-Host ('    ' + $id + ' already names it'); continue }
        if ($now -eq '' -and -not ($kind -eq 'Receive' -and $FrontendNamed)) { Write-Host ('    ' + $id + ' names no certificate: unchanged'); continue }
        if ($now -ne '' -and $now -ne $OldName) { throw ($id + ' names ''' + $now + ''', neither the old certificate nor the renewed one: check it by hand (Hybrid Configuration Wizard); nothing was changed') }
        if ($kind -eq 'Send') {
            $lacking = @(@($connector.SourceTransportServers | ForEach-Object { [string]$_ }) | Where-Object { @(Get-ExchangeCertificate -Server $_ -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Thumbprint -eq $Thumbprint -and [string]$_.Services -match 'SMTP' }).Count -eq 0 })
            if ($lacking.Count -gt 0 -and $Last) { throw ($id + ' still names the old certificate: its source servers ' + ($lacking -join ', ') + ' lack the renewed one enabled for SMTP; renew it there first') }
            if ($lacking.Count -gt 0) { Write-Host ('    ' + $id + ': left to a later renewal step (' + ($lacking -join ', ') + ' lack the renewed certificate)'); continue }
        }
        if ($PSCmdlet.ShouldProcess($id, 'Set-' + $kind + 'Connector -TlsCertificateName ' + $name)) {
            if ($kind -eq 'Receive') { Set-ReceiveConnector -Identity $id -TlsCertificateName $name -DomainController $DomainController -ErrorAction Stop }
            else { Set-SendConnector -Identity $id -TlsCertificateName $name -DomainController $DomainController -ErrorAction Stop }
            if ($WhatIfPreference) { continue }
            if ($kind -eq 'Receive') { $back = [string](Get-ReceiveConnector -Identity $id -DomainController $DomainController -ErrorAction Stop).TlsCertificateName }
            else { $back = [string](Get-SendConnector -Identity $id -DomainController $DomainController -ErrorAction Stop).TlsCertificateName }
            if ($back -ne $name) { throw ('Verification failed: ' + $id + ' names ''' + $back + ''', not ''' + $name + '''') }
            Write-Host ('    verified: ' + $id + ' names the renewed certificate')
        }
    }
}

function Assert-ArrayNameUnused {
    # decommission.cas-array-unused (reads only, review 3, F9): no mailbox database of the organisation, the 2010 ones and
    # the public folder proxy mailboxes' PFProxy-* databases included, still has -Fqdn (a CAS array's RPC/TCP name) as
    # its RpcClientAccessServer: Outlook would still be sent to the name the next step removes from DNS.
    [CmdletBinding()]
    param([string]$Fqdn, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    # -IncludePreExchange2013 (splatted: the syntax checker's grammar cannot read a parameter name ending in digits)
    $legacy = @{ 'IncludePreExchange2013' = $true }
    $all = @(Get-MailboxDatabase -DomainController $DomainController @legacy -ErrorAction Stop)
    $naming = @($all | Where-Object { [string]$_.RpcClientAccessServer -eq $Fqdn } | ForEach-Object { [string]$_.Name })
    if ($naming.Count -gt 0) { throw ('Mailbox databases still name ' + $Fqdn + ' as RpcClientAccessServer: ' + ($naming -join ', ') + '; move or remove what they hold (a PFProxy-* database: after the modern public folder switch) or set another 2010 Client Access server, then run this step again; nothing was changed') }
    Write-Host ('    verified: none of ' + $all.Count + ' mailbox databases names ' + $Fqdn + ' as RpcClientAccessServer')
}

function Assert-No2010Server {
    # decommission.verify-no-2010 (reads only): no Exchange 2010 (version 14) server is left in the organisation.
    [CmdletBinding()]
    param([string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $left = @(Get-ExchangeServer -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.AdminDisplayVersion -like 'Version 14.*' })
    if ($left.Count -gt 0) { throw ('Exchange 2010 servers are still in the organisation: ' + ((@($left | ForEach-Object { [string]$_.Name })) -join ', ') + '; remove them before adding Exchange 2019 or SE') }
    Write-Host '    verified: no Exchange 2010 server is left'
}

# ----------------------------------------------------------------------------- Exchange Online, DNS

function Assert-ExoConnector {
    # hybrid/mx check-exo-connectors (reads only, Exchange Online PowerShell): the on-premises inbound and outbound
    # connectors name the certificate.
    [CmdletBinding()]
    param([string]$TlsName)
    $inbound = @(Get-InboundConnector -ErrorAction Stop | Where-Object { [string]$_.ConnectorType -eq 'OnPremises' -and [bool]$_.Enabled })
    if ($inbound.Count -eq 0) { throw 'No enabled on-premises inbound connector in Exchange Online: rerun the Hybrid Configuration Wizard' }
    # TlsSenderCertificateName is a domain name, possibly a wildcard (*.contoso.com): match it as a pattern.
    $match = @($inbound | Where-Object { $TlsName -like [string]$_.TlsSenderCertificateName })
    if ($match.Count -eq 0) { throw ('No on-premises inbound connector has a TlsSenderCertificateName matching ''' + $TlsName + ''': found ' + ((@($inbound | ForEach-Object { [string]$_.TlsSenderCertificateName })) -join ', ')) }
    Write-Host ('    inbound connector ' + [string]$match[0].Name + ' accepts the certificate name ' + $TlsName)
    $outbound = @(Get-OutboundConnector -ErrorAction Stop | Where-Object { [string]$_.ConnectorType -eq 'OnPremises' -and [bool]$_.Enabled })
    if ($outbound.Count -eq 0) { throw 'No enabled on-premises outbound connector in Exchange Online: rerun the Hybrid Configuration Wizard' }
    foreach ($connector in $outbound) {
        if ([string]$connector.TlsDomain -ne '' -and -not ($TlsName -like [string]$connector.TlsDomain)) {
            Write-Warning ('Outbound connector ' + [string]$connector.Name + ' validates TLS domain ''' + [string]$connector.TlsDomain + ''', not ' + $TlsName + ': check it names the on-premises certificate')
        }
    }
}

function Set-CloudDomainRelay {
    # mx.internal-relay (Exchange Online PowerShell): set one accepted domain to InternalRelay so Directory-Based Edge
    # Blocking does not reject recipients that are only on-premises (550 5.4.1). First requires an enabled on-premises
    # outbound connector covering the domain (the hybrid one): without it unknown recipients would loop through MX.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Domain)
    $low = $Domain.ToLowerInvariant()
    $outbound = @(Get-OutboundConnector -ErrorAction Stop | Where-Object {
            [string]$_.ConnectorType -eq 'OnPremises' -and [bool]$_.Enabled -and (@($_.RecipientDomains | ForEach-Object { ([string]$_).ToLowerInvariant() }) -contains $low -or @($_.RecipientDomains | ForEach-Object { [string]$_ }) -contains '*')
        })
    if ($outbound.Count -eq 0) { throw ('No enabled on-premises outbound connector in Exchange Online covers ' + $Domain + ': unknown recipients would loop through MX. Rerun the Hybrid Configuration Wizard with the domain selected, then run this step again; nothing was changed') }
    $found = @(Get-AcceptedDomain -ErrorAction Stop | Where-Object { [string]$_.DomainName -eq $Domain })
    if ($found.Count -ne 1) { throw ('Expected exactly one accepted domain ' + $Domain + ' in Exchange Online, found ' + $found.Count + '; nothing was changed') }
    if ([string]$found[0].DomainType -eq 'InternalRelay') {
        Write-Host ('    ' + $Domain + ' is already InternalRelay in Exchange Online (outbound connector ' + [string]$outbound[0].Name + ')')
        return
    }
    if ($PSCmdlet.ShouldProcess($Domain, 'Set-AcceptedDomain -DomainType InternalRelay (Exchange Online)')) {
        Set-AcceptedDomain -Identity ([string]$found[0].Identity) -DomainType InternalRelay -ErrorAction Stop
        if (-not $WhatIfPreference) {
            $now = @(Get-AcceptedDomain -ErrorAction Stop | Where-Object { [string]$_.DomainName -eq $Domain })
            if ($now.Count -ne 1 -or [string]$now[0].DomainType -ne 'InternalRelay') { throw ('Verification failed: ' + $Domain + ' is not InternalRelay in Exchange Online') }
            Write-Host ('    verified: ' + $Domain + ' is InternalRelay; unknown recipients go on-premises through ' + [string]$outbound[0].Name)
        }
    }
}

function Assert-CloudRecipient {
    # mx.recipients-in-cloud (Exchange Online PowerShell, reads only): every address of the CSV (path relative to the
    # runbook) belongs to an Exchange Online recipient, so Directory-Based Edge Blocking accepts it once MX moves.
    [CmdletBinding()]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$Domain)
    $all = @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)
    $known = @{}
    foreach ($recipient in @(Get-Recipient -ResultSize Unlimited -ErrorAction Stop)) {
        foreach ($address in @($recipient.EmailAddresses)) {
            $text = [string]$address
            if ($text -match '^smtp:') { $known[$text.Substring(5).ToLowerInvariant()] = $true }
        }
    }
    $missing = @($all | Where-Object { -not $known.ContainsKey(([string]$_.Address).ToLowerInvariant()) } | ForEach-Object { [string]$_.Address })
    if ($missing.Count -gt 0) {
        $shown = @($missing | Select-Object -First 20)
        throw ('Not in Exchange Online: ' + $missing.Count + ' address(es) of ' + $Domain + ', e.g. ' + ($shown -join ', ') + ': Directory-Based Edge Blocking would reject their mail after the MX change. Fix their sync (Entra Connect sync errors) or set the domain InternalRelay (plan again), then run this step again')
    }
    Write-Host ('    verified: all ' + $all.Count + ' address(es) of ' + $Domain + ' are in Exchange Online')
}

function Assert-MxHost {
    # mx.mx-host (reads only, Microsoft Graph PowerShell): the MX host Exchange Online wants for one domain (never computed).
    [CmdletBinding()]
    param([string]$Domain, [string]$Expected = '')
    $records = @(Get-MgDomainServiceConfigurationRecord -DomainId $Domain -All -ErrorAction Stop | Where-Object { [string]$_.RecordType -eq 'Mx' })
    if ($records.Count -eq 0) { throw ('The tenant reports no MX record for ' + $Domain + ': is the domain verified in the tenant?') }
    $hosts = @($records | ForEach-Object { if ($_.AdditionalProperties.ContainsKey('mailExchange')) { ([string]$_.AdditionalProperties['mailExchange']).ToLowerInvariant() } })
    Write-Host ('    Exchange Online MX host for ' + $Domain + ': ' + ($hosts -join ', '))
    if ($Expected -ne '' -and $hosts -notcontains $Expected.ToLowerInvariant()) { throw ('The tenant reports ' + ($hosts -join ', ') + ' for ' + $Domain + ', the inventory says ' + $Expected + ': use the tenant''s value and correct tenant.mx_hosts') }
}

function Assert-MxRecord {
    # mx.verify (reads only): the MX of one domain points at the new host(s) and at none of the old ones.
    [CmdletBinding()]
    param([string]$Domain, [string[]]$Expected = @(), [string[]]$Old = @())
    $answers = @(Resolve-DnsName -Name $Domain -Type MX -DnsOnly -ErrorAction Stop | Where-Object { [string]$_.Type -eq 'MX' })
    $hosts = @($answers | ForEach-Object { ([string]$_.NameExchange).TrimEnd('.').ToLowerInvariant() })
    Write-Host ('    MX of ' + $Domain + ': ' + ($hosts -join ', '))
    foreach ($name in $Expected) {
        if ($hosts -notcontains $name) { throw ('Verification failed: MX of ' + $Domain + ' does not include ' + $name) }
    }
    foreach ($name in $Old) {
        if ($hosts -contains $name) { throw ('Verification failed: MX of ' + $Domain + ' still includes the old host ' + $name + ' (or the resolver still caches it: wait the TTL and run again)') }
    }
    Write-Host ('    verified: MX of ' + $Domain + ' points at the new host only; now send the test messages')
}

# ----------------------------------------------------------------------------- identity batches (CSV-driven)

function Import-BatchCsv {
    # The rows of one identity batch CSV (path relative to the runbook's folder), refusing an edited file.
    param([string]$Folder, [string]$Csv, [int]$Rows)
    $path = Join-Path -Path $Folder -ChildPath $Csv
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { throw ('Batch file not found: ' + $path + ' (write the plan output with its identity folder next to runbooks)') }
    $all = @(Import-Csv -LiteralPath $path -Encoding UTF8 -ErrorAction Stop)
    if ($all.Count -ne $Rows) { throw ('Batch file ' + [System.IO.Path]::GetFileName($path) + ' has ' + $all.Count + ' rows, the plan has ' + $Rows + ': plan again instead of editing it') }
    $all
}

function Get-ExpectedImmutableId {
    # The ImmutableId Entra Connect computes from the sourceAnchor GUID: Guid.ToByteArray() in base64.
    param([string]$SourceAnchorGuid)
    return [System.Convert]::ToBase64String(([guid]$SourceAnchorGuid).ToByteArray())
}

function Assert-RemoteMailboxReady {
    # identity.prepare: before any user moves into sync scope, every user of the batch's remote-mailbox CSV is a remote
    # mailbox of its MailboxType (msExchRecipientTypeDetails) with the CSV's ExchangeGuid, read on the same DC;
    # otherwise the first sync would replace the cloud addresses with empty on-premises values. Lists all at once.
    param([string]$Folder, [string]$Csv, [int]$Rows, [hashtable]$Ad)
    $types = @{ 'Regular' = '2147483648'; 'Shared' = '34359738368'; 'Room' = '8589934592'; 'Equipment' = '17179869184' }
    $missing = @()
    foreach ($row in @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)) {
        $user = Get-ADUser -Identity $row.OnPremObjectGuid -Properties @('msExchRecipientTypeDetails', 'msExchMailboxGuid') @Ad -ErrorAction Stop
        $guid = ''
        if ($user.msExchMailboxGuid) { $guid = [string](New-Object -TypeName System.Guid -ArgumentList (, [byte[]]$user.msExchMailboxGuid)) }
        if ([string]$user.msExchRecipientTypeDetails -ne $types[[string]$row.MailboxType] -or ([string]$row.ExchangeGuid -ne '' -and $guid -ne [string]$row.ExchangeGuid)) {
            $missing += ([string]$row.PrimarySmtpAddress + ' (type ' + [string]$user.msExchRecipientTypeDetails + ', ExchangeGuid ''' + $guid + ''')')
        }
    }
    if ($missing.Count -eq 0) { return }
    $text = [string]$missing.Count + ' remote mailbox(es) of ' + [System.IO.Path]::GetFileName($Csv) + ' are not ready: ' + ($missing -join '; ') + '. Run the Exchange admin''s step identity.remote-mailbox first; no user was moved'
    if ($WhatIfPreference) { Write-Warning $text } else { throw $text }
}

function Get-BatchUserRefusal {
    # identity.prepare, per row moving into sync scope, before anything of it changes (review 6, M6 and m4): why the
    # user must stay out, or ''. A cloud user holding a directory role is never matched (the role may be back since
    # identity.remove-roles; Graph read only). PIM eligible assignments are not read here: check them in the Entra
    # admin center. An mS-DS-ConsistencyGuid other than the objectGUID (the sourceAnchor) breaks the planned match.
    param([object]$Row, [object]$User)
    $why = @()
    $stamped = $User.'mS-DS-ConsistencyGuid'
    if ($stamped -and [System.Convert]::ToBase64String([byte[]]$stamped) -cne [System.Convert]::ToBase64String($User.ObjectGUID.ToByteArray())) {
        $why += ('mS-DS-ConsistencyGuid is ' + [System.Convert]::ToBase64String([byte[]]$stamped) + ', not its objectGUID')
    }
    if ([string]$Row.CloudUserId -ne '') {
        $roles = @(Get-MgUserMemberOf -UserId $Row.CloudUserId -All -ErrorAction Stop | Where-Object { $_.AdditionalProperties['@odata.type'] -eq '#microsoft.graph.directoryRole' } | ForEach-Object { [string]$_.AdditionalProperties['displayName'] })
        if ($roles.Count -gt 0) { $why += ('its cloud user ' + $Row.CloudUserPrincipalName + ' holds the directory role(s) ' + ($roles -join ', ')) }
    }
    return ($why -join '; ')
}

function Set-BatchUser {
    # identity.prepare (AD module): per row of the batch CSV, fix the on-premises UPN and proxyAddresses and move the
    # user into the sync scope OU; read each change back from the same domain controller.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$SyncScopeOu = '', [string]$RemoteMailboxCsv = '', [int]$RemoteMailboxRows = 0, [string]$DomainController = '')
    Import-Module -Name 'ActiveDirectory' -ErrorAction Stop
    $all = @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)
    $ad = @{}
    if ($DomainController -ne '') { $ad['Server'] = $DomainController }
    if ($RemoteMailboxCsv -ne '') { Assert-RemoteMailboxReady -Folder $Folder -Csv $RemoteMailboxCsv -Rows $RemoteMailboxRows -Ad $ad }
    $properties = @('userPrincipalName', 'proxyAddresses', 'distinguishedName', 'mS-DS-ConsistencyGuid')
    $changed = 0
    $refused = @()
    foreach ($row in $all) {
        $user = Get-ADUser -Identity $row.OnPremObjectGuid -Properties $properties @ad -ErrorAction Stop
        $why = ''
        if ($row.MoveToSyncScope -eq 'True') { $why = Get-BatchUserRefusal -Row $row -User $user }
        if ($why -ne '') { $refused += ([string]$user.DistinguishedName + ': ' + $why); continue }
        $setUpn = $false
        $added = @()
        $moved = $false
        $target = $row.TargetUserPrincipalName
        if ($target -ne '' -and $user.UserPrincipalName -ne $target) {
            if ($PSCmdlet.ShouldProcess($user.DistinguishedName, 'Set userPrincipalName to ' + $target)) {
                Set-ADUser -Identity $user.ObjectGUID -UserPrincipalName $target @ad -ErrorAction Stop
                $setUpn = $true
                $changed++
            }
        }
        $present = @($user.proxyAddresses)
        $toAdd = @()
        foreach ($address in ($row.AddProxyAddresses -split ';')) {
            # -contains compares case-insensitively: smtp:a@x is present when SMTP:a@x is.
            if ($address -ne '' -and -not ($present -contains $address)) { $toAdd += $address }
        }
        if ($toAdd.Count -gt 0) {
            if ($PSCmdlet.ShouldProcess($user.DistinguishedName, 'Add proxyAddresses ' + ($toAdd -join ', '))) {
                Set-ADUser -Identity $user.ObjectGUID -Add @{ proxyAddresses = [string[]]$toAdd } @ad -ErrorAction Stop
                $added = $toAdd
                $changed++
            }
        }
        $inScope = ($SyncScopeOu -eq '') -or $user.DistinguishedName.EndsWith(',' + $SyncScopeOu, [System.StringComparison]::OrdinalIgnoreCase)
        if ($row.MoveToSyncScope -eq 'True' -and -not $inScope) {
            if ($PSCmdlet.ShouldProcess($user.DistinguishedName, 'Move into the sync scope OU ' + $SyncScopeOu)) {
                Move-ADObject -Identity $user.ObjectGUID -TargetPath $SyncScopeOu @ad -ErrorAction Stop
                $moved = $true
                $changed++
            }
        }
        if (-not $WhatIfPreference -and ($setUpn -or $moved -or $added.Count -gt 0)) {
            # Read back what was changed, from the same domain controller.
            $after = Get-ADUser -Identity $row.OnPremObjectGuid -Properties $properties @ad -ErrorAction Stop
            if ($setUpn) {
                Assert-Equal -What ('userPrincipalName of ' + $after.DistinguishedName) -Expected $target -Actual $after.UserPrincipalName
            }
            foreach ($address in $added) {
                if (-not (@($after.proxyAddresses) -contains $address)) { throw ('Verification failed: ' + $after.DistinguishedName + ' has no proxyAddress ' + $address) }
            }
            if ($moved -and -not $after.DistinguishedName.EndsWith(',' + $SyncScopeOu, [System.StringComparison]::OrdinalIgnoreCase)) { throw ('Verification failed: ' + $after.DistinguishedName + ' is not in ' + $SyncScopeOu) }
        }
    }
    Write-Host ('    ' + [System.IO.Path]::GetFileName($Csv) + ': ' + $all.Count + ' user(s) checked, ' + $changed + ' change(s)')
    if ($refused.Count -eq 0) { return }
    $text = [string]$refused.Count + ' user(s) left out of sync scope, nothing of them changed (every other row was done): ' + ($refused -join '; ') + '. Remove the role (identity.remove-roles) or clear the stamped value, then run this step again'
    if ($WhatIfPreference) { Write-Warning $text } else { throw $text }
}

function Enable-BatchRemoteMailbox {
    # identity.remote-mailbox (Exchange Management Shell of a 2016 server, BEFORE the batch syncs): per row of the
    # remote-mailbox CSV, give the on-premises user (no Exchange attributes yet) the remote mailbox of its cloud
    # mailbox: Enable-RemoteMailbox with the cloud primary and remote routing address (-Shared/-Room/-Equipment as the
    # cloud mailbox is), every cloud address plus the X500 of the cloud LegacyExchangeDN and the routing address
    # (alias@<tenant>.mail.onmicrosoft.com: with the policy off nothing else stamps it) with the email address
    # policy off, the cloud ExchangeGuid (and ArchiveGuid); read back from the pinned domain controller.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $all = @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)
    $changed = 0
    foreach ($row in $all) {
        $id = $row.OnPremObjectGuid
        $addresses = @($row.EmailAddresses -split ';' | Where-Object { $_ -ne '' })
        # Not yet mail-enabled: Get-Recipient finds nothing. Anything but a remote mailbox is a surprise.
        $found = @(Get-Recipient -Filter ("Guid -eq '" + $id + "'") -ResultSize 2 -DomainController $DomainController -ErrorAction Stop)
        if ($found.Count -gt 0 -and [string]$found[0].RecipientTypeDetails -notmatch '^Remote') { throw ($row.OnPremDistinguishedName + ' is already a ' + [string]$found[0].RecipientTypeDetails + ' on-premises (the plan saw no Exchange attributes): export again and plan again; nothing was changed for it') }
        if ($found.Count -eq 0) {
            if ($PSCmdlet.ShouldProcess($row.OnPremDistinguishedName, 'Enable-RemoteMailbox ' + $row.PrimarySmtpAddress + ' -RemoteRoutingAddress ' + $row.RemoteRoutingAddress + ' (' + $row.MailboxType + ')')) {
                $enable = @{
                    Identity = $id
                    PrimarySmtpAddress = $row.PrimarySmtpAddress
                    RemoteRoutingAddress = $row.RemoteRoutingAddress
                    DomainController = $DomainController
                }
                if ($row.MailboxType -eq 'Shared') { $enable['Shared'] = $true }
                if ($row.MailboxType -eq 'Room') { $enable['Room'] = $true }
                if ($row.MailboxType -eq 'Equipment') { $enable['Equipment'] = $true }
                Enable-RemoteMailbox @enable -ErrorAction Stop | Out-Null
                $changed++
            }
        }
        if ($PSCmdlet.ShouldProcess($row.OnPremDistinguishedName, 'Set-RemoteMailbox: email address policy off, add ' + $addresses.Count + ' cloud address(es), ExchangeGuid ' + $row.ExchangeGuid)) {
            Set-RemoteMailbox -Identity $id -EmailAddressPolicyEnabled $false -EmailAddresses @{ Add = [string[]]$addresses } -ExchangeGuid $row.ExchangeGuid -DomainController $DomainController -ErrorAction Stop
            if ($row.ArchiveGuid -ne '') {
                Set-RemoteMailbox -Identity $id -ArchiveGuid $row.ArchiveGuid -DomainController $DomainController -ErrorAction Stop
            }
            $changed++
        }
        if (-not $WhatIfPreference) {
            $now = Get-RemoteMailbox -Identity $id -DomainController $DomainController -ErrorAction Stop
            $has = @($now.EmailAddresses | ForEach-Object { [string]$_ })
            Assert-Equal -What ('PrimarySmtpAddress of ' + $row.OnPremDistinguishedName) -Expected $row.PrimarySmtpAddress -Actual ([string]$now.PrimarySmtpAddress)
            Assert-Equal -What ('ExchangeGuid of ' + $row.OnPremDistinguishedName) -Expected $row.ExchangeGuid -Actual ([string]$now.ExchangeGuid)
            # RemoteRoutingAddress is a ProxyAddress: compare without its 'SMTP:' prefix (-replace ignores case).
            Assert-Equal -What ('RemoteRoutingAddress of ' + $row.OnPremDistinguishedName) -Expected $row.RemoteRoutingAddress.ToLowerInvariant() -Actual (([string]$now.RemoteRoutingAddress) -replace '^smtp:', '').ToLowerInvariant()
            if ($row.ArchiveGuid -ne '') {
                Assert-Equal -What ('ArchiveGuid of ' + $row.OnPremDistinguishedName) -Expected $row.ArchiveGuid -Actual ([string]$now.ArchiveGuid)
            }
            if ([bool]$now.EmailAddressPolicyEnabled) { throw ('Verification failed: the email address policy is still on for ' + $row.OnPremDistinguishedName) }
            foreach ($address in $addresses) {
                if (-not ($has -contains $address)) { throw ('Verification failed: ' + $row.OnPremDistinguishedName + ' has no address ' + $address) }
            }
        }
    }
    Write-Host ('    ' + [System.IO.Path]::GetFileName($Csv) + ': ' + $all.Count + ' remote mailbox(es) checked, ' + $changed + ' change(s)')
}

function Add-CloudRoutingAddress {
    # moves.routing-address (Exchange Management Shell of a 2016 server, before the wave's Exchange Online batch):
    # every mailbox of the wave CSV without an address in the routing domain (<tenant>.mail.onmicrosoft.com) gets
    # smtp:<alias>@<domain>: the email address policy stamps it only where it applies (EmailAddressPolicyEnabled
    # false leaves it out) and the move needs it as the target delivery address. Read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$Domain, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $all = @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)
    $suffix = '@' + $Domain
    $changed = 0
    # First every address to add, each a valid SMTP address no other recipient of the forest holds (review 2, m4): a
    # problem stops the step before any change, with every problem listed.
    $todo = @()
    $problems = @()
    foreach ($row in $all) {
        $mailbox = Get-Mailbox -Identity $row.EmailAddress -DomainController $DomainController -ErrorAction Stop
        $has = @($mailbox.EmailAddresses | ForEach-Object { [string]$_ } | Where-Object { $_ -like ('smtp:*' + $suffix) })
        if ($has.Count -gt 0) { continue }
        $alias = [string]$mailbox.Alias
        if ($alias -notmatch '^[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*$') { $problems += ($row.EmailAddress + ': alias ''' + $alias + ''' is not a valid SMTP local part'); continue }
        $plain = $alias + $suffix
        $holders = @(Get-Recipient -Filter ('EmailAddresses -eq ''smtp:' + $plain.Replace("'", "''") + '''') -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Guid -ne [string]$mailbox.Guid })
        if ($holders.Count -gt 0) { $problems += ($row.EmailAddress + ': ' + $plain + ' is held by ' + ((@($holders | ForEach-Object { [string]$_.Identity })) -join ', ')); continue }
        $todo += @{ Row = $row; Address = ('smtp:' + $plain) }
    }
    if ($problems.Count -gt 0) { throw ([string]$problems.Count + ' routing address(es) cannot be added; nothing was changed: ' + ($problems -join '; ')) }
    foreach ($item in $todo) {
        $row = $item.Row
        $address = $item.Address
        if ($PSCmdlet.ShouldProcess($row.EmailAddress, 'Set-Mailbox -EmailAddresses @{Add=' + $address + '}')) {
            Set-Mailbox -Identity $row.EmailAddress -EmailAddresses @{ Add = $address } -DomainController $DomainController -ErrorAction Stop
            $changed++
            if (-not $WhatIfPreference) {
                $after = Get-Mailbox -Identity $row.EmailAddress -DomainController $DomainController -ErrorAction Stop
                $now = @($after.EmailAddresses | ForEach-Object { ([string]$_).ToLowerInvariant() })
                if (-not ($now -contains $address.ToLowerInvariant())) {
                    throw ('Verification failed: ' + $row.EmailAddress + ' has no address ' + $address)
                }
            }
        }
    }
    Write-Host ('    ' + [System.IO.Path]::GetFileName($Csv) + ': ' + $all.Count + ' mailbox(es) checked, ' + $changed + ' routing address(es) added')
}

function Assert-TenantMatching {
    # The tenant still allows the matches the batch plans (the inventory's switches may have changed since the
    # export): a blocked hard match fails with InvalidHardMatch, a blocked soft match leaves a second cloud user.
    param([object[]]$Row)
    $features = (@(Get-MgDirectoryOnPremiseSynchronization -ErrorAction Stop))[0].Features
    $planned = @($Row | Where-Object { [string]$_.Outcome -ne 'blocked' })
    if ($features.BlockCloudObjectTakeoverThroughHardMatchEnabled -eq $true -and @($planned | Where-Object { [string]$_.Method -like 'hard match*' }).Count -gt 0) { throw 'The tenant now has BlockCloudObjectTakeoverThroughHardMatchEnabled on: the planned hard matches would fail (InvalidHardMatch). Export the tenant settings again and plan again; nothing was changed' }
    if ($features.BlockSoftMatchEnabled -eq $true -and @($planned | Where-Object { [string]$_.Method -like 'soft match*' }).Count -gt 0) { throw 'The tenant now has BlockSoftMatchEnabled on: the planned soft matches would fail. Export the tenant settings again and plan again; nothing was changed' }
}

function Set-BatchImmutableId {
    # identity.set-immutable-id (Microsoft Graph PowerShell, never the retired MSOnline module): set
    # OnPremisesImmutableId on the rows whose SetImmutableId is True, before their users enter sync scope;
    # compared case-sensitively; read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$Csv, [int]$Rows)
    $all = @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)
    Assert-TenantMatching -Row $all
    $properties = @('id', 'userPrincipalName', 'onPremisesImmutableId', 'onPremisesSyncEnabled')
    $changed = 0
    foreach ($row in @($all | Where-Object { $_.SetImmutableId -eq 'True' })) {
        $expected = Get-ExpectedImmutableId -SourceAnchorGuid $row.SourceAnchorGuid
        $cloud = Get-MgUser -UserId $row.CloudUserId -Property $properties -ErrorAction Stop
        if ($cloud.OnPremisesSyncEnabled -eq $true) {
            if ($cloud.OnPremisesImmutableId -cne $expected) { throw ($row.CloudUserPrincipalName + ' is already synced with ImmutableId ' + $cloud.OnPremisesImmutableId + ', not ' + $expected + ': it matched another on-premises object; plan again') }
            continue
        }
        if ($cloud.OnPremisesImmutableId -ceq $expected) { continue }
        if ($PSCmdlet.ShouldProcess($row.CloudUserPrincipalName, 'Set OnPremisesImmutableId to ' + $expected)) {
            Update-MgUser -UserId $row.CloudUserId -OnPremisesImmutableId $expected -ErrorAction Stop
            $changed++
            if (-not $WhatIfPreference) {
                $after = Get-MgUser -UserId $row.CloudUserId -Property $properties -ErrorAction Stop
                if ($after.OnPremisesImmutableId -cne $expected) { throw ('Verification failed: OnPremisesImmutableId of ' + $row.CloudUserPrincipalName + ' is ''' + $after.OnPremisesImmutableId + ''', expected ''' + $expected + '''') }
            }
        }
    }
    Write-Host ('    ' + [System.IO.Path]::GetFileName($Csv) + ': ' + $changed + ' ImmutableId(s) set')
}

function Start-BatchSync {
    # identity.sync (ADSync module on the Entra Connect server): wait for a running cycle, start a delta sync, wait for it.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Batch, [int]$TimeoutMinutes)
    Import-Module -Name 'ADSync' -ErrorAction Stop
    $deadline = (Get-Date).AddMinutes($TimeoutMinutes)
    while ((Get-ADSyncScheduler -ErrorAction Stop).SyncCycleInProgress) {
        if ((Get-Date) -gt $deadline) { throw ('A sync cycle has been running for more than ' + $TimeoutMinutes + ' minutes; check Synchronization Service Manager') }
        Write-Host '    a sync cycle is running; waiting for it to finish'
        Start-Sleep -Seconds 30
    }
    if ($PSCmdlet.ShouldProcess($Batch, 'Start-ADSyncSyncCycle -PolicyType Delta')) {
        $null = Start-ADSyncSyncCycle -PolicyType 'Delta' -ErrorAction Stop
        if (-not $WhatIfPreference) {
            Start-Sleep -Seconds 15
            while ((Get-ADSyncScheduler -ErrorAction Stop).SyncCycleInProgress) {
                if ((Get-Date) -gt $deadline) { throw ('The delta sync did not finish within ' + $TimeoutMinutes + ' minutes; check Synchronization Service Manager') }
                Start-Sleep -Seconds 30
            }
            Write-Host ('    delta sync finished for ' + $Batch + '; export errors show in Synchronization Service Manager')
        }
    }
}

function Assert-BatchSynced {
    # identity.verify (Microsoft Graph PowerShell, reads only): every user of the batch is synced with the expected
    # ImmutableId (case-sensitive) on the planned cloud object (its id unchanged: a failed match shows as another
    # cloud user carrying the sourceAnchor). Under -WhatIf it reports instead of failing; when no user of the batch is synced
    # yet it stops the runbook with the way on (-From $StepId) instead of failing.
    # The users of the remote-mailbox CSV also keep their cloud primary SMTP address (the match kept it).
    [CmdletBinding()]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$StepId, [string]$RemoteMailboxCsv = '', [int]$RemoteMailboxRows = 0)
    $all = @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)
    $name = [System.IO.Path]::GetFileName($Csv)
    $properties = @('id', 'userPrincipalName', 'onPremisesImmutableId', 'onPremisesSyncEnabled', 'mail')
    $primary = @{}
    if ($RemoteMailboxCsv -ne '') {
        foreach ($row in @(Import-BatchCsv -Folder $Folder -Csv $RemoteMailboxCsv -Rows $RemoteMailboxRows)) { $primary[[string]$row.CloudUserId] = [string]$row.PrimarySmtpAddress }
    }
    $failed = 0
    $notSynced = 0
    foreach ($row in $all) {
        $expected = Get-ExpectedImmutableId -SourceAnchorGuid $row.SourceAnchorGuid
        $cloud = Get-MgUser -UserId $row.CloudUserId -Property $properties -ErrorAction Stop
        if ($cloud.OnPremisesSyncEnabled -ne $true) {
            # A failed match creates a second cloud user with the sourceAnchor (licensing it would create a
            # second mailbox): the synced object must be the planned one, its object id unchanged.
            $other = @(Get-MgUser -Filter ("onPremisesImmutableId eq '" + $expected + "'") -Property $properties -ErrorAction Stop | Where-Object { $_.Id -ne $row.CloudUserId })
            if ($other.Count -gt 0) {
                Write-Warning ($row.CloudUserPrincipalName + ': the on-premises user synced as another cloud object (' + $other[0].Id + ', ' + $other[0].UserPrincipalName + ') instead of ' + $row.CloudUserId + ': the match failed; do not license the new object, delete it and match again')
            } else {
                Write-Warning ($row.CloudUserPrincipalName + ': OnPremisesSyncEnabled is not true (not matched yet)')
                $notSynced++
            }
            $failed++
        } elseif ($cloud.OnPremisesImmutableId -cne $expected) {
            Write-Warning ($row.CloudUserPrincipalName + ': ImmutableId is ' + $cloud.OnPremisesImmutableId + ', expected ' + $expected + ' (matched to another object)')
            $failed++
        } elseif ($primary.ContainsKey([string]$row.CloudUserId) -and [string]$cloud.Mail -ne $primary[[string]$row.CloudUserId]) {
            Write-Warning ($row.CloudUserPrincipalName + ': the cloud primary SMTP address is now ''' + [string]$cloud.Mail + ''', expected ''' + $primary[[string]$row.CloudUserId] + ''' (the on-premises remote mailbox did not carry it)')
            $failed++
        }
    }
    if ($failed -eq 0) {
        Write-Host ('    ' + $name + ': all ' + $all.Count + ' user(s) synced with the expected ImmutableId')
    } elseif ($WhatIfPreference) {
        Write-Host ('    -WhatIf: ' + $failed + ' of ' + $all.Count + ' user(s) are not matched yet; nothing was changed, so nothing is verified')
    } elseif ($notSynced -eq $all.Count) {
        # Nothing synced at all: most likely this script reached the step before the AD and ADSync
        # runbooks ran for the batch. Stop here (like a manual step) instead of failing.
        Write-Warning ('None of the ' + $all.Count + ' user(s) is synced yet. Run identity.prepare (ad.ps1) and identity.sync (adsync.ps1) for this batch, wait for the sync cycle, then run this script again with -From ' + $StepId + '. If they have run, check the sync errors in Entra Connect Health.')
        $script:Stopped = $true
    } else {
        throw ('Verification failed: ' + $failed + ' of ' + $all.Count + ' user(s) of ' + $name + ' are not matched as planned; see the warnings above and the sync errors in Entra Connect Health')
    }
}

function ConvertFrom-UtcText {
    # moves.create, moves.exo-batch: 'yyyy-MM-ddTHH:mm:ssZ' -> a UTC DateTime, the same in every culture.
    param([string]$Text)
    if ($Text -eq '') { throw 'Pass -CompleteAfterUtc <window start in UTC, yyyy-MM-ddTHH:mm:ssZ> (moves-report.md lists each wave''s window), or -SuspendWhenReadyToComplete' }
    $styles = [System.Globalization.DateTimeStyles]::AssumeUniversal -bor [System.Globalization.DateTimeStyles]::AdjustToUniversal
    return [DateTime]::ParseExact($Text, 'yyyy-MM-ddTHH:mm:ssZ', [System.Globalization.CultureInfo]::InvariantCulture, $styles)
}

function Test-MoveRequestDone {
    # Whether a move request or migration user status counts as completed.
    param([string]$Status)
    return (@('Completed', 'CompletedWithWarning', 'CompletedWithWarnings') -contains $Status)
}

function Find-MoveRequest {
    # The move request of a mailbox, or $null when it has none (Get-MoveRequest throws on an unknown identity).
    param([string]$Identity, [string]$DomainController)
    try {
        return (Get-MoveRequest -Identity $Identity -DomainController $DomainController -ErrorAction Stop)
    } catch {
        return $null
    }
}

function Test-Legacy2010Target {
    # Whether a move request's target database is on Exchange 2010 (Remove-MoveRequest is never used there).
    param([object]$Request, [string]$DomainController)
    # -IncludePreExchange2013 (splatted: the syntax checker's grammar cannot read a parameter name ending in digits)
    $legacy = @{ 'IncludePreExchange2013' = $true }
    $database = Get-MailboxDatabase -Identity ([string]$Request.TargetDatabase) -DomainController $DomainController @legacy -ErrorAction Stop
    $server = Get-ExchangeServer -Identity ([string]$database.Server) -DomainController $DomainController -ErrorAction Stop
    return ([string]$server.AdminDisplayVersion -match '^Version 14\.')
}

function Clear-OtherMoveRequest {
    # A mailbox holds one move request. $true: it has one of $BatchName already (a re-run: skip it). A Completed
    # request of another batch whose target is not on 2010 is removed (as moves.cleanup would) and $false returned;
    # anything else throws, so no mailbox of a wave or rollback is skipped silently.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([object]$Existing, [string]$Name, [string]$BatchName, [string]$DomainController)
    $status = [string]$Existing.Status
    $other = [string]$Existing.BatchName
    if ($other -eq $BatchName) {
        Write-Host ('    ' + $Name + ': its move request of ' + $BatchName + ' exists already (' + $status + ')')
        return $true
    }
    $what = $Name + ' has a move request of batch ''' + $other + ''' (' + $status + ', target ' + [string]$Existing.TargetDatabase + ')'
    if (-not (Test-MoveRequestDone -Status $status)) { throw ($what + ': wait until it completes or remove it, then run this step again') }
    if (Test-Legacy2010Target -Request $Existing -DomainController $DomainController) {
        $why = $what + ': its target is on Exchange 2010, where migrator never runs Remove-MoveRequest (unsafe between 2010 databases; for a completed 2016-to-2010 request not verified)'
        if ($other -ne ($BatchName + '-rollback')) { throw ($why + '; it expires 30 days after completion') }
        # The wave's own rollback, completed (review 5, n2): the admin may remove it by hand to run the wave again.
        $on = [string](Get-Mailbox -Identity ([string]$Existing.Identity) -DomainController $DomainController -ErrorAction Stop).Database
        if ($on -ne [string]$Existing.TargetDatabase) { throw ($why + '; the mailbox is on ' + $on + ', not where the rollback moved it: find out why before anything else') }
        throw ($why + '. The mailbox is on ' + $on + ', where the rollback left it. To run ' + $BatchName + ' again before the request expires (30 days after completion), remove it by hand in this 2016 shell, then run this step again: Remove-MoveRequest -Identity ''' + ([string]$Existing.Identity).Replace("'", "''") + ''' -DomainController ' + $DomainController)
    }
    if ($PSCmdlet.ShouldProcess($Name, 'Remove-MoveRequest (completed, batch ' + $other + ')')) {
        Remove-MoveRequest -Identity ([string]$Existing.Identity) -DomainController $DomainController -Confirm:$false -ErrorAction Stop
    }
    return $false
}

function Assert-BatchRequestCount {
    # After a wave or rollback is created: one request of $BatchName per CSV row, or the step fails.
    param([string]$BatchName, [int]$Rows, [string]$DomainController)
    if ($WhatIfPreference) { return }
    $found = @(Get-MoveRequest -BatchName $BatchName -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop).Count
    if ($found -ne $Rows) { throw ($BatchName + ': ' + $found + ' move request(s) found, ' + $Rows + ' expected (one per CSV row)') }
}

function Find-MigrationBatch {
    # The migration batch of that name, or $null when there is none.
    param([string]$Name)
    try {
        return (Get-MigrationBatch -Identity $Name -ErrorAction Stop)
    } catch {
        return $null
    }
}

function Move-ArbitrationMailbox {
    # moves.arbitration (2016 EMS): every arbitration mailbox of the 2010 databases to one 2016 database, the
    # Migration mailbox first. -Database keeps out the arbitration mailboxes 2016 created itself.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string[]]$SourceDatabase, [string]$TargetDatabase, [string]$BatchName, [string]$First, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $all = @()
    foreach ($database in $SourceDatabase) {
        $all += @(Get-Mailbox -Arbitration -Database $database -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
    }
    $ordered = @($all | Where-Object { [string]$_.Alias -eq $First }) + @($all | Where-Object { [string]$_.Alias -ne $First })
    foreach ($mailbox in $ordered) {
        $name = [string]$mailbox.DistinguishedName
        $existing = Find-MoveRequest -Identity $name -DomainController $DomainController
        if ($existing -and (Clear-OtherMoveRequest -Existing $existing -Name ([string]$mailbox.Alias) -BatchName $BatchName -DomainController $DomainController)) {
            continue
        }
        if ($PSCmdlet.ShouldProcess([string]$mailbox.Alias, 'New-MoveRequest -TargetDatabase ' + $TargetDatabase)) {
            $null = New-MoveRequest -Identity $name -TargetDatabase $TargetDatabase -BatchName $BatchName -DomainController $DomainController -ErrorAction Stop
            if (-not $WhatIfPreference) {
                $after = Get-MoveRequest -Identity $name -DomainController $DomainController -ErrorAction Stop
                Assert-Equal -What ('batch of the move request of ' + [string]$mailbox.Alias) -Expected $BatchName -Actual ([string]$after.BatchName)
            }
        }
    }
}

function Assert-ArbitrationMoved {
    # moves.arbitration-verify: no arbitration mailbox is left on the 2010 databases; shows the requests' progress.
    [CmdletBinding()]
    param([string[]]$SourceDatabase, [string]$BatchName, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    foreach ($request in @(Get-MoveRequest -BatchName $BatchName -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)) {
        Write-Host ('    ' + [string]$request.Alias + ': ' + [string]$request.Status + ' -> ' + [string]$request.TargetDatabase)
    }
    $left = @()
    foreach ($database in $SourceDatabase) {
        $left += @(Get-Mailbox -Arbitration -Database $database -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
    }
    if ($left.Count -gt 0 -and -not $WhatIfPreference) { throw ([string]$left.Count + ' arbitration mailbox(es) are still on a 2010 database; run this step again when the requests show Completed') }
}

function Assert-LogVolumeRoom {
    # moves.create (2016 EMS), before the first request, also under -WhatIf (it only reads): the logs a wave writes
    # into each database ($LogBytes, from the plan) must fit in $LogSharePercent of the free space of the log volume
    # on every server holding a copy (each copy writes them all). A full log volume dismounts the database.
    # Volumes are read over WSMan (Get-CimInstance), else DCOM (Get-WmiObject); where neither answers, only
    # -LogSpaceCheckedByHand (the operator read the free space himself; the transcript keeps it) lets the step go on.
    [CmdletBinding()]
    param([string[]]$LogDatabase, [long[]]$LogBytes, [int]$LogSharePercent, [switch]$LogSpaceCheckedByHand, [string]$DomainController)
    # -IncludePreExchange2013 (splatted, see Test-Legacy2010Target): a rollback moves back into 2010 databases
    $legacy = @{ 'IncludePreExchange2013' = $true }
    $gb = [double]1073741824
    $short = @()
    for ($i = 0; $i -lt @($LogDatabase).Count; $i++) {
        $need = [double]$LogBytes[$i]
        $database = Get-MailboxDatabase -Identity $LogDatabase[$i] -DomainController $DomainController @legacy -ErrorAction Stop
        $path = ([string]$database.LogFolderPath).TrimEnd('\') + '\'
        foreach ($server in @($database.Servers)) {
            $computer = [string]$server
            $volumes = $null
            try {
                $volumes = @(Get-CimInstance -ClassName Win32_Volume -ComputerName $computer -Filter 'DriveType = 3' -ErrorAction Stop)
            } catch {
                try {
                    $volumes = @(Get-WmiObject -Class Win32_Volume -ComputerName $computer -Filter 'DriveType = 3' -ErrorAction Stop)
                } catch {
                    $what = 'cannot read the volumes of ' + $computer + ' (WSMan and DCOM): ' + $_.Exception.Message + '; the logs of ' + $LogDatabase[$i] + ' need about ' + [math]::Round($need / $gb, 1) + ' GB in ' + $path + ' there (at most ' + $LogSharePercent + '% of its free space)'
                    if (-not $LogSpaceCheckedByHand) { throw ($what + ': check it by hand, then run this step again with -LogSpaceCheckedByHand') }
                    Write-Warning ('    ' + $what + ': checked by hand (-LogSpaceCheckedByHand)')
                    continue
                }
            }
            $volume = $null
            foreach ($candidate in $volumes) {
                $root = [string]$candidate.Name
                if ($root -and $path.StartsWith($root, [System.StringComparison]::OrdinalIgnoreCase) -and (-not $volume -or $root.Length -gt ([string]$volume.Name).Length)) { $volume = $candidate }
            }
            if (-not $volume) { throw ('no volume of ' + $computer + ' holds the log folder ' + $path) }
            $free = [double]$volume.FreeSpace
            Write-Host ('    ' + $LogDatabase[$i] + ' on ' + $computer + ': about ' + [math]::Round($need / $gb, 1) + ' GB of logs, ' + [math]::Round($free / $gb, 1) + ' GB free on ' + [string]$volume.Name)
            if ($need * 100 -gt $free * $LogSharePercent) { $short += ($LogDatabase[$i] + ' on ' + $computer + ' (' + [math]::Round($need / $gb, 1) + ' GB of logs, ' + [math]::Round($free / $gb, 1) + ' GB free)') }
        }
    }
    if ($short.Count -gt 0) { throw ('not enough free log space for this wave (at most ' + $LogSharePercent + '% of the free space): ' + ($short -join '; ') + '. Run a full backup of the database (it truncates the logs) or add log space, then run this step again') }
}

function New-MoveWave {
    # moves.create (2016 EMS): one New-MoveRequest per CSV row, -BatchName the wave, -CompleteAfter a UTC DateTime
    # (or -SuspendWhenReadyToComplete, the fallback); the archive moves with its primary, never ahead of it.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$BatchName, [int]$BadItemLimit, [string[]]$LogDatabase = @(), [long[]]$LogBytes = @(), [int]$LogSharePercent, [switch]$LogSpaceCheckedByHand, [string]$CompleteAfterUtc, [switch]$SuspendWhenReadyToComplete, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    Assert-LogVolumeRoom -LogDatabase $LogDatabase -LogBytes $LogBytes -LogSharePercent $LogSharePercent -LogSpaceCheckedByHand:$LogSpaceCheckedByHand -DomainController $DomainController
    $when = $null
    if (-not $SuspendWhenReadyToComplete) {
        $when = ConvertFrom-UtcText -Text $CompleteAfterUtc
    }
    foreach ($row in @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)) {
        $address = [string]$row.EmailAddress
        $existing = Find-MoveRequest -Identity $address -DomainController $DomainController
        if ($existing -and (Clear-OtherMoveRequest -Existing $existing -Name $address -BatchName $BatchName -DomainController $DomainController)) {
            continue
        }
        $archive = @{}
        if ([string]$row.TargetArchiveDatabase -ne '' -and [string]$row.TargetArchiveDatabase -ne [string]$row.TargetDatabase) {
            $archive['ArchiveTargetDatabase'] = [string]$row.TargetArchiveDatabase
        }
        # The row's BadItemLimit wins (raised for one mailbox after a failed request; over 50 needs
        # -AcceptLargeDataLoss); the archive always moves with its primary (review 6, m1).
        if (@('', 'PrimaryOnly', 'PrimaryAndArchive') -notcontains [string]$row.MailboxType) { throw ($address + ': MailboxType ' + [string]$row.MailboxType + ' is not moved by this step (PrimaryOnly or PrimaryAndArchive: the archive moves with its primary, never ahead of it)') }
        $limit = $BadItemLimit
        if ([string]$row.BadItemLimit -ne '') { $limit = [int]$row.BadItemLimit }
        if ($limit -gt 50) { $archive['AcceptLargeDataLoss'] = $true }
        if ($PSCmdlet.ShouldProcess($address, 'New-MoveRequest -TargetDatabase ' + [string]$row.TargetDatabase + ' -BatchName ' + $BatchName)) {
            if ($SuspendWhenReadyToComplete) {
                $null = New-MoveRequest -Identity $address -TargetDatabase ([string]$row.TargetDatabase) -BatchName $BatchName -BadItemLimit $limit -SuspendWhenReadyToComplete -DomainController $DomainController @archive -ErrorAction Stop
            } else {
                $null = New-MoveRequest -Identity $address -TargetDatabase ([string]$row.TargetDatabase) -BatchName $BatchName -BadItemLimit $limit -CompleteAfter $when -DomainController $DomainController @archive -ErrorAction Stop
            }
            if (-not $WhatIfPreference) {
                $after = Get-MoveRequest -Identity $address -DomainController $DomainController -ErrorAction Stop
                Assert-Equal -What ('batch of the move request of ' + $address) -Expected $BatchName -Actual ([string]$after.BatchName)
            }
        }
    }
    Assert-BatchRequestCount -BatchName $BatchName -Rows $Rows -DomainController $DomainController
}

function Complete-MoveWave {
    # moves.complete (2016 EMS, in the window): resumes requests held at -SuspendWhenReadyToComplete, shows
    # Get-MoveRequestStatistics, then requires every request Completed and each mailbox on the CSV's TargetDatabase.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$BatchName, [string]$DeferToUtc = '', [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $defer = $null
    if ($DeferToUtc -ne '') { $defer = ConvertFrom-UtcText -Text $DeferToUtc }
    $pending = @()
    $failed = @()
    foreach ($row in @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)) {
        $address = [string]$row.EmailAddress
        $stats = Get-MoveRequestStatistics -Identity $address -DomainController $DomainController -ErrorAction Stop
        $status = [string]$stats.Status
        Write-Host ('    ' + $address + ': ' + $status + ', ' + [string]$stats.PercentComplete + '%')
        if ($status -eq 'AutoSuspended') {
            # Deferring: a held request stays held (resumed, it would complete now); it is resumed in that window.
            if ((-not $defer) -and $PSCmdlet.ShouldProcess($address, 'Resume-MoveRequest')) {
                Resume-MoveRequest -Identity $address -DomainController $DomainController -ErrorAction Stop
            }
            $pending += $address
            continue
        }
        if (-not (Test-MoveRequestDone -Status $status)) {
            if ($defer -and $status -ne 'CompletionInProgress') {
                # Review 6, M1: past -CompleteAfter a request completes by itself as soon as its copy catches up,
                # business hours or not; the next window's start keeps it from doing so before then. Each request
                # on its own (review 7): one that cannot be deferred does not leave the rest undeferred.
                try {
                    Set-MoveRequestCompleteAfter -Identity $address -When $defer -Text $DeferToUtc -DomainController $DomainController
                } catch {
                    $failed += ($address + ' (' + $_.Exception.Message + ')')
                }
            }
            $pending += $address
            continue
        }
        $mailbox = Get-Mailbox -Identity $address -DomainController $DomainController -ErrorAction Stop
        Assert-Equal -What ('database of ' + $address) -Expected ([string]$row.TargetDatabase) -Actual ([string]$mailbox.Database)
        if ([string]$row.MailboxType -eq 'PrimaryAndArchive') {
            $archiveTarget = [string]$row.TargetArchiveDatabase
            if ($archiveTarget -eq '') { $archiveTarget = [string]$row.TargetDatabase }
            Assert-Equal -What ('archive database of ' + $address) -Expected $archiveTarget -Actual ([string]$mailbox.ArchiveDatabase)
        }
    }
    if ($failed.Count -gt 0) { throw ('could not defer: ' + ($failed -join '; ') + '. Suspend each with Suspend-MoveRequest -Identity <address> (it then waits until resumed), the others were deferred') }
    if ($pending.Count -gt 0 -and -not $WhatIfPreference) {
        if ($defer) { throw ([string]$pending.Count + ' request(s) of ' + $BatchName + ' are not completed: deferred to ' + $DeferToUtc + ' (UTC; held ones stay held); run this step again in that window without -DeferToUtc') }
        throw ([string]$pending.Count + ' request(s) of ' + $BatchName + ' are not completed yet. They complete by themselves as soon as their copy ends, business hours or not: run this step again before the window ends, or defer them to the next window with -Only moves.complete.' + $BatchName + ' -DeferToUtc <its start, yyyy-MM-ddTHH:mm:ssZ>')
    }
}

function Set-MoveRequestCompleteAfter {
    # moves.complete -DeferToUtc: one request's -CompleteAfter set to the next window start, read back where
    # Get-MoveRequestStatistics shows it (a warning where it does not: check by hand).
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Identity, [datetime]$When, [string]$Text, [string]$DomainController)
    if ($PSCmdlet.ShouldProcess($Identity, 'Set-MoveRequest -CompleteAfter ' + $Text)) {
        Set-MoveRequest -Identity $Identity -CompleteAfter $When -DomainController $DomainController -ErrorAction Stop
    }
    if ($WhatIfPreference) { return }
    $after = Get-MoveRequestStatistics -Identity $Identity -DomainController $DomainController -ErrorAction Stop
    $shown = $after.PSObject.Properties['CompleteAfter']
    if (($null -eq $shown) -or ($null -eq $shown.Value)) {
        Write-Warning ('    ' + $Identity + ': CompleteAfter is not shown by Get-MoveRequestStatistics here; check it by hand before the window ends')
        return
    }
    if (Test-MoveRequestDone -Status ([string]$after.Status)) { return }
    $expected = $When.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm')
    $actual = ([datetime]$shown.Value).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm')
    Assert-Equal -What ('CompleteAfter of ' + $Identity) -Expected $expected -Actual $actual
}

function Remove-MoveWaveRequest {
    # moves.cleanup (2016 EMS): removes the wave's Completed requests whose target is not an Exchange 2010
    # database (Remove-MoveRequest on a 2010 -> 2010 move can delete the moved mailbox: refused).
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$BatchName, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    foreach ($request in @(Get-MoveRequest -BatchName $BatchName -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)) {
        $name = [string]$request.Identity
        if (-not (Test-MoveRequestDone -Status ([string]$request.Status))) {
            Write-Warning ($name + ': ' + [string]$request.Status + ', not removed')
            continue
        }
        if (Test-Legacy2010Target -Request $request -DomainController $DomainController) {
            Write-Warning ($name + ': the target database is on Exchange 2010; Remove-MoveRequest is never used there (the request expires after 30 days)')
            continue
        }
        if ($PSCmdlet.ShouldProcess($name, 'Remove-MoveRequest')) {
            Remove-MoveRequest -Identity $name -DomainController $DomainController -Confirm:$false -ErrorAction Stop
        }
    }
}

function New-CloudMoveWave {
    # moves.exo-batch (Exchange Online PowerShell): a remote-move migration batch from the wave CSV through the
    # hybrid MRSProxy endpoint; it completes by itself after -CompleteAfter (a UTC DateTime; functional in the cloud).
    # No -BadItemLimit: the onboarding set has none (Exchange Online judges skipped items by data consistency).
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$BatchName, [string]$Endpoint, [string]$DeliveryDomain, [string]$CompleteAfterUtc)
    $when = ConvertFrom-UtcText -Text $CompleteAfterUtc
    $null = Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows
    $path = Join-Path -Path $Folder -ChildPath $Csv
    $existing = Find-MigrationBatch -Name $BatchName
    if ($existing) {
        Write-Host ('    ' + $BatchName + ': the migration batch exists already (' + [string]$existing.Status + ')')
        return
    }
    if ($PSCmdlet.ShouldProcess($BatchName, 'New-MigrationBatch -SourceEndpoint ' + $Endpoint + ' -AutoStart')) {
        $null = New-MigrationBatch -Name $BatchName -SourceEndpoint $Endpoint -TargetDeliveryDomain $DeliveryDomain -CSVData ([System.IO.File]::ReadAllBytes($path)) -CompleteAfter $when -AutoStart -ErrorAction Stop
        if (-not $WhatIfPreference) {
            $after = Get-MigrationBatch -Identity $BatchName -ErrorAction Stop
            Write-Host ('    ' + $BatchName + ': ' + [string]$after.Status)
        }
    }
}

function Assert-CloudMoveWave {
    # moves.exo-complete: every user of the wave CSV Completed (Get-MigrationUserStatistics per user); read-only.
    [CmdletBinding()]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$BatchName)
    $pending = 0
    foreach ($row in @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)) {
        $user = Get-MigrationUserStatistics -Identity ([string]$row.EmailAddress) -ErrorAction Stop
        Write-Host ('    ' + [string]$row.EmailAddress + ': ' + [string]$user.Status + ' (batch ' + [string]$user.BatchId + ')')
        if (-not (Test-MoveRequestDone -Status ([string]$user.Status))) {
            $pending++
        }
    }
    if ($pending -gt 0 -and -not $WhatIfPreference) { throw ($BatchName + ': ' + $pending + ' of ' + $Rows + ' user(s) not completed: run this step again later') }
}

function Remove-CloudMoveWave {
    # moves.exo-cleanup: removes the migration batch once Completed (before any user of it moves again).
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$BatchName)
    $batch = Get-MigrationBatch -Identity $BatchName -ErrorAction Stop
    if (-not (Test-MoveRequestDone -Status ([string]$batch.Status))) { throw ($BatchName + ' is ' + [string]$batch.Status + ', not Completed: not removed') }
    if ($PSCmdlet.ShouldProcess($BatchName, 'Remove-MigrationBatch')) {
        Remove-MigrationBatch -Identity $BatchName -Confirm:$false -ErrorAction Stop
    }
}

# ----------------------------------------------------------------------------- client access

function Get-ClientAccessValue {
    # The URLs of one kind on one 2016 server as @{Kind; Identity; InternalUrl; ExternalUrl} (text; '' when unset).
    param([string]$Server, [string]$Kind, [string]$DomainController)
    $found = $null
    switch ($Kind) {
        'Owa' { $found = Get-OwaVirtualDirectory -Server $Server -ADPropertiesOnly -DomainController $DomainController -ErrorAction Stop }
        'Ecp' { $found = Get-EcpVirtualDirectory -Server $Server -ADPropertiesOnly -DomainController $DomainController -ErrorAction Stop }
        'WebServices' { $found = Get-WebServicesVirtualDirectory -Server $Server -ADPropertiesOnly -DomainController $DomainController -ErrorAction Stop }
        'ActiveSync' { $found = Get-ActiveSyncVirtualDirectory -Server $Server -ADPropertiesOnly -DomainController $DomainController -ErrorAction Stop }
        'Oab' { $found = Get-OabVirtualDirectory -Server $Server -ADPropertiesOnly -DomainController $DomainController -ErrorAction Stop }
        'Mapi' { $found = Get-MapiVirtualDirectory -Server $Server -ADPropertiesOnly -DomainController $DomainController -ErrorAction Stop }
        'OutlookAnywhere' { $found = Get-OutlookAnywhere -Server $Server -ADPropertiesOnly -DomainController $DomainController -ErrorAction Stop }
        'Autodiscover' { $found = Get-ClientAccessService -Identity $Server -DomainController $DomainController -ErrorAction Stop }
    }
    $found = @($found)
    if ($found.Count -ne 1) { throw ('Expected one ' + $Kind + ' object on ' + $Server + ', found ' + $found.Count + '; nothing was changed') }
    $item = $found[0]
    $value = @{ Kind = $Kind; Identity = [string]$item.Identity; InternalUrl = [string]$item.InternalUrl; ExternalUrl = [string]$item.ExternalUrl }
    if ($Kind -eq 'OutlookAnywhere') {
        $value.InternalUrl = [string]$item.InternalHostname; $value.ExternalUrl = [string]$item.ExternalHostname
        $value.Auth = [string]$item.ExternalClientAuthenticationMethod; $value.InternalAuth = [string]$item.InternalClientAuthenticationMethod
    }
    if ($Kind -eq 'Autodiscover') { $value.InternalUrl = [string]$item.AutoDiscoverServiceInternalUri; $value.ExternalUrl = '' }
    return $value
}

function Test-RollbackExport {
    # Whether a step writes its rollback baseline to -Path now (review 2 and 3, m5): on a real run only (a -WhatIf run
    # days ahead would freeze stale values as the rollback's), never over an earlier export, whose date it prints.
    param([string]$Path)
    if ($Path -eq '') { return $false }
    $kept = @(Get-ChildItem -LiteralPath $Path -ErrorAction SilentlyContinue)
    if ($kept.Count -gt 0) { Write-Host ('    the rollback keeps the values exported on ' + $kept[0].LastWriteTime.ToString('yyyy-MM-dd HH:mm') + ' to ' + $Path) }
    elseif ($WhatIfPreference) { Write-Host ('    what if: the current values would be exported to ' + $Path + ' for the rollback (a -WhatIf run writes none)') }
    return ($kept.Count -eq 0 -and -not $WhatIfPreference)
}

function Set-ClientAccessUrl {
    # servers.client-access-urls and its rollback: URLs, Outlook Anywhere host names or the Autodiscover SCP of one
    # 2016 server. The values found are exported to -ExportPath first, never over an earlier export (the rollback
    # runbook passes that file's rows back as -Urls); each value is read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [hashtable[]]$Urls, [string]$ExportPath = '', [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $before = @(foreach ($url in $Urls) { Get-ClientAccessValue -Server $Server -Kind $url.Kind -DomainController $DomainController })
    if (Test-RollbackExport -Path $ExportPath) {
        # One object per row (piped, not -InputObject), so Import-Clixml gives the rows back.
        $before | Export-Clixml -Path $ExportPath
        Write-Host ('    the current values are in ' + $ExportPath)
    }
    for ($i = 0; $i -lt $Urls.Count; $i++) {
        $want = $Urls[$i]
        $now = $before[$i]
        # Outlook Anywhere rows may carry the client authentication (Auth external, InternalAuth): NTLM while 2010 remains.
        $auth = [string]$want.Auth -ne ''
        if ($now.InternalUrl -eq $want.InternalUrl -and $now.ExternalUrl -eq $want.ExternalUrl -and (-not $auth -or ($now.Auth -eq $want.Auth -and $now.InternalAuth -eq $want.InternalAuth))) { continue }
        $in = $null
        $ex = $null
        if ($want.InternalUrl -ne '') { $in = $want.InternalUrl }
        if ($want.ExternalUrl -ne '') { $ex = $want.ExternalUrl }
        $what = 'Set ' + $want.Kind + ' internal ''' + $want.InternalUrl + ''', external ''' + $want.ExternalUrl + ''''
        if ($auth) { $what += ', client authentication ' + $want.Auth + ' (external), ' + $want.InternalAuth + ' (internal)' }
        if ($PSCmdlet.ShouldProcess($now.Identity, $what)) {
            switch ($want.Kind) {
                'Owa' { Set-OwaVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'Ecp' { Set-EcpVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'WebServices' { Set-WebServicesVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'ActiveSync' { Set-ActiveSyncVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'Oab' { Set-OabVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'Mapi' { Set-MapiVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'OutlookAnywhere' {
                    if ($auth) { Set-OutlookAnywhere -Identity $now.Identity -InternalHostname $in -ExternalHostname $ex -InternalClientsRequireSsl $true -ExternalClientsRequireSsl $true -ExternalClientAuthenticationMethod $want.Auth -InternalClientAuthenticationMethod $want.InternalAuth -DomainController $DomainController -ErrorAction Stop }
                    else { Set-OutlookAnywhere -Identity $now.Identity -InternalHostname $in -ExternalHostname $ex -InternalClientsRequireSsl $true -ExternalClientsRequireSsl $true -DomainController $DomainController -ErrorAction Stop }
                }
                'Autodiscover' { Set-ClientAccessService -Identity $Server -AutoDiscoverServiceInternalUri $in -DomainController $DomainController -ErrorAction Stop }
            }
        }
    }
    if ($WhatIfPreference) { return }
    foreach ($want in $Urls) {
        $now = Get-ClientAccessValue -Server $Server -Kind $want.Kind -DomainController $DomainController
        Assert-Equal -What ($Server + ' ' + $want.Kind + ' internal') -Expected $want.InternalUrl -Actual $now.InternalUrl
        Assert-Equal -What ($Server + ' ' + $want.Kind + ' external') -Expected $want.ExternalUrl -Actual $now.ExternalUrl
        if ([string]$want.Auth -ne '') {
            Assert-Equal -What ($Server + ' Outlook Anywhere external client authentication') -Expected $want.Auth -Actual $now.Auth
            Assert-Equal -What ($Server + ' Outlook Anywhere internal client authentication') -Expected $want.InternalAuth -Actual $now.InternalAuth
        }
    }
}

function Set-LegacyOutlookAnywhere {
    # servers.outlook-anywhere-2010 and its rollback (2010 EMS): Outlook Anywhere enabled with this external host
    # name, client and IIS authentication; the values found are exported to -ExportPath first; read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param(
        [string]$Server, [string]$ExternalHostname, [ValidateSet('Basic', 'Ntlm')][string]$ClientAuthenticationMethod,
        [string[]]$IISAuthenticationMethods, [string]$ExportPath = '', [string]$DomainController
    )
    Assert-DomainController -DomainController $DomainController
    $found = @(Get-OutlookAnywhere -Server $Server -ADPropertiesOnly -DomainController $DomainController -ErrorAction Stop)
    if (Test-RollbackExport -Path $ExportPath) {
        $saved = @{ Server = $Server; Enabled = ($found.Count -gt 0); ExternalHostname = ''; ClientAuthenticationMethod = 'Basic'; IISAuthenticationMethods = @('Basic') }
        if ($found.Count -gt 0) {
            $saved.ExternalHostname = [string]$found[0].ExternalHostname
            $saved.ClientAuthenticationMethod = [string]$found[0].ClientAuthenticationMethod
            $saved.IISAuthenticationMethods = @($found[0].IISAuthenticationMethods | ForEach-Object { [string]$_ })
        }
        Export-Clixml -InputObject $saved -Path $ExportPath
        Write-Host ('    the current values are in ' + $ExportPath)
    }
    $iis = ConvertTo-SortedList $IISAuthenticationMethods
    $what = 'external host name ' + $ExternalHostname + ', client ' + $ClientAuthenticationMethod + ', IIS ' + ($IISAuthenticationMethods -join ', ')
    if ($found.Count -eq 0) {
        if ($PSCmdlet.ShouldProcess($Server, 'Enable-OutlookAnywhere, ' + $what)) {
            Enable-OutlookAnywhere -Server $Server -ExternalHostname $ExternalHostname -ClientAuthenticationMethod $ClientAuthenticationMethod -SSLOffloading $false -IISAuthenticationMethods $IISAuthenticationMethods -DomainController $DomainController -ErrorAction Stop
        }
    }
    elseif ([string]$found[0].ExternalHostname -ne $ExternalHostname -or [string]$found[0].ClientAuthenticationMethod -ne $ClientAuthenticationMethod -or (ConvertTo-SortedList $found[0].IISAuthenticationMethods) -ne $iis) {
        if ($PSCmdlet.ShouldProcess([string]$found[0].Identity, 'Set-OutlookAnywhere, ' + $what)) {
            Set-OutlookAnywhere -Identity ([string]$found[0].Identity) -ExternalHostname $ExternalHostname -ClientAuthenticationMethod $ClientAuthenticationMethod -IISAuthenticationMethods $IISAuthenticationMethods -DomainController $DomainController -ErrorAction Stop
        }
    }
    if ($WhatIfPreference) { return }
    $now = @(Get-OutlookAnywhere -Server $Server -ADPropertiesOnly -DomainController $DomainController -ErrorAction Stop)
    if ($now.Count -ne 1) { throw ('Outlook Anywhere is not enabled on ' + $Server + ' after the change') }
    Assert-Equal -What ($Server + ' Outlook Anywhere ExternalHostname') -Expected $ExternalHostname -Actual ([string]$now[0].ExternalHostname)
    Assert-Equal -What ($Server + ' Outlook Anywhere ClientAuthenticationMethod') -Expected $ClientAuthenticationMethod -Actual ([string]$now[0].ClientAuthenticationMethod)
    Assert-Equal -What ($Server + ' Outlook Anywhere IISAuthenticationMethods') -Expected $iis -Actual (ConvertTo-SortedList $now[0].IISAuthenticationMethods)
}

function Assert-RpcProxyFeature {
    # servers.rpc-over-http (reads only): the RPC over HTTP Proxy feature's DLL is on the 2010 server (-Path, its
    # ADMIN$ share), else Enable-OutlookAnywhere would only write AD. Installing the feature is a manual step.
    [CmdletBinding()]
    param([string]$Server, [string]$Path)
    if (-not (Test-Path -LiteralPath $Path)) { throw ($Path + ' not found: install the RPC over HTTP Proxy feature on ' + $Server + ' by hand (Import-Module ServerManager; Add-WindowsFeature RPC-over-HTTP-proxy), then run this step again') }
    Write-Host ('    ' + $Server + ': ' + $Path + ' is there (RPC over HTTP Proxy installed)')
}

function Test-LegacyOutlookAnywhere {
    # servers.outlook-anywhere-verify (reads only, 2010 EMS): Outlook Anywhere read back without -ADPropertiesOnly
    # (the values IIS got from the Service Host) and -Url (/rpc/rpcproxy.dll) answering 401 with NTLM offered.
    [CmdletBinding()]
    param([string]$Server, [string]$ExternalHostname, [string]$ClientAuthenticationMethod, [string[]]$IISAuthenticationMethods, [string]$Url, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $now = @(Get-OutlookAnywhere -Server $Server -DomainController $DomainController -ErrorAction Stop)
    if ($now.Count -ne 1) { throw ('Outlook Anywhere is not enabled on ' + $Server) }
    Assert-Equal -What ($Server + ' Outlook Anywhere ExternalHostname') -Expected $ExternalHostname -Actual ([string]$now[0].ExternalHostname)
    Assert-Equal -What ($Server + ' Outlook Anywhere ClientAuthenticationMethod') -Expected $ClientAuthenticationMethod -Actual ([string]$now[0].ClientAuthenticationMethod)
    Assert-Equal -What ($Server + ' Outlook Anywhere IISAuthenticationMethods') -Expected (ConvertTo-SortedList $IISAuthenticationMethods) -Actual (ConvertTo-SortedList $now[0].IISAuthenticationMethods)
    $answer = Invoke-HttpProbe -Url $Url -AnyCertificate
    if ($answer.Status -ne 401 -or $answer.Authenticate -notmatch 'NTLM') { throw ($Url + ' answered HTTP ' + $answer.Status + ' (' + $answer.Authenticate + '), expected 401 offering NTLM: /rpc is not served (RPC over HTTP Proxy feature, Service Host) or lacks NTLM') }
    Write-Host ('    ' + $Url + ': HTTP 401, offers ' + $answer.Authenticate)
}

function Set-DatabaseOfflineAddressBook {
    # prepare.offline-address-book (2010 EMS): an explicit OAB (-OfflineAddressBook, '' = the current default OAB)
    # on each listed database that has none; -Clear (its rollback) empties it again where it is still that OAB, and
    # only while no 2016 server exists (after, cleared users would fall to the new default OAB: a full download). Read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string[]]$Database, [string]$OfflineAddressBook = '', [switch]$Clear, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    if ($Clear) {
        $modern = @(Get-ExchangeServer -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.AdminDisplayVersion -match '^Version 1[5-9]\.' })
        if ($modern.Count -gt 0) { throw ('Exchange ' + [string]$modern[0].Name + ' (' + [string]$modern[0].AdminDisplayVersion + ') is installed: clearing the OAB now sends these databases'' users to the new default OAB (a full download); nothing was changed') }
    }
    $oab = $OfflineAddressBook
    if (-not $Clear -and $oab -eq '') {
        $default = @(Get-OfflineAddressBook -DomainController $DomainController -ErrorAction Stop | Where-Object { $_.IsDefault })
        if ($default.Count -ne 1) { throw ('Expected one default offline address book, found ' + $default.Count + '; nothing was changed') }
        $oab = [string]$default[0].Name
    }
    foreach ($name in $Database) {
        $now = [string](Get-MailboxDatabase -Identity $name -DomainController $DomainController -ErrorAction Stop).OfflineAddressBook
        $ours = ($oab -eq '') -or ($now.TrimStart('\') -eq $oab.TrimStart('\'))
        if ($Clear -and $now -ne '' -and $ours) {
            if ($PSCmdlet.ShouldProcess($name, 'Clear OfflineAddressBook ' + $now)) {
                Set-MailboxDatabase -Identity $name -OfflineAddressBook $null -DomainController $DomainController -ErrorAction Stop
            }
        }
        elseif (-not $Clear -and $now -eq '') {
            if ($PSCmdlet.ShouldProcess($name, 'Set OfflineAddressBook to ' + $oab)) {
                Set-MailboxDatabase -Identity $name -OfflineAddressBook $oab -DomainController $DomainController -ErrorAction Stop
            }
        }
        else { Write-Host ('    ' + $name + ': OfflineAddressBook is ''' + $now + ''', left alone') }
        if ($WhatIfPreference) { continue }
        $after = [string](Get-MailboxDatabase -Identity $name -DomainController $DomainController -ErrorAction Stop).OfflineAddressBook
        if ($Clear -and $ours) { Assert-Equal -What ($name + ' OfflineAddressBook') -Expected '' -Actual $after }
        elseif ($after -eq '') { throw ('Verification failed: ' + $name + ' still has no OfflineAddressBook') }
    }
}

function Invoke-HttpProbe {
    # One HTTPS request (no redirects): status, Location, WWW-Authenticate and body; no answer (name, connection,
    # certificate) stops the run. -AnyCertificate: a GET of a server by its own name (rarely on its certificate).
    param([string]$Url, [string]$Body = '', [string]$Smtp = '', [switch]$AnyCertificate)
    $request = [System.Net.HttpWebRequest]::Create($Url)
    $request.AllowAutoRedirect = $false
    if ($Smtp -ne '') { $request.Credentials = $Host.UI.PromptForCredential('migrator', 'Credentials of ' + $Smtp, $Smtp, '').GetNetworkCredential() }
    if ($Body -ne '') {
        $request.Method = 'POST'
        $request.ContentType = 'text/xml'
        $bytes = [System.Text.Encoding]::UTF8.GetBytes($Body)
        $stream = $request.GetRequestStream()
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Close()
    }
    $before = [System.Net.ServicePointManager]::ServerCertificateValidationCallback
    if ($AnyCertificate) { [System.Net.ServicePointManager]::ServerCertificateValidationCallback = { $true } }
    try { $response = $request.GetResponse() }
    catch [System.Net.WebException] {
        if ($null -eq $_.Exception.Response) { throw ($Url + ': ' + $_.Exception.Message) }
        $response = $_.Exception.Response
    }
    finally { [System.Net.ServicePointManager]::ServerCertificateValidationCallback = $before }
    $answer = @{ Status = [int]$response.StatusCode; Location = [string]$response.Headers['Location']; Authenticate = [string]$response.Headers['WWW-Authenticate'] }
    $answer.Text = (New-Object System.IO.StreamReader($response.GetResponseStream())).ReadToEnd()
    $response.Close()
    return $answer
}

function Test-ClientNamespace {
    # servers.namespace-verify and its rollback (reads only): waits until each name resolves to -Expected only, then
    # OWA answers 200 or 302 to its logon page over HTTPS with a trusted certificate, Autodiscover asks an anonymous
    # request for credentials (401) and returns Outlook settings (200 with <Protocol>) for each -Mailbox.
    [CmdletBinding()]
    param([string[]]$Name, [string[]]$Expected, [string]$OwaUrl, [string]$AutodiscoverUrl, [string[]]$Mailbox, [int]$WaitMinutes = 60)
    $want = ConvertTo-SortedList $Expected
    $deadline = (Get-Date).AddMinutes($WaitMinutes)
    foreach ($dnsName in $Name) {
        while ($true) {
            $got = ConvertTo-SortedList @(Resolve-DnsName -Name $dnsName -Type A_AAAA -DnsOnly -ErrorAction SilentlyContinue | Where-Object { $_.IPAddress } | ForEach-Object { $_.IPAddress })
            if ($got -eq $want) { Write-Host ('    ' + $dnsName + ' -> ' + $got); break }
            if ((Get-Date) -gt $deadline) { throw ($dnsName + ' resolves to ''' + $got + ''' after ' + $WaitMinutes + ' minutes, expected ''' + $want + ''': check the records and their TTL') }
            Write-Host ('    ' + $dnsName + ' -> ''' + $got + ''', waiting for ''' + $want + '''')
            Start-Sleep -Seconds 60
        }
    }
    # OWA: 200 (the logon form) or 302 to /owa/auth/ (forms-based authentication). 401/403 (authentication or SSL
    # settings), 404 (the directory) or 5xx (the server) is not OWA answering as expected.
    $owa = Invoke-HttpProbe -Url $OwaUrl
    if (-not ($owa.Status -eq 200 -or ($owa.Status -eq 302 -and $owa.Location -match '/owa/auth/'))) { throw ($OwaUrl + ' answered HTTP ' + $owa.Status + ' ' + $owa.Location + ', expected 200 or 302 to /owa/auth/') }
    Write-Host ('    ' + $OwaUrl + ': HTTP ' + $owa.Status + ' ' + $owa.Location)
    $body = '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>{0}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>'
    $anonymous = Invoke-HttpProbe -Url $AutodiscoverUrl -Body ($body -f 'probe@invalid')
    if ($anonymous.Status -ne 401) { throw ($AutodiscoverUrl + ' answered an anonymous request with HTTP ' + $anonymous.Status + ', expected 401 (credentials asked for)') }
    Write-Host ('    ' + $AutodiscoverUrl + ' (anonymous): HTTP 401')
    $smtps = @($Mailbox | Where-Object { $_ -ne '' })
    if ($smtps.Count -eq 0) { Write-Warning 'No -Mailbox2010 or -Mailbox2016 given: the Autodiscover probes of a mailbox were skipped' }
    foreach ($smtp in $smtps) {
        $answer = Invoke-HttpProbe -Url $AutodiscoverUrl -Smtp $smtp -Body ($body -f [System.Security.SecurityElement]::Escape($smtp))
        if ($answer.Status -ne 200 -or $answer.Text -notmatch '<Protocol>') { throw ('Autodiscover for ' + $smtp + ' answered HTTP ' + $answer.Status + ' without Outlook settings') }
        Write-Host ('    ' + $AutodiscoverUrl + ' ' + $smtp + ': HTTP 200 with Outlook settings')
    }
}

function Assert-No2016Mailbox {
    # servers.rollback.namespace-guard (reads only): the namespace may go back to 2010 only while no user, shared,
    # room or equipment mailbox is on a 2016 server (2010 Client Access cannot serve them).
    [CmdletBinding()]
    param([string[]]$Server, [string[]]$Exclude = @(), [string]$DomainController)  # -Exclude: the test mailbox
    Assert-DomainController -DomainController $DomainController
    $all = @()
    $types = @('UserMailbox', 'SharedMailbox', 'RoomMailbox', 'EquipmentMailbox')
    foreach ($name in $Server) {
        $all += @(Get-Mailbox -Server $name -RecipientTypeDetails $types -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
    }
    $found = @($all | Where-Object { $Exclude -notcontains [string]$_.PrimarySmtpAddress })
    foreach ($test in @($all | Where-Object { $Exclude -contains [string]$_.PrimarySmtpAddress })) { Write-Host ('    ' + [string]$test.PrimarySmtpAddress + ': the namespace test mailbox, not counted') }
    if ($found.Count -gt 0) { throw ([string]$found.Count + ' production mailbox(es) are on ' + ($Server -join ', ') + ' (' + ((@($found | Select-Object -First 5 | ForEach-Object { [string]$_.PrimarySmtpAddress })) -join ', ') + ', ...): pointing the namespace back at 2010 would cut them off. Do not roll back: fix forward on 2016 (namespace-verify names what fails), or first move those mailboxes back to 2010 (the waves'' rollback runbooks), then run this again') }
    Write-Host ('    no production mailbox on ' + ($Server -join ', ') + ': the namespace may go back to 2010')
}

function Set-DatabaseProvisioning {
    # onward.exclude-provisioning: new mailboxes (new hires, offboarded users) no longer land on these databases
    # (-Excluded $true) or may again (the rollback, $false); each set only where it differs, then read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string[]]$Database, [bool]$Excluded, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    foreach ($name in $Database) {
        $now = Get-MailboxDatabase -Identity $name -DomainController $DomainController -ErrorAction Stop
        if ([bool]$now.IsExcludedFromProvisioning -eq $Excluded) {
            Write-Host ('    ' + $name + ': IsExcludedFromProvisioning is ' + $Excluded + ' already')
            continue
        }
        if ($PSCmdlet.ShouldProcess($name, 'Set-MailboxDatabase -IsExcludedFromProvisioning ' + $Excluded)) {
            Set-MailboxDatabase -Identity $name -IsExcludedFromProvisioning $Excluded -DomainController $DomainController -ErrorAction Stop
        }
        if (-not $WhatIfPreference) {
            $after = Get-MailboxDatabase -Identity $name -DomainController $DomainController -ErrorAction Stop
            Assert-Equal -What ('IsExcludedFromProvisioning of ' + $name) -Expected ([string]$Excluded) -Actual ([string][bool]$after.IsExcludedFromProvisioning)
        }
    }
}

function Assert-NoMailboxOnServer {
    # onward.mailboxes-gone (reads only): before an Exchange server is removed, no mailbox of any type is left on a
    # database with a copy on it: user, shared, room, equipment, discovery, arbitration (the OAB generation and
    # Migration mailboxes among them), public folder, audit log; nor an archive. Monitoring mailboxes are listed, not
    # counted: the Health Manager recreates them while the server runs and Setup removes them (not verified).
    [CmdletBinding()]
    param([string]$Server, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    # every database with a copy on the server (Servers), not only those whose active copy it holds
    $databases = @(Get-MailboxDatabase -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Server -eq $Server -or @($_.Servers | ForEach-Object { [string]$_ }) -contains $Server } | ForEach-Object { [string]$_.Name })
    $left = @()
    foreach ($database in $databases) {
        $left += @(Get-Mailbox -Database $database -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
        $left += @(Get-Mailbox -Arbitration -Database $database -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
        $left += @(Get-Mailbox -PublicFolder -Database $database -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
        $left += @(Get-Mailbox -AuditLog -Database $database -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
        $left += @(Get-Mailbox -AuxAuditLog -Database $database -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
        foreach ($health in @(Get-Mailbox -Monitoring -Database $database -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)) {
            Write-Host ('    ' + [string]$health.Name + ': a monitoring mailbox on ' + $database + ', not counted')
        }
    }
    $left += @(Get-Mailbox -Archive -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop | Where-Object { $databases -contains [string]$_.ArchiveDatabase })
    foreach ($mailbox in @($left | Select-Object -First 20)) {
        Write-Host ('    still there: ' + [string]$mailbox.Name + ' (' + [string]$mailbox.RecipientTypeDetails + ', ' + [string]$mailbox.Database + ', archive ' + [string]$mailbox.ArchiveDatabase + ')')
    }
    if ($left.Count -gt 0) {
        $what = [string]$left.Count + ' mailbox(es) or archive(s) are still on the databases of ' + $Server + ' (' + ($databases -join ', ') + ')'
        # A rehearsal (-WhatIf) before the moves is told, not failed (review 8, m3); the real run stops.
        if ($WhatIfPreference) { Write-Warning ('    ' + $what + ': the real run stops here until they are moved'); return }
        throw ($what + ': move them (the onward phase''s move steps), then run this again')
    }
    Write-Host ('    no mailbox of any type on ' + $Server + ' (' + ($databases -join ', ') + ')')
}


# ----------------------------------------------------------------------------- public folders (docs/public-folders.md)

function Set-PublicFolderMigrationFlag {
    # public-folders.org-flag (EMS 2010): PublicFoldersLockedForMigration or PublicFolderMigrationComplete, read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([ValidateSet('PublicFoldersLockedForMigration', 'PublicFolderMigrationComplete')][string]$Flag, [bool]$Value, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $now = [string](Get-OrganizationConfig -DomainController $DomainController -ErrorAction Stop).$Flag
    if ($now -eq [string]$Value) {
        Write-Host ('    ' + $Flag + ' is ' + $now + ' already')
        return
    }
    if ($PSCmdlet.ShouldProcess('organisation', 'Set-OrganizationConfig -' + $Flag + ' ' + $Value + ' (was ' + $now + ')')) {
        if ($Flag -eq 'PublicFoldersLockedForMigration') {
            Set-OrganizationConfig -PublicFoldersLockedForMigration $Value -DomainController $DomainController -ErrorAction Stop
        } else {
            Set-OrganizationConfig -PublicFolderMigrationComplete $Value -DomainController $DomainController -ErrorAction Stop
        }
        Assert-Equal -What $Flag -Expected $Value -Actual (Get-OrganizationConfig -DomainController $DomainController -ErrorAction Stop).$Flag
    }
}

function Set-PublicFolderAccess {
    # public-folders.access (2016 EMS): PublicFoldersEnabled, and for Remote the 2010 proxy mailboxes, read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([ValidateSet('Local', 'Remote')][string]$Enabled, [string[]]$RemoteMailbox = @(), [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    foreach ($name in $RemoteMailbox) {
        $null = Get-Mailbox -Identity $name -DomainController $DomainController -ErrorAction Stop
    }
    $config = Get-OrganizationConfig -DomainController $DomainController -ErrorAction Stop
    $wanted = ConvertTo-SortedList $RemoteMailbox
    $same = ([string]$config.PublicFoldersEnabled -eq $Enabled) -and ($RemoteMailbox.Count -eq 0 -or (ConvertTo-SortedList @($config.RemotePublicFolderMailboxes | ForEach-Object { ([string]$_ -split '/')[-1] })) -eq $wanted)
    if ($same) {
        Write-Host ('    PublicFoldersEnabled is ' + $Enabled + ' already')
        return
    }
    if ($PSCmdlet.ShouldProcess('organisation', 'Set-OrganizationConfig -PublicFoldersEnabled ' + $Enabled + ' ' + ($RemoteMailbox -join ',') + ' (was ' + [string]$config.PublicFoldersEnabled + ')')) {
        if ($RemoteMailbox.Count -gt 0) {
            Set-OrganizationConfig -PublicFoldersEnabled $Enabled -RemotePublicFolderMailboxes $RemoteMailbox -DomainController $DomainController -ErrorAction Stop
        } else {
            Set-OrganizationConfig -PublicFoldersEnabled $Enabled -DomainController $DomainController -ErrorAction Stop
        }
        Assert-Equal -What 'PublicFoldersEnabled' -Expected $Enabled -Actual (Get-OrganizationConfig -DomainController $DomainController -ErrorAction Stop).PublicFoldersEnabled
    }
}

function Get-PublicFolderMapFile {
    # A file of the public folder work folder (Microsoft's scripts, the snapshot, the maps); -Exists: it must be there.
    param([string]$Folder, [string]$Name, [switch]$Exists)
    if ($Folder -eq '') {
        throw 'Pass -PFMigrationFolder <folder with Microsoft''s public folder migration scripts and their .psd1 files>'
    }
    $path = Join-Path -Path $Folder -ChildPath $Name
    if ($Exists -and -not (Test-Path -LiteralPath $path -PathType Leaf)) {
        if ($WhatIfPreference) {
            Write-Host ('    What if: ' + $path + ' is not there yet (an earlier step writes it); this step is skipped')
            return $null
        }
        throw ('Not found: ' + $path + ' (copy the public folder work folder of the earlier steps here)')
    }
    return $path
}

function Assert-PublicFolderSource {
    # public-folders.check-2010 (EMS 2010, reads only): the migration flags are False and no folder name holds \ or /.
    [CmdletBinding()]
    param([int]$Folders, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $config = Get-OrganizationConfig -DomainController $DomainController -ErrorAction Stop
    foreach ($flag in @('PublicFoldersLockedForMigration', 'PublicFolderMigrationComplete')) {
        if ([string]$config.$flag -ne 'False') {
            throw ($flag + ' is ' + [string]$config.$flag + ': a migration ran before. Set it to $false in EMS 2010 (Set-OrganizationConfig) and wait up to 2 hours before going on')
        }
    }
    $all = @(Get-PublicFolder -Identity '\' -Recurse -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
    Write-Host ('    ' + $all.Count + ' public folders with the root (the inventory had ' + $Folders + ')')
    $bad = @($all | Where-Object { ([string]$_.Name).Contains('\') -or ([string]$_.Name).Contains('/') })
    if ($bad.Count -gt 0) {
        throw ('Rename these folders first (the batch migration refuses \ and / in names): ' + ((@($bad | ForEach-Object { [string]$_.Identity })) -join '; '))
    }
}

function Assert-PublicFolderReplicas {
    # public-folders.replicas (EMS 2010, reads only): every folder has a replica on the database the map and the batch
    # read from, and each folder's item count is the same on every public folder server (replicas in sync).
    [CmdletBinding()]
    param([string]$Database, [string]$Server, [string[]]$Servers, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $folders = @(Get-PublicFolder -Identity '\' -Recurse -ResultSize Unlimited -Server $Server -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Identity -ne '\' })
    $missing = @($folders | Where-Object { -not (@($_.Replicas | ForEach-Object { ([string]$_ -split '\\')[-1] }) -contains $Database) })
    if ($missing.Count -gt 0) {
        throw ([string]$missing.Count + ' folder(s) have no replica on ' + $Database + ': add one (Set-PublicFolder -Replicas with the existing ones), wait for replication, run again: ' + ((@($missing | Select-Object -First 10 | ForEach-Object { [string]$_.Identity })) -join '; '))
    }
    $seen = @{}
    $behind = @()
    foreach ($name in $Servers) {
        foreach ($row in @(Get-PublicFolderStatistics -Server $name -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)) {
            $key = [string]$row.FolderPath
            if ($seen.ContainsKey($key) -and $seen[$key] -ne [string]$row.ItemCount) { $behind += ($key + ' (' + $seen[$key] + ' and ' + [string]$row.ItemCount + ' items)') }
            $seen[$key] = [string]$row.ItemCount
        }
    }
    Write-Host ('    ' + $folders.Count + ' folders, each with a replica on ' + $Database + '; ' + $behind.Count + ' with differing item counts')
    if ($behind.Count -gt 0) {
        throw ('Replicas not in sync: ' + ($behind -join '; ') + ': let replication catch up (Update-PublicFolder) and run this step again')
    }
}

function Export-PublicFolderSnapshot {
    # public-folders.snapshot (EMS 2010): folders, statistics and client permissions, all read from the source server
    # (-Server, review 3, F10: another replica may differ), to CliXML.
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([string]$Server, [string]$Folder, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $folders = @(Get-PublicFolder -Identity '\' -Recurse -ResultSize Unlimited -Server $Server -DomainController $DomainController -ErrorAction Stop)
    $folders | Export-Clixml -Path (Get-PublicFolderMapFile -Folder $Folder -Name 'Legacy_PFStructure.xml')
    Get-PublicFolderStatistics -Server $Server -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop | Export-Clixml -Path (Get-PublicFolderMapFile -Folder $Folder -Name 'Legacy_PFStatistics.xml')
    $folders | ForEach-Object { Get-PublicFolderClientPermission -Identity ([string]$_.Identity) -Server $Server -DomainController $DomainController -ErrorAction Stop } | Select-Object -Property @('Identity', 'User') -ExpandProperty AccessRights | Export-Clixml -Path (Get-PublicFolderMapFile -Folder $Folder -Name 'Legacy_PFPerms.xml')
}

function Invoke-PublicFolderMapScript {
    # public-folders.map (EMS 2010): Microsoft's Export-PublicFolderStatistics.ps1, then PublicFolderToMailboxMapGenerator.ps1.
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([string]$Folder, [string]$Server, [long]$MaxBytes, [string]$SizeCsv, [string]$MapCsv)
    $sizes = Get-PublicFolderMapFile -Folder $Folder -Name $SizeCsv
    $map = Get-PublicFolderMapFile -Folder $Folder -Name $MapCsv
    if (Test-Path -LiteralPath $map -PathType Leaf) {
        Write-Host ('    ' + $map + ' exists already (delete it to make it again)')
        return
    }
    if ($PSCmdlet.ShouldProcess($Server, 'Export-PublicFolderStatistics.ps1, PublicFolderToMailboxMapGenerator.ps1 ' + $MaxBytes)) {
        $script = Get-PublicFolderMapFile -Folder $Folder -Name 'Export-PublicFolderStatistics.ps1' -Exists
        & $script $sizes $Server
        $script = Get-PublicFolderMapFile -Folder $Folder -Name 'PublicFolderToMailboxMapGenerator.ps1' -Exists
        & $script $MaxBytes $sizes $map
        $null = Get-PublicFolderMapFile -Folder $Folder -Name $MapCsv -Exists
    }
}

function Compare-PublicFolderMap {
    # public-folders.compare-map (reads only): Microsoft's map against migrator's forecast (mailbox count, the root's row).
    [CmdletBinding()]
    param([string]$Folder, [string]$MapCsv, [string]$ForecastFolder, [string]$Forecast, [int]$Mailboxes)
    $path = Get-PublicFolderMapFile -Folder $Folder -Name $MapCsv -Exists
    if (-not $path) { return }
    $rows = @(Import-Csv -LiteralPath $path -ErrorAction Stop)
    $theirs = @($rows | ForEach-Object { [string]$_.TargetMailbox } | Sort-Object -Unique).Count
    $ours = @(Import-Csv -LiteralPath (Join-Path -Path $ForecastFolder -ChildPath $Forecast) -ErrorAction Stop)
    Write-Host ('    Microsoft''s map: ' + $rows.Count + ' rows, ' + $theirs + ' mailbox(es); migrator''s forecast: ' + $ours.Count + ' folders, ' + $Mailboxes + ' mailbox(es)')
    if ($rows.Count -eq 0 -or [string]$rows[0].FolderPath -ne '\') {
        throw ('The first row of ' + $MapCsv + ' must map the root folder \ (Microsoft''s script writes it so): make the map again')
    }
    if ($theirs -ne $Mailboxes) {
        Write-Warning ('The mailbox counts differ (' + $theirs + ' against ' + $Mailboxes + '): check the sizes in the statistics file and the -MaxBytes value before creating the mailboxes')
    }
}

function Assert-PublicFolderTarget {
    # public-folders.check-2016 (reads only): flags False, no public folder mailbox or other public folder batch, Migration mailbox on 2016.
    [CmdletBinding()]
    param([string]$BatchName, [string]$MigrationMailbox, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    if (Find-MigrationBatch -Name $BatchName) {
        Write-Host ('    ' + $BatchName + ' exists already: checked before it was created')
        return
    }
    $config = Get-OrganizationConfig -DomainController $DomainController -ErrorAction Stop
    foreach ($flag in @('PublicFoldersLockedForMigration', 'PublicFolderMigrationComplete')) {
        Assert-Equal -What $flag -Expected 'False' -Actual ([string]$config.$flag)
    }
    $pf = @(Get-Mailbox -PublicFolder -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
    $batches = @(Get-MigrationBatch -ErrorAction Stop | Where-Object { [string]$_.MigrationType -eq 'PublicFolder' })
    if ($pf.Count -gt 0 -or $batches.Count -gt 0) {
        throw ([string]$pf.Count + ' public folder mailbox(es) and ' + $batches.Count + ' public folder migration batch(es) exist: remove them first (docs/public-folders.md, "start again")')
    }
    $arbitration = Get-Mailbox -Arbitration -Identity $MigrationMailbox -DomainController $DomainController -ErrorAction Stop
    $server = Get-ExchangeServer -Identity ([string]$arbitration.ServerName) -DomainController $DomainController -ErrorAction Stop
    if ([string]$server.AdminDisplayVersion -match '^Version 14\.') {
        throw ($MigrationMailbox + ' is still on Exchange 2010 (' + [string]$arbitration.ServerName + '): the batch would hang in Starting; move the arbitration mailboxes first')
    }
}

function New-PublicFolderMailboxFromMap {
    # public-folders.create-mailboxes (2016 EMS): Microsoft's Create-PublicFolderMailboxesForMigration.ps1, read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$MapCsv, [int]$ConcurrentUsers, [string]$DomainController)
    $map = Get-PublicFolderMapFile -Folder $Folder -Name $MapCsv -Exists
    if (-not $map) { return }
    $needed = @(Import-Csv -LiteralPath $map -ErrorAction Stop | ForEach-Object { [string]$_.TargetMailbox } | Sort-Object -Unique).Count
    $have = @(Get-Mailbox -PublicFolder -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop).Count
    if ($have -ge $needed) {
        Write-Host ('    ' + $have + ' public folder mailbox(es) exist already (the map needs ' + $needed + ')')
        return
    }
    if ($PSCmdlet.ShouldProcess($map, 'Create-PublicFolderMailboxesForMigration.ps1 -EstimatedNumberOfConcurrentUsers ' + $ConcurrentUsers)) {
        $script = Get-PublicFolderMapFile -Folder $Folder -Name 'Create-PublicFolderMailboxesForMigration.ps1' -Exists
        & $script -FolderMappingCsv $map -EstimatedNumberOfConcurrentUsers $ConcurrentUsers
        $have = @(Get-Mailbox -PublicFolder -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop).Count
        if ($have -lt $needed) {
            throw ([string]$have + ' public folder mailbox(es) after the script, the map needs ' + $needed)
        }
    }
}

function Start-PublicFolderBatch {
    # public-folders.batch (2016 EMS): New-MigrationBatch -SourcePublicFolderDatabase from the map, then Start-MigrationBatch.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$BatchName, [string]$SourceServer, [string]$Folder, [string]$MapCsv)
    $existing = Find-MigrationBatch -Name $BatchName
    if ($existing) {
        Write-Host ('    ' + $BatchName + ' exists already (' + [string]$existing.Status + ')')
        return
    }
    $map = Get-PublicFolderMapFile -Folder $Folder -Name $MapCsv -Exists
    if (-not $map) { return }
    if ($PSCmdlet.ShouldProcess($BatchName, 'New-MigrationBatch -SourcePublicFolderDatabase (Get-PublicFolderDatabase -Server ' + $SourceServer + '), Start-MigrationBatch')) {
        $null = New-MigrationBatch -Name $BatchName -SourcePublicFolderDatabase (Get-PublicFolderDatabase -Server $SourceServer -ErrorAction Stop) -CSVData ([System.IO.File]::ReadAllBytes($map)) -ErrorAction Stop
        Start-MigrationBatch -Identity $BatchName -ErrorAction Stop
        Write-Host ('    ' + $BatchName + ': ' + [string](Get-MigrationBatch -Identity $BatchName -ErrorAction Stop).Status)
    }
}

function Assert-PublicFolderBatchSynced {
    # public-folders.synced (reads only): the batch and every public folder mailbox migration request Synced.
    [CmdletBinding()]
    param([string]$BatchName)
    $batch = Find-MigrationBatch -Name $BatchName
    if (-not $batch) {
        if ($WhatIfPreference) { return }
        throw ('No migration batch ' + $BatchName + ': run the batch step first')
    }
    $requests = @(Get-PublicFolderMailboxMigrationRequest -ResultSize Unlimited -ErrorAction Stop)
    foreach ($request in $requests) {
        Write-Host ('    ' + [string]$request.Name + ': ' + [string]$request.Status)
    }
    $behind = @($requests | Where-Object { [string]$_.Status -ne 'Synced' })
    if (-not $WhatIfPreference -and ([string]$batch.Status -notmatch '^Synced' -or $behind.Count -gt 0)) {
        throw ($BatchName + ' is ' + [string]$batch.Status + ', ' + $behind.Count + ' request(s) not Synced: run this step again later')
    }
}

function Complete-PublicFolderBatch {
    # public-folders.finalise (2016 EMS, lock window): the 2010 lock in place, PublicFoldersEnabled Remote, Complete-MigrationBatch.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$BatchName, [string]$DomainController)
    $batch = Find-MigrationBatch -Name $BatchName
    if (-not $batch) {
        if ($WhatIfPreference) { return }
        throw ('No migration batch ' + $BatchName + ': run migrate.ps1 first')
    }
    if ([string]$batch.Status -match '^Completed') {
        Write-Host ('    ' + $BatchName + ' is ' + [string]$batch.Status)
        return
    }
    if (-not $WhatIfPreference) {
        Assert-Equal -What 'PublicFoldersLockedForMigration' -Expected 'True' -Actual ([string](Get-OrganizationConfig -DomainController $DomainController -ErrorAction Stop).PublicFoldersLockedForMigration)
    }
    Set-PublicFolderAccess -Enabled Remote -DomainController $DomainController
    if ([string]$batch.Status -match '^Synced' -and $PSCmdlet.ShouldProcess($BatchName, 'Complete-MigrationBatch')) {
        Complete-MigrationBatch -Identity $BatchName -Confirm:$false -ErrorAction Stop
        $batch = Get-MigrationBatch -Identity $BatchName -ErrorAction Stop
    }
    if (-not $WhatIfPreference -and [string]$batch.Status -notmatch '^Completed') {
        throw ($BatchName + ' is ' + [string]$batch.Status + ': run this step again later (hours; if it never completes, restart the Information Store on the 2010 server)')
    }
}

function Test-PublicFolderMailboxAccess {
    # public-folders.verify (2016 EMS): a test mailbox served by the root public folder mailbox; folder counts read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$TestMailbox, [int]$Folders, [int]$MailEnabled, [string]$DomainController)
    if ($TestMailbox -eq '') {
        throw 'Pass -TestMailbox <a 2016 test user''s mailbox> to test the migrated public folders with'
    }
    $root = @(Get-Mailbox -PublicFolder -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop | Where-Object { $_.IsRootPublicFolderMailbox })
    if ($root.Count -eq 0) {
        if ($WhatIfPreference) { return }
        throw 'No root public folder mailbox: run the create-mailboxes and finalise steps first'
    }
    $root = $root[0]
    if ($PSCmdlet.ShouldProcess($TestMailbox, 'Set-Mailbox -DefaultPublicFolderMailbox ' + [string]$root.Name)) {
        Set-Mailbox -Identity $TestMailbox -DefaultPublicFolderMailbox ([string]$root.Name) -DomainController $DomainController -ErrorAction Stop
        Assert-Equal -What ('DefaultPublicFolderMailbox of ' + $TestMailbox) -Expected ([string]$root.Name) -Actual (([string](Get-Mailbox -Identity $TestMailbox -DomainController $DomainController -ErrorAction Stop).DefaultPublicFolderMailbox -split '/')[-1])
    }
    $found = @(Get-PublicFolder -Identity '\' -Recurse -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop).Count
    $mail = @(Get-MailPublicFolder -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop).Count
    Write-Host ('    ' + $found + ' folders (' + $Folders + ' in the inventory), ' + $mail + ' mail-enabled (' + $MailEnabled + '): now open them in Outlook as ' + $TestMailbox)
    if ($found -lt $Folders -or $mail -lt $MailEnabled) {
        throw 'Fewer folders than the inventory: compare with Legacy_PFStructure.xml before unlocking (or roll back)'
    }
}

function Enable-PublicFolderHierarchy {
    # public-folders.unlock (2016 EMS): every public folder mailbox serves the hierarchy (IsExcludedFromServingHierarchy $false).
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$DomainController)
    foreach ($mailbox in @(Get-Mailbox -PublicFolder -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop | Where-Object { $_.IsExcludedFromServingHierarchy })) {
        $name = [string]$mailbox.Name
        if ($PSCmdlet.ShouldProcess($name, 'Set-Mailbox -PublicFolder -IsExcludedFromServingHierarchy $false')) {
            Set-Mailbox -Identity $name -PublicFolder -IsExcludedFromServingHierarchy $false -DomainController $DomainController -ErrorAction Stop
            Assert-Equal -What ('IsExcludedFromServingHierarchy of ' + $name) -Expected 'False' -Actual ([string](Get-Mailbox -Identity $name -PublicFolder -DomainController $DomainController -ErrorAction Stop).IsExcludedFromServingHierarchy)
        }
    }
}

function Remove-PublicFolderBatch {
    # public-folders.rollback.remove-batch (2016 EMS): no public folder mailbox is left (the manual removal read back),
    # then the migration batch is removed, read back (a new attempt's check-2016 refuses any public folder batch).
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$BatchName, [string]$DomainController)
    $left = @(Get-Mailbox -PublicFolder -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
    if ($left.Count -gt 0 -and -not $WhatIfPreference) {
        throw ([string]$left.Count + ' public folder mailbox(es) left: remove them first (the step before), the root one last')
    }
    if (-not (Find-MigrationBatch -Name $BatchName)) {
        Write-Host ('    ' + $BatchName + ' is gone already')
        return
    }
    if ($PSCmdlet.ShouldProcess($BatchName, 'Remove-MigrationBatch')) {
        Remove-MigrationBatch -Identity $BatchName -Confirm:$false -ErrorAction Stop
        if (Find-MigrationBatch -Name $BatchName) { throw ($BatchName + ' is still listed: run this step again in a few minutes') }
    }
}

function Invoke-ModernMailPublicFolderSync {
    # public-folders.hybrid.mail-sync-modern (2016 EMS): Microsoft's Sync-ModernMailPublicFolders.ps1 (and its .psd1) from the
    # public folder work folder; it writes -CsvSummaryFile and syncs only differences (run it again safely).
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$SummaryCsv)
    $summary = Get-PublicFolderMapFile -Folder $Folder -Name $SummaryCsv
    if ($PSCmdlet.ShouldProcess('Exchange Online', 'Sync-ModernMailPublicFolders.ps1 -CsvSummaryFile ' + $summary)) {
        $null = Get-PublicFolderMapFile -Folder $Folder -Name 'SyncModernMailPublicFolders.strings.psd1' -Exists
        $script = Get-PublicFolderMapFile -Folder $Folder -Name 'Sync-ModernMailPublicFolders.ps1' -Exists
        & $script -CsvSummaryFile $summary
        $rows = @(Import-Csv -LiteralPath (Get-PublicFolderMapFile -Folder $Folder -Name $SummaryCsv -Exists) -ErrorAction Stop)
        Write-Host ('    ' + $rows.Count + ' row(s) in ' + $summary + ': read it for errors before the next step')
    }
}

function Set-CloudPublicFolderAccess {
    # public-folders.hybrid.* (Exchange Online PowerShell): Exchange Online users reach the on-premises public folders through
    # -RemoteMailbox (or the TargetMailbox names of Microsoft's map, -MapCsv); each must be a MailUser in Exchange Online
    # and each mail-enabled folder's -Address known there first. PublicFoldersEnabled Remote, read back.
    # -LegacyRecord (rollback 5): back to the 2010 proxy mailboxes only on a fresh read-back that their public folder
    # databases still exist (Assert-LegacyPublicFolderDatabase, written less than an hour ago in the 2016 shell).
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string[]]$RemoteMailbox = @(), [string[]]$Address = @(), [string]$Folder = '', [string]$MapCsv = '',
        [string]$LegacyRecord = '')
    if ($LegacyRecord -ne '') {
        $record = Get-PublicFolderMapFile -Folder $Folder -Name $LegacyRecord -Exists
        if (-not $record) { return }
        $seen = Import-Clixml -Path $record -ErrorAction Stop
        $age = (Get-Date).ToUniversalTime() - [datetime]$seen.CheckedUtc
        if ($age.TotalMinutes -gt 60 -or $age.TotalMinutes -lt -5) {
            throw ($record + ' was written ' + [string][int]$age.TotalMinutes + ' minutes ago: run rollback-5-check-legacy-databases.ps1 in the 2016 Management Shell again first')
        }
        if (@($seen.Databases).Count -eq 0) { throw ($record + ' lists no 2010 public folder database: there is nothing to go back to') }
        if (-not $seen.RolledBack) { throw ($record + ' was not written by rollback-5-check-legacy-databases.ps1 (which also checks that rollbacks 1-4 ran): run it first') }
        Write-Host ('    2010 public folder databases read back at ' + [string]$seen.CheckedUtc + ' UTC: ' + (@($seen.Databases) -join ', '))
    }
    if ($MapCsv -ne '') {
        $map = Get-PublicFolderMapFile -Folder $Folder -Name $MapCsv -Exists
        if (-not $map) { return }
        $RemoteMailbox = @(Import-Csv -LiteralPath $map -ErrorAction Stop | ForEach-Object { [string]$_.TargetMailbox } | Sort-Object -Unique)
    }
    if ($RemoteMailbox.Count -eq 0) { throw 'No public folder mailbox to name: check the map' }
    foreach ($name in $RemoteMailbox) {
        $null = Get-MailUser -Identity $name -ErrorAction Stop
    }
    foreach ($smtp in $Address) {
        $null = Get-Recipient -Identity $smtp -ErrorAction Stop
    }
    $wanted = ConvertTo-SortedList $RemoteMailbox
    $config = Get-OrganizationConfig -ErrorAction Stop
    $now = ConvertTo-SortedList @($config.RemotePublicFolderMailboxes | ForEach-Object { ([string]$_ -split '/')[-1] })
    if ([string]$config.PublicFoldersEnabled -eq 'Remote' -and $now -eq $wanted) {
        Write-Host ('    PublicFoldersEnabled is Remote with ' + $now + ' already')
        return
    }
    if ($PSCmdlet.ShouldProcess('Exchange Online', 'Set-OrganizationConfig -PublicFoldersEnabled Remote -RemotePublicFolderMailboxes ' + $wanted + ' (was ' + [string]$config.PublicFoldersEnabled + ' ' + $now + ')')) {
        Set-OrganizationConfig -PublicFoldersEnabled Remote -RemotePublicFolderMailboxes $RemoteMailbox -ErrorAction Stop
        $config = Get-OrganizationConfig -ErrorAction Stop
        Assert-Equal -What 'PublicFoldersEnabled' -Expected 'Remote' -Actual $config.PublicFoldersEnabled
        Assert-Equal -What 'RemotePublicFolderMailboxes' -Expected $wanted -Actual (ConvertTo-SortedList @($config.RemotePublicFolderMailboxes | ForEach-Object { ([string]$_ -split '/')[-1] }))
    }
}

function Assert-LegacyPublicFolderDatabase {
    # public-folders.rollback.hybrid-legacy-check / .check-legacy-databases (2016 EMS, reads only): each 2010 public folder
    # server still has its database, or rollback 5 would point Exchange Online users at proxies with nothing behind them
    # and rollback 2 would delete the only copy. The read-back goes to -Record (the Exchange Online step: one hour).
    # -RolledBack (rollback 5): on-premises must be back first (rollbacks 1-4: unlocked, migration not complete, 2016
    # users Remote), or Exchange Online users would reach locked or stale 2010 folders (review 5, n4).
    [CmdletBinding()]
    param([string[]]$Server, [string]$Folder, [string]$Record, [string]$DomainController, [switch]$RolledBack)
    $path = Get-PublicFolderMapFile -Folder $Folder -Name $Record
    if ($RolledBack) {
        $config = Get-OrganizationConfig -DomainController $DomainController -ErrorAction Stop
        $wrong = @()
        foreach ($flag in @('PublicFoldersLockedForMigration', 'PublicFolderMigrationComplete')) {
            if ([string]$config.$flag -ne 'False') { $wrong += ($flag + ' is ' + [string]$config.$flag) }
        }
        if ([string]$config.PublicFoldersEnabled -ne 'Remote') { $wrong += ('PublicFoldersEnabled is ' + [string]$config.PublicFoldersEnabled) }
        if ($wrong.Count -gt 0) {
            throw (($wrong -join '; ') + ': run rollback-1-unlock-2010.ps1 to rollback-4-remote-access.ps1 first (wait for the 2010 flags to replicate), then this step again')
        }
    }
    $found = @()
    foreach ($name in $Server) {
        # A server removed from AD (not found) is the same answer: no database behind its proxy. Any other error
        # (rights, a domain controller timing out) is not an answer at all: it stops the step as it is.
        try { $db = @(Get-PublicFolderDatabase -Server $name -DomainController $DomainController -ErrorAction Stop) } catch { if ($_.Exception.GetType().Name -notmatch 'NotFound') { throw }; $db = @() }
        if ($db.Count -eq 0) {
            throw ('No 2010 public folder database on ' + $name + ' (Get-PublicFolderDatabase): the 2016 public folder mailboxes are the only copy now; do not roll back, fix forward')
        }
        $found += @($db | ForEach-Object { [string]$_.Name })
    }
    Write-Host ('    2010 public folder databases: ' + ($found -join ', '))
    $seen = @{ CheckedUtc = (Get-Date).ToUniversalTime(); Databases = $found; RolledBack = [bool]$RolledBack }
    Export-Clixml -InputObject $seen -Path $path -WhatIf:$false -ErrorAction Stop
}

function Assert-NoPublicFolderDatabase {
    # public-folders.verify-removed (reads only): no Exchange 2010 public folder database is left.
    [CmdletBinding()]
    param([string]$DomainController)
    $left = @(Get-PublicFolderDatabase -DomainController $DomainController -ErrorAction Stop)
    if ($left.Count -gt 0 -and -not $WhatIfPreference) {
        throw ('Public folder databases left: ' + ((@($left | ForEach-Object { [string]$_.Name })) -join ', ') + ': remove them first (the step before)')
    }
}
