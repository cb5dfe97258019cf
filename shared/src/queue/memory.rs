//! In-process queue for the dev server and tests, with SQS's behaviour: delays, a visibility
//! timeout after receipt, redelivery with a growing receive count until acknowledged. Time
//! comes from the injected clock, so tests move it instead of sleeping.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{QueueError, Received, RunMessage, RunQueue};
use crate::domain::time::Clock;
use crate::webhooks::relay::WebhookQueue;
use crate::webhooks::schedule::MAX_QUEUE_DELAY_SECS;
use crate::webhooks::WebhookMessage;

struct Entry<M> {
    seq: u64,
    message: M,
    visible_at_ms: i64,
    receive_count: u32,
}

pub struct MemoryQueue<M> {
    entries: Mutex<(u64, Vec<Entry<M>>)>,
    clock: Arc<dyn Clock>,
    visibility_secs: i64,
    arrived: Notify,
}

impl<M: Clone + Send + 'static> MemoryQueue<M> {
    pub fn new(clock: Arc<dyn Clock>, visibility_secs: i64) -> Self {
        Self { entries: Mutex::new((0, Vec::new())), clock, visibility_secs, arrived: Notify::new() }
    }

    pub fn send(&self, message: M, delay_secs: i64) {
        let now = self.clock.now_ms();
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 += 1;
        let seq = guard.0;
        guard.1.push(Entry { seq, message, visible_at_ms: now + delay_secs.max(0) * 1000, receive_count: 0 });
        drop(guard);
        self.arrived.notify_one();
    }

    /// Up to `max` visible messages, oldest first; each stays invisible for the visibility timeout.
    pub fn receive(&self, max: usize) -> Vec<Received<M>> {
        let now = self.clock.now_ms();
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for e in guard.1.iter_mut().filter(|e| e.visible_at_ms <= now).take(max) {
            e.visible_at_ms = now + self.visibility_secs * 1000;
            e.receive_count += 1;
            out.push(Received {
                message: e.message.clone(),
                receipt: e.seq.to_string(),
                receive_count: e.receive_count,
            });
        }
        out
    }

    /// Deletes a received message.
    pub fn ack(&self, receipt: &str) {
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        guard.1.retain(|e| e.seq.to_string() != receipt);
    }

    /// Messages in the queue, visible or not.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).1.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every message in the queue, visible or not (for tests and diagnostics).
    pub fn peek_all(&self) -> Vec<M> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).1.iter().map(|e| e.message.clone()).collect()
    }

    /// Milliseconds until the next message becomes visible, if any is waiting.
    pub fn next_visible_in_ms(&self) -> Option<i64> {
        let now = self.clock.now_ms();
        let guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        guard.1.iter().map(|e| (e.visible_at_ms - now).max(0)).min()
    }

    /// Resolves when a message is sent.
    pub async fn arrived(&self) {
        self.arrived.notified().await
    }
}

#[async_trait]
impl WebhookQueue for MemoryQueue<WebhookMessage> {
    async fn send_webhook(&self, message: &WebhookMessage, delay_secs: i64) -> Result<(), QueueError> {
        // As SQS does: a longer delay is refused, the caller must chain.
        if delay_secs > MAX_QUEUE_DELAY_SECS {
            return Err(QueueError::Backend(format!("delay {delay_secs} s is over SQS's {MAX_QUEUE_DELAY_SECS} s")));
        }
        self.send(message.clone(), delay_secs);
        Ok(())
    }
}

#[async_trait]
impl RunQueue for MemoryQueue<RunMessage> {
    async fn send_run(&self, message: &RunMessage) -> Result<(), QueueError> {
        self.send(message.clone(), 0);
        Ok(())
    }
}

#[async_trait]
impl crate::mail::MailQueue for MemoryQueue<crate::mail::MailJob> {
    async fn send_mail(&self, job: &crate::mail::MailJob, delay_secs: i64) -> Result<(), QueueError> {
        if delay_secs > MAX_QUEUE_DELAY_SECS {
            return Err(QueueError::Backend(format!("delay {delay_secs} s is over SQS's {MAX_QUEUE_DELAY_SECS} s")));
        }
        self.send(job.clone(), delay_secs);
        Ok(())
    }
}
