//! The assessment runner: at-least-once delivery never runs a run twice or counts it twice,
//! a crashed attempt is taken over after its lease, and the last attempt ends the run failed.
//! The assessor is scripted here (it is a port); store, queue, clock and API are the real ones.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use http::Method;
use serde_json::json;
use shared::domain::event::EventType;
use shared::domain::run::{Finding, FrameworkRef, RunReport};
use shared::queue::Ack;
use shared::runner::{AssessFailure, Assessed, Assessor};
use shared::store::RunClaim;
use tests::*;

/// Answers from a script, one per call; counts calls.
#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Result<Assessed, AssessFailure>>>,
    calls: Mutex<Vec<(String, String, u8)>>,
}

impl Scripted {
    fn new(answers: Vec<Result<Assessed, AssessFailure>>) -> Arc<Self> {
        Arc::new(Self { answers: Mutex::new(answers.into()), calls: Mutex::default() })
    }
    fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

#[async_trait]
impl Assessor for Scripted {
    async fn assess(&self, tenant_id: &str, product: &str, target: u8) -> Result<Assessed, AssessFailure> {
        self.calls.lock().unwrap().push((tenant_id.into(), product.into(), target));
        self.answers.lock().unwrap().pop_front().unwrap_or_else(|| Ok(assessment(50)))
    }
}

fn finding(id: &str, severity: &str, outcome: &str) -> Finding {
    Finding {
        check_id: id.into(),
        title: format!("Check {id}"),
        severity: severity.parse().unwrap(),
        outcome: outcome.parse().unwrap(),
        evidence: format!("evidence for {id} <script>"),
        details: None,
        rationale: "why".into(),
        remediation: format!("fix {id}"),
        references: vec![FrameworkRef { framework: "essential-eight".into(), id: "mfa".into(), level: Some(1) }],
        requirement_ids: vec![],
        evidence_quality: None,
        change: None,
        collected: vec![],
    }
}

fn assessment(score: u8) -> Assessed {
    Assessed {
        score,
        critical: 1,
        high: 1,
        medium: 0,
        low: 0,
        report: RunReport {
            findings: vec![
                finding("E8-MFA-01", "critical", "fail"),
                finding("E8-ADM-01", "high", "fail"),
                finding("E8-PAT-01", "medium", "pass"),
                finding("E8-BAK-01", "low", "manual"),
            ],
            maturity: Some(0),
            maturity_by_strategy: vec![shared::domain::run::StrategyLevel {
                strategy: "mfa".into(),
                level: 0,
                blockers: vec![],
            }],
            requirements: vec![],
            coverage: None,
            context: None,
        },
    }
}

fn transient() -> AssessFailure {
    AssessFailure::Transient { code: "GRAPH_UNAVAILABLE".into(), message: "Microsoft Graph kept throttling.".into() }
}

async fn trigger(h: &Harness) -> (String, String) {
    let cid = h.customer("Contoso", &tenant(1)).await;
    let r = h
        .partner(
            Method::POST,
            "/assessments",
            Some(json!({ "customerId": cid, "product": "essential-eight", "maturityTarget": 2 })),
        )
        .await;
    (cid, r.assert_status(202)["id"].as_str().unwrap().to_string())
}

async fn kinds(h: &Harness) -> Vec<EventType> {
    h.events().await.into_iter().map(|e| e.kind).filter(|k| k.as_str().starts_with("assessment.")).collect()
}

#[tokio::test]
async fn a_run_completes_with_results_findings_events_and_a_report() {
    let h = Harness::new().await;
    let (cid, run_id) = trigger(&h).await;
    let assessor = Scripted::new(vec![Ok(assessment(72))]);
    let runner = h.runner(assessor.clone(), 3);
    h.clock.advance(5);
    assert_eq!(h.work(&runner).await, vec![Ack::Done]);
    assert!(h.runs.is_empty(), "the message is deleted");
    assert_eq!(*assessor.calls.lock().unwrap(), vec![(tenant(1), "essential-eight".to_string(), 2)]);

    let run = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await;
    let body = run.assert_status(200);
    assert_eq!(body["status"], "completed");
    assert_eq!(body["score"], 72);
    assert_eq!(
        (body["findings"].as_u64(), body["critical"].as_u64(), body["high"].as_u64()),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(body["completedAt"], shared::domain::time::rfc3339(T0 + 5));
    // The contract's shape: the target, and per strategy its level and what blocks the next.
    assert_eq!(
        body["maturity"],
        json!({ "target": 2, "overall": 0, "byStrategy": { "mfa": { "level": 0, "blockers": [] } } })
    );
    let url = body["reportUrl"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:3000/reports/"), "{url}");

    // The list and the customer's recent runs show the outcome too.
    let list = h.partner(Method::GET, "/assessments", None).await;
    assert_eq!(list.body["runs"][0]["score"], 72);
    let customer = h.partner(Method::GET, &format!("/customers/{cid}"), None).await;
    assert_eq!(customer.body["recentRuns"][0]["status"], "completed");

    // Events: started then completed, each once, with the reference's data.
    let events: Vec<_> = h.events().await.into_iter().filter(|e| e.kind.as_str().starts_with("assessment.")).collect();
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![EventType::AssessmentStarted, EventType::AssessmentCompleted]
    );
    assert_eq!(events[1].data["assessmentId"], run_id);
    assert_eq!(events[1].data["customerId"], cid);
    assert_eq!(events[1].data["score"], 72);
    assert_eq!(events[1].distributor_id.as_deref(), Some(h.accounts.distributor.id.as_str()));

    // Findings: every check, filterable, paged.
    let f = h.partner(Method::GET, &format!("/assessments/{run_id}/findings"), None).await;
    let f = f.assert_status(200);
    assert_eq!(f["findings"].as_array().unwrap().len(), 4);
    assert_eq!(f["findings"][0]["checkId"], "E8-MFA-01");
    assert_eq!(f["findings"][0]["remediation"], "fix E8-MFA-01");
    assert_eq!(f["findings"][0]["references"][0], json!({ "framework": "essential-eight", "id": "mfa", "level": 1 }));
    let failed = h.partner(Method::GET, &format!("/assessments/{run_id}/findings?outcome=fail"), None).await;
    assert_eq!(failed.body["findings"].as_array().unwrap().len(), 2);
    let crit =
        h.partner(Method::GET, &format!("/assessments/{run_id}/findings?severity=critical&outcome=fail"), None).await;
    assert_eq!(crit.body["findings"].as_array().unwrap().len(), 1);
    h.partner(Method::GET, &format!("/assessments/{run_id}/findings?outcome=bad"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
    let p1 = h.partner(Method::GET, &format!("/assessments/{run_id}/findings?limit=3"), None).await;
    let next = p1.body["nextCursor"].as_str().unwrap().to_string();
    let p2 = h.partner(Method::GET, &format!("/assessments/{run_id}/findings?limit=3&cursor={next}"), None).await;
    assert_eq!(p2.body["findings"].as_array().unwrap().len(), 1);
    assert_eq!(p2.body["nextCursor"], serde_json::Value::Null);
    // The distributor reads them under /partners/{id}/.
    let d =
        h.distributor(Method::GET, &format!("/partners/{}/assessments/{run_id}/findings", h.partner_id()), None).await;
    assert_eq!(d.assert_status(200)["findings"].as_array().unwrap().len(), 4);

    // The report link opens without a key, as a self-contained HTML page.
    let path = url.trim_start_matches("http://127.0.0.1:3000");
    let page = h.request(Method::GET, path, &[], None).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(page.header("content-security-policy").unwrap().contains("default-src 'none'"));
    let html = String::from_utf8(page.raw.to_vec()).unwrap();
    for needle in ["Contoso", "Essential Eight Assessment", "72", "E8-MFA-01", "fix E8-MFA-01", "Critical"] {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"), "evidence is escaped");
    assert!(!html.contains("http://") && !html.contains("https://"), "no external resources");
}

#[tokio::test]
async fn report_links_refuse_tampering_and_expiry() {
    let h = Harness::new().await;
    let (_, run_id) = trigger(&h).await;
    h.work(&h.runner(Scripted::new(vec![]), 3)).await;
    let url = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await.body["reportUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let path = url.trim_start_matches("http://127.0.0.1:3000").to_string();
    let token = path.trim_start_matches("/reports/").to_string();
    // Another run's id in the payload, with the old signature.
    let (payload, sig) = token.split_once('.').unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let forged = String::from_utf8(b64.decode(payload).unwrap()).unwrap().replace(&run_id, "run_other");
    let forged = format!("{}.{sig}", b64.encode(forged));
    for bad in [format!("/reports/{forged}"), format!("{path}x"), "/reports/garbage".into()] {
        let r = h.request(Method::GET, &bad, &[], None).await;
        r.assert_error(404, "NOT_FOUND");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("not valid"), "{}", r.body);
    }
    h.clock.advance(30 * 86_400 + 1);
    let r = h.request(Method::GET, &path, &[], None).await;
    r.assert_error(404, "NOT_FOUND");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("expired"));
    // A fresh read of the run gives a fresh link.
    let fresh = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await.body["reportUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let r = h.request(Method::GET, fresh.trim_start_matches("http://127.0.0.1:3000"), &[], None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn the_same_message_twice_runs_and_counts_once() {
    let h = Harness::new().await;
    let (_, run_id) = trigger(&h).await;
    // A duplicate of the message (SQS may deliver one twice).
    let dup = h.runs.peek_all()[0].clone();
    h.runs.send(dup, 0);
    let assessor = Scripted::new(vec![]);
    let outcomes = h.work(&h.runner(assessor.clone(), 3)).await;
    assert_eq!(outcomes, vec![Ack::Done, Ack::Done]);
    assert_eq!(assessor.calls(), 1, "assessed once");
    assert_eq!(kinds(&h).await, vec![EventType::AssessmentStarted, EventType::AssessmentCompleted]);
    let me = h.partner(Method::GET, "/me", None).await;
    assert_eq!(me.body["usage"]["runsUsed"], 1, "counted once, when queued");
    // A message for a run that has moved on is dropped without a change.
    h.runs.send(shared::queue::RunMessage { run_id: run_id.clone().into(), partner_id: h.partner_id().into() }, 0);
    assert_eq!(h.work(&h.runner(assessor.clone(), 3)).await, vec![Ack::Done]);
    assert_eq!(assessor.calls(), 1);
}

#[tokio::test]
async fn a_duplicate_while_the_run_is_held_waits_and_a_crashed_attempt_is_taken_over() {
    let h = Harness::new().await;
    let (_, run_id) = trigger(&h).await;
    // An attempt that claimed the run and then died (its process crashed mid-run).
    let p = h.accounts.partner.clone();
    let started = shared::domain::event::Event {
        id: "evt_crashed".into(),
        kind: EventType::AssessmentStarted,
        timestamp: T0,
        account: shared::domain::account::Owner::partner(&p.id),
        distributor_id: None,
        data: json!({}),
        mail: Vec::new(),
        audit: None,
    };
    let lease = h.app.config.runs_visibility_secs;
    let claim = h.app.store.claim_run(&p.id, &run_id, 99, T0, T0 + lease, &started).await.unwrap();
    assert!(matches!(claim, RunClaim::Claimed(_)));
    let assessor = Scripted::new(vec![]);
    let runner = h.runner(assessor.clone(), 3);
    // While its lease lives, the message is left for later: nothing runs twice at once.
    assert_eq!(h.work(&runner).await, vec![Ack::Retry]);
    assert_eq!(assessor.calls(), 0);
    assert_eq!(h.runs.len(), 1, "the message stays on the queue");
    // The visibility timeout passes; the redelivery takes the run over and finishes it.
    h.clock.advance(lease);
    assert_eq!(h.work(&runner).await, vec![Ack::Done]);
    assert_eq!(assessor.calls(), 1);
    let run = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await;
    assert_eq!(run.body["status"], "completed");
    let starts = h.events().await.iter().filter(|e| e.kind == EventType::AssessmentStarted).count();
    assert_eq!(starts, 1, "a takeover is not a second start");
}

#[tokio::test]
async fn transient_failures_are_retried_then_the_last_attempt_fails_the_run() {
    let h = Harness::new().await;
    let (_, run_id) = trigger(&h).await;
    let assessor = Scripted::new(vec![Err(transient()), Err(transient()), Err(transient())]);
    let runner = h.runner(assessor.clone(), 3);
    for attempt in 1..=2 {
        assert_eq!(h.work(&runner).await, vec![Ack::Retry], "attempt {attempt}");
        let run = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await;
        assert_eq!(run.body["status"], "running");
        // Invisible until the visibility timeout passes; no sleeping, the clock moves.
        assert!(h.work(&runner).await.is_empty());
        h.clock.advance(h.app.config.runs_visibility_secs);
    }
    assert_eq!(h.work(&runner).await, vec![Ack::Done]);
    assert_eq!(assessor.calls(), 3);
    let run = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await;
    let body = run.assert_status(200);
    assert_eq!(body["status"], "failed");
    assert_eq!(body["error"], json!({ "code": "GRAPH_UNAVAILABLE", "message": "Microsoft Graph kept throttling." }));
    assert!(body.get("score").is_none());
    assert_eq!(kinds(&h).await, vec![EventType::AssessmentStarted, EventType::AssessmentFailed]);
    let failed = h.events().await.into_iter().find(|e| e.kind == EventType::AssessmentFailed).unwrap();
    assert_eq!(failed.data["error"]["code"], "GRAPH_UNAVAILABLE");
}

#[tokio::test]
async fn a_permanent_failure_fails_the_run_at_once() {
    let h = Harness::new().await;
    let (_, run_id) = trigger(&h).await;
    let consent = AssessFailure::Permanent {
        code: "CONSENT_REQUIRED".into(),
        message: "Admin consent for the baref00t app is missing in tenant 00000001-….".into(),
    };
    let assessor = Scripted::new(vec![Err(consent)]);
    assert_eq!(h.work(&h.runner(assessor.clone(), 3)).await, vec![Ack::Done]);
    let run = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await;
    assert_eq!(run.body["status"], "failed");
    assert_eq!(run.body["error"]["code"], "CONSENT_REQUIRED");
    // Findings of a failed run: none, and the route says why.
    let f = h.partner(Method::GET, &format!("/assessments/{run_id}/findings"), None).await;
    assert_eq!(f.body["status"], "failed");
    assert_eq!(f.body["findings"], json!([]));
}

#[tokio::test]
async fn a_delivery_past_the_last_attempt_fails_a_run_that_kept_crashing() {
    let h = Harness::new().await;
    let (_, run_id) = trigger(&h).await;
    let assessor = Scripted::new(vec![]);
    let runner = h.runner(assessor.clone(), 3);
    let d = h.runs.receive(1).remove(0);
    // Three earlier deliveries crashed before finishing; this is the fourth.
    assert_eq!(runner.process(&d.message, 4).await, Ack::Done);
    assert_eq!(assessor.calls(), 0, "not tried again");
    let run = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await;
    assert_eq!(run.body["status"], "failed");
    assert_eq!(run.body["error"]["code"], "ATTEMPTS_EXHAUSTED");
}

#[tokio::test]
async fn a_run_whose_customer_was_deleted_is_dropped() {
    let h = Harness::new().await;
    let (cid, _) = trigger(&h).await;
    h.partner(Method::DELETE, &format!("/customers/{cid}"), None).await.assert_status(204);
    let assessor = Scripted::new(vec![]);
    assert_eq!(h.work(&h.runner(assessor.clone(), 3)).await, vec![Ack::Done]);
    assert_eq!(assessor.calls(), 0);
    assert!(kinds(&h).await.is_empty());
}

#[tokio::test]
async fn a_run_whose_message_was_lost_is_sent_again_and_runs_once() {
    let h = Harness::new().await;
    let (_, run_id) = trigger(&h).await;
    // The process died after writing the run and before its message reached the queue.
    let lost = h.runs.receive(10);
    assert_eq!(lost.len(), 1);
    h.runs.ack(&lost[0].receipt);
    let resend = || {
        let stale_after = shared::runner::STALE_QUEUED_SECS;
        shared::runner::requeue_stale_runs(h.app.store.as_ref(), h.app.runs.as_ref(), h.app.now(), stale_after, 100)
    };
    assert_eq!(resend().await.unwrap(), 0, "not stale yet: its message may still be on its way");
    h.clock.advance(shared::runner::STALE_QUEUED_SECS + 1);
    assert_eq!(resend().await.unwrap(), 1);
    let assessor = Scripted::new(vec![]);
    assert_eq!(h.work(&h.runner(assessor.clone(), 3)).await, vec![Ack::Done]);
    let run = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await;
    assert_eq!(run.body["status"], "completed");
    assert_eq!(resend().await.unwrap(), 0, "a run that started is never sent again");
    assert_eq!(assessor.calls(), 1);
}

/// Never answers: the attempt that calls it is dropped mid-run, as a killed process would be.
struct Hanging;

#[async_trait]
impl Assessor for Hanging {
    async fn assess(&self, _: &str, _: &str, _: u8) -> Result<Assessed, AssessFailure> {
        std::future::pending().await
    }
}

fn config(vars: &[(&str, &str)]) -> shared::config::Config {
    shared::config::Config::from_vars(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())).unwrap()
}

/// `RUNS_VISIBILITY_SECS` is both the queue's visibility timeout and the lease an attempt holds
/// the run for, and `RUN_MAX_ATTEMPTS` the deliveries that may try it: a run whose attempt died
/// is taken over as soon as both have passed, and a fifth delivery still runs it when five are
/// allowed (the crash test sets them short and high so it finishes in minutes).
#[tokio::test]
async fn the_runs_lease_and_its_tries_are_configuration() {
    let h = Harness::with_config(config(&[("RUNS_VISIBILITY_SECS", "30"), ("RUN_MAX_ATTEMPTS", "5")])).await;
    let (_, run_id) = trigger(&h).await;
    let d = h.runs.receive(1).remove(0);
    {
        let crashed = h.runner(Arc::new(Hanging), 5);
        let mut attempt = std::pin::pin!(crashed.process(&d.message, 1));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(
            std::future::Future::poll(attempt.as_mut(), &mut cx).is_pending(),
            "the attempt claimed the run and is assessing"
        );
    } // the process dies here
    let run = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await;
    assert_eq!(run.body["status"], "running");
    h.clock.advance(29);
    assert!(h.runs.receive(1).is_empty(), "still invisible: the queue's visibility timeout is the setting");
    h.clock.advance(1);
    let again = h.runs.receive(1).remove(0);
    // The fifth delivery (earlier ones crashed too) takes the run over and finishes it.
    assert_eq!(h.fixture_runner().process(&again.message, 5).await, Ack::Done);
    let run = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await;
    assert_eq!(run.body["status"], "completed", "{}", run.body);
    // One more than allowed fails it, as before.
    let (_, other) = trigger_another(&h).await;
    let d = h.runs.receive(1).remove(0);
    assert_eq!(h.fixture_runner().process(&d.message, 6).await, Ack::Done);
    let run = h.partner(Method::GET, &format!("/assessments/{other}"), None).await;
    assert_eq!(run.body["error"]["code"], "ATTEMPTS_EXHAUSTED");
}

async fn trigger_another(h: &Harness) -> (String, String) {
    let cid = h.customer("Fabrikam", &tenant(2)).await;
    let r =
        h.partner(Method::POST, "/assessments", Some(json!({ "customerId": cid, "product": "essential-eight" }))).await;
    (cid, r.assert_status(202)["id"].as_str().unwrap().to_string())
}

/// `RUN_STALE_AFTER_SECS`: a run queued that long without being taken is sent again by the
/// relay's tick (on AWS) and the dev server's sweeper; not a second earlier.
#[tokio::test]
async fn the_stale_run_threshold_is_configuration() {
    let h = Harness::with_config(config(&[("RUN_STALE_AFTER_SECS", "30")])).await;
    let (_, run_id) = trigger(&h).await;
    let lost = h.runs.receive(10);
    h.runs.ack(&lost[0].receipt);
    let relay = h.relay();
    let tick = || {
        functions::lambda::relay_tick(
            &relay,
            h.app.store.as_ref(),
            h.app.runs.as_ref(),
            h.app.now(),
            h.app.config.run_stale_after_secs,
        )
    };
    h.clock.advance(30);
    assert_eq!(tick().await.runs_resent, Ok(0), "not past the threshold yet");
    h.clock.advance(1);
    assert_eq!(tick().await.runs_resent, Ok(1));
    assert_eq!(h.work(&h.fixture_runner()).await, vec![Ack::Done]);
    let run = h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await;
    assert_eq!(run.body["status"], "completed");
}
