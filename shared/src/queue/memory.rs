//! In-process queue for the dev server and tests: a tokio channel the workers read from.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{QueueError, RunMessage, RunQueue};

pub struct MemoryRunQueue {
    tx: mpsc::UnboundedSender<RunMessage>,
}

impl MemoryRunQueue {
    /// The queue and the receiving end that a worker task consumes.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<RunMessage>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }
}

#[async_trait]
impl RunQueue for MemoryRunQueue {
    async fn send_run(&self, message: &RunMessage) -> Result<(), QueueError> {
        self.tx
            .send(message.clone())
            .map_err(|_| QueueError::Closed)
    }
}
