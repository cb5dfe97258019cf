//! Test harness: the app on the embedded store with an injected clock, and request helpers
//! that go through the same `Router` (route table, layers, auth, limits) as the dev server.

pub mod aws;
pub mod big_tenant;
pub mod bodies;
pub mod helpers;
pub mod mail;
pub mod openapi;
pub mod recorder;
pub mod stored;
pub mod stub;

pub use bodies::*;
pub use helpers::*;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::Value;

use functions::dev_server::{bootstrap, embedded, DevAccounts, Embedded};
use shared::compose::Service;
use shared::config::Config;
use shared::domain::time::ManualClock;
pub use shared::domain::time::Timestamp;
use shared::queue::memory::MemoryQueue;
use shared::queue::RunMessage;
use shared::App;

/// 2026-04-03T10:00:00Z, the reference's examples' day.
pub const T0: Timestamp = Timestamp::from_unix(1_775_210_400);

pub const PARTNER_BASE: &str = "/api/v1/partner";
pub const DISTRIBUTOR_BASE: &str = "/api/v1/distributor";

pub struct Harness {
    /// The service as the dev server assembles it (through the composition root).
    pub service: Service,
    pub app: Arc<App>,
    /// `shared::api::router` on `app`: what the dev server serves.
    pub router: axum::Router,
    pub clock: Arc<ManualClock>,
    pub runs: Arc<MemoryQueue<RunMessage>>,
    pub webhooks: Arc<MemoryQueue<shared::webhooks::WebhookMessage>>,
    /// The mail queue (jobs for the mail worker).
    pub mail_jobs: Arc<MemoryQueue<shared::mail::MailJob>>,
    pub accounts: DevAccounts,
    /// What the app mailed (the harness's mailer records; see [`Harness::with_mailer`] for a
    /// real adapter).
    pub mail: Arc<mail::RecordingMailer>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Bytes,
}

impl Resp {
    /// A whole answer, its body decoded when its content type is JSON.
    pub fn from_http(resp: http::Response<Bytes>) -> Self {
        let (parts, raw) = resp.into_parts();
        let json = parts.headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let body = if raw.is_empty() || !json {
            Value::Null
        } else {
            serde_json::from_slice(&raw).expect("a JSON content type carries JSON")
        };
        Resp { status: parts.status, headers: parts.headers, body, raw }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error code of an error envelope.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts status and error code together, with the body in the message on failure.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!((self.status.as_u16(), self.code()), (status, code), "body: {}", self.body);
        assert!(
            self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "error without message: {}",
            self.body
        );
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        &self.body
    }
}

/// A well-formed, never-issued key of either kind.
pub const UNKNOWN_PARTNER_KEY: &str = "pk_live_0000000000000000000000000000000000000000";
pub const UNKNOWN_DISTRIBUTOR_KEY: &str = "dk_live_0000000000000000000000000000000000000000";

impl Harness {
    pub async fn new() -> Self {
        Self::with_config(Config::default()).await
    }

    pub async fn with_config(config: Config) -> Self {
        let mail = Arc::new(mail::RecordingMailer::new());
        let mut h = Self::with_mailer(config, mail.clone()).await;
        h.mail = mail;
        h
    }

    /// The harness with `billing` (made on the harness's store) as the billing port: the
    /// Stripe adapter's tests.
    pub async fn with_billing(
        billing: impl FnOnce(Arc<dyn shared::store::Store>) -> Arc<dyn shared::billing::Billing>,
    ) -> Self {
        let clock = Arc::new(ManualClock::at(T0));
        let store: Arc<dyn shared::store::Store> = Arc::new(shared::store::memory::MemoryStore::new());
        let billing = billing(store.clone());
        let mail = Arc::new(mail::RecordingMailer::new());
        let Embedded { service, app, runs, webhooks, mail: mail_jobs } = functions::dev_server::embedded_billing(
            store,
            Config::default(),
            clock.clone(),
            mail.clone(),
            Some(billing),
        );
        let accounts = bootstrap(&app, None, None).await.expect("bootstrap");
        let router = shared::api::router(app.clone());
        Self { service, app, router, clock, runs, webhooks, mail_jobs, accounts, mail }
    }

    /// The harness with `mailer` sending the app's mail (`mail` then records nothing).
    pub async fn with_mailer(config: Config, mailer: Arc<dyn shared::mail::Mailer>) -> Self {
        let clock = Arc::new(ManualClock::at(T0));
        let Embedded { service, app, runs, webhooks, mail: mail_jobs } = embedded(config, clock.clone(), mailer);
        let accounts = bootstrap(&app, None, None).await.expect("bootstrap");
        let router = shared::api::router(app.clone());
        let mail = Arc::new(mail::RecordingMailer::new());
        Self { service, app, router, clock, runs, webhooks, mail_jobs, accounts, mail }
    }

    pub fn partner_key(&self) -> &str {
        &self.accounts.partner_key
    }

    pub fn distributor_key(&self) -> &str {
        &self.accounts.distributor_key
    }

    pub fn partner_id(&self) -> &str {
        &self.accounts.partner.id
    }

    /// Any request, with the headers given.
    pub async fn request(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<Bytes>) -> Resp {
        let mut req = Request::builder().method(method.clone()).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = Resp::from_http(oneshot(&self.router, req.body(body.unwrap_or_default()).expect("request")).await);
        // Every answer is held to the API's own description (and recorded for the codes check).
        openapi::check(&method, path, &resp);
        resp
    }

    /// A partner-API request with `key` (path relative to the partner base).
    pub async fn partner_as(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let body = body.map(|b| Bytes::from(b.to_string()));
        self.request(
            method,
            &format!("{PARTNER_BASE}{path}"),
            &[("x-partner-key", key), ("content-type", "application/json")],
            body,
        )
        .await
    }

    /// A distributor-API request with `key` (path relative to the distributor base).
    pub async fn distributor_as(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let body = body.map(|b| Bytes::from(b.to_string()));
        self.request(
            method,
            &format!("{DISTRIBUTOR_BASE}{path}"),
            &[("x-distributor-key", key), ("content-type", "application/json")],
            body,
        )
        .await
    }

    /// As the start-up partner.
    pub async fn partner(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.partner_as(self.partner_key(), method, path, body).await
    }

    /// As the start-up distributor.
    pub async fn distributor(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.distributor_as(self.distributor_key(), method, path, body).await
    }

    /// Creates a customer for the partner with `key` whose admin then grants consent through
    /// the partner's link (as `grant_consent`); returns its id.
    pub async fn customer_for(&self, key: &str, name: &str, tenant: &str) -> String {
        let id = self.pending_customer_for(key, name, tenant).await;
        self.grant_consent(key, &id).await;
        id
    }

    /// Creates a customer for the partner with `key`, its consent still `pending`; returns its id.
    pub async fn pending_customer_for(&self, key: &str, name: &str, tenant: &str) -> String {
        let r = self.partner_as(key, Method::POST, "/customers", Some(customer_body(name, tenant))).await;
        r.assert_status(201)["id"].as_str().expect("id").to_string()
    }

    /// The customer's admin grants consent: reads the partner's consent link and answers its
    /// callback as Microsoft would (`admin_consent=True`, the tenant, the state).
    pub async fn grant_consent(&self, key: &str, customer_id: &str) {
        let link = self.partner_as(key, Method::GET, &format!("/customers/{customer_id}/consent"), None).await;
        let url = link.assert_status(200)["consentUrl"].as_str().expect("consentUrl").to_string();
        let r = self.request(Method::GET, &consent_callback(&url, true), &[], None).await;
        assert_eq!(r.status, 200, "the callback accepts the grant: {}", String::from_utf8_lossy(&r.raw));
    }

    pub async fn customer(&self, name: &str, tenant: &str) -> String {
        self.customer_for(self.partner_key(), name, tenant).await
    }

    /// Provisions, activates and keys a new partner under the distributor with `dist_key`;
    /// returns its id and key.
    pub async fn active_partner_under(&self, dist_key: &str, email: &str, plan: &str) -> (String, String) {
        let body = partner_body(email, plan).with("billing", serde_json::json!({ "currency": "AUD" }));
        let id = self.distributor_as(dist_key, Method::POST, "/partners", Some(body)).await.assert_status(201)["id"]
            .as_str()
            .expect("id")
            .to_string();
        self.distributor_as(dist_key, Method::POST, &format!("/partners/{id}/activate"), None).await.assert_status(200);
        let key =
            self.distributor_as(dist_key, Method::POST, &format!("/partners/{id}/keys"), None).await.assert_status(201)
                ["key"]
                .as_str()
                .expect("key")
                .to_string();
        (id, key)
    }

    /// A partner under the start-up distributor.
    pub async fn active_partner(&self, email: &str, plan: &str) -> (String, String) {
        let key = self.distributor_key().to_string();
        self.active_partner_under(&key, email, plan).await
    }

    /// A second, independent distributor with its own key.
    pub async fn other_distributor(&self) -> (String, String) {
        let (d, key) = shared::usecases::accounts::create_distributor(
            self.app.store.as_ref(),
            &self.app.secrets,
            &self.app.ids,
            shared::usecases::accounts::NewAccount {
                company: "Other Distribution",
                email: "ops@other.example",
                status: shared::domain::account::AccountStatus::Active,
                fixed_key: None,
            },
            self.app.now(),
        )
        .await
        .expect("distributor");
        (d.id.into_string(), key)
    }

    /// Events waiting in the outbox, oldest first.
    pub async fn events(&self) -> Vec<shared::domain::event::Event> {
        self.app.store.pending_events(10_000).await.expect("outbox")
    }

    /// A runner on this app's store and clock, with `assessor` doing the assessing.
    pub fn runner(&self, assessor: Arc<dyn shared::runner::Assessor>, max_attempts: u32) -> shared::runner::Runner {
        self.service.runner_with(assessor, max_attempts)
    }

    /// The runner as the dev server runs it (the demo tenants).
    pub fn fixture_runner(&self) -> shared::runner::Runner {
        self.service.runner()
    }

    /// The service on this app's store, clock, secrets and transport, with `webhooks` as its
    /// webhooks queue (moto's SQS, or a queue that refuses), assembled as production does.
    pub fn service_with_webhooks(&self, webhooks: Arc<dyn shared::webhooks::relay::WebhookQueue>) -> Service {
        Service::new(shared::compose::Parts {
            config: self.app.config.clone(),
            secrets: self.app.secrets.clone(),
            store: self.app.store.clone(),
            runs: self.app.runs.clone(),
            webhooks,
            mail_queue: self.mail_jobs.clone(),
            clock: self.clock.clone(),
            tenants: shared::compose::Tenants::Demo,
            transport: Some(self.app.transport.clone()),
            billing: Some(self.app.billing.clone()),
            mailer: self.app.mailer.clone(),
            pdf: self.app.pdf,
        })
    }

    /// The outbox relay on this app's store and webhooks queue.
    pub fn relay(&self) -> shared::webhooks::relay::Relay {
        self.service.relay()
    }

    /// Tries every visible mail job once through the mail worker, deleting the ones done, as
    /// the mail queue's consumer does; returns how many it tried.
    pub async fn send_mail_jobs(&self) -> usize {
        let sender = self.service.mail_sender();
        let jobs = self.mail_jobs.receive(100);
        for d in &jobs {
            if sender.process(&d.message).await == shared::queue::Ack::Done {
                self.mail_jobs.ack(&d.receipt);
            }
        }
        jobs.len()
    }

    /// Drains the outbox (making the mail messages) and sends the mail jobs it queued.
    pub async fn deliver_mail(&self) {
        self.relay().drain(1000).await.expect("relay");
        self.send_mail_jobs().await;
    }

    /// The webhook dispatcher on this app's store, queue and transport.
    pub fn dispatcher(&self) -> shared::webhooks::dispatcher::Dispatcher {
        self.service.dispatcher()
    }

    /// Receives every visible run message, processes each, and deletes the ones done, as the
    /// queue's consumer does; returns the outcomes.
    pub async fn work(&self, runner: &shared::runner::Runner) -> Vec<shared::queue::Ack> {
        let mut outcomes = Vec::new();
        for d in self.runs.receive(100) {
            let outcome = runner.process(&d.message, d.receive_count).await;
            if outcome == shared::queue::Ack::Done {
                self.runs.ack(&d.receipt);
            }
            outcomes.push(outcome);
        }
        outcomes
    }

    /// Run messages on the runs queue (sent and not yet acknowledged).
    pub fn queued_messages(&mut self) -> Vec<RunMessage> {
        self.runs.peek_all()
    }
}

/// One request through `router`, as a server would pass it, with the whole answer read.
/// The callback request Microsoft's redirect makes for a consent `url` (relative to the API):
/// a grant (`admin_consent=True&tenant=…&state=…`) or, with `grant` false, a refusal
/// (`error=access_denied&error_description=…&state=…`).
pub fn consent_callback(url: &str, grant: bool) -> String {
    let parsed = url::Url::parse(url).expect("consentUrl is a URL");
    let state = parsed.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).expect("state");
    let tenant =
        parsed.path_segments().and_then(|mut s| s.find(|seg| seg.len() == 36)).expect("tenant in path").to_string();
    let query = if grant {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("admin_consent", "True")
            .append_pair("tenant", &tenant)
            .append_pair("state", &state)
            .finish()
    } else {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("error", "access_denied")
            .append_pair("error_description", "AADSTS65004: User declined to consent to access the app.")
            .append_pair("state", &state)
            .finish()
    };
    format!("/consent/callback?{query}")
}

pub async fn oneshot(router: &axum::Router, req: Request<Bytes>) -> http::Response<Bytes> {
    use tower::ServiceExt;
    let resp = match router.clone().oneshot(req.map(axum::body::Body::from)).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    };
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.expect("a whole body");
    http::Response::from_parts(parts, body)
}

/// A GUID made from a number, for tests that need many distinct tenants.
pub fn tenant(n: u32) -> String {
    format!("{n:08x}-1234-5678-9abc-def012345678")
}
