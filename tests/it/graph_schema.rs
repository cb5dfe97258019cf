//! Graph-true by test: the tenant snapshot, the demo tenants and the checks' enum literals held
//! to Microsoft Graph's own schema (msgraph-metadata, v1.0 and beta).
//!
//! The schema is read from the guide's `../shared/reference/graph/` when it is there; a clean
//! checkout (CI) has only the subset vendored in `tests/fixtures/graph-schema.json` (every type
//! and enum this file names, with the source commit). When both are present the vendored subset
//! must equal what the full schema gives; `BAREF00T_WRITE_GRAPH_SCHEMA=1` rewrites it.
//!
//! What is proved:
//! - every property a snapshot type deserializes exists on the Graph type it comes from, in the
//!   API version the collector asks for it (`collect::request_for`): a beta-only property read
//!   from `/v1.0/…` is never there on a real tenant;
//! - every object of every demo tenant has only properties of its Graph type (its own
//!   `@odata.type` when it names one, which must exist), and every nested object sits at a
//!   path this file maps;
//! - every value of an enum-typed property in the demo tenants, and every enum literal the
//!   checks compare against, is a member of that enum.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Map, Value};
use shared::assess::collect::request_for;
use shared::assess::snapshot::*;

const V1: &str = "v1.0";
const BETA: &str = "beta";

/// Where a snapshot object sits (`/`-separated JSON path from the snapshot's root, `*` for
/// every element of an array), the Graph types whose properties it may carry (the type and its
/// base types: the schema lists each type's own properties only), and the Rust type that
/// deserializes it (its `Default` serialized names every field).
struct Row {
    path: &'static str,
    types: &'static [&'static str],
    rust: Option<fn() -> Value>,
    /// Enum-typed properties of the object: (property, enum type).
    enums: &'static [(&'static str, &'static str)],
}

macro_rules! rs {
    ($t:ty) => {
        Some(|| serde_json::to_value(<$t>::default()).unwrap())
    };
}

const fn row(path: &'static str, types: &'static [&'static str], rust: Option<fn() -> Value>) -> Row {
    Row { path, types, rust, enums: &[] }
}

const ASSIGNMENT_TARGETS: &[&str] = &[
    "deviceAndAppManagementAssignmentTarget",
    "groupAssignmentTarget",
    "exclusionGroupAssignmentTarget",
    "allDevicesAssignmentTarget",
    "allLicensedUsersAssignmentTarget",
];

const SETTING_INSTANCES: &[&str] = &[
    "deviceManagementConfigurationSettingInstance",
    "deviceManagementConfigurationChoiceSettingInstance",
    "deviceManagementConfigurationChoiceSettingCollectionInstance",
    "deviceManagementConfigurationSimpleSettingInstance",
    "deviceManagementConfigurationSimpleSettingCollectionInstance",
    "deviceManagementConfigurationGroupSettingInstance",
    "deviceManagementConfigurationGroupSettingCollectionInstance",
];

const SIMPLE_VALUES: &[&str] = &[
    "deviceManagementConfigurationSimpleSettingValue",
    "deviceManagementConfigurationIntegerSettingValue",
    "deviceManagementConfigurationStringSettingValue",
    "deviceManagementConfigurationSettingValue",
];

/// A setting instance nested in another's value (`…/choiceSettingValue/children/*`) has the
/// same shape as a top-level one: fold such paths onto `…/settingInstance`.
fn normalise(path: &str) -> String {
    let mut p = path.to_string();
    for nested in [
        "/choiceSettingValue/children/*",
        "/choiceSettingCollectionValue/*/children/*",
        "/groupSettingCollectionValue/*/children/*",
        "/groupSettingValue/children/*",
    ] {
        while let Some(i) = p.find(&format!("/settingInstance{nested}")) {
            let start = i + "/settingInstance".len();
            p.replace_range(start..start + nested.len(), "");
        }
    }
    p
}

const ASR_PROPERTIES: &[(&str, &str)] = &[
    ("defenderOfficeAppsOtherProcessInjectionType", "defenderAttackSurfaceType"),
    ("defenderOfficeAppsExecutableContentCreationOrLaunchType", "defenderAttackSurfaceType"),
    ("defenderOfficeAppsLaunchChildProcessType", "defenderAttackSurfaceType"),
    ("defenderOfficeMacroCodeAllowWin32ImportsType", "defenderAttackSurfaceType"),
    ("defenderScriptObfuscatedMacroCodeType", "defenderAttackSurfaceType"),
    ("defenderEmailContentExecutionType", "defenderAttackSurfaceType"),
    ("defenderUntrustedExecutableType", "defenderAttackSurfaceType"),
    ("defenderAdobeReaderLaunchChildProcess", "defenderProtectionType"),
    ("defenderPreventCredentialStealingType", "defenderProtectionType"),
    ("appLockerApplicationControl", "appLockerApplicationControlType"),
    ("deviceGuardLocalSystemAuthorityCredentialGuardSettings", "deviceGuardLocalSystemAuthorityCredentialGuardType"),
    ("automaticUpdateMode", "automaticUpdateMode"),
];

/// Every object of the snapshot, by path. Objects not listed here fail the fixture walk.
fn rows() -> Vec<Row> {
    vec![
        row("organization", &["organization", "directoryObject", "entity"], rs!(Organization)),
        row("organization/verifiedDomains/*", &["verifiedDomain"], rs!(VerifiedDomain)),
        row("subscribedSkus/*", &["subscribedSku", "entity"], rs!(SubscribedSku)),
        row("subscribedSkus/*/servicePlans/*", &["servicePlanInfo"], rs!(ServicePlanInfo)),
        row("users/*", &["user", "directoryObject", "entity"], rs!(User)),
        row("users/*/assignedPlans/*", &["assignedPlan"], rs!(AssignedPlan)),
        row("users/*/signInActivity", &["signInActivity"], rs!(SignInActivity)),
        row("devices/*", &["device", "directoryObject", "entity"], rs!(Device)),
        row(
            "authorizationPolicy",
            &["authorizationPolicy", "policyBase", "directoryObject", "entity"],
            rs!(AuthorizationPolicy),
        ),
        row(
            "authorizationPolicy/defaultUserRolePermissions",
            &["defaultUserRolePermissions"],
            rs!(DefaultUserRolePermissions),
        ),
        row("adminConsentRequestPolicy", &["adminConsentRequestPolicy", "entity"], rs!(AdminConsentRequestPolicy)),
        row(
            "identitySecurityDefaultsEnforcementPolicy",
            &["identitySecurityDefaultsEnforcementPolicy", "policyBase", "directoryObject", "entity"],
            rs!(SecurityDefaultsPolicy),
        ),
        Row {
            enums: &[("state", "conditionalAccessPolicyState")],
            ..row("conditionalAccessPolicies/*", &["conditionalAccessPolicy", "entity"], rs!(ConditionalAccessPolicy))
        },
        row(
            "conditionalAccessPolicies/*/conditions",
            &["conditionalAccessConditionSet"],
            rs!(ConditionalAccessConditions),
        ),
        row("conditionalAccessPolicies/*/conditions/users", &["conditionalAccessUsers"], rs!(ConditionalAccessUsers)),
        row(
            "conditionalAccessPolicies/*/conditions/applications",
            &["conditionalAccessApplications"],
            rs!(ConditionalAccessApplications),
        ),
        row(
            "conditionalAccessPolicies/*/conditions/locations",
            &["conditionalAccessLocations"],
            rs!(ConditionalAccessLocations),
        ),
        row(
            "conditionalAccessPolicies/*/conditions/platforms",
            &["conditionalAccessPlatforms"],
            rs!(ConditionalAccessPlatforms),
        ),
        row(
            "conditionalAccessPolicies/*/conditions/devices",
            &["conditionalAccessDevices"],
            rs!(ConditionalAccessDevices),
        ),
        row(
            "conditionalAccessPolicies/*/conditions/devices/deviceFilter",
            &["conditionalAccessFilter"],
            rs!(ConditionalAccessFilter),
        ),
        row("conditionalAccessPolicies/*/grantControls", &["conditionalAccessGrantControls"], rs!(GrantControls)),
        row(
            "conditionalAccessPolicies/*/grantControls/authenticationStrength",
            &["authenticationStrengthPolicy", "entity"],
            rs!(AuthenticationStrengthPolicy),
        ),
        row("conditionalAccessPolicies/*/sessionControls", &["conditionalAccessSessionControls"], rs!(SessionControls)),
        Row {
            enums: &[("type", "signinFrequencyType"), ("frequencyInterval", "signInFrequencyInterval")],
            ..row(
                "conditionalAccessPolicies/*/sessionControls/signInFrequency",
                &["signInFrequencySessionControl", "conditionalAccessSessionControl"],
                rs!(SignInFrequencySessionControl),
            )
        },
        Row {
            enums: &[("mode", "persistentBrowserSessionMode")],
            ..row(
                "conditionalAccessPolicies/*/sessionControls/persistentBrowser",
                &["persistentBrowserSessionControl", "conditionalAccessSessionControl"],
                rs!(PersistentBrowserSessionControl),
            )
        },
        row(
            "authenticationMethodsPolicy",
            &["authenticationMethodsPolicy", "entity"],
            rs!(AuthenticationMethodsPolicy),
        ),
        Row {
            enums: &[("state", "authenticationMethodState")],
            ..row(
                "authenticationMethodsPolicy/authenticationMethodConfigurations/*",
                &["authenticationMethodConfiguration", "entity"],
                rs!(AuthenticationMethodConfiguration),
            )
        },
        row(
            "authenticationMethodsPolicy/registrationEnforcement",
            &["registrationEnforcement"],
            rs!(RegistrationEnforcement),
        ),
        Row {
            enums: &[("state", "advancedConfigState")],
            ..row(
                "authenticationMethodsPolicy/registrationEnforcement/authenticationMethodsRegistrationCampaign",
                &["authenticationMethodsRegistrationCampaign"],
                rs!(RegistrationCampaign),
            )
        },
        row("userRegistrationDetails/*", &["userRegistrationDetails", "entity"], rs!(UserRegistrationDetails)),
        row("roleAssignments/*", &["unifiedRoleAssignment", "entity"], rs!(RoleAssignment)),
        row(
            "roleAssignments/*/principal",
            &["directoryObject", "entity", "user", "group", "servicePrincipal"],
            rs!(Principal),
        ),
        row(
            "roleAssignments/*/principal/transitiveMembers/*",
            &["directoryObject", "entity", "user", "group", "servicePrincipal"],
            rs!(Principal),
        ),
        row(
            "roleEligibilitySchedules/*",
            &["unifiedRoleEligibilitySchedule", "unifiedRoleScheduleBase", "entity"],
            rs!(RoleEligibilitySchedule),
        ),
        row(
            "roleAssignmentScheduleInstances/*",
            &["unifiedRoleAssignmentScheduleInstance", "unifiedRoleScheduleInstanceBase", "entity"],
            rs!(RoleAssignmentScheduleInstance),
        ),
        row(
            "accessReviewDefinitions/*",
            &["accessReviewScheduleDefinition", "entity"],
            rs!(AccessReviewScheduleDefinition),
        ),
        row(
            "accessReviewDefinitions/*/scope",
            &["accessReviewScope", "principalResourceMembershipsScope", "accessReviewQueryScope"],
            None,
        ),
        row(
            "accessReviewDefinitions/*/scope/principalScopes/*",
            &["accessReviewScope", "accessReviewQueryScope"],
            None,
        ),
        row("accessReviewDefinitions/*/scope/resourceScopes/*", &["accessReviewScope", "accessReviewQueryScope"], None),
        row("accessReviewDefinitions/*/settings", &["accessReviewScheduleSettings"], rs!(AccessReviewScheduleSettings)),
        row("accessReviewDefinitions/*/settings/recurrence", &["patternedRecurrence"], rs!(PatternedRecurrence)),
        Row {
            enums: &[("type", "recurrencePatternType")],
            ..row(
                "accessReviewDefinitions/*/settings/recurrence/pattern",
                &["recurrencePattern"],
                rs!(RecurrencePattern),
            )
        },
        Row {
            enums: &[("type", "recurrenceRangeType")],
            ..row("accessReviewDefinitions/*/settings/recurrence/range", &["recurrenceRange"], None)
        },
        Row {
            enums: ASR_PROPERTIES,
            ..row(
                "deviceConfigurations/*",
                &[
                    "deviceConfiguration",
                    "entity",
                    "windows10EndpointProtectionConfiguration",
                    "windowsUpdateForBusinessConfiguration",
                ],
                rs!(DeviceConfiguration),
            )
        },
        row(
            "deviceConfigurations/*/assignments/*",
            &["deviceConfigurationAssignment", "entity"],
            rs!(PolicyAssignment),
        ),
        row("deviceConfigurations/*/assignments/*/target", ASSIGNMENT_TARGETS, None),
        row("configurationPolicies/*", &["deviceManagementConfigurationPolicy", "entity"], rs!(ConfigurationPolicy)),
        row(
            "configurationPolicies/*/settings/*",
            &["deviceManagementConfigurationSetting", "entity"],
            rs!(ConfigurationSetting),
        ),
        row("configurationPolicies/*/settings/*/settingInstance", SETTING_INSTANCES, rs!(SettingInstance)),
        row(
            "configurationPolicies/*/settings/*/settingInstance/choiceSettingValue",
            &["deviceManagementConfigurationChoiceSettingValue", "deviceManagementConfigurationSettingValue"],
            rs!(ChoiceSettingValue),
        ),
        row(
            "configurationPolicies/*/settings/*/settingInstance/choiceSettingCollectionValue/*",
            &["deviceManagementConfigurationChoiceSettingValue", "deviceManagementConfigurationSettingValue"],
            rs!(ChoiceSettingValue),
        ),
        row(
            "configurationPolicies/*/settings/*/settingInstance/simpleSettingValue",
            SIMPLE_VALUES,
            rs!(SimpleSettingValue),
        ),
        row(
            "configurationPolicies/*/settings/*/settingInstance/simpleSettingCollectionValue/*",
            SIMPLE_VALUES,
            rs!(SimpleSettingValue),
        ),
        row(
            "configurationPolicies/*/settings/*/settingInstance/groupSettingCollectionValue/*",
            &["deviceManagementConfigurationGroupSettingValue", "deviceManagementConfigurationSettingValue"],
            rs!(GroupSettingValue),
        ),
        row(
            "configurationPolicies/*/settings/*/settingInstance/groupSettingValue",
            &["deviceManagementConfigurationGroupSettingValue", "deviceManagementConfigurationSettingValue"],
            rs!(GroupSettingValue),
        ),
        row(
            "configurationPolicies/*/assignments/*",
            &["deviceManagementConfigurationPolicyAssignment", "entity"],
            rs!(PolicyAssignment),
        ),
        row("configurationPolicies/*/assignments/*/target", ASSIGNMENT_TARGETS, None),
        row(
            "deviceCompliancePolicies/*",
            &["deviceCompliancePolicy", "entity", "windows10CompliancePolicy"],
            rs!(DeviceCompliancePolicy),
        ),
        row(
            "deviceCompliancePolicies/*/assignments/*",
            &["deviceCompliancePolicyAssignment", "entity"],
            rs!(PolicyAssignment),
        ),
        row("deviceCompliancePolicies/*/assignments/*/target", ASSIGNMENT_TARGETS, None),
        row("deviceManagementSettings", &["deviceManagementSettings"], rs!(DeviceManagementSettings)),
        Row {
            enums: &[("complianceState", "complianceState"), ("managedDeviceOwnerType", "managedDeviceOwnerType")],
            ..row("managedDevices/*", &["managedDevice", "entity"], rs!(ManagedDevice))
        },
        Row {
            enums: &[("state", "enablement")],
            ..row(
                "deviceEnrollmentConfigurations/*",
                &["deviceEnrollmentConfiguration", "entity", "deviceEnrollmentWindowsHelloForBusinessConfiguration"],
                rs!(DeviceEnrollmentConfiguration),
            )
        },
        row(
            "deviceEnrollmentConfigurations/*/assignments/*",
            &["enrollmentConfigurationAssignment", "entity"],
            rs!(PolicyAssignment),
        ),
        row("deviceEnrollmentConfigurations/*/assignments/*/target", ASSIGNMENT_TARGETS, None),
        row("intents/*", &["deviceManagementIntent", "entity"], rs!(DeviceManagementIntent)),
        row(
            "intents/*/settings/*",
            &["deviceManagementSettingInstance", "entity", "deviceManagementStringSettingInstance"],
            rs!(IntentSetting),
        ),
        row("intents/*/assignments/*", &["deviceManagementIntentAssignment", "entity"], rs!(PolicyAssignment)),
        row("intents/*/assignments/*/target", ASSIGNMENT_TARGETS, None),
        row(
            "windowsFeatureUpdateProfiles/*",
            &["windowsFeatureUpdateProfile", "entity"],
            rs!(WindowsFeatureUpdateProfile),
        ),
        row(
            "windowsFeatureUpdateProfiles/*/assignments/*",
            &["windowsFeatureUpdateProfileAssignment", "entity"],
            rs!(PolicyAssignment),
        ),
        row("windowsFeatureUpdateProfiles/*/assignments/*/target", ASSIGNMENT_TARGETS, None),
        row(
            "windowsQualityUpdateProfiles/*",
            &["windowsQualityUpdateProfile", "entity"],
            rs!(WindowsQualityUpdateProfile),
        ),
        row(
            "windowsQualityUpdateProfiles/*/expeditedUpdateSettings",
            &["expeditedWindowsQualityUpdateSettings"],
            rs!(ExpeditedUpdateSettings),
        ),
        row(
            "windowsQualityUpdateProfiles/*/assignments/*",
            &["windowsQualityUpdateProfileAssignment", "entity"],
            rs!(PolicyAssignment),
        ),
        row("windowsQualityUpdateProfiles/*/assignments/*/target", ASSIGNMENT_TARGETS, None),
        Row {
            enums: &[("approvalType", "driverUpdateProfileApprovalType")],
            ..row(
                "windowsDriverUpdateProfiles/*",
                &["windowsDriverUpdateProfile", "entity"],
                rs!(WindowsDriverUpdateProfile),
            )
        },
        row(
            "windowsDriverUpdateProfiles/*/assignments/*",
            &["windowsDriverUpdateProfileAssignment", "entity"],
            rs!(PolicyAssignment),
        ),
        row("windowsDriverUpdateProfiles/*/assignments/*/target", ASSIGNMENT_TARGETS, None),
        row(
            "managedDevices/*/windowsProtectionState",
            &["windowsProtectionState", "entity"],
            rs!(WindowsProtectionState),
        ),
        row("secureScores/*", &["secureScore", "entity"], rs!(SecureScore)),
        row("secureScores/*/controlScores/*", &["controlScore"], rs!(ControlScore)),
        Row {
            enums: &[("riskLevel", "riskLevel"), ("riskState", "riskState")],
            ..row("riskyUsers/*", &["riskyUser", "entity"], rs!(RiskyUser))
        },
        Row {
            enums: &[("severity", "security.alertSeverity"), ("status", "security.alertStatus")],
            ..row("alerts/*", &["security.alert", "entity"], rs!(Alert))
        },
        Row {
            enums: &[
                ("sharingCapability", "sharingCapabilities"),
                ("sharingDomainRestrictionMode", "sharingDomainRestrictionMode"),
            ],
            ..row("sharepointSettings", &["sharepointSettings", "entity"], rs!(SharepointSettings))
        },
        row("backupRestore", &["backupRestoreRoot", "entity"], rs!(BackupRestore)),
        Row {
            enums: &[("status", "backupServiceStatus")],
            ..row("backupRestore/serviceStatus", &["serviceStatus"], rs!(BackupServiceStatus))
        },
        Row {
            enums: &[("status", "protectionPolicyStatus")],
            ..row(
                "backupRestore/protectionPolicies/*",
                &[
                    "protectionPolicyBase",
                    "entity",
                    "exchangeProtectionPolicy",
                    "sharePointProtectionPolicy",
                    "oneDriveForBusinessProtectionPolicy",
                ],
                rs!(ProtectionPolicy),
            )
        },
    ]
}

/// Snapshot fields that are not Graph data: ours, or Exchange Online's admin API.
const NOT_GRAPH: &[&str] =
    &["tenantId", "unread", "unreadReasons", "collectedAt", "adminAuditLogConfig", "organizationConfig"];

/// The API version each Graph field is read from when the collector does not request it
/// (yet): the version its type lives in.
const DECLARED_VERSION: &[(&str, &str)] = &[("configurationPolicies", BETA)];

/// Enum literals the checks compare Graph values against, each with the enum it belongs to.
/// The source scan below makes this list complete: a literal compared in the checks that is
/// neither here nor in [`FREE_STRINGS`] fails the test.
const ENUM_LITERALS: &[(&str, &str, &[&str])] = &[
    (V1, "conditionalAccessPolicyState", &["enabled", "enabledForReportingButNotEnforced"]),
    (V1, "conditionalAccessGrantControl", &["block", "mfa", "passwordChange"]),
    (V1, "conditionalAccessClientApp", &["all", "exchangeActiveSync", "other"]),
    (V1, "conditionalAccessDevicePlatform", &["all"]),
    (V1, "riskLevel", &["high"]),
    (V1, "riskState", &["confirmedCompromised"]),
    (V1, "sharingDomainRestrictionMode", &["blockList", "none"]),
    (V1, "signinFrequencyType", &["hours"]),
    (V1, "signInFrequencyInterval", &["everyTime"]),
    (V1, "persistentBrowserSessionMode", &["never"]),
    (V1, "sharingCapabilities", &["disabled", "externalUserAndGuestSharing"]),
    (V1, "authenticationMethodState", &["enabled"]),
    (V1, "backupServiceStatus", &["disabled"]),
    (V1, "protectionPolicyStatus", &["active", "activeWithErrors"]),
    (V1, "security.alertStatus", &["new"]),
    (BETA, "defenderAttackSurfaceType", &["block", "warn", "auditMode"]),
    (BETA, "defenderProtectionType", &["enable", "warn", "auditMode"]),
    (
        BETA,
        "appLockerApplicationControlType",
        &["enforceComponentsAndStoreApps", "enforceComponentsStoreAppsAndSmartlocker", "auditComponentsAndStoreApps"],
    ),
    (BETA, "deviceGuardLocalSystemAuthorityCredentialGuardType", &["enableWithUEFILock", "enableWithoutUEFILock"]),
    (BETA, "enablement", &["enabled"]),
    (BETA, "driverUpdateProfileApprovalType", &["automatic"]),
    (
        V1,
        "recurrencePatternType",
        &["daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"],
    ),
];

/// Strings the checks compare that are not Graph enum members, and why.
const FREE_STRINGS: &[(&str, &str)] = &[
    ("All", "conditionalAccessUsers.includeUsers / applications / locations: a keyword in a string list"),
    ("OR", "conditionalAccessGrantControls.operator is a string (AND/OR)"),
    ("guest", "userType is a string (Member/Guest), compared case-insensitively"),
    ("Enabled", "capabilityStatus of subscribedSku/assignedPlan is a string"),
    ("Success", "servicePlanInfo.provisioningStatus is a string"),
    ("exchange", "assignedPlan.service is a string"),
    ("Windows", "operatingSystem is a string"),
    ("servicePrincipal", "the end of an @odata.type (#microsoft.graph.servicePrincipal)"),
    ("ManagePermissionGrantsForSelf.", "the prefix of a permission grant policy id"),
    ("enableWith", "prefix of deviceGuardLocalSystemAuthorityCredentialGuardType's two enable members"),
    ("enforce", "prefix of appLockerApplicationControlType's enforce members"),
    ("audit", "prefix of appLockerApplicationControlType's audit members"),
    ("active", "prefix of protectionPolicyStatus active/activeWithErrors"),
    ("_1", "the suffix of an enabled settings-catalog option (`…_1`)"),
    ("on", "our word for a settings-catalog choice that enables a protection (snapshot::setting)"),
    ("off", "our word for a settings-catalog choice that disables it"),
    ("enableAll", "our word for the VBA macro option 1 (snapshot::setting)"),
    ("disableAllExceptSigned", "our word for the VBA macro option 3"),
    ("allDevicesAssignmentTarget", "an @odata.type (a Graph type, checked by the fixture walk)"),
    ("allLicensedUsersAssignmentTarget", "an @odata.type"),
    ("exclusionGroupAssignmentTarget", "an @odata.type"),
    ("Sms", "authenticationMethodConfiguration.id is a string (Sms, Voice, Email, …)"),
    ("Voice", "authenticationMethodConfiguration.id"),
    ("Email", "authenticationMethodConfiguration.id"),
    ("-low", "the suffix of a permission grant policy id (…microsoft-user-default-low)"),
    ("Activated", "unifiedRoleAssignmentScheduleInstance.assignmentType is a string (Assigned/Activated)"),
    ("graph.group", "the end of an @odata.type (#microsoft.graph.group)"),
    ("Completed", "accessReviewScheduleDefinition.status is a string"),
];

// ---------------------------------------------------------------------------------------------
// The schema

/// One API version's types (entity and complex, `security.x` for other namespaces) with their
/// property and navigation-property names, and its enums with their members.
#[derive(Default, PartialEq, Debug)]
struct Version {
    types: BTreeMap<String, BTreeSet<String>>,
    enums: BTreeMap<String, BTreeSet<String>>,
}

struct Schema {
    versions: BTreeMap<String, Version>,
}

const VENDORED: &str = "fixtures/graph-schema.json";
const SOURCE_COMMIT: &str = "f54f11b60956ea7b185ca0447b2b80805836ec7b";

fn tests_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn short(namespace: &str, name: &str) -> String {
    match namespace.strip_prefix("microsoft.graph") {
        Some("") => name.to_string(),
        Some(rest) => format!("{}.{name}", rest.trim_start_matches('.')),
        None => format!("{namespace}.{name}"),
    }
}

/// The full schema of one version from the guide's reference files.
fn read_reference(dir: &Path, version: &str) -> Version {
    let load = |kind: &str| -> Value {
        let text = std::fs::read_to_string(dir.join(format!("{version}-{kind}.json"))).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let mut v = Version::default();
    for kind in ["entity-types", "complex-types"] {
        for (ns, types) in load(kind).as_object().unwrap() {
            for (name, t) in types.as_object().unwrap() {
                let props = ["properties", "navigationProperties"]
                    .iter()
                    .flat_map(|k| t[*k].as_array().cloned().unwrap_or_default())
                    .map(|p| p.as_str().unwrap().to_string())
                    .collect();
                v.types.insert(short(ns, name), props);
            }
        }
    }
    for (ns, enums) in load("enum-types").as_object().unwrap() {
        for (name, members) in enums.as_object().unwrap() {
            let members = members.as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_string()).collect();
            v.enums.insert(short(ns, name), members);
        }
    }
    v
}

/// The names this file uses (every quoted identifier): the vendored subset keeps those types.
fn names_used() -> BTreeSet<String> {
    let src = include_str!("graph_schema.rs");
    let mut names = BTreeSet::new();
    for part in src.split('"').skip(1).step_by(2) {
        if !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            names.insert(part.to_string());
        }
    }
    names
}

fn subset(full: &Version, names: &BTreeSet<String>) -> Version {
    Version {
        types: full.types.iter().filter(|(k, _)| names.contains(*k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        enums: full.enums.iter().filter(|(k, _)| names.contains(*k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}

fn to_json(versions: &BTreeMap<String, Version>) -> Value {
    let mut out = Map::new();
    out.insert(
        "source".into(),
        json!(format!(
            "microsoftgraph/msgraph-metadata @ {SOURCE_COMMIT} (MIT, Copyright (c) 2018 Microsoft Graph): the types and enums tests/it/graph_schema.rs names, generated from the guide's shared/reference/graph/"
        )),
    );
    for (name, v) in versions {
        out.insert(name.clone(), json!({ "types": v.types, "enums": v.enums }));
    }
    Value::Object(out)
}

fn from_json(doc: &Value) -> BTreeMap<String, Version> {
    let set = |v: &Value| -> BTreeMap<String, BTreeSet<String>> { serde_json::from_value(v.clone()).unwrap() };
    [V1, BETA]
        .iter()
        .map(|name| (name.to_string(), Version { types: set(&doc[name]["types"]), enums: set(&doc[name]["enums"]) }))
        .collect()
}

/// The schema: the guide's full reference when present (and the vendored subset checked
/// against it), else the vendored subset.
fn schema() -> Schema {
    let reference = tests_dir().join("../../shared/reference/graph");
    let vendored_path = tests_dir().join(VENDORED);
    let vendored = std::fs::read_to_string(&vendored_path).ok().map(|t| serde_json::from_str::<Value>(&t).unwrap());
    if reference.join("v1.0-entity-types.json").exists() {
        let full: BTreeMap<String, Version> =
            [V1, BETA].iter().map(|v| (v.to_string(), read_reference(&reference, v))).collect();
        let names = names_used();
        let sub: BTreeMap<String, Version> = full.iter().map(|(k, v)| (k.clone(), subset(v, &names))).collect();
        let generated = to_json(&sub);
        if std::env::var("BAREF00T_WRITE_GRAPH_SCHEMA").is_ok_and(|v| v == "1") {
            std::fs::write(&vendored_path, serde_json::to_string_pretty(&generated).unwrap() + "\n").unwrap();
        } else {
            assert!(
                vendored.as_ref() == Some(&generated),
                "{VENDORED} is not the subset of ../shared/reference/graph this test names: rerun it with BAREF00T_WRITE_GRAPH_SCHEMA=1"
            );
        }
        Schema { versions: full }
    } else {
        let vendored = vendored.expect("tests/fixtures/graph-schema.json (vendored Graph schema subset)");
        Schema { versions: from_json(&vendored) }
    }
}

impl Schema {
    fn props(&self, version: &str, types: &[&str]) -> Result<BTreeSet<String>, String> {
        let v = &self.versions[version];
        let mut all = BTreeSet::new();
        for t in types {
            match v.types.get(*t) {
                Some(p) => all.extend(p.iter().cloned()),
                None if types.len() > 1 => {} // a subtype this version lacks
                None => return Err(format!("type {t} does not exist in Graph {version}")),
            }
        }
        Ok(all)
    }
    fn members(&self, version: &str, e: &str) -> Option<&BTreeSet<String>> {
        self.versions[version].enums.get(e)
    }
}

fn version_of(field: &str) -> &'static str {
    match request_for(field) {
        Some(path) if path.starts_with("/beta/") => BETA,
        Some(path) => {
            assert!(path.starts_with("/v1.0/"), "{field}: {path}");
            V1
        }
        None => DECLARED_VERSION.iter().find(|(f, _)| *f == field).map(|(_, v)| *v).unwrap_or(V1),
    }
}

fn top(path: &str) -> &str {
    path.split('/').next().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The tests

/// Every property each snapshot type deserializes exists on its Graph type in the version the
/// collector reads it from.
#[test]
fn every_snapshot_property_exists_on_its_graph_type() {
    let schema = schema();
    let mut problems = Vec::new();
    for r in rows() {
        let Some(rust) = r.rust else { continue };
        let version = version_of(top(r.path));
        let allowed = match schema.props(version, r.types) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("{}: {e}", r.path));
                continue;
            }
        };
        for key in rust().as_object().unwrap().keys() {
            if key != "@odata.type" && !allowed.contains(key) {
                problems.push(format!("{} ({version} {}): no property {key}", r.path, r.types[0]));
            }
        }
    }
    // Every top-level snapshot field is Graph data with a row, or named as not Graph.
    let fields = serde_json::to_value(TenantSnapshot::default()).unwrap();
    let mapped: BTreeSet<&str> = rows().iter().map(|r| top(r.path)).collect();
    for key in fields.as_object().unwrap().keys() {
        if !NOT_GRAPH.contains(&key.as_str()) && !mapped.contains(key.as_str()) {
            problems.push(format!("snapshot field {key} has no Graph type in this test"));
        }
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

fn walk(
    schema: &Schema,
    rows: &BTreeMap<String, &Row>,
    version: &str,
    path: &str,
    value: &Value,
    problems: &mut Vec<String>,
) {
    match value {
        Value::Array(items) => {
            for item in items {
                walk(schema, rows, version, &format!("{path}/*"), item, problems);
            }
        }
        Value::Object(obj) => {
            let Some(r) = rows.get(&normalise(path)) else {
                problems.push(format!("{path}: an object this test maps to no Graph type"));
                return;
            };
            let mut allowed = match schema.props(version, r.types) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!("{path}: {e}"));
                    return;
                }
            };
            if let Some(t) = obj.get("@odata.type").and_then(Value::as_str) {
                let name = t.trim_start_matches("#microsoft.graph.");
                match schema.props(version, &[name]) {
                    Ok(p) => allowed.extend(p),
                    Err(e) => problems.push(format!("{path}: @odata.type {t}: {e}")),
                }
            }
            for (key, v) in obj {
                if key == "@odata.type" {
                    continue;
                }
                if !allowed.contains(key) {
                    problems.push(format!("{path} ({version} {}): no property {key}", r.types[0]));
                    continue;
                }
                if let Some((_, e)) = r.enums.iter().find(|(p, _)| p == key) {
                    if let Some(lit) = v.as_str() {
                        match schema.members(version, e) {
                            Some(m) if m.contains(lit) => {}
                            Some(m) => problems.push(format!("{path}/{key}: {lit:?} is not a member of {e} {m:?}")),
                            None => problems.push(format!("{path}/{key}: enum {e} does not exist in Graph {version}")),
                        }
                    }
                }
                // Assignment targets are leaves of their own type; everything else nests.
                walk(schema, rows, version, &format!("{path}/{key}"), v, problems);
            }
        }
        _ => {}
    }
}

/// Every object of every demo tenant carries only real properties, real `@odata.type`s and
/// real enum members, in the version the collector reads it from.
#[test]
fn demo_tenants_hold_only_what_graph_serves() {
    let schema = schema();
    let rows_vec = rows();
    let by_path: BTreeMap<String, &Row> = rows_vec.iter().map(|r| (r.path.to_string(), r)).collect();
    let mut problems = Vec::new();
    for name in shared::assess::fixtures::DEMO_TENANTS {
        let text =
            std::fs::read_to_string(tests_dir().join(format!("../shared/fixtures/tenants/{name}.json"))).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let mut mine = Vec::new();
        for (field, value) in doc.as_object().unwrap() {
            if NOT_GRAPH.contains(&field.as_str()) {
                continue;
            }
            walk(&schema, &by_path, version_of(field), field, value, &mut mine);
        }
        problems.extend(mine.into_iter().map(|p| format!("{name}: {p}")));
    }
    problems.dedup();
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// Every enum literal the checks compare against is a member of its Graph enum, and the list
/// of them is complete (a scan of the checks' source for compared string literals).
#[test]
fn every_enum_literal_a_check_compares_is_a_member() {
    let schema = schema();
    let mut problems = Vec::new();
    for (version, e, literals) in ENUM_LITERALS {
        match schema.members(version, e) {
            None => problems.push(format!("enum {e} does not exist in Graph {version}")),
            Some(m) => {
                for l in *literals {
                    if !m.contains(*l) {
                        problems.push(format!("{l:?} is not a member of {version} {e} {m:?}"));
                    }
                }
            }
        }
    }
    let known: BTreeSet<&str> = ENUM_LITERALS
        .iter()
        .flat_map(|(_, _, l)| l.iter().copied())
        .chain(FREE_STRINGS.iter().map(|(s, _)| *s))
        .collect();
    let sources = [
        ("probes.rs", include_str!("../../shared/src/assess/checks/probes.rs")),
        ("essential_eight.rs", include_str!("../../shared/src/assess/checks/essential_eight.rs")),
        ("nist_csf.rs", include_str!("../../shared/src/assess/checks/nist_csf.rs")),
        ("cis_m365.rs", include_str!("../../shared/src/assess/checks/cis_m365.rs")),
    ];
    for (file, src) in sources {
        for literal in compared_literals(src) {
            if !known.contains(literal.as_str()) {
                problems
                    .push(format!("{file}: the checks compare {literal:?}, which this test does not place in an enum"));
            }
        }
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// String literals in comparisons: `== "x"`, `!= "x"`, `Some("x")`, `starts_with("x")`,
/// `ends_with("x")`, `eq_ignore_ascii_case("x")`, and the elements of a `[…]` of literals
/// followed by `.contains(` or `.iter()` / `.into_iter()`.
fn compared_literals(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let openers = ["== \"", "!= \"", "Some(\"", "starts_with(\"", "ends_with(\"", "eq_ignore_ascii_case(\"", "| \""];
    for opener in openers {
        let mut rest = src;
        while let Some(i) = rest.find(opener) {
            rest = &rest[i + opener.len()..];
            if let Some(end) = rest.find('"') {
                out.insert(rest[..end].to_string());
            }
        }
    }
    // `["a", "b"].iter()`-style lists.
    let mut rest = src;
    while let Some(i) = rest.find("[\"") {
        rest = &rest[i + 1..];
        let Some(end) = rest.find(']') else { break };
        let list = &rest[..end];
        let after = &rest[end + 1..];
        if after.starts_with(".iter()") || after.starts_with(".into_iter()") || after.starts_with(".contains(") {
            for part in list.split('"').skip(1).step_by(2) {
                out.insert(part.to_string());
            }
        }
    }
    out.retain(|s| !s.is_empty() && !s.contains(' ') && !s.contains('{'));
    out
}
