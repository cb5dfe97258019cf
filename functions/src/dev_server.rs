//! The dev server: every route of the route table on 127.0.0.1, on the embedded store and
//! in-process queues, with a distributor and a partner made at start-up, and the stand-in for
//! Microsoft's consent page (`dev_consent`).

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use shared::compose::{Parts, Service, Tenants};
use shared::config::{Config, Secrets};
use shared::domain::account::{AccountStatus, Distributor, Partner, Surface};
use shared::domain::time::{Clock, SystemClock};
use shared::mail::eml_dir::EmlDir;
use shared::mail::Mailer;
use shared::queue::memory::MemoryQueue;
use shared::queue::Ack;
use shared::queue::{Received, RunMessage};
use shared::runner::{requeue_stale_runs, Runner};
use shared::store::memory::MemoryStore;
use shared::store::Store;
use shared::usecases::accounts::{self, NewAccount, ProvisionError};
use shared::webhooks::dispatcher::Dispatcher;
use shared::webhooks::relay::Relay;
use shared::webhooks::WebhookMessage;
use shared::App;

/// Where the dev server writes its mail when `MAIL_DIR` is not set (relative to the working
/// directory: the repository's `.build/`, which git ignores, under `cargo run`).
pub const DEFAULT_MAIL_DIR: &str = ".build/mail";

/// The service on the embedded store and in-process queues; the concrete queues are kept for
/// the consumers.
pub struct Embedded {
    pub service: Service,
    pub app: Arc<App>,
    pub runs: Arc<MemoryQueue<RunMessage>>,
    pub webhooks: Arc<MemoryQueue<WebhookMessage>>,
    pub mail: Arc<MemoryQueue<shared::mail::MailJob>>,
}

/// How long a received webhook attempt stays invisible: past the attempt's time limit.
pub const WEBHOOKS_VISIBILITY_SECS: i64 = 60;

/// How long a received mail job stays invisible: past a try's lease
/// (`mail::worker::LEASE_SECS`).
pub const MAIL_VISIBILITY_SECS: i64 = 90;

/// Builds the service through the composition root on the embedded store, in-process queues,
/// fresh random secrets and the demo tenants, with `clock` (tests pass a manual one) and
/// `mailer` (the dev server's [`EmlDir`]; tests pass one that records, or a real adapter).
pub fn embedded(config: Config, clock: Arc<dyn Clock>, mailer: Arc<dyn Mailer>) -> Embedded {
    embedded_on(Arc::new(MemoryStore::new()), config, clock, mailer)
}

/// As [`embedded`], on another store (tests run the whole pipeline on DynamoDB this way).
pub fn embedded_on(store: Arc<dyn Store>, config: Config, clock: Arc<dyn Clock>, mailer: Arc<dyn Mailer>) -> Embedded {
    embedded_billing(store, config, clock, mailer, None)
}

/// As [`embedded_on`], with `billing` (Stripe; `None`: the local ledger on `store`).
pub fn embedded_billing(
    store: Arc<dyn Store>,
    config: Config,
    clock: Arc<dyn Clock>,
    mailer: Arc<dyn Mailer>,
    billing: Option<Arc<dyn shared::billing::Billing>>,
) -> Embedded {
    // A received run stays invisible as long as an attempt holds it (SQS's visibility timeout).
    let runs = Arc::new(MemoryQueue::new(clock.clone(), config.runs_visibility_secs));
    let webhooks = Arc::new(MemoryQueue::new(clock.clone(), WEBHOOKS_VISIBILITY_SECS));
    let mail = Arc::new(MemoryQueue::new(clock.clone(), MAIL_VISIBILITY_SECS));
    let service = Service::new(Parts {
        config,
        secrets: Secrets::random(),
        store,
        runs: runs.clone(),
        webhooks: webhooks.clone(),
        mail_queue: mail.clone(),
        clock,
        tenants: Tenants::Demo,
        transport: None,
        billing,
        mailer,
        // The dev server serves every route, the report's PDF too.
        pdf: Some(shared::report_pdf::render),
    });
    Embedded { app: service.app.clone(), service, runs, webhooks, mail }
}

/// How often the dev server looks for work that a threshold of `threshold_secs` marks as
/// lost (runs left queued, deliveries whose retry was lost): every minute, or every half
/// threshold when that is shorter (at least every second), so a short threshold set for a
/// test is acted on soon after it passes. On AWS the relay's 5-minute schedule does it.
pub fn sweep_every(threshold_secs: i64) -> Duration {
    Duration::from_secs((threshold_secs / 2).clamp(1, 60) as u64)
}

/// Moves events from the outbox to deliveries as they come (the embedded store's stand-in
/// for the table's stream), and now and then ([`sweep_every`] the relay's `lost_after_secs`)
/// re-queues deliveries whose retry was lost.
pub async fn run_relay(relay: Relay, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let every = sweep_every(relay.lost_after_secs);
    let mut last_sweep = tokio::time::Instant::now();
    loop {
        match relay.drain(100).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "relay failed; will try again"),
        }
        if last_sweep.elapsed() >= every {
            last_sweep = tokio::time::Instant::now();
            if let Err(e) = relay.sweep(100).await {
                tracing::error!(error = %e, "sweep failed; will try again");
            }
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

impl Embedded {
    /// The runner as the dev server runs it: the demo tenants, the config's lease and tries.
    pub fn runner(&self) -> Runner {
        self.service.runner()
    }
}

/// The accounts the dev server starts with.
pub struct DevAccounts {
    pub distributor: Distributor,
    pub distributor_key: String,
    pub partner: Partner,
    pub partner_key: String,
}

/// One active distributor and one active partner under it (plan professional); the keys are
/// the given ones when set, random otherwise.
pub async fn bootstrap(
    app: &App,
    distributor_key: Option<String>,
    partner_key: Option<String>,
) -> Result<DevAccounts, ProvisionError> {
    let distributor_key = distributor_key
        .map(|k| accounts::check_fixed_key(Surface::Distributor, &k, "DEV_DISTRIBUTOR_KEY"))
        .transpose()?;
    let partner_key =
        partner_key.map(|k| accounts::check_fixed_key(Surface::Partner, &k, "DEV_PARTNER_KEY")).transpose()?;
    let now = app.now();
    let store = app.store.as_ref();
    let (distributor, distributor_key) = accounts::create_distributor(
        store,
        &app.secrets,
        &app.ids,
        NewAccount {
            company: "Dev Distribution",
            email: "ops@dev-distribution.example",
            status: AccountStatus::Active,
            fixed_key: distributor_key,
        },
        now,
    )
    .await?;
    let (partner, partner_key) = accounts::create_partner(
        store,
        &app.secrets,
        &app.ids,
        &app.config.catalog,
        Some(&distributor.id),
        "professional",
        NewAccount {
            company: "Dev MSP",
            email: "admin@dev-msp.example",
            status: AccountStatus::Active,
            fixed_key: partner_key,
        },
        now,
    )
    .await?;
    Ok(DevAccounts { distributor, distributor_key, partner, partner_key })
}

/// Every route of the route table and, while the service assesses the demo tenants, the
/// stand-in for Microsoft's consent page (`dev_consent`), which is served nowhere else.
pub fn router(app: Arc<App>) -> axum::Router {
    let api = shared::api::router(app.clone());
    if crate::dev_consent::serves(&app) {
        // The route table's router keeps its own layers and its 404 for every other path.
        crate::dev_consent::routes(app).merge(api)
    } else {
        api
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests finish
/// (for at most 10 s).
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = Arc::new(tokio::sync::Notify::new());
    let told = stopping.clone();
    let served = axum::serve(listener, router(app))
        .with_graceful_shutdown(async move {
            shutdown.await;
            told.notify_one();
        })
        .into_future();
    tokio::pin!(served);
    tokio::select! {
        result = &mut served => return result,
        () = stopping.notified() => {}
    }
    tokio::select! {
        result = &mut served => result,
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("open connections did not finish within 10 s");
            Ok(())
        }
    }
}

/// Re-sends the messages of runs queued longer than the config's `run_stale_after_secs`,
/// records `exception.expiring` for exceptions 30 days from expiry, and triggers schedules'
/// due periods, looking [`sweep_every`] that threshold (on AWS the relay function and the
/// scheduler function do it on their schedules).
pub async fn run_stale_sweeper(app: Arc<App>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let stale_after = app.config.run_stale_after_secs;
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(sweep_every(stale_after)) => {}
        }
        if let Err(e) = requeue_stale_runs(app.store.as_ref(), app.runs.as_ref(), app.now(), stale_after, 100).await {
            tracing::error!(error = %e, "stale-run sweep failed; will try again");
        }
        // As the relay's schedule does on AWS: exceptions 30 days from expiry (issue 18).
        if let Err(e) = shared::usecases::context::notice_expiring(app.store.as_ref(), app.ids(), app.now(), 100).await
        {
            tracing::error!(error = %e, "exception expiry sweep failed; will try again");
        }
        // As the scheduler function does every 15 minutes on AWS: schedules' due periods
        // (issue 19), on the app's clock, so an injected clock makes them due.
        if let Err(e) = crate::lambda::scheduler_tick(&app).await {
            tracing::error!(error = %e, "scheduler failed; will try again");
        }
    }
}

/// Consumes an in-process queue as Lambda consumes SQS: visible messages in batches, each
/// handled on its own, the ones done deleted; the rest come back after the visibility timeout.
pub async fn consume<M, F, Fut>(queue: Arc<MemoryQueue<M>>, handle: F, shutdown: impl Future<Output = ()>)
where
    M: Clone + Send + 'static,
    F: Fn(Received<M>) -> Fut,
    Fut: Future<Output = Ack>,
{
    tokio::pin!(shutdown);
    loop {
        let deliveries = queue.receive(10);
        if deliveries.is_empty() {
            let wait = queue.next_visible_in_ms().map_or(1000, |ms| ms.clamp(10, 1000)) as u64;
            tokio::select! {
                () = &mut shutdown => return,
                () = queue.arrived() => {}
                () = tokio::time::sleep(Duration::from_millis(wait)) => {}
            }
            continue;
        }
        for d in deliveries {
            let receipt = d.receipt.clone();
            if handle(d).await == Ack::Done {
                queue.ack(&receipt);
            }
        }
    }
}

/// The runner as a task on the runs queue.
pub async fn run_worker(queue: Arc<MemoryQueue<RunMessage>>, runner: Arc<Runner>, shutdown: impl Future<Output = ()>) {
    consume(
        queue,
        |d| {
            let runner = runner.clone();
            async move { runner.process(&d.message, d.receive_count).await }
        },
        shutdown,
    )
    .await
}

/// The dispatcher as a task on the webhooks queue.
pub async fn run_dispatcher(
    queue: Arc<MemoryQueue<WebhookMessage>>,
    dispatcher: Arc<Dispatcher>,
    shutdown: impl Future<Output = ()>,
) {
    consume(
        queue,
        |d| {
            let dispatcher = dispatcher.clone();
            async move { dispatcher.process(&d.message).await }
        },
        shutdown,
    )
    .await
}

/// The mail worker as a task on the mail queue.
pub async fn run_mail_sender(
    queue: Arc<MemoryQueue<shared::mail::MailJob>>,
    sender: Arc<shared::mail::worker::MailSender>,
    shutdown: impl Future<Output = ()>,
) {
    consume(
        queue,
        |d| {
            let sender = sender.clone();
            async move { sender.process(&d.message).await }
        },
        shutdown,
    )
    .await
}

/// Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The whole dev server as the binary runs it: configuration from the environment, the
/// start-up accounts printed once, serving until Ctrl-C or SIGTERM.
pub async fn run_from_env(args: &[String]) -> Result<(), String> {
    let mut aws = false;
    let mut create = false;
    for a in args {
        match a.as_str() {
            "--aws" => aws = true,
            "--create-resources" => create = true,
            other => return Err(format!("unknown argument {other:?}; usage: dev-server [--aws [--create-resources]]")),
        }
    }
    aws |= env("BACKEND").as_deref() == Some("aws");
    if create && !aws {
        return Err("--create-resources goes with --aws (or BACKEND=aws)".into());
    }
    let mut config = Config::from_env().map_err(|e| e.to_string())?;
    let port: u16 = match env("PORT") {
        None => 3000,
        Some(p) => p.parse().map_err(|_| format!("PORT must be a port number, got {p:?}"))?,
    };
    if env("PUBLIC_BASE_URL").is_none() {
        // Report links point at this server unless told otherwise.
        config.public_base_url = format!("http://127.0.0.1:{port}");
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    tokio::spawn(async move {
        stop_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut mail_dir = None;
    let (app, accounts, tasks) = if aws {
        let (aws_app, accounts) = crate::dev_aws::start(config, create).await?;
        let aws_app = Arc::new(aws_app);
        let runner = Arc::new(crate::dev_aws::runner(&aws_app));
        let dispatcher = Arc::new(aws_app.service.dispatcher());
        let relay = aws_app.service.relay();
        let sender = Arc::new(aws_app.service.mail_sender());
        let (a1, a2, s1, s2) = (aws_app.clone(), aws_app.clone(), stopped(stop_rx.clone()), stopped(stop_rx.clone()));
        let (a3, s3) = (aws_app.clone(), stopped(stop_rx.clone()));
        let tasks = vec![
            tokio::spawn(async move { crate::dev_aws::run_runs_worker(&a1, runner, s1).await }),
            tokio::spawn(async move { crate::dev_aws::run_webhooks_worker(&a2, dispatcher, s2).await }),
            tokio::spawn(async move { crate::dev_aws::run_mail_worker(&a3, sender, s3).await }),
            tokio::spawn(run_relay(relay, stopped(stop_rx.clone()))),
            tokio::spawn(run_stale_sweeper(aws_app.app.clone(), stopped(stop_rx.clone()))),
        ];
        (aws_app.app.clone(), accounts, tasks)
    } else {
        let mail = EmlDir::new(env("MAIL_DIR").unwrap_or_else(|| DEFAULT_MAIL_DIR.into()));
        mail_dir = Some(std::path::absolute(mail.dir()).unwrap_or_else(|_| mail.dir().to_path_buf()));
        // Billing on Stripe (or localstripe) when STRIPE_SECRET_KEY is set.
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let billing = shared::stripe::from_settings(
            env("STRIPE_SECRET_KEY").as_deref(),
            env("STRIPE_WEBHOOK_SECRET").as_deref(),
            env("STRIPE_API_BASE").as_deref(),
            store.clone(),
            &config.public_base_url,
        )?;
        let embedded = embedded_billing(store, config, Arc::new(SystemClock), Arc::new(mail), billing);
        let app = embedded.app.clone();
        let accounts =
            bootstrap(&app, env("DEV_DISTRIBUTOR_KEY"), env("DEV_PARTNER_KEY")).await.map_err(|e| e.to_string())?;
        let tasks = vec![
            tokio::spawn(run_worker(embedded.runs.clone(), Arc::new(embedded.runner()), stopped(stop_rx.clone()))),
            tokio::spawn(run_relay(embedded.service.relay(), stopped(stop_rx.clone()))),
            tokio::spawn(run_dispatcher(
                embedded.webhooks.clone(),
                Arc::new(embedded.service.dispatcher()),
                stopped(stop_rx.clone()),
            )),
            tokio::spawn(run_mail_sender(
                embedded.mail.clone(),
                Arc::new(embedded.service.mail_sender()),
                stopped(stop_rx.clone()),
            )),
            tokio::spawn(run_stale_sweeper(app.clone(), stopped(stop_rx.clone()))),
        ];
        (app, accounts, tasks)
    };
    // Keys go to standard output once, for the developer; never through the log.
    println!("baref00t dev server on http://{addr} ({})", if aws { "AWS services" } else { "embedded store" });
    println!("  distributor {}  X-Distributor-Key: {}", accounts.distributor.id, accounts.distributor_key);
    println!("  partner     {}  X-Partner-Key: {}", accounts.partner.id, accounts.partner_key);
    match &mail_dir {
        Some(dir) => println!("  mail        .eml files in {}", dir.display()),
        None => println!("  mail        Amazon SES v2, from {}", app.config.mail_from),
    }
    tracing::info!(%addr, distributor = accounts.distributor.id.as_str(), partner = accounts.partner.id.as_str(), "listening");
    serve(app, listener, stopped(stop_rx)).await.map_err(|e| e.to_string())?;
    for t in tasks {
        let _ = t.await;
    }
    tracing::info!("stopped");
    Ok(())
}
