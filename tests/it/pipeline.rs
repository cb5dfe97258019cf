//! What every request goes through: routing, size, auth, rate limits, idempotency, headers.

use bytes::Bytes;
use http::Method;
use serde_json::json;
use shared::config::Config;
use shared::domain::account::AccountStatus;
use shared::store::IdempotencyClaim;
use tests::*;

#[tokio::test]
async fn unknown_path_is_404_in_the_envelope_with_request_id_and_json_type() {
    let h = Harness::new().await;
    for path in ["/api/v1/partner/nope", "/", "/api/v2/partner/me", "/api/v1/partner/customers/x/y"] {
        let r = h.request(Method::GET, path, &[], None).await;
        r.assert_error(404, "NOT_FOUND");
        assert!(r.header("x-request-id").is_some_and(|v| v.starts_with("req_")));
        assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    }
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let h = Harness::new().await;
    let r = h.partner(Method::PUT, "/customers/cust_x", None).await;
    r.assert_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("DELETE, GET, PATCH"));
    let r = h.partner(Method::DELETE, "/me", None).await;
    r.assert_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("GET"));
    let r = h.distributor(Method::GET, "/partners/prt_x/activate", None).await;
    assert_eq!(r.header("allow"), Some("POST"));
}

/// A trailing slash resolves to the same route (docs/api-decisions.md, "Input"): one slash is
/// dropped before routing, so `GET /customers/` is `GET /customers`; two are not.
#[tokio::test]
async fn a_trailing_slash_resolves_to_the_same_route() {
    let h = Harness::new().await;
    let key = [("x-partner-key", h.partner_key())];
    let created = h
        .request(
            Method::POST,
            &format!("{PARTNER_BASE}/customers/"),
            &[key[0], ("content-type", "application/json")],
            Some(Bytes::from(customer_body("Contoso", TENANT).to_string())),
        )
        .await;
    let id = s(&created.assert_status(201)["id"]);
    for path in ["/customers".to_string(), format!("/customers/{id}"), "/me".to_string()] {
        let plain = h.request(Method::GET, &format!("{PARTNER_BASE}{path}"), &key, None).await;
        let slash = h.request(Method::GET, &format!("{PARTNER_BASE}{path}/"), &key, None).await;
        assert_eq!(slash.assert_status(200), plain.assert_status(200), "{path}/");
    }
    let list = h.request(Method::GET, &format!("{PARTNER_BASE}/customers/"), &key, None).await;
    assert_eq!(ids(list.body["customers"].as_array().expect("customers")), vec![id.clone()]);
    let r = h.request(Method::PUT, &format!("{PARTNER_BASE}/customers/{id}/"), &key, None).await;
    r.assert_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("DELETE, GET, PATCH"));
    let dist = [("x-distributor-key", h.distributor_key())];
    h.request(Method::GET, &format!("{DISTRIBUTOR_BASE}/partners/"), &dist, None).await.assert_status(200);
    h.request(Method::GET, &format!("{PARTNER_BASE}/customers//"), &key, None).await.assert_error(404, "NOT_FOUND");
}

/// `HEAD` is not served (docs/api-decisions.md, "Input"): there is no implicit HEAD for a GET
/// route; it is 405 with `Allow` listing the path's methods. As HTTP says, the answer to a
/// HEAD has the headers of the envelope and no body.
#[tokio::test]
async fn head_is_405_with_the_paths_methods_in_allow() {
    let h = Harness::new().await;
    let id = h.customer("Contoso", TENANT).await;
    let key = [("x-partner-key", h.partner_key())];
    for (path, allow) in [
        (format!("{PARTNER_BASE}/me"), "GET"),
        (format!("{PARTNER_BASE}/customers"), "GET, POST"),
        (format!("{PARTNER_BASE}/customers/{id}"), "DELETE, GET, PATCH"),
        (format!("{PARTNER_BASE}/customers/"), "GET, POST"),
        ("/reports/x".to_string(), "GET"),
    ] {
        let r = h.request(Method::HEAD, &path, &key, None).await;
        assert_eq!(r.status.as_u16(), 405, "HEAD {path}");
        assert!(r.raw.is_empty(), "HEAD {path}: no body");
        assert_eq!(r.header("allow"), Some(allow), "HEAD {path}");
        assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"), "HEAD {path}");
        assert!(r.header("x-request-id").is_some_and(|v| v.starts_with("req_")), "HEAD {path}");
    }
    let dist = [("x-distributor-key", h.distributor_key())];
    let r = h.request(Method::HEAD, &format!("{DISTRIBUTOR_BASE}/usage"), &dist, None).await;
    assert_eq!(r.status.as_u16(), 405);
    assert_eq!(r.header("allow"), Some("GET"));
    // What a GET would answer with a body: the envelope of the same 405.
    let get_like = h.request(Method::PUT, &format!("{DISTRIBUTOR_BASE}/usage"), &dist, None).await;
    get_like.assert_error(405, "METHOD_NOT_ALLOWED");
    // Routing comes first: a path no route has is 404 for HEAD too.
    let r = h.request(Method::HEAD, &format!("{PARTNER_BASE}/nope"), &key, None).await;
    assert_eq!((r.status.as_u16(), r.header("allow")), (404, None));
}

/// The root and the bare bases (with or without a trailing slash) are no route: 404.
#[tokio::test]
async fn the_root_and_the_bare_bases_are_404() {
    let h = Harness::new().await;
    let key = [("x-partner-key", h.partner_key())];
    for path in ["/", "//", PARTNER_BASE, "/api/v1/partner/", DISTRIBUTOR_BASE, "/api/v1/distributor/", "/api/v1"] {
        for method in [Method::GET, Method::POST, Method::HEAD] {
            let r = h.request(method.clone(), path, &key, None).await;
            if method == Method::HEAD {
                assert_eq!(r.status.as_u16(), 404, "{method} {path}");
            } else {
                r.assert_error(404, "NOT_FOUND");
            }
            assert_eq!(r.header("allow"), None, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn literal_segments_win_over_parameters() {
    let h = Harness::new().await;
    // POST /customers/bulk is the bulk route, not "POST on customer 'bulk'".
    let r = h.partner(Method::POST, "/customers/bulk", Some(json!({ "customers": [] }))).await;
    assert_eq!(r.assert_status(201)["created"], 0);
}

#[tokio::test]
async fn body_over_256_kib_is_413_and_writes_nothing() {
    let h = Harness::new().await;
    let big = format!(r#"{{"name":"{}","tenantId":"{}"}}"#, "a".repeat(256 * 1024), tenant(1));
    let r = h
        .request(
            Method::POST,
            "/api/v1/partner/customers",
            &[("x-partner-key", h.partner_key())],
            Some(Bytes::from(big)),
        )
        .await;
    r.assert_error(413, "PAYLOAD_TOO_LARGE");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("256 KiB"));
    let list = h.partner(Method::GET, "/customers", None).await;
    assert_eq!(list.body["customers"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn body_of_exactly_the_limit_is_read() {
    let h = Harness::new().await;
    let mut body = format!(r#"{{"name":"Contoso","tenantId":"{}"}}"#, tenant(1));
    body.push_str(&" ".repeat(256 * 1024 - body.len()));
    let r = h
        .request(
            Method::POST,
            "/api/v1/partner/customers",
            &[("x-partner-key", h.partner_key())],
            Some(Bytes::from(body)),
        )
        .await;
    r.assert_status(201);
}

#[tokio::test]
async fn missing_key_is_401_missing_key_naming_the_header() {
    let h = Harness::new().await;
    let r = h.request(Method::GET, "/api/v1/partner/me", &[], None).await;
    r.assert_error(401, "MISSING_KEY");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("X-Partner-Key"));
    // A partner route reads only X-Partner-Key.
    let r = h.request(Method::GET, "/api/v1/partner/me", &[("x-distributor-key", h.distributor_key())], None).await;
    r.assert_error(401, "MISSING_KEY");
    let r = h.request(Method::GET, "/api/v1/distributor/me", &[("x-partner-key", h.partner_key())], None).await;
    r.assert_error(401, "MISSING_KEY");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("X-Distributor-Key"));
}

#[tokio::test]
async fn bad_keys_are_all_401_invalid_key() {
    let h = Harness::new().await;
    let dist_key_on_partner_route = h.distributor_key().to_string();
    let partner_key_on_distributor_route = h.partner_key().to_string();
    for key in [
        UNKNOWN_PARTNER_KEY,
        "pk_live_short",
        "",
        "pk_test_0000000000000000000000000000000000000000",
        &dist_key_on_partner_route,
    ] {
        h.partner_as(key, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    }
    for key in [UNKNOWN_DISTRIBUTOR_KEY, &partner_key_on_distributor_route] {
        h.distributor_as(key, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    }
    // A key with its prefix rewritten to the other surface is still unknown.
    let swapped = h.partner_key().replacen("pk_live_", "dk_live_", 1);
    h.distributor_as(&swapped, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
}

#[tokio::test]
async fn keys_are_stored_only_as_keyed_hashes() {
    let h = Harness::new().await;
    let owner = shared::domain::account::Owner::partner(h.partner_id());
    let keys = h.app.store.keys_of(&owner).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_ne!(keys[0].hash, h.partner_key());
    assert!(!keys[0].hash.contains(&h.partner_key()[8..]));
    assert_eq!(keys[0].hash, shared::auth::hash_key(&h.app.secrets.key_hashing, h.partner_key()));
    // Keyed: the plain SHA-256 of the key is not what is stored.
    assert_ne!(keys[0].hash, shared::auth::hash_key(b"", h.partner_key()));
}

#[tokio::test]
async fn generated_keys_have_prefix_and_40_base62_characters_and_differ() {
    let a = shared::auth::generate_key(shared::domain::account::Surface::Partner);
    let b = shared::auth::generate_key(shared::domain::account::Surface::Partner);
    assert!(a.starts_with("pk_live_") && a.len() == 48);
    assert!(a[8..].bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(a, b);
    assert!(shared::auth::generate_key(shared::domain::account::Surface::Distributor).starts_with("dk_live_"));
}

#[tokio::test]
async fn pending_and_suspended_accounts_are_403_inactive() {
    let h = Harness::new().await;
    // A pending partner with a key (D15 allows that) cannot use it until activated.
    let body = json!({ "email": "a@pending.example", "company": "P", "name": "N", "plan": "starter", "billing": { "currency": "USD" } });
    let id = h.distributor(Method::POST, "/partners", Some(body)).await.body["id"].as_str().unwrap().to_string();
    let key = h.distributor(Method::POST, &format!("/partners/{id}/keys"), None).await.assert_status(201)["key"]
        .as_str()
        .unwrap()
        .to_string();
    h.partner_as(&key, Method::GET, "/me", None).await.assert_error(403, "PARTNER_INACTIVE");
    h.distributor(Method::POST, &format!("/partners/{id}/activate"), None).await.assert_status(200);
    h.partner_as(&key, Method::GET, "/me", None).await.assert_status(200);

    // A distributor that is not active.
    let (d, dkey) = shared::usecases::accounts::create_distributor(
        h.app.store.as_ref(),
        &h.app.secrets,
        &h.app.ids,
        shared::usecases::accounts::NewAccount {
            company: "S",
            email: "s@s.example",
            status: AccountStatus::Suspended,
            fixed_key: None,
        },
        T0,
    )
    .await
    .unwrap();
    assert_eq!(d.status, AccountStatus::Suspended);
    h.distributor_as(&dkey, Method::GET, "/me", None).await.assert_error(403, "DISTRIBUTOR_INACTIVE");
}

#[tokio::test]
async fn rate_limit_headers_on_every_authenticated_response() {
    let h = Harness::new().await;
    let r = h.partner(Method::GET, "/me", None).await;
    assert_eq!(r.header("x-ratelimit-limit"), Some("60"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("59"));
    // T0 is on a minute boundary: the window ends 60 s later.
    assert_eq!(r.header("x-ratelimit-reset"), Some(&*(T0 + 60).unix().to_string()));
    // Errors after authentication carry them too.
    let r = h.partner(Method::GET, "/customers/cust_nope", None).await;
    r.assert_error(404, "NOT_FOUND");
    assert_eq!(r.header("x-ratelimit-remaining"), Some("58"));
    let r = h.distributor(Method::GET, "/me", None).await;
    assert_eq!(r.header("x-ratelimit-limit"), Some("120"));
}

#[tokio::test]
async fn the_61st_request_in_a_minute_is_429_until_the_window_ends() {
    let h = Harness::new().await;
    h.clock.set(T0 + 48);
    for i in 0..60 {
        let r = h.partner(Method::GET, "/me", None).await;
        assert_eq!(r.status, 200, "request {i}");
    }
    let r = h.partner(Method::GET, "/me", None).await;
    r.assert_error(429, "RATE_LIMITED");
    assert_eq!(r.header("retry-after"), Some("12"));
    assert_eq!(r.body["error"]["message"], "Rate limit exceeded. Retry after 12 seconds.");
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    // Every route of the key counts in the same window.
    let second = h.partner(Method::POST, "/keys", None).await;
    second.assert_error(429, "RATE_LIMITED");
    // The next minute starts a fresh window.
    h.clock.set(T0 + 60);
    let r = h.partner(Method::GET, "/me", None).await;
    r.assert_status(200);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("59"));
}

#[tokio::test]
async fn limits_are_counted_per_key() {
    let h = Harness::new().await;
    let key2 = h.partner(Method::POST, "/keys", None).await.body["key"].as_str().unwrap().to_string();
    for _ in 0..59 {
        h.partner(Method::GET, "/me", None).await;
    }
    h.partner(Method::GET, "/me", None).await.assert_error(429, "RATE_LIMITED");
    let r = h.partner_as(&key2, Method::GET, "/me", None).await;
    r.assert_status(200);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("59"));
}

#[tokio::test]
async fn rate_limits_are_configurable() {
    let config = Config::from_vars(|name| match name {
        "RATE_LIMIT_PARTNER_PER_MIN" => Some("3".into()),
        "RATE_LIMIT_DISTRIBUTOR_PER_MIN" => Some("5".into()),
        _ => None,
    })
    .unwrap();
    let h = Harness::with_config(config).await;
    for _ in 0..3 {
        h.partner(Method::GET, "/me", None).await.assert_status(200);
    }
    h.partner(Method::GET, "/me", None).await.assert_error(429, "RATE_LIMITED");
    let r = h.distributor(Method::GET, "/me", None).await;
    assert_eq!(r.header("x-ratelimit-limit"), Some("5"));
}

#[test]
fn bad_configuration_is_refused_with_the_variable_named() {
    for (name, value) in [
        ("RATE_LIMIT_PARTNER_PER_MIN", "0"),
        ("RATE_LIMIT_DISTRIBUTOR_PER_MIN", "lots"),
        ("CATALOG_JSON", "{"),
        ("RUNS_VISIBILITY_SECS", "0"),
        ("RUNS_VISIBILITY_SECS", "43201"),
        ("RUN_MAX_ATTEMPTS", "three"),
        ("RUN_STALE_AFTER_SECS", "-5"),
        ("WEBHOOK_LOST_AFTER_SECS", "1.5"),
        ("IDEMPOTENCY_LEASE_SECS", "0"),
    ] {
        let err = Config::from_vars(|n| (n == name).then(|| value.to_string())).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
    let bad_plan = r#"{"plans":[{"id":"x","runsPerMonth":5,"products":["nope"]}],"products":[]}"#;
    let err = Config::from_vars(|n| (n == "CATALOG_JSON").then(|| bad_plan.to_string())).unwrap_err();
    assert!(err.to_string().contains("unknown product"), "{err}");
}

#[tokio::test]
async fn catalog_is_configuration() {
    let json = r#"{"plans":[{"id":"professional","runsPerMonth":2,"products":["essential-eight"]}],
        "products":[{"id":"essential-eight","name":"E8","category":"compliance","estimatedDuration":60,
        "maturityMin":1,"maturityMax":2,"maturityDefault":1}]}"#;
    let config = Config::from_vars(|n| (n == "CATALOG_JSON").then(|| json.to_string())).unwrap();
    let h = Harness::with_config(config).await;
    let me = h.partner(Method::GET, "/me", None).await;
    assert_eq!(me.body["usage"]["runsLimit"], 2);
    let products = h.partner(Method::GET, "/products", None).await;
    assert_eq!(
        products.body,
        json!({ "products": [{ "id": "essential-eight", "name": "E8", "category": "compliance", "estimatedDuration": 60 }] })
    );
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response_without_doing_the_work_again() {
    let h = Harness::new().await;
    let body = customer_body("Contoso", &tenant(1)).to_string();
    let send = |key: &'static str, body: String| {
        let h = &h;
        async move {
            h.request(
                Method::POST,
                "/api/v1/partner/customers",
                &[("x-partner-key", h.partner_key()), ("idempotency-key", key)],
                Some(Bytes::from(body)),
            )
            .await
        }
    };
    let first = send("abc", body.clone()).await;
    first.assert_status(201);
    let again = send("abc", body.clone()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert!(again.header("x-ratelimit-limit").is_some());
    let list = h.partner(Method::GET, "/customers", None).await;
    assert_eq!(list.body["customers"].as_array().unwrap().len(), 1);
    assert_eq!(h.events().await.len(), 1);

    // Same key, different body.
    let other = customer_body("Other", &tenant(2)).to_string();
    send("abc", other.clone()).await.assert_error(422, "IDEMPOTENCY_MISMATCH");
    // A different key does the work.
    send("def", other).await.assert_status(201);

    // Error answers replay too: the same request would fail the same way.
    let dup = send("ghi", body.clone()).await;
    dup.assert_error(409, "CUSTOMER_EXISTS");
    send("ghi", body.clone()).await.assert_error(409, "CUSTOMER_EXISTS");

    // Kept 24 hours.
    h.clock.advance(24 * 3600 + 1);
    send("abc", body).await.assert_error(409, "CUSTOMER_EXISTS");
}

#[tokio::test]
async fn idempotency_keys_are_scoped_to_the_caller_and_validated() {
    let h = Harness::new().await;
    let (_, other_key) = h.active_partner("b@other.example", "professional").await;
    let body = customer_body("Contoso", &tenant(1)).to_string();
    for key in [h.partner_key().to_string(), other_key] {
        let r = h
            .request(
                Method::POST,
                "/api/v1/partner/customers",
                &[("x-partner-key", &key), ("idempotency-key", "same")],
                Some(Bytes::from(body.clone())),
            )
            .await;
        r.assert_status(201);
        assert!(r.header("idempotent-replayed").is_none());
    }
    let long = "k".repeat(256);
    let r = h
        .request(
            Method::POST,
            "/api/v1/partner/keys",
            &[("x-partner-key", h.partner_key()), ("idempotency-key", &long)],
            None,
        )
        .await;
    r.assert_error(400, "INVALID_FIELD");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("Idempotency-Key"));
}

#[tokio::test]
async fn idempotency_key_in_flight_is_409_until_its_lease_ends() {
    let h = Harness::new().await;
    let owner = shared::domain::account::Owner::partner(h.partner_id());
    let scope = shared::api::idempotency::scope(&owner);
    let fingerprint = shared::api::idempotency::fingerprint("partner.keys.create", "/api/v1/partner/keys", b"");
    // The first request with this key is still running (claimed, not finished).
    let claim = h.app.store.claim_idempotency(&scope, "busy", &fingerprint, T0, T0 + 60).await.unwrap();
    assert!(matches!(claim, IdempotencyClaim::Claimed { .. }), "{claim:?}");
    let headers = [("x-partner-key", h.partner_key()), ("idempotency-key", "busy")];
    let send = || h.request(Method::POST, "/api/v1/partner/keys", &headers, None);
    send().await.assert_error(409, "IDEMPOTENCY_IN_PROGRESS");
    let owner_keys = h.app.store.keys_of(&owner).await.unwrap();
    assert_eq!(owner_keys.len(), 1, "no key was issued while in progress");
    // A request that died mid-way does not lock the key for a day: after its lease it is taken over.
    h.clock.advance(61);
    send().await.assert_status(201);
    assert_eq!(send().await.header("idempotent-replayed"), Some("true"));
}

/// `IDEMPOTENCY_LEASE_SECS`: a request that dies mid-way (here: dropped while its handler
/// waits on a receiver that never answers, as when the process is killed) holds its key for
/// that long, then a retry with the key is served again (the crash test sets it short).
#[tokio::test]
async fn a_request_that_died_holds_its_key_for_the_configured_lease() {
    let config = Config::from_vars(|n| match n {
        "IDEMPOTENCY_LEASE_SECS" => Some("5".into()),
        "WEBHOOK_ALLOW_PRIVATE_TARGETS" => Some("true".into()),
        _ => None,
    })
    .unwrap();
    let h = Harness::with_config(Config { webhook_timeout_ms: 200, ..config }).await;
    // Connections queue in its backlog; nothing ever answers them.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", silent.local_addr().unwrap());
    let made = h.partner(Method::POST, "/webhooks", Some(webhook_body(&url, &["customer.created"]))).await;
    let path = format!("/api/v1/partner/webhooks/{}/test", made.assert_status(201)["webhook"]["id"].as_str().unwrap());
    let headers = [("x-partner-key", h.partner_key()), ("idempotency-key", "dies")];
    {
        let mut req = http::Request::builder().method(Method::POST).uri(&path);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let req = req.body(axum::body::Body::empty()).unwrap();
        let mut call = std::pin::pin!(tower::ServiceExt::oneshot(h.router.clone(), req));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(std::future::Future::poll(call.as_mut(), &mut cx).is_pending(), "the request is sending its ping");
    } // the process dies here
    h.clock.advance(4);
    h.request(Method::POST, &path, &headers, None).await.assert_error(409, "IDEMPOTENCY_IN_PROGRESS");
    h.clock.advance(1);
    let again = h.request(Method::POST, &path, &headers, None).await;
    assert_eq!(again.assert_status(200)["delivered"], false, "served again once the lease ran out");
}

#[tokio::test]
async fn cursors_are_signed_and_bound_to_caller_and_filters() {
    let h = Harness::new().await;
    for n in 0..5 {
        h.customer(&format!("C{n}"), &tenant(n)).await;
    }
    let page1 = h.partner(Method::GET, "/customers?limit=2", None).await;
    let cursor = page1.body["nextCursor"].as_str().unwrap().to_string();
    let page2 = h.partner(Method::GET, &format!("/customers?limit=2&cursor={cursor}"), None).await;
    page2.assert_status(200);
    assert_ne!(page1.body["customers"][0]["id"], page2.body["customers"][0]["id"]);

    // Tampered: one character changed.
    let mut bad = cursor.clone().into_bytes();
    bad[0] = if bad[0] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    h.partner(Method::GET, &format!("/customers?cursor={bad}"), None).await.assert_error(400, "INVALID_FIELD");
    h.partner(Method::GET, "/customers?cursor=garbage", None).await.assert_error(400, "INVALID_FIELD");

    // Another caller cannot use it.
    let (_, other_key) = h.active_partner("c@other.example", "professional").await;
    h.partner_as(&other_key, Method::GET, &format!("/customers?cursor={cursor}"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
    // Nor another list, nor the same list with other filters.
    h.partner(Method::GET, &format!("/assessments?cursor={cursor}"), None).await.assert_error(400, "INVALID_FIELD");
    let cid = h.customer("R", &tenant(99)).await;
    for _ in 0..3 {
        h.partner(Method::POST, "/assessments", Some(assessment_body(&cid, "essential-eight"))).await;
    }
    let runs = h.partner(Method::GET, "/assessments?limit=1&product=essential-eight", None).await;
    let rc = runs.body["nextCursor"].as_str().unwrap().to_string();
    h.partner(Method::GET, &format!("/assessments?limit=1&product=essential-eight&cursor={rc}"), None)
        .await
        .assert_status(200);
    h.partner(Method::GET, &format!("/assessments?limit=1&product=nist-csf&cursor={rc}"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
}

#[tokio::test]
async fn limit_must_be_1_to_100() {
    let h = Harness::new().await;
    for bad in ["0", "101", "-1", "ten", ""] {
        let r = h.partner(Method::GET, &format!("/customers?limit={bad}"), None).await;
        r.assert_error(400, "INVALID_FIELD");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("limit"));
    }
    h.partner(Method::GET, "/customers?limit=1&limit=2", None).await.assert_error(400, "INVALID_FIELD");
    h.partner(Method::GET, "/customers?limit=100", None).await.assert_status(200);
}

#[tokio::test]
async fn handle_route_answers_only_its_own_route() {
    let h = Harness::new().await;
    let req = |path: &str| {
        http::Request::builder().uri(path).header("x-partner-key", h.partner_key()).body(Bytes::new()).unwrap()
    };
    let me = shared::api::routes::RouteId::PartnerMe;
    let function = shared::api::route_router(h.app.clone(), me);
    let ok = tests::oneshot(&function, req("/api/v1/partner/me")).await;
    assert_eq!(ok.status(), 200);
    let other = tests::oneshot(&function, req("/api/v1/partner/products")).await;
    assert_eq!(other.status(), 404);
    // Another route's path with a method none of its routes has is not this function's
    // either: 404 as an unknown path, not the 405 the whole table answers.
    let mut delete = req("/api/v1/partner/products");
    *delete.method_mut() = http::Method::DELETE;
    assert_eq!(tests::oneshot(&function, delete).await.status(), 404);
    let table = shared::api::router(h.app.clone());
    let mut delete = req("/api/v1/partner/products");
    *delete.method_mut() = http::Method::DELETE;
    assert_eq!(tests::oneshot(&table, delete).await.status(), 405);
}

#[test]
fn route_table_has_every_contract_route_once() {
    use shared::api::routes::ROUTES;
    // 30 contract routes, 2 findings routes, 2 requirements routes, the public report, 7 webhook
    // routes per surface, the consent status and the consent email on each surface, the public
    // consent callback, the partner's three branding routes, the report link on each surface,
    // the public OpenAPI document, the mail messages on each surface, the audit log on each
    // surface, the questionnaire's nine (the questions; answers GET/PUT and invitations on each
    // surface; the form GET/POST), the tenant context (get, put) and exceptions (list, create,
    // update, delete) on each surface, billing (get, portal), Stripe's webhook, the portfolio on
    // each surface, and the schedules (list, create, update, delete) on each surface.
    assert_eq!(ROUTES.len(), 98);
    let mut names: Vec<&str> = ROUTES.iter().map(|r| r.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), ROUTES.len(), "handler names are unique");
    let mut paths: Vec<String> = ROUTES.iter().map(|r| format!("{} {}", r.method, r.full_path())).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), ROUTES.len(), "method + path pairs are unique");
    for r in ROUTES {
        assert_eq!(shared::api::routes::RouteId::by_name(r.name), Some(r.id));
    }
}

/// `pattern` with every `{name}` segment (whatever the name) replaced by `value`.
fn fill_path_params(pattern: &str, value: &str) -> String {
    pattern
        .split('/')
        .map(|seg| if seg.starts_with('{') && seg.ends_with('}') { value } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn fill_path_params_fills_every_parameter_of_every_route() {
    assert_eq!(
        fill_path_params("/api/v1/partner/webhooks/{id}/deliveries/{deliveryId}/redeliver", "x"),
        "/api/v1/partner/webhooks/x/deliveries/x/redeliver"
    );
    for route in shared::api::routes::ROUTES {
        let path = fill_path_params(&route.full_path(), "x");
        assert!(!path.contains(['{', '}']), "{} {path}", route.method);
        assert_eq!(path.split('/').count(), route.full_path().split('/').count(), "{path}");
    }
}

/// Malformed input on every route is a 4xx in the envelope: never a 500, never a panic.
#[tokio::test]
async fn no_client_mistake_yields_a_500() {
    let h = Harness::new().await;
    let cid = h.customer("C", &tenant(1)).await;
    let bodies: Vec<Option<Bytes>> = vec![
        None,
        Some(Bytes::from_static(b"not json")),
        Some(Bytes::from_static(b"[]")),
        Some(Bytes::from_static(b"null")),
        Some(Bytes::from_static(b"42")),
        Some(Bytes::from_static(b"{\"name\":{},\"tenantId\":[],\"plan\":7,\"billing\":\"x\",\"customers\":{},\"partners\":\"x\",\"customerIds\":[1,2],\"product\":null,\"maturityTarget\":1e300}")),
        Some(Bytes::from_static(b"{\"customers\":[1,null,\"x\",{}],\"partners\":[[],{\"billing\":[]}],\"customerIds\":[\"\"],\"product\":\"essential-eight\",\"maturityTarget\":-5}")),
        Some(Bytes::from_static(b"{\"\xff\xfe\":1}")),
        Some(Bytes::from(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)))),
    ];
    let ids = ["x", "%00", "cust_%FF", &cid, "prt_\u{1F600}", "1"];
    for route in shared::api::routes::ROUTES {
        for id in ids {
            let path = fill_path_params(&route.full_path(), id);
            assert!(!path.contains(['{', '}']), "a path parameter left unfilled: {} {path}", route.method);
            let (key_header, key) = match route.access.surface() {
                Some(shared::domain::account::Surface::Partner) => ("x-partner-key", h.partner_key()),
                Some(shared::domain::account::Surface::Distributor) => ("x-distributor-key", h.distributor_key()),
                None => ("x-none", ""),
            };
            for body in &bodies {
                for query in ["", "?limit=abc", "?month=2026-13&status=x&product=nope&cursor=..", "?%zz=1"] {
                    h.clock.advance(60); // stay under the rate limit
                    let r = h
                        .request(route.method.clone(), &format!("{path}{query}"), &[(key_header, key)], body.clone())
                        .await;
                    assert!(
                        r.status.is_success() || r.status.is_client_error(),
                        "{} {path}{query} answered {}: {}",
                        route.method,
                        r.status,
                        r.body
                    );
                    // The consent callback answers a person's browser: its 400 is a page.
                    let page = r.header("content-type").is_some_and(|c| c.starts_with("text/html"));
                    if r.status.is_client_error() && !page {
                        assert!(r.body["error"]["code"].is_string(), "{} {path}: {}", route.method, r.body);
                    }
                }
            }
        }
    }
}

/// An id parameter that cannot be one of ours (over 64 characters, or other than letters,
/// digits and `_`) is refused before any store call: DynamoDB refuses keys over 1 KiB, which
/// answered 500. A well-formed id that names nothing is still 404. On both adapters.
async fn ids_are_checked_before_the_store_on(store: std::sync::Arc<dyn shared::store::Store>) {
    let on = tests::stored::on_store(store).await;
    let send = |path: String, key_header: &'static str, key: String| {
        http::Request::builder().uri(path).header(key_header, key).body(Bytes::new()).unwrap()
    };
    let long = "a".repeat(1100);
    let partner = on.accounts.partner_key.clone();
    for path in [format!("{PARTNER_BASE}/customers/{long}"), format!("{PARTNER_BASE}/assessments/{long}")] {
        let r = tests::oneshot(&on.router, send(path.clone(), "x-partner-key", partner.clone())).await;
        let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(
            (r.status().as_u16(), body["error"]["code"].as_str()),
            (400, Some("INVALID_FIELD")),
            "{}",
            &path[..40]
        );
        assert!(body["error"]["message"].as_str().unwrap().len() < 200, "the id is not echoed whole");
    }
    let distributor = on.accounts.distributor_key.clone();
    let r = tests::oneshot(
        &on.router,
        send(format!("{DISTRIBUTOR_BASE}/partners/{long}/customers"), "x-distributor-key", distributor),
    )
    .await;
    assert_eq!(r.status().as_u16(), 400);
    // Ids in a query or a body are checked the same way.
    let r = tests::oneshot(
        &on.router,
        send(format!("{PARTNER_BASE}/assessments?customerId={long}"), "x-partner-key", partner.clone()),
    )
    .await;
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!((r.status().as_u16(), body["error"]["code"].as_str()), (400, Some("INVALID_FIELD")), "query");
    let post = |path: &str, body: serde_json::Value| {
        http::Request::builder()
            .method("POST")
            .uri(format!("{PARTNER_BASE}{path}"))
            .header("x-partner-key", partner.clone())
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_string()))
            .unwrap()
    };
    let r = tests::oneshot(
        &on.router,
        post("/assessments", serde_json::json!({"customerId": long, "product": "essential-eight"})),
    )
    .await;
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!((r.status().as_u16(), body["error"]["code"].as_str()), (400, Some("INVALID_FIELD")), "{body}");
    let r = tests::oneshot(
        &on.router,
        post(
            "/assessments/bulk",
            serde_json::json!({"customerIds": [long, "cust_unknown"], "product": "essential-eight"}),
        ),
    )
    .await;
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(r.status().as_u16(), 202, "{body}");
    let codes: Vec<_> = body["runs"].as_array().unwrap().iter().map(|r| r["error"]["code"].clone()).collect();
    assert_eq!(codes, [serde_json::json!("INVALID_FIELD"), serde_json::json!("NOT_FOUND")], "{body}");
    assert!(body["runs"][0]["customerId"].as_str().unwrap().len() <= 65, "the id is not echoed whole: {body}");
    let r =
        tests::oneshot(&on.router, send(format!("{PARTNER_BASE}/customers/cust_unknown"), "x-partner-key", partner))
            .await;
    assert_eq!(r.status().as_u16(), 404, "well-formed and unknown");
}

#[tokio::test]
async fn ids_are_checked_before_the_store_on_the_embedded_store() {
    ids_are_checked_before_the_store_on(std::sync::Arc::new(shared::store::memory::MemoryStore::new())).await;
}

#[tokio::test]
async fn ids_are_checked_before_the_store_on_dynamodb() {
    let Some(store) = tests::aws::fresh_dynamo().await else { return };
    ids_are_checked_before_the_store_on(std::sync::Arc::new(store)).await;
}

/// A bulk request that fails on the server midway, after it wrote, keeps its idempotency
/// record: the answer says what was written (the item at fault and the rest `INTERNAL`), and a
/// retry with the same key replays it instead of writing again (issue 13, item 11). Before,
/// the request answered 500 and released the key, so the retry queued (and counted) its runs
/// twice. On DynamoDB, with the third `TransactWriteItems` failing.
#[tokio::test]
async fn a_bulk_request_failing_midway_keeps_its_idempotency_record() {
    let fault = tests::aws::Fault::default();
    let Some(store) = tests::aws::fresh_dynamo_with(&fault).await else { return };
    let on = tests::stored::on_store(std::sync::Arc::new(store)).await;
    let key = on.accounts.partner_key.clone();
    let call = |method: &str, path: &str, idem: Option<&str>, body: Option<serde_json::Value>| {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{PARTNER_BASE}{path}"))
            .header("x-partner-key", key.clone())
            .header("content-type", "application/json");
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        let req = req.body(Bytes::from(body.map(|b| b.to_string()).unwrap_or_default())).unwrap();
        let router = on.router.clone();
        let (method, uri) = (method.to_string(), req.uri().to_string());
        async move {
            let r = tests::oneshot(&router, req).await;
            // Held to the OpenAPI document too (its 500 is the pipeline's documented INTERNAL).
            tests::openapi::check_http(&method, &uri, &r);
            let replayed = r.headers().contains_key("idempotent-replayed");
            let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
            (r.status().as_u16(), body, replayed)
        }
    };
    // Customers, one at a time (nothing armed yet).
    let mut ids = Vec::new();
    for i in 1..=4 {
        let (status, body, _) =
            call("POST", "/customers", None, Some(serde_json::json!({"name": format!("C{i}"), "tenantId": tenant(i)})))
                .await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_str().unwrap().to_string();
        let (_, consent, _) = call("GET", &format!("/customers/{id}/consent"), None, None).await;
        let granted = tests::consent_callback(consent["consentUrl"].as_str().unwrap(), true);
        let req = http::Request::builder().uri(granted).body(Bytes::new()).unwrap();
        assert_eq!(tests::oneshot(&on.router, req).await.status(), 200, "consent granted");
        ids.push(id);
    }

    // P11: the first two runs are written, the third write fails, the fourth is never tried.
    fault.arm("TransactWriteItems", 2);
    let trigger = serde_json::json!({"product": "essential-eight", "customerIds": ids});
    let (status, first, _) = call("POST", "/assessments/bulk", Some("bulk-runs-1"), Some(trigger.clone())).await;
    fault.clear();
    assert_eq!(status, 202, "{first}");
    assert_eq!((first["queued"].clone(), first["failed"].clone()), (serde_json::json!(2), serde_json::json!(2)));
    let codes: Vec<_> = first["runs"].as_array().unwrap().iter().map(|r| r["error"]["code"].clone()).collect();
    assert_eq!(codes, [serde_json::Value::Null, serde_json::Value::Null, "INTERNAL".into(), "INTERNAL".into()]);
    let (status, again, replayed) = call("POST", "/assessments/bulk", Some("bulk-runs-1"), Some(trigger)).await;
    assert_eq!((status, &again, replayed), (202, &first, true), "the same key replays the kept answer");
    let (_, me, _) = call("GET", "/me", None, None).await;
    assert_eq!(me["usage"]["runsUsed"], 2, "no run was queued twice: {me}");

    // P6: the same for customers.
    fault.arm("TransactWriteItems", 1);
    let make = serde_json::json!({"customers": [
        {"name": "D1", "tenantId": tenant(11)}, {"name": "D2", "tenantId": tenant(12)}, {"name": "D3", "tenantId": tenant(13)}
    ]});
    let (status, first, _) = call("POST", "/customers/bulk", Some("bulk-customers-1"), Some(make.clone())).await;
    fault.clear();
    assert_eq!(status, 201, "{first}");
    assert_eq!((first["created"].clone(), first["failed"].clone()), (serde_json::json!(1), serde_json::json!(2)));
    assert_eq!(first["customers"][1]["index"], 1, "{first}");
    assert_eq!(first["customers"][2]["error"]["code"], "INTERNAL", "{first}");
    let (status, again, replayed) = call("POST", "/customers/bulk", Some("bulk-customers-1"), Some(make)).await;
    assert_eq!((status, &again, replayed), (201, &first, true));

    // A fault before anything is written is still the request's 500, and its key is free again.
    fault.arm("TransactWriteItems", 0);
    let one = serde_json::json!({"customers": [{"name": "E1", "tenantId": tenant(21)}]});
    let (status, _, _) = call("POST", "/customers/bulk", Some("bulk-customers-2"), Some(one.clone())).await;
    fault.clear();
    assert_eq!(status, 500);
    let (status, body, replayed) = call("POST", "/customers/bulk", Some("bulk-customers-2"), Some(one)).await;
    assert_eq!((status, body["created"].clone(), replayed), (201, serde_json::json!(1), false), "{body}");
}

/// A trigger whose first try stored its run and died before keeping its answer (the crash
/// test's finding), done again under the same `Idempotency-Key` once the key's lease passed,
/// answers that run: no second run, nothing counted twice. The request is done again as of its
/// first try, with ids derived from the key, so its write meets the first one's. On both
/// adapters.
async fn a_retry_after_a_died_try_finds_its_run(store: std::sync::Arc<dyn shared::store::Store>) {
    let on = tests::stored::on_store(store.clone()).await;
    let key = on.accounts.partner_key.clone();
    let post = |path: &str, idem: Option<&str>, body: serde_json::Value| {
        let mut req = http::Request::builder()
            .method("POST")
            .uri(format!("{PARTNER_BASE}{path}"))
            .header("x-partner-key", key.clone())
            .header("content-type", "application/json");
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        req.body(Bytes::from(body.to_string())).unwrap()
    };
    let json = |r: http::Response<Bytes>| {
        (r.status().as_u16(), serde_json::from_slice::<serde_json::Value>(r.body()).unwrap())
    };
    let (_, c) = json(tests::oneshot(&on.router, post("/customers", None, customer_body("Contoso", &tenant(1)))).await);
    let c = c["id"].as_str().unwrap().to_string();
    let consent = tests::oneshot(
        &on.router,
        http::Request::builder()
            .uri(format!("{PARTNER_BASE}/customers/{c}/consent"))
            .header("x-partner-key", key.clone())
            .body(Bytes::new())
            .unwrap(),
    )
    .await;
    let url = json(consent).1["consentUrl"].as_str().unwrap().to_string();
    let granted = http::Request::builder().uri(tests::consent_callback(&url, true)).body(Bytes::new()).unwrap();
    assert_eq!(tests::oneshot(&on.router, granted).await.status(), 200);

    // The first try: its run is stored.
    let body = assessment_body(&c, "essential-eight");
    let (status, first) = json(tests::oneshot(&on.router, post("/assessments", Some("trigger-k"), body.clone())).await);
    assert_eq!(status, 202, "{first}");
    // …and its answer was never kept: the key is as a try that died holding it leaves it.
    let scope = shared::api::idempotency::scope(&shared::domain::account::Owner::partner(&on.accounts.partner.id));
    let fingerprint = shared::api::idempotency::fingerprint(
        "partner.assessments.create",
        &format!("{PARTNER_BASE}/assessments"),
        body.to_string().as_bytes(),
    );
    store.release_idempotency(&scope, "trigger-k").await.unwrap();
    let claim = store.claim_idempotency(&scope, "trigger-k", &fingerprint, T0, T0 + 60).await.unwrap();
    assert!(matches!(claim, IdempotencyClaim::Claimed { .. }));

    // The client tries again after the lease.
    on.clock.advance(61);
    let (status, again) = json(tests::oneshot(&on.router, post("/assessments", Some("trigger-k"), body)).await);
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["id"], first["id"], "the first try's run is answered");
    let me = tests::oneshot(
        &on.router,
        http::Request::builder()
            .uri(format!("{PARTNER_BASE}/me"))
            .header("x-partner-key", key.clone())
            .body(Bytes::new())
            .unwrap(),
    )
    .await;
    assert_eq!(json(me).1["usage"]["runsUsed"], 1, "counted once");
    let all = shared::store::PageRequest { limit: 10, after: None };
    let runs = store.list_runs(&on.accounts.partner.id, &Default::default(), &all).await.unwrap();
    assert_eq!(runs.items.len(), 1, "one run");
}

#[tokio::test]
async fn a_retry_after_a_died_try_finds_its_run_on_the_embedded_store() {
    a_retry_after_a_died_try_finds_its_run(std::sync::Arc::new(shared::store::memory::MemoryStore::new())).await;
}

#[tokio::test]
async fn a_retry_after_a_died_try_finds_its_run_on_dynamodb() {
    let Some(store) = tests::aws::fresh_dynamo().await else { return };
    a_retry_after_a_died_try_finds_its_run(std::sync::Arc::new(store)).await;
}
