//! Customers' tenant contexts and exceptions (`ContextStore`).

use super::*;
use crate::domain::audit::AuditEntry;
use crate::domain::context::{Exception, TenantContext};

/// The contexts and exceptions, as the table's `CTX#c` and `EXC#c#…` items hold them.
#[derive(Default)]
pub(super) struct Contexts {
    /// (partner, customer) → its context (absent: never set)
    contexts: HashMap<(String, String), TenantContext>,
    /// (partner, customer) → exception id → exception
    exceptions: HashMap<(String, String), BTreeMap<String, Exception>>,
}

impl Contexts {
    /// Drops a deleted customer's context and exceptions (as the DynamoDB adapter deletes its
    /// `CTX#` and `EXC#` items with the customer).
    pub(super) fn forget(&mut self, partner_id: &str, customer_id: &str) {
        let k = key(partner_id, customer_id);
        self.contexts.remove(&k);
        self.exceptions.remove(&k);
    }
}

#[async_trait]
impl ContextStore for MemoryStore {
    async fn tenant_context(&self, partner_id: &str, customer_id: &str) -> StoreResult<TenantContext> {
        Ok(self.lock().contexts.contexts.get(&key(partner_id, customer_id)).cloned().unwrap_or_default())
    }

    async fn put_tenant_context(
        &self,
        partner_id: &str,
        customer_id: &str,
        context: &TenantContext,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        s.customer_is_there(partner_id, customer_id)?;
        let k = key(partner_id, customer_id);
        let stored = s.contexts.contexts.get(&k).map_or(0, |c| c.version);
        if stored != context.version {
            return Err(StoreError::Conflict);
        }
        let mut next = context.clone();
        next.version += 1;
        s.contexts.contexts.insert(k, next);
        s.audit(audit);
        Ok(())
    }

    async fn create_exception(&self, e: &Exception, audit: Option<&AuditEntry>) -> StoreResult<()> {
        let mut s = self.lock();
        s.customer_is_there(&e.partner_id, &e.customer_id)?;
        let mine = s.contexts.exceptions.entry(key(&e.partner_id, &e.customer_id)).or_default();
        if mine.contains_key(e.id.as_str()) {
            return Err(StoreError::Conflict);
        }
        mine.insert(e.id.to_string(), e.clone());
        s.audit(audit);
        Ok(())
    }

    async fn exception(&self, partner_id: &str, customer_id: &str, id: &str) -> StoreResult<Option<Exception>> {
        let s = self.lock();
        Ok(s.contexts.exceptions.get(&key(partner_id, customer_id)).and_then(|m| m.get(id)).cloned())
    }

    async fn list_exceptions(
        &self,
        partner_id: &str,
        customer_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Exception>> {
        let s = self.lock();
        Ok(page_of(s.contexts.exceptions.get(&key(partner_id, customer_id)), page, false, |_| true))
    }

    async fn exceptions_of(&self, partner_id: &str, customer_id: &str) -> StoreResult<Vec<Exception>> {
        let s = self.lock();
        Ok(s.contexts
            .exceptions
            .get(&key(partner_id, customer_id))
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn update_exception(
        &self,
        e: &Exception,
        expected_version: u64,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let current = s
            .contexts
            .exceptions
            .get_mut(&key(&e.partner_id, &e.customer_id))
            .and_then(|m| m.get_mut(e.id.as_str()))
            .ok_or(StoreError::NotFound)?;
        if current.version != expected_version {
            return Err(StoreError::Conflict);
        }
        *current = e.clone();
        s.audit(audit);
        Ok(())
    }

    async fn delete_exception(
        &self,
        partner_id: &str,
        customer_id: &str,
        id: &str,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let mine = s.contexts.exceptions.get_mut(&key(partner_id, customer_id));
        match mine.and_then(|m| m.remove(id)) {
            Some(_) => {
                s.audit(audit);
                Ok(())
            }
            None => Err(StoreError::NotFound),
        }
    }

    async fn expiring_exceptions(&self, before: Timestamp, limit: usize) -> StoreResult<Vec<Exception>> {
        let s = self.lock();
        let mut due: Vec<Exception> = s
            .contexts
            .exceptions
            .values()
            .flat_map(BTreeMap::values)
            .filter(|e| e.notice_pending() && e.expiring_notice_at() < before)
            .cloned()
            .collect();
        due.sort_by(|a, b| (a.expiring_notice_at(), a.id.as_str()).cmp(&(b.expiring_notice_at(), b.id.as_str())));
        due.truncate(limit);
        Ok(due)
    }

    async fn record_expiring(&self, e: &Exception, event: &Event) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(current) =
            s.contexts.exceptions.get_mut(&key(&e.partner_id, &e.customer_id)).and_then(|m| m.get_mut(e.id.as_str()))
        else {
            return Ok(false);
        };
        if current.version != e.version || !current.notice_pending() {
            return Ok(false);
        }
        current.expiring_noticed = Some(current.expires_at);
        current.version += 1;
        s.record(event);
        Ok(true)
    }
}
