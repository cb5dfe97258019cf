//! The audit log as `GET /audit` reads it (contract, "Billing and audit"). Entries are made by
//! the use case of each change ([`super::Ids::audit`]) and written with it; this only lists.

use super::UseCaseError;
use crate::domain::account::Owner;
use crate::domain::audit::{AuditEntry, AuditFilter};
use crate::domain::time::Timestamp;
use crate::store::{AuditStore, Page, PageRequest};

/// The entries `viewer` may see that pass `filter`, newest first: a partner's are the changes
/// to its own account and data; a distributor's, its own actions and the changes to its
/// partners. Entries older than 400 days at `now` are gone.
pub async fn list(
    store: &dyn AuditStore,
    viewer: &Owner,
    filter: &AuditFilter,
    now: Timestamp,
    page: &PageRequest,
) -> Result<Page<AuditEntry>, UseCaseError> {
    Ok(store.audit_entries(viewer, filter, now, page).await?)
}
