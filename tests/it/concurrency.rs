//! Real concurrency: requests spawned together on a multi-threaded runtime. Invariants (the
//! monthly run limit, tenant and email uniqueness, two key slots) must hold however they race.

use std::collections::BTreeSet;
use std::sync::Arc;

use http::Method;
use serde_json::{json, Value};
use shared::config::Config;
use shared::domain::account::Owner;
use shared::domain::event::EventType;
use tests::*;
use tokio::task::JoinSet;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The defaults with the professional plan (the start-up partner's) limited to `runs` a
/// month, and rate limits out of the way: this is about the run limit, not the rate limit.
fn limited(runs: u32) -> Config {
    Config {
        rate_limit_partner_per_min: 100_000,
        rate_limit_distributor_per_min: 100_000,
        ..with_runs(&[("professional", Some(runs))])
    }
}

/// Sends `n` requests at once (request `i` built by `make(i)`), as `surface` ("p" for the
/// partner API with `key`, "d" for the distributor API), and waits for every answer.
async fn burst<F>(h: &Arc<Harness>, n: usize, make: F) -> Vec<Resp>
where
    F: Fn(usize) -> (Surface, String, Method, String, Option<Value>),
{
    let mut set = JoinSet::new();
    for i in 0..n {
        let (surface, key, method, path, body) = make(i);
        let h = h.clone();
        set.spawn(async move {
            match surface {
                Surface::Partner => h.partner_as(&key, method, &path, body).await,
                Surface::Distributor => h.distributor_as(&key, method, &path, body).await,
            }
        });
    }
    let mut out = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        out.push(r.expect("request task panicked"));
    }
    out
}

#[derive(Clone, Copy)]
enum Surface {
    Partner,
    Distributor,
}

/// How many answers had this status and error code ("" for a success).
fn count(rs: &[Resp], status: u16, code: &str) -> usize {
    rs.iter().filter(|r| r.status.as_u16() == status && r.code() == code).count()
}

/// Fails with every distinct (status, code) seen when some answer is neither expected kind.
#[track_caller]
fn only(rs: &[Resp], allowed: &[(u16, &str)]) {
    let unexpected: Vec<String> = rs
        .iter()
        .filter(|r| !allowed.contains(&(r.status.as_u16(), r.code())))
        .map(|r| format!("{} {}", r.status, r.body))
        .collect();
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:?}");
}

async fn runs_listed(h: &Harness, key: &str) -> Vec<Value> {
    let r = h.partner_as(key, Method::GET, "/assessments?limit=100", None).await;
    let body = r.assert_status(200);
    assert_eq!(body["nextCursor"], Value::Null, "more than a page of runs");
    body["runs"].as_array().expect("runs").clone()
}

async fn runs_used(h: &Harness, key: &str) -> u64 {
    let r = h.partner_as(key, Method::GET, "/me", None).await;
    r.assert_status(200)["usage"]["runsUsed"].as_u64().expect("runsUsed")
}

/// Takes the harness back once every task holding it is done, to read the runs queue.
fn into_inner(h: Arc<Harness>) -> Harness {
    Arc::try_unwrap(h).ok().expect("no request task still holds the harness")
}

// ---------------------------------------------------------------------------------------------
// The monthly run limit
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_triggers_against_a_limit_of_ten_queue_exactly_ten() {
    let h = Arc::new(Harness::with_config(limited(10)).await);
    let customer = h.customer("Alpha Pty", &tenant(1)).await;
    let key = h.partner_key().to_string();

    let rs = burst(&h, 50, |_| {
        (
            Surface::Partner,
            key.clone(),
            Method::POST,
            "/assessments".into(),
            Some(assessment_body(&customer, "essential-eight")),
        )
    })
    .await;
    only(&rs, &[(202, ""), (403, "RUN_LIMIT_REACHED")]);
    assert_eq!(count(&rs, 202, ""), 10);
    assert_eq!(count(&rs, 403, "RUN_LIMIT_REACHED"), 40);
    let accepted: BTreeSet<String> = rs
        .iter()
        .filter(|r| r.status.as_u16() == 202)
        .map(|r| r.body["id"].as_str().expect("run id").to_string())
        .collect();
    assert_eq!(accepted.len(), 10, "run ids are distinct");

    let listed: BTreeSet<String> =
        runs_listed(&h, &key).await.iter().map(|r| r["id"].as_str().expect("id").to_string()).collect();
    assert_eq!(listed, accepted);
    assert_eq!(runs_used(&h, &key).await, 10);

    let mut h = into_inner(h);
    let messages = h.queued_messages();
    assert_eq!(messages.len(), 10, "one message per accepted run");
    let queued: BTreeSet<String> = messages.into_iter().map(|m| m.run_id.into_string()).collect();
    assert_eq!(queued, accepted, "exactly the accepted runs are on the runs queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_bulk_triggers_never_pass_the_limit() {
    let h = Arc::new(Harness::with_config(limited(10)).await);
    let mut customers = Vec::new();
    for i in 0..10 {
        customers.push(h.customer(&format!("Customer {i}"), &tenant(i)).await);
    }
    let key = h.partner_key().to_string();

    let rs = burst(&h, 5, |_| {
        (
            Surface::Partner,
            key.clone(),
            Method::POST,
            "/assessments/bulk".into(),
            Some(json!({ "customerIds": customers, "product": "essential-eight" })),
        )
    })
    .await;
    only(&rs, &[(202, "")]);
    let (mut queued, mut failed) = (0, 0);
    for r in &rs {
        queued += r.body["queued"].as_u64().expect("queued");
        failed += r.body["failed"].as_u64().expect("failed");
        for item in r.body["runs"].as_array().expect("runs") {
            if item["status"] == "failed" {
                assert_eq!(item["error"]["code"], "RUN_LIMIT_REACHED", "{item}");
            }
        }
    }
    assert_eq!((queued, failed), (10, 40));
    assert_eq!(runs_listed(&h, &key).await.len(), 10);
    assert_eq!(runs_used(&h, &key).await, 10);
    let mut h = into_inner(h);
    assert_eq!(h.queued_messages().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_bulk_and_distributor_triggers_racing_share_one_limit() {
    let h = Arc::new(Harness::with_config(limited(10)).await);
    let mut customers = Vec::new();
    for i in 0..5 {
        customers.push(h.customer(&format!("Customer {i}"), &tenant(i)).await);
    }
    let pkey = h.partner_key().to_string();
    let dkey = h.distributor_key().to_string();
    let pid = h.partner_id().to_string();

    // 20 single triggers (half through D12), and 4 bulk triggers of 5: 40 runs asked for.
    let rs = burst(&h, 24, |i| {
        let c = &customers[i % customers.len()];
        let one = assessment_body(c, "nist-csf");
        match i {
            0..=9 => (Surface::Partner, pkey.clone(), Method::POST, "/assessments".into(), Some(one)),
            10..=19 => {
                (Surface::Distributor, dkey.clone(), Method::POST, format!("/partners/{pid}/assessments"), Some(one))
            }
            _ => (
                Surface::Partner,
                pkey.clone(),
                Method::POST,
                "/assessments/bulk".into(),
                Some(json!({ "customerIds": customers, "product": "nist-csf" })),
            ),
        }
    })
    .await;
    only(&rs, &[(202, ""), (403, "RUN_LIMIT_REACHED")]);
    let accepted: u64 = rs
        .iter()
        .map(|r| match r.body["queued"].as_u64() {
            Some(n) => n,
            None => u64::from(r.status.as_u16() == 202),
        })
        .sum();
    assert_eq!(accepted, 10);
    assert_eq!(runs_listed(&h, &pkey).await.len(), 10);
    assert_eq!(runs_used(&h, &pkey).await, 10);
    let mut h = into_inner(h);
    assert_eq!(h.queued_messages().len(), 10);
}

// ---------------------------------------------------------------------------------------------
// Uniqueness
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_creates_of_one_tenant_make_one_customer() {
    let h = Arc::new(Harness::with_config(limited(200)).await);
    let key = h.partner_key().to_string();
    let t = tenant(7);

    let rs = burst(&h, 20, |i| {
        // The same GUID, spelled in upper and lower case.
        let spelled = if i % 2 == 0 { t.clone() } else { t.to_uppercase() };
        (
            Surface::Partner,
            key.clone(),
            Method::POST,
            "/customers".into(),
            Some(json!({ "name": format!("Customer {i}"), "tenantId": spelled })),
        )
    })
    .await;
    only(&rs, &[(201, ""), (409, "CUSTOMER_EXISTS")]);
    assert_eq!(count(&rs, 201, ""), 1);
    assert_eq!(count(&rs, 409, "CUSTOMER_EXISTS"), 19);
    let created = rs.iter().find(|r| r.status.as_u16() == 201).expect("one created");

    let list = h.partner(Method::GET, "/customers", None).await;
    let customers = list.assert_status(200)["customers"].as_array().expect("customers").clone();
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0]["id"], created.body["id"]);
    assert_eq!(customers[0]["tenantId"], json!(t));

    let created_events: Vec<_> =
        h.events().await.into_iter().filter(|e| e.kind == EventType::CustomerCreated).collect();
    assert_eq!(created_events.len(), 1);
    assert_eq!(created_events[0].data["id"], created.body["id"]);
    assert_eq!(runs_used(&h, &key).await, 0);
    let me = h.partner(Method::GET, "/me", None).await;
    assert_eq!(me.assert_status(200)["usage"]["customersCount"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_partner_creates_with_one_email_make_one_partner() {
    let h = Arc::new(Harness::with_config(limited(200)).await);
    let dkey = h.distributor_key().to_string();

    let rs = burst(&h, 20, |i| {
        let email = if i % 2 == 0 { "admin@racing-msp.example" } else { "Admin@Racing-MSP.example" };
        (
            Surface::Distributor,
            dkey.clone(),
            Method::POST,
            "/partners".into(),
            Some(json!({
                "email": email, "company": format!("Racing {i}"), "name": "Admin",
                "plan": "starter", "billing": { "currency": "AUD" }
            })),
        )
    })
    .await;
    only(&rs, &[(201, ""), (409, "PARTNER_EXISTS")]);
    assert_eq!(count(&rs, 201, ""), 1);
    assert_eq!(count(&rs, 409, "PARTNER_EXISTS"), 19);
    let created = rs.iter().find(|r| r.status.as_u16() == 201).expect("one created");

    let list = h.distributor(Method::GET, "/partners", None).await;
    let racing: Vec<Value> = list.assert_status(200)["partners"]
        .as_array()
        .expect("partners")
        .iter()
        .filter(|p| p["email"].as_str().is_some_and(|e| e.eq_ignore_ascii_case("admin@racing-msp.example")))
        .cloned()
        .collect();
    assert_eq!(racing.len(), 1);
    assert_eq!(racing[0]["id"], created.body["id"]);
    let me = h.distributor(Method::GET, "/me", None).await;
    assert_eq!(me.assert_status(200)["partnersCount"], 2);
}

// ---------------------------------------------------------------------------------------------
// Key slots
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_simultaneous_key_generations_with_one_key_give_exactly_slot_two() {
    let h = Arc::new(Harness::with_config(limited(200)).await);
    let key = h.partner_key().to_string();

    let rs = burst(&h, 10, |_| (Surface::Partner, key.clone(), Method::POST, "/keys".into(), None)).await;
    only(&rs, &[(201, ""), (409, "MAX_KEYS")]);
    assert_eq!(count(&rs, 201, ""), 1);
    assert_eq!(count(&rs, 409, "MAX_KEYS"), 9);
    let new = rs.iter().find(|r| r.status.as_u16() == 201).expect("one created");
    assert_eq!(new.body["slot"], 2, "{}", new.body);
    let new_key = new.body["key"].as_str().expect("key").to_string();

    // Both keys work, and the store holds exactly the two slots.
    h.partner_as(&new_key, Method::GET, "/me", None).await.assert_status(200);
    h.partner(Method::GET, "/me", None).await.assert_status(200);
    let slots: Vec<u8> = h
        .app
        .store
        .keys_of(&Owner::partner(h.partner_id()))
        .await
        .expect("keys")
        .iter()
        .map(|k| k.slot)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(slots, vec![1, 2]);
    let key_events = h.events().await.into_iter().filter(|e| e.kind == EventType::KeyCreated).count();
    assert_eq!(key_events, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_simultaneous_d15_on_a_keyless_partner_fill_both_slots_once() {
    let h = Arc::new(Harness::with_config(limited(200)).await);
    let dkey = h.distributor_key().to_string();
    let pid = h
        .distributor(
            Method::POST,
            "/partners",
            Some(json!({
                "email": "keyless@msp.example", "company": "Keyless", "name": "K",
                "plan": "starter", "billing": { "currency": "USD" }
            })),
        )
        .await
        .assert_status(201)["id"]
        .as_str()
        .expect("id")
        .to_string();
    h.distributor(Method::POST, &format!("/partners/{pid}/activate"), None).await.assert_status(200);

    let rs =
        burst(&h, 10, |_| (Surface::Distributor, dkey.clone(), Method::POST, format!("/partners/{pid}/keys"), None))
            .await;
    only(&rs, &[(201, ""), (409, "MAX_KEYS")]);
    let ok: Vec<&Resp> = rs.iter().filter(|r| r.status.as_u16() == 201).collect();
    assert_eq!(ok.len(), 2);
    assert_eq!(count(&rs, 409, "MAX_KEYS"), 8);
    let slots: BTreeSet<u64> = ok.iter().map(|r| r.body["slot"].as_u64().expect("slot")).collect();
    assert_eq!(slots, BTreeSet::from([1, 2]));
    for r in &ok {
        let k = r.body["key"].as_str().expect("key");
        let me = h.partner_as(k, Method::GET, "/me", None).await;
        assert_eq!(me.assert_status(200)["id"], json!(pid));
    }
    let stored = h.app.store.keys_of(&Owner::partner(&pid)).await.expect("keys");
    assert_eq!(stored.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suspension_racing_key_issues_leaves_no_working_key() {
    let h = Arc::new(Harness::with_config(limited(200)).await);
    let dkey = h.distributor_key().to_string();
    let (pid, pkey) = h.active_partner("racer@msp.example", "starter").await;

    // Nine D15 requests (one slot left) and one suspension, all at once.
    let rs = burst(&h, 10, |i| {
        let path = if i == 5 { format!("/partners/{pid}/suspend") } else { format!("/partners/{pid}/keys") };
        (Surface::Distributor, dkey.clone(), Method::POST, path, None)
    })
    .await;
    only(&rs, &[(200, ""), (201, ""), (409, "MAX_KEYS"), (403, "PARTNER_INACTIVE")]);
    assert!(count(&rs, 201, "") <= 1);
    // Whatever the order, a suspended partner has no keys and none of its keys work.
    let stored = h.app.store.keys_of(&Owner::partner(&pid)).await.expect("keys");
    assert!(stored.is_empty(), "keys survived suspension: {stored:?}");
    h.partner_as(&pkey, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    for r in rs.iter().filter(|r| r.status.as_u16() == 201) {
        let k = r.body["key"].as_str().expect("key");
        h.partner_as(k, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    }
}
