//! Builders for what the adapter sends: one write with its condition (alone or in a
//! transaction) and a query over one partition.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue as AV, ConditionCheck, Delete, Put, TransactWriteItem, Update};

use super::{backend, Item, StoreResult};

/// One write of a transaction, with its condition.
pub(super) struct Op {
    pub(super) kind: OpKind,
    pub(super) condition: Option<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: Item,
    /// Writes that go with this one, in the same transaction (after every op of it, so a
    /// cancellation's indexes still name the ops as the caller listed them): the audit entry
    /// items of an event's change (`outbox::event_put`).
    pub(super) riders: Vec<Op>,
}

pub(super) enum OpKind {
    Put(Item),
    Update(Item, String),
    Delete(Item),
    Check(Item),
}

impl Op {
    pub(super) fn new(kind: OpKind) -> Self {
        Self { kind, condition: None, names: HashMap::new(), values: HashMap::new(), riders: Vec::new() }
    }
    /// This write with `riders` written in the same transaction.
    pub(super) fn with_riders(mut self, riders: Vec<Op>) -> Self {
        self.riders.extend(riders);
        self
    }
    /// The ops of a transaction as sent: the ops, then their riders.
    pub(super) fn flatten(ops: Vec<Op>) -> Vec<Op> {
        let mut riders = Vec::new();
        let mut out = Vec::with_capacity(ops.len());
        for mut op in ops {
            riders.append(&mut op.riders);
            out.push(op);
        }
        out.extend(riders);
        out
    }
    pub(super) fn put(item: Item) -> Self {
        Self::new(OpKind::Put(item))
    }
    pub(super) fn update(key: Item, expression: impl Into<String>) -> Self {
        Self::new(OpKind::Update(key, expression.into()))
    }
    pub(super) fn delete(key: Item) -> Self {
        Self::new(OpKind::Delete(key))
    }
    pub(super) fn check(key: Item, condition: impl Into<String>) -> Self {
        Self::new(OpKind::Check(key)).when(condition)
    }
    pub(super) fn when(mut self, condition: impl Into<String>) -> Self {
        self.condition = Some(condition.into());
        self
    }
    /// Only if the item does not exist yet.
    pub(super) fn fresh(self) -> Self {
        self.when("attribute_not_exists(PK)")
    }
    pub(super) fn name(mut self, placeholder: &str, name: &str) -> Self {
        self.names.insert(placeholder.to_string(), name.to_string());
        self
    }
    pub(super) fn val(mut self, placeholder: &str, value: AV) -> Self {
        self.values.insert(placeholder.to_string(), value);
        self
    }

    /// Every `#attr` placeholder that is not mapped yet stands for the attribute `attr`.
    pub(super) fn complete_names(&mut self) {
        let mut exprs: Vec<&str> = self.condition.iter().map(String::as_str).collect();
        if let OpKind::Update(_, e) = &self.kind {
            exprs.push(e);
        }
        let found: Vec<String> = exprs.iter().flat_map(|e| placeholders(e)).collect();
        for name in found {
            self.names.entry(format!("#{name}")).or_insert(name);
        }
    }

    pub(super) fn into_transact(mut self, table: &str) -> StoreResult<TransactWriteItem> {
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
pub(super) fn placeholders(expr: &str) -> Vec<String> {
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
pub(super) struct Cancelled(pub(super) Vec<bool>);

impl Cancelled {
    pub(super) fn failed(&self, index: usize) -> bool {
        self.0.get(index).copied().unwrap_or(false)
    }
}

/// `SET` of every attribute of `item` except `skip` (an update that leaves other attributes,
/// like counters kept beside an entity, as they are).
pub(super) fn set_all(item: Item, skip: &[&str]) -> (String, HashMap<String, String>, Item) {
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

pub(super) fn with_set_all(mut op: Op, names: HashMap<String, String>, values: Item) -> Op {
    op.names.extend(names);
    op.values.extend(values);
    op
}

/// A query over one partition of the base table, strongly consistent.
pub(super) struct Query {
    pub(super) pk: String,
    /// The sort key lies in `[lo, hi]`.
    pub(super) lo: String,
    pub(super) hi: String,
    pub(super) forward: bool,
    pub(super) filter: Option<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: Item,
}

impl Query {
    pub(super) fn prefix(pk: String, prefix: &str, forward: bool) -> Self {
        // Sort keys are ASCII; U+10FFFF sorts after anything that begins with `prefix`.
        Self::between(pk, prefix.to_string(), format!("{prefix}\u{10FFFF}"), forward)
    }
    pub(super) fn between(pk: String, lo: String, hi: String, forward: bool) -> Self {
        Self { pk, lo, hi, forward, filter: None, names: HashMap::new(), values: HashMap::new() }
    }
    pub(super) fn filter(mut self, f: Option<String>) -> Self {
        self.filter = f;
        self
    }
}
