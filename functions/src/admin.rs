//! The operator CLI's logic (the binary `admin` only calls [`main`]): creates the first
//! distributor, partners without a distributor, and further keys, straight on the DynamoDB
//! table; not an HTTP route. A new key is printed once, to stdout, and never logged.
//!
//! Configuration: `TABLE_NAME` and `SECRET_ID` (the key-hashing key is read from that Secrets
//! Manager secret, never from the environment); region, credentials and `AWS_ENDPOINT_URL`
//! through the AWS SDK's standard loading; `CATALOG_JSON` as for the functions (plans).

use std::sync::Arc;

use aws_config::SdkConfig;

use shared::aws_secrets;
use shared::compose::Operator;
use shared::config::{Config, Secrets};
use shared::domain::account::{AccountStatus, Owner};
use shared::domain::catalog::Catalog;
use shared::domain::ids::{prefix, IdGen};
use shared::domain::time::{Clock, SystemClock, Timestamp};
use shared::store::dynamo::DynamoStore;
use shared::store::AccountKeyStore;
use shared::usecases::accounts::{self, NewAccount};

pub const USAGE: &str = "\
usage: admin <command> [options]

Operator commands on the baref00t table. A new key is printed once, to stdout: store it now.

commands:
  create-distributor --company NAME --email EMAIL
      an active distributor and its first key (dk_live_...)
  create-partner --company NAME --email EMAIL [--plan starter|professional|enterprise]
      an active partner without a distributor (plan starter unless given) and its first key (pk_live_...)
  issue-key --partner prt_... | --distributor dist_...
      a key in the account's free slot (at most two keys per account)
  quarantine [--release evt_...]
      lists the outbox events moved aside because their fan-out kept failing (or that do not
      decode), with the reason; --release puts one back in the outbox for the relay once the
      cause is fixed
  backfill-list-entries
      once after upgrading to the version with per-product run entries and per-status partner
      entries: scans the table and writes the entries older versions did not (safe to repeat)
  help, --help, -h
      this message

environment:
  TABLE_NAME   the DynamoDB table
  SECRET_ID    name or ARN of the Secrets Manager secret (its keyHashing key hashes the keys)
  AWS_REGION, AWS_PROFILE / credentials, AWS_ENDPOINT_URL: the AWS SDK's standard settings
  CATALOG_JSON optional, the plans (as for the functions)";

pub const DEFAULT_PLAN: &str = "starter";

/// One parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    CreateDistributor {
        company: String,
        email: String,
    },
    CreatePartner {
        company: String,
        email: String,
        plan: String,
    },
    IssueKey(Owner),
    /// Writes the list entries older versions did not write (`DynamoStore::backfill_list_entries`).
    BackfillListEntries,
    /// Lists the quarantined outbox events, or releases one (`Outbox::release_quarantined`).
    Quarantine {
        release: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The command line is wrong; the message ends with the usage.
    #[error("{0}\n\n{USAGE}")]
    Usage(String),
    /// Missing or bad configuration (environment, secret).
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Provision(#[from] accounts::ProvisionError),
    /// The table refused or failed a read or write.
    #[error("the table: {0}")]
    Store(#[from] shared::store::StoreError),
}

fn usage(msg: impl Into<String>) -> AdminError {
    AdminError::Usage(msg.into())
}

/// Parses the arguments after the program name.
pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Command, AdminError> {
    let mut args = args.iter().map(AsRef::as_ref);
    let command = args.next().ok_or_else(|| usage("no command given"))?;
    if matches!(command, "help" | "--help" | "-h") {
        return Ok(Command::Help);
    }
    let allowed: &[&str] = match command {
        "create-distributor" => &["--company", "--email"],
        "create-partner" => &["--company", "--email", "--plan"],
        "issue-key" => &["--partner", "--distributor"],
        "backfill-list-entries" => &[],
        "quarantine" => &["--release"],
        other => return Err(usage(format!("unknown command {other:?}"))),
    };
    let mut opts: Vec<(&str, String)> = Vec::new();
    while let Some(arg) = args.next() {
        if matches!(arg, "--help" | "-h") {
            return Ok(Command::Help);
        }
        // Both `--name value` and `--name=value`.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg, None),
        };
        if !allowed.contains(&name) {
            return Err(usage(format!("{command}: unexpected argument {arg:?}")));
        }
        if opts.iter().any(|(n, _)| *n == name) {
            return Err(usage(format!("{command}: {name} given twice")));
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().map(str::to_string).ok_or_else(|| usage(format!("{command}: {name} needs a value")))?,
        };
        let value = value.trim().to_string();
        if value.is_empty() {
            return Err(usage(format!("{command}: {name} must not be empty")));
        }
        opts.push((name, value));
    }
    let take = |name: &str| opts.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
    let need = |name: &str| take(name).ok_or_else(|| usage(format!("{command}: {name} is required")));
    match command {
        "create-distributor" => Ok(Command::CreateDistributor { company: need("--company")?, email: need("--email")? }),
        "create-partner" => Ok(Command::CreatePartner {
            company: need("--company")?,
            email: need("--email")?,
            plan: take("--plan").unwrap_or_else(|| DEFAULT_PLAN.to_string()),
        }),
        "backfill-list-entries" => Ok(Command::BackfillListEntries),
        "quarantine" => match take("--release") {
            Some(id) if !id.starts_with(prefix::EVENT) => {
                Err(usage(format!("quarantine: {id:?} is not an event id ({}...)", prefix::EVENT)))
            }
            release => Ok(Command::Quarantine { release }),
        },
        _ => match (take("--partner"), take("--distributor")) {
            (Some(id), None) if id.starts_with(prefix::PARTNER) => Ok(Command::IssueKey(Owner::partner(&id))),
            (None, Some(id)) if id.starts_with(prefix::DISTRIBUTOR) => Ok(Command::IssueKey(Owner::distributor(&id))),
            (Some(id), None) => Err(usage(format!("issue-key: {id:?} is not a partner id ({}...)", prefix::PARTNER))),
            (None, Some(id)) => {
                Err(usage(format!("issue-key: {id:?} is not a distributor id ({}...)", prefix::DISTRIBUTOR)))
            }
            _ => Err(usage("issue-key: give exactly one of --partner or --distributor")),
        },
    }
}

/// What the commands work on.
pub struct Admin<'a> {
    pub store: &'a dyn AccountKeyStore,
    pub secrets: &'a Secrets,
    pub catalog: &'a Catalog,
    pub ids: &'a IdGen,
    pub now: Timestamp,
}

impl Admin<'_> {
    /// Runs one command; returns what goes to stdout (the new key, once).
    pub async fn run(&self, command: &Command) -> Result<String, AdminError> {
        match command {
            Command::Help => Ok(format!("{USAGE}\n")),
            Command::CreateDistributor { company, email } => {
                let (d, key) = accounts::create_distributor(
                    self.store,
                    self.secrets,
                    self.ids,
                    NewAccount { company, email, status: AccountStatus::Active, fixed_key: None },
                    self.now,
                )
                .await?;
                Ok(shown(&d.id, 1, &key))
            }
            Command::CreatePartner { company, email, plan } => {
                let (p, key) = accounts::create_partner(
                    self.store,
                    self.secrets,
                    self.ids,
                    self.catalog,
                    None,
                    plan,
                    NewAccount { company, email, status: AccountStatus::Active, fixed_key: None },
                    self.now,
                )
                .await?;
                Ok(shown(&p.id, 1, &key))
            }
            Command::IssueKey(owner) => {
                let (slot, key) = accounts::issue_key(self.store, self.secrets, self.ids, owner, self.now).await?;
                Ok(shown(&owner.id, slot, &key))
            }
            Command::BackfillListEntries | Command::Quarantine { .. } => {
                Err(AdminError::Config("backfill-list-entries works on the DynamoDB table itself; see `run`".into()))
            }
        }
    }
}

/// The one time a key is shown: `id`, `slot` and `key` lines, easy to read and to parse.
fn shown(id: &str, slot: u8, key: &str) -> String {
    format!("id: {id}\nslot: {slot}\nkey: {key}\n")
}

/// Where the table and the secret are, from the environment (no queue URLs needed).
#[derive(Clone, Debug)]
pub struct AdminSettings {
    pub table: String,
    /// Name or ARN of the one JSON secret.
    pub secret_id: String,
}

impl AdminSettings {
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, AdminError> {
        let need = |name: &str| {
            var(name).filter(|v| !v.is_empty()).ok_or_else(|| AdminError::Config(format!("{name} is not set")))
        };
        Ok(Self { table: need("TABLE_NAME")?, secret_id: need("SECRET_ID")? })
    }
}

/// Parses `args`, reads the settings through `var`, loads the secret and runs the command on
/// the table: everything the binary does except printing. Help and usage errors need no AWS.
pub async fn run(
    sdk: &SdkConfig,
    var: impl Fn(&str) -> Option<String>,
    args: &[String],
    now: Timestamp,
) -> Result<String, AdminError> {
    let command = parse(args)?;
    if command == Command::Help {
        return Ok(format!("{USAGE}\n"));
    }
    let settings = AdminSettings::from_vars(&var)?;
    if let Command::Quarantine { release } = &command {
        use shared::store::Outbox;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), settings.table);
        return Ok(match release {
            Some(id) if store.release_quarantined(id).await? => format!("released: {id}\n"),
            Some(id) => return Err(AdminError::Config(format!("no quarantined event {id}"))),
            None => {
                store.quarantined_events(1000).await?.into_iter().map(|q| format!("{}\t{}\n", q.id, q.reason)).collect()
            }
        });
    }
    if command == Command::BackfillListEntries {
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), settings.table);
        let done = store.backfill_list_entries().await?;
        return Ok(format!("scanned: {}\nwritten: {}\n", done.scanned, done.written));
    }
    let config =
        Config::from_vars(|name| var(name).filter(|v| !v.is_empty())).map_err(|e| AdminError::Config(e.to_string()))?;
    let secrets_client = aws_sdk_secretsmanager::Client::new(sdk);
    let bundle =
        aws_secrets::load(&secrets_client, &settings.secret_id).await.map_err(|e| AdminError::Config(e.to_string()))?;
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), settings.table));
    let op = Operator::new(store, bundle.secrets, config.catalog);
    Admin { store: op.store.as_ref(), secrets: &op.secrets, catalog: &op.catalog, ids: &op.ids, now }
        .run(&command)
        .await
}

/// The binary's whole job: prints the result to stdout, or the error to stderr with exit 1
/// (2 for a bad command line).
pub async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Help and usage errors are answered before any AWS configuration is loaded.
    match parse(&args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        Ok(_) => {}
        Err(e) => {
            eprintln!("admin: {e}");
            return std::process::ExitCode::from(2);
        }
    }
    let sdk = shared::aws::sdk_config().await;
    match run(&sdk, |name| std::env::var(name).ok(), &args, SystemClock.now()).await {
        Ok(out) => {
            print!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("admin: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
