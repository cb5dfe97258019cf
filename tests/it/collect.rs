//! Collecting and assessing for real: the Graph collector against a local stub serving
//! recorded Graph responses (built from the hardened demo tenant), and the engine behind the
//! runner on the demo tenants.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use http::Method;
use serde_json::{json, Value};
use shared::assess::assessor::EngineAssessor;
use shared::assess::collect::{CollectError, Collector, FixtureCollector, GraphCollector};
use shared::assess::fixtures::{demo_fixture, demo_fixture_name};
use shared::assess::snapshot::Field;
use shared::assess::{evaluate, TenantSnapshot};
use shared::domain::time::ManualClock;
use shared::graph::{GraphClient, GraphConfig, Sleeper};
use shared::queue::Ack;
use shared::runner::Assessor;
use tests::stub::{Reply, Stub};
use tests::*;

const TENANT: &str = "5d2e6a1b-0000-4000-8000-000000000001";
const NO_CONSENT: &str = "5d2e6a1b-0000-4000-8000-000000000002";

struct NoWait;

#[async_trait::async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, _: std::time::Duration) {}
}

/// The hardened tenant as Graph would serve it: each snapshot field at its endpoint.
fn recorded() -> Value {
    serde_json::from_str(include_str!("../../shared/fixtures/tenants/hardened.json")).unwrap()
}

#[derive(Clone, Copy, PartialEq)]
enum Trouble {
    None,
    /// `/deviceManagement/managedDevices` answers 429 twice before serving.
    Throttle,
    /// Conditional Access answers 403 Authorization_RequestDenied (the permission is missing).
    MissingPermission,
    /// Microsoft 365 Backup answers 403: it serves only apps registered as its controller.
    BackupForbidden,
    /// Microsoft 365 Backup answers 401 with a valid token.
    BackupUnauthorized,
    /// Access reviews answer 400 naming the missing Entra ID P2 licence (as Graph does for
    /// P2-only APIs).
    ReviewsUnlicensed,
    /// Intune's device configurations answer 404: the feature is not there.
    ProfilesAbsent,
    /// A role-assignable group holds Security Administrator (standing); its members (one
    /// nested group deep) are served at `/groups/{id}/transitiveMembers`.
    GroupRole,
    /// Intune's DefenderAgents export job ends `failed`.
    ExportFails,
    /// The export job stays `inProgress` however long it is polled.
    ExportNeverCompletes,
    /// Creating the export job answers 403 (DeviceManagementManagedDevices.Read.All missing).
    ExportRefused,
}

/// The export job's id, as Intune names them.
const EXPORT_JOB: &str = "DefenderAgents_9f3c2a1e-7b4d-4c1a-9e2f-000000000001";

/// Intune's DefenderAgents report for the recorded managed devices, as its export file is: a
/// ZIP holding one CSV (byte-order mark, the selected columns, `True`/`False`).
fn defender_agents_zip(devices: &Value) -> Vec<u8> {
    let mut csv = String::from("\u{feff}DeviceId,DeviceName,MalwareProtectionEnabled,RealTimeProtectionEnabled,SignatureUpdateOverdue,SignatureVersion\r\n");
    let b = |v: &Value| match v.as_bool() {
        Some(true) => "True",
        Some(false) => "False",
        None => "",
    };
    for d in devices.as_array().unwrap() {
        let w = &d["windowsProtectionState"];
        if w.is_null() {
            continue;
        }
        csv.push_str(&format!(
            "{},\"{}\",{},{},{},{}\r\n",
            d["id"].as_str().unwrap(),
            d["deviceName"].as_str().unwrap(),
            b(&w["malwareProtectionEnabled"]),
            b(&w["realTimeProtectionEnabled"]),
            b(&w["signatureUpdateOverdue"]),
            w["signatureVersion"].as_str().unwrap_or("")
        ));
    }
    zip_of("DefenderAgents_9f3c2a1e.csv", csv.as_bytes())
}

/// A ZIP (deflated) holding one file.
pub(crate) fn zip_of(name: &str, content: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(name, options).unwrap();
    zip.write_all(content).unwrap();
    zip.finish().unwrap().into_inner()
}

async fn graph_stub(trouble: Trouble) -> (Stub, Arc<AtomicU32>) {
    let fx = recorded();
    let throttled = Arc::new(AtomicU32::new(0));
    let t2 = throttled.clone();
    let polled = Arc::new(AtomicU32::new(0));
    let stub = Stub::start(move |s| {
        let target = s.target.as_str();
        if target.ends_with("/oauth2/v2.0/token") {
            return if target.starts_with(&format!("/{TENANT}/")) {
                Reply::json(200, json!({ "access_token": "tok", "expires_in": 3599 }))
            } else {
                Reply::json(400, json!({ "error": "invalid_client", "error_description": "AADSTS7000229: The client application is missing service principal in the tenant.", "error_codes": [7000229] }))
            };
        }
        let host = s.headers["host"].to_str().unwrap().to_string();
        let list = |field: &str| Reply::json(200, json!({ "value": fx[field].clone() }));
        let path = target.split('?').next().unwrap();
        match path {
            "/v1.0/organization" => Reply::json(200, json!({ "value": [fx["organization"].clone()] })),
            "/v1.0/users" => {
                // Two pages, joined by @odata.nextLink.
                let users = fx["users"].as_array().unwrap().clone();
                if target.contains("skiptoken") {
                    Reply::json(200, json!({ "value": users[8..] }))
                } else {
                    Reply::json(200, json!({ "value": users[..8], "@odata.nextLink": format!("http://{host}/v1.0/users?$skiptoken=p2") }))
                }
            }
            "/beta/deviceManagement/managedDevices" if trouble == Trouble::Throttle && t2.fetch_add(1, Ordering::SeqCst) < 2 => {
                let mut r = Reply::json(429, json!({ "error": { "code": "TooManyRequests", "message": "throttled" } }));
                r.headers.push(("retry-after", "3".into()));
                r
            }
            "/v1.0/identity/conditionalAccess/policies" if trouble == Trouble::MissingPermission => Reply::json(
                403,
                json!({ "error": { "code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation." } }),
            ),
            "/v1.0/solutions/backupRestore" if trouble == Trouble::BackupForbidden => Reply::json(
                403,
                json!({ "error": { "code": "Forbidden", "message": "The application is not registered as a backup controller for this tenant." } }),
            ),
            "/v1.0/solutions/backupRestore" if trouble == Trouble::BackupUnauthorized => Reply::json(
                401,
                json!({ "error": { "code": "UnknownError", "message": "Unauthorized" } }),
            ),
            "/v1.0/identityGovernance/accessReviews/definitions" if trouble == Trouble::ReviewsUnlicensed => Reply::json(
                400,
                json!({ "error": { "code": "BadRequest", "message": "The tenant needs an AAD Premium 2 license." } }),
            ),
            "/beta/deviceManagement/deviceConfigurations" if trouble == Trouble::ProfilesAbsent => {
                Reply::json(404, json!({ "error": { "code": "ResourceNotFound", "message": "Resource not found" } }))
            }
            "/v1.0/subscribedSkus" => list("subscribedSkus"),
            "/v1.0/devices" => list("devices"),
            "/v1.0/identity/conditionalAccess/policies" => list("conditionalAccessPolicies"),
            "/v1.0/reports/authenticationMethods/userRegistrationDetails" => list("userRegistrationDetails"),
            "/v1.0/roleManagement/directory/roleAssignments" if trouble == Trouble::GroupRole => {
                let mut assignments = fx["roleAssignments"].clone();
                assignments.as_array_mut().unwrap().push(json!({
                    "id": "ga-1", "roleDefinitionId": "194ae4cb-b126-40b2-bd5b-6091b380977d", "principalId": "g-sec",
                    "directoryScopeId": "/",
                    "principal": { "@odata.type": "#microsoft.graph.group", "id": "g-sec", "displayName": "Security admins" }
                }));
                Reply::json(200, json!({ "value": assignments }))
            }
            "/v1.0/groups/g-sec/transitiveMembers" => Reply::json(200, json!({ "value": [
                { "@odata.type": "#microsoft.graph.group", "id": "g-nested", "displayName": "Nested" },
                { "@odata.type": "#microsoft.graph.user", "id": "u-jo", "displayName": "Jo", "userPrincipalName": "jo@harbourviewlegal.com.au" }
            ] })),
            "/v1.0/roleManagement/directory/roleAssignments" => list("roleAssignments"),
            "/v1.0/roleManagement/directory/roleEligibilitySchedules" => list("roleEligibilitySchedules"),
            "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances" => list("roleAssignmentScheduleInstances"),
            "/v1.0/identityGovernance/accessReviews/definitions" => list("accessReviewDefinitions"),
            "/beta/deviceManagement/deviceEnrollmentConfigurations" => list("deviceEnrollmentConfigurations"),
            // An intent is listed without its settings; they are its own collection.
            "/beta/deviceManagement/intents" => {
                let mut intents = fx["intents"].clone();
                for i in intents.as_array_mut().unwrap() {
                    i.as_object_mut().unwrap().remove("settings");
                }
                Reply::json(200, json!({ "value": intents }))
            }
            p if p.starts_with("/beta/deviceManagement/intents/") && p.ends_with("/settings") => {
                let id = p.split('/').nth(4).unwrap();
                let intent = fx["intents"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap();
                Reply::json(200, json!({ "value": intent["settings"].clone() }))
            }
            "/beta/deviceManagement/windowsFeatureUpdateProfiles" => list("windowsFeatureUpdateProfiles"),
            "/beta/deviceManagement/windowsQualityUpdateProfiles" => list("windowsQualityUpdateProfiles"),
            "/beta/deviceManagement/windowsDriverUpdateProfiles" => list("windowsDriverUpdateProfiles"),
            "/beta/deviceManagement/deviceConfigurations" => list("deviceConfigurations"),
            "/beta/deviceManagement/deviceCompliancePolicies" => list("deviceCompliancePolicies"),
            "/beta/deviceManagement/configurationPolicies" => list("configurationPolicies"),
            // Graph's list carries no protection state: that comes from the DefenderAgents export.
            "/beta/deviceManagement/managedDevices" => {
                let mut devices = fx["managedDevices"].clone();
                for d in devices.as_array_mut().unwrap() {
                    d.as_object_mut().unwrap().remove("windowsProtectionState");
                }
                Reply::json(200, json!({ "value": devices }))
            }
            "/beta/deviceManagement/reports/exportJobs" if trouble == Trouble::ExportRefused => Reply::json(
                403,
                json!({ "error": { "code": "Forbidden", "message": "Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementManagedDevices.Read.All" } }),
            ),
            "/beta/deviceManagement/reports/exportJobs" => Reply::json(
                201,
                json!({ "id": EXPORT_JOB, "reportName": "DefenderAgents", "format": "csv", "status": "notStarted", "url": null, "select": s_body(s)["select"].clone() }),
            ),
            p if p == format!("/beta/deviceManagement/reports/exportJobs('{EXPORT_JOB}')") => {
                let polls = polled.fetch_add(1, Ordering::SeqCst);
                let status = match trouble {
                    Trouble::ExportFails => "failed",
                    Trouble::ExportNeverCompletes => "inProgress",
                    // The first poll finds it still running.
                    _ if polls == 0 => "inProgress",
                    _ => "completed",
                };
                let url = (status == "completed").then(|| format!("http://{host}/blob/exports/{EXPORT_JOB}.zip?sv=2024&sig=abc"));
                Reply::json(200, json!({ "id": EXPORT_JOB, "reportName": "DefenderAgents", "format": "csv", "status": status, "url": url }))
            }
            p if p == format!("/blob/exports/{EXPORT_JOB}.zip") => {
                Reply::bytes(200, "application/zip", defender_agents_zip(&fx["managedDevices"]))
            }
            "/v1.0/security/secureScores" => list("secureScores"),
            "/v1.0/identityProtection/riskyUsers" => list("riskyUsers"),
            "/v1.0/security/alerts_v2" => list("alerts"),
            "/v1.0/solutions/backupRestore/protectionPolicies" => {
                Reply::json(200, json!({ "value": fx["backupRestore"]["protectionPolicies"].clone() }))
            }
            "/v1.0/deviceManagement" => Reply::json(200, json!({ "settings": fx["deviceManagementSettings"].clone() })),
            "/v1.0/policies/authorizationPolicy" => Reply::json(200, fx["authorizationPolicy"].clone()),
            "/v1.0/policies/adminConsentRequestPolicy" => Reply::json(200, fx["adminConsentRequestPolicy"].clone()),
            "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy" => {
                Reply::json(200, fx["identitySecurityDefaultsEnforcementPolicy"].clone())
            }
            "/v1.0/policies/authenticationMethodsPolicy" => Reply::json(200, fx["authenticationMethodsPolicy"].clone()),
            "/v1.0/admin/sharepoint/settings" => Reply::json(200, fx["sharepointSettings"].clone()),
            "/v1.0/solutions/backupRestore" => {
                let mut b = fx["backupRestore"].clone();
                b.as_object_mut().unwrap().remove("protectionPolicies");
                Reply::json(200, b)
            }
            _ => Reply::json(404, json!({ "error": { "code": "NotFound", "message": format!("no recording for {target}") } })),
        }
    })
    .await;
    (stub, throttled)
}

/// A request's JSON body.
fn s_body(s: &tests::stub::Seen) -> Value {
    serde_json::from_slice(&s.body).unwrap_or(Value::Null)
}

fn collector(stub: &Stub) -> GraphCollector {
    let config = GraphConfig {
        login_base: stub.base.clone(),
        graph_base: stub.base.clone(),
        client_id: "app".into(),
        client_secret: "secret".into(),
        max_attempts: 4,
        max_wait_per_request: std::time::Duration::from_secs(60),
    };
    GraphCollector::new(GraphClient::new(config, Arc::new(NoWait)).unwrap(), Arc::new(ManualClock::at(T0)))
}

#[tokio::test]
async fn graph_collector_builds_the_snapshot_from_recorded_responses() {
    let (stub, _) = graph_stub(Trouble::None).await;
    let snap = collector(&stub).collect(TENANT).await.unwrap();
    let fx: TenantSnapshot = serde_json::from_value(recorded()).unwrap();
    assert_eq!(snap.tenant_id, TENANT);
    assert_eq!(snap.collected_at, T0);
    assert_eq!(snap.users, fx.users, "both pages of users, in order");
    assert_eq!(snap.organization, fx.organization);
    assert_eq!(snap.conditional_access_policies, fx.conditional_access_policies);
    assert_eq!(snap.role_assignments, fx.role_assignments);
    assert_eq!(snap.managed_devices, fx.managed_devices);
    assert_eq!(snap.device_management_settings, fx.device_management_settings);
    assert_eq!(snap.backup_restore, fx.backup_restore);
    assert_eq!(snap.identity_security_defaults_enforcement_policy, fx.identity_security_defaults_enforcement_policy);
    // The settings catalog is read from beta, settings and assignments in Graph's shape.
    assert_eq!(snap.configuration_policies, fx.configuration_policies);
    assert_eq!(snap.device_configurations, fx.device_configurations);
    // The reads added for issue 11: PIM's activations, access reviews, Windows Hello, the
    // template policies with their settings (read one by one), the update policies.
    assert_eq!(snap.role_assignment_schedule_instances, fx.role_assignment_schedule_instances);
    assert_eq!(snap.access_review_definitions, fx.access_review_definitions);
    assert_eq!(snap.device_enrollment_configurations, fx.device_enrollment_configurations);
    assert_eq!(snap.intents, fx.intents);
    assert!(!snap.intents[0].settings.is_empty());
    assert_eq!(snap.windows_feature_update_profiles, fx.windows_feature_update_profiles);
    assert_eq!(snap.windows_quality_update_profiles, fx.windows_quality_update_profiles);
    assert_eq!(snap.windows_driver_update_profiles, fx.windows_driver_update_profiles);
    assert!(snap.unread.is_empty(), "{:?}", snap.unread);
    assert!(snap.admin_audit_log_config.is_none());
    // Every Graph request carried the tenant's token; the token request went to the tenant;
    // the export file's pre-signed URL got no token (it is not Graph).
    let seen = stub.seen();
    assert_eq!(seen[0].target, format!("/{TENANT}/oauth2/v2.0/token"));
    let (blob, graph): (Vec<_>, Vec<_>) = seen[1..].iter().partition(|r| r.target.starts_with("/blob/"));
    assert!(graph.iter().all(|r| r.headers["authorization"] == "Bearer tok"));
    assert_eq!(blob.len(), 1, "the export file is downloaded once");
    assert!(!blob[0].headers.contains_key("authorization"), "the Graph token went to the blob URL");
    // Defender's protection state came from the DefenderAgents export (the list has none):
    // one job asking the report's columns as CSV, polled until completed.
    let job = graph.iter().find(|r| r.method == Method::POST).unwrap();
    assert_eq!(job.target, "/beta/deviceManagement/reports/exportJobs");
    assert_eq!(
        s_body(job),
        json!({ "reportName": "DefenderAgents", "format": "csv", "select": ["DeviceId", "DeviceName", "MalwareProtectionEnabled", "RealTimeProtectionEnabled", "SignatureUpdateOverdue", "SignatureVersion"] })
    );
    assert_eq!(graph.iter().filter(|r| r.target.contains("exportJobs('")).count(), 2, "in progress, then completed");
    assert!(snap.managed_devices.iter().any(|d| d.windows_protection_state.is_some()));
    assert!(snap.unread_reasons.is_empty(), "{:?}", snap.unread_reasons);

    // Evaluated, it scores like the fixture except where the Exchange switches (not Graph)
    // make checks manual.
    let from_graph = evaluate("essential-eight", 3, &snap).unwrap();
    let from_fixture = evaluate("essential-eight", 3, &fx).unwrap();
    for r in &from_graph.results {
        let twin = from_fixture.results.iter().find(|f| f.id == r.id).unwrap();
        if r.status != twin.status {
            assert_eq!(serde_json::to_value(r.status).unwrap(), "manual", "{} changed for another reason", r.id);
            assert!(r.evidence.summary.contains("Exchange Online"), "{}: {}", r.id, r.evidence.summary);
        }
    }
}

#[tokio::test]
async fn graph_collector_waits_out_throttling() {
    let (stub, throttled) = graph_stub(Trouble::Throttle).await;
    let snap = collector(&stub).collect(TENANT).await.unwrap();
    assert_eq!(throttled.load(Ordering::SeqCst), 3, "two 429s, then served");
    assert_eq!(snap.managed_devices.len(), recorded()["managedDevices"].as_array().unwrap().len());
}

#[tokio::test]
async fn a_refused_token_is_missing_consent_and_a_refused_area_is_not() {
    let (stub, _) = graph_stub(Trouble::None).await;
    match collector(&stub).collect(NO_CONSENT).await {
        Err(CollectError::ConsentRequired(m)) => assert!(m.contains("AADSTS7000229"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A 403 on Conditional Access (its permission missing): the run is assessed, and the
    // snapshot says Conditional Access was not read, rather than that there is none.
    let (stub, _) = graph_stub(Trouble::MissingPermission).await;
    let snap = collector(&stub).collect(TENANT).await.unwrap();
    assert!(snap.conditional_access_policies.is_empty());
    assert!(snap.unread.contains(&"conditionalAccessPolicies".to_string()), "{:?}", snap.unread);
    assert!(snap.unread.iter().all(|u| Field::from_json_name(u).is_some()), "{:?}", snap.unread);
    let assessor = EngineAssessor::new(Arc::new(collector(&stub)));
    let assessed = assessor.assess(TENANT, "essential-eight", 3).await.expect("the run is not failed");
    // The Conditional Access checks answer no visibility (manual, not scored), not "no policy".
    let blind: Vec<&str> = assessed
        .report
        .findings
        .iter()
        .filter(|f| f.evidence.contains("Conditional Access policies (Microsoft Graph refused"))
        .map(|f| f.check_id.as_str())
        .collect();
    assert_eq!(blind, ["E8-MFA-01", "E8-MFA-02", "E8-MFA-04", "E8-MFA-05", "E8-MFA-07"]);
    for f in assessed.report.findings.iter().filter(|f| blind.contains(&f.check_id.as_str())) {
        assert_eq!(f.outcome.as_str(), "manual", "{}", f.check_id);
        assert!(f.evidence.starts_with("No visibility: "), "{}", f.evidence);
    }
    // The same tenant read in full: the checks it could judge judge it as before.
    let (stub, _) = graph_stub(Trouble::None).await;
    // Its emergency-access accounts declared (issue 18), as a customer of the hardened tenant would.
    let declared = shared::domain::context::TenantContext {
        emergency_access_accounts: crate::tenant_context::break_glass_of("hardened"),
        ..Default::default()
    };
    let seeing = EngineAssessor::new(Arc::new(collector(&stub)))
        .assess_in(TENANT, "essential-eight", 3, &Default::default(), &declared)
        .await
        .unwrap();
    for (now, was) in assessed.report.findings.iter().zip(&seeing.report.findings) {
        assert_eq!(now.check_id, was.check_id);
        if !blind.contains(&now.check_id.as_str()) {
            // The trail differs only by the stub's address inside the users' nextLink.
            let strip =
                |f: &shared::domain::run::Finding| shared::domain::run::Finding { collected: vec![], ..f.clone() };
            assert_eq!(strip(now), strip(was), "{} changed", now.check_id);
        }
    }
    // Seen, the same checks are judged (E8-MFA-07 fails: the tenant's admins alone have
    // phishing-resistant MFA), so "manual" above is the blindness, not the tenant.
    let judged: Vec<&str> = seeing
        .report
        .findings
        .iter()
        .filter(|f| blind.contains(&f.check_id.as_str()))
        .map(|f| f.outcome.as_str())
        .collect();
    assert_eq!(judged, ["pass", "pass", "pass", "pass", "fail"]);
}

/// Microsoft 365 Backup refusing the app (403: it serves only registered backup-controller
/// apps; or 401) closes that area only: the run completes, the backup checks answer "no
/// visibility" with Graph's reason, and consent is not touched.
#[tokio::test]
async fn a_refused_backup_area_is_no_visibility_with_its_reason_not_a_failed_run() {
    for (trouble, reason) in
        [(Trouble::BackupForbidden, "not registered as a backup controller"), (Trouble::BackupUnauthorized, "401")]
    {
        let (stub, _) = graph_stub(trouble).await;
        let snap = collector(&stub).collect(TENANT).await.expect("the area's refusal does not fail the collection");
        assert_eq!(snap.unread, vec!["backupRestore".to_string()]);
        assert!(snap.unread_reasons["backupRestore"].contains(reason), "{:?}", snap.unread_reasons);
        let assessed =
            EngineAssessor::new(Arc::new(collector(&stub))).assess(TENANT, "essential-eight", 3).await.unwrap();
        for id in ["E8-BAK-01", "E8-BAK-04"] {
            let f = assessed.report.findings.iter().find(|f| f.check_id == id).unwrap();
            assert_eq!(f.outcome.as_str(), "manual", "{id}");
            assert!(f.evidence.starts_with("No visibility: "), "{}", f.evidence);
            assert!(f.evidence.contains(reason), "{id}: {}", f.evidence);
        }
        // The runner completes the run and leaves consent granted.
        let h = Harness::new().await;
        let runner = h.runner(Arc::new(EngineAssessor::new(Arc::new(collector(&stub)))), 3);
        let c = h.customer("Backed up elsewhere", TENANT).await;
        let run = tests::helpers::run(&h, &c, "essential-eight").await;
        h.work(&runner).await;
        let done = h.partner(Method::GET, &format!("/assessments/{run}"), None).await;
        assert_eq!(done.body["status"], "completed", "{}", done.body);
        assert_eq!(h.partner(Method::GET, &format!("/customers/{c}/consent"), None).await.body["status"], "granted");
    }
}

/// A licence refusal (access reviews' 400 naming Entra ID P2, as Graph answers for P2-only
/// APIs) is no visibility for the checks that read the area, with the licence named in the
/// finding; a 404 on a collection is "none there" (the field stays empty and readable, and the
/// checks judge it).
#[tokio::test]
async fn a_licence_refusal_is_no_visibility_naming_the_licence_and_a_404_is_absent() {
    let (stub, _) = graph_stub(Trouble::ReviewsUnlicensed).await;
    let snap = collector(&stub).collect(TENANT).await.expect("a licence refusal does not fail the collection");
    assert_eq!(snap.unread, vec!["accessReviewDefinitions".to_string()]);
    let why = &snap.unread_reasons["accessReviewDefinitions"];
    assert!(why.starts_with("not licensed") && why.contains("AAD Premium 2 license"), "{why}");
    let assessed = EngineAssessor::new(Arc::new(collector(&stub))).assess(TENANT, "essential-eight", 3).await.unwrap();
    let f = assessed.report.findings.iter().find(|f| f.check_id == "E8-RAP-09").unwrap();
    assert_eq!(f.outcome.as_str(), "manual");
    assert!(f.evidence.starts_with("No visibility: "), "{}", f.evidence);
    assert!(f.evidence.contains("not licensed") && f.evidence.contains("AAD Premium 2 license"), "{}", f.evidence);
    // Its requirement has no Graph verdict: RA-ML2-01 is no visibility, not ineffective.
    let r = assessed.report.requirements.iter().find(|r| r.id == "RA-ML2-01").unwrap();
    assert_eq!(serde_json::to_value(r.outcome).unwrap(), "no_visibility", "{}", r.reason);
    // …and its reason names the licence Graph said was missing, not only the check.
    assert!(r.reason.contains("not licensed") && r.reason.contains("AAD Premium 2 license"), "{}", r.reason);

    let (stub, _) = graph_stub(Trouble::ProfilesAbsent).await;
    let snap = collector(&stub).collect(TENANT).await.unwrap();
    assert!(snap.unread.is_empty(), "{:?}", snap.unread);
    assert!(snap.device_configurations.is_empty());
    let assessed = EngineAssessor::new(Arc::new(collector(&stub))).assess(TENANT, "essential-eight", 3).await.unwrap();
    // No update ring exists, so the ring checks judge that (fail), not "no visibility".
    let f = assessed.report.findings.iter().find(|f| f.check_id == "E8-POS-01").unwrap();
    assert_eq!(f.outcome.as_str(), "fail", "{}", f.evidence);
}

/// A role held by a role-assignable group: the collector reads the group's transitive members
/// once, into the principal as Graph's `transitiveMembers`, and each member holds the role
/// (here a standing one, so just-in-time administration fails naming the member).
#[tokio::test]
async fn a_group_holding_a_role_is_read_with_its_transitive_members() {
    let (stub, _) = graph_stub(Trouble::GroupRole).await;
    let snap = collector(&stub).collect(TENANT).await.unwrap();
    let group = snap.role_assignments.iter().find(|a| a.principal_id == "g-sec").unwrap();
    let members = group.principal.as_ref().unwrap().transitive_members.as_ref().expect("members read");
    assert_eq!(members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["g-nested", "u-jo"]);
    let reads = stub.seen().iter().filter(|r| r.target.starts_with("/v1.0/groups/")).count();
    assert_eq!(reads, 1, "the group's members are read once");
    assert!(snap
        .requests
        .iter()
        .any(|r| r.field == "roleAssignments" && r.path.starts_with("/v1.0/groups/g-sec/transitiveMembers")));
    let assessed = EngineAssessor::new(Arc::new(collector(&stub))).assess(TENANT, "essential-eight", 3).await.unwrap();
    let f = assessed.report.findings.iter().find(|f| f.check_id == "E8-RAP-06").unwrap();
    assert_eq!(f.outcome.as_str(), "fail", "{}", f.evidence);
    assert!(f.details.as_ref().unwrap()["standingPrivileged"].to_string().contains("jo@harbourviewlegal.com.au"));
}

/// The runner on Microsoft Graph (a stub) for a tenant whose token is refused for missing
/// consent: the run fails `CONSENT_REQUIRED`, the customer's consent becomes `revoked` with
/// `customer.consent_updated`, and the next trigger answers `consent_required`.
#[tokio::test]
async fn a_refused_token_revokes_the_customers_consent() {
    let (stub, _) = graph_stub(Trouble::None).await;
    let h = Harness::new().await;
    let runner = h.runner(Arc::new(EngineAssessor::new(Arc::new(collector(&stub)))), 3);
    let c = h.customer("Withdrawn", NO_CONSENT).await;
    let ok = h.customer("Consented", TENANT).await;
    let run = tests::helpers::run(&h, &c, "essential-eight").await;
    let fine = tests::helpers::run(&h, &ok, "essential-eight").await;
    h.work(&runner).await;
    let failed = h.partner(Method::GET, &format!("/assessments/{run}"), None).await;
    assert_eq!(failed.body["status"], "failed");
    assert_eq!(failed.body["error"]["code"], "CONSENT_REQUIRED", "{}", failed.body);
    let consent = h.partner(Method::GET, &format!("/customers/{c}/consent"), None).await;
    assert_eq!(consent.body["status"], "revoked");
    let revoked: Vec<Value> = h
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind.as_str() == "customer.consent_updated")
        .map(|e| e.data)
        .filter(|d| d["status"] == "revoked")
        .collect();
    assert_eq!(revoked, vec![json!({ "customerId": c, "tenantId": NO_CONSENT, "status": "revoked" })]);
    let again = h.partner(Method::POST, "/assessments", Some(assessment_body(&c, "essential-eight"))).await;
    assert_eq!(again.assert_status(200)["status"], "consent_required");
    // The other customer's run completed and its consent is untouched.
    let done = h.partner(Method::GET, &format!("/assessments/{fine}"), None).await;
    assert_eq!(done.body["status"], "completed", "{}", done.body);
    assert_eq!(h.partner(Method::GET, &format!("/customers/{ok}/consent"), None).await.body["status"], "granted");
}

/// A run whose customer's consent is no longer granted when the runner takes it (withdrawn
/// while it waited) fails `CONSENT_REQUIRED` without the tenant being read at all.
#[tokio::test]
async fn a_run_whose_consent_lapsed_while_queued_reads_nothing() {
    let (stub, _) = graph_stub(Trouble::None).await;
    let h = Harness::new().await;
    let runner = h.runner(Arc::new(EngineAssessor::new(Arc::new(collector(&stub)))), 3);
    let c = h.customer("Moving", TENANT).await;
    let run = tests::helpers::run(&h, &c, "essential-eight").await;
    // The tenant changes before the runner takes the run: consent is pending again.
    h.partner(Method::PATCH, &format!("/customers/{c}"), Some(json!({ "tenantId": tenant(9) })))
        .await
        .assert_status(200);
    h.work(&runner).await;
    let failed = h.partner(Method::GET, &format!("/assessments/{run}"), None).await;
    assert_eq!(failed.body["error"]["code"], "CONSENT_REQUIRED", "{}", failed.body);
    assert!(stub.seen().is_empty(), "nothing was asked of Microsoft");
}

/// Tenant ids that the fixture picker maps to each demo tenant.
fn tenant_for(name: &str) -> String {
    (0..1000).map(tenant).find(|t| demo_fixture_name(t) == name).expect("some tenant maps to each fixture")
}

#[tokio::test]
async fn demo_tenants_score_clearly_differently_through_the_runner() {
    let h = Harness::new().await;
    let runner = h.runner(Arc::new(EngineAssessor::new(Arc::new(FixtureCollector))), 3);
    let mut scores = Vec::new();
    for name in ["hardened", "small-business", "neglected"] {
        let cid = h.customer(name, &tenant_for(name)).await;
        let r = h.partner(Method::POST, "/assessments", Some(assessment_body(&cid, "essential-eight"))).await;
        let id = r.assert_status(202)["id"].as_str().unwrap().to_string();
        assert_eq!(h.work(&runner).await, vec![Ack::Done]);
        let run = h.partner(Method::GET, &format!("/assessments/{id}"), None).await;
        let body = run.assert_status(200).clone();
        assert_eq!(body["status"], "completed", "{body}");
        // The numbers agree with the engine run directly on the same snapshot.
        let direct = evaluate("essential-eight", 1, &demo_fixture(name).unwrap()).unwrap();
        assert_eq!(body["score"], direct.score);
        assert_eq!(body["findings"], direct.findings.len());
        assert_eq!(body["critical"], direct.critical);
        assert_eq!(body["maturity"]["overall"], direct.maturity.as_ref().unwrap().overall);
        let f = h.partner(Method::GET, &format!("/assessments/{id}/findings"), None).await;
        assert_eq!(f.body["findings"].as_array().unwrap().len(), direct.results.len());
        assert!(f.body["findings"][0]["rationale"].as_str().is_some_and(|r| !r.is_empty()));
        scores.push(body["score"].as_u64().unwrap());
    }
    assert!(scores[0] >= scores[1] + 15 && scores[1] >= scores[2] + 15, "{scores:?}");
}

/// Findings carry `collected`: each Graph response of the fields the check reads (path and
/// query, time of the collection, SHA-256 of the raw body), every page of a paged read.
#[tokio::test]
async fn findings_name_the_graph_responses_they_rest_on() {
    let (stub, _) = graph_stub(Trouble::None).await;
    let assessed = EngineAssessor::new(Arc::new(collector(&stub))).assess(TENANT, "essential-eight", 3).await.unwrap();
    let finding = |id: &str| assessed.report.findings.iter().find(|f| f.check_id == id).unwrap().clone();
    let mfa = finding("E8-MFA-01");
    let paths: Vec<&str> = mfa.collected.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/v1.0/policies/identitySecurityDefaultsEnforcementPolicy", "/v1.0/identity/conditionalAccess/policies"]
    );
    for c in &mfa.collected {
        assert_eq!(c.at, T0.rfc3339());
        assert_eq!(c.sha256.len(), 64);
        assert!(c.sha256.chars().all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase()), "{}", c.sha256);
    }
    assert_ne!(mfa.collected[0].sha256, mfa.collected[1].sha256, "different bodies, different digests");
    // Both pages of the users read stand behind a check on the admins' accounts.
    let rap = finding("E8-RAP-04");
    assert_eq!(rap.collected.iter().filter(|c| c.path.starts_with("/v1.0/users")).count(), 2, "{:?}", rap.collected);
    // A check that reads nothing from Graph carries no trail.
    assert!(finding("E8-BAK-03").collected.is_empty());
}

/// Intune's DefenderAgents export that fails, never completes within the poll budget, or is
/// refused (403) leaves the Defender checks without visibility, saying why: the run completes,
/// the managed devices are still read, and polling stops at the bound (no real waiting: the
/// sleeper is injected).
#[tokio::test]
async fn a_defender_export_that_fails_times_out_or_is_refused_is_no_visibility_with_its_reason() {
    for (trouble, reason) in [
        (Trouble::ExportFails, "export job failed"),
        (Trouble::ExportNeverCompletes, "did not complete within 60 s"),
        (Trouble::ExportRefused, "DeviceManagementManagedDevices.Read.All"),
    ] {
        let (stub, _) = graph_stub(trouble).await;
        let snap = collector(&stub).collect(TENANT).await.expect("the export's trouble does not fail the collection");
        assert!(snap.unread.is_empty(), "{:?}", snap.unread);
        assert!(snap.unread_reasons["defenderAgents"].contains(reason), "{:?}", snap.unread_reasons);
        assert!(!snap.managed_devices.is_empty());
        assert!(snap.managed_devices.iter().all(|d| d.windows_protection_state.is_none()));
        let polls = stub.seen().iter().filter(|r| r.target.contains("exportJobs('")).count();
        assert!(polls <= 10, "{polls} polls");
        assert!(stub.seen().iter().all(|r| !r.target.starts_with("/blob/")), "nothing to download");
        let assessed =
            EngineAssessor::new(Arc::new(collector(&stub))).assess(TENANT, "essential-eight", 3).await.unwrap();
        let f = assessed.report.findings.iter().find(|f| f.check_id == "E8-PA-03").unwrap();
        assert_eq!(f.outcome.as_str(), "manual");
        assert!(f.evidence.starts_with("No visibility: "), "{}", f.evidence);
        assert!(f.evidence.contains(reason), "{}", f.evidence);
    }
}

/// The report's file is read as a stream out of the ZIP: 50,000 rows (a 20,000-device tenant
/// and then some) parse into 50,000 devices' states, booleans as Intune writes them.
#[test]
fn a_defender_agents_report_of_50k_rows_is_read_from_its_zip() {
    let mut csv = String::from("DeviceId,DeviceName,DeviceState,MalwareProtectionEnabled,RealTimeProtectionEnabled,SignatureUpdateOverdue,SignatureVersion,UPN\n");
    for i in 0..50_000 {
        let rtp = if i % 1000 == 0 { "False" } else { "True" };
        csv.push_str(&format!("dev-{i:05},PC-{i:05},Clean,True,{rtp},false,1.421.1234.0,user{i}@contoso.com\n"));
    }
    let file = zip_of("DefenderAgents.csv", csv.as_bytes());
    let started = std::time::Instant::now();
    let states = shared::assess::defender_agents::read_report(&file).unwrap();
    println!(
        "defender agents: {} rows, csv {} bytes, zip {} bytes, read in {:?}",
        states.len(),
        csv.len(),
        file.len(),
        started.elapsed()
    );
    assert_eq!(states.len(), 50_000);
    assert!(file.len() < csv.len() / 4, "the file is compressed ({} of {})", file.len(), csv.len());
    assert_eq!(states["dev-01000"].real_time_protection_enabled, Some(false));
    assert_eq!(states["dev-01001"].real_time_protection_enabled, Some(true));
    assert_eq!(states["dev-01001"].signature_update_overdue, Some(false));
    assert_eq!(states["dev-01001"].signature_version.as_deref(), Some("1.421.1234.0"));
    // Not a ZIP, or a ZIP without a CSV: unusable, in words.
    assert!(shared::assess::defender_agents::read_report(b"not a zip").unwrap_err().contains("could not be read"));
    assert!(shared::assess::defender_agents::read_report(&zip_of("readme.txt", b"x")).unwrap_err().contains("no CSV"));
}

/// The export file is fetched only over https in production (Graph's base is https): a plain
/// http URL is refused before any request, and the token never leaves for it.
#[tokio::test]
async fn an_export_file_url_that_is_not_https_is_refused() {
    let (stub, _) = graph_stub(Trouble::None).await;
    let config = GraphConfig {
        login_base: stub.base.clone(),
        graph_base: "https://graph.microsoft.com".into(),
        client_id: "app".into(),
        client_secret: "secret".into(),
        max_attempts: 1,
        max_wait_per_request: std::time::Duration::from_secs(1),
    };
    let client = GraphClient::new(config, Arc::new(NoWait)).unwrap();
    let session = client.session(TENANT).await.unwrap();
    let before = stub.seen().len();
    let err = session.download(&format!("{}/blob/exports/{EXPORT_JOB}.zip", stub.base), 1 << 20).await.unwrap_err();
    assert!(err.to_string().contains("not https"), "{err}");
    assert_eq!(stub.seen().len(), before, "nothing was fetched");
}
