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

# ----------------------------------------------------------------------------- receive connectors
function Find-ReceiveConnector {
    # Select by -Server and exact name: an empty identity would return every connector, Default Frontend included.
    param([string]$Server, [string]$Name, [string]$DomainController)
    Get-ReceiveConnector -Server $Server -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.Name -eq $Name }
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

# ----------------------------------------------------------------------------- client access
function Set-DatabaseOfflineAddressBook {
    # prepare.offline-address-book (2010 EMS): an explicit OAB (-OfflineAddressBook, '' = the current default OAB)
    # on each listed database that has none; -Clear (its rollback) empties it again. Read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string[]]$Database, [string]$OfflineAddressBook = '', [switch]$Clear, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $oab = $OfflineAddressBook
    if (-not $Clear -and $oab -eq '') {
        $default = @(Get-OfflineAddressBook -DomainController $DomainController -ErrorAction Stop | Where-Object { $_.IsDefault })
        if ($default.Count -ne 1) { throw ('Expected one default offline address book, found ' + $default.Count + '; nothing was changed') }
        $oab = [string]$default[0].Name
    }
    foreach ($name in $Database) {
        $now = [string](Get-MailboxDatabase -Identity $name -DomainController $DomainController -ErrorAction Stop).OfflineAddressBook
        if ($Clear -and $now -ne '') {
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
        if ($Clear) { Assert-Equal -What ($name + ' OfflineAddressBook') -Expected '' -Actual $after }
        elseif ($after -eq '') { throw ('Verification failed: ' + $name + ' still has no OfflineAddressBook') }
    }
}
