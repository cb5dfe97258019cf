//! The outbox: each change the contract lists an event for records exactly that event, for
//! the right receivers, and a refused change records none.

use http::Method;
use serde_json::{json, Value};
use shared::domain::account::{AccountStatus, Owner};
use shared::domain::event::{Event, EventType};
use shared::usecases::accounts::{create_partner, NewAccount};
use tests::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The events recorded since `before` events were in the outbox (nothing acks them here).
async fn new_events(h: &Harness, before: usize) -> Vec<Event> {
    let all = h.events().await;
    assert!(all.len() >= before, "events disappeared from the outbox");
    all[before..].to_vec()
}

/// Exactly one new event since `before`, of `kind`.
#[track_caller]
fn single(events: &[Event], kind: EventType) -> Event {
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec![kind.as_str()], "expected exactly one {}", kind.as_str());
    events[0].clone()
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn is_rfc3339_utc_seconds(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// The id is `evt_` and at least 16 base62 characters; the payload is exactly
/// `{id, type, timestamp, data}` with an RFC 3339 UTC timestamp.
#[track_caller]
fn assert_well_formed(e: &Event, at: &str) {
    let rest = e.id.strip_prefix("evt_").unwrap_or_else(|| panic!("id {}", e.id));
    assert!(rest.len() >= 16 && rest.bytes().all(|b| b.is_ascii_alphanumeric()), "id {}", e.id);
    let p = e.payload();
    let keys: Vec<&String> = p.as_object().expect("payload object").keys().collect();
    assert_eq!(keys, vec!["id", "type", "timestamp", "data"], "{p}");
    assert_eq!(p["id"], json!(e.id));
    assert_eq!(p["type"], json!(e.kind.as_str()));
    let ts = p["timestamp"].as_str().expect("timestamp");
    assert!(is_rfc3339_utc_seconds(ts), "timestamp {ts}");
    assert_eq!(ts, at);
    assert_eq!(p["data"], e.data);
    assert!(e.data.is_object(), "data {}", e.data);
}

/// What is sent, and the status and code it is refused with.
type Refused = (&'static str, Method, String, Option<Value>, u16, &'static str);

fn dist_id(h: &Harness) -> shared::domain::ids::DistributorId {
    h.accounts.distributor.id.clone()
}

async fn pending_partner(h: &Harness, email: &str) -> String {
    h.distributor(
        Method::POST,
        "/partners",
        Some(json!({
            "email": email, "company": "Pending Co", "name": "P",
            "plan": "starter", "billing": { "currency": "AUD" }
        })),
    )
    .await
    .assert_status(201)["id"]
        .as_str()
        .expect("id")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Customers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_a_customer_records_customer_created() {
    let h = Harness::new().await;
    let before = h.events().await.len();
    let r = h
        .partner(
            Method::POST,
            "/customers",
            Some(json!({ "name": "Alpha Pty", "tenantId": tenant(1), "email": "it@alpha.example" })),
        )
        .await;
    let id = r.assert_status(201)["id"].clone();
    let e = single(&new_events(&h, before).await, EventType::CustomerCreated);
    assert_well_formed(&e, T0_STR);
    assert_eq!(e.timestamp, T0);
    assert_eq!(e.account, Owner::partner(h.partner_id()));
    assert_eq!(e.distributor_id, Some(dist_id(&h)));
    assert_eq!(e.data["id"], id);
    assert_eq!(e.data["name"], "Alpha Pty");
    assert_eq!(e.data["tenantId"], json!(tenant(1)));
    assert_eq!(e.data["email"], "it@alpha.example");
    assert_eq!(e.data["partnerId"], json!(h.partner_id()));
}

#[tokio::test]
async fn a_customer_made_by_the_distributor_is_the_partners_event_too() {
    let h = Harness::new().await;
    let before = h.events().await.len();
    let pid = h.partner_id().to_string();
    let r = h
        .distributor(
            Method::POST,
            &format!("/partners/{pid}/customers"),
            Some(customer_body("Via Distributor", &tenant(3))),
        )
        .await;
    let id = r.assert_status(201)["id"].clone();
    let e = single(&new_events(&h, before).await, EventType::CustomerCreated);
    assert_well_formed(&e, T0_STR);
    assert_eq!(e.account, Owner::partner(&pid));
    assert_eq!(e.distributor_id, Some(dist_id(&h)));
    assert_eq!(e.data["id"], id);
    assert_eq!(e.data["partnerId"], json!(pid));
}

#[tokio::test]
async fn a_partner_without_a_distributor_has_customer_events_for_itself_only() {
    let h = Harness::new().await;
    let (p, key) = create_partner(
        h.app.store.as_ref(),
        &h.app.secrets,
        &h.app.ids,
        &h.app.config.catalog,
        None,
        "professional",
        NewAccount { company: "Solo", email: "solo@orphan.example", status: AccountStatus::Active, fixed_key: None },
        h.app.now(),
    )
    .await
    .expect("partner");
    let before = h.events().await.len();
    let id = h.pending_customer_for(&key, "Solo Customer", &tenant(4)).await;
    let e = single(&new_events(&h, before).await, EventType::CustomerCreated);
    assert_eq!(e.account, Owner::partner(&p.id));
    assert_eq!(e.distributor_id, None);
    assert_eq!(e.data["id"], json!(id));
}

#[tokio::test]
async fn updating_a_customer_records_customer_updated_with_the_new_state() {
    let h = Harness::new().await;
    let id = h.customer("Alpha Pty", &tenant(1)).await;
    h.clock.advance(90);
    let before = h.events().await.len();
    h.partner(Method::PATCH, &format!("/customers/{id}"), Some(customer_body("Alpha Group", &tenant(2))))
        .await
        .assert_status(200);
    let e = single(&new_events(&h, before).await, EventType::CustomerUpdated);
    assert_well_formed(&e, "2026-04-03T10:01:30Z");
    assert_eq!(e.timestamp, T0 + 90);
    assert_eq!(e.account, Owner::partner(h.partner_id()));
    assert_eq!(e.distributor_id, Some(dist_id(&h)));
    assert_eq!(e.data["id"], json!(id));
    assert_eq!(e.data["name"], "Alpha Group");
    assert_eq!(e.data["tenantId"], json!(tenant(2)));
    assert_eq!(e.data["updatedAt"], "2026-04-03T10:01:30Z");
}

#[tokio::test]
async fn deleting_a_customer_records_customer_deleted() {
    let h = Harness::new().await;
    let id = h.customer("Alpha Pty", &tenant(1)).await;
    let before = h.events().await.len();
    h.partner(Method::DELETE, &format!("/customers/{id}"), None).await.assert_status(204);
    let e = single(&new_events(&h, before).await, EventType::CustomerDeleted);
    assert_well_formed(&e, T0_STR);
    assert_eq!(e.account, Owner::partner(h.partner_id()));
    assert_eq!(e.distributor_id, Some(dist_id(&h)));
    assert_eq!(e.data["id"], json!(id));
}

#[tokio::test]
async fn a_customers_life_is_recorded_in_order() {
    let h = Harness::new().await;
    let id = h.pending_customer_for(h.partner_key(), "Alpha Pty", &tenant(1)).await;
    h.partner(Method::PATCH, &format!("/customers/{id}"), Some(json!({ "name": "Alpha Group" })))
        .await
        .assert_status(200);
    h.partner(Method::DELETE, &format!("/customers/{id}"), None).await.assert_status(204);
    let events = h.events().await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["customer.created", "customer.updated", "customer.deleted"]);
    assert!(events.iter().all(|e| e.data["id"] == json!(id)));
    let ids: std::collections::BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "event ids are unique");
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn generating_a_key_records_key_created_for_its_owner() {
    let h = Harness::new().await;
    let before = h.events().await.len();
    h.partner(Method::POST, "/keys", None).await.assert_status(201);
    let e = single(&new_events(&h, before).await, EventType::KeyCreated);
    assert_well_formed(&e, T0_STR);
    assert_eq!(e.account, Owner::partner(h.partner_id()));
    assert_eq!(e.distributor_id, None, "key events go to the key's owner only");
    assert_eq!(e.data["slot"], 2);
    // The key itself never travels in an event.
    assert!(!e.data.to_string().contains("pk_live_"), "{}", e.data);
}

#[tokio::test]
async fn a_key_issued_by_the_distributor_records_key_created_for_the_partner() {
    let h = Harness::new().await;
    let pid = pending_partner(&h, "new@msp.example").await;
    let before = h.events().await.len();
    let r = h.distributor(Method::POST, &format!("/partners/{pid}/keys"), None).await;
    assert_eq!(r.assert_status(201)["slot"], 1);
    let e = single(&new_events(&h, before).await, EventType::KeyCreated);
    assert_well_formed(&e, T0_STR);
    assert_eq!(e.account, Owner::partner(&pid));
    assert_eq!(e.data["slot"], 1);
    assert!(!e.data.to_string().contains("pk_live_"), "{}", e.data);
}

#[tokio::test]
async fn revoking_a_key_records_key_revoked() {
    let h = Harness::new().await;
    h.partner(Method::POST, "/keys", None).await.assert_status(201);
    let before = h.events().await.len();
    h.partner(Method::DELETE, "/keys/2", None).await.assert_status(204);
    let e = single(&new_events(&h, before).await, EventType::KeyRevoked);
    assert_well_formed(&e, T0_STR);
    assert_eq!(e.account, Owner::partner(h.partner_id()));
    assert_eq!(e.data["slot"], 2);
}

// ---------------------------------------------------------------------------------------------
// Partners
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn activating_records_partner_activated_once() {
    let h = Harness::new().await;
    let pid = pending_partner(&h, "new@msp.example").await;
    let before = h.events().await.len();
    h.distributor(Method::POST, &format!("/partners/{pid}/activate"), None).await.assert_status(200);
    let e = single(&new_events(&h, before).await, EventType::PartnerActivated);
    assert_well_formed(&e, T0_STR);
    assert_eq!(e.account, Owner::distributor(&dist_id(&h)));
    assert_eq!(e.data["partnerId"], json!(pid));
    assert_eq!(e.data["status"], "active");

    // Activating an active partner changes nothing and records nothing.
    let before = h.events().await.len();
    h.distributor(Method::POST, &format!("/partners/{pid}/activate"), None).await.assert_status(200);
    assert!(new_events(&h, before).await.is_empty());
}

#[tokio::test]
async fn suspending_records_partner_suspended_once() {
    let h = Harness::new().await;
    let pid = h.partner_id().to_string();
    let before = h.events().await.len();
    h.distributor(Method::POST, &format!("/partners/{pid}/suspend"), None).await.assert_status(200);
    let e = single(&new_events(&h, before).await, EventType::PartnerSuspended);
    assert_well_formed(&e, T0_STR);
    assert_eq!(e.account, Owner::distributor(&dist_id(&h)));
    assert_eq!(e.data["partnerId"], json!(pid));
    assert_eq!(e.data["status"], "suspended");

    let before = h.events().await.len();
    h.distributor(Method::POST, &format!("/partners/{pid}/suspend"), None).await.assert_status(200);
    assert!(new_events(&h, before).await.is_empty());

    // Reactivation is its own event.
    h.clock.advance(60);
    h.distributor(Method::POST, &format!("/partners/{pid}/activate"), None).await.assert_status(200);
    let e = single(&new_events(&h, before).await, EventType::PartnerActivated);
    assert_well_formed(&e, "2026-04-03T10:01:00Z");
}

// ---------------------------------------------------------------------------------------------
// Changes without an event, and refused changes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn changes_the_contract_lists_no_event_for_record_none() {
    let h = Harness::new().await;
    let customer = h.customer("Alpha Pty", &tenant(1)).await;
    let pid = h.partner_id().to_string();
    let before = h.events().await.len();
    // Queuing a run (assessment.started comes when it runs), provisioning a partner, plan
    // and billing changes.
    h.partner(Method::POST, "/assessments", Some(assessment_body(&customer, "essential-eight")))
        .await
        .assert_status(202);
    pending_partner(&h, "quiet@msp.example").await;
    h.distributor(Method::PATCH, &format!("/partners/{pid}"), Some(json!({ "billing": { "interval": "annual" } })))
        .await
        .assert_status(200);
    h.distributor(Method::POST, &format!("/partners/{pid}/plan"), Some(json!({ "plan": "enterprise" })))
        .await
        .assert_status(200);
    h.partner(Method::POST, "/plan", Some(json!({ "plan": "starter" }))).await.assert_status(200);
    // Mail-only outbox entries (the new partner's partner-created mail) are not webhook events.
    let got: Vec<String> = new_events(&h, before)
        .await
        .iter()
        .filter(|e| e.kind != EventType::Mail)
        .map(|e| e.kind.as_str().to_string())
        .collect();
    assert!(got.is_empty(), "unexpected events: {got:?}");
}

#[tokio::test]
async fn refused_changes_record_no_event() {
    let h = Harness::with_config(with_runs(&[("professional", Some(1))])).await;
    let customer = h.customer("Alpha Pty", &tenant(1)).await;
    h.partner(Method::POST, "/assessments", Some(assessment_body(&customer, "essential-eight")))
        .await
        .assert_status(202);
    let other = h.customer("Beta Pty", &tenant(2)).await;
    let before = h.events().await.len();

    let refused: Vec<Refused> = vec![
        (
            "CUSTOMER_EXISTS",
            Method::POST,
            "/customers".into(),
            Some(customer_body("Again", &tenant(1))),
            409,
            "CUSTOMER_EXISTS",
        ),
        (
            "tenant change to a taken tenant",
            Method::PATCH,
            format!("/customers/{other}"),
            Some(json!({ "tenantId": tenant(1) })),
            409,
            "CUSTOMER_EXISTS",
        ),
        (
            "bad GUID",
            Method::POST,
            "/customers".into(),
            Some(json!({ "name": "Bad", "tenantId": "not-a-guid" })),
            400,
            "INVALID_FIELD",
        ),
        (
            "missing name",
            Method::POST,
            "/customers".into(),
            Some(json!({ "tenantId": tenant(5) })),
            400,
            "MISSING_FIELD",
        ),
        (
            "bad email on update",
            Method::PATCH,
            format!("/customers/{customer}"),
            Some(json!({ "name": "Renamed", "email": "nope" })),
            400,
            "INVALID_FIELD",
        ),
        (
            "unknown field on update",
            Method::PATCH,
            format!("/customers/{customer}"),
            Some(json!({ "name": "Renamed", "colour": "red" })),
            400,
            "INVALID_FIELD",
        ),
        (
            "delete of a missing customer",
            Method::DELETE,
            "/customers/cust_doesnotexist000000000".into(),
            None,
            404,
            "NOT_FOUND",
        ),
        (
            "RUN_LIMIT_REACHED",
            Method::POST,
            "/assessments".into(),
            Some(assessment_body(&customer, "essential-eight")),
            403,
            "RUN_LIMIT_REACHED",
        ),
        ("LAST_KEY", Method::DELETE, "/keys/1".into(), None, 409, "LAST_KEY"),
        ("revoking an empty slot", Method::DELETE, "/keys/2".into(), None, 404, "NOT_FOUND"),
    ];
    for (what, method, path, body, status, code) in refused {
        let r = h.partner(method, &path, body).await;
        r.assert_error(status, code);
        let got: Vec<String> = new_events(&h, before).await.iter().map(|e| e.kind.as_str().to_string()).collect();
        assert!(got.is_empty(), "{what} recorded {got:?}");
    }

    // Both slots full: MAX_KEYS records nothing beyond the one key that was made.
    h.partner(Method::POST, "/keys", None).await.assert_status(201);
    let before = h.events().await.len();
    h.partner(Method::POST, "/keys", None).await.assert_error(409, "MAX_KEYS");
    assert!(new_events(&h, before).await.is_empty(), "MAX_KEYS recorded an event");

    // The distributor side: PARTNER_EXISTS, a bad body, a suspended partner's key.
    let pid = pending_partner(&h, "dup@msp.example").await;
    let before = h.events().await.len();
    h.distributor(
        Method::POST,
        "/partners",
        Some(json!({
            "email": "DUP@msp.example", "company": "Dup", "name": "D",
            "plan": "starter", "billing": { "currency": "AUD" }
        })),
    )
    .await
    .assert_error(409, "PARTNER_EXISTS");
    h.distributor(
        Method::POST,
        &format!("/partners/{pid}/customers"),
        Some(json!({ "name": "Bad", "tenantId": "123" })),
    )
    .await
    .assert_error(400, "INVALID_FIELD");
    h.distributor(Method::POST, &format!("/partners/{pid}/suspend"), None).await.assert_status(200);
    let before = before + 1;
    h.distributor(Method::POST, &format!("/partners/{pid}/keys"), None).await.assert_error(403, "PARTNER_INACTIVE");
    let got: Vec<String> = new_events(&h, before).await.iter().map(|e| e.kind.as_str().to_string()).collect();
    assert!(got.is_empty(), "refused distributor requests recorded {got:?}");
}

#[tokio::test]
async fn acknowledged_events_leave_the_outbox() {
    let h = Harness::new().await;
    h.pending_customer_for(h.partner_key(), "Alpha Pty", &tenant(1)).await;
    h.pending_customer_for(h.partner_key(), "Beta Pty", &tenant(2)).await;
    let events = h.events().await;
    assert_eq!(events.len(), 2);
    h.app.store.ack_events(&[events[0].id.to_string()]).await.expect("ack");
    let left = h.events().await;
    assert_eq!(left, vec![events[1].clone()]);
}

#[tokio::test]
async fn an_idempotent_replay_records_no_second_event() {
    let h = Harness::new().await;
    let body = customer_body("Alpha Pty", &tenant(1)).to_string();
    let path = format!("{PARTNER_BASE}/customers");
    let headers =
        [("x-partner-key", h.partner_key()), ("content-type", "application/json"), ("idempotency-key", "create-alpha")];
    let send = || h.request(Method::POST, &path, &headers, Some(bytes::Bytes::from(body.clone())));
    let first = send().await;
    first.assert_status(201);
    let again = send().await;
    assert_eq!(again.status.as_u16(), 201, "{}", again.body);
    assert_eq!(again.body, first.body, "the first answer, replayed");
    let e = single(&h.events().await, EventType::CustomerCreated);
    assert_eq!(e.data["id"], first.body["id"]);
}
