"""The export tables migrator reads: how each is recognised and the command that makes it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TableKind(enum.Enum):
    """One kind of PowerShell export."""

    RECEIVE_CONNECTORS = "receive connectors"
    AD_PERMISSIONS = "AD permissions"
    EXCHANGE_SERVERS = "exchange servers"
    ACCEPTED_DOMAINS = "accepted domains"
    SEND_CONNECTORS = "send connectors"
    TRANSPORT_CONFIG = "transport config"
    CERTIFICATES = "certificates"
    AD_USERS = "AD users"
    CLOUD_USERS = "cloud users"
    RECIPIENTS = "recipients"
    MAILBOXES = "mailboxes"
    MAILBOX_STATISTICS = "mailbox statistics"
    MAILBOX_DATABASES = "mailbox databases"
    MAILBOX_PERMISSIONS = "mailbox permissions"
    VIRTUAL_DIRECTORIES = "virtual directories"
    OUTLOOK_ANYWHERE = "Outlook Anywhere"
    CLIENT_ACCESS_SERVERS = "client access servers"
    CLIENT_ACCESS_ARRAYS = "client access arrays"
    ORGANIZATION_CONFIG = "organization config"
    PUBLIC_FOLDER_DATABASES = "public folder databases"
    PUBLIC_FOLDERS = "public folders"
    PUBLIC_FOLDER_STATISTICS = "public folder statistics"
    MAIL_PUBLIC_FOLDERS = "mail-enabled public folders"


@dataclass(frozen=True)
class TableSpec:
    """How a table is recognised and which columns it must have."""

    kind: TableKind
    """The table."""
    type_names: tuple[str, ...]
    """.NET type names (without ``Deserialized.``/``Selected.``) of its objects."""
    distinctive: frozenset[str]
    """Lower-case column names that point at this table (two of them recognise a CSV)."""
    required: tuple[str, ...]
    """Columns it must have (PowerShell property names)."""
    command: str
    """The PowerShell command that makes the CSV export."""
    clixml_command: str
    """The PowerShell command that makes the CliXML export (empty where there is none)."""


_RC_CSV = (
    "Get-ReceiveConnector | Select-Object Identity,Server,Name,"
    "@{Name='Bindings';Expression={$_.Bindings -join ';'}},"
    "@{Name='RemoteIPRanges';Expression={$_.RemoteIPRanges -join ';'}},"
    "@{Name='AuthMechanism';Expression={$_.AuthMechanism.ToString()}},"
    "@{Name='PermissionGroups';Expression={$_.PermissionGroups.ToString()}},"
    "TransportRole,MaxMessageSize,Fqdn,TlsCertificateName,"
    "@{Name='TlsDomainCapabilities';Expression={$_.TlsDomainCapabilities -join ';'}},"
    "Enabled,ProtocolLoggingLevel,Comment"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path ReceiveConnectors.csv"
)
_PERM_CSV = (
    "Get-ReceiveConnector | Get-ADPermission | Where-Object {-not $_.IsInherited} | "
    "Select-Object Identity,@{Name='User';Expression={$_.User.ToString()}},"
    "@{Name='ExtendedRights';Expression={$_.ExtendedRights -join ';'}},"
    "@{Name='AccessRights';Expression={$_.AccessRights -join ';'}},Deny,IsInherited"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path ReceiveConnectorPermissions.csv"
)
_SRV_CSV = (
    "Get-ExchangeServer | Select-Object Name,Fqdn,"
    "@{Name='ServerRole';Expression={$_.ServerRole.ToString()}},"
    "@{Name='Site';Expression={$_.Site.Name}},"
    "@{Name='AdminDisplayVersion';Expression={$_.AdminDisplayVersion.ToString()}},"
    "@{Name='ExSetupVersion';Expression={(Get-Command -Name "
    '"\\\\$($_.Fqdn)\\c$\\Program Files\\Microsoft\\Exchange Server\\V14\\Bin\\ExSetup.exe"'
    ").FileVersionInfo.FileVersion}}"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path ExchangeServers.csv"
)
_AD_CSV = (
    "Get-AcceptedDomain | Select-Object Name,"
    "@{Name='DomainName';Expression={$_.DomainName.ToString()}},DomainType,Default"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path AcceptedDomains.csv"
)
_SC_CSV = (
    "Get-SendConnector | Select-Object Name,"
    "@{Name='AddressSpaces';Expression={$_.AddressSpaces -join ';'}},"
    "@{Name='SourceTransportServers';Expression={$_.SourceTransportServers -join ';'}},"
    "@{Name='SmartHosts';Expression={$_.SmartHosts -join ';'}},"
    "Enabled,Fqdn,CloudServicesMailEnabled,TlsCertificateName,MaxMessageSize"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path SendConnectors.csv"
)
_TC_CSV = (
    "Get-TransportConfig | Select-Object MaxSendSize,MaxReceiveSize"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path TransportConfig.csv"
)
_CERT_CSV = (
    "Get-ExchangeServer | ForEach-Object { Get-ExchangeCertificate -Server $_.Name } | "
    "Select-Object @{Name='Server';Expression={$_.PSComputerName}},Thumbprint,Subject,Issuer,"
    "@{Name='CertificateDomains';Expression={$_.CertificateDomains -join ';'}},NotAfter,"
    "@{Name='Services';Expression={$_.Services.ToString()}},IsSelfSigned"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path Certificates.csv"
)
_ADU_CSV = (
    "Get-ADUser -Filter * -Properties objectGUID,mS-DS-ConsistencyGuid,proxyAddresses,mail,"
    "userPrincipalName,msExchRecipientTypeDetails,msExchMailboxGuid,targetAddress | "
    "Select-Object DistinguishedName,SamAccountName,ObjectGUID,UserPrincipalName,mail,"
    "@{Name='proxyAddresses';Expression={$_.proxyAddresses -join ';'}},"
    "@{Name='mS-DS-ConsistencyGuid';Expression={if ($_.'mS-DS-ConsistencyGuid') "
    "{[Convert]::ToBase64String($_.'mS-DS-ConsistencyGuid')}}},"
    "msExchRecipientTypeDetails,"
    "@{Name='msExchMailboxGuid';Expression={if ($_.msExchMailboxGuid) "
    "{[guid]$_.msExchMailboxGuid}}},targetAddress,Enabled"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path ADUsers.csv"
)
_CLOUD_CSV = (
    "Get-MgUser -All -Property Id,UserPrincipalName,Mail,ProxyAddresses,OnPremisesImmutableId,"
    "OnPremisesSyncEnabled | Select-Object Id,UserPrincipalName,Mail,"
    "@{Name='ProxyAddresses';Expression={$_.ProxyAddresses -join ';'}},"
    "OnPremisesImmutableId,OnPremisesSyncEnabled,"
    "@{Name='AdminRoles';Expression={(Get-MgUserMemberOf -UserId $_.Id -All | "
    "Where-Object {$_.AdditionalProperties.'@odata.type' -eq '#microsoft.graph.directoryRole'} | "
    "ForEach-Object {$_.AdditionalProperties.displayName}) -join ';'}},"
    "@{Name='HasMailbox';Expression={[bool](Get-EXOMailbox -Identity $_.Id "
    "-ErrorAction SilentlyContinue)}},"
    "@{Name='ExchangeGuid';Expression={(Get-EXOMailbox -Identity $_.Id "
    "-ErrorAction SilentlyContinue).ExchangeGuid}},"
    "@{Name='ArchiveGuid';Expression={(Get-EXOMailbox -Identity $_.Id -Properties ArchiveGuid "
    "-ErrorAction SilentlyContinue).ArchiveGuid}},"
    "@{Name='LegacyExchangeDN';Expression={(Get-EXOMailbox -Identity $_.Id -Properties "
    "LegacyExchangeDN -ErrorAction SilentlyContinue).LegacyExchangeDN}},"
    "@{Name='MailboxType';Expression={(Get-EXOMailbox -Identity $_.Id "
    "-ErrorAction SilentlyContinue).RecipientTypeDetails}}"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path CloudUsers.csv"
)
_RCPT_CSV = (
    "Get-Recipient -ResultSize Unlimited | Select-Object Name,RecipientType,"
    "RecipientTypeDetails,@{Name='PrimarySmtpAddress';Expression={$_.PrimarySmtpAddress.ToString()}},"
    "@{Name='EmailAddresses';Expression={$_.EmailAddresses -join ';'}},DistinguishedName"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path Recipients.csv"
)

_MBX_CSV = (
    "@(Get-Mailbox -ResultSize Unlimited) + @(Get-Mailbox -Arbitration -ResultSize Unlimited) | "
    "Select-Object Identity,Alias,SamAccountName,DistinguishedName,"
    "@{Name='PrimarySmtpAddress';Expression={$_.PrimarySmtpAddress.ToString()}},"
    "@{Name='RecipientTypeDetails';Expression={$_.RecipientTypeDetails.ToString()}},"
    "@{Name='Database';Expression={$_.Database.Name}},ServerName,"
    "@{Name='ArchiveDatabase';Expression={if ($_.ArchiveDatabase) {$_.ArchiveDatabase.Name}}},"
    "ArchiveGuid,ExchangeGuid,CustomAttribute1,CustomAttribute2,CustomAttribute3"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path Mailboxes.csv"
)
_STATS_CSV = (
    "Get-MailboxDatabase | ForEach-Object { Get-MailboxStatistics -Database $_.Identity } | "
    "Where-Object {-not $_.DisconnectDate} | Select-Object MailboxGuid,DisplayName,"
    "@{Name='Database';Expression={$_.Database.Name}},IsArchiveMailbox,ItemCount,"
    "@{Name='TotalItemSize';Expression={$_.TotalItemSize.ToString()}},"
    "@{Name='TotalItemSizeBytes';Expression={$_.TotalItemSize.Value.ToBytes()}},"
    "@{Name='TotalDeletedItemSize';Expression={$_.TotalDeletedItemSize.ToString()}},"
    "@{Name='TotalDeletedItemSizeBytes';Expression={$_.TotalDeletedItemSize.Value.ToBytes()}}"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path MailboxStatistics.csv"
)
_DB_CSV = (
    "Get-MailboxDatabase -Status | Select-Object Name,"
    "@{Name='Server';Expression={$_.Server.Name}},"
    "@{Name='MasterServerOrAvailabilityGroup';Expression={$_.MasterServerOrAvailabilityGroup.Name}},"
    "@{Name='DatabaseCopies';Expression={@($_.DatabaseCopies).Count}},"
    "CircularLoggingEnabled,@{Name='LogFolderPath';Expression={$_.LogFolderPath.PathName}},"
    "RpcClientAccessServer,@{Name='OfflineAddressBook';Expression={$_.OfflineAddressBook.Name}}"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path MailboxDatabases.csv"
)
_VDIR_CSV = (
    "'Owa','Ecp','WebServices','ActiveSync','Oab','Autodiscover' (and 'Mapi' in 2016 EMS) | "
    "ForEach-Object { & ('Get-' + $_ + 'VirtualDirectory') -ADPropertiesOnly } | Select-Object "
    "@{Name='Server';Expression={$_.Server.Name}},Name,"
    "@{Name='InternalUrl';Expression={[string]$_.InternalUrl}},"
    "@{Name='ExternalUrl';Expression={[string]$_.ExternalUrl}},"
    "@{Name='InternalAuthenticationMethods';Expression={$_.InternalAuthenticationMethods -join ';'}},"
    "@{Name='ExternalAuthenticationMethods';Expression={$_.ExternalAuthenticationMethods -join ';'}}"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path VirtualDirectories.csv"
)
_OA_CSV = (
    "Get-OutlookAnywhere -ADPropertiesOnly | Select-Object "
    "@{Name='Server';Expression={$_.Server.Name}},Name,"
    "@{Name='ExternalHostname';Expression={[string]$_.ExternalHostname}},"
    "@{Name='InternalHostname';Expression={[string]$_.InternalHostname}},"
    "@{Name='ClientAuthenticationMethod';Expression={[string]$_.ClientAuthenticationMethod}},"
    "@{Name='ExternalClientAuthenticationMethod';Expression={[string]$_.ExternalClientAuthenticationMethod}},"
    "@{Name='IISAuthenticationMethods';Expression={$_.IISAuthenticationMethods -join ';'}},SSLOffloading"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path OutlookAnywhere.csv"
)
_CAS_CSV = (
    "Get-ClientAccessServer (Get-ClientAccessService in 2016 EMS) | Select-Object Name,"
    "@{Name='AutoDiscoverServiceInternalUri';Expression={[string]$_.AutoDiscoverServiceInternalUri}},"
    "@{Name='AutoDiscoverSiteScope';Expression={$_.AutoDiscoverSiteScope -join ';'}}"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path ClientAccessServers.csv"
)
_ARRAY_CSV = (
    "Get-ClientAccessArray | Select-Object Name,Fqdn,@{Name='Site';Expression={$_.Site.Name}},"
    "@{Name='Members';Expression={$_.Members -join ';'}}"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path ClientAccessArrays.csv"
)
_ORG_CSV = (
    "Get-OrganizationConfig | Select-Object MapiHttpEnabled,PublicFoldersEnabled,"
    "PublicFoldersLockedForMigration,PublicFolderMigrationComplete,"
    "@{Name='RemotePublicFolderMailboxes';Expression={$_.RemotePublicFolderMailboxes -join ';'}},"
    "DefaultPublicFolderMailbox"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path OrganizationConfig.csv"
)
_MBXPERM_CSV = (
    "Get-Mailbox -ResultSize Unlimited | Get-MailboxPermission | Where-Object "
    "{-not $_.IsInherited -and -not $_.Deny -and $_.User.ToString() -ne 'NT AUTHORITY\\SELF' "
    "-and ($_.AccessRights -join ',') -match 'FullAccess'} | Select-Object "
    "@{Name='Mailbox';Expression={$_.Identity.ToString()}},"
    "@{Name='Trustee';Expression={$_.User.ToString()}},"
    "@{Name='Permission';Expression={'FullAccess'}}"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path MailboxPermissions.csv"
    " (Send As, Send on Behalf and calendar rows: templates/collect/Export-MigratorInventory.ps1)"
)
_PFDB_CSV = (
    "Get-PublicFolderDatabase | Select-Object Name,@{Name='Server';Expression={$_.Server.Name}},"
    "@{Name='ProhibitPostQuota';Expression={[string]$_.ProhibitPostQuota}},"
    "@{Name='MaxItemSize';Expression={[string]$_.MaxItemSize}},"
    "@{Name='ReplicationPeriod';Expression={[string]$_.ReplicationPeriod}},UseCustomReferralServerList"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path PublicFolderDatabases.csv"
)
_PF_CSV = (
    "Get-PublicFolder -Identity '\\' -Recurse -ResultSize Unlimited | Select-Object "
    "@{Name='Identity';Expression={[string]$_.Identity}},Name,"
    "@{Name='ParentPath';Expression={[string]$_.ParentPath}},MailEnabled,HasSubFolders,"
    "@{Name='Replicas';Expression={$_.Replicas -join ';'}}"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path PublicFolders.csv"
)
_PFSTATS_CSV = (
    "Get-PublicFolderStatistics -Server <2010 public folder server> -ResultSize Unlimited | "
    "Select-Object @{Name='FolderPath';Expression={$_.FolderPath -join '\\'}},Name,ServerName,"
    "ItemCount,@{Name='TotalItemSize';Expression={[string]$_.TotalItemSize}},"
    "@{Name='TotalItemSizeBytes';Expression={$_.TotalItemSize.Value.ToBytes()}}"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path PublicFolderStatistics.csv"
)
_MAILPF_CSV = (
    "Get-MailPublicFolder -ResultSize Unlimited | Select-Object "
    "@{Name='Identity';Expression={[string]$_.Identity}},Name,Alias,"
    "@{Name='PrimarySmtpAddress';Expression={[string]$_.PrimarySmtpAddress}},"
    "@{Name='EmailAddresses';Expression={$_.EmailAddresses -join ';'}},"
    "@{Name='ExternalEmailAddress';Expression={[string]$_.ExternalEmailAddress}},"
    "DeliverToMailboxAndForward,HiddenFromAddressListsEnabled"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path MailPublicFolders.csv"
)

SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        TableKind.RECEIVE_CONNECTORS,
        ("Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector",),
        frozenset({"bindings", "remoteipranges", "permissiongroups", "authmechanism"}),
        ("Identity", "Bindings", "RemoteIPRanges"),
        _RC_CSV,
        "Get-ReceiveConnector | Export-Clixml -Path ReceiveConnectors.xml",
    ),
    TableSpec(
        TableKind.AD_PERMISSIONS,
        ("Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject",),
        frozenset({"user", "extendedrights", "accessrights", "isinherited", "deny"}),
        ("Identity", "User"),
        _PERM_CSV,
        "Get-ReceiveConnector | Get-ADPermission | Where-Object {-not $_.IsInherited}"
        " | Export-Clixml -Path ReceiveConnectorPermissions.xml",
    ),
    TableSpec(
        TableKind.EXCHANGE_SERVERS,
        (
            "Microsoft.Exchange.Data.Directory.Management.ExchangeServer",
            "Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeServer",
        ),
        frozenset({"serverrole", "admindisplayversion", "exsetupversion"}),
        ("Name", "AdminDisplayVersion"),
        _SRV_CSV,
        "Get-ExchangeServer | Export-Clixml -Path ExchangeServers.xml",
    ),
    TableSpec(
        TableKind.ACCEPTED_DOMAINS,
        ("Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomain",),
        frozenset({"domainname", "domaintype"}),
        ("DomainName", "DomainType"),
        _AD_CSV,
        "Get-AcceptedDomain | Export-Clixml -Path AcceptedDomains.xml",
    ),
    TableSpec(
        TableKind.SEND_CONNECTORS,
        ("Microsoft.Exchange.Data.Directory.SystemConfiguration.SmtpSendConnectorConfig",),
        frozenset(
            {"addressspaces", "sourcetransportservers", "smarthosts", "cloudservicesmailenabled"}
        ),
        ("Name", "AddressSpaces", "SourceTransportServers"),
        _SC_CSV,
        "Get-SendConnector | Export-Clixml -Path SendConnectors.xml",
    ),
    TableSpec(
        TableKind.TRANSPORT_CONFIG,
        ("Microsoft.Exchange.Data.Directory.SystemConfiguration.TransportConfigContainer",),
        frozenset({"maxsendsize", "maxreceivesize"}),
        ("MaxSendSize", "MaxReceiveSize"),
        _TC_CSV,
        "Get-TransportConfig | Export-Clixml -Path TransportConfig.xml",
    ),
    TableSpec(
        TableKind.CERTIFICATES,
        ("Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeCertificate",),
        frozenset({"thumbprint", "certificatedomains", "notafter", "isselfsigned"}),
        ("Thumbprint", "Subject"),
        _CERT_CSV,
        "Get-ExchangeServer | ForEach-Object { Get-ExchangeCertificate -Server $_.Name }"
        " | Export-Clixml -Path Certificates.xml",
    ),
    TableSpec(
        TableKind.AD_USERS,
        ("Microsoft.ActiveDirectory.Management.ADUser",),
        frozenset(
            {
                "objectguid",
                "samaccountname",
                "ms-ds-consistencyguid",
                "msexchrecipienttypedetails",
                "msexchmailboxguid",
                "distinguishedname",
                "targetaddress",
            }
        ),
        ("ObjectGUID", "SamAccountName"),
        _ADU_CSV,
        "",
    ),
    TableSpec(
        TableKind.CLOUD_USERS,
        ("Microsoft.Graph.PowerShell.Models.MicrosoftGraphUser",),
        frozenset(
            {"id", "onpremisesimmutableid", "onpremisessyncenabled", "adminroles", "hasmailbox"}
        ),
        ("Id", "UserPrincipalName"),
        _CLOUD_CSV,
        "",
    ),
    TableSpec(
        TableKind.RECIPIENTS,
        ("Microsoft.Exchange.Data.Directory.Management.ReducedRecipient",),
        frozenset(
            {"recipienttype", "recipienttypedetails", "primarysmtpaddress", "emailaddresses"}
        ),
        ("RecipientTypeDetails", "PrimarySmtpAddress"),
        _RCPT_CSV,
        "Get-Recipient -ResultSize Unlimited | Export-Clixml -Path Recipients.xml",
    ),
    TableSpec(
        TableKind.MAILBOXES,
        ("Microsoft.Exchange.Data.Directory.Management.Mailbox",),
        frozenset(
            {
                "recipienttypedetails",
                "primarysmtpaddress",
                "archivedatabase",
                "archiveguid",
                "exchangeguid",
                "servername",
            }
        ),
        ("Identity", "PrimarySmtpAddress", "RecipientTypeDetails", "Database"),
        _MBX_CSV,
        "@(Get-Mailbox -ResultSize Unlimited) + @(Get-Mailbox -Arbitration -ResultSize Unlimited)"
        " | Export-Clixml -Path Mailboxes.xml",
    ),
    TableSpec(
        TableKind.MAILBOX_STATISTICS,
        ("Microsoft.Exchange.Data.Mailbox.MailboxStatistics",),
        frozenset(
            {
                "totalitemsize",
                "totalitemsizebytes",
                "totaldeleteditemsize",
                "itemcount",
                "mailboxguid",
                "isarchivemailbox",
            }
        ),
        ("MailboxGuid", "TotalItemSize"),
        _STATS_CSV,
        "",
    ),
    TableSpec(
        TableKind.MAILBOX_DATABASES,
        ("Microsoft.Exchange.Data.Directory.SystemConfiguration.MailboxDatabase",),
        frozenset(
            {
                "masterserveroravailabilitygroup",
                "databasecopies",
                "circularloggingenabled",
                "logfolderpath",
                "logvolumefreebytes",
                "availablenewmailboxspace",
                "rpcclientaccessserver",
                "offlineaddressbook",
            }
        ),
        ("Name", "Server"),
        _DB_CSV,
        "Get-MailboxDatabase -Status | Export-Clixml -Path MailboxDatabases.xml",
    ),
    TableSpec(
        TableKind.MAILBOX_PERMISSIONS,
        ("Microsoft.Exchange.Management.RecipientTasks.MailboxAcePresentationObject",),
        frozenset({"mailbox", "trustee", "permission"}),
        ("Mailbox", "Trustee", "Permission"),
        _MBXPERM_CSV,
        "Get-Mailbox -ResultSize Unlimited | Get-MailboxPermission | Export-Clixml -Path "
        "MailboxPermissions.xml",
    ),
    TableSpec(
        TableKind.VIRTUAL_DIRECTORIES,
        tuple(
            f"Microsoft.Exchange.Data.Directory.SystemConfiguration.AD{n}VirtualDirectory"
            for n in ("Owa", "Ecp", "WebServices", "Mobile", "Oab", "Mapi", "Autodiscover")
        ),
        frozenset(
            {
                "internalurl",
                "externalurl",
                "internalauthenticationmethods",
                "externalauthenticationmethods",
            }
        ),
        ("Server", "Name"),
        _VDIR_CSV,
        "Get-OwaVirtualDirectory -ADPropertiesOnly | Export-Clixml -Path OwaVirtualDirectories.xml "
        "(one file per Get-*VirtualDirectory)",
    ),
    TableSpec(
        TableKind.OUTLOOK_ANYWHERE,
        ("Microsoft.Exchange.Data.Directory.SystemConfiguration.ADRpcHttpVirtualDirectory",),
        frozenset(
            {
                "externalhostname",
                "internalhostname",
                "clientauthenticationmethod",
                "externalclientauthenticationmethod",
                "iisauthenticationmethods",
                "ssloffloading",
            }
        ),
        ("Server",),
        _OA_CSV,
        "Get-OutlookAnywhere -ADPropertiesOnly | Export-Clixml -Path OutlookAnywhere.xml",
    ),
    TableSpec(
        TableKind.CLIENT_ACCESS_SERVERS,
        (
            "Microsoft.Exchange.Data.Directory.Management.ClientAccessServer",
            "Microsoft.Exchange.Data.Directory.Management.ClientAccessService",
        ),
        frozenset({"autodiscoverserviceinternaluri", "autodiscoversitescope"}),
        ("Name", "AutoDiscoverServiceInternalUri"),
        _CAS_CSV,
        "Get-ClientAccessServer | Export-Clixml -Path ClientAccessServers.xml",
    ),
    TableSpec(
        TableKind.CLIENT_ACCESS_ARRAYS,
        (
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ClientAccessArray",
            "Microsoft.Exchange.Data.Directory.Management.ClientAccessArray",
        ),
        frozenset({"members", "fqdn"}),
        ("Name", "Fqdn"),
        _ARRAY_CSV,
        "Get-ClientAccessArray | Export-Clixml -Path ClientAccessArrays.xml",
    ),
    TableSpec(
        TableKind.ORGANIZATION_CONFIG,
        ("Microsoft.Exchange.Data.Directory.Management.OrganizationConfig",),
        frozenset(
            {
                "mapihttpenabled",
                "publicfoldersenabled",
                "publicfolderslockedformigration",
                "publicfoldermigrationcomplete",
                "remotepublicfoldermailboxes",
                "defaultpublicfoldermailbox",
            }
        ),
        (),
        _ORG_CSV,
        "Get-OrganizationConfig | Export-Clixml -Path OrganizationConfig.xml",
    ),
    TableSpec(
        TableKind.PUBLIC_FOLDER_DATABASES,
        ("Microsoft.Exchange.Data.Directory.SystemConfiguration.PublicFolderDatabase",),
        frozenset(
            {"prohibitpostquota", "maxitemsize", "replicationperiod", "usecustomreferralserverlist"}
        ),
        ("Name", "Server"),
        _PFDB_CSV,
        "Get-PublicFolderDatabase | Export-Clixml -Path PublicFolderDatabases.xml",
    ),
    TableSpec(
        TableKind.PUBLIC_FOLDERS,
        ("Microsoft.Exchange.Data.Mapi.PublicFolder",),
        frozenset({"parentpath", "mailenabled", "hassubfolders", "replicas"}),
        ("Identity",),
        _PF_CSV,
        "Get-PublicFolder -Identity '\\' -Recurse -ResultSize Unlimited"
        " | Export-Clixml -Path PublicFolders.xml",
    ),
    TableSpec(
        TableKind.PUBLIC_FOLDER_STATISTICS,
        ("Microsoft.Exchange.Data.Mapi.PublicFolderStatistics",),
        frozenset({"folderpath", "totalitemsize", "totalitemsizebytes", "itemcount"}),
        ("FolderPath", "TotalItemSize"),
        _PFSTATS_CSV,
        "Get-PublicFolderStatistics -Server <2010 public folder server> -ResultSize Unlimited"
        " | Export-Clixml -Path PublicFolderStatistics.xml",
    ),
    TableSpec(
        TableKind.MAIL_PUBLIC_FOLDERS,
        ("Microsoft.Exchange.Data.Directory.Management.MailPublicFolder",),
        frozenset(
            {
                "externalemailaddress",
                "delivertomailboxandforward",
                "primarysmtpaddress",
                "emailaddresses",
                "hiddenfromaddresslistsenabled",
            }
        ),
        ("Identity", "PrimarySmtpAddress"),
        _MAILPF_CSV,
        "Get-MailPublicFolder -ResultSize Unlimited | Export-Clixml -Path MailPublicFolders.xml",
    ),
)

SPEC_BY_KIND: dict[TableKind, TableSpec] = {s.kind: s for s in SPECS}


def strip_type_prefix(type_name: str) -> str:
    """``Deserialized.X`` and ``Selected.X`` -> ``X`` (remoting and Select-Object add them)."""
    name = type_name.strip()
    for prefix in ("Deserialized.", "Selected."):
        while name.startswith(prefix):
            name = name[len(prefix) :]
    return name


def kind_of_type(type_names: list[str] | tuple[str, ...]) -> TableKind | None:
    """The table whose objects carry one of these .NET type names, or None."""
    for raw in type_names:
        name = strip_type_prefix(raw)
        for spec in SPECS:
            if name in spec.type_names:
                return spec.kind
    return None


def kind_of_columns(columns: list[str] | tuple[str, ...]) -> TableKind | None:
    """The table a header row points at: the most distinctive columns, at least two."""
    lowered = {c.strip().lower() for c in columns}
    best: tuple[int, TableKind | None] = (1, None)
    for spec in SPECS:
        hits = len(lowered & spec.distinctive)
        if hits > best[0]:
            best = (hits, spec.kind)
    return best[1]


_OPTIONAL: dict[TableKind, tuple[str, ...]] = {
    TableKind.RECEIVE_CONNECTORS: (
        "Name",
        "Server",
        "AuthMechanism",
        "PermissionGroups",
        "TransportRole",
        "MaxMessageSize",
        "Fqdn",
        "TlsCertificateName",
        "TlsDomainCapabilities",
        "Enabled",
        "ProtocolLoggingLevel",
        "Comment",
    ),
    TableKind.AD_PERMISSIONS: ("ExtendedRights", "AccessRights", "Deny", "IsInherited"),
    TableKind.EXCHANGE_SERVERS: (
        "Fqdn",
        "ServerRole",
        "Site",
        "ExSetupVersion",
        "OperatingSystem",
        "IPAddresses",
    ),
    TableKind.ACCEPTED_DOMAINS: ("Name", "Default"),
    TableKind.SEND_CONNECTORS: (
        "SmartHosts",
        "Enabled",
        "Fqdn",
        "CloudServicesMailEnabled",
        "TlsCertificateName",
        "MaxMessageSize",
    ),
    TableKind.TRANSPORT_CONFIG: (),
    TableKind.CERTIFICATES: (
        "Issuer",
        "CertificateDomains",
        "NotAfter",
        "Services",
        "IsSelfSigned",
        "Server",
        "PSComputerName",
    ),
    TableKind.AD_USERS: (
        "DistinguishedName",
        "UserPrincipalName",
        "mail",
        "proxyAddresses",
        "mS-DS-ConsistencyGuid",
        "msExchRecipientTypeDetails",
        "msExchMailboxGuid",
        "targetAddress",
        "Enabled",
    ),
    TableKind.CLOUD_USERS: (
        "Mail",
        "ProxyAddresses",
        "OnPremisesImmutableId",
        "OnPremisesSyncEnabled",
        "AdminRoles",
        "HasMailbox",
        "ExchangeGuid",
        "ArchiveGuid",
        "LegacyExchangeDN",
        "MailboxType",
    ),
    TableKind.RECIPIENTS: ("Name", "RecipientType", "EmailAddresses", "DistinguishedName"),
    TableKind.MAILBOXES: (
        "Alias",
        "DisplayName",
        "SamAccountName",
        "DistinguishedName",
        "ServerName",
        "ArchiveDatabase",
        "ArchiveGuid",
        "ExchangeGuid",
        "MemberOf",
        *(f"CustomAttribute{i}" for i in range(1, 16)),
    ),
    TableKind.MAILBOX_STATISTICS: (
        "TotalItemSizeBytes",
        "TotalDeletedItemSize",
        "TotalDeletedItemSizeBytes",
        "ItemCount",
        "IsArchiveMailbox",
        "DisplayName",
        "Database",
    ),
    TableKind.MAILBOX_DATABASES: (
        "MasterServerOrAvailabilityGroup",
        "DatabaseCopies",
        "CircularLoggingEnabled",
        "LogFolderPath",
        "LogVolumeFreeBytes",
        "RpcClientAccessServer",
        "OfflineAddressBook",
    ),
    TableKind.MAILBOX_PERMISSIONS: ("AccessRights", "IsInherited", "Deny"),
    TableKind.VIRTUAL_DIRECTORIES: (
        "Identity",
        "InternalUrl",
        "ExternalUrl",
        "InternalAuthenticationMethods",
        "ExternalAuthenticationMethods",
    ),
    TableKind.OUTLOOK_ANYWHERE: (
        "Identity",
        "Name",
        "ExternalHostname",
        "InternalHostname",
        "ClientAuthenticationMethod",
        "ExternalClientAuthenticationMethod",
        "IISAuthenticationMethods",
        "SSLOffloading",
    ),
    TableKind.CLIENT_ACCESS_SERVERS: ("AutoDiscoverSiteScope", "Fqdn"),
    TableKind.CLIENT_ACCESS_ARRAYS: ("Site", "Members"),
    TableKind.ORGANIZATION_CONFIG: (
        "MapiHttpEnabled",
        "PublicFoldersEnabled",
        "PublicFoldersLockedForMigration",
        "PublicFolderMigrationComplete",
        "RemotePublicFolderMailboxes",
        "DefaultPublicFolderMailbox",
    ),
    TableKind.PUBLIC_FOLDER_DATABASES: (
        "ProhibitPostQuota",
        "MaxItemSize",
        "ReplicationPeriod",
        "UseCustomReferralServerList",
    ),
    TableKind.PUBLIC_FOLDERS: ("Name", "ParentPath", "MailEnabled", "HasSubFolders", "Replicas"),
    TableKind.PUBLIC_FOLDER_STATISTICS: ("Name", "ServerName", "ItemCount", "TotalItemSizeBytes"),
    TableKind.MAIL_PUBLIC_FOLDERS: (
        "Name",
        "Alias",
        "EmailAddresses",
        "ExternalEmailAddress",
        "DeliverToMailboxAndForward",
        "HiddenFromAddressListsEnabled",
    ),
}


def read_columns(kind: TableKind) -> frozenset[str]:
    """Lower-case names of every column migrator reads for a table (others are ignored)."""
    spec = SPEC_BY_KIND[kind]
    names = (
        *spec.required,
        *_OPTIONAL[kind],
        "Identity" if kind is TableKind.RECEIVE_CONNECTORS else "",
    )
    return frozenset(n.lower() for n in names if n)
