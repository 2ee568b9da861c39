<#
.SYNOPSIS
    Exports everything migrator needs from an Exchange 2010 organisation into one dated folder.

.DESCRIPTION
    Run in the Exchange 2010 Management Shell (Windows PowerShell 2.0) as an Exchange
    administrator who can read the admin shares (\\server\c$) of the Exchange servers.
    The script uses PowerShell 2.0 syntax only.

    Read-only unless -EnableProtocolLogging is given: it reads the organisation and writes
    files into a new folder <OutputDirectory>\MigratorInventory-<yyyyMMdd-HHmmss>:

      ExchangeServers.csv              Get-ExchangeServer + ExSetup.exe file version, OS, addresses
      ReceiveConnectors.csv            Get-ReceiveConnector, multi-valued properties flattened
      clixml\ReceiveConnectors.xml     the same connectors, full fidelity (Export-Clixml)
      ReceiveConnectorPermissions.csv  Get-ADPermission of every receive connector, not inherited
      AcceptedDomains.csv              Get-AcceptedDomain
      SendConnectors.csv               Get-SendConnector
      TransportConfig.csv              Get-TransportConfig (MaxSendSize, MaxReceiveSize)
      Certificates.csv                 Get-ExchangeCertificate of every server
      ADUsers.csv                      every AD user of the forest (paged LDAP search)
      VirtualDirectories.csv           Get-*VirtualDirectory -ADPropertiesOnly (Owa, Ecp, WebServices,
                                       ActiveSync, Oab, Autodiscover): URLs, authentication methods
      OutlookAnywhere.csv              Get-OutlookAnywhere -ADPropertiesOnly
      ClientAccessServers.csv          Autodiscover SCPs (Get-ClientAccessServer)
      ClientAccessArrays.csv           Get-ClientAccessArray (Name, Fqdn, Site): the RPC/TCP name of 2010
      OrganizationConfig.csv           Get-OrganizationConfig (MAPI over HTTP, public folder settings)
      Recipients.csv                   Get-Recipient: every mail-enabled object (mailboxes of every type,
                                       groups, dynamic groups, contacts, mail users, mail-enabled public
                                       folders), for the MX gate (Directory-Based Edge Blocking)
      inventory.yaml                   skeleton pre-filled with what was found: complete the TODOs
      ProtocolLogs\<server>\*.LOG      with -CollectProtocolLogs: SmtpReceive logs of the last -Days days
      transcript.txt                   the session transcript (warnings included)

    Every CSV is written with Export-Csv -NoTypeInformation -Encoding UTF8. Multi-valued
    properties are joined with ';', except proxyAddresses and AddressSpaces, whose values can
    contain ';' themselves (X.400 addresses): they hold one value per line inside the cell.
    Every part that cannot be read is skipped with a warning; the rest is still exported.

    AD users are read with System.DirectoryServices (paged, 1000 per page), not Get-ADUser:
    the ActiveDirectory module is not installed on Exchange 2010 servers and needs Active
    Directory Web Services on the domain controllers; a paged LDAP search streams 300,000
    users with constant memory and needs nothing but .NET 2.0.

.PARAMETER OutputDirectory
    Folder in which the dated export folder is created (default: the current folder).

.PARAMETER EnableProtocolLogging
    Changes the organisation: sets ProtocolLoggingLevel Verbose on the relay connectors (every
    enabled receive connector of an Exchange 2010 server whose RemoteIPRanges is not the whole
    address space) and raises ReceiveProtocolLogMaxDirectorySize and ReceiveProtocolLogMaxAge
    on the 2010 Hub Transport servers (never lowers them), so that evidence of relay clients
    accumulates before the migration. Honours -WhatIf and -Confirm.

.PARAMETER ProtocolLogMaxDirectorySizeMB
    With -EnableProtocolLogging: the receive protocol log size cap to raise to, in MB (default 4096).

.PARAMETER ProtocolLogMaxAgeDays
    With -EnableProtocolLogging: the receive protocol log age to raise to, in days (default 90).

.PARAMETER CollectProtocolLogs
    Copies the SmtpReceive protocol logs of the last -Days days from each Hub Transport
    server's admin share into ProtocolLogs\<server>.

.PARAMETER Days
    With -CollectProtocolLogs: how many days of logs to copy (default 30).

.PARAMETER UserSearchBase
    Distinguished name that limits the AD user export (default: every domain of the forest).

.PARAMETER SkipUsers
    Does not export AD users.

.PARAMETER CalendarPermissions
    Also exports each mailbox's Calendar folder permissions (one Get-MailboxFolderPermission
    per mailbox: slow in large organisations). Folder rights never work across premises, so
    they matter for Exchange Online waves.

.PARAMETER DomainController
    Domain controller the Exchange cmdlets read from and write to (default: Exchange's choice).

.EXAMPLE
    .\Export-MigratorInventory.ps1 -OutputDirectory D:\Migrator

.EXAMPLE
    .\Export-MigratorInventory.ps1 -EnableProtocolLogging -WhatIf

.EXAMPLE
    .\Export-MigratorInventory.ps1 -CollectProtocolLogs -Days 14
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [string]$OutputDirectory = '.',
    [switch]$EnableProtocolLogging,
    [int]$ProtocolLogMaxDirectorySizeMB = 4096,
    [int]$ProtocolLogMaxAgeDays = 90,
    [switch]$CollectProtocolLogs,
    [int]$Days = 30,
    [string]$UserSearchBase = '',
    [switch]$SkipUsers,
    [switch]$CalendarPermissions,
    [string]$DomainController = ''
)

Set-StrictMode -Version 1.0
$ErrorActionPreference = 'Continue'

$script:Skipped = @()
$script:UserCount = 0
$script:Activity = 'migrator inventory'

# Exchange cmdlets read from (and, with -EnableProtocolLogging, write to) this domain controller.
$dc = @{}
if ($DomainController) {
    $dc['DomainController'] = $DomainController
}

# --------------------------------------------------------------------------- helpers

function Write-MigratorSkip {
    param([string]$Part, [string]$Reason)
    $text = 'skipped ' + $Part + ': ' + $Reason
    $script:Skipped += $text
    Write-Warning $text
}

function Write-MigratorStep {
    param([string]$Status, [int]$Percent)
    Write-Progress -Activity $script:Activity -Status $Status -PercentComplete $Percent
    Write-Host ('[migrator] ' + $Status)
}

function Join-MigratorValue {
    param($Value, [string]$Separator = ';')
    if ($null -eq $Value) {
        return ''
    }
    return (@($Value | ForEach-Object { [string]$_ }) -join $Separator)
}

function Save-MigratorCsv {
    param([object[]]$Rows, [string]$FileName, [string]$Part)
    if (@($Rows).Count -eq 0) {
        Write-MigratorSkip -Part $Part -Reason ('nothing found, ' + $FileName + ' not written')
        return
    }
    $path = Join-Path $script:Folder $FileName
    $Rows | Export-Csv -Path $path -NoTypeInformation -Encoding UTF8
    Write-Host ('[migrator] wrote ' + $FileName + ' (' + @($Rows).Count + ' rows)')
}

function ConvertTo-MigratorYaml {
    param([string]$Text)
    # YAML single-quoted scalar: only the quote itself needs doubling.
    return "'" + $Text.Replace("'", "''") + "'"
}

function ConvertTo-MigratorUnc {
    param([string]$ComputerName, [string]$LocalPath)
    # C:\Program Files\... on server X -> \\X\C$\Program Files\...
    if ($LocalPath -notmatch '^[A-Za-z]:\\') {
        return ''
    }
    return '\\' + $ComputerName + '\' + $LocalPath.Substring(0, 1) + '$' + $LocalPath.Substring(2)
}

function Get-MigratorExSetupVersion {
    param([string]$ComputerName, [string]$Major)
    # 1. Exchange's install folder from the remote registry, then ExSetup.exe over the admin share.
    $install = ''
    try {
        $hive = [Microsoft.Win32.RegistryKey]::OpenRemoteBaseKey('LocalMachine', $ComputerName)
        $key = $hive.OpenSubKey('SOFTWARE\Microsoft\ExchangeServer\' + $Major + '\Setup')
        if ($null -ne $key) {
            $install = [string]$key.GetValue('MsiInstallPath')
            $key.Close()
        }
        $hive.Close()
    } catch {
        $install = ''
    }
    if (-not $install) {
        $install = 'C:\Program Files\Microsoft\Exchange Server\' + $Major.ToUpper() + '\'
    }
    $unc = ConvertTo-MigratorUnc -ComputerName $ComputerName -LocalPath ($install.TrimEnd('\') + '\Bin\ExSetup.exe')
    if ($unc) {
        try {
            $file = Get-Item -LiteralPath $unc -ErrorAction Stop
            if ($file.VersionInfo.FileVersion) {
                return [string]$file.VersionInfo.FileVersion
            }
        } catch {
            Write-Verbose ('ExSetup.exe not readable at ' + $unc + ': ' + $_.Exception.Message)
        }
    }
    # 2. PowerShell remoting, where WinRM lets us in: the server knows its own install path.
    try {
        $version = Invoke-Command -ComputerName $ComputerName -ErrorAction Stop -ScriptBlock {
            $exe = Join-Path $env:ExchangeInstallPath 'Bin\ExSetup.exe'
            (Get-Item -LiteralPath $exe).VersionInfo.FileVersion
        }
        if ($version) {
            return [string]$version
        }
    } catch {
        Write-Verbose ('Invoke-Command to ' + $ComputerName + ' failed: ' + $_.Exception.Message)
    }
    return ''
}

function Get-MigratorYamlVersion {
    param([string]$AdminDisplayVersion)
    if ($AdminDisplayVersion -notmatch '(\d+)\.(\d+)\D+(\d+)') {
        return ''
    }
    $major = [int]$Matches[1]
    $minor = [int]$Matches[2]
    $build = [int]$Matches[3]
    if ($major -eq 14) { return '2010' }
    if ($major -eq 15 -and $minor -eq 0) { return '2013' }
    if ($major -eq 15 -and $minor -eq 1) { return '2016' }
    if ($major -eq 15 -and $minor -eq 2 -and $build -ge 2562) { return 'SE' }
    if ($major -eq 15 -and $minor -eq 2) { return '2019' }
    return ''
}

function Get-MigratorBytes {
    param([long]$Default, $Value)
    # '250 MB (262,144,000 bytes)' -> 262144000; 'Unlimited' -> -1
    $text = [string]$Value
    if ($text -match 'Unlimited') {
        return [long]-1
    }
    if ($text -match '\(([\d,.\s'']+) bytes\)') {
        return [long]($Matches[1] -replace '\D', '')
    }
    return $Default
}

function Get-MigratorAdUser {
    param([object[]]$SearchRoots)
    $properties = @(
        'distinguishedName', 'sAMAccountName', 'objectGUID', 'userPrincipalName', 'mail',
        'proxyAddresses', 'mS-DS-ConsistencyGuid', 'msExchRecipientTypeDetails',
        'msExchMailboxGuid', 'targetAddress', 'userAccountControl'
    )
    foreach ($root in $SearchRoots) {
        $searcher = $null
        $results = $null
        try {
            $searcher = New-Object -TypeName System.DirectoryServices.DirectorySearcher -ArgumentList $root
            $searcher.Filter = '(&(objectCategory=person)(objectClass=user))'
            $searcher.PageSize = 1000
            $searcher.SearchScope = [System.DirectoryServices.SearchScope]::Subtree
            foreach ($name in $properties) {
                $null = $searcher.PropertiesToLoad.Add($name)
            }
            $results = $searcher.FindAll()
            foreach ($result in $results) {
                $p = $result.Properties
                $guid = ''
                if ($p['objectguid'].Count -gt 0) {
                    $guid = (New-Object -TypeName System.Guid -ArgumentList (, [byte[]]$p['objectguid'][0])).ToString()
                }
                $consistency = ''
                if ($p['ms-ds-consistencyguid'].Count -gt 0) {
                    $consistency = [Convert]::ToBase64String([byte[]]$p['ms-ds-consistencyguid'][0])
                }
                $mailboxGuid = ''
                if ($p['msexchmailboxguid'].Count -gt 0) {
                    $mailboxGuid = (New-Object -TypeName System.Guid -ArgumentList (, [byte[]]$p['msexchmailboxguid'][0])).ToString()
                }
                $enabled = $true
                if ($p['useraccountcontrol'].Count -gt 0) {
                    $enabled = -not ([long]$p['useraccountcontrol'][0] -band 2)
                }
                $script:UserCount++
                if ($script:UserCount % 1000 -eq 0) {
                    Write-Progress -Activity $script:Activity -Status ('AD users: ' + $script:UserCount + ' read') -PercentComplete 80
                }
                New-Object -TypeName PSObject -Property @{
                    'DistinguishedName'          = Join-MigratorValue $p['distinguishedname']
                    'SamAccountName'             = Join-MigratorValue $p['samaccountname']
                    'ObjectGUID'                 = $guid
                    'UserPrincipalName'          = Join-MigratorValue $p['userprincipalname']
                    'mail'                       = Join-MigratorValue $p['mail']
                    'proxyAddresses'             = Join-MigratorValue $p['proxyaddresses'] "`n"
                    'mS-DS-ConsistencyGuid'      = $consistency
                    'msExchRecipientTypeDetails' = Join-MigratorValue $p['msexchrecipienttypedetails']
                    'msExchMailboxGuid'          = $mailboxGuid
                    'targetAddress'              = Join-MigratorValue $p['targetaddress']
                    'Enabled'                    = $enabled
                }
            }
        } catch {
            Write-MigratorSkip -Part ('AD users under ' + [string]$root.Path) -Reason $_.Exception.Message
        }
        if ($null -ne $results) {
            $results.Dispose()
        }
        if ($null -ne $searcher) {
            $searcher.Dispose()
        }
    }
}

# --------------------------------------------------------------------------- the folder

if (-not (Test-Path -LiteralPath $OutputDirectory)) {
    $null = New-Item -ItemType Directory -Path $OutputDirectory
}
$stamp = Get-Date -Format 'yyyyMMdd-HHmmss'
$script:Folder = Join-Path (Resolve-Path -LiteralPath $OutputDirectory).ProviderPath ('MigratorInventory-' + $stamp)
$null = New-Item -ItemType Directory -Path $script:Folder
$null = New-Item -ItemType Directory -Path (Join-Path $script:Folder 'clixml')
$transcript = $false
try {
    $null = Start-Transcript -Path (Join-Path $script:Folder 'transcript.txt')
    $transcript = $true
} catch {
    Write-Warning ('no transcript (' + $_.Exception.Message + '); warnings are shown here only')
}
Write-Host ('[migrator] writing into ' + $script:Folder)

# --------------------------------------------------------------------------- organisation

Write-MigratorStep -Status 'organisation' -Percent 2
$organisation = ''
try {
    $organisation = [string](Get-OrganizationConfig @dc -ErrorAction Stop).Name
} catch {
    Write-MigratorSkip -Part 'organisation name' -Reason ($_.Exception.Message + '; write it into inventory.yaml')
}
if (-not $organisation) {
    $organisation = 'TODO organisation name'
}

# --------------------------------------------------------------------------- servers

Write-MigratorStep -Status 'Exchange servers (ExSetup.exe versions, operating systems)' -Percent 5
$exchangeServers = @()
try {
    $exchangeServers = @(Get-ExchangeServer @dc -ErrorAction Stop)
} catch {
    Write-MigratorSkip -Part 'Exchange servers' -Reason $_.Exception.Message
}
$serverFqdn = @{}
$legacyServers = @{}
$serverInfo = @()
$index = 0
foreach ($server in $exchangeServers) {
    $index++
    $name = [string]$server.Name
    $fqdn = [string]$server.Fqdn
    if (-not $fqdn) {
        $fqdn = $name
    }
    $serverFqdn[$name] = $fqdn
    if ([string]$server.AdminDisplayVersion -match 'Version 14') {
        $legacyServers[$name] = $true
    }
    $roles = [string]$server.ServerRole
    $display = [string]$server.AdminDisplayVersion
    $site = ''
    if ($null -ne $server.Site) {
        $site = [string]$server.Site
    }
    Write-Progress -Activity $script:Activity -Status ('server ' + $name) -PercentComplete (5 + [int](10 * $index / $exchangeServers.Count))
    $exsetup = ''
    $os = ''
    $addresses = ''
    if ($roles -match 'Edge') {
        Write-MigratorSkip -Part ('ExSetup.exe version and OS of Edge server ' + $name) -Reason 'Edge servers sit in the perimeter network and are not contacted'
    } else {
        $major = 'v14'
        if ($display -match 'Version 15') {
            $major = 'v15'
        }
        $exsetup = Get-MigratorExSetupVersion -ComputerName $fqdn -Major $major
        if (-not $exsetup) {
            Write-MigratorSkip -Part ('ExSetup.exe version of ' + $name) -Reason ('neither \\' + $fqdn + '\<drive>$\...\Bin\ExSetup.exe nor Invoke-Command could be read; the update rollup stays unknown')
        }
        try {
            $wmi = Get-WmiObject -Class Win32_OperatingSystem -ComputerName $fqdn -ErrorAction Stop
            $os = ([string]$wmi.Caption + ' ' + [string]$wmi.CSDVersion).Trim()
        } catch {
            Write-MigratorSkip -Part ('operating system of ' + $name) -Reason $_.Exception.Message
        }
    }
    try {
        $addresses = Join-MigratorValue @([System.Net.Dns]::GetHostAddresses($fqdn) | Where-Object { -not $_.IsIPv6LinkLocal })
    } catch {
        Write-MigratorSkip -Part ('IP addresses of ' + $name) -Reason $_.Exception.Message
    }
    $serverInfo += New-Object -TypeName PSObject -Property @{
        'Name'                = $name
        'Fqdn'                = $fqdn
        'ServerRole'          = $roles
        'Site'                = $site
        'AdminDisplayVersion' = $display
        'ExSetupVersion'      = $exsetup
        'OperatingSystem'     = $os
        'IPAddresses'         = $addresses
    }
}
$serverRows = @($serverInfo | Select-Object -Property 'Name', 'Fqdn', 'ServerRole', 'Site', 'AdminDisplayVersion', 'ExSetupVersion', 'OperatingSystem', 'IPAddresses')
Save-MigratorCsv -Rows $serverRows -FileName 'ExchangeServers.csv' -Part 'Exchange servers'

# --------------------------------------------------------------------------- receive connectors

Write-MigratorStep -Status 'receive connectors' -Percent 20
$receiveConnectors = @()
try {
    $receiveConnectors = @(Get-ReceiveConnector @dc -ErrorAction Stop)
} catch {
    Write-MigratorSkip -Part 'receive connectors' -Reason $_.Exception.Message
}
if ($receiveConnectors.Count -gt 0) {
    $receiveConnectors | Export-Clixml -Path (Join-Path $script:Folder 'clixml\ReceiveConnectors.xml')
}
$receiveConnectorRows = @($receiveConnectors | Select-Object -Property 'Identity', 'Server', 'Name',
    @{Name = 'Bindings'; Expression = { Join-MigratorValue $_.Bindings } },
    @{Name = 'RemoteIPRanges'; Expression = { Join-MigratorValue $_.RemoteIPRanges } },
    @{Name = 'AuthMechanism'; Expression = { [string]$_.AuthMechanism } },
    @{Name = 'PermissionGroups'; Expression = { [string]$_.PermissionGroups } },
    'TransportRole', 'MaxMessageSize', 'Fqdn', 'TlsCertificateName',
    @{Name = 'TlsDomainCapabilities'; Expression = { Join-MigratorValue $_.TlsDomainCapabilities } },
    'Enabled', 'ProtocolLoggingLevel', 'Comment')
Save-MigratorCsv -Rows $receiveConnectorRows -FileName 'ReceiveConnectors.csv' -Part 'receive connectors'

# --------------------------------------------------------------------------- AD permissions

Write-MigratorStep -Status 'receive connector AD permissions' -Percent 30
$permissionRows = @(foreach ($connector in $receiveConnectors) {
        $connectorIdentity = [string]$connector.Identity
        try {
            Get-ADPermission -Identity ([string]$connector.DistinguishedName) @dc -ErrorAction Stop |
                Where-Object { -not $_.IsInherited } |
                Select-Object -Property @{Name = 'Identity'; Expression = { $connectorIdentity } },
                @{Name = 'User'; Expression = { [string]$_.User } },
                @{Name = 'ExtendedRights'; Expression = { Join-MigratorValue $_.ExtendedRights } },
                @{Name = 'AccessRights'; Expression = { Join-MigratorValue $_.AccessRights } },
                'Deny', 'IsInherited'
        } catch {
            Write-MigratorSkip -Part ('AD permissions of ' + $connectorIdentity) -Reason $_.Exception.Message
        }
    })
Save-MigratorCsv -Rows $permissionRows -FileName 'ReceiveConnectorPermissions.csv' -Part 'receive connector AD permissions'

# --------------------------------------------------------------------------- domains, send connectors, limits

Write-MigratorStep -Status 'accepted domains, send connectors, transport limits' -Percent 35
$acceptedDomains = @()
try {
    $acceptedDomains = @(Get-AcceptedDomain @dc -ErrorAction Stop)
} catch {
    Write-MigratorSkip -Part 'accepted domains' -Reason $_.Exception.Message
}
$acceptedDomainRows = @($acceptedDomains | Select-Object -Property 'Name',
    @{Name = 'DomainName'; Expression = { [string]$_.DomainName } },
    @{Name = 'DomainType'; Expression = { [string]$_.DomainType } },
    'Default')
Save-MigratorCsv -Rows $acceptedDomainRows -FileName 'AcceptedDomains.csv' -Part 'accepted domains'

$sendConnectorRows = @()
try {
    $sendConnectorRows = @(Get-SendConnector @dc -ErrorAction Stop | Select-Object -Property 'Name',
        @{Name = 'AddressSpaces'; Expression = { Join-MigratorValue $_.AddressSpaces "`n" } },
        @{Name = 'SourceTransportServers'; Expression = { Join-MigratorValue $_.SourceTransportServers } },
        @{Name = 'SmartHosts'; Expression = { Join-MigratorValue $_.SmartHosts } },
        'Enabled', 'Fqdn', 'CloudServicesMailEnabled', 'TlsCertificateName', 'MaxMessageSize')
} catch {
    Write-MigratorSkip -Part 'send connectors' -Reason $_.Exception.Message
}
Save-MigratorCsv -Rows $sendConnectorRows -FileName 'SendConnectors.csv' -Part 'send connectors'

$transportConfigRows = @()
try {
    $transportConfigRows = @(Get-TransportConfig @dc -ErrorAction Stop | Select-Object -Property 'MaxSendSize', 'MaxReceiveSize')
} catch {
    Write-MigratorSkip -Part 'transport config limits' -Reason $_.Exception.Message
}
Save-MigratorCsv -Rows $transportConfigRows -FileName 'TransportConfig.csv' -Part 'transport config limits'

# --------------------------------------------------------------------------- certificates

Write-MigratorStep -Status 'certificates' -Percent 40
$certificateRows = @(foreach ($server in $exchangeServers) {
        $certificateServer = [string]$server.Name
        if ([string]$server.ServerRole -match 'Edge') {
            Write-MigratorSkip -Part ('certificates of Edge server ' + $certificateServer) -Reason 'run Get-ExchangeCertificate on the Edge server itself'
            continue
        }
        try {
            Get-ExchangeCertificate -Server $certificateServer @dc -ErrorAction Stop |
                Select-Object -Property @{Name = 'Server'; Expression = { $certificateServer } },
                'Thumbprint', 'Subject', 'Issuer',
                @{Name = 'CertificateDomains'; Expression = { Join-MigratorValue $_.CertificateDomains } },
                @{Name = 'NotAfter'; Expression = { if ($_.NotAfter) { ([datetime]$_.NotAfter).ToString('yyyy-MM-dd') } } },
                @{Name = 'Services'; Expression = { [string]$_.Services } },
                'IsSelfSigned'
        } catch {
            Write-MigratorSkip -Part ('certificates of ' + $certificateServer) -Reason $_.Exception.Message
        }
    })
Save-MigratorCsv -Rows $certificateRows -FileName 'Certificates.csv' -Part 'certificates'

# --------------------------------------------------------------------------- mailboxes

Write-MigratorStep -Status 'mailboxes, arbitration mailboxes and archives' -Percent 42
$mailboxes = @()
try {
    $mailboxes = @(Get-Mailbox -ResultSize Unlimited @dc -ErrorAction Stop)
    $mailboxes += @(Get-Mailbox -Arbitration -ResultSize Unlimited @dc -ErrorAction Stop)
} catch {
    Write-MigratorSkip -Part 'mailboxes' -Reason $_.Exception.Message
}
$mailboxRows = @($mailboxes | Select-Object -Property 'Identity', 'Alias', 'SamAccountName', 'DisplayName', 'DistinguishedName',
    @{Name = 'PrimarySmtpAddress'; Expression = { [string]$_.PrimarySmtpAddress } },
    @{Name = 'RecipientTypeDetails'; Expression = { [string]$_.RecipientTypeDetails } },
    @{Name = 'Database'; Expression = { [string]$_.Database.Name } },
    'ServerName',
    @{Name = 'ArchiveDatabase'; Expression = { if ($_.ArchiveDatabase) { [string]$_.ArchiveDatabase.Name } } },
    @{Name = 'ArchiveGuid'; Expression = { [string]$_.ArchiveGuid } },
    @{Name = 'ExchangeGuid'; Expression = { [string]$_.ExchangeGuid } },
    'CustomAttribute1', 'CustomAttribute2', 'CustomAttribute3', 'CustomAttribute4', 'CustomAttribute5',
    'CustomAttribute6', 'CustomAttribute7', 'CustomAttribute8', 'CustomAttribute9', 'CustomAttribute10',
    'CustomAttribute11', 'CustomAttribute12', 'CustomAttribute13', 'CustomAttribute14', 'CustomAttribute15')
Save-MigratorCsv -Rows $mailboxRows -FileName 'Mailboxes.csv' -Part 'mailboxes'

Write-MigratorStep -Status 'mailbox databases and their log volumes' -Percent 44
$databases = @()
try {
    $databases = @(Get-MailboxDatabase -Status @dc -ErrorAction Stop)
} catch {
    Write-MigratorSkip -Part 'mailbox databases' -Reason $_.Exception.Message
}
$logFree = @{}
foreach ($database in $databases) {
    $logPath = [string]$database.LogFolderPath.PathName
    try {
        $volumes = @(Get-WmiObject -Class Win32_Volume -ComputerName ([string]$database.Server.Name) -ErrorAction Stop)
        $best = $null
        foreach ($volume in $volumes) {
            $volumeName = [string]$volume.Name
            if ($volumeName -and $logPath.StartsWith($volumeName, [System.StringComparison]::OrdinalIgnoreCase)) {
                if ($null -eq $best -or $volumeName.Length -gt ([string]$best.Name).Length) {
                    $best = $volume
                }
            }
        }
        if ($null -ne $best) {
            $logFree[[string]$database.Name] = [string]$best.FreeSpace
        }
    } catch {
        Write-MigratorSkip -Part ('log volume free space of ' + [string]$database.Name) -Reason $_.Exception.Message
    }
}
$databaseRows = @($databases | Select-Object -Property 'Name',
    @{Name = 'Server'; Expression = { [string]$_.Server.Name } },
    @{Name = 'MasterServerOrAvailabilityGroup'; Expression = { [string]$_.MasterServerOrAvailabilityGroup.Name } },
    @{Name = 'DatabaseCopies'; Expression = { @($_.DatabaseCopies).Count } },
    'CircularLoggingEnabled',
    @{Name = 'LogFolderPath'; Expression = { [string]$_.LogFolderPath.PathName } },
    @{Name = 'LogVolumeFreeBytes'; Expression = { $logFree[[string]$_.Name] } },
    @{Name = 'RpcClientAccessServer'; Expression = { [string]$_.RpcClientAccessServer } },
    @{Name = 'OfflineAddressBook'; Expression = { if ($_.OfflineAddressBook) { [string]$_.OfflineAddressBook.Name } } })
Save-MigratorCsv -Rows $databaseRows -FileName 'MailboxDatabases.csv' -Part 'mailbox databases'

Write-MigratorStep -Status 'mailbox statistics (primary and archive, sizes in bytes)' -Percent 46
$statistics = @()
foreach ($database in $databases) {
    try {
        $statistics += @(Get-MailboxStatistics -Database ([string]$database.Identity) @dc -ErrorAction Stop | Where-Object { -not $_.DisconnectDate })
    } catch {
        Write-MigratorSkip -Part ('mailbox statistics of ' + [string]$database.Name) -Reason $_.Exception.Message
    }
}
$statisticsRows = @($statistics | Select-Object -Property @{Name = 'MailboxGuid'; Expression = { [string]$_.MailboxGuid } },
    'DisplayName',
    @{Name = 'Database'; Expression = { [string]$_.Database.Name } },
    'IsArchiveMailbox', 'ItemCount',
    @{Name = 'TotalItemSize'; Expression = { [string]$_.TotalItemSize } },
    @{Name = 'TotalItemSizeBytes'; Expression = { if ($_.TotalItemSize) { $_.TotalItemSize.Value.ToBytes() } } },
    @{Name = 'TotalDeletedItemSize'; Expression = { [string]$_.TotalDeletedItemSize } },
    @{Name = 'TotalDeletedItemSizeBytes'; Expression = { if ($_.TotalDeletedItemSize) { $_.TotalDeletedItemSize.Value.ToBytes() } } })
Save-MigratorCsv -Rows $statisticsRows -FileName 'MailboxStatistics.csv' -Part 'mailbox statistics'

Write-MigratorStep -Status 'mailbox permissions (FullAccess, Send As, Send on Behalf)' -Percent 48
$permissionItems = @()
foreach ($mailbox in $mailboxes) {
    $address = [string]$mailbox.PrimarySmtpAddress
    try {
        foreach ($ace in @(Get-MailboxPermission -Identity ([string]$mailbox.DistinguishedName) @dc -ErrorAction Stop)) {
            $trustee = [string]$ace.User
            if ($ace.IsInherited -or $ace.Deny -or $trustee -eq 'NT AUTHORITY\SELF' -or (Join-MigratorValue $ace.AccessRights) -notmatch 'FullAccess') {
                continue
            }
            $permissionItems += New-Object -TypeName PSObject -Property @{ Mailbox = $address; Trustee = $trustee; Permission = 'FullAccess'; AccessRights = 'FullAccess' }
        }
        foreach ($ace in @(Get-ADPermission -Identity ([string]$mailbox.DistinguishedName) @dc -ErrorAction Stop)) {
            $trustee = [string]$ace.User
            if ($ace.IsInherited -or $ace.Deny -or $trustee -eq 'NT AUTHORITY\SELF' -or (Join-MigratorValue $ace.ExtendedRights) -notmatch 'Send-As') {
                continue
            }
            $permissionItems += New-Object -TypeName PSObject -Property @{ Mailbox = $address; Trustee = $trustee; Permission = 'SendAs'; AccessRights = 'Send-As' }
        }
        foreach ($delegate in @($mailbox.GrantSendOnBehalfTo)) {
            if ($null -ne $delegate) {
                $permissionItems += New-Object -TypeName PSObject -Property @{ Mailbox = $address; Trustee = [string]$delegate.DistinguishedName; Permission = 'SendOnBehalf'; AccessRights = 'GrantSendOnBehalfTo' }
            }
        }
        if ($CalendarPermissions) {
            $calendar = ([string]$mailbox.DistinguishedName) + ':\Calendar'
            foreach ($folder in @(Get-MailboxFolderStatistics -Identity ([string]$mailbox.DistinguishedName) -FolderScope Calendar @dc -ErrorAction Stop)) {
                if ([string]$folder.FolderType -eq 'Calendar') {
                    $calendar = ([string]$mailbox.DistinguishedName) + ':' + ([string]$folder.FolderPath -replace '/', '\')
                }
            }
            foreach ($ace in @(Get-MailboxFolderPermission -Identity $calendar @dc -ErrorAction Stop)) {
                $rights = Join-MigratorValue $ace.AccessRights
                $trustee = [string]$ace.User
                if ($ace.User.ADRecipient) {
                    $trustee = [string]$ace.User.ADRecipient.PrimarySmtpAddress
                }
                if ($trustee -eq 'Default' -or $trustee -eq 'Anonymous' -or $rights -eq 'None' -or $rights -eq 'AvailabilityOnly') {
                    continue
                }
                $permissionItems += New-Object -TypeName PSObject -Property @{ Mailbox = $address; Trustee = $trustee; Permission = 'Calendar'; AccessRights = $rights }
            }
        }
    } catch {
        Write-MigratorSkip -Part ('permissions of ' + $address) -Reason $_.Exception.Message
    }
}
$mailboxPermissionRows = @($permissionItems | Select-Object -Property 'Mailbox', 'Trustee', 'Permission', 'AccessRights')
Save-MigratorCsv -Rows $mailboxPermissionRows -FileName 'MailboxPermissions.csv' -Part 'mailbox permissions'

# --------------------------------------------------------------------------- client access

# AD values only (-ADPropertiesOnly: no IIS metabase reads on every server).
Write-MigratorStep -Status 'client access: virtual directories, Outlook Anywhere, SCPs, CAS arrays' -Percent 48
$vdirNouns = @('Owa', 'Ecp', 'WebServices', 'ActiveSync', 'Oab', 'Autodiscover')
$vdirs = @(foreach ($server in $exchangeServers) {
        if ([string]$server.ServerRole -notmatch 'ClientAccess|Mailbox') {
            continue
        }
        foreach ($noun in $vdirNouns) {
            $vdirServer = [string]$server.Name
            try {
                switch ($noun) {
                    'Owa' { Get-OwaVirtualDirectory -Server $vdirServer -ADPropertiesOnly @dc -ErrorAction Stop }
                    'Ecp' { Get-EcpVirtualDirectory -Server $vdirServer -ADPropertiesOnly @dc -ErrorAction Stop }
                    'WebServices' { Get-WebServicesVirtualDirectory -Server $vdirServer -ADPropertiesOnly @dc -ErrorAction Stop }
                    'ActiveSync' { Get-ActiveSyncVirtualDirectory -Server $vdirServer -ADPropertiesOnly @dc -ErrorAction Stop }
                    'Oab' { Get-OabVirtualDirectory -Server $vdirServer -ADPropertiesOnly @dc -ErrorAction Stop }
                    'Autodiscover' { Get-AutodiscoverVirtualDirectory -Server $vdirServer -ADPropertiesOnly @dc -ErrorAction Stop }
                }
            } catch {
                Write-MigratorSkip -Part ($noun + ' virtual directories of ' + [string]$server.Name) -Reason $_.Exception.Message
            }
        }
    })
# MAPI over HTTP (2016 only) and the 2016 SCPs are not read here: the plan's 2016 steps export the
# values they find before they change them.
$vdirRows = @($vdirs | Select-Object -Property @{Name = 'Server'; Expression = { [string]$_.Server.Name } }, 'Name',
    @{Name = 'InternalUrl'; Expression = { [string]$_.InternalUrl } },
    @{Name = 'ExternalUrl'; Expression = { [string]$_.ExternalUrl } },
    @{Name = 'InternalAuthenticationMethods'; Expression = { Join-MigratorValue $_.InternalAuthenticationMethods } },
    @{Name = 'ExternalAuthenticationMethods'; Expression = { Join-MigratorValue $_.ExternalAuthenticationMethods } })
Save-MigratorCsv -Rows $vdirRows -FileName 'VirtualDirectories.csv' -Part 'virtual directories'

$outlookAnywhereRows = @()
try {
    $outlookAnywhereRows = @(Get-OutlookAnywhere -ADPropertiesOnly @dc -ErrorAction Stop | Select-Object -Property @{Name = 'Server'; Expression = { [string]$_.Server.Name } }, 'Name',
        @{Name = 'ExternalHostname'; Expression = { [string]$_.ExternalHostname } },
        @{Name = 'InternalHostname'; Expression = { [string]$_.InternalHostname } },
        @{Name = 'ClientAuthenticationMethod'; Expression = { [string]$_.ClientAuthenticationMethod } },
        @{Name = 'ExternalClientAuthenticationMethod'; Expression = { [string]$_.ExternalClientAuthenticationMethod } },
        @{Name = 'IISAuthenticationMethods'; Expression = { Join-MigratorValue $_.IISAuthenticationMethods } },
        'SSLOffloading')
} catch {
    Write-MigratorSkip -Part 'Outlook Anywhere' -Reason $_.Exception.Message
}
Save-MigratorCsv -Rows $outlookAnywhereRows -FileName 'OutlookAnywhere.csv' -Part 'Outlook Anywhere'

$scps = @()
try {
    $scps = @(Get-ClientAccessServer @dc -ErrorAction Stop)
} catch {
    Write-MigratorSkip -Part 'Autodiscover SCPs' -Reason $_.Exception.Message
}
$scpRows = @($scps | Select-Object -Property 'Name',
    @{Name = 'AutoDiscoverServiceInternalUri'; Expression = { [string]$_.AutoDiscoverServiceInternalUri } },
    @{Name = 'AutoDiscoverSiteScope'; Expression = { Join-MigratorValue $_.AutoDiscoverSiteScope } })
Save-MigratorCsv -Rows $scpRows -FileName 'ClientAccessServers.csv' -Part 'Autodiscover SCPs'

$arrayRows = @()
try {
    $arrayRows = @(Get-ClientAccessArray @dc -ErrorAction Stop | Select-Object -Property 'Name',
        @{Name = 'Fqdn'; Expression = { [string]$_.Fqdn } },
        @{Name = 'Site'; Expression = { [string]$_.Site.Name } },
        @{Name = 'Members'; Expression = { Join-MigratorValue $_.Members } })
} catch {
    Write-MigratorSkip -Part 'Client Access arrays' -Reason $_.Exception.Message
}
Save-MigratorCsv -Rows $arrayRows -FileName 'ClientAccessArrays.csv' -Part 'Client Access arrays'

# Properties a 2010 shell does not know (MapiHttpEnabled, PublicFoldersEnabled) export empty.
$organizationRows = @()
try {
    $organizationRows = @(Get-OrganizationConfig @dc -ErrorAction Stop | Select-Object -Property 'MapiHttpEnabled', 'PublicFoldersEnabled',
        'PublicFoldersLockedForMigration', 'PublicFolderMigrationComplete',
        @{Name = 'RemotePublicFolderMailboxes'; Expression = { Join-MigratorValue $_.RemotePublicFolderMailboxes } },
        'DefaultPublicFolderMailbox')
} catch {
    Write-MigratorSkip -Part 'organization config' -Reason $_.Exception.Message
}
Save-MigratorCsv -Rows $organizationRows -FileName 'OrganizationConfig.csv' -Part 'organization config'

# --------------------------------------------------------------------------- AD users

if ($SkipUsers) {
    Write-MigratorSkip -Part 'AD users' -Reason '-SkipUsers was given'
} else {
    Write-MigratorStep -Status 'AD users (paged LDAP search, 1000 per page)' -Percent 50
    $roots = @()
    try {
        if ($UserSearchBase) {
            $roots = @(New-Object -TypeName System.DirectoryServices.DirectoryEntry -ArgumentList ('LDAP://' + $UserSearchBase))
        } else {
            $forest = [System.DirectoryServices.ActiveDirectory.Forest]::GetCurrentForest()
            $roots = @($forest.Domains | ForEach-Object { $_.GetDirectoryEntry() })
        }
    } catch {
        Write-MigratorSkip -Part 'AD users' -Reason ('the domains of the forest cannot be read: ' + $_.Exception.Message)
    }
    if ($roots.Count -gt 0) {
        $usersPath = Join-Path $script:Folder 'ADUsers.csv'
        $started = Get-Date
        Get-MigratorAdUser -SearchRoots $roots |
            Select-Object -Property 'DistinguishedName', 'SamAccountName', 'ObjectGUID', 'UserPrincipalName', 'mail',
            'proxyAddresses', 'mS-DS-ConsistencyGuid', 'msExchRecipientTypeDetails', 'msExchMailboxGuid',
            'targetAddress', 'Enabled' |
            Export-Csv -Path $usersPath -NoTypeInformation -Encoding UTF8
        $seconds = [int]((Get-Date) - $started).TotalSeconds
        if ($script:UserCount -eq 0) {
            if (Test-Path -LiteralPath $usersPath) {
                Remove-Item -LiteralPath $usersPath
            }
            Write-MigratorSkip -Part 'AD users' -Reason 'no user was found, ADUsers.csv not written'
        } else {
            Write-Host ('[migrator] wrote ADUsers.csv (' + $script:UserCount + ' users in ' + $seconds + ' s)')
        }
    }
}

# --------------------------------------------------------------------------- recipients

# Every mail-enabled object: Exchange Online rejects mail to any address of a domain that is
# Authoritative there and not in the cloud directory (Directory-Based Edge Blocking), so the MX
# change of a domain waits until each of them is synced or the domain is InternalRelay there.
Write-MigratorStep -Status 'recipients (Get-Recipient -ResultSize Unlimited)' -Percent 80
$recipientsPath = Join-Path $script:Folder 'Recipients.csv'
try {
    Get-Recipient -ResultSize Unlimited @dc -ErrorAction Stop |
        Select-Object -Property 'Name',
        @{Name = 'RecipientType'; Expression = { [string]$_.RecipientType } },
        @{Name = 'RecipientTypeDetails'; Expression = { [string]$_.RecipientTypeDetails } },
        @{Name = 'PrimarySmtpAddress'; Expression = { [string]$_.PrimarySmtpAddress } },
        @{Name = 'EmailAddresses'; Expression = { Join-MigratorValue $_.EmailAddresses "`n" } },
        'DistinguishedName' |
        Export-Csv -Path $recipientsPath -NoTypeInformation -Encoding UTF8
    Write-Host '[migrator] wrote Recipients.csv'
} catch {
    Write-MigratorSkip -Part 'recipients' -Reason $_.Exception.Message
}

# --------------------------------------------------------------------------- public folders
# Legacy public folders (docs/public-folders.md): databases, the tree, statistics per server holding a
# replica (-ResultSize Unlimited: the defaults are 10,000 folders and 1,000 statistics rows), mail-enabled
# folders. No public folder database: nothing written, and migrator plans no public folder steps.
Write-MigratorStep -Status 'public folders (databases, tree, statistics, mail-enabled folders)' -Percent 82
$pfDatabases = @()
try {
    $pfDatabases = @(Get-PublicFolderDatabase @dc -ErrorAction Stop)
} catch {
    Write-MigratorSkip -Part 'public folder databases' -Reason $_.Exception.Message
}
$pfDatabaseRows = @($pfDatabases | Select-Object -Property 'Name',
    @{Name = 'Server'; Expression = { [string]$_.Server.Name } },
    @{Name = 'ProhibitPostQuota'; Expression = { [string]$_.ProhibitPostQuota } },
    @{Name = 'MaxItemSize'; Expression = { [string]$_.MaxItemSize } },
    @{Name = 'ReplicationPeriod'; Expression = { [string]$_.ReplicationPeriod } },
    'UseCustomReferralServerList')
Save-MigratorCsv -Rows $pfDatabaseRows -FileName 'PublicFolderDatabases.csv' -Part 'public folder databases'
if ($pfDatabases.Count -gt 0) {
    try {
        $pfRows = @(Get-PublicFolder -Identity '\' -Recurse -ResultSize Unlimited @dc -ErrorAction Stop | Select-Object -Property @{Name = 'Identity'; Expression = { [string]$_.Identity } },
            'Name', @{Name = 'ParentPath'; Expression = { [string]$_.ParentPath } }, 'MailEnabled', 'HasSubFolders',
            @{Name = 'Replicas'; Expression = { Join-MigratorValue $_.Replicas } })
        Save-MigratorCsv -Rows $pfRows -FileName 'PublicFolders.csv' -Part 'public folders'
    } catch {
        Write-MigratorSkip -Part 'public folders' -Reason $_.Exception.Message
    }
    $pfStatistics = @()
    foreach ($pfServer in @($pfDatabases | ForEach-Object { [string]$_.Server.Name } | Sort-Object -Unique)) {
        try {
            $pfStatistics += @(Get-PublicFolderStatistics -Server $pfServer -ResultSize Unlimited @dc -ErrorAction Stop)
        } catch {
            Write-MigratorSkip -Part ('public folder statistics of ' + $pfServer) -Reason $_.Exception.Message
        }
    }
    $pfStatisticsRows = @($pfStatistics | Select-Object -Property @{Name = 'FolderPath'; Expression = { Join-MigratorValue $_.FolderPath '\' } },
        'Name', 'ServerName', 'ItemCount',
        @{Name = 'TotalItemSize'; Expression = { [string]$_.TotalItemSize } },
        @{Name = 'TotalItemSizeBytes'; Expression = { $size = $_.TotalItemSize; if ($null -eq $size) { '' } elseif ($size.PSObject.Properties['Value']) { $size.Value.ToBytes() } else { $size.ToBytes() } } })
    Save-MigratorCsv -Rows $pfStatisticsRows -FileName 'PublicFolderStatistics.csv' -Part 'public folder statistics'
    try {
        $mailPfRows = @(Get-MailPublicFolder -ResultSize Unlimited @dc -ErrorAction Stop | Select-Object -Property @{Name = 'Identity'; Expression = { [string]$_.Identity } },
            'Name', 'Alias', @{Name = 'PrimarySmtpAddress'; Expression = { [string]$_.PrimarySmtpAddress } },
            @{Name = 'EmailAddresses'; Expression = { Join-MigratorValue $_.EmailAddresses "`n" } },
            @{Name = 'ExternalEmailAddress'; Expression = { [string]$_.ExternalEmailAddress } },
            'DeliverToMailboxAndForward', 'HiddenFromAddressListsEnabled')
        Save-MigratorCsv -Rows $mailPfRows -FileName 'MailPublicFolders.csv' -Part 'mail-enabled public folders'
    } catch {
        Write-MigratorSkip -Part 'mail-enabled public folders' -Reason $_.Exception.Message
    }
}

# --------------------------------------------------------------------------- inventory.yaml

Write-MigratorStep -Status 'inventory.yaml' -Percent 85
$siteNames = @($serverInfo | ForEach-Object { ([string]$_.Site -split '/')[-1] } | Where-Object { $_ } | Sort-Object -Unique)
$subnets = @{}
try {
    foreach ($adSite in [System.DirectoryServices.ActiveDirectory.Forest]::GetCurrentForest().Sites) {
        $subnets[[string]$adSite.Name] = @($adSite.Subnets | ForEach-Object { [string]$_.Name } | Sort-Object)
    }
} catch {
    Write-MigratorSkip -Part 'AD site subnets' -Reason ($_.Exception.Message + '; add the subnets to inventory.yaml')
}

$yaml = @()
$yaml += '# inventory.yaml written by Export-MigratorInventory.ps1 on ' + (Get-Date -Format 'yyyy-MM-dd HH:mm') + '.'
$yaml += '# Format: docs/inventory.md. Complete the TODO parts, then run: migrator check <this folder>'
$yaml += '#'
$yaml += '# Every .csv and .xml in this folder is read (not subfolders: clixml\ holds full-fidelity'
$yaml += '# copies, ProtocolLogs\ goes to "migrator logs scan"). Files this run wrote:'
foreach ($file in @('ExchangeServers.csv', 'ReceiveConnectors.csv', 'ReceiveConnectorPermissions.csv', 'AcceptedDomains.csv', 'SendConnectors.csv', 'TransportConfig.csv', 'Certificates.csv', 'Mailboxes.csv', 'MailboxDatabases.csv', 'MailboxStatistics.csv', 'MailboxPermissions.csv', 'ADUsers.csv', 'Recipients.csv', 'VirtualDirectories.csv', 'OutlookAnywhere.csv', 'ClientAccessServers.csv', 'ClientAccessArrays.csv', 'OrganizationConfig.csv', 'PublicFolderDatabases.csv', 'PublicFolders.csv', 'PublicFolderStatistics.csv', 'MailPublicFolders.csv')) {
    if (Test-Path -LiteralPath (Join-Path $script:Folder $file)) {
        $yaml += '#   ' + $file
    }
}
$yaml += '# Copy CloudUsers.csv from Export-MigratorCloudInventory.ps1 into this folder too.'
$yaml += ''
$yaml += 'organisation: ' + (ConvertTo-MigratorYaml $organisation)
$yaml += ''
$yaml += '# TODO plan: start date, final version, where mail flows, maintenance windows, e.g.'
$yaml += '# plan:'
$yaml += '#   start: 2027-01-11'
$yaml += '#   final_version: SE                  # 2016 | 2019 | SE'
$yaml += '#   mail_flow_target: exchange-online  # exchange-online | on-premises | gateway'
$yaml += '#   observation_days: 14'
$yaml += '#   mx_keep_route: [partner.example.net]  # domains whose MX stays as it is (e.g. not in the tenant)'
$yaml += '#   namespace: [mail.example.com, autodiscover.example.com]  # client names the new servers serve'
$yaml += '#   maintenance_windows:'
$yaml += '#     - {day: Saturday, start: "20:00", end: "23:59"}'
$yaml += ''
if ($siteNames.Count -gt 0) {
    $yaml += '# Active Directory sites with Exchange servers, with their AD subnets.'
    $yaml += 'sites:'
    foreach ($siteName in $siteNames) {
        $yaml += '  - name: ' + (ConvertTo-MigratorYaml $siteName)
        $siteSubnets = @()
        if ($subnets.ContainsKey($siteName)) {
            $siteSubnets = @($subnets[$siteName])
        }
        if ($siteSubnets.Count -gt 0) {
            $yaml += '    subnets: [' + (@($siteSubnets | ForEach-Object { ConvertTo-MigratorYaml $_ }) -join ', ') + ']'
        } else {
            $yaml += '    # TODO subnets: [10.1.0.0/16]'
        }
    }
    $yaml += ''
}
if ($serverInfo.Count -gt 0) {
    $yaml += '# Builds, roles, OS and addresses come from ExchangeServers.csv; keys given here win.'
    $yaml += 'servers:'
    foreach ($info in $serverInfo) {
        $yaml += '  - name: ' + (ConvertTo-MigratorYaml ([string]$info.Name))
        $siteName = ([string]$info.Site -split '/')[-1]
        if ($siteName) {
            $yaml += '    site: ' + (ConvertTo-MigratorYaml $siteName)
        }
        $version = Get-MigratorYamlVersion ([string]$info.AdminDisplayVersion)
        if ($version) {
            $yaml += '    version: ' + (ConvertTo-MigratorYaml $version)
        }
        $yaml += '    # hybrid: true   # TODO where this server is the hybrid (HCW) server'
    }
    $yaml += '  # TODO add the new servers, e.g.'
    $yaml += '  # - name: EX16-01'
    $yaml += '  #   site: London'
    $yaml += '  #   version: "2016"'
    $yaml += ''
}
if ($acceptedDomains.Count -gt 0) {
    $yaml += '# Accepted domains are read from AcceptedDomains.csv. TODO the public DNS of each, e.g.'
    $yaml += '# dns:'
    foreach ($domain in $acceptedDomains) {
        if ([string]$domain.DomainType -eq 'Authoritative') {
            $yaml += '#   - domain: ' + [string]$domain.DomainName
            $yaml += '#     mx: [{host: mail.example.com, preference: 10, ttl: 3600}]'
            $yaml += '#     spf: "v=spf1 ... -all"'
        }
    }
    $yaml += ''
}
$yaml += '# TODO tenant: paste tenant.yaml written by Export-MigratorCloudInventory.ps1 here.'
$yaml += ''
$yaml += '# TODO relay policy: the new servers that take over relay, per site, e.g.'
$yaml += '# relay:'
$yaml += '#   method: anonymous'
$yaml += '#   targets:'
foreach ($siteName in $siteNames) {
    $yaml += '#     ' + $siteName + ': [TODO new server]'
}
$yaml += '#   public_ranges: [203.0.113.0/28]'
$yaml += '#   domain_controller: dc01.example.com'
$yaml | Out-File -FilePath (Join-Path $script:Folder 'inventory.yaml') -Encoding UTF8
Write-Host '[migrator] wrote inventory.yaml'

# --------------------------------------------------------------------------- -EnableProtocolLogging

if ($EnableProtocolLogging) {
    Write-MigratorStep -Status 'protocol logging on the relay connectors' -Percent 90
    foreach ($connector in $receiveConnectors) {
        $identity = [string]$connector.Identity
        $ranges = Join-MigratorValue $connector.RemoteIPRanges
        $wholeSpace = $ranges -match '(^|;)0\.0\.0\.0-255\.255\.255\.255(;|$)'
        if (-not $connector.Enabled -or $wholeSpace -or -not $legacyServers.ContainsKey([string]$connector.Server)) {
            continue
        }
        if ([string]$connector.ProtocolLoggingLevel -eq 'Verbose') {
            Write-Host ('[migrator] ' + $identity + ': protocol logging already Verbose')
            continue
        }
        if ($PSCmdlet.ShouldProcess($identity, 'Set-ReceiveConnector -ProtocolLoggingLevel Verbose')) {
            try {
                Set-ReceiveConnector -Identity ([string]$connector.DistinguishedName) -ProtocolLoggingLevel Verbose @dc -ErrorAction Stop
                if (-not $WhatIfPreference) {
                    $after = Get-ReceiveConnector -Identity ([string]$connector.DistinguishedName) @dc -ErrorAction Stop
                    if ([string]$after.ProtocolLoggingLevel -ne 'Verbose') {
                        Write-Warning ($identity + ': ProtocolLoggingLevel reads back as ' + [string]$after.ProtocolLoggingLevel + ', not Verbose')
                    } else {
                        Write-Host ('[migrator] ' + $identity + ': protocol logging set to Verbose')
                    }
                }
            } catch {
                Write-MigratorSkip -Part ('protocol logging on ' + $identity) -Reason $_.Exception.Message
            }
        }
    }
    $wantBytes = [long]$ProtocolLogMaxDirectorySizeMB * 1048576
    $wantAge = New-TimeSpan -Days $ProtocolLogMaxAgeDays
    $transportServers = @()
    try {
        $transportServers = @(Get-TransportServer @dc -ErrorAction Stop)
    } catch {
        Write-MigratorSkip -Part 'protocol log limits' -Reason $_.Exception.Message
    }
    foreach ($transport in $transportServers) {
        $name = [string]$transport.Name
        if (-not $legacyServers.ContainsKey($name)) {
            Write-MigratorSkip -Part ('protocol log limits on ' + $name) -Reason 'not an Exchange 2010 server; set them with Set-TransportService in its own shell'
            continue
        }
        $size = Get-MigratorBytes -Default 0 -Value $transport.ReceiveProtocolLogMaxDirectorySize
        $age = [TimeSpan]::Zero
        try {
            $age = [TimeSpan]::Parse([string]$transport.ReceiveProtocolLogMaxAge)
        } catch {
            $age = [TimeSpan]::Zero
        }
        $changes = @()
        if ($size -ne -1 -and $size -lt $wantBytes) {
            $changes += 'ReceiveProtocolLogMaxDirectorySize ' + $ProtocolLogMaxDirectorySizeMB + 'MB'
        }
        if ($age -lt $wantAge) {
            $changes += 'ReceiveProtocolLogMaxAge ' + $ProtocolLogMaxAgeDays + ' days'
        }
        if ($changes.Count -eq 0) {
            Write-Host ('[migrator] ' + $name + ': protocol log limits already high enough')
            continue
        }
        if ($PSCmdlet.ShouldProcess($name, 'Set-TransportServer ' + ($changes -join ', '))) {
            try {
                Set-TransportServer -Identity $name -ReceiveProtocolLogMaxDirectorySize ([string]$ProtocolLogMaxDirectorySizeMB + 'MB') -ReceiveProtocolLogMaxAge ($wantAge.ToString()) @dc -ErrorAction Stop
                if (-not $WhatIfPreference) {
                    $after = Get-TransportServer -Identity $name @dc -ErrorAction Stop
                    Write-Host ('[migrator] ' + $name + ': receive protocol logs now ' + [string]$after.ReceiveProtocolLogMaxDirectorySize + ', ' + [string]$after.ReceiveProtocolLogMaxAge)
                }
            } catch {
                Write-MigratorSkip -Part ('protocol log limits on ' + $name) -Reason $_.Exception.Message
            }
        }
    }
}

# --------------------------------------------------------------------------- -CollectProtocolLogs

if ($CollectProtocolLogs) {
    Write-MigratorStep -Status ('SmtpReceive protocol logs of the last ' + $Days + ' days') -Percent 93
    $since = (Get-Date).AddDays(-$Days)
    $transportServers = @()
    try {
        $transportServers = @(Get-TransportServer @dc -ErrorAction Stop)
    } catch {
        Write-MigratorSkip -Part 'protocol logs' -Reason $_.Exception.Message
    }
    foreach ($transport in $transportServers) {
        $name = [string]$transport.Name
        $fqdn = $name
        if ($serverFqdn.ContainsKey($name)) {
            $fqdn = $serverFqdn[$name]
        }
        $unc = ConvertTo-MigratorUnc -ComputerName $fqdn -LocalPath ([string]$transport.ReceiveProtocolLogPath)
        if (-not $unc) {
            Write-MigratorSkip -Part ('protocol logs of ' + $name) -Reason 'ReceiveProtocolLogPath is not set'
            continue
        }
        try {
            $files = @(Get-ChildItem -LiteralPath $unc -Filter '*.LOG' -ErrorAction Stop | Where-Object { -not $_.PSIsContainer -and $_.LastWriteTime -ge $since })
            $target = Join-Path (Join-Path $script:Folder 'ProtocolLogs') $name
            $null = New-Item -ItemType Directory -Path $target -Force
            foreach ($file in $files) {
                Copy-Item -LiteralPath $file.FullName -Destination $target -ErrorAction Stop
            }
            Write-Host ('[migrator] copied ' + $files.Count + ' protocol logs from ' + $unc)
            if ($files.Count -eq 0) {
                Write-MigratorSkip -Part ('protocol logs of ' + $name) -Reason ('no log newer than ' + $Days + ' days in ' + $unc)
            }
        } catch {
            Write-MigratorSkip -Part ('protocol logs of ' + $name) -Reason $_.Exception.Message
        }
    }
}

# --------------------------------------------------------------------------- summary

Write-Progress -Activity $script:Activity -Status 'done' -Completed
if ($script:Skipped.Count -gt 0) {
    Write-Warning ([string]$script:Skipped.Count + ' part(s) were skipped:')
    foreach ($line in $script:Skipped) {
        Write-Warning ('  ' + $line)
    }
}
Write-Host ('[migrator] done: bring back the folder ' + $script:Folder)
if ($transcript) {
    $null = Stop-Transcript
}
