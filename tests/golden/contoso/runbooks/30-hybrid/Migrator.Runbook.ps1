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
