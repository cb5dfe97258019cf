//! Distributor routes D1–D15 (CONTRACT.md): success shapes as the reference shows them, stored
//! state, and every error code each route can give.

use http::Method;
use serde_json::{json, Value};
use tests::*;

/// Provisions a partner (left pending) under the start-up distributor; returns its id.
async fn pending_partner(h: &Harness, email: &str, plan: &str) -> String {
    let r = h.distributor(Method::POST, "/partners", Some(partner_body(email, plan))).await;
    s(&r.assert_status(201)["id"])
}

async fn partner_detail(h: &Harness, id: &str) -> Value {
    h.distributor(Method::GET, &format!("/partners/{id}"), None).await.assert_status(200).clone()
}

async fn partner_ids(h: &Harness, query: &str) -> Vec<String> {
    let r = h.distributor(Method::GET, &format!("/partners{query}"), None).await;
    ids(r.assert_status(200)["partners"].as_array().expect("partners"))
}

// ---- D1 GET /me ----

#[tokio::test]
async fn d1_me_shows_profile_partner_count_and_usage() {
    let h = Harness::new().await;
    let r = h.distributor(Method::GET, "/me", None).await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "id": h.accounts.distributor.id,
            "company": "Dev Distribution",
            "email": "ops@dev-distribution.example",
            "status": "active",
            "partnersCount": 1,
            "usage": { "month": "2026-04", "totalRuns": 0, "totalCustomers": 0 },
            "createdAt": T0_STR,
        })
    );
    let c = h.customer("A", TENANT).await;
    h.customer("B", TENANT2).await;
    run(&h, &c, "essential-eight").await;
    let (_, k) = h.active_partner("q@example.com", "professional").await;
    let qc = h.customer_for(&k, "Q1", TENANT).await;
    run_for(&h, &k, &qc, "essential-eight").await;
    run_for(&h, &k, &qc, "nist-csf").await;
    pending_partner(&h, "p@example.com", "starter").await;
    let r = h.distributor(Method::GET, "/me", None).await;
    let body = r.assert_status(200);
    assert_eq!(body["partnersCount"], 3);
    assert_eq!(body["usage"], json!({ "month": "2026-04", "totalRuns": 3, "totalCustomers": 3 }));
    // Another distributor's partners are not counted.
    let (_, other) = h.other_distributor().await;
    let r = h.distributor_as(&other, Method::GET, "/me", None).await;
    let body = r.assert_status(200);
    assert_eq!(body["partnersCount"], 0);
    assert_eq!(body["usage"]["totalRuns"], 0);
}

#[tokio::test]
async fn d1_me_without_or_with_a_wrong_key_is_401() {
    let h = Harness::new().await;
    h.request(Method::GET, &format!("{DISTRIBUTOR_BASE}/me"), &[], None).await.assert_error(401, "MISSING_KEY");
    // A partner key, even in the distributor header, is not a distributor key.
    let pk = h.partner_key().to_string();
    h.distributor_as(&pk, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    h.distributor_as(UNKNOWN_DISTRIBUTOR_KEY, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    // The partner header is not read on the distributor surface.
    let dk = h.distributor_key().to_string();
    h.request(Method::GET, &format!("{DISTRIBUTOR_BASE}/me"), &[("x-partner-key", &dk)], None)
        .await
        .assert_error(401, "MISSING_KEY");
}

// ---- D2 GET /partners ----

#[tokio::test]
async fn d2_lists_partners_in_reference_shape() {
    let h = Harness::new().await;
    h.customer("A", TENANT).await;
    let r = h.distributor(Method::GET, "/partners", None).await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "partners": [{
                "id": h.partner_id(),
                "company": "Dev MSP",
                "email": "admin@dev-msp.example",
                "plan": "professional",
                "status": "active",
                "customersCount": 1,
                "createdAt": T0_STR,
            }],
            "nextCursor": null,
        })
    );
}

#[tokio::test]
async fn d2_filters_by_status() {
    let h = Harness::new().await;
    let pending = pending_partner(&h, "p@example.com", "starter").await;
    let (active, _) = h.active_partner("a@example.com", "professional").await;
    let (suspended, _) = h.active_partner("s@example.com", "professional").await;
    h.distributor(Method::POST, &format!("/partners/{suspended}/suspend"), None).await.assert_status(200);
    let boot = h.partner_id().to_string();
    assert_eq!(
        sorted(partner_ids(&h, "").await),
        sorted(vec![boot.clone(), pending.clone(), active.clone(), suspended.clone()])
    );
    assert_eq!(sorted(partner_ids(&h, "?status=active").await), sorted(vec![boot, active]));
    assert_eq!(partner_ids(&h, "?status=pending").await, vec![pending]);
    assert_eq!(partner_ids(&h, "?status=suspended").await, vec![suspended]);
    for q in ["status=deleted", "status=all", "status=active,pending"] {
        h.distributor(Method::GET, &format!("/partners?{q}"), None).await.assert_error(400, "INVALID_FIELD");
    }
}

#[tokio::test]
async fn d2_pages_through_partners_with_limit_and_cursor() {
    let h = Harness::new().await;
    let batch: Vec<Value> = (0..6).map(|i| partner_body(&format!("p{i}@example.com"), "starter")).collect();
    h.distributor(Method::POST, "/partners/bulk", Some(json!({ "partners": batch }))).await.assert_status(201);
    let all = partner_ids(&h, "").await;
    assert_eq!(all.len(), 7);
    let key = h.distributor_key().to_string();
    let (items, pages) = page_all(&h, true, &key, "/partners", "partners", 3).await;
    assert_eq!(pages, 3);
    let paged = ids(&items);
    assert_distinct(&paged);
    assert_eq!(paged, all);

    let (items, pages) = page_all(&h, true, &key, "/partners?status=pending", "partners", 2).await;
    assert_eq!(pages, 3);
    let pending = ids(&items);
    assert_distinct(&pending);
    let boot = h.partner_id().to_string();
    assert_eq!(sorted(pending), sorted(all.into_iter().filter(|i| *i != boot).collect()));

    let r = h.distributor(Method::GET, "/partners?status=pending&limit=2", None).await;
    let cursor = s(&r.assert_status(200)["nextCursor"]);
    h.distributor(Method::GET, &format!("/partners?limit=2&cursor={cursor}"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
    for q in ["limit=0", "limit=101", "limit=x", "cursor=zzz"] {
        h.distributor(Method::GET, &format!("/partners?{q}"), None).await.assert_error(400, "INVALID_FIELD");
    }
}

#[tokio::test]
async fn d2_lists_only_own_partners() {
    let h = Harness::new().await;
    let (_, other) = h.other_distributor().await;
    let theirs =
        h.distributor_as(&other, Method::POST, "/partners", Some(partner_body("t@example.com", "starter"))).await;
    let theirs = s(&theirs.assert_status(201)["id"]);
    assert_eq!(partner_ids(&h, "").await, vec![h.partner_id().to_string()]);
    let r = h.distributor_as(&other, Method::GET, "/partners", None).await;
    assert_eq!(ids(r.assert_status(200)["partners"].as_array().unwrap()), vec![theirs]);
}

// ---- D3 POST /partners ----

#[tokio::test]
async fn d3_provisions_a_pending_partner_in_reference_shape() {
    let h = Harness::new().await;
    h.clock.advance(3600);
    let r = h
        .distributor(
            Method::POST,
            "/partners",
            Some(json!({
                "email": "admin@newmsp.com",
                "company": "New MSP Pty Ltd",
                "name": "Jane Smith",
                "plan": "professional",
                "billing": { "currency": "AUD", "interval": "quarterly" }
            })),
        )
        .await;
    let body = r.assert_status(201).clone();
    let id = s(&body["id"]);
    assert!(id.starts_with("prt_") && id.len() >= 4 + 16, "id {id}");
    assert_eq!(
        body,
        json!({
            "id": id,
            "company": "New MSP Pty Ltd",
            "email": "admin@newmsp.com",
            "plan": "professional",
            "status": "pending",
            "billing": { "currency": "AUD", "interval": "quarterly" },
            "createdAt": "2026-04-03T11:00:00Z",
        })
    );
    assert_eq!(partner_ids(&h, "?status=pending").await, vec![id]);

    // The interval defaults to quarterly.
    let r = h
        .distributor(
            Method::POST,
            "/partners",
            Some(json!({
                "email": "b@example.com", "company": "B", "name": "Bea", "plan": "enterprise",
                "billing": { "currency": "USD" }
            })),
        )
        .await;
    assert_eq!(r.assert_status(201)["billing"], json!({ "currency": "USD", "interval": "quarterly" }));
}

#[tokio::test]
async fn d3_provision_errors_write_nothing() {
    let h = Harness::new().await;
    let key = h.distributor_key().to_string();
    let good = partner_body("n@example.com", "professional");
    for body in [
        "nope".to_string(),
        "[]".to_string(),
        "".to_string(),
        r#"{"email": "n@example.com", "company": "C", "name": "N", "plan": "starter", "billing": "AUD"}"#.to_string(),
        r#"{"email": 1, "company": "C", "name": "N", "plan": "starter", "billing": {"currency": "AUD"}}"#.to_string(),
        r#"{"email": "n@example.com", "company": "C", "name": "N", "plan": "starter", "billing": {"currency": 36}}"#
            .to_string(),
    ] {
        let r = raw_as(&h, true, &key, "/partners", &body).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_JSON"), "{body}: {}", r.body);
    }
    let without = |field: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(field);
        b
    };
    let with = |field: &str, v: Value| {
        let mut b = good.clone();
        b[field] = v;
        b
    };
    let mut missing: Vec<Value> = ["email", "company", "name", "plan", "billing"].iter().map(|f| without(f)).collect();
    missing.push(with("email", Value::Null));
    missing.push(with("billing", Value::Null));
    missing.push(with("billing", json!({ "interval": "annual" })));
    missing.push(with("billing", json!({ "currency": null })));
    for body in missing {
        let r = h.distributor(Method::POST, "/partners", Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "MISSING_FIELD"), "{body}: {}", r.body);
    }
    for body in [
        with("email", json!("not-an-email")),
        with("plan", json!("platinum")),
        with("billing", json!({ "currency": "JPY" })),
        with("billing", json!({ "currency": "AUD", "interval": "weekly" })),
        with("billing", json!({ "currency": "AUD", "discount": 10 })),
        with("phone", json!("123")),
        with("company", json!("")),
    ] {
        let r = h.distributor(Method::POST, "/partners", Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_FIELD"), "{body}: {}", r.body);
    }
    assert_eq!(partner_ids(&h, "").await, vec![h.partner_id().to_string()]);
}

#[tokio::test]
async fn d3_duplicate_admin_email_is_partner_exists() {
    let h = Harness::new().await;
    pending_partner(&h, "dup@example.com", "starter").await;
    h.distributor(Method::POST, "/partners", Some(partner_body("dup@example.com", "professional")))
        .await
        .assert_error(409, "PARTNER_EXISTS");
    h.distributor(Method::POST, "/partners", Some(partner_body("DUP@Example.com", "professional")))
        .await
        .assert_error(409, "PARTNER_EXISTS");
    // The start-up partner's email is taken too.
    h.distributor(Method::POST, "/partners", Some(partner_body("admin@dev-msp.example", "professional")))
        .await
        .assert_error(409, "PARTNER_EXISTS");
    assert_eq!(partner_ids(&h, "").await.len(), 2);
    // Another distributor may use the same email.
    let (_, other) = h.other_distributor().await;
    h.distributor_as(&other, Method::POST, "/partners", Some(partner_body("dup@example.com", "starter")))
        .await
        .assert_status(201);
}

// ---- D4 POST /partners/bulk ----

#[tokio::test]
async fn d4_bulk_provisions_in_reference_shape() {
    let h = Harness::new().await;
    let r = h
        .distributor(
            Method::POST,
            "/partners/bulk",
            Some(json!({ "partners": [
                { "email": "admin@mspalpha.com", "company": "MSP Alpha", "name": "Alice Wong", "plan": "professional", "billing": { "currency": "AUD", "interval": "quarterly" } },
                { "email": "admin@mspbeta.com", "company": "MSP Beta", "name": "Bob Chen", "plan": "starter", "billing": { "currency": "USD", "interval": "quarterly" } }
            ]})),
        )
        .await;
    let body = r.assert_status(201).clone();
    let r = h.distributor(Method::GET, "/partners?status=pending", None).await;
    let listed = r.assert_status(200)["partners"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    let listed = [id_where(&listed, "company", "MSP Alpha"), id_where(&listed, "company", "MSP Beta")];
    assert_eq!(
        body,
        json!({
            "created": 2,
            "failed": 0,
            "partners": [
                { "id": listed[0], "company": "MSP Alpha", "status": "pending" },
                { "id": listed[1], "company": "MSP Beta", "status": "pending" },
            ]
        })
    );
    let beta = partner_detail(&h, &listed[1]).await;
    assert_eq!(beta["plan"], "starter");
    assert_eq!(beta["name"], "Bob Chen");
    assert_eq!(beta["billing"], json!({ "currency": "USD", "interval": "quarterly" }));
}

#[tokio::test]
async fn d4_bulk_reports_per_item_failures() {
    let h = Harness::new().await;
    pending_partner(&h, "taken@example.com", "starter").await;
    let r = h
        .distributor(
            Method::POST,
            "/partners/bulk",
            Some(json!({ "partners": [
                partner_body("fresh@example.com", "starter"),
                partner_body("taken@example.com", "starter"),
                partner_body("not-an-email", "starter"),
                partner_body("fresh@example.com", "professional"),
                partner_body("plan@example.com", "platinum"),
                { "email": "nobilling@example.com", "company": "NB", "name": "N", "plan": "starter" },
                5,
                partner_body("second@example.com", "enterprise"),
            ]})),
        )
        .await;
    let body = r.assert_status(201).clone();
    assert_eq!((body["created"].clone(), body["failed"].clone()), (json!(2), json!(6)), "{body}");
    let items = body["partners"].as_array().unwrap();
    let outcome: Vec<(&str, &str)> =
        items.iter().map(|i| (i["status"].as_str().unwrap(), i["error"]["code"].as_str().unwrap_or(""))).collect();
    assert_eq!(
        outcome,
        vec![
            ("pending", ""),
            ("failed", "PARTNER_EXISTS"),
            ("failed", "INVALID_FIELD"),
            ("failed", "PARTNER_EXISTS"),
            ("failed", "INVALID_FIELD"),
            ("failed", "MISSING_FIELD"),
            ("failed", "INVALID_JSON"),
            ("pending", ""),
        ]
    );
    assert_eq!(items[1]["company"], "Co taken@example.com");
    assert_eq!(partner_ids(&h, "").await.len(), 4);
    let pending = partner_ids(&h, "?status=pending").await;
    assert_eq!(pending.len(), 3);
    assert!(pending.contains(&s(&items[0]["id"])));
    assert!(pending.contains(&s(&items[7]["id"])));
}

#[tokio::test]
async fn d4_bulk_of_50_is_fine_51_is_too_many_and_writes_nothing() {
    let h = Harness::new().await;
    let batch =
        |n: usize| -> Vec<Value> { (0..n).map(|i| partner_body(&format!("p{i}@example.com"), "starter")).collect() };
    h.distributor(Method::POST, "/partners/bulk", Some(json!({ "partners": batch(51) })))
        .await
        .assert_error(400, "TOO_MANY");
    assert_eq!(partner_ids(&h, "").await, vec![h.partner_id().to_string()]);
    let r = h.distributor(Method::GET, "/me", None).await;
    assert_eq!(r.assert_status(200)["partnersCount"], 1);

    let r = h.distributor(Method::POST, "/partners/bulk", Some(json!({ "partners": batch(50) }))).await;
    let body = r.assert_status(201);
    assert_eq!((body["created"].clone(), body["failed"].clone()), (json!(50), json!(0)));
    assert_eq!(partner_ids(&h, "?status=pending").await.len(), 50);
}

#[tokio::test]
async fn d4_bulk_body_errors() {
    let h = Harness::new().await;
    let key = h.distributor_key().to_string();
    for body in ["nope", "[]", r#"{"partners": {}}"#, r#"{"partners": "x"}"#] {
        raw_as(&h, true, &key, "/partners/bulk", body).await.assert_error(400, "INVALID_JSON");
    }
    for body in [json!({}), json!({ "partners": null })] {
        h.distributor(Method::POST, "/partners/bulk", Some(body)).await.assert_error(400, "MISSING_FIELD");
    }
    h.distributor(Method::POST, "/partners/bulk", Some(json!({ "partners": [], "dryRun": true })))
        .await
        .assert_error(400, "INVALID_FIELD");
    assert_eq!(partner_ids(&h, "").await.len(), 1);
}

// ---- D5 GET /partners/{id} ----

#[tokio::test]
async fn d5_gets_partner_with_billing_and_current_month_usage() {
    let h = Harness::new().await;
    h.clock.advance(3600);
    let r = h
        .distributor(
            Method::POST,
            "/partners",
            Some(json!({
                "email": "admin@newmsp.com",
                "company": "New MSP Pty Ltd",
                "name": "Jane Smith",
                "plan": "professional",
                "billing": { "currency": "AUD", "interval": "annual" }
            })),
        )
        .await;
    let id = s(&r.assert_status(201)["id"]);
    assert_eq!(
        partner_detail(&h, &id).await,
        json!({
            "id": id,
            "company": "New MSP Pty Ltd",
            "email": "admin@newmsp.com",
            "name": "Jane Smith",
            "plan": "professional",
            "status": "pending",
            "billing": { "currency": "AUD", "interval": "annual" },
            "usage": { "month": "2026-04", "runsUsed": 0, "runsLimit": 200, "customersCount": 0 },
            "createdAt": "2026-04-03T11:00:00Z",
        })
    );
    // Usage follows the partner's own activity.
    let c = h.customer("A", TENANT).await;
    run(&h, &c, "essential-eight").await;
    run(&h, &c, "essential-eight").await;
    let boot = partner_detail(&h, h.partner_id()).await;
    assert_eq!(boot["usage"], json!({ "month": "2026-04", "runsUsed": 2, "runsLimit": 200, "customersCount": 1 }));
    assert_eq!(boot["status"], "active");
    let (ent, _) = h.active_partner("e@example.com", "enterprise").await;
    assert_eq!(partner_detail(&h, &ent).await["usage"]["runsLimit"], json!(-1));
}

#[tokio::test]
async fn d5_unknown_or_foreign_partner_is_404() {
    let h = Harness::new().await;
    h.distributor(Method::GET, "/partners/prt_doesnotexist000000", None).await.assert_error(404, "NOT_FOUND");
    let (_, other) = h.other_distributor().await;
    h.distributor_as(&other, Method::GET, &format!("/partners/{}", h.partner_id()), None)
        .await
        .assert_error(404, "NOT_FOUND");
}

// ---- D6 PATCH /partners/{id} ----

#[tokio::test]
async fn d6_patch_merges_billing_field_by_field() {
    let h = Harness::new().await;
    let id = pending_partner(&h, "p@example.com", "professional").await;
    h.clock.advance(900);
    let r = h
        .distributor(Method::PATCH, &format!("/partners/{id}"), Some(json!({ "billing": { "interval": "annual" } })))
        .await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "id": id,
            "plan": "professional",
            "billing": { "currency": "AUD", "interval": "annual" },
            "updatedAt": "2026-04-03T10:15:00Z",
        })
    );
    h.clock.advance(60);
    let r = h
        .distributor(Method::PATCH, &format!("/partners/{id}"), Some(json!({ "billing": { "currency": "NZD" } })))
        .await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "id": id,
            "plan": "professional",
            "billing": { "currency": "NZD", "interval": "annual" },
            "updatedAt": "2026-04-03T10:16:00Z",
        })
    );
    let d = partner_detail(&h, &id).await;
    assert_eq!(d["billing"], json!({ "currency": "NZD", "interval": "annual" }));
    assert_eq!(d["plan"], "professional");
    assert_eq!(d["status"], "pending");
}

#[tokio::test]
async fn d6_patch_plan_and_billing_in_reference_shape() {
    let h = Harness::with_config(with_runs(&[("starter", Some(1))])).await;
    let (id, key) = h.active_partner("p@example.com", "professional").await;
    let c = h.customer_for(&key, "A", TENANT).await;
    run_for(&h, &key, &c, "essential-eight").await;
    h.clock.advance(4500);
    let r = h
        .distributor(
            Method::PATCH,
            &format!("/partners/{id}"),
            Some(json!({ "plan": "enterprise", "billing": { "interval": "annual" } })),
        )
        .await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "id": id,
            "plan": "enterprise",
            "billing": { "currency": "AUD", "interval": "annual" },
            "updatedAt": "2026-04-03T11:15:00Z",
        })
    );
    let d = partner_detail(&h, &id).await;
    assert_eq!(d["plan"], "enterprise");
    assert_eq!(d["usage"]["runsLimit"], json!(-1));
    assert_eq!(me(&h, &key).await["plan"], "enterprise");
    // The new limit applies to the partner's next trigger.
    h.distributor(Method::PATCH, &format!("/partners/{id}"), Some(json!({ "plan": "starter" })))
        .await
        .assert_status(200);
    h.partner_as(&key, Method::POST, "/assessments", Some(assessment_body(&c, "essential-eight")))
        .await
        .assert_error(403, "RUN_LIMIT_REACHED");
}

#[tokio::test]
async fn d6_patch_errors_leave_the_partner_unchanged() {
    let h = Harness::new().await;
    let id = pending_partner(&h, "p@example.com", "professional").await;
    let key = h.distributor_key().to_string();
    let path = format!("/partners/{id}");
    for body in ["nope", "[]", r#"{"plan": 1}"#, r#"{"billing": "annual"}"#, r#"{"billing": {"currency": 5}}"#] {
        let r = raw_patch_as(&h, true, &key, &path, body).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_JSON"), "{body}: {}", r.body);
    }
    for body in [
        json!({ "plan": "platinum" }),
        json!({ "billing": { "currency": "JPY" } }),
        json!({ "billing": { "interval": "weekly" } }),
        json!({ "billing": { "currency": "AUD", "iban": "x" } }),
        json!({ "status": "active" }),
    ] {
        let r = h.distributor(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_FIELD"), "{body}: {}", r.body);
    }
    h.distributor(Method::PATCH, "/partners/prt_doesnotexist000000", Some(json!({ "plan": "starter" })))
        .await
        .assert_error(404, "NOT_FOUND");
    let (_, other) = h.other_distributor().await;
    h.distributor_as(&other, Method::PATCH, &path, Some(json!({ "plan": "starter" })))
        .await
        .assert_error(404, "NOT_FOUND");
    let d = partner_detail(&h, &id).await;
    assert_eq!(d["plan"], "professional");
    assert_eq!(d["billing"], json!({ "currency": "AUD", "interval": "quarterly" }));
}

// ---- D7 POST /partners/{id}/activate ----

#[tokio::test]
async fn d7_activates_a_pending_partner() {
    let h = Harness::new().await;
    let id = pending_partner(&h, "p@example.com", "professional").await;
    h.clock.advance(4800);
    let r = h.distributor(Method::POST, &format!("/partners/{id}/activate"), None).await;
    assert_eq!(r.assert_status(200), &json!({ "id": id, "status": "active", "activatedAt": "2026-04-03T11:20:00Z" }));
    assert_eq!(partner_detail(&h, &id).await["status"], "active");
    assert!(partner_ids(&h, "?status=active").await.contains(&id));
    assert!(partner_ids(&h, "?status=pending").await.is_empty());
    // A key issued now works.
    let r = h.distributor(Method::POST, &format!("/partners/{id}/keys"), None).await;
    let key = s(&r.assert_status(201)["key"]);
    assert_eq!(me(&h, &key).await["status"], "active");
}

#[tokio::test]
async fn d7_reactivates_a_suspended_partner() {
    let h = Harness::new().await;
    let (id, _) = h.active_partner("p@example.com", "professional").await;
    h.distributor(Method::POST, &format!("/partners/{id}/suspend"), None).await.assert_status(200);
    h.clock.advance(600);
    let r = h.distributor(Method::POST, &format!("/partners/{id}/activate"), None).await;
    assert_eq!(r.assert_status(200), &json!({ "id": id, "status": "active", "activatedAt": "2026-04-03T10:10:00Z" }));
    assert_eq!(partner_detail(&h, &id).await["status"], "active");
}

#[tokio::test]
async fn d7_activate_unknown_or_foreign_partner_is_404() {
    let h = Harness::new().await;
    h.distributor(Method::POST, "/partners/prt_doesnotexist000000/activate", None).await.assert_error(404, "NOT_FOUND");
    let (_, other) = h.other_distributor().await;
    let id = pending_partner(&h, "p@example.com", "starter").await;
    h.distributor_as(&other, Method::POST, &format!("/partners/{id}/activate"), None)
        .await
        .assert_error(404, "NOT_FOUND");
    assert_eq!(partner_detail(&h, &id).await["status"], "pending");
}

// ---- D8 POST /partners/{id}/suspend ----

#[tokio::test]
async fn d8_suspend_answers_in_reference_shape_and_stops_every_key() {
    let h = Harness::new().await;
    let (id, k1) = h.active_partner("p@example.com", "professional").await;
    let k2 = s(&h.partner_as(&k1, Method::POST, "/keys", None).await.assert_status(201)["key"]);
    h.clock.advance(5100);
    let r = h.distributor(Method::POST, &format!("/partners/{id}/suspend"), None).await;
    assert_eq!(
        r.assert_status(200),
        &json!({ "id": id, "status": "suspended", "suspendedAt": "2026-04-03T11:25:00Z" })
    );
    for key in [&k1, &k2] {
        let r = h.partner_as(key, Method::GET, "/me", None).await;
        assert!(
            matches!((r.status.as_u16(), r.code()), (403, "PARTNER_INACTIVE") | (401, "INVALID_KEY")),
            "a suspended partner's key still answers: {} {}",
            r.status,
            r.body
        );
    }
    assert_eq!(partner_detail(&h, &id).await["status"], "suspended");
    // Others are not affected.
    me(&h, h.partner_key()).await;
}

#[tokio::test]
async fn d8_suspended_partners_keys_are_deleted_and_answer_invalid_key() {
    // Suspension deletes the keys (CONTRACT.md), and a lookup never reveals that a key once
    // existed: the old key is as unknown as any other (401, not 403).
    let h = Harness::new().await;
    let (id, key) = h.active_partner("p@example.com", "professional").await;
    h.distributor(Method::POST, &format!("/partners/{id}/suspend"), None).await.assert_status(200);
    h.partner_as(&key, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    let owner = shared::domain::account::Owner::partner(&id);
    assert!(h.app.store.keys_of(&owner).await.unwrap().is_empty());
}

#[tokio::test]
async fn d8_reactivated_partner_has_no_keys_until_one_is_issued() {
    let h = Harness::new().await;
    let (id, key) = h.active_partner("p@example.com", "professional").await;
    h.distributor(Method::POST, &format!("/partners/{id}/suspend"), None).await.assert_status(200);
    h.distributor(Method::POST, &format!("/partners/{id}/activate"), None).await.assert_status(200);
    h.partner_as(&key, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    // Both slots are free again: the new key takes slot 1.
    let r = h.distributor(Method::POST, &format!("/partners/{id}/keys"), None).await;
    let body = r.assert_status(201);
    assert_eq!(body["slot"], 1);
    let fresh = s(&body["key"]);
    assert_eq!(me(&h, &fresh).await["id"], json!(id));
    h.partner_as(&key, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
}

#[tokio::test]
async fn d8_suspend_unknown_or_foreign_partner_is_404() {
    let h = Harness::new().await;
    h.distributor(Method::POST, "/partners/prt_doesnotexist000000/suspend", None).await.assert_error(404, "NOT_FOUND");
    let (_, other) = h.other_distributor().await;
    h.distributor_as(&other, Method::POST, &format!("/partners/{}/suspend", h.partner_id()), None)
        .await
        .assert_error(404, "NOT_FOUND");
    me(&h, h.partner_key()).await;
}

// ---- D9 POST /partners/{id}/plan ----

#[tokio::test]
async fn d9_changes_the_plan_on_the_partners_behalf() {
    let h = Harness::new().await;
    let (id, key) = h.active_partner("p@example.com", "professional").await;
    let r = h
        .distributor(
            Method::POST,
            &format!("/partners/{id}/plan"),
            Some(json!({ "plan": "enterprise", "billing": "rolling", "currency": "aud" })),
        )
        .await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "partnerId": id,
            "plan": "enterprise",
            "billing": "rolling",
            "currency": "aud",
            "runLimit": -1,
            "subscriptionStatus": "active",
            "currentPeriodEnd": "2027-04-03T00:00:00Z",
        })
    );
    let m = me(&h, &key).await;
    assert_eq!(m["plan"], "enterprise");
    assert_eq!(m["usage"]["runsLimit"], json!(-1));
    assert_eq!(partner_detail(&h, &id).await["plan"], "enterprise");

    let r = h.distributor(Method::POST, &format!("/partners/{id}/plan"), Some(json!({ "plan": "starter" }))).await;
    let body = r.assert_status(200);
    assert_eq!(body["runLimit"], 50);
    assert_eq!(body["billing"], "rolling");
    assert_eq!(body["currency"], "aud");
    assert_eq!(me(&h, &key).await["usage"]["runsLimit"], 50);
}

#[tokio::test]
async fn d9_new_limit_applies_to_later_triggers() {
    let h = Harness::with_config(with_runs(&[("starter", Some(1))])).await;
    let c = h.customer("A", TENANT).await;
    run(&h, &c, "essential-eight").await;
    let pid = h.partner_id().to_string();
    h.distributor(Method::POST, &format!("/partners/{pid}/plan"), Some(json!({ "plan": "starter" })))
        .await
        .assert_status(200);
    let body = assessment_body(&c, "essential-eight");
    h.partner(Method::POST, "/assessments", Some(body.clone())).await.assert_error(403, "RUN_LIMIT_REACHED");
    h.distributor(Method::POST, &format!("/partners/{pid}/assessments"), Some(body.clone()))
        .await
        .assert_error(403, "RUN_LIMIT_REACHED");
    h.distributor(Method::POST, &format!("/partners/{pid}/plan"), Some(json!({ "plan": "enterprise" })))
        .await
        .assert_status(200);
    h.partner(Method::POST, "/assessments", Some(body)).await.assert_status(202);
}

#[tokio::test]
async fn d9_plan_change_errors() {
    let h = Harness::new().await;
    let (id, key) = h.active_partner("p@example.com", "professional").await;
    let path = format!("/partners/{id}/plan");
    let dkey = h.distributor_key().to_string();
    for body in ["nope", "", "[]", r#"{"plan": ["enterprise"]}"#] {
        raw_as(&h, true, &dkey, &path, body).await.assert_error(400, "INVALID_JSON");
    }
    for body in [json!({}), json!({ "plan": null })] {
        h.distributor(Method::POST, &path, Some(body)).await.assert_error(400, "MISSING_FIELD");
    }
    h.distributor(Method::POST, &path, Some(json!({ "plan": "enterprise", "prorate": false })))
        .await
        .assert_error(400, "INVALID_FIELD");
    for body in [
        json!({ "plan": "platinum" }),
        json!({ "plan": "enterprise", "billing": "quarterly" }),
        json!({ "plan": "enterprise", "currency": "nzd" }),
        json!({ "plan": "professional" }),
    ] {
        let r = h.distributor(Method::POST, &path, Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "PLAN_CHANGE_FAILED"), "{body}: {}", r.body);
    }
    h.distributor(Method::POST, "/partners/prt_doesnotexist000000/plan", Some(json!({ "plan": "enterprise" })))
        .await
        .assert_error(404, "NOT_FOUND");
    let (_, other) = h.other_distributor().await;
    h.distributor_as(&other, Method::POST, &path, Some(json!({ "plan": "enterprise" })))
        .await
        .assert_error(404, "NOT_FOUND");
    assert_eq!(me(&h, &key).await["plan"], "professional");
}

#[tokio::test]
async fn d9_shares_the_hourly_plan_change_limit_with_p2() {
    let h = Harness::new().await;
    let path = format!("/partners/{}/plan", h.partner_id());
    for i in 0..10 {
        let plan = if i % 2 == 0 { "enterprise" } else { "professional" };
        let r = if i < 5 {
            h.partner(Method::POST, "/plan", Some(json!({ "plan": plan }))).await
        } else {
            h.distributor(Method::POST, &path, Some(json!({ "plan": plan }))).await
        };
        r.assert_status(200);
    }
    let r = h.distributor(Method::POST, &path, Some(json!({ "plan": "enterprise" }))).await;
    r.assert_error(429, "RATE_LIMITED");
    assert!(r.header("retry-after").and_then(|v| v.parse::<i64>().ok()).is_some_and(|n| (1..=3600).contains(&n)));
    h.partner(Method::POST, "/plan", Some(json!({ "plan": "enterprise" }))).await.assert_error(429, "RATE_LIMITED");
    assert_eq!(partner_detail(&h, h.partner_id()).await["plan"], "professional");
    h.clock.advance(3600);
    h.distributor(Method::POST, &path, Some(json!({ "plan": "enterprise" }))).await.assert_status(200);
    assert_eq!(partner_detail(&h, h.partner_id()).await["plan"], "enterprise");
}

// ---- D10 GET /partners/{id}/customers ----

#[tokio::test]
async fn d10_lists_a_sub_partners_customers() {
    let h = Harness::new().await;
    let pid = h.partner_id().to_string();
    let r = h
        .partner(
            Method::POST,
            "/customers",
            Some(json!({ "name": "Contoso Ltd", "tenantId": TENANT, "email": "it@contoso.com" })),
        )
        .await;
    let c1 = s(&r.assert_status(201)["id"]);
    let (_, other_key) = h.active_partner("o@example.com", "professional").await;
    h.customer_for(&other_key, "Not theirs", TENANT2).await;
    let r = h.distributor(Method::GET, &format!("/partners/{pid}/customers"), None).await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "customers": [
                { "id": c1, "name": "Contoso Ltd", "tenantId": TENANT, "email": "it@contoso.com", "consentStatus": "pending", "createdAt": T0_STR },
            ],
            "nextCursor": null,
        })
    );
    for i in 0..4 {
        h.customer(&format!("C{i}"), &tenant(i)).await;
    }
    let dkey = h.distributor_key().to_string();
    let (items, pages) = page_all(&h, true, &dkey, &format!("/partners/{pid}/customers"), "customers", 2).await;
    assert_eq!(pages, 3);
    let paged = ids(&items);
    assert_distinct(&paged);
    let r = h.partner(Method::GET, "/customers", None).await;
    assert_eq!(sorted(paged), sorted(ids(r.assert_status(200)["customers"].as_array().unwrap())));
    h.distributor(Method::GET, &format!("/partners/{pid}/customers?limit=0"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
}

#[tokio::test]
async fn d10_unknown_or_foreign_partner_is_404() {
    let h = Harness::new().await;
    h.customer("A", TENANT).await;
    h.distributor(Method::GET, "/partners/prt_doesnotexist000000/customers", None).await.assert_error(404, "NOT_FOUND");
    let (_, other) = h.other_distributor().await;
    h.distributor_as(&other, Method::GET, &format!("/partners/{}/customers", h.partner_id()), None)
        .await
        .assert_error(404, "NOT_FOUND");
}

// ---- D11 POST /partners/{id}/customers ----

#[tokio::test]
async fn d11_creates_a_customer_for_a_sub_partner() {
    let h = Harness::new().await;
    let pid = h.partner_id().to_string();
    h.clock.advance(5400);
    let r = h
        .distributor(
            Method::POST,
            &format!("/partners/{pid}/customers"),
            Some(json!({
                "name": "Contoso Ltd",
                "tenantId": TENANT,
                "email": "it@contoso.com",
                "receivers": ["ciso@contoso.com"],
                "questionnaireRecipients": ["ciso@contoso.com"]
            })),
        )
        .await;
    let body = r.assert_status(201).clone();
    let id = s(&body["id"]);
    assert!(id.starts_with("cust_"));
    assert_eq!(
        body,
        json!({
            "id": id,
            "name": "Contoso Ltd",
            "tenantId": TENANT,
            "email": "it@contoso.com",
            "receivers": ["ciso@contoso.com"],
            "questionnaireRecipients": ["ciso@contoso.com"],
            "consentStatus": "pending",
            "partnerId": pid,
            "createdAt": "2026-04-03T11:30:00Z",
        })
    );
    // The partner sees it as its own.
    let r = h.partner(Method::GET, &format!("/customers/{id}"), None).await;
    assert_eq!(r.assert_status(200)["name"], "Contoso Ltd");
    assert_eq!(me(&h, h.partner_key()).await["usage"]["customersCount"], 1);
}

#[tokio::test]
async fn d11_create_customer_errors() {
    let h = Harness::new().await;
    let pid = h.partner_id().to_string();
    let path = format!("/partners/{pid}/customers");
    let dkey = h.distributor_key().to_string();
    h.customer("Existing", TENANT).await;
    for body in ["nope", "[]", r#"{"name": 1, "tenantId": "d4f5a678-1234-5678-9abc-def012345678"}"#] {
        raw_as(&h, true, &dkey, &path, body).await.assert_error(400, "INVALID_JSON");
    }
    for body in [json!({ "tenantId": TENANT2 }), json!({ "name": "X", "tenantId": null })] {
        h.distributor(Method::POST, &path, Some(body)).await.assert_error(400, "MISSING_FIELD");
    }
    for body in [
        json!({ "name": "X", "tenantId": "nope" }),
        json!({ "name": "X", "tenantId": TENANT2, "email": "bad" }),
        json!({ "name": "X", "tenantId": TENANT2, "partnerId": pid }),
    ] {
        h.distributor(Method::POST, &path, Some(body)).await.assert_error(400, "INVALID_FIELD");
    }
    h.distributor(Method::POST, &path, Some(customer_body("Dup", TENANT))).await.assert_error(409, "CUSTOMER_EXISTS");
    h.distributor(Method::POST, "/partners/prt_doesnotexist000000/customers", Some(customer_body("X", TENANT2)))
        .await
        .assert_error(404, "NOT_FOUND");
    let (_, other) = h.other_distributor().await;
    h.distributor_as(&other, Method::POST, &path, Some(customer_body("X", TENANT2)))
        .await
        .assert_error(404, "NOT_FOUND");
    let r = h.partner(Method::GET, "/customers", None).await;
    assert_eq!(r.assert_status(200)["customers"].as_array().unwrap().len(), 1);
}

// ---- D12 POST /partners/{id}/assessments ----

#[tokio::test]
async fn d12_triggers_a_run_for_a_sub_partner() {
    let mut h = Harness::new().await;
    let pid = h.partner_id().to_string();
    let c = h.customer("Contoso Ltd", TENANT).await;
    h.clock.advance(5700);
    let r = h
        .distributor(
            Method::POST,
            &format!("/partners/{pid}/assessments"),
            Some(json!({ "customerId": c, "product": "essential-eight", "maturityTarget": 3 })),
        )
        .await;
    let body = r.assert_status(202).clone();
    let id = s(&body["id"]);
    assert!(id.starts_with("run_"));
    assert_eq!(
        body,
        json!({
            "id": id,
            "customerId": c,
            "partnerId": pid,
            "product": "essential-eight",
            "maturityTarget": 3,
            "status": "queued",
            "createdAt": "2026-04-03T11:35:00Z",
        })
    );
    let msgs = h.queued_messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].run_id.as_str(), msgs[0].partner_id.as_str()), (id.as_str(), pid.as_str()));
    let r = h.partner(Method::GET, &format!("/assessments/{id}"), None).await;
    assert_eq!(r.assert_status(200)["status"], "queued");
    assert_eq!(partner_detail(&h, &pid).await["usage"]["runsUsed"], 1);
    // Default maturity target.
    let r = h
        .distributor(Method::POST, &format!("/partners/{pid}/assessments"), Some(assessment_body(&c, "nist-csf")))
        .await;
    assert_eq!(r.assert_status(202)["maturityTarget"], 2);
}

#[tokio::test]
async fn d12_pending_or_suspended_partner_is_partner_inactive() {
    let h = Harness::new().await;
    let pending = pending_partner(&h, "p@example.com", "professional").await;
    let r =
        h.distributor(Method::POST, &format!("/partners/{pending}/customers"), Some(customer_body("A", TENANT))).await;
    let c = s(&r.assert_status(201)["id"]);
    h.distributor(
        Method::POST,
        &format!("/partners/{pending}/assessments"),
        Some(assessment_body(&c, "essential-eight")),
    )
    .await
    .assert_error(403, "PARTNER_INACTIVE");
    let r = h.distributor(Method::GET, &format!("/partners/{pending}/assessments"), None).await;
    assert_eq!(r.assert_status(200)["runs"], json!([]));
    assert_eq!(partner_detail(&h, &pending).await["usage"]["runsUsed"], 0);

    let (suspended, key) = h.active_partner("s@example.com", "professional").await;
    let sc = h.customer_for(&key, "S", TENANT).await;
    h.distributor(Method::POST, &format!("/partners/{suspended}/suspend"), None).await.assert_status(200);
    h.distributor(
        Method::POST,
        &format!("/partners/{suspended}/assessments"),
        Some(assessment_body(&sc, "essential-eight")),
    )
    .await
    .assert_error(403, "PARTNER_INACTIVE");
    assert_eq!(partner_detail(&h, &suspended).await["usage"]["runsUsed"], 0);
}

#[tokio::test]
async fn d12_trigger_errors_write_nothing() {
    let h = Harness::new().await;
    let pid = h.partner_id().to_string();
    let path = format!("/partners/{pid}/assessments");
    let c = h.customer("A", TENANT).await;
    let (starter, skey) = h.active_partner("s@example.com", "starter").await;
    let sc = h.customer_for(&skey, "S", TENANT2).await;
    let dkey = h.distributor_key().to_string();
    raw_as(&h, true, &dkey, &path, "nope").await.assert_error(400, "INVALID_JSON");
    let cases = [
        (json!({ "product": "essential-eight" }), 400, "MISSING_FIELD"),
        (json!({ "customerId": c }), 400, "MISSING_FIELD"),
        (json!({ "customerId": c, "product": "essential-eight", "maturityTarget": "2" }), 400, "INVALID_JSON"),
        (json!({ "customerId": c, "product": "essential-eight", "maturityTarget": 4 }), 400, "INVALID_FIELD"),
        (json!({ "customerId": c, "product": "essential-eight", "partnerId": pid }), 400, "INVALID_FIELD"),
        (json!({ "customerId": c, "product": "soc2" }), 400, "INVALID_PRODUCT"),
        (json!({ "customerId": "cust_doesnotexist000000", "product": "essential-eight" }), 404, "NOT_FOUND"),
        // The starter partner's customer is not this partner's.
        (json!({ "customerId": sc, "product": "essential-eight" }), 404, "NOT_FOUND"),
    ];
    for (body, status, code) in cases {
        let r = h.distributor(Method::POST, &path, Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (status, code), "{body}: {}", r.body);
    }
    h.distributor(Method::POST, &format!("/partners/{starter}/assessments"), Some(assessment_body(&sc, "nist-csf")))
        .await
        .assert_error(403, "PRODUCT_NOT_ALLOWED");
    h.distributor(
        Method::POST,
        "/partners/prt_doesnotexist000000/assessments",
        Some(assessment_body(&c, "essential-eight")),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    let (_, other) = h.other_distributor().await;
    h.distributor_as(&other, Method::POST, &path, Some(assessment_body(&c, "essential-eight")))
        .await
        .assert_error(404, "NOT_FOUND");
    assert_eq!(partner_detail(&h, &pid).await["usage"]["runsUsed"], 0);
    assert_eq!(partner_detail(&h, &starter).await["usage"]["runsUsed"], 0);
}

#[tokio::test]
async fn d12_run_limit_reached() {
    let h = Harness::with_config(with_runs(&[("professional", Some(1))])).await;
    let pid = h.partner_id().to_string();
    let c = h.customer("A", TENANT).await;
    let path = format!("/partners/{pid}/assessments");
    let body = assessment_body(&c, "essential-eight");
    h.distributor(Method::POST, &path, Some(body.clone())).await.assert_status(202);
    h.distributor(Method::POST, &path, Some(body)).await.assert_error(403, "RUN_LIMIT_REACHED");
    let r = h.distributor(Method::GET, &path, None).await;
    assert_eq!(r.assert_status(200)["runs"].as_array().unwrap().len(), 1);
}

// ---- D13 GET /partners/{id}/assessments ----

#[tokio::test]
async fn d13_lists_a_sub_partners_runs_with_filters_and_paging() {
    let h = Harness::new().await;
    let pid = h.partner_id().to_string();
    let a = h.customer("A", &tenant(1)).await;
    let b = h.customer("B", &tenant(2)).await;
    let apr_a = run(&h, &a, "essential-eight").await;
    h.clock.advance(60);
    let apr_b = run(&h, &b, "nist-csf").await;
    h.clock.set(MAY_1);
    let may_a = run(&h, &a, "essential-eight").await;
    // Another partner's runs are not listed.
    let (_, other) = h.active_partner("o@example.com", "professional").await;
    let oc = h.customer_for(&other, "O", &tenant(3)).await;
    run_for(&h, &other, &oc, "essential-eight").await;

    let base = format!("/partners/{pid}/assessments");
    let r = h.distributor(Method::GET, &base, None).await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "runs": [
                { "id": may_a, "customerId": a, "product": "essential-eight", "status": "queued", "createdAt": "2026-05-01T00:00:00Z" },
                { "id": apr_b, "customerId": b, "product": "nist-csf", "status": "queued", "createdAt": "2026-04-03T10:01:00Z" },
                { "id": apr_a, "customerId": a, "product": "essential-eight", "status": "queued", "createdAt": T0_STR },
            ],
            "nextCursor": null,
        })
    );
    let cases: Vec<(String, Vec<&String>)> = vec![
        ("?month=2026-04".into(), vec![&apr_b, &apr_a]),
        ("?month=2026-05".into(), vec![&may_a]),
        ("?product=essential-eight".into(), vec![&may_a, &apr_a]),
        (format!("?customerId={b}"), vec![&apr_b]),
        (format!("?customerId={a}&month=2026-04"), vec![&apr_a]),
    ];
    for (q, want) in cases {
        let r = h.distributor(Method::GET, &format!("{base}{q}"), None).await;
        let got = ids(r.assert_status(200)["runs"].as_array().unwrap());
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(got, want, "query {q:?}");
    }
    let dkey = h.distributor_key().to_string();
    let (items, pages) = page_all(&h, true, &dkey, &base, "runs", 1).await;
    assert_eq!(pages, 3);
    assert_eq!(ids(&items), vec![may_a, apr_b, apr_a]);
    for q in ["month=2026-13", "month=x", "limit=101"] {
        h.distributor(Method::GET, &format!("{base}?{q}"), None).await.assert_error(400, "INVALID_FIELD");
    }
}

#[tokio::test]
async fn d13_unknown_or_foreign_partner_is_404() {
    let h = Harness::new().await;
    h.distributor(Method::GET, "/partners/prt_doesnotexist000000/assessments", None)
        .await
        .assert_error(404, "NOT_FOUND");
    let (_, other) = h.other_distributor().await;
    h.distributor_as(&other, Method::GET, &format!("/partners/{}/assessments", h.partner_id()), None)
        .await
        .assert_error(404, "NOT_FOUND");
}

// ---- D14 GET /usage ----

#[tokio::test]
async fn d14_usage_aggregates_the_current_month() {
    let h = Harness::new().await;
    let boot = h.partner_id().to_string();
    let a = h.customer("A", &tenant(1)).await;
    h.customer("B", &tenant(2)).await;
    run(&h, &a, "essential-eight").await;
    run(&h, &a, "nist-csf").await;
    let (q, qk) = h.active_partner("q@example.com", "professional").await;
    let qc = h.customer_for(&qk, "Q", &tenant(3)).await;
    run_for(&h, &qk, &qc, "essential-eight").await;
    let p = pending_partner(&h, "p@example.com", "starter").await;

    let r = h.distributor(Method::GET, "/usage", None).await;
    let mut body = r.assert_status(200).clone();
    let mut by = body["byPartner"].as_array().unwrap().clone();
    by.sort_by_key(|e| s(&e["partnerId"]));
    body["byPartner"] = json!([]);
    assert_eq!(
        body,
        json!({
            "month": "2026-04",
            "totalPartners": 3,
            "activePartners": 2,
            "totalCustomers": 3,
            "totalRuns": 3,
            "byPartner": [],
        })
    );
    let mut want = vec![
        json!({ "partnerId": boot, "company": "Dev MSP", "runs": 2, "customers": 2 }),
        json!({ "partnerId": q, "company": "Co q@example.com", "runs": 1, "customers": 1 }),
        json!({ "partnerId": p, "company": "Co p@example.com", "runs": 0, "customers": 0 }),
    ];
    want.sort_by_key(|e| s(&e["partnerId"]));
    assert_eq!(by, want);
}

#[tokio::test]
async fn d14_usage_for_a_given_month() {
    let h = Harness::new().await;
    let a = h.customer("A", TENANT).await;
    run(&h, &a, "essential-eight").await;
    h.clock.set(MAY_1 + 60);
    run(&h, &a, "essential-eight").await;
    run(&h, &a, "essential-eight").await;
    let get = |q: &'static str| {
        let h = &h;
        async move { h.distributor(Method::GET, &format!("/usage{q}"), None).await.assert_status(200).clone() }
    };
    let now = get("").await;
    assert_eq!((now["month"].clone(), now["totalRuns"].clone()), (json!("2026-05"), json!(3 - 1)));
    let apr = get("?month=2026-04").await;
    assert_eq!((apr["month"].clone(), apr["totalRuns"].clone()), (json!("2026-04"), json!(1)));
    assert_eq!(apr["byPartner"][0]["runs"], 1);
    let mar = get("?month=2026-03").await;
    assert_eq!(mar["totalRuns"], 0);
    assert_eq!(mar["month"], "2026-03");
    for q in ["2026-13", "2026-4", "May", ""] {
        h.distributor(Method::GET, &format!("/usage?month={q}"), None).await.assert_error(400, "INVALID_FIELD");
    }
}

// ---- D15 POST /partners/{id}/keys ----

#[tokio::test]
async fn d15_key_for_a_pending_partner_works_after_activation() {
    let h = Harness::new().await;
    let id = pending_partner(&h, "p@example.com", "professional").await;
    h.clock.advance(1200);
    let r = h.distributor(Method::POST, &format!("/partners/{id}/keys"), None).await;
    let body = r.assert_status(201).clone();
    let key = s(&body["key"]);
    assert!(key.starts_with("pk_live_") && key.len() >= 8 + 32, "{key}");
    assert!(key[8..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(body, json!({ "slot": 1, "key": key, "createdAt": "2026-04-03T10:20:00Z" }));
    h.partner_as(&key, Method::GET, "/me", None).await.assert_error(403, "PARTNER_INACTIVE");
    h.distributor(Method::POST, &format!("/partners/{id}/activate"), None).await.assert_status(200);
    let m = me(&h, &key).await;
    assert_eq!((m["id"].clone(), m["status"].clone()), (json!(id), json!("active")));
}

#[tokio::test]
async fn d15_third_key_is_max_keys() {
    let h = Harness::new().await;
    let (id, k1) = h.active_partner("p@example.com", "professional").await;
    let r = h.distributor(Method::POST, &format!("/partners/{id}/keys"), None).await;
    let k2 = s(&r.assert_status(201)["key"]);
    assert_eq!(r.body["slot"], 2);
    h.distributor(Method::POST, &format!("/partners/{id}/keys"), None).await.assert_error(409, "MAX_KEYS");
    // The start-up partner already holds one key: one more, then MAX_KEYS.
    let pid = h.partner_id().to_string();
    h.distributor(Method::POST, &format!("/partners/{pid}/keys"), None).await.assert_status(201);
    h.distributor(Method::POST, &format!("/partners/{pid}/keys"), None).await.assert_error(409, "MAX_KEYS");
    me(&h, &k1).await;
    me(&h, &k2).await;
}

#[tokio::test]
async fn d15_suspended_partner_gets_no_key() {
    let h = Harness::new().await;
    let (id, _) = h.active_partner("p@example.com", "professional").await;
    h.distributor(Method::POST, &format!("/partners/{id}/suspend"), None).await.assert_status(200);
    h.distributor(Method::POST, &format!("/partners/{id}/keys"), None).await.assert_error(403, "PARTNER_INACTIVE");
    // Nothing was stored: after activation both slots are free.
    h.distributor(Method::POST, &format!("/partners/{id}/activate"), None).await.assert_status(200);
    let r = h.distributor(Method::POST, &format!("/partners/{id}/keys"), None).await;
    assert_eq!(r.assert_status(201)["slot"], 1);
}

#[tokio::test]
async fn d15_unknown_or_foreign_partner_is_404() {
    let h = Harness::new().await;
    h.distributor(Method::POST, "/partners/prt_doesnotexist000000/keys", None).await.assert_error(404, "NOT_FOUND");
    let (_, other) = h.other_distributor().await;
    h.distributor_as(&other, Method::POST, &format!("/partners/{}/keys", h.partner_id()), None)
        .await
        .assert_error(404, "NOT_FOUND");
    // No key was issued to the start-up partner: it can still get exactly one more.
    h.distributor(Method::POST, &format!("/partners/{}/keys", h.partner_id()), None).await.assert_status(201);
}
