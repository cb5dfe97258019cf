//! The audit log (contract, "Billing and audit"): entries that hold no secret by construction,
//! one per change in the change's own write, and `GET /audit` with its filters and tenancy on
//! both bases. The store's side (both adapters) is in `audit_contract.rs`.

use http::Method;
use serde_json::{json, Value};
use shared::domain::audit::{is_secret_name, Changes, REDACTED};
use tests::{customer_body, tenant, Harness};

fn entries(v: &Value) -> Vec<Value> {
    v["entries"].as_array().expect("entries").clone()
}

async fn audit(h: &Harness, query: &str) -> Vec<Value> {
    entries(h.partner(Method::GET, &format!("/audit{query}"), None).await.assert_status(200))
}

async fn dist_audit(h: &Harness, key: &str, query: &str) -> Vec<Value> {
    entries(h.distributor_as(key, Method::GET, &format!("/audit{query}"), None).await.assert_status(200))
}

fn actions(list: &[Value]) -> Vec<&str> {
    list.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

#[test]
fn a_field_named_like_a_secret_or_a_value_shaped_like_one_is_redacted_by_construction() {
    let c = Changes::new()
        .field("secret", "whsec_old", "whsec_new")
        .field("apiKey", "anything", "else")
        .field("stripeWebhookSecret", json!(null), "abc")
        .field("keySlot", 1, 2)
        .field("note", "plain", "pk_live_0123456789abcdefghijklmnopqrstuv")
        .field("nested", json!({ "token": "t1", "name": "a" }), json!({ "token": "t2", "name": "b" }))
        .field("unchanged", "same", "same");
    let shown = serde_json::to_value(&c).unwrap();
    assert_eq!(shown["secret"], json!({ "from": REDACTED, "to": REDACTED }), "a rotation says it changed, not what to");
    assert_eq!(shown["apiKey"], json!({ "from": REDACTED, "to": REDACTED }));
    assert_eq!(shown["stripeWebhookSecret"], json!({ "from": null, "to": REDACTED }));
    assert_eq!(shown["keySlot"], json!({ "from": 1, "to": 2 }), "a slot number is not a secret");
    assert_eq!(shown["note"], json!({ "from": "plain", "to": REDACTED }), "a key-shaped value under any name");
    assert_eq!(shown["nested"]["to"], json!({ "token": REDACTED, "name": "b" }));
    assert!(shown.get("unchanged").is_none(), "only fields that really changed");
    for name in
        ["secret", "webhookSecret", "clientSecret", "token", "accessToken", "password", "keyHash", "apiKey", "key"]
    {
        assert!(is_secret_name(name), "{name}");
    }
    for name in ["keySlot", "name", "plan", "url", "events", "consentStatus"] {
        assert!(!is_secret_name(name), "{name}");
    }
}

#[tokio::test]
async fn customer_changes_are_audited_with_the_key_as_actor_and_only_the_fields_that_changed() {
    let h = Harness::new().await;
    let pid = h.partner_id().to_string();
    let r = h.partner(Method::POST, "/customers", Some(customer_body("Contoso", &tenant(1)))).await;
    let id = r.assert_status(201)["id"].as_str().unwrap().to_string();
    h.partner(Method::PATCH, &format!("/customers/{id}"), Some(json!({ "name": "Contoso Ltd" })))
        .await
        .assert_status(200);
    h.partner(Method::DELETE, &format!("/customers/{id}"), None).await;

    let list = audit(&h, &format!("?targetId={id}")).await;
    assert_eq!(actions(&list), ["customer.deleted", "customer.updated", "customer.created"], "newest first");
    let updated = &list[1];
    assert_eq!(updated["actor"], json!({ "type": "partner", "id": pid, "keySlot": 1 }));
    assert_eq!(updated["target"], json!({ "type": "customer", "id": id }));
    assert_eq!(updated["changes"], json!({ "name": { "from": "Contoso", "to": "Contoso Ltd" } }));
    assert_eq!(list[2]["changes"]["tenantId"], json!({ "from": null, "to": tenant(1) }));
    assert_eq!(list[0]["changes"]["name"], json!({ "from": "Contoso Ltd", "to": null }));
    for e in &list {
        assert!(e["id"].as_str().unwrap().starts_with("aud_"));
        assert!(e["at"].as_str().unwrap().ends_with('Z'));
    }
    // The start-up partner and its first key were made by the operator (as `admin` makes them).
    let by_operator = audit(&h, &format!("?targetId={pid}")).await;
    assert_eq!(actions(&by_operator), ["partner.created"]);
    assert_eq!(by_operator[0]["actor"], json!({ "type": "operator", "id": "admin", "keySlot": null }));
    let key = audit(&h, &format!("?targetId={pid}/1")).await;
    assert_eq!((key[0]["action"].as_str(), key[0]["actor"]["type"].as_str()), (Some("key.created"), Some("operator")));
}

#[tokio::test]
async fn a_refused_change_records_nothing() {
    let h = Harness::new().await;
    h.partner(Method::POST, "/customers", Some(customer_body("A", &tenant(1)))).await.assert_status(201);
    let before = audit(&h, "").await.len();
    // The same tenant again: 409, nothing written, so no entry.
    h.partner(Method::POST, "/customers", Some(customer_body("B", &tenant(1))))
        .await
        .assert_error(409, "CUSTOMER_EXISTS");
    // A patch that changes nothing records nothing either.
    let id = audit(&h, "").await[0]["target"]["id"].as_str().unwrap().to_string();
    h.partner(Method::PATCH, &format!("/customers/{id}"), Some(json!({ "name": "A" }))).await.assert_status(200);
    assert_eq!(audit(&h, "").await.len(), before);
}

#[tokio::test]
async fn a_distributors_plan_change_is_under_the_distributors_id_and_each_side_sees_only_its_own() {
    let h = Harness::new().await;
    let (pid, pkey) = h.active_partner("audit@msp.example", "starter").await;
    let dist_id = h.distributor(Method::GET, "/me", None).await.assert_status(200)["id"].as_str().unwrap().to_string();
    let r =
        h.distributor(Method::POST, &format!("/partners/{pid}/plan"), Some(json!({ "plan": "professional" }))).await;
    r.assert_status(200);

    // The partner sees the change to its account, made by the distributor's key.
    let mine = entries(h.partner_as(&pkey, Method::GET, "/audit?action=plan.changed", None).await.assert_status(200));
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["actor"]["type"], "distributor");
    assert_eq!(mine[0]["actor"]["id"], dist_id.as_str());
    assert_eq!(mine[0]["target"], json!({ "type": "partner", "id": pid }));
    assert_eq!(mine[0]["changes"]["plan"], json!({ "from": "starter", "to": "professional" }));
    // The distributor sees its own actions on its partners: created, activated, key, plan.
    let d = dist_audit(&h, h.distributor_key(), &format!("?targetId={pid}")).await;
    assert_eq!(actions(&d), ["plan.changed", "partner.activated", "partner.created"]);
    let keys = dist_audit(&h, h.distributor_key(), &format!("?targetId={pid}/1")).await;
    assert_eq!(actions(&keys), ["key.created"]);
    // Another partner, and another distributor, see none of it.
    assert!(audit(&h, "?action=plan.changed").await.is_empty(), "the start-up partner's log is its own");
    let (other_id, other_key) = h.other_distributor().await;
    let theirs = dist_audit(&h, &other_key, "").await;
    assert_eq!(actions(&theirs), ["key.created"], "only its own first key");
    assert_eq!(theirs[0]["target"]["id"], format!("{other_id}/1"));
    // A partner's own plan change (P2) is under its own key.
    h.partner_as(&pkey, Method::POST, "/plan", Some(json!({ "plan": "enterprise" }))).await.assert_status(200);
    let mine = entries(h.partner_as(&pkey, Method::GET, "/audit?action=plan.changed", None).await.assert_status(200));
    assert_eq!(mine[0]["actor"], json!({ "type": "partner", "id": pid, "keySlot": 1 }));
}

#[tokio::test]
async fn webhook_changes_and_rotation_are_audited_without_the_secret() {
    let h = Harness::new().await;
    let body = json!({ "url": "https://hooks.example.com/services/T0/B0/s3cr3tpath", "events": ["customer.created"] });
    let r = h.partner(Method::POST, "/webhooks", Some(body)).await;
    let created = r.assert_status(201).clone();
    let id = created["webhook"]["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    let r = h.partner(Method::PATCH, &format!("/webhooks/{id}"), Some(json!({ "rotateSecret": true }))).await;
    let rotated = r.assert_status(200)["secret"].as_str().unwrap().to_string();
    h.partner(Method::PATCH, &format!("/webhooks/{id}"), Some(json!({ "enabled": false }))).await.assert_status(200);
    h.partner(Method::DELETE, &format!("/webhooks/{id}"), None).await;

    let list = audit(&h, &format!("?targetId={id}")).await;
    assert_eq!(actions(&list), ["webhook.deleted", "webhook.updated", "webhook.secret_rotated", "webhook.created"]);
    assert_eq!(list[2]["changes"], json!({ "secret": { "from": REDACTED, "to": REDACTED } }));
    assert_eq!(list[1]["changes"], json!({ "enabled": { "from": true, "to": false } }));
    assert_eq!(list[3]["changes"]["url"]["to"], "https://hooks.example.com/…", "a URL's path can be a credential");
    let text = serde_json::to_string(&list).unwrap();
    for s in [secret.as_str(), rotated.as_str(), "s3cr3tpath", "whsec_"] {
        assert!(!text.contains(s), "{s} is in {text}");
    }
}

#[tokio::test]
async fn keys_status_branding_and_consent_are_audited() {
    let h = Harness::new().await;
    let (pid, pkey) = h.active_partner("k@msp.example", "professional").await;
    let r = h.partner_as(&pkey, Method::POST, "/keys", None).await;
    let key2 = r.assert_status(201)["key"].as_str().unwrap().to_string();
    h.partner_as(&key2, Method::DELETE, "/keys/1", None).await.assert_status(204);
    h.partner_as(&key2, Method::PUT, "/branding", Some(json!({ "brandColor": "#0a7cff" }))).await.assert_status(200);
    let cid = h.customer_for(&key2, "Fabrikam", &tenant(7)).await;
    h.distributor(Method::POST, &format!("/partners/{pid}/suspend"), None).await.assert_status(200);

    let d = dist_audit(&h, h.distributor_key(), "").await;
    let mine: Vec<&Value> = d
        .iter()
        .filter(|e| e["target"]["id"].as_str().unwrap().starts_with(pid.as_str()) || e["target"]["id"] == cid.as_str())
        .collect();
    let got: Vec<&str> = mine.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        got,
        [
            "partner.suspended",
            "consent.granted",
            "customer.created",
            "branding.updated",
            "key.revoked",
            "key.created",
            "key.created",
            "partner.activated",
            "partner.created"
        ],
        "the distributor sees every change to its partner"
    );
    let revoked = mine[4];
    assert_eq!(
        revoked["actor"],
        json!({ "type": "partner", "id": pid, "keySlot": 2 }),
        "revoked with the key in slot 2"
    );
    assert_eq!(revoked["target"], json!({ "type": "key", "id": format!("{pid}/1") }));
    let consent = mine[1];
    assert_eq!(consent["actor"]["type"], "tenant", "the tenant's administrator granted it");
    assert_eq!(consent["actor"]["id"], tenant(7).as_str());
    assert_eq!(consent["changes"], json!({ "consentStatus": { "from": "pending", "to": "granted" } }));
    assert_eq!(mine[3]["changes"], json!({ "brandColor": { "from": null, "to": "#0a7cff" } }));
    assert_eq!(mine[0]["changes"], json!({ "status": { "from": "active", "to": "suspended" } }));
}

#[tokio::test]
async fn filters_page_and_refuse_what_is_not_a_filter() {
    let h = Harness::new().await;
    for n in 1..=5 {
        h.partner(Method::POST, "/customers", Some(customer_body(&format!("C{n}"), &tenant(n))))
            .await
            .assert_status(201);
        h.clock.advance(60);
    }
    let all = audit(&h, "?action=customer.created").await;
    assert_eq!(all.len(), 5);
    // Pages of two, newest first, and the cursor is bound to the filters.
    let p1 = h.partner(Method::GET, "/audit?limit=2&action=customer.created", None).await.assert_status(200).clone();
    assert_eq!(entries(&p1), all[..2].to_vec());
    let cursor = p1["nextCursor"].as_str().unwrap().to_string();
    let p2 = h.partner(Method::GET, &format!("/audit?limit=2&action=customer.created&cursor={cursor}"), None).await;
    assert_eq!(entries(p2.assert_status(200)), all[2..4].to_vec());
    h.partner(Method::GET, &format!("/audit?limit=2&cursor={cursor}"), None).await.assert_error(400, "INVALID_FIELD");
    // from/to are inclusive times.
    let (from, to) = (all[3]["at"].as_str().unwrap(), all[1]["at"].as_str().unwrap());
    let mid = audit(&h, &format!("?from={from}&to={to}")).await;
    assert_eq!(mid, all[1..4].to_vec());
    let one = all[2]["target"]["id"].as_str().unwrap();
    assert_eq!(audit(&h, &format!("?targetId={one}")).await, vec![all[2].clone()]);
    assert!(audit(&h, "?action=customer.deleted").await.is_empty());
    for bad in [
        "?action=customer.exploded",
        "?from=yesterday",
        "?to=2026-13-01T00:00:00Z",
        "?targetId=a%20b",
        &format!("?from={to}&to={from}"),
    ] {
        h.partner(Method::GET, &format!("/audit{bad}"), None).await.assert_error(400, "INVALID_FIELD");
        h.distributor(Method::GET, &format!("/audit{bad}"), None).await.assert_error(400, "INVALID_FIELD");
    }
}
