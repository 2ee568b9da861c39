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

function Assert-ConnectorLogging {
    param([string]$Server, [string[]]$Names, [string]$DomainController)
    foreach ($name in $Names) {
        $old = @(Find-ReceiveConnector -Server $Server -Name $name -DomainController $DomainController)
        if ($old.Count -eq 1 -and [string]$old[0].ProtocolLoggingLevel -ne 'Verbose') { throw ('Protocol logging is off on ' + $Server + '\' + $name + ': there is no evidence to observe; enable Verbose logging and observe again') }
    }
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
        Get-Content -Path $file.FullName | Where-Object { -not $_.StartsWith('#') } | ConvertFrom-Csv -Header 'DateTime', 'ConnectorId', 'SessionId', 'Sequence', 'Local', 'Remote', 'Event', 'Data', 'Context' | Where-Object { ([string]$_.ConnectorId).StartsWith($prefix, [System.StringComparison]::OrdinalIgnoreCase) -and ($_.Event -eq '+') } | ForEach-Object {
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

# ----------------------------------------------------------------------------- transport servers, send connectors
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

function Assert-No2010Server {
    # decommission.verify-no-2010 (reads only): no Exchange 2010 (version 14) server is left in the organisation.
    [CmdletBinding()]
    param([string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $left = @(Get-ExchangeServer -DomainController $DomainController -ErrorAction Stop | Where-Object { [string]$_.AdminDisplayVersion -like 'Version 14.*' })
    if ($left.Count -gt 0) { throw ('Exchange 2010 servers are still in the organisation: ' + ((@($left | ForEach-Object { [string]$_.Name })) -join ', ') + '; remove them before adding Exchange 2019 or SE') }
    Write-Host '    verified: no Exchange 2010 server is left'
}
