//! `TenantSnapshot`: the Microsoft Graph data the checks read, collected once per run.
//!
//! Field names follow Microsoft Graph's JSON (camelCase, the real resource and property names),
//! so a collector can deserialize Graph responses straight into these types. Only the
//! properties some check reads are kept; everything else Graph returns is ignored, and every
//! field has a default so a partial response still loads.
//!
//! Absent data is not "secure" data: a check that finds nothing to look at answers `manual`
//! (or `not-applicable`), never `pass`. Where "not collected" and "collected, empty" mean
//! different things, the collector names the field in `unread` (Graph refused it, or it is not
//! collected yet), and the checks that read it answer "no visibility" (see [`Field`]); some
//! fields are also an `Option`, `None` when not there to read.
//!
//! One group is not Graph's and is flagged as such on its fields: the Exchange Online audit
//! switches come from Exchange's admin API (`Get-AdminAuditLogConfig`,
//! `Get-OrganizationConfig`), camelCased.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::time::Timestamp;

/// Everything collected from one tenant for one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TenantSnapshot {
    /// The Entra tenant id (GUID).
    pub tenant_id: String,
    /// Parts of the snapshot the collector could not read, named by their JSON field (see
    /// [`Field`], e.g. `configurationPolicies`): their value here is empty only for want of a
    /// read, so the checks that read them answer "no visibility" (manual) rather than judge it.
    pub unread: Vec<String>,
    /// Why each field in `unread` could not be read, by its JSON name, in words a report can
    /// show (Graph's status and message, e.g. "403 Forbidden: The application is not
    /// registered as a backup controller…").
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub unread_reasons: std::collections::BTreeMap<String, String>,
    /// Every Graph response the snapshot was built from, by the field it fed (its JSON name):
    /// the evidence trail findings carry as `collected`. Empty for the demo tenants.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<CollectedRequest>,
    /// When the collector finished, unix seconds. Every age ("not signed in for 45 days",
    /// "end of servicing") is measured from here so a run is reproducible.
    pub collected_at: Timestamp,
    /// What the customer declared about the tenant (emergency-access accounts, approved
    /// exclusions): not Graph's, set by the runner before the checks run (issue 18), so the
    /// Conditional Access probes can tell an intended exclusion from a gap.
    #[serde(skip)]
    pub context: crate::domain::context::TenantContext,

    // --- Directory ---
    /// `GET /organization` (its single element).
    pub organization: Organization,
    /// `GET /subscribedSkus`.
    pub subscribed_skus: Vec<SubscribedSku>,
    /// `GET /users?$select=…,assignedPlans,onPremisesSyncEnabled,signInActivity`.
    pub users: Vec<User>,
    /// `GET /devices` (Entra ID joined / registered devices, managed or not).
    pub devices: Vec<Device>,
    /// `GET /policies/authorizationPolicy`.
    pub authorization_policy: Option<AuthorizationPolicy>,
    /// `GET /policies/adminConsentRequestPolicy`.
    pub admin_consent_request_policy: Option<AdminConsentRequestPolicy>,

    // --- Authentication ---
    /// `GET /policies/identitySecurityDefaultsEnforcementPolicy`.
    pub identity_security_defaults_enforcement_policy: Option<SecurityDefaultsPolicy>,
    /// `GET /identity/conditionalAccess/policies`, with `authenticationStrength` expanded.
    pub conditional_access_policies: Vec<ConditionalAccessPolicy>,
    /// `GET /policies/authenticationMethodsPolicy`.
    pub authentication_methods_policy: Option<AuthenticationMethodsPolicy>,
    /// `GET /reports/authenticationMethods/userRegistrationDetails`.
    pub user_registration_details: Vec<UserRegistrationDetails>,

    // --- Privileged access ---
    /// `GET /roleManagement/directory/roleAssignments?$expand=principal` (active assignments).
    pub role_assignments: Vec<RoleAssignment>,
    /// `GET /roleManagement/directory/roleEligibilitySchedules` (PIM eligible assignments).
    pub role_eligibility_schedules: Vec<RoleEligibilitySchedule>,
    /// `GET /roleManagement/directory/roleAssignmentScheduleInstances`: each active assignment
    /// as PIM sees it, standing (`Assigned`) or just in time (`Activated`). Empty without
    /// Entra ID P2 (no assignment can then be activated).
    pub role_assignment_schedule_instances: Vec<RoleAssignmentScheduleInstance>,
    /// `GET /identityGovernance/accessReviews/definitions` (Entra ID P2 or ID Governance).
    pub access_review_definitions: Vec<AccessReviewScheduleDefinition>,

    // --- Intune ---
    /// `GET /deviceManagement/deviceConfigurations?$expand=assignments`, including the
    /// `windowsUpdateForBusinessConfiguration` update rings.
    pub device_configurations: Vec<DeviceConfiguration>,
    /// `GET /beta/deviceManagement/configurationPolicies` (settings catalog and Endpoint
    /// security), each with its settings and assignments, in Graph's shape.
    pub configuration_policies: Vec<ConfigurationPolicy>,
    /// `GET /deviceManagement/deviceCompliancePolicies?$expand=assignments`.
    pub device_compliance_policies: Vec<DeviceCompliancePolicy>,
    /// `GET /deviceManagement/settings` (tenant-wide Intune settings).
    pub device_management_settings: Option<DeviceManagementSettings>,
    /// `GET /beta/deviceManagement/managedDevices`. Graph's list does not carry a device's
    /// `windowsProtectionState` (it is served per device): the collector sets it from Intune's
    /// DefenderAgents report export (`assess::defender_agents`, docs/api-decisions.md).
    pub managed_devices: Vec<ManagedDevice>,
    /// `GET /beta/deviceManagement/deviceEnrollmentConfigurations?$expand=assignments`, among
    /// them the Windows Hello for Business enrollment policies.
    pub device_enrollment_configurations: Vec<DeviceEnrollmentConfiguration>,
    /// `GET /beta/deviceManagement/intents?$expand=assignments` with each intent's
    /// `…/intents/{id}/settings`: Endpoint security policies made from the older templates.
    pub intents: Vec<DeviceManagementIntent>,
    /// `GET /beta/deviceManagement/windowsFeatureUpdateProfiles?$expand=assignments`.
    pub windows_feature_update_profiles: Vec<WindowsFeatureUpdateProfile>,
    /// `GET /beta/deviceManagement/windowsQualityUpdateProfiles?$expand=assignments`
    /// (expedited quality updates).
    pub windows_quality_update_profiles: Vec<WindowsQualityUpdateProfile>,
    /// `GET /beta/deviceManagement/windowsDriverUpdateProfiles?$expand=assignments`.
    pub windows_driver_update_profiles: Vec<WindowsDriverUpdateProfile>,

    // --- Security posture and operations ---
    /// `GET /security/secureScores` (newest first, as Graph returns them).
    pub secure_scores: Vec<SecureScore>,
    /// `GET /identityProtection/riskyUsers`; `None` when the tenant's licence or the
    /// collector's permissions did not allow reading it.
    pub risky_users: Option<Vec<RiskyUser>>,
    /// `GET /security/alerts_v2`; `None` when not readable.
    pub alerts: Option<Vec<Alert>>,

    // --- Data ---
    /// `GET /admin/sharepoint/settings`.
    pub sharepoint_settings: Option<SharepointSettings>,
    /// `GET /solutions/backupRestore` with its protection policies; `None` when not readable.
    pub backup_restore: Option<BackupRestore>,

    // --- Exchange Online (not Graph) ---
    /// Exchange Online `Get-AdminAuditLogConfig`; `None` when the collector cannot reach it.
    pub admin_audit_log_config: Option<AdminAuditLogConfig>,
    /// Exchange Online `Get-OrganizationConfig`; `None` when the collector cannot reach it.
    pub organization_config: Option<ExchangeOrganizationConfig>,
}

/// One Graph response read into the snapshot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CollectedRequest {
    /// The snapshot field it fed (JSON name, as in `unread`).
    pub field: String,
    /// Path and query from the API version on.
    pub path: String,
    /// When it was read.
    pub at: Timestamp,
    /// SHA-256 of the raw body, lower-case hex.
    pub sha256: String,
}

/// A part of the snapshot a collector can fail to read, named by its JSON field: one variant per
/// data field of [`TenantSnapshot`] (everything but `tenantId`, `unread` and `collectedAt`).
///
/// Checks declare the fields their verdict rests on ([`crate::assess::Check::reads`]); a field
/// named in [`TenantSnapshot::unread`] makes those checks answer "no visibility" instead of
/// judging a field that is empty only because nobody could read it. A variant rather than a
/// string, so a declaration cannot name a field that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Organization,
    SubscribedSkus,
    Users,
    Devices,
    AuthorizationPolicy,
    AdminConsentRequestPolicy,
    IdentitySecurityDefaultsEnforcementPolicy,
    ConditionalAccessPolicies,
    AuthenticationMethodsPolicy,
    UserRegistrationDetails,
    RoleAssignments,
    RoleEligibilitySchedules,
    RoleAssignmentScheduleInstances,
    AccessReviewDefinitions,
    DeviceConfigurations,
    ConfigurationPolicies,
    DeviceCompliancePolicies,
    DeviceManagementSettings,
    ManagedDevices,
    DeviceEnrollmentConfigurations,
    Intents,
    WindowsFeatureUpdateProfiles,
    WindowsQualityUpdateProfiles,
    WindowsDriverUpdateProfiles,
    SecureScores,
    RiskyUsers,
    Alerts,
    SharepointSettings,
    BackupRestore,
    AdminAuditLogConfig,
    OrganizationConfig,
}

impl Field {
    /// Every field, in the snapshot's order.
    pub const ALL: [Field; 31] = [
        Self::Organization,
        Self::SubscribedSkus,
        Self::Users,
        Self::Devices,
        Self::AuthorizationPolicy,
        Self::AdminConsentRequestPolicy,
        Self::IdentitySecurityDefaultsEnforcementPolicy,
        Self::ConditionalAccessPolicies,
        Self::AuthenticationMethodsPolicy,
        Self::UserRegistrationDetails,
        Self::RoleAssignments,
        Self::RoleEligibilitySchedules,
        Self::RoleAssignmentScheduleInstances,
        Self::AccessReviewDefinitions,
        Self::DeviceConfigurations,
        Self::ConfigurationPolicies,
        Self::DeviceCompliancePolicies,
        Self::DeviceManagementSettings,
        Self::ManagedDevices,
        Self::DeviceEnrollmentConfigurations,
        Self::Intents,
        Self::WindowsFeatureUpdateProfiles,
        Self::WindowsQualityUpdateProfiles,
        Self::WindowsDriverUpdateProfiles,
        Self::SecureScores,
        Self::RiskyUsers,
        Self::Alerts,
        Self::SharepointSettings,
        Self::BackupRestore,
        Self::AdminAuditLogConfig,
        Self::OrganizationConfig,
    ];

    /// The snapshot's JSON (serde) name of the field, as `unread` names it.
    pub fn json_name(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::SubscribedSkus => "subscribedSkus",
            Self::Users => "users",
            Self::Devices => "devices",
            Self::AuthorizationPolicy => "authorizationPolicy",
            Self::AdminConsentRequestPolicy => "adminConsentRequestPolicy",
            Self::IdentitySecurityDefaultsEnforcementPolicy => "identitySecurityDefaultsEnforcementPolicy",
            Self::ConditionalAccessPolicies => "conditionalAccessPolicies",
            Self::AuthenticationMethodsPolicy => "authenticationMethodsPolicy",
            Self::UserRegistrationDetails => "userRegistrationDetails",
            Self::RoleAssignments => "roleAssignments",
            Self::RoleEligibilitySchedules => "roleEligibilitySchedules",
            Self::RoleAssignmentScheduleInstances => "roleAssignmentScheduleInstances",
            Self::AccessReviewDefinitions => "accessReviewDefinitions",
            Self::DeviceConfigurations => "deviceConfigurations",
            Self::ConfigurationPolicies => "configurationPolicies",
            Self::DeviceCompliancePolicies => "deviceCompliancePolicies",
            Self::DeviceManagementSettings => "deviceManagementSettings",
            Self::ManagedDevices => "managedDevices",
            Self::DeviceEnrollmentConfigurations => "deviceEnrollmentConfigurations",
            Self::Intents => "intents",
            Self::WindowsFeatureUpdateProfiles => "windowsFeatureUpdateProfiles",
            Self::WindowsQualityUpdateProfiles => "windowsQualityUpdateProfiles",
            Self::WindowsDriverUpdateProfiles => "windowsDriverUpdateProfiles",
            Self::SecureScores => "secureScores",
            Self::RiskyUsers => "riskyUsers",
            Self::Alerts => "alerts",
            Self::SharepointSettings => "sharepointSettings",
            Self::BackupRestore => "backupRestore",
            Self::AdminAuditLogConfig => "adminAuditLogConfig",
            Self::OrganizationConfig => "organizationConfig",
        }
    }

    /// What the field holds, in words for a report ("this tenant's …").
    pub fn in_words(self) -> &'static str {
        match self {
            Self::Organization => "organisation details",
            Self::SubscribedSkus => "subscriptions",
            Self::Users => "user accounts",
            Self::Devices => "devices in Entra ID",
            Self::AuthorizationPolicy => "authorization policy",
            Self::AdminConsentRequestPolicy => "admin consent request policy",
            Self::IdentitySecurityDefaultsEnforcementPolicy => "security defaults setting",
            Self::ConditionalAccessPolicies => "Conditional Access policies",
            Self::AuthenticationMethodsPolicy => "authentication methods policy",
            Self::UserRegistrationDetails => "users' MFA registration details",
            Self::RoleAssignments => "directory role assignments",
            Self::RoleEligibilitySchedules => "eligible (PIM) role assignments",
            Self::RoleAssignmentScheduleInstances => "active (PIM) role assignment schedules",
            Self::AccessReviewDefinitions => "access reviews",
            Self::DeviceConfigurations => "Intune device configuration profiles",
            Self::ConfigurationPolicies => "Intune settings catalog policies",
            Self::DeviceCompliancePolicies => "Intune compliance policies",
            Self::DeviceManagementSettings => "Intune tenant settings",
            Self::ManagedDevices => "Intune managed devices",
            Self::DeviceEnrollmentConfigurations => "Intune enrollment policies (Windows Hello for Business)",
            Self::Intents => "Intune Endpoint security policies (templates)",
            Self::WindowsFeatureUpdateProfiles => "Windows feature update policies",
            Self::WindowsQualityUpdateProfiles => "Windows quality update (expedite) policies",
            Self::WindowsDriverUpdateProfiles => "Windows driver update policies",
            Self::SecureScores => "Microsoft Secure Score",
            Self::RiskyUsers => "risky users (Identity Protection)",
            Self::Alerts => "security alerts",
            Self::SharepointSettings => "SharePoint tenant settings",
            Self::BackupRestore => "Microsoft 365 Backup settings",
            Self::AdminAuditLogConfig => "audit log configuration (Exchange Online)",
            Self::OrganizationConfig => "organisation configuration (Exchange Online)",
        }
    }

    /// Whether the Graph collector asks Microsoft for this field at all. Those it does not
    /// (the Exchange switches are not Graph) are unread because baref00t does not collect them
    /// yet, not because a tenant refused them, and the report says which.
    pub fn collected_from_graph(self) -> bool {
        !matches!(self, Self::AdminAuditLogConfig | Self::OrganizationConfig)
    }

    /// The field of that JSON name.
    pub fn from_json_name(name: &str) -> Option<Field> {
        Self::ALL.into_iter().find(|f| f.json_name() == name)
    }
}

impl TenantSnapshot {
    /// The fields among `fields` that the collector could not read, in the order given.
    pub fn unread_among(&self, fields: &[Field]) -> Vec<Field> {
        fields.iter().copied().filter(|f| self.unread.iter().any(|u| u == f.json_name())).collect()
    }
}

/// Well-known ids and values the checks compare against.
pub mod ids {
    /// Built-in directory role template ids (`roleDefinitionId` of built-in roles).
    pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
    pub const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
    pub const PRIVILEGED_AUTHENTICATION_ADMINISTRATOR: &str = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
    pub const SECURITY_ADMINISTRATOR: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";
    pub const CONDITIONAL_ACCESS_ADMINISTRATOR: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";
    pub const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
    pub const SHAREPOINT_ADMINISTRATOR: &str = "f28a1f50-f6e7-4571-818b-6a12f2af6b6c";
    pub const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
    pub const HELPDESK_ADMINISTRATOR: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
    pub const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
    pub const CLOUD_APPLICATION_ADMINISTRATOR: &str = "158c047a-c907-4556-b7ef-446551a6b5f7";
    pub const AUTHENTICATION_ADMINISTRATOR: &str = "c4e39bd9-1100-46d3-8c65-fb160da0071f";
    pub const INTUNE_ADMINISTRATOR: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";
    pub const BILLING_ADMINISTRATOR: &str = "b0f54661-2d74-4c50-afa3-1ec803f12efe";
    /// Excluded from user-targeted policies by design (Entra Connect's sync account).
    pub const DIRECTORY_SYNCHRONIZATION_ACCOUNTS: &str = "d29b2b05-8046-44ba-8758-1e26182fcf32";

    /// Roles that can take over the tenant or its security configuration: the set a policy
    /// "for administrators" must cover.
    pub const TAKEOVER_ROLES: &[&str] = &[
        GLOBAL_ADMINISTRATOR,
        PRIVILEGED_ROLE_ADMINISTRATOR,
        PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        SECURITY_ADMINISTRATOR,
        CONDITIONAL_ACCESS_ADMINISTRATOR,
    ];

    /// Roles counted as privileged when looking at who holds admin rights.
    pub const PRIVILEGED_ROLES: &[&str] = &[
        GLOBAL_ADMINISTRATOR,
        PRIVILEGED_ROLE_ADMINISTRATOR,
        PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        SECURITY_ADMINISTRATOR,
        CONDITIONAL_ACCESS_ADMINISTRATOR,
        EXCHANGE_ADMINISTRATOR,
        SHAREPOINT_ADMINISTRATOR,
        USER_ADMINISTRATOR,
        HELPDESK_ADMINISTRATOR,
        APPLICATION_ADMINISTRATOR,
        CLOUD_APPLICATION_ADMINISTRATOR,
        AUTHENTICATION_ADMINISTRATOR,
        INTUNE_ADMINISTRATOR,
        BILLING_ADMINISTRATOR,
    ];

    /// Built-in authentication strength "Phishing-resistant MFA".
    pub const PHISHING_RESISTANT_STRENGTH: &str = "00000000-0000-0000-0000-000000000004";
    /// Authentication method combinations that resist phishing.
    pub const PHISHING_RESISTANT_COMBINATIONS: &[&str] =
        &["fido2", "windowsHelloForBusiness", "x509CertificateMultiFactor"];

    /// `guestUserRoleId` values: guests limited to their own objects (restricted) or to
    /// limited directory reads; anything else (the member role) is unrestricted.
    pub const GUEST_ROLE_RESTRICTED: &str = "2af84b1e-32c8-42b7-82bc-daa82404023b";
    pub const GUEST_ROLE_LIMITED: &str = "10dae51f-b6af-4016-8d66-8c2a99b929b3";

    /// Service plans (in `subscribedSkus.servicePlans`) that unlock features checks rely on.
    pub const PLAN_ENTRA_P1: &str = "AAD_PREMIUM";
    pub const PLAN_ENTRA_P2: &str = "AAD_PREMIUM_P2";
}

/// The settings-catalog settings the checks read, by `settingDefinitionId` (ids from
/// `../shared/reference/asd-essential-eight.md` and public Intune exports; an option's id is
/// the definition id plus a suffix, confirmed per tenant with
/// `GET /beta/deviceManagement/configurationSettings/{id}`). Each reads as one JSON value:
/// a [`Kind::Toggle`] `true` when the policy sets the protective option, else `false`; a
/// [`Kind::ChildChoice`] the word for the option chosen under an enabled parent; a
/// [`Kind::ChildInteger`] the number under an enabled parent. A policy that disables an ADMX
/// parent (`…_0`) reads `false` / `null`: the setting is then the user's.
pub mod setting {
    /// How a setting's value is read off its instance.
    #[derive(Clone, Copy, Debug)]
    pub enum Kind {
        /// A choice whose value ends in one of these suffixes is on; any other choice is off.
        Toggle(&'static [&'static str]),
        /// An enabled (`_1`) ADMX parent whose child choice's value suffix names the option.
        ChildChoice(&'static [(&'static str, &'static str)]),
        /// An enabled (`_1`) ADMX parent with an integer child.
        ChildInteger,
        /// A top-level integer (a CSP setting, not ADMX).
        Integer,
    }

    /// One setting the checks read.
    #[derive(Clone, Copy, Debug)]
    pub struct CatalogSetting {
        /// A short name for reports.
        pub name: &'static str,
        /// The definition ids that carry it (Word, Excel and PowerPoint each have their own).
        pub definition_ids: &'static [&'static str],
        pub kind: Kind,
    }

    const ENABLED: Kind = Kind::Toggle(&["_1"]);

    /// Word/Excel/PowerPoint "Block macros from running in Office files from the Internet".
    pub const OFFICE_BLOCK_MACROS_FROM_INTERNET: &CatalogSetting = &CatalogSetting {
        name: "Block macros from running in Office files from the Internet",
        definition_ids: &[
            "user_vendor_msft_policy_config_word16v2~policy~l_microsoftofficeword~l_wordoptions~l_security~l_trustcenter_l_blockmacroexecutionfrominternet",
            "user_vendor_msft_policy_config_excel16v2~policy~l_microsoftofficeexcel~l_exceloptions~l_security~l_trustcenter_l_blockmacroexecutionfrominternet",
            "user_vendor_msft_policy_config_ppt16v2~policy~l_microsoftofficepowerpoint~l_powerpointoptions~l_security~l_trustcenter_l_blockmacroexecutionfrominternet",
        ],
        kind: ENABLED,
    };
    /// "VBA Macro Notification Settings" (ADMX values: 1 enable all, 2 disable with
    /// notification, 3 disable except digitally signed, 4 disable without notification); the
    /// child's id differs per app (`…_l_empty19` in Word), so only its value suffix is read.
    pub const OFFICE_VBA_MACRO_NOTIFICATION: &CatalogSetting = &CatalogSetting {
        name: "VBA Macro Notification Settings",
        definition_ids: &[
            "user_vendor_msft_policy_config_word16v2~policy~l_microsoftofficeword~l_wordoptions~l_security~l_trustcenter_l_vbawarningspolicy",
            "user_vendor_msft_policy_config_excel16v2~policy~l_microsoftofficeexcel~l_exceloptions~l_security~l_trustcenter_l_vbawarningspolicy",
            "user_vendor_msft_policy_config_ppt16v2~policy~l_microsoftofficepowerpoint~l_powerpointoptions~l_security~l_trustcenter_l_vbawarningspolicy",
        ],
        kind: Kind::ChildChoice(&[
            ("_1", "enableAll"),
            ("_2", "disableWithNotification"),
            ("_3", "disableAllExceptSigned"),
            ("_4", "disableAll"),
        ]),
    };
    /// "Macro Runtime Scan Scope": on for low-trust (1) or all (2) documents; 0 is off.
    pub const OFFICE_MACRO_ANTIVIRUS_SCANNING: &CatalogSetting = &CatalogSetting {
        name: "Macro Runtime Scan Scope",
        definition_ids: &["user_vendor_msft_policy_config_office16v2~policy~l_microsoftofficesystem~l_securitysettings_l_macroruntimescanscope"],
        kind: Kind::ChildChoice(&[("_0", "off"), ("_1", "on"), ("_2", "on")]),
    };
    /// "Packager Prompt": 2 = no prompt, the object does not execute.
    pub const OFFICE_BLOCK_OLE_PACKAGES: &CatalogSetting = &CatalogSetting {
        name: "Packager Prompt",
        definition_ids: &[
            "user_vendor_msft_policy_config_word16v2~policy~l_microsoftofficeword~l_wordoptions~l_security~l_trustcenter_l_packagerprompt",
        ],
        kind: Kind::ChildChoice(&[("_1", "prompt"), ("_2", "on"), ("_3", "off")]),
    };
    /// Microsoft 365 Apps "Enable Automatic Updates".
    pub const OFFICE_AUTOMATIC_UPDATES: &CatalogSetting = &CatalogSetting {
        name: "Enable Automatic Updates (Microsoft 365 Apps)",
        definition_ids: &["device_vendor_msft_policy_config_office16v2~policy~l_microsoftofficemachine~l_updates_l_enableautomaticupdates"],
        kind: ENABLED,
    };
    /// Microsoft 365 Apps "Update Deadline", in days.
    pub const OFFICE_UPDATE_DEADLINE_DAYS: &CatalogSetting = &CatalogSetting {
        name: "Update Deadline (Microsoft 365 Apps)",
        definition_ids: &[
            "device_vendor_msft_policy_config_office16v2~policy~l_microsoftofficemachine~l_updates_l_updatedeadline",
        ],
        kind: Kind::ChildInteger,
    };
    /// Edge "Configure Microsoft Defender SmartScreen".
    pub const EDGE_SMARTSCREEN: &CatalogSetting = &CatalogSetting {
        name: "Configure Microsoft Defender SmartScreen (Edge)",
        definition_ids: &["device_vendor_msft_policy_config_microsoft_edgev80diff~policy~microsoft_edge~smartscreen_smartscreenenabled"],
        kind: ENABLED,
    };
    /// Edge "Prevent bypassing Microsoft Defender SmartScreen prompts for sites".
    pub const EDGE_SMARTSCREEN_NO_OVERRIDE: &CatalogSetting = &CatalogSetting {
        name: "Prevent bypassing Microsoft Defender SmartScreen prompts for sites (Edge)",
        definition_ids: &["device_vendor_msft_policy_config_microsoft_edgev80diff~policy~microsoft_edge~smartscreen_preventsmartscreenpromptoverride"],
        kind: ENABLED,
    };
    /// "Disable Internet Explorer 11 as a standalone browser".
    pub const WINDOWS_DISABLE_IE11: &CatalogSetting = &CatalogSetting {
        name: "Disable Internet Explorer 11 as a standalone browser",
        definition_ids: &["device_vendor_msft_policy_config_internetexplorer_disableinternetexplorerapp_v2"],
        kind: ENABLED,
    };
    /// "Turn on PowerShell Script Block Logging".
    pub const WINDOWS_POWERSHELL_SCRIPT_BLOCK_LOGGING: &CatalogSetting = &CatalogSetting {
        name: "Turn on PowerShell Script Block Logging",
        definition_ids: &["device_vendor_msft_policy_config_windowspowershell_turnonpowershellscriptblocklogging"],
        kind: ENABLED,
    };
    /// Memory integrity (HVCI) on, with (`_1`) or without (`_2`) UEFI lock: it enforces
    /// Microsoft's vulnerable driver blocklist (ASD FAQ, ISM-1659).
    pub const WINDOWS_VULNERABLE_DRIVER_BLOCKLIST: &CatalogSetting = &CatalogSetting {
        name: "Hypervisor-protected code integrity (enforces the vulnerable driver blocklist)",
        definition_ids: &[
            "device_vendor_msft_policy_config_virtualizationbasedtechnology_hypervisorenforcedcodeintegrity",
        ],
        kind: Kind::Toggle(&["_1", "_2"]),
    };
    /// App Control for Business (Endpoint security): the built-in controls in enforce mode
    /// (`…_0`; `…_1` is audit only).
    pub const WINDOWS_APP_CONTROL_ENFORCED: &CatalogSetting = &CatalogSetting {
        name: "App Control for Business (enforce)",
        definition_ids: &["device_vendor_msft_applicationcontrol_built_in_controls_enable_app_control"],
        kind: Kind::Toggle(&["_0"]),
    };
    /// OneDrive "Silently move Windows known folders to OneDrive".
    pub const ONEDRIVE_KNOWN_FOLDER_MOVE: &CatalogSetting = &CatalogSetting {
        name: "Silently move Windows known folders to OneDrive",
        definition_ids: &["device_vendor_msft_policy_config_onedrivengscv2~policy~onedrivengsc_kfmoptinnowizard"],
        kind: ENABLED,
    };
    /// Credential Guard (`LsaCfgFlags`): 1 with UEFI lock, 2 without; 0 off.
    pub const WINDOWS_CREDENTIAL_GUARD: &CatalogSetting = &CatalogSetting {
        name: "Credential Guard",
        definition_ids: &["device_vendor_msft_policy_config_deviceguard_lsacfgflags"],
        kind: Kind::Toggle(&["_1", "_2"]),
    };

    /// Windows LAPS (Endpoint security, account protection): the directory local administrator
    /// passwords are backed up to, `_1` Entra ID or `_2` Active Directory (`_0`: disabled).
    pub const WINDOWS_LAPS_BACKUP_DIRECTORY: &CatalogSetting = &CatalogSetting {
        name: "Windows LAPS backup directory",
        definition_ids: &["device_vendor_msft_laps_policies_backupdirectory"],
        kind: Kind::Toggle(&["_1", "_2"]),
    };
    /// Windows LAPS password length (characters; Windows' default is 14). ASD's FAQ reads
    /// "long" in ISM-1685 as at least 30.
    pub const WINDOWS_LAPS_PASSWORD_LENGTH: &CatalogSetting = &CatalogSetting {
        name: "Windows LAPS password length",
        definition_ids: &["device_vendor_msft_laps_policies_passwordlength"],
        kind: Kind::Integer,
    };
    /// "Use Windows Hello for Business" (PassportForWork CSP, account protection); the id keeps
    /// Microsoft's literal `{tenantid}`.
    pub const WINDOWS_HELLO_FOR_BUSINESS: &CatalogSetting = &CatalogSetting {
        name: "Use Windows Hello for Business",
        definition_ids: &["device_vendor_msft_passportforwork_{tenantid}_policies_usepassportforwork"],
        kind: Kind::Toggle(&["_true"]),
    };

    /// The prefix of each attack surface reduction rule in the settings catalog (Endpoint
    /// security ASR policies); the rule's own id follows, and its value ends `_block`, `_audit`,
    /// `_warn` or `_off`.
    pub const ASR_RULE_PREFIX: &str = "device_vendor_msft_policy_config_defender_attacksurfacereductionrules_";

    /// Every setting above, for tests and documentation.
    pub const ALL: &[&CatalogSetting] = &[
        OFFICE_BLOCK_MACROS_FROM_INTERNET,
        OFFICE_VBA_MACRO_NOTIFICATION,
        OFFICE_MACRO_ANTIVIRUS_SCANNING,
        OFFICE_BLOCK_OLE_PACKAGES,
        OFFICE_AUTOMATIC_UPDATES,
        OFFICE_UPDATE_DEADLINE_DAYS,
        EDGE_SMARTSCREEN,
        EDGE_SMARTSCREEN_NO_OVERRIDE,
        WINDOWS_DISABLE_IE11,
        WINDOWS_POWERSHELL_SCRIPT_BLOCK_LOGGING,
        WINDOWS_VULNERABLE_DRIVER_BLOCKLIST,
        WINDOWS_APP_CONTROL_ENFORCED,
        ONEDRIVE_KNOWN_FOLDER_MOVE,
        WINDOWS_CREDENTIAL_GUARD,
        WINDOWS_LAPS_BACKUP_DIRECTORY,
        WINDOWS_LAPS_PASSWORD_LENGTH,
        WINDOWS_HELLO_FOR_BUSINESS,
    ];
}

// ---------------------------------------------------------------------------------------------
// Directory

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Organization {
    pub id: String,
    pub display_name: String,
    pub verified_domains: Vec<VerifiedDomain>,
    pub security_compliance_notification_mails: Vec<String>,
    pub technical_notification_mails: Vec<String>,
    pub on_premises_sync_enabled: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VerifiedDomain {
    pub name: String,
    pub is_default: bool,
    pub is_initial: bool,
    #[serde(rename = "type")]
    pub domain_type: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscribedSku {
    pub sku_id: String,
    pub sku_part_number: String,
    /// `Enabled`, `Warning`, `Suspended`, `Deleted`, `LockedOut`.
    pub capability_status: String,
    pub service_plans: Vec<ServicePlanInfo>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicePlanInfo {
    pub service_plan_name: String,
    /// `Success`, `Disabled`, `PendingInput`, …
    pub provisioning_status: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct User {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub account_enabled: Option<bool>,
    /// `Member` or `Guest`.
    pub user_type: Option<String>,
    /// `true` for accounts synchronised from on-premises AD.
    pub on_premises_sync_enabled: Option<bool>,
    pub assigned_plans: Vec<AssignedPlan>,
    /// Needs Entra ID P1 to read; `None` when the collector could not.
    pub sign_in_activity: Option<SignInActivity>,
    pub created_date_time: Option<String>,
    /// A Teams Rooms or other resource account: a device's identity, not a person.
    pub is_resource_account: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AssignedPlan {
    /// `exchange`, `SharePoint`, `MicrosoftOffice`, …
    pub service: String,
    /// `Enabled`, `Warning`, `Suspended`, `Deleted`, `LockedOut`.
    pub capability_status: String,
    pub service_plan_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SignInActivity {
    /// The last interactive sign-in attempt, successful or not.
    pub last_sign_in_date_time: Option<String>,
    /// The last successful sign-in, interactive or not (recorded since December 2023).
    pub last_successful_sign_in_date_time: Option<String>,
    pub last_non_interactive_sign_in_date_time: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Device {
    pub id: String,
    pub display_name: String,
    pub account_enabled: Option<bool>,
    pub operating_system: String,
    pub operating_system_version: String,
    /// Managed by an MDM (Intune or another).
    pub is_managed: Option<bool>,
    pub is_compliant: Option<bool>,
    /// `AzureAd`, `ServerAd` (hybrid joined), `Workplace` (registered).
    pub trust_type: Option<String>,
    pub approximate_last_sign_in_date_time: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorizationPolicy {
    /// `none`, `adminsAndGuestInviters`, `adminsGuestInvitersAndAllMembers`, `everyone`.
    pub allow_invites_from: Option<String>,
    pub guest_user_role_id: Option<String>,
    pub allowed_to_sign_up_email_based_subscriptions: Option<bool>,
    pub allow_email_verified_users_to_join_organization: Option<bool>,
    pub default_user_role_permissions: DefaultUserRolePermissions,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DefaultUserRolePermissions {
    pub allowed_to_create_apps: Option<bool>,
    pub allowed_to_create_security_groups: Option<bool>,
    pub allowed_to_create_tenants: Option<bool>,
    pub allowed_to_read_other_users: Option<bool>,
    /// E.g. `ManagePermissionGrantsForSelf.microsoft-user-default-legacy` (users may consent
    /// to any app), `…-low` (verified publishers, low-impact permissions); empty means users
    /// cannot consent at all.
    pub permission_grant_policies_assigned: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AdminConsentRequestPolicy {
    pub is_enabled: bool,
}

// ---------------------------------------------------------------------------------------------
// Authentication

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityDefaultsPolicy {
    pub is_enabled: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConditionalAccessPolicy {
    pub id: String,
    pub display_name: String,
    /// `enabled`, `disabled` or `enabledForReportingButNotEnforced`.
    pub state: String,
    pub conditions: ConditionalAccessConditions,
    pub grant_controls: Option<GrantControls>,
    pub session_controls: Option<SessionControls>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConditionalAccessConditions {
    pub users: ConditionalAccessUsers,
    pub applications: ConditionalAccessApplications,
    /// `all`, `browser`, `mobileAppsAndDesktopClients`, `exchangeActiveSync`, `other`.
    pub client_app_types: Vec<String>,
    /// `low`, `medium`, `high`, `hidden`, `none`.
    pub user_risk_levels: Vec<String>,
    pub sign_in_risk_levels: Vec<String>,
    /// Named locations included and excluded; `None`: any location.
    pub locations: Option<ConditionalAccessLocations>,
    /// Device platforms included and excluded; `None`: any platform.
    pub platforms: Option<ConditionalAccessPlatforms>,
    /// A device filter; `None`: any device.
    pub devices: Option<ConditionalAccessDevices>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConditionalAccessLocations {
    /// Named location ids, or `All`, `AllTrusted`.
    pub include_locations: Vec<String>,
    pub exclude_locations: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConditionalAccessPlatforms {
    /// `all`, `android`, `iOS`, `windows`, `macOS`, `linux`, … (conditionalAccessDevicePlatform).
    pub include_platforms: Vec<String>,
    pub exclude_platforms: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConditionalAccessDevices {
    pub device_filter: Option<ConditionalAccessFilter>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConditionalAccessFilter {
    /// `include` or `exclude`.
    pub mode: Option<String>,
    pub rule: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConditionalAccessUsers {
    /// User ids, or `All`, `GuestsOrExternalUsers`, `None`.
    pub include_users: Vec<String>,
    pub exclude_users: Vec<String>,
    pub include_groups: Vec<String>,
    pub exclude_groups: Vec<String>,
    /// Role template ids.
    pub include_roles: Vec<String>,
    pub exclude_roles: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConditionalAccessApplications {
    /// App ids, or `All`, `Office365`, `MicrosoftAdminPortals`, `None`.
    pub include_applications: Vec<String>,
    pub exclude_applications: Vec<String>,
    /// E.g. `urn:user:registersecurityinfo`.
    pub include_user_actions: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GrantControls {
    /// `AND` or `OR`.
    pub operator: Option<String>,
    /// `block`, `mfa`, `compliantDevice`, `domainJoinedDevice`, `approvedApplication`,
    /// `compliantApplication`, `passwordChange`.
    pub built_in_controls: Vec<String>,
    pub authentication_strength: Option<AuthenticationStrengthPolicy>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthenticationStrengthPolicy {
    pub id: String,
    pub display_name: String,
    /// E.g. `fido2`, `windowsHelloForBusiness`, `password,microsoftAuthenticatorPush`.
    pub allowed_combinations: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionControls {
    pub sign_in_frequency: Option<SignInFrequencySessionControl>,
    pub persistent_browser: Option<PersistentBrowserSessionControl>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SignInFrequencySessionControl {
    pub is_enabled: bool,
    /// `days` or `hours`.
    #[serde(rename = "type")]
    pub frequency_type: Option<String>,
    pub value: Option<u32>,
    /// `timeBased` or `everyTime`.
    pub frequency_interval: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PersistentBrowserSessionControl {
    pub is_enabled: bool,
    /// `always` or `never`.
    pub mode: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthenticationMethodsPolicy {
    pub authentication_method_configurations: Vec<AuthenticationMethodConfiguration>,
    pub registration_enforcement: Option<RegistrationEnforcement>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthenticationMethodConfiguration {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// `Fido2`, `MicrosoftAuthenticator`, `Sms`, `Voice`, `Email`, `TemporaryAccessPass`,
    /// `SoftwareOath`, `X509Certificate` (compared case-insensitively).
    pub id: String,
    /// `enabled` or `disabled`.
    pub state: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegistrationEnforcement {
    pub authentication_methods_registration_campaign: Option<RegistrationCampaign>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegistrationCampaign {
    /// `default`, `enabled`, `disabled`.
    pub state: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserRegistrationDetails {
    pub id: String,
    pub user_principal_name: String,
    /// `member` or `guest`.
    pub user_type: Option<String>,
    pub is_admin: bool,
    pub is_mfa_capable: bool,
    pub is_mfa_registered: bool,
    pub is_passwordless_capable: bool,
    /// E.g. `microsoftAuthenticatorPush`, `fido2`, `mobilePhone`, `windowsHelloForBusiness`.
    pub methods_registered: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Privileged access

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleAssignment {
    pub id: String,
    /// For built-in roles, the role template id (see [`ids`]).
    pub role_definition_id: String,
    pub principal_id: String,
    pub directory_scope_id: Option<String>,
    pub principal: Option<Principal>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Principal {
    /// `#microsoft.graph.user`, `#microsoft.graph.group`, `#microsoft.graph.servicePrincipal`.
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub id: String,
    pub display_name: Option<String>,
    pub user_principal_name: Option<String>,
    /// For a group (a role-assignable group holding the role): its members, nested groups
    /// resolved (`GET /groups/{id}/transitiveMembers`), each of whom holds the role. `None`
    /// for users and service principals, or when the members were not read.
    pub transitive_members: Option<Vec<Principal>>,
}

/// `unifiedRoleAssignmentScheduleInstance`: one active role assignment as PIM sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleAssignmentScheduleInstance {
    pub id: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub directory_scope_id: Option<String>,
    /// `Assigned` (standing) or `Activated` (activated just in time from an eligibility).
    pub assignment_type: Option<String>,
    /// `Direct`, `Group` or `Inherited`.
    pub member_type: Option<String>,
    pub start_date_time: Option<String>,
    /// `None`: permanent.
    pub end_date_time: Option<String>,
}

/// `accessReviewScheduleDefinition`: a (recurring) access review.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccessReviewScheduleDefinition {
    pub id: String,
    pub display_name: String,
    /// `NotStarted`, `InProgress`, `Completed`, … (a string in Graph).
    pub status: Option<String>,
    /// What is reviewed: an `accessReviewQueryScope` or a `principalResourceMembershipsScope`
    /// whose queries name the resource (`/roleManagement/directory/roleDefinitions/{id}` for
    /// a directory role), kept as Graph sends it.
    pub scope: Option<Value>,
    pub settings: Option<AccessReviewScheduleSettings>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccessReviewScheduleSettings {
    /// Denied or unreviewed access is removed without an administrator.
    pub auto_apply_decisions_enabled: Option<bool>,
    /// `None`: a one-off review.
    pub recurrence: Option<PatternedRecurrence>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PatternedRecurrence {
    pub pattern: Option<RecurrencePattern>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RecurrencePattern {
    /// `daily`, `weekly`, `absoluteMonthly`, `relativeMonthly`, `absoluteYearly`,
    /// `relativeYearly` (`recurrencePatternType`).
    #[serde(rename = "type")]
    pub pattern_type: Option<String>,
    /// Units of `type` between occurrences.
    pub interval: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleEligibilitySchedule {
    pub id: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub directory_scope_id: Option<String>,
    /// `Provisioned`, …
    pub status: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Intune

/// A `deviceConfiguration`; which properties are present depends on `@odata.type`:
/// `#microsoft.graph.windows10EndpointProtectionConfiguration` (ASR rules, SmartScreen,
/// AppLocker, Credential Guard) or `#microsoft.graph.windowsUpdateForBusinessConfiguration`
/// (update rings). One flat struct keeps the collector trivial; unknown properties are dropped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceConfiguration {
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub id: String,
    pub display_name: String,
    /// `None` when assignments were not expanded (the policy then counts as assigned);
    /// `Some(empty)` is an unassigned policy, which protects nothing.
    pub assignments: Option<Vec<PolicyAssignment>>,

    // windows10EndpointProtectionConfiguration: ASR rules, each `userDefined`, `block`,
    // `auditMode`, `warn` or `disable`.
    pub defender_office_apps_other_process_injection_type: Option<String>,
    pub defender_office_apps_executable_content_creation_or_launch_type: Option<String>,
    pub defender_office_apps_launch_child_process_type: Option<String>,
    pub defender_office_macro_code_allow_win32_imports_type: Option<String>,
    pub defender_script_obfuscated_macro_code_type: Option<String>,
    pub defender_email_content_execution_type: Option<String>,
    pub defender_untrusted_executable_type: Option<String>,
    pub defender_adobe_reader_launch_child_process: Option<String>,
    pub defender_prevent_credential_stealing_type: Option<String>,
    pub smart_screen_enable_in_shell: Option<bool>,
    pub smart_screen_block_override_for_files: Option<bool>,
    /// `notConfigured`, `enforceComponentsAndStoreApps`, `auditComponentsAndStoreApps`,
    /// `enforceComponentsStoreAppsAndSmartlocker`, `auditComponentsStoreAppsAndSmartlocker`.
    pub app_locker_application_control: Option<String>,
    /// `notConfigured`, `enableWithUEFILock`, `enableWithoutUEFILock`, `disable`.
    pub device_guard_local_system_authority_credential_guard_settings: Option<String>,

    // windowsUpdateForBusinessConfiguration (update ring).
    pub quality_updates_deferral_period_in_days: Option<u32>,
    pub feature_updates_deferral_period_in_days: Option<u32>,
    pub deadline_for_quality_updates_in_days: Option<u32>,
    pub deadline_for_feature_updates_in_days: Option<u32>,
    pub deadline_grace_period_in_days: Option<u32>,
    pub quality_updates_paused: Option<bool>,
    pub feature_updates_paused: Option<bool>,
    /// Also deliver updates for other Microsoft products (Office MSI, .NET, …).
    pub microsoft_update_service_allowed: Option<bool>,
    /// `userDefined`, `notifyDownload`, `autoInstallAtMaintenanceTime`, … , `windowsDefault`.
    pub automatic_update_mode: Option<String>,
}

pub const ENDPOINT_PROTECTION_CONFIGURATION: &str = "#microsoft.graph.windows10EndpointProtectionConfiguration";
pub const UPDATE_RING_CONFIGURATION: &str = "#microsoft.graph.windowsUpdateForBusinessConfiguration";
pub const WINDOWS_COMPLIANCE_POLICY: &str = "#microsoft.graph.windows10CompliancePolicy";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyAssignment {
    pub id: String,
    pub target: Option<Value>,
}

/// A settings-catalog or Endpoint security policy (`deviceManagementConfigurationPolicy`,
/// beta), with its settings and assignments as Graph returns them
/// (`GET /beta/deviceManagement/configurationPolicies/{id}?$expand=settings,assignments`).
/// The checks find their settings by `settingDefinitionId` (see [`setting`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConfigurationPolicy {
    pub id: String,
    pub name: String,
    /// `windows10`, `macOS`, … (flags, comma-separated).
    pub platforms: Option<String>,
    /// `mdm`, `microsoftSense`, … (flags, comma-separated).
    pub technologies: Option<String>,
    pub is_assigned: Option<bool>,
    pub settings: Vec<ConfigurationSetting>,
    /// `None` when assignments were not expanded (the policy then counts by `isAssigned`).
    pub assignments: Option<Vec<PolicyAssignment>>,
}

/// `deviceManagementConfigurationSetting`: one setting of a policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConfigurationSetting {
    pub id: String,
    pub setting_instance: SettingInstance,
}

/// `deviceManagementConfigurationSettingInstance` and its subtypes, one struct: which value
/// property is present depends on `@odata.type` (choice, simple, group collection, …).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SettingInstance {
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    /// E.g. `device_vendor_msft_policy_config_defender_attacksurfacereductionrules`.
    pub setting_definition_id: String,
    /// Choice: `value` is the chosen option's id, the definition id plus a suffix (`…_1`).
    pub choice_setting_value: Option<ChoiceSettingValue>,
    pub choice_setting_collection_value: Option<Vec<ChoiceSettingValue>>,
    pub simple_setting_value: Option<SimpleSettingValue>,
    pub simple_setting_collection_value: Option<Vec<SimpleSettingValue>>,
    pub group_setting_collection_value: Option<Vec<GroupSettingValue>>,
    pub group_setting_value: Option<GroupSettingValue>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChoiceSettingValue {
    pub value: String,
    pub children: Vec<SettingInstance>,
}

/// An integer, string or secret value (`@odata.type` says which).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SimpleSettingValue {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub value: Value,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupSettingValue {
    pub children: Vec<SettingInstance>,
}

impl SettingInstance {
    /// This instance and every instance nested under it, depth first.
    pub fn walk(&self) -> Vec<&SettingInstance> {
        let mut out = vec![self];
        let choices = self.choice_setting_value.iter().chain(self.choice_setting_collection_value.iter().flatten());
        let groups = self.group_setting_value.iter().chain(self.group_setting_collection_value.iter().flatten());
        for child in choices.flat_map(|c| &c.children).chain(groups.flat_map(|g| &g.children)) {
            out.extend(child.walk());
        }
        out
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceCompliancePolicy {
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub id: String,
    pub display_name: String,
    pub assignments: Option<Vec<PolicyAssignment>>,
    // windows10CompliancePolicy
    pub bit_locker_enabled: Option<bool>,
    pub secure_boot_enabled: Option<bool>,
    pub code_integrity_enabled: Option<bool>,
    pub storage_require_encryption: Option<bool>,
    pub active_firewall_required: Option<bool>,
    pub defender_enabled: Option<bool>,
    pub rtp_enabled: Option<bool>,
    pub antivirus_required: Option<bool>,
    pub os_minimum_version: Option<String>,
    pub password_required: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceManagementSettings {
    /// "Mark devices with no compliance policy assigned as": `true` = Not compliant.
    pub secure_by_default: Option<bool>,
    pub device_compliance_checkin_threshold_days: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ManagedDevice {
    pub id: String,
    pub device_name: String,
    /// `Windows`, `macOS`, `iOS`, `Android`, …
    pub operating_system: String,
    /// E.g. `10.0.22631.4602`.
    pub os_version: String,
    /// `compliant`, `noncompliant`, `inGracePeriod`, `unknown`, `conflict`, `error`, …
    pub compliance_state: String,
    pub is_encrypted: Option<bool>,
    pub last_sync_date_time: Option<String>,
    /// `company` or `personal`.
    pub managed_device_owner_type: Option<String>,
    /// Beta: the Windows edition's SKU number (`PRODUCT_*`: 48 Pro, 4 Enterprise, 121
    /// Education, 125 Enterprise LTSC, …) and family, for servicing dates.
    pub sku_number: Option<u32>,
    pub sku_family: Option<String>,
    pub windows_protection_state: Option<WindowsProtectionState>,
}

/// A `deviceEnrollmentConfiguration`; the Windows Hello for Business one
/// ([`WINDOWS_HELLO_ENROLLMENT`]) carries `state` and the PIN rules. The default policy
/// (`priority` 0) applies to every user; others to their assignments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceEnrollmentConfiguration {
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub id: String,
    pub display_name: String,
    pub priority: Option<u32>,
    /// Windows Hello for Business: `enabled`, `disabled` or `notConfigured` (`enablement`).
    pub state: Option<String>,
    pub security_device_required: Option<bool>,
    pub pin_minimum_length: Option<u32>,
    pub assignments: Option<Vec<PolicyAssignment>>,
}

pub const WINDOWS_HELLO_ENROLLMENT: &str = "#microsoft.graph.deviceEnrollmentWindowsHelloForBusinessConfiguration";

/// A `deviceManagementIntent` (beta): an Endpoint security policy made from an older template
/// (attack surface reduction, account protection, …), with its settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceManagementIntent {
    pub id: String,
    pub display_name: String,
    pub template_id: Option<String>,
    pub is_assigned: Option<bool>,
    pub settings: Vec<IntentSetting>,
    pub assignments: Option<Vec<PolicyAssignment>>,
}

/// A `deviceManagementSettingInstance`: `definitionId` names the legacy profile property it
/// sets (`deviceConfiguration--windows10EndpointProtectionConfiguration_<property>`) and
/// `valueJson` holds its value as JSON text (`"\"block\""`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IntentSetting {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub id: String,
    pub definition_id: String,
    pub value_json: Option<String>,
}

/// A `windowsFeatureUpdateProfile` (beta): holds devices at one Windows release.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WindowsFeatureUpdateProfile {
    pub id: String,
    pub display_name: String,
    /// E.g. `Windows 11, version 24H2`.
    pub feature_update_version: Option<String>,
    pub assignments: Option<Vec<PolicyAssignment>>,
}

/// A `windowsQualityUpdateProfile` (beta): expedites one quality update.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WindowsQualityUpdateProfile {
    pub id: String,
    pub display_name: String,
    pub expedited_update_settings: Option<ExpeditedUpdateSettings>,
    pub assignments: Option<Vec<PolicyAssignment>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExpeditedUpdateSettings {
    /// The release date of the expedited update, RFC 3339 (`2026-03-10T00:00:00Z`).
    pub quality_update_release: Option<String>,
    pub days_until_forced_reboot: Option<u32>,
}

/// A `windowsDriverUpdateProfile` (beta).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WindowsDriverUpdateProfile {
    pub id: String,
    pub display_name: String,
    /// `manual` or `automatic` (`driverUpdateProfileApprovalType`).
    pub approval_type: Option<String>,
    /// Days between automatic approval and deployment.
    pub deployment_deferral_in_days: Option<u32>,
    pub assignments: Option<Vec<PolicyAssignment>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WindowsProtectionState {
    pub malware_protection_enabled: Option<bool>,
    pub real_time_protection_enabled: Option<bool>,
    pub signature_update_overdue: Option<bool>,
    pub signature_version: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Security posture and operations

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecureScore {
    pub id: String,
    pub created_date_time: Option<String>,
    pub current_score: f64,
    pub max_score: f64,
    pub control_scores: Vec<ControlScore>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ControlScore {
    pub control_name: String,
    pub control_category: Option<String>,
    pub score: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RiskyUser {
    pub id: String,
    pub user_principal_name: String,
    /// `low`, `medium`, `high`, `hidden`, `none`.
    pub risk_level: String,
    /// `atRisk`, `confirmedCompromised`, `remediated`, `dismissed`, `none`, …
    pub risk_state: String,
    pub risk_last_updated_date_time: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Alert {
    pub id: String,
    pub title: String,
    /// `informational`, `low`, `medium`, `high`.
    pub severity: String,
    /// `new`, `inProgress`, `resolved`.
    pub status: String,
    pub created_date_time: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Data

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SharepointSettings {
    /// `disabled`, `existingExternalUserSharingOnly`, `externalUserSharingOnly`,
    /// `externalUserAndGuestSharing` (the last allows "Anyone" links).
    pub sharing_capability: Option<String>,
    /// `none`, `allowList`, `blockList`.
    pub sharing_domain_restriction_mode: Option<String>,
    pub is_legacy_auth_protocols_enabled: Option<bool>,
    pub is_resharing_by_external_users_enabled: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupRestore {
    pub service_status: Option<BackupServiceStatus>,
    /// Exchange, SharePoint and OneDrive protection policies.
    pub protection_policies: Vec<ProtectionPolicy>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupServiceStatus {
    /// `disabled`, `enabled`, `protectionChangeLocked`, `restoreLocked`.
    pub status: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProtectionPolicy {
    /// `#microsoft.graph.exchangeProtectionPolicy`, `#microsoft.graph.sharePointProtectionPolicy`,
    /// `#microsoft.graph.oneDriveForBusinessProtectionPolicy`.
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub id: String,
    pub display_name: String,
    /// `inactive`, `activeWithErrors`, `updating`, `active`.
    pub status: String,
}

// ---------------------------------------------------------------------------------------------
// Exchange Online

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AdminAuditLogConfig {
    /// The Microsoft 365 (unified) audit log is recording.
    pub unified_audit_log_ingestion_enabled: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExchangeOrganizationConfig {
    /// `true` turns mailbox auditing off for the whole organisation.
    pub audit_disabled: Option<bool>,
}
