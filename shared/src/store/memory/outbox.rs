//! The outbox (`Outbox`).

use super::*;

#[async_trait]
impl Outbox for MemoryStore {
    async fn record_event(&self, event: &Event) -> StoreResult<()> {
        self.lock().record(event);
        Ok(())
    }

    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<Event>> {
        Ok(self.lock().outbox.values().take(limit).cloned().collect())
    }

    async fn ack_events(&self, ids: &[String]) -> StoreResult<()> {
        let mut s = self.lock();
        for id in ids {
            s.outbox.remove(id);
            s.outbox_failures.remove(id);
        }
        Ok(())
    }

    async fn event_failed(&self, id: &str, _reason: &str, now: Timestamp) -> StoreResult<Option<EventFailures>> {
        let mut s = self.lock();
        if !s.outbox.contains_key(id) {
            return Ok(None);
        }
        let f = s.outbox_failures.entry(id.to_string()).or_insert(EventFailures { count: 0, since: now });
        f.count += 1;
        Ok(Some(f.clone()))
    }

    async fn quarantine_event(&self, id: &str, reason: &str) -> StoreResult<()> {
        let mut s = self.lock();
        if let Some(event) = s.outbox.remove(id) {
            s.outbox_failures.remove(id);
            s.quarantine.insert(id.to_string(), (reason.to_string(), event));
        }
        Ok(())
    }

    async fn release_quarantined(&self, id: &str) -> StoreResult<bool> {
        let mut s = self.lock();
        match s.quarantine.remove(id) {
            Some((_, event)) => {
                s.outbox.insert(id.to_string(), event);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn quarantined_events(&self, limit: usize) -> StoreResult<Vec<Quarantined>> {
        let s = self.lock();
        Ok(s.quarantine
            .iter()
            .take(limit)
            .map(|(id, (reason, _))| Quarantined { id: id.clone(), reason: reason.clone() })
            .collect())
    }
}
