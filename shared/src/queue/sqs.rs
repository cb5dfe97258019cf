//! The SQS adapter: sends with a delay, chaining waits longer than SQS's 15-minute cap, and
//! receives in batches with each message's receive count.
//!
//! A wait over the cap is sent with the longest delay SQS allows and a `notBefore` message
//! attribute (Unix seconds). Whoever receives it before that time sends it on again with the
//! remaining wait and deletes it, without handing it to the worker: `receive` does that here,
//! and a Lambda worker does it through [`SqsQueue::hold_if_early`].

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use aws_sdk_sqs::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{QueueError, Received, RunMessage, RunQueue};
use crate::domain::time::Clock;
use crate::domain::time::Timestamp;

/// SQS's longest message delay.
pub const MAX_DELAY_SECS: i64 = 900;
/// The message attribute that holds a chained message's due time.
pub const NOT_BEFORE: &str = "notBefore";

fn backend(e: impl std::error::Error) -> QueueError {
    QueueError::Backend(DisplayErrorContext(e).to_string())
}

pub struct SqsQueue {
    client: Client,
    url: String,
    clock: Arc<dyn Clock>,
    max_delay: i64,
}

/// A received message before decoding.
#[derive(Clone, Debug)]
pub struct RawReceived {
    pub body: String,
    pub receipt: String,
    pub receive_count: u32,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self { client, url: url.into(), clock, max_delay: MAX_DELAY_SECS }
    }

    /// Caps single delays at `secs` instead of SQS's 900 (tests chain through short hops).
    pub fn with_max_delay(mut self, secs: i64) -> Self {
        self.max_delay = secs.clamp(0, MAX_DELAY_SECS);
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates a queue unless it exists and returns its URL (development and tests; on AWS
    /// the template makes the queues).
    pub async fn create(client: &Client, name: &str, visibility_secs: u32) -> Result<String, QueueError> {
        let out = client
            .create_queue()
            .queue_name(name)
            .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, visibility_secs.to_string())
            .send()
            .await
            .map_err(backend)?;
        out.queue_url.ok_or_else(|| QueueError::Backend("no queue URL returned".into()))
    }

    /// Sends `body` to be received in `delay_secs` (any length).
    pub async fn send_raw(&self, body: &str, delay_secs: i64) -> Result<(), QueueError> {
        let delay = delay_secs.max(0);
        let not_before = (delay > self.max_delay).then(|| self.clock.now() + delay);
        self.send_hop(body, delay, not_before).await
    }

    async fn send_hop(&self, body: &str, delay: i64, not_before: Option<Timestamp>) -> Result<(), QueueError> {
        let mut req = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay.clamp(0, self.max_delay) as i32);
        if let Some(due) = not_before {
            let attr = MessageAttributeValue::builder()
                .data_type("Number")
                .string_value(due.unix().to_string())
                .build()
                .map_err(backend)?;
            req = req.message_attributes(NOT_BEFORE, attr);
        }
        req.send().await.map_err(backend)?;
        Ok(())
    }

    pub async fn send<M: Serialize + Sync>(&self, message: &M, delay_secs: i64) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|e| QueueError::Backend(e.to_string()))?;
        self.send_raw(&body, delay_secs).await
    }

    /// A chained message that is not due yet is sent on with the remaining wait (its `notBefore`
    /// kept) and `true` is returned: the caller then deletes (or, in Lambda, acknowledges) it.
    pub async fn hold_if_early(&self, body: &str, not_before: Option<Timestamp>) -> Result<bool, QueueError> {
        let now = self.clock.now();
        match not_before {
            Some(due) if due > now => {
                let left = due - now;
                let keep = (left > self.max_delay).then_some(due);
                self.send_hop(body, left, keep).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Up to `max` (1–10) due messages, waiting up to `wait_secs` for the first; each stays
    /// invisible for the queue's visibility timeout until deleted.
    pub async fn receive_raw(&self, max: i32, wait_secs: i32) -> Result<Vec<RawReceived>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_secs.clamp(0, 20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names(NOT_BEFORE)
            .send()
            .await
            .map_err(backend)?;
        let mut due = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let (Some(body), Some(receipt)) = (m.body.clone(), m.receipt_handle.clone()) else { continue };
            let not_before = m
                .message_attributes
                .as_ref()
                .and_then(|a| a.get(NOT_BEFORE))
                .and_then(|v| v.string_value())
                .and_then(|v| v.parse::<i64>().ok())
                .map(Timestamp::from_unix);
            if self.hold_if_early(&body, not_before).await? {
                self.ack(&receipt).await?;
                continue;
            }
            let receive_count = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            due.push(RawReceived { body, receipt, receive_count });
        }
        Ok(due)
    }

    /// Decoded deliveries; a body that does not decode is deleted (it would never succeed).
    pub async fn receive<M: DeserializeOwned>(&self, max: i32, wait_secs: i32) -> Result<Vec<Received<M>>, QueueError> {
        let mut out = Vec::new();
        for raw in self.receive_raw(max, wait_secs).await? {
            match serde_json::from_str(&raw.body) {
                Ok(message) => out.push(Received { message, receipt: raw.receipt, receive_count: raw.receive_count }),
                Err(e) => {
                    tracing::error!(error = %e, "dropping a message that does not decode");
                    self.ack(&raw.receipt).await?;
                }
            }
        }
        Ok(out)
    }

    /// Deletes a received message.
    pub async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        self.client.delete_message().queue_url(&self.url).receipt_handle(receipt).send().await.map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl crate::webhooks::relay::WebhookQueue for SqsQueue {
    async fn send_webhook(&self, message: &crate::webhooks::WebhookMessage, delay_secs: i64) -> Result<(), QueueError> {
        self.send(message, delay_secs).await
    }
}

#[async_trait]
impl RunQueue for SqsQueue {
    async fn send_run(&self, message: &RunMessage) -> Result<(), QueueError> {
        self.send(message, 0).await
    }
}

#[async_trait]
impl crate::mail::MailQueue for SqsQueue {
    async fn send_mail(&self, job: &crate::mail::MailJob, delay_secs: i64) -> Result<(), QueueError> {
        self.send(job, delay_secs).await
    }
}
