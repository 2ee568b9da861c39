<#
.SYNOPSIS
    Exports the Microsoft 365 side migrator needs: cloud users and the tenant's sync settings and domains.

.DESCRIPTION
    Read-only. Runs in Windows PowerShell 5.1 or PowerShell 7 with the Microsoft Graph
    PowerShell SDK (modules Microsoft.Graph.Authentication, Microsoft.Graph.Users and
    Microsoft.Graph.Identity.DirectoryManagement). It connects with these delegated scopes,
    all read-only:

      User.Read.All                            Get-MgUser
      RoleManagement.Read.Directory            Get-MgDirectoryRole, Get-MgDirectoryRoleMember
      Domain.Read.All                          Get-MgDomain, Get-MgDomainServiceConfigurationRecord
      OnPremDirectorySynchronization.Read.All  Get-MgDirectoryOnPremiseSynchronization

    Optional: when Exchange Online PowerShell is connected first (Connect-ExchangeOnline), the
    HasMailbox, ExchangeGuid, ArchiveGuid, LegacyExchangeDN and MailboxType columns are filled
    from Get-EXOMailbox (the plan needs them to give matched cloud mailboxes their on-premises
    remote mailbox before they sync); otherwise they stay
    empty (migrator then assumes no cloud mailbox) and a warning says so.

    It writes into a new folder <OutputDirectory>\MigratorCloudInventory-<yyyyMMdd-HHmmss>:

      CloudUsers.csv   every user: Id, UserPrincipalName, Mail, ProxyAddresses (one per line
                       inside the cell), OnPremisesImmutableId, OnPremisesSyncEnabled,
                       AdminRoles (directory roles, ';'), HasMailbox, ExchangeGuid,
                       ArchiveGuid, LegacyExchangeDN, MailboxType (RecipientTypeDetails)
      tenant.yaml      the 'tenant:' section of inventory.yaml: initial, verified and federated
                       domains, each domain's MX host, the soft/hard match switches

    Copy CloudUsers.csv and tenant.yaml into the on-premises inventory folder, beside
    inventory.yaml: migrator reads tenant.yaml there (see docs/collect.md).

.PARAMETER OutputDirectory
    Folder in which the dated export folder is created (default: the current folder).

.PARAMETER TenantId
    Tenant to connect to (default: the signed-in account's home tenant).

.PARAMETER NoConnect
    Uses the Graph connection already made (Connect-MgGraph) instead of connecting.

.EXAMPLE
    Connect-ExchangeOnline; .\Export-MigratorCloudInventory.ps1 -OutputDirectory D:\Migrator
#>
[CmdletBinding()]
param(
    [string]$OutputDirectory = '.',
    [string]$TenantId = '',
    [switch]$NoConnect
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'
$activity = 'migrator cloud inventory'
$scopes = @('User.Read.All', 'RoleManagement.Read.Directory', 'Domain.Read.All', 'OnPremDirectorySynchronization.Read.All')

function ConvertTo-MigratorYaml {
    param([string]$Text)
    return "'" + $Text.Replace("'", "''") + "'"
}

function Get-MigratorAdditional {
    param($Object, [string]$Name)
    # Graph SDK models keep properties their type does not declare in AdditionalProperties.
    $additional = $Object.PSObject.Properties['AdditionalProperties']
    if ($null -ne $additional -and $null -ne $additional.Value -and $additional.Value.ContainsKey($Name)) {
        return $additional.Value[$Name]
    }
    $property = $Object.PSObject.Properties[$Name]
    if ($null -ne $property) {
        return $property.Value
    }
    return $null
}

if (-not $NoConnect) {
    if ($TenantId) {
        Connect-MgGraph -Scopes $scopes -TenantId $TenantId -NoWelcome
    } else {
        Connect-MgGraph -Scopes $scopes -NoWelcome
    }
}

if (-not (Test-Path -LiteralPath $OutputDirectory)) {
    $null = New-Item -ItemType Directory -Path $OutputDirectory
}
$stamp = Get-Date -Format 'yyyyMMdd-HHmmss'
$folder = Join-Path (Resolve-Path -LiteralPath $OutputDirectory).ProviderPath ('MigratorCloudInventory-' + $stamp)
$null = New-Item -ItemType Directory -Path $folder
Write-Host ('[migrator] writing into ' + $folder)

# --------------------------------------------------------------------------- admin roles

Write-Progress -Activity $activity -Status 'directory role members' -PercentComplete 5
$rolesByUser = @{}
foreach ($role in @(Get-MgDirectoryRole -All)) {
    foreach ($member in @(Get-MgDirectoryRoleMember -DirectoryRoleId $role.Id -All)) {
        if ([string](Get-MigratorAdditional $member '@odata.type') -ne '#microsoft.graph.user') {
            continue
        }
        if (-not $rolesByUser.ContainsKey($member.Id)) {
            $rolesByUser[$member.Id] = New-Object System.Collections.ArrayList
        }
        $null = $rolesByUser[$member.Id].Add([string]$role.DisplayName)
    }
}

# --------------------------------------------------------------------------- mailboxes (optional)

Write-Progress -Activity $activity -Status 'Exchange Online mailboxes' -PercentComplete 15
$mailboxes = @{}
$haveMailboxes = $false
if (Get-Command -Name 'Get-EXOMailbox' -ErrorAction SilentlyContinue) {
    try {
        foreach ($mailbox in @(Get-EXOMailbox -ResultSize Unlimited -Properties 'ExchangeGuid', 'ExternalDirectoryObjectId', 'ArchiveGuid', 'LegacyExchangeDN', 'RecipientTypeDetails')) {
            if ($mailbox.ExternalDirectoryObjectId) {
                $archive = [string]$mailbox.ArchiveGuid
                if ($archive -eq '00000000-0000-0000-0000-000000000000') { $archive = '' }
                $mailboxes[[string]$mailbox.ExternalDirectoryObjectId] = New-Object -TypeName PSObject -Property @{
                    ExchangeGuid = [string]$mailbox.ExchangeGuid
                    ArchiveGuid = $archive
                    LegacyExchangeDN = [string]$mailbox.LegacyExchangeDN
                    MailboxType = [string]$mailbox.RecipientTypeDetails
                }
            }
        }
        $haveMailboxes = $true
    } catch {
        Write-Warning ('skipped HasMailbox and ExchangeGuid: Get-EXOMailbox failed (' + $_.Exception.Message + '); run Connect-ExchangeOnline first')
    }
} else {
    Write-Warning 'skipped HasMailbox and ExchangeGuid: Exchange Online PowerShell is not loaded (Install-Module ExchangeOnlineManagement; Connect-ExchangeOnline)'
}

# --------------------------------------------------------------------------- users

Write-Progress -Activity $activity -Status 'users (Get-MgUser -All)' -PercentComplete 30
$properties = @('Id', 'UserPrincipalName', 'Mail', 'ProxyAddresses', 'OnPremisesImmutableId', 'OnPremisesSyncEnabled')
$usersPath = Join-Path $folder 'CloudUsers.csv'
Get-MgUser -All -PageSize 999 -Property $properties |
    Select-Object -Property 'Id', 'UserPrincipalName', 'Mail',
    @{Name = 'ProxyAddresses'; Expression = { @($_.ProxyAddresses) -join "`n" } },
    'OnPremisesImmutableId', 'OnPremisesSyncEnabled',
    @{Name = 'AdminRoles'; Expression = { if ($rolesByUser.ContainsKey($_.Id)) { @($rolesByUser[$_.Id] | Sort-Object) -join ';' } else { '' } } },
    @{Name = 'HasMailbox'; Expression = { if ($haveMailboxes) { [string]$mailboxes.ContainsKey($_.Id) } else { '' } } },
    @{Name = 'ExchangeGuid'; Expression = { if ($mailboxes.ContainsKey($_.Id)) { $mailboxes[$_.Id].ExchangeGuid } else { '' } } },
    @{Name = 'ArchiveGuid'; Expression = { if ($mailboxes.ContainsKey($_.Id)) { $mailboxes[$_.Id].ArchiveGuid } else { '' } } },
    @{Name = 'LegacyExchangeDN'; Expression = { if ($mailboxes.ContainsKey($_.Id)) { $mailboxes[$_.Id].LegacyExchangeDN } else { '' } } },
    @{Name = 'MailboxType'; Expression = { if ($mailboxes.ContainsKey($_.Id)) { $mailboxes[$_.Id].MailboxType } else { '' } } } |
    Export-Csv -Path $usersPath -NoTypeInformation -Encoding UTF8
Write-Host '[migrator] wrote CloudUsers.csv'

# --------------------------------------------------------------------------- tenant

Write-Progress -Activity $activity -Status 'domains and sync settings' -PercentComplete 80
$initial = ''
$verified = @()
$federated = @()
$mxHosts = @()
foreach ($domain in @(Get-MgDomain -All | Sort-Object -Property Id)) {
    if ($domain.IsInitial) {
        $initial = [string]$domain.Id
    }
    if (-not $domain.IsVerified) {
        continue
    }
    $verified += [string]$domain.Id
    if ([string]$domain.AuthenticationType -eq 'Federated') {
        $federated += [string]$domain.Id
    }
    try {
        $records = @(Get-MgDomainServiceConfigurationRecord -DomainId $domain.Id -All)
    } catch {
        Write-Warning ('skipped the MX host of ' + $domain.Id + ': ' + $_.Exception.Message)
        continue
    }
    foreach ($record in $records) {
        if ([string]$record.RecordType -eq 'Mx') {
            $exchange = [string](Get-MigratorAdditional $record 'mailExchange')
            if ($exchange) {
                $mxHosts += '    ' + (ConvertTo-MigratorYaml ([string]$domain.Id)) + ': ' + (ConvertTo-MigratorYaml $exchange)
                break
            }
        }
    }
}

$features = $null
try {
    $sync = @(Get-MgDirectoryOnPremiseSynchronization -All)
    if ($sync.Count -gt 0) {
        $features = $sync[0].Features
    }
} catch {
    Write-Warning ('skipped the soft/hard match switches: ' + $_.Exception.Message + '; fill them in tenant.yaml by hand')
}

$yaml = @()
$yaml += '# tenant section written by Export-MigratorCloudInventory.ps1 on ' + (Get-Date -Format 'yyyy-MM-dd HH:mm') + '.'
$yaml += '# Keep it beside inventory.yaml: migrator reads it there (see docs/collect.md).'
$yaml += 'tenant:'
if ($initial) {
    $yaml += '  initial_domain: ' + (ConvertTo-MigratorYaml $initial)
}
$yaml += '  verified_domains: [' + (@($verified | ForEach-Object { ConvertTo-MigratorYaml $_ }) -join ', ') + ']'
$yaml += '  federated_domains: [' + (@($federated | ForEach-Object { ConvertTo-MigratorYaml $_ }) -join ', ') + ']'
if ($mxHosts.Count -gt 0) {
    $yaml += '  mx_hosts:'
    $yaml += $mxHosts
}
$yaml += '  # TODO source_anchor: the attribute Entra Connect uses (objectGUID or mS-DS-ConsistencyGuid);'
$yaml += '  # migrator assumes mS-DS-ConsistencyGuid when this key is missing.'
if ($null -ne $features) {
    $yaml += '  soft_match_upn: ' + ([string][bool]$features.SoftMatchOnUpnEnabled).ToLower()
    $yaml += '  block_soft_match: ' + ([string][bool]$features.BlockSoftMatchEnabled).ToLower()
    $yaml += '  block_hard_match_takeover: ' + ([string][bool]$features.BlockCloudObjectTakeoverThroughHardMatchEnabled).ToLower()
} else {
    $yaml += '  # TODO soft_match_upn: true'
    $yaml += '  # TODO block_soft_match: false'
    $yaml += '  # TODO block_hard_match_takeover: false'
}
$yaml | Out-File -FilePath (Join-Path $folder 'tenant.yaml') -Encoding UTF8
Write-Host '[migrator] wrote tenant.yaml'

Write-Progress -Activity $activity -Status 'done' -Completed
Write-Host ('[migrator] done: bring back ' + $usersPath + ' and tenant.yaml')
