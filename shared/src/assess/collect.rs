//! Collecting a [`TenantSnapshot`]: the `Collector` port and its two adapters, Microsoft
//! Graph (app-only, per customer tenant) and the demo fixtures (dev server and tests).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::defender_agents::{self, Export};
use super::fixtures::demo_snapshot;
use super::snapshot::TenantSnapshot;
use crate::domain::time::Clock;
use crate::graph::{GraphClient, GraphError, TenantSession};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    /// The baref00t app has no (or too little) admin consent in the tenant.
    #[error("{0}")]
    ConsentRequired(String),
    #[error("{0}")]
    TenantNotFound(String),
    /// Worth trying again later (throttling, an outage).
    #[error("{0}")]
    Unavailable(String),
    /// Graph answered something we cannot use.
    #[error("{0}")]
    Failed(String),
}

#[async_trait]
pub trait Collector: Send + Sync {
    async fn collect(&self, tenant_id: &str) -> Result<TenantSnapshot, CollectError>;
}

/// The demo tenants, picked deterministically from the tenant id.
pub struct FixtureCollector;

#[async_trait]
impl Collector for FixtureCollector {
    async fn collect(&self, tenant_id: &str) -> Result<TenantSnapshot, CollectError> {
        Ok(demo_snapshot(tenant_id))
    }
}

/// How a snapshot field is read from Graph.
#[derive(Clone, Copy)]
enum Shape {
    /// Every page of a collection.
    All,
    /// The first page only (e.g. Secure Score history, newest first).
    FirstPage,
    /// The first element of a collection (`/organization`).
    First,
    /// One object.
    Object,
}

/// What to do when Graph answers 404 (or 400) for the field: the feature is not there.
/// A licence refusal is another matter (see [`Read::Unlicensed`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Absent {
    /// Leave the field out: an `Option` field stays `None`, a list stays empty.
    Omit,
    /// Leave it out and say so in `unread`, so the checks that read it answer "no visibility".
    Unread,
}

/// Fields whose licence refusal still means "none to find", because the missing licence itself
/// settles what they would hold: without Entra ID P1 no Conditional Access policy is enforced
/// (the MFA checks then judge security defaults); without Entra ID P2 no role can be eligible
/// or activated through PIM, so every active assignment is standing. Every other licence
/// refusal (access reviews, registration reports, Secure Score, …) leaves its field unread:
/// the tenant may do the same thing by other means Graph cannot show.
const NONE_WITHOUT_LICENCE: &[&str] =
    &["conditionalAccessPolicies", "roleEligibilitySchedules", "roleAssignmentScheduleInstances"];

struct Source {
    field: &'static str,
    path: &'static str,
    shape: Shape,
    absent: Absent,
}

const fn src(field: &'static str, path: &'static str, shape: Shape, absent: Absent) -> Source {
    Source { field, path, shape, absent }
}

/// Each snapshot field and where Graph keeps it (v1.0 unless the properties read are beta-only).
const SOURCES: &[Source] = &[
    src("organization", "/v1.0/organization", Shape::First, Absent::Unread),
    src("subscribedSkus", "/v1.0/subscribedSkus", Shape::All, Absent::Unread),
    src("devices", "/v1.0/devices", Shape::All, Absent::Unread),
    src("authorizationPolicy", "/v1.0/policies/authorizationPolicy", Shape::Object, Absent::Omit),
    src("adminConsentRequestPolicy", "/v1.0/policies/adminConsentRequestPolicy", Shape::Object, Absent::Omit),
    src(
        "identitySecurityDefaultsEnforcementPolicy",
        "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy",
        Shape::Object,
        Absent::Omit,
    ),
    // Conditional Access needs Entra ID P1: without it there are no policies to find.
    src("conditionalAccessPolicies", "/v1.0/identity/conditionalAccess/policies", Shape::All, Absent::Omit),
    src("authenticationMethodsPolicy", "/v1.0/policies/authenticationMethodsPolicy", Shape::Object, Absent::Omit),
    src(
        "userRegistrationDetails",
        "/v1.0/reports/authenticationMethods/userRegistrationDetails",
        Shape::All,
        Absent::Unread,
    ),
    src(
        "roleAssignments",
        "/v1.0/roleManagement/directory/roleAssignments?$expand=principal",
        Shape::All,
        Absent::Unread,
    ),
    // PIM needs Entra ID P2: without it nothing can be eligible (see NONE_WITHOUT_LICENCE).
    src(
        "roleEligibilitySchedules",
        "/v1.0/roleManagement/directory/roleEligibilitySchedules",
        Shape::All,
        Absent::Omit,
    ),
    // PIM's view of the active assignments: standing (Assigned) or just in time (Activated).
    src(
        "roleAssignmentScheduleInstances",
        "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances",
        Shape::All,
        Absent::Omit,
    ),
    // Entra ID P2 or ID Governance: a licence refusal leaves it unread (privileged access may
    // be re-approved by other means).
    src("accessReviewDefinitions", "/v1.0/identityGovernance/accessReviews/definitions", Shape::All, Absent::Omit),
    // Beta: the ASR, Credential Guard and AppLocker properties of
    // windows10EndpointProtectionConfiguration and the Defender/firewall properties of
    // windows10CompliancePolicy exist only there (Graph's beta schema), so v1.0 never returns them.
    src(
        "deviceConfigurations",
        "/beta/deviceManagement/deviceConfigurations?$expand=assignments",
        Shape::All,
        Absent::Omit,
    ),
    // The settings catalog and Endpoint security policies (ASR, App Control, Credential Guard,
    // Office and Edge ADMX) exist only in beta.
    src(
        "configurationPolicies",
        "/beta/deviceManagement/configurationPolicies?$expand=settings,assignments",
        Shape::All,
        Absent::Omit,
    ),
    src(
        "deviceCompliancePolicies",
        "/beta/deviceManagement/deviceCompliancePolicies?$expand=assignments",
        Shape::All,
        Absent::Omit,
    ),
    // Beta: the edition (skuNumber, skuFamily) decides the servicing dates.
    src("managedDevices", "/beta/deviceManagement/managedDevices", Shape::All, Absent::Omit),
    // Windows Hello for Business is one of the enrollment policies (beta: its type's newer
    // properties and deviceEnrollmentConfigurationType live there).
    src(
        "deviceEnrollmentConfigurations",
        "/beta/deviceManagement/deviceEnrollmentConfigurations?$expand=assignments",
        Shape::All,
        Absent::Omit,
    ),
    // Endpoint security policies from the older templates; each one's settings are read after.
    src("intents", "/beta/deviceManagement/intents?$expand=assignments", Shape::All, Absent::Omit),
    // Windows Update for Business deployment service policies exist only in beta.
    src(
        "windowsFeatureUpdateProfiles",
        "/beta/deviceManagement/windowsFeatureUpdateProfiles?$expand=assignments",
        Shape::All,
        Absent::Omit,
    ),
    src(
        "windowsQualityUpdateProfiles",
        "/beta/deviceManagement/windowsQualityUpdateProfiles?$expand=assignments",
        Shape::All,
        Absent::Omit,
    ),
    src(
        "windowsDriverUpdateProfiles",
        "/beta/deviceManagement/windowsDriverUpdateProfiles?$expand=assignments",
        Shape::All,
        Absent::Omit,
    ),
    src("secureScores", "/v1.0/security/secureScores?$top=1", Shape::FirstPage, Absent::Omit),
    src("riskyUsers", "/v1.0/identityProtection/riskyUsers", Shape::All, Absent::Omit),
    src("alerts", "/v1.0/security/alerts_v2?$top=200", Shape::FirstPage, Absent::Omit),
    src("sharepointSettings", "/v1.0/admin/sharepoint/settings", Shape::Object, Absent::Omit),
];

/// The Graph request the collector makes for a snapshot field (its JSON name), path and query
/// from the API version on (`/v1.0/…` or `/beta/…`): the schema test (tests/it/graph_schema.rs)
/// checks each field's properties against the Graph type of that version. `None` for fields
/// that are not Graph's (the Exchange Online switches) or not collected.
pub fn request_for(field: &str) -> Option<&'static str> {
    match field {
        "users" => Some(USERS_WITH_SIGN_INS),
        "deviceManagementSettings" => Some(DEVICE_MANAGEMENT_SETTINGS),
        "backupRestore" => Some(BACKUP_RESTORE),
        _ => SOURCES.iter().find(|s| s.field == field).map(|s| s.path),
    }
}

/// The user properties read (all v1.0); `signInActivity` is asked separately since it needs
/// Entra ID P1 and AuditLog.Read.All.
macro_rules! user_fields {
    () => {
        "id,displayName,userPrincipalName,userType,accountEnabled,assignedPlans,onPremisesSyncEnabled,createdDateTime,isResourceAccount"
    };
}
const USERS_WITH_SIGN_INS: &str = concat!("/v1.0/users?$select=", user_fields!(), ",signInActivity");
const USERS: &str = concat!("/v1.0/users?$select=", user_fields!());
const DEVICE_MANAGEMENT_SETTINGS: &str = "/v1.0/deviceManagement?$select=settings";
const BACKUP_RESTORE: &str = "/v1.0/solutions/backupRestore";
/// A role-assignable group's members, nested groups resolved (`{id}` is the group's).
const GROUP_MEMBERS: &str = "/v1.0/groups/{id}/transitiveMembers?$select=id,displayName,userPrincipalName";
/// One intent's settings (`{id}` is the intent's).
const INTENT_SETTINGS: &str = "/beta/deviceManagement/intents/{id}/settings";

/// Microsoft Graph, app-only in the customer's tenant.
pub struct GraphCollector {
    client: GraphClient,
    clock: Arc<dyn Clock>,
}

impl GraphCollector {
    pub fn new(client: GraphClient, clock: Arc<dyn Clock>) -> Self {
        Self { client, clock }
    }
}

/// What one read found.
enum Read {
    Got(Value),
    /// Not there for this tenant (404, or 400 without a licence message): the feature is not
    /// provisioned, so there is nothing to find.
    Absent,
    /// The tenant lacks the licence for this area (403 or 400 naming a licence, e.g. PIM or
    /// access reviews without Entra ID P2): the data may exist but cannot be seen, so the field
    /// is `unread` with Graph's answer, and the checks that read it answer "no visibility"
    /// naming the licence, never "absent".
    Unlicensed(String),
    /// Graph refused this area (403): a permission or licence for it is missing. The snapshot
    /// names the field in `unread` (and Graph's answer in `unreadReasons`), so the checks that
    /// need it answer "no visibility" instead of judging data that was never seen.
    Refused(String),
}

fn tolerate(e: GraphError) -> Result<Read, CollectError> {
    match e {
        GraphError::NotLicensed(m) => {
            tracing::warn!(reason = m.as_str(), "Graph refused one area for want of a licence; no visibility");
            Ok(Read::Unlicensed(m))
        }
        GraphError::Http { status: 400 | 404, .. } => Ok(Read::Absent),
        GraphError::Forbidden(m) => {
            tracing::warn!(reason = m.as_str(), "Graph refused one area; its checks get no visibility");
            Ok(Read::Refused(m))
        }
        other => Err(to_collect_error(other)),
    }
}

fn to_collect_error(e: GraphError) -> CollectError {
    match e {
        GraphError::ConsentRequired(m) => CollectError::ConsentRequired(format!(
            "Microsoft refused baref00t's app for this tenant (admin consent missing or withdrawn): {m}"
        )),
        GraphError::TenantNotFound(m) => CollectError::TenantNotFound(format!("The tenant was not found: {m}")),
        e if e.is_transient() => CollectError::Unavailable(format!("Microsoft Graph is unavailable: {e}")),
        e => CollectError::Failed(format!("Microsoft Graph: {e}")),
    }
}

async fn read(session: &TenantSession<'_>, path: &str, shape: Shape) -> Result<Read, CollectError> {
    let got = match shape {
        Shape::All => session.get_all(path).await.map(Value::Array),
        Shape::FirstPage => session.get(path).await.map(|v| v.get("value").cloned().unwrap_or(Value::Array(vec![]))),
        Shape::First => session
            .get(path)
            .await
            .map(|v| v.get("value").and_then(|a| a.get(0)).cloned().unwrap_or(Value::Object(Map::new()))),
        Shape::Object => session.get(path).await,
    };
    match got {
        Ok(v) => Ok(Read::Got(v)),
        Err(e) => tolerate(e),
    }
}

/// The fields a collection could not read, in order, with Graph's reason for each.
#[derive(Default)]
struct Unread {
    fields: Vec<String>,
    reasons: std::collections::BTreeMap<String, String>,
}

/// The reason a licence refusal leaves in `unreadReasons`.
fn not_licensed(why: &str) -> String {
    format!("not licensed (the tenant lacks the licence for this area): {why}")
}

impl Unread {
    /// Records what a read that got nothing means for `field`: a licence refusal or a refusal
    /// makes it unread with the reason; absence only when `absent` says so.
    fn note(&mut self, field: &str, got: &Read, absent: Absent) {
        match got {
            Read::Got(_) => {}
            Read::Absent if absent == Absent::Omit => {}
            Read::Absent => self.add(field, "not found for this tenant (404)"),
            Read::Unlicensed(_) if NONE_WITHOUT_LICENCE.contains(&field) => {}
            Read::Unlicensed(why) => self.add(field, &not_licensed(why)),
            Read::Refused(why) => self.add(field, why),
        }
    }

    fn add(&mut self, field: &str, why: &str) {
        if !self.fields.iter().any(|f| f == field) {
            self.fields.push(field.to_string());
            self.reasons.insert(field.to_string(), why.to_string());
        }
    }
}

#[async_trait]
impl Collector for GraphCollector {
    async fn collect(&self, tenant_id: &str) -> Result<TenantSnapshot, CollectError> {
        let session = self.client.session(tenant_id).await.map_err(to_collect_error)?;
        let mut doc = Map::new();
        let mut unread = Unread::default();
        let mut requests: Vec<Value> = Vec::new();
        let at = self.clock.now();
        let mut trail = |field: &str, session: &TenantSession<'_>| {
            for (path, sha256) in session.take_log() {
                requests.push(serde_json::json!({ "field": field, "path": path, "at": at, "sha256": sha256 }));
            }
        };
        for s in SOURCES {
            let got = read(&session, s.path, s.shape).await?;
            trail(s.field, &session);
            unread.note(s.field, &got, s.absent);
            if let Read::Got(v) = got {
                doc.insert(s.field.into(), v);
            }
        }
        // Defender's protection state, from Intune's DefenderAgents report (one export job per
        // run), onto the Windows devices it lists. Refused, unlicensed, failed or unfinished:
        // the reason is kept and the Defender checks answer "no visibility" with it.
        if let Some(Value::Array(devices)) = doc.get_mut("managedDevices") {
            let windows = devices
                .iter()
                .any(|d| d["operatingSystem"].as_str().is_some_and(|os| os.eq_ignore_ascii_case("windows")));
            if windows {
                let got = match defender_agents::export(&session).await {
                    Ok(Export::Read(states)) => {
                        defender_agents::attach(devices, &states);
                        None
                    }
                    Ok(Export::Unusable(why)) => Some(why),
                    Err(e) => match tolerate(e)? {
                        Read::Got(_) | Read::Absent => None,
                        Read::Unlicensed(why) => Some(not_licensed(&why)),
                        Read::Refused(why) => Some(why),
                    },
                };
                trail("managedDevices", &session);
                if let Some(why) = got {
                    tracing::warn!(
                        reason = why.as_str(),
                        "Defender agents report not read; its checks get no visibility"
                    );
                    unread.reasons.insert(defender_agents::REASON_KEY.into(), why);
                }
            }
        }
        // Role-assignable groups holding a role: each member holds it, so the members are read
        // (once per group) into the principal, as Graph's `transitiveMembers`.
        if let Some(Value::Array(assignments)) = doc.get_mut("roleAssignments") {
            let mut members: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
            for a in assignments.iter_mut() {
                let Some(principal) = a.get_mut("principal") else { continue };
                let is_group = principal["@odata.type"].as_str().is_some_and(|t| t.ends_with("graph.group"));
                let Some(id) = principal["id"].as_str().filter(|_| is_group).map(str::to_string) else { continue };
                if !members.contains_key(&id) {
                    let got = read(&session, &GROUP_MEMBERS.replace("{id}", &id), Shape::All).await?;
                    trail("roleAssignments", &session);
                    unread.note("roleAssignments", &got, Absent::Unread);
                    members.insert(id.clone(), if let Read::Got(v) = got { v } else { Value::Null });
                }
                if !members[&id].is_null() {
                    principal["transitiveMembers"] = members[&id].clone();
                }
            }
        }
        // Each intent's settings (an intent lists none itself).
        if let Some(Value::Array(intents)) = doc.get_mut("intents") {
            for intent in intents.iter_mut() {
                let Some(id) = intent["id"].as_str().map(str::to_string) else { continue };
                let got = read(&session, &INTENT_SETTINGS.replace("{id}", &id), Shape::All).await?;
                trail("intents", &session);
                unread.note("intents", &got, Absent::Unread);
                if let Read::Got(v) = got {
                    intent["settings"] = v;
                }
            }
        }
        // Sign-in activity needs Entra ID P1 and audit-log permission; without them the
        // users are still worth reading.
        let users = match read(&session, USERS_WITH_SIGN_INS, Shape::All).await? {
            Read::Got(v) => Read::Got(v),
            Read::Absent | Read::Refused(_) | Read::Unlicensed(_) => read(&session, USERS, Shape::All).await?,
        };
        trail("users", &session);
        unread.note("users", &users, Absent::Unread);
        if let Read::Got(v) = users {
            doc.insert("users".into(), v);
        }
        let settings = read(&session, DEVICE_MANAGEMENT_SETTINGS, Shape::Object).await?;
        trail("deviceManagementSettings", &session);
        match settings {
            Read::Got(mut v) => {
                let settings = v.get_mut("settings").map(Value::take).map(|v| {
                    if v.is_object() {
                        v
                    } else {
                        Value::Object(Map::new())
                    }
                });
                if let Some(Value::Object(mut settings)) = settings {
                    settings.retain(|_, v| !v.is_null());
                    doc.insert("deviceManagementSettings".into(), Value::Object(settings));
                }
            }
            other => unread.note("deviceManagementSettings", &other, Absent::Omit),
        }
        let backup = read(&session, BACKUP_RESTORE, Shape::Object).await?;
        trail("backupRestore", &session);
        match backup {
            Read::Got(mut backup) => {
                let policies = read(&session, "/v1.0/solutions/backupRestore/protectionPolicies", Shape::All).await?;
                trail("backupRestore", &session);
                match policies {
                    Read::Got(policies) => backup["protectionPolicies"] = policies,
                    other => unread.note("backupRestore", &other, Absent::Omit),
                }
                doc.insert("backupRestore".into(), backup);
            }
            other => unread.note("backupRestore", &other, Absent::Omit),
        }
        // The audit switches live in Exchange Online's admin API, not Graph: not read here.
        doc.insert("tenantId".into(), Value::String(tenant_id.to_string()));
        doc.insert("collectedAt".into(), Value::from(self.clock.now().unix()));
        doc.insert("unread".into(), Value::from(unread.fields));
        doc.insert("requests".into(), Value::from(requests));
        doc.insert("unreadReasons".into(), serde_json::to_value(unread.reasons).unwrap_or_default());
        serde_json::from_value(Value::Object(doc))
            .map_err(|e| CollectError::Failed(format!("Microsoft Graph returned data of an unexpected shape: {e}")))
    }
}
