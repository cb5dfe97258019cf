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
//! consistent and go to the base table; the one GSI read (usage by distributor) feeds
//! aggregates only. No method scans.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as AV, BillingMode, ConditionCheck, Delete, DeleteRequest,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ReturnValue,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_attribute_value, to_item};

use super::*;
use crate::domain::account::Surface;
use crate::domain::ids::{prefix, time_floor};
use crate::domain::usage::UsageSnapshot;

type Item = HashMap<String, AV>;

/// Items per `TransactWriteItems` (DynamoDB's limit).
const MAX_TX_ITEMS: usize = 100;
/// Attempts at a transaction that other transactions keep conflicting with.
const TX_ATTEMPTS: u32 = 10;
/// Attempts at an optimistic read-then-conditional-write before giving up.
const OCC_ATTEMPTS: u32 = 50;

pub const GSI1: &str = "GSI1";

pub struct DynamoStore {
    client: Client,
    table: String,
}

fn backend(e: impl std::error::Error) -> StoreError {
    StoreError::Backend(DisplayErrorContext(e).to_string())
}

fn s(v: impl Into<String>) -> AV {
    AV::S(v.into())
}

fn n(v: impl ToString) -> AV {
    AV::N(v.to_string())
}

fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("PK".to_string(), s(pk)), ("SK".to_string(), s(sk))])
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

/// Keys of the items.
mod k {
    use super::*;

    pub fn distributor(id: &str) -> Item {
        key(format!("DIST#{id}"), "META")
    }
    pub fn partner(id: &str) -> Item {
        key(format!("PARTNER#{id}"), "META")
    }
    pub fn partner_pk(id: &str) -> String {
        format!("PARTNER#{id}")
    }
    /// The partner's entry in its distributor's partition (for lists, in creation order).
    pub fn member(distributor: &str, partner: &str) -> Item {
        key(format!("DIST#{distributor}"), format!("PARTNER#{partner}"))
    }
    pub fn email_guard(distributor: &str, email: &str) -> Item {
        key(format!("DIST#{distributor}"), format!("EMAIL#{}", email.to_lowercase()))
    }
    pub fn snapshot(distributor: &str, month: Month) -> Item {
        key(format!("DIST#{distributor}"), format!("SNAPSHOT#{month}"))
    }
    pub fn api_key(hash: &str) -> Item {
        key(format!("KEY#{hash}"), "META")
    }
    pub fn owner_pk(owner: &Owner) -> String {
        let surface = match owner.surface {
            Surface::Partner => "partner",
            Surface::Distributor => "distributor",
        };
        format!("OWNER#{surface}#{}", owner.id)
    }
    pub fn slot(owner: &Owner, slot: u8) -> Item {
        key(owner_pk(owner), format!("KEYSLOT#{slot}"))
    }
    pub fn customer(partner: &str, id: &str) -> Item {
        key(partner_pk(partner), format!("CUST#{id}"))
    }
    pub fn tenant(partner: &str, tenant: &str) -> Item {
        key(partner_pk(partner), format!("TENANT#{tenant}"))
    }
    pub fn run(partner: &str, id: &str) -> Item {
        key(partner_pk(partner), format!("RUN#{id}"))
    }
    /// A run's entry under its customer (strongly consistent runs-of-a-customer).
    pub fn customer_run(partner: &str, customer: &str, run: &str) -> Item {
        key(partner_pk(partner), format!("CRUN#{customer}#{run}"))
    }
    pub fn report(partner: &str, run: &str) -> Item {
        key(partner_pk(partner), format!("REPORT#{run}"))
    }
    pub fn usage(partner: &str, month: Month) -> Item {
        key(partner_pk(partner), format!("USAGE#{month}"))
    }
    pub fn usage_gsi1pk(distributor: &str, month: Month) -> String {
        format!("DIST#{distributor}#USAGE#{month}")
    }
    pub fn window(bucket: &str) -> Item {
        key(format!("LIMIT#{bucket}"), "META")
    }
    pub fn idempotency(scope: &str, k: &str) -> Item {
        // The scope's length keeps `a#b` + `c` apart from `a` + `b#c`.
        key(format!("IDEM#{}#{scope}#{k}", scope.len()), "META")
    }
    /// GSI1 partition of the runs still queued (sparse: the claim removes the entry).
    pub const QUEUED_RUNS: &str = "RUNQUEUED";
    pub fn queued_run_sk(created_at: i64, partner: &str, run: &str) -> String {
        format!("{}#{partner}#{run}", time_sk(created_at))
    }
    /// A time as a sort key that orders like the time (20 digits, zero-padded).
    pub fn time_sk(t: i64) -> String {
        format!("{:020}", t.max(0))
    }
    pub const OUTBOX_PK: &str = "OUTBOX";
    pub const DISTRIBUTORS: &str = "DISTRIBUTORS";
    pub fn event(id: &str) -> Item {
        key(OUTBOX_PK, format!("EVT#{id}"))
    }
}

/// An API key as stored, both under its hash and in its owner's slot.
#[derive(Serialize, Deserialize)]
struct KeyRecord {
    hash: String,
    owner: Owner,
    slot: u8,
    created_at: i64,
}

impl From<KeyRecord> for ApiKey {
    fn from(r: KeyRecord) -> Self {
        ApiKey { hash: r.hash, owner: r.owner, slot: r.slot, created_at: r.created_at }
    }
}

/// One write of a transaction, with its condition.
struct Op {
    kind: OpKind,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: Item,
}

enum OpKind {
    Put(Item),
    Update(Item, String),
    Delete(Item),
    Check(Item),
}

impl Op {
    fn new(kind: OpKind) -> Self {
        Self { kind, condition: None, names: HashMap::new(), values: HashMap::new() }
    }
    fn put(item: Item) -> Self {
        Self::new(OpKind::Put(item))
    }
    fn update(key: Item, expression: impl Into<String>) -> Self {
        Self::new(OpKind::Update(key, expression.into()))
    }
    fn delete(key: Item) -> Self {
        Self::new(OpKind::Delete(key))
    }
    fn check(key: Item, condition: impl Into<String>) -> Self {
        Self::new(OpKind::Check(key)).when(condition)
    }
    fn when(mut self, condition: impl Into<String>) -> Self {
        self.condition = Some(condition.into());
        self
    }
    /// Only if the item does not exist yet.
    fn fresh(self) -> Self {
        self.when("attribute_not_exists(PK)")
    }
    fn name(mut self, placeholder: &str, name: &str) -> Self {
        self.names.insert(placeholder.to_string(), name.to_string());
        self
    }
    fn val(mut self, placeholder: &str, value: AV) -> Self {
        self.values.insert(placeholder.to_string(), value);
        self
    }

    /// Every `#attr` placeholder that is not mapped yet stands for the attribute `attr`.
    fn complete_names(&mut self) {
        let mut exprs: Vec<&str> = self.condition.iter().map(String::as_str).collect();
        if let OpKind::Update(_, e) = &self.kind {
            exprs.push(e);
        }
        let found: Vec<String> = exprs.iter().flat_map(|e| placeholders(e)).collect();
        for name in found {
            self.names.entry(format!("#{name}")).or_insert(name);
        }
    }

    fn into_transact(mut self, table: &str) -> StoreResult<TransactWriteItem> {
        self.complete_names();
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        let b = TransactWriteItem::builder();
        let item = match self.kind {
            OpKind::Put(item) => b.put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(backend)?,
            ),
            OpKind::Update(key, expression) => b.update(
                Update::builder()
                    .table_name(table)
                    .set_key(Some(key))
                    .update_expression(expression)
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(backend)?,
            ),
            OpKind::Delete(key) => b.delete(
                Delete::builder()
                    .table_name(table)
                    .set_key(Some(key))
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(backend)?,
            ),
            OpKind::Check(key) => b.condition_check(
                ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key))
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(backend)?,
            ),
        };
        Ok(item.build())
    }
}

/// The names after `#` in an expression.
fn placeholders(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find('#') {
        let tail = &rest[i + 1..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        if end > 0 {
            out.push(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    out
}

/// A transaction that did not happen because of a condition: which of its writes failed.
struct Cancelled(Vec<bool>);

impl Cancelled {
    fn failed(&self, index: usize) -> bool {
        self.0.get(index).copied().unwrap_or(false)
    }
}

/// `SET` of every attribute of `item` except `skip` (an update that leaves other attributes,
/// like counters kept beside an entity, as they are).
fn set_all(item: Item, skip: &[&str]) -> (String, HashMap<String, String>, Item) {
    let mut parts = Vec::new();
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut attrs: Vec<(String, AV)> = item.into_iter().filter(|(name, _)| !skip.contains(&name.as_str())).collect();
    attrs.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (name, value)) in attrs.into_iter().enumerate() {
        parts.push(format!("#a{i} = :a{i}"));
        names.insert(format!("#a{i}"), name);
        values.insert(format!(":a{i}"), value);
    }
    (format!("SET {}", parts.join(", ")), names, values)
}

fn with_set_all(mut op: Op, names: HashMap<String, String>, values: Item) -> Op {
    op.names.extend(names);
    op.values.extend(values);
    op
}

fn event_put(e: &Event) -> StoreResult<Op> {
    let json = serde_json::to_string(e).map_err(|e| StoreError::Backend(format!("cannot encode an event: {e}")))?;
    let mut item = k::event(&e.id);
    item.insert("event".into(), s(json));
    item.insert("type".into(), s(e.kind.as_str()));
    item.insert("timestamp".into(), n(e.timestamp));
    Ok(Op::put(item).fresh())
}

/// A query over one partition of the base table, strongly consistent.
struct Query {
    pk: String,
    /// The sort key lies in `[lo, hi]`.
    lo: String,
    hi: String,
    forward: bool,
    filter: Option<String>,
    names: HashMap<String, String>,
    values: Item,
}

impl Query {
    fn prefix(pk: String, prefix: &str, forward: bool) -> Self {
        // Sort keys are ASCII; U+10FFFF sorts after anything that begins with `prefix`.
        Self::between(pk, prefix.to_string(), format!("{prefix}\u{10FFFF}"), forward)
    }
    fn between(pk: String, lo: String, hi: String, forward: bool) -> Self {
        Self { pk, lo, hi, forward, filter: None, names: HashMap::new(), values: HashMap::new() }
    }
    fn filter(mut self, f: Option<String>) -> Self {
        self.filter = f;
        self
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

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
            .key_schema(ks("GSI1PK", KeyType::Hash).map_err(backend)?)
            .key_schema(ks("GSI1SK", KeyType::Range).map_err(backend)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(backend)?;
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("PK").map_err(backend)?)
            .attribute_definitions(attr("SK").map_err(backend)?)
            .attribute_definitions(attr("GSI1PK").map_err(backend)?)
            .attribute_definitions(attr("GSI1SK").map_err(backend)?)
            .key_schema(ks("PK", KeyType::Hash).map_err(backend)?)
            .key_schema(ks("SK", KeyType::Range).map_err(backend)?)
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

    /// One write outside a transaction: `Ok(None)` when its condition failed, else the
    /// attributes `ret` asks for.
    async fn write(&self, op: Op, ret: ReturnValue) -> StoreResult<Option<Item>> {
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
            return Err(backend(err));
        }
    }

    /// One page of a partition: up to `limit` items after `after` (an exclusive sort key),
    /// and whether more follow. Filters are applied by DynamoDB; the loop goes on until the
    /// page is full (or the partition ends), so a page is never short while more match.
    async fn page(&self, q: &Query, limit: usize, after: Option<String>) -> StoreResult<(Vec<Item>, bool)> {
        let want = limit.max(1) + 1;
        let mut out = Vec::new();
        let mut start = after.map(|sk| key(q.pk.clone(), sk));
        loop {
            let mut names = q.names.clone();
            let mut values = q.values.clone();
            for name in q.filter.iter().flat_map(|f| placeholders(f)) {
                names.entry(format!("#{name}")).or_insert(name);
            }
            names.insert("#pk".into(), "PK".into());
            names.insert("#sk".into(), "SK".into());
            values.insert(":pk".into(), s(&q.pk));
            values.insert(":lo".into(), s(&q.lo));
            values.insert(":hi".into(), s(&q.hi));
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
                .limit(((want - out.len()) as i32).max(1))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            out.extend(resp.items.unwrap_or_default());
            if out.len() >= want {
                out.truncate(want);
                let more = out.len() > limit.max(1);
                out.truncate(limit.max(1));
                return Ok((out, more));
            }
            match resp.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok((out, false)),
            }
        }
    }

    /// Up to `limit` items of a sparse GSI1 partition keyed by time (`k::time_sk` first in the
    /// sort key) that are due before `before`, oldest first. GSI reads are eventually
    /// consistent: callers re-check what they read.
    async fn due_in<T: DeserializeOwned>(&self, partition: &str, before: i64, limit: usize) -> StoreResult<Vec<T>> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#g = :pk AND #gs < :before")
            .expression_attribute_names("#g", "GSI1PK")
            .expression_attribute_names("#gs", "GSI1SK")
            .expression_attribute_values(":pk", s(partition))
            .expression_attribute_values(":before", s(k::time_sk(before)))
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(backend)?;
        resp.items.unwrap_or_default().into_iter().map(de).collect()
    }

    /// Every item of a query, page after page.
    async fn all(&self, q: &Query) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let (items, more) = self.page(q, 1000, after.take()).await?;
            let last = items.last().and_then(|i| text(i, "SK")).map(str::to_string);
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

    /// Full partners for ids, in the order of `ids`.
    async fn partners_by_id(&self, ids: &[String]) -> StoreResult<Vec<Partner>> {
        let items = self.batch_get(ids.iter().map(|id| k::partner(id)).collect()).await?;
        let mut by_id: HashMap<String, Partner> = HashMap::new();
        for item in items {
            let p: Partner = de(item)?;
            by_id.insert(p.id.clone(), p);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    async fn runs_by_id(&self, partner_id: &str, ids: &[String]) -> StoreResult<Vec<Run>> {
        let items = self.batch_get(ids.iter().map(|id| k::run(partner_id, id)).collect()).await?;
        let mut by_id: HashMap<String, Run> = HashMap::new();
        for item in items {
            let r: Run = de(item)?;
            by_id.insert(r.id.clone(), r);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    async fn slots(&self, owner: &Owner) -> StoreResult<Vec<KeyRecord>> {
        let items = self.all(&Query::prefix(k::owner_pk(owner), "KEYSLOT#", true)).await?;
        items.into_iter().map(de).collect()
    }

    /// Moves a partner to `to` (activate or suspend), with its event and (suspending) the
    /// deletion of its keys, conditional on the partner being as read.
    async fn change_status(
        &self,
        partner_id: &str,
        to: AccountStatus,
        at: i64,
        event: &Event,
    ) -> StoreResult<StatusChange> {
        for _ in 0..OCC_ATTEMPTS {
            let Some(item) = self.get(k::partner(partner_id)).await? else {
                return Err(StoreError::NotFound);
            };
            let ver = num(&item, "ver");
            let mut partner: Partner = de(item)?;
            if partner.status == to {
                return Ok(StatusChange { partner, changed: false });
            }
            partner.status = to;
            partner.updated_at = Some(at);
            let stamp = if to == AccountStatus::Active {
                partner.activated_at = Some(at);
                "activated_at"
            } else {
                partner.suspended_at = Some(at);
                "suspended_at"
            };
            let update =
                Op::update(k::partner(partner_id), "SET #st = :st, #stamp = :at, #updated_at = :at ADD #ver :one")
                    .name("#st", "status")
                    .name("#stamp", stamp)
                    .val(":st", s(to.as_str()))
                    .val(":at", n(at))
                    .val(":one", n(1));
            let update = match ver {
                Some(v) => update.when("#ver = :ver").val(":ver", n(v)),
                None => update.when("attribute_exists(PK) AND attribute_not_exists(#ver)"),
            };
            let mut ops = vec![update];
            if let Some(d) = &partner.distributor_id {
                ops.push(
                    Op::update(k::member(d, partner_id), "SET #st = :st")
                        .name("#st", "status")
                        .val(":st", s(to.as_str())),
                );
            }
            ops.push(event_put(event)?);
            if to == AccountStatus::Suspended {
                // Key issues bump `ver`, so a key issued after this read fails the condition.
                for slot in self.slots(&Owner::partner(partner_id)).await? {
                    ops.push(Op::delete(k::slot(&slot.owner, slot.slot)));
                    ops.push(Op::delete(k::api_key(&slot.hash)));
                }
            }
            match self.transact(ops).await? {
                Ok(()) => return Ok(StatusChange { partner, changed: true }),
                Err(_) => continue,
            }
        }
        Err(StoreError::Backend("the partner kept changing; gave up".into()))
    }
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

#[async_trait]
impl AccountStore for DynamoStore {
    async fn create_distributor(&self, d: &Distributor) -> StoreResult<()> {
        let mut item = ser(d)?;
        item.extend(k::distributor(&d.id));
        // Every distributor in one GSI1 partition: the usage report walks them (no scan).
        item.insert("GSI1PK".into(), s(k::DISTRIBUTORS));
        item.insert("GSI1SK".into(), s(format!("DIST#{}", d.id)));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(backend)?;
        Ok(())
    }

    async fn distributor(&self, id: &str) -> StoreResult<Option<Distributor>> {
        self.get_as(k::distributor(id)).await
    }

    // From GSI1 (eventually consistent): for the scheduled report.
    async fn distributor_ids(&self) -> StoreResult<Vec<String>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("#g = :pk")
                .expression_attribute_names("#g", "GSI1PK")
                .expression_attribute_values(":pk", s(k::DISTRIBUTORS))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            for item in resp.items.unwrap_or_default() {
                if let Some(id) = text(&item, "GSI1SK").and_then(|sk| sk.strip_prefix("DIST#")) {
                    out.push(id.to_string());
                }
            }
            match resp.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }

    async fn create_partner(&self, p: &Partner) -> StoreResult<()> {
        let mut item = ser(p)?;
        item.extend(k::partner(&p.id));
        item.insert("ver".into(), n(1));
        let mut ops = vec![Op::put(item).fresh()];
        if let Some(d) = &p.distributor_id {
            let mut guard = k::email_guard(d, &p.email);
            guard.insert("partner_id".into(), s(&p.id));
            ops.push(Op::put(guard).fresh());
            let mut member = k::member(d, &p.id);
            member.insert("status".into(), s(p.status.as_str()));
            ops.push(Op::put(member).fresh());
        }
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed(1) => Err(StoreError::PartnerExists),
            Err(_) => Err(StoreError::Backend(format!("partner {} exists", p.id))),
        }
    }

    async fn partner(&self, id: &str) -> StoreResult<Option<Partner>> {
        self.get_as(k::partner(id)).await
    }

    async fn list_partners(
        &self,
        distributor_id: &str,
        status: Option<AccountStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Partner>> {
        let mut q = Query::prefix(format!("DIST#{distributor_id}"), "PARTNER#", true);
        if let Some(st) = status {
            q = q.filter(Some("#st = :st".into()));
            q.names.insert("#st".into(), "status".into());
            q.values.insert(":st".into(), s(st.as_str()));
        }
        let after = page.after.as_ref().map(|id| format!("PARTNER#{id}"));
        let (items, more) = self.page(&q, page.limit, after).await?;
        let ids: Vec<String> = items
            .iter()
            .filter_map(|i| text(i, "SK"))
            .filter_map(|sk| sk.strip_prefix("PARTNER#"))
            .map(String::from)
            .collect();
        let next = if more { ids.last().cloned() } else { None };
        let mut partners = self.partners_by_id(&ids).await?;
        // The entry and the partner change together; a partner that moved since is left out.
        if let Some(st) = status {
            partners.retain(|p| p.status == st);
        }
        Ok(Page { items: partners, next })
    }

    async fn all_partners(&self, distributor_id: &str) -> StoreResult<Vec<Partner>> {
        let items = self.all(&Query::prefix(format!("DIST#{distributor_id}"), "PARTNER#", true)).await?;
        let ids: Vec<String> = items
            .iter()
            .filter_map(|i| text(i, "SK"))
            .filter_map(|sk| sk.strip_prefix("PARTNER#"))
            .map(String::from)
            .collect();
        self.partners_by_id(&ids).await
    }

    async fn update_partner_terms(
        &self,
        partner_id: &str,
        plan: Option<&str>,
        billing: Option<&BillingConfig>,
        subscription: Option<&Subscription>,
        at: i64,
    ) -> StoreResult<Partner> {
        let mut sets = vec!["#updated_at = :at"];
        let mut values: Vec<(&str, AV)> = vec![(":at", n(at)), (":one", n(1))];
        if let Some(plan) = plan {
            sets.push("#plan = :plan");
            values.push((":plan", s(plan)));
        }
        if let Some(b) = billing {
            sets.push("#billing = :billing");
            values.push((":billing", av(b)?));
        }
        if let Some(sub) = subscription {
            sets.push("#subscription = :sub");
            values.push((":sub", av(sub)?));
        }
        let mut op = Op::update(k::partner(partner_id), format!("SET {} ADD #ver :one", sets.join(", ")))
            .when("attribute_exists(PK)");
        for (placeholder, value) in values {
            op = op.val(placeholder, value);
        }
        match self.write(op, ReturnValue::AllNew).await? {
            Some(item) => de(item),
            None => Err(StoreError::NotFound),
        }
    }

    async fn activate_partner(&self, partner_id: &str, at: i64, event: &Event) -> StoreResult<StatusChange> {
        self.change_status(partner_id, AccountStatus::Active, at, event).await
    }

    async fn suspend_partner(&self, partner_id: &str, at: i64, event: &Event) -> StoreResult<StatusChange> {
        self.change_status(partner_id, AccountStatus::Suspended, at, event).await
    }
}

#[async_trait]
impl KeyStore for DynamoStore {
    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>> {
        Ok(self.get_as::<KeyRecord>(k::api_key(hash)).await?.map(ApiKey::from))
    }

    async fn issue_key(&self, owner: &Owner, slot: u8, hash: &str, at: i64, event: Option<&Event>) -> StoreResult<()> {
        let record = ser(&KeyRecord { hash: hash.to_string(), owner: owner.clone(), slot, created_at: at })?;
        let mut ops = Vec::new();
        let partner = owner.surface == Surface::Partner;
        if partner {
            // Bumping the partner's version makes a suspension that read the keys before this
            // write fail its condition and read again: suspension and issue never interleave.
            ops.push(
                Op::update(k::partner(&owner.id), "ADD #ver :one")
                    .when("attribute_exists(PK) AND #st <> :suspended")
                    .name("#st", "status")
                    .val(":one", n(1))
                    .val(":suspended", s(AccountStatus::Suspended.as_str())),
            );
        }
        let first = ops.len();
        let mut slot_item = record.clone();
        slot_item.extend(k::slot(owner, slot));
        ops.push(Op::put(slot_item).fresh());
        let mut key_item = record;
        key_item.extend(k::api_key(hash));
        ops.push(Op::put(key_item).fresh());
        if let Some(e) = event {
            ops.push(event_put(e)?);
        }
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(c) if partner && c.failed(0) => match self.partner(&owner.id).await? {
                Some(p) if p.status == AccountStatus::Suspended => Err(StoreError::OwnerSuspended),
                Some(_) => Err(StoreError::Conflict),
                None => Err(StoreError::NotFound),
            },
            Err(c) if c.failed(first) || c.failed(first + 1) => Err(StoreError::Conflict),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn revoke_key(&self, owner: &Owner, slot: u8, event: &Event) -> StoreResult<()> {
        for _ in 0..OCC_ATTEMPTS {
            let slots = self.slots(owner).await?;
            let Some(this) = slots.iter().find(|k| k.slot == slot) else {
                return Err(StoreError::NotFound);
            };
            let Some(other) = slots.iter().find(|k| k.slot != slot) else {
                return Err(StoreError::LastKey);
            };
            let ops = vec![
                Op::delete(k::slot(owner, slot)).when("#h = :h").name("#h", "hash").val(":h", s(&this.hash)),
                Op::delete(k::api_key(&this.hash)),
                // The other key must still be there when this one goes.
                Op::check(k::slot(owner, other.slot), "#h = :h").name("#h", "hash").val(":h", s(&other.hash)),
                event_put(event)?,
            ];
            match self.transact(ops).await? {
                Ok(()) => return Ok(()),
                Err(_) => continue,
            }
        }
        Err(StoreError::Backend("the keys kept changing; gave up".into()))
    }

    async fn keys_of(&self, owner: &Owner) -> StoreResult<Vec<ApiKey>> {
        Ok(self.slots(owner).await?.into_iter().map(ApiKey::from).collect())
    }
}

#[async_trait]
impl CustomerStore for DynamoStore {
    async fn create_customer(&self, c: &Customer, event: &Event) -> StoreResult<()> {
        let mut item = ser(c)?;
        item.extend(k::customer(&c.partner_id, &c.id));
        let mut guard = k::tenant(&c.partner_id, &c.tenant_id);
        guard.insert("customer_id".into(), s(&c.id));
        let ops = vec![
            Op::update(k::partner(&c.partner_id), "ADD #customers_count :one, #ver :one")
                .when("attribute_exists(PK)")
                .val(":one", n(1)),
            Op::put(item).fresh(),
            Op::put(guard).fresh(),
            event_put(event)?,
        ];
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed(0) => Err(StoreError::NotFound),
            Err(c) if c.failed(2) => Err(StoreError::CustomerExists),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn customer(&self, partner_id: &str, id: &str) -> StoreResult<Option<Customer>> {
        match self.get(k::customer(partner_id, id)).await? {
            Some(item) if !item.contains_key("deleting") => de(item).map(Some),
            _ => Ok(None),
        }
    }

    async fn list_customers(&self, partner_id: &str, page: &PageRequest) -> StoreResult<Page<Customer>> {
        let q = Query::prefix(k::partner_pk(partner_id), "CUST#", true)
            .filter(Some("attribute_not_exists(deleting)".into()));
        let after = page.after.as_ref().map(|id| format!("CUST#{id}"));
        let (items, more) = self.page(&q, page.limit, after).await?;
        let customers: Vec<Customer> = items.into_iter().map(de).collect::<StoreResult<_>>()?;
        let next = if more { customers.last().map(|c| c.id.clone()) } else { None };
        Ok(Page { items: customers, next })
    }

    async fn update_customer(&self, c: &Customer, expected_version: u64, event: &Event) -> StoreResult<()> {
        let Some(current) = self.customer(&c.partner_id, &c.id).await? else {
            return Err(StoreError::NotFound);
        };
        if current.version != expected_version {
            return Err(StoreError::Conflict);
        }
        // SET each field, leaving the run counter kept beside the customer untouched.
        let (expr, names, values) = set_all(ser(c)?, &["id", "partner_id"]);
        let update = with_set_all(Op::update(k::customer(&c.partner_id, &c.id), expr), names, values)
            .when("attribute_exists(PK) AND #version = :expected AND attribute_not_exists(#deleting)")
            .val(":expected", n(expected_version));
        let mut ops = vec![update];
        let moves = current.tenant_id != c.tenant_id;
        if moves {
            ops.push(
                Op::delete(k::tenant(&c.partner_id, &current.tenant_id)).when("#customer_id = :c").val(":c", s(&c.id)),
            );
            let mut guard = k::tenant(&c.partner_id, &c.tenant_id);
            guard.insert("customer_id".into(), s(&c.id));
            ops.push(Op::put(guard).fresh());
        }
        ops.push(event_put(event)?);
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(x) if x.failed(0) => match self.customer(&c.partner_id, &c.id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict),
            },
            Err(x) if moves && x.failed(2) => Err(StoreError::CustomerExists),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn delete_customer(&self, partner_id: &str, id: &str, event: &Event) -> StoreResult<()> {
        for _ in 0..OCC_ATTEMPTS {
            let Some(item) = self.get(k::customer(partner_id, id)).await? else {
                return Err(StoreError::NotFound);
            };
            let runs_counter = num(&item, "runs");
            let customer: Customer = de(item)?;
            // Queuing a run bumps `runs`; the delete is conditional on it, so a run queued after
            // this read makes the delete start again and see that run.
            let same_runs = match runs_counter {
                Some(r) => ("#runs = :runs", Some(n(r))),
                None => ("attribute_not_exists(#runs)", None),
            };
            let pointers = self.all(&Query::prefix(k::partner_pk(partner_id), &format!("CRUN#{id}#"), true)).await?;
            let run_ids: Vec<String> = pointers
                .iter()
                .filter_map(|p| text(p, "SK"))
                .filter_map(|sk| sk.rsplit('#').next())
                .map(String::from)
                .collect();
            if 4 + 3 * run_ids.len() > MAX_TX_ITEMS {
                // Too many runs for one transaction: mark the customer as being deleted (it is
                // gone for readers, and no run can be queued for it), delete its runs in
                // batches, then finish with the transaction below.
                let mut mark = Op::update(k::customer(partner_id, id), "SET #deleting = :t")
                    .when(format!("attribute_exists(PK) AND {}", same_runs.0))
                    .val(":t", AV::Bool(true));
                if let Some(v) = same_runs.1.clone() {
                    mark = mark.val(":runs", v);
                }
                if self.transact(vec![mark]).await?.is_err() {
                    continue;
                }
                let mut keys = Vec::new();
                for r in &run_ids {
                    keys.push(k::run(partner_id, r));
                    keys.push(k::report(partner_id, r));
                    keys.push(k::customer_run(partner_id, id, r));
                }
                self.batch_delete(keys).await?;
                continue;
            }
            let mut del =
                Op::delete(k::customer(partner_id, id)).when(format!("attribute_exists(PK) AND {}", same_runs.0));
            if let Some(v) = same_runs.1 {
                del = del.val(":runs", v);
            }
            let mut ops = vec![
                del,
                Op::delete(k::tenant(partner_id, &customer.tenant_id)),
                Op::update(k::partner(partner_id), "ADD #customers_count :minus, #ver :one")
                    .when("attribute_exists(PK) AND #customers_count > :zero")
                    .val(":minus", n(-1))
                    .val(":one", n(1))
                    .val(":zero", n(0)),
                event_put(event)?,
            ];
            for r in &run_ids {
                ops.push(Op::delete(k::run(partner_id, r)));
                ops.push(Op::delete(k::report(partner_id, r)));
                ops.push(Op::delete(k::customer_run(partner_id, id, r)));
            }
            match self.transact(ops).await? {
                Ok(()) => return Ok(()),
                Err(c) if c.failed(2) && !c.failed(0) => {
                    // The partner's count is already zero (or the partner is gone): delete
                    // without touching it rather than fail.
                    let mut del = Op::delete(k::customer(partner_id, id))
                        .when(format!("attribute_exists(PK) AND {}", same_runs.0));
                    if let Some(v) = runs_counter.map(n) {
                        del = del.val(":runs", v);
                    }
                    let mut ops = vec![del, Op::delete(k::tenant(partner_id, &customer.tenant_id)), event_put(event)?];
                    for r in &run_ids {
                        ops.push(Op::delete(k::run(partner_id, r)));
                        ops.push(Op::delete(k::report(partner_id, r)));
                        ops.push(Op::delete(k::customer_run(partner_id, id, r)));
                    }
                    if self.transact(ops).await?.is_ok() {
                        return Ok(());
                    }
                }
                Err(_) => continue,
            }
        }
        Err(StoreError::Backend("the customer kept changing; gave up".into()))
    }
}

#[async_trait]
impl RunStore for DynamoStore {
    async fn queue_run(&self, run: &Run, month: Month, limit: Option<u32>) -> StoreResult<()> {
        if limit == Some(0) {
            // Nothing can be counted; still answer NotFound first for a missing customer.
            return match self.customer(&run.partner_id, &run.customer_id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::RunLimitReached),
            };
        }
        // The distributor a partner belongs to never changes: an eventually consistent read is enough.
        let distributor = match self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(k::partner(&run.partner_id)))
            .projection_expression("#d")
            .expression_attribute_names("#d", "distributor_id")
            .send()
            .await
            .map_err(backend)?
            .item
        {
            None => return Err(StoreError::NotFound),
            Some(item) => text(&item, "distributor_id").map(String::from),
        };
        let mut usage = Op::update(
            k::usage(&run.partner_id, month),
            if distributor.is_some() {
                "ADD #used :one SET #partner_id = :p, #month = :m, #GSI1PK = :g1pk, #GSI1SK = :g1sk"
            } else {
                "ADD #used :one SET #partner_id = :p, #month = :m"
            },
        )
        .val(":one", n(1))
        .val(":p", s(&run.partner_id))
        .val(":m", s(month.to_string()));
        if let Some(d) = &distributor {
            usage = usage.val(":g1pk", s(k::usage_gsi1pk(d, month))).val(":g1sk", s(k::partner_pk(&run.partner_id)));
        }
        if let Some(l) = limit {
            usage = usage.when("attribute_not_exists(#used) OR #used < :limit").val(":limit", n(l));
        }
        let mut run_item = ser(run)?;
        run_item.extend(k::run(&run.partner_id, &run.id));
        // While queued, the run sits in a sparse index the stale-run sweep reads.
        run_item.insert("GSI1PK".into(), s(k::QUEUED_RUNS));
        run_item.insert("GSI1SK".into(), s(k::queued_run_sk(run.created_at, &run.partner_id, &run.id)));
        let mut pointer = k::customer_run(&run.partner_id, &run.customer_id, &run.id);
        pointer.insert("product".into(), s(&run.product));
        pointer.insert("created_at".into(), n(run.created_at));
        let ops = vec![
            Op::update(k::customer(&run.partner_id, &run.customer_id), "ADD #runs :one")
                .when("attribute_exists(PK) AND attribute_not_exists(#deleting)")
                .val(":one", n(1)),
            usage,
            Op::put(run_item).fresh(),
            Op::put(pointer).fresh(),
        ];
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed(0) => Err(StoreError::NotFound),
            Err(c) if c.failed(1) => Err(StoreError::RunLimitReached),
            Err(_) => Err(StoreError::Backend(format!("run {} exists", run.id))),
        }
    }

    async fn run(&self, partner_id: &str, id: &str) -> StoreResult<Option<Run>> {
        self.get_as(k::run(partner_id, id)).await
    }

    async fn list_runs(&self, partner_id: &str, filter: &RunFilter, page: &PageRequest) -> StoreResult<Page<Run>> {
        let pk = k::partner_pk(partner_id);
        let base = match &filter.customer_id {
            Some(c) => format!("CRUN#{c}#"),
            None => "RUN#".to_string(),
        };
        // Ids are time-ordered and never made before their run's creation time, so a month's
        // runs all sort at or after the month's first possible id.
        let lo = match filter.month {
            Some(m) => format!("{base}{}{}", prefix::RUN, time_floor((m.start() * 1000) as u64)),
            None => base.clone(),
        };
        let mut q = Query::between(pk, lo, format!("{base}\u{10FFFF}"), false);
        let mut conditions = Vec::new();
        if let Some(m) = filter.month {
            conditions.push("#created_at BETWEEN :from AND :to");
            q.values.insert(":from".into(), n(m.start()));
            q.values.insert(":to".into(), n(m.end() - 1));
        }
        if let Some(p) = &filter.product {
            conditions.push("#product = :product");
            q.values.insert(":product".into(), s(p));
        }
        let q = if conditions.is_empty() { q } else { q.filter(Some(conditions.join(" AND "))) };
        let after = page.after.as_ref().map(|id| format!("{base}{id}"));
        let (items, more) = self.page(&q, page.limit, after).await?;
        let ids: Vec<String> = items
            .iter()
            .filter_map(|i| text(i, "SK"))
            .filter_map(|sk| sk.strip_prefix(base.as_str()))
            .map(String::from)
            .collect();
        let next = if more { ids.last().cloned() } else { None };
        let runs = if filter.customer_id.is_some() {
            // The entries under the customer point at the runs; read the runs themselves.
            self.runs_by_id(partner_id, &ids).await?
        } else {
            items.into_iter().map(de).collect::<StoreResult<_>>()?
        };
        Ok(Page { items: runs, next })
    }

    async fn runs_used(&self, partner_id: &str, month: Month) -> StoreResult<u32> {
        Ok(self.get(k::usage(partner_id, month)).await?.and_then(|i| num(&i, "used")).unwrap_or(0) as u32)
    }

    async fn claim_run(
        &self,
        partner_id: &str,
        run_id: &str,
        attempt: u32,
        now: i64,
        lease_until: i64,
        started: &Event,
    ) -> StoreResult<RunClaim> {
        for _ in 0..OCC_ATTEMPTS {
            let Some(item) = self.get(k::run(partner_id, run_id)).await? else {
                return Ok(RunClaim::Gone);
            };
            let lease = num(&item, "lease_until");
            let mut run: Run = de(item)?;
            match run.status {
                RunStatus::Completed | RunStatus::Failed => return Ok(RunClaim::Finished(run)),
                RunStatus::Running if lease.is_some_and(|until| until > now) => return Ok(RunClaim::Busy),
                RunStatus::Running => {
                    // Take over a lease that has passed (or was given up), if it is still the one read.
                    let mut op = Op::update(k::run(partner_id, run_id), "SET #lease_attempt = :a, #lease_until = :u")
                        .name("#st", "status")
                        .val(":a", n(attempt))
                        .val(":u", n(lease_until))
                        .val(":running", s(RunStatus::Running.as_str()));
                    op = match lease {
                        Some(old) => op.when("#st = :running AND #lease_until = :old").val(":old", n(old)),
                        None => op.when("#st = :running AND attribute_not_exists(#lease_until)"),
                    };
                    if self.transact(vec![op]).await?.is_ok() {
                        return Ok(RunClaim::Claimed(run));
                    }
                }
                RunStatus::Queued => {
                    let ops = vec![
                        Op::update(
                            k::run(partner_id, run_id),
                            "SET #st = :running, #started_at = :now, #lease_attempt = :a, #lease_until = :u \
                             REMOVE #GSI1PK, #GSI1SK",
                        )
                        .when("#st = :queued")
                        .name("#st", "status")
                        .val(":running", s(RunStatus::Running.as_str()))
                        .val(":queued", s(RunStatus::Queued.as_str()))
                        .val(":now", n(now))
                        .val(":a", n(attempt))
                        .val(":u", n(lease_until)),
                        event_put(started)?,
                    ];
                    if self.transact(ops).await?.is_ok() {
                        run.status = RunStatus::Running;
                        run.started_at = Some(now);
                        return Ok(RunClaim::Claimed(run));
                    }
                }
            }
        }
        Ok(RunClaim::Busy)
    }

    async fn finish_run(&self, run: &Run, attempt: u32, report: Option<&RunReport>, event: &Event) -> StoreResult<()> {
        if !RunStatus::Running.can_move_to(run.status) {
            return match self.run(&run.partner_id, &run.id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict),
            };
        }
        let (expr, names, values) = set_all(ser(run)?, &["id", "partner_id"]);
        let update = with_set_all(
            Op::update(k::run(&run.partner_id, &run.id), format!("{expr} REMOVE #lease_attempt, #lease_until")),
            names,
            values,
        )
        .when("#cur = :running AND #lease_attempt = :attempt")
        .name("#cur", "status")
        .val(":running", s(RunStatus::Running.as_str()))
        .val(":attempt", n(attempt));
        let mut ops = vec![update];
        if let Some(r) = report {
            let json =
                serde_json::to_string(r).map_err(|e| StoreError::Backend(format!("cannot encode a report: {e}")))?;
            let mut item = k::report(&run.partner_id, &run.id);
            item.insert("report".into(), s(json));
            ops.push(Op::put(item));
        }
        ops.push(event_put(event)?);
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(_) => match self.run(&run.partner_id, &run.id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict),
            },
        }
    }

    async fn release_run(&self, partner_id: &str, run_id: &str, attempt: u32) -> StoreResult<()> {
        // Someone else's lease (or none) is left alone.
        let op = Op::update(k::run(partner_id, run_id), "REMOVE #lease_attempt, #lease_until")
            .when("#lease_attempt = :a")
            .val(":a", n(attempt));
        self.write(op, ReturnValue::None).await?;
        Ok(())
    }

    async fn stale_queued_runs(&self, queued_before: i64, limit: usize) -> StoreResult<Vec<Run>> {
        // A run claimed a moment ago may still show; the runner drops its message.
        let runs: Vec<Run> = self.due_in(k::QUEUED_RUNS, queued_before, limit).await?;
        Ok(runs.into_iter().filter(|r| r.status == RunStatus::Queued).collect())
    }

    async fn run_report(&self, partner_id: &str, run_id: &str) -> StoreResult<Option<RunReport>> {
        let Some(item) = self.get(k::report(partner_id, run_id)).await? else {
            return Ok(None);
        };
        let json = text(&item, "report").ok_or_else(|| StoreError::Backend("a report without its body".into()))?;
        serde_json::from_str(json).map(Some).map_err(|e| StoreError::Backend(format!("cannot decode a report: {e}")))
    }

    async fn runs_used_by_partners(&self, distributor_id: &str, month: Month) -> StoreResult<Vec<(String, u32)>> {
        // The usage counters carry their distributor in GSI1: one query, eventually consistent
        // (an aggregate; a closed month is read from its snapshot instead).
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("#g = :pk")
                .expression_attribute_names("#g", "GSI1PK")
                .expression_attribute_values(":pk", s(k::usage_gsi1pk(distributor_id, month)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            for item in resp.items.unwrap_or_default() {
                if let (Some(p), Some(used)) = (text(&item, "partner_id"), num(&item, "used")) {
                    if used > 0 {
                        out.push((p.to_string(), used as u32));
                    }
                }
            }
            match resp.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }
}

#[async_trait]
impl UsageStore for DynamoStore {
    async fn close_usage_month(&self, snapshot: &UsageSnapshot) -> StoreResult<bool> {
        let mut item = ser(snapshot)?;
        item.extend(k::snapshot(&snapshot.distributor_id, snapshot.month()));
        Ok(self.write(Op::put(item).fresh(), ReturnValue::None).await?.is_some())
    }

    async fn usage_snapshot(&self, distributor_id: &str, month: Month) -> StoreResult<Option<UsageSnapshot>> {
        self.get_as(k::snapshot(distributor_id, month)).await
    }
}

#[async_trait]
impl LimitStore for DynamoStore {
    async fn count_hit(&self, bucket: &str, expires_at: i64) -> StoreResult<u64> {
        let op = Op::update(k::window(bucket), "ADD #hits :one SET #ttl = if_not_exists(#ttl, :exp)")
            .val(":one", n(1))
            .val(":exp", n(expires_at));
        self.write(op, ReturnValue::UpdatedNew)
            .await?
            .as_ref()
            .and_then(|a| num(a, "hits"))
            .map(|h| h as u64)
            .ok_or_else(|| StoreError::Backend("the counter was not returned".into()))
    }
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim_idempotency(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<IdempotencyClaim> {
        for _ in 0..OCC_ATTEMPTS {
            let mut item = k::idempotency(scope, key);
            item.insert("fingerprint".into(), s(fingerprint));
            item.insert("lease_until".into(), n(lease_until));
            // An unfinished claim lasts as long as its lease; a finished one, its retention.
            item.insert("expires_at".into(), n(lease_until));
            item.insert("ttl".into(), n(lease_until));
            let put = Op::put(item).when("attribute_not_exists(PK) OR #expires_at <= :now").val(":now", n(now));
            if self.write(put, ReturnValue::None).await?.is_some() {
                return Ok(IdempotencyClaim::Claimed);
            }
            let Some(rec) = self.get(k::idempotency(scope, key)).await? else {
                continue; // released in between: claim again
            };
            if num(&rec, "expires_at").unwrap_or(0) <= now {
                continue;
            }
            if text(&rec, "fingerprint") != Some(fingerprint) {
                return Ok(IdempotencyClaim::Mismatch);
            }
            if let Some(status) = num(&rec, "status") {
                let body = rec.get("body").and_then(|b| b.as_b().ok()).map(|b| b.as_ref().to_vec()).unwrap_or_default();
                return Ok(IdempotencyClaim::Replay { status: status as u16, body });
            }
            return Ok(IdempotencyClaim::InProgress);
        }
        Err(StoreError::Backend("the idempotency record kept changing; gave up".into()))
    }

    async fn finish_idempotency(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
        expires_at: i64,
    ) -> StoreResult<()> {
        // A claim that is gone (released, or expired and cleaned up) is left gone.
        let op = Op::update(
            k::idempotency(scope, key),
            "SET #status = :status, #body = :body, #expires_at = :exp, #ttl = :exp",
        )
        .when("attribute_exists(PK)")
        .val(":status", n(status))
        .val(":body", AV::B(aws_sdk_dynamodb::primitives::Blob::new(body.to_vec())))
        .val(":exp", n(expires_at));
        self.write(op, ReturnValue::None).await?;
        Ok(())
    }

    async fn release_idempotency(&self, scope: &str, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(k::idempotency(scope, key)))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl Outbox for DynamoStore {
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<Event>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (items, _) = self.page(&Query::prefix(k::OUTBOX_PK.to_string(), "EVT#", true), limit, None).await?;
        items
            .iter()
            .map(|i| {
                let json = text(i, "event").ok_or_else(|| StoreError::Backend("an event without its body".into()))?;
                serde_json::from_str(json).map_err(|e| StoreError::Backend(format!("cannot decode an event: {e}")))
            })
            .collect()
    }

    async fn ack_events(&self, ids: &[String]) -> StoreResult<()> {
        let mut keys: Vec<Item> = ids.iter().map(|id| k::event(id)).collect();
        keys.sort_by(|a, b| text(a, "SK").cmp(&text(b, "SK")));
        keys.dedup_by(|a, b| text(a, "SK") == text(b, "SK"));
        self.batch_delete(keys).await
    }
}

/// Webhook items: an endpoint lives in its owner's partition beside a counter of the owner's
/// endpoints; its deliveries live in a partition of their own, each with a guard per event so
/// an event makes one delivery per endpoint. A pending delivery carries its due time in GSI1
/// (`WHKDUE`, `<due>#<id>`), which is how the sweep finds lost retries without a scan.
mod wk {
    use super::*;

    pub fn endpoint(owner: &Owner, id: &str) -> Item {
        key(k::owner_pk(owner), format!("WHK#{id}"))
    }
    pub fn counter(owner: &Owner) -> Item {
        key(k::owner_pk(owner), "WHKCOUNT")
    }
    pub fn deliveries_pk(endpoint: &str) -> String {
        format!("WHKD#{endpoint}")
    }
    pub fn delivery(endpoint: &str, id: &str) -> Item {
        key(deliveries_pk(endpoint), format!("DLV#{id}"))
    }
    pub fn event_guard(endpoint: &str, event: &str) -> Item {
        key(deliveries_pk(endpoint), format!("DEVT#{event}"))
    }
    pub const DUE: &str = "WHKDUE";
    pub fn due_sk(at: i64, id: &str) -> String {
        format!("{}#{id}", k::time_sk(at))
    }
}

impl DynamoStore {
    fn delivery_item(d: &Delivery) -> StoreResult<Item> {
        let mut item = ser(d)?;
        item.extend(wk::delivery(&d.endpoint_id, &d.id));
        if let (DeliveryStatus::Pending, Some(at)) = (d.status, d.next_attempt_at) {
            item.insert("GSI1PK".into(), s(wk::DUE));
            item.insert("GSI1SK".into(), s(wk::due_sk(at, &d.id)));
        }
        Ok(item)
    }

    /// Why a conditional write to a delivery failed: it is gone, or it moved on.
    async fn delivery_missing_or_moved(&self, endpoint_id: &str, id: &str) -> StoreError {
        match self.get(wk::delivery(endpoint_id, id)).await {
            Ok(None) => StoreError::NotFound,
            Ok(Some(_)) => StoreError::Conflict,
            Err(e) => e,
        }
    }
}

#[async_trait]
impl WebhookStore for DynamoStore {
    async fn create_endpoint(&self, endpoint: &Endpoint, max: usize) -> StoreResult<()> {
        let mut item = ser(endpoint)?;
        item.extend(wk::endpoint(&endpoint.owner, &endpoint.id));
        let count = Op::update(wk::counter(&endpoint.owner), "SET #n = if_not_exists(#n, :zero) + :one")
            .when("attribute_not_exists(#n) OR #n < :max")
            .val(":zero", n(0))
            .val(":one", n(1))
            .val(":max", n(max));
        match self.transact(vec![count, Op::put(item).fresh()]).await? {
            Ok(()) => Ok(()),
            Err(x) if x.failed(0) => Err(StoreError::LimitReached),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn endpoint(&self, owner: &Owner, id: &str) -> StoreResult<Option<Endpoint>> {
        self.get_as(wk::endpoint(owner, id)).await
    }

    async fn list_endpoints(&self, owner: &Owner, page: &PageRequest) -> StoreResult<Page<Endpoint>> {
        let q = Query::prefix(k::owner_pk(owner), "WHK#", true);
        let after = page.after.as_ref().map(|id| format!("WHK#{id}"));
        let (items, more) = self.page(&q, page.limit, after).await?;
        let endpoints: Vec<Endpoint> = items.into_iter().map(de).collect::<StoreResult<_>>()?;
        let next = if more { endpoints.last().map(|e| e.id.clone()) } else { None };
        Ok(Page { items: endpoints, next })
    }

    async fn endpoints_of(&self, owner: &Owner) -> StoreResult<Vec<Endpoint>> {
        self.all(&Query::prefix(k::owner_pk(owner), "WHK#", true)).await?.into_iter().map(de).collect()
    }

    async fn update_endpoint(&self, endpoint: &Endpoint, expected_version: u64) -> StoreResult<()> {
        let mut item = ser(endpoint)?;
        item.extend(wk::endpoint(&endpoint.owner, &endpoint.id));
        let put = Op::put(item).when("attribute_exists(PK) AND #version = :v").val(":v", n(expected_version));
        match self.write(put, ReturnValue::None).await? {
            Some(_) => Ok(()),
            None => match self.get(wk::endpoint(&endpoint.owner, &endpoint.id)).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict),
            },
        }
    }

    async fn delete_endpoint(&self, owner: &Owner, id: &str) -> StoreResult<()> {
        let gone = Op::delete(wk::endpoint(owner, id)).when("attribute_exists(PK)");
        let count = Op::update(wk::counter(owner), "SET #n = #n - :one")
            .when("#n > :zero")
            .val(":one", n(1))
            .val(":zero", n(0));
        match self.transact(vec![gone, count]).await? {
            Ok(()) => {}
            Err(x) if x.failed(0) => return Err(StoreError::NotFound),
            Err(_) => return Err(StoreError::Conflict),
        }
        // Its deliveries go with it; a dispatcher that still holds a message finds none.
        let mut items = self.all(&Query::prefix(wk::deliveries_pk(id), "DLV#", true)).await?;
        items.extend(self.all(&Query::prefix(wk::deliveries_pk(id), "DEVT#", true)).await?);
        let keys: Vec<Item> =
            items.iter().filter_map(|i| Some(key(text(i, "PK")?.to_string(), text(i, "SK")?.to_string()))).collect();
        self.batch_delete(keys).await
    }

    async fn create_delivery(&self, delivery: &Delivery) -> StoreResult<()> {
        let mut guard = wk::event_guard(&delivery.endpoint_id, &delivery.event_id);
        guard.insert("delivery_id".into(), s(&delivery.id));
        let ops = vec![Op::put(guard).fresh(), Op::put(Self::delivery_item(delivery)?).fresh()];
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn delivery(&self, endpoint_id: &str, id: &str) -> StoreResult<Option<Delivery>> {
        self.get_as(wk::delivery(endpoint_id, id)).await
    }

    async fn delivery_for_event(&self, endpoint_id: &str, event_id: &str) -> StoreResult<Option<Delivery>> {
        let Some(guard) = self.get(wk::event_guard(endpoint_id, event_id)).await? else { return Ok(None) };
        match text(&guard, "delivery_id") {
            Some(id) => self.delivery(endpoint_id, id).await,
            None => Ok(None),
        }
    }

    async fn record_attempt(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        attempt: &Attempt,
        status: DeliveryStatus,
        next_attempt_at: Option<i64>,
    ) -> StoreResult<Delivery> {
        let due = match (status, next_attempt_at) {
            (DeliveryStatus::Pending, Some(at)) => Some(at),
            _ => None,
        };
        let mut expr =
            "SET #attempts = list_append(#attempts, :a), #status = :st, #next_attempt_at = :next".to_string();
        expr.push_str(if due.is_some() { ", #GSI1PK = :g, #GSI1SK = :gs" } else { " REMOVE #GSI1PK, #GSI1SK" });
        let mut op = Op::update(wk::delivery(endpoint_id, delivery_id), expr)
            .when("attribute_exists(PK) AND #status = :pending AND size(#attempts) = :count")
            .val(":a", AV::L(vec![av(attempt)?]))
            .val(":st", av(&status)?)
            .val(":next", av(&next_attempt_at)?)
            .val(":pending", s(DeliveryStatus::Pending.as_str()))
            .val(":count", n(attempt.number.saturating_sub(1)));
        if let Some(at) = due {
            op = op.val(":g", s(wk::DUE)).val(":gs", s(wk::due_sk(at, delivery_id)));
        }
        match self.write(op, ReturnValue::AllNew).await? {
            Some(item) => de(item),
            None => Err(self.delivery_missing_or_moved(endpoint_id, delivery_id).await),
        }
    }

    async fn reopen_delivery(&self, endpoint_id: &str, delivery_id: &str, at: i64) -> StoreResult<Delivery> {
        let op = Op::update(
            wk::delivery(endpoint_id, delivery_id),
            "SET #status = :pending, #next_attempt_at = :at, #GSI1PK = :g, #GSI1SK = :gs",
        )
        .when("attribute_exists(PK)")
        .val(":pending", s(DeliveryStatus::Pending.as_str()))
        .val(":at", n(at))
        .val(":g", s(wk::DUE))
        .val(":gs", s(wk::due_sk(at, delivery_id)));
        match self.write(op, ReturnValue::AllNew).await? {
            Some(item) => de(item),
            None => Err(StoreError::NotFound),
        }
    }

    async fn due_deliveries(&self, before: i64, limit: usize) -> StoreResult<Vec<Delivery>> {
        // A delivery attempted a moment ago may still show; the dispatcher drops what moved on.
        let due: Vec<Delivery> = self.due_in(wk::DUE, before, limit).await?;
        Ok(due.into_iter().filter(|d| d.status == DeliveryStatus::Pending).collect())
    }

    async fn list_deliveries(&self, endpoint_id: &str, page: &PageRequest) -> StoreResult<Page<Delivery>> {
        let q = Query::prefix(wk::deliveries_pk(endpoint_id), "DLV#", false);
        let after = page.after.as_ref().map(|id| format!("DLV#{id}"));
        let (items, more) = self.page(&q, page.limit, after).await?;
        let deliveries: Vec<Delivery> = items.into_iter().map(de).collect::<StoreResult<_>>()?;
        let next = if more { deliveries.last().map(|d| d.id.clone()) } else { None };
        Ok(Page { items: deliveries, next })
    }
}
