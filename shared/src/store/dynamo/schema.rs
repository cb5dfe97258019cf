//! The table's key schema: every partition key, sort key and GSI1 key the adapter writes or
//! reads, in one place (`docs/storage.md` has the table of items). Changing a format here
//! changes where existing items are looked for: stored keys are data.
//!
//! Sort-key families come as a prefix constant (for the query over the family, and to strip
//! from a sort key read back) and a builder (for one item, or a page's exclusive start).

use std::collections::HashMap;

use super::{s, Item};
use crate::domain::account::{Owner, Surface};
use crate::domain::time::Month;
use crate::domain::time::Timestamp;

/// Name of the one global secondary index (keys `GSI1PK`/`GSI1SK`, all attributes projected).
pub const GSI1: &str = "GSI1";

/// Attribute names of the table's and the index's keys.
pub(super) const PK: &str = "PK";
pub(super) const SK: &str = "SK";
pub(super) const GSI1PK: &str = "GSI1PK";
pub(super) const GSI1SK: &str = "GSI1SK";

/// Sort key of an item that is alone in its partition (or the partition's main item).
pub(super) const META: &str = "META";

/// The key of one item.
pub(super) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

/// A time as a sort key that orders like the time (seconds, 20 digits, zero-padded; a negative
/// time sorts as 0).
pub(super) fn time_sk(t: Timestamp) -> String {
    format!("{:020}", t.unix().max(0))
}

// --- Shards: partitions every writer shares, spread by a hash of the item's id -----------

/// How many ways each partition that every writer of its kind would share is spread: the
/// outbox (every change writes an event) and GSI1's queued runs and due deliveries. A
/// DynamoDB partition takes about 1,000 writes a second; 16 shards lift that ceiling 16 times,
/// and a reader queries 16 partitions (plus the unsharded one, see [`partitions`]).
pub(super) const SHARDS: u32 = 16;

/// The shard of an id: FNV-1a (32 bits) of its bytes, modulo [`SHARDS`]. Written out rather
/// than `std`'s hasher, whose output may change between Rust releases: stored keys are data.
pub(super) fn shard_of(id: &str) -> u32 {
    let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    hash % SHARDS
}

/// Shard `shard` of the partition family `base`: `<base>#SHARD#<nn>`.
fn sharded(base: &str, shard: u32) -> String {
    format!("{base}#SHARD#{shard:02}")
}

/// Every partition a sharded family is read from: its shards, then `base` itself, where items
/// written before the family was sharded still are (read until none can remain: an outbox
/// event leaves within minutes, a queued run when it is claimed, a due delivery when it is
/// attempted or, at the latest, with its TTL).
pub(super) fn partitions(base: &str) -> Vec<String> {
    (0..SHARDS).map(|n| sharded(base, n)).chain(std::iter::once(base.to_string())).collect()
}

// --- Distributors: `DIST#d` partition ----------------------------------------------------

pub(super) fn distributor_pk(id: &str) -> String {
    format!("DIST#{id}")
}
pub(super) fn distributor(id: &str) -> Item {
    key(distributor_pk(id), META)
}
/// GSI1 partition listing every distributor (the usage report walks it; no scan).
pub(super) const DISTRIBUTORS: &str = "DISTRIBUTORS";
/// A distributor's GSI1 sort key in `DISTRIBUTORS`.
pub(super) fn distributors_gsi1sk(id: &str) -> String {
    distributor_pk(id)
}
/// The distributor id in a `DISTRIBUTORS` sort key.
pub(super) fn distributor_of_gsi1sk(sk: &str) -> Option<&str> {
    sk.strip_prefix("DIST#")
}
/// Prefix of the partner entries in a distributor's partition.
pub(super) const MEMBER_PREFIX: &str = "PARTNER#";
pub(super) fn member_sk(partner: &str) -> String {
    format!("{MEMBER_PREFIX}{partner}")
}
/// The partner's entry in its distributor's partition (for lists, in creation order).
pub(super) fn member(distributor: &str, partner: &str) -> Item {
    key(distributor_pk(distributor), member_sk(partner))
}
/// The ids of every partner of a distributor, one item (`ids`, a string set, added to in the
/// partner's create transaction; `complete` once it is known to hold all of them: set when the
/// distributor is made, or by `admin backfill-list-entries` for one made before this item):
/// D1, D2 and D14 read it with the account instead of querying the entries (issue 16).
pub(super) fn members(distributor: &str) -> Item {
    key(distributor_pk(distributor), "MEMBERS")
}
/// Prefix of the partner entries of one status in a distributor's partition
/// (`PSTATUS#<status>#`, then the partner id): D2's `?status=` reads its own key range. The
/// entry moves in the transaction that changes the partner's status.
pub(super) fn status_member_prefix(status: &str) -> String {
    format!("PSTATUS#{status}#")
}
pub(super) fn status_member(distributor: &str, status: &str, partner: &str) -> Item {
    key(distributor_pk(distributor), format!("{}{partner}", status_member_prefix(status)))
}
/// One partner per email and distributor (emails compared lower-cased).
pub(super) fn email_guard(distributor: &str, email: &str) -> Item {
    key(distributor_pk(distributor), format!("EMAIL#{}", email.to_lowercase()))
}
/// A closed month's usage snapshot.
pub(super) fn snapshot(distributor: &str, month: Month) -> Item {
    key(distributor_pk(distributor), format!("SNAPSHOT#{month}"))
}

// --- Partners: `PARTNER#p` partition (the partner, its customers, runs and usage) --------

pub(super) fn partner_pk(id: &str) -> String {
    format!("PARTNER#{id}")
}
pub(super) fn partner(id: &str) -> Item {
    key(partner_pk(id), META)
}
/// A partner's branding, beside its main item (read by the routes and the mails that show it).
pub(super) fn branding(partner_id: &str) -> Item {
    key(partner_pk(partner_id), "BRANDING")
}
pub(super) const CUSTOMER_PREFIX: &str = "CUST#";
pub(super) fn customer_sk(id: &str) -> String {
    format!("{CUSTOMER_PREFIX}{id}")
}
pub(super) fn customer(partner: &str, id: &str) -> Item {
    key(partner_pk(partner), customer_sk(id))
}
/// One customer per tenant and partner.
pub(super) fn tenant(partner: &str, tenant: &str) -> Item {
    key(partner_pk(partner), format!("TENANT#{tenant}"))
}
pub(super) const RUN_PREFIX: &str = "RUN#";
pub(super) fn run(partner: &str, id: &str) -> Item {
    key(partner_pk(partner), format!("{RUN_PREFIX}{id}"))
}
/// Prefix of a customer's run entries (`CRUN#c#`, then the run id).
pub(super) fn customer_runs_prefix(customer: &str) -> String {
    format!("CRUN#{customer}#")
}
/// A run's entry under its customer (strongly consistent runs-of-a-customer).
pub(super) fn customer_run(partner: &str, customer: &str, run: &str) -> Item {
    key(partner_pk(partner), format!("{}{run}", customer_runs_prefix(customer)))
}
/// Prefix of a product's run entries (`PRUN#<product>#`, then the run id): `?product=` reads
/// its own key range instead of filtering every run.
pub(super) fn product_runs_prefix(product: &str) -> String {
    format!("PRUN#{product}#")
}
pub(super) fn product_run(partner: &str, product: &str, run: &str) -> Item {
    key(partner_pk(partner), format!("{}{run}", product_runs_prefix(product)))
}
/// Prefix of a customer's run entries for one product (`CPRUN#<customer>#<product>#`).
pub(super) fn customer_product_runs_prefix(customer: &str, product: &str) -> String {
    format!("CPRUN#{customer}#{product}#")
}
pub(super) fn customer_product_run(partner: &str, customer: &str, product: &str, run: &str) -> Item {
    key(partner_pk(partner), format!("{}{run}", customer_product_runs_prefix(customer, product)))
}
/// Every item a run has (the run, its report's chunks, its entry under each list filter): what
/// deleting the run deletes. `product` is the run's, `report_chunks` the count its customer
/// entry records (1 when it records none); an entry an older version never wrote is simply absent.
pub(super) fn run_items(partner: &str, customer: &str, product: &str, run_id: &str, report_chunks: usize) -> Vec<Item> {
    let mut items = vec![
        run(partner, run_id),
        customer_run(partner, customer, run_id),
        product_run(partner, product, run_id),
        customer_product_run(partner, customer, product, run_id),
    ];
    items.extend((0..report_chunks.max(1)).map(|i| report_chunk(partner, run_id, i)));
    items
}
/// A run's report: its head item (chunk 0, which also says how many chunks there are; a report
/// stored before chunking holds the whole report as JSON text here).
pub(super) fn report(partner: &str, run: &str) -> Item {
    key(partner_pk(partner), format!("REPORT#{run}"))
}
/// Prefix of a customer's latest-run records (`LATEST#<customer>#`, then the product).
pub(super) fn customer_latest_prefix(customer: &str) -> String {
    format!("LATEST#{customer}#")
}
/// The customer's latest completed run of a product, kept for the next run to compare with.
pub(super) fn latest_run(partner: &str, customer: &str, product: &str) -> Item {
    key(partner_pk(partner), format!("{}{product}", customer_latest_prefix(customer)))
}
/// The sort-key prefix of the portfolio entries of a product (issue 19), under `PARTNER#p`
/// (then the customer id) or `DIST#d` (then `<partner>#<customer>`).
pub(super) fn portfolio_prefix(product: &str) -> String {
    format!("PORT#{product}#")
}
/// A customer's portfolio entry of a product under its partner: a copy of its latest record.
pub(super) fn partner_portfolio(partner: &str, product: &str, customer: &str) -> Item {
    key(partner_pk(partner), format!("{}{customer}", portfolio_prefix(product)))
}
/// The same entry under the partner's distributor.
pub(super) fn distributor_portfolio(distributor: &str, product: &str, partner: &str, customer: &str) -> Item {
    key(distributor_pk(distributor), format!("{}{partner}#{customer}", portfolio_prefix(product)))
}
/// The portfolio entries written with a latest record (`LATEST#c#<product>`, its `distributorId`
/// if any): what deleting the customer deletes with it.
pub(super) fn portfolio_entries_of_latest(partner: &str, customer: &str, latest: &Item) -> Vec<Item> {
    let Some(product) =
        latest.get(SK).and_then(|v| v.as_s().ok()).and_then(|sk| sk.strip_prefix(&customer_latest_prefix(customer)))
    else {
        return Vec::new();
    };
    let mut out = vec![partner_portfolio(partner, product, customer)];
    if let Some(d) = latest.get("distributorId").and_then(|v| v.as_s().ok()) {
        out.push(distributor_portfolio(d, product, partner, customer));
    }
    out
}
/// The sort-key prefix of a customer's questionnaire answers (every product).
pub(super) fn customer_answers_prefix(customer: &str) -> String {
    format!("QA#{customer}#")
}
/// The sort-key prefix of a customer's answers for one product.
pub(super) fn answers_prefix(customer: &str, product: &str) -> String {
    format!("{}{product}#", customer_answers_prefix(customer))
}
/// A customer's latest answer to one question of a product.
pub(super) fn answer(partner: &str, customer: &str, product: &str, question: &str) -> Item {
    key(partner_pk(partner), format!("{}{question}", answers_prefix(customer, product)))
}
/// Chunk `i` of a run's report: the head item for 0, `REPORT#<run>#<i>` after it.
pub(super) fn report_chunk(partner: &str, run: &str, i: usize) -> Item {
    match i {
        0 => report(partner, run),
        i => key(partner_pk(partner), format!("REPORT#{run}#{i}")),
    }
}
/// GSI1 partitions of the runs still queued (sparse: the claim removes the entry), sharded by
/// run id.
pub(super) const QUEUED_RUNS: &str = "RUNQUEUED";
/// The GSI1 partition of a queued run: its shard of `RUNQUEUED`.
pub(super) fn queued_runs_gsi1pk(run: &str) -> String {
    sharded(QUEUED_RUNS, shard_of(run))
}
/// A queued run's GSI1 sort key: its creation time first, so the partition orders by it.
pub(super) fn queued_run_sk(created_at: Timestamp, partner: &str, run: &str) -> String {
    format!("{}#{partner}#{run}", time_sk(created_at))
}
/// A partner's run counter for a month.
pub(super) fn usage(partner: &str, month: Month) -> Item {
    key(partner_pk(partner), format!("USAGE#{month}"))
}
/// GSI1 partition of a distributor's usage counters for a month (sort key: `partner_pk`).
pub(super) fn usage_gsi1pk(distributor: &str, month: Month) -> String {
    format!("DIST#{distributor}#USAGE#{month}")
}

// --- Owners: `OWNER#<surface>#o` partition (key slots, webhook endpoints) -----------------

pub(super) fn owner_pk(owner: &Owner) -> String {
    let surface = match owner.surface {
        Surface::Partner => "partner",
        Surface::Distributor => "distributor",
    };
    format!("OWNER#{surface}#{}", owner.id)
}
pub(super) const SLOT_PREFIX: &str = "KEYSLOT#";
pub(super) fn slot(owner: &Owner, slot: u8) -> Item {
    key(owner_pk(owner), format!("{SLOT_PREFIX}{slot}"))
}
pub(super) const ENDPOINT_PREFIX: &str = "WHK#";
pub(super) fn endpoint_sk(id: &str) -> String {
    format!("{ENDPOINT_PREFIX}{id}")
}
pub(super) fn endpoint(owner: &Owner, id: &str) -> Item {
    key(owner_pk(owner), endpoint_sk(id))
}
/// The number of the owner's endpoints (`n`).
pub(super) fn endpoint_count(owner: &Owner) -> Item {
    key(owner_pk(owner), "WHKCOUNT")
}

/// A viewer's audit entries (contract, "Billing and audit"): each entry is written three times
/// in each viewer's `OWNER#` partition, so that each filter is a key range: all of them
/// (`AUDIT#<id>`), by action (`AUDITA#<action>#<id>`) and by target (`AUDITT#<target id>#<id>`).
/// Ids are time-ordered: newest first is a backward query, and `from`/`to` a range of ids.
pub(super) const AUDIT_PREFIX: &str = "AUDIT#";
pub(super) fn audit_action_prefix(action: &str) -> String {
    format!("AUDITA#{action}#")
}
pub(super) fn audit_target_prefix(target_id: &str) -> String {
    format!("AUDITT#{target_id}#")
}

/// An owner's list entry of a mail message it may see (`id` only; the message is read by key).
pub(super) const MAIL_ENTRY_PREFIX: &str = "MAIL#";
pub(super) fn mail_entry_sk(id: &str) -> String {
    format!("{MAIL_ENTRY_PREFIX}{id}")
}
/// The same entry by kind, so `?kind=` is a key range.
pub(super) fn mail_kind_prefix(kind: &str) -> String {
    format!("MAILK#{kind}#")
}
pub(super) fn mail_kind_entry_sk(kind: &str, id: &str) -> String {
    format!("{}{id}", mail_kind_prefix(kind))
}

// --- Items alone in their partition ------------------------------------------------------

pub(super) fn api_key(hash: &str) -> Item {
    key(format!("KEY#{hash}"), META)
}
/// A rate-limit window (`bucket` names the subject and the window).
pub(super) fn window(bucket: &str) -> Item {
    key(format!("LIMIT#{bucket}"), META)
}
/// A mail message (`MAIL#<id>`).
pub(super) fn mail(id: &str) -> Item {
    key(format!("MAIL#{id}"), META)
}
pub(super) fn idempotency(scope: &str, k: &str) -> Item {
    // The scope's length keeps `a#b` + `c` apart from `a` + `b#c`.
    key(format!("IDEM#{}#{scope}#{k}", scope.len()), META)
}

// --- Outbox: `OUTBOX#SHARD#nn` partitions (and `OUTBOX`, before sharding) ---------------

/// The outbox's partition family: events are in its shards by event id; `OUTBOX` itself holds
/// those written before it was sharded.
pub(super) const OUTBOX_PK: &str = "OUTBOX";
pub(super) const EVENT_PREFIX: &str = "EVT#";
/// Where an outbox item is moved aside (same sort key, with the error): out of the relay's
/// way, and out of the stream filter's (which wakes the relay on the outbox's partitions only).
pub const QUARANTINE_PK: &str = "OUTBOX#QUARANTINE";
pub(super) fn event_sk(id: &str) -> String {
    format!("{EVENT_PREFIX}{id}")
}
/// An event's outbox item: in its shard.
pub(super) fn event(id: &str) -> Item {
    key(sharded(OUTBOX_PK, shard_of(id)), event_sk(id))
}
/// Every partition outbox events are written to or read from (for the stream filter's test).
pub fn outbox_partitions() -> Vec<String> {
    partitions(OUTBOX_PK)
}

// --- Webhook deliveries: `WHKD#<endpoint id>` partition ----------------------------------

pub(super) fn deliveries_pk(endpoint: &str) -> String {
    format!("WHKD#{endpoint}")
}
pub(super) const DELIVERY_PREFIX: &str = "DLV#";
pub(super) fn delivery_sk(id: &str) -> String {
    format!("{DELIVERY_PREFIX}{id}")
}
pub(super) fn delivery(endpoint: &str, id: &str) -> Item {
    key(deliveries_pk(endpoint), delivery_sk(id))
}
/// Prefix of the per-event guards in an endpoint's deliveries partition.
pub(super) const DELIVERY_GUARD_PREFIX: &str = "DEVT#";
/// One delivery per endpoint and event.
pub(super) fn delivery_guard(endpoint: &str, event: &str) -> Item {
    key(deliveries_pk(endpoint), format!("{DELIVERY_GUARD_PREFIX}{event}"))
}
/// GSI1 partitions of the pending deliveries (sparse: set while pending with a due time),
/// sharded by delivery id.
pub(super) const DUE_DELIVERIES: &str = "WHKDUE";
/// The GSI1 partition of a pending delivery: its shard of `WHKDUE`.
pub(super) fn due_deliveries_gsi1pk(delivery: &str) -> String {
    sharded(DUE_DELIVERIES, shard_of(delivery))
}
/// A pending delivery's GSI1 sort key: its due time first, so the partition orders by it.
pub(super) fn due_delivery_sk(at: Timestamp, id: &str) -> String {
    format!("{}#{id}", time_sk(at))
}

// --- Tenant context and exceptions: in the partner's partition, by customer ----------------

/// A customer's tenant context (one item, replaced whole).
pub(super) fn tenant_context(partner: &str, customer: &str) -> Item {
    key(partner_pk(partner), format!("CTX#{customer}"))
}
/// Prefix of a customer's exceptions (ids are time-ordered: the family lists oldest first).
pub(super) fn exceptions_prefix(customer: &str) -> String {
    format!("EXC#{customer}#")
}
pub(super) fn exception_sk(customer: &str, id: &str) -> String {
    format!("{}{id}", exceptions_prefix(customer))
}
pub(super) fn exception(partner: &str, customer: &str, id: &str) -> Item {
    key(partner_pk(partner), exception_sk(customer, id))
}
/// GSI1 partitions of the exceptions whose expiry notice is still to be recorded (sparse:
/// recording it removes the entry), sharded by exception id.
pub(super) const EXPIRING_EXCEPTIONS: &str = "EXCEXPIRY";
/// The GSI1 partition of an exception with a notice to record: its shard of `EXCEXPIRY`.
pub(super) fn expiring_exceptions_gsi1pk(exception: &str) -> String {
    sharded(EXPIRING_EXCEPTIONS, shard_of(exception))
}
/// Its GSI1 sort key: when the notice is due first, so the partition orders by it.
pub(super) fn expiring_exception_sk(notice_at: Timestamp, id: &str) -> String {
    format!("{}#{id}", time_sk(notice_at))
}

// --- Schedules: in the partner's partition, by customer --------------------------------------

/// Prefix of a customer's schedules (ids are time-ordered: the family lists oldest first).
pub(super) fn schedules_prefix(customer: &str) -> String {
    format!("SCH#{customer}#")
}
pub(super) fn schedule_sk(customer: &str, id: &str) -> String {
    format!("{}{id}", schedules_prefix(customer))
}
pub(super) fn schedule(partner: &str, customer: &str, id: &str) -> Item {
    key(partner_pk(partner), schedule_sk(customer, id))
}
/// GSI1 partitions of the enabled schedules by their next due time (sparse: a disabled
/// schedule has no GSI1 keys), sharded by schedule id.
pub(super) const DUE_SCHEDULES: &str = "SCHDUE";
/// The GSI1 partition of an enabled schedule: its shard of `SCHDUE`.
pub(super) fn due_schedules_gsi1pk(schedule: &str) -> String {
    sharded(DUE_SCHEDULES, shard_of(schedule))
}
/// Its GSI1 sort key: its next due time first, so the partition orders by it.
pub(super) fn due_schedule_sk(next_run_at: Timestamp, id: &str) -> String {
    format!("{}#{id}", time_sk(next_run_at))
}
