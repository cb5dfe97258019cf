//! The port of customers' tenant contexts and exceptions (contract, "Tenant context and
//! exceptions"); both adapters implement it (`memory/context.rs`, `dynamo/context.rs`) and
//! pass the same contract cases (`tests/it/store_contract.rs`).

use async_trait::async_trait;

use super::{Page, PageRequest, StoreResult};
use crate::domain::audit::AuditEntry;
use crate::domain::context::{Exception, TenantContext};
use crate::domain::event::Event;
use crate::domain::time::Timestamp;

#[async_trait]
pub trait ContextStore: Send + Sync {
    /// The customer's context; the default (empty, version 0) when never set.
    async fn tenant_context(&self, partner_id: &str, customer_id: &str) -> StoreResult<TenantContext>;
    /// Stores `context` (whole replacement) with its version one past `context.version`, if
    /// the stored version is still `context.version` (0: none stored); else `Conflict` (read
    /// again and reapply); `NotFound` when the partner has no such customer (deleted since it
    /// was read). `audit`, when given, is written in the same write, and only if it lands.
    async fn put_tenant_context(
        &self,
        partner_id: &str,
        customer_id: &str,
        context: &TenantContext,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    /// Stores a new exception; `Conflict` when one with its id exists, `NotFound` when the
    /// partner has no such customer. `audit` as [`ContextStore::put_tenant_context`].
    async fn create_exception(&self, exception: &Exception, audit: Option<&AuditEntry>) -> StoreResult<()>;
    async fn exception(&self, partner_id: &str, customer_id: &str, id: &str) -> StoreResult<Option<Exception>>;
    /// The customer's exceptions in creation order (ids are time-ordered).
    async fn list_exceptions(
        &self,
        partner_id: &str,
        customer_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Exception>>;
    /// Every exception of the customer, in creation order: what a run applies.
    async fn exceptions_of(&self, partner_id: &str, customer_id: &str) -> StoreResult<Vec<Exception>>;
    /// Replaces the exception if it is still at `expected_version` (else `Conflict`;
    /// `NotFound` when it is gone). Its `expiring_noticed` is kept as given: a new `expires_at`
    /// makes the notice due again. `audit` as [`ContextStore::put_tenant_context`].
    async fn update_exception(
        &self,
        exception: &Exception,
        expected_version: u64,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    /// `NotFound` when there is no such exception. `audit` as
    /// [`ContextStore::put_tenant_context`].
    async fn delete_exception(
        &self,
        partner_id: &str,
        customer_id: &str,
        id: &str,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    /// Exceptions whose `exception.expiring` notice is due before `before` (30 days ahead of
    /// their expiry) and not recorded for their current expiry, oldest notice first, up to
    /// `limit`. On DynamoDB an eventually consistent read of a sparse index: callers rely on
    /// [`ContextStore::record_expiring`]'s condition, not on this list, to record once.
    async fn expiring_exceptions(&self, before: Timestamp, limit: usize) -> StoreResult<Vec<Exception>>;
    /// Records `event` and marks the notice of `exception` (as read) recorded for its
    /// `expires_at`, in one write, if the exception is still at `exception.version`; returns
    /// whether it wrote (`false`: another invocation recorded it, or it changed or went).
    async fn record_expiring(&self, exception: &Exception, event: &Event) -> StoreResult<bool>;
}
