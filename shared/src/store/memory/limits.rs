//! Rate-limit windows (`LimitStore`).

use super::*;

#[async_trait]
impl LimitStore for MemoryStore {
    async fn count_hit(&self, bucket: &str, expires_at: Timestamp) -> StoreResult<u64> {
        let mut s = self.lock();
        // Windows are short-lived; forget the ones long past so a long-running dev server stays small.
        if s.windows.len() > 4096 {
            s.windows.retain(|_, (_, e)| *e >= expires_at - 7200);
        }
        let entry = s.windows.entry(bucket.to_string()).or_insert((0, expires_at));
        entry.0 += 1;
        Ok(entry.0)
    }
}
