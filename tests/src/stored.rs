//! Accounts written straight through the store port, for tests of the adapters themselves
//! (no API, no events), at the harness's `T0`.

use std::sync::Arc;

use serde_json::json;
use shared::domain::account::{AccountStatus, BillingConfig, Distributor, Owner, Partner, Subscription};
use shared::domain::email::Email;
use shared::domain::event::{Event, EventType};
use shared::domain::ids::IdGen;
use shared::store::Store;

use crate::T0;

/// An active distributor (`ops@d.example`) and, under it, an active partner with `email`,
/// `plan` and `billing`, both stored; returns the partner.
pub async fn stored_partner(
    store: &Arc<dyn Store>,
    ids: &IdGen,
    email: Email,
    plan: &str,
    billing: Option<BillingConfig>,
) -> Partner {
    let d = Distributor {
        id: ids.random("dist_").into(),
        company: "D".into(),
        email: Email::parse("ops@d.example").expect("an email"),
        status: AccountStatus::Active,
        created_at: T0,
    };
    store.create_distributor(&d).await.expect("distributor stored");
    let p = Partner {
        id: ids.random("prt_").into(),
        distributor_id: Some(d.id.clone()),
        company: "P".into(),
        email,
        name: None,
        plan: plan.into(),
        status: AccountStatus::Active,
        billing,
        subscription: Subscription::opening(None, T0),
        customers_count: 0,
        created_at: T0,
        updated_at: None,
        activated_at: Some(T0),
        suspended_at: None,
        terms_version: 0,
    };
    store.create_partner(&p).await.expect("partner stored");
    p
}

/// An event of `kind` about `partner` at `T0`, with no data (what the store records with a change).
pub fn event(ids: &IdGen, kind: EventType, partner: &str) -> Event {
    Event {
        id: ids.time_ordered("evt_", (T0.unix() * 1000) as u64).into(),
        kind,
        timestamp: T0,
        account: Owner::partner(partner),
        distributor_id: None,
        data: json!({}),
        mail: Vec::new(),
        audit: None,
    }
}

/// The service assembled on `store` (the embedded store or DynamoDB on moto) with in-process
/// queues and the demo tenants, its start-up accounts, and its router: for tests that must run
/// the whole pipeline on both adapters.
pub struct OnStore {
    pub service: shared::compose::Service,
    /// The app's clock (at `T0` to begin with).
    pub clock: Arc<shared::domain::time::ManualClock>,
    pub accounts: functions::dev_server::DevAccounts,
    pub router: axum::Router,
    /// What the app mailed (with [`on_store`]'s recording mailer).
    pub mail: Arc<crate::mail::RecordingMailer>,
    /// The runs queue.
    pub runs: Arc<shared::queue::memory::MemoryQueue<shared::queue::RunMessage>>,
    /// The mail queue.
    pub mail_jobs: Arc<shared::queue::memory::MemoryQueue<shared::mail::MailJob>>,
}

impl OnStore {
    /// Drains the outbox (making the mail messages) and tries every mail job once.
    pub async fn deliver_mail(&self) {
        self.service.relay().drain(1000).await.expect("relay");
        let sender = self.service.mail_sender();
        for d in self.mail_jobs.receive(100) {
            if sender.process(&d.message).await == shared::queue::Ack::Done {
                self.mail_jobs.ack(&d.receipt);
            }
        }
    }
}

/// See [`OnStore`]; mail is recorded.
pub async fn on_store(store: Arc<dyn Store>) -> OnStore {
    let mail = Arc::new(crate::mail::RecordingMailer::new());
    let mut built = on_store_with(store, shared::config::Config::default(), mail.clone()).await;
    built.mail = mail;
    built
}

/// See [`OnStore`]; with `config` and `mailer` (a real adapter: SES on moto, `.eml` files).
pub async fn on_store_with(
    store: Arc<dyn Store>,
    config: shared::config::Config,
    mailer: Arc<dyn shared::mail::Mailer>,
) -> OnStore {
    let clock = Arc::new(shared::domain::time::ManualClock::at(T0));
    let built = functions::dev_server::embedded_on(store, config, clock.clone(), mailer);
    let accounts = functions::dev_server::bootstrap(&built.app, None, None).await.expect("start-up accounts");
    let router = shared::api::router(built.app.clone());
    OnStore {
        service: built.service,
        clock,
        accounts,
        router,
        mail: Arc::new(crate::mail::RecordingMailer::new()),
        mail_jobs: built.mail,
        runs: built.runs,
    }
}

/// An enabled endpoint `id` of `owner` at `T0`, subscribed to `customer.created`, with a
/// placeholder for its sealed secret (for adapter tests that never sign).
pub fn endpoint(id: &str, owner: &Owner) -> shared::domain::webhook::Endpoint {
    shared::domain::webhook::Endpoint {
        id: id.to_string().into(),
        owner: owner.clone(),
        url: "https://hooks.example.com/x".into(),
        events: vec!["customer.created".into()],
        description: None,
        enabled: true,
        secret: "sealed".into(),
        previous_secret: None,
        previous_secret_expires_at: None,
        created_at: T0,
        updated_at: None,
        version: 1,
    }
}

/// A new customer `id` of `partner_id` for tenant `tenant_id` at `T0`, consent pending.
pub fn customer(id: &str, partner_id: &str, name: &str, tenant_id: &str) -> shared::domain::customer::Customer {
    shared::domain::customer::Customer {
        id: id.to_string().into(),
        partner_id: partner_id.to_string().into(),
        name: name.into(),
        tenant_id: shared::domain::tenant::TenantId::parse(tenant_id).expect("a tenant GUID"),
        email: None,
        receivers: vec![],
        questionnaire_recipients: vec![],
        created_at: T0,
        updated_at: None,
        version: 1,
        consent: Default::default(),
    }
}

/// A pending delivery `id` of `event_id` to `endpoint`, made at `T0` and due at `due`, with no
/// attempt yet.
pub fn pending_delivery(
    id: &str,
    endpoint: &shared::domain::webhook::Endpoint,
    event_id: &str,
    due: shared::domain::time::Timestamp,
) -> shared::domain::webhook::Delivery {
    shared::domain::webhook::Delivery {
        id: id.to_string().into(),
        endpoint_id: endpoint.id.clone(),
        owner: endpoint.owner.clone(),
        event_id: event_id.to_string().into(),
        event_type: "customer.created".into(),
        payload: "{}".into(),
        status: shared::domain::webhook::DeliveryStatus::Pending,
        attempts: vec![],
        created_at: T0,
        next_attempt_at: Some(due),
        manual_attempts: 0,
    }
}
