//! The composition root: the one place that assembles the [`App`] and every worker (runner,
//! webhook dispatcher, outbox relay, usage report) from the adapters a caller picked. The
//! Lambda entry point (DynamoDB, SQS, Secrets Manager), the dev server (embedded store and
//! in-process queues, or AWS), the operator CLI and the test harness all build through here,
//! so tests exercise what production assembles.

use std::sync::Arc;
use std::time::Duration;

use crate::api::App;
use crate::assess::assessor::EngineAssessor;
use crate::assess::collect::{Collector, FixtureCollector, GraphCollector};
use crate::billing::{Billing, LocalLedger};
use crate::config::{Config, Secrets};
use crate::domain::catalog::Catalog;
use crate::domain::ids::IdGen;
use crate::domain::time::Clock;
use crate::graph::{GraphClient, GraphConfig, TokioSleeper};
use crate::mail::worker::{MailSender, RETRY_SCHEDULE};
use crate::mail::{MailQueue, Mailer};
use crate::queue::RunQueue;
use crate::runner::{Assessor, Runner, RunnerSettings};
use crate::store::{AccountKeyStore, Store};
use crate::usage_report::UsageReport;
use crate::usecases::consent::{self, ConsentSettings};
use crate::webhooks::dispatcher::Dispatcher;
use crate::webhooks::guard::SystemLookup;
use crate::webhooks::relay::{Relay, WebhookQueue};
use crate::webhooks::transport::{HttpTransport, Transport};

/// The adapters and settings a deployment is made of.
pub struct Parts {
    pub config: Config,
    pub secrets: Secrets,
    pub store: Arc<dyn Store>,
    /// Where queued runs go (SQS, or an in-process queue).
    pub runs: Arc<dyn RunQueue>,
    /// Where webhook attempts go.
    pub webhooks: Arc<dyn WebhookQueue>,
    /// Where mail tries go (the mail queue).
    pub mail_queue: Arc<dyn MailQueue>,
    pub clock: Arc<dyn Clock>,
    /// What the runner reads tenants with (Microsoft Graph, or the demo tenants).
    pub tenants: Tenants,
    /// How webhook attempts are sent; `None` is HTTPS through the SSRF guard, with the
    /// config's timeout and private-target setting.
    pub transport: Option<Arc<dyn Transport>>,
    /// Plan changes; `None` is the local ledger on `store`.
    pub billing: Option<Arc<dyn Billing>>,
    /// The report's PDF renderer (`report_pdf::render`), or `None` in a binary that must not
    /// link Typst (the main `bootstrap`).
    pub pdf: Option<crate::report_pdf::PdfRenderer>,
    /// How mail is sent: SES v2 on AWS, a folder of `.eml` files in the dev server.
    pub mailer: Arc<dyn Mailer>,
}

/// The assembled service: the HTTP app and the factories of its workers.
pub struct Service {
    pub app: Arc<App>,
    tenants: Tenants,
    mail_queue: Arc<dyn MailQueue>,
}

impl Service {
    /// Builds the app from `parts` (once per process, once per Lambda cold start).
    pub fn new(parts: Parts) -> Self {
        let transport = parts.transport.unwrap_or_else(|| {
            Arc::new(HttpTransport::new(
                Arc::new(SystemLookup),
                parts.config.webhook_allow_private_targets,
                Duration::from_millis(parts.config.webhook_timeout_ms),
            ))
        });
        let billing = parts.billing.unwrap_or_else(|| Arc::new(LocalLedger::new(parts.store.clone())));
        let consent = parts.tenants.consent_settings(&parts.config);
        let app = App {
            config: parts.config,
            secrets: parts.secrets,
            store: parts.store,
            runs: parts.runs,
            billing,
            clock: parts.clock,
            ids: Arc::new(IdGen::new()),
            webhooks: parts.webhooks,
            transport,
            consent,
            mailer: parts.mailer,
            pdf: parts.pdf,
        };
        Self { app: Arc::new(app), tenants: parts.tenants, mail_queue: parts.mail_queue }
    }

    /// The runs queue's consumer, reading tenants as the service was built to (the Graph
    /// client is made here, so a function that runs no assessment never builds one), with the
    /// config's tries (`run_max_attempts`) and lease (`runs_visibility_secs`).
    pub fn runner(&self) -> Runner {
        let collector = self.tenants.collector(self.app.clock.clone());
        self.runner_with(Arc::new(EngineAssessor::new(collector)), self.app.config.run_max_attempts)
    }

    /// The runner with another assessor and `max_attempts` (tests inject failing or slow
    /// ones); the lease is the config's.
    pub fn runner_with(&self, assessor: Arc<dyn Assessor>, max_attempts: u32) -> Runner {
        let app = &self.app;
        Runner {
            store: app.store.clone(),
            assessor,
            clock: app.clock.clone(),
            ids: app.ids.clone(),
            secrets: app.secrets.clone(),
            settings: RunnerSettings {
                max_attempts,
                lease_secs: app.config.runs_visibility_secs,
                public_base_url: app.config.public_base_url.clone(),
                catalog: app.config.catalog.clone(),
            },
        }
    }

    /// The webhooks queue's consumer: one attempt per message, retries per the config's schedule.
    pub fn dispatcher(&self) -> Dispatcher {
        let app = &self.app;
        Dispatcher {
            store: app.store.clone(),
            queue: app.webhooks.clone(),
            transport: app.transport.clone(),
            clock: app.clock.clone(),
            secret_key: app.secrets.webhook_encryption.clone(),
            schedule: app.config.webhook_retry_schedule.clone(),
            lease_secs: crate::webhooks::dispatcher::attempt_lease_secs(app.config.webhook_timeout_ms),
        }
    }

    /// Moves events from the outbox to webhook deliveries on the webhooks queue.
    pub fn relay(&self) -> Relay {
        let app = &self.app;
        Relay {
            store: app.store.clone(),
            queue: app.webhooks.clone(),
            mail: self.mail_queue.clone(),
            clock: app.clock.clone(),
            ids: app.ids.clone(),
            lost_after_secs: app.config.webhook_lost_after_secs,
        }
    }

    /// The mail queue's consumer: one try of one message per job, retried per [`RETRY_SCHEDULE`].
    pub fn mail_sender(&self) -> MailSender {
        let app = &self.app;
        MailSender {
            store: app.store.clone(),
            queue: self.mail_queue.clone(),
            mailer: app.mailer.clone(),
            clock: app.clock.clone(),
            from: app.config.mail_from.clone(),
            schedule: RETRY_SCHEDULE.to_vec(),
        }
    }

    /// The monthly usage report (closes the previous month into snapshots).
    pub fn usage_report(&self) -> UsageReport {
        UsageReport { store: self.app.store.clone(), clock: self.app.clock.clone() }
    }
}

/// Where a deployment's runner reads tenants from. Only a choice: the collector (and the Graph
/// client's HTTP client, with its root certificates) is built when a runner is, not at every
/// function's cold start.
#[derive(Clone)]
pub enum Tenants {
    /// The three demo tenants (the dev server; a deployment without Graph credentials).
    Demo,
    /// Microsoft Graph, app-only, with the app's client id and secret.
    Graph { client_id: String, client_secret: String },
}

impl Tenants {
    /// Microsoft Graph when the secret holds the app's client id and secret, else the demo
    /// tenants.
    pub fn from_secret(graph_client_id: Option<&str>, graph_client_secret: Option<&str>) -> Self {
        match (graph_client_id, graph_client_secret) {
            (Some(id), Some(secret)) => Self::Graph { client_id: id.into(), client_secret: secret.into() },
            _ => Self::Demo,
        }
    }

    /// Where consent is granted for this choice (see [`ConsentSettings`]).
    fn consent_settings(&self, config: &Config) -> ConsentSettings {
        let (default_authority, client_id) = match self {
            Self::Demo => (format!("{}/dev/consent", config.public_base_url), consent::DEV_CLIENT_ID.to_string()),
            Self::Graph { client_id, .. } => (consent::MICROSOFT_AUTHORITY.to_string(), client_id.clone()),
        };
        ConsentSettings { authority: config.consent_authority.clone().unwrap_or(default_authority), client_id }
    }

    /// The collector; a deployment without Graph credentials assesses the fixtures, and says
    /// so in the log.
    fn collector(&self, clock: Arc<dyn Clock>) -> Arc<dyn Collector> {
        match self {
            Self::Graph { client_id, client_secret } => {
                let config = GraphConfig::production(client_id.clone(), client_secret.clone());
                match GraphClient::new(config, Arc::new(TokioSleeper)) {
                    Ok(client) => Arc::new(GraphCollector::new(client, clock)),
                    Err(e) => {
                        tracing::error!(error = %e, "Graph client could not be built; assessing the demo tenants");
                        Arc::new(FixtureCollector)
                    }
                }
            }
            Self::Demo => {
                tracing::warn!("no graphClientId/graphClientSecret in the secret; assessing the demo tenants");
                Arc::new(FixtureCollector)
            }
        }
    }
}

/// What the operator's CLI (`admin`) works on: the table and the secrets, no queues and no
/// workers. Built here like everything else, so the CLI provisions exactly as the service does.
pub struct Operator {
    pub store: Arc<dyn AccountKeyStore>,
    pub secrets: Secrets,
    pub catalog: Catalog,
    pub ids: IdGen,
}

impl Operator {
    pub fn new(store: Arc<dyn AccountKeyStore>, secrets: Secrets, catalog: Catalog) -> Self {
        Self { store, secrets, catalog, ids: IdGen::new() }
    }
}
