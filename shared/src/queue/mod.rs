//! The queue port: work handed from the API to the workers, with SQS's semantics (at least
//! once; a message received but not acknowledged comes back after the visibility timeout).

pub mod memory;
pub mod sqs;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue is closed")]
    Closed,
    #[error("queue backend failed: {0}")]
    Backend(String),
}

/// A message on the runs queue: which run to process.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunMessage {
    pub run_id: crate::domain::ids::RunId,
    pub partner_id: crate::domain::ids::PartnerId,
}

/// What the queue should do with a message once its consumer is done with it (on SQS, a
/// `Retry` is a partial batch failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ack {
    /// Delete it: the work is finished, gone, or handled by another attempt.
    Done,
    /// Leave it: it comes back after the visibility timeout.
    Retry,
}

/// A received message: `receive_count` is 1 on first delivery and grows with each redelivery.
#[derive(Clone, Debug)]
pub struct Received<M> {
    pub message: M,
    pub receipt: String,
    pub receive_count: u32,
}

#[async_trait]
pub trait RunQueue: Send + Sync {
    async fn send_run(&self, message: &RunMessage) -> Result<(), QueueError>;
}
