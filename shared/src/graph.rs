//! A Microsoft Graph client for app-only access to a customer's tenant: an OAuth 2.0
//! client-credentials token per tenant, `@odata.nextLink` paging, and patience with
//! throttling (429/503 with `Retry-After`). Base URLs are configuration so tests point it at
//! a local stub that serves recorded Graph responses.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct GraphConfig {
    /// `https://login.microsoftonline.com` in production.
    pub login_base: String,
    /// `https://graph.microsoft.com` in production.
    pub graph_base: String,
    pub client_id: String,
    pub client_secret: String,
    /// Attempts per request when throttled or the service is briefly unavailable.
    pub max_attempts: u32,
    /// The most one request waits in all for throttling. A `Retry-After` that would pass it
    /// gives up at once ([`GraphError::Throttled`], transient): the run is retried through the
    /// runs queue rather than holding a worker near its time limit.
    pub max_wait_per_request: Duration,
}

impl GraphConfig {
    pub fn production(client_id: String, client_secret: String) -> Self {
        Self {
            login_base: "https://login.microsoftonline.com".into(),
            graph_base: "https://graph.microsoft.com".into(),
            client_id,
            client_secret,
            max_attempts: 5,
            // Well below the runs worker's 120 s time limit (template.yaml).
            max_wait_per_request: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    /// Microsoft refused the app's token for the tenant: no admin consent (or it was withdrawn,
    /// or the app's service principal is gone). The whole tenant is closed to the app.
    #[error("consent required: {0}")]
    ConsentRequired(String),
    /// Graph refused one request (403) with a valid token: a permission or a licence for that
    /// area is missing. Only that area is closed; it is no reason to fail a run or touch consent.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("tenant not found: {0}")]
    TenantNotFound(String),
    /// The tenant has no licence for the feature (e.g. PIM without Entra ID P2): Graph's
    /// status, code and message. The area is unreadable, not empty (see `assess::collect`).
    #[error("not licensed: {0}")]
    NotLicensed(String),
    #[error("throttled: gave up after {0} attempts")]
    Throttled(u32),
    #[error("Graph answered {status}: {message}")]
    Http { status: u16, message: String },
    #[error("could not reach Microsoft: {0}")]
    Transport(String),
    #[error("unexpected response: {0}")]
    InvalidResponse(String),
}

impl GraphError {
    /// Worth another try later (the run is retried rather than failed).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Throttled(_) | Self::Transport(_) => true,
            Self::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Waiting, injected so tests of throttling do not sleep.
#[async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, d: Duration);
}

pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await
    }
}

pub struct GraphClient {
    http: reqwest::Client,
    config: GraphConfig,
    sleeper: Arc<dyn Sleeper>,
}

/// An app-only session in one tenant.
pub struct TenantSession<'a> {
    client: &'a GraphClient,
    token: String,
    /// Every successful response so far: (path and query from the API version on, SHA-256 of
    /// the raw body, lower-case hex), for the evidence trail; see [`TenantSession::take_log`].
    log: std::sync::Mutex<Vec<(String, String)>>,
}

/// Microsoft identity platform error codes (AADSTS…) on a token request that mean the app may
/// not read the tenant at all (Microsoft Entra authentication and authorization error codes,
/// learn.microsoft.com/entra/identity-platform/reference-error-codes):
/// 65001 the administrator has not consented to the application; 700016 the application was
/// not found in the tenant's directory (never consented there, or removed); 7000229 the client
/// application is missing its service principal in the tenant; 500011 the resource principal
/// (Graph's, for this app) was not found in the tenant; 7000112 the application is disabled in
/// the tenant; 50020 kept from before (an account from another tenant). Microsoft says codes
/// can change: an unknown refusal is an `Http` error (the run fails as not consent-related and
/// nothing is revoked), so a new code costs a failed run, never a wrong revocation.
const CONSENT_CODES: &[u64] = &[65001, 700016, 7000229, 500011, 7000112, 50020];
const TENANT_CODES: &[u64] = &[90002, 900023, 90072];

impl GraphClient {
    pub fn new(config: GraphConfig, sleeper: Arc<dyn Sleeper>) -> Result<Self, GraphError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| GraphError::Transport(e.to_string()))?;
        Ok(Self { http, config, sleeper })
    }

    /// Gets an app-only token for `tenant_id` (client credentials).
    pub async fn session(&self, tenant_id: &str) -> Result<TenantSession<'_>, GraphError> {
        let url = format!("{}/{}/oauth2/v2.0/token", self.config.login_base.trim_end_matches('/'), tenant_id);
        let scope = format!("{}/.default", self.config.graph_base.trim_end_matches('/'));
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.as_str()),
            ("scope", scope.as_str()),
        ];
        let resp = self.send_with_retries(|| self.http.post(&url).form(&form)).await?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.map_err(|e| GraphError::InvalidResponse(e.to_string()))?;
        if status == 200 {
            let token = body["access_token"]
                .as_str()
                .ok_or_else(|| GraphError::InvalidResponse("token response without access_token".into()))?;
            return Ok(TenantSession { client: self, token: token.to_string(), log: Default::default() });
        }
        let codes: Vec<u64> =
            body["error_codes"].as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
        let description = body["error_description"].as_str().unwrap_or("").lines().next().unwrap_or("").to_string();
        if codes.iter().any(|c| CONSENT_CODES.contains(c)) {
            Err(GraphError::ConsentRequired(description))
        } else if codes.iter().any(|c| TENANT_CODES.contains(c)) {
            Err(GraphError::TenantNotFound(description))
        } else {
            Err(GraphError::Http { status, message: description })
        }
    }

    /// Sends, waiting out 429 and 503 answers as `Retry-After` says (or backing off).
    async fn send_with_retries(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, GraphError> {
        let attempts = self.config.max_attempts.max(1);
        let mut waited = Duration::ZERO;
        for attempt in 1..=attempts {
            let resp = build().send().await.map_err(|e| GraphError::Transport(e.to_string()))?;
            let status = resp.status().as_u16();
            if status != 429 && status != 503 {
                return Ok(resp);
            }
            if attempt == attempts {
                break;
            }
            let wait = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(1 << attempt.min(6));
            let wait = Duration::from_secs(wait);
            if waited + wait > self.config.max_wait_per_request {
                return Err(GraphError::Throttled(attempt));
            }
            waited += wait;
            self.sleeper.sleep(wait).await;
        }
        Err(GraphError::Throttled(attempts))
    }
}

impl TenantSession<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.client.config.graph_base.trim_end_matches('/'), path)
    }

    async fn get_json(&self, url: &str) -> Result<Value, GraphError> {
        self.send_json(url, None).await
    }

    /// GET (`body` `None`) or POST a JSON body, with the session's token; a 200 or 201 answer
    /// is logged for the evidence trail and returned, anything else is a [`GraphError`].
    async fn send_json(&self, url: &str, body: Option<&Value>) -> Result<Value, GraphError> {
        let resp = self
            .client
            .send_with_retries(|| {
                let req = match body {
                    Some(b) => self.client.http.post(url).json(b),
                    None => self.client.http.get(url),
                };
                req.bearer_auth(&self.token).header("ConsistencyLevel", "eventual")
            })
            .await?;
        let status = resp.status().as_u16();
        let raw = resp.bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        if status == 200 || status == 201 {
            use sha2::{Digest, Sha256};
            let digest: String = Sha256::digest(&raw).iter().map(|b| format!("{b:02x}")).collect();
            let base = self.client.config.graph_base.trim_end_matches('/');
            let path = url.strip_prefix(base).unwrap_or(url).to_string();
            self.log.lock().unwrap_or_else(|e| e.into_inner()).push((path, digest));
            return Ok(body);
        }
        let code = body["error"]["code"].as_str().unwrap_or("").to_string();
        let message = body["error"]["message"].as_str().unwrap_or("").to_string();
        let lower = message.to_ascii_lowercase();
        // A licence refusal comes as 403 (`Authorization_RequestDenied` with a licence
        // message, `AadPremiumLicenseRequired`) or, on some P2-only APIs (PIM, access
        // reviews), as 400 with the same words: either way the tenant lacks the licence.
        let licence = lower.contains("licen") || lower.contains("premium") || code == "AadPremiumLicenseRequired";
        match status {
            400 | 403 if licence => Err(GraphError::NotLicensed(format!("{status} {code}: {message}"))),
            403 => Err(GraphError::Forbidden(format!("403 {code}: {message}"))),
            // The token was accepted at the door (it is the same for every read), so a 401 on
            // one resource is that service refusing the app (Microsoft 365 Backup serves only
            // its registered controller apps), not missing consent: the area is closed.
            401 => Err(GraphError::Forbidden(format!("401 {code}: {message}"))),
            _ => Err(GraphError::Http { status, message: format!("{code}: {message}") }),
        }
    }

    /// The responses received since the last call: (path and query, SHA-256 of the raw body).
    pub fn take_log(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// POSTs `body` to a Graph path (e.g. creating a report export job) and answers the object
    /// Graph created (201) or returned (200). Errors as [`TenantSession::get`].
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, GraphError> {
        self.send_json(&self.url(path), Some(body)).await
    }

    /// Waits `d` on the client's injected [`Sleeper`] (polling a long-running Graph job), so
    /// tests never sleep.
    pub async fn pause(&self, d: Duration) {
        self.client.sleeper.sleep(d).await
    }

    /// Downloads a file a Graph answer pointed to (a report export's pre-signed blob URL) into
    /// memory, at most `max_bytes` bytes. The session's token is never sent: the URL carries
    /// its own signature and is not Graph's host. Only `https://` URLs are fetched, except a
    /// plain `http://` one when Graph itself is configured on plain http (a local test stub;
    /// production's Graph base is https). Errors: [`GraphError::InvalidResponse`] for a URL
    /// refused or a file over the bound, [`GraphError::Http`] for a non-200 answer,
    /// [`GraphError::Transport`] when the host cannot be reached.
    pub async fn download(&self, url: &str, max_bytes: usize) -> Result<bytes::Bytes, GraphError> {
        let plain_http_allowed = self.client.config.graph_base.starts_with("http://");
        if !(url.starts_with("https://") || (plain_http_allowed && url.starts_with("http://"))) {
            return Err(GraphError::InvalidResponse("the download URL is not https".into()));
        }
        let mut resp = self.client.send_with_retries(|| self.client.http.get(url)).await?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(GraphError::Http { status, message: "the export file could not be downloaded".into() });
        }
        let too_big = || GraphError::InvalidResponse(format!("the export file is over {max_bytes} bytes"));
        if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(too_big());
        }
        let mut file = bytes::BytesMut::with_capacity(resp.content_length().unwrap_or(0) as usize);
        while let Some(chunk) = resp.chunk().await.map_err(|e| GraphError::Transport(e.to_string()))? {
            if file.len() + chunk.len() > max_bytes {
                return Err(too_big());
            }
            file.extend_from_slice(&chunk);
        }
        Ok(file.freeze())
    }

    /// One object, e.g. `/v1.0/policies/identitySecurityDefaultsEnforcementPolicy`.
    pub async fn get(&self, path: &str) -> Result<Value, GraphError> {
        self.get_json(&self.url(path)).await
    }

    /// Every item of a collection, following `@odata.nextLink` while it stays on Graph.
    pub async fn get_all(&self, path: &str) -> Result<Vec<Value>, GraphError> {
        let base = self.client.config.graph_base.trim_end_matches('/').to_string();
        let mut url = self.url(path);
        let mut items = Vec::new();
        for _ in 0..1000 {
            let mut page = self.get_json(&url).await?;
            match page.get_mut("value").map(Value::take) {
                Some(Value::Array(v)) => items.extend(v),
                _ => return Err(GraphError::InvalidResponse(format!("{path}: no value array"))),
            }
            match page.get("@odata.nextLink").and_then(Value::as_str) {
                // The token goes only to Graph itself, never to a host a response names.
                Some(next) if next.starts_with(&format!("{base}/")) => url = next.to_string(),
                Some(next) => return Err(GraphError::InvalidResponse(format!("nextLink leaves Graph: {next}"))),
                None => return Ok(items),
            }
        }
        Err(GraphError::InvalidResponse(format!("{path}: more than 1000 pages")))
    }
}
