//! Stripe's webhooks: the `Stripe-Signature` check and what an event says about a partner's
//! subscription. Stripe's scheme: the header is `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`
//! (several `v1` while a secret is being rolled; `v0` and other schemes are ignored), and a
//! `v1` is HMAC-SHA256 of `"{t}.{raw body}"` keyed with the endpoint's secret (`whsec_…`, as
//! text). A `t` more than [`TOLERANCE_SECS`] from our clock is refused, so a captured request
//! cannot be replayed later; a repeat within the tolerance is caught by the event id.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use crate::domain::time::Timestamp;

/// How far `t` may be from now, either way: Stripe's own libraries' default, 5 minutes.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused (the message of 400 `INVALID_SIGNATURE`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("No Stripe-Signature header.")]
    Missing,
    #[error("The Stripe-Signature header has no timestamp or no v1 signature.")]
    Malformed,
    #[error("The Stripe-Signature timestamp is more than 5 minutes from now.")]
    OutsideTolerance,
    #[error("No v1 signature of the Stripe-Signature header matches the payload.")]
    NoMatch,
}

/// Checks `header` (the `Stripe-Signature` value) over the raw `body` with `secret` at `now`.
pub fn verify(secret: &str, header: Option<&str>, body: &[u8], now: Timestamp) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.push(v),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now.unix() - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::OutsideTolerance);
    }
    let matches = |hex_sig: &str| {
        let Some(sig) = decode_hex(hex_sig) else { return false };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(&sig).is_ok() // constant-time
    };
    if v1.into_iter().any(matches) {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

/// The header Stripe would send for `body` at `t` (tests, and the README's example).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// An event as Stripe sends it: `{id, type, created, data:{object}}`.
#[derive(Clone, Debug, Deserialize)]
pub struct StripeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
}

#[derive(Clone, Debug, Deserialize)]
pub struct EventData {
    pub object: Value,
}

/// What an event asks of a partner's stored subscription status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusChange {
    /// The subscription's own status (`customer.subscription.updated`/`deleted`), for the
    /// subscription `subscription_id`.
    Set { subscription_id: String, status: String },
    /// `invoice.payment_failed`: `past_due` (Stripe's own status after a failed payment)
    /// unless the subscription is already further gone (`unpaid`, `canceled`).
    PaymentFailed,
    /// `invoice.paid`: back to `active` from `past_due` or `unpaid` (a canceled
    /// subscription stays canceled).
    Paid,
}

impl StripeEvent {
    /// The partner the event is about: `metadata.partnerId` of the subscription, which the
    /// adapter sets; on an invoice, its subscription's metadata (`parent.subscription_details`
    /// since API version 2025-03-31, `subscription_details` before).
    pub fn partner_id(&self) -> Option<&str> {
        let o = &self.data.object;
        fn pick(v: &Value) -> Option<&str> {
            v.pointer("/metadata/partnerId").and_then(Value::as_str)
        }
        pick(o)
            .or_else(|| o.pointer("/parent/subscription_details").and_then(pick))
            .or_else(|| o.get("subscription_details").and_then(pick))
    }

    /// What the event changes, or `None` for an event type that changes nothing here.
    pub fn status_change(&self) -> Option<StatusChange> {
        let o = &self.data.object;
        let sub_id = || o.get("id").and_then(Value::as_str).map(str::to_string);
        match self.kind.as_str() {
            "customer.subscription.updated" | "customer.subscription.created" => Some(StatusChange::Set {
                subscription_id: sub_id()?,
                status: o.get("status").and_then(Value::as_str)?.to_string(),
            }),
            "customer.subscription.deleted" => {
                Some(StatusChange::Set { subscription_id: sub_id()?, status: "canceled".into() })
            }
            "invoice.payment_failed" => Some(StatusChange::PaymentFailed),
            "invoice.paid" => Some(StatusChange::Paid),
            _ => None,
        }
    }
}
