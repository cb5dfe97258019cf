//! Tenant consent (contract, "Tenant consent"; issue 9) on both store adapters: the callback's
//! every branch, isolation between partners, a state replayed after a tenant change, and the
//! triggers with and without consent. Everything goes through the HTTP router, as a partner,
//! a distributor and an administrator's browser would.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request};
use serde_json::{json, Value};
use shared::domain::time::Timestamp;
use shared::store::memory::MemoryStore;
use shared::store::Store;
use shared::usecases::consent::State;
use tests::stored::{on_store, OnStore};
use tests::{assessment_body, consent_callback, customer_body, partner_body, tenant, T0};

/// One answer: status, content type, and the body (JSON decoded, or the page's text).
struct Answer {
    status: u16,
    html: bool,
    json: Value,
    text: String,
}

struct Api {
    on: OnStore,
}

impl Api {
    async fn new(store: Arc<dyn Store>) -> Self {
        Self { on: on_store(store).await }
    }

    async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<Value>) -> Answer {
        let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let resp = tests::oneshot(&self.on.router, req.body(body).unwrap()).await;
        let html = resp.headers().get("content-type").is_some_and(|c| c.as_bytes().starts_with(b"text/html"));
        let text = String::from_utf8_lossy(resp.body()).to_string();
        let json = if html || text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        Answer { status: resp.status().as_u16(), html, json, text }
    }

    async fn partner_as(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.send(method, &format!("/api/v1/partner{path}"), &[("x-partner-key", key)], body).await
    }

    async fn partner(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let key = self.on.accounts.partner_key.clone();
        self.partner_as(&key, method, path, body).await
    }

    async fn distributor(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let key = self.on.accounts.distributor_key.clone();
        self.send(method, &format!("/api/v1/distributor{path}"), &[("x-distributor-key", &key)], body).await
    }

    /// A new pending customer of the partner with `key`.
    async fn customer_as(&self, key: &str, name: &str, tenant_id: &str) -> String {
        let made = self.partner_as(key, Method::POST, "/customers", Some(customer_body(name, tenant_id))).await;
        assert_eq!(made.status, 201, "{}", made.text);
        assert_eq!(made.json["consentStatus"], "pending");
        made.json["id"].as_str().unwrap().to_string()
    }

    async fn consent_as(&self, key: &str, customer: &str) -> Value {
        let got = self.partner_as(key, Method::GET, &format!("/customers/{customer}/consent"), None).await;
        assert_eq!(got.status, 200, "{}", got.text);
        got.json
    }

    /// The administrator's browser arriving at the callback.
    async fn callback(&self, path_and_query: &str) -> Answer {
        self.send(Method::GET, path_and_query, &[], None).await
    }

    /// A second active partner under the start-up distributor, and its key.
    async fn other_partner(&self) -> (String, String) {
        let body = partner_body("other@msp.example", "professional").as_object().cloned().map(Value::Object).unwrap();
        let made = self.distributor(Method::POST, "/partners", Some(body)).await;
        assert_eq!(made.status, 201, "{}", made.text);
        let id = made.json["id"].as_str().unwrap().to_string();
        assert_eq!(self.distributor(Method::POST, &format!("/partners/{id}/activate"), None).await.status, 200);
        let key = self.distributor(Method::POST, &format!("/partners/{id}/keys"), None).await;
        (id, key.json["key"].as_str().unwrap().to_string())
    }

    fn signing_key(&self) -> Vec<u8> {
        self.on.service.app.secrets.consent_signing.clone()
    }

    async fn events_of(&self, kind: &str) -> Vec<Value> {
        let events = self.on.service.app.store.pending_events(10_000).await.unwrap();
        events.into_iter().filter(|e| e.kind.as_str() == kind).map(|e| e.data).collect()
    }
}

fn state_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    parsed.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned()
}

fn grant_query(tenant_id: &str, state: &str) -> String {
    format!("/consent/callback?admin_consent=True&tenant={tenant_id}&state={state}")
}

/// The callback's every branch: a grant and a refusal are recorded (200 page, status,
/// `grantedAt`, `customer.consent_updated`); every rejection answers 400 with a page saying
/// which and changes nothing.
async fn the_callback_records_a_grant_or_a_refusal_and_rejects_the_rest(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let key = api.on.accounts.partner_key.clone();
    let c = api.customer_as(&key, "Contoso", &tenant(1)).await;
    let consent = api.consent_as(&key, &c).await;
    assert_eq!((consent["status"].clone(), consent["grantedAt"].clone()), (json!("pending"), Value::Null));
    let url = consent["consentUrl"].as_str().unwrap().to_string();
    assert!(url.contains(&format!("/{}/v2.0/adminconsent?client_id=", tenant(1))), "{url}");
    assert!(url.contains("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"), "{url}");
    assert!(url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fconsent%2Fcallback"), "{url}");
    let state = state_of(&url);

    // Each rejection: 400, a page, nothing recorded.
    let mut tampered = state.clone();
    tampered.replace_range(0..1, if tampered.starts_with('a') { "b" } else { "a" });
    let expired = State {
        partner_id: api.on.accounts.partner.id.to_string(),
        customer_id: c.clone(),
        tenant_id: tenant(1),
        expires_at: T0 - 1,
    }
    .sign(&api.signing_key());
    let rejections = [
        ("/consent/callback".to_string(), "state is missing"),
        (format!("/consent/callback?admin_consent=True&tenant={}", tenant(1)), "state is missing"),
        (format!("/consent/callback?tenant={}&state={state}", tenant(1)), "admin_consent is missing"),
        (format!("/consent/callback?admin_consent=True&state={state}"), "tenant is missing"),
        (grant_query(&tenant(1), &tampered), "altered or is incomplete"),
        (grant_query(&tenant(1), "not-a-state"), "altered or is incomplete"),
        (grant_query(&tenant(1), &expired), "has expired"),
        (grant_query(&tenant(2), &state), "another tenant"),
    ];
    for (path, says) in rejections {
        let r = api.callback(&path).await;
        assert_eq!((r.status, r.html), (400, true), "{path}");
        assert!(r.text.contains(says), "{path}: {}", r.text);
        assert!(r.text.contains("Nothing was recorded"), "{path}");
    }
    assert_eq!(api.consent_as(&key, &c).await["status"], "pending", "nothing changed");
    assert!(api.events_of("customer.consent_updated").await.is_empty());

    // A refusal, then a grant through a fresh link.
    let declined = api.callback(&consent_callback(&url, false)).await;
    assert_eq!((declined.status, declined.html), (200, true));
    assert!(declined.text.contains("Consent declined") && declined.text.contains("Contoso"), "{}", declined.text);
    assert!(declined.text.contains("AADSTS65004"), "Microsoft's reason is shown");
    assert_eq!(api.consent_as(&key, &c).await["status"], "declined");
    let granted = api.callback(&consent_callback(&url, true)).await;
    assert_eq!((granted.status, granted.html), (200, true));
    assert!(granted.text.contains("Consent granted"), "{}", granted.text);
    let now = api.consent_as(&key, &c).await;
    assert_eq!(now["status"], "granted");
    assert_eq!(now["grantedAt"], now["updatedAt"]);
    assert!(now["grantedAt"].is_string());
    // The same callback again (a refreshed page) records nothing twice.
    assert_eq!(api.callback(&consent_callback(&url, true)).await.status, 200);
    let recorded = api.events_of("customer.consent_updated").await;
    let statuses: Vec<&str> = recorded.iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["declined", "granted"]);
    assert_eq!(recorded[1], json!({ "customerId": c, "tenantId": tenant(1), "status": "granted" }));
    let customer = api.partner(Method::GET, &format!("/customers/{c}"), None).await;
    assert_eq!(customer.json["consentStatus"], "granted");

    // The customer deleted: its link is refused.
    assert_eq!(api.partner(Method::DELETE, &format!("/customers/{c}"), None).await.status, 204);
    let gone = api.callback(&consent_callback(&url, true)).await;
    assert_eq!(gone.status, 400);
    assert!(gone.text.contains("no longer exists"), "{}", gone.text);
}

/// A state made for one tenant is refused once the customer's `tenantId` changed (even a
/// grant from the old tenant's admin), and the change put the consent back to `pending`.
async fn a_state_replayed_after_a_tenant_change_is_refused(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let key = api.on.accounts.partner_key.clone();
    let c = api.customer_as(&key, "Contoso", &tenant(1)).await;
    let old_url = api.consent_as(&key, &c).await["consentUrl"].as_str().unwrap().to_string();
    assert_eq!(api.callback(&consent_callback(&old_url, true)).await.status, 200);
    let moved = api.partner(Method::PATCH, &format!("/customers/{c}"), Some(json!({ "tenantId": tenant(2) }))).await;
    assert_eq!(moved.json["consentStatus"], "pending", "consent was for the old tenant only");
    let replay = api.callback(&consent_callback(&old_url, true)).await;
    assert_eq!(replay.status, 400);
    assert!(replay.text.contains("tenant changed"), "{}", replay.text);
    assert_eq!(api.consent_as(&key, &c).await["status"], "pending");
    // The new link works for the new tenant.
    let new_url = api.consent_as(&key, &c).await["consentUrl"].as_str().unwrap().to_string();
    assert!(new_url.contains(&tenant(2)));
    assert_eq!(api.callback(&consent_callback(&new_url, true)).await.status, 200);
    assert_eq!(api.consent_as(&key, &c).await["status"], "granted");
}

/// Consent never carries over between partners: partner B's customer with the tenant partner
/// A's customer consented is still `consent_required`, and A's state cannot be bent to grant
/// B's customer (changing the customer it names breaks the signature).
async fn consent_is_per_partner(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let a_key = api.on.accounts.partner_key.clone();
    let (_, b_key) = api.other_partner().await;
    let a_customer = api.customer_as(&a_key, "Contoso (A)", &tenant(1)).await;
    let b_customer = api.customer_as(&b_key, "Contoso (B)", &tenant(1)).await;
    let a_url = api.consent_as(&a_key, &a_customer).await["consentUrl"].as_str().unwrap().to_string();
    assert_eq!(api.callback(&consent_callback(&a_url, true)).await.status, 200);
    assert_eq!(api.consent_as(&a_key, &a_customer).await["status"], "granted");
    assert_eq!(api.consent_as(&b_key, &b_customer).await["status"], "pending", "B's customer is untouched");
    let b_trigger = api
        .partner_as(&b_key, Method::POST, "/assessments", Some(assessment_body(&b_customer, "essential-eight")))
        .await;
    assert_eq!((b_trigger.status, b_trigger.json["status"].clone()), (200, json!("consent_required")));

    // A's state, with B's customer put in: the signature no longer holds.
    let state = state_of(&a_url);
    let (payload, sig) = state.split_once('.').unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let text = String::from_utf8(b64.decode(payload).unwrap()).unwrap();
    let forged = format!("{}.{sig}", b64.encode(text.replace(&a_customer, &b_customer)));
    let r = api.callback(&grant_query(&tenant(1), &forged)).await;
    assert_eq!(r.status, 400);
    assert_eq!(api.consent_as(&b_key, &b_customer).await["status"], "pending");
    // And B cannot read A's customer's consent (tenancy answers 404).
    let foreign = api.partner_as(&b_key, Method::GET, &format!("/customers/{a_customer}/consent"), None).await;
    assert_eq!(foreign.status, 404);
}

/// P10, P11 and D12 without consent answer `consent_required` (200; in bulk an item counted in
/// `failed`) and write and count nothing; an `Idempotency-Key` replays that answer. With
/// consent, they queue as before.
async fn triggers_need_consent(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let key = api.on.accounts.partner_key.clone();
    let pid = api.on.accounts.partner.id.to_string();
    let pending = api.customer_as(&key, "Pending", &tenant(1)).await;
    let granted = api.customer_as(&key, "Granted", &tenant(2)).await;
    let url = api.consent_as(&key, &granted).await["consentUrl"].as_str().unwrap().to_string();
    assert_eq!(api.callback(&consent_callback(&url, true)).await.status, 200);

    let body = assessment_body(&pending, "essential-eight");
    let idem = [("x-partner-key", key.as_str()), ("idempotency-key", "trigger-1")];
    let first = api.send(Method::POST, "/api/v1/partner/assessments", &idem, Some(body.clone())).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json["status"], "consent_required");
    assert_eq!(first.json["customerId"], pending.as_str());
    assert_eq!(first.json["product"], "essential-eight");
    assert!(first.json["consentUrl"].as_str().unwrap().contains(&tenant(1)));
    assert!(first.json["message"].is_string());
    let replay = api.send(Method::POST, "/api/v1/partner/assessments", &idem, Some(body)).await;
    assert_eq!((replay.status, &replay.json), (200, &first.json), "replayed as it was");

    let d12 = api
        .distributor(Method::POST, &format!("/partners/{pid}/assessments"), Some(assessment_body(&pending, "nist-csf")))
        .await;
    assert_eq!((d12.status, d12.json["status"].clone()), (200, json!("consent_required")), "{}", d12.text);

    let bulk = json!({ "customerIds": [pending, granted], "product": "essential-eight" });
    let r = api.partner(Method::POST, "/assessments/bulk", Some(bulk)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!((r.json["queued"].clone(), r.json["failed"].clone()), (json!(1), json!(1)));
    let item = &r.json["runs"][0];
    assert_eq!(
        (item["customerId"].as_str(), item["status"].as_str()),
        (Some(pending.as_str()), Some("consent_required"))
    );
    assert!(item["consentUrl"].as_str().unwrap().contains(&tenant(1)));
    assert_eq!(r.json["runs"][1]["status"], "queued");

    let one = api.partner(Method::POST, "/assessments", Some(assessment_body(&granted, "essential-eight"))).await;
    assert_eq!(one.status, 202);
    let d12 = api
        .distributor(Method::POST, &format!("/partners/{pid}/assessments"), Some(assessment_body(&granted, "nist-csf")))
        .await;
    assert_eq!(d12.status, 202);

    // Only the three runs of the granted customer exist and count.
    let runs = api.partner(Method::GET, "/assessments", None).await;
    let of: Vec<&str> =
        runs.json["runs"].as_array().unwrap().iter().map(|r| r["customerId"].as_str().unwrap()).collect();
    assert_eq!(of, [granted.as_str(); 3]);
    let me = api.partner(Method::GET, "/me", None).await;
    assert_eq!(me.json["usage"]["runsUsed"], 3);
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test]
            async fn $case() {
                super::$case(std::sync::Arc::new(super::MemoryStore::new())).await;
            })*
        }
        mod dynamodb {
            $(#[tokio::test]
            async fn $case() {
                let Some(store) = tests::aws::fresh_dynamo().await else { return };
                super::$case(std::sync::Arc::new(store)).await;
            })*
        }
    };
}

on_both!(
    the_callback_records_a_grant_or_a_refusal_and_rejects_the_rest,
    a_state_replayed_after_a_tenant_change_is_refused,
    consent_is_per_partner,
    triggers_need_consent,
);

#[test]
fn a_state_is_bound_to_what_it_names_and_expires() {
    let key = b"k".repeat(32);
    let s = State { partner_id: "prt_a".into(), customer_id: "cust_b".into(), tenant_id: tenant(1), expires_at: T0 };
    let token = s.sign(&key);
    assert_eq!(State::verify(&key, &token, T0 - 1), Ok(s.clone()));
    assert_eq!(State::verify(&key, &token, T0), Err(shared::usecases::consent::StateError::Expired));
    assert_eq!(State::verify(&b"x".repeat(32), &token, T0 - 1), Err(shared::usecases::consent::StateError::Tampered));
    let _: Timestamp = s.expires_at;
}

#[test]
fn a_consent_change_keeps_the_grant_time_only_while_granted() {
    use shared::domain::consent::{Consent, ConsentStatus};
    assert_eq!(Consent::changed(ConsentStatus::Granted, T0).granted_at, Some(T0));
    assert_eq!(Consent::changed(ConsentStatus::Revoked, T0).granted_at, None);
    assert_eq!(Consent::default().status, ConsentStatus::Pending, "a customer from before consent");
    assert_eq!(serde_json::to_string(&ConsentStatus::Declined).unwrap(), "\"declined\"");
}

#[test]
fn pages_escape_what_they_show() {
    use shared::pages::{message, Message, Tone};
    let page = message(&Message {
        title: "t",
        heading: "<script>alert(1)</script>",
        paragraphs: vec!["a & \"b\"".into()],
        footer: "f",
        tone: Tone::No,
    });
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("&lt;script&gt;"), "{page}");
    assert!(page.contains("a &amp; &quot;b&quot;"), "{page}");
}
