//! The consent email (`POST …/consent/email`, contract "Tenant consent" and "Mail"): what the
//! message says and how it is built (parsed back with a MIME parser), the answer on both
//! surfaces and both store adapters, a customer without an email, a refused send, the body's
//! rules, idempotent replay, and the two real mail adapters: `.eml` files (the dev server) and
//! SES v2 on moto.

use std::sync::Arc;

use http::Method;
use serde_json::{json, Value};
use shared::config::Config;
use shared::domain::email::Email;
use shared::mail::eml_dir::EmlDir;
use shared::mail::message::{self, Letter};
use shared::mail::{MailError, Mailer};
use shared::store::memory::MemoryStore;
use shared::store::Store;
use tests::mail::{parse, Parsed};
use tests::stored::{on_store, on_store_with, OnStore};
use tests::{customer_body, oneshot, partner_body, tenant, Harness, Resp, With, T0};

const HOSTILE_COMPANY: &str = "Evil <script>alert(\"p\")</script> & Co";
const HOSTILE_CUSTOMER: &str = "Contoso <script>alert('c')</script>";

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

/// A customer of the partner with `key`, with `email` (or none); returns its id.
async fn customer(h: &Harness, key: &str, name: &str, n: u32, email: Option<&str>) -> String {
    let mut body = customer_body(name, &tenant(n));
    if let Some(e) = email {
        body = body.with("email", e);
    }
    let r = h.partner_as(key, Method::POST, "/customers", Some(body)).await;
    r.assert_status(201)["id"].as_str().unwrap().to_string()
}

/// An active partner under the harness's distributor whose company is `company`; returns (id, key).
async fn partner_named(h: &Harness, company: &str, plan: &str) -> (String, String) {
    let body = partner_body("admin@hostile.example", plan).with("company", company);
    let id = h.distributor(Method::POST, "/partners", Some(body)).await.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.distributor(Method::POST, &format!("/partners/{id}/activate"), None).await.assert_status(200);
    let key = h.distributor(Method::POST, &format!("/partners/{id}/keys"), None).await.assert_status(201)["key"]
        .as_str()
        .unwrap()
        .to_string();
    (id, key)
}

/// Every `href` of `html`, with its character references decoded (what a mail client opens
/// when the link is clicked).
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"").skip(1).map(|rest| unescape(&rest[..rest.find('"').unwrap()])).collect()
}

/// HTML character references as an HTML parser decodes them: numeric (`&#x2f;`, `&#39;`) and
/// the named ones an escaper writes (`&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail.find(';').expect("a terminated character reference");
        let name = &tail[1..end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            n if n.starts_with("#x") || n.starts_with("#X") => {
                char::from_u32(u32::from_str_radix(&n[2..], 16).unwrap()).unwrap()
            }
            n if n.starts_with('#') => char::from_u32(n[1..].parse().unwrap()).unwrap(),
            other => panic!("an unexpected reference &{other};"),
        };
        out.push(c);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The consent emails sent (the harness's accounts get their own account mail too).
fn consent_sent(h: &Harness) -> Vec<shared::mail::OutgoingMail> {
    h.mail.sent().into_iter().filter(|m| m.to.as_str().starts_with("it@") || m.to.as_str().starts_with("IT@")).collect()
}

/// What every consent email must be: multipart/alternative with one plain and one HTML part,
/// from `from` as `company`, to `to`; the link exactly `url` in both parts.
fn assert_consent_email(m: &Parsed, company: &str, from: &str, to: &str, url: &str) {
    assert_eq!(m.content_type.as_deref(), Some("multipart/alternative"), "{m:?}");
    assert_eq!((m.text.len(), m.html.len()), (1, 1), "one plain and one HTML part: {m:?}");
    assert_eq!(m.from_name.as_deref(), Some(company));
    assert_eq!(m.from.as_deref(), Some(from));
    assert_eq!(m.to, vec![to.to_string()]);
    assert!(m.message_id.is_some(), "a Message-ID");
    let (text, html) = (&m.text[0], &m.html[0]);
    assert!(text.lines().any(|l| l.trim() == url), "the plain part carries the link on its own line:\n{text}");
    let links = hrefs(html);
    assert!(!links.is_empty() && links.iter().all(|l| l == url), "every HTML link is the consent link: {links:?}");
    let subject = m.subject.as_deref().unwrap_or_default();
    assert!(subject.contains(company), "the subject names the partner: {subject}");
}

#[tokio::test]
async fn the_email_names_partner_customer_and_product_with_the_link_in_both_parts_and_escapes_names() {
    let h = Harness::new().await;
    let (_, key) = partner_named(&h, HOSTILE_COMPANY, "professional").await;
    let c = customer(&h, &key, HOSTILE_CUSTOMER, 1, Some("IT@Contoso.example")).await;
    let link = h.partner_as(&key, Method::GET, &format!("/customers/{c}/consent"), None).await;
    let url = link.assert_status(200)["consentUrl"].as_str().unwrap().to_string();

    let body = json!({ "product": "essential-eight", "maturityTarget": "2" });
    let r = h.partner_as(&key, Method::POST, &format!("/customers/{c}/consent/email"), Some(body)).await;
    assert_eq!(
        r.assert_status(200),
        &json!({
            "sent": 1, "skipped": 0, "total": 1, "recipients": ["IT@Contoso.example"], "failed": [],
            "consentUrl": url, "skipReason": null, "emailConsentEnabled": true,
        })
    );

    h.deliver_mail().await;
    let sent = consent_sent(&h);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].from.as_str(), sent[0].to.as_str()), (shared::config::DEFAULT_MAIL_FROM, "IT@Contoso.example"));
    let m = parse(&sent[0].raw);
    assert_consent_email(&m, HOSTILE_COMPANY, shared::config::DEFAULT_MAIL_FROM, "IT@Contoso.example", &url);
    let subject = m.subject.clone().unwrap();
    assert!(subject.contains("Essential Eight Assessment"), "the subject names the product: {subject}");
    let (text, html) = (&m.text[0], &m.html[0]);
    for part in [text, html] {
        assert!(part.contains("Essential Eight Assessment") && part.contains("maturity target 2"), "{part}");
        assert!(part.contains(&tenant(1)), "the tenant is named: {part}");
    }
    // Plain text shows names as they are; HTML escapes them.
    assert!(text.contains(HOSTILE_CUSTOMER) && text.contains(HOSTILE_COMPANY), "{text}");
    assert!(!html.contains("<script"), "no markup from a name survives: {html}");
    assert!(html.contains("&lt;script&gt;"), "escaped, not dropped: {html}");
    let shown = unescape(html);
    assert!(shown.contains(HOSTILE_CUSTOMER) && shown.contains(HOSTILE_COMPANY), "the names read as sent: {shown}");
}

#[tokio::test]
async fn without_a_product_the_email_names_none() {
    let h = Harness::new().await;
    let c = customer(&h, h.partner_key(), "Fabrikam", 1, Some("it@fabrikam.example")).await;
    h.partner(Method::POST, &format!("/customers/{c}/consent/email"), None).await.assert_status(200);
    h.deliver_mail().await;
    let m = parse(&h.mail.sent()[0].raw);
    assert_eq!(m.subject.as_deref(), Some("Dev MSP: admin consent to assess your Microsoft 365 tenant"));
    assert!(!m.text[0].contains("Assessment:"), "{}", m.text[0]);
}

#[tokio::test]
async fn a_customer_without_an_email_is_skipped_and_nothing_is_sent() {
    let h = Harness::new().await;
    let c = customer(&h, h.partner_key(), "Northwind", 1, None).await;
    let r = h.partner(Method::POST, &format!("/customers/{c}/consent/email"), Some(json!({}))).await;
    let b = r.assert_status(200);
    assert_eq!((b["sent"].clone(), b["skipped"].clone(), b["total"].clone()), (json!(0), json!(1), json!(1)));
    assert_eq!((b["recipients"].clone(), b["failed"].clone()), (json!([]), json!([])));
    assert_eq!(b["skipReason"], "customer_missing");
    assert!(b["consentUrl"].as_str().unwrap().contains("/adminconsent?"), "the link to hand over another way");
    h.deliver_mail().await;
    assert!(h.mail.sent().is_empty());
}

/// The one recorded message the start-up partner sees: (status, error).
async fn only_message(h: &Harness) -> (shared::domain::mail::MailStatus, Option<String>) {
    let owner = shared::domain::account::Owner::partner(h.partner_id());
    let page = shared::store::PageRequest { limit: 10, after: None };
    let msgs = h.app.store.list_messages(&owner, None, &page).await.unwrap().items;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    (msgs[0].status, msgs[0].error.clone())
}

#[tokio::test]
async fn a_refused_send_is_recorded_and_ends_failed_with_the_reason() {
    let h = Harness::new().await;
    let c = customer(&h, h.partner_key(), "Tailspin", 1, Some("it@tailspin.example")).await;
    h.mail.refuse("it@tailspin.example");
    let r = h.partner(Method::POST, &format!("/customers/{c}/consent/email"), None).await;
    let b = r.assert_status(200);
    // The request records the message; the worker's outcome is the message's status.
    assert_eq!((b["sent"].clone(), b["total"].clone()), (json!(1), json!(1)));
    assert_eq!((b["recipients"].clone(), b["failed"].clone()), (json!(["it@tailspin.example"]), json!([])));
    assert_eq!(b["skipReason"], Value::Null);
    h.deliver_mail().await;
    let (status, error) = only_message(&h).await;
    assert_eq!(status, shared::domain::mail::MailStatus::Failed);
    assert!(error.unwrap().contains("refused by the test"));
    // A refusal is for good: nothing is queued again.
    h.clock.advance(13 * 3600);
    assert_eq!(h.send_mail_jobs().await, 0);
    assert!(h.mail.sent().is_empty());
}

#[tokio::test]
async fn the_body_is_checked_like_a_trigger_and_maturity_target_may_be_a_string_of_digits() {
    let h = Harness::new().await;
    let c = customer(&h, h.partner_key(), "Litware", 1, Some("it@litware.example")).await;
    let path = format!("/customers/{c}/consent/email");
    let post = |body: Value| {
        let (h, path) = (&h, path.clone());
        async move { h.partner(Method::POST, &path, Some(body)).await }
    };
    post(json!({ "product": "no-such-product" })).await.assert_error(400, "INVALID_PRODUCT");
    post(json!({ "product": "essential-eight", "maturityTarget": "9" })).await.assert_error(400, "INVALID_FIELD");
    post(json!({ "product": "essential-eight", "maturityTarget": "level-2" })).await.assert_error(400, "INVALID_FIELD");
    post(json!({ "product": "essential-eight", "maturityTarget": true })).await.assert_error(400, "INVALID_JSON");
    post(json!({ "maturityTarget": 2 })).await.assert_error(400, "MISSING_FIELD");
    post(json!({ "product": "essential-eight", "extra": 1 })).await.assert_error(400, "INVALID_FIELD");
    assert!(h.mail.sent().is_empty(), "nothing is sent for a refused body");
    post(json!({ "product": "nist-csf", "maturityTarget": 4 })).await.assert_status(200);
    post(json!({ "product": "nist-csf", "maturityTarget": " 3 " })).await.assert_status(200);
    h.deliver_mail().await;
    assert!(parse(&h.mail.sent()[1].raw).text[0].contains("maturity target 3"));
    // A product the partner's plan does not include, as a trigger would refuse it.
    let (_, starter) = h.active_partner("s@starter.example", "starter").await;
    let sc = customer(&h, &starter, "Starter Co", 2, Some("it@starter.example")).await;
    let r = h
        .partner_as(
            &starter,
            Method::POST,
            &format!("/customers/{sc}/consent/email"),
            Some(json!({ "product": "nist-csf" })),
        )
        .await;
    r.assert_error(403, "PRODUCT_NOT_ALLOWED");
    // Another partner's customer, or none: 404 as if it did not exist.
    h.partner_as(&starter, Method::POST, &path, None).await.assert_error(404, "NOT_FOUND");
    h.partner(Method::POST, "/customers/cust_unknown000000000/consent/email", None)
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_answer_and_sends_once() {
    let h = Harness::new().await;
    let c = customer(&h, h.partner_key(), "Adatum", 1, Some("it@adatum.example")).await;
    let path = format!("/api/v1/partner/customers/{c}/consent/email");
    let headers = [("x-partner-key", h.partner_key()), ("idempotency-key", "consent-mail-1")];
    let send = || {
        let body = bytes::Bytes::from(json!({ "product": "cis-m365" }).to_string());
        h.request(Method::POST, &path, &headers, Some(body))
    };
    let first = send().await;
    h.clock.advance(60);
    let again = send().await;
    assert_eq!(first.assert_status(200), again.assert_status(200), "the same answer, link included");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    h.deliver_mail().await;
    assert_eq!(h.mail.sent().len(), 1, "sent once");
}

#[tokio::test]
async fn the_distributor_sends_for_its_partners_customers_only_while_the_partner_is_active() {
    let h = Harness::new().await;
    let (p, key) = h.active_partner("p@msp.example", "professional").await;
    let c = customer(&h, &key, "Wide World", 1, Some("it@wideworld.example")).await;
    let path = format!("/partners/{p}/customers/{c}/consent/email");
    let r = h.distributor(Method::POST, &path, Some(json!({ "product": "nist-csf", "maturityTarget": 3 }))).await;
    let b = r.assert_status(200);
    assert_eq!((b["sent"].clone(), b["recipients"].clone()), (json!(1), json!(["it@wideworld.example"])));
    h.deliver_mail().await;
    let m = parse(&consent_sent(&h)[0].raw);
    assert_consent_email(
        &m,
        "Co p@msp.example",
        shared::config::DEFAULT_MAIL_FROM,
        "it@wideworld.example",
        b["consentUrl"].as_str().unwrap(),
    );
    // Another distributor reaches neither the partner nor its customer.
    let (_, other) = h.other_distributor().await;
    h.distributor_as(&other, Method::POST, &path, None).await.assert_error(404, "NOT_FOUND");
    // A suspended partner's customers get no mail from it.
    h.distributor(Method::POST, &format!("/partners/{p}/suspend"), None).await.assert_status(200);
    h.distributor(Method::POST, &path, None).await.assert_error(403, "PARTNER_INACTIVE");
    h.deliver_mail().await;
    assert_eq!(consent_sent(&h).len(), 1);
}

/// The route through the whole pipeline on `built` (either store adapter): sent, and skipped.
async fn route_on(built: OnStore) {
    let post = |path: String, body: Option<Value>, key: (&'static str, String)| {
        let router = built.router.clone();
        async move {
            let req = http::Request::builder()
                .method(Method::POST)
                .uri(path)
                .header(key.0, key.1)
                .body(bytes::Bytes::from(body.map(|b| b.to_string()).unwrap_or_default()))
                .unwrap();
            Resp::from_http(oneshot(&router, req).await)
        }
    };
    let pk = ("x-partner-key", built.accounts.partner_key.clone());
    let make = |name: &str, n: u32, email: Option<&str>| {
        let mut body = customer_body(name, &tenant(n));
        if let Some(e) = email {
            body = body.with("email", e);
        }
        post("/api/v1/partner/customers".into(), Some(body), pk.clone())
    };
    let with =
        make("Mailed", 1, Some("it@mailed.example")).await.assert_status(201)["id"].as_str().unwrap().to_string();
    let without = make("Unmailed", 2, None).await.assert_status(201)["id"].as_str().unwrap().to_string();
    let r = post(
        format!("/api/v1/partner/customers/{with}/consent/email"),
        Some(json!({ "product": "essential-eight" })),
        pk.clone(),
    )
    .await;
    assert_eq!(r.assert_status(200)["recipients"], json!(["it@mailed.example"]));
    let r = post(format!("/api/v1/partner/customers/{without}/consent/email"), None, pk.clone()).await;
    assert_eq!(r.assert_status(200)["skipReason"], "customer_missing");
    let (p, dk) =
        (built.accounts.partner.id.to_string(), ("x-distributor-key", built.accounts.distributor_key.clone()));
    let r = post(format!("/api/v1/distributor/partners/{p}/customers/{with}/consent/email"), None, dk).await;
    assert_eq!(r.assert_status(200)["sent"], 1);
    built.deliver_mail().await;
    assert_eq!(built.mail.sent().len(), 2, "one per sent answer");
}

#[tokio::test]
async fn the_route_works_on_the_embedded_store() {
    route_on(on_store(Arc::new(MemoryStore::new()) as Arc<dyn Store>).await).await;
}

#[tokio::test]
async fn the_route_works_on_dynamodb() {
    let Some(store) = tests::aws::fresh_dynamo().await else { return };
    route_on(on_store(Arc::new(store) as Arc<dyn Store>).await).await;
}

// ---- the adapters -------------------------------------------------------------------------

/// A fresh folder under the system's temporary directory (removed by the test).
fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("baref00t-mail-{}", shared::domain::ids::random_base62(10)))
}

#[tokio::test]
async fn the_dev_servers_mail_is_one_eml_file_per_message_that_a_mime_parser_reads() {
    let dir = temp_dir();
    let h = Harness::with_mailer(Config::default(), Arc::new(EmlDir::new(dir.join("mail")))).await;
    let c = customer(&h, h.partner_key(), HOSTILE_CUSTOMER, 1, Some("it@contoso.example")).await;
    let r =
        h.partner(Method::POST, &format!("/customers/{c}/consent/email"), Some(json!({ "product": "nist-csf" }))).await;
    let url = r.assert_status(200)["consentUrl"].as_str().unwrap().to_string();
    assert_eq!(r.body["sent"], 1);
    h.deliver_mail().await;
    let files: Vec<_> = std::fs::read_dir(dir.join("mail")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "one file, no temporary left: {files:?}");
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    let raw = std::fs::read(&files[0]).unwrap();
    let m = parse(&raw);
    assert_consent_email(&m, "Dev MSP", shared::config::DEFAULT_MAIL_FROM, "it@contoso.example", &url);
    assert!(m.subject.unwrap().contains("NIST CSF Assessment"));
    assert!(!m.html[0].contains("<script"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_mail_folder_that_cannot_be_written_keeps_the_message_pending_and_it_is_sent_once_it_can() {
    let dir = temp_dir();
    std::fs::write(&dir, b"a file, not a folder").unwrap();
    let h = Harness::with_mailer(Config::default(), Arc::new(EmlDir::new(dir.join("mail")))).await;
    let c = customer(&h, h.partner_key(), "Blocked", 1, Some("it@blocked.example")).await;
    let r = h.partner(Method::POST, &format!("/customers/{c}/consent/email"), None).await;
    assert_eq!(r.assert_status(200)["recipients"], json!(["it@blocked.example"]));
    h.deliver_mail().await;
    let (status, error) = only_message(&h).await;
    assert_eq!(status, shared::domain::mail::MailStatus::Pending, "a transient failure is tried again");
    assert!(error.is_some(), "with the failure kept");
    // The folder becomes writable; the retry after the first wait (1 minute) sends it.
    std::fs::remove_file(&dir).unwrap();
    h.clock.advance(60);
    assert_eq!(h.send_mail_jobs().await, 1);
    assert_eq!(only_message(&h).await.0, shared::domain::mail::MailStatus::Sent);
    let files: Vec<_> = std::fs::read_dir(dir.join("mail")).unwrap().collect();
    assert_eq!(files.len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn ses_on_moto_sends_the_same_mime_message_from_the_verified_sender() {
    let Some((ses, from)) = tests::aws::ses_mailer().await else { return };
    let config = Config { mail_from: from.clone(), ..Config::default() };
    let h = Harness::with_mailer(config, Arc::new(ses)).await;
    let c = customer(&h, h.partner_key(), HOSTILE_CUSTOMER, 1, Some("it@contoso.example")).await;
    let r = h
        .partner(
            Method::POST,
            &format!("/customers/{c}/consent/email"),
            Some(json!({ "product": "cis-m365", "maturityTarget": 2 })),
        )
        .await;
    let b = r.assert_status(200).clone();
    assert_eq!((b["sent"].clone(), b["failed"].clone()), (json!(1), json!([])), "{b}");
    h.deliver_mail().await;
    let url = b["consentUrl"].as_str().unwrap();
    // What moto's SES recorded for this sender: the envelope and the raw message.
    let recorded: Vec<_> = tests::aws::ses_sent().await.into_iter().filter(|m| m.source == from.as_str()).collect();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert!(recorded[0].destinations.iter().any(|d| d == "it@contoso.example"), "{:?}", recorded[0].destinations);
    let m = parse(recorded[0].raw.as_bytes());
    assert_consent_email(&m, "Dev MSP", from.as_str(), "it@contoso.example", url);
    assert!(m.subject.unwrap().contains("CIS Microsoft 365 Benchmark"));
    assert!(!m.html[0].contains("<script"));
}

#[tokio::test]
async fn ses_refuses_an_unverified_sender_for_good_and_the_route_answers_failed() {
    let Some((ses, _)) = tests::aws::ses_mailer().await else { return };
    let stranger = email("no-reply@unverified-sender.example");
    let mail = message::build(&Letter {
        from_name: "X",
        reply_to: None,
        from: &stranger,
        to: &email("it@contoso.example"),
        subject: "s",
        text: "t",
        html: "<p>h</p>",
        date: T0,
    })
    .unwrap();
    let err = ses.send(&mail).await.unwrap_err();
    assert!(matches!(err, MailError::Refused(_)), "MessageRejected is for good: {err:?}");
    // Through the route and the worker: the message ends failed, with SES's reason.
    let h = Harness::with_mailer(Config { mail_from: stranger, ..Config::default() }, Arc::new(ses)).await;
    let c = customer(&h, h.partner_key(), "Refused", 1, Some("it@refused.example")).await;
    let b = h.partner(Method::POST, &format!("/customers/{c}/consent/email"), None).await;
    assert_eq!(b.assert_status(200)["recipients"], json!(["it@refused.example"]));
    h.deliver_mail().await;
    let (status, error) = only_message(&h).await;
    assert_eq!(status, shared::domain::mail::MailStatus::Failed);
    assert!(error.is_some_and(|e| e.contains("refused")));
}

#[tokio::test]
async fn the_dynamodb_and_ses_pipeline_sends_through_moto() {
    let (Some(store), Some((ses, from))) = (tests::aws::fresh_dynamo().await, tests::aws::ses_mailer().await) else {
        return;
    };
    let config = Config { mail_from: from.clone(), ..Config::default() };
    let built = on_store_with(Arc::new(store) as Arc<dyn Store>, config, Arc::new(ses)).await;
    let router = built.router.clone();
    let req = |path: String, body: Value| {
        http::Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("x-partner-key", built.accounts.partner_key.clone())
            .body(bytes::Bytes::from(body.to_string()))
            .unwrap()
    };
    let body = customer_body("Moto Co", &tenant(9)).with("email", "it@moto.example");
    let c = Resp::from_http(oneshot(&router, req("/api/v1/partner/customers".into(), body)).await);
    let c = c.assert_status(201)["id"].as_str().unwrap().to_string();
    let r =
        Resp::from_http(oneshot(&router, req(format!("/api/v1/partner/customers/{c}/consent/email"), json!({}))).await);
    assert_eq!(r.assert_status(200)["recipients"], json!(["it@moto.example"]));
    built.deliver_mail().await;
    assert_eq!(tests::aws::ses_sent().await.iter().filter(|m| m.source == from.as_str()).count(), 1);
}

// ---- the message and its configuration ----------------------------------------------------

#[test]
fn a_line_break_in_a_name_or_subject_cannot_add_a_header() {
    let mail = message::build(&Letter {
        from_name: "Evil\r\nBcc: victim@else.example",
        reply_to: None,
        from: &email("no-reply@mail.example"),
        to: &email("it@contoso.example"),
        subject: "Hi\r\nBcc: victim@else.example",
        text: "t",
        html: "<p>h</p>",
        date: T0,
    })
    .unwrap();
    let raw = String::from_utf8(mail.raw.clone()).unwrap();
    let headers = &raw[..raw.find("\r\n\r\n").unwrap()];
    assert!(!headers.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "{headers}");
    assert!(headers.contains("Date: Fri, 03 Apr 2026 10:00:00 +0000"), "the injected clock's time: {headers}");
    assert!(mail.message_id.ends_with("@mail.example>"), "{}", mail.message_id);
    assert_eq!(parse(&mail.raw).to, vec!["it@contoso.example".to_string()]);
}

#[test]
fn non_ascii_names_are_encoded_and_read_back_whole() {
    let mail = message::build(&Letter {
        from_name: "Zürich IT Ünited",
        reply_to: None,
        from: &email("no-reply@mail.example"),
        to: &email("it@contoso.example"),
        subject: "Zürich IT Ünited: admin consent — ✓",
        text: "Grüße",
        html: "<p>Grüße</p>",
        date: T0,
    })
    .unwrap();
    assert!(mail.raw.is_ascii(), "7-bit on the wire");
    let m = parse(&mail.raw);
    assert_eq!(m.from_name.as_deref(), Some("Zürich IT Ünited"));
    assert_eq!(m.subject.as_deref(), Some("Zürich IT Ünited: admin consent — ✓"));
    assert!(m.text[0].contains("Grüße") && m.html[0].contains("Grüße"));
}

#[test]
fn mail_from_is_an_address_or_the_configuration_is_refused() {
    let read = |v: &'static str| Config::from_vars(move |n| (n == "MAIL_FROM").then(|| v.to_string()));
    assert_eq!(read(" no-reply@mail.example.com ").unwrap().mail_from.as_str(), "no-reply@mail.example.com");
    for bad in ["not an address", "Name <no-reply@mail.example.com>", "no-reply@localhost"] {
        let err = read(bad).unwrap_err().to_string();
        assert!(err.contains("MAIL_FROM"), "{bad}: {err}");
    }
    assert_eq!(Config::default().mail_from.as_str(), shared::config::DEFAULT_MAIL_FROM);
}
