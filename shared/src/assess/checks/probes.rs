//! Questions several checks ask of a snapshot ("is MFA enforced for everyone?", "which
//! Windows releases are out of support?"), answered once here so the three catalogues judge
//! the same facts the same way.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate};
use serde_json::{json, Value};

use super::Outcome;
use crate::assess::snapshot::setting::{self, CatalogSetting, Kind};
use crate::assess::snapshot::{
    ids, ConditionalAccessPolicy, ConfigurationPolicy, DeviceConfiguration, ManagedDevice, PolicyAssignment,
    RoleAssignment, SettingInstance, TenantSnapshot, WindowsProtectionState, ENDPOINT_PROTECTION_CONFIGURATION,
    UPDATE_RING_CONFIGURATION,
};
use crate::domain::time::Timestamp;

const DAY: i64 = 86_400;

/// What the probes below read, for the `reads` of the checks built on them.
pub mod reads {
    use crate::assess::snapshot::Field;

    /// [`super::mfa_for_all_users`], [`super::mfa_for_admins`], [`super::legacy_auth_blocked`]:
    /// security defaults, else Conditional Access.
    pub const MFA_POLICY: &[Field] =
        &[Field::IdentitySecurityDefaultsEnforcementPolicy, Field::ConditionalAccessPolicies];
    /// The probes on Conditional Access alone (phishing-resistant strength, risk policies).
    pub const CONDITIONAL_ACCESS: &[Field] = &[Field::ConditionalAccessPolicies];
    /// [`super::role_holders`]: active and eligible assignments.
    pub const ROLES: &[Field] = &[Field::RoleAssignments, Field::RoleEligibilitySchedules];
    /// [`super::standing_holders`] beside the eligible ones: active assignments, and which of
    /// them PIM activated just in time.
    pub const JUST_IN_TIME: &[Field] =
        &[Field::RoleAssignments, Field::RoleEligibilitySchedules, Field::RoleAssignmentScheduleInstances];
    /// [`super::privileged_users`]: the role holders' user objects.
    pub const ADMIN_ACCOUNTS: &[Field] = &[Field::Users, Field::RoleAssignments, Field::RoleEligibilitySchedules];
    /// [`super::setting_enforced`] and the other settings-catalog checks on Intune Windows devices.
    pub const INTUNE_SETTING: &[Field] = &[Field::ManagedDevices, Field::ConfigurationPolicies];
    /// [`super::rings_within`] and the other checks on assigned device configuration profiles
    /// for Intune Windows devices.
    pub const INTUNE_PROFILE: &[Field] = &[Field::ManagedDevices, Field::DeviceConfigurations];
    /// [`super::asr_rules_blocked`]: ASR rules from legacy profiles, Endpoint security
    /// templates (intents) or the settings catalog.
    pub const INTUNE_ASR: &[Field] =
        &[Field::ManagedDevices, Field::DeviceConfigurations, Field::Intents, Field::ConfigurationPolicies];
    /// [`super::windows_fleet`]: Intune's Windows devices, else Entra ID's.
    pub const WINDOWS_FLEET: &[Field] = &[Field::ManagedDevices, Field::Devices];
}

// ---------------------------------------------------------------------------------------------
// Time

/// An RFC 3339 time as Graph writes them (`2026-03-01T08:00:00Z`).
pub fn parse_time(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| Timestamp::from_unix(t.timestamp()))
}

/// Whole days from `time` to the snapshot's collection time.
pub fn days_before_collection(s: &TenantSnapshot, time: Option<&str>) -> Option<i64> {
    time.and_then(parse_time).map(|t| (s.collected_at - t).div_euclid(DAY))
}

fn date(ymd: &str) -> Timestamp {
    Timestamp::from_unix(
        NaiveDate::parse_from_str(ymd, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc().timestamp())
            .unwrap_or(0),
    )
}

// ---------------------------------------------------------------------------------------------
// Licences

/// The tenant holds an enabled subscription with a provisioned service plan of that name.
pub fn has_plan(s: &TenantSnapshot, plan: &str) -> bool {
    s.subscribed_skus.iter().any(|sku| {
        sku.capability_status.eq_ignore_ascii_case("Enabled")
            && sku
                .service_plans
                .iter()
                .any(|p| p.service_plan_name == plan && p.provisioning_status.eq_ignore_ascii_case("Success"))
    })
}

// ---------------------------------------------------------------------------------------------
// Conditional Access

pub fn security_defaults_on(s: &TenantSnapshot) -> bool {
    s.identity_security_defaults_enforcement_policy.as_ref().is_some_and(|p| p.is_enabled)
}

/// Policies that are switched on (report-only policies enforce nothing).
pub fn enforced(s: &TenantSnapshot) -> impl Iterator<Item = &ConditionalAccessPolicy> {
    s.conditional_access_policies.iter().filter(|p| p.state == "enabled")
}

/// Targets every user, leaving out only what the customer's context declares (its
/// emergency-access accounts, and exclusions approved for this policy) and Entra Connect's
/// sync role, which cannot do MFA by design. An exclusion the context does not declare is a
/// gap: nothing in Graph tells a break-glass account from anyone else (issue 18).
pub fn covers_all_users(s: &TenantSnapshot, p: &ConditionalAccessPolicy) -> bool {
    let u = &p.conditions.users;
    unnarrowed(p)
        && u.include_users.iter().any(|x| x == "All")
        && undeclared_exclusions(s, p).is_empty()
        && u.exclude_roles.iter().all(|r| r == ids::DIRECTORY_SYNCHRONIZATION_ACCOUNTS)
}

/// The users and groups `p` leaves out that the customer's context does not declare
/// (`TenantContext::allows_exclusion`), in the policy's order.
pub fn undeclared_exclusions<'a>(s: &TenantSnapshot, p: &'a ConditionalAccessPolicy) -> Vec<&'a str> {
    let u = &p.conditions.users;
    u.exclude_users
        .iter()
        .chain(&u.exclude_groups)
        .map(String::as_str)
        .filter(|id| !s.context.allows_exclusion(&p.id, id))
        .collect()
}

/// Why no policy for all users qualified, when some enforced policy that meets `rest` would
/// have but for exclusions the context does not declare: " Policy 'name' (id) excludes
/// principal (upn) without a declaration: …", naming each policy and principal; empty otherwise.
fn undeclared_note(s: &TenantSnapshot, rest: impl Fn(&ConditionalAccessPolicy) -> bool) -> String {
    let mut notes = Vec::new();
    for p in enforced(s).filter(|p| rest(p)) {
        let u = &p.conditions.users;
        let otherwise = unnarrowed(p)
            && u.include_users.iter().any(|x| x == "All")
            && u.exclude_roles.iter().all(|r| r == ids::DIRECTORY_SYNCHRONIZATION_ACCOUNTS);
        let undeclared = undeclared_exclusions(s, p);
        if !otherwise || undeclared.is_empty() {
            continue;
        }
        let principals: Vec<String> = undeclared
            .iter()
            .map(|id| match s.users.iter().find(|x| x.id.eq_ignore_ascii_case(id)) {
                Some(user) => format!("{id} ({})", user.user_principal_name),
                None => id.to_string(),
            })
            .collect();
        notes.push(format!("policy '{}' ({}) excludes {}", p.display_name, p.id, principals.join(", ")));
    }
    if notes.is_empty() {
        return String::new();
    }
    format!(
        ". Undeclared exclusions (neither an emergency-access account nor an approved exclusion in the customer's context): {}",
        notes.join("; ")
    )
}

/// Not narrowed by location, device platform or device filter: a policy that excludes
/// trusted locations, some platforms or filtered devices lets those sign-ins through.
pub fn unnarrowed(p: &ConditionalAccessPolicy) -> bool {
    let c = &p.conditions;
    let locations = c.locations.as_ref().is_none_or(|l| {
        (l.include_locations.is_empty() || l.include_locations.iter().any(|x| x == "All"))
            && l.exclude_locations.is_empty()
    });
    let platforms = c.platforms.as_ref().is_none_or(|pl| {
        (pl.include_platforms.is_empty() || pl.include_platforms.iter().any(|x| x == "all"))
            && pl.exclude_platforms.is_empty()
    });
    let devices = c
        .devices
        .as_ref()
        .is_none_or(|d| d.device_filter.as_ref().is_none_or(|f| f.rule.as_deref().is_none_or(str::is_empty)));
    locations && platforms && devices
}

/// Targets every role in `roles` (directly or through "All users"), excluding none of them,
/// and is not narrowed (see [`unnarrowed`]).
pub fn covers_roles(s: &TenantSnapshot, p: &ConditionalAccessPolicy, roles: &[&str]) -> bool {
    let u = &p.conditions.users;
    let excluded = roles.iter().any(|r| u.exclude_roles.iter().any(|x| x == r));
    !excluded
        && unnarrowed(p)
        && (covers_all_users(s, p) || roles.iter().all(|r| u.include_roles.iter().any(|x| x == r)))
}

pub fn covers_all_apps(p: &ConditionalAccessPolicy) -> bool {
    let a = &p.conditions.applications;
    a.include_applications.iter().any(|x| x == "All") && a.exclude_applications.is_empty()
}

/// Not narrowed to some client types (an MFA policy for browsers only leaves apps open).
pub fn covers_all_clients(p: &ConditionalAccessPolicy) -> bool {
    let c = &p.conditions.client_app_types;
    c.is_empty() || c.iter().any(|x| x == "all")
}

/// Not narrowed to risky sign-ins only.
fn unconditional_on_risk(p: &ConditionalAccessPolicy) -> bool {
    p.conditions.user_risk_levels.is_empty() && p.conditions.sign_in_risk_levels.is_empty()
}

/// The grant demands MFA (or an authentication strength) whatever else is offered: with
/// `OR`, another control such as a compliant device would let a sign-in through without MFA.
pub fn requires_mfa(p: &ConditionalAccessPolicy) -> bool {
    let Some(g) = &p.grant_controls else {
        return false;
    };
    let mfa = g.built_in_controls.iter().any(|c| c == "mfa") || g.authentication_strength.is_some();
    let alternatives = g.built_in_controls.iter().any(|c| c != "mfa");
    mfa && !(alternatives && g.operator.as_deref() == Some("OR"))
}

pub fn requires_phishing_resistant(p: &ConditionalAccessPolicy) -> bool {
    let Some(strength) = p.grant_controls.as_ref().and_then(|g| g.authentication_strength.as_ref()) else {
        return false;
    };
    requires_mfa(p)
        && (strength.id == ids::PHISHING_RESISTANT_STRENGTH
            || (!strength.allowed_combinations.is_empty()
                && strength
                    .allowed_combinations
                    .iter()
                    .all(|c| ids::PHISHING_RESISTANT_COMBINATIONS.contains(&c.as_str()))))
}

pub fn blocks(p: &ConditionalAccessPolicy) -> bool {
    p.grant_controls.as_ref().is_some_and(|g| g.built_in_controls.iter().any(|c| c == "block"))
}

fn names<'a>(ps: impl Iterator<Item = &'a ConditionalAccessPolicy>) -> Vec<&'a str> {
    ps.map(|p| p.display_name.as_str()).collect()
}

/// An enforced policy for all users, all apps and all clients that requires MFA,
/// or security defaults. `Ok` names what enforces it; `Err` says what is missing.
pub fn mfa_for_all_users(s: &TenantSnapshot) -> Result<String, String> {
    if security_defaults_on(s) {
        return Ok("Security defaults are enabled: every user must register for and use MFA".into());
    }
    let rest = |p: &ConditionalAccessPolicy| {
        covers_all_apps(p) && covers_all_clients(p) && unconditional_on_risk(p) && requires_mfa(p)
    };
    let hits = names(enforced(s).filter(|p| covers_all_users(s, p) && rest(p)));
    match hits.first() {
        Some(name) => Ok(format!("Conditional Access policy '{name}' requires MFA for all users and all cloud apps")),
        None => Err(no_policy_reason(s, "requires MFA for all users on all cloud apps") + &undeclared_note(s, rest)),
    }
}

/// MFA for the administrator roles that can take over the tenant.
pub fn mfa_for_admins(s: &TenantSnapshot) -> Result<String, String> {
    if security_defaults_on(s) {
        return Ok("Security defaults are enabled: administrators must use MFA at every sign-in".into());
    }
    let hits = names(enforced(s).filter(|p| {
        covers_roles(s, p, ids::TAKEOVER_ROLES)
            && covers_all_apps(p)
            && covers_all_clients(p)
            && unconditional_on_risk(p)
            && requires_mfa(p)
    }));
    match hits.first() {
        Some(name) => Ok(format!("Conditional Access policy '{name}' requires MFA for administrator roles")),
        None => Err(no_policy_reason(s, "requires MFA for the administrator roles")),
    }
}

/// Phishing-resistant authentication strength for the administrator roles.
pub fn phishing_resistant_for_admins(s: &TenantSnapshot) -> Result<String, String> {
    let hits =
        names(enforced(s).filter(|p| {
            covers_roles(s, p, ids::TAKEOVER_ROLES) && covers_all_apps(p) && requires_phishing_resistant(p)
        }));
    match hits.first() {
        Some(name) => {
            Ok(format!("Conditional Access policy '{name}' requires phishing-resistant MFA for administrator roles"))
        }
        None => Err(no_policy_reason(
            s,
            "requires a phishing-resistant authentication strength for the administrator roles",
        )),
    }
}

/// Phishing-resistant authentication strength for every user.
pub fn phishing_resistant_for_all(s: &TenantSnapshot) -> Result<String, String> {
    let rest = |p: &ConditionalAccessPolicy| covers_all_apps(p) && requires_phishing_resistant(p);
    let hits = names(enforced(s).filter(|p| covers_all_users(s, p) && rest(p)));
    match hits.first() {
        Some(name) => Ok(format!("Conditional Access policy '{name}' requires phishing-resistant MFA for all users")),
        None => Err(no_policy_reason(s, "requires a phishing-resistant authentication strength for all users")
            + &undeclared_note(s, rest)),
    }
}

/// Legacy protocols (Exchange ActiveSync and other basic-auth clients) cannot sign in.
pub fn legacy_auth_blocked(s: &TenantSnapshot) -> Result<String, String> {
    if security_defaults_on(s) {
        return Ok("Security defaults are enabled: legacy authentication is blocked".into());
    }
    let rest = |p: &ConditionalAccessPolicy| {
        let types = &p.conditions.client_app_types;
        covers_all_apps(p) && blocks(p) && ["exchangeActiveSync", "other"].iter().all(|t| types.iter().any(|x| x == t))
    };
    let hits = names(enforced(s).filter(|p| covers_all_users(s, p) && rest(p)));
    match hits.first() {
        Some(name) => Ok(format!("Conditional Access policy '{name}' blocks legacy authentication")),
        None => Err(no_defaults_or_policy_reason(
            s,
            "blocks legacy authentication clients (Exchange ActiveSync and other clients) for all users",
        ) + &undeclared_note(s, rest)),
    }
}

/// Which risk condition a risk-based policy reacts to.
#[derive(Clone, Copy)]
pub enum Risk {
    User,
    SignIn,
}

/// An enforced policy for all users that reacts to high user risk (or sign-in risk) with MFA,
/// a password change or a block.
pub fn risk_policy(s: &TenantSnapshot, risk: Risk) -> Result<String, String> {
    let rest = |p: &ConditionalAccessPolicy| {
        let levels = match risk {
            Risk::User => &p.conditions.user_risk_levels,
            Risk::SignIn => &p.conditions.sign_in_risk_levels,
        };
        let reacts = p.grant_controls.as_ref().is_some_and(|g| {
            g.authentication_strength.is_some()
                || g.built_in_controls.iter().any(|c| c == "mfa" || c == "block" || c == "passwordChange")
        });
        covers_all_apps(p) && levels.iter().any(|l| l == "high") && reacts
    };
    let hits = names(enforced(s).filter(|p| covers_all_users(s, p) && rest(p)));
    let what = match risk {
        Risk::User => "user risk",
        Risk::SignIn => "sign-in risk",
    };
    match hits.first() {
        Some(name) => Ok(format!("Conditional Access policy '{name}' acts on high {what}")),
        None => Err(format!("No enabled Conditional Access policy for all users acts on high {what}")
            + &undeclared_note(s, rest)),
    }
}

fn no_policy_reason(s: &TenantSnapshot, what: &str) -> String {
    let reporting =
        s.conditional_access_policies.iter().filter(|p| p.state == "enabledForReportingButNotEnforced").count();
    let mut reason = format!("No enabled Conditional Access policy {what}");
    if reporting > 0 {
        reason.push_str(&format!(
            " ({reporting} report-only {} nothing)",
            if reporting == 1 { "policy enforces" } else { "policies enforce" }
        ));
    }
    reason
}

/// As `no_policy_reason`, for controls security defaults would also provide.
fn no_defaults_or_policy_reason(s: &TenantSnapshot, what: &str) -> String {
    format!("Security defaults are off. {}", no_policy_reason(s, what))
}

/// Turns a probe's answer into pass/fail.
pub fn judged(r: Result<String, String>) -> Outcome {
    match r {
        Ok(why) => Outcome::pass(why),
        Err(why) => Outcome::fail(why),
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication methods and registration

/// `Some(true)` when the method is enabled in the authentication methods policy.
pub fn method_enabled(s: &TenantSnapshot, id: &str) -> Option<bool> {
    s.authentication_methods_policy.as_ref().map(|p| {
        p.authentication_method_configurations.iter().any(|m| m.id.eq_ignore_ascii_case(id) && m.state == "enabled")
    })
}

/// Member users who are people who can sign in: guests authenticate at their home tenant, and
/// disabled accounts (room and equipment mailboxes are disabled accounts) and resource accounts
/// (`isResourceAccount`, e.g. Teams Rooms) never register a method. The registration report has
/// neither property, so they come from `users` by id.
pub fn member_registrations(
    s: &TenantSnapshot,
) -> impl Iterator<Item = &crate::assess::snapshot::UserRegistrationDetails> {
    let not_people: BTreeSet<&str> = s
        .users
        .iter()
        .filter(|u| u.account_enabled == Some(false) || u.is_resource_account == Some(true))
        .map(|u| u.id.as_str())
        .collect();
    s.user_registration_details.iter().filter(move |u| {
        !u.user_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("guest")) && !not_people.contains(u.id.as_str())
    })
}

// ---------------------------------------------------------------------------------------------
// Privileged roles

fn is_service_principal(odata_type: Option<&str>) -> bool {
    odata_type.is_some_and(|t| t.ends_with("servicePrincipal"))
}

/// The people an assignment's principal stands for: a group's transitive members (users and
/// anything else but service principals and the nested groups themselves, whose members are
/// already listed), else the principal itself. A group whose members were not read counts as
/// itself.
fn holders_of(a: &RoleAssignment) -> Vec<String> {
    let principal = a.principal.as_ref();
    if is_service_principal(principal.and_then(|p| p.odata_type.as_deref())) {
        return vec![];
    }
    match principal.and_then(|p| p.transitive_members.as_ref()) {
        Some(members) => members
            .iter()
            .filter(|m| {
                let t = m.odata_type.as_deref();
                !is_service_principal(t) && !t.is_some_and(|t| t.ends_with("graph.group"))
            })
            .map(|m| m.id.clone())
            .collect(),
        None => vec![a.principal_id.clone()],
    }
}

/// Distinct principals holding any of `roles`, active or PIM-eligible, a role-assignable
/// group's members counted for the group (service principals left out: they hold roles for
/// automation, not people).
pub fn role_holders(s: &TenantSnapshot, roles: &[&str]) -> BTreeSet<String> {
    let active = s.role_assignments.iter().filter(|a| roles.contains(&a.role_definition_id.as_str()));
    let eligible = s.role_eligibility_schedules.iter().filter(|e| roles.contains(&e.role_definition_id.as_str()));
    active.flat_map(holders_of).chain(eligible.map(|e| e.principal_id.clone())).collect()
}

/// Whether PIM says this active assignment was activated just in time (an `Activated`
/// schedule instance for the same principal, role and scope): then it is not standing.
fn activated(s: &TenantSnapshot, a: &RoleAssignment) -> bool {
    s.role_assignment_schedule_instances.iter().any(|i| {
        i.assignment_type.as_deref() == Some("Activated")
            && i.principal_id == a.principal_id
            && i.role_definition_id == a.role_definition_id
            && i.directory_scope_id.as_deref().unwrap_or("/") == a.directory_scope_id.as_deref().unwrap_or("/")
    })
}

/// Principals with a standing assignment to any of `roles`: active, and not activated through
/// PIM (see [`activated`]); a group's members count for the group.
pub fn standing_holders(s: &TenantSnapshot, roles: &[&str]) -> BTreeSet<String> {
    s.role_assignments
        .iter()
        .filter(|a| roles.contains(&a.role_definition_id.as_str()) && !activated(s, a))
        .flat_map(holders_of)
        .collect()
}

/// A principal's UPN where the snapshot knows it, else its id.
pub fn principal_name(s: &TenantSnapshot, id: &str) -> String {
    s.users
        .iter()
        .find(|u| u.id == id)
        .map(|u| u.user_principal_name.clone())
        .or_else(|| {
            s.role_assignments
                .iter()
                .filter_map(|a| a.principal.as_ref())
                .flat_map(|p| std::iter::once(p).chain(p.transitive_members.iter().flatten()))
                .filter(|p| p.id == id)
                .find_map(|p| p.user_principal_name.clone())
        })
        .unwrap_or_else(|| id.to_string())
}

/// Privileged user accounts present in `users`, for checks that need their properties.
pub fn privileged_users(s: &TenantSnapshot) -> Vec<&crate::assess::snapshot::User> {
    let holders = role_holders(s, ids::PRIVILEGED_ROLES);
    s.users.iter().filter(|u| holders.contains(&u.id)).collect()
}

/// The user has an enabled Exchange Online plan: a mailbox, so it reads mail and browses.
pub fn has_mailbox(u: &crate::assess::snapshot::User) -> bool {
    u.assigned_plans
        .iter()
        .any(|p| p.service.eq_ignore_ascii_case("exchange") && p.capability_status.eq_ignore_ascii_case("Enabled"))
}

// ---------------------------------------------------------------------------------------------
// Intune

pub fn is_assigned(assignments: &Option<Vec<PolicyAssignment>>) -> bool {
    assignments.as_ref().is_none_or(|a| !a.is_empty())
}

pub fn is_windows(os: &str) -> bool {
    os.eq_ignore_ascii_case("Windows")
}

pub fn managed_windows(s: &TenantSnapshot) -> Vec<&ManagedDevice> {
    s.managed_devices.iter().filter(|d| is_windows(&d.operating_system)).collect()
}

/// The Intune-managed Windows devices, or the honest answer when there are none: Graph cannot
/// show how unmanaged (or otherwise managed) devices are configured.
pub fn require_intune_windows(s: &TenantSnapshot) -> Result<Vec<&ManagedDevice>, Outcome> {
    let devices = managed_windows(s);
    if devices.is_empty() {
        Err(Outcome::manual(
            "No Windows devices are enrolled in Intune, so Graph cannot show this setting; verify it in the tool that manages the endpoints",
        ))
    } else {
        Ok(devices)
    }
}

/// Intune Windows devices that report their Defender protection state, or the manual outcome
/// that says why there is nothing to judge.
pub fn protection_states(s: &TenantSnapshot) -> Result<Vec<(&ManagedDevice, &WindowsProtectionState)>, Outcome> {
    let devices = require_intune_windows(s)?;
    let reporting: Vec<_> =
        devices.into_iter().filter_map(|d| d.windows_protection_state.as_ref().map(|w| (d, w))).collect();
    if reporting.is_empty() {
        // The collector could not read Intune's DefenderAgents report: say why, as a refused
        // area does, rather than suggest the devices are silent.
        if let Some(why) = s.unread_reasons.get(crate::assess::defender_agents::REASON_KEY) {
            return Err(Outcome::manual(format!(
                "No visibility: baref00t could not read Intune's Defender agents report. Microsoft Graph answered: {why}"
            )));
        }
        return Err(Outcome::manual("No device reported its Defender protection state"));
    }
    Ok(reporting)
}

/// The assignment reaches every device or user: an "All devices" or "All users" target with no
/// assignment filter, and no exclusion group. A policy assigned only to groups (a pilot group,
/// say) does not show the setting on the whole fleet, so it is not counted as enforcing it.
/// `None` (assignments not expanded) counts, as [`is_assigned`] does.
pub fn reaches_everyone(assignments: &Option<Vec<PolicyAssignment>>) -> bool {
    let Some(list) = assignments else { return true };
    let target_type = |a: &PolicyAssignment| {
        a.target.as_ref().and_then(|t| t.get("@odata.type")).and_then(Value::as_str).unwrap_or("").to_string()
    };
    let unfiltered = |a: &PolicyAssignment| {
        a.target
            .as_ref()
            .and_then(|t| t.get("deviceAndAppManagementAssignmentFilterType"))
            .and_then(Value::as_str)
            .is_none_or(|f| f == "none")
    };
    let everyone = list.iter().any(|a| {
        let t = target_type(a);
        (t.ends_with("allDevicesAssignmentTarget") || t.ends_with("allLicensedUsersAssignmentTarget")) && unfiltered(a)
    });
    let excludes = list.iter().any(|a| target_type(a).ends_with("exclusionGroupAssignmentTarget"));
    everyone && !excludes
}

/// Profiles of `odata_type` assigned to every device (see [`reaches_everyone`]).
pub fn assigned_configurations<'a>(
    s: &'a TenantSnapshot,
    odata_type: &'a str,
) -> impl Iterator<Item = &'a DeviceConfiguration> {
    s.device_configurations.iter().filter(move |c| c.odata_type == odata_type && reaches_everyone(&c.assignments))
}

/// How an Endpoint security template setting (an intent's) names the endpoint protection
/// profile property it sets: this prefix, then the property.
pub const INTENT_ENDPOINT_PROTECTION_PREFIX: &str = "deviceConfiguration--windows10EndpointProtectionConfiguration_";

/// An intent read as the endpoint protection profile its settings describe: each setting
/// whose definition names a profile property becomes that property, its `valueJson` parsed
/// (a value of another shape than the property's is left out).
fn intent_as_profile(i: &crate::assess::snapshot::DeviceManagementIntent) -> DeviceConfiguration {
    let mut profile = DeviceConfiguration {
        odata_type: ENDPOINT_PROTECTION_CONFIGURATION.to_string(),
        id: i.id.clone(),
        display_name: i.display_name.clone(),
        assignments: i.assignments.clone(),
        ..Default::default()
    };
    let mut doc = serde_json::to_value(&profile).unwrap_or_default();
    for setting in &i.settings {
        let Some(property) = setting.definition_id.strip_prefix(INTENT_ENDPOINT_PROTECTION_PREFIX) else { continue };
        let Some(value) = setting.value_json.as_deref().and_then(|j| serde_json::from_str::<Value>(j).ok()) else {
            continue;
        };
        let mut next = doc.clone();
        next[property] = value;
        if let Ok(p) = serde_json::from_value::<DeviceConfiguration>(next.clone()) {
            doc = next;
            profile = p;
        }
    }
    profile
}

/// Endpoint protection settings that reach every device: the legacy profiles and the
/// Endpoint security template policies (intents), the latter read as profiles.
pub fn endpoint_protection_profiles(s: &TenantSnapshot) -> Vec<std::borrow::Cow<'_, DeviceConfiguration>> {
    let intents = s
        .intents
        .iter()
        .filter(|i| i.is_assigned != Some(false) && reaches_everyone(&i.assignments))
        .map(|i| std::borrow::Cow::Owned(intent_as_profile(i)));
    assigned_configurations(s, ENDPOINT_PROTECTION_CONFIGURATION)
        .map(std::borrow::Cow::Borrowed)
        .chain(intents)
        .collect()
}

/// Reads one ASR rule's mode off an endpoint protection profile.
pub type AsrRule = fn(&DeviceConfiguration) -> &Option<String>;

/// The settings-catalog id of each ASR rule the checks name (the part after
/// [`setting::ASR_RULE_PREFIX`]), by the rule's name as the checks give it.
const ASR_CATALOG_IDS: &[(&str, &str)] = &[
    ("Block Win32 API calls from Office macros", "blockwin32apicallsfromofficemacros"),
    ("Block Office applications from creating child processes", "blockallofficeapplicationsfromcreatingchildprocesses"),
    (
        "Block Office applications from creating executable content",
        "blockofficeapplicationsfromcreatingexecutablecontent",
    ),
    (
        "Block Office applications from injecting code into other processes",
        "blockofficeapplicationsfrominjectingcodeintootherprocesses",
    ),
    ("Block Adobe Reader from creating child processes", "blockadobereaderfromcreatingchildprocesses"),
];

/// A rule's mode normalised across the two sources: `block`, `warn`, `auditMode` or another
/// word. The legacy profile's ASR properties are `defenderAttackSurfaceType` (block mode is
/// `block`) except `defenderAdobeReaderLaunchChildProcess`, a `defenderProtectionType` whose
/// block mode is `enable` (Graph beta schema); the catalog's values end `_block`, `_warn`,
/// `_audit` or `_off`.
fn asr_word(v: &str) -> &str {
    match v {
        "block" | "enable" => "block",
        other => match other.rsplit('_').next() {
            Some("block") if other.contains('_') => "block",
            Some("warn") if other.contains('_') => "warn",
            Some("audit") if other.contains('_') => "auditMode",
            Some("off") if other.contains('_') => "off",
            _ => other,
        },
    }
}

/// The strongest mode an ASR rule is set to across endpoint protection profiles and
/// settings-catalog policies that reach every device.
pub fn asr_mode(s: &TenantSnapshot, name: &str, rule: AsrRule) -> Option<String> {
    let profiles = endpoint_protection_profiles(s);
    let mut modes: Vec<&str> = profiles.iter().filter_map(|c| rule(c).as_deref()).map(asr_word).collect();
    if let Some((_, id)) = ASR_CATALOG_IDS.iter().find(|(n, _)| *n == name) {
        let definition = format!("{}{id}", setting::ASR_RULE_PREFIX);
        modes.extend(
            catalog_instances(s)
                .filter(|i| i.setting_definition_id == definition)
                .filter_map(|i| i.choice_setting_value.as_ref())
                .map(|c| asr_word(&c.value)),
        );
    }
    ["block", "warn", "auditMode"]
        .into_iter()
        .find(|m| modes.contains(m))
        .or(modes.first().copied())
        .map(str::to_string)
}

/// Judges that ASR rules are in block mode on Intune-managed Windows devices.
pub fn asr_rules_blocked(s: &TenantSnapshot, rules: &[(&str, AsrRule)]) -> Outcome {
    if let Err(manual) = require_intune_windows(s) {
        return manual;
    }
    let modes: Vec<(&str, Option<String>)> = rules.iter().map(|(n, r)| (*n, asr_mode(s, n, *r))).collect();
    let weak: Vec<String> = modes
        .iter()
        .filter(|(_, m)| m.as_deref() != Some("block"))
        .map(|(n, m)| format!("{n}: {}", m.as_deref().unwrap_or("not configured")))
        .collect();
    let details =
        json!(modes.iter().map(|(n, m)| (n.to_string(), json!(m))).collect::<serde_json::Map<String, Value>>());
    if weak.is_empty() {
        Outcome::pass("The attack surface reduction rules are in block mode in Intune policies assigned to all devices")
            .with_details(details)
    } else {
        Outcome::fail(format!("Attack surface reduction rules not in block mode on all devices: {}", weak.join("; ")))
            .with_details(details)
    }
}

/// Settings-catalog policies that reach every device or user.
fn covering_policies(s: &TenantSnapshot) -> impl Iterator<Item = &ConfigurationPolicy> {
    s.configuration_policies.iter().filter(|p| p.is_assigned != Some(false) && reaches_everyone(&p.assignments))
}

/// Every setting instance (nested ones included) of the policies that reach everyone.
fn catalog_instances(s: &TenantSnapshot) -> impl Iterator<Item = &SettingInstance> {
    covering_policies(s).flat_map(|p| p.settings.iter()).flat_map(|st| st.setting_instance.walk())
}

/// The suffix of a choice value after its last `_` (`…_1` → `_1`).
fn suffix(value: &str) -> &str {
    value.rfind('_').map(|i| &value[i..]).unwrap_or("")
}

/// One instance of a catalog setting read as the checks' value (see [`setting`]).
fn read_setting(i: &SettingInstance, kind: Kind) -> Value {
    if let Kind::Integer = kind {
        return i.simple_setting_value.as_ref().and_then(|v| v.value.as_u64()).map(Value::from).unwrap_or(Value::Null);
    }
    let Some(choice) = &i.choice_setting_value else { return Value::Null };
    match kind {
        Kind::Toggle(on) => Value::Bool(on.contains(&suffix(&choice.value))),
        Kind::ChildChoice(words) => {
            if suffix(&choice.value) != "_1" {
                return Value::Null;
            }
            choice
                .children
                .iter()
                .filter_map(|c| c.choice_setting_value.as_ref())
                .find_map(|c| words.iter().find(|(s, _)| *s == suffix(&c.value)))
                .map(|(_, w)| Value::from(*w))
                .unwrap_or(Value::Null)
        }
        Kind::Integer => Value::Null,
        Kind::ChildInteger => {
            if suffix(&choice.value) != "_1" {
                return Value::Null;
            }
            choice
                .children
                .iter()
                .filter_map(|c| c.simple_setting_value.as_ref())
                .find_map(|v| v.value.as_u64())
                .map(Value::from)
                .unwrap_or(Value::Null)
        }
    }
}

/// The values a catalog setting has across the policies that reach everyone.
fn setting_values(s: &TenantSnapshot, setting: &CatalogSetting) -> Vec<Value> {
    catalog_instances(s)
        .filter(|i| setting.definition_ids.contains(&i.setting_definition_id.as_str()))
        .map(|i| read_setting(i, setting.kind))
        .collect()
}

/// `Some(true)` when some policy reaching everyone turns the setting on and none turns it off
/// (a choice read as a word counts as on unless the word is `off`).
pub fn setting_on(s: &TenantSnapshot, setting: &CatalogSetting) -> Option<bool> {
    let values = setting_values(s, setting);
    if values.is_empty() {
        None
    } else {
        Some(values.iter().all(|v| v.as_bool() == Some(true) || v.as_str().is_some_and(|w| w == "on")))
    }
}

pub fn setting_str(s: &TenantSnapshot, setting: &CatalogSetting) -> Option<String> {
    setting_values(s, setting).into_iter().find_map(|v| v.as_str().map(str::to_string))
}

pub fn setting_u64(s: &TenantSnapshot, setting: &CatalogSetting) -> Option<u64> {
    setting_values(s, setting).into_iter().find_map(|v| v.as_u64())
}

/// Judges a boolean settings-catalog setting on Intune-managed Windows devices.
pub fn setting_enforced(s: &TenantSnapshot, setting: &CatalogSetting, what: &str) -> Outcome {
    if let Err(manual) = require_intune_windows(s) {
        return manual;
    }
    match setting_on(s, setting) {
        Some(true) => Outcome::pass(format!("{what}: enforced by an Intune policy assigned to all devices")),
        Some(false) => Outcome::fail(format!("{what}: an Intune policy assigned to all devices does not enforce it")),
        None => Outcome::fail(format!("{what}: no Intune policy assigned to all devices configures it")),
    }
}

/// Assigned update rings that are not paused.
pub fn update_rings(s: &TenantSnapshot) -> Vec<&DeviceConfiguration> {
    assigned_configurations(s, UPDATE_RING_CONFIGURATION).collect()
}

/// The longest a quality update can wait before it is forced: deferral + deadline + grace.
/// `None` without a deadline (users could postpone indefinitely) or when paused.
pub fn quality_update_window(ring: &DeviceConfiguration) -> Option<u32> {
    if ring.quality_updates_paused == Some(true) {
        return None;
    }
    let deadline = ring.deadline_for_quality_updates_in_days?;
    Some(
        ring.quality_updates_deferral_period_in_days.unwrap_or(0)
            + deadline
            + ring.deadline_grace_period_in_days.unwrap_or(0),
    )
}

/// Judges that every assigned update ring forces quality updates within `max_days`.
pub fn rings_within(s: &TenantSnapshot, max_days: u32) -> Outcome {
    if let Err(manual) = require_intune_windows(s) {
        return manual;
    }
    let rings = update_rings(s);
    if rings.is_empty() {
        return Outcome::fail("No Windows Update for Business ring is assigned in Intune");
    }
    let details = json!(rings
        .iter()
        .map(|r| json!({
            "displayName": r.display_name,
            "qualityUpdatesDeferralPeriodInDays": r.quality_updates_deferral_period_in_days,
            "deadlineForQualityUpdatesInDays": r.deadline_for_quality_updates_in_days,
            "deadlineGracePeriodInDays": r.deadline_grace_period_in_days,
            "qualityUpdatesPaused": r.quality_updates_paused,
        }))
        .collect::<Vec<_>>());
    let slow: Vec<String> = rings
        .iter()
        .filter(|r| quality_update_window(r).is_none_or(|d| d > max_days))
        .map(|r| match quality_update_window(r) {
            Some(d) => format!("'{}' allows {d} days", r.display_name),
            None if r.quality_updates_paused == Some(true) => {
                format!("'{}' is paused", r.display_name)
            }
            None => format!("'{}' has no deadline", r.display_name),
        })
        .collect();
    if slow.is_empty() {
        Outcome::pass(format!("Every assigned update ring installs quality updates within {max_days} days (deferral + deadline + grace period)")).with_details(details)
    } else {
        Outcome::fail(format!("Quality updates can take longer than {max_days} days: {}", slow.join("; ")))
            .with_details(details)
    }
}

/// Windows Update for Business deployment-service policies (feature, quality, driver) can be
/// assigned to groups only, never to "All devices": an assigned one is counted.
pub fn assigned_to_groups(assignments: &Option<Vec<PolicyAssignment>>) -> bool {
    assignments.as_ref().is_some_and(|a| !a.is_empty())
}

/// The assigned quality update policy expediting the newest update: its name and the update's
/// release date, when that release is at most `max_days` old at collection.
pub fn recent_expedite(s: &TenantSnapshot, max_days: i64) -> Option<(String, String)> {
    s.windows_quality_update_profiles
        .iter()
        .filter(|p| assigned_to_groups(&p.assignments))
        .filter_map(|p| {
            let release = p.expedited_update_settings.as_ref()?.quality_update_release.clone()?;
            let age = days_before_collection(s, Some(&release))?;
            (0..=max_days).contains(&age).then(|| (p.display_name.clone(), release))
        })
        .next()
}

/// The release a feature update policy holds its devices at (`Windows 11, version 24H2` →
/// Windows 11 24H2), when the table knows it.
pub fn feature_update_release(version: &str) -> Option<&'static WindowsRelease> {
    let name = version.replace(", version ", " ");
    WINDOWS_RELEASES.iter().find(|r| r.name.eq_ignore_ascii_case(name.trim()))
}

/// Judges that driver updates are approved automatically and deployed within `max_days` by
/// every assigned driver update policy.
pub fn drivers_within(s: &TenantSnapshot, max_days: u32) -> Outcome {
    if let Err(manual) = require_intune_windows(s) {
        return manual;
    }
    let profiles: Vec<_> =
        s.windows_driver_update_profiles.iter().filter(|p| assigned_to_groups(&p.assignments)).collect();
    if profiles.is_empty() {
        return Outcome::fail("No Windows driver update policy is assigned: driver updates are not approved and deployed on a schedule Intune shows");
    }
    let slow: Vec<String> = profiles
        .iter()
        .filter_map(|p| match (p.approval_type.as_deref(), p.deployment_deferral_in_days.unwrap_or(0)) {
            (Some("automatic"), d) if d <= max_days => None,
            (Some("automatic"), d) => Some(format!("'{}' defers drivers {d} days", p.display_name)),
            _ => Some(format!("'{}' waits for manual approval", p.display_name)),
        })
        .collect();
    Outcome::judge(
        slow.is_empty(),
        if slow.is_empty() {
            format!("Every assigned driver update policy approves drivers automatically and deploys them within {max_days} days")
        } else {
            format!("Driver updates can wait longer than {max_days} days: {}", slow.join("; "))
        },
    )
    .with_details(json!({ "driverUpdatePolicies": profiles.iter().map(|p| p.display_name.as_str()).collect::<Vec<_>>() }))
}

/// The review covers directory (Entra) roles: one of its scope's queries names
/// `/roleManagement/directory/`.
pub fn reviews_directory_roles(d: &crate::assess::snapshot::AccessReviewScheduleDefinition) -> bool {
    d.scope.as_ref().is_some_and(|scope| scope.to_string().contains("/roleManagement/directory/"))
}

/// The review recurs at least once a year (a one-off review does not).
pub fn recurs_yearly_or_more_often(d: &crate::assess::snapshot::AccessReviewScheduleDefinition) -> bool {
    let Some(pattern) = d.settings.as_ref().and_then(|st| st.recurrence.as_ref()).and_then(|r| r.pattern.as_ref())
    else {
        return false;
    };
    let interval = pattern.interval.unwrap_or(1).max(1);
    match pattern.pattern_type.as_deref() {
        Some("daily") => interval <= 365,
        Some("weekly") => interval <= 52,
        Some("absoluteMonthly" | "relativeMonthly") => interval <= 12,
        Some("absoluteYearly" | "relativeYearly") => interval == 1,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Windows releases

pub struct WindowsRelease {
    pub build: u32,
    pub name: &'static str,
    pub released: &'static str,
    /// End of servicing for Home/Pro/Business editions (what small tenants run).
    pub end_of_servicing: &'static str,
    /// End of servicing for Enterprise and Education editions (24 months for Windows 10 H2 and
    /// Windows 11 releases, 36 for Windows 11's; Microsoft's Windows lifecycle fact sheet).
    pub end_of_servicing_enterprise: &'static str,
}

/// Windows client releases still seen in tenants, oldest first.
pub const WINDOWS_RELEASES: &[WindowsRelease] = &[
    WindowsRelease {
        build: 19045,
        name: "Windows 10 22H2",
        released: "2022-10-18",
        end_of_servicing: "2025-10-14",
        end_of_servicing_enterprise: "2025-10-14",
    },
    WindowsRelease {
        build: 22000,
        name: "Windows 11 21H2",
        released: "2021-10-04",
        end_of_servicing: "2023-10-10",
        end_of_servicing_enterprise: "2024-10-08",
    },
    WindowsRelease {
        build: 22621,
        name: "Windows 11 22H2",
        released: "2022-09-20",
        end_of_servicing: "2024-10-08",
        end_of_servicing_enterprise: "2025-10-14",
    },
    WindowsRelease {
        build: 22631,
        name: "Windows 11 23H2",
        released: "2023-10-31",
        end_of_servicing: "2025-11-11",
        end_of_servicing_enterprise: "2026-11-10",
    },
    WindowsRelease {
        build: 26100,
        name: "Windows 11 24H2",
        released: "2024-10-01",
        end_of_servicing: "2026-10-13",
        end_of_servicing_enterprise: "2027-10-12",
    },
    WindowsRelease {
        build: 26200,
        name: "Windows 11 25H2",
        released: "2025-09-30",
        end_of_servicing: "2027-10-12",
        end_of_servicing_enterprise: "2028-10-10",
    },
];

/// Long-Term Servicing Channel releases (Enterprise LTSC/LTSB), by exact build, with the end
/// of their mainstream support (Microsoft lifecycle; IoT LTSC editions run longer).
pub const LTSC_RELEASES: &[(u32, &str, &str)] = &[
    (10240, "Windows 10 Enterprise LTSB 2015", "2025-10-14"),
    (14393, "Windows 10 Enterprise LTSB 2016", "2026-10-13"),
    (17763, "Windows 10 Enterprise LTSC 2019", "2029-01-09"),
    (19044, "Windows 10 Enterprise LTSC 2021", "2027-01-12"),
    (26100, "Windows 11 Enterprise LTSC 2024", "2029-10-09"),
];

/// Which servicing a device's edition gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edition {
    /// Home, Pro, Business, or not known (the shorter dates: the safe assumption).
    HomePro,
    /// Enterprise or Education.
    Enterprise,
    /// Enterprise LTSC / LTSB (and IoT Enterprise LTSC).
    Ltsc,
}

/// The edition from Intune's beta `skuNumber` (the Windows `PRODUCT_*` SKU: 4/27 Enterprise,
/// 121/122 Education, 125/126 Enterprise LTSC, 191 IoT Enterprise LTSC) or `skuFamily`.
pub fn edition(sku_number: Option<u32>, sku_family: Option<&str>) -> Edition {
    match sku_number {
        Some(125 | 126 | 191) => Edition::Ltsc,
        Some(4 | 27 | 121 | 122 | 72 | 84 | 188) => Edition::Enterprise,
        _ => match sku_family.map(str::to_ascii_lowercase).as_deref() {
            Some(f) if f.contains("enterprises") || f.contains("ltsc") => Edition::Ltsc,
            Some(f) if f.contains("enterprise") || f.contains("education") => Edition::Enterprise,
            _ => Edition::HomePro,
        },
    }
}

/// `major.minor.build[.revision]` → build, for Windows 10/11 (`10.0.x`); older kernels
/// (6.x: Windows 7, 8, 8.1) give `Some(0)`, i.e. older than anything in the table.
pub fn windows_build(version: &str) -> Option<u32> {
    let mut parts = version.split('.');
    let major: u32 = parts.next()?.trim().parse().ok()?;
    let _minor = parts.next()?;
    let build: u32 = parts.next()?.trim().parse().ok()?;
    Some(if major < 10 { 0 } else { build })
}

/// The release a build belongs to (`None`: older than every release in the table).
pub fn windows_release(build: u32) -> Option<&'static WindowsRelease> {
    WINDOWS_RELEASES.iter().filter(|r| r.build <= build).max_by_key(|r| r.build)
}

/// Out of vendor support at `now` for that edition. An LTSC edition on an LTSC build has the
/// LTSC date; otherwise the release's date for the edition.
pub fn windows_unsupported(build: u32, edition: Edition, now: Timestamp) -> bool {
    if edition == Edition::Ltsc {
        if let Some((_, _, end)) = LTSC_RELEASES.iter().find(|(b, _, _)| *b == build) {
            return date(end) <= now;
        }
    }
    match windows_release(build) {
        None => true,
        Some(r) if edition == Edition::HomePro => date(r.end_of_servicing) <= now,
        Some(r) => date(r.end_of_servicing_enterprise) <= now,
    }
}

/// The latest or the previous Windows 11 release available at `now`.
pub fn windows_current_or_previous(build: u32, now: Timestamp) -> bool {
    let mut available: Vec<&WindowsRelease> =
        WINDOWS_RELEASES.iter().filter(|r| date(r.released) <= now && r.name.starts_with("Windows 11")).collect();
    available.sort_by_key(|r| std::cmp::Reverse(r.build));
    let newest_two: Vec<u32> = available.iter().take(2).map(|r| r.build).collect();
    windows_release(build).is_some_and(|r| newest_two.contains(&r.build))
}

/// A Windows device as either list reports it: name, version string, and edition (Entra ID
/// does not report one: Home/Pro dates apply).
pub struct WindowsDevice<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub edition: Edition,
}

/// Intune-managed Windows devices when there are any, else Entra ID's device list (which
/// includes unmanaged devices): the best view Graph gives of the Windows fleet.
pub fn windows_fleet(s: &TenantSnapshot) -> (Vec<WindowsDevice<'_>>, &'static str) {
    let managed: Vec<WindowsDevice> = managed_windows(s)
        .into_iter()
        .map(|d| WindowsDevice {
            name: &d.device_name,
            version: &d.os_version,
            edition: edition(d.sku_number, d.sku_family.as_deref()),
        })
        .collect();
    if !managed.is_empty() {
        return (managed, "Intune");
    }
    let entra = s
        .devices
        .iter()
        .filter(|d| is_windows(&d.operating_system) && d.account_enabled != Some(false))
        .map(|d| WindowsDevice {
            name: &d.display_name,
            version: &d.operating_system_version,
            edition: Edition::HomePro,
        })
        .collect();
    (entra, "Entra ID")
}

// ---------------------------------------------------------------------------------------------
// Backups

/// Microsoft 365 Backup is on and protects Exchange, SharePoint and OneDrive.
/// `Ok(summary)` when it does; `Err(summary)` says what is missing (which is not a failure
/// by itself: a third-party backup may cover the data).
pub fn m365_backup(s: &TenantSnapshot) -> Result<String, String> {
    let Some(b) = &s.backup_restore else {
        return Err("Microsoft 365 Backup could not be read".into());
    };
    let on = b.service_status.as_ref().is_some_and(|st| st.status != "disabled" && !st.status.is_empty());
    if !on {
        return Err("Microsoft 365 Backup is not enabled".into());
    }
    let missing: Vec<&str> = [
        ("exchangeProtectionPolicy", "Exchange"),
        ("sharePointProtectionPolicy", "SharePoint"),
        ("oneDriveForBusinessProtectionPolicy", "OneDrive"),
    ]
    .into_iter()
    .filter(|(t, _)| !b.protection_policies.iter().any(|p| p.odata_type.ends_with(t) && p.status.starts_with("active")))
    .map(|(_, n)| n)
    .collect();
    if missing.is_empty() {
        Ok("Microsoft 365 Backup has active protection policies for Exchange, SharePoint and OneDrive".into())
    } else {
        Err(format!("Microsoft 365 Backup has no active protection policy for {}", missing.join(", ")))
    }
}

// ---------------------------------------------------------------------------------------------
// Secure Score

pub fn latest_secure_score(s: &TenantSnapshot) -> Option<&crate::assess::snapshot::SecureScore> {
    s.secure_scores
        .iter()
        .max_by_key(|sc| sc.created_date_time.as_deref().and_then(parse_time).unwrap_or(Timestamp::from_unix(i64::MIN)))
}

/// Secure Score as a percentage of its maximum, or the manual outcome when there is none.
pub fn secure_score_at_least(s: &TenantSnapshot, min_percent: f64) -> Outcome {
    match latest_secure_score(s) {
        Some(sc) if sc.max_score > 0.0 => {
            let pct = sc.current_score / sc.max_score * 100.0;
            Outcome::judge(
                pct >= min_percent,
                format!(
                    "Microsoft Secure Score is {:.0} of {:.0} ({pct:.0}%); the bar is {min_percent:.0}%",
                    sc.current_score, sc.max_score
                ),
            )
            .with_details(json!({ "currentScore": sc.current_score, "maxScore": sc.max_score }))
        }
        _ => Outcome::manual("No Microsoft Secure Score was available"),
    }
}
