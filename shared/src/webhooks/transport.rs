//! Sending one attempt: a POST with a time limit, no redirects followed, no proxy, through
//! the guarded resolver. Injected, so delivery is tested against local receivers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::guard::{check_url, GuardedResolver, Lookup};

/// What an attempt got back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The first 1 KiB of the body.
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("timed out after {0} ms")]
    Timeout(u64),
    #[error("blocked: {0}")]
    Blocked(String),
    #[error("could not connect: {0}")]
    Connect(String),
}

#[async_trait]
pub trait Transport: Send + Sync {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &[u8]) -> Result<Answer, SendError>;
}

pub const RESPONSE_KEEP_BYTES: usize = 1024;

/// The webhook transport over HTTPS. Its client is built on the first POST, not with the app:
/// building one loads the platform's root certificates (about 10 ms at a cold start, issue 16),
/// and most functions never send a webhook.
pub struct HttpTransport {
    client: std::sync::OnceLock<reqwest::Client>,
    lookup: Arc<dyn Lookup>,
    allow_private: bool,
    timeout: Duration,
}

impl HttpTransport {
    pub fn new(lookup: Arc<dyn Lookup>, allow_private: bool, timeout: Duration) -> Self {
        Self { client: std::sync::OnceLock::new(), lookup, allow_private, timeout }
    }

    /// The client, built once, on first use.
    fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                .dns_resolver(GuardedResolver { lookup: self.lookup.clone(), allow_private: self.allow_private })
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(self.timeout)
                .build()
                .expect("an HTTP client with these settings always builds")
        })
    }

    /// Whether the client has been built (it is, once something was sent).
    pub fn is_built(&self) -> bool {
        self.client.get().is_some()
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.join(": ")
}

#[async_trait]
impl Transport for HttpTransport {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &[u8]) -> Result<Answer, SendError> {
        let url = check_url(url, self.allow_private).map_err(SendError::Blocked)?;
        let mut req = self.client().post(url).body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let ms = self.timeout.as_millis() as u64;
        let mut resp = req.send().await.map_err(|e| {
            let text = chain(&e);
            if e.is_timeout() {
                SendError::Timeout(ms)
            } else if text.contains("may not reach") {
                SendError::Blocked(text)
            } else {
                SendError::Connect(text)
            }
        })?;
        let status = resp.status().as_u16();
        let mut kept = Vec::new();
        // Read no more of the body than is kept; a timeout while reading keeps what came.
        while kept.len() < RESPONSE_KEEP_BYTES {
            match resp.chunk().await {
                Ok(Some(c)) => kept.extend_from_slice(&c),
                _ => break,
            }
        }
        kept.truncate(RESPONSE_KEEP_BYTES);
        Ok(Answer { status, body: String::from_utf8_lossy(&kept).into_owned() })
    }
}
