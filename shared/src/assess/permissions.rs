//! The Microsoft Graph *application* permissions baref00t's app asks a tenant's administrator
//! to consent to, each with the Graph reads (`collect::GraphCollector`) that need it. This is
//! the one list: `docs/graph-app.md` (how to register the app) lists the same permissions, the
//! dev server's consent stand-in shows them, and a test (`tests/it/graph_app.rs`) keeps the
//! list, the document and the collector's requests in step.
//!
//! Each permission is the least privileged one Microsoft's API reference names for the
//! application permission type of its endpoints (learn.microsoft.com/graph/api/…, section
//! "Permissions"), with one rule on top: where a permission already in the list is also
//! accepted for an endpoint, that one is used rather than adding a narrower one that grants
//! nothing more (`docs/graph-app.md` names those endpoints and their own least-privileged
//! permission).

/// One application permission and what baref00t reads with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Permission {
    /// Microsoft's name, e.g. `Policy.Read.All`.
    pub name: &'static str,
    /// What baref00t reads with it, in plain words (shown on the dev consent page).
    pub purpose: &'static str,
    /// The Graph reads it is requested for: a v1.0 or beta path (`/v1.0/devices`), or a path with
    /// `?$select=` and one property when only that property needs the permission
    /// (`/v1.0/users?$select=signInActivity`). See [`reads_match`].
    pub reads: &'static [&'static str],
}

/// Every permission the app needs, in the order `docs/graph-app.md` lists them.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        name: "Organization.Read.All",
        purpose: "The organisation's profile and its subscribed licences",
        reads: &["/v1.0/organization", "/v1.0/subscribedSkus"],
    },
    Permission {
        name: "User.Read.All",
        purpose: "User accounts: name, type, enabled, assigned plans, synchronisation",
        reads: &["/v1.0/users"],
    },
    Permission {
        name: "AuditLog.Read.All",
        purpose: "Users' last sign-in and their MFA registration",
        reads: &["/v1.0/users?$select=signInActivity", "/v1.0/reports/authenticationMethods/userRegistrationDetails"],
    },
    Permission { name: "Device.Read.All", purpose: "Devices joined or registered to the directory", reads: &["/v1.0/devices"] },
    Permission {
        name: "Policy.Read.All",
        purpose: "Tenant policies: authorisation, admin consent requests, security defaults, Conditional Access, authentication methods",
        reads: &[
            "/v1.0/policies/authorizationPolicy",
            "/v1.0/policies/adminConsentRequestPolicy",
            "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy",
            "/v1.0/identity/conditionalAccess/policies",
            "/v1.0/policies/authenticationMethodsPolicy",
        ],
    },
    Permission {
        name: "RoleManagement.Read.Directory",
        purpose: "Directory role assignments, eligible and activated (PIM) assignments",
        reads: &[
            "/v1.0/roleManagement/directory/roleAssignments",
            "/v1.0/roleManagement/directory/roleEligibilitySchedules",
            "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances",
        ],
    },
    Permission {
        name: "GroupMember.Read.All",
        purpose: "Members of the role-assignable groups that hold directory roles",
        reads: &["/v1.0/groups/{id}/transitiveMembers"],
    },
    Permission {
        name: "AccessReview.Read.All",
        purpose: "Access reviews (whether privileged roles are re-approved)",
        reads: &["/v1.0/identityGovernance/accessReviews/definitions"],
    },
    Permission {
        name: "DeviceManagementConfiguration.Read.All",
        purpose: "Intune configuration profiles, settings catalog and Endpoint security policies, compliance policies, Windows update policies and tenant-wide Intune settings",
        reads: &[
            "/beta/deviceManagement/deviceConfigurations",
            "/beta/deviceManagement/configurationPolicies",
            "/beta/deviceManagement/deviceCompliancePolicies",
            "/beta/deviceManagement/intents",
            "/beta/deviceManagement/intents/{id}/settings",
            "/beta/deviceManagement/windowsFeatureUpdateProfiles",
            "/beta/deviceManagement/windowsQualityUpdateProfiles",
            "/beta/deviceManagement/windowsDriverUpdateProfiles",
            "/v1.0/deviceManagement",
        ],
    },
    Permission {
        name: "DeviceManagementServiceConfig.Read.All",
        purpose: "Intune enrollment policies (Windows Hello for Business)",
        reads: &["/beta/deviceManagement/deviceEnrollmentConfigurations"],
    },
    Permission {
        name: "DeviceManagementManagedDevices.Read.All",
        // Also Intune's DefenderAgents report export (`/beta/deviceManagement/reports/exportJobs`,
        // asked only when Windows devices are enrolled), which the Intune report docs list
        // under this permission.
        purpose: "Devices managed by Intune, their compliance and Defender protection state",
        reads: &["/beta/deviceManagement/managedDevices"],
    },
    Permission {
        name: "SecurityEvents.Read.All",
        purpose: "Microsoft Secure Score",
        reads: &["/v1.0/security/secureScores"],
    },
    Permission {
        name: "IdentityRiskyUser.Read.All",
        purpose: "Users Entra ID Protection flags as risky",
        reads: &["/v1.0/identityProtection/riskyUsers"],
    },
    Permission {
        name: "SecurityAlert.Read.All",
        purpose: "Security alerts from Microsoft Defender",
        reads: &["/v1.0/security/alerts_v2"],
    },
    Permission {
        name: "SharePointTenantSettings.Read.All",
        purpose: "SharePoint and OneDrive tenant settings (sharing, legacy authentication)",
        reads: &["/v1.0/admin/sharepoint/settings"],
    },
    Permission {
        name: "BackupRestore-Control.Read.All",
        purpose: "Whether Microsoft 365 Backup is enabled",
        reads: &["/v1.0/solutions/backupRestore"],
    },
    Permission {
        name: "BackupRestore-Configuration.Read.All",
        purpose: "Microsoft 365 Backup protection policies",
        reads: &["/v1.0/solutions/backupRestore/protectionPolicies"],
    },
];

/// Whether a Graph request `target` (path and query, as sent, e.g.
/// `/v1.0/users?$select=id,signInActivity`) is one of the reads `entry` names: the paths are
/// equal (a `{id}` segment of `entry` stands for any one segment) and, when `entry` names a
/// `$select`ed property, the request selects it.
pub fn reads_match(entry: &str, target: &str) -> bool {
    let (entry_path, entry_query) = entry.split_once('?').map_or((entry, None), |(p, q)| (p, Some(q)));
    let (path, query) = target.split_once('?').map_or((target, ""), |(p, q)| (p, q));
    let (want, got): (Vec<&str>, Vec<&str>) = (entry_path.split('/').collect(), path.split('/').collect());
    if want.len() != got.len() || want.iter().zip(&got).any(|(w, g)| w != g && *w != "{id}") {
        return false;
    }
    let Some(entry_query) = entry_query else { return true };
    let Some(property) = entry_query.strip_prefix("$select=") else { return false };
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "$select")
        .any(|(_, v)| v.split(',').any(|p| p.trim() == property))
}

/// The permissions under which `target` is read (empty when none is listed for it).
pub fn needed_for(target: &str) -> Vec<&'static Permission> {
    PERMISSIONS.iter().filter(|p| p.reads.iter().any(|e| reads_match(e, target))).collect()
}
