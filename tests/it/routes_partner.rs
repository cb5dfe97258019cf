//! Partner routes P1–P15 (CONTRACT.md): success shapes as the reference shows them, stored
//! state, and every error code each route can give.

use http::Method;
use serde_json::{json, Value};
use tests::*;

// ---- helpers of this module (the shared ones are in tests::helpers) ----

async fn list_runs(h: &Harness, query: &str) -> Vec<Value> {
    h.partner(Method::GET, &format!("/assessments{query}"), None).await.assert_status(200)["runs"]
        .as_array()
        .expect("runs")
        .clone()
}

async fn list_customers(h: &Harness) -> Vec<Value> {
    h.partner(Method::GET, "/customers", None).await.assert_status(200)["customers"]
        .as_array()
        .expect("customers")
        .clone()
}

// ---- P1 GET /me ----

#[tokio::test]
async fn p1_me_shows_profile_plan_and_usage() {
    let h = Harness::new().await;
    let body = me(&h, h.partner_key()).await;
    assert_eq!(
        body,
        json!({
            "id": h.partner_id(),
            "company": "Dev MSP",
            "email": "admin@dev-msp.example",
            "plan": "professional",
            "status": "active",
            "usage": { "month": "2026-04", "runsUsed": 0, "runsLimit": 200, "customersCount": 0 },
            "createdAt": T0_STR,
        })
    );
    let c1 = h.customer("A", &tenant(1)).await;
    h.customer("B", &tenant(2)).await;
    run(&h, &c1, "essential-eight").await;
    let body = me(&h, h.partner_key()).await;
    assert_eq!(body["usage"], json!({ "month": "2026-04", "runsUsed": 1, "runsLimit": 200, "customersCount": 2 }));
}

#[tokio::test]
async fn p1_me_shows_minus_one_for_unlimited_enterprise() {
    let h = Harness::new().await;
    let (id, key) = h.active_partner("ent@example.com", "enterprise").await;
    let body = me(&h, &key).await;
    assert_eq!(body["id"], json!(id));
    assert_eq!(body["plan"], "enterprise");
    assert_eq!(body["status"], "active");
    assert_eq!(body["email"], "ent@example.com");
    assert_eq!(body["usage"]["runsLimit"], json!(-1));
}

#[tokio::test]
async fn p1_me_usage_is_for_the_current_month() {
    let h = Harness::new().await;
    let c = h.customer("A", TENANT).await;
    run(&h, &c, "essential-eight").await;
    h.clock.set(MAY_1);
    let body = me(&h, h.partner_key()).await;
    assert_eq!(body["usage"]["month"], "2026-05");
    assert_eq!(body["usage"]["runsUsed"], 0);
    assert_eq!(body["usage"]["customersCount"], 1);
}

#[tokio::test]
async fn p1_me_without_or_with_a_wrong_key_is_401() {
    let h = Harness::new().await;
    h.request(Method::GET, &format!("{PARTNER_BASE}/me"), &[], None).await.assert_error(401, "MISSING_KEY");
    h.partner_as(UNKNOWN_PARTNER_KEY, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    // A distributor key in the partner header is not a partner key.
    let dk = h.distributor_key().to_string();
    h.partner_as(&dk, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
}

// ---- P2 POST /plan ----

#[tokio::test]
async fn p2_plan_change_answers_subscription_and_updates_me() {
    let h = Harness::new().await;
    let r = h.partner(Method::POST, "/plan", Some(json!({ "plan": "enterprise" }))).await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "partnerId": h.partner_id(),
            "plan": "enterprise",
            "billing": "monthly",
            "currency": "usd",
            "runLimit": -1,
            "subscriptionStatus": "active",
            "currentPeriodEnd": "2026-05-03T00:00:00Z",
        })
    );
    let body = me(&h, h.partner_key()).await;
    assert_eq!(body["plan"], "enterprise");
    assert_eq!(body["usage"]["runsLimit"], json!(-1));

    let r = h
        .partner(Method::POST, "/plan", Some(json!({ "plan": "starter", "billing": "rolling", "currency": "aud" })))
        .await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "partnerId": h.partner_id(),
            "plan": "starter",
            "billing": "rolling",
            "currency": "aud",
            "runLimit": 50,
            "subscriptionStatus": "active",
            "currentPeriodEnd": "2027-04-03T00:00:00Z",
        })
    );
    let body = me(&h, h.partner_key()).await;
    assert_eq!(body["plan"], "starter");
    assert_eq!(body["usage"]["runsLimit"], 50);
}

#[tokio::test]
async fn p2_new_plan_limit_and_products_apply_to_later_triggers() {
    let h = Harness::with_config(with_runs(&[("starter", Some(1)), ("professional", Some(2))])).await;
    let c = h.customer("A", TENANT).await;
    run(&h, &c, "essential-eight").await;
    run(&h, &c, "essential-eight").await;
    let body = assessment_body(&c, "essential-eight");
    h.partner(Method::POST, "/assessments", Some(body.clone())).await.assert_error(403, "RUN_LIMIT_REACHED");

    let r = h.partner(Method::POST, "/plan", Some(json!({ "plan": "enterprise" }))).await;
    assert_eq!(r.assert_status(200)["runLimit"], json!(-1));
    h.partner(Method::POST, "/assessments", Some(body.clone())).await.assert_status(202);

    let r = h.partner(Method::POST, "/plan", Some(json!({ "plan": "starter" }))).await;
    assert_eq!(r.assert_status(200)["runLimit"], json!(1));
    h.partner(Method::POST, "/assessments", Some(body)).await.assert_error(403, "RUN_LIMIT_REACHED");
    h.partner(Method::POST, "/assessments", Some(assessment_body(&c, "nist-csf")))
        .await
        .assert_error(403, "PRODUCT_NOT_ALLOWED");
    assert_eq!(me(&h, h.partner_key()).await["usage"]["runsUsed"], 3);
}

#[tokio::test]
async fn p2_plan_change_errors() {
    let h = Harness::new().await;
    let key = h.partner_key().to_string();
    for body in ["not json", "[]", "", r#"{"plan": 5}"#, r#"{"plan":"enterprise","billing":1}"#] {
        raw_as(&h, false, &key, "/plan", body).await.assert_error(400, "INVALID_JSON");
    }
    for body in [json!({}), json!({ "plan": null }), json!({ "billing": "monthly" })] {
        h.partner(Method::POST, "/plan", Some(body)).await.assert_error(400, "MISSING_FIELD");
    }
    h.partner(Method::POST, "/plan", Some(json!({ "plan": "enterprise", "coupon": "FREE" })))
        .await
        .assert_error(400, "INVALID_FIELD");
    for body in [
        json!({ "plan": "platinum" }),
        json!({ "plan": "enterprise", "billing": "weekly" }),
        json!({ "plan": "enterprise", "currency": "jpy" }),
        json!({ "plan": "professional" }),
        json!({ "plan": "professional", "billing": "monthly", "currency": "usd" }),
    ] {
        h.partner(Method::POST, "/plan", Some(body)).await.assert_error(400, "PLAN_CHANGE_FAILED");
    }
    let body = me(&h, &key).await;
    assert_eq!(body["plan"], "professional");
    assert_eq!(body["usage"]["runsLimit"], 200);
}

#[tokio::test]
async fn p2_more_than_ten_plan_changes_an_hour_is_rate_limited() {
    let h = Harness::new().await;
    for i in 0..10 {
        let plan = if i % 2 == 0 { "enterprise" } else { "professional" };
        h.partner(Method::POST, "/plan", Some(json!({ "plan": plan }))).await.assert_status(200);
        h.clock.advance(60);
    }
    // 10:10:00 now; the 11th change within the hour is refused and changes nothing.
    let r = h.partner(Method::POST, "/plan", Some(json!({ "plan": "enterprise" }))).await;
    r.assert_error(429, "RATE_LIMITED");
    let retry: i64 = r.header("retry-after").expect("Retry-After").parse().expect("whole seconds");
    assert!((1..=3600).contains(&retry), "Retry-After {retry}");
    assert_eq!(me(&h, h.partner_key()).await["plan"], "professional");

    // A new hour: changes are allowed again.
    h.clock.advance(3600);
    let r = h.partner(Method::POST, "/plan", Some(json!({ "plan": "enterprise" }))).await;
    assert_eq!(r.assert_status(200)["plan"], "enterprise");
    assert_eq!(me(&h, h.partner_key()).await["plan"], "enterprise");
}

// ---- P3 GET /products ----

fn product_json(id: &str) -> Value {
    match id {
        "essential-eight" => {
            json!({ "id": "essential-eight", "name": "Essential Eight Assessment", "category": "compliance", "estimatedDuration": 180 })
        }
        "nist-csf" => {
            json!({ "id": "nist-csf", "name": "NIST CSF Assessment", "category": "compliance", "estimatedDuration": 240 })
        }
        "cis-m365" => {
            json!({ "id": "cis-m365", "name": "CIS Microsoft 365 Benchmark", "category": "benchmark", "estimatedDuration": 200 })
        }
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn p3_products_are_those_of_the_plan() {
    let h = Harness::new().await;
    let r = h.partner(Method::GET, "/products", None).await;
    assert_eq!(
        r.assert_status(200),
        &json!({ "products": [product_json("essential-eight"), product_json("nist-csf"), product_json("cis-m365")] })
    );
    let (_, starter) = h.active_partner("s@example.com", "starter").await;
    let r = h.partner_as(&starter, Method::GET, "/products", None).await;
    assert_eq!(r.assert_status(200), &json!({ "products": [product_json("essential-eight")] }));
    let (_, ent) = h.active_partner("e@example.com", "enterprise").await;
    let r = h.partner_as(&ent, Method::GET, "/products", None).await;
    assert_eq!(r.assert_status(200)["products"].as_array().unwrap().len(), 3);

    // After a plan change the list follows the new plan.
    h.partner(Method::POST, "/plan", Some(json!({ "plan": "starter" }))).await.assert_status(200);
    let r = h.partner(Method::GET, "/products", None).await;
    assert_eq!(r.assert_status(200), &json!({ "products": [product_json("essential-eight")] }));
}

// ---- P4 GET /customers ----

#[tokio::test]
async fn p4_lists_customers_in_reference_shape() {
    let h = Harness::new().await;
    let r = h
        .partner(
            Method::POST,
            "/customers",
            Some(json!({ "name": "Contoso Ltd", "tenantId": TENANT, "email": "it@contoso.com", "receivers": ["ciso@contoso.com"] })),
        )
        .await;
    let c1 = s(&r.assert_status(201)["id"]);
    h.clock.advance(60);
    let c2 = h.customer("Fabrikam Inc", TENANT2).await;
    let r = h.partner(Method::GET, "/customers", None).await;
    let mut body = r.assert_status(200).clone();
    body["customers"].as_array_mut().unwrap().sort_by_key(|c| s(&c["name"]));
    assert_eq!(
        &body,
        &json!({
            "customers": [
                { "id": c1, "name": "Contoso Ltd", "tenantId": TENANT, "email": "it@contoso.com", "consentStatus": "pending", "createdAt": T0_STR },
                { "id": c2, "name": "Fabrikam Inc", "tenantId": TENANT2, "email": null, "consentStatus": "granted", "createdAt": "2026-04-03T10:01:00Z" },
            ],
            "nextCursor": null,
        })
    );
}

#[tokio::test]
async fn p4_pages_through_all_customers_with_limit_and_cursor() {
    let h = Harness::new().await;
    let batch: Vec<Value> = (0..7).map(|i| json!({ "name": format!("C{i}"), "tenantId": tenant(i) })).collect();
    h.partner(Method::POST, "/customers/bulk", Some(json!({ "customers": batch }))).await.assert_status(201);
    let all = ids(&list_customers(&h).await);
    assert_eq!(all.len(), 7);
    let key = h.partner_key().to_string();
    let (items, pages) = page_all(&h, false, &key, "/customers", "customers", 3).await;
    assert_eq!(pages, 3);
    let paged = ids(&items);
    assert_distinct(&paged);
    assert_eq!(paged, all);
    let (items, pages) = page_all(&h, false, &key, "/customers", "customers", 7).await;
    assert_eq!((items.len(), pages), (7, 1));

    for q in ["limit=0", "limit=101", "limit=abc", "limit=-1"] {
        h.partner(Method::GET, &format!("/customers?{q}"), None).await.assert_error(400, "INVALID_FIELD");
    }
    let first = h.partner(Method::GET, "/customers?limit=3", None).await;
    let cursor = s(&first.body["nextCursor"]);
    let mut tampered = cursor.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    h.partner(Method::GET, &format!("/customers?limit=3&cursor={tampered}"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
    h.partner(Method::GET, "/customers?cursor=garbage", None).await.assert_error(400, "INVALID_FIELD");
}

#[tokio::test]
async fn p4_lists_only_own_customers() {
    let h = Harness::new().await;
    let mine = h.customer("Mine", TENANT).await;
    let (_, other) = h.active_partner("o@example.com", "professional").await;
    h.customer_for(&other, "Theirs", TENANT2).await;
    assert_eq!(ids(&list_customers(&h).await), vec![mine]);
    // The other partner's cursor is not valid for this partner either.
    let batch: Vec<Value> = (0..3).map(|i| json!({ "name": format!("C{i}"), "tenantId": tenant(i) })).collect();
    h.partner_as(&other, Method::POST, "/customers/bulk", Some(json!({ "customers": batch }))).await.assert_status(201);
    let r = h.partner_as(&other, Method::GET, "/customers?limit=1", None).await;
    let cursor = s(&r.assert_status(200)["nextCursor"]);
    h.partner(Method::GET, &format!("/customers?limit=1&cursor={cursor}"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
}

// ---- P5 POST /customers ----

#[tokio::test]
async fn p5_creates_customer_in_reference_shape() {
    let h = Harness::new().await;
    let r = h
        .partner(
            Method::POST,
            "/customers",
            Some(json!({
                "name": "Contoso Ltd",
                "tenantId": TENANT,
                "email": "it@contoso.com",
                "receivers": ["ciso@contoso.com", "it@contoso.com"],
                "questionnaireRecipients": ["ciso@contoso.com"]
            })),
        )
        .await;
    let body = r.assert_status(201).clone();
    let id = s(&body["id"]);
    assert!(id.starts_with("cust_") && id.len() >= 5 + 16, "id {id}");
    let expected = json!({
        "id": id,
        "name": "Contoso Ltd",
        "tenantId": TENANT,
        "email": "it@contoso.com",
        "receivers": ["ciso@contoso.com", "it@contoso.com"],
        "questionnaireRecipients": ["ciso@contoso.com"],
        "consentStatus": "pending",
        "createdAt": T0_STR,
    });
    assert_eq!(body, expected);
    let got = h.partner(Method::GET, &format!("/customers/{id}"), None).await;
    let mut want = expected;
    want["recentRuns"] = json!([]);
    assert_eq!(got.assert_status(200), &want);
    assert_eq!(me(&h, h.partner_key()).await["usage"]["customersCount"], 1);
}

#[tokio::test]
async fn p5_create_customer_errors_write_nothing() {
    let h = Harness::new().await;
    let key = h.partner_key().to_string();
    for body in [
        "not json",
        "",
        "[]",
        "\"Contoso\"",
        r#"{"name": 5, "tenantId": "d4f5a678-1234-5678-9abc-def012345678"}"#,
        r#"{"name": "A", "tenantId": true}"#,
        r#"{"name": "A", "tenantId": "d4f5a678-1234-5678-9abc-def012345678", "receivers": "x@y.com"}"#,
        r#"{"name": "A", "tenantId": "d4f5a678-1234-5678-9abc-def012345678", "receivers": [1]}"#,
    ] {
        let r = raw_as(&h, false, &key, "/customers", body).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_JSON"), "{body}: {}", r.body);
    }
    for body in [
        json!({}),
        json!({ "tenantId": TENANT }),
        json!({ "name": null, "tenantId": TENANT }),
        json!({ "name": "A" }),
        json!({ "name": "A", "tenantId": null }),
    ] {
        let r = h.partner(Method::POST, "/customers", Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "MISSING_FIELD"), "{body}: {}", r.body);
    }
    for body in [
        json!({ "name": "A", "tenantId": "not-a-guid" }),
        json!({ "name": "A", "tenantId": "d4f5a678-1234-5678-9abc-def01234567" }),
        json!({ "name": "A", "tenantId": "g4f5a678-1234-5678-9abc-def012345678" }),
        json!({ "name": "A", "tenantId": TENANT, "email": "not-an-email" }),
        json!({ "name": "A", "tenantId": TENANT, "receivers": ["ok@example.com", "bad"] }),
        json!({ "name": "A", "tenantId": TENANT, "questionnaireRecipients": ["@example.com"] }),
        json!({ "name": "A", "tenantId": TENANT, "phone": "123" }),
        json!({ "name": "   ", "tenantId": TENANT }),
    ] {
        let r = h.partner(Method::POST, "/customers", Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_FIELD"), "{body}: {}", r.body);
        assert!(!r.body["error"]["message"].as_str().unwrap().is_empty());
    }
    assert!(list_customers(&h).await.is_empty());
    assert_eq!(me(&h, &key).await["usage"]["customersCount"], 0);
}

#[tokio::test]
async fn p5_duplicate_tenant_is_customer_exists() {
    let h = Harness::new().await;
    h.customer("Contoso", TENANT).await;
    // Same GUID in upper case is the same tenant.
    h.partner(Method::POST, "/customers", Some(customer_body("Again", &TENANT.to_uppercase())))
        .await
        .assert_error(409, "CUSTOMER_EXISTS");
    assert_eq!(list_customers(&h).await.len(), 1);
    // Another partner may have a customer on the same tenant.
    let (_, other) = h.active_partner("o@example.com", "professional").await;
    h.customer_for(&other, "Contoso", TENANT).await;
}

// ---- P6 POST /customers/bulk ----

#[tokio::test]
async fn p6_bulk_creates_in_reference_shape() {
    let h = Harness::new().await;
    let r = h
        .partner(
            Method::POST,
            "/customers/bulk",
            Some(json!({ "customers": [
                { "name": "Contoso Ltd", "tenantId": TENANT, "email": "it@contoso.com" },
                { "name": "Fabrikam Inc", "tenantId": TENANT2, "email": "admin@fabrikam.com" }
            ]})),
        )
        .await;
    let body = r.assert_status(201).clone();
    let list = list_customers(&h).await;
    assert_eq!(list.len(), 2);
    let (a, b) = (id_where(&list, "name", "Contoso Ltd"), id_where(&list, "name", "Fabrikam Inc"));
    assert_eq!(
        body,
        json!({
            "created": 2,
            "failed": 0,
            "customers": [
                { "id": a, "name": "Contoso Ltd", "status": "created" },
                { "id": b, "name": "Fabrikam Inc", "status": "created" },
            ]
        })
    );
    let fabrikam = list.iter().find(|c| c["id"] == json!(b)).unwrap();
    assert_eq!(fabrikam["email"], "admin@fabrikam.com");
}

#[tokio::test]
async fn p6_bulk_reports_per_item_failures() {
    let h = Harness::new().await;
    h.customer("Existing", &tenant(1)).await;
    let r = h
        .partner(
            Method::POST,
            "/customers/bulk",
            Some(json!({ "customers": [
                { "name": "Good A", "tenantId": tenant(2) },
                { "name": "Dup existing", "tenantId": tenant(1) },
                { "name": "Bad GUID", "tenantId": "nope" },
                { "name": "Good B", "tenantId": tenant(3) },
                { "name": "Dup in batch", "tenantId": tenant(2) },
                { "tenantId": tenant(4) },
                "not an object",
            ]})),
        )
        .await;
    let body = r.assert_status(201).clone();
    assert_eq!(body["created"], 2, "{body}");
    assert_eq!(body["failed"], 5, "{body}");
    let items = body["customers"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    let outcome: Vec<(&str, &str)> =
        items.iter().map(|i| (i["status"].as_str().unwrap(), i["error"]["code"].as_str().unwrap_or(""))).collect();
    assert_eq!(
        outcome,
        vec![
            ("created", ""),
            ("failed", "CUSTOMER_EXISTS"),
            ("failed", "INVALID_FIELD"),
            ("created", ""),
            ("failed", "CUSTOMER_EXISTS"),
            ("failed", "MISSING_FIELD"),
            ("failed", "INVALID_JSON"),
        ]
    );
    for i in [1, 2, 4, 5, 6] {
        assert!(items[i]["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(items[i].get("id").is_none_or(Value::is_null));
    }
    assert_eq!(items[1]["name"], "Dup existing");
    let names: Vec<String> = list_customers(&h).await.iter().map(|c| s(&c["name"])).collect();
    assert_eq!(sorted(names), vec!["Existing", "Good A", "Good B"]);
    assert_eq!(s(&items[0]["id"]), id_where(&list_customers(&h).await, "name", "Good A"));
    assert_eq!(s(&items[3]["id"]), id_where(&list_customers(&h).await, "name", "Good B"));
}

#[tokio::test]
async fn p6_bulk_of_100_is_fine_101_is_too_many_and_writes_nothing() {
    let h = Harness::new().await;
    let batch =
        |n: u32| -> Vec<Value> { (0..n).map(|i| json!({ "name": format!("C{i}"), "tenantId": tenant(i) })).collect() };
    h.partner(Method::POST, "/customers/bulk", Some(json!({ "customers": batch(101) })))
        .await
        .assert_error(400, "TOO_MANY");
    assert!(list_customers(&h).await.is_empty());
    assert_eq!(me(&h, h.partner_key()).await["usage"]["customersCount"], 0);
    assert!(h.events().await.is_empty(), "events written");

    let r = h.partner(Method::POST, "/customers/bulk", Some(json!({ "customers": batch(100) }))).await;
    let body = r.assert_status(201);
    assert_eq!((body["created"].clone(), body["failed"].clone()), (json!(100), json!(0)));
    assert_eq!(list_customers(&h).await.len(), 100);
}

#[tokio::test]
async fn p6_bulk_body_errors() {
    let h = Harness::new().await;
    let key = h.partner_key().to_string();
    for body in ["nope", "[]", r#"{"customers": {}}"#, r#"{"customers": "x"}"#] {
        raw_as(&h, false, &key, "/customers/bulk", body).await.assert_error(400, "INVALID_JSON");
    }
    for body in [json!({}), json!({ "customers": null })] {
        h.partner(Method::POST, "/customers/bulk", Some(body)).await.assert_error(400, "MISSING_FIELD");
    }
    h.partner(Method::POST, "/customers/bulk", Some(json!({ "customers": [], "extra": 1 })))
        .await
        .assert_error(400, "INVALID_FIELD");
    assert!(list_customers(&h).await.is_empty());
}

// ---- P7 GET /customers/{id} ----

#[tokio::test]
async fn p7_customer_has_recent_runs_newest_first_at_most_ten() {
    let h = Harness::new().await;
    let c = h.customer("Contoso Ltd", TENANT).await;
    let other = h.customer("Other", TENANT2).await;
    run(&h, &other, "essential-eight").await;
    let mut runs = Vec::new();
    for i in 0..12 {
        h.clock.advance(60);
        let product = if i % 2 == 0 { "essential-eight" } else { "nist-csf" };
        runs.push((run(&h, &c, product).await, product, T0 + 60 * (i + 1)));
    }
    let r = h.partner(Method::GET, &format!("/customers/{c}"), None).await;
    let body = r.assert_status(200).clone();
    let expected_recent: Vec<Value> = runs
        .iter()
        .rev()
        .take(10)
        .map(|(id, product, t)| {
            json!({
                "id": id,
                "product": product,
                "status": "queued",
                "createdAt": body_time(*t),
            })
        })
        .collect();
    assert_eq!(
        body,
        json!({
            "id": c,
            "name": "Contoso Ltd",
            "tenantId": TENANT,
            "email": null,
            "receivers": [],
            "questionnaireRecipients": [],
            "consentStatus": "granted",
            "recentRuns": expected_recent,
            "createdAt": T0_STR,
        })
    );
    assert_eq!(body["recentRuns"][0]["createdAt"], "2026-04-03T10:12:00Z");
}

fn body_time(t: Timestamp) -> String {
    let mins = (t - T0) / 60;
    format!("2026-04-03T{:02}:{:02}:00Z", 10 + mins / 60, mins % 60)
}

#[tokio::test]
async fn p7_unknown_or_foreign_customer_is_404() {
    let h = Harness::new().await;
    h.partner(Method::GET, "/customers/cust_doesnotexist000000", None).await.assert_error(404, "NOT_FOUND");
    let (_, other) = h.active_partner("o@example.com", "professional").await;
    let theirs = h.customer_for(&other, "Theirs", TENANT).await;
    h.partner(Method::GET, &format!("/customers/{theirs}"), None).await.assert_error(404, "NOT_FOUND");
}

// ---- P8 PATCH /customers/{id} ----

#[tokio::test]
async fn p8_patch_changes_only_the_given_fields() {
    let h = Harness::new().await;
    let r = h
        .partner(
            Method::POST,
            "/customers",
            Some(json!({
                "name": "Contoso Ltd",
                "tenantId": TENANT,
                "email": "it@contoso.com",
                "receivers": ["ciso@contoso.com", "it@contoso.com"],
                "questionnaireRecipients": ["ciso@contoso.com"]
            })),
        )
        .await;
    let id = s(&r.assert_status(201)["id"]);
    h.clock.advance(300);
    let r = h
        .partner(
            Method::PATCH,
            &format!("/customers/{id}"),
            Some(json!({
                "name": "Contoso Corporation",
                "receivers": ["ciso@contoso.com", "security@contoso.com"]
            })),
        )
        .await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "id": id,
            "name": "Contoso Corporation",
            "tenantId": TENANT,
            "email": "it@contoso.com",
            "receivers": ["ciso@contoso.com", "security@contoso.com"],
            "questionnaireRecipients": ["ciso@contoso.com"],
            "consentStatus": "pending",
            "updatedAt": "2026-04-03T10:05:00Z",
        })
    );
    let got = h.partner(Method::GET, &format!("/customers/{id}"), None).await;
    let got = got.assert_status(200);
    assert_eq!(got["name"], "Contoso Corporation");
    assert_eq!(got["email"], "it@contoso.com");
    assert_eq!(got["questionnaireRecipients"], json!(["ciso@contoso.com"]));
    assert_eq!(got["receivers"], json!(["ciso@contoso.com", "security@contoso.com"]));
    assert_eq!(got["createdAt"], T0_STR);

    // Changing the tenant frees the old one and takes the new one.
    h.partner(Method::PATCH, &format!("/customers/{id}"), Some(json!({ "tenantId": TENANT2 })))
        .await
        .assert_status(200);
    h.customer("Reuses old tenant", TENANT).await;
    h.partner(Method::POST, "/customers", Some(customer_body("X", TENANT2))).await.assert_error(409, "CUSTOMER_EXISTS");
}

#[tokio::test]
async fn p8_patch_errors_leave_the_customer_unchanged() {
    let h = Harness::new().await;
    let id = h.customer("Contoso", TENANT).await;
    h.customer("Fabrikam", TENANT2).await;
    let key = h.partner_key().to_string();
    let path = format!("/customers/{id}");
    for body in ["nope", "[]", r#"{"name": 5}"#, r#"{"receivers": "a@b.com"}"#] {
        raw_patch_as(&h, false, &key, &path, body).await.assert_error(400, "INVALID_JSON");
    }
    for body in [
        json!({ "tenantId": "not-a-guid" }),
        json!({ "email": "nope" }),
        json!({ "receivers": ["nope"] }),
        json!({ "color": "blue" }),
        json!({ "name": "" }),
    ] {
        let r = h.partner(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_FIELD"), "{body}: {}", r.body);
    }
    h.partner(Method::PATCH, &path, Some(json!({ "tenantId": TENANT2 }))).await.assert_error(409, "CUSTOMER_EXISTS");
    h.partner(Method::PATCH, "/customers/cust_doesnotexist000000", Some(json!({ "name": "X" })))
        .await
        .assert_error(404, "NOT_FOUND");
    let (_, other) = h.active_partner("o@example.com", "professional").await;
    let theirs = h.customer_for(&other, "Theirs", TENANT).await;
    h.partner(Method::PATCH, &format!("/customers/{theirs}"), Some(json!({ "name": "Hijacked" })))
        .await
        .assert_error(404, "NOT_FOUND");
    let r = h.partner_as(&other, Method::GET, &format!("/customers/{theirs}"), None).await;
    assert_eq!(r.assert_status(200)["name"], "Theirs");

    let got = h.partner(Method::GET, &path, None).await;
    let got = got.assert_status(200);
    assert_eq!(got["name"], "Contoso");
    assert_eq!(got["tenantId"], TENANT);
    assert_eq!(got["email"], Value::Null);
    assert_eq!(got["receivers"], json!([]));
}

// ---- P9 DELETE /customers/{id} ----

#[tokio::test]
async fn p9_delete_removes_the_customer_and_all_its_runs() {
    let h = Harness::new().await;
    let a = h.customer("A", TENANT).await;
    let b = h.customer("B", TENANT2).await;
    let ra1 = run(&h, &a, "essential-eight").await;
    let ra2 = run(&h, &a, "nist-csf").await;
    let rb = run(&h, &b, "essential-eight").await;

    let r = h.partner(Method::DELETE, &format!("/customers/{a}"), None).await;
    r.assert_status(204);
    assert!(r.raw.is_empty(), "204 with a body");

    h.partner(Method::GET, &format!("/customers/{a}"), None).await.assert_error(404, "NOT_FOUND");
    for run_id in [&ra1, &ra2] {
        h.partner(Method::GET, &format!("/assessments/{run_id}"), None).await.assert_error(404, "NOT_FOUND");
    }
    assert_eq!(ids(&list_runs(&h, "").await), vec![rb]);
    assert!(list_runs(&h, &format!("?customerId={a}")).await.is_empty());
    assert_eq!(ids(&list_customers(&h).await), vec![b]);
    let usage = me(&h, h.partner_key()).await["usage"].clone();
    assert_eq!(usage["customersCount"], 1);
    // Runs are counted when queued: deleting them does not give the month's runs back.
    assert_eq!(usage["runsUsed"], 3);
    // The tenant is free again.
    h.customer("A again", TENANT).await;

    h.partner(Method::DELETE, &format!("/customers/{a}"), None).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn p9_delete_of_a_foreign_customer_is_404_and_keeps_it() {
    let h = Harness::new().await;
    let (_, other) = h.active_partner("o@example.com", "professional").await;
    let theirs = h.customer_for(&other, "Theirs", TENANT).await;
    let their_run = run_for(&h, &other, &theirs, "essential-eight").await;
    h.partner(Method::DELETE, &format!("/customers/{theirs}"), None).await.assert_error(404, "NOT_FOUND");
    h.partner_as(&other, Method::GET, &format!("/customers/{theirs}"), None).await.assert_status(200);
    h.partner_as(&other, Method::GET, &format!("/assessments/{their_run}"), None).await.assert_status(200);
}

// ---- P10 POST /assessments ----

#[tokio::test]
async fn p10_triggers_a_queued_run_in_reference_shape() {
    let mut h = Harness::new().await;
    let c = h.customer("Contoso Ltd", TENANT).await;
    h.clock.advance(600);
    let r = h
        .partner(
            Method::POST,
            "/assessments",
            Some(json!({ "customerId": c, "product": "essential-eight", "maturityTarget": 3 })),
        )
        .await;
    let body = r.assert_status(202).clone();
    let id = s(&body["id"]);
    assert!(id.starts_with("run_") && id.len() >= 4 + 16, "id {id}");
    assert_eq!(
        body,
        json!({
            "id": id,
            "customerId": c,
            "product": "essential-eight",
            "maturityTarget": 3,
            "status": "queued",
            "createdAt": "2026-04-03T10:10:00Z",
        })
    );
    let msgs = h.queued_messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].run_id, id);
    assert_eq!(msgs[0].partner_id, h.partner_id());
    assert_eq!(me(&h, h.partner_key()).await["usage"]["runsUsed"], 1);
    assert_eq!(ids(&list_runs(&h, "").await), vec![id]);
}

#[tokio::test]
async fn p10_maturity_target_defaults_to_the_products_default() {
    let h = Harness::new().await;
    let c = h.customer("A", TENANT).await;
    for (product, default) in [("essential-eight", 1), ("nist-csf", 2), ("cis-m365", 1)] {
        let r = h.partner(Method::POST, "/assessments", Some(json!({ "customerId": c, "product": product }))).await;
        assert_eq!(r.assert_status(202)["maturityTarget"], default, "{product}");
    }
    // Both ends of a range are accepted.
    for (product, m) in [("nist-csf", 1), ("nist-csf", 4), ("cis-m365", 2)] {
        h.partner(
            Method::POST,
            "/assessments",
            Some(json!({ "customerId": c, "product": product, "maturityTarget": m })),
        )
        .await
        .assert_status(202);
    }
}

#[tokio::test]
async fn p10_trigger_errors_write_nothing() {
    let mut h = Harness::new().await;
    let c = h.customer("A", TENANT).await;
    let (_, other) = h.active_partner("o@example.com", "professional").await;
    let theirs = h.customer_for(&other, "Theirs", TENANT2).await;
    let key = h.partner_key().to_string();
    for body in [
        "nope".to_string(),
        "[]".to_string(),
        format!(r#"{{"customerId": "{c}", "product": "essential-eight", "maturityTarget": "3"}}"#),
        r#"{"customerId": 5, "product": "essential-eight"}"#.to_string(),
        format!(r#"{{"customerId": "{c}", "product": ["essential-eight"]}}"#),
    ] {
        let r = raw_as(&h, false, &key, "/assessments", &body).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_JSON"), "{body}");
    }
    let cases = [
        (json!({ "product": "essential-eight" }), 400, "MISSING_FIELD"),
        (json!({ "customerId": c }), 400, "MISSING_FIELD"),
        (json!({ "customerId": c, "product": null }), 400, "MISSING_FIELD"),
        (json!({ "customerId": null, "product": "essential-eight" }), 400, "MISSING_FIELD"),
        (json!({ "customerId": c, "product": "essential-eight", "priority": 1 }), 400, "INVALID_FIELD"),
        (json!({ "customerId": c, "product": "essential-eight", "maturityTarget": 0 }), 400, "INVALID_FIELD"),
        (json!({ "customerId": c, "product": "essential-eight", "maturityTarget": 4 }), 400, "INVALID_FIELD"),
        (json!({ "customerId": c, "product": "nist-csf", "maturityTarget": 5 }), 400, "INVALID_FIELD"),
        (json!({ "customerId": c, "product": "cis-m365", "maturityTarget": 3 }), 400, "INVALID_FIELD"),
        (json!({ "customerId": c, "product": "essential-eight", "maturityTarget": 2.5 }), 400, "INVALID_FIELD"),
        (json!({ "customerId": c, "product": "essential-eight", "maturityTarget": -1 }), 400, "INVALID_FIELD"),
        (json!({ "customerId": c, "product": "soc2" }), 400, "INVALID_PRODUCT"),
        (json!({ "customerId": "cust_doesnotexist000000", "product": "essential-eight" }), 404, "NOT_FOUND"),
        (json!({ "customerId": theirs, "product": "essential-eight" }), 404, "NOT_FOUND"),
    ];
    for (body, status, code) in cases {
        let r = h.partner(Method::POST, "/assessments", Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (status, code), "{body}: {}", r.body);
    }
    assert!(list_runs(&h, "").await.is_empty());
    assert_eq!(me(&h, &key).await["usage"]["runsUsed"], 0);
    assert!(h.queued_messages().is_empty());
    // The other partner's customer got no run either.
    let r = h.partner_as(&other, Method::GET, "/assessments", None).await;
    assert_eq!(r.assert_status(200)["runs"], json!([]));
}

#[tokio::test]
async fn p10_product_outside_the_plan_is_not_allowed() {
    let h = Harness::new().await;
    let (_, starter) = h.active_partner("s@example.com", "starter").await;
    let c = h.customer_for(&starter, "A", TENANT).await;
    for product in ["nist-csf", "cis-m365"] {
        h.partner_as(&starter, Method::POST, "/assessments", Some(json!({ "customerId": c, "product": product })))
            .await
            .assert_error(403, "PRODUCT_NOT_ALLOWED");
    }
    // Unknown beats not-allowed: it is not a product at all.
    h.partner_as(&starter, Method::POST, "/assessments", Some(assessment_body(&c, "soc2")))
        .await
        .assert_error(400, "INVALID_PRODUCT");
    assert_eq!(me(&h, &starter).await["usage"]["runsUsed"], 0);
    run_for(&h, &starter, &c, "essential-eight").await;
}

#[tokio::test]
async fn p10_run_limit_reached_refuses_and_resets_next_month() {
    let h = Harness::with_config(with_runs(&[("professional", Some(2))])).await;
    let c = h.customer("A", TENANT).await;
    run(&h, &c, "essential-eight").await;
    run(&h, &c, "nist-csf").await;
    let r = h.partner(Method::POST, "/assessments", Some(assessment_body(&c, "essential-eight"))).await;
    r.assert_error(403, "RUN_LIMIT_REACHED");
    assert_eq!(list_runs(&h, "").await.len(), 2);
    assert_eq!(
        me(&h, h.partner_key()).await["usage"],
        json!({ "month": "2026-04", "runsUsed": 2, "runsLimit": 2, "customersCount": 1 })
    );
    h.clock.set(MAY_1);
    run(&h, &c, "essential-eight").await;
    assert_eq!(me(&h, h.partner_key()).await["usage"]["runsUsed"], 1);
}

// ---- P11 POST /assessments/bulk ----

#[tokio::test]
async fn p11_bulk_queues_runs_in_reference_shape() {
    let mut h = Harness::new().await;
    let cs = [h.customer("A", &tenant(1)).await, h.customer("B", &tenant(2)).await, h.customer("C", &tenant(3)).await];
    let r = h
        .partner(
            Method::POST,
            "/assessments/bulk",
            Some(json!({ "product": "essential-eight", "customerIds": cs, "maturityTarget": 3 })),
        )
        .await;
    let body = r.assert_status(202).clone();
    let runs = body["runs"].as_array().unwrap();
    let run_ids: Vec<String> = runs.iter().map(|r| s(&r["id"])).collect();
    assert_eq!(
        body,
        json!({
            "queued": 3,
            "failed": 0,
            "runs": [
                { "id": run_ids[0], "customerId": cs[0], "status": "queued" },
                { "id": run_ids[1], "customerId": cs[1], "status": "queued" },
                { "id": run_ids[2], "customerId": cs[2], "status": "queued" },
            ]
        })
    );
    assert_distinct(&run_ids);
    for (id, c) in run_ids.iter().zip(&cs) {
        let r = h.partner(Method::GET, &format!("/assessments/{id}"), None).await;
        let d = r.assert_status(200);
        assert_eq!(d["customerId"], json!(c));
        assert_eq!(d["maturityTarget"], 3);
        assert_eq!(d["product"], "essential-eight");
    }
    assert_eq!(me(&h, h.partner_key()).await["usage"]["runsUsed"], 3);
    assert_eq!(h.queued_messages().len(), 3);
}

#[tokio::test]
async fn p11_bulk_reports_per_item_failures() {
    let h = Harness::new().await;
    let a = h.customer("A", &tenant(1)).await;
    let b = h.customer("B", &tenant(2)).await;
    let (_, other) = h.active_partner("o@example.com", "professional").await;
    let theirs = h.customer_for(&other, "Theirs", &tenant(3)).await;
    let r = h
        .partner(
            Method::POST,
            "/assessments/bulk",
            Some(json!({ "product": "nist-csf", "customerIds": [a, "cust_doesnotexist000000", theirs, b] })),
        )
        .await;
    let body = r.assert_status(202).clone();
    assert_eq!((body["queued"].clone(), body["failed"].clone()), (json!(2), json!(2)), "{body}");
    let runs = body["runs"].as_array().unwrap();
    let outcome: Vec<(String, &str, &str)> = runs
        .iter()
        .map(|r| (s(&r["customerId"]), r["status"].as_str().unwrap(), r["error"]["code"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        outcome,
        vec![
            (a.clone(), "queued", ""),
            ("cust_doesnotexist000000".to_string(), "failed", "NOT_FOUND"),
            (theirs.clone(), "failed", "NOT_FOUND"),
            (b.clone(), "queued", ""),
        ]
    );
    assert_eq!(list_runs(&h, "").await.len(), 2);
    assert_eq!(me(&h, h.partner_key()).await["usage"]["runsUsed"], 2);
    let r = h.partner_as(&other, Method::GET, "/assessments", None).await;
    assert_eq!(r.assert_status(200)["runs"], json!([]));
}

#[tokio::test]
async fn p11_bulk_stops_at_the_run_limit_item_by_item() {
    let h = Harness::with_config(with_runs(&[("professional", Some(2))])).await;
    let cs = [h.customer("A", &tenant(1)).await, h.customer("B", &tenant(2)).await, h.customer("C", &tenant(3)).await];
    let r = h
        .partner(Method::POST, "/assessments/bulk", Some(json!({ "product": "essential-eight", "customerIds": cs })))
        .await;
    let body = r.assert_status(202).clone();
    assert_eq!((body["queued"].clone(), body["failed"].clone()), (json!(2), json!(1)), "{body}");
    assert_eq!(body["runs"][2]["status"], "failed");
    assert_eq!(body["runs"][2]["error"]["code"], "RUN_LIMIT_REACHED");
    assert_eq!(list_runs(&h, "").await.len(), 2);
    assert_eq!(me(&h, h.partner_key()).await["usage"]["runsUsed"], 2);
}

#[tokio::test]
async fn p11_bulk_of_50_is_fine_51_is_too_many_and_writes_nothing() {
    let mut h = Harness::new().await;
    let c = h.customer("A", TENANT).await;
    let r = h
        .partner(
            Method::POST,
            "/assessments/bulk",
            Some(json!({ "product": "essential-eight", "customerIds": vec![c.clone(); 51] })),
        )
        .await;
    r.assert_error(400, "TOO_MANY");
    assert!(list_runs(&h, "").await.is_empty());
    assert_eq!(me(&h, h.partner_key()).await["usage"]["runsUsed"], 0);
    assert!(h.queued_messages().is_empty());

    let r = h
        .partner(
            Method::POST,
            "/assessments/bulk",
            Some(json!({ "product": "essential-eight", "customerIds": vec![c.clone(); 50] })),
        )
        .await;
    let body = r.assert_status(202);
    assert_eq!((body["queued"].clone(), body["failed"].clone()), (json!(50), json!(0)));
    assert_eq!(me(&h, h.partner_key()).await["usage"]["runsUsed"], 50);
}

#[tokio::test]
async fn p11_bulk_request_errors_write_nothing() {
    let h = Harness::new().await;
    let c = h.customer("A", TENANT).await;
    let (_, starter) = h.active_partner("s@example.com", "starter").await;
    let sc = h.customer_for(&starter, "S", TENANT2).await;
    let key = h.partner_key().to_string();
    for body in [
        "nope".to_string(),
        r#"{"product": "essential-eight", "customerIds": "x"}"#.to_string(),
        r#"{"product": "essential-eight", "customerIds": [1]}"#.to_string(),
        format!(r#"{{"product": 1, "customerIds": ["{c}"]}}"#),
    ] {
        let r = raw_as(&h, false, &key, "/assessments/bulk", &body).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_JSON"), "{body}");
    }
    let cases = [
        (json!({ "customerIds": [c] }), 400, "MISSING_FIELD"),
        (json!({ "product": "essential-eight" }), 400, "MISSING_FIELD"),
        (json!({ "product": "essential-eight", "customerIds": null }), 400, "MISSING_FIELD"),
        (json!({ "product": "soc2", "customerIds": [c] }), 400, "INVALID_PRODUCT"),
        (json!({ "product": "essential-eight", "customerIds": [c], "maturityTarget": 9 }), 400, "INVALID_FIELD"),
        (json!({ "product": "essential-eight", "customerIds": [c], "x": 1 }), 400, "INVALID_FIELD"),
    ];
    for (body, status, code) in cases {
        let r = h.partner(Method::POST, "/assessments/bulk", Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (status, code), "{body}: {}", r.body);
    }
    h.partner_as(
        &starter,
        Method::POST,
        "/assessments/bulk",
        Some(json!({ "product": "nist-csf", "customerIds": [sc] })),
    )
    .await
    .assert_error(403, "PRODUCT_NOT_ALLOWED");
    assert!(list_runs(&h, "").await.is_empty());
    assert_eq!(me(&h, &starter).await["usage"]["runsUsed"], 0);
}

// ---- P12 GET /assessments ----

#[tokio::test]
async fn p12_lists_runs_newest_first_in_reference_shape() {
    let h = Harness::new().await;
    let c = h.customer("A", TENANT).await;
    h.clock.advance(600);
    let r1 = run(&h, &c, "essential-eight").await;
    h.clock.advance(60);
    let r2 = run(&h, &c, "nist-csf").await;
    let r = h.partner(Method::GET, "/assessments", None).await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "runs": [
                { "id": r2, "customerId": c, "product": "nist-csf", "status": "queued", "createdAt": "2026-04-03T10:11:00Z" },
                { "id": r1, "customerId": c, "product": "essential-eight", "status": "queued", "createdAt": "2026-04-03T10:10:00Z" },
            ],
            "nextCursor": null,
        })
    );
}

#[tokio::test]
async fn p12_filters_by_month_product_and_customer() {
    let h = Harness::new().await;
    let a = h.customer("A", &tenant(1)).await;
    let b = h.customer("B", &tenant(2)).await;
    let apr_a = run(&h, &a, "essential-eight").await;
    let apr_b = run(&h, &b, "nist-csf").await;
    h.clock.set(MAY_1 + 3600);
    let may_a = run(&h, &a, "cis-m365").await;
    let may_b = run(&h, &b, "essential-eight").await;

    let cases: Vec<(String, Vec<&String>)> = vec![
        ("".into(), vec![&may_b, &may_a, &apr_b, &apr_a]),
        ("?month=2026-04".into(), vec![&apr_b, &apr_a]),
        ("?month=2026-05".into(), vec![&may_b, &may_a]),
        ("?month=2026-03".into(), vec![]),
        ("?product=essential-eight".into(), vec![&may_b, &apr_a]),
        ("?product=nist-csf".into(), vec![&apr_b]),
        (format!("?customerId={a}"), vec![&may_a, &apr_a]),
        (format!("?customerId={b}&month=2026-05"), vec![&may_b]),
        (format!("?customerId={a}&month=2026-04&product=essential-eight"), vec![&apr_a]),
        (format!("?customerId={a}&product=nist-csf"), vec![]),
        ("?customerId=cust_doesnotexist000000".into(), vec![]),
    ];
    for (q, want) in cases {
        let got = ids(&list_runs(&h, &q).await);
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(got, want, "query {q:?}");
    }
    for q in ["month=2026-13", "month=2026-4", "month=April", "month=2026-04-01", "month="] {
        h.partner(Method::GET, &format!("/assessments?{q}"), None).await.assert_error(400, "INVALID_FIELD");
    }
    h.partner(Method::GET, "/assessments?product=soc2", None).await.assert_error(400, "INVALID_PRODUCT");
}

#[tokio::test]
async fn p12_pages_through_all_runs_with_limit_and_cursor() {
    let h = Harness::new().await;
    let cs: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..7 {
            v.push(h.customer(&format!("C{i}"), &tenant(i)).await);
        }
        v
    };
    h.partner(Method::POST, "/assessments/bulk", Some(json!({ "product": "essential-eight", "customerIds": cs })))
        .await
        .assert_status(202);
    h.partner(Method::POST, "/assessments/bulk", Some(json!({ "product": "nist-csf", "customerIds": cs[..3] })))
        .await
        .assert_status(202);
    let all = ids(&list_runs(&h, "").await);
    assert_eq!(all.len(), 10);
    let key = h.partner_key().to_string();
    let (items, pages) = page_all(&h, false, &key, "/assessments", "runs", 3).await;
    assert_eq!(pages, 4);
    let paged = ids(&items);
    assert_distinct(&paged);
    assert_eq!(paged, all);

    // Paging within a filter.
    let (items, pages) = page_all(&h, false, &key, "/assessments?product=essential-eight", "runs", 2).await;
    assert_eq!(pages, 4);
    let e8 = ids(&items);
    assert_distinct(&e8);
    assert_eq!(e8, ids(&list_runs(&h, "?product=essential-eight").await));
    assert_eq!(e8.len(), 7);

    // A cursor only continues the list (and filters) it came from.
    let r = h.partner(Method::GET, "/assessments?product=essential-eight&limit=2", None).await;
    let cursor = s(&r.assert_status(200)["nextCursor"]);
    h.partner(Method::GET, &format!("/assessments?product=nist-csf&limit=2&cursor={cursor}"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
    h.partner(Method::GET, &format!("/customers?limit=2&cursor={cursor}"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
    h.partner(Method::GET, "/assessments?limit=101", None).await.assert_error(400, "INVALID_FIELD");
    h.partner(Method::GET, "/assessments?cursor=abc.def", None).await.assert_error(400, "INVALID_FIELD");
}

// ---- P13 GET /assessments/{id} ----

#[tokio::test]
async fn p13_gets_a_run_with_its_details() {
    let h = Harness::new().await;
    let c = h.customer("Contoso Ltd", TENANT).await;
    h.clock.advance(600);
    let r = h
        .partner(
            Method::POST,
            "/assessments",
            Some(json!({ "customerId": c, "product": "nist-csf", "maturityTarget": 3 })),
        )
        .await;
    let id = s(&r.assert_status(202)["id"]);
    h.clock.advance(60);
    let r = h.partner(Method::GET, &format!("/assessments/{id}"), None).await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "id": id,
            "customerId": c,
            "customerName": "Contoso Ltd",
            "product": "nist-csf",
            "maturityTarget": 3,
            "status": "queued",
            "createdAt": "2026-04-03T10:10:00Z",
        })
    );
}

#[tokio::test]
async fn p13_unknown_or_foreign_run_is_404() {
    let h = Harness::new().await;
    h.partner(Method::GET, "/assessments/run_doesnotexist000000", None).await.assert_error(404, "NOT_FOUND");
    let (_, other) = h.active_partner("o@example.com", "professional").await;
    let theirs = h.customer_for(&other, "Theirs", TENANT).await;
    let their_run = run_for(&h, &other, &theirs, "essential-eight").await;
    h.partner(Method::GET, &format!("/assessments/{their_run}"), None).await.assert_error(404, "NOT_FOUND");
}

// ---- P14 POST /keys ----

fn assert_partner_key(key: &str) {
    let rest = key.strip_prefix("pk_live_").unwrap_or_else(|| panic!("prefix: {key}"));
    assert!(rest.len() >= 32, "too short: {key}");
    assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()), "not base62: {key}");
}

#[tokio::test]
async fn p14_generates_a_working_key_in_the_free_slot() {
    let h = Harness::new().await;
    h.clock.advance(1200);
    let r = h.partner(Method::POST, "/keys", None).await;
    let body = r.assert_status(201).clone();
    let key = s(&body["key"]);
    assert_partner_key(&key);
    assert_eq!(body, json!({ "slot": 2, "key": key, "createdAt": "2026-04-03T10:20:00Z" }));
    assert_ne!(key, h.partner_key());
    // The new key authenticates as the same partner; the old one still works.
    assert_eq!(me(&h, &key).await["id"], json!(h.partner_id()));
    assert_eq!(me(&h, h.partner_key()).await["id"], json!(h.partner_id()));

    // A third key is refused, from either key.
    h.partner(Method::POST, "/keys", None).await.assert_error(409, "MAX_KEYS");
    h.partner_as(&key, Method::POST, "/keys", None).await.assert_error(409, "MAX_KEYS");
}

#[tokio::test]
async fn p14_new_key_takes_the_slot_freed_by_a_revoke() {
    let h = Harness::new().await;
    let k2 = s(&h.partner(Method::POST, "/keys", None).await.assert_status(201)["key"]);
    h.partner_as(&k2, Method::DELETE, "/keys/1", None).await.assert_status(204);
    let r = h.partner_as(&k2, Method::POST, "/keys", None).await;
    let body = r.assert_status(201);
    assert_eq!(body["slot"], 1);
    let k1 = s(&body["key"]);
    assert_partner_key(&k1);
    assert_ne!(k1, h.partner_key());
    me(&h, &k1).await;
}

// ---- P15 DELETE /keys/{slot} ----

#[tokio::test]
async fn p15_revoked_key_stops_working_at_once() {
    let h = Harness::new().await;
    let k2 = s(&h.partner(Method::POST, "/keys", None).await.assert_status(201)["key"]);
    let r = h.partner_as(&k2, Method::DELETE, "/keys/1", None).await;
    r.assert_status(204);
    assert!(r.raw.is_empty());
    h.partner(Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    me(&h, &k2).await;
    // Revoking the now-empty slot again.
    h.partner_as(&k2, Method::DELETE, "/keys/1", None).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn p15_a_key_can_revoke_its_own_slot_when_another_exists() {
    let h = Harness::new().await;
    let k2 = s(&h.partner(Method::POST, "/keys", None).await.assert_status(201)["key"]);
    h.partner(Method::DELETE, "/keys/1", None).await.assert_status(204);
    h.partner(Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    me(&h, &k2).await;
}

#[tokio::test]
async fn p15_revoking_the_only_key_is_last_key() {
    let h = Harness::new().await;
    h.partner(Method::DELETE, "/keys/1", None).await.assert_error(409, "LAST_KEY");
    me(&h, h.partner_key()).await;
    // Slot 2 is empty.
    h.partner(Method::DELETE, "/keys/2", None).await.assert_error(404, "NOT_FOUND");
    // With two keys, revoking one leaves the other as the last one.
    let k2 = s(&h.partner(Method::POST, "/keys", None).await.assert_status(201)["key"]);
    h.partner(Method::DELETE, "/keys/2", None).await.assert_status(204);
    h.partner_as(&k2, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    h.partner(Method::DELETE, "/keys/1", None).await.assert_error(409, "LAST_KEY");
}

#[tokio::test]
async fn p15_slot_other_than_1_or_2_is_invalid_field() {
    let h = Harness::new().await;
    h.partner(Method::POST, "/keys", None).await.assert_status(201);
    for slot in ["0", "3", "abc", "01", "-1", "1.0"] {
        let r = h.partner(Method::DELETE, &format!("/keys/{slot}"), None).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_FIELD"), "slot {slot}");
    }
    // Nothing was revoked.
    me(&h, h.partner_key()).await;
    h.partner(Method::POST, "/keys", None).await.assert_error(409, "MAX_KEYS");
}
