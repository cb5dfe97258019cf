//! The `Idempotency-Key` a client sends with a POST.

use super::parsed::parsed_string;

pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// A client's idempotency key: 1 to 255 bytes (a header value, so visible ASCII: bytes are
/// characters), kept as sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key must be 1 to 255 characters.")]
pub struct BadIdempotencyKey;

impl IdempotencyKey {
    pub fn parse(s: &str) -> Result<Self, BadIdempotencyKey> {
        if s.is_empty() || s.len() > IDEMPOTENCY_KEY_MAX {
            Err(BadIdempotencyKey)
        } else {
            Ok(Self(s.to_string()))
        }
    }
}

parsed_string!(IdempotencyKey, BadIdempotencyKey);
