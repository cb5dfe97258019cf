//! The relay: drains the outbox into deliveries, one per subscribed endpoint, and queues
//! each delivery's first attempt. An event leaves the outbox only after its deliveries exist
//! and are queued, so a process that dies half-way leaves the event to the next drain, which
//! finds the deliveries already made (one per endpoint and event) and queues them again; the
//! dispatcher drops what was already attempted.
//!
//! The same drain turns an event's mail entries into messages (one per entry, its id derived
//! from the event's, so a second drain finds it made) and queues their first try for the mail
//! worker (`mail::worker`).

use std::sync::Arc;

use async_trait::async_trait;

use super::schedule::MAX_QUEUE_DELAY_SECS;
use super::WebhookMessage;
use crate::domain::account::Owner;
use crate::domain::event::Event;
use crate::domain::ids::IdGen;
use crate::domain::mail::{MailMessage, MailStatus};
use crate::domain::time::Clock;
use crate::domain::webhook::{Delivery, DeliveryStatus};
use crate::mail::{MailJob, MailQueue};
use crate::queue::QueueError;
use crate::store::{RelayStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

#[async_trait]
pub trait WebhookQueue: Send + Sync {
    /// Sends after `delay_secs` (at most 15 minutes; longer waits are chained by the caller).
    async fn send_webhook(&self, message: &WebhookMessage, delay_secs: i64) -> Result<(), QueueError>;
}

/// An event whose fan-out failed this many times, over at least [`POISON_AFTER_SECS`], is
/// moved out of the outbox into the quarantine (with the reason): it would otherwise be tried
/// on every drain for ever. Both bounds must pass, so an outage of the queue or the table,
/// during which every event fails on every drain, quarantines nothing unless it lasts an hour.
pub const POISON_AFTER_FAILURES: u32 = 10;
/// See [`POISON_AFTER_FAILURES`].
pub const POISON_AFTER_SECS: i64 = 3600;

/// A delivery whose next attempt is this late is assumed lost (a process died between
/// recording an attempt and queuing the next) and is queued again: the default of
/// `Config::webhook_lost_after_secs`.
pub const LOST_AFTER_SECS: i64 = 2 * MAX_QUEUE_DELAY_SECS;

pub struct Relay {
    pub store: Arc<dyn RelayStore>,
    pub queue: Arc<dyn WebhookQueue>,
    /// Where the first try of each mail message goes.
    pub mail: Arc<dyn MailQueue>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<IdGen>,
    /// How overdue, in seconds, a pending delivery's next attempt must be for the sweep to
    /// queue it again (`Config::webhook_lost_after_secs`).
    pub lost_after_secs: i64,
}

/// Who receives an event: its account, and a partner's distributor for `assessment.*` and
/// `customer.*` events.
pub fn receivers(event: &Event) -> Vec<Owner> {
    let mut out = vec![event.account.clone()];
    if let Some(d) = event.distributor_id.as_deref().filter(|_| event.kind.reaches_distributor()) {
        out.push(Owner::distributor(d));
    }
    out
}

impl Relay {
    /// Moves up to `batch` events from the outbox to deliveries; returns how many it read. An
    /// event whose fan-out fails stays for the next drain while the others go on, and is
    /// quarantined once it has failed too often for too long ([`POISON_AFTER_FAILURES`]); the
    /// first such error is returned after the batch.
    pub async fn drain(&self, batch: usize) -> Result<usize, RelayError> {
        let events = self.store.pending_events(batch).await?;
        // An event whose fan-out fails stays in the outbox for the next drain, and the events
        // behind it go on: one failing event must not hold back every later one.
        let mut failed = None;
        for event in &events {
            match self.fan_out(event).await {
                Ok(()) => self.store.ack_events(&[event.id.to_string()]).await?,
                Err(e) => {
                    tracing::error!(event_id = event.id.as_str(), error = %e, "fan-out failed; the event stays in the outbox");
                    self.count_failure(event, &e.to_string()).await;
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(events.len()),
        }
    }

    /// Counts a failed fan-out of `event`, and quarantines it past the bounds. A failure to
    /// count (the store may be what is failing) is logged: the event is tried again anyway.
    async fn count_failure(&self, event: &Event, reason: &str) {
        let now = self.clock.now();
        let poison = match self.store.event_failed(&event.id, reason, now).await {
            Ok(Some(f)) => f.count >= POISON_AFTER_FAILURES && now - f.since >= POISON_AFTER_SECS,
            Ok(None) => false,
            Err(e) => {
                tracing::error!(event_id = event.id.as_str(), error = %e, "could not count the failure");
                false
            }
        };
        if poison {
            let why = format!("fan-out failed {POISON_AFTER_FAILURES} times or more over an hour; last: {reason}");
            match self.store.quarantine_event(&event.id, &why).await {
                Ok(()) => tracing::error!(event_id = event.id.as_str(), reason, "event quarantined"),
                Err(e) => tracing::error!(event_id = event.id.as_str(), error = %e, "could not quarantine the event"),
            }
        }
    }

    /// Makes each of the event's mail messages (once) and queues the first try of those not
    /// tried yet.
    async fn relay_mail(&self, event: &Event) -> Result<(), RelayError> {
        let now = self.clock.now();
        for (i, entry) in event.mail.iter().enumerate() {
            let message = MailMessage::new(&event.id, i, entry.clone(), now);
            match self.store.create_message(&message).await {
                Ok(()) => {}
                Err(StoreError::Conflict) => match self.store.mail_message(&message.id).await? {
                    Some(m) if m.status == MailStatus::Pending && m.attempts == 0 => {}
                    _ => continue,
                },
                Err(e) => return Err(e.into()),
            }
            let job = MailJob { message_id: message.id.clone(), attempt: 1, not_before: now };
            self.mail.send_mail(&job, 0).await?;
        }
        Ok(())
    }

    async fn fan_out(&self, event: &Event) -> Result<(), RelayError> {
        self.relay_mail(event).await?;
        let now = self.clock.now();
        let payload = event.payload().to_string();
        for owner in receivers(event) {
            for endpoint in self.store.endpoints_of(&owner).await? {
                if !endpoint.wants(event.kind) {
                    continue;
                }
                let delivery = Delivery {
                    id: self.ids.new_id(self.clock.now_ms().max(0) as u64),
                    endpoint_id: endpoint.id.clone(),
                    owner: owner.clone(),
                    event_id: event.id.clone(),
                    event_type: event.kind.as_str().to_string(),
                    payload: payload.clone(),
                    status: DeliveryStatus::Pending,
                    attempts: Vec::new(),
                    created_at: now,
                    next_attempt_at: Some(now),
                    manual_attempts: 0,
                };
                let delivery = match self.store.create_delivery(&delivery).await {
                    Ok(()) => delivery,
                    Err(StoreError::Conflict) => match self.store.delivery_for_event(&endpoint.id, &event.id).await? {
                        Some(existing) if existing.attempts.is_empty() => existing,
                        _ => continue,
                    },
                    Err(e) => return Err(e.into()),
                };
                // A delivery with no attempt yet: this is its first.
                self.queue.send_webhook(&WebhookMessage::next_attempt(&delivery, now, false), 0).await?;
            }
        }
        Ok(())
    }

    /// Queues again up to `batch` pending deliveries whose next attempt is over
    /// `lost_after_secs` overdue, oldest due first; returns how many. Each one's due time moves
    /// to now before it is queued, so until it is overdue again the next sweeps look past it:
    /// deliveries stuck for good (whose attempts never get recorded) take their turn once per
    /// `lost_after_secs` instead of every place of every sweep, and a newer lost one is reached
    /// by the next sweep.
    pub async fn sweep(&self, batch: usize) -> Result<usize, RelayError> {
        let now = self.clock.now();
        let lost = self.store.due_deliveries(now - self.lost_after_secs, batch).await?;
        let mut queued = 0;
        for d in &lost {
            let Some(due) = d.next_attempt_at else { continue };
            // Moved on since the (eventually consistent) read: attempted, or swept by another.
            if !self.store.reschedule_delivery(&d.endpoint_id, &d.id, due, now).await? {
                continue;
            }
            self.queue.send_webhook(&WebhookMessage::next_attempt(d, now, false), 0).await?;
            queued += 1;
        }
        Ok(queued)
    }
}
