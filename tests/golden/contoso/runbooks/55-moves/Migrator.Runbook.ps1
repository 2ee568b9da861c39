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
    foreach ($row in $all) {
        $mailbox = Get-Mailbox -Identity $row.EmailAddress -DomainController $DomainController -ErrorAction Stop
        $has = @($mailbox.EmailAddresses | ForEach-Object { [string]$_ } | Where-Object { $_ -like ('smtp:*' + $suffix) })
        if ($has.Count -gt 0) { continue }
        $address = 'smtp:' + [string]$mailbox.Alias + $suffix
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
        if ($existing) {
            Write-Host ('    ' + [string]$mailbox.Alias + ': a move request exists already (' + [string]$existing.Status + ')')
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

function New-MoveWave {
    # moves.create (2016 EMS): one New-MoveRequest per CSV row, -BatchName the wave, -CompleteAfter a UTC DateTime
    # (or -SuspendWhenReadyToComplete, the fallback); the archive moves with its primary, never ahead of it.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$BatchName, [int]$BadItemLimit, [string]$CompleteAfterUtc, [switch]$SuspendWhenReadyToComplete, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $when = $null
    if (-not $SuspendWhenReadyToComplete) {
        $when = ConvertFrom-UtcText -Text $CompleteAfterUtc
    }
    foreach ($row in @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)) {
        $address = [string]$row.EmailAddress
        $existing = Find-MoveRequest -Identity $address -DomainController $DomainController
        if ($existing) {
            Write-Host ('    ' + $address + ': a move request exists already (' + [string]$existing.Status + ', batch ' + [string]$existing.BatchName + ')')
            continue
        }
        $archive = @{}
        if ([string]$row.TargetArchiveDatabase -ne '' -and [string]$row.TargetArchiveDatabase -ne [string]$row.TargetDatabase) {
            $archive['ArchiveTargetDatabase'] = [string]$row.TargetArchiveDatabase
        }
        if ($PSCmdlet.ShouldProcess($address, 'New-MoveRequest -TargetDatabase ' + [string]$row.TargetDatabase + ' -BatchName ' + $BatchName)) {
            if ($SuspendWhenReadyToComplete) {
                $null = New-MoveRequest -Identity $address -TargetDatabase ([string]$row.TargetDatabase) -BatchName $BatchName -BadItemLimit $BadItemLimit -SuspendWhenReadyToComplete -DomainController $DomainController @archive -ErrorAction Stop
            } else {
                $null = New-MoveRequest -Identity $address -TargetDatabase ([string]$row.TargetDatabase) -BatchName $BatchName -BadItemLimit $BadItemLimit -CompleteAfter $when -DomainController $DomainController @archive -ErrorAction Stop
            }
            if (-not $WhatIfPreference) {
                $after = Get-MoveRequest -Identity $address -DomainController $DomainController -ErrorAction Stop
                Assert-Equal -What ('batch of the move request of ' + $address) -Expected $BatchName -Actual ([string]$after.BatchName)
            }
        }
    }
}

function Complete-MoveWave {
    # moves.complete (2016 EMS, in the window): resumes requests held at -SuspendWhenReadyToComplete, shows
    # Get-MoveRequestStatistics, then requires every request Completed and each mailbox on the CSV's TargetDatabase.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param([string]$Folder, [string]$Csv, [int]$Rows, [string]$BatchName, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $pending = @()
    foreach ($row in @(Import-BatchCsv -Folder $Folder -Csv $Csv -Rows $Rows)) {
        $address = [string]$row.EmailAddress
        $stats = Get-MoveRequestStatistics -Identity $address -DomainController $DomainController -ErrorAction Stop
        Write-Host ('    ' + $address + ': ' + [string]$stats.Status + ', ' + [string]$stats.PercentComplete + '%')
        if ([string]$stats.Status -eq 'AutoSuspended') {
            if ($PSCmdlet.ShouldProcess($address, 'Resume-MoveRequest')) {
                Resume-MoveRequest -Identity $address -DomainController $DomainController -ErrorAction Stop
            }
            $pending += $address
            continue
        }
        if (-not (Test-MoveRequestDone -Status ([string]$stats.Status))) {
            $pending += $address
            continue
        }
        $mailbox = Get-Mailbox -Identity $address -DomainController $DomainController -ErrorAction Stop
        Assert-Equal -What ('database of ' + $address) -Expected ([string]$row.TargetDatabase) -Actual ([string]$mailbox.Database)
    }
    if ($pending.Count -gt 0 -and -not $WhatIfPreference) { throw ([string]$pending.Count + ' request(s) of ' + $BatchName + ' are not completed yet: run this step again later (-Only moves.complete.' + $BatchName + ')') }
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
        # -IncludePreExchange2013 (splatted: the syntax checker's grammar cannot read a parameter name ending in digits)
        $legacy = @{ 'IncludePreExchange2013' = $true }
        $database = Get-MailboxDatabase -Identity ([string]$request.TargetDatabase) -DomainController $DomainController @legacy -ErrorAction Stop
        $server = Get-ExchangeServer -Identity ([string]$database.Server) -DomainController $DomainController -ErrorAction Stop
        if ([string]$server.AdminDisplayVersion -match '^Version 14\.') {
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
