//! Signatures on every delivery: `X-Baref00t-Signature` (lowercase hex HMAC-SHA256 of the raw
//! body, keyed with the whole `whsec_…` string, as the reference says) and the Standard
//! Webhooks headers (`v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with the
//! base64-decoded part after `whsec_`; one signature per secret still valid).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::auth::hex;
use crate::domain::time::Timestamp;

pub const SECRET_PREFIX: &str = "whsec_";
const SECRET_BYTES: usize = 32;

/// A new endpoint secret: `whsec_` + base64 of 32 random bytes.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("{SECRET_PREFIX}{}", B64.encode(bytes))
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// `X-Baref00t-Signature`.
pub fn baref00t_signature(secret: &str, body: &[u8]) -> String {
    hex(&hmac(secret.as_bytes(), &[body]))
}

/// One Standard Webhooks signature, `v1,<base64>`; `None` if the secret is not `whsec_` + base64.
pub fn standard_signature(secret: &str, id: &str, timestamp: Timestamp, body: &[u8]) -> Option<String> {
    let key = B64.decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret)).ok()?;
    let ts = timestamp.unix().to_string();
    Some(format!("v1,{}", B64.encode(hmac(&key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]))))
}

/// Every signing header of one attempt. `secrets` holds the current secret first, then any
/// previous one still within its grace period.
pub fn headers(
    secrets: &[String],
    event_id: &str,
    event_type: &str,
    timestamp: Timestamp,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let current = secrets.first().map(String::as_str).unwrap_or_default();
    let standard: Vec<String> =
        secrets.iter().filter_map(|s| standard_signature(s, event_id, timestamp, body)).collect();
    vec![
        ("content-type", "application/json".into()),
        ("user-agent", "baref00t-webhooks/1".into()),
        ("x-baref00t-signature", baref00t_signature(current, body)),
        ("x-baref00t-event", event_type.to_string()),
        ("x-baref00t-delivery", event_id.to_string()),
        ("webhook-id", event_id.to_string()),
        ("webhook-timestamp", timestamp.unix().to_string()),
        ("webhook-signature", standard.join(" ")),
    ]
}
