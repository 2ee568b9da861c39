<#
.SYNOPSIS
    Exports the statistics of finished mailbox moves for `migrator moves forecast`.

.DESCRIPTION
    Read-only. Run it after a wave (the pilot first), before the wave's cleanup step removes
    the requests:

      on-premises waves   in the Exchange Management Shell of a 2016/2019 server:
                          Get-MoveRequest | Get-MoveRequestStatistics
      Exchange Online     in Exchange Online PowerShell (Connect-ExchangeOnline), with
                          -ExchangeOnline: Get-MigrationUser | Get-MigrationUserStatistics

    It writes MoveStatistics.csv (UTF-8, one row per move) into OutputDirectory with the
    columns migrator reads: Identity, BatchName, Status, SourceServer, SourceDatabase,
    BytesTransferred, TotalInProgressSeconds. Which of these properties the statistics
    objects carry is documented only in community scripts (not verified): a missing one stays
    empty, and migrator stops with a clear error when a column it needs is empty everywhere.
    Then, on the machine with the plan folder:

      migrator moves forecast PLAN_DIR MoveStatistics.csv

.PARAMETER OutputDirectory
    Folder the CSV is written into (default: the current folder).

.PARAMETER ExchangeOnline
    Reads the migration users of Exchange Online batches instead of on-premises move requests.

.EXAMPLE
    .\Export-MigratorMoveStatistics.ps1 -OutputDirectory D:\Migrator
#>
[CmdletBinding()]
param(
    [string]$OutputDirectory = '.',
    [switch]$ExchangeOnline
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$target = Join-Path -Path (Resolve-Path -Path $OutputDirectory).Path -ChildPath 'MoveStatistics.csv'
if ($ExchangeOnline) {
    $statistics = @(Get-MigrationUser -ResultSize Unlimited -ErrorAction Stop | Get-MigrationUserStatistics -ErrorAction Stop)
    $rows = @($statistics | Select-Object -Property @{Name = 'Identity'; Expression = { [string]$_.Identity } },
        @{Name = 'BatchName'; Expression = { [string]$_.BatchId } },
        @{Name = 'Status'; Expression = { [string]$_.Status } },
        @{Name = 'SourceServer'; Expression = { '' } },
        @{Name = 'SourceDatabase'; Expression = { '' } },
        @{Name = 'BytesTransferred'; Expression = { [string]$_.BytesTransferred } },
        @{Name = 'TotalInProgressSeconds'; Expression = { if ($_.TotalInProgressDuration) { $_.TotalInProgressDuration.TotalSeconds } else { '' } } })
}
else {
    $statistics = @(Get-MoveRequest -ResultSize Unlimited -ErrorAction Stop | Get-MoveRequestStatistics -ErrorAction Stop)
    $rows = @($statistics | Select-Object -Property @{Name = 'Identity'; Expression = { [string]$_.Identity } },
        @{Name = 'BatchName'; Expression = { [string]$_.BatchName } },
        @{Name = 'Status'; Expression = { [string]$_.Status } },
        @{Name = 'SourceServer'; Expression = { [string]$_.SourceServer } },
        @{Name = 'SourceDatabase'; Expression = { [string]$_.SourceDatabase } },
        @{Name = 'BytesTransferred'; Expression = { [string]$_.BytesTransferred } },
        @{Name = 'TotalInProgressSeconds'; Expression = { if ($_.TotalInProgressDuration) { $_.TotalInProgressDuration.TotalSeconds } else { '' } } })
}
$rows | Export-Csv -Path $target -NoTypeInformation -Encoding UTF8
Write-Host ("wrote {0} ({1} moves): migrator moves forecast PLAN_DIR {0}" -f $target, $rows.Count)
