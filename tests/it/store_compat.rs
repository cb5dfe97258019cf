//! Items written before the domain's values had types of their own (tenant ids, emails, a
//! finding's severity and outcome were plain strings) still read, and what is written now is
//! byte for byte what was written then. On DynamoDB the old items are put raw, attribute by
//! attribute as the adapter wrote them; on the embedded store (which keeps values, not items)
//! the old values are read from their old serialised form. Both are then read through the port.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue as AV;
use serde_json::json;
use shared::domain::account::{BillingConfig, Partner};
use shared::domain::customer::Customer;
use shared::domain::email::Email;
use shared::domain::event::EventType;
use shared::domain::ids::IdGen;
use shared::domain::run::{CheckStatus, Run, RunFilter, RunReport, RunStatus, Severity};
use shared::domain::time::Month;
use shared::store::memory::MemoryStore;
use shared::store::{PageRequest, Store};
use tests::T0;

const TENANT: &str = "d4f5a678-1234-5678-9abc-def012345678";

/// The report body as the adapter stored it (`serde_json::to_string` of the report).
const REPORT_JSON: &str = r#"{"findings":[{"checkId":"E8-MFA-01","title":"MFA for all users","severity":"critical","outcome":"fail","evidence":"3 of 10 users without MFA","details":{"users":3},"rationale":"r","remediation":"m","references":[{"framework":"essential-eight","id":"mfa","level":1}]},{"checkId":"E8-BAK-01","title":"Backups","severity":"low","outcome":"not-applicable","evidence":"n/a","rationale":"r","remediation":"m","references":[{"framework":"essential-eight","id":"regular-backups","level":1}]}],"maturity":0,"maturityByStrategy":[{"strategy":"mfa","level":0}]}"#;

fn s(v: &str) -> AV {
    AV::S(v.into())
}
fn n(v: i64) -> AV {
    AV::N(v.to_string())
}

/// A customer item exactly as the adapter wrote it before: the key, then every field of the
/// customer (`serde_dynamo`), `None` as NULL.
fn old_customer_item(partner: &str, id: &str) -> HashMap<String, AV> {
    HashMap::from([
        ("PK".into(), s(&format!("PARTNER#{partner}"))),
        ("SK".into(), s(&format!("CUST#{id}"))),
        ("id".into(), s(id)),
        ("partner_id".into(), s(partner)),
        ("name".into(), s("Contoso Ltd")),
        ("tenant_id".into(), s(TENANT)),
        ("email".into(), s("IT@Contoso.com")),
        ("receivers".into(), AV::L(vec![s("CISO@contoso.com"), s("it@contoso.com")])),
        ("questionnaire_recipients".into(), AV::L(vec![])),
        ("created_at".into(), n(T0.unix())),
        ("updated_at".into(), AV::Null(true)),
        ("version".into(), n(1)),
    ])
}

/// A completed run's item as the adapter wrote it (claimed, so out of the queued index).
fn old_run_item(partner: &str, customer: &str, id: &str) -> HashMap<String, AV> {
    HashMap::from([
        ("PK".into(), s(&format!("PARTNER#{partner}"))),
        ("SK".into(), s(&format!("RUN#{id}"))),
        ("id".into(), s(id)),
        ("partner_id".into(), s(partner)),
        ("customer_id".into(), s(customer)),
        ("product".into(), s("essential-eight")),
        ("maturity_target".into(), n(1)),
        ("status".into(), s("completed")),
        ("created_at".into(), n((T0 + 10).unix())),
        ("started_at".into(), n((T0 + 20).unix())),
        ("completed_at".into(), n((T0 + 30).unix())),
        (
            "results".into(),
            AV::M(HashMap::from([
                ("score".into(), n(40)),
                ("findings".into(), n(1)),
                ("critical".into(), n(1)),
                ("high".into(), n(0)),
                ("medium".into(), n(0)),
                ("low".into(), n(0)),
                ("report_url".into(), s("https://reports.example/r")),
            ])),
        ),
        ("error".into(), AV::Null(true)),
    ])
}

fn old_report_item(partner: &str, run: &str) -> HashMap<String, AV> {
    HashMap::from([
        ("PK".into(), s(&format!("PARTNER#{partner}"))),
        ("SK".into(), s(&format!("REPORT#{run}"))),
        ("report".into(), s(REPORT_JSON)),
    ])
}

/// The customer, run and report as the old items hold them, in their old JSON form.
fn old_values(partner: &str, customer: &str, run: &str) -> (Customer, Run, RunReport) {
    let c = json!({
        "id": customer, "partner_id": partner, "name": "Contoso Ltd", "tenant_id": TENANT,
        "email": "IT@Contoso.com", "receivers": ["CISO@contoso.com", "it@contoso.com"],
        "questionnaire_recipients": [], "created_at": T0, "updated_at": null, "version": 1
    });
    let r = json!({
        "id": run, "partner_id": partner, "customer_id": customer, "product": "essential-eight",
        "maturity_target": 1, "status": "completed", "created_at": T0 + 10, "started_at": T0 + 20,
        "completed_at": T0 + 30,
        "results": { "score": 40, "findings": 1, "critical": 1, "high": 0, "medium": 0, "low": 0,
                     "report_url": "https://reports.example/r" },
        "error": null
    });
    (
        serde_json::from_value(c).expect("an old customer reads"),
        serde_json::from_value(r).expect("an old run reads"),
        serde_json::from_str(REPORT_JSON).expect("an old report reads"),
    )
}

async fn partner(store: &Arc<dyn Store>, ids: &IdGen) -> Partner {
    let email = Email::parse("Admin@MSP.example").unwrap().lowercased();
    tests::stored::stored_partner(store, ids, email, "professional", Some(BillingConfig::default())).await
}

use tests::stored::event;

/// What both adapters must read back, through the port, of the old customer, run and report.
async fn reads_as_before(store: &Arc<dyn Store>, p: &Partner, customer: &str, run: &str) {
    let c = store.customer(&p.id, customer).await.unwrap().expect("the old customer");
    assert_eq!(c.tenant_id, TENANT);
    assert_eq!(c.email.as_ref().map(Email::as_str), Some("IT@Contoso.com"), "case kept");
    assert_eq!(c.receivers, ["CISO@contoso.com", "it@contoso.com"]);
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({
            "id": customer, "partner_id": p.id, "name": "Contoso Ltd", "tenant_id": TENANT,
            "email": "IT@Contoso.com", "receivers": ["CISO@contoso.com", "it@contoso.com"],
            "questionnaire_recipients": [], "created_at": T0, "updated_at": null, "version": 1,
            // Stored before consent existed: it reads as never granted.
            "consent": { "status": "pending", "granted_at": null, "updated_at": null }
        })
    );
    let listed = store.list_customers(&p.id, &PageRequest { limit: 10, after: None }).await.unwrap();
    assert_eq!(listed.items, vec![c.clone()]);

    let r = store.run(&p.id, run).await.unwrap().expect("the old run");
    assert_eq!((r.status, r.customer_id.as_str(), r.completed_at), (RunStatus::Completed, customer, Some(T0 + 30)));
    let runs = store.list_runs(&p.id, &RunFilter::default(), &PageRequest { limit: 10, after: None }).await.unwrap();
    assert_eq!(runs.items, vec![r]);

    let report = store.run_report(&p.id, run).await.unwrap().expect("the old report");
    let kinds: Vec<(Severity, CheckStatus)> = report.findings.iter().map(|f| (f.severity, f.outcome)).collect();
    assert_eq!(kinds, [(Severity::Critical, CheckStatus::Fail), (Severity::Low, CheckStatus::NotApplicable)]);
    // Written again, the report is the very text it was stored as.
    assert_eq!(serde_json::to_string(&report).unwrap(), REPORT_JSON);
}

#[tokio::test]
async fn memory_old_values_read_back_unchanged() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let ids = IdGen::new();
    let p = partner(&store, &ids).await;
    let (cid, rid) = (ids.random("cust_"), ids.random("run_"));
    let (c, mut r, report) = old_values(&p.id, &cid, &rid);
    store.create_customer(&c, &event(&ids, EventType::CustomerCreated, &p.id)).await.unwrap();
    // The run goes the way runs go: queued, claimed, finished with its report.
    let finished = r.clone();
    (r.status, r.started_at, r.completed_at, r.results) = (RunStatus::Queued, None, None, None);
    store.queue_run(&r, Month::of(r.created_at), None).await.unwrap();
    let started = event(&ids, EventType::AssessmentStarted, &p.id);
    let claim = store.claim_run(&p.id, &rid, 1, T0 + 20, T0 + 620, &started).await.unwrap();
    assert!(matches!(claim, shared::store::RunClaim::Claimed(_)), "{claim:?}");
    let attempt = 1;
    let done = event(&ids, EventType::AssessmentCompleted, &p.id);
    store.finish_run(&finished, attempt, Some(&report), &done).await.unwrap();
    reads_as_before(&store, &p, &cid, &rid).await;
}

#[tokio::test]
async fn dynamo_old_items_read_back_and_new_writes_match_them() {
    let Some(dynamo) = tests::aws::fresh_dynamo().await else { return };
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_string());
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let ids = IdGen::new();
    let p = partner(&store, &ids).await;
    let (cid, rid) = (ids.random("cust_"), ids.random("run_"));
    let put = |item: HashMap<String, AV>| client.put_item().table_name(&table).set_item(Some(item)).send();
    put(old_customer_item(&p.id, &cid)).await.unwrap();
    put(old_run_item(&p.id, &cid, &rid)).await.unwrap();
    put(old_report_item(&p.id, &rid)).await.unwrap();
    reads_as_before(&store, &p, &cid, &rid).await;

    // What the adapter writes now, for the same values, is the old item attribute for attribute.
    let (mut c, _, _) = old_values(&p.id, &cid, &rid);
    c.id = ids.random("cust_").into();
    store.create_customer(&c, &event(&ids, EventType::CustomerCreated, &p.id)).await.unwrap();
    let key =
        |sk: String| HashMap::from([("PK".to_string(), s(&format!("PARTNER#{}", p.id))), ("SK".to_string(), s(&sk))]);
    let got = client.get_item().table_name(&table).set_key(Some(key(format!("CUST#{}", c.id)))).send().await.unwrap();
    // Plus the one attribute added since: the consent (issue 9), pending.
    let mut expected = old_customer_item(&p.id, &c.id);
    let pending = [("status", s("pending")), ("granted_at", AV::Null(true)), ("updated_at", AV::Null(true))];
    expected.insert("consent".into(), AV::M(pending.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
    assert_eq!(got.item.expect("the new customer item"), expected);

    // A partner's email is stored lower-cased, as a plain string.
    let got = client.get_item().table_name(&table).set_key(Some(key("META".into()))).send().await.unwrap();
    assert_eq!(got.item.expect("the partner item").get("email"), Some(&s("admin@msp.example")));
}

/// A delivery the adapter wrote before attempts were counted (`attempts_made`) and redeliveries
/// set apart (`manual_attempts`): it reads, and its next attempt is claimed and recorded, the
/// count then taken from the list it kept whole.
#[tokio::test]
async fn dynamo_old_delivery_takes_its_next_attempt() {
    use shared::domain::account::Owner;
    use shared::domain::webhook::{Attempt, DeliveryStatus};
    use shared::store::AttemptClaim;
    let Some(dynamo) = tests::aws::fresh_dynamo().await else { return };
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_string());
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let ids = IdGen::new();
    let owner = Owner::partner(&ids.random("prt_"));
    let endpoint = tests::stored::endpoint(&ids.random("whk_"), &owner);
    store.create_endpoint(&endpoint, 20).await.unwrap();
    let d = tests::stored::pending_delivery(&ids.random("dlv_"), &endpoint, &ids.random("evt_"), T0);
    store.create_delivery(&d).await.unwrap();
    let failed = |number: u32| Attempt {
        number,
        at: T0 + number as i64,
        status_code: Some(500),
        duration_ms: 3,
        error: Some("the endpoint answered 500".into()),
        response_body: None,
        manual: false,
    };
    for number in 1..=2 {
        store
            .record_attempt(&endpoint.id, &d.id, &failed(number), DeliveryStatus::Pending, Some(T0 + 60))
            .await
            .unwrap();
    }
    // As the old adapter left it: two attempts in the list, no counters.
    let key = HashMap::from([
        ("PK".to_string(), s(&format!("WHKD#{}", endpoint.id))),
        ("SK".to_string(), s(&format!("DLV#{}", d.id))),
    ]);
    client
        .update_item()
        .table_name(&table)
        .set_key(Some(key))
        .update_expression("REMOVE attempts_made, manual_attempts")
        .send()
        .await
        .unwrap();
    let old = store.delivery(&endpoint.id, &d.id).await.unwrap().expect("the old delivery reads");
    assert_eq!((old.attempts.len(), old.manual_attempts, old.next_attempt_number()), (2, 0, 3));
    assert_eq!(store.claim_attempt(&endpoint.id, &d.id, 2, false, T0 + 60, T0 + 100).await, Ok(AttemptClaim::Stale));
    let claim = store.claim_attempt(&endpoint.id, &d.id, 3, false, T0 + 60, T0 + 100).await.unwrap();
    assert!(matches!(claim, AttemptClaim::Claimed(_)), "{claim:?}");
    let after =
        store.record_attempt(&endpoint.id, &d.id, &failed(3), DeliveryStatus::Pending, Some(T0 + 400)).await.unwrap();
    assert_eq!(after.attempts.iter().map(|a| a.number).collect::<Vec<_>>(), vec![1, 2, 3]);
}

/// Items written before the shared partitions were sharded (an outbox event under `OUTBOX`, a
/// queued run in GSI1 `RUNQUEUED`, a pending delivery in GSI1 `WHKDUE`) are still found by
/// their readers, in time order with the new ones, and go their way: the event is handed out
/// (moved into its shard first) and acknowledged, the run claimed, the delivery attempted.
#[tokio::test]
async fn dynamo_items_from_before_sharding_are_still_found() {
    use shared::domain::account::Owner;
    use shared::domain::webhook::{Attempt, DeliveryStatus};
    let Some(dynamo) = tests::aws::fresh_dynamo().await else { return };
    let (client, table) = (dynamo.client().clone(), dynamo.table().to_string());
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let ids = IdGen::new();
    let p = partner(&store, &ids).await;
    let scan = || async { client.scan().table_name(&table).send().await.unwrap().items.unwrap_or_default() };
    let key_of = |item: &HashMap<String, AV>| {
        HashMap::from([("PK".to_string(), item["PK"].clone()), ("SK".to_string(), item["SK"].clone())])
    };
    let sk_starts = |item: &HashMap<String, AV>, prefix: &str| item["SK"].as_s().is_ok_and(|s| s.starts_with(prefix));

    // The outbox: an old event (put back under `OUTBOX`, as the old adapter wrote it) and a new one.
    let (c, mut r, _) = old_values(&p.id, &ids.random("cust_"), &ids.random("run_"));
    let old_event = event(&ids, EventType::CustomerCreated, &p.id);
    store.create_customer(&c, &old_event).await.unwrap();
    let sharded = scan().await.into_iter().find(|i| sk_starts(i, "EVT#")).expect("the event's item");
    let mut unsharded = sharded.clone();
    unsharded.insert("PK".into(), s("OUTBOX"));
    client.put_item().table_name(&table).set_item(Some(unsharded)).send().await.unwrap();
    client.delete_item().table_name(&table).set_key(Some(key_of(&sharded))).send().await.unwrap();
    let mut new_event = event(&ids, EventType::CustomerUpdated, &p.id);
    new_event.id = ids.time_ordered("evt_", ((T0.unix() + 1) * 1000) as u64).into();
    let mut updated = c.clone();
    updated.name = "Contoso Pty".into();
    updated.version = 2;
    store.update_customer(&updated, 1, &new_event).await.unwrap();
    let pending: Vec<String> =
        store.pending_events(10).await.unwrap().into_iter().map(|e| e.id.into_string()).collect();
    assert_eq!(pending, vec![old_event.id.to_string(), new_event.id.to_string()], "both, oldest first");
    assert!(
        !scan().await.iter().any(|i| i["PK"] == s("OUTBOX")),
        "the old event was moved into its shard when handed out"
    );
    store.ack_events(&pending).await.unwrap();
    assert!(store.pending_events(10).await.unwrap().is_empty(), "both acknowledged");

    // A run queued before: in GSI1 `RUNQUEUED`.
    (r.status, r.started_at, r.completed_at, r.results) = (RunStatus::Queued, None, None, None);
    store.queue_run(&r, Month::of(r.created_at), None).await.unwrap();
    let item = scan().await.into_iter().find(|i| sk_starts(i, "RUN#")).expect("the run's item");
    let set_gsi1pk = |item: &HashMap<String, AV>, pk: &str| {
        client
            .update_item()
            .table_name(&table)
            .set_key(Some(key_of(item)))
            .update_expression("SET GSI1PK = :pk")
            .expression_attribute_values(":pk", s(pk))
            .send()
    };
    set_gsi1pk(&item, "RUNQUEUED").await.unwrap();
    let stale = store.stale_queued_runs(T0 + 3600, 10).await.unwrap();
    assert_eq!(stale.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec![r.id.as_str()]);
    let started = event(&ids, EventType::AssessmentStarted, &p.id);
    store.claim_run(&p.id, &r.id, 1, T0 + 20, T0 + 620, &started).await.unwrap();
    assert!(store.stale_queued_runs(T0 + 3600, 10).await.unwrap().is_empty(), "claimed: out of the index");

    // A delivery pending before: in GSI1 `WHKDUE`.
    let owner = Owner::partner(&p.id);
    let endpoint = tests::stored::endpoint(&ids.random("whk_"), &owner);
    store.create_endpoint(&endpoint, 20).await.unwrap();
    let d = tests::stored::pending_delivery(&ids.random("dlv_"), &endpoint, &old_event.id, T0);
    store.create_delivery(&d).await.unwrap();
    let item = scan().await.into_iter().find(|i| sk_starts(i, "DLV#")).expect("the delivery's item");
    set_gsi1pk(&item, "WHKDUE").await.unwrap();
    let due = store.due_deliveries(T0 + 3600, 10).await.unwrap();
    assert_eq!(due.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), vec![d.id.as_str()]);
    let delivered = Attempt {
        number: 1,
        at: T0 + 5,
        status_code: Some(200),
        duration_ms: 3,
        error: None,
        response_body: None,
        manual: false,
    };
    store.record_attempt(&endpoint.id, &d.id, &delivered, DeliveryStatus::Delivered, None).await.unwrap();
    assert!(store.due_deliveries(T0 + 3600, 10).await.unwrap().is_empty(), "attempted: out of the index");
}
