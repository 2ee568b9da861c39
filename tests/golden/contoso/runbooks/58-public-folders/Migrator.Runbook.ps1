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

# ----------------------------------------------------------------------------- identity batches (CSV-driven)
function Find-MigrationBatch {
    # The migration batch of that name, or $null when there is none.
    param([string]$Name)
    try {
        return (Get-MigrationBatch -Identity $Name -ErrorAction Stop)
    } catch {
        return $null
    }
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

function Export-PublicFolderSnapshot {
    # public-folders.snapshot (EMS 2010): folders, statistics and client permissions to CliXML before the migration.
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([string]$Folder, [string]$DomainController)
    Assert-DomainController -DomainController $DomainController
    $folders = @(Get-PublicFolder -Identity '\' -Recurse -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop)
    $folders | Export-Clixml -Path (Get-PublicFolderMapFile -Folder $Folder -Name 'Legacy_PFStructure.xml')
    Get-PublicFolderStatistics -ResultSize Unlimited -DomainController $DomainController -ErrorAction Stop | Export-Clixml -Path (Get-PublicFolderMapFile -Folder $Folder -Name 'Legacy_PFStatistics.xml')
    $folders | ForEach-Object { Get-PublicFolderClientPermission -Identity ([string]$_.Identity) -DomainController $DomainController -ErrorAction Stop } | Select-Object -Property @('Identity', 'User') -ExpandProperty AccessRights | Export-Clixml -Path (Get-PublicFolderMapFile -Folder $Folder -Name 'Legacy_PFPerms.xml')
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

function Assert-NoPublicFolderDatabase {
    # public-folders.verify-removed (reads only): no Exchange 2010 public folder database is left.
    [CmdletBinding()]
    param([string]$DomainController)
    $left = @(Get-PublicFolderDatabase -DomainController $DomainController -ErrorAction Stop)
    if ($left.Count -gt 0 -and -not $WhatIfPreference) {
        throw ('Public folder databases left: ' + ((@($left | ForEach-Object { [string]$_.Name })) -join ', ') + ': remove them first (the step before)')
    }
}
