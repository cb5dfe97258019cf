//! DynamoDB-specific behaviour beyond the store contract (which `store_contract.rs` runs on
//! this adapter too): what only shows at DynamoDB's limits.

use std::sync::Arc;

use shared::domain::account::{AccountStatus, Partner};
use shared::domain::customer::Customer;
use shared::domain::email::Email;
use shared::domain::event::EventType;
use shared::domain::ids::IdGen;
use shared::domain::run::{Run, RunFilter, RunStatus};
use shared::domain::tenant::TenantId;
use shared::domain::time::{Month, Timestamp};
use shared::store::{PageRequest, Store, StoreError};
use tests::{tenant, T0};

use tests::stored::event;

async fn partner_with_customer(store: &Arc<dyn Store>, ids: &IdGen) -> (Partner, Customer) {
    let p = tests::stored::stored_partner(store, ids, Email::parse("p@example.com").unwrap(), "enterprise", None).await;
    let c = tests::stored::customer(&ids.random("cust_"), &p.id, "C", &tenant(1));
    store.create_customer(&c, &event(ids, EventType::CustomerCreated, &p.id)).await.unwrap();
    (p, c)
}

/// More runs than one transaction can delete: the customer is marked, its runs deleted in
/// batches, and the customer removed last; meanwhile it is gone for readers and for new runs.
#[tokio::test]
async fn deleting_a_customer_with_more_runs_than_a_transaction_holds() {
    let Some(dynamo) = tests::aws::fresh_dynamo().await else { return };
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_string());
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let ids = IdGen::new();
    let (p, c) = partner_with_customer(&store, &ids).await;
    let month = Month::of(T0);
    for i in 0..40 {
        let run = run_at(&c, "essential-eight", T0 + i, T0 + i);
        store.queue_run(&run, month, None).await.unwrap();
    }
    let all = PageRequest { limit: 100, after: None };
    assert_eq!(store.list_runs(&p.id, &RunFilter::default(), &all).await.unwrap().items.len(), 40);

    store.delete_customer(&p.id, &c.id, &event(&ids, EventType::CustomerDeleted, &p.id)).await.unwrap();
    assert_eq!(store.customer(&p.id, &c.id).await.unwrap(), None);
    assert!(store.list_runs(&p.id, &RunFilter::default(), &all).await.unwrap().items.is_empty());
    assert!(store.list_customers(&p.id, &all).await.unwrap().items.is_empty());
    assert_eq!(store.partner(&p.id).await.unwrap().unwrap().customers_count, 0);
    assert_eq!(store.runs_used(&p.id, month).await.unwrap(), 40, "deleting does not give runs back");
    let left = client
        .query()
        .table_name(&table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("PARTNER#{}", p.id)))
        .send()
        .await
        .unwrap();
    let sks: Vec<String> = left
        .items()
        .iter()
        .filter_map(|i| i.get("SK")?.as_s().ok().cloned())
        .filter(|sk| !sk.starts_with("USAGE#"))
        .collect();
    assert_eq!(sks, vec!["META".to_string()], "no run, report or list entry is left");
    assert_eq!(
        store.delete_customer(&p.id, &c.id, &event(&ids, EventType::CustomerDeleted, &p.id)).await,
        Err(StoreError::NotFound)
    );
}

/// The usage report closes the previous month once per distributor on DynamoDB (distributors
/// found through GSI1); running it again (or after more runs were counted) changes nothing.
#[tokio::test]
async fn the_usage_report_closes_a_month_once() {
    use shared::usage_report::{close_previous_month, previous_month};
    let Some(dynamo) = tests::aws::fresh_dynamo().await else { return };
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let ids = IdGen::new();
    let (p, c) = partner_with_customer(&store, &ids).await;
    let april = Month::of(T0);
    let queue = |at: Timestamp| run_at(&c, "essential-eight", at, at);
    for i in 0..3 {
        store.queue_run(&queue(T0 + i), april, None).await.unwrap();
    }
    let in_may = april.end() + 3600;
    assert_eq!(previous_month(in_may), april);
    let first = close_previous_month(store.as_ref(), in_may).await.unwrap();
    assert_eq!(first.month, "2026-04");
    assert_eq!((first.distributors, first.written), (1, 1));
    let d = store.partner(&p.id).await.unwrap().unwrap().distributor_id.unwrap();
    let snap = store.usage_snapshot(&d, april).await.unwrap().expect("a snapshot");
    assert_eq!(snap.usage.total_runs, 3);
    assert_eq!(snap.usage.by_partner.len(), 1);
    assert_eq!((snap.usage.by_partner[0].partner_id.as_str(), snap.usage.by_partner[0].runs), (p.id.as_str(), 3));
    assert_eq!(snap.closed_at, in_may);

    // A late count and a second run of the report: the snapshot stays as it was.
    store.queue_run(&queue(T0 + 10), april, None).await.unwrap();
    let again = close_previous_month(store.as_ref(), in_may + 60).await.unwrap();
    assert_eq!((again.distributors, again.written), (1, 0));
    assert_eq!(store.usage_snapshot(&d, april).await.unwrap(), Some(snap));
}

/// Deliveries and their guards carry the table's TTL (90 days after they were made), so the
/// delivery log is cleaned up by DynamoDB rather than growing for ever.
#[tokio::test]
async fn deliveries_and_their_guards_expire_after_ninety_days() {
    use aws_sdk_dynamodb::types::AttributeValue as AV;
    use shared::domain::account::Owner;

    let Some(dynamo) = tests::aws::fresh_dynamo().await else { return };
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_string());
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let owner = Owner::partner("prt_ttl");
    let endpoint = tests::stored::endpoint("whk_ttl", &owner);
    store.create_endpoint(&endpoint, 10).await.unwrap();
    let delivery = tests::stored::pending_delivery("dlv_ttl", &endpoint, "evt_ttl", T0);
    store.create_delivery(&delivery).await.unwrap();
    let want = (T0 + shared::store::dynamo::webhooks::DELIVERY_RETENTION_SECS).unix().to_string();
    let items = client
        .query()
        .table_name(table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", AV::S("WHKD#whk_ttl".into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 2, "the delivery and its guard");
    for item in items {
        assert_eq!(item.get("ttl").and_then(|v| v.as_n().ok()), Some(&want), "{item:?}");
    }
}

/// An outbox item that does not decode (written by hand, or by a future version rolled back)
/// is moved to a quarantine partition with the reason, and the events behind it are handed
/// out: one poison item never stops the relay.
#[tokio::test]
async fn an_outbox_item_that_does_not_decode_is_quarantined() {
    use aws_sdk_dynamodb::types::AttributeValue as AV;
    let Some(dynamo) = tests::aws::fresh_dynamo().await else { return };
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_string());
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let ids = IdGen::new();
    // The poison sorts first (its id is older than any made now).
    client
        .put_item()
        .table_name(&table)
        .item("PK", AV::S("OUTBOX".into()))
        .item("SK", AV::S("EVT#evt_0000000poison".into()))
        .item("event", AV::S("{not json".into()))
        .send()
        .await
        .unwrap();
    let (p, _) = partner_with_customer(&store, &ids).await;
    let pending = store.pending_events(100).await.expect("the poison does not fail the read");
    assert_eq!(pending.len(), 1, "the customer's event is handed out");
    assert_eq!(pending[0].account, shared::domain::account::Owner::partner(&p.id));
    let key = |pk: &str| {
        client
            .get_item()
            .table_name(&table)
            .key("PK", AV::S(pk.into()))
            .key("SK", AV::S("EVT#evt_0000000poison".into()))
            .consistent_read(true)
    };
    assert!(key("OUTBOX").send().await.unwrap().item.is_none(), "out of the outbox");
    let kept = key("OUTBOX#QUARANTINE").send().await.unwrap().item.expect("in quarantine");
    assert_eq!(kept.get("event").and_then(|v| v.as_s().ok()).map(String::as_str), Some("{not json"));
    assert!(kept.get("error").and_then(|v| v.as_s().ok()).is_some_and(|e| e.contains("decode")), "{kept:?}");
}

/// A run created at `created_at` whose id was made at `id_time` (by its own generator, so the id
/// carries exactly that time).
fn run_at(c: &Customer, product: &str, id_time: Timestamp, created_at: Timestamp) -> Run {
    Run {
        id: IdGen::new().time_ordered("run_", (id_time.unix() * 1000) as u64).into(),
        partner_id: c.partner_id.clone(),
        customer_id: c.id.clone(),
        product: product.into(),
        maturity_target: 1,
        status: RunStatus::Queued,
        created_at,
        started_at: None,
        completed_at: None,
        results: None,
        error: None,
    }
}

async fn second_customer(store: &Arc<dyn Store>, ids: &IdGen, p: &Partner) -> Customer {
    let c = tests::stored::customer(&ids.random("cust_"), &p.id, "C2", &tenant(2));
    store.create_customer(&c, &event(ids, EventType::CustomerCreated, &p.id)).await.unwrap();
    c
}

/// `GET /assessments?month=&product=&customerId=` and D2's `?status=` read their own key range:
/// a call reads (DynamoDB's `ScannedCount`) at most the page it returns and one more, whatever
/// else the partition holds. Before, `?month=` read every newer run first and `?product=` and
/// `?status=` read the whole family through a filter (issue 13, item 10).
#[tokio::test]
async fn filtered_lists_read_only_their_key_range() {
    let meter = tests::aws::ReadMeter::default();
    let Some(store) = tests::aws::fresh_dynamo_with(&meter).await else { return };
    let store: Arc<dyn Store> = Arc::new(store);
    let ids = IdGen::new();
    let (p, c1) = partner_with_customer(&store, &ids).await;
    let c2 = second_customer(&store, &ids, &p).await;
    let earlier = T0 - 40 * 86_400;
    for i in 0..12 {
        let r = run_at(&c1, "essential-eight", earlier + i, earlier + i);
        store.queue_run(&r, Month::of(earlier), None).await.unwrap();
    }
    for i in 0..12 {
        store.queue_run(&run_at(&c2, "nist-csf", T0 + i, T0 + i), Month::of(T0), None).await.unwrap();
    }
    for i in 20..23 {
        store.queue_run(&run_at(&c1, "essential-eight", T0 + i, T0 + i), Month::of(T0), None).await.unwrap();
    }
    let all = PageRequest { limit: 100, after: None };
    let cases = [
        (RunFilter { month: Some(Month::of(earlier)), ..Default::default() }, 12),
        (RunFilter { product: Some("essential-eight".into()), ..Default::default() }, 15),
        (RunFilter { product: Some("nist-csf".into()), month: Some(Month::of(T0)), ..Default::default() }, 12),
        (RunFilter { customer_id: Some(c1.id.clone()), product: Some("nist-csf".into()), ..Default::default() }, 0),
        (RunFilter { customer_id: Some(c1.id.clone()), month: Some(Month::of(T0)), ..Default::default() }, 3),
    ];
    for (filter, expected) in cases {
        meter.take();
        let listed = store.list_runs(&p.id, &filter, &all).await.unwrap();
        let read = meter.take();
        assert_eq!(listed.items.len(), expected, "{filter:?}");
        assert!(read <= expected + 1, "{filter:?} read {read} items for {expected}");
    }

    // D2: one active partner among suspended ones.
    let distributor = p.distributor_id.clone().unwrap();
    for i in 0..10 {
        let mut other = p.clone();
        other.id = ids.random("prt_").into();
        other.email = Email::parse(&format!("s{i}@example.com")).unwrap();
        store.create_partner(&other).await.unwrap();
        store.suspend_partner(&other.id, T0, &event(&ids, EventType::PartnerSuspended, &other.id)).await.unwrap();
    }
    meter.take();
    let active = store.list_partners(&distributor, Some(AccountStatus::Active), &all).await.unwrap();
    let read = meter.take();
    assert_eq!(active.items.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), vec![p.id.clone()]);
    assert!(read <= 2, "read {read} entries for one active partner");
    let suspended = store.list_partners(&distributor, Some(AccountStatus::Suspended), &all).await.unwrap();
    assert_eq!(suspended.items.len(), 10);
}

/// A list call reads at most its budget: when the one filter left (a run whose id was made in
/// the next month's first hour, after a clock step back) drops what it read, the page comes back
/// short, even empty, with a cursor, and following the cursors finds every run of the month.
#[tokio::test]
async fn a_list_call_reads_at_most_its_budget_and_still_returns_a_cursor() {
    let Some(store) = tests::aws::fresh_dynamo().await else { return };
    let store: Arc<dyn Store> = Arc::new(store.with_list_read_budget(5));
    let ids = IdGen::new();
    let (p, c) = partner_with_customer(&store, &ids).await;
    let month = Month::of(T0);
    let next_month = month.end();
    // Two runs of this month, and eight of the next whose ids fall in this month's range slack.
    for i in 0..2 {
        let at = next_month - 100 + i;
        store.queue_run(&run_at(&c, "essential-eight", at, at), month, None).await.unwrap();
    }
    for i in 0..8 {
        let at = next_month + 60 + i;
        store.queue_run(&run_at(&c, "essential-eight", at, at), Month::of(at), None).await.unwrap();
    }
    let filter = RunFilter { month: Some(month), ..Default::default() };
    let first = store.list_runs(&p.id, &filter, &PageRequest { limit: 100, after: None }).await.unwrap();
    assert!(first.items.is_empty(), "the budget ran out on runs of the next month");
    assert!(first.next.is_some(), "a short page still carries a cursor");
    let (mut found, mut after, mut calls) = (Vec::new(), first.next, 1);
    while let Some(cursor) = after {
        let page = store.list_runs(&p.id, &filter, &PageRequest { limit: 100, after: Some(cursor) }).await.unwrap();
        found.extend(page.items.into_iter().map(|r| r.created_at));
        after = page.next;
        calls += 1;
        assert!(calls < 10, "the cursors end");
    }
    assert_eq!(found, vec![next_month - 99, next_month - 100]);
}

/// Runs and partners stored before the per-product and per-status entries existed are found
/// by the filtered lists once `backfill_list_entries` has run; a second run writes nothing.
#[tokio::test]
async fn the_backfill_writes_the_entries_older_versions_did_not() {
    let Some(dynamo) = tests::aws::fresh_dynamo().await else { return };
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_string());
    let dynamo = Arc::new(dynamo);
    let store: Arc<dyn Store> = dynamo.clone();
    let ids = IdGen::new();
    let (p, c) = partner_with_customer(&store, &ids).await;
    let run = run_at(&c, "essential-eight", T0, T0);
    store.queue_run(&run, Month::of(T0), None).await.unwrap();
    // Remove what the older version never wrote.
    let s = |v: String| aws_sdk_dynamodb::types::AttributeValue::S(v);
    let distributor = p.distributor_id.clone().unwrap();
    for (pk, sk) in [
        (format!("PARTNER#{}", p.id), format!("PRUN#essential-eight#{}", run.id)),
        (format!("PARTNER#{}", p.id), format!("CPRUN#{}#essential-eight#{}", c.id, run.id)),
        (format!("DIST#{distributor}"), format!("PSTATUS#active#{}", p.id)),
    ] {
        let gone = client
            .delete_item()
            .table_name(&table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld);
        assert!(gone.send().await.unwrap().attributes.is_some(), "the entry was written");
    }
    let all = PageRequest { limit: 100, after: None };
    let by_product = RunFilter { product: Some("essential-eight".into()), ..Default::default() };
    let both =
        RunFilter { product: Some("essential-eight".into()), customer_id: Some(c.id.clone()), ..Default::default() };
    let active = Some(AccountStatus::Active);
    assert!(store.list_runs(&p.id, &by_product, &all).await.unwrap().items.is_empty(), "as an old table reads");

    let done = dynamo.backfill_list_entries().await.unwrap();
    assert_eq!(done.written, 3, "{done:?}");
    assert_eq!(store.list_runs(&p.id, &by_product, &all).await.unwrap().items, vec![run.clone()]);
    assert_eq!(store.list_runs(&p.id, &both, &all).await.unwrap().items, vec![run.clone()]);
    assert_eq!(store.list_partners(&distributor, active, &all).await.unwrap().items.len(), 1);
    assert_eq!(dynamo.backfill_list_entries().await.unwrap().written, 0, "a second run writes nothing");
}

/// Counts the DynamoDB requests a client sends (one per operation, retries not counted).
#[derive(Clone, Debug, Default)]
struct Requests(Arc<std::sync::atomic::AtomicUsize>);

impl Requests {
    fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl aws_sdk_dynamodb::config::Intercept for Requests {
    fn name(&self) -> &'static str {
        "Requests"
    }

    fn read_before_execution(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// A fresh table on the emulator, and a store on it whose requests are counted.
async fn counted_dynamo() -> Option<(Arc<dyn Store>, Requests)> {
    let config = tests::aws::config()?;
    let requests = Requests::default();
    let conf = aws_sdk_dynamodb::config::Builder::from(&config).interceptor(requests.clone()).build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    let table = format!("test-{}", shared::domain::ids::random_base62(12));
    shared::store::dynamo::DynamoStore::create_table(&client, &table).await.expect("the test table");
    Some((Arc::new(shared::store::dynamo::DynamoStore::new(client, table)), requests))
}

/// Deleting an endpoint is one request however many deliveries it has (they are left to the
/// table's TTL, and the dispatcher ends the pending ones): the API function's 10 s never
/// depend on an endpoint's history.
#[tokio::test]
async fn deleting_an_endpoint_takes_the_same_requests_whatever_its_deliveries() {
    use shared::domain::account::Owner;

    let Some((store, requests)) = counted_dynamo().await else { return };
    let ids = IdGen::new();
    let owner = Owner::partner(&ids.random("prt_"));
    let mut cost = Vec::new();
    for deliveries in [1, 60] {
        let endpoint = tests::stored::endpoint(&ids.random("whk_"), &owner);
        store.create_endpoint(&endpoint, 10).await.unwrap();
        for _ in 0..deliveries {
            let d = tests::stored::pending_delivery(&ids.random("dlv_"), &endpoint, &ids.random("evt_"), T0);
            store.create_delivery(&d).await.unwrap();
        }
        let before = requests.count();
        store.delete_endpoint(&owner, &endpoint.id, T0).await.unwrap();
        cost.push(requests.count() - before);
    }
    assert_eq!(cost[0], cost[1], "requests to delete an endpoint with 1 and with 60 deliveries");
    assert_eq!(cost[1], 1, "one transaction");
}

/// The partitions every writer shares are spread over shards by a hash of the item's id: the
/// outbox (base table), and GSI1's queued runs and due deliveries. Their readers query every
/// shard and merge, oldest first, within the limit asked for.
#[tokio::test]
async fn hot_partitions_are_spread_over_shards_and_read_back_in_order() {
    use shared::domain::account::Owner;

    let Some(dynamo) = tests::aws::fresh_dynamo().await else { return };
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_string());
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let ids = IdGen::new();
    let (p, c) = partner_with_customer(&store, &ids).await;
    const N: i64 = 48;
    for i in 0..N {
        let mut other = c.clone();
        other.id = ids.random("cust_").into();
        other.tenant_id = TenantId::parse(&tenant(100 + i as u32)).unwrap();
        let mut e = event(&ids, EventType::CustomerCreated, &p.id);
        e.id = ids.time_ordered("evt_", ((T0.unix() + i) * 1000) as u64).into();
        store.create_customer(&other, &e).await.unwrap();
    }
    let mut runs = Vec::new();
    for i in 0..N {
        let at = T0 + i;
        let run = run_at(&c, "essential-eight", at, at);
        store.queue_run(&run, Month::of(at), None).await.unwrap();
        runs.push(run.id);
    }
    let owner = Owner::partner(&p.id);
    let endpoint = tests::stored::endpoint(&ids.random("whk_"), &owner);
    store.create_endpoint(&endpoint, 10).await.unwrap();
    let mut deliveries = Vec::new();
    for i in 0..N {
        let d = tests::stored::pending_delivery(
            &ids.time_ordered("dlv_", ((T0.unix() + i) * 1000) as u64),
            &endpoint,
            &ids.random("evt_"),
            T0 + i,
        );
        store.create_delivery(&d).await.unwrap();
        deliveries.push(d.id);
    }

    // Where the items went: the outbox's partitions, and the GSI1 partitions of queued runs
    // and due deliveries.
    let scan = client.scan().table_name(&table).send().await.unwrap();
    assert!(scan.last_evaluated_key.is_none());
    let items = scan.items.unwrap_or_default();
    let attr = |i: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, n: &str| {
        i.get(n).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
    };
    let partitions = |of: &dyn Fn(&std::collections::HashMap<String, _>) -> Option<String>| {
        items.iter().filter_map(of).collect::<std::collections::BTreeSet<String>>()
    };
    let outbox = partitions(&|i| attr(i, "SK").starts_with("EVT#").then(|| attr(i, "PK")));
    let queued = partitions(&|i| attr(i, "SK").starts_with("RUN#").then(|| attr(i, "GSI1PK")));
    let due = partitions(&|i| attr(i, "SK").starts_with("DLV#").then(|| attr(i, "GSI1PK")));
    for (what, found) in [("outbox", &outbox), ("queued runs", &queued), ("due deliveries", &due)] {
        assert!(found.len() > 4, "{what}: {N} items in {} partitions: {found:?}", found.len());
    }
    // The shard is a fixed function of the id (FNV-1a, modulo 16): stored keys are data, so it
    // must not change between builds. This id's shard, computed apart, is 12.
    let mut pinned = c.clone();
    pinned.id = ids.random("cust_").into();
    pinned.tenant_id = TenantId::parse(&tenant(999)).unwrap();
    let mut e = event(&ids, EventType::CustomerCreated, &p.id);
    e.id = "evt_0000000000000000000001".into();
    store.create_customer(&pinned, &e).await.unwrap();
    let item = client
        .scan()
        .table_name(&table)
        .filter_expression("SK = :sk")
        .expression_attribute_values(
            ":sk",
            aws_sdk_dynamodb::types::AttributeValue::S("EVT#evt_0000000000000000000001".into()),
        )
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(item.len(), 1);
    assert_eq!(attr(&item[0], "PK"), "OUTBOX#SHARD#12");

    // Read back across the shards: every one, oldest first, and the oldest within a limit.
    let events: Vec<String> =
        store.pending_events(1000).await.unwrap().into_iter().map(|e| e.id.into_string()).collect();
    let mut sorted = events.clone();
    sorted.sort();
    assert_eq!((events.len(), &events), (N as usize + 2, &sorted), "every event, oldest first");
    let first10: Vec<String> =
        store.pending_events(10).await.unwrap().into_iter().map(|e| e.id.into_string()).collect();
    assert_eq!(first10, events[..10].to_vec());
    let stale: Vec<_> = store.stale_queued_runs(T0 + N, 10).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(stale, runs[..10].to_vec(), "the 10 oldest queued runs");
    assert_eq!(store.stale_queued_runs(T0 + N, 1000).await.unwrap().len(), N as usize);
    let lost: Vec<_> = store.due_deliveries(T0 + N, 10).await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(lost, deliveries[..10].to_vec(), "the 10 oldest due deliveries");
    assert_eq!(store.due_deliveries(T0 + N, 1000).await.unwrap().len(), N as usize);
}

/// Deleting a customer leaves none of its runs' report chunks (a report stored in several)
/// nor its latest-run records behind.
#[tokio::test]
async fn deleting_a_customer_removes_every_report_chunk_and_latest_run_record() {
    let Some(dynamo) = tests::aws::fresh_dynamo().await else { return };
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_string());
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let ids = IdGen::new();
    let (p, c) = partner_with_customer(&store, &ids).await;
    let mut previous = None;
    for (i, (product, evidence)) in
        [("essential-eight", 1_600_000), ("essential-eight", 10), ("nist-csf", 10)].into_iter().enumerate()
    {
        let run = run_at(&c, product, T0 + i as i64, T0 + i as i64);
        store.queue_run(&run, Month::of(T0), None).await.unwrap();
        let started = event(&ids, EventType::AssessmentStarted, &p.id);
        store.claim_run(&p.id, &run.id, 1, T0, T0 + 100, &started).await.unwrap();
        let mut done = run.clone();
        done.status = RunStatus::Completed;
        done.completed_at = Some(T0 + 10 + i as i64);
        done.results = Some(shared::domain::run::RunResults {
            score: 1,
            findings: 0,
            critical: 0,
            high: 0,
            medium: 0,
            low: 0,
            report_url: String::new(),
            previous_run_id: if product == "essential-eight" { previous.clone() } else { None },
            changes: None,
        });
        let report = shared::domain::run::RunReport {
            findings: vec![shared::domain::run::Finding {
                check_id: "X".into(),
                title: "x".into(),
                severity: shared::domain::run::Severity::Low,
                outcome: shared::domain::run::CheckStatus::Pass,
                evidence: tests::big_tenant::incompressible(evidence, i as u64),
                details: None,
                rationale: String::new(),
                remediation: String::new(),
                references: vec![],
                change: None,
                collected: Vec::new(),
                requirement_ids: vec![],
                evidence_quality: None,
            }],
            maturity: None,
            maturity_by_strategy: vec![],
            requirements: vec![],
            coverage: None,
            context: None,
        };
        let completed = event(&ids, EventType::AssessmentCompleted, &p.id);
        store.finish_run(&done, 1, Some(&report), &completed).await.unwrap();
        if product == "essential-eight" {
            previous = Some(run.id.clone());
        }
    }
    // Every sort key of the partner's partition (paged: the chunks pass a page's 1 MB).
    let sks = || async {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = client
                .query()
                .table_name(&table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(
                    ":pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(format!("PARTNER#{}", p.id)),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            out.extend(page.items().iter().filter_map(|i| i.get("SK")?.as_s().ok().cloned()));
            start = page.last_evaluated_key;
            if start.is_none() {
                return out;
            }
        }
    };
    let before = sks().await;
    assert!(before.iter().filter(|sk| sk.starts_with("REPORT#")).count() > 3, "a report in several chunks: {before:?}");
    assert_eq!(before.iter().filter(|sk| sk.starts_with("LATEST#")).count(), 2, "{before:?}");

    store.delete_customer(&p.id, &c.id, &event(&ids, EventType::CustomerDeleted, &p.id)).await.unwrap();
    let left: Vec<String> = sks().await.into_iter().filter(|sk| !sk.starts_with("USAGE#")).collect();
    assert_eq!(left, vec!["META".to_string()], "nothing of the customer is left");
}

/// Data stored before issue 16's read savings still reads right: run entries that are only
/// pointers (product and time) are followed to their runs, and become copies at the run's next
/// change; a distributor without a complete partner-id set is answered from its entries
/// (`Got::PartnerIds(None)`) until `backfill_list_entries` completes the set.
#[tokio::test]
async fn lists_stored_before_the_copies_and_the_partner_ids_still_read_right() {
    use aws_sdk_dynamodb::types::AttributeValue as AV;
    use shared::store::{Got, Want};
    let Some(dynamo) = tests::aws::fresh_dynamo().await else { return };
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_string());
    let dynamo = Arc::new(dynamo);
    let store: Arc<dyn Store> = dynamo.clone();
    let ids = IdGen::new();
    let (p, c) = partner_with_customer(&store, &ids).await;
    let run = run_at(&c, "essential-eight", T0, T0);
    store.queue_run(&run, Month::of(T0), None).await.unwrap();
    // The customer's entry as an older version wrote it: a pointer, not a copy.
    let entry_sk = format!("CRUN#{}#{}", c.id, run.id);
    client
        .put_item()
        .table_name(&table)
        .item("PK", AV::S(format!("PARTNER#{}", p.id)))
        .item("SK", AV::S(entry_sk.clone()))
        .item("product", AV::S("essential-eight".into()))
        .item("created_at", AV::N(T0.unix().to_string()))
        .send()
        .await
        .unwrap();
    let all = PageRequest { limit: 100, after: None };
    let by_customer = RunFilter { customer_id: Some(c.id.clone()), ..Default::default() };
    assert_eq!(store.list_runs(&p.id, &by_customer, &all).await.unwrap().items, vec![run.clone()]);
    let started = event(&ids, EventType::AssessmentStarted, &p.id);
    store.claim_run(&p.id, &run.id, 1, T0 + 5, T0 + 100, &started).await.unwrap();
    let running = store.run(&p.id, &run.id).await.unwrap().unwrap();
    assert_eq!(store.list_runs(&p.id, &by_customer, &all).await.unwrap().items, vec![running]);
    let entry = client
        .get_item()
        .table_name(&table)
        .key("PK", AV::S(format!("PARTNER#{}", p.id)))
        .key("SK", AV::S(entry_sk))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(entry.get("status"), Some(&AV::S("running".into())), "the claim made the entry a copy: {entry:?}");

    // A distributor made before its partner-id set.
    let distributor = p.distributor_id.clone().unwrap().to_string();
    let members = client
        .delete_item()
        .table_name(&table)
        .key("PK", AV::S(format!("DIST#{distributor}")))
        .key("SK", AV::S("MEMBERS".into()))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld);
    assert!(members.send().await.unwrap().attributes.is_some(), "the set was written");
    let wants = [Want::PartnerIds(distributor.clone())];
    assert_eq!(store.read_together(&wants).await.unwrap(), vec![Got::PartnerIds(None)]);
    // A partner made meanwhile adds itself, but the set is not complete until the backfill.
    let mut q = p.clone();
    q.id = ids.random("prt_").into();
    q.email = Email::parse("q@example.com").unwrap();
    store.create_partner(&q).await.unwrap();
    assert_eq!(store.read_together(&wants).await.unwrap(), vec![Got::PartnerIds(None)]);
    dynamo.backfill_list_entries().await.unwrap();
    let mut both = vec![p.id.to_string(), q.id.to_string()];
    both.sort();
    assert_eq!(store.read_together(&wants).await.unwrap(), vec![Got::PartnerIds(Some(both))]);
    assert_eq!(dynamo.backfill_list_entries().await.unwrap().written, 0, "a second run writes nothing");
}
