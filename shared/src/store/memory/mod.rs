//! The embedded store: every operation runs under one lock, so each is atomic and the
//! invariants (limits, uniqueness, events with their change) hold exactly as the conditional
//! writes of the DynamoDB adapter make them hold.
//!
//! Layout: this file holds the state (maps standing in for the table's access patterns) and
//! paging; one file per port trait holds its `impl` for [`MemoryStore`] (`accounts.rs`,
//! `keys.rs`, `customers.rs`, `runs.rs`, `usage.rs`, `limits.rs`, `idempotency.rs`,
//! `outbox.rs`, `webhooks.rs`, `mail.rs`).

mod accounts;
mod audit;
mod batch;
mod context;
mod customers;
mod idempotency;
mod keys;
mod limits;
mod mail;
mod outbox;
mod portfolio;
mod questionnaire;
mod runs;
mod schedules;
mod usage;
mod webhooks;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::*;
use idempotency::IdemRecord;

#[derive(Default)]
struct State {
    distributors: HashMap<String, Distributor>,
    partners: HashMap<String, Partner>,
    /// partner → its branding (absent: never set)
    brandings: HashMap<String, crate::domain::branding::Branding>,
    /// (distributor, partner id)
    partners_by_distributor: BTreeSet<(String, String)>,
    /// (distributor, lower-cased email) → partner id
    partner_emails: HashMap<(String, String), String>,
    keys: HashMap<String, StoredKey>,
    /// key hash → (the rate-limit window last counted, its count): on the key, as on DynamoDB
    key_windows: HashMap<String, (i64, u64)>,
    /// owner → slot → key hash
    key_slots: HashMap<Owner, BTreeMap<u8, String>>,
    /// partner → customer id → customer
    customers: HashMap<String, BTreeMap<String, Customer>>,
    /// (partner, tenant id) → customer id
    tenants: HashMap<(String, crate::domain::tenant::TenantId), String>,
    /// partner → run id → run
    runs: HashMap<String, BTreeMap<String, Run>>,
    /// (partner, run) → the attempt holding the run and until when
    leases: HashMap<(String, String), (u32, Timestamp)>,
    /// (partner, run) → when a still-queued run's message was last sent again
    resent: HashMap<(String, String), Timestamp>,
    /// Each run's report as `report_codec` chunks, as DynamoDB keeps it (so a report too large
    /// there is refused here too).
    reports: HashMap<(String, String), Vec<Vec<u8>>>,
    /// (partner, customer, product) → the latest completed run, for the next one to compare with
    latest_runs: HashMap<(String, String, String), crate::domain::trend::LatestRun>,
    /// (partner, customer, product) → question id → the latest answer
    answers: HashMap<(String, String, String), BTreeMap<String, crate::domain::questionnaire::StoredAnswer>>,
    usage: HashMap<(String, Month), u32>,
    /// (distributor, month) → the month's snapshot
    snapshots: HashMap<(String, Month), UsageSnapshot>,
    windows: HashMap<String, (u64, Timestamp)>,
    idempotency: HashMap<(String, String), IdemRecord>,
    outbox: BTreeMap<String, Event>,
    /// event id → its failed fan-outs
    outbox_failures: HashMap<String, EventFailures>,
    /// event id → why it was moved out of the outbox, and the event
    quarantine: BTreeMap<String, (String, Event)>,
    /// owner → endpoint id → endpoint
    endpoints: HashMap<Owner, BTreeMap<String, Endpoint>>,
    /// Deleted endpoints (owner, id), whose ids stay taken: their deliveries are left behind,
    /// as on DynamoDB, where the table's TTL removes them.
    deleted_endpoints: HashSet<(Owner, String)>,
    /// endpoint → delivery id → delivery
    deliveries: HashMap<String, BTreeMap<String, Delivery>>,
    /// (endpoint, event) → delivery id
    delivery_events: HashMap<(String, String), String>,
    /// (endpoint, delivery) → until when the claim on its next attempt runs
    attempt_claims: HashMap<(String, String), Timestamp>,
    /// message id → message
    mail: BTreeMap<String, crate::domain::mail::MailMessage>,
    /// viewer → message id → (its id, its kind): the list entries
    mail_by_viewer: HashMap<Owner, BTreeMap<String, (String, crate::domain::mail::MailKind)>>,
    /// message id → (the try claimed, until when its lease runs)
    mail_claims: HashMap<String, (u32, Timestamp)>,
    /// viewer → entry id → audit entry (each entry under each of its viewers)
    audit: HashMap<Owner, BTreeMap<String, crate::domain::audit::AuditEntry>>,
    /// Customers' tenant contexts and exceptions (`context.rs`).
    contexts: context::Contexts,
    /// The portfolio's entries (`portfolio.rs`).
    portfolio: portfolio::Portfolio,
    /// Customers' schedules (`schedules.rs`).
    schedules: schedules::Schedules,
}

/// The store in memory, for the dev server and the tests; gone when the process ends.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-made change: every method checks
        // before it mutates, so the data is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The key of a customer's items in the per-customer maps (contexts, exceptions, schedules).
fn key(partner_id: &str, customer_id: &str) -> (String, String) {
    (partner_id.to_string(), customer_id.to_string())
}

impl State {
    /// `NotFound` unless the partner's customer exists: the memory twin of the DynamoDB
    /// adapter's condition check on the customer item, so nothing is written under a customer
    /// that was deleted meanwhile (it would be left behind, a schedule due for ever).
    fn customer_is_there(&self, partner_id: &str, customer_id: &str) -> StoreResult<()> {
        match self.customers.get(partner_id).is_some_and(|m| m.contains_key(customer_id)) {
            true => Ok(()),
            false => Err(StoreError::NotFound),
        }
    }

    fn record(&mut self, event: &Event) {
        // As DynamoDB: an event with nothing for the relay only carries its audit entry.
        if event.for_relay() {
            self.outbox.insert(event.id.to_string(), event.clone());
        }
        self.audit(event.audit.as_deref());
    }

    /// Keeps `entry` (when there is one) under each of its viewers: called in the change's
    /// own critical section, after its checks, so as DynamoDB writes it in the same transaction.
    fn audit(&mut self, entry: Option<&crate::domain::audit::AuditEntry>) {
        if let Some(e) = entry {
            for viewer in &e.viewers {
                self.audit.entry(viewer.clone()).or_default().insert(e.id.to_string(), e.clone());
            }
        }
    }
}

/// Pages over an ordered map from `after` (exclusive), forwards or backwards.
fn page_of<T: Clone>(
    map: Option<&BTreeMap<String, T>>,
    page: &PageRequest,
    newest_first: bool,
    keep: impl Fn(&T) -> bool,
) -> Page<T> {
    let Some(map) = map else {
        return Page { items: vec![], next: None };
    };
    let limit = page.limit.max(1);
    let after = page.after.as_ref();
    let range: Box<dyn Iterator<Item = (&String, &T)>> = match (after, newest_first) {
        (None, false) => Box::new(map.iter()),
        (None, true) => Box::new(map.iter().rev()),
        (Some(a), false) => Box::new(map.range::<String, _>((Bound::Excluded(a), Bound::Unbounded))),
        (Some(a), true) => Box::new(map.range::<String, _>((Bound::Unbounded, Bound::Excluded(a))).rev()),
    };
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for (k, v) in range.filter(|(_, v)| keep(v)) {
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(v.clone());
        last = Some(k.clone());
    }
    Page { items, next: if more { last } else { None } }
}
