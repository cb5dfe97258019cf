//! The dev server on AWS services, or on a local emulator through `AWS_ENDPOINT_URL`:
//! `dev-server --aws [--create-resources]` (or `BACKEND=aws`). The same app as the Lambda
//! functions (`lambda::build`), with the workers as polling tasks instead of event sources.

use std::future::Future;
use std::sync::Arc;

use aws_config::SdkConfig;
use shared::auth::hash_key;
use shared::aws_secrets;
use shared::domain::email::Email;
use shared::queue::sqs::SqsQueue;
use shared::queue::Ack;
use shared::queue::RunMessage;
use shared::runner::Runner;
use shared::store::dynamo::DynamoStore;
use shared::webhooks::dispatcher::Dispatcher;
use shared::webhooks::WebhookMessage;
use shared::App;

use crate::dev_server::{bootstrap, DevAccounts, MAIL_VISIBILITY_SECS, WEBHOOKS_VISIBILITY_SECS};
use crate::lambda::{self, AwsApp, AwsSettings};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where the dev server's resources are, or are to be made.
#[derive(Clone, Debug)]
pub struct ResourceNames {
    pub table: String,
    /// A queue URL (used as it is) or, when `None`, the name of a queue to create.
    pub runs_queue_url: Option<String>,
    pub runs_queue_name: String,
    pub webhooks_queue_url: Option<String>,
    pub webhooks_queue_name: String,
    pub mail_queue_url: Option<String>,
    pub mail_queue_name: String,
    pub secret_id: String,
}

impl ResourceNames {
    /// `TABLE_NAME`, `RUNS_QUEUE_URL`, `WEBHOOKS_QUEUE_URL`, `MAIL_QUEUE_URL`, `SECRET_ID` through
    /// `var` (an empty value counts as unset), with defaults for what is not set: the table
    /// `baref00t-dev`, queues named after the table (`<table>-runs`, `<table>-webhooks`,
    /// `<table>-mail`, so
    /// each table has its own), the secret `baref00t/dev`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let table = var("TABLE_NAME").unwrap_or_else(|| "baref00t-dev".into());
        Self {
            runs_queue_url: var("RUNS_QUEUE_URL"),
            runs_queue_name: format!("{table}-runs"),
            webhooks_queue_url: var("WEBHOOKS_QUEUE_URL"),
            webhooks_queue_name: format!("{table}-webhooks"),
            mail_queue_url: var("MAIL_QUEUE_URL"),
            mail_queue_name: format!("{table}-mail"),
            secret_id: var("SECRET_ID").unwrap_or_else(|| "baref00t/dev".into()),
            table,
        }
    }

    /// [`ResourceNames::from_vars`] on the process environment.
    pub fn from_env() -> Self {
        Self::from_vars(env)
    }
}

/// Creates whatever is missing — the table (with GSI1 and TTL), the two queues and the secret
/// — and answers where they are. The runs queue's visibility timeout is `runs_visibility_secs`
/// (the runner's lease, `Config::runs_visibility_secs`). (`start_with` also makes `MAIL_FROM`'s
/// SES identity.)
pub async fn create_resources(
    sdk: &SdkConfig,
    names: &ResourceNames,
    runs_visibility_secs: i64,
) -> Result<AwsSettings, String> {
    DynamoStore::create_table(&aws_sdk_dynamodb::Client::new(sdk), &names.table).await.map_err(|e| e.to_string())?;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue = |url: &Option<String>, name: &str, visibility: i64| {
        let (sqs, url, name) = (sqs.clone(), url.clone(), name.to_string());
        async move {
            match url {
                Some(url) => Ok::<String, String>(url),
                None => SqsQueue::create(&sqs, &name, visibility as u32).await.map_err(|e| e.to_string()),
            }
        }
    };
    let runs_queue_url = queue(&names.runs_queue_url, &names.runs_queue_name, runs_visibility_secs).await?;
    let webhooks_queue_url =
        queue(&names.webhooks_queue_url, &names.webhooks_queue_name, WEBHOOKS_VISIBILITY_SECS).await?;
    let mail_queue_url = queue(&names.mail_queue_url, &names.mail_queue_name, MAIL_VISIBILITY_SECS).await?;
    let created = aws_secrets::create_if_missing(&aws_sdk_secretsmanager::Client::new(sdk), &names.secret_id)
        .await
        .map_err(|e| e.to_string())?;
    let settings = AwsSettings {
        table: names.table.clone(),
        runs_queue_url,
        webhooks_queue_url,
        mail_queue_url,
        secret_id: names.secret_id.clone(),
    };
    tracing::info!(?settings, secret_created = created, "resources ready");
    Ok(settings)
}

/// Makes `from`'s domain an SES identity when SES has none for it (`--create-resources`): on a
/// local moto that is all SES needs to send from it; on AWS the domain still has to be
/// verified through DNS (README, "Deploy"). Answers whether it made one.
pub async fn ensure_mail_identity(sdk: &SdkConfig, from: &Email) -> Result<bool, String> {
    let ses = aws_sdk_sesv2::Client::new(sdk);
    let domain = from.as_str().rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
    let shown = |e: &dyn std::fmt::Display| format!("SES identity {domain}: {e}");
    match ses.get_email_identity().email_identity(&domain).send().await {
        Ok(_) => Ok(false),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found_exception()) => {
            ses.create_email_identity()
                .email_identity(&domain)
                .send()
                .await
                .map_err(|e| shown(&aws_sdk_sesv2::error::DisplayErrorContext(e)))?;
            tracing::info!(domain, "SES identity made for MAIL_FROM");
            Ok(true)
        }
        Err(e) => Err(shown(&aws_sdk_sesv2::error::DisplayErrorContext(e))),
    }
}

/// The start-up accounts on a store that outlives the process: fixed keys that already
/// resolve are reused, so restarting with the same `DEV_*_KEY` finds the same accounts.
pub async fn bootstrap_or_reuse(
    app: &App,
    distributor_key: Option<String>,
    partner_key: Option<String>,
) -> Result<DevAccounts, String> {
    let existing = |key: &Option<String>| {
        let hash = key.as_ref().map(|k| hash_key(&app.secrets.key_hashing, k));
        async move {
            match hash {
                Some(h) => app.store.key_by_hash(&h).await.map_err(|e| e.to_string()),
                None => Ok(None),
            }
        }
    };
    let (d, p) = (existing(&distributor_key).await?, existing(&partner_key).await?);
    if let (Some(d), Some(p)) = (d, p) {
        let distributor = app.store.distributor(&d.owner.id).await.map_err(|e| e.to_string())?;
        let partner = app.store.partner(&p.owner.id).await.map_err(|e| e.to_string())?;
        if let (Some(distributor), Some(partner)) = (distributor, partner) {
            return Ok(DevAccounts {
                distributor,
                distributor_key: distributor_key.unwrap_or_default(),
                partner,
                partner_key: partner_key.unwrap_or_default(),
            });
        }
    }
    bootstrap(app, distributor_key, partner_key).await.map_err(|e| {
        format!("{e} (with a kept table, set both DEV_DISTRIBUTOR_KEY and DEV_PARTNER_KEY to reuse the accounts they opened)")
    })
}

/// Polls an SQS queue as Lambda's event source would, handling each message on its own and
/// deleting the ones done.
async fn poll<M, F, Fut>(queue: Arc<SqsQueue>, handle: F, shutdown: impl Future<Output = ()>)
where
    M: serde::de::DeserializeOwned,
    F: Fn(M, u32) -> Fut,
    Fut: Future<Output = Ack>,
{
    tokio::pin!(shutdown);
    loop {
        let batch = tokio::select! {
            () = &mut shutdown => return,
            b = queue.receive::<M>(10, 1) => b,
        };
        match batch {
            Ok(deliveries) => {
                for d in deliveries {
                    if handle(d.message, d.receive_count).await == Ack::Done {
                        if let Err(e) = queue.ack(&d.receipt).await {
                            tracing::error!(error = %e, "could not delete a handled message");
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "receiving failed; trying again shortly");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

pub async fn run_runs_worker(aws: &AwsApp, runner: Arc<Runner>, shutdown: impl Future<Output = ()>) {
    poll(
        aws.runs.clone(),
        |m: RunMessage, count| {
            let runner = runner.clone();
            async move { runner.process(&m, count).await }
        },
        shutdown,
    )
    .await
}

pub async fn run_webhooks_worker(aws: &AwsApp, dispatcher: Arc<Dispatcher>, shutdown: impl Future<Output = ()>) {
    poll(
        aws.webhooks.clone(),
        |m: WebhookMessage, _| {
            let dispatcher = dispatcher.clone();
            async move { dispatcher.process(&m).await }
        },
        shutdown,
    )
    .await
}

pub async fn run_mail_worker(
    aws: &AwsApp,
    sender: Arc<shared::mail::worker::MailSender>,
    shutdown: impl Future<Output = ()>,
) {
    poll(
        aws.mail.clone(),
        |m: shared::mail::MailJob, _| {
            let sender = sender.clone();
            async move { sender.process(&m).await }
        },
        shutdown,
    )
    .await
}

/// The app and its start-up accounts on AWS services; with `create`, the resources are made
/// first where missing.
pub async fn start_with(
    sdk: &SdkConfig,
    config: shared::config::Config,
    create: Option<&ResourceNames>,
    distributor_key: Option<String>,
    partner_key: Option<String>,
) -> Result<(AwsApp, DevAccounts), String> {
    let settings = match create {
        Some(names) => create_resources(sdk, names, config.runs_visibility_secs).await?,
        None => AwsSettings::from_env()?,
    };
    if create.is_some() {
        ensure_mail_identity(sdk, &config.mail_from).await?;
    }
    let aws = lambda::build(sdk, &settings, config, Some(shared::report_pdf::render)).await?;
    let accounts = bootstrap_or_reuse(&aws.app, distributor_key, partner_key).await?;
    Ok((aws, accounts))
}

/// As the binary starts it: the SDK's standard configuration and the environment.
pub async fn start(config: shared::config::Config, create: bool) -> Result<(AwsApp, DevAccounts), String> {
    let sdk = shared::aws::sdk_config().await;
    let names = create.then(ResourceNames::from_env);
    start_with(&sdk, config, names.as_ref(), env("DEV_DISTRIBUTOR_KEY"), env("DEV_PARTNER_KEY")).await
}

/// The runner the dev server uses on AWS: as the Lambda worker, with the config's lease and
/// tries.
pub fn runner(aws: &AwsApp) -> Runner {
    aws.service.runner()
}
