//! Webhook endpoints and deliveries (`WebhookStore`).
//!
//! An endpoint lives in its owner's partition beside a counter of the owner's endpoints; its
//! deliveries live in a partition of their own, each with a guard per event so an event makes
//! one delivery per endpoint. A pending delivery carries its due time in GSI1 (its shard of
//! `WHKDUE`, `<due>#<id>`), which is how the sweep finds lost retries without a scan.

use super::*;
use crate::domain::webhook::ATTEMPTS_KEPT;

/// How long a delivery and its guard are kept after they are made, in seconds (90 days): the
/// table's TTL then removes them, so the delivery log does not grow for ever. Expiry is only
/// clean-up: nothing reads a delivery's age from whether it is still there.
pub const DELIVERY_RETENTION_SECS: i64 = 90 * 24 * 3600;

/// How long a deleted endpoint's tombstone is kept, in seconds: past the TTL of every delivery
/// made before the deletion, plus a day for one a relay was making at that moment.
pub const TOMBSTONE_RETENTION_SECS: i64 = DELIVERY_RETENTION_SECS + 24 * 3600;

/// A deleted endpoint's item: only its key, `deleted_at` and `ttl`.
fn is_tombstone(item: &Item) -> bool {
    item.contains_key("deleted_at")
}

/// An endpoint item as readers see it: a tombstone is no endpoint.
pub(super) fn decode_endpoint(item: Option<Item>) -> StoreResult<Option<Endpoint>> {
    match item {
        Some(item) if !is_tombstone(&item) => de(item).map(Some),
        _ => Ok(None),
    }
}

/// The query of an owner's endpoints, tombstones left out.
fn live_endpoints(owner: &Owner) -> Query {
    Query::prefix(schema::owner_pk(owner), schema::ENDPOINT_PREFIX, true)
        .filter(Some("attribute_not_exists(#deleted_at)".into()))
}

impl DynamoStore {
    /// The delivery as stored: with its due-time GSI1 keys while it is pending.
    fn delivery_item(d: &Delivery) -> StoreResult<Item> {
        let mut item = ser(d)?;
        item.extend(schema::delivery(&d.endpoint_id, &d.id));
        item.insert("ttl".into(), n(d.created_at + DELIVERY_RETENTION_SECS));
        if let (DeliveryStatus::Pending, Some(at)) = (d.status, d.next_attempt_at) {
            item.insert(GSI1PK.into(), s(schema::due_deliveries_gsi1pk(&d.id)));
            item.insert(GSI1SK.into(), s(schema::due_delivery_sk(at, &d.id)));
        }
        Ok(item)
    }

    /// The condition that an attempt is the delivery's next (`:count`: the attempts made before
    /// it, in `attempts_made`; a delivery stored before that counter kept every attempt, so
    /// there it is the list's size) and, unless it is `manual`, that the delivery is pending
    /// (`:pending`).
    fn next_attempt_is(manual: bool) -> String {
        let mut when = "attribute_exists(PK) AND (#attempts_made = :count \
                        OR (attribute_not_exists(#attempts_made) AND size(#attempts) = :count))"
            .to_string();
        if !manual {
            when.push_str(" AND #status = :pending");
        }
        when
    }

    /// Why a conditional write to a delivery failed: it is gone, or it moved on.
    async fn delivery_missing_or_moved(&self, endpoint_id: &str, id: &str) -> StoreError {
        match self.get(schema::delivery(endpoint_id, id)).await {
            Ok(None) => StoreError::NotFound,
            Ok(Some(_)) => StoreError::Conflict,
            Err(e) => e,
        }
    }
}

#[async_trait]
impl WebhookStore for DynamoStore {
    async fn create_endpoint_audited(
        &self,
        endpoint: &Endpoint,
        max: usize,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut item = ser(endpoint)?;
        item.extend(schema::endpoint(&endpoint.owner, &endpoint.id));
        let count = Op::update(schema::endpoint_count(&endpoint.owner), "SET #n = if_not_exists(#n, :zero) + :one")
            .when("attribute_not_exists(#n) OR #n < :max")
            .val(":zero", n(0))
            .val(":one", n(1))
            .val(":max", n(max));
        match self.transact(vec![count, Op::put(item).fresh().with_riders(audit_ops(audit)?)]).await? {
            Ok(()) => Ok(()),
            Err(x) if x.failed(0) => Err(StoreError::LimitReached),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn endpoint(&self, owner: &Owner, id: &str) -> StoreResult<Option<Endpoint>> {
        decode_endpoint(self.get(schema::endpoint(owner, id)).await?)
    }

    async fn list_endpoints(&self, owner: &Owner, page: &PageRequest) -> StoreResult<Page<Endpoint>> {
        let q = live_endpoints(owner);
        let after = page.after.as_ref().map(|id| schema::endpoint_sk(id));
        let (items, more) = self.page(&q, page.limit, after).await?;
        let endpoints: Vec<Endpoint> = items.into_iter().map(de).collect::<StoreResult<_>>()?;
        let next = if more { endpoints.last().map(|e| e.id.to_string()) } else { None };
        Ok(Page { items: endpoints, next })
    }

    async fn endpoints_of(&self, owner: &Owner) -> StoreResult<Vec<Endpoint>> {
        self.all(&live_endpoints(owner)).await?.into_iter().map(de).collect()
    }

    async fn update_endpoint_audited(
        &self,
        endpoint: &Endpoint,
        expected_version: u64,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut item = ser(endpoint)?;
        item.extend(schema::endpoint(&endpoint.owner, &endpoint.id));
        let put = Op::put(item)
            .when("attribute_exists(PK) AND attribute_not_exists(#deleted_at) AND #version = :v")
            .val(":v", n(expected_version))
            .with_riders(audit_ops(audit)?);
        match self.write(put, ReturnValue::None).await? {
            Some(_) => Ok(()),
            None => match self.get(schema::endpoint(&endpoint.owner, &endpoint.id)).await? {
                Some(item) if !is_tombstone(&item) => Err(StoreError::Conflict),
                _ => Err(StoreError::NotFound),
            },
        }
    }

    async fn delete_endpoint_audited(
        &self,
        owner: &Owner,
        id: &str,
        at: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        // A tombstone in the endpoint's place, in one transaction with the count: the request
        // does not grow with the endpoint's deliveries, which are left to the table's TTL (the
        // dispatcher ends the pending ones), and the id is not made again while any remain.
        let mut tombstone = schema::endpoint(owner, id);
        tombstone.insert("deleted_at".into(), n(at));
        tombstone.insert("ttl".into(), n(at + TOMBSTONE_RETENTION_SECS));
        let gone = Op::put(tombstone)
            .when("attribute_exists(PK) AND attribute_not_exists(#deleted_at)")
            .with_riders(audit_ops(audit)?);
        let count = Op::update(schema::endpoint_count(owner), "SET #n = #n - :one")
            .when("#n > :zero")
            .val(":one", n(1))
            .val(":zero", n(0));
        match self.transact(vec![gone, count]).await? {
            Ok(()) => Ok(()),
            Err(x) if x.failed(0) => Err(StoreError::NotFound),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn create_delivery(&self, delivery: &Delivery) -> StoreResult<()> {
        let mut guard = schema::delivery_guard(&delivery.endpoint_id, &delivery.event_id);
        guard.insert("delivery_id".into(), s(&delivery.id));
        guard.insert("ttl".into(), n(delivery.created_at + DELIVERY_RETENTION_SECS));
        let ops = vec![Op::put(guard).fresh(), Op::put(Self::delivery_item(delivery)?).fresh()];
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn delivery(&self, endpoint_id: &str, id: &str) -> StoreResult<Option<Delivery>> {
        self.get_as(schema::delivery(endpoint_id, id)).await
    }

    async fn delivery_for_event(&self, endpoint_id: &str, event_id: &str) -> StoreResult<Option<Delivery>> {
        let Some(guard) = self.get(schema::delivery_guard(endpoint_id, event_id)).await? else { return Ok(None) };
        match text(&guard, "delivery_id") {
            Some(id) => self.delivery(endpoint_id, id).await,
            None => Ok(None),
        }
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
        let mut when = Self::next_attempt_is(manual);
        when.push_str(" AND (attribute_not_exists(#lease_until) OR #lease_until <= :now)");
        let mut claim = Op::update(schema::delivery(endpoint_id, delivery_id), "SET #lease_until = :until")
            .when(when)
            .val(":until", n(lease_until))
            .val(":now", n(now))
            .val(":count", n(number.saturating_sub(1)));
        if !manual {
            claim = claim.val(":pending", s(DeliveryStatus::Pending.as_str()));
        }
        if let Some(item) = self.write(claim, ReturnValue::AllNew).await? {
            return Ok(AttemptClaim::Claimed(de(item)?));
        }
        // Why not: the attempt moved on (or the delivery is gone), or another claim is live.
        let Some(item) = self.get(schema::delivery(endpoint_id, delivery_id)).await? else {
            return Ok(AttemptClaim::Stale);
        };
        let held = num(&item, "lease_until").map(Timestamp::from_unix);
        let d: Delivery = de(item)?;
        match held {
            Some(until) if (manual || d.status == DeliveryStatus::Pending) && d.next_attempt_number() == number => {
                Ok(AttemptClaim::Held(until))
            }
            _ => Ok(AttemptClaim::Stale),
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
        let due = match (status, next_attempt_at) {
            (DeliveryStatus::Pending, Some(at)) => Some(at),
            _ => None,
        };
        // Up to the bound the attempt is appended in place. Past it the kept list is read and
        // written whole (one update cannot both append to a list and drop its head), under the
        // same condition on the count, so a record that came between makes this one fail.
        let whole = if attempt.number as usize <= ATTEMPTS_KEPT {
            None
        } else {
            let Some(mut d) = self.delivery(endpoint_id, delivery_id).await? else { return Err(StoreError::NotFound) };
            if d.next_attempt_number() != attempt.number {
                return Err(StoreError::Conflict);
            }
            d.log_attempt(attempt.clone());
            Some(d.attempts)
        };
        let mut expr = format!(
            "SET #attempts = {}, #attempts_made = :made, #status = :st, #next_attempt_at = :next",
            if whole.is_some() { ":all" } else { "list_append(#attempts, :a)" }
        );
        if attempt.manual {
            expr.push_str(", #manual_attempts = if_not_exists(#manual_attempts, :zero) + :one");
        }
        expr.push_str(if due.is_some() {
            ", #GSI1PK = :g, #GSI1SK = :gs REMOVE #lease_until"
        } else {
            " REMOVE #GSI1PK, #GSI1SK, #lease_until"
        });
        let mut op = Op::update(schema::delivery(endpoint_id, delivery_id), expr)
            .when(Self::next_attempt_is(attempt.manual))
            .val(":made", n(attempt.number))
            .val(":st", av(&status)?)
            .val(":next", av(&next_attempt_at)?)
            .val(":count", n(attempt.number.saturating_sub(1)));
        op = match whole {
            Some(all) => op.val(":all", av(&all)?),
            None => op.val(":a", AV::L(vec![av(attempt)?])),
        };
        if attempt.manual {
            op = op.val(":zero", n(0)).val(":one", n(1));
        } else {
            op = op.val(":pending", s(DeliveryStatus::Pending.as_str()));
        }
        if let Some(at) = due {
            op = op
                .val(":g", s(schema::due_deliveries_gsi1pk(delivery_id)))
                .val(":gs", s(schema::due_delivery_sk(at, delivery_id)));
        }
        match self.write(op, ReturnValue::AllNew).await? {
            Some(item) => de(item),
            None => Err(self.delivery_missing_or_moved(endpoint_id, delivery_id).await),
        }
    }

    async fn due_deliveries(&self, before: Timestamp, limit: usize) -> StoreResult<Vec<Delivery>> {
        // A delivery attempted a moment ago may still show; the dispatcher drops what moved on.
        let due: Vec<Delivery> = self.due_in(schema::DUE_DELIVERIES, before, limit).await?;
        Ok(due.into_iter().filter(|d| d.status == DeliveryStatus::Pending).collect())
    }

    async fn reschedule_delivery(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        due: Timestamp,
        to: Timestamp,
    ) -> StoreResult<bool> {
        let op = Op::update(
            schema::delivery(endpoint_id, delivery_id),
            "SET #next_attempt_at = :to, #GSI1PK = :g, #GSI1SK = :gs",
        )
        .when("#status = :pending AND #next_attempt_at = :due")
        .val(":to", n(to))
        .val(":due", n(due))
        .val(":pending", s(DeliveryStatus::Pending.as_str()))
        .val(":g", s(schema::due_deliveries_gsi1pk(delivery_id)))
        .val(":gs", s(schema::due_delivery_sk(to, delivery_id)));
        Ok(self.write(op, ReturnValue::None).await?.is_some())
    }

    async fn list_deliveries(&self, endpoint_id: &str, page: &PageRequest) -> StoreResult<Page<Delivery>> {
        let q = Query::prefix(schema::deliveries_pk(endpoint_id), schema::DELIVERY_PREFIX, false);
        let after = page.after.as_ref().map(|id| schema::delivery_sk(id));
        let (items, more) = self.page(&q, page.limit, after).await?;
        let deliveries: Vec<Delivery> = items.into_iter().map(de).collect::<StoreResult<_>>()?;
        let next = if more { deliveries.last().map(|d| d.id.to_string()) } else { None };
        Ok(Page { items: deliveries, next })
    }
}
