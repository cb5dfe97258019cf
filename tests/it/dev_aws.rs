//! `dev-server --aws --create-resources` on moto: the resources are made, the start-up
//! accounts open, the API and the runs worker work on DynamoDB and SQS, and a restart with the
//! same keys finds the same accounts and data.

use std::sync::Arc;

use bytes::Bytes;
use functions::dev_aws::{self, ResourceNames};
use http::{Method, Request};
use serde_json::{json, Value};
use shared::config::Config;
use shared::domain::ids::random_base62;
use shared::queue::Ack;
use shared::queue::RunMessage;
use tests::customer_body;

const PARTNER_KEY: &str = "pk_live_devawstestkey00000000000000000000000";
const DISTRIBUTOR_KEY: &str = "dk_live_devawstestkey00000000000000000000000";

async fn call(app: &Arc<shared::App>, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("x-partner-key", PARTNER_KEY)
        .body(body.map(|b| Bytes::from(b.to_string())).unwrap_or_default())
        .unwrap();
    let resp = tests::oneshot(&shared::api::router(app.clone()), req).await;
    let status = resp.status().as_u16();
    let body = if resp.body().is_empty() { Value::Null } else { serde_json::from_slice(resp.body()).unwrap() };
    (status, body)
}

#[tokio::test]
async fn the_dev_server_runs_on_created_aws_resources_and_survives_a_restart() {
    let Some(sdk) = tests::aws::config() else { return };
    let tag = random_base62(8);
    let names = ResourceNames {
        table: format!("dev-{tag}"),
        runs_queue_url: None,
        runs_queue_name: format!("dev-{tag}-runs"),
        webhooks_queue_url: None,
        webhooks_queue_name: format!("dev-{tag}-webhooks"),
        mail_queue_url: None,
        mail_queue_name: format!("dev-{tag}-mail"),
        secret_id: format!("dev/{tag}"),
    };
    let keys = || (Some(DISTRIBUTOR_KEY.to_string()), Some(PARTNER_KEY.to_string()));
    let (d, p) = keys();
    let (aws, accounts) = dev_aws::start_with(&sdk, Config::default(), Some(&names), d, p).await.unwrap();
    let app = aws.app.clone();
    let (status, me) = call(&app, Method::GET, "/api/v1/partner/me", None).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], accounts.partner.id);

    let (status, c) =
        call(&app, Method::POST, "/api/v1/partner/customers", Some(customer_body("Contoso", &tests::tenant(1)))).await;
    assert_eq!(status, 201);
    grant_consent(&app, c["id"].as_str().unwrap()).await;
    let (status, run) = call(
        &app,
        Method::POST,
        "/api/v1/partner/assessments",
        Some(json!({ "customerId": c["id"], "product": "essential-eight" })),
    )
    .await;
    assert_eq!(status, 202);
    // The run went onto the SQS queue; the worker takes it from there.
    let runner = dev_aws::runner(&aws);
    let got = aws.runs.receive::<RunMessage>(10, 1).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(runner.process(&got[0].message, got[0].receive_count).await, Ack::Done);
    aws.runs.ack(&got[0].receipt).await.unwrap();
    let (_, done) =
        call(&app, Method::GET, &format!("/api/v1/partner/assessments/{}", run["id"].as_str().unwrap()), None).await;
    assert_eq!(done["status"], "completed", "{done}");
    // The consent email goes out through SES, from MAIL_FROM, whose identity was made.
    let cid = c["id"].as_str().unwrap();
    let patch = Some(json!({ "email": "it@contoso.example" }));
    assert_eq!(call(&app, Method::PATCH, &format!("/api/v1/partner/customers/{cid}"), patch).await.0, 200);
    let (status, mailed) =
        call(&app, Method::POST, &format!("/api/v1/partner/customers/{cid}/consent/email"), None).await;
    assert_eq!((status, mailed["sent"].clone()), (200, json!(1)), "{mailed}");

    // A restart with the same keys: the resources exist, the accounts and data are found again.
    let (d, p) = keys();
    let (again, reopened) = dev_aws::start_with(&sdk, Config::default(), Some(&names), d, p).await.unwrap();
    assert_eq!(reopened.partner.id, accounts.partner.id);
    assert_eq!(reopened.distributor.id, accounts.distributor.id);
    let (_, me) = call(&again.app, Method::GET, "/api/v1/partner/me", None).await;
    assert_eq!(me["usage"]["runsUsed"], 1);
    assert_eq!(me["usage"]["customersCount"], 1);
    let _ = Arc::clone(&again.app);
}

/// The customer's admin grants consent through the partner's link (the callback as Microsoft
/// would call it).
async fn grant_consent(app: &Arc<shared::App>, customer: &str) {
    let (status, consent) =
        call(app, Method::GET, &format!("/api/v1/partner/customers/{customer}/consent"), None).await;
    assert_eq!(status, 200, "{consent}");
    let callback = tests::consent_callback(consent["consentUrl"].as_str().unwrap(), true);
    let router = shared::api::router(app.clone());
    let req = http::Request::builder().uri(callback).body(bytes::Bytes::new()).unwrap();
    assert_eq!(tests::oneshot(&router, req).await.status(), 200);
}

/// Each table gets its own queues (`<TABLE_NAME>-runs`, `<TABLE_NAME>-webhooks`), so dev
/// servers on separate tables (the crash test makes one per run) never share messages.
#[test]
fn the_queues_are_named_after_the_table() {
    let names = ResourceNames::from_vars(|n| (n == "TABLE_NAME").then(|| "crash-1".to_string()));
    assert_eq!(
        (names.runs_queue_name.as_str(), names.webhooks_queue_name.as_str()),
        ("crash-1-runs", "crash-1-webhooks")
    );
    let defaults = ResourceNames::from_vars(|_| None);
    assert_eq!(defaults.table, "baref00t-dev");
    assert_eq!(defaults.runs_queue_name, "baref00t-dev-runs");
    assert_eq!(defaults.secret_id, "baref00t/dev");
}

/// The runs queue is made with `RUNS_VISIBILITY_SECS` as its visibility timeout: the runner's
/// lease is the same setting, so a message comes back just when its run may be taken over.
#[tokio::test]
async fn the_runs_queue_is_made_with_the_configured_lease() {
    let Some(sdk) = tests::aws::config() else { return };
    let tag = random_base62(8);
    let names = ResourceNames::from_vars(|n| match n {
        "TABLE_NAME" => Some(format!("dev-{tag}")),
        "SECRET_ID" => Some(format!("dev/{tag}")),
        _ => None,
    });
    let config = Config::from_vars(|n| (n == "RUNS_VISIBILITY_SECS").then(|| "7".to_string())).unwrap();
    let (aws, _) = dev_aws::start_with(&sdk, config, Some(&names), None, None).await.unwrap();
    let attrs = aws_sdk_sqs::Client::new(&sdk)
        .get_queue_attributes()
        .queue_url(aws.runs.url())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
        .send()
        .await
        .unwrap();
    let visibility = attrs.attributes().and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout));
    assert_eq!(visibility.map(String::as_str), Some("7"));
    assert_eq!(aws.runs.url().rsplit('/').next(), Some(format!("dev-{tag}-runs").as_str()));
}
