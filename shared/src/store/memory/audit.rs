//! The audit log (`AuditStore`): entries are kept by `State::audit`, called by each change.

use super::*;
use crate::domain::audit::{AuditEntry, AuditFilter, AUDIT_RETENTION_SECS};

#[async_trait]
impl AuditStore for MemoryStore {
    async fn audit_entries(
        &self,
        viewer: &Owner,
        filter: &AuditFilter,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEntry>> {
        let s = self.lock();
        // As DynamoDB, where TTL removes them (and the list leaves out those it has not yet).
        let expired = now.minus_secs(AUDIT_RETENTION_SECS);
        Ok(page_of(s.audit.get(viewer), page, true, |e| e.at > expired && filter.admits(e)))
    }
}
