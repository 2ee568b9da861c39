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
