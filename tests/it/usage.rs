//! D14 and the usage report (`schedule.usage-report`) on the embedded store: a closed month is
//! answered from its snapshot, which nothing changes afterwards; open months are counted live.

use http::Method;
use serde_json::{json, Value};
use shared::domain::time::Month;
use shared::domain::usage::{MonthUsage, UsageSnapshot};
use shared::usage_report::{close_previous_month, live_usage};
use tests::*;

const APRIL: Month = Month { year: 2026, month: 4 };
const MAY: Month = Month { year: 2026, month: 5 };

async fn usage(h: &Harness, key: &str, query: &str) -> Value {
    h.distributor_as(key, Method::GET, &format!("/usage{query}"), None).await.assert_status(200).clone()
}

/// April with runs and customers on two partners (and a pending one), then the clock in May.
async fn april_then_may(h: &Harness) -> (String, String) {
    let a = h.customer("A", TENANT).await;
    let b = h.customer("B", TENANT2).await;
    run(h, &a, "essential-eight").await;
    run(h, &a, "nist-csf").await;
    let (q, qk) = h.active_partner("q@example.com", "professional").await;
    let qc = h.customer_for(&qk, "Q", &tenant(3)).await;
    run_for(h, &qk, &qc, "essential-eight").await;
    h.distributor(
        Method::POST,
        "/partners",
        Some(json!({
            "email": "p@example.com",
            "company": "Co P",
            "name": "P",
            "plan": "starter",
            "billing": { "currency": "AUD", "interval": "quarterly" },
        })),
    )
    .await
    .assert_status(201);
    h.clock.set(MAY_1 + 3600);
    (b, q)
}

#[tokio::test]
async fn a_closed_month_is_answered_from_its_snapshot() {
    let h = Harness::new().await;
    let dk = h.distributor_key().to_string();
    let (b, q) = april_then_may(&h).await;
    let (other_id, other_key) = h.other_distributor().await;

    // Before the report: April is counted live.
    let before = usage(&h, &dk, "?month=2026-04").await;
    assert_eq!(
        (&before["month"], &before["totalPartners"], &before["activePartners"]),
        (&json!("2026-04"), &json!(3), &json!(2))
    );
    assert_eq!((&before["totalCustomers"], &before["totalRuns"]), (&json!(3), &json!(3)));

    // The report closes April for both distributors, with exactly the numbers D14 showed.
    let closed = close_previous_month(h.app.store.as_ref(), h.app.now()).await.unwrap();
    assert_eq!((closed.month.as_str(), closed.distributors, closed.written), ("2026-04", 2, 2));
    assert_eq!(usage(&h, &dk, "?month=2026-04").await, before);
    let d = h.accounts.distributor.id.clone();
    let snap = h.app.store.usage_snapshot(&d, APRIL).await.unwrap().expect("April is closed");
    assert_eq!(snap.closed_at, MAY_1 + 3600);
    assert_eq!(snap.usage.to_json(), before);
    assert_eq!(h.app.store.usage_snapshot(&other_id, APRIL).await.unwrap().unwrap().usage.total_partners, 0);
    assert_eq!(h.app.store.usage_snapshot(&d, MAY).await.unwrap(), None, "May is still open");

    // The data changes after closing: a customer deleted, a partner suspended, one added, a
    // late April count. Live numbers for April move; the closed month does not.
    h.partner(Method::DELETE, &format!("/customers/{b}"), None).await.assert_status(204);
    h.distributor(Method::POST, &format!("/partners/{q}/suspend"), None).await.assert_status(200);
    h.active_partner("n@example.com", "professional").await;
    let late = h.app.store.all_partners(&d).await.unwrap();
    assert_eq!(late.len(), 4);
    let live = live_usage(h.app.store.as_ref(), &d, APRIL).await.unwrap().to_json();
    assert_ne!(live, before, "the live recount of April has moved");
    assert_eq!(usage(&h, &dk, "?month=2026-04").await, before);

    // Running the report again (a retry, later) changes nothing.
    h.clock.advance(86_400);
    let again = close_previous_month(h.app.store.as_ref(), h.app.now()).await.unwrap();
    assert_eq!((again.distributors, again.written), (2, 0));
    assert_eq!(h.app.store.usage_snapshot(&d, APRIL).await.unwrap(), Some(snap));
    assert_eq!(usage(&h, &dk, "?month=2026-04").await, before);

    // The other distributor reads its own snapshot.
    let theirs = usage(&h, &other_key, "?month=2026-04").await;
    assert_eq!((&theirs["totalPartners"], &theirs["byPartner"]), (&json!(0), &json!([])));
}

#[tokio::test]
async fn open_months_and_unclosed_months_are_counted_live() {
    let h = Harness::new().await;
    let dk = h.distributor_key().to_string();
    let (b, _) = april_then_may(&h).await;
    close_previous_month(h.app.store.as_ref(), h.app.now()).await.unwrap();

    // The current month (by default and by name) follows every change.
    let a = s(&h.partner(Method::GET, "/customers", None).await.assert_status(200)["customers"][0]["id"]);
    let may = usage(&h, &dk, "").await;
    assert_eq!((&may["month"], &may["totalRuns"], &may["totalCustomers"]), (&json!("2026-05"), &json!(0), &json!(3)));
    run(&h, &a, "essential-eight").await;
    h.partner(Method::DELETE, &format!("/customers/{b}"), None).await.assert_status(204);
    let may = usage(&h, &dk, "?month=2026-05").await;
    assert_eq!((&may["totalRuns"], &may["totalCustomers"]), (&json!(1), &json!(2)));
    assert_eq!(usage(&h, &dk, "").await, may);

    // A month that ended but was never closed (March) is a live recount.
    let march = usage(&h, &dk, "?month=2026-03").await;
    assert_eq!(
        (&march["month"], &march["totalRuns"], &march["totalCustomers"]),
        (&json!("2026-03"), &json!(0), &json!(2))
    );

    // A snapshot of a month that has not ended is never read (the report only closes ended
    // months; this one is planted through the store).
    let d = h.accounts.distributor.id.clone();
    let planted = UsageSnapshot {
        distributor_id: d.clone(),
        usage: MonthUsage {
            month: MAY,
            total_partners: 99,
            active_partners: 99,
            total_customers: 99,
            total_runs: 99,
            by_partner: vec![],
        },
        closed_at: h.app.now(),
    };
    assert!(h.app.store.close_usage_month(&planted).await.unwrap());
    assert_eq!(usage(&h, &dk, "").await, may);
    // A future month is live (and empty of runs) too.
    assert_eq!(usage(&h, &dk, "?month=2026-06").await["totalRuns"], 0);
}
