//! The Lambda entry point's logic (the binaries `bootstrap` and `report-pdf` only call
//! [`main`]). Every function in `template.yaml` runs `bootstrap`, except the shared report's
//! (`public.reports.get`), which runs `report-pdf`: the same code with the PDF renderer, so
//! Typst is linked into that one function only (issue 17). The `Handler` setting (`_HANDLER`
//! at run time) says which route or worker a function is. The app is built once per cold
//! start, on DynamoDB, SQS and Secrets Manager.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_http::{Body, Request as LambdaRequest, Response as LambdaResponse};
use lambda_runtime::LambdaEvent;

use shared::api::routes::{RouteId, ROUTES};
use shared::aws_secrets::{self, SecretBundle};
use shared::compose::{Parts, Service, Tenants};
use shared::config::Config;
use shared::domain::time::{Clock, SystemClock, Timestamp};
use shared::mail::ses::SesMailer;
use shared::mail::worker::MailSender;
use shared::mail::MailJob;
use shared::queue::sqs::{SqsQueue, NOT_BEFORE};
use shared::queue::Ack;
use shared::queue::{RunMessage, RunQueue};
use shared::report_pdf::PdfRenderer;
use shared::runner::Runner;
use shared::store::dynamo::DynamoStore;
use shared::store::SweepStore;
use shared::webhooks::dispatcher::Dispatcher;
use shared::webhooks::relay::Relay;
use shared::webhooks::WebhookMessage;
use shared::App;

pub const RUNS_WORKER: &str = "worker.assessment-runner";
pub const USAGE_REPORT: &str = "schedule.usage-report";
pub const WEBHOOK_DISPATCHER: &str = "worker.webhook-dispatcher";
pub const OUTBOX_RELAY: &str = "worker.outbox-relay";
pub const MAIL_SENDER: &str = "worker.mail-sender";
pub const SCHEDULER: &str = "schedule.scheduler";

/// What one function is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    /// An HTTP API route: answers only that route.
    Route(RouteId),
    /// The runs queue's consumer.
    RunsWorker,
    /// The monthly usage report, on a schedule.
    UsageReport,
    /// The webhooks queue's consumer: one delivery attempt per message.
    WebhookDispatcher,
    /// Drains the outbox into webhook deliveries (woken by the table's stream and a schedule).
    OutboxRelay,
    /// The mail queue's consumer: one try of one message per job.
    MailSender,
    /// Triggers the due periods of customers' schedules (every 15 minutes; issue 19).
    Scheduler,
}

impl Handler {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            RUNS_WORKER => Some(Self::RunsWorker),
            USAGE_REPORT => Some(Self::UsageReport),
            WEBHOOK_DISPATCHER => Some(Self::WebhookDispatcher),
            OUTBOX_RELAY => Some(Self::OutboxRelay),
            MAIL_SENDER => Some(Self::MailSender),
            SCHEDULER => Some(Self::Scheduler),
            _ => RouteId::by_name(name).map(Self::Route),
        }
    }

    /// Whether this function renders the report's PDF (`GET /reports/{token}?format=pdf`), and
    /// so must run the `report-pdf` binary (template.yaml's `BuildProperties: Binary`).
    pub fn renders_pdf(self) -> bool {
        self == Self::Route(RouteId::PublicReport)
    }

    /// Whether a binary with (`has_pdf`) or without the PDF renderer may serve this function:
    /// `bootstrap` refuses to start as the report's function rather than answer its PDFs 500.
    /// Errors: the message the cold start fails with.
    pub fn check_binary(self, has_pdf: bool) -> Result<(), String> {
        if self.renders_pdf() && !has_pdf {
            return Err("this function renders the report's PDF: deploy it with the report-pdf binary".into());
        }
        Ok(())
    }

    /// Every `Handler` value the binary answers to.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = ROUTES.iter().map(|r| r.name).collect();
        names.extend([RUNS_WORKER, USAGE_REPORT, WEBHOOK_DISPATCHER, OUTBOX_RELAY, MAIL_SENDER, SCHEDULER]);
        names
    }
}

/// Where the AWS resources are, from the function's environment.
#[derive(Clone, Debug)]
pub struct AwsSettings {
    pub table: String,
    pub runs_queue_url: String,
    pub webhooks_queue_url: String,
    pub mail_queue_url: String,
    /// Name or ARN of the one JSON secret.
    pub secret_id: String,
}

impl AwsSettings {
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let need = |name: &str| var(name).filter(|v| !v.is_empty()).ok_or_else(|| format!("{name} is not set"));
        Ok(Self {
            table: need("TABLE_NAME")?,
            runs_queue_url: need("RUNS_QUEUE_URL")?,
            webhooks_queue_url: need("WEBHOOKS_QUEUE_URL")?,
            mail_queue_url: need("MAIL_QUEUE_URL")?,
            secret_id: need("SECRET_ID")?,
        })
    }

    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }
}

/// The service on its AWS adapters; the concrete queues are kept for the SQS consumers.
pub struct AwsApp {
    pub service: Service,
    pub app: Arc<App>,
    pub store: Arc<DynamoStore>,
    pub runs: Arc<SqsQueue>,
    pub webhooks: Arc<SqsQueue>,
    pub mail: Arc<SqsQueue>,
    pub secrets: SecretBundle,
}

/// The AWS SDK clients a function talks through, one per service.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// Mail (SES v2).
    pub ses: aws_sdk_sesv2::Client,
}

impl AwsClients {
    /// The clients as a function makes them: each from the one SDK configuration.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            ses: aws_sdk_sesv2::Client::new(sdk),
        }
    }
}

/// Builds the service on AWS through the composition root: reads the secret once, makes the
/// clients once. The runner reads tenants with Microsoft Graph when the secret holds
/// `graphClientId` and `graphClientSecret`, else assesses the demo tenants. `pdf` renders the
/// report's PDF (`None` in `bootstrap`, which does not link Typst).
pub async fn build(
    sdk: &SdkConfig,
    settings: &AwsSettings,
    config: Config,
    pdf: Option<PdfRenderer>,
) -> Result<AwsApp, String> {
    build_with(AwsClients::new(sdk), settings, config, Arc::new(SystemClock), pdf).await
}

/// [`build`] on given clients and clock: the tests pass clients that record every operation
/// they send (the IAM test) and a manual clock; production passes neither.
pub async fn build_with(
    clients: AwsClients,
    settings: &AwsSettings,
    config: Config,
    clock: Arc<dyn Clock>,
    pdf: Option<PdfRenderer>,
) -> Result<AwsApp, String> {
    let secrets = aws_secrets::load(&clients.secrets, &settings.secret_id).await.map_err(|e| e.to_string())?;
    let store = Arc::new(DynamoStore::new(clients.dynamodb, settings.table.clone()));
    let sqs = clients.sqs;
    let runs = Arc::new(SqsQueue::new(sqs.clone(), settings.runs_queue_url.clone(), clock.clone()));
    let webhooks = Arc::new(SqsQueue::new(sqs.clone(), settings.webhooks_queue_url.clone(), clock.clone()));
    let mail = Arc::new(SqsQueue::new(sqs, settings.mail_queue_url.clone(), clock.clone()));
    let tenants = Tenants::from_secret(secrets.get("graphClientId"), secrets.get("graphClientSecret"));
    // Billing on Stripe when the secret holds its key; the local ledger otherwise.
    let billing = shared::stripe::from_settings(
        secrets.get("stripeSecretKey"),
        secrets.get("stripeWebhookSecret"),
        std::env::var("STRIPE_API_BASE").ok().as_deref(),
        store.clone(),
        &config.public_base_url,
    )?;
    let service = Service::new(Parts {
        config,
        secrets: secrets.secrets.clone(),
        store: store.clone(),
        runs: runs.clone(),
        webhooks: webhooks.clone(),
        mail_queue: mail.clone(),
        clock,
        tenants,
        transport: None,
        billing,
        mailer: Arc::new(SesMailer::new(clients.ses)),
        pdf,
    });
    Ok(AwsApp { app: service.app.clone(), service, store, runs, webhooks, mail, secrets })
}

/// Serves one API Gateway HTTP API (payload 2.0) request for `route` only, through the
/// router `lambda_http::run` serves and the same conversion of its answer.
pub async fn http(app: &Arc<App>, route: RouteId, req: LambdaRequest) -> LambdaResponse<Body> {
    use tower::ServiceExt;
    let resp = match shared::api::route_router(app.clone(), route).oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    };
    lambda_http::IntoResponse::into_response(resp).await
}

fn receive_count(m: &SqsMessage) -> u32 {
    m.attributes.get("ApproximateReceiveCount").and_then(|v| v.parse().ok()).unwrap_or(1)
}

/// The `notBefore` attribute of a chained delay (unix seconds).
fn not_before(m: &SqsMessage) -> Option<Timestamp> {
    m.message_attributes
        .get(NOT_BEFORE)
        .and_then(|a| a.string_value.as_deref())
        .and_then(|v| v.parse::<i64>().ok())
        .map(Timestamp::from_unix)
}

fn failure(m: &SqsMessage) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = m.message_id.clone().unwrap_or_default();
    f
}

/// One SQS batch as Lambda hands it over: each record decoded and handled on its own; the
/// ones to retry are reported as partial batch failures (Lambda deletes the rest). A record
/// that is not due yet (a chained delay) is sent on by `queue` and counts as done; one that
/// will never decode is let go rather than looped to the DLQ.
pub async fn sqs_batch<M, F, Fut>(queue: &SqsQueue, event: SqsEvent, handle: F) -> SqsBatchResponse
where
    M: serde::de::DeserializeOwned,
    F: Fn(M, u32) -> Fut,
    Fut: std::future::Future<Output = Ack>,
{
    let handle = &handle;
    let work = event.records.iter().map(|m| async move {
        let body = m.body.as_deref().unwrap_or_default();
        match queue.hold_if_early(body, not_before(m)).await {
            Ok(true) => return None,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "could not send an early message on");
                return Some(failure(m));
            }
        }
        let message: M = match serde_json::from_str(body) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::error!(error = %e, message_id = ?m.message_id, "dropping a message that does not decode");
                return None;
            }
        };
        match handle(message, receive_count(m)).await {
            Ack::Done => None,
            Ack::Retry => Some(failure(m)),
        }
    });
    let failures: Vec<BatchItemFailure> = futures_util::future::join_all(work).await.into_iter().flatten().collect();
    let mut resp = SqsBatchResponse::default();
    resp.batch_item_failures = failures;
    resp
}

/// One batch of the runs queue, each record through the runner.
pub async fn runs_batch(runner: &Runner, queue: &SqsQueue, event: SqsEvent) -> SqsBatchResponse {
    sqs_batch(queue, event, |m: RunMessage, count| async move { runner.process(&m, count).await }).await
}

/// One batch of the webhooks queue: each record is one attempt of one delivery.
pub async fn webhooks_batch(dispatcher: &Dispatcher, queue: &SqsQueue, event: SqsEvent) -> SqsBatchResponse {
    sqs_batch(queue, event, |m: WebhookMessage, _| async move { dispatcher.process(&m).await }).await
}

/// One batch of the mail queue: each record is one try of one message.
pub async fn mail_batch(sender: &MailSender, queue: &SqsQueue, event: SqsEvent) -> SqsBatchResponse {
    sqs_batch(queue, event, |m: MailJob, _| async move { sender.process(&m).await }).await
}

/// Drains the outbox (whatever woke the relay) and re-queues lost retries; returns how many
/// events moved and how many deliveries were re-queued.
pub async fn relay_once(relay: &Relay) -> Result<(usize, usize), Error> {
    let moved = drain(relay).await?;
    let swept = relay.sweep(100).await?;
    Ok((moved, swept))
}

/// Drains the outbox in pages of 100, at most 50 of them: an invocation has a time limit, and
/// the next wake-up takes the rest.
async fn drain(relay: &Relay) -> Result<usize, Error> {
    let mut moved = 0;
    for _ in 0..50 {
        let n = relay.drain(100).await?;
        moved += n;
        if n == 0 {
            break;
        }
    }
    Ok(moved)
}

/// What one relay invocation did, step by step.
#[derive(Debug)]
pub struct RelayTick {
    /// Runs left queued too long whose message was sent again.
    pub runs_resent: Result<usize, String>,
    /// Deliveries whose lost retry was queued again.
    pub requeued: Result<usize, String>,
    /// Outbox events fanned out to deliveries.
    pub events: Result<usize, String>,
    /// `exception.expiring` notices recorded (exceptions 30 days from expiry; issue 18).
    pub exceptions_expiring: Result<usize, String>,
}

impl RelayTick {
    /// Whether any step failed (the invocation then reports an error, so it is retried).
    pub fn failed(&self) -> bool {
        self.runs_resent.is_err() || self.requeued.is_err() || self.events.is_err() || self.exceptions_expiring.is_err()
    }

    /// The counts as the function answers them; a failed step shows its error.
    pub fn to_json(&self) -> serde_json::Value {
        let show = |r: &Result<usize, String>| match r {
            Ok(n) => serde_json::json!(n),
            Err(e) => serde_json::json!({ "error": e }),
        };
        serde_json::json!({
            "events": show(&self.events),
            "exceptionsExpiring": show(&self.exceptions_expiring),
            "requeued": show(&self.requeued),
            "runsResent": show(&self.runs_resent),
        })
    }
}

/// One relay invocation (the table's stream or the 5-minute schedule woke it). Each step has
/// its own bound and runs whatever the others did, cheapest first: runs queued more than
/// `stale_after_secs` (their message was lost) are re-sent (100 at most), lost webhook retries
/// re-queued (100), `exception.expiring` recorded for exceptions 30 days from expiry (100, each
/// once however many invocations overlap), then the outbox drained (which delivers those
/// notices too). So a long drain, or one event that keeps failing, never holds back the others.
pub async fn relay_tick(
    relay: &Relay,
    store: &dyn SweepStore,
    queue: &dyn RunQueue,
    now: Timestamp,
    stale_after_secs: i64,
) -> RelayTick {
    let runs_resent = shared::runner::requeue_stale_runs(store, queue, now, stale_after_secs, 100).await;
    let requeued = relay.sweep(100).await.map_err(|e| e.to_string());
    let ids = shared::usecases::Ids { gen: relay.ids.as_ref(), clock: relay.clock.as_ref(), actor: None };
    let exceptions_expiring = shared::usecases::context::notice_expiring(store, ids, now, 100).await;
    let events = drain(relay).await.map_err(|e| e.to_string());
    RelayTick { runs_resent, requeued, events, exceptions_expiring }
}

/// One scheduler invocation (its 15-minute schedule woke it): every schedule due at the
/// app's now triggers its period's run, or records its refusal, once however many invocations
/// overlap (`usecases::schedules`).
pub async fn scheduler_tick(app: &App) -> Result<shared::usecases::schedules::SchedulerTick, String> {
    shared::usecases::schedules::run_all_due(
        app.store.as_ref(),
        app.runs.as_ref(),
        &app.config.catalog,
        app.ids(),
        app.now(),
    )
    .await
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The entry point: reads `_HANDLER`, builds once, serves invocations until the runtime stops.
/// `pdf` is the binary's PDF renderer (`report-pdf` passes `report_pdf::render`, `bootstrap`
/// none); a function that renders PDFs refuses to start without one ([`Handler::check_binary`]).
pub async fn main(pdf: Option<PdfRenderer>) -> Result<(), Error> {
    let name = std::env::var("_HANDLER").map_err(|_| "_HANDLER is not set")?;
    let handler = Handler::parse(&name).ok_or_else(|| format!("unknown handler {name:?}"))?;
    handler.check_binary(pdf.is_some()).map_err(|e| format!("{name}: {e}"))?;
    let config = Config::from_env()?;
    let settings = AwsSettings::from_env()?;
    let sdk = shared::aws::lambda_sdk_config().await;
    let aws = build(&sdk, &settings, config, pdf).await?;
    tracing::info!(handler = %name, "cold start");
    match handler {
        Handler::Route(route) => lambda_http::run(shared::api::route_router(aws.app.clone(), route)).await,
        Handler::RunsWorker => {
            let runner = Arc::new(aws.service.runner());
            let queue = aws.runs.clone();
            lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<SqsEvent>| {
                let (runner, queue) = (runner.clone(), queue.clone());
                async move { Ok::<_, Error>(runs_batch(&runner, &queue, event.payload).await) }
            }))
            .await
        }
        Handler::WebhookDispatcher => {
            let dispatcher = Arc::new(aws.service.dispatcher());
            let queue = aws.webhooks.clone();
            lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<SqsEvent>| {
                let (dispatcher, queue) = (dispatcher.clone(), queue.clone());
                async move { Ok::<_, Error>(webhooks_batch(&dispatcher, &queue, event.payload).await) }
            }))
            .await
        }
        Handler::MailSender => {
            let sender = Arc::new(aws.service.mail_sender());
            let queue = aws.mail.clone();
            lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<SqsEvent>| {
                let (sender, queue) = (sender.clone(), queue.clone());
                async move { Ok::<_, Error>(mail_batch(&sender, &queue, event.payload).await) }
            }))
            .await
        }
        Handler::OutboxRelay => {
            let relay = Arc::new(aws.service.relay());
            let (app, runs) = (aws.app.clone(), aws.runs.clone());
            lambda_runtime::run(lambda_runtime::service_fn(move |_event: LambdaEvent<serde_json::Value>| {
                let (relay, app, runs) = (relay.clone(), app.clone(), runs.clone());
                async move {
                    let stale_after = app.config.run_stale_after_secs;
                    let tick = relay_tick(&relay, app.store.as_ref(), runs.as_ref(), app.now(), stale_after).await;
                    if tick.failed() {
                        tracing::error!(tick = %tick.to_json(), "a relay step failed");
                        return Err::<serde_json::Value, Error>(format!("relay: {}", tick.to_json()).into());
                    }
                    Ok(tick.to_json())
                }
            }))
            .await
        }
        Handler::Scheduler => {
            let app = aws.app.clone();
            lambda_runtime::run(lambda_runtime::service_fn(move |_event: LambdaEvent<serde_json::Value>| {
                let app = app.clone();
                async move {
                    // A failed period is left due: the next invocation (or EventBridge's retry)
                    // tries it again, and the period's run id makes that harmless.
                    let t = scheduler_tick(&app).await.map_err(|e| -> Error { format!("scheduler: {e}").into() })?;
                    Ok::<_, Error>(serde_json::json!({
                        "runs": t.runs, "refused": t.refused, "gone": t.gone, "raced": t.raced,
                    }))
                }
            }))
            .await
        }
        Handler::UsageReport => {
            let report = Arc::new(aws.service.usage_report());
            lambda_runtime::run(lambda_runtime::service_fn(move |_event: LambdaEvent<serde_json::Value>| {
                let report = report.clone();
                async move {
                    let closed = report.run().await?;
                    Ok::<_, Error>(serde_json::json!({
                        "month": closed.month,
                        "distributors": closed.distributors,
                        "written": closed.written,
                    }))
                }
            }))
            .await
        }
    }
}
