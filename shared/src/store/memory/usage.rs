//! Closed months' usage snapshots (`UsageStore`).

use super::*;

#[async_trait]
impl UsageStore for MemoryStore {
    async fn close_usage_month(&self, snapshot: &UsageSnapshot) -> StoreResult<bool> {
        let mut s = self.lock();
        let key = (snapshot.distributor_id.to_string(), snapshot.month());
        if s.snapshots.contains_key(&key) {
            return Ok(false);
        }
        s.snapshots.insert(key, snapshot.clone());
        Ok(true)
    }

    async fn usage_snapshot(&self, distributor_id: &str, month: Month) -> StoreResult<Option<UsageSnapshot>> {
        Ok(self.lock().snapshots.get(&(distributor_id.to_string(), month)).cloned())
    }
}
