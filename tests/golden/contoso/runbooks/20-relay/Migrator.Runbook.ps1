# Migrator.Runbook.ps1: the helper functions of the runbooks in this folder (docs/runbooks.md); do not edit.
# Version: 5
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
    if (-not (Test-RelayPermission -Dn $dn -User $User -ExtendedRight $ExtendedRight -DomainController $DomainController)) {
        if ($PSCmdlet.ShouldProcess($identity, 'Add-ADPermission ' + $ExtendedRight + ' for ' + $User)) {
            Add-ADPermission -Identity $dn -User $User -ExtendedRights $ExtendedRight -DomainController $DomainController -ErrorAction Stop | Out-Null
        }
    } else {
        Write-Host ('    ' + $User + ' already has ' + $ExtendedRight + ' on ' + $identity)
    }
    if ($WhatIfPreference) { return }
    if (-not (Test-RelayPermission -Dn $dn -User $User -ExtendedRight $ExtendedRight -DomainController $DomainController)) { throw ('Verification failed: ' + $User + ' has no ' + $ExtendedRight + ' on ' + $identity + ' (read from ' + $DomainController + ')') }
    Write-Host ('    verified ' + $ExtendedRight + ' for ' + $User + ' on ' + $identity)
}

function Revoke-RelayPermission {
    # Rollback of relay.permission: remove the grant migrator added, only from a connector with migrator's Comment marker.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Name, [string]$User, [string]$ExtendedRight, [string]$Comment, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $identity = $Server + '\' + $Name
    $found = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    if ($found.Count -eq 0) { Write-Host ('    ' + $identity + ' does not exist: nothing to remove'); return }
    Assert-OneConnector -Identity $identity -Found $found
    if ([string]$found[0].Comment -ne $Comment) { throw ('Receive connector ' + $identity + ' does not carry migrator''s Comment marker: it was not created by migrator; nothing was changed') }
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
    # use, to the first A/AAAA address or, with -AllAddresses, each (a DNS alias). The reply must match whether this host
    # is inside the ranges (hexadecimal).
    [CmdletBinding()]
    param([string]$Identity, [string]$SmtpHost, [string]$Recipient, [object[]]$Ranges, [switch]$AllAddresses)
    $families = @([System.Net.Sockets.AddressFamily]::InterNetwork)
    if (@($Ranges | Where-Object { $_.Version -eq 6 }).Count -gt 0) { $families += [System.Net.Sockets.AddressFamily]::InterNetworkV6 }
    if ($WhatIfPreference) { Write-Host ('    What if: would talk SMTP to ' + $SmtpHost + ' port 25 (' + ($families -join ', ') + ') up to RCPT TO:<' + $Recipient + '> and quit'); return }
    $resolved = @([System.Net.Dns]::GetHostAddresses($SmtpHost))
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
    # An old server's receive log folder through its admin share; logs shorter than $Days prove nothing: an error.
    param([string]$Server, [string]$LogPath, [int]$Days, [string]$Hint = '')
    $unc = '\\' + $Server + '\' + $LogPath.Substring(0, 1) + '$' + $LogPath.Substring(2)
    if (-not (Test-Path -Path $unc)) { throw ('Cannot read the receive protocol logs at ' + $unc + $Hint) }
    $since = (Get-Date).AddDays(-$Days)
    $oldest = @(Get-ChildItem -Path $unc -Filter 'RECV*.LOG' | Sort-Object -Property 'LastWriteTime')
    if ($oldest.Count -eq 0 -or $oldest[0].LastWriteTime -gt $since) { throw ('The protocol logs of ' + $Server + ' do not reach back ' + $Days + ' days: an observation over a shorter period proves nothing. Raise ReceiveProtocolLogMaxAge and ReceiveProtocolLogMaxDirectorySize, wait, and observe again') }
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

function Assert-ConnectorLogging {
    param([string]$Server, [string[]]$Names, [string]$DomainController)
    foreach ($name in $Names) {
        $old = @(Find-ReceiveConnector -Server $Server -Name $name -DomainController $DomainController)
        if ($old.Count -eq 1 -and [string]$old[0].ProtocolLoggingLevel -ne 'Verbose') { throw ('Protocol logging is off on ' + $Server + '\' + $name + ': there is no evidence to observe; enable Verbose logging and observe again') }
    }
}

function Assert-NoRelaySession {
    # Count the sessions of the observation period per connector and client in the RECV*.LOG files; throw if any.
    param([string]$Server, [string[]]$Names, [string]$LogPath, [int]$ObservationDays, [string]$Hint = '')
    $identities = @($Names | ForEach-Object { $Server + '\' + $_ })
    $unc = Get-ReceiveLogFolder -Server $Server -LogPath $LogPath -Days $ObservationDays -Hint $Hint
    $since = (Get-Date).AddDays(-$ObservationDays)
    $files = @(Get-ChildItem -Path $unc -Filter 'RECV*.LOG' | Where-Object { $_.LastWriteTime -ge $since })
    $clients = @{}
    foreach ($file in $files) {
        Get-Content -Path $file.FullName | Where-Object { -not $_.StartsWith('#') } | ConvertFrom-Csv -Header 'DateTime', 'ConnectorId', 'SessionId', 'Sequence', 'Local', 'Remote', 'Event', 'Data', 'Context' | Where-Object { ($identities -contains $_.ConnectorId) -and ($_.Event -eq '+') } | ForEach-Object {
            $key = $_.ConnectorId + ' <- ' + ($_.Remote -replace ':[0-9]+$', '')
            if ($clients.ContainsKey($key)) { $clients[$key] = $clients[$key] + 1 } else { $clients[$key] = 1 }
        }
    }
    if ($clients.Count -gt 0) {
        foreach ($key in @($clients.Keys | Sort-Object)) { Write-Warning ('    still used: ' + $key + ' (' + $clients[$key] + ' sessions since ' + $since.ToString('yyyy-MM-dd') + ')') }
        throw ('Clients still connect to the old relay connectors of ' + $Server + ': repoint them, then observe again')
    }
    Write-Host ('    no client used the old relay connectors of ' + $Server + ' in the last ' + $ObservationDays + ' days (' + $files.Count + ' log files read)')
}

function Assert-SoakClean {
    # relay.soak-check (2010 -> 2016): after the soak, read the 2010 server's receive protocol logs (Assert-NoRefusal).
    [CmdletBinding()]
    param([string]$Server, [string[]]$Names, [object[]]$Ranges, [int]$SoakDays, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $transport = Get-TransportServer -Identity $Server -DomainController $DomainController -ErrorAction Stop
    Assert-NoRefusal -Server $Server -Names $Names -Ranges $Ranges -SoakDays $SoakDays -LogPath ([string]$transport.ReceiveProtocolLogPath) -DomainController $DomainController
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
    $unc = Get-ReceiveLogFolder -Server $Server -LogPath $LogPath -Days $SoakDays
    $files = @(Get-ChildItem -Path $unc -Filter 'RECV*.LOG' | Where-Object { $_.LastWriteTime -ge $since })
    $refused = @{}
    foreach ($file in $files) {
        Get-Content -Path $file.FullName | Where-Object { -not $_.StartsWith('#') } | ConvertFrom-Csv -Header 'DateTime', 'ConnectorId', 'SessionId', 'Sequence', 'Local', 'Remote', 'Event', 'Data', 'Context' | Where-Object { ($_.Event -eq '>') -and ([string]$_.Data -match '^550 5\.7\.(1|54)') -and ([datetime]$_.DateTime -ge $since) } | ForEach-Object {
            $address = ConvertTo-AddressText -Endpoint ([string]$_.Remote)
            if (Test-AddressInRange -Address $address -Ranges $Ranges) {
                $key = [string]$_.ConnectorId + ' <- ' + $address
                if ($refused.ContainsKey($key)) { $refused[$key] = $refused[$key] + 1 } else { $refused[$key] = 1 }
            }
        }
    }
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
