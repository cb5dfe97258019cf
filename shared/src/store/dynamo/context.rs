//! Customers' tenant contexts and exceptions (`ContextStore`).
//!
//! Both live in the partner's partition: the context as `CTX#c` (one item, replaced whole,
//! conditional on its `version`), each exception as `EXC#c#<id>`. An exception whose
//! `exception.expiring` notice is still to be recorded carries the notice's due time in GSI1
//! (its shard of `EXCEXPIRY`, `<due>#<id>`), which is how the relay's schedule finds the ones
//! due without a scan; recording the notice removes those keys in the transaction that puts
//! the event.

use super::*;
use crate::domain::audit::AuditEntry;
use crate::domain::context::{Exception, TenantContext};

impl DynamoStore {
    /// The exception as stored: with the notice's GSI1 keys while its notice is pending.
    fn exception_item(e: &Exception) -> StoreResult<Item> {
        let mut item = ser(e)?;
        item.extend(schema::exception(&e.partner_id, &e.customer_id, &e.id));
        if e.notice_pending() {
            item.insert(GSI1PK.into(), s(schema::expiring_exceptions_gsi1pk(&e.id)));
            item.insert(GSI1SK.into(), s(schema::expiring_exception_sk(e.expiring_notice_at(), &e.id)));
        }
        Ok(item)
    }

    /// The condition that the partner still has customer `customer_id` (and is not deleting
    /// it): deleting a customer removes its context and exceptions, and one written after
    /// that would be left behind.
    fn customer_is_there(partner_id: &str, customer_id: &str) -> Op {
        Op::check(schema::customer(partner_id, customer_id), "attribute_exists(PK) AND attribute_not_exists(#deleting)")
    }

    /// `ops` in one transaction after [`Self::customer_is_there`]: `NotFound` when the
    /// customer is gone, `Conflict` when another of the ops' conditions failed.
    async fn with_customer(&self, partner_id: &str, customer_id: &str, op: Op) -> StoreResult<()> {
        match self.transact(vec![Self::customer_is_there(partner_id, customer_id), op]).await? {
            Ok(()) => Ok(()),
            Err(x) if x.failed(0) => Err(StoreError::NotFound),
            Err(_) => Err(StoreError::Conflict),
        }
    }
}

#[async_trait]
impl ContextStore for DynamoStore {
    async fn tenant_context(&self, partner_id: &str, customer_id: &str) -> StoreResult<TenantContext> {
        Ok(self.get_as(schema::tenant_context(partner_id, customer_id)).await?.unwrap_or_default())
    }

    async fn put_tenant_context(
        &self,
        partner_id: &str,
        customer_id: &str,
        context: &TenantContext,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut next = context.clone();
        next.version += 1;
        let mut item = ser(&next)?;
        item.extend(schema::tenant_context(partner_id, customer_id));
        // Version 0 is "never stored": the item is absent until the first write.
        let op = if context.version == 0 {
            Op::put(item).fresh()
        } else {
            Op::put(item).when("#version = :v").val(":v", n(context.version))
        };
        self.with_customer(partner_id, customer_id, op.with_riders(audit_ops(audit)?)).await
    }

    async fn create_exception(&self, e: &Exception, audit: Option<&AuditEntry>) -> StoreResult<()> {
        let op = Op::put(Self::exception_item(e)?).fresh().with_riders(audit_ops(audit)?);
        self.with_customer(&e.partner_id, &e.customer_id, op).await
    }

    async fn exception(&self, partner_id: &str, customer_id: &str, id: &str) -> StoreResult<Option<Exception>> {
        self.get_as(schema::exception(partner_id, customer_id, id)).await
    }

    async fn list_exceptions(
        &self,
        partner_id: &str,
        customer_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Exception>> {
        let q = Query::prefix(schema::partner_pk(partner_id), &schema::exceptions_prefix(customer_id), true);
        let after = page.after.as_ref().map(|id| schema::exception_sk(customer_id, id));
        let (items, more) = self.page(&q, page.limit, after).await?;
        let exceptions: Vec<Exception> = items.into_iter().map(de).collect::<StoreResult<_>>()?;
        let next = if more { exceptions.last().map(|e| e.id.to_string()) } else { None };
        Ok(Page { items: exceptions, next })
    }

    async fn exceptions_of(&self, partner_id: &str, customer_id: &str) -> StoreResult<Vec<Exception>> {
        let q = Query::prefix(schema::partner_pk(partner_id), &schema::exceptions_prefix(customer_id), true);
        self.all(&q).await?.into_iter().map(de).collect()
    }

    async fn update_exception(
        &self,
        e: &Exception,
        expected_version: u64,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let still_there = async { Ok(self.exception(&e.partner_id, &e.customer_id, &e.id).await?.is_some()) };
        self.put_versioned(Self::exception_item(e)?, expected_version, audit, still_there).await
    }

    async fn delete_exception(
        &self,
        partner_id: &str,
        customer_id: &str,
        id: &str,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        self.delete_existing(schema::exception(partner_id, customer_id, id), audit).await
    }

    async fn expiring_exceptions(&self, before: Timestamp, limit: usize) -> StoreResult<Vec<Exception>> {
        self.due_in(schema::EXPIRING_EXCEPTIONS, before, limit).await
    }

    async fn record_expiring(&self, e: &Exception, event: &Event) -> StoreResult<bool> {
        // Conditional on the version read: a second invocation that read the same exception
        // finds it bumped and records nothing; a change made meanwhile is read again next time.
        let mark = Op::update(
            schema::exception(&e.partner_id, &e.customer_id, &e.id),
            "SET #expiring_noticed = :exp, #version = :next REMOVE #GSI1PK, #GSI1SK",
        )
        .when("attribute_exists(PK) AND #version = :v AND #expires_at = :exp")
        .val(":v", n(e.version))
        .val(":next", n(e.version + 1))
        .val(":exp", n(e.expires_at));
        match self.transact(vec![mark, event_put(event)?]).await? {
            Ok(()) => Ok(true),
            Err(_) => Ok(false),
        }
    }
}
