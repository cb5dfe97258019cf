//! Big tenants (issue 11, point 6): a finding lists at most 100 names with the full count
//! beside them, and a tenant of tens of thousands of users and devices completes.

use http::Method;
use serde_json::{json, Value};
use tests::*;

/// Every list in a finding's details, with the count beside it: (finding, list, entries, count).
fn detail_lists(findings: &[Value]) -> Vec<(String, String, usize, Option<u64>)> {
    let mut out = Vec::new();
    for f in findings {
        let Some(details) = f["details"].as_object() else { continue };
        for (name, value) in details {
            if let Some(items) = value.as_array() {
                let count = details.get(&format!("{name}Count")).and_then(Value::as_u64);
                out.push((f["checkId"].as_str().unwrap().to_string(), name.clone(), items.len(), count));
            }
        }
    }
    out
}

async fn all_findings(h: &Harness, run_id: &str) -> Vec<Value> {
    let mut findings = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/assessments/{run_id}/findings?limit=100"),
            Some(c) => format!("/assessments/{run_id}/findings?limit=100&cursor={c}"),
        };
        let page = h.partner(Method::GET, &path, None).await;
        let body = page.assert_status(200);
        findings.extend(body["findings"].as_array().unwrap().iter().cloned());
        match body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return findings,
        }
    }
}

#[tokio::test]
async fn a_findings_list_names_at_most_100_objects_with_the_full_count_beside_it() {
    let h = Harness::new().await;
    let cid = h.customer("Big Pty Ltd", &tenant(1)).await;
    let run = h
        .partner(
            Method::POST,
            "/assessments",
            Some(json!({ "customerId": cid, "product": "essential-eight", "maturityTarget": 3 })),
        )
        .await;
    let run_id = run.assert_status(202)["id"].as_str().unwrap().to_string();
    let (users, devices) = (3_000, 1_000);
    assert_eq!(h.work(&h.runner(big_tenant::assessor(users, devices), 3)).await, vec![shared::queue::Ack::Done]);

    let findings = all_findings(&h, &run_id).await;
    let lists = detail_lists(&findings);
    assert!(!lists.is_empty());
    for (check, list, entries, count) in &lists {
        let count = count.unwrap_or_else(|| panic!("{check}: {list} has no {list}Count beside it"));
        assert!(*entries <= 100, "{check}: {list} names {entries}");
        assert_eq!(*entries as u64, count.min(100), "{check}: {list} holds the first 100 of {count}");
    }
    // The grown tenant has thousands of users who cannot do MFA and devices a release behind:
    // some lists were cut, and their counts say how many there are.
    let snapshot = big_tenant::snapshot(&tenant(1), users, devices);
    let not_capable = snapshot.user_registration_details.iter().filter(|u| !u.is_mfa_capable).count() as u64;
    assert!(not_capable > 100);
    assert!(
        lists.iter().any(|(_, _, entries, count)| *entries == 100 && *count == Some(not_capable)),
        "the MFA-capability list is cut at 100 of {not_capable}: {lists:?}"
    );
    assert!(
        lists.iter().filter(|(_, _, entries, count)| *entries == 100 && count.unwrap() > 100).count() >= 2,
        "{lists:?}"
    );
}

/// Answers one assessment whose report is far past what a run may store, and counts calls.
struct Oversized(std::sync::atomic::AtomicUsize);

#[async_trait::async_trait]
impl shared::runner::Assessor for Oversized {
    async fn assess(&self, _: &str, _: &str, _: u8) -> Result<shared::runner::Assessed, shared::runner::AssessFailure> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let finding = shared::domain::run::Finding {
            check_id: "E8-MFA-03".into(),
            title: "MFA capable".into(),
            severity: shared::domain::run::Severity::High,
            outcome: shared::domain::run::CheckStatus::Fail,
            evidence: big_tenant::incompressible(5_000_000, 3),
            details: None,
            rationale: "r".into(),
            remediation: "m".into(),
            references: vec![],
            change: None,
            collected: Vec::new(),
            requirement_ids: vec![],
            evidence_quality: None,
        };
        Ok(shared::runner::Assessed {
            score: 10,
            critical: 0,
            high: 1,
            medium: 0,
            low: 0,
            report: shared::domain::run::RunReport {
                findings: vec![finding],
                maturity: None,
                maturity_by_strategy: vec![],
                requirements: vec![],
                coverage: None,
                context: None,
            },
        })
    }
}

/// Results too large to store fail the run on its first attempt with a code that says so; the
/// tenant is not collected again on every redelivery until the attempts run out.
#[tokio::test]
async fn results_too_large_to_store_fail_the_run_once_with_a_clear_code() {
    let h = Harness::new().await;
    let cid = h.customer("Huge Pty Ltd", &tenant(1)).await;
    let run =
        h.partner(Method::POST, "/assessments", Some(json!({ "customerId": cid, "product": "essential-eight" }))).await;
    let run_id = run.assert_status(202)["id"].as_str().unwrap().to_string();
    let assessor = std::sync::Arc::new(Oversized(Default::default()));
    assert_eq!(h.work(&h.runner(assessor.clone(), 3)).await, vec![shared::queue::Ack::Done]);
    assert_eq!(assessor.0.load(std::sync::atomic::Ordering::SeqCst), 1, "assessed once");
    assert!(h.runs.is_empty(), "nothing left to retry");
    let body = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await;
    let body = body.assert_status(200);
    assert_eq!(body["status"], "failed");
    assert_eq!(body["error"]["code"], "REPORT_TOO_LARGE", "{body}");
    let events: Vec<_> = h.events().await.into_iter().map(|e| e.kind.as_str().to_string()).collect();
    assert!(events.contains(&"assessment.failed".to_string()), "{events:?}");
}

/// A request as the start-up partner (path under the partner base; the consent callback as it is)
/// on a service built by `tests::stored::on_store`.
async fn call(on: &tests::stored::OnStore, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(if path.starts_with("/consent/") { path.to_string() } else { format!("{PARTNER_BASE}{path}") })
        .header("x-partner-key", on.accounts.partner_key.clone())
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(body.map(|b| b.to_string()).unwrap_or_default()))
        .unwrap();
    let resp = tests::oneshot(&on.router, req).await;
    let status = resp.status().as_u16();
    (status, serde_json::from_slice(resp.body()).unwrap_or(Value::Null))
}

/// Runs Essential Eight at ML3 for a grown tenant of `users` and `devices` on `store`, through
/// the API and the runner as on AWS; returns the completed run and every finding.
async fn run_big_tenant(
    store: std::sync::Arc<dyn shared::store::Store>,
    users: usize,
    devices: usize,
) -> (Value, Vec<Value>) {
    let on = tests::stored::on_store(store).await;
    let (status, c) = call(&on, "POST", "/customers", Some(customer_body("Big Pty Ltd", &tenant(1)))).await;
    assert_eq!(status, 201, "{c}");
    let cid = c["id"].as_str().unwrap().to_string();
    let (_, consent) = call(&on, "GET", &format!("/customers/{cid}/consent"), None).await;
    let callback = tests::consent_callback(consent["consentUrl"].as_str().unwrap(), true);
    assert_eq!(call(&on, "GET", &callback, None).await.0, 200);
    let body = json!({ "customerId": cid, "product": "essential-eight", "maturityTarget": 3 });
    let (status, queued) = call(&on, "POST", "/assessments", Some(body)).await;
    assert_eq!(status, 202, "{queued}");
    let run_id = queued["id"].as_str().unwrap().to_string();
    let message =
        shared::queue::RunMessage { run_id: run_id.clone().into(), partner_id: on.accounts.partner.id.clone() };
    let runner = on.service.runner_with(big_tenant::assessor(users, devices), 3);
    assert_eq!(runner.process(&message, 1).await, shared::queue::Ack::Done);
    let (_, run) = call(&on, "GET", &format!("/assessments/{run_id}"), None).await;
    let mut findings = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/assessments/{run_id}/findings?limit=100"),
            Some(c) => format!("/assessments/{run_id}/findings?limit=100&cursor={c}"),
        };
        let (status, page) = call(&on, "GET", &path, None).await;
        assert_eq!(status, 200, "{page}");
        findings.extend(page["findings"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    (run, findings)
}

/// Issue 11's big tenant, 50,000 users and 20,000 devices, completes on DynamoDB (moto, which
/// refuses any item past 400 KB as DynamoDB does) with its findings readable, lists capped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_of_50000_users_and_20000_devices_completes_on_dynamodb() {
    let Some(store) = tests::aws::fresh_dynamo().await else { return };
    let (run, findings) = run_big_tenant(std::sync::Arc::new(store), 50_000, 20_000).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert!(run["score"].is_u64());
    assert!(!findings.is_empty());
    let lists = detail_lists(&findings);
    assert!(lists.iter().all(|(_, _, entries, _)| *entries <= 100), "{lists:?}");
    assert!(lists.iter().any(|(_, _, _, count)| count.unwrap_or(0) > 10_000), "{lists:?}");
}
