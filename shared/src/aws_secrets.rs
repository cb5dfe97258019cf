//! Secrets on AWS: one Secrets Manager secret holding a JSON object, read once per cold start.
//!
//! ```json
//! {"keyHashing": "<base64>", "cursorSigning": "<base64>", "reportSigning": "<base64>",
//!  "consentSigning": "<base64>", "webhookEncryption": "<base64>",
//!  "graphClientId": "…", "graphClientSecret": "…"}
//! ```
//!
//! The five keys (four signing keys and the webhook-secret encryption key) are required,
//! each base64 of at least 32 random bytes. Any other
//! field is kept as text for the parts that need it (Microsoft Graph's app credentials, a
//! webhook encryption key, …), so adding a secret needs no change here.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::config::{ConfigError, Secrets};

pub const KEY_HASHING: &str = "keyHashing";
pub const CURSOR_SIGNING: &str = "cursorSigning";
pub const REPORT_SIGNING: &str = "reportSigning";
pub const WEBHOOK_ENCRYPTION: &str = "webhookEncryption";
pub const CONSENT_SIGNING: &str = "consentSigning";

/// Everything the secret holds.
#[derive(Clone)]
pub struct SecretBundle {
    pub secrets: Secrets,
    /// Fields beyond the five keys (e.g. `graphClientId`, `graphClientSecret`).
    pub other: BTreeMap<String, String>,
}

impl std::fmt::Debug for SecretBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBundle").field("other", &self.other.keys().collect::<Vec<_>>()).finish()
    }
}

impl SecretBundle {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.other.get(name).map(String::as_str)
    }

    /// Parses the secret's JSON; the error never contains a secret value.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid { name: "SECRET_ID", reason };
        let fields: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|_| invalid("the secret is not a JSON object".into()))?;
        let mut other = BTreeMap::new();
        let mut keys: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        for (name, value) in fields {
            let Some(text) = value.as_str() else {
                return Err(invalid(format!("field {name} of the secret is not a string")));
            };
            match name.as_str() {
                KEY_HASHING | CURSOR_SIGNING | REPORT_SIGNING | WEBHOOK_ENCRYPTION | CONSENT_SIGNING => {
                    let bytes = B64
                        .decode(text.trim())
                        .map_err(|_| invalid(format!("field {name} of the secret is not base64")))?;
                    if bytes.len() < 32 {
                        return Err(invalid(format!("field {name} of the secret is shorter than 32 bytes")));
                    }
                    let slot = match name.as_str() {
                        KEY_HASHING => KEY_HASHING,
                        CURSOR_SIGNING => CURSOR_SIGNING,
                        REPORT_SIGNING => REPORT_SIGNING,
                        CONSENT_SIGNING => CONSENT_SIGNING,
                        _ => WEBHOOK_ENCRYPTION,
                    };
                    keys.insert(slot, bytes);
                }
                _ => {
                    other.insert(name, text.to_string());
                }
            }
        }
        let mut take =
            |name: &'static str| keys.remove(name).ok_or_else(|| invalid(format!("the secret has no field {name}")));
        let secrets = Secrets {
            key_hashing: take(KEY_HASHING)?,
            cursor_signing: take(CURSOR_SIGNING)?,
            report_signing: take(REPORT_SIGNING)?,
            webhook_encryption: take(WEBHOOK_ENCRYPTION)?,
            consent_signing: take(CONSENT_SIGNING)?,
        };
        Ok(Self { secrets, other })
    }

    /// A fresh secret's JSON: five random keys (for `--create-resources` and tests).
    pub fn generate_json() -> String {
        let fresh = || {
            let mut k = vec![0u8; 32];
            getrandom::fill(&mut k).expect("the operating system's random source failed");
            B64.encode(k)
        };
        serde_json::json!({
            KEY_HASHING: fresh(),
            CURSOR_SIGNING: fresh(),
            REPORT_SIGNING: fresh(),
            WEBHOOK_ENCRYPTION: fresh(),
            CONSENT_SIGNING: fresh(),
        })
        .to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("reading secret {id} failed: {reason}")]
    Read { id: String, reason: String },
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

/// Reads and parses the secret `secret_id` (a name or ARN).
pub async fn load(client: &aws_sdk_secretsmanager::Client, secret_id: &str) -> Result<SecretBundle, SecretError> {
    let out = client.get_secret_value().secret_id(secret_id).send().await.map_err(|e| SecretError::Read {
        id: secret_id.to_string(),
        reason: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
    })?;
    let json = out.secret_string().ok_or_else(|| SecretError::Read {
        id: secret_id.to_string(),
        reason: "the secret has no string value".into(),
    })?;
    Ok(SecretBundle::from_json(json)?)
}

/// Creates the secret with fresh keys unless it exists (development against an emulator or a
/// sandbox account; in production an operator creates it, see the README).
pub async fn create_if_missing(client: &aws_sdk_secretsmanager::Client, name: &str) -> Result<bool, SecretError> {
    let created = client.create_secret().name(name).secret_string(SecretBundle::generate_json()).send().await;
    match created {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_exists_exception()) => Ok(false),
        Err(e) => Err(SecretError::Read {
            id: name.to_string(),
            reason: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
        }),
    }
}
