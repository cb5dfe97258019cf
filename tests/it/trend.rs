//! Every completed run compares with its customer's previous completed run of the same product
//! (contract, "Assessment results"): P13's `previousRunId` and `changes`, each finding's
//! `change`; a first run has `previousRunId: null` and no `change`. On both adapters.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{json, Value};
use shared::domain::run::{CheckStatus, Finding, RunReport, Severity};
use shared::queue::{Ack, RunMessage};
use shared::runner::{AssessFailure, Assessed, Assessor};
use tests::*;

/// Answers one report after another: each `(check id, outcome)`.
struct Outcomes(Mutex<VecDeque<Vec<(&'static str, CheckStatus)>>>);

#[async_trait::async_trait]
impl Assessor for Outcomes {
    async fn assess(&self, _: &str, _: &str, _: u8) -> Result<Assessed, AssessFailure> {
        let outcomes = self.0.lock().unwrap().pop_front().expect("a scripted report");
        let findings: Vec<Finding> = outcomes
            .iter()
            .map(|(id, outcome)| Finding {
                check_id: id.to_string(),
                title: format!("Check {id}"),
                severity: Severity::High,
                outcome: *outcome,
                evidence: "seen".into(),
                details: None,
                rationale: "r".into(),
                remediation: "m".into(),
                references: vec![],
                change: None,
                collected: Vec::new(),
                requirement_ids: vec![],
                evidence_quality: None,
            })
            .collect();
        let high = findings.iter().filter(|f| f.outcome == CheckStatus::Fail).count() as u32;
        Ok(Assessed {
            score: 50,
            critical: 0,
            high,
            medium: 0,
            low: 0,
            report: RunReport {
                findings,
                maturity: None,
                maturity_by_strategy: vec![],
                requirements: vec![],
                coverage: None,
                context: None,
            },
        })
    }
}

async fn call(on: &tests::stored::OnStore, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let uri = if path.starts_with("/consent/") { path.to_string() } else { format!("{PARTNER_BASE}{path}") };
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("x-partner-key", on.accounts.partner_key.clone())
        .header("content-type", "application/json")
        .body(Bytes::from(body.map(|b| b.to_string()).unwrap_or_default()))
        .unwrap();
    let resp = tests::oneshot(&on.router, req).await;
    let status = resp.status().as_u16();
    (status, serde_json::from_slice(resp.body()).unwrap_or(Value::Null))
}

async fn consented_customer(on: &tests::stored::OnStore, name: &str, tenant_id: &str) -> String {
    let (status, c) = call(on, "POST", "/customers", Some(customer_body(name, tenant_id))).await;
    assert_eq!(status, 201, "{c}");
    let cid = c["id"].as_str().unwrap().to_string();
    let (_, consent) = call(on, "GET", &format!("/customers/{cid}/consent"), None).await;
    assert_eq!(call(on, "GET", &consent_callback(consent["consentUrl"].as_str().unwrap(), true), None).await.0, 200);
    cid
}

/// Triggers and runs one run of `product` for `cid`; returns P13's body and the findings.
async fn run(on: &tests::stored::OnStore, assessor: &Arc<Outcomes>, cid: &str, product: &str) -> (Value, Vec<Value>) {
    let (status, queued) = call(on, "POST", "/assessments", Some(assessment_body(cid, product))).await;
    assert_eq!(status, 202, "{queued}");
    let run_id = queued["id"].as_str().unwrap().to_string();
    on.clock.advance(60);
    let message = RunMessage { run_id: run_id.clone().into(), partner_id: on.accounts.partner.id.clone() };
    assert_eq!(on.service.runner_with(assessor.clone(), 3).process(&message, 1).await, Ack::Done);
    let (_, detail) = call(on, "GET", &format!("/assessments/{run_id}"), None).await;
    assert_eq!(detail["status"], "completed", "{detail}");
    let (_, findings) = call(on, "GET", &format!("/assessments/{run_id}/findings"), None).await;
    (detail, findings["findings"].as_array().unwrap().clone())
}

/// The HTML page behind a run's `reportUrl`.
async fn report_page(on: &tests::stored::OnStore, detail: &Value) -> String {
    let url = detail["reportUrl"].as_str().expect("a completed run has a report link");
    let path = url.trim_start_matches("http://127.0.0.1:3000");
    let resp = tests::oneshot(&on.router, http::Request::builder().uri(path).body(Bytes::new()).unwrap()).await;
    assert_eq!(resp.status(), 200);
    String::from_utf8(resp.body().to_vec()).unwrap()
}

fn changes_of(findings: &[Value]) -> Vec<(String, Value)> {
    findings.iter().map(|f| (f["checkId"].as_str().unwrap().to_string(), f["change"].clone())).collect()
}

async fn runs_compare_with_the_previous_completed_run(store: Arc<dyn shared::store::Store>) {
    use CheckStatus::{Fail, Manual, Pass};
    let on = tests::stored::on_store(store).await;
    let assessor = Arc::new(Outcomes(Mutex::new(VecDeque::from(vec![
        vec![("A", Fail), ("B", Pass), ("C", Fail), ("D", Manual), ("F", Pass)],
        vec![("A", Fail), ("B", Fail), ("C", Pass), ("D", Pass), ("E", Pass), ("F", Pass), ("G", Fail)],
        vec![("A", Pass)],
        vec![("A", Pass)],
        vec![("A", Fail)],
    ]))));
    let cid = consented_customer(&on, "Contoso", &tenant(1)).await;

    // The first run: nothing to compare with.
    let (first, findings) = run(&on, &assessor, &cid, "essential-eight").await;
    assert_eq!(first["previousRunId"], Value::Null, "{first}");
    assert_eq!(first["changes"], Value::Null);
    assert!(findings.iter().all(|f| f.get("change").is_none()), "no change on a first run: {findings:?}");

    // The second compares with the first.
    let (second, findings) = run(&on, &assessor, &cid, "essential-eight").await;
    assert_eq!(second["previousRunId"], first["id"], "{second}");
    assert_eq!(second["changes"], json!({ "newFailures": 2, "fixed": 1, "persisting": 1 }));
    let expected: Vec<(String, Value)> = [
        ("A", json!("persisting")),
        ("B", json!("new")),
        ("C", json!("fixed")),
        // No evidence last time (manual) or not counted then: passing now claims nothing.
        ("D", Value::Null),
        ("E", Value::Null),
        ("F", json!("unchanged")),
        // Not counted last time (a higher target, say): a failure now is new.
        ("G", json!("new")),
    ]
    .into_iter()
    .map(|(id, c)| (id.to_string(), c))
    .collect();
    assert_eq!(changes_of(&findings), expected);

    // The report shows the same: the first says there is nothing to compare with; the second
    // what changed since the first, and each failed check whether it is new or persisting.
    let first_page = report_page(&on, &first).await;
    assert!(first_page.contains("first Essential Eight Assessment: there is nothing to compare"), "{first_page}");
    let page = report_page(&on, &second).await;
    for needle in [
        "Since the previous assessment: 2 checks newly failing, 1 fixed, 1 still failing.".to_string(),
        "<span class=\"change new\">Newly failing</span> <strong>Check B</strong>".to_string(),
        "<span class=\"change persisting\">Still failing</span> <strong>Check A</strong>".to_string(),
        "<th scope=\"row\">Check C <span class=\"meta\">C</span></th><td>Passed</td><td>Fixed</td>".to_string(),
    ] {
        assert!(page.contains(&needle), "the report lacks {needle}: {page}");
    }

    // Another product and another customer have their own histories.
    let (nist, _) = run(&on, &assessor, &cid, "nist-csf").await;
    assert_eq!(nist["previousRunId"], Value::Null, "{nist}");
    let other = consented_customer(&on, "Fabrikam", &tenant(2)).await;
    let (theirs, _) = run(&on, &assessor, &other, "essential-eight").await;
    assert_eq!(theirs["previousRunId"], Value::Null, "{theirs}");

    // A failed run is not compared with: the next completed one compares with the second.
    let (status, queued) = call(&on, "POST", "/assessments", Some(assessment_body(&cid, "essential-eight"))).await;
    assert_eq!(status, 202);
    let failing = RunMessage {
        run_id: queued["id"].as_str().unwrap().to_string().into(),
        partner_id: on.accounts.partner.id.clone(),
    };
    struct Refuses;
    #[async_trait::async_trait]
    impl Assessor for Refuses {
        async fn assess(&self, _: &str, _: &str, _: u8) -> Result<Assessed, AssessFailure> {
            Err(AssessFailure::Permanent { code: "TENANT_NOT_FOUND".into(), message: "no such tenant".into() })
        }
    }
    assert_eq!(on.service.runner_with(Arc::new(Refuses), 3).process(&failing, 1).await, Ack::Done);
    let (fourth, findings) = run(&on, &assessor, &cid, "essential-eight").await;
    assert_eq!(fourth["previousRunId"], second["id"], "{fourth}");
    assert_eq!(fourth["changes"], json!({ "newFailures": 0, "fixed": 0, "persisting": 1 }));
    assert_eq!(changes_of(&findings), vec![("A".to_string(), json!("persisting"))]);
}

#[tokio::test]
async fn runs_compare_with_the_previous_completed_run_on_the_embedded_store() {
    runs_compare_with_the_previous_completed_run(Arc::new(shared::store::memory::MemoryStore::new())).await;
}

#[tokio::test]
async fn runs_compare_with_the_previous_completed_run_on_dynamodb() {
    let Some(store) = tests::aws::fresh_dynamo().await else { return };
    runs_compare_with_the_previous_completed_run(Arc::new(store)).await;
}
