//! API keys (`KeyStore`).

use super::*;
use crate::domain::account::Surface;
use crate::domain::time::Timestamp;

#[async_trait]
impl KeyStore for MemoryStore {
    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<StoredKey>> {
        Ok(self.lock().keys.get(hash).cloned())
    }

    async fn key_hit(&self, hash: &str, window: i64) -> StoreResult<Option<(StoredKey, u64)>> {
        let mut s = self.lock();
        let Some(key) = s.keys.get(hash).cloned() else { return Ok(None) };
        let counter = s.key_windows.entry(hash.to_string()).or_insert((window, 0));
        if counter.0 < window {
            *counter = (window, 0);
        }
        counter.1 += 1;
        Ok(Some((key, counter.1)))
    }

    async fn issue_key(
        &self,
        owner: &Owner,
        slot: u8,
        hash: &str,
        at: Timestamp,
        event: Option<&Event>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        if owner.surface == Surface::Partner
            && s.partners.get(&owner.id).is_some_and(|p| p.status == AccountStatus::Suspended)
        {
            return Err(StoreError::OwnerSuspended);
        }
        let slots = s.key_slots.entry(owner.clone()).or_default();
        if slots.contains_key(&slot) {
            return Err(StoreError::Conflict);
        }
        slots.insert(slot, hash.to_string());
        s.keys
            .insert(hash.to_string(), StoredKey { hash: hash.to_string(), owner: owner.clone(), slot, created_at: at });
        if let Some(e) = event {
            s.record(e);
        }
        Ok(())
    }

    async fn revoke_key(&self, owner: &Owner, slot: u8, event: &Event) -> StoreResult<()> {
        let mut s = self.lock();
        let slots = s.key_slots.get_mut(owner).ok_or(StoreError::NotFound)?;
        if !slots.contains_key(&slot) {
            return Err(StoreError::NotFound);
        }
        if slots.len() == 1 {
            return Err(StoreError::LastKey);
        }
        let hash = slots.remove(&slot).expect("checked above");
        s.keys.remove(&hash);
        s.key_windows.remove(&hash);
        s.record(event);
        Ok(())
    }

    async fn keys_of(&self, owner: &Owner) -> StoreResult<Vec<StoredKey>> {
        let s = self.lock();
        Ok(s.key_slots
            .get(owner)
            .map(|slots| slots.values().filter_map(|h| s.keys.get(h).cloned()).collect())
            .unwrap_or_default())
    }
}
