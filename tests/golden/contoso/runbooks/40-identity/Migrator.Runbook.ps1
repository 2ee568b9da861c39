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

function Set-BatchUser {
    # identity.prepare (AD module): per row of the batch CSV, fix the on-premises UPN and proxyAddresses and move the
    # user into the sync scope OU; read each change back from the same domain controller.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$SyncScopeOu = '', [string]$DomainController = '')
    Import-Module -Name 'ActiveDirectory' -ErrorAction Stop
    $all = @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)
    $ad = @{}
    if ($DomainController -ne '') { $ad['Server'] = $DomainController }
    $properties = @('userPrincipalName', 'proxyAddresses', 'distinguishedName')
    $changed = 0
    foreach ($row in $all) {
        $user = Get-ADUser -Identity $row.OnPremObjectGuid -Properties $properties @ad -ErrorAction Stop
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

function Set-BatchImmutableId {
    # identity.set-immutable-id (Microsoft Graph PowerShell, never the retired MSOnline module): set
    # OnPremisesImmutableId on the rows whose SetImmutableId is True, before their users enter sync scope;
    # compared case-sensitively; read back.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$Csv, [int]$Rows)
    $all = @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)
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
    [CmdletBinding()]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$StepId)
    $all = @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)
    $name = [System.IO.Path]::GetFileName($Csv)
    $properties = @('id', 'userPrincipalName', 'onPremisesImmutableId', 'onPremisesSyncEnabled')
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
