//! The dispatcher (`worker.webhook-dispatcher`): makes one attempt of one delivery, logs it,
//! and queues the next attempt after a failure. A message is only acted on if its attempt is
//! the delivery's next, and the attempt is claimed in the store before anything is sent: two
//! copies of one message (two relays queued it, or SQS delivered it twice) held by two
//! dispatchers at once make one POST. The claim is a lease, so a dispatcher that dies while
//! sending leaves the attempt to be claimed again once the lease has run out.

use std::sync::Arc;
use std::time::Instant;

use super::relay::WebhookQueue;
use super::schedule::{delay_after, MAX_QUEUE_DELAY_SECS};
use super::secrets::decrypt;
use super::signing::headers;
use super::transport::{SendError, Transport};
use super::WebhookMessage;
use crate::domain::time::Clock;
use crate::domain::time::Timestamp;
use crate::domain::webhook::{Attempt, Delivery, DeliveryStatus, Endpoint};
use crate::queue::Ack;
use crate::store::{AttemptClaim, StoreError, WebhookStore};

/// Added to an attempt's time limit to make its claim's lease: covers the store writes around
/// the POST and clock differences between dispatchers (times are whole seconds).
pub const LEASE_MARGIN_SECS: i64 = 30;

/// How long a claimed attempt is held, in seconds, for attempts limited to `timeout_ms`.
/// Keep it below the webhooks queue's visibility timeout, so a copy put back while the lease
/// ran comes round after it ended.
pub fn attempt_lease_secs(timeout_ms: u64) -> i64 {
    (timeout_ms as i64 + 999) / 1000 + LEASE_MARGIN_SECS
}

pub struct Dispatcher {
    pub store: Arc<dyn WebhookStore>,
    pub queue: Arc<dyn WebhookQueue>,
    pub transport: Arc<dyn Transport>,
    pub clock: Arc<dyn Clock>,
    /// Key the endpoint secrets are encrypted under.
    pub secret_key: Vec<u8>,
    /// Waits after each failed attempt; one more attempt than waits.
    pub schedule: Vec<i64>,
    /// How long a claimed attempt is held ([`attempt_lease_secs`]).
    pub lease_secs: i64,
}

/// The secrets that sign now: the current one, and the previous one within its grace period.
pub fn signing_secrets(
    endpoint: &Endpoint,
    key: &[u8],
    now: Timestamp,
) -> Result<Vec<String>, super::secrets::SecretError> {
    let mut out = vec![decrypt(key, &endpoint.secret)?];
    if let (Some(prev), Some(until)) = (&endpoint.previous_secret, endpoint.previous_secret_expires_at) {
        if now < until {
            out.push(decrypt(key, prev)?);
        }
    }
    Ok(out)
}

/// Result of one POST, as the log keeps it.
pub struct Tried {
    pub delivered: bool,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

/// Signs and sends `body` for `event_id` to `endpoint`, timing it.
pub async fn attempt(
    transport: &dyn Transport,
    endpoint: &Endpoint,
    secrets: &[String],
    event_id: &str,
    event_type: &str,
    body: &[u8],
    now: Timestamp,
) -> Tried {
    let started = Instant::now();
    let result = transport.post(&endpoint.url, &headers(secrets, event_id, event_type, now, body), body).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(a) => Tried {
            delivered: (200..300).contains(&a.status),
            status_code: Some(a.status),
            duration_ms,
            error: (!(200..300).contains(&a.status)).then(|| format!("the endpoint answered {}", a.status)),
            response_body: Some(a.body),
        },
        Err(e) => Tried {
            delivered: false,
            status_code: None,
            duration_ms,
            error: Some(match e {
                SendError::Timeout(ms) => format!("no answer within {ms} ms"),
                other => other.to_string(),
            }),
            response_body: None,
        },
    }
}

impl Dispatcher {
    /// The delivery's status and the due time of its next automatic attempt after attempt `m`
    /// of `delivery` (as claimed, before the attempt) was made; `enabled`: whether the endpoint
    /// can be sent to (it exists and is enabled), else a pending delivery fails now.
    fn after(
        &self,
        delivery: &Delivery,
        m: &WebhookMessage,
        delivered: bool,
        enabled: bool,
        now: Timestamp,
    ) -> (DeliveryStatus, Option<Timestamp>) {
        if delivered {
            return (DeliveryStatus::Delivered, None);
        }
        let pending = delivery.status == DeliveryStatus::Pending;
        if m.manual && (enabled || !pending) {
            // A redelivery that failed leaves the delivery as it was: a finished one stays
            // finished, a pending one keeps its next automatic attempt (queued again with the
            // next number, since this attempt took the number the queued one had). Only a
            // pending delivery whose endpoint can no longer be sent to ends, as below.
            return (delivery.status, delivery.next_attempt_at.filter(|_| pending));
        }
        match delay_after(&self.schedule, delivery.schedule_position(m.attempt)).filter(|_| enabled) {
            Some(wait) => (DeliveryStatus::Pending, Some(now + wait)),
            None => (DeliveryStatus::Failed, None),
        }
    }

    pub async fn process(&self, message: &WebhookMessage) -> Ack {
        match self.try_process(message).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(delivery_id = message.delivery_id.as_str(), error = %e, "delivery failed; will retry");
                Ack::Retry
            }
        }
    }

    async fn try_process(&self, m: &WebhookMessage) -> Result<Ack, StoreError> {
        let now = self.clock.now();
        if m.not_before > now {
            // Not due yet: one more hop of at most 15 minutes.
            let hop = (m.not_before - now).min(MAX_QUEUE_DELAY_SECS);
            return match self.queue.send_webhook(m, hop).await {
                Ok(()) => Ok(Ack::Done),
                Err(_) => Ok(Ack::Retry),
            };
        }
        // `None`: the endpoint was deleted. Its deliveries stay until their TTL, so the attempt
        // is still claimed and recorded, without a POST, to end the delivery (it then leaves
        // the sweep's index of due deliveries).
        let endpoint = self.store.endpoint(&m.owner, &m.endpoint_id).await?;
        let lease_until = now + self.lease_secs;
        let delivery = match self
            .store
            .claim_attempt(&m.endpoint_id, &m.delivery_id, m.attempt, m.manual, now, lease_until)
            .await?
        {
            AttemptClaim::Claimed(d) => d,
            // Being sent by another dispatcher: come back after it recorded the attempt (this
            // copy is then dropped) or its lease ran out (it died; this copy sends).
            AttemptClaim::Held(_) => return Ok(Ack::Retry),
            AttemptClaim::Stale => return Ok(Ack::Done),
        };
        let not_sent = |why: &str| Tried {
            delivered: false,
            status_code: None,
            duration_ms: 0,
            error: Some(why.into()),
            response_body: None,
        };
        let tried = match &endpoint {
            Some(endpoint) if endpoint.enabled => match signing_secrets(endpoint, &self.secret_key, now) {
                Ok(secrets) => {
                    attempt(
                        self.transport.as_ref(),
                        endpoint,
                        &secrets,
                        &delivery.event_id,
                        &delivery.event_type,
                        delivery.payload.as_bytes(),
                        now,
                    )
                    .await
                }
                Err(e) => return Err(StoreError::Backend(e.to_string())),
            },
            Some(_) => not_sent("the endpoint is disabled"),
            None => not_sent("the endpoint was deleted"),
        };
        let sendable = endpoint.as_ref().is_some_and(|e| e.enabled);
        let (status, next_at) = self.after(&delivery, m, tried.delivered, sendable, now);
        let log = Attempt {
            number: m.attempt,
            at: now,
            status_code: tried.status_code,
            duration_ms: tried.duration_ms,
            error: tried.error,
            response_body: tried.response_body,
            manual: m.manual,
        };
        match self.store.record_attempt(&m.endpoint_id, &m.delivery_id, &log, status, next_at).await {
            Ok(_) => {}
            // Another delivery of this message recorded the attempt first.
            Err(StoreError::Conflict | StoreError::NotFound) => return Ok(Ack::Done),
            Err(e) => return Err(e),
        }
        if let Some(at) = next_at {
            let retry = WebhookMessage { attempt: m.attempt + 1, not_before: at, manual: false, ..m.clone() };
            // If this send is lost, the relay's sweep finds the overdue delivery and queues it.
            if let Err(e) = self.queue.send_webhook(&retry, (at - now).clamp(0, MAX_QUEUE_DELAY_SECS)).await {
                tracing::error!(delivery_id = m.delivery_id.as_str(), error = %e, "could not queue the retry; the sweep will");
            }
        }
        Ok(Ack::Done)
    }
}
