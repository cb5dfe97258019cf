//! The outbox (`Outbox`).

use super::*;

#[async_trait]
impl Outbox for MemoryStore {
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<Event>> {
        Ok(self.lock().outbox.values().take(limit).cloned().collect())
    }

    async fn ack_events(&self, ids: &[String]) -> StoreResult<()> {
        let mut s = self.lock();
        for id in ids {
            s.outbox.remove(id);
        }
        Ok(())
    }
}
