//! The DynamoDB adapter: the whole store port on one table (single-table design; the layout is
//! in `docs/storage.md`).
//!
//! Every invariant is a condition in the write that changes it: uniqueness through guard items
//! written in the same `TransactWriteItems`, the monthly limit through a conditional counter in
//! the same transaction as the run, status moves and versioned updates through conditions on
//! the current value. Where a method reads first (to learn what to delete, or what a no-op
//! would return), the write is conditional on what it read and the method starts again when
//! that condition fails (optimistic concurrency), so a read never decides alone.
//!
//! Reads that decide something (key lookups, claims, conditions' inputs) are strongly
//! consistent and go to the base table. GSI1 (eventually consistent) is read only for
//! aggregates and sweeps: usage by distributor, the list of distributors, and the sparse
//! time-keyed partitions of queued runs and due deliveries, whose readers re-check what they
//! find. No method scans.
//!
//! Layout: this file holds the client and what every part shares (reads, single writes,
//! transactions with their retry, paging, batches); `op.rs` the write and query builders;
//! `schema.rs` every key format; one file per port trait holds its `impl` for [`DynamoStore`]
//! (`accounts.rs`, `keys.rs`, `customers.rs`, `runs.rs`, `usage.rs`, `limits.rs`,
//! `idempotency.rs`, `outbox.rs`, `webhooks.rs`, `mail.rs`).

mod accounts;
mod audit;
mod backfill;
mod batch;
mod context;
mod customers;
mod idempotency;
mod keys;
mod limits;
mod mail;
mod op;
mod outbox;
mod portfolio;
mod questionnaire;
mod runs;
mod schedules;
mod schema;
mod usage;
pub mod webhooks;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as AV, BillingMode, DeleteRequest, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, ReturnValue, ScalarAttributeType, TimeToLiveSpecification,
    WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_attribute_value, to_item};

use super::*;
use audit::audit_ops;
pub use backfill::Backfilled;
use op::{placeholders, set_all, with_set_all, Cancelled, Op, OpKind, Query};
use outbox::event_put;
use schema::{key, GSI1PK, GSI1SK, PK, SK};
pub use schema::{outbox_partitions, GSI1, QUARANTINE_PK};

/// An item, or a key, as the SDK takes it: attribute name → value.
type Item = HashMap<String, AV>;

/// Items per `TransactWriteItems` (DynamoDB's limit).
const MAX_TX_ITEMS: usize = 100;
/// Attempts at a transaction that other transactions keep conflicting with.
const TX_ATTEMPTS: u32 = 10;
/// Attempts at an optimistic read-then-conditional-write before giving up.
const OCC_ATTEMPTS: u32 = 50;

/// The store on one DynamoDB table (see `docs/storage.md` for its items).
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Most items one list call lets DynamoDB read ([`LIST_READ_BUDGET`] unless set).
    list_read_budget: usize,
}

/// Most items one filtered list call (P12, D2) lets DynamoDB read before its filter: the filters
/// left are rare belts (a run whose id and creation time fall in different months), so a page
/// is short only in odd cases, and then it still carries a cursor (issue 13, item 10).
pub const LIST_READ_BUDGET: usize = 1000;

/// Whether DynamoDB refused a write for its size: an item past 400 KB ("Item size has exceeded
/// the maximum allowed size") or a transaction past 4 MB. Sending it again cannot succeed.
fn too_large(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("ValidationException") && message.is_some_and(|m| m.to_ascii_lowercase().contains("size"))
}

fn backend(e: impl std::error::Error) -> StoreError {
    StoreError::Backend(DisplayErrorContext(e).to_string())
}

fn s(v: impl Into<String>) -> AV {
    AV::S(v.into())
}

/// What a number attribute holds: an integer, or a [`Timestamp`] as its unix seconds.
pub(super) trait Number {
    fn number_text(&self) -> String;
}

macro_rules! integer_numbers {
    ($($t:ty),*) => {$(
        impl Number for $t {
            fn number_text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
integer_numbers!(i32, i64, u8, u16, u32, u64, usize);

impl Number for Timestamp {
    fn number_text(&self) -> String {
        self.unix().to_string()
    }
}

impl<T: Number + ?Sized> Number for &T {
    fn number_text(&self) -> String {
        (**self).number_text()
    }
}

fn n(v: impl Number) -> AV {
    AV::N(v.number_text())
}

fn ser<T: Serialize>(v: &T) -> StoreResult<Item> {
    to_item(v).map_err(|e| StoreError::Backend(format!("cannot encode an item: {e}")))
}

fn av<T: Serialize>(v: &T) -> StoreResult<AV> {
    to_attribute_value(v).map_err(|e| StoreError::Backend(format!("cannot encode a value: {e}")))
}

fn de<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    from_item(item).map_err(|e| StoreError::Backend(format!("cannot decode an item: {e}")))
}

fn num(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

impl DynamoStore {
    /// The store on `table` (which must exist; see [`DynamoStore::create_table`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), list_read_budget: LIST_READ_BUDGET }
    }

    /// The same store with another [`LIST_READ_BUDGET`] (tests make it small).
    pub fn with_list_read_budget(mut self, items: usize) -> Self {
        self.list_read_budget = items.max(1);
        self
    }

    /// The SDK client the store sends with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (keys, GSI1, on-demand billing, TTL on `ttl`) unless it exists.
    /// For development and tests; on AWS the SAM template makes it.
    pub async fn create_table(client: &Client, table: &str) -> StoreResult<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let ks = |name: &str, t: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(t).build();
        let gsi1 = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(ks(GSI1PK, KeyType::Hash).map_err(backend)?)
            .key_schema(ks(GSI1SK, KeyType::Range).map_err(backend)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(backend)?;
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(PK).map_err(backend)?)
            .attribute_definitions(attr(SK).map_err(backend)?)
            .attribute_definitions(attr(GSI1PK).map_err(backend)?)
            .attribute_definitions(attr(GSI1SK).map_err(backend)?)
            .key_schema(ks(PK, KeyType::Hash).map_err(backend)?)
            .key_schema(ks(SK, KeyType::Range).map_err(backend)?)
            .global_secondary_indexes(gsi1)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => return Ok(()),
            Err(e) => return Err(backend(e)),
        }
        // Wait until it can be used (immediate on emulators, seconds on AWS).
        for _ in 0..120 {
            let d = client.describe_table().table_name(table).send().await.map_err(backend)?;
            let active = d.table().and_then(|t| t.table_status()).is_some_and(|s| s.as_str() == "ACTIVE");
            if active {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().enabled(true).attribute_name("ttl").build().map_err(backend)?,
            )
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.item)
    }

    async fn get_as<T: DeserializeOwned>(&self, key: Item) -> StoreResult<Option<T>> {
        self.get(key).await?.map(de).transpose()
    }

    /// Replaces a versioned item (schedules, exceptions) stored at version `expected` with
    /// `item`, `audit`'s entry in the same write. Errors: `Conflict` when another write moved the
    /// version first, `NotFound` when the item is gone; `still_there` (a read, awaited only when
    /// the condition failed) tells the two apart.
    async fn put_versioned(
        &self,
        item: Item,
        expected: u64,
        audit: Option<&crate::domain::audit::AuditEntry>,
        still_there: impl std::future::Future<Output = StoreResult<bool>>,
    ) -> StoreResult<()> {
        let op = Op::put(item)
            .when("attribute_exists(PK) AND #version = :v")
            .val(":v", n(expected))
            .with_riders(audit_ops(audit)?);
        match self.write(op, ReturnValue::None).await? {
            Some(_) => Ok(()),
            None if still_there.await? => Err(StoreError::Conflict),
            None => Err(StoreError::NotFound),
        }
    }

    /// Deletes the item at `key`, `audit`'s entry in the same write; `NotFound` when there is
    /// none (so a racing delete answers 404 and only one entry is written).
    async fn delete_existing(&self, key: Item, audit: Option<&crate::domain::audit::AuditEntry>) -> StoreResult<()> {
        let op = Op::delete(key).when("attribute_exists(PK)").with_riders(audit_ops(audit)?);
        match self.write(op, ReturnValue::None).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }

    /// One write outside a transaction: `Ok(None)` when its condition failed, else the
    /// attributes `ret` asks for.
    async fn write(&self, op: Op, ret: ReturnValue) -> StoreResult<Option<Item>> {
        if !op.riders.is_empty() {
            // Writes riding along make it a transaction (which returns no values).
            return Ok(self.transact(vec![op]).await?.ok().map(|()| Item::new()));
        }
        let mut op = op;
        op.complete_names();
        let names = (!op.names.is_empty()).then_some(op.names);
        let values = (!op.values.is_empty()).then_some(op.values);
        let t = &self.table;
        let out = match op.kind {
            OpKind::Put(item) => self
                .client
                .put_item()
                .table_name(t)
                .set_item(Some(item))
                .set_condition_expression(op.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .send()
                .await
                .map(|o| o.attributes)
                .map_err(|e| if ccf(&e) { None } else { Some(backend(e)) }),
            OpKind::Update(key, expr) => self
                .client
                .update_item()
                .table_name(t)
                .set_key(Some(key))
                .update_expression(expr)
                .set_condition_expression(op.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .return_values(ret)
                .send()
                .await
                .map(|o| o.attributes)
                .map_err(|e| if ccf(&e) { None } else { Some(backend(e)) }),
            OpKind::Delete(key) => self
                .client
                .delete_item()
                .table_name(t)
                .set_key(Some(key))
                .set_condition_expression(op.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .send()
                .await
                .map(|o| o.attributes)
                .map_err(|e| if ccf(&e) { None } else { Some(backend(e)) }),
            OpKind::Check(_) => return Err(StoreError::Backend("a condition check alone".into())),
        };
        match out {
            Ok(attrs) => Ok(Some(attrs.unwrap_or_default())),
            Err(None) => Ok(None),
            Err(Some(e)) => Err(e),
        }
    }

    /// Runs `ops` as one transaction. `Err(Cancelled)` when a condition failed; transactions
    /// that conflict with others in flight are tried again.
    async fn transact(&self, ops: Vec<Op>) -> StoreResult<Result<(), Cancelled>> {
        let ops = Op::flatten(ops);
        if ops.len() > MAX_TX_ITEMS {
            return Err(StoreError::Backend(format!("a transaction of {} items", ops.len())));
        }
        let items = ops.into_iter().map(|o| o.into_transact(&self.table)).collect::<StoreResult<Vec<_>>>()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match sent {
                Ok(_) => return Ok(Ok(())),
                Err(e) => e,
            };
            let service = err.as_service_error();
            let reasons: Vec<String> = match service {
                Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => c
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_string())
                    .collect(),
                _ => Vec::new(),
            };
            let conditional: Vec<bool> = reasons.iter().map(|r| r == "ConditionalCheckFailed").collect();
            if conditional.iter().any(|c| *c) {
                return Ok(Err(Cancelled(conditional)));
            }
            let retryable = reasons.iter().any(|r| r == "TransactionConflict" || r == "ThrottlingError")
                || service.is_some_and(|e| e.code() == Some("TransactionInProgressException"));
            if retryable && attempt < TX_ATTEMPTS {
                backoff(attempt).await;
                continue;
            }
            if let Some(e) = service.filter(|e| too_large(e.code(), e.message())) {
                return Err(StoreError::TooLarge(e.message().unwrap_or_default().to_string()));
            }
            return Err(backend(err));
        }
    }

    /// One page of a partition: up to `limit` items after `after` (an exclusive sort key),
    /// and whether more follow. Filters are applied by DynamoDB; the loop goes on until the
    /// page is full (or the partition ends), so a page is never short while more match.
    async fn page(&self, q: &Query, limit: usize, after: Option<String>) -> StoreResult<(Vec<Item>, bool)> {
        let (items, next) = self.page_within(q, limit, after, usize::MAX).await?;
        Ok((items, next.is_some()))
    }

    /// [`DynamoStore::page`] that reads at most `budget` items (DynamoDB's `ScannedCount`,
    /// before the filter). Returns the page and, while the range may hold more, the sort key to
    /// continue after: the last item's, or, when the budget ran out first, the last one read, so
    /// a page can be short and still carry a cursor.
    async fn page_within(
        &self,
        q: &Query,
        limit: usize,
        after: Option<String>,
        budget: usize,
    ) -> StoreResult<(Vec<Item>, Option<String>)> {
        let want = limit.max(1) + 1;
        let budget = budget.max(1);
        let (mut out, mut read) = (Vec::new(), 0usize);
        let mut start = after.map(|sk| key(q.pk.clone(), sk));
        loop {
            let mut names = q.names.clone();
            let mut values = q.values.clone();
            for name in q.filter.iter().flat_map(|f| placeholders(f)) {
                names.entry(format!("#{name}")).or_insert(name);
            }
            names.insert("#pk".into(), PK.into());
            names.insert("#sk".into(), SK.into());
            values.insert(":pk".into(), s(&q.pk));
            values.insert(":lo".into(), s(&q.lo));
            values.insert(":hi".into(), s(&q.hi));
            let ask = (want - out.len()).min(budget.saturating_sub(read)).clamp(1, i32::MAX as usize);
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .set_filter_expression(q.filter.clone())
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .scan_index_forward(q.forward)
                .consistent_read(true)
                .limit(ask as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            read += resp.scanned_count.max(0) as usize;
            out.extend(resp.items.unwrap_or_default());
            if out.len() >= want {
                out.truncate(limit.max(1));
                let next = out.last().and_then(|i| text(i, SK)).map(String::from);
                return Ok((out, next));
            }
            match resp.last_evaluated_key {
                None => return Ok((out, None)),
                Some(k) if read >= budget => return Ok((out, text(&k, SK).map(String::from))),
                Some(k) => start = Some(k),
            }
        }
    }

    /// Up to `limit` items of a sparse, sharded GSI1 partition family `base` keyed by time
    /// (`schema::time_sk` first in the sort key) that are due before `before`, oldest first.
    /// Every partition of the family ([`schema::partitions`]) is queried at once, for up to
    /// `limit` each, and the answers merged. GSI reads are eventually consistent: callers
    /// re-check what they read.
    async fn due_in<T: DeserializeOwned>(&self, base: &str, before: Timestamp, limit: usize) -> StoreResult<Vec<T>> {
        let limit = limit.clamp(1, 1000);
        let queries = schema::partitions(base).into_iter().map(|pk| self.due_in_partition(pk, before, limit));
        let answers = futures_util::future::try_join_all(queries).await?;
        let items = merge_oldest(answers, GSI1SK, limit);
        items.into_iter().map(de).collect()
    }

    /// One query of [`DynamoStore::due_in`]: the partition's items due before `before`, oldest
    /// first, up to `limit`, and whether it holds more than it answered.
    async fn due_in_partition(&self, pk: String, before: Timestamp, limit: usize) -> StoreResult<(Vec<Item>, bool)> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#g = :pk AND #gs < :before")
            .expression_attribute_names("#g", GSI1PK)
            .expression_attribute_names("#gs", GSI1SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":before", s(schema::time_sk(before)))
            .limit(limit as i32)
            .send()
            .await
            .map_err(backend)?;
        Ok((resp.items.unwrap_or_default(), resp.last_evaluated_key.is_some()))
    }

    /// Every item of one GSI1 partition, page after page (eventually consistent: for aggregates).
    async fn all_in_gsi1(&self, partition: &str) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("#g = :pk")
                .expression_attribute_names("#g", GSI1PK)
                .expression_attribute_values(":pk", s(partition))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            out.extend(resp.items.unwrap_or_default());
            match resp.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }

    /// Every item of a query, page after page.
    async fn all(&self, q: &Query) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let (items, more) = self.page(q, 1000, after.take()).await?;
            let last = items.last().and_then(|i| text(i, SK)).map(str::to_string);
            out.extend(items);
            match (more, last) {
                (true, Some(sk)) => after = Some(sk),
                _ => return Ok(out),
            }
        }
    }

    /// Items by key, strongly consistent, in no particular order (missing ones left out).
    async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        for chunk in keys.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(backend)?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                attempt += 1;
                let resp =
                    self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(backend)?;
                if let Some(mut r) = resp.responses {
                    out.extend(r.remove(&self.table).unwrap_or_default());
                }
                pending = resp.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
                if pending.is_some() {
                    if attempt >= TX_ATTEMPTS {
                        return Err(StoreError::Backend("batch read left keys unprocessed".into()));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(out)
    }

    /// Deletes items by key (no conditions), in batches.
    async fn batch_delete(&self, keys: Vec<Item>) -> StoreResult<()> {
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(backend)
                })
                .collect::<StoreResult<_>>()?;
            let mut attempt = 0;
            while !requests.is_empty() {
                attempt += 1;
                let resp = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(backend)?;
                requests = resp.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                if !requests.is_empty() {
                    if attempt >= TX_ATTEMPTS {
                        return Err(StoreError::Backend("batch delete left items unprocessed".into()));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(())
    }
}

/// The oldest `limit` of several partitions' answers (each oldest first by the sort attribute
/// `by`, and whether more followed it), merged. A partition that holds more than it answered
/// may hold items older than another's last; so when one was cut short of `limit` (DynamoDB's
/// 1 MB page), nothing later than its last item is kept: the next call reads on from there.
fn merge_oldest(answers: Vec<(Vec<Item>, bool)>, by: &str, limit: usize) -> Vec<Item> {
    let sort_key = |i: &Item| text(i, by).unwrap_or_default().to_string();
    let horizon = answers.iter().filter(|(_, more)| *more).filter_map(|(items, _)| items.last().map(sort_key)).min();
    let mut items: Vec<Item> = answers.into_iter().flat_map(|(items, _)| items).collect();
    items.sort_by_cached_key(sort_key);
    if let Some(h) = horizon {
        items.retain(|i| sort_key(i) <= h);
    }
    items.truncate(limit);
    items
}

async fn backoff(attempt: u32) {
    // Jittered exponential backoff: 10 ms, 20 ms, … capped at about a second.
    let base = 10u64 << attempt.min(7);
    let mut b = [0u8; 2];
    let jitter = if getrandom::fill(&mut b).is_ok() { u64::from(u16::from_le_bytes(b)) % base } else { 0 };
    tokio::time::sleep(Duration::from_millis(base / 2 + jitter)).await;
}

fn ccf<E: ProvideErrorMetadata>(
    e: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    e.as_service_error().is_some_and(|e| e.code() == Some("ConditionalCheckFailedException"))
}
