//! Webhooks end to end: signatures (published vectors and a receiver in another language),
//! the endpoints API, fan-out from the outbox, delivery with delay-chained retries on an
//! injected clock, and the SSRF guard.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use http::Method;
use serde_json::{json, Value};
use shared::config::Config;
use shared::domain::event::EventType;
use shared::queue::Ack;
use shared::webhooks::guard::{check_url, forbidden, GuardedResolver, Lookup};
use shared::webhooks::signing::{baref00t_signature, headers, standard_signature};
use shared::webhooks::transport::{HttpTransport, SendError, Transport};
use tests::stub::{Reply, Stub};
use tests::*;

// ---------------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------------

#[test]
fn standard_webhooks_signature_matches_the_published_vector() {
    let sig = standard_signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        Timestamp::from_unix(1614265330),
        br#"{"test": 2432232314}"#,
    );
    assert_eq!(sig.as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
}

#[test]
fn baref00t_signature_is_hex_hmac_sha256_as_rfc_4231_computes_it() {
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    assert_eq!(
        baref00t_signature("Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// A receiver written in Python with only its standard library, verifying both schemes
/// exactly as the contract publishes them.
fn python_verifies(secret: &str, body: &[u8], headers: &[(&'static str, String)]) -> String {
    let script = r#"
import base64, hashlib, hmac, json, sys
data = json.load(sys.stdin)
secret, body, h = data["secret"], data["body"].encode(), data["headers"]
hexsig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
ok1 = hmac.compare_digest(hexsig, h["x-baref00t-signature"])
key = base64.b64decode(secret[len("whsec_"):])
signed = f'{h["webhook-id"]}.{h["webhook-timestamp"]}.'.encode() + body
expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
ok2 = any(hmac.compare_digest(expected, s) for s in h["webhook-signature"].split(" "))
print("ok" if ok1 and ok2 else f"bad {ok1} {ok2}")
"#;
    let input = json!({
        "secret": secret,
        "body": String::from_utf8(body.to_vec()).unwrap(),
        "headers": headers.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
    });
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is on the machine");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_python_receiver_verifies_what_we_sign() {
    let secret = shared::webhooks::signing::generate_secret();
    assert!(secret.starts_with("whsec_"));
    let body = br#"{"id":"evt_1","type":"customer.created","timestamp":"2026-04-03T10:00:00Z","data":{}}"#;
    let h = headers(std::slice::from_ref(&secret), "evt_1", "customer.created", T0, body);
    assert_eq!(python_verifies(&secret, body, &h), "ok");
    // With a wrong secret it does not verify.
    let other = shared::webhooks::signing::generate_secret();
    assert_ne!(python_verifies(&other, body, &h), "ok");
}

#[test]
fn endpoint_secrets_are_encrypted_at_rest() {
    use shared::webhooks::secrets::{decrypt, encrypt};
    let key = b"0123456789abcdef0123456789abcdef";
    let secret = "whsec_c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IQ==";
    let sealed = encrypt(key, secret);
    assert!(!sealed.contains("c2VjcmV0"), "the secret does not appear in what is stored");
    assert_ne!(sealed, encrypt(key, secret), "a fresh nonce each time");
    assert_eq!(decrypt(key, &sealed).unwrap(), secret);
    assert!(decrypt(b"another key", &sealed).is_err());
    let mut tampered = sealed.into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    assert!(decrypt(key, &String::from_utf8(tampered).unwrap()).is_err());
}

// ---------------------------------------------------------------------------------------------
// Harness: webhooks on a loopback receiver
// ---------------------------------------------------------------------------------------------

/// A receiver whose answers come from a script (default 200).
struct Receiver {
    stub: Stub,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start() -> Self {
        let answers: Arc<Mutex<VecDeque<u16>>> = Arc::default();
        let a2 = answers.clone();
        let stub = Stub::start(move |_| {
            let status = a2.lock().unwrap().pop_front().unwrap_or(200);
            let mut r = Reply::json(status, json!({ "received": status < 300 }));
            if status == 302 {
                r.headers.push(("location", "http://127.0.0.1:9/elsewhere".into()));
            }
            r
        })
        .await;
        Self { stub, answers }
    }
    fn answer(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }
    fn url(&self) -> String {
        format!("{}/hook", self.stub.base)
    }
}

fn private_allowed() -> Config {
    Config {
        webhook_allow_private_targets: true,
        webhook_timeout_ms: 500,
        rate_limit_partner_per_min: 10_000,
        rate_limit_distributor_per_min: 10_000,
        ..Config::default()
    }
}

async fn endpoint_as(h: &Harness, distributor: bool, url: &str, events: &[&str]) -> (String, String) {
    let body = json!({ "url": url, "events": events, "description": "ours" });
    let r = if distributor {
        h.distributor(Method::POST, "/webhooks", Some(body)).await
    } else {
        h.partner(Method::POST, "/webhooks", Some(body)).await
    };
    let b = r.assert_status(201);
    (b["webhook"]["id"].as_str().unwrap().to_string(), b["secret"].as_str().unwrap().to_string())
}

/// Drains the outbox and makes every due attempt, as the relay and dispatcher tasks do.
async fn deliver(h: &Harness) -> Vec<Ack> {
    let relay = h.relay();
    relay.drain(1000).await.unwrap();
    let dispatcher = h.dispatcher();
    let mut outcomes = Vec::new();
    for d in h.webhooks.receive(1000) {
        let o = dispatcher.process(&d.message).await;
        if o == Ack::Done {
            h.webhooks.ack(&d.receipt);
        }
        outcomes.push(o);
    }
    outcomes
}

// ---------------------------------------------------------------------------------------------
// Endpoints API
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn endpoints_are_created_listed_updated_and_deleted_with_the_secret_shown_once() {
    let h = Harness::new().await;
    let r = h
        .partner(
            Method::POST,
            "/webhooks",
            Some(json!({ "url": "https://hooks.example.com/baref00t", "events": ["customer.created", "assessment.completed"], "description": "SIEM" })),
        )
        .await;
    let b = r.assert_status(201).clone();
    let id = b["webhook"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("whk_"));
    assert_eq!(b["webhook"]["url"], "https://hooks.example.com/baref00t");
    assert_eq!(b["webhook"]["events"], json!(["customer.created", "assessment.completed"]));
    assert_eq!(b["webhook"]["enabled"], true);
    assert_eq!(b["webhook"]["createdAt"], "2026-04-03T10:00:00Z");
    let secret = b["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret.len() > 40);

    let list = h.partner(Method::GET, "/webhooks", None).await;
    assert_eq!(list.body["webhooks"].as_array().unwrap().len(), 1);
    assert!(!list.raw.windows(6).any(|w| w == b"whsec_"), "the secret is never returned again");
    assert!(list.body["webhooks"][0].get("secret").is_none());
    // The stored record does not hold it in clear either.
    let owner = shared::domain::account::Owner::partner(h.partner_id());
    let stored = h.app.store.endpoint(&owner, &id).await.unwrap().unwrap();
    assert!(!stored.secret.contains(&secret[6..]));

    let r = h
        .partner(Method::PATCH, &format!("/webhooks/{id}"), Some(json!({ "enabled": false, "description": null })))
        .await;
    let b = r.assert_status(200);
    assert_eq!(b["webhook"]["enabled"], false);
    assert_eq!(b["webhook"]["description"], Value::Null);
    assert!(b.get("secret").is_none());

    h.partner(Method::DELETE, &format!("/webhooks/{id}"), None).await.assert_status(204);
    h.partner(Method::DELETE, &format!("/webhooks/{id}"), None).await.assert_error(404, "NOT_FOUND");
    // The distributor surface has its own.
    let d = h
        .distributor(Method::POST, "/webhooks", Some(webhook_body("https://d.example.com/h", &["partner.activated"])))
        .await;
    d.assert_status(201);
}

#[tokio::test]
async fn endpoint_input_is_checked() {
    let h = Harness::new().await;
    let cases = [
        (json!({ "events": ["customer.created"] }), 400, "MISSING_FIELD"),
        (json!({ "url": "https://a.example.com" }), 400, "MISSING_FIELD"),
        (json!({ "url": "http://a.example.com", "events": ["customer.created"] }), 400, "INVALID_FIELD"),
        (json!({ "url": "https://127.0.0.1/x", "events": ["customer.created"] }), 400, "INVALID_FIELD"),
        (json!({ "url": "https://10.1.2.3/x", "events": ["customer.created"] }), 400, "INVALID_FIELD"),
        (json!({ "url": "https://[::1]/x", "events": ["customer.created"] }), 400, "INVALID_FIELD"),
        (json!({ "url": "https://169.254.169.254/latest", "events": ["customer.created"] }), 400, "INVALID_FIELD"),
        (json!({ "url": "https://localhost/x", "events": ["customer.created"] }), 400, "INVALID_FIELD"),
        (json!({ "url": "https://user:pw@a.example.com", "events": ["customer.created"] }), 400, "INVALID_FIELD"),
        (json!({ "url": "not a url", "events": ["customer.created"] }), 400, "INVALID_FIELD"),
        (json!({ "url": "https://a.example.com", "events": [] }), 400, "INVALID_FIELD"),
        (json!({ "url": "https://a.example.com", "events": ["customer.exploded"] }), 400, "INVALID_FIELD"),
        // partner.* is for distributors.
        (json!({ "url": "https://a.example.com", "events": ["partner.activated"] }), 400, "INVALID_FIELD"),
        (json!({ "url": "https://a.example.com", "events": "customer.created" }), 400, "INVALID_JSON"),
        (
            json!({ "url": "https://a.example.com", "events": ["customer.created"], "secret": "mine" }),
            400,
            "INVALID_FIELD",
        ),
    ];
    for (body, status, code) in cases {
        let r = h.partner(Method::POST, "/webhooks", Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (status, code), "{body}: {}", r.body);
    }
    assert_eq!(h.partner(Method::GET, "/webhooks", None).await.body["webhooks"], json!([]));
}

#[tokio::test]
async fn endpoints_are_limited_per_account_and_invisible_to_others() {
    let config = Config { webhook_max_endpoints: 2, ..Config::default() };
    let h = Harness::with_config(config).await;
    for n in 0..2 {
        h.partner(
            Method::POST,
            "/webhooks",
            Some(webhook_body(&format!("https://h{n}.example.com"), &["key.created"])),
        )
        .await
        .assert_status(201);
    }
    let r = h.partner(Method::POST, "/webhooks", Some(webhook_body("https://h3.example.com", &["key.created"]))).await;
    r.assert_error(400, "TOO_MANY");
    let id = h.partner(Method::GET, "/webhooks", None).await.body["webhooks"][0]["id"].as_str().unwrap().to_string();
    let (_, other) = h.active_partner("other@msp.example", "professional").await;
    for (method, path) in [
        (Method::PATCH, format!("/webhooks/{id}")),
        (Method::DELETE, format!("/webhooks/{id}")),
        (Method::POST, format!("/webhooks/{id}/test")),
        (Method::GET, format!("/webhooks/{id}/deliveries")),
        (Method::POST, format!("/webhooks/{id}/deliveries/dlv_x/redeliver")),
    ] {
        h.partner_as(&other, method, &path, Some(json!({ "enabled": false }))).await.assert_error(404, "NOT_FOUND");
    }
    // The distributor's own surface cannot reach a partner's endpoint either.
    h.distributor(Method::GET, &format!("/webhooks/{id}/deliveries"), None).await.assert_error(404, "NOT_FOUND");
    assert_eq!(h.partner(Method::GET, "/webhooks", None).await.body["webhooks"][0]["enabled"], true);
}

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn subscribed_events_arrive_signed_and_verifiable() {
    let h = Harness::with_config(private_allowed()).await;
    let rx = Receiver::start().await;
    let (id, secret) = endpoint_as(&h, false, &rx.url(), &["customer.created", "customer.deleted"]).await;
    let cid = h.customer("Contoso", &tenant(1)).await;
    h.partner(Method::POST, "/keys", None).await.assert_status(201); // key.created: not subscribed
    assert_eq!(deliver(&h).await, vec![Ack::Done]);
    let seen = rx.stub.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.target, "/hook");
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["type"], "customer.created");
    assert_eq!(body["data"]["id"], cid);
    assert!(body["id"].as_str().unwrap().starts_with("evt_"));
    let hv = |n: &str| req.headers[n].to_str().unwrap().to_string();
    assert_eq!(hv("x-baref00t-event"), "customer.created");
    assert_eq!(hv("x-baref00t-delivery"), body["id"].as_str().unwrap());
    assert_eq!(hv("webhook-id"), body["id"].as_str().unwrap());
    assert_eq!(hv("webhook-timestamp"), T0.unix().to_string());
    assert_eq!(hv("content-type"), "application/json");
    let got: Vec<(&'static str, String)> =
        ["x-baref00t-signature", "webhook-id", "webhook-timestamp", "webhook-signature"]
            .into_iter()
            .map(|n| (n, hv(n)))
            .collect();
    assert_eq!(python_verifies(&secret, &req.body, &got), "ok");

    let log = h.partner(Method::GET, &format!("/webhooks/{id}/deliveries"), None).await;
    let d = &log.assert_status(200)["deliveries"][0];
    assert!(d["id"].as_str().unwrap().starts_with("dlv_"));
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["eventType"], "customer.created");
    assert_eq!(d["attempts"][0]["statusCode"], 200);
    assert_eq!(d["attempts"][0]["responseBody"], r#"{"received":true}"#);
    assert!(d["attempts"][0]["durationMs"].is_u64());
}

#[tokio::test]
async fn a_distributor_receives_its_partners_customer_and_assessment_events_only() {
    let h = Harness::with_config(private_allowed()).await;
    let rx = Receiver::start().await;
    let all: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
    endpoint_as(&h, true, &rx.url(), &all).await;
    h.customer("Contoso", &tenant(1)).await; // the sub-partner's customer.created and consent_updated: yes
    h.partner(Method::POST, "/keys", None).await; // the sub-partner's key.created: no
    let body = json!({ "email": "x@y.example", "company": "X", "name": "N", "plan": "starter", "billing": { "currency": "USD" } });
    let pid = h.distributor(Method::POST, "/partners", Some(body)).await.body["id"].as_str().unwrap().to_string();
    h.distributor(Method::POST, &format!("/partners/{pid}/activate"), None).await; // own partner.activated: yes
    let (_, other_dist_key) = h.other_distributor().await;
    let (_, foreign) = h.active_partner_under(&other_dist_key, "f@f.example", "professional").await;
    h.pending_customer_for(&foreign, "Foreign", &tenant(2)).await; // another distributor's partner: no
    deliver(&h).await;
    let types: Vec<String> = rx
        .stub
        .seen()
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, vec!["customer.created", "customer.consent_updated", "partner.activated"]);
}

#[tokio::test]
async fn failed_attempts_are_retried_on_schedule_with_the_same_delivery_id_then_fail() {
    let h = Harness::with_config(private_allowed()).await;
    let rx = Receiver::start().await;
    rx.answer(&[500, 500, 500, 500, 500, 500]);
    let (id, _) = endpoint_as(&h, false, &rx.url(), &["customer.created"]).await;
    h.customer("Contoso", &tenant(1)).await;
    deliver(&h).await;
    // 1 min, 5 min, 30 min, 2 h, 12 h: waits past 15 minutes are chained in hops of ≤ 15 min.
    let mut hops = 0;
    for wait in [60, 300, 1800, 7200, 43200] {
        let mut waited = 0;
        while waited < wait {
            assert!(deliver(&h).await.is_empty() || waited > 0, "nothing is due early");
            let step = (wait - waited).min(900);
            h.clock.advance(step);
            waited += step;
            hops += 1;
            deliver(&h).await;
        }
    }
    assert_eq!(hops, 1 + 1 + 2 + 8 + 48, "one hop per ≤ 15 minutes of waiting");
    let seen = rx.stub.seen();
    assert_eq!(seen.len(), 6, "six attempts in all");
    let ids: Vec<&str> = seen.iter().map(|r| r.headers["x-baref00t-delivery"].to_str().unwrap()).collect();
    assert!(ids.iter().all(|d| *d == ids[0]), "the same delivery id on every retry");
    let stamps: Vec<Timestamp> = seen
        .iter()
        .map(|r| Timestamp::from_unix(r.headers["webhook-timestamp"].to_str().unwrap().parse().unwrap()))
        .collect();
    assert_eq!(stamps, vec![T0, T0 + 60, T0 + 360, T0 + 2160, T0 + 9360, T0 + 52560], "re-signed per attempt");
    let log = h.partner(Method::GET, &format!("/webhooks/{id}/deliveries"), None).await;
    let d = &log.body["deliveries"][0];
    assert_eq!(d["status"], "failed");
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 6);
    assert_eq!(attempts[0]["number"], 6, "newest attempt first");
    assert!(attempts.iter().all(|a| a["statusCode"] == 500 && a["error"].as_str().unwrap().contains("500")));
    assert_eq!(d["nextAttemptAt"], Value::Null);
    // Nothing more happens.
    h.clock.advance(86_400);
    deliver(&h).await;
    assert_eq!(rx.stub.seen().len(), 6);
}

#[tokio::test]
async fn a_receiver_that_fails_once_gets_the_retry_and_it_is_logged() {
    let h = Harness::with_config(private_allowed()).await;
    let rx = Receiver::start().await;
    rx.answer(&[503]);
    let (id, _) = endpoint_as(&h, false, &rx.url(), &["customer.created"]).await;
    h.customer("Contoso", &tenant(1)).await;
    deliver(&h).await;
    h.clock.advance(59);
    deliver(&h).await;
    assert_eq!(rx.stub.seen().len(), 1, "not before the minute is up");
    h.clock.advance(1);
    deliver(&h).await;
    let seen = rx.stub.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].headers["x-baref00t-delivery"], seen[1].headers["x-baref00t-delivery"]);
    let d = &h.partner(Method::GET, &format!("/webhooks/{id}/deliveries"), None).await.body["deliveries"][0];
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"][1]["statusCode"], 503);
    assert_eq!(d["attempts"][0]["statusCode"], 200);
}

#[tokio::test]
async fn redirects_are_not_followed_and_timeouts_fail_the_attempt() {
    let h = Harness::with_config(private_allowed()).await;
    let rx = Receiver::start().await;
    rx.answer(&[302]);
    let (id, _) = endpoint_as(&h, false, &rx.url(), &["customer.created"]).await;
    h.customer("Contoso", &tenant(1)).await;
    deliver(&h).await;
    assert_eq!(rx.stub.seen().len(), 1, "the Location was not visited");
    let d = &h.partner(Method::GET, &format!("/webhooks/{id}/deliveries"), None).await.body["deliveries"][0];
    assert_eq!(d["status"], "pending");
    assert_eq!(d["attempts"][0]["statusCode"], 302);

    // A receiver that accepts the connection and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let transport = HttpTransport::new(
        Arc::new(shared::webhooks::guard::SystemLookup),
        true,
        std::time::Duration::from_millis(300),
    );
    let r = transport.post(&format!("http://{addr}/hook"), &[], b"{}").await;
    assert_eq!(r, Err(SendError::Timeout(300)));
    hold.abort();
}

/// A receiver that answers its status line and then trickles its body forever: the attempt
/// ends at the time limit (or 1 KiB of body), keeps what came, and is decided on the status.
#[tokio::test]
async fn a_trickling_body_is_cut_and_the_status_line_decides() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let trickler = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = trickler.local_addr().unwrap();
    let serve = tokio::spawn(async move {
        while let Ok((mut s, _)) = trickler.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000000\r\n\r\n";
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                // One byte at a time, far slower than the attempt's time limit allows.
                let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
                loop {
                    tick.tick().await;
                    if s.write_all(b"x").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let transport = HttpTransport::new(
        Arc::new(shared::webhooks::guard::SystemLookup),
        true,
        std::time::Duration::from_millis(300),
    );
    let answer = transport.post(&format!("http://{addr}/hook"), &[], b"{}").await.expect("an answer, not an error");
    assert_eq!(answer.status, 200, "the status line decides");
    assert!(answer.body.len() <= 1024 && answer.body.bytes().all(|b| b == b'x'), "what came is kept, at most 1 KiB");
    serve.abort();
}

#[tokio::test]
async fn the_test_route_sends_a_signed_ping_now() {
    let h = Harness::with_config(private_allowed()).await;
    let rx = Receiver::start().await;
    let (id, secret) = endpoint_as(&h, true, &rx.url(), &["partner.activated"]).await;
    let r = h.distributor(Method::POST, &format!("/webhooks/{id}/test"), None).await;
    let b = r.assert_status(200);
    assert_eq!(b["delivered"], true);
    assert_eq!(b["statusCode"], 200);
    assert_eq!(b["error"], Value::Null);
    assert!(b["durationMs"].is_u64());
    let req = &rx.stub.seen()[0];
    assert_eq!(req.headers["x-baref00t-event"], "ping");
    let hv = |n: &'static str| (n, req.headers[n].to_str().unwrap().to_string());
    let got = vec![hv("x-baref00t-signature"), hv("webhook-id"), hv("webhook-timestamp"), hv("webhook-signature")];
    assert_eq!(python_verifies(&secret, &req.body, &got), "ok");
    rx.answer(&[500]);
    let b = h.distributor(Method::POST, &format!("/webhooks/{id}/test"), None).await.body;
    assert_eq!((b["delivered"].clone(), b["statusCode"].clone()), (json!(false), json!(500)));
}

#[tokio::test]
async fn a_rotated_secret_keeps_signing_for_24_hours() {
    let h = Harness::with_config(private_allowed()).await;
    let rx = Receiver::start().await;
    let (id, old) = endpoint_as(&h, false, &rx.url(), &["customer.created"]).await;
    let r = h.partner(Method::PATCH, &format!("/webhooks/{id}"), Some(json!({ "rotateSecret": true }))).await;
    let new = r.assert_status(200)["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    h.customer("A", &tenant(1)).await;
    deliver(&h).await;
    let req = rx.stub.seen()[0].clone();
    let hv = |n: &'static str| (n, req.headers[n].to_str().unwrap().to_string());
    let got = vec![hv("x-baref00t-signature"), hv("webhook-id"), hv("webhook-timestamp"), hv("webhook-signature")];
    assert_eq!(
        req.headers["webhook-signature"].to_str().unwrap().split(' ').count(),
        2,
        "one signature per valid secret"
    );
    assert_eq!(python_verifies(&new, &req.body, &got), "ok");
    // The old secret still verifies the Standard Webhooks signature during the grace period.
    let old_sig =
        standard_signature(&old, &got[1].1, Timestamp::from_unix(got[2].1.parse().unwrap()), &req.body).unwrap();
    assert!(got[3].1.split(' ').any(|s| s == old_sig));
    h.clock.advance(24 * 3600);
    h.customer("B", &tenant(2)).await;
    deliver(&h).await;
    let later = rx.stub.seen()[1].clone();
    assert_eq!(
        later.headers["webhook-signature"].to_str().unwrap().split(' ').count(),
        1,
        "the old secret stopped signing"
    );
}

#[tokio::test]
async fn redeliver_makes_one_more_attempt_now() {
    let h = Harness::with_config(private_allowed()).await;
    let rx = Receiver::start().await;
    let (id, _) = endpoint_as(&h, false, &rx.url(), &["customer.created"]).await;
    h.customer("A", &tenant(1)).await;
    deliver(&h).await;
    let dlv = h.partner(Method::GET, &format!("/webhooks/{id}/deliveries"), None).await.body["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = h.partner(Method::POST, &format!("/webhooks/{id}/deliveries/{dlv}/redeliver"), None).await;
    assert_eq!(r.assert_status(202)["id"], dlv);
    deliver(&h).await;
    let seen = rx.stub.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body, "the same event");
    let d = &h.partner(Method::GET, &format!("/webhooks/{id}/deliveries"), None).await.body["deliveries"][0];
    assert_eq!(d["attempts"].as_array().unwrap().len(), 2);
    h.partner(Method::POST, &format!("/webhooks/{id}/deliveries/dlv_nope/redeliver"), None)
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn an_event_survives_a_crash_between_the_write_and_the_queue() {
    let h = Harness::with_config(private_allowed()).await;
    let rx = Receiver::start().await;
    endpoint_as(&h, false, &rx.url(), &["customer.created"]).await;
    h.pending_customer_for(h.partner_key(), "A", &tenant(1)).await;
    // The process dies before any relay ran: the event is in the store with its change.
    assert_eq!(h.events().await.len(), 1);
    // It dies again after the delivery was made but before the event left the outbox and
    // before the message was sent: simulate by making the delivery by hand.
    let event = h.events().await.remove(0);
    let owner = shared::domain::account::Owner::partner(h.partner_id());
    let endpoint = h.app.store.endpoints_of(&owner).await.unwrap().remove(0);
    let made = shared::domain::webhook::Delivery {
        id: "dlv_0000000000000000000000".into(),
        endpoint_id: endpoint.id.clone(),
        owner: owner.clone(),
        event_id: event.id.clone(),
        event_type: event.kind.as_str().into(),
        payload: event.payload().to_string(),
        status: shared::domain::webhook::DeliveryStatus::Pending,
        attempts: vec![],
        created_at: T0,
        next_attempt_at: Some(T0),
        manual_attempts: 0,
    };
    h.app.store.create_delivery(&made).await.unwrap();
    // The next relay picks the event up, reuses that delivery, and it arrives exactly once.
    deliver(&h).await;
    deliver(&h).await;
    assert_eq!(rx.stub.seen().len(), 1);
    assert!(h.events().await.is_empty(), "the outbox is drained");
    let log = h
        .app
        .store
        .list_deliveries(&endpoint.id, &shared::store::PageRequest { limit: 10, after: None })
        .await
        .unwrap();
    assert_eq!(log.items.len(), 1);
    assert_eq!(log.items[0].status, shared::domain::webhook::DeliveryStatus::Delivered);
}

#[tokio::test]
async fn a_lost_retry_is_found_by_the_sweep() {
    let h = Harness::with_config(private_allowed()).await;
    let rx = Receiver::start().await;
    rx.answer(&[500]);
    endpoint_as(&h, false, &rx.url(), &["customer.created"]).await;
    h.customer("A", &tenant(1)).await;
    deliver(&h).await;
    // The retry message is lost (the process died after recording the attempt).
    h.clock.advance(60);
    let lost = h.webhooks.receive(100);
    assert_eq!(lost.len(), 1);
    for d in lost {
        h.webhooks.ack(&d.receipt);
    }
    h.clock.set(T0 + 60 + shared::webhooks::relay::LOST_AFTER_SECS + 1);
    deliver(&h).await;
    assert_eq!(rx.stub.seen().len(), 1, "nothing queued any more");
    let swept = h.relay().sweep(100).await.unwrap();
    assert_eq!(swept, 1);
    deliver(&h).await;
    assert_eq!(rx.stub.seen().len(), 2);
}

/// `WEBHOOK_LOST_AFTER_SECS`: a pending delivery whose next attempt is that overdue counts as
/// lost and the sweep queues it again; not a second earlier.
#[tokio::test]
async fn the_lost_retry_threshold_is_configuration() {
    let config = Config::from_vars(|n| match n {
        "WEBHOOK_ALLOW_PRIVATE_TARGETS" => Some("true".into()),
        "WEBHOOK_LOST_AFTER_SECS" => Some("10".into()),
        _ => None,
    })
    .unwrap();
    let h = Harness::with_config(Config { webhook_timeout_ms: 500, ..config }).await;
    let rx = Receiver::start().await;
    rx.answer(&[500]);
    endpoint_as(&h, false, &rx.url(), &["customer.created"]).await;
    h.customer("A", &tenant(1)).await;
    deliver(&h).await;
    // The retry (due at +60 s) is lost.
    h.clock.advance(60);
    for d in h.webhooks.receive(100) {
        h.webhooks.ack(&d.receipt);
    }
    h.clock.set(T0 + 60 + 10);
    assert_eq!(h.relay().sweep(100).await.unwrap(), 0, "not past the threshold yet");
    h.clock.set(T0 + 60 + 11);
    assert_eq!(h.relay().sweep(100).await.unwrap(), 1);
    deliver(&h).await;
    assert_eq!(rx.stub.seen().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// SSRF guard
// ---------------------------------------------------------------------------------------------

#[test]
fn forbidden_addresses_cover_every_private_and_special_range() {
    let blocked = [
        "127.0.0.1",
        "127.255.0.9",
        "0.0.0.0",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.0.1",
        "100.64.0.1",
        "100.127.255.254",
        "224.0.0.1",
        "239.1.1.1",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "::1",
        "::",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "2001:db8::1",
    ];
    for ip in blocked {
        assert!(forbidden(ip.parse::<IpAddr>().unwrap()), "{ip} must be blocked");
    }
    let allowed =
        ["8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"];
    for ip in allowed {
        assert!(!forbidden(ip.parse::<IpAddr>().unwrap()), "{ip} must be allowed");
    }
}

/// Prefixes that reach somewhere else than a public host: 6to4 (2002::/16, which embeds an IPv4
/// address a relay will forward to), local-use NAT64 (64:ff9b:1::/48, RFC 8215, translated by
/// the operator's own gateway) and the deprecated site-local fec0::/10.
#[test]
fn sixtofour_local_nat64_and_site_local_are_blocked() {
    for ip in [
        "2002:7f00:1::1",
        "2002:a00:1::1",
        "2002:808:808::1",
        "64:ff9b:1::a00:1",
        "64:ff9b:1:ffff::1",
        "fec0::1",
        "feff::1",
    ] {
        assert!(forbidden(ip.parse::<IpAddr>().unwrap()), "{ip} must be blocked");
    }
    for ip in ["2003::1", "64:ff9b:2::1", "2606:4700::1111"] {
        assert!(!forbidden(ip.parse::<IpAddr>().unwrap()), "{ip} is outside those prefixes");
    }
}

#[test]
fn urls_must_be_https_and_not_literal_private_addresses() {
    assert!(check_url("https://hooks.example.com/x", false).is_ok());
    for bad in [
        "http://hooks.example.com/x",
        "ftp://hooks.example.com",
        "https://127.0.0.1/",
        "https://[::ffff:7f00:1]/",
        "https://[fd00:ec2::254]/",
        "https://169.254.169.254/latest/meta-data",
        "https://0x7f.1/",
        "https://2130706433/",
        "https://localhost:8443/",
        "https://u:p@hooks.example.com/",
    ] {
        assert!(check_url(bad, false).is_err(), "{bad} must be refused");
    }
    // The development flag allows http and loopback.
    assert!(check_url("http://127.0.0.1:8080/hook", true).is_ok());
}

/// Answers every name with fixed addresses: DNS under the test's control.
struct FixedLookup(Vec<IpAddr>);

#[async_trait::async_trait]
impl Lookup for FixedLookup {
    async fn lookup(&self, _: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok(self.0.clone())
    }
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_is_blocked_at_connect_time() {
    for ips in
        [vec!["10.0.0.5"], vec!["127.0.0.1"], vec!["169.254.169.254"], vec!["::ffff:192.168.0.1"], vec!["fd12::1"]]
    {
        let lookup = Arc::new(FixedLookup(ips.iter().map(|i| i.parse().unwrap()).collect()));
        let transport = HttpTransport::new(lookup, false, std::time::Duration::from_secs(2));
        // The URL passes the save-time check (a public-looking name); the guard still refuses.
        assert!(check_url("https://hooks.customer.example/x", false).is_ok());
        match transport.post("https://hooks.customer.example/x", &[], b"{}").await {
            Err(SendError::Blocked(m)) => assert!(m.contains("may not reach"), "{m}"),
            other => panic!("{ips:?}: expected blocked, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn only_the_allowed_addresses_of_a_mixed_answer_are_connected_to() {
    use reqwest::dns::Resolve;
    let lookup = Arc::new(FixedLookup(vec![
        "10.0.0.5".parse().unwrap(),
        "93.184.215.14".parse().unwrap(),
        "::1".parse().unwrap(),
    ]));
    let resolver = GuardedResolver { lookup, allow_private: false };
    let name: reqwest::dns::Name = "rebind.example".parse().unwrap();
    let addrs: Vec<IpAddr> = resolver.resolve(name).await.unwrap().map(|a| a.ip()).collect();
    assert_eq!(addrs, vec!["93.184.215.14".parse::<IpAddr>().unwrap()]);
}

#[tokio::test]
async fn without_the_development_flag_no_attempt_reaches_loopback() {
    let h = Harness::new().await; // private targets not allowed
    let rx = Receiver::start().await;
    // Saved while the flag was on (or through a name that pointed elsewhere then).
    let owner = shared::domain::account::Owner::partner(h.partner_id());
    let endpoint = shared::domain::webhook::Endpoint {
        id: "whk_0000000000000000000001".into(),
        owner: owner.clone(),
        url: rx.url(),
        events: vec!["customer.created".into()],
        description: None,
        enabled: true,
        secret: shared::webhooks::secrets::encrypt(&h.app.secrets.webhook_encryption, "whsec_c2VjcmV0"),
        previous_secret: None,
        previous_secret_expires_at: None,
        created_at: T0,
        updated_at: None,
        version: 1,
    };
    h.app.store.create_endpoint(&endpoint, 20).await.unwrap();
    h.customer("A", &tenant(1)).await;
    deliver(&h).await;
    assert!(rx.stub.seen().is_empty(), "nothing reached the loopback receiver");
    let log = h
        .app
        .store
        .list_deliveries(&endpoint.id, &shared::store::PageRequest { limit: 10, after: None })
        .await
        .unwrap();
    let attempt = &log.items[0].attempts[0];
    assert!(attempt.error.as_deref().unwrap().contains("blocked"), "{attempt:?}");
}

#[test]
fn the_retry_schedule_is_configurable() {
    let c = Config::from_vars(|n| (n == "WEBHOOK_RETRY_SCHEDULE").then(|| "10, 20,30".to_string())).unwrap();
    assert_eq!(c.webhook_retry_schedule, vec![10, 20, 30]);
    assert_eq!(Config::default().webhook_retry_schedule, vec![60, 300, 1800, 7200, 43200]);
    for bad in ["", "10,,20", "-5", "ten"] {
        let e = Config::from_vars(|n| (n == "WEBHOOK_RETRY_SCHEDULE").then(|| bad.to_string())).unwrap_err();
        assert!(e.to_string().contains("WEBHOOK_RETRY_SCHEDULE"));
    }
}

/// A webhooks queue that refuses the attempts of one endpoint and accepts the rest.
struct RefusesOne {
    endpoint: String,
    sent: Mutex<Vec<shared::webhooks::WebhookMessage>>,
}

#[async_trait::async_trait]
impl shared::webhooks::relay::WebhookQueue for RefusesOne {
    async fn send_webhook(
        &self,
        m: &shared::webhooks::WebhookMessage,
        _: i64,
    ) -> Result<(), shared::queue::QueueError> {
        if m.endpoint_id.as_str() == self.endpoint {
            return Err(shared::queue::QueueError::Backend("refused".into()));
        }
        self.sent.lock().unwrap().push(m.clone());
        Ok(())
    }
}

/// An event whose fan-out fails stays in the outbox, and the events behind it are still
/// delivered: one failing event does not hold back every later one.
#[tokio::test]
async fn an_event_that_cannot_be_fanned_out_does_not_hold_back_the_next() {
    let h = Harness::new().await;
    let (first, _) = endpoint_as(&h, false, "https://hooks.example.com/first", &["customer.created"]).await;
    let (_, other_key) = h.active_partner("other@example.com", "professional").await;
    let body = json!({ "url": "https://hooks.example.com/second", "events": ["customer.created"] });
    h.partner_as(&other_key, Method::POST, "/webhooks", Some(body)).await.assert_status(201);
    h.customer("First", &tenant(1)).await; // fans out to `first`, whose queue refuses
    h.customer_for(&other_key, "Second", &tenant(2)).await;
    let queue = Arc::new(RefusesOne { endpoint: first.clone(), sent: Mutex::default() });
    let service = h.service_with_webhooks(queue.clone());
    assert!(service.relay().drain(1000).await.is_err(), "the failure is reported");
    let sent = queue.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "the second customer's event went out: {sent:?}");
    assert_ne!(sent[0].endpoint_id.as_str(), first);
    let left = h.events().await;
    assert_eq!(left.len(), 1, "only the first customer's event stays in the outbox: {left:?}");
    assert_eq!(left[0].kind, shared::domain::event::EventType::CustomerCreated);
    assert_eq!(left[0].account, shared::domain::account::Owner::partner(h.partner_id()));
}
