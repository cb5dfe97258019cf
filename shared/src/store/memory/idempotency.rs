//! Idempotency records (`IdempotencyStore`).

use super::*;

/// A claimed key: its request's fingerprint, and the response once finished.
#[derive(Clone)]
pub(super) struct IdemRecord {
    fingerprint: String,
    response: Option<(u16, Vec<u8>)>,
    lease_until: Timestamp,
    expires_at: Timestamp,
    /// When the key was first claimed by this request (kept when a died try is taken over).
    since: Timestamp,
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn claim_idempotency(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<IdempotencyClaim> {
        let mut s = self.lock();
        let id = (scope.to_string(), key.to_string());
        // As the DynamoDB adapter: a try that died holding the key is done again as of its time.
        let since = match s.idempotency.get(&id) {
            Some(r)
                if r.expires_at <= now
                    && r.response.is_none()
                    && r.fingerprint == fingerprint
                    && r.since.unix() > now.unix() - TAKEOVER_WINDOW_SECS =>
            {
                r.since
            }
            _ => now,
        };
        if let Some(rec) = s.idempotency.get(&id).filter(|r| r.expires_at > now) {
            if rec.fingerprint != fingerprint {
                return Ok(IdempotencyClaim::Mismatch);
            }
            if let Some((status, body)) = &rec.response {
                return Ok(IdempotencyClaim::Replay { status: *status, body: body.clone() });
            }
            if rec.lease_until > now {
                return Ok(IdempotencyClaim::InProgress);
            }
        }
        let rec = IdemRecord {
            fingerprint: fingerprint.to_string(),
            response: None,
            lease_until,
            expires_at: lease_until,
            since,
        };
        s.idempotency.insert(id, rec);
        Ok(IdempotencyClaim::Claimed { since })
    }

    async fn finish_idempotency(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        if let Some(rec) = s.idempotency.get_mut(&(scope.to_string(), key.to_string())) {
            rec.response = Some((status, body.to_vec()));
            rec.expires_at = expires_at;
        }
        Ok(())
    }

    async fn release_idempotency(&self, scope: &str, key: &str) -> StoreResult<()> {
        self.lock().idempotency.remove(&(scope.to_string(), key.to_string()));
        Ok(())
    }
}
