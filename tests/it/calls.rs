//! What a request costs where Lambda bills (issue 16): the DynamoDB and SQS calls each route
//! sends, counted on moto through the SDK clients' recorder (`tests::recorder`), on an app
//! built as the Lambda entry point builds it (`lambda::build_with`). The counts are
//! deterministic, so they are asserted; timings are not (see `scripts/bench-lambda`).
//!
//! Budgets: every authenticated read route (a keyed `GET`) at most 3 DynamoDB calls, a
//! trigger (`POST …/assessments`) at most 4 and one SQS message, each including the key
//! lookup and the rate-limit count. The portfolio (issue 19) at most 4: its entries, then its
//! page's customers for their current names; never more with more runs.

use std::sync::Arc;

use bytes::Bytes;
use functions::lambda::{self, AwsApp, AwsSettings};
use http::{Method, Request};
use serde_json::Value;
use shared::api::routes::{Access, RouteId, ROUTES};
use shared::config::Config;
use shared::domain::ids::random_base62;
use shared::domain::time::ManualClock;
use shared::queue::sqs::SqsQueue;
use shared::queue::RunMessage;
use tests::recorder::Recorder;
use tests::{assessment_body, customer_body, tenant, webhook_body, Resp, T0};

/// One function's app on moto with its clients recorded, and the data the routes read.
struct Priced {
    aws: AwsApp,
    rec: Recorder,
    router: axum::Router,
    partner_key: String,
    distributor_key: String,
    partner_id: String,
}

impl Priced {
    async fn new() -> Option<Self> {
        let sdk = tests::aws::config()?;
        let id = random_base62(10);
        let table = format!("calls-{id}");
        shared::store::dynamo::DynamoStore::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await.unwrap();
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let runs_queue_url = SqsQueue::create(&sqs, &format!("calls-runs-{id}"), 0).await.unwrap();
        let webhooks_queue_url = SqsQueue::create(&sqs, &format!("calls-webhooks-{id}"), 0).await.unwrap();
        let mail_queue_url = SqsQueue::create(&sqs, &format!("calls-mail-{id}"), 0).await.unwrap();
        let secret_id = format!("calls/{id}");
        shared::aws_secrets::create_if_missing(&aws_sdk_secretsmanager::Client::new(&sdk), &secret_id).await.unwrap();
        let settings = AwsSettings { table, runs_queue_url, webhooks_queue_url, mail_queue_url, secret_id };
        let rec = Recorder::new();
        let clock = Arc::new(ManualClock::at(T0));
        // Limits far above what the test sends in its one (manual) minute.
        let config =
            Config { rate_limit_partner_per_min: 10_000, rate_limit_distributor_per_min: 10_000, ..Config::default() };
        let aws = lambda::build_with(rec.clients(&sdk), &settings, config, clock, None).await.unwrap();
        let accounts = functions::dev_server::bootstrap(&aws.app, None, None).await.unwrap();
        let router = shared::api::router(aws.app.clone());
        Some(Self {
            aws,
            rec,
            router,
            partner_key: accounts.partner_key,
            distributor_key: accounts.distributor_key,
            partner_id: accounts.partner.id.to_string(),
        })
    }

    async fn request(&self, method: Method, path: &str, key: Option<(&str, &str)>, body: Option<Value>) -> Resp {
        let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
        if let Some((header, key)) = key {
            req = req.header(header, key);
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        Resp::from_http(Box::pin(tests::oneshot(&self.router, req.body(body).unwrap())).await)
    }

    async fn partner(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let key = Some(("x-partner-key", self.partner_key.as_str()));
        self.request(method, &format!("/api/v1/partner{path}"), key, body).await
    }

    async fn distributor(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let key = Some(("x-distributor-key", self.distributor_key.as_str()));
        self.request(method, &format!("/api/v1/distributor{path}"), key, body).await
    }

    /// The calls `send` makes, by service: (DynamoDB, SQS, every call's name).
    async fn priced<F: std::future::Future<Output = Resp>>(&self, send: F) -> (Resp, usize, usize, Vec<String>) {
        self.rec.clear();
        let resp = send.await;
        let calls = self.rec.calls();
        let count = |service: &str| calls.iter().filter(|c| c.starts_with(service)).count();
        (resp, count("DynamoDB."), count("SQS."), calls)
    }

    /// Every run message now queued, through the runner.
    async fn run_worker(&self) {
        let runner = self.aws.service.runner();
        for m in self.aws.runs.receive_raw(10, 0).await.unwrap() {
            let message: RunMessage = serde_json::from_str(&m.body).unwrap();
            runner.process(&message, m.receive_count).await;
            self.aws.runs.ack(&m.receipt).await.unwrap();
        }
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

#[tokio::test]
async fn every_read_route_within_three_dynamodb_calls_and_a_trigger_within_four() {
    let Some(p) = Priced::new().await else { return };
    // What the routes read: a customer with consent granted, a completed run, a webhook each.
    let customer =
        id(p.partner(Method::POST, "/customers", Some(customer_body("Contoso", &tenant(1)))).await.assert_status(201));
    let consent = p.partner(Method::GET, &format!("/customers/{customer}/consent"), None).await;
    let url = consent.assert_status(200)["consentUrl"].as_str().unwrap().to_string();
    assert_eq!(p.request(Method::GET, &tests::consent_callback(&url, true), None, None).await.status, 200);
    let run = id(p
        .partner(Method::POST, "/assessments", Some(assessment_body(&customer, "essential-eight")))
        .await
        .assert_status(202));
    p.run_worker().await;
    let done = p.partner(Method::GET, &format!("/assessments/{run}"), None).await;
    assert_eq!(done.assert_status(200)["status"], "completed");
    let hook = webhook_body("https://hooks.example.com/calls", &["assessment.completed"]);
    let partner_hook =
        p.partner(Method::POST, "/webhooks", Some(hook.clone())).await.assert_status(201)["webhook"]["id"].clone();
    let distributor_hook =
        p.distributor(Method::POST, "/webhooks", Some(hook)).await.assert_status(201)["webhook"]["id"].clone();

    let mut over = Vec::new();
    for route in ROUTES.iter().filter(|r| r.method == Method::GET && r.access != Access::Public) {
        let distributor = route.access == Access::Distributor;
        let mut path = route.path.to_string();
        let id_param = match route.id {
            RouteId::PartnerCustomersGet
            | RouteId::PartnerConsentGet
            | RouteId::PartnerContextGet
            | RouteId::PartnerExceptionsList
            | RouteId::PartnerSchedulesList => customer.clone(),
            RouteId::PartnerAssessmentsGet
            | RouteId::PartnerAssessmentsFindings
            | RouteId::PartnerAssessmentsRequirements
            | RouteId::PartnerAssessmentsReport => run.clone(),
            RouteId::PartnerWebhooksDeliveries => partner_hook.as_str().unwrap().to_string(),
            RouteId::DistributorWebhooksDeliveries => distributor_hook.as_str().unwrap().to_string(),
            _ => p.partner_id.clone(),
        };
        let id_param = match route.id {
            RouteId::PartnerQuestionnaireGet => customer.clone(),
            _ => id_param,
        };
        path = path
            .replace("{id}", &id_param)
            .replace("{runId}", &run)
            .replace("{customerId}", &customer)
            .replace("{product}", "essential-eight");
        if route.id == RouteId::DistributorUsage {
            path.push_str("?month=2026-04");
        }
        let portfolio = matches!(route.id, RouteId::PartnerPortfolio | RouteId::DistributorPortfolio);
        if portfolio {
            path.push_str("?product=essential-eight");
        }
        let (resp, ddb, sqs, calls) = if distributor {
            p.priced(p.distributor(Method::GET, &path, None)).await
        } else {
            p.priced(p.partner(Method::GET, &path, None)).await
        };
        assert_eq!(resp.status, 200, "{} {path}: {}", route.name, resp.body);
        // One line per route (`--nocapture`): the figures README's performance section shows.
        eprintln!("calls: {} GET {path}: {ddb} DynamoDB {calls:?}", route.name);
        if ddb > if portfolio { 4 } else { 3 } || sqs > 0 {
            over.push(format!("{} (GET {path}): {ddb} DynamoDB, {sqs} SQS: {calls:?}", route.name));
        }
    }

    // P12's filters read the runs' list entries, which carry the runs.
    for query in [
        format!("customerId={customer}"),
        "product=essential-eight".into(),
        format!("customerId={customer}&product=essential-eight"),
    ] {
        let path = format!("/assessments?{query}");
        let (resp, ddb, sqs, calls) = p.priced(p.partner(Method::GET, &path, None)).await;
        assert_eq!(resp.assert_status(200)["runs"].as_array().map(Vec::len), Some(1), "{path}: {}", resp.body);
        eprintln!("calls: partner.assessments.list GET {path}: {ddb} DynamoDB {calls:?}");
        if ddb > 3 || sqs > 0 {
            over.push(format!("partner.assessments.list (GET {path}): {ddb} DynamoDB, {sqs} SQS: {calls:?}"));
        }
    }

    // The triggers: the run, its entries and counters written, its message sent.
    let trigger = Some(assessment_body(&customer, "nist-csf"));
    let (resp, ddb, sqs, calls) = p.priced(p.partner(Method::POST, "/assessments", trigger.clone())).await;
    resp.assert_status(202);
    eprintln!("calls: partner.assessments.create: {ddb} DynamoDB, {sqs} SQS {calls:?}");
    if ddb > 4 || sqs != 1 {
        over.push(format!("partner.assessments.create: {ddb} DynamoDB, {sqs} SQS: {calls:?}"));
    }
    let path = format!("/partners/{}/assessments", p.partner_id);
    let (resp, ddb, sqs, calls) = p.priced(p.distributor(Method::POST, &path, trigger)).await;
    resp.assert_status(202);
    if ddb > 4 || sqs != 1 {
        over.push(format!("distributor.assessments.create: {ddb} DynamoDB, {sqs} SQS: {calls:?}"));
    }
    assert!(over.is_empty(), "over budget:\n{}", over.join("\n"));
}

/// `GET /portfolio` on both bases costs the same DynamoDB calls with one run per customer as
/// with three (issue 19: it reads the latest results, never the runs), and lists each customer
/// once, at its latest run.
#[tokio::test]
async fn the_portfolio_costs_the_same_however_many_runs() {
    let Some(p) = Priced::new().await else { return };
    let mut customers = Vec::new();
    for i in 0..2 {
        let c = id(p
            .partner(Method::POST, "/customers", Some(customer_body(&format!("Customer {i}"), &tenant(60 + i))))
            .await
            .assert_status(201));
        let consent = p.partner(Method::GET, &format!("/customers/{c}/consent"), None).await;
        let url = consent.assert_status(200)["consentUrl"].as_str().unwrap().to_string();
        assert_eq!(p.request(Method::GET, &tests::consent_callback(&url, true), None, None).await.status, 200);
        customers.push(c);
    }
    let run_each = || async {
        let mut last = Vec::new();
        for c in &customers {
            let body = Some(assessment_body(c, "essential-eight"));
            last.push(id(p.partner(Method::POST, "/assessments", body).await.assert_status(202)));
            p.run_worker().await;
        }
        last
    };
    let path = "/portfolio?product=essential-eight";
    let price = || async {
        let (partner, pd, _, pcalls) = p.priced(p.partner(Method::GET, path, None)).await;
        let (distributor, dd, _, dcalls) = p.priced(p.distributor(Method::GET, path, None)).await;
        let runs = |body: &Value| -> Vec<String> {
            body["customers"].as_array().unwrap().iter().map(|c| c["lastRunId"].as_str().unwrap().into()).collect()
        };
        eprintln!("calls: portfolio partner {pd} {pcalls:?}; distributor {dd} {dcalls:?}");
        (pd, dd, runs(partner.assert_status(200)), runs(distributor.assert_status(200)))
    };
    let first = run_each().await;
    // A key's first request of a minute costs one call more (its rate window is moved on): not
    // the portfolio's.
    p.distributor(Method::GET, "/me", None).await.assert_status(200);
    let (pd1, dd1, p1, d1) = price().await;
    assert_eq!((p1.clone(), d1), (first.clone(), first.clone()));
    run_each().await;
    let third = run_each().await;
    let (pd3, dd3, p3, d3) = price().await;
    assert_eq!((p3, d3), (third.clone(), third), "one row per customer, at its latest run");
    assert_eq!((pd3, dd3), (pd1, dd1), "the portfolio's calls do not grow with runs");
    assert!(pd1 <= 4 && dd1 <= 4, "partner {pd1}, distributor {dd1} DynamoDB calls");
}
