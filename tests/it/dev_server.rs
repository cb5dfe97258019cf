//! End to end: the dev server on a real loopback socket, spoken to over HTTP/1.1.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use functions::dev_server::{bootstrap, embedded, run_dispatcher, run_relay, run_worker, serve};
use shared::config::Config;
use shared::domain::time::SystemClock;
use tests::{customer_body, webhook_body, TENANT};

pub(crate) struct Running {
    pub(crate) base: String,
    partner_key: String,
    distributor_key: String,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    pub(crate) client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

pub(crate) async fn start() -> Running {
    start_with(Config::default()).await
}

pub(crate) async fn start_with(config: Config) -> Running {
    let built = embedded(config, Arc::new(SystemClock), Arc::new(tests::mail::RecordingMailer::new()));
    let (app, runs, webhooks) = (built.app.clone(), built.runs.clone(), built.webhooks.clone());
    let partner_key = "pk_live_e2etestkey000000000000000000000000".to_string();
    let accounts = bootstrap(&app, None, Some(partner_key.clone())).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let runner = Arc::new(built.runner());
    let (relay, dispatcher) = (built.service.relay(), Arc::new(built.service.dispatcher()));
    let server = tokio::spawn(async move {
        let (stop_tasks, tasks_stopped) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let tasks = [
            tokio::spawn(run_worker(runs, runner, stopped(tasks_stopped.clone()))),
            tokio::spawn(run_relay(relay, stopped(tasks_stopped.clone()))),
            tokio::spawn(run_dispatcher(webhooks, dispatcher, stopped(tasks_stopped))),
        ];
        let served = serve(app, listener, async {
            let _ = rx.await;
        })
        .await;
        let _ = stop_tasks.send(true);
        for t in tasks {
            t.await.unwrap();
        }
        served
    });
    Running {
        base,
        partner_key,
        distributor_key: accounts.distributor_key,
        stop: Some(tx),
        server,
        client: Client::builder(TokioExecutor::new()).build_http(),
    }
}

impl Running {
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> (u16, http::HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self.client.request(req.body(Full::new(body)).unwrap()).await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        (status, headers, body)
    }

    /// The customer's admin grants consent: the partner's link, answered as Microsoft would.
    pub(crate) async fn grant_consent(&self, customer_id: &str) {
        let (status, _, consent) = self.partner(Method::GET, &format!("/customers/{customer_id}/consent"), None).await;
        assert_eq!(status, 200, "{consent}");
        let callback = tests::consent_callback(consent["consentUrl"].as_str().unwrap(), true);
        let req = Request::builder().uri(format!("{}{callback}", self.base)).body(Full::new(Bytes::new())).unwrap();
        let resp = self.client.request(req).await.unwrap();
        assert_eq!(resp.status(), 200, "the callback accepts the grant");
    }

    pub(crate) async fn partner(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, http::HeaderMap, Value) {
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        self.send(
            method,
            &format!("/api/v1/partner{path}"),
            &[("x-partner-key", &self.partner_key), ("content-type", "application/json")],
            body,
        )
        .await
    }

    pub(crate) async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.server.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn first_customer_and_first_run_over_http() {
    let s = start().await;
    let (status, headers, me) = s.partner(Method::GET, "/me", None).await;
    assert_eq!(status, 200);
    assert_eq!(me["plan"], "professional");
    assert_eq!(me["status"], "active");
    assert!(headers.get("x-request-id").is_some());
    assert_eq!(headers["x-ratelimit-limit"], "60");

    let customer = json!({
        "name": "Contoso Ltd",
        "tenantId": TENANT,
        "email": "it@contoso.com",
        "receivers": ["ciso@contoso.com"],
        "questionnaireRecipients": ["ciso@contoso.com"]
    });
    let (status, _, created) = s.partner(Method::POST, "/customers", Some(customer)).await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("cust_"));
    assert_eq!(created["consentStatus"], "pending");
    s.grant_consent(id).await;

    let run = json!({ "customerId": id, "product": "essential-eight", "maturityTarget": 3 });
    let (status, _, run) = s.partner(Method::POST, "/assessments", Some(run)).await;
    assert_eq!(status, 202);
    assert_eq!(run["status"], "queued");
    assert_eq!(run["maturityTarget"], 3);

    let (_, _, got) = s.partner(Method::GET, &format!("/assessments/{}", run["id"].as_str().unwrap()), None).await;
    assert_eq!(got["customerName"], "Contoso Ltd");
    // The worker may already have picked it up.
    assert!(["queued", "running", "completed"].contains(&got["status"].as_str().unwrap()), "{got}");

    let (_, _, me) = s.partner(Method::GET, "/me", None).await;
    assert_eq!(me["usage"]["runsUsed"], 1);
    assert_eq!(me["usage"]["customersCount"], 1);
    s.stop().await;
}

#[tokio::test]
async fn errors_over_http_keep_the_envelope() {
    let s = start().await;
    let (status, headers, body) = s.send(Method::GET, "/api/v1/partner/me", &[], Bytes::new()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("MISSING_KEY")));
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");

    let (status, _, body) = s.send(Method::GET, "/elsewhere", &[], Bytes::new()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")));

    let (status, headers, _) = s.send(Method::PATCH, "/api/v1/partner/me", &[], Bytes::new()).await;
    assert_eq!(status, 405);
    assert_eq!(headers["allow"], "GET");

    let big = Bytes::from(vec![b' '; 300 * 1024]);
    let (status, _, body) =
        s.send(Method::POST, "/api/v1/partner/customers", &[("x-partner-key", &s.partner_key)], big).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("PAYLOAD_TOO_LARGE")));

    let (status, _, body) = s.partner(Method::POST, "/customers", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("INVALID_JSON")));

    let (status, _, body) = s
        .send(Method::GET, "/api/v1/distributor/partners", &[("x-distributor-key", &s.distributor_key)], Bytes::new())
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["partners"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn stops_cleanly_when_told() {
    let s = start().await;
    let base = s.base.clone();
    s.stop().await;
    // The port no longer answers.
    let addr = base.trim_start_matches("http://");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_triggered_run_completes_and_its_report_opens() {
    let s = start().await;
    let customer = customer_body("Contoso Ltd", TENANT);
    let (_, _, created) = s.partner(Method::POST, "/customers", Some(customer)).await;
    s.grant_consent(created["id"].as_str().unwrap()).await;
    let run = json!({ "customerId": created["id"], "product": "essential-eight", "maturityTarget": 2 });
    let (status, _, run) = s.partner(Method::POST, "/assessments", Some(run)).await;
    assert_eq!(status, 202);
    let path = format!("/assessments/{}", run["id"].as_str().unwrap());
    // The worker runs beside the server: wait (bounded) for the run to finish.
    let mut body = Value::Null;
    for _ in 0..500 {
        body = s.partner(Method::GET, &path, None).await.2;
        if body["status"] == "completed" || body["status"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(body["status"], "completed", "{body}");
    assert!(body["score"].as_u64().is_some_and(|s| s <= 100));
    assert!(body["findings"].is_u64());
    let url = body["reportUrl"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:3000/reports/"), "{url}");
    // The link's path on this server opens the report without a key.
    let report_path = url.trim_start_matches("http://127.0.0.1:3000");
    let req = Request::builder().uri(format!("{}{report_path}", s.base)).body(Full::new(Bytes::new())).unwrap();
    let resp = s.client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    let html = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(html.contains("Essential Eight Assessment") && html.contains("Contoso Ltd"));
    s.stop().await;
}

#[tokio::test]
async fn an_endpoint_on_a_local_receiver_gets_signed_events() {
    let rx = tests::stub::Stub::start(|_| tests::stub::Reply::json(200, json!({}))).await;
    let config = Config { webhook_allow_private_targets: true, ..Config::default() };
    let s = start_with(config).await;
    let endpoint = webhook_body(&format!("{}/hook", rx.base), &["customer.created", "assessment.completed"]);
    let (status, _, created) = s.partner(Method::POST, "/webhooks", Some(endpoint)).await;
    assert_eq!(status, 201);
    let secret = created["secret"].as_str().unwrap().to_string();
    let customer = customer_body("Contoso Ltd", TENANT);
    let (_, _, c) = s.partner(Method::POST, "/customers", Some(customer)).await;
    s.grant_consent(c["id"].as_str().unwrap()).await;
    s.partner(Method::POST, "/assessments", Some(json!({ "customerId": c["id"], "product": "essential-eight" }))).await;
    // Bounded wait for the tasks beside the server to deliver both events.
    for _ in 0..500 {
        if rx.seen().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let seen = rx.seen();
    let types: Vec<String> = seen.iter().map(|r| r.headers["x-baref00t-event"].to_str().unwrap().to_string()).collect();
    assert_eq!(types, vec!["customer.created", "assessment.completed"]);
    for r in &seen {
        let expected = shared::webhooks::signing::baref00t_signature(&secret, &r.body);
        assert_eq!(r.headers["x-baref00t-signature"].to_str().unwrap(), expected);
    }
    let id = created["webhook"]["id"].as_str().unwrap();
    let (_, _, log) = s.partner(Method::GET, &format!("/webhooks/{id}/deliveries"), None).await;
    assert_eq!(log["deliveries"].as_array().unwrap().len(), 2);
    assert!(log["deliveries"].as_array().unwrap().iter().all(|d| d["status"] == "delivered"));
    s.stop().await;
}
