//! The Lambda entry point with real API Gateway HTTP API (payload 2.0) and SQS event JSON:
//! path parameters, headers, query strings, request context and base64 bodies, and SQS
//! batches with receive counts and partial batch failures. The app is the harness's (embedded
//! store, injected clock): the events' translation is what is under test here.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use functions::lambda::{self, Handler};
use http::Method;
use lambda_http::Body;
use serde_json::{json, Value};
use shared::api::routes::{RouteId, ROUTES};
use shared::domain::run::RunStatus;
use shared::queue::sqs::SqsQueue;
use shared::queue::RunMessage;
use shared::store::RunClaim;
use tests::{assessment_body, webhook_body, Harness};

fn fixture(name: &str, vars: &[(&str, &str)]) -> String {
    let path = format!("{}/fixtures/lambda/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (k, v) in vars {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    text
}

fn event(name: &str, vars: &[(&str, &str)]) -> lambda_http::Request {
    lambda_http::request::from_str(&fixture(name, vars)).expect("an API Gateway v2 event")
}

fn json_body(resp: &lambda_http::Response<Body>) -> Value {
    match resp.body() {
        Body::Text(t) => serde_json::from_str(t).expect("JSON"),
        Body::Empty => Value::Null,
        other => panic!("expected a text body, got {other:?}"),
    }
}

async fn call(h: &Harness, route: &str, name: &str, vars: &[(&str, &str)]) -> lambda_http::Response<Body> {
    let route = RouteId::by_name(route).expect("a route");
    lambda::http(&h.app, route, event(name, vars)).await
}

#[test]
fn every_route_and_worker_is_a_handler() {
    for r in ROUTES {
        assert_eq!(Handler::parse(r.name), Some(Handler::Route(r.id)));
    }
    assert_eq!(Handler::parse("worker.assessment-runner"), Some(Handler::RunsWorker));
    assert_eq!(Handler::parse("schedule.usage-report"), Some(Handler::UsageReport));
    assert_eq!(Handler::parse("worker.mail-sender"), Some(Handler::MailSender));
    assert_eq!(Handler::parse("schedule.scheduler"), Some(Handler::Scheduler));
    assert_eq!(Handler::parse("partner.nothing"), None);
    assert_eq!(Handler::names().len(), ROUTES.len() + 6);
}

/// `bootstrap` (no PDF renderer) refuses to start as the shared report's function, whose
/// `?format=pdf` it could only answer 500; `report-pdf` starts as it, and `bootstrap` as every
/// other function.
#[test]
fn only_the_pdf_binary_starts_as_the_report_function() {
    let report = Handler::parse("public.reports.get").unwrap();
    assert!(report.renders_pdf());
    assert!(report.check_binary(false).unwrap_err().contains("report-pdf"));
    assert_eq!(report.check_binary(true), Ok(()));
    for name in Handler::names().into_iter().filter(|n| *n != "public.reports.get") {
        let h = Handler::parse(name).unwrap();
        assert!(!h.renders_pdf(), "{name}");
        assert_eq!(h.check_binary(false), Ok(()), "{name}");
    }
}

#[tokio::test]
async fn http_events_are_served_by_their_route() {
    let h = Harness::new().await;
    let key = h.partner_key().to_string();

    // POST with a base64 body and an idempotency key.
    let created = call(&h, "partner.customers.create", "partner-customers-create.json", &[("PARTNER_KEY", &key)]).await;
    assert_eq!(created.status(), 201, "{:?}", created.body());
    let customer = json_body(&created);
    assert_eq!(customer["name"], "Contoso Ltd");
    assert_eq!(customer["tenantId"], "d4f5a678-1234-5678-9abc-def012345678");
    assert!(created.headers().get("x-request-id").is_some());
    assert_eq!(created.headers().get("x-ratelimit-limit").unwrap(), "60");
    let id = customer["id"].as_str().unwrap().to_string();
    // The same event again replays the first answer.
    let again = call(&h, "partner.customers.create", "partner-customers-create.json", &[("PARTNER_KEY", &key)]).await;
    assert_eq!(again.status(), 201);
    assert_eq!(json_body(&again)["id"], id.as_str());

    // Path parameters.
    let vars = [("PARTNER_KEY", key.as_str()), ("CUSTOMER_ID", id.as_str())];
    let got = call(&h, "partner.customers.get", "partner-customers-get.json", &vars).await;
    assert_eq!(got.status(), 200);
    assert_eq!(json_body(&got)["id"], id.as_str());
    // A plain-text body.
    let patched = call(&h, "partner.customers.update", "partner-customers-update.json", &vars).await;
    assert_eq!(patched.status(), 200, "{:?}", patched.body());
    assert_eq!(json_body(&patched)["name"], "Contoso Pty Ltd");

    // Query strings (and cookies, which are ignored).
    h.grant_consent(&key, &id).await;
    for _ in 0..2 {
        let r = h.partner(Method::POST, "/assessments", Some(assessment_body(&id, "essential-eight"))).await;
        r.assert_status(202);
    }
    let listed = call(&h, "partner.assessments.list", "partner-assessments-list.json", &[("PARTNER_KEY", &key)]).await;
    assert_eq!(listed.status(), 200, "{:?}", listed.body());
    let body = json_body(&listed);
    assert_eq!(body["runs"].as_array().unwrap().len(), 1, "limit=1 from the query string");
    assert!(body["nextCursor"].is_string());

    // Without the key header the pipeline answers, in the envelope.
    let nokey = call(&h, "partner.customers.get", "partner-customers-get.json", &[("CUSTOMER_ID", &id)]).await;
    assert_eq!(nokey.status(), 401);
    assert_eq!(json_body(&nokey)["error"]["code"], "INVALID_KEY");
}

#[tokio::test]
async fn a_function_answers_only_its_own_route() {
    let h = Harness::new().await;
    let key = h.partner_key().to_string();
    // The customers-get event sent to the customers-create function.
    let vars = [("PARTNER_KEY", key.as_str()), ("CUSTOMER_ID", "cust_x")];
    let resp = call(&h, "partner.customers.create", "partner-customers-get.json", &vars).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(json_body(&resp)["error"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn sqs_batches_run_each_record_and_report_the_ones_to_retry() {
    let h = Harness::new().await;
    let customer = h.customer("Contoso", &tests::tenant(1)).await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let r = h.partner(Method::POST, "/assessments", Some(assessment_body(&customer, "essential-eight"))).await;
        runs.push(r.assert_status(202)["id"].as_str().unwrap().to_string());
    }
    let pid = h.partner_id().to_string();
    // The second run is held by another attempt whose lease lives on: its record must be retried.
    let started = h.events().await.into_iter().next().expect("an event to reuse as a template");
    let claim = h.app.store.claim_run(&pid, &runs[1], 99, h.app.now(), h.app.now() + 3600, &started).await.unwrap();
    assert!(matches!(claim, RunClaim::Claimed(_)));

    let body = |run: &str| {
        serde_json::to_string(&RunMessage { run_id: run.into(), partner_id: pid.clone().into() })
            .unwrap()
            .replace('"', "\\\"")
    };
    let (ok, busy) = (body(&runs[0]), body(&runs[1]));
    let event: SqsEvent =
        serde_json::from_str(&fixture("sqs-runs-batch.json", &[("BODY_OK", &ok), ("BODY_BUSY", &busy)])).unwrap();

    let runner = h.fixture_runner();
    // No record here is early, so the queue is never called: a client with no server is fine.
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&shared::aws::emulator_config("http://127.0.0.1:9")),
        "http://127.0.0.1:9/000000000000/runs",
        Arc::new(shared::domain::time::SystemClock),
    );
    let resp = lambda::runs_batch(&runner, &queue, event).await;
    let failed: Vec<&str> = resp.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["2e1424d4-f796-459a-8184-9c92662be6da"], "only the held run is retried");
    let done = h.app.store.run(&pid, &runs[0]).await.unwrap().unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    let held = h.app.store.run(&pid, &runs[1]).await.unwrap().unwrap();
    assert_eq!(held.status, RunStatus::Running);
}

/// The webhook path as deployed, on moto's SQS: the relay drains the outbox onto the queue,
/// the queue's messages arrive as an SQS event, and the dispatcher delivers them.
#[tokio::test]
async fn webhooks_go_from_the_outbox_through_sqs_to_the_receiver() {
    let Some(config) = tests::aws::config() else { return };
    let h = Harness::with_config(shared::config::Config {
        webhook_allow_private_targets: true,
        ..shared::config::Config::default()
    })
    .await;
    let client = aws_sdk_sqs::Client::new(&config);
    let name = format!("test-{}", shared::domain::ids::random_base62(10));
    let url = SqsQueue::create(&client, &name, 0).await.unwrap();
    let sqs = Arc::new(SqsQueue::new(client, url, h.clock.clone()));
    let rx = tests::stub::Stub::start(|_| tests::stub::Reply::json(200, json!({}))).await;
    let endpoint = webhook_body(&format!("{}/hook", rx.base), &["customer.created"]);
    h.partner(Method::POST, "/webhooks", Some(endpoint)).await.assert_status(201);
    h.pending_customer_for(h.partner_key(), "Contoso", &tests::tenant(1)).await;

    // The same store, with the webhooks queue on moto's SQS, assembled as production does.
    let on_sqs = h.service_with_webhooks(sqs.clone());
    let relay = on_sqs.relay();
    let (moved, requeued) = lambda::relay_once(&relay).await.unwrap();
    assert_eq!((moved, requeued), (1, 0));
    assert!(h.events().await.is_empty(), "the outbox is drained");

    let raw = sqs.receive_raw(10, 0).await.unwrap();
    assert_eq!(raw.len(), 1);
    let event: SqsEvent = serde_json::from_value(json!({ "Records": [{
        "messageId": "5d1f2ea2-0000-4000-8000-000000000001",
        "receiptHandle": raw[0].receipt,
        "body": raw[0].body,
        "attributes": { "ApproximateReceiveCount": "1" },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1"
    }]}))
    .unwrap();
    let dispatcher = on_sqs.dispatcher();
    let resp = lambda::webhooks_batch(&dispatcher, &sqs, event).await;
    assert!(resp.batch_item_failures.is_empty());
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["x-baref00t-event"], "customer.created");
}

/// A webhooks queue that refuses everything: the outbox cannot drain past its first event.
struct RefusingQueue;

#[async_trait::async_trait]
impl shared::webhooks::relay::WebhookQueue for RefusingQueue {
    async fn send_webhook(
        &self,
        _: &shared::webhooks::WebhookMessage,
        _: i64,
    ) -> Result<(), shared::queue::QueueError> {
        Err(shared::queue::QueueError::Backend("refused".into()))
    }
}

/// One relay step failing (here every webhook send, so the outbox cannot drain) holds back
/// neither the re-send of runs whose message was lost nor the invocation's report of it.
#[tokio::test]
async fn a_failing_drain_does_not_hold_back_the_stale_run_resend() {
    let mut h = Harness::new().await;
    h.partner(Method::POST, "/webhooks", Some(webhook_body("https://hooks.example.com/x", &["customer.created"])))
        .await
        .assert_status(201);
    let c = h.customer("Contoso", &tests::tenant(1)).await;
    h.partner(Method::POST, "/assessments", Some(assessment_body(&c, "essential-eight"))).await.assert_status(202);
    assert_eq!(h.queued_messages().len(), 1);
    // The run's message is lost; a quarter of an hour later it counts as stale.
    h.clock.advance(shared::runner::STALE_QUEUED_SECS + 60);
    let refusing = h.service_with_webhooks(Arc::new(RefusingQueue));
    let relay = refusing.relay();
    let stale_after = h.app.config.run_stale_after_secs;
    let tick = lambda::relay_tick(&relay, h.app.store.as_ref(), h.app.runs.as_ref(), h.app.now(), stale_after).await;
    assert!(tick.events.is_err(), "the drain failed: {tick:?}");
    assert_eq!(tick.runs_resent, Ok(1), "the stale run was sent again all the same");
    assert!(tick.failed(), "and the invocation reports the failure");
    assert_eq!(tick.to_json()["runsResent"], 1);
    assert_eq!(h.queued_messages().len(), 2, "the run's message, sent again");
}
