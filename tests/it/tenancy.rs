//! Tenancy: every id-taking route answers 404 NOT_FOUND for another tenant's id, exactly as
//! for an id that does not exist, and leaves the other tenant's resources untouched.

use http::Method;
use serde_json::{json, Value};
use shared::config::Config;
use shared::domain::account::{AccountStatus, Owner};
use shared::domain::customer::Customer;
use shared::domain::event::{Event, EventType};
use shared::domain::run::RunFilter;
use shared::domain::time::Month;
use shared::store::PageRequest;
use shared::usecases::accounts::{create_partner, NewAccount};
use tests::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The contract's defaults, with rate limits high enough for a matrix of requests.
fn roomy_config() -> Config {
    Config { rate_limit_partner_per_min: 100_000, rate_limit_distributor_per_min: 100_000, ..Config::default() }
}

/// A partner without a distributor (as the operator command makes one), with its key.
async fn orphan_partner(h: &Harness, email: &str, status: AccountStatus) -> (String, String) {
    let (p, key) = create_partner(
        h.app.store.as_ref(),
        &h.app.secrets,
        &h.app.ids,
        &h.app.config.catalog,
        None,
        "professional",
        NewAccount { company: "Solo MSP", email, status, fixed_key: None },
        h.app.now(),
    )
    .await
    .expect("orphan partner");
    (p.id.into_string(), key)
}

/// Puts a customer straight into the store (for partners whose key cannot be used yet).
async fn seed_customer(h: &Harness, partner_id: &str, name: &str, tenant_id: &str) -> String {
    let c = Customer {
        id: h.app.new_id(),
        partner_id: partner_id.into(),
        name: name.to_string(),
        tenant_id: shared::domain::tenant::TenantId::parse(tenant_id).unwrap(),
        email: None,
        receivers: vec![],
        questionnaire_recipients: vec![],
        created_at: h.app.now(),
        updated_at: None,
        version: 1,
        consent: Default::default(),
    };
    let e = Event {
        id: h.app.new_id(),
        kind: EventType::CustomerCreated,
        timestamp: h.app.now(),
        account: Owner::partner(partner_id),
        distributor_id: None,
        data: json!({ "id": c.id }),
        mail: Vec::new(),
        audit: None,
    };
    h.app.store.create_customer(&c, &e).await.expect("seed customer");
    c.id.into_string()
}

/// Everything stored about a partner, plus the size of the outbox: equal before and after a
/// refused request means the request changed nothing.
async fn stored_state(h: &Harness, partner_id: &str) -> Value {
    let s = &h.app.store;
    let all = PageRequest { limit: 1000, after: None };
    let partner = s.partner(partner_id).await.expect("partner");
    let keys: Vec<Value> = s
        .keys_of(&Owner::partner(partner_id))
        .await
        .expect("keys")
        .into_iter()
        .map(|k| json!({ "slot": k.slot, "hash": k.hash }))
        .collect();
    let customers = s.list_customers(partner_id, &all).await.expect("customers").items;
    let runs = s.list_runs(partner_id, &RunFilter::default(), &all).await.expect("runs").items;
    let used = s.runs_used(partner_id, Month::of(T0)).await.expect("usage");
    json!({
        "partner": partner,
        "keys": keys,
        "customers": customers,
        "runs": runs,
        "runsUsed": used,
        "events": h.events().await.len(),
    })
}

/// How a partner's owner sees it over HTTP: its distributor through D5/D10/D13, or the partner
/// itself through P1/P4/P12 when it has no distributor (and is active).
enum OwnerView {
    Distributor(String),
    Partner(String),
    None,
}

async fn owner_view(h: &Harness, partner_id: &str, owner: &OwnerView) -> Value {
    match owner {
        OwnerView::Distributor(key) => {
            let mut out = Vec::new();
            for path in ["", "/customers", "/assessments"] {
                let r = h.distributor_as(key, Method::GET, &format!("/partners/{partner_id}{path}"), None).await;
                out.push(r.assert_status(200).clone());
            }
            Value::Array(out)
        }
        OwnerView::Partner(key) => {
            let mut out = Vec::new();
            for path in ["/me", "/customers", "/assessments"] {
                let r = h.partner_as(key, Method::GET, path, None).await;
                out.push(r.assert_status(200).clone());
            }
            Value::Array(out)
        }
        OwnerView::None => Value::Null,
    }
}

// ---------------------------------------------------------------------------------------------
// Partner routes
// ---------------------------------------------------------------------------------------------

struct Neighbour {
    key: String,
    customer: String,
    run: String,
}

/// A second partner under the same distributor, with a customer and a run of its own.
async fn neighbour(h: &Harness) -> Neighbour {
    let (_, key) = h.active_partner("neighbour@msp.example", "professional").await;
    let customer = h.customer_for(&key, "Bravo Pty", &tenant(2)).await;
    let run = run_for(h, &key, &customer, "essential-eight").await;
    Neighbour { key, customer, run }
}

/// The neighbour's customer and run as the neighbour reads them, and its usage.
async fn neighbour_view(h: &Harness, n: &Neighbour) -> Value {
    let c = h.partner_as(&n.key, Method::GET, &format!("/customers/{}", n.customer), None).await;
    let r = h.partner_as(&n.key, Method::GET, &format!("/assessments/{}", n.run), None).await;
    let me = h.partner_as(&n.key, Method::GET, "/me", None).await;
    json!({
        "customer": c.assert_status(200),
        "run": r.assert_status(200),
        "usage": me.assert_status(200)["usage"],
    })
}

#[tokio::test]
async fn partner_routes_answer_404_for_another_partners_ids_and_change_nothing() {
    let h = Harness::with_config(roomy_config()).await;
    let own_customer = h.customer("Alpha Pty", &tenant(1)).await;
    run_for(&h, h.partner_key(), &own_customer, "essential-eight").await;
    let n = neighbour(&h).await;

    let cases: Vec<(&str, Method, String, Option<Value>)> = vec![
        ("P7", Method::GET, format!("/customers/{}", n.customer), None),
        (
            "P8",
            Method::PATCH,
            format!("/customers/{}", n.customer),
            Some(json!({ "name": "Hijacked", "email": "x@evil.example" })),
        ),
        ("P9", Method::DELETE, format!("/customers/{}", n.customer), None),
        ("P13", Method::GET, format!("/assessments/{}", n.run), None),
        (
            "P10",
            Method::POST,
            "/assessments".to_string(),
            Some(json!({ "customerId": n.customer, "product": "essential-eight" })),
        ),
    ];

    for (route, method, path, body) in cases {
        let before = (neighbour_view(&h, &n).await, stored_state(&h, h.partner_id()).await);
        let r = h.partner(method.clone(), &path, body.clone()).await;
        assert_eq!((r.status.as_u16(), r.code()), (404, "NOT_FOUND"), "{route} {method} {path}: {}", r.body);
        // Exactly as if it did not exist: the same answer as for an id nobody has.
        let ghost_path =
            path.replace(&n.customer, "cust_doesnotexist00000000").replace(&n.run, "run_doesnotexist000000000");
        let ghost_body = body.map(|b| {
            serde_json::from_str::<Value>(&b.to_string().replace(&n.customer, "cust_doesnotexist00000000"))
                .expect("json")
        });
        let ghost = h.partner(method.clone(), &ghost_path, ghost_body).await;
        assert_eq!(
            (ghost.status.as_u16(), ghost.code()),
            (404, "NOT_FOUND"),
            "{route} with an unknown id: {}",
            ghost.body
        );
        let after = (neighbour_view(&h, &n).await, stored_state(&h, h.partner_id()).await);
        assert_eq!(before, after, "{route} changed something");
    }
}

#[tokio::test]
async fn bulk_trigger_with_another_partners_customer_fails_that_item_only() {
    let h = Harness::with_config(roomy_config()).await;
    let own = h.customer("Alpha Pty", &tenant(1)).await;
    let n = neighbour(&h).await;
    let before = neighbour_view(&h, &n).await;

    let r = h
        .partner(
            Method::POST,
            "/assessments/bulk",
            Some(json!({ "customerIds": [own, n.customer], "product": "essential-eight" })),
        )
        .await;
    let body = r.assert_status(202);
    assert_eq!((body["queued"].as_u64(), body["failed"].as_u64()), (Some(1), Some(1)), "{body}");
    assert_eq!(body["runs"][1]["customerId"], json!(n.customer));
    assert_eq!(body["runs"][1]["error"]["code"], "NOT_FOUND", "{body}");
    assert_eq!(neighbour_view(&h, &n).await, before);
    let mine = h.partner(Method::GET, "/assessments", None).await;
    let runs = mine.assert_status(200)["runs"].as_array().expect("runs").clone();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["customerId"], json!(own));
}

#[tokio::test]
async fn run_list_filtered_by_another_partners_customer_is_empty() {
    let h = Harness::with_config(roomy_config()).await;
    let own = h.customer("Alpha Pty", &tenant(1)).await;
    let own_run = run_for(&h, h.partner_key(), &own, "essential-eight").await;
    let n = neighbour(&h).await;

    let r = h.partner(Method::GET, &format!("/assessments?customerId={}", n.customer), None).await;
    let body = r.assert_status(200);
    assert_eq!(body["runs"], json!([]), "{body}");
    assert_eq!(body["nextCursor"], Value::Null);

    // The filter itself works: the partner's own customer finds its run.
    let r = h.partner(Method::GET, &format!("/assessments?customerId={own}"), None).await;
    let runs = r.assert_status(200)["runs"].as_array().expect("runs").clone();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], json!(own_run));

    // And the neighbour's customer listing stays out of this partner's customer list.
    let list = h.partner(Method::GET, "/customers", None).await;
    let ids: Vec<&Value> =
        list.assert_status(200)["customers"].as_array().expect("customers").iter().map(|c| &c["id"]).collect();
    assert_eq!(ids, vec![&json!(own)]);
}

#[tokio::test]
async fn neighbour_ids_do_not_leak_through_a_customers_recent_runs() {
    let h = Harness::with_config(roomy_config()).await;
    let own = h.customer("Alpha Pty", &tenant(1)).await;
    let n = neighbour(&h).await;
    // The same tenant under two partners is two separate customers.
    let twin = h.customer_for(&n.key, "Alpha twin", &tenant(1)).await;
    run_for(&h, &n.key, &twin, "essential-eight").await;
    let r = h.partner(Method::GET, &format!("/customers/{own}"), None).await;
    assert_eq!(r.assert_status(200)["recentRuns"], json!([]));
}

// ---------------------------------------------------------------------------------------------
// Distributor routes
// ---------------------------------------------------------------------------------------------

/// A partner the start-up distributor must not reach, how its owner reads it, and a customer
/// of it (for D12's body).
struct Target {
    label: &'static str,
    id: String,
    owner: OwnerView,
    customer: String,
}

async fn foreign_targets(h: &Harness) -> Vec<Target> {
    let (_, d2_key) = h.other_distributor().await;

    // Another distributor's active partner, with a customer and a run.
    let (active_id, active_key) = h.active_partner_under(&d2_key, "active@other-msp.example", "starter").await;
    let active_customer = h.customer_for(&active_key, "Other Co", &tenant(10)).await;
    run_for(h, &active_key, &active_customer, "essential-eight").await;

    // Another distributor's pending partner (no keys yet), with a customer.
    let pending_id = h
        .distributor_as(
            &d2_key,
            Method::POST,
            "/partners",
            Some(json!({
                "email": "pending@other-msp.example", "company": "Pending Co", "name": "P",
                "plan": "starter", "billing": { "currency": "EUR" }
            })),
        )
        .await
        .assert_status(201)["id"]
        .as_str()
        .expect("id")
        .to_string();
    let pending_customer = h
        .distributor_as(
            &d2_key,
            Method::POST,
            &format!("/partners/{pending_id}/customers"),
            Some(customer_body("Pending Customer", &tenant(11))),
        )
        .await
        .assert_status(201)["id"]
        .as_str()
        .expect("id")
        .to_string();

    // A partner with no distributor, active, with a customer and a run.
    let (orphan_id, orphan_key) = orphan_partner(h, "solo@orphan.example", AccountStatus::Active).await;
    let orphan_customer = h.customer_for(&orphan_key, "Solo Customer", &tenant(12)).await;
    run_for(h, &orphan_key, &orphan_customer, "essential-eight").await;

    // A partner with no distributor, still pending.
    let (orphan_pending_id, _) = orphan_partner(h, "waiting@orphan.example", AccountStatus::Pending).await;
    let orphan_pending_customer = seed_customer(h, &orphan_pending_id, "Waiting Customer", &tenant(13)).await;

    vec![
        Target {
            label: "other distributor's active partner",
            id: active_id,
            owner: OwnerView::Distributor(d2_key.clone()),
            customer: active_customer,
        },
        Target {
            label: "other distributor's pending partner",
            id: pending_id,
            owner: OwnerView::Distributor(d2_key),
            customer: pending_customer,
        },
        Target {
            label: "active partner without a distributor",
            id: orphan_id,
            owner: OwnerView::Partner(orphan_key),
            customer: orphan_customer,
        },
        Target {
            label: "pending partner without a distributor",
            id: orphan_pending_id,
            owner: OwnerView::None,
            customer: orphan_pending_customer,
        },
    ]
}

/// Every distributor route that takes a partner id, with a body that would succeed for one
/// of the caller's own partners.
fn distributor_cases(customer: &str) -> Vec<(&'static str, Method, &'static str, Option<Value>)> {
    vec![
        ("D5", Method::GET, "", None),
        ("D6", Method::PATCH, "", Some(json!({ "plan": "enterprise", "billing": { "currency": "GBP" } }))),
        ("D7", Method::POST, "/activate", None),
        ("D8", Method::POST, "/suspend", None),
        ("D9", Method::POST, "/plan", Some(json!({ "plan": "enterprise" }))),
        ("D10", Method::GET, "/customers", None),
        ("D11", Method::POST, "/customers", Some(customer_body("Intruder", &tenant(99)))),
        ("D12", Method::POST, "/assessments", Some(assessment_body(customer, "essential-eight"))),
        ("D13", Method::GET, "/assessments", None),
        ("D15", Method::POST, "/keys", None),
    ]
}

#[tokio::test]
async fn distributor_routes_answer_404_for_partners_of_others_and_change_nothing() {
    let h = Harness::with_config(roomy_config()).await;
    let targets = foreign_targets(&h).await;

    for t in &targets {
        for (route, method, suffix, body) in distributor_cases(&t.customer) {
            let before = (stored_state(&h, &t.id).await, owner_view(&h, &t.id, &t.owner).await);
            let path = format!("/partners/{}{suffix}", t.id);
            let r = h.distributor(method.clone(), &path, body.clone()).await;
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (404, "NOT_FOUND"),
                "{route} {method} {path} ({}): {}",
                t.label,
                r.body
            );
            let after = (stored_state(&h, &t.id).await, owner_view(&h, &t.id, &t.owner).await);
            assert_eq!(before, after, "{route} on the {} changed something", t.label);
        }
    }
}

#[tokio::test]
async fn distributor_routes_answer_for_a_foreign_partner_as_for_a_missing_one() {
    let h = Harness::with_config(roomy_config()).await;
    let targets = foreign_targets(&h).await;
    let ghost = "prt_doesnotexist000000000";
    for (route, method, suffix, body) in distributor_cases(&targets[0].customer) {
        let missing = h.distributor(method.clone(), &format!("/partners/{ghost}{suffix}"), body.clone()).await;
        missing.assert_error(404, "NOT_FOUND");
        for t in &targets {
            let r = h.distributor(method.clone(), &format!("/partners/{}{suffix}", t.id), body.clone()).await;
            assert_eq!((r.status, r.code()), (missing.status, missing.code()), "{route} ({})", t.label);
            // The message names the id asked for, nothing about who owns it.
            let msg = r.body["error"]["message"].as_str().unwrap_or("");
            let ghost_msg = missing.body["error"]["message"].as_str().unwrap_or("");
            assert_eq!(msg.replace(&t.id, ghost), ghost_msg, "{route} ({})", t.label);
        }
    }
}

#[tokio::test]
async fn foreign_partners_never_appear_in_the_distributors_lists_or_usage() {
    let h = Harness::with_config(roomy_config()).await;
    let targets = foreign_targets(&h).await;
    let list = h.distributor(Method::GET, "/partners", None).await;
    let ids: Vec<String> = list.assert_status(200)["partners"]
        .as_array()
        .expect("partners")
        .iter()
        .map(|p| p["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids, vec![h.partner_id().to_string()]);
    for t in &targets {
        assert!(!ids.contains(&t.id), "{} listed", t.label);
    }
    let me = h.distributor(Method::GET, "/me", None).await;
    let me = me.assert_status(200);
    assert_eq!(me["partnersCount"], 1, "{me}");
    assert_eq!(me["usage"]["totalRuns"], 0, "{me}");
    assert_eq!(me["usage"]["totalCustomers"], 0, "{me}");
}
