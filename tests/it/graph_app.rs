//! The Graph app's permissions (`shared::assess::permissions`) against what the collector
//! really requests and what `docs/graph-app.md` tells an operator to configure: the three stay
//! in step.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;
use shared::assess::collect::{Collector, GraphCollector};
use shared::assess::permissions::{needed_for, reads_match, PERMISSIONS};
use shared::domain::time::ManualClock;
use shared::graph::{GraphClient, GraphConfig, Sleeper};
use tests::stub::{Reply, Stub};
use tests::T0;

const TENANT: &str = "5d2e6a1b-0000-4000-8000-000000000001";

struct NoWait;

#[async_trait::async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, _: std::time::Duration) {}
}

/// The Graph requests (path and query) the collector makes for one tenant against a stub
/// where every read answers an empty collection, except sign-in activity when
/// `refuse_sign_ins` (400, so the collector reads the users again without it). Which requests
/// are made does not depend on the data, except the backup policies, read only when the
/// backup service answers (it does here), a group's members, read only for a group holding a
/// role, and an intent's settings, read per intent (one of each is served).
async fn requests_with(refuse_sign_ins: bool) -> Vec<String> {
    let stub = Stub::start(move |s| {
        if s.target.ends_with("/oauth2/v2.0/token") {
            Reply::json(200, json!({ "access_token": "tok", "expires_in": 3599 }))
        } else if refuse_sign_ins && s.target.contains("signInActivity") {
            Reply::json(400, json!({ "error": { "code": "BadRequest", "message": "no sign-in activity" } }))
        } else if s.target.starts_with("/v1.0/roleManagement/directory/roleAssignments?") {
            let group = json!({ "@odata.type": "#microsoft.graph.group", "id": "g1", "displayName": "Admins" });
            Reply::json(
                200,
                json!({ "value": [{ "id": "a1", "roleDefinitionId": "r", "principalId": "g1", "principal": group }] }),
            )
        } else if s.target.starts_with("/beta/deviceManagement/intents?") {
            Reply::json(200, json!({ "value": [{ "id": "i1", "displayName": "ASR" }] }))
        } else {
            Reply::json(200, json!({ "value": [] }))
        }
    })
    .await;
    let config = GraphConfig {
        login_base: stub.base.clone(),
        graph_base: stub.base.clone(),
        client_id: "app".into(),
        client_secret: "secret".into(),
        max_attempts: 1,
        max_wait_per_request: std::time::Duration::from_secs(1),
    };
    let collector =
        GraphCollector::new(GraphClient::new(config, Arc::new(NoWait)).unwrap(), Arc::new(ManualClock::at(T0)));
    // The snapshot may not parse from empty answers; only the requests matter here.
    let _ = collector.collect(TENANT).await;
    stub.seen().into_iter().map(|s| s.target).filter(|t| !t.ends_with("/oauth2/v2.0/token")).collect()
}

/// Every Graph request of the collector, over a collection where every read answers and one
/// where sign-in activity is refused.
async fn collector_requests() -> BTreeSet<String> {
    let mut all: BTreeSet<String> = requests_with(false).await.into_iter().collect();
    all.extend(requests_with(true).await);
    all
}

#[tokio::test]
async fn every_graph_read_of_the_collector_is_covered_by_a_listed_permission() {
    let requests = collector_requests().await;
    assert!(requests.len() >= 20, "the collector reads every area: {requests:#?}");
    assert!(requests.iter().any(|t| t.contains("signInActivity")), "{requests:#?}");
    assert!(requests.iter().any(|t| t.starts_with("/v1.0/users?") && !t.contains("signInActivity")), "{requests:#?}");
    // A read is covered when a permission names its path (a permission named only for a
    // `$select`ed property does not cover the rest of the object).
    let uncovered: Vec<&String> = requests
        .iter()
        .filter(|t| !PERMISSIONS.iter().any(|p| p.reads.iter().any(|e| !e.contains('?') && reads_match(e, t))))
        .collect();
    assert!(uncovered.is_empty(), "reads no listed permission covers: {uncovered:#?}");
    // Every read names at least one permission, and sign-in activity needs AuditLog.Read.All.
    let with_sign_ins = requests.iter().find(|t| t.contains("signInActivity")).unwrap();
    let names: Vec<&str> = needed_for(with_sign_ins).iter().map(|p| p.name).collect();
    assert_eq!(names, ["User.Read.All", "AuditLog.Read.All"]);
}

#[tokio::test]
async fn every_listed_permission_is_used_by_a_read_of_the_collector() {
    let requests = collector_requests().await;
    for p in PERMISSIONS {
        for entry in p.reads {
            assert!(
                requests.iter().any(|t| reads_match(entry, t)),
                "{} lists {entry}, which the collector never reads: {requests:#?}",
                p.name
            );
        }
    }
}

/// The rows of the permissions table in `docs/graph-app.md`: the permission (first cell, in
/// backticks) and the reads (second cell, each in backticks).
fn documented() -> Vec<(String, Vec<String>)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/graph-app.md"))
        .expect("docs/graph-app.md exists");
    let ticked = |cell: &str| -> Vec<String> { cell.split('`').skip(1).step_by(2).map(str::to_string).collect() };
    doc.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let name = ticked(cells[0]).into_iter().next().unwrap_or_default();
            (name, ticked(cells.get(1).copied().unwrap_or_default()))
        })
        .collect()
}

#[test]
fn the_graph_app_document_lists_exactly_the_permissions_in_code() {
    let rows = documented();
    let in_doc: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    let in_code: Vec<&str> = PERMISSIONS.iter().map(|p| p.name).collect();
    assert_eq!(in_doc, in_code, "docs/graph-app.md's table, in order");
    for (p, (_, reads)) in PERMISSIONS.iter().zip(&rows) {
        let reads: Vec<&str> = reads.iter().map(String::as_str).collect();
        assert_eq!(reads, p.reads, "the reads documented for {}", p.name);
    }
}

#[test]
fn a_selected_property_needs_its_own_permission() {
    let names = |t: &str| needed_for(t).iter().map(|p| p.name).collect::<Vec<_>>();
    assert_eq!(names("/v1.0/users?$select=id,displayName"), ["User.Read.All"]);
    assert_eq!(names("/v1.0/users?$select=id,signInActivity"), ["User.Read.All", "AuditLog.Read.All"]);
    assert_eq!(names("/v1.0/deviceManagement?$select=settings"), ["DeviceManagementConfiguration.Read.All"]);
    assert!(names("/v1.0/groups").is_empty());
}

#[test]
fn each_permission_is_listed_once_and_only_reads() {
    let mut names: Vec<&str> = PERMISSIONS.iter().map(|p| p.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), PERMISSIONS.len());
    assert!(PERMISSIONS.iter().all(|p| p.name.contains(".Read.") && !p.name.contains("Write")), "read-only");
}
