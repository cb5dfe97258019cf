//! The port of customers' schedules (contract, "Schedules, drift and portfolio"); both
//! adapters implement it (`memory/schedules.rs`, `dynamo/schedules.rs`) and pass the same
//! contract cases (`tests/it/store_contract_schedules.rs`).

use async_trait::async_trait;

use super::{Page, PageRequest, StoreResult};
use crate::domain::audit::AuditEntry;
use crate::domain::event::Event;
use crate::domain::schedule::Schedule;
use crate::domain::time::Timestamp;

#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Stores a new schedule; `Conflict` when one with its id exists, `NotFound` when the
    /// partner has no such customer (or is deleting it). `audit`, when given, is written in the
    /// same write, and only if it lands.
    async fn create_schedule(&self, schedule: &Schedule, audit: Option<&AuditEntry>) -> StoreResult<()>;
    async fn schedule(&self, partner_id: &str, customer_id: &str, id: &str) -> StoreResult<Option<Schedule>>;
    /// The customer's schedules in creation order (ids are time-ordered).
    async fn list_schedules(
        &self,
        partner_id: &str,
        customer_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Schedule>>;
    /// Replaces the schedule with `schedule` if it is still at `expected_version` (else
    /// `Conflict`: read again and reapply; `NotFound` when it is gone). `audit` as
    /// [`ScheduleStore::create_schedule`].
    async fn update_schedule(
        &self,
        schedule: &Schedule,
        expected_version: u64,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    /// `NotFound` when there is no such schedule. `audit` as [`ScheduleStore::create_schedule`].
    async fn delete_schedule(
        &self,
        partner_id: &str,
        customer_id: &str,
        id: &str,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    /// Enabled schedules whose `next_run_at` is before `before`, earliest first, up to `limit`.
    /// On DynamoDB an eventually consistent read of a sparse, sharded index: callers rely on
    /// [`ScheduleStore::record_schedule_run`]'s condition, not on this list, to record once.
    async fn due_schedules(&self, before: Timestamp, limit: usize) -> StoreResult<Vec<Schedule>>;
    /// Records what the period of `read` (the schedule as the scheduler read it) did: stores
    /// `next` (its `next_run_at`, `last_run_id`, `last_error`; version one past `read`'s) and
    /// `event` (a `schedule.failed`), in one write, if the stored schedule is still at
    /// `read.version`; returns whether it wrote (`false`: it changed meanwhile, or went).
    async fn record_schedule_run(&self, read: &Schedule, next: &Schedule, event: Option<&Event>) -> StoreResult<bool>;
}
