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
    # has no usable certificate) it only checks the server.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [string[]]$Names, [string]$Thumbprint = '', [switch]$Enable, [switch]$ThirdParty,
        [string]$DomainController)
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
    if ($Kind -eq 'OutlookAnywhere') { $value.InternalUrl = [string]$item.InternalHostname; $value.ExternalUrl = [string]$item.ExternalHostname }
    if ($Kind -eq 'Autodiscover') { $value.InternalUrl = [string]$item.AutoDiscoverServiceInternalUri; $value.ExternalUrl = '' }
    return $value
}

function Set-ClientAccessUrl {
    # servers.client-access-urls and its rollback: URLs, Outlook Anywhere host names or the Autodiscover SCP of one
    # 2016 server. The values found are exported to -ExportPath first, never over an earlier export (the rollback
    # runbook passes that file's rows back as -Urls); each value is read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Server, [hashtable[]]$Urls, [string]$ExportPath = '', [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $before = @(foreach ($url in $Urls) { Get-ClientAccessValue -Server $Server -Kind $url.Kind -DomainController $DomainController })
    if ($ExportPath -ne '' -and -not (Test-Path -LiteralPath $ExportPath)) {
        # One object per row (piped, not -InputObject), so Import-Clixml gives the rows back.
        $before | Export-Clixml -Path $ExportPath -WhatIf:$false
        Write-Host ('    the current values are in ' + $ExportPath)
    }
    for ($i = 0; $i -lt $Urls.Count; $i++) {
        $want = $Urls[$i]
        $now = $before[$i]
        if ($now.InternalUrl -eq $want.InternalUrl -and $now.ExternalUrl -eq $want.ExternalUrl) { continue }
        $in = $null
        $ex = $null
        if ($want.InternalUrl -ne '') { $in = $want.InternalUrl }
        if ($want.ExternalUrl -ne '') { $ex = $want.ExternalUrl }
        if ($PSCmdlet.ShouldProcess($now.Identity, 'Set ' + $want.Kind + ' internal ''' + $want.InternalUrl + ''', external ''' + $want.ExternalUrl + '''')) {
            switch ($want.Kind) {
                'Owa' { Set-OwaVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'Ecp' { Set-EcpVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'WebServices' { Set-WebServicesVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'ActiveSync' { Set-ActiveSyncVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'Oab' { Set-OabVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'Mapi' { Set-MapiVirtualDirectory -Identity $now.Identity -InternalUrl $in -ExternalUrl $ex -DomainController $DomainController -ErrorAction Stop }
                'OutlookAnywhere' { Set-OutlookAnywhere -Identity $now.Identity -InternalHostname $in -ExternalHostname $ex -InternalClientsRequireSsl $true -ExternalClientsRequireSsl $true -DomainController $DomainController -ErrorAction Stop }
                'Autodiscover' { Set-ClientAccessService -Identity $Server -AutoDiscoverServiceInternalUri $in -DomainController $DomainController -ErrorAction Stop }
            }
        }
    }
    if ($WhatIfPreference) { return }
    foreach ($want in $Urls) {
        $now = Get-ClientAccessValue -Server $Server -Kind $want.Kind -DomainController $DomainController
        Assert-Equal -What ($Server + ' ' + $want.Kind + ' internal') -Expected $want.InternalUrl -Actual $now.InternalUrl
        Assert-Equal -What ($Server + ' ' + $want.Kind + ' external') -Expected $want.ExternalUrl -Actual $now.ExternalUrl
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
    if ($ExportPath -ne '' -and -not (Test-Path -LiteralPath $ExportPath)) {
        $saved = @{ Server = $Server; Enabled = ($found.Count -gt 0); ExternalHostname = ''; ClientAuthenticationMethod = 'Basic'; IISAuthenticationMethods = @('Basic') }
        if ($found.Count -gt 0) {
            $saved.ExternalHostname = [string]$found[0].ExternalHostname
            $saved.ClientAuthenticationMethod = [string]$found[0].ClientAuthenticationMethod
            $saved.IISAuthenticationMethods = @($found[0].IISAuthenticationMethods | ForEach-Object { [string]$_ })
        }
        Export-Clixml -InputObject $saved -Path $ExportPath -WhatIf:$false
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
    Assert-Equal -What ($Server + ' Outlook Anywhere IISAuthenticationMethods') -Expected $iis -Actual (ConvertTo-SortedList $now[0].IISAuthenticationMethods)
}

function Test-ClientNamespace {
    # servers.namespace-verify and its rollback (reads only): waits until each name resolves to -Expected only, then
    # OWA answers over HTTPS with a trusted certificate and Autodiscover returns Outlook settings for each -Mailbox.
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
    $probes = @(@{ Url = $OwaUrl; Smtp = ''; Body = '' })
    foreach ($smtp in @($Mailbox | Where-Object { $_ -ne '' })) {
        $probes += @{ Url = $AutodiscoverUrl; Smtp = $smtp; Body = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>' + [System.Security.SecurityElement]::Escape($smtp) + '</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>') }
    }
    if ($probes.Count -eq 1) { Write-Warning 'No -Mailbox2010 or -Mailbox2016 given: the Autodiscover probes were skipped' }
    foreach ($probe in $probes) {
        $request = [System.Net.HttpWebRequest]::Create($probe.Url)
        $request.AllowAutoRedirect = $false
        if ($probe.Smtp -ne '') {
            $request.Credentials = $Host.UI.PromptForCredential('migrator', 'Credentials of ' + $probe.Smtp, $probe.Smtp, '').GetNetworkCredential()
            $request.Method = 'POST'
            $request.ContentType = 'text/xml'
            $bytes = [System.Text.Encoding]::UTF8.GetBytes($probe.Body)
            $stream = $request.GetRequestStream()
            $stream.Write($bytes, 0, $bytes.Length)
            $stream.Close()
        }
        try { $response = $request.GetResponse() }
        catch [System.Net.WebException] {
            # No response at all: name, connection or certificate (TrustFailure) problem.
            if ($null -eq $_.Exception.Response) { throw ($probe.Url + ': ' + $_.Exception.Message) }
            $response = $_.Exception.Response
        }
        $status = [int]$response.StatusCode
        $text = (New-Object System.IO.StreamReader($response.GetResponseStream())).ReadToEnd()
        $response.Close()
        if ($probe.Smtp -eq '' -and $status -ge 500) { throw ($probe.Url + ' answered HTTP ' + $status) }
        if ($probe.Smtp -ne '' -and ($status -ne 200 -or $text -notmatch '<Protocol>')) { throw ('Autodiscover for ' + $probe.Smtp + ' answered HTTP ' + $status + ' without Outlook settings') }
        Write-Host ('    ' + $probe.Url + ' ' + $probe.Smtp + ': HTTP ' + $status)
    }
}
