//! Webhook endpoints and deliveries (`WebhookStore`).

use super::*;

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn create_endpoint_audited(
        &self,
        endpoint: &Endpoint,
        max: usize,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        if s.deleted_endpoints.contains(&(endpoint.owner.clone(), endpoint.id.to_string())) {
            return Err(StoreError::Conflict);
        }
        let mine = s.endpoints.entry(endpoint.owner.clone()).or_default();
        if mine.len() >= max {
            return Err(StoreError::LimitReached);
        }
        if mine.contains_key(endpoint.id.as_str()) {
            return Err(StoreError::Conflict);
        }
        mine.insert(endpoint.id.to_string(), endpoint.clone());
        s.audit(audit);
        Ok(())
    }

    async fn endpoint(&self, owner: &Owner, id: &str) -> StoreResult<Option<Endpoint>> {
        Ok(self.lock().endpoints.get(owner).and_then(|m| m.get(id)).cloned())
    }

    async fn list_endpoints(&self, owner: &Owner, page: &PageRequest) -> StoreResult<Page<Endpoint>> {
        let s = self.lock();
        Ok(page_of(s.endpoints.get(owner), page, false, |_| true))
    }

    async fn endpoints_of(&self, owner: &Owner) -> StoreResult<Vec<Endpoint>> {
        Ok(self.lock().endpoints.get(owner).map(|m| m.values().cloned().collect()).unwrap_or_default())
    }

    async fn update_endpoint_audited(
        &self,
        endpoint: &Endpoint,
        expected_version: u64,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let current = s
            .endpoints
            .get_mut(&endpoint.owner)
            .and_then(|m| m.get_mut(endpoint.id.as_str()))
            .ok_or(StoreError::NotFound)?;
        if current.version != expected_version {
            return Err(StoreError::Conflict);
        }
        *current = endpoint.clone();
        s.audit(audit);
        Ok(())
    }

    async fn delete_endpoint_audited(
        &self,
        owner: &Owner,
        id: &str,
        _at: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        s.endpoints.get_mut(owner).and_then(|m| m.remove(id)).ok_or(StoreError::NotFound)?;
        // Its deliveries stay, as on DynamoDB: the dispatcher ends the pending ones.
        s.deleted_endpoints.insert((owner.clone(), id.to_string()));
        s.audit(audit);
        Ok(())
    }

    async fn create_delivery(&self, delivery: &Delivery) -> StoreResult<()> {
        let mut s = self.lock();
        let guard = (delivery.endpoint_id.to_string(), delivery.event_id.to_string());
        if s.delivery_events.contains_key(&guard) {
            return Err(StoreError::Conflict);
        }
        s.delivery_events.insert(guard, delivery.id.to_string());
        s.deliveries
            .entry(delivery.endpoint_id.to_string())
            .or_default()
            .insert(delivery.id.to_string(), delivery.clone());
        Ok(())
    }

    async fn delivery(&self, endpoint_id: &str, id: &str) -> StoreResult<Option<Delivery>> {
        Ok(self.lock().deliveries.get(endpoint_id).and_then(|m| m.get(id)).cloned())
    }

    async fn delivery_for_event(&self, endpoint_id: &str, event_id: &str) -> StoreResult<Option<Delivery>> {
        let s = self.lock();
        let id = s.delivery_events.get(&(endpoint_id.to_string(), event_id.to_string()));
        Ok(id.and_then(|id| s.deliveries.get(endpoint_id).and_then(|m| m.get(id))).cloned())
    }

    async fn claim_attempt(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        number: u32,
        manual: bool,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<AttemptClaim> {
        let mut s = self.lock();
        let Some(d) = s.deliveries.get(endpoint_id).and_then(|m| m.get(delivery_id)).cloned() else {
            return Ok(AttemptClaim::Stale);
        };
        if !(manual || d.status == DeliveryStatus::Pending) || d.next_attempt_number() != number {
            return Ok(AttemptClaim::Stale);
        }
        let key = (endpoint_id.to_string(), delivery_id.to_string());
        match s.attempt_claims.get(&key) {
            Some(until) if *until > now => Ok(AttemptClaim::Held(*until)),
            _ => {
                s.attempt_claims.insert(key, lease_until);
                Ok(AttemptClaim::Claimed(d))
            }
        }
    }

    async fn record_attempt(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        attempt: &Attempt,
        status: DeliveryStatus,
        next_attempt_at: Option<Timestamp>,
    ) -> StoreResult<Delivery> {
        let mut s = self.lock();
        let d = s.deliveries.get_mut(endpoint_id).and_then(|m| m.get_mut(delivery_id)).ok_or(StoreError::NotFound)?;
        if !(attempt.manual || d.status == DeliveryStatus::Pending) || attempt.number != d.next_attempt_number() {
            return Err(StoreError::Conflict);
        }
        d.log_attempt(attempt.clone());
        d.status = status;
        d.next_attempt_at = next_attempt_at;
        let d = d.clone();
        s.attempt_claims.remove(&(endpoint_id.to_string(), delivery_id.to_string()));
        Ok(d)
    }

    async fn due_deliveries(&self, before: Timestamp, limit: usize) -> StoreResult<Vec<Delivery>> {
        let s = self.lock();
        let mut due: Vec<Delivery> = s
            .deliveries
            .values()
            .flat_map(|m| m.values())
            .filter(|d| d.status == DeliveryStatus::Pending && d.next_attempt_at.is_some_and(|t| t < before))
            .cloned()
            .collect();
        due.sort_by_key(|d| d.next_attempt_at);
        due.truncate(limit);
        Ok(due)
    }

    async fn reschedule_delivery(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        due: Timestamp,
        to: Timestamp,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        match s.deliveries.get_mut(endpoint_id).and_then(|m| m.get_mut(delivery_id)) {
            Some(d) if d.status == DeliveryStatus::Pending && d.next_attempt_at == Some(due) => {
                d.next_attempt_at = Some(to);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list_deliveries(&self, endpoint_id: &str, page: &PageRequest) -> StoreResult<Page<Delivery>> {
        let s = self.lock();
        Ok(page_of(s.deliveries.get(endpoint_id), page, true, |_| true))
    }
}
