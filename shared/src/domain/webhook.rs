//! Webhook endpoints and the deliveries made to them.

use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::account::{Owner, Surface};
use super::event::EventType;
use super::ids::{DeliveryId, EndpointId, EventId};

/// An endpoint an account registered. The signing secret is kept encrypted; the previous one
/// keeps signing for a while after a rotation so receivers can switch over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: EndpointId,
    pub owner: Owner,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    /// The current secret, encrypted (see `webhooks::secrets`).
    pub secret: String,
    /// The secret before the last rotation, encrypted, and when it stops signing.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    pub version: u64,
}

impl Endpoint {
    pub fn wants(&self, kind: EventType) -> bool {
        self.enabled && self.events.iter().any(|e| e == kind.as_str())
    }
}

/// The event types an account of `surface` may subscribe to: `partner.*` is distributor only.
pub fn subscribable(surface: Surface) -> Vec<&'static str> {
    EventType::ALL
        .iter()
        .filter(|k| surface == Surface::Distributor || !k.as_str().starts_with("partner."))
        .map(|k| k.as_str())
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or a retry.
    Pending,
    Delivered,
    /// Every attempt failed.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// One POST to the endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub number: u32,
    pub at: Timestamp,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The first 1 KiB of the response body.
    pub response_body: Option<String>,
    /// A redelivery the owner asked for, outside the retry schedule (absent when false, as in
    /// attempts stored before it existed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual: bool,
}

/// One event on its way to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub endpoint_id: EndpointId,
    pub owner: Owner,
    pub event_id: EventId,
    pub event_type: String,
    /// The exact body every attempt sends.
    pub payload: String,
    pub status: DeliveryStatus,
    /// The newest [`ATTEMPTS_KEPT`] attempts, oldest first.
    pub attempts: Vec<Attempt>,
    pub created_at: Timestamp,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<Timestamp>,
    /// How many of its attempts were redeliveries the owner asked for: they do not use up the
    /// retry schedule (0 in deliveries stored before it existed).
    #[serde(default)]
    pub manual_attempts: u32,
}

/// How many attempts a delivery keeps (the newest): the whole default schedule (6) and 14
/// redeliveries. Each attempt holds up to 1 KiB of response body, so a delivery stays near
/// 30 KB at most (DynamoDB refuses items over 400 KB, and the deliveries route returns them
/// with their attempts); without a bound every redelivery would grow it.
pub const ATTEMPTS_KEPT: usize = 20;

impl Delivery {
    /// The number the next attempt gets: one more than the last made (attempts are numbered
    /// from 1, and the newest are kept).
    pub fn next_attempt_number(&self) -> u32 {
        self.attempts.last().map_or(1, |a| a.number + 1)
    }

    /// Logs `attempt` as the newest, keeping the last [`ATTEMPTS_KEPT`].
    pub fn log_attempt(&mut self, attempt: Attempt) {
        self.manual_attempts += u32::from(attempt.manual);
        self.attempts.push(attempt);
        let over = self.attempts.len().saturating_sub(ATTEMPTS_KEPT);
        self.attempts.drain(..over);
    }

    /// Which automatic attempt attempt `number` is (1 for the first): its place in the retry
    /// schedule, which redeliveries made before it do not count in.
    pub fn schedule_position(&self, number: u32) -> u32 {
        number.saturating_sub(self.manual_attempts).max(1)
    }
}
