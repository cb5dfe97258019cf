//! Recorded mail (contract, "Mail") on both store adapters: each kind triggered by its cause,
//! one message per `receivers` address, and a crash between the write and the send loses
//! nothing and sends once.

use std::sync::Arc;

use async_trait::async_trait;
use http::Method;
use serde_json::{json, Value};
use shared::domain::account::Owner;
use shared::domain::mail::{MailKind, MailMessage, MailStatus};
use shared::mail::{MailJob, MailQueue};
use shared::queue::QueueError;
use shared::store::memory::MemoryStore;
use shared::store::{PageRequest, Store};
use tests::mail::parse;
use tests::stored::{on_store, OnStore};
use tests::{assessment_body, consent_callback, customer_body, oneshot, tenant, Resp};

async fn call(on: &OnStore, method: Method, path: &str, body: Option<Value>) -> Resp {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("/api/v1/partner{path}"))
        .header("x-partner-key", on.accounts.partner_key.clone())
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(body.map(|b| b.to_string()).unwrap_or_default()))
        .unwrap();
    Resp::from_http(oneshot(&on.router, req).await)
}

async fn messages(on: &OnStore, owner: &Owner) -> Vec<MailMessage> {
    let page = PageRequest { limit: 100, after: None };
    on.service.app.store.list_messages(owner, None, &page).await.unwrap().items
}

/// A completed run of a consented customer with two receivers mails each of them once: score,
/// severity counts, maturity and the report link, on the partner's brand.
async fn report_ready_on(store: Arc<dyn Store>) {
    let on = on_store(store).await;
    let body = customer_body("Contoso <b>", &tenant(1)).as_object().cloned().map(|mut o| {
        o.insert("receivers".into(), json!(["a@contoso.example", "b@contoso.example"]));
        Value::Object(o)
    });
    let c = call(&on, Method::POST, "/customers", body).await.assert_status(201)["id"].as_str().unwrap().to_string();
    let link = call(&on, Method::GET, &format!("/customers/{c}/consent"), None).await;
    let url = link.assert_status(200)["consentUrl"].as_str().unwrap().to_string();
    let cb = http::Request::builder().uri(consent_callback(&url, true)).body(bytes::Bytes::new()).unwrap();
    assert_eq!(oneshot(&on.router, cb).await.status(), 200);
    call(&on, Method::POST, "/assessments", Some(assessment_body(&c, "essential-eight"))).await.assert_status(202);
    let runner = on.service.runner();
    for d in on.runs.receive(10) {
        runner.process(&d.message, d.receive_count).await;
        on.runs.ack(&d.receipt);
    }
    on.deliver_mail().await;
    let run = call(&on, Method::GET, "/assessments", None).await;
    let id = run.assert_status(200)["runs"][0]["id"].as_str().unwrap().to_string();
    let run = call(&on, Method::GET, &format!("/assessments/{id}"), None).await.assert_status(200).clone();
    assert_eq!(run["status"], "completed", "{run}");
    let sent = on.mail.sent();
    let mut to: Vec<&str> = sent.iter().map(|m| m.to.as_str()).collect();
    to.sort();
    assert_eq!(to, ["a@contoso.example", "b@contoso.example"], "one message per receiver");
    for m in &sent {
        let p = parse(&m.raw);
        let score = run["score"].as_u64().unwrap();
        assert!(p.subject.as_deref().unwrap().contains(&format!("score {score}/100")), "{:?}", p.subject);
        let text = &p.text[0];
        assert!(text.contains(run["reportUrl"].as_str().unwrap()), "the report link: {text}");
        assert!(text.contains(&format!("critical {}", run["critical"])), "{text}");
        assert!(text.contains("Maturity level reached"), "{text}");
        assert!(!p.html[0].contains("<b>"), "the customer's name is escaped");
    }
    let partner = Owner::partner(&on.accounts.partner.id);
    let listed = messages(&on, &partner).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|m| m.entry.kind == MailKind::ReportReady && m.status == MailStatus::Sent));
    // The distributor sees its partner's messages too.
    let dist = Owner::distributor(&on.accounts.distributor.id);
    assert_eq!(messages(&on, &dist).await.len(), 2);
}

#[tokio::test]
async fn report_ready_mails_each_receiver_once_on_the_embedded_store() {
    report_ready_on(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn report_ready_mails_each_receiver_once_on_dynamodb() {
    let Some(store) = tests::aws::fresh_dynamo().await else { return };
    report_ready_on(Arc::new(store)).await;
}

/// A mail queue that is down.
struct Down;

#[async_trait]
impl MailQueue for Down {
    async fn send_mail(&self, _: &MailJob, _: i64) -> Result<(), QueueError> {
        Err(QueueError::Backend("the queue is down".into()))
    }
}

/// The consent email is recorded; the relay first dies before queuing (queue down), then a
/// relay queues it but dies before acknowledging the event (the next drain queues it again):
/// the message is made once, sent once, with one Message-ID.
async fn crash_loses_nothing_on(store: Arc<dyn Store>) {
    let on = on_store(store).await;
    let body = customer_body("Fabrikam", &tenant(2)).as_object().cloned().map(|mut o| {
        o.insert("email".into(), json!("it@fabrikam.example"));
        Value::Object(o)
    });
    let c = call(&on, Method::POST, "/customers", body).await.assert_status(201)["id"].as_str().unwrap().to_string();
    call(&on, Method::POST, &format!("/customers/{c}/consent/email"), None).await.assert_status(200);
    // The relay cannot queue: the event stays in the outbox, nothing is sent.
    let mut down = on.service.relay();
    down.mail = Arc::new(Down);
    assert!(down.drain(100).await.is_err());
    let store = on.service.app.store.clone();
    assert!(!store.pending_events(100).await.unwrap().is_empty(), "the event is still there");
    // A relay that queued the message, then died before acknowledging: the event is drained
    // again (the outbox item put back as it was).
    let events = store.pending_events(100).await.unwrap();
    on.service.relay().drain(100).await.unwrap();
    for e in &events {
        store.record_event(e).await.unwrap();
    }
    on.service.relay().drain(100).await.unwrap();
    assert_eq!(on.mail_jobs.len(), 2, "queued by both drains");
    on.deliver_mail().await;
    let sent = on.mail.sent();
    assert_eq!(sent.len(), 1, "sent once");
    let partner = Owner::partner(&on.accounts.partner.id);
    let listed = messages(&on, &partner).await;
    assert_eq!(listed.len(), 1, "made once");
    assert_eq!(listed[0].status, MailStatus::Sent);
    assert_eq!(sent[0].message_id, format!("<{}@baref00t.localhost>", listed[0].id));
}

#[tokio::test]
async fn a_crash_between_write_and_send_loses_nothing_on_the_embedded_store() {
    crash_loses_nothing_on(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn a_crash_between_write_and_send_loses_nothing_on_dynamodb() {
    let Some(store) = tests::aws::fresh_dynamo().await else { return };
    crash_loses_nothing_on(Arc::new(store)).await;
}

async fn dist_call(on: &OnStore, method: Method, path: &str, body: Option<Value>) -> Resp {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("/api/v1/distributor{path}"))
        .header("x-distributor-key", on.accounts.distributor_key.clone())
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(body.map(|b| b.to_string()).unwrap_or_default()))
        .unwrap();
    Resp::from_http(oneshot(&on.router, req).await)
}

/// D3 mails partner-created, D7/D8 partner-activated/-suspended only for a real change, D15
/// key-created (slot and time, never the key): each to the partner's admin email.
async fn account_kinds_on(store: Arc<dyn Store>) {
    let on = on_store(store).await;
    let body = tests::partner_body("admin@new-msp.example", "starter");
    let p = dist_call(&on, Method::POST, "/partners", Some(body)).await.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    dist_call(&on, Method::POST, &format!("/partners/{p}/activate"), None).await.assert_status(200);
    dist_call(&on, Method::POST, &format!("/partners/{p}/activate"), None).await.assert_status(200);
    let key = dist_call(&on, Method::POST, &format!("/partners/{p}/keys"), None).await;
    let key = key.assert_status(201)["key"].as_str().unwrap().to_string();
    dist_call(&on, Method::POST, &format!("/partners/{p}/suspend"), None).await.assert_status(200);
    dist_call(&on, Method::POST, &format!("/partners/{p}/suspend"), None).await.assert_status(200);
    on.deliver_mail().await;
    let mut kinds: Vec<&str> =
        messages(&on, &Owner::partner(&p)).await.iter().map(|m| m.entry.kind.as_str()).collect::<Vec<_>>();
    kinds.sort();
    assert_eq!(kinds, ["key-created", "partner-activated", "partner-created", "partner-suspended"]);
    let sent = on.mail.sent();
    assert_eq!(sent.len(), 4, "one each: a repeated activate or suspend changes nothing and mails nothing");
    assert!(sent.iter().all(|m| m.to.as_str() == "admin@new-msp.example"));
    for m in &sent {
        let raw = String::from_utf8_lossy(&m.raw);
        assert!(!raw.contains(&key), "the key is never mailed");
    }
    let key_mail =
        sent.iter().map(|m| parse(&m.raw)).find(|m| m.subject.as_deref().unwrap().contains("API key")).unwrap();
    assert!(key_mail.text[0].contains("slot 1"), "{}", key_mail.text[0]);
    // The distributor sees them as its partner's.
    let dist = messages(&on, &Owner::distributor(&on.accounts.distributor.id)).await;
    assert_eq!(dist.iter().filter(|m| m.entry.to == "admin@new-msp.example").count(), 4);
}

#[tokio::test]
async fn account_mail_follows_real_changes_on_the_embedded_store() {
    account_kinds_on(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn account_mail_follows_real_changes_on_dynamodb() {
    let Some(store) = tests::aws::fresh_dynamo().await else { return };
    account_kinds_on(Arc::new(store)).await;
}

/// `GET /mail/messages`: newest first, paged, `kind` filtered (an unknown kind is 400), the
/// partner sees its own, the distributor its own and its partners', another distributor none.
#[tokio::test]
async fn the_messages_route_pages_filters_and_keeps_tenancy() {
    let h = tests::Harness::new().await;
    let (p, key) = h.active_partner("admin@listed.example", "starter").await;
    h.deliver_mail().await;
    let all = h.partner_as(&key, Method::GET, "/mail/messages", None).await;
    let all = all.assert_status(200)["messages"].as_array().unwrap().clone();
    let kinds: Vec<&str> = all.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["key-created", "partner-activated", "partner-created"], "newest first");
    let m = &all[0];
    assert_eq!((m["to"].as_str(), m["status"].as_str()), (Some("admin@listed.example"), Some("sent")));
    assert!(m["id"].as_str().unwrap().starts_with("msg_") && m["sentAt"].is_string() && m["error"].is_null(), "{m}");
    assert!(m["subject"].as_str().unwrap().contains("API key") && m["createdAt"].is_string(), "{m}");
    let first = h.partner_as(&key, Method::GET, "/mail/messages?limit=2", None).await;
    let first = first.assert_status(200).clone();
    assert_eq!(first["messages"].as_array().unwrap().len(), 2);
    let cursor = first["nextCursor"].as_str().unwrap();
    let rest = h.partner_as(&key, Method::GET, &format!("/mail/messages?limit=2&cursor={cursor}"), None).await;
    let rest = rest.assert_status(200).clone();
    assert_eq!(rest["messages"][0]["kind"], "partner-created");
    assert_eq!(rest["nextCursor"], Value::Null);
    let only = h.partner_as(&key, Method::GET, "/mail/messages?kind=partner-activated", None).await;
    assert_eq!(only.assert_status(200)["messages"].as_array().unwrap().len(), 1);
    h.partner_as(&key, Method::GET, "/mail/messages?kind=spam", None).await.assert_error(400, "INVALID_FIELD");
    // The start-up partner sees none of the new partner's; its distributor sees all three.
    let own = h.partner(Method::GET, "/mail/messages", None).await;
    assert!(own.assert_status(200)["messages"].as_array().unwrap().iter().all(|m| m["to"] != "admin@listed.example"));
    let dist = h.distributor(Method::GET, "/mail/messages?kind=partner-created", None).await;
    assert_eq!(dist.assert_status(200)["messages"][0]["to"], "admin@listed.example", "{p}");
    let (_, other) = h.other_distributor().await;
    let none = h.distributor_as(&other, Method::GET, "/mail/messages", None).await;
    assert_eq!(none.assert_status(200)["messages"], json!([]));
}
