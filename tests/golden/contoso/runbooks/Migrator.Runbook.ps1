# Migrator.Runbook.ps1: the functions every runbook of this plan calls (docs/runbooks.md).
# Version: 1
# Written by migrator next to the runbooks; do not edit: every runbook checks this file's SHA-256
# before its first step and stops if it differs. Runbooks dot-source it (never Import-Module), so
# their -WhatIf and -Confirm reach every change made here. PowerShell 2.0 syntax throughout: the
# Exchange 2010 runbooks dot-source it too. Each change sits behind $PSCmdlet.ShouldProcess and
# passes -ErrorAction Stop (Exchange cmdlets are remoting proxies: preferences do not reach them);
# each function reads its result back from the pinned domain controller, except under -WhatIf.

# ----------------------------------------------------------------------------- step runner

function Start-Runbook {
    param([string]$Name, [string]$From, [string[]]$Only, [string]$LogDirectory)
    $script:RunbookFrom = $From
    $script:RunbookOnly = @($Only)
    $script:Started = ($From -eq '')
    $script:Stopped = $false
    Start-Transcript -Path (Join-Path -Path $LogDirectory -ChildPath ($Name + '-' + (Get-Date -Format 'yyyyMMdd-HHmmss') + '.log'))
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
    if ($Next -ne '') {
        Write-Warning ('Manual step ' + $Id + ': do it as described above, then run this script again with -From ' + $Next)
    } else {
        Write-Warning ('Manual step ' + $Id + ': do it as described above; it is the last step of this runbook')
    }
}

function Assert-Equal {
    param([string]$What, $Expected, $Actual)
    if ([string]$Expected -ne [string]$Actual) {
        throw ('Verification failed: ' + $What + ' is ''' + [string]$Actual + ''', expected ''' + [string]$Expected + '''')
    }
}

function Assert-DomainController {
    param([string]$DomainController)
    if ($DomainController -eq '') {
        throw 'Pass -DomainController <FQDN of a domain controller>: every change is read back from that domain controller'
    }
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
    if ($Found.Count -ne 1) {
        throw ('Expected exactly one receive connector ' + $Identity + ', found ' + $Found.Count + '; nothing was changed')
    }
}

function Set-RelayConnector {
    # relay.create: create the relay connector, or align the one migrator created before; read it back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param(
        [string]$Server, [string]$Name, [string]$TransportRole,
        [string[]]$Bindings, [string[]]$RemoteIPRanges,
        [ValidateSet('AnonymousUsers', 'ExchangeServers')][string[]]$PermissionGroups,
        [ValidateSet('Tls', 'ExternalAuthoritative')][string[]]$AuthMechanism,
        [string]$Fqdn, $MaxMessageSize = $null, [string]$TlsCertificateName = '',
        [string]$ProtocolLoggingLevel, [string]$Comment, [string]$DomainController
    )
    Assert-DomainController -DomainController $DomainController
    $identity = $Server + '\' + $Name
    $found = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    if ($found.Count -gt 1) {
        throw ('Found ' + $found.Count + ' receive connectors named ' + $identity + '; expected at most one')
    }
    if ($found.Count -eq 0) {
        $optional = @{}
        if ($null -ne $MaxMessageSize) { $optional['MaxMessageSize'] = $MaxMessageSize }
        if ($TlsCertificateName -ne '') { $optional['TlsCertificateName'] = $TlsCertificateName }
        if ($PSCmdlet.ShouldProcess($identity, 'New-ReceiveConnector on ' + $TransportRole + ', bindings ' + ($Bindings -join ', ') + ', remote IP ranges ' + ($RemoteIPRanges -join ', '))) {
            New-ReceiveConnector -Name $Name -Server $Server -TransportRole $TransportRole -Custom -Bindings $Bindings -RemoteIPRanges $RemoteIPRanges -PermissionGroups $PermissionGroups -AuthMechanism $AuthMechanism -Fqdn $Fqdn @optional -ProtocolLoggingLevel $ProtocolLoggingLevel -Comment $Comment -DomainController $DomainController -ErrorAction Stop | Out-Null
        }
    }
    else {
        $relay = $found[0]
        if ([string]$relay.Comment -ne $Comment) {
            throw ('Receive connector ' + $identity + ' exists but was not created by migrator (its Comment is ''' + [string]$relay.Comment + '''): rename the new connector in the inventory or remove the existing one')
        }
        if ([string]$relay.TransportRole -ne $TransportRole) {
            throw ('Receive connector ' + $identity + ' exists on ' + [string]$relay.TransportRole + ', expected ' + $TransportRole + ': remove it and run this step again')
        }
        $dn = [string]$relay.DistinguishedName
        if ((ConvertTo-SortedList $relay.Bindings) -ne (ConvertTo-SortedList $Bindings)) {
            if ($PSCmdlet.ShouldProcess($identity, 'Set Bindings to ' + ($Bindings -join ', '))) {
                Set-ReceiveConnector -Identity $dn -Bindings $Bindings -DomainController $DomainController -ErrorAction Stop
            }
        }
        if ((ConvertTo-SortedList $relay.RemoteIPRanges) -ne (ConvertTo-SortedList $RemoteIPRanges)) {
            if ($PSCmdlet.ShouldProcess($identity, 'Set RemoteIPRanges to ' + ($RemoteIPRanges -join ', '))) {
                Set-ReceiveConnector -Identity $dn -RemoteIPRanges $RemoteIPRanges -DomainController $DomainController -ErrorAction Stop
            }
        }
        if ((ConvertTo-SortedList (([string]$relay.PermissionGroups) -split ',')) -ne (ConvertTo-SortedList $PermissionGroups)) {
            if ($PSCmdlet.ShouldProcess($identity, 'Set PermissionGroups to ' + ($PermissionGroups -join ', '))) {
                Set-ReceiveConnector -Identity $dn -PermissionGroups $PermissionGroups -DomainController $DomainController -ErrorAction Stop
            }
        }
        if ((ConvertTo-SortedList (([string]$relay.AuthMechanism) -split ',')) -ne (ConvertTo-SortedList $AuthMechanism)) {
            if ($PSCmdlet.ShouldProcess($identity, 'Set AuthMechanism to ' + ($AuthMechanism -join ', '))) {
                Set-ReceiveConnector -Identity $dn -AuthMechanism $AuthMechanism -DomainController $DomainController -ErrorAction Stop
            }
        }
        if ([string]$relay.Fqdn -ne $Fqdn) {
            if ($PSCmdlet.ShouldProcess($identity, 'Set Fqdn to ' + $Fqdn)) {
                Set-ReceiveConnector -Identity $dn -Fqdn $Fqdn -DomainController $DomainController -ErrorAction Stop
            }
        }
        if ($null -ne $MaxMessageSize -and (ConvertTo-ByteCount $relay.MaxMessageSize) -ne [string]$MaxMessageSize) {
            if ($PSCmdlet.ShouldProcess($identity, 'Set MaxMessageSize to ' + $MaxMessageSize + ' bytes')) {
                Set-ReceiveConnector -Identity $dn -MaxMessageSize $MaxMessageSize -DomainController $DomainController -ErrorAction Stop
            }
        }
        if ($TlsCertificateName -ne '' -and [string]$relay.TlsCertificateName -ne $TlsCertificateName) {
            if ($PSCmdlet.ShouldProcess($identity, 'Set TlsCertificateName to ' + $TlsCertificateName)) {
                Set-ReceiveConnector -Identity $dn -TlsCertificateName $TlsCertificateName -DomainController $DomainController -ErrorAction Stop
            }
        }
        if ([string]$relay.ProtocolLoggingLevel -ne $ProtocolLoggingLevel) {
            if ($PSCmdlet.ShouldProcess($identity, 'Set ProtocolLoggingLevel to ' + $ProtocolLoggingLevel)) {
                Set-ReceiveConnector -Identity $dn -ProtocolLoggingLevel $ProtocolLoggingLevel -DomainController $DomainController -ErrorAction Stop
            }
        }
    }
    if (-not $WhatIfPreference) {
        $check = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
        Assert-OneConnector -Identity $identity -Found $check
        $relay = $check[0]
        Assert-Equal -What ($identity + ' TransportRole') -Expected $TransportRole -Actual ([string]$relay.TransportRole)
        Assert-Equal -What ($identity + ' Bindings') -Expected (ConvertTo-SortedList $Bindings) -Actual (ConvertTo-SortedList $relay.Bindings)
        Assert-Equal -What ($identity + ' RemoteIPRanges') -Expected (ConvertTo-SortedList $RemoteIPRanges) -Actual (ConvertTo-SortedList $relay.RemoteIPRanges)
        Assert-Equal -What ($identity + ' PermissionGroups') -Expected (ConvertTo-SortedList $PermissionGroups) -Actual (ConvertTo-SortedList (([string]$relay.PermissionGroups) -split ','))
        Assert-Equal -What ($identity + ' AuthMechanism') -Expected (ConvertTo-SortedList $AuthMechanism) -Actual (ConvertTo-SortedList (([string]$relay.AuthMechanism) -split ','))
        Assert-Equal -What ($identity + ' Fqdn') -Expected $Fqdn -Actual ([string]$relay.Fqdn)
        if ($null -ne $MaxMessageSize) {
            Assert-Equal -What ($identity + ' MaxMessageSize (bytes)') -Expected ([string]$MaxMessageSize) -Actual (ConvertTo-ByteCount $relay.MaxMessageSize)
        }
        if ($TlsCertificateName -ne '') {
            Assert-Equal -What ($identity + ' TlsCertificateName') -Expected $TlsCertificateName -Actual ([string]$relay.TlsCertificateName)
        }
        Assert-Equal -What ($identity + ' Comment') -Expected $Comment -Actual ([string]$relay.Comment)
        Write-Host ('    verified ' + $identity + ' on ' + $DomainController)
    }
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
    if ($WhatIfPreference -and $found.Count -eq 0) {
        Write-Host ('    What if: ' + $identity + ' does not exist yet (created by the previous step); would grant ' + $ExtendedRight + ' to ' + $User)
        return
    }
    Assert-OneConnector -Identity $identity -Found $found
    $dn = [string]$found[0].DistinguishedName
    if (-not (Test-RelayPermission -Dn $dn -User $User -ExtendedRight $ExtendedRight -DomainController $DomainController)) {
        if ($PSCmdlet.ShouldProcess($identity, 'Add-ADPermission ' + $ExtendedRight + ' for ' + $User)) {
            Add-ADPermission -Identity $dn -User $User -ExtendedRights $ExtendedRight -DomainController $DomainController -ErrorAction Stop | Out-Null
        }
    }
    else {
        Write-Host ('    ' + $User + ' already has ' + $ExtendedRight + ' on ' + $identity)
    }
    if (-not $WhatIfPreference) {
        if (-not (Test-RelayPermission -Dn $dn -User $User -ExtendedRight $ExtendedRight -DomainController $DomainController)) {
            throw ('Verification failed: ' + $User + ' has no ' + $ExtendedRight + ' on ' + $identity + ' (read from ' + $DomainController + ')')
        }
        Write-Host ('    verified ' + $ExtendedRight + ' for ' + $User + ' on ' + $identity)
    }
}

function Revoke-RelayPermission {
    # Rollback of relay.permission: remove the grant migrator added, only from a connector with migrator's Comment marker.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Name, [string]$User, [string]$ExtendedRight, [string]$Comment, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $identity = $Server + '\' + $Name
    $found = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    if ($found.Count -eq 0) {
        Write-Host ('    ' + $identity + ' does not exist: nothing to remove')
        return
    }
    Assert-OneConnector -Identity $identity -Found $found
    if ([string]$found[0].Comment -ne $Comment) {
        throw ('Receive connector ' + $identity + ' does not carry migrator''s Comment marker: it was not created by migrator; nothing was changed')
    }
    $dn = [string]$found[0].DistinguishedName
    if (Test-RelayPermission -Dn $dn -User $User -ExtendedRight $ExtendedRight -Explicit -DomainController $DomainController) {
        if ($PSCmdlet.ShouldProcess($identity, 'Remove-ADPermission ' + $ExtendedRight + ' for ' + $User)) {
            Remove-ADPermission -Identity $dn -User $User -ExtendedRights $ExtendedRight -DomainController $DomainController -Confirm:$false -ErrorAction Stop
        }
    }
    if (-not $WhatIfPreference) {
        if (Test-RelayPermission -Dn $dn -User $User -ExtendedRight $ExtendedRight -DomainController $DomainController) {
            throw ('Verification failed: ' + $User + ' still has ' + $ExtendedRight + ' on ' + $identity)
        }
        Write-Host ('    verified: no ' + $ExtendedRight + ' for ' + $User + ' on ' + $identity)
    }
}

function Remove-RelayConnector {
    # Remove one receive connector and read back that it is gone. -Comment: only while it carries migrator's
    # Comment marker (rollback of relay.create). -RequireDisabled: only once disabled and after the observation
    # period, confirmed by the runbook's -ConfirmObserved (relay.remove-old).
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Name, [string]$Comment = '', [switch]$RequireDisabled, [switch]$ConfirmObserved, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $identity = $Server + '\' + $Name
    if ($RequireDisabled -and -not $ConfirmObserved) {
        throw ('Removing ' + $identity + ' needs -ConfirmObserved: run it only after the observation period, once nobody missed the disabled connector')
    }
    $found = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    if ($found.Count -eq 0) {
        Write-Host ('    ' + $identity + ' does not exist: nothing to remove')
        return
    }
    Assert-OneConnector -Identity $identity -Found $found
    if ($Comment -ne '' -and [string]$found[0].Comment -ne $Comment) {
        throw ('Receive connector ' + $identity + ' does not carry migrator''s Comment marker: it was not created by migrator; nothing was removed')
    }
    if ($RequireDisabled -and [bool]$found[0].Enabled) {
        throw ($identity + ' is still enabled: disable it first (previous step) and wait for the observation period')
    }
    if ($PSCmdlet.ShouldProcess($identity, 'Remove-ReceiveConnector')) {
        Remove-ReceiveConnector -Identity ([string]$found[0].DistinguishedName) -DomainController $DomainController -Confirm:$false -ErrorAction Stop
    }
    if (-not $WhatIfPreference) {
        $check = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
        if ($check.Count -ne 0) {
            throw ('Verification failed: ' + $identity + ' still exists on ' + $DomainController)
        }
        Write-Host ('    verified: ' + $identity + ' is gone')
    }
}

function Set-ConnectorEnabled {
    # relay.disable-old / rollback enable-old: set Enabled of one receive connector; read it back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string]$Name, [bool]$Enabled, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $identity = $Server + '\' + $Name
    $found = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
    Assert-OneConnector -Identity $identity -Found $found
    if ([bool]$found[0].Enabled -ne $Enabled) {
        if ($PSCmdlet.ShouldProcess($identity, 'Set Enabled to ' + $Enabled)) {
            Set-ReceiveConnector -Identity ([string]$found[0].DistinguishedName) -Enabled $Enabled -DomainController $DomainController -ErrorAction Stop
        }
    }
    else {
        Write-Host ('    ' + $identity + ' already has Enabled = ' + $Enabled)
    }
    if (-not $WhatIfPreference) {
        $check = @(Find-ReceiveConnector -Server $Server -Name $Name -DomainController $DomainController)
        Assert-OneConnector -Identity $identity -Found $check
        Assert-Equal -What ($identity + ' Enabled') -Expected $Enabled -Actual ([bool]$check[0].Enabled)
        Write-Host ('    verified ' + $identity + ' Enabled = ' + $Enabled)
    }
}

function Set-ConnectorLogging {
    # prepare.relay-logging: ProtocolLoggingLevel Verbose on the named receive connectors of one server.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string[]]$Names, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    foreach ($name in $Names) {
        $identity = $Server + '\' + $name
        $found = @(Find-ReceiveConnector -Server $Server -Name $name -DomainController $DomainController)
        if ($found.Count -ne 1) {
            throw ('Expected exactly one receive connector ' + $identity + ', found ' + $found.Count + '; nothing more was changed')
        }
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

function Test-SmtpRelay {
    # relay.test ... from-admin-host: SMTP to the server up to RCPT TO, then QUIT (nothing is delivered).
    # The reply must match whether this host is inside the connector's ranges (given as hexadecimal first/last).
    [CmdletBinding()]
    param([string]$Identity, [string]$SmtpHost, [string]$Recipient, [object[]]$Ranges)
    if ($WhatIfPreference) {
        Write-Host ('    What if: would talk SMTP to ' + $SmtpHost + ' port 25 up to RCPT TO:<' + $Recipient + '> and quit')
        return
    }
    $tcp = New-Object -TypeName System.Net.Sockets.TcpClient
    $tcp.Connect($SmtpHost, 25)
    try {
        $stream = $tcp.GetStream()
        $reader = New-Object -TypeName System.IO.StreamReader -ArgumentList $stream
        $writer = New-Object -TypeName System.IO.StreamWriter -ArgumentList $stream
        $writer.NewLine = "`r`n"
        $writer.AutoFlush = $true
        $local = $tcp.Client.LocalEndPoint.Address
        $localHex = (@($local.GetAddressBytes() | ForEach-Object { $_.ToString('x2') }) -join '')
        $localVersion = 4
        if ($local.AddressFamily -eq [System.Net.Sockets.AddressFamily]::InterNetworkV6) { $localVersion = 6 }
        $inside = $false
        foreach ($range in $Ranges) {
            if ($range.Version -eq $localVersion -and [string]::CompareOrdinal($localHex, $range.First) -ge 0 -and [string]::CompareOrdinal($localHex, $range.Last) -le 0) {
                $inside = $true
            }
        }
        $replies = @()
        foreach ($command in @('', 'EHLO ' + [System.Net.Dns]::GetHostName(), 'MAIL FROM:<>', 'RCPT TO:<' + $Recipient + '>')) {
            if ($command -ne '') { $writer.WriteLine($command) }
            $line = $reader.ReadLine()
            while ($line -ne $null -and $line.Length -ge 4 -and $line.Substring(3, 1) -eq '-') {
                $line = $reader.ReadLine()
            }
            Write-Host ('    ' + $command + ' -> ' + $line)
            $replies += [string]$line
        }
        $writer.WriteLine('QUIT')
    }
    finally {
        $tcp.Close()
    }
    $accepted = $replies[3].StartsWith('250')
    if ($inside -and -not $accepted) {
        throw ('This host (' + $local + ') is inside the ranges of ' + $Identity + ' but relay was refused: ' + $replies[3] + '. Another connector may take this address: check with migrator relay which')
    }
    if (-not $inside -and $accepted) {
        throw ('This host (' + $local + ') is outside the ranges of ' + $Identity + ' but relay was accepted: some connector relays for this address; find it before going on')
    }
    Write-Host ('    as expected: this host (' + $local + ') is ' + $(if ($inside) { 'inside' } else { 'outside' }) + ' the ranges and relay was ' + $(if ($accepted) { 'accepted' } else { 'refused' }))
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
    # relay.observe (onward): the same for a 2013+ server, whose relay connectors belong to Front End Transport:
    # their sessions are in the Front End receive logs, by default the Transport service's folder with FrontEnd
    # in place of Hub (-FrontEndReceiveLogPath names another).
    [CmdletBinding()]
    param([string]$Server, [string[]]$Names, [int]$ObservationDays, [string]$FrontEndReceiveLogPath = '', [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    Assert-ConnectorLogging -Server $Server -Names $Names -DomainController $DomainController
    $logPath = $FrontEndReceiveLogPath
    if ($logPath -eq '') {
        $transport = Get-TransportService -Identity $Server -DomainController $DomainController -ErrorAction Stop
        $logPath = ([string]$transport.ReceiveProtocolLogPath) -replace '\\Hub\\ProtocolLog\\', '\FrontEnd\ProtocolLog\'
    }
    Assert-NoRelaySession -Server $Server -Names $Names -LogPath $logPath -ObservationDays $ObservationDays -Hint ': pass -FrontEndReceiveLogPath with the Front End receive log folder'
}

function Assert-ConnectorLogging {
    param([string]$Server, [string[]]$Names, [string]$DomainController)
    foreach ($name in $Names) {
        $old = @(Find-ReceiveConnector -Server $Server -Name $name -DomainController $DomainController)
        if ($old.Count -eq 1 -and [string]$old[0].ProtocolLoggingLevel -ne 'Verbose') {
            throw ('Protocol logging is off on ' + $Server + '\' + $name + ': there is no evidence to observe; enable Verbose logging and observe again')
        }
    }
}

function Assert-NoRelaySession {
    # Count the sessions of the observation period per connector and client in the RECV*.LOG files; throw if any.
    param([string]$Server, [string[]]$Names, [string]$LogPath, [int]$ObservationDays, [string]$Hint = '')
    $identities = @($Names | ForEach-Object { $Server + '\' + $_ })
    # The log folder is local to the old server: read it through its administrative share.
    $unc = '\\' + $Server + '\' + $LogPath.Substring(0, 1) + '$' + $LogPath.Substring(2)
    if (-not (Test-Path -Path $unc)) {
        throw ('Cannot read the receive protocol logs at ' + $unc + $Hint)
    }
    $since = (Get-Date).AddDays(-$ObservationDays)
    $files = @(Get-ChildItem -Path $unc -Filter 'RECV*.LOG' | Where-Object { $_.LastWriteTime -ge $since })
    $oldest = @(Get-ChildItem -Path $unc -Filter 'RECV*.LOG' | Sort-Object -Property 'LastWriteTime')
    if ($oldest.Count -eq 0 -or $oldest[0].LastWriteTime -gt $since) {
        Write-Warning ('The protocol logs of ' + $Server + ' do not reach back ' + $ObservationDays + ' days: the evidence covers a shorter period')
    }
    $clients = @{}
    foreach ($file in $files) {
        Get-Content -Path $file.FullName | Where-Object { -not $_.StartsWith('#') } | ConvertFrom-Csv -Header 'DateTime', 'ConnectorId', 'SessionId', 'Sequence', 'Local', 'Remote', 'Event', 'Data', 'Context' | Where-Object { ($identities -contains $_.ConnectorId) -and ($_.Event -eq '+') } | ForEach-Object {
            $key = $_.ConnectorId + ' <- ' + ($_.Remote -replace ':[0-9]+$', '')
            if ($clients.ContainsKey($key)) { $clients[$key] = $clients[$key] + 1 } else { $clients[$key] = 1 }
        }
    }
    if ($clients.Count -gt 0) {
        foreach ($key in @($clients.Keys | Sort-Object)) {
            Write-Warning ('    still used: ' + $key + ' (' + $clients[$key] + ' sessions since ' + $since.ToString('yyyy-MM-dd') + ')')
        }
        throw ('Clients still connect to the old relay connectors of ' + $Server + ': repoint them, then observe again')
    }
    Write-Host ('    no client used the old relay connectors of ' + $Server + ' in the last ' + $ObservationDays + ' days (' + $files.Count + ' log files read)')
}
