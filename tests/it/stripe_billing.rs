//! Billing on Stripe (issue 15): the adapter against localstripe (`scripts/test` starts it with
//! `scripts/localstripe-server.py`, which adds what localstripe lacks: prices by lookup key,
//! `send_invoice`, `proration_behavior`, portal sessions, Idempotency-Key replay, and a
//! failure switch), the billing routes, and Stripe's webhook (signed as Stripe signs).

use std::sync::Arc;

use http::Method;
use serde_json::{json, Value};
use shared::billing::Billing;
use shared::domain::account::StripeRefs;
use shared::domain::time::Clock;
use shared::store::Store;
use shared::stripe::client::StripeClient;
use shared::stripe::webhook::sign;
use shared::stripe::StripeBilling;
use tests::*;

const ENDPOINT_VAR: &str = "BAREF00T_TEST_STRIPE_ENDPOINT";
const KEY: &str = "sk_test_baref00t";
const WHSEC: &str = "whsec_test_baref00t";

/// Stripe tests share one localstripe and its failure switch: one at a time.
static STRIPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// localstripe's endpoint, or `None` (skipped) when it is not running; never skipped under CI.
fn endpoint() -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(e) if !e.is_empty() => Some(e),
        _ => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{ENDPOINT_VAR} is not set under CI");
            eprintln!("skipped: no localstripe ({ENDPOINT_VAR} is not set; scripts/test starts one)");
            None
        }
    }
}

/// A harness whose billing is the Stripe adapter on `base`.
async fn stripe_harness(base: &str) -> Harness {
    let base = base.to_string();
    Harness::with_billing(move |store: Arc<dyn Store>| {
        let client = StripeClient::new(&base, KEY).expect("client");
        Arc::new(StripeBilling::new(client, store, Some(WHSEC.into()), "https://portal.example".into()))
            as Arc<dyn Billing>
    })
    .await
}

/// A direct call to localstripe (seeding and reading what the adapter did).
async fn stripe(base: &str, method: Method, path: &str, form: &[(&str, &str)]) -> Value {
    let http = reqwest::Client::new();
    let url = format!("{base}{path}");
    let req = if method == Method::GET { http.get(url) } else { http.post(url).form(form) };
    let resp = req.basic_auth(KEY, Some("")).send().await.expect("localstripe answers");
    resp.json().await.expect("JSON")
}

/// Seeds the prices the tests use (each lookup key moved onto a fresh price: idempotent).
async fn seed_prices(base: &str) {
    for (plan, amount) in [("starter", 4900), ("professional", 9900), ("enterprise", 29900)] {
        for currency in ["usd", "aud"] {
            for (billing, interval, count, times) in
                [("monthly", "month", "1", 1), ("quarterly", "month", "3", 3), ("annual", "year", "1", 10)]
            {
                let key = format!("{plan}_{billing}_{currency}");
                let amount = (amount * times).to_string();
                stripe(
                    base,
                    Method::POST,
                    "/v1/prices",
                    &[
                        ("currency", currency),
                        ("unit_amount", &amount),
                        ("lookup_key", &key),
                        ("transfer_lookup_key", "true"),
                        ("recurring[interval]", interval),
                        ("recurring[interval_count]", count),
                        ("product_data[name]", plan),
                    ],
                )
                .await;
            }
        }
    }
}

/// Lets `after` Stripe requests through, then makes the next `times` answer `status`.
async fn fail_next(base: &str, after: u32, times: u32, status: u16) {
    let url = format!("{base}/_test/fail?after={after}&times={times}&status={status}");
    reqwest::Client::new().post(url).basic_auth(KEY, Some("")).send().await.expect("switch");
}

/// D3 through the API, activated and keyed: `(partner id, partner key)`.
async fn provision(h: &Harness, plan: &str, currency: &str, interval: &str) -> (String, String) {
    let email = format!("admin-{}@msp.example", shared::domain::ids::random_base62(8).to_lowercase());
    let body = json!({"email": email, "company": "Stripe MSP", "name": "Jo", "plan": plan,
                      "billing": {"currency": currency, "interval": interval}});
    let r = h.distributor(Method::POST, "/partners", Some(body)).await;
    let id = r.assert_status(201)["id"].as_str().expect("id").to_string();
    h.distributor(Method::POST, &format!("/partners/{id}/activate"), None).await.assert_status(200);
    let k = h.distributor(Method::POST, &format!("/partners/{id}/keys"), None).await;
    let key = k.assert_status(201)["key"].as_str().expect("key").to_string();
    (id, key)
}

async fn refs_of(h: &Harness, partner_id: &str) -> StripeRefs {
    let p = h.app.store.partner(partner_id).await.unwrap().expect("partner");
    p.subscription.stripe.expect("a Stripe subscription")
}

#[tokio::test]
async fn d3_opens_a_stripe_customer_and_subscription_in_the_billing_currency_shown_by_get_billing() {
    let Some(base) = endpoint() else { return };
    let _one = STRIPE.lock().await;
    seed_prices(&base).await;
    let h = stripe_harness(&base).await;
    let (id, key) = provision(&h, "professional", "AUD", "quarterly").await;

    let refs = refs_of(&h, &id).await;
    assert_eq!(refs.lookup_key, "professional_quarterly_aud");
    let billing = h.partner_as(&key, Method::GET, "/billing", None).await;
    let sub = &billing.assert_status(200)["subscriptions"][0];
    assert_eq!(sub["id"], json!(refs.subscription_id));
    assert_eq!(
        (&sub["status"], &sub["currency"], &sub["interval"], &sub["interval_count"], &sub["amount"]),
        (&json!("active"), &json!("aud"), &json!("month"), &json!(3), &json!(29700))
    );
    assert_eq!(sub["plan"], "professional");
    // Its first invoice (send_invoice: open, for the customer to pay).
    assert_eq!(billing.body["invoices"][0]["amount_due"], json!(29700));
    assert_eq!(billing.body["invoices"][0]["status"], json!("open"));

    // Every POST the adapter made carried an Idempotency-Key.
    let log = stripe(&base, Method::GET, "/_test/requests", &[]).await;
    let posts: Vec<&Value> = log.as_array().unwrap().iter().filter(|r| r["method"] == "POST").collect();
    assert!(posts.iter().any(|r| r["path"] == "/v1/customers"));
    assert!(posts.iter().filter(|r| r["path"] != "/v1/prices").all(|r| r["idempotencyKey"].is_string()), "{posts:?}");
}

#[tokio::test]
async fn a_plan_change_moves_the_stripe_subscription_with_proration_and_shows_in_get_billing() {
    let Some(base) = endpoint() else { return };
    let _one = STRIPE.lock().await;
    seed_prices(&base).await;
    let h = stripe_harness(&base).await;
    let (id, key) = provision(&h, "starter", "USD", "quarterly").await;

    // Defaults to current: a plan alone keeps the price's billing (quarterly) and currency.
    let r = h.partner_as(&key, Method::POST, "/plan", Some(json!({"plan": "professional"}))).await;
    let body = r.assert_status(200);
    assert_eq!((&body["plan"], &body["subscriptionStatus"]), (&json!("professional"), &json!("active")));

    let refs = refs_of(&h, &id).await;
    assert_eq!(refs.lookup_key, "professional_quarterly_usd");
    let billing = h.partner_as(&key, Method::GET, "/billing", None).await;
    let sub = &billing.assert_status(200)["subscriptions"][0];
    assert_eq!(
        (&sub["plan"], &sub["amount"], &sub["interval_count"]),
        (&json!("professional"), &json!(29700), &json!(3))
    );
    // Prorated: the unused time of the starter price is credited on the customer's next invoice.
    let items = stripe(&base, Method::GET, &format!("/v1/invoiceitems?customer={}", refs.customer_id), &[]).await;
    let proration: Vec<&Value> = items["data"].as_array().unwrap().iter().filter(|i| i["proration"] == true).collect();
    assert_eq!(proration.len(), 1, "{items}");
    assert_eq!(proration[0]["amount"], json!(-14700));

    // A billing named moves to that price.
    let r = h.partner_as(&key, Method::POST, "/plan", Some(json!({"plan": "enterprise", "billing": "monthly"}))).await;
    assert_eq!(r.assert_status(200)["billing"], "monthly");
    assert_eq!(refs_of(&h, &id).await.lookup_key, "enterprise_monthly_usd");
    // The same plan again is refused, with nothing sent to Stripe.
    h.partner_as(&key, Method::POST, "/plan", Some(json!({"plan": "enterprise"})))
        .await
        .assert_error(400, "PLAN_CHANGE_FAILED");

    // D9 through Stripe too, audited under the distributor's id (contract, "Billing and audit").
    let r = h.distributor(Method::POST, &format!("/partners/{id}/plan"), Some(json!({"plan": "starter"}))).await;
    r.assert_status(200);
    assert_eq!(refs_of(&h, &id).await.lookup_key, "starter_monthly_usd");
    let log = h.partner_as(&key, Method::GET, "/audit?action=plan.changed", None).await;
    let entries = log.assert_status(200)["entries"].as_array().unwrap().clone();
    let who: Vec<(&str, &str, &Value)> = entries
        .iter()
        .map(|e| {
            (e["actor"]["type"].as_str().unwrap(), e["changes"]["plan"]["to"].as_str().unwrap(), &e["target"]["id"])
        })
        .collect();
    assert_eq!(
        who,
        [
            ("distributor", "starter", &json!(id)),
            ("partner", "enterprise", &json!(id)),
            ("partner", "professional", &json!(id))
        ],
        "newest first, each Stripe-backed change in the partner's log"
    );
    let mine = h.distributor(Method::GET, "/audit?action=plan.changed", None).await;
    let d = mine.assert_status(200)["entries"].as_array().unwrap().clone();
    assert_eq!(d[0]["actor"]["type"], "distributor");
    assert_eq!(d[0]["changes"]["plan"], json!({"from": "enterprise", "to": "starter"}));
}

/// D6's billing object names another price of the same plan on Stripe (contract, "Billing and
/// audit": D6's plan/billing change the subscription), moved with proration before our billing
/// is written; the same billing again sends nothing.
#[tokio::test]
async fn a_d6_billing_change_moves_the_stripe_price_of_the_same_plan() {
    let Some(base) = endpoint() else { return };
    let _one = STRIPE.lock().await;
    seed_prices(&base).await;
    let h = stripe_harness(&base).await;
    let (id, key) = provision(&h, "starter", "USD", "quarterly").await;
    let patch = json!({"billing": {"interval": "annual", "currency": "AUD"}});
    let r = h.distributor(Method::PATCH, &format!("/partners/{id}"), Some(patch)).await;
    assert_eq!(r.assert_status(200)["billing"], json!({"currency": "AUD", "interval": "annual"}));
    assert_eq!(refs_of(&h, &id).await.lookup_key, "starter_annual_aud");
    let billing = h.partner_as(&key, Method::GET, "/billing", None).await;
    let sub = &billing.assert_status(200)["subscriptions"][0];
    assert_eq!((&sub["plan"], &sub["amount"], &sub["interval"]), (&json!("starter"), &json!(49000), &json!("year")));
    // A plan and a billing together are one price move.
    let both = json!({"plan": "professional", "billing": {"interval": "quarterly"}});
    h.distributor(Method::PATCH, &format!("/partners/{id}"), Some(both)).await.assert_status(200);
    assert_eq!(refs_of(&h, &id).await.lookup_key, "professional_quarterly_aud");
    // Nothing moves: Stripe is not asked (the same price would be refused there).
    let same = json!({"billing": {"interval": "quarterly"}});
    h.distributor(Method::PATCH, &format!("/partners/{id}"), Some(same)).await.assert_status(200);
    assert_eq!(refs_of(&h, &id).await.lookup_key, "professional_quarterly_aud");
}

#[tokio::test]
async fn an_unknown_price_or_a_stripe_5xx_is_500_with_nothing_changed_on_our_side() {
    let Some(base) = endpoint() else { return };
    let _one = STRIPE.lock().await;
    seed_prices(&base).await;
    let h = stripe_harness(&base).await;
    let (id, key) = provision(&h, "starter", "USD", "quarterly").await;
    let before = h.app.store.partner(&id).await.unwrap().unwrap();

    // No price has the lookup key starter_rolling_sgd.
    let r = h
        .partner_as(
            &key,
            Method::POST,
            "/plan",
            Some(json!({"plan": "professional", "billing": "rolling", "currency": "sgd"})),
        )
        .await;
    r.assert_error(500, "INTERNAL");
    // Stripe fails the subscription update (after the price lookup).
    fail_next(&base, 1, 1, 503).await;
    h.partner_as(&key, Method::POST, "/plan", Some(json!({"plan": "professional"})))
        .await
        .assert_error(500, "INTERNAL");
    let after = h.app.store.partner(&id).await.unwrap().unwrap();
    assert_eq!(
        (after.plan.as_str(), &after.subscription, after.terms_version),
        ("starter", &before.subscription, before.terms_version)
    );

    // D3 when Stripe fails creating the subscription: 500, and no partner stored.
    let email = format!("fails-{}@msp.example", shared::domain::ids::random_base62(8).to_lowercase());
    let email = email.as_str();
    let body = json!({"email": email, "company": "Fails MSP", "name": "Jo", "plan": "starter",
                      "billing": {"currency": "USD", "interval": "quarterly"}});
    let idem = [("x-distributor-key", h.distributor_key()), ("idempotency-key", "d3-retry-0001")];
    // The third call fails (price lookup, customer, subscription).
    fail_next(&base, 2, 1, 500).await;
    let bytes = bytes::Bytes::from(body.to_string());
    let r = h.request(Method::POST, "/api/v1/distributor/partners", &idem, Some(bytes.clone())).await;
    r.assert_error(500, "INTERNAL");
    let listed = h.distributor(Method::GET, "/partners", None).await;
    assert!(!listed.body.to_string().contains(email), "a partner was stored: {}", listed.body);
    // Retried under the same Idempotency-Key: Stripe answers the customer it made (same key),
    // so there is one customer for the email, not two.
    h.request(Method::POST, "/api/v1/distributor/partners", &idem, Some(bytes)).await.assert_status(201);
    let customers = stripe(&base, Method::GET, &format!("/v1/customers?email={email}"), &[]).await;
    assert_eq!(customers["data"].as_array().unwrap().len(), 1, "{customers}");
}

#[tokio::test]
async fn the_portal_route_answers_a_stripe_customer_portal_session() {
    let Some(base) = endpoint() else { return };
    let _one = STRIPE.lock().await;
    seed_prices(&base).await;
    let h = stripe_harness(&base).await;
    let (_, key) = provision(&h, "starter", "USD", "annual").await;
    let r = h.partner_as(&key, Method::POST, "/billing/portal", None).await;
    let url = r.assert_status(200)["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("https://billing.stripe.com/p/session/"), "{url}");
    // The start-up partner was made before billing was on Stripe: it has no customer.
    h.partner(Method::POST, "/billing/portal", None).await.assert_error(404, "NOT_FOUND");
}

// Webhooks: no localstripe needed (nothing is sent to Stripe).

/// A harness on the Stripe adapter (never called) whose start-up partner has a Stripe
/// subscription `sub_w` (active), with a customer whose consent is granted.
async fn webhook_harness() -> (Harness, String) {
    let h = stripe_harness("http://127.0.0.1:9").await;
    let p = h.app.store.partner(h.partner_id()).await.unwrap().unwrap();
    let mut sub = p.subscription.clone();
    sub.stripe = Some(StripeRefs {
        customer_id: "cus_w".into(),
        subscription_id: "sub_w".into(),
        item_id: "si_w".into(),
        lookup_key: "starter_monthly_usd".into(),
        event_at: 0,
        events: Vec::new(),
    });
    h.app.store.update_partner_terms(&p.id, p.terms_version, None, None, Some(&sub), T0).await.unwrap();
    let customer = h.customer_for(h.partner_key(), "Contoso", "d4f5a678-1234-5678-9abc-def012345678").await;
    (h, customer)
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({"id": id, "object": "event", "type": kind, "created": created, "data": {"object": object}})
}

fn subscription_updated(h: &Harness, id: &str, created: i64, status: &str) -> Value {
    event(
        id,
        "customer.subscription.updated",
        created,
        json!({"id": "sub_w", "object": "subscription",
        "status": status, "metadata": {"partnerId": h.partner_id()}}),
    )
}

async fn deliver(h: &Harness, body: &Value, signature: Option<String>) -> Resp {
    let raw = bytes::Bytes::from(body.to_string());
    let header = signature.unwrap_or_else(|| sign(WHSEC, h.clock.now().unix(), &raw));
    h.request(Method::POST, "/stripe/webhook", &[("stripe-signature", header.as_str())], Some(raw)).await
}

async fn trigger(h: &Harness, customer: &str) -> Resp {
    h.partner(Method::POST, "/assessments", Some(json!({"customerId": customer, "product": "essential-eight"}))).await
}

#[tokio::test]
async fn a_webhook_moves_a_partner_to_unpaid_and_triggers_are_refused_until_it_is_paid() {
    let (h, customer) = webhook_harness().await;
    let now = h.clock.now().unix();
    let r = deliver(&h, &subscription_updated(&h, "evt_unpaid", now, "unpaid"), None).await;
    assert_eq!(r.assert_status(200)["outcome"], "applied");

    trigger(&h, &customer).await.assert_error(403, "SUBSCRIPTION_INACTIVE");
    let on_behalf = json!({"customerId": customer, "product": "essential-eight"});
    let path = format!("/partners/{}/assessments", h.partner_id());
    h.distributor(Method::POST, &path, Some(on_behalf)).await.assert_error(403, "SUBSCRIPTION_INACTIVE");

    // The invoice is paid: active again, triggers work.
    let paid = event(
        "evt_paid",
        "invoice.paid",
        now + 1,
        json!({"id": "in_w", "object": "invoice",
        "parent": {"subscription_details": {"metadata": {"partnerId": h.partner_id()}, "subscription": "sub_w"}}}),
    );
    assert_eq!(deliver(&h, &paid, None).await.assert_status(200)["outcome"], "applied");
    trigger(&h, &customer).await.assert_status(202);

    // Canceled is refused too.
    let deleted = event(
        "evt_del",
        "customer.subscription.deleted",
        now + 2,
        json!({"id": "sub_w",
        "object": "subscription", "status": "canceled", "metadata": {"partnerId": h.partner_id()}}),
    );
    deliver(&h, &deleted, None).await.assert_status(200);
    trigger(&h, &customer).await.assert_error(403, "SUBSCRIPTION_INACTIVE");
}

#[tokio::test]
async fn the_stripe_signature_is_verified_with_its_tolerance_and_several_v1_values() {
    let (h, _) = webhook_harness().await;
    let now = h.clock.now().unix();
    let body = subscription_updated(&h, "evt_sig", now, "past_due");
    let raw = body.to_string();

    deliver(&h, &body, Some(sign("whsec_wrong", now, raw.as_bytes()))).await.assert_error(400, "INVALID_SIGNATURE");
    h.request(Method::POST, "/stripe/webhook", &[], Some(raw.clone().into()))
        .await
        .assert_error(400, "INVALID_SIGNATURE");
    // A captured delivery replayed 5 minutes and 1 second later is refused.
    let captured = sign(WHSEC, now, raw.as_bytes());
    h.clock.advance(301);
    deliver(&h, &body, Some(captured)).await.assert_error(400, "INVALID_SIGNATURE");
    // Several v1 values (a secret being rolled): one matching is enough.
    let good = sign(WHSEC, h.clock.now().unix(), raw.as_bytes());
    let (t, v1) = good.split_once(",v1=").unwrap();
    let header = format!("{t},v1={},v1={v1}", "0".repeat(64));
    assert_eq!(deliver(&h, &body, Some(header)).await.assert_status(200)["outcome"], "applied");
    // Signed, but not an event.
    let not_event = json!({"hello": "world"});
    let sig = sign(WHSEC, h.clock.now().unix(), not_event.to_string().as_bytes());
    deliver(&h, &not_event, Some(sig)).await.assert_error(400, "INVALID_JSON");
}

#[tokio::test]
async fn each_event_id_is_applied_once_even_delivered_twice_at_once_and_an_older_event_does_not_undo_a_newer() {
    let (h, _) = webhook_harness().await;
    let now = h.clock.now().unix();
    let unpaid = subscription_updated(&h, "evt_once", now, "unpaid");
    let (a, b) = tokio::join!(deliver(&h, &unpaid, None), deliver(&h, &unpaid, None));
    let mut outcomes = vec![a.assert_status(200)["outcome"].clone(), b.assert_status(200)["outcome"].clone()];
    outcomes.sort_by_key(|v| v.to_string());
    assert_eq!(outcomes, vec![json!("applied"), json!("duplicate")]);

    // Delivered late: an `active` event created before the `unpaid` one changes nothing.
    let late = subscription_updated(&h, "evt_late", now - 60, "active");
    assert_eq!(deliver(&h, &late, None).await.assert_status(200)["outcome"], "stale");
    let p = h.app.store.partner(h.partner_id()).await.unwrap().unwrap();
    assert_eq!(p.subscription.status, "unpaid");
    // Another partner's subscription id (an old, replaced subscription): ignored.
    let other = event(
        "evt_other",
        "customer.subscription.deleted",
        now + 1,
        json!({"id": "sub_old",
        "object": "subscription", "metadata": {"partnerId": h.partner_id()}}),
    );
    assert_eq!(deliver(&h, &other, None).await.assert_status(200)["outcome"], "ignored");
}

#[tokio::test]
async fn on_the_local_ledger_billing_shows_its_subscription_and_has_no_portal_or_webhook() {
    let h = Harness::new().await;
    let r = h.partner(Method::GET, "/billing", None).await;
    let body = r.assert_status(200);
    assert_eq!(body["subscriptions"][0]["status"], "active");
    assert_eq!(body["invoices"], json!([]));
    assert_eq!(body["portal_url"], Value::Null);
    h.partner(Method::POST, "/billing/portal", None).await.assert_error(404, "NOT_FOUND");
    let raw = json!({"id": "evt_1"}).to_string();
    let sig = sign(WHSEC, h.clock.now().unix(), raw.as_bytes());
    h.request(Method::POST, "/stripe/webhook", &[("stripe-signature", sig.as_str())], Some(raw.into()))
        .await
        .assert_error(400, "INVALID_SIGNATURE");
}

// The signature check alone, at the edges of the tolerance.

#[test]
fn a_signature_is_accepted_within_the_tolerance_and_refused_outside_it() {
    use shared::stripe::webhook::{verify, SignatureError};
    let body = br#"{"id":"evt_1"}"#;
    let header = sign(WHSEC, 1_000_000, body);
    let at = Timestamp::from_unix;
    assert_eq!(verify(WHSEC, Some(&header), body, at(1_000_000 + 300)), Ok(()));
    assert_eq!(verify(WHSEC, Some(&header), body, at(1_000_000 - 300)), Ok(()));
    assert_eq!(verify(WHSEC, Some(&header), body, at(1_000_000 + 301)), Err(SignatureError::OutsideTolerance));
    assert_eq!(verify(WHSEC, Some(&header), b"{}", at(1_000_000)), Err(SignatureError::NoMatch));
    assert_eq!(verify("whsec_other", Some(&header), body, at(1_000_000)), Err(SignatureError::NoMatch));
    assert_eq!(verify(WHSEC, None, body, at(1_000_000)), Err(SignatureError::Missing));
    assert_eq!(verify(WHSEC, Some("v1=00"), body, at(1_000_000)), Err(SignatureError::Malformed));
    assert_eq!(shared::stripe::lookup_key("professional", "monthly", "AUD"), "professional_monthly_aud");
}
