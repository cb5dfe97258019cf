//! Customers' schedules (`ScheduleStore`).
//!
//! Each schedule lives in the partner's partition as `SCH#c#<id>`. An enabled one carries its
//! next due time in GSI1 (its shard of `SCHDUE`, `<next_run_at>#<id>`), which is how the
//! scheduler finds the due ones without a scan; a disabled one has no GSI1 keys. Every write
//! puts the item whole, so the index keys always match its `enabled` and `next_run_at`.

use super::*;
use crate::domain::audit::AuditEntry;
use crate::domain::schedule::Schedule;

impl DynamoStore {
    /// The schedule as stored: with its due-time GSI1 keys while enabled.
    fn schedule_item(x: &Schedule) -> StoreResult<Item> {
        let mut item = ser(x)?;
        item.extend(schema::schedule(&x.partner_id, &x.customer_id, &x.id));
        if x.enabled {
            item.insert(GSI1PK.into(), s(schema::due_schedules_gsi1pk(&x.id)));
            item.insert(GSI1SK.into(), s(schema::due_schedule_sk(x.next_run_at, &x.id)));
        }
        Ok(item)
    }
}

#[async_trait]
impl ScheduleStore for DynamoStore {
    async fn create_schedule(&self, x: &Schedule, audit: Option<&AuditEntry>) -> StoreResult<()> {
        // With a check that the customer is there and not being deleted: a schedule written
        // after the deletion read its items would be left behind, due for ever.
        let customer = Op::check(
            schema::customer(&x.partner_id, &x.customer_id),
            "attribute_exists(PK) AND attribute_not_exists(#deleting)",
        );
        let put = Op::put(Self::schedule_item(x)?).fresh().with_riders(audit_ops(audit)?);
        match self.transact(vec![customer, put]).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed(0) => Err(StoreError::NotFound),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn schedule(&self, partner_id: &str, customer_id: &str, id: &str) -> StoreResult<Option<Schedule>> {
        self.get_as(schema::schedule(partner_id, customer_id, id)).await
    }

    async fn list_schedules(
        &self,
        partner_id: &str,
        customer_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Schedule>> {
        let q = Query::prefix(schema::partner_pk(partner_id), &schema::schedules_prefix(customer_id), true);
        let after = page.after.as_ref().map(|id| schema::schedule_sk(customer_id, id));
        let (items, more) = self.page(&q, page.limit, after).await?;
        let schedules: Vec<Schedule> = items.into_iter().map(de).collect::<StoreResult<_>>()?;
        let next = if more { schedules.last().map(|x| x.id.to_string()) } else { None };
        Ok(Page { items: schedules, next })
    }

    async fn update_schedule(
        &self,
        x: &Schedule,
        expected_version: u64,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let still_there = async { Ok(self.schedule(&x.partner_id, &x.customer_id, &x.id).await?.is_some()) };
        self.put_versioned(Self::schedule_item(x)?, expected_version, audit, still_there).await
    }

    async fn delete_schedule(
        &self,
        partner_id: &str,
        customer_id: &str,
        id: &str,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        self.delete_existing(schema::schedule(partner_id, customer_id, id), audit).await
    }

    async fn due_schedules(&self, before: Timestamp, limit: usize) -> StoreResult<Vec<Schedule>> {
        self.due_in(schema::DUE_SCHEDULES, before, limit).await
    }

    async fn record_schedule_run(&self, read: &Schedule, next: &Schedule, event: Option<&Event>) -> StoreResult<bool> {
        // Conditional on the version read: a second invocation that read the same period finds
        // it bumped and records nothing; a change made meanwhile is read again by the caller.
        let stored = Schedule { version: read.version + 1, ..next.clone() };
        let put = Op::put(Self::schedule_item(&stored)?)
            .when("attribute_exists(PK) AND #version = :v")
            .val(":v", n(read.version));
        let mut ops = vec![put];
        if let Some(e) = event {
            ops.push(event_put(e)?);
        }
        match self.transact(ops).await? {
            Ok(()) => Ok(true),
            Err(_) => Ok(false),
        }
    }
}
