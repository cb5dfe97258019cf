//! Collecting a [`TenantSnapshot`]: the `Collector` port and its two adapters, Microsoft
//! Graph (app-only, per customer tenant) and the demo fixtures (dev server and tests).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

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

/// What to do when the tenant lacks the licence (or the feature is not provisioned).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Absent {
    /// Leave the field out: an `Option` field stays `None`, a list stays empty.
    Omit,
    /// Leave it out and say so in `unread`, so the checks that read it answer "no visibility".
    Unread,
}

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
    // PIM needs Entra ID P2: without it nothing can be eligible.
    src(
        "roleEligibilitySchedules",
        "/v1.0/roleManagement/directory/roleEligibilitySchedules",
        Shape::All,
        Absent::Omit,
    ),
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
    /// Not there for this tenant (404, 400, or no licence for the feature).
    Absent,
    /// Graph refused this area (403): a permission or licence for it is missing. The snapshot
    /// names the field in `unread` (and Graph's answer in `unreadReasons`), so the checks that
    /// need it answer "no visibility" instead of judging data that was never seen.
    Refused(String),
}

fn tolerate(e: GraphError) -> Result<Read, CollectError> {
    match e {
        GraphError::NotLicensed(_) | GraphError::Http { status: 400 | 404, .. } => Ok(Read::Absent),
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

impl Unread {
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
            match got {
                Read::Got(v) => {
                    doc.insert(s.field.into(), v);
                }
                Read::Absent if s.absent == Absent::Omit => {}
                Read::Absent => unread.add(s.field, "not found for this tenant (404)"),
                Read::Refused(why) => unread.add(s.field, &why),
            }
        }
        // Sign-in activity needs Entra ID P1 and audit-log permission; without them the
        // users are still worth reading.
        let users = match read(&session, USERS_WITH_SIGN_INS, Shape::All).await? {
            Read::Got(v) => Read::Got(v),
            Read::Absent | Read::Refused(_) => read(&session, USERS, Shape::All).await?,
        };
        trail("users", &session);
        match users {
            Read::Got(v) => {
                doc.insert("users".into(), v);
            }
            Read::Absent => unread.add("users", "not found for this tenant (404)"),
            Read::Refused(why) => unread.add("users", &why),
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
            Read::Absent => {}
            Read::Refused(why) => unread.add("deviceManagementSettings", &why),
        }
        let backup = read(&session, BACKUP_RESTORE, Shape::Object).await?;
        trail("backupRestore", &session);
        match backup {
            Read::Got(mut backup) => {
                let policies = read(&session, "/v1.0/solutions/backupRestore/protectionPolicies", Shape::All).await?;
                trail("backupRestore", &session);
                match policies {
                    Read::Got(policies) => backup["protectionPolicies"] = policies,
                    Read::Absent => {}
                    Read::Refused(why) => unread.add("backupRestore", &why),
                }
                doc.insert("backupRestore".into(), backup);
            }
            Read::Absent => {}
            Read::Refused(why) => unread.add("backupRestore", &why),
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
