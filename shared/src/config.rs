//! Configuration, read once per cold start.

use crate::domain::catalog::Catalog;
use crate::domain::email::Email;

/// The sender when `MAIL_FROM` is not set: fine for the dev server's `.eml` files; on AWS the
/// template always sets a verified one.
pub const DEFAULT_MAIL_FROM: &str = "no-reply@baref00t.localhost";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Requests per minute per partner API key (a fixed window in the store).
    pub rate_limit_partner_per_min: u32,
    /// Requests per minute per distributor API key.
    pub rate_limit_distributor_per_min: u32,
    /// Plan changes per hour per partner (fixed; not read from the environment).
    pub plan_changes_per_hour: u32,
    pub catalog: Catalog,
    /// Largest accepted request body, in bytes (fixed).
    pub max_body_bytes: usize,
    /// Waits after failed webhook attempts (`WEBHOOK_RETRY_SCHEDULE`).
    pub webhook_retry_schedule: Vec<i64>,
    /// Development only: lets webhooks use `http://` and reach loopback and private addresses.
    pub webhook_allow_private_targets: bool,
    /// Time limit of one webhook attempt, in milliseconds (fixed).
    pub webhook_timeout_ms: u64,
    /// Webhook endpoints per account (fixed).
    pub webhook_max_endpoints: usize,
    /// Where report share links point (the API's public URL, without a trailing slash).
    pub public_base_url: String,
    /// Where tenant consent is granted (`CONSENT_AUTHORITY`, without a trailing slash); `None`
    /// is the runtime's default: Microsoft's on AWS, the dev server's own stand-in in it.
    pub consent_authority: Option<String>,
    /// How long one attempt holds a run, in seconds: the runs queue's visibility timeout
    /// (`RUNS_VISIBILITY_SECS`; the template sets both to 720).
    pub runs_visibility_secs: i64,
    /// Deliveries of a run message that may try the run; the next one fails it
    /// (`RUN_MAX_ATTEMPTS`; keep it below the queue's `maxReceiveCount`).
    pub run_max_attempts: u32,
    /// A run queued this long, in seconds, is assumed to have lost its message and is sent
    /// again (`RUN_STALE_AFTER_SECS`).
    pub run_stale_after_secs: i64,
    /// A pending delivery whose next attempt is this overdue, in seconds, is assumed lost and
    /// queued again by the sweep (`WEBHOOK_LOST_AFTER_SECS`).
    pub webhook_lost_after_secs: i64,
    /// How long, in seconds, a claimed `Idempotency-Key` stays locked when its request never
    /// finishes (the process died): retries answer 409 meanwhile (`IDEMPOTENCY_LEASE_SECS`).
    pub idempotency_lease_secs: i64,
    /// The address mail is sent from (`MAIL_FROM`): the envelope sender and the `From` header,
    /// shown with the partner's company as its name. On SES, an address of a verified identity.
    pub mail_from: Email,
}

/// SQS's longest visibility timeout (12 hours), the bound of `RUNS_VISIBILITY_SECS`.
pub const MAX_VISIBILITY_SECS: u32 = 43_200;

impl Default for Config {
    fn default() -> Self {
        Self {
            rate_limit_partner_per_min: 60,
            rate_limit_distributor_per_min: 120,
            plan_changes_per_hour: 10,
            catalog: Catalog::default(),
            max_body_bytes: 256 * 1024,
            public_base_url: "http://127.0.0.1:3000".into(),
            webhook_retry_schedule: crate::webhooks::schedule::DEFAULT_RETRY_SCHEDULE.to_vec(),
            webhook_allow_private_targets: false,
            webhook_timeout_ms: 10_000,
            webhook_max_endpoints: 20,
            consent_authority: None,
            runs_visibility_secs: 120,
            run_max_attempts: 3,
            run_stale_after_secs: crate::runner::STALE_QUEUED_SECS,
            webhook_lost_after_secs: crate::webhooks::relay::LOST_AFTER_SECS,
            idempotency_lease_secs: 60,
            mail_from: Email::parse(DEFAULT_MAIL_FROM).expect("the default sender is an address"),
        }
    }
}

impl Config {
    /// Reads `RATE_LIMIT_PARTNER_PER_MIN`, `RATE_LIMIT_DISTRIBUTOR_PER_MIN`, `RUN_MAX_ATTEMPTS`,
    /// `RUN_STALE_AFTER_SECS`, `WEBHOOK_LOST_AFTER_SECS` and `IDEMPOTENCY_LEASE_SECS` (whole
    /// numbers above 0), `RUNS_VISIBILITY_SECS` (1 to 43200, SQS's range),
    /// `WEBHOOK_RETRY_SCHEDULE`, `WEBHOOK_ALLOW_PRIVATE_TARGETS` (`true`/`false`/`1`/`0`),
    /// `PUBLIC_BASE_URL` and `CONSENT_AUTHORITY` (http or https; a trailing slash is dropped),
    /// `MAIL_FROM` (a bare address, as [`Email`] and the MIME builder both accept) and `CATALOG_JSON` through
    /// `var`, falling back to the contract's defaults; the fields marked fixed keep their
    /// defaults. `ConfigError::Invalid` names the first variable that does not parse.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let up_to = |name: &'static str, default: u32, max: u32| -> Result<u32, ConfigError> {
            match var(name) {
                None => Ok(default),
                Some(v) => v.trim().parse::<u32>().ok().filter(|n| (1..=max).contains(n)).ok_or(ConfigError::Invalid {
                    name,
                    reason: if max == u32::MAX {
                        format!("expected a whole number above 0, got {v:?}")
                    } else {
                        format!("expected a whole number from 1 to {max}, got {v:?}")
                    },
                }),
            }
        };
        let positive = |name: &'static str, default: u32| up_to(name, default, u32::MAX);
        // Seconds: kept as i64 (timestamps are), read as a positive u32.
        let seconds = |name: &'static str, default: i64| {
            positive(name, u32::try_from(default).unwrap_or(u32::MAX)).map(i64::from)
        };
        c.rate_limit_partner_per_min = positive("RATE_LIMIT_PARTNER_PER_MIN", c.rate_limit_partner_per_min)?;
        c.rate_limit_distributor_per_min =
            positive("RATE_LIMIT_DISTRIBUTOR_PER_MIN", c.rate_limit_distributor_per_min)?;
        c.runs_visibility_secs =
            up_to("RUNS_VISIBILITY_SECS", c.runs_visibility_secs as u32, MAX_VISIBILITY_SECS).map(i64::from)?;
        c.run_max_attempts = positive("RUN_MAX_ATTEMPTS", c.run_max_attempts)?;
        c.run_stale_after_secs = seconds("RUN_STALE_AFTER_SECS", c.run_stale_after_secs)?;
        c.webhook_lost_after_secs = seconds("WEBHOOK_LOST_AFTER_SECS", c.webhook_lost_after_secs)?;
        c.idempotency_lease_secs = seconds("IDEMPOTENCY_LEASE_SECS", c.idempotency_lease_secs)?;
        if let Some(raw) = var("WEBHOOK_RETRY_SCHEDULE") {
            c.webhook_retry_schedule = crate::webhooks::schedule::parse(&raw)
                .map_err(|reason| ConfigError::Invalid { name: "WEBHOOK_RETRY_SCHEDULE", reason })?;
        }
        if let Some(raw) = var("WEBHOOK_ALLOW_PRIVATE_TARGETS") {
            c.webhook_allow_private_targets = match raw.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                other => {
                    return Err(ConfigError::Invalid {
                        name: "WEBHOOK_ALLOW_PRIVATE_TARGETS",
                        reason: format!("expected true or false, got {other:?}"),
                    })
                }
            };
        }
        if let Some(url) = var("PUBLIC_BASE_URL") {
            let url = url.trim().trim_end_matches('/').to_string();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    name: "PUBLIC_BASE_URL",
                    reason: format!("expected an http(s) URL, got {url:?}"),
                });
            }
            c.public_base_url = url;
        }
        if let Some(url) = var("CONSENT_AUTHORITY") {
            let url = url.trim().trim_end_matches('/').to_string();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    name: "CONSENT_AUTHORITY",
                    reason: format!("expected an http(s) URL, got {url:?}"),
                });
            }
            c.consent_authority = Some(url);
        }
        if let Some(raw) = var("MAIL_FROM") {
            c.mail_from =
                parse_mail_from(raw.trim()).map_err(|reason| ConfigError::Invalid { name: "MAIL_FROM", reason })?;
        }
        if let Some(json) = var("CATALOG_JSON") {
            let catalog: Catalog = serde_json::from_str(&json)
                .map_err(|e| ConfigError::Invalid { name: "CATALOG_JSON", reason: e.to_string() })?;
            catalog.validate().map_err(|reason| ConfigError::Invalid { name: "CATALOG_JSON", reason })?;
            c.catalog = catalog;
        }
        Ok(c)
    }

    /// [`Config::from_vars`] on the process environment; an empty variable counts as unset.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }
}

/// A sender address: an [`Email`] that the MIME builder takes too (so no message fails on it).
fn parse_mail_from(raw: &str) -> Result<Email, String> {
    let email =
        Email::parse(raw).map_err(|_| format!("expected an email address like no-reply@example.com, got {raw:?}"))?;
    raw.parse::<lettre::Address>().map_err(|e| format!("{raw:?} is not usable as a sender: {e}"))?;
    Ok(email)
}

/// Secrets the API needs. On AWS they come from Secrets Manager; the dev server makes fresh
/// random ones per process.
#[derive(Clone)]
pub struct Secrets {
    /// Keys API keys are hashed with (HMAC-SHA256), so a leaked table does not reveal keys.
    pub key_hashing: Vec<u8>,
    /// Signs list cursors.
    pub cursor_signing: Vec<u8>,
    /// Signs report share links.
    pub report_signing: Vec<u8>,
    /// Encrypts webhook endpoint secrets at rest, and (through a key derived from it) the
    /// answers kept for idempotent replay (`api::idempotency::sealed`).
    pub webhook_encryption: Vec<u8>,
    /// Signs the `state` of tenant consent links (`usecases::consent::State`).
    pub consent_signing: Vec<u8>,
}

impl Secrets {
    pub fn random() -> Self {
        let fresh = || {
            let mut k = vec![0u8; 32];
            getrandom::fill(&mut k).expect("the operating system's random source failed");
            k
        };
        Self {
            key_hashing: fresh(),
            cursor_signing: fresh(),
            report_signing: fresh(),
            webhook_encryption: fresh(),
            consent_signing: fresh(),
        }
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}
