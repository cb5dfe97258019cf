//! Branding (contract, "Branding"): the routes, their validation and `fields`, the preview,
//! and the brand on what is sent (the consent email) and shown (the report page).

use http::Method;
use serde_json::json;
use shared::domain::branding::{Brand, Branding};
use shared::mail::content::{self, ConsentRequest};
use shared::usecases::branding::{self as uc, PreviewKind};
use tests::mail::parse;
use tests::{customer_body, tenant, Harness, T0};

/// A name a client could send: markup, quotes, an ampersand and right-to-left marks.
const HOSTILE: &str = "Evil <script>alert('x')</script> & \"Co\" \u{202e}gnp.exe\u{202c}";

async fn branding(h: &Harness) -> serde_json::Value {
    h.partner(Method::GET, "/branding", None).await.assert_status(200).clone()
}

#[tokio::test]
async fn unset_branding_shows_the_company_then_put_counts_the_fields_it_changed_and_null_clears() {
    let h = Harness::new().await;
    let company = h.partner(Method::GET, "/me", None).await.body["company"].clone();
    assert_eq!(
        branding(&h).await,
        json!({ "company": company, "brandColor": null, "logoUrl": null, "footerText": null, "contactEmail": null })
    );
    let body = json!({
        "brandColor": "#0A7CFF", "logoUrl": "https://cdn.msp.example/logo.png",
        "footerText": "MSP Ltd · 1 Main St", "contactEmail": "help@msp.example",
    });
    let r = h.partner(Method::PUT, "/branding", Some(body.clone())).await;
    let saved = json!({
        "company": company, "brandColor": "#0A7CFF", "logoUrl": "https://cdn.msp.example/logo.png",
        "footerText": "MSP Ltd · 1 Main St", "contactEmail": "help@msp.example",
    });
    assert_eq!(r.assert_status(200), &json!({ "fields": 4, "branding": saved }));
    // The same values again change nothing.
    let again = h.partner(Method::PUT, "/branding", Some(body)).await;
    assert_eq!(again.assert_status(200)["fields"], 0);
    // null clears; an empty string clears an optional field too (the partner portal sends one).
    let r = h
        .partner(Method::PUT, "/branding", Some(json!({ "footerText": null, "logoUrl": "", "company": "Acme IT" })))
        .await;
    assert_eq!(r.assert_status(200)["fields"], 3);
    let now = branding(&h).await;
    assert_eq!((now["footerText"].clone(), now["logoUrl"].clone()), (json!(null), json!(null)));
    assert_eq!((now["company"].clone(), now["brandColor"].clone()), (json!("Acme IT"), json!("#0A7CFF")));
    // Clearing company shows the partner's company again.
    let r = h.partner(Method::PUT, "/branding", Some(json!({ "company": null }))).await;
    assert_eq!(r.assert_status(200)["branding"]["company"], company);
    // An empty body changes nothing.
    assert_eq!(h.partner(Method::PUT, "/branding", Some(json!({}))).await.assert_status(200)["fields"], 0);
}

#[tokio::test]
async fn each_rule_refuses_what_breaks_it_and_nothing_is_stored() {
    let h = Harness::new().await;
    let before = branding(&h).await;
    let long = |n: usize| "a".repeat(n);
    let cases = [
        json!({ "brandColor": "red" }),
        json!({ "brandColor": "#12345" }),
        json!({ "brandColor": "#12345G" }),
        json!({ "logoUrl": "http://cdn.msp.example/logo.png" }),
        json!({ "logoUrl": "javascript:alert(1)" }),
        json!({ "logoUrl": format!("https://cdn.msp.example/{}", long(2048)) }),
        json!({ "footerText": long(501) }),
        json!({ "contactEmail": "not an email" }),
        json!({ "company": "" }),
        json!({ "company": "   " }),
        json!({ "company": long(201) }),
        json!({ "brandColor": "#000000", "colour": "#000000" }),
    ];
    for body in cases {
        let r = h.partner(Method::PUT, "/branding", Some(body.clone())).await;
        r.assert_error(400, "INVALID_FIELD");
        let key = body.as_object().unwrap().keys().next_back().unwrap().clone();
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&key), "{body}: the message names the field: {message}");
    }
    // A value of the wrong JSON type is INVALID_JSON, as everywhere.
    h.partner(Method::PUT, "/branding", Some(json!({ "brandColor": 255 }))).await.assert_error(400, "INVALID_JSON");
    assert_eq!(branding(&h).await, before, "nothing was stored");
    // The limits themselves are allowed.
    let edge = json!({ "company": long(200), "footerText": long(500), "brandColor": "#abcdef" });
    assert_eq!(h.partner(Method::PUT, "/branding", Some(edge)).await.assert_status(200)["fields"], 3);
}

#[tokio::test]
async fn the_preview_overlays_the_draft_on_the_saved_branding_and_saves_nothing() {
    let h = Harness::new().await;
    let saved = json!({ "brandColor": "#0a7cff", "contactEmail": "help@msp.example" });
    h.partner(Method::PUT, "/branding", Some(saved)).await.assert_status(200);
    let before = branding(&h).await;
    let draft = json!({ "branding": { "footerText": "Draft footer", "company": "Draft Co" } });
    for kind in ["email-consent", "email-report", "report"] {
        let r = h.partner(Method::POST, &format!("/branding/preview/{kind}"), Some(draft.clone())).await;
        assert_eq!(r.status, 200, "{kind}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("img-src https:"), "the logo may load: {csp}");
        let html = String::from_utf8(r.raw.to_vec()).unwrap();
        for needle in ["Draft footer", "Draft Co", "#0a7cff", "help@msp.example", "Contoso Ltd"] {
            assert!(html.contains(needle), "{kind} lacks {needle}");
        }
    }
    assert_eq!(branding(&h).await, before, "a preview saves nothing");
    // No body: the saved branding alone. The partner portal's draft names are understood.
    let r = h.partner(Method::POST, "/branding/preview/email-report", None).await;
    assert!(String::from_utf8(r.raw.to_vec()).unwrap().contains("#0a7cff"));
    let portal = json!({ "branding": { "name": "Portal Co", "primaryColor": "#112233", "theme": "dark" } });
    let r = h.partner(Method::POST, "/branding/preview/email-consent", Some(portal)).await;
    let html = String::from_utf8(r.raw.to_vec()).unwrap();
    assert!(html.contains("Portal Co") && html.contains("#112233"), "{html}");
    // A draft is checked as PUT checks it; an unknown kind is no page.
    let bad = json!({ "branding": { "brandColor": "blue" } });
    h.partner(Method::POST, "/branding/preview/report", Some(bad)).await.assert_error(400, "INVALID_FIELD");
    h.partner(Method::POST, "/branding/preview/email-other", None).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn the_preview_is_what_the_mail_functions_render_and_the_sent_email_is_too() {
    let h = Harness::new().await;
    let body = json!({ "brandColor": "#0a7cff", "footerText": HOSTILE, "contactEmail": "help@msp.example" });
    h.partner(Method::PUT, "/branding", Some(body)).await.assert_status(200);
    let company = h.partner(Method::GET, "/me", None).await.body["company"].as_str().unwrap().to_string();
    let stored = Branding {
        brand_color: Some("#0a7cff".into()),
        footer_text: Some(HOSTILE.into()),
        contact_email: Some(shared::domain::email::Email::parse("help@msp.example").unwrap()),
        ..Branding::default()
    };
    let brand = Brand::of(&stored, &company);
    let product = h.app.config.catalog.product("essential-eight").unwrap();
    let base = &h.app.config.public_base_url;
    for (kind, path) in [
        (PreviewKind::EmailConsent, "email-consent"),
        (PreviewKind::EmailReport, "email-report"),
        (PreviewKind::Report, "report"),
    ] {
        let r = h.partner(Method::POST, &format!("/branding/preview/{path}"), None).await;
        assert_eq!(String::from_utf8(r.raw.to_vec()).unwrap(), uc::preview(kind, &brand, product, base, T0), "{path}");
    }

    // The consent email actually sent for a customer is the same function's HTML for its data.
    let mut c = customer_body("Contoso Ltd", &tenant(1));
    c["email"] = json!("it@contoso.example");
    let id =
        h.partner(Method::POST, "/customers", Some(c)).await.assert_status(201)["id"].as_str().unwrap().to_string();
    let r = h.partner(Method::POST, &format!("/customers/{id}/consent/email"), None).await;
    let url = r.assert_status(200)["consentUrl"].as_str().unwrap().to_string();
    h.deliver_mail().await;
    let sent = h.mail.sent().into_iter().find(|m| m.to.as_str() == "it@contoso.example").expect("the consent email");
    let sent = parse(&sent.raw);
    let expected = content::consent_request(
        &brand,
        &ConsentRequest {
            customer: "Contoso Ltd",
            tenant_id: &tenant(1),
            product: None,
            maturity_target: None,
            consent_url: &url,
        },
    );
    // MIME carries text with CRLF line ends (RFC 5322); the characters are the template's.
    assert_eq!(
        sent.html[0].replace("\r\n", "\n").trim_end(),
        expected.html.trim_end(),
        "the sent HTML is the template's"
    );
    assert_eq!(sent.reply_to.as_deref(), Some("help@msp.example"), "Reply-To is the contact");
    // The hostile footer is escaped in HTML, and reads as written.
    assert!(!sent.html[0].contains("<script"), "{}", sent.html[0]);
    assert!(sent.html[0].contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;"));
    assert!(sent.text[0].contains(HOSTILE), "plain text carries it as written");
}

#[tokio::test]
async fn the_report_page_carries_the_brand_escaped() {
    let h = Harness::new().await;
    let body = json!({ "company": HOSTILE, "brandColor": "#0a7cff", "footerText": "Call us", "logoUrl": "https://cdn.msp.example/l.png?a=1&b=\"2\"" });
    h.partner(Method::PUT, "/branding", Some(body)).await.assert_status(200);
    let company = h.partner(Method::GET, "/me", None).await.body["company"].as_str().unwrap().to_string();
    let stored = h.app.store.branding(h.partner_id()).await.unwrap();
    let brand = Brand::of(&stored, &company);
    assert_eq!(brand.company, HOSTILE);
    let product = h.app.config.catalog.product("essential-eight").unwrap();
    let page = uc::preview(PreviewKind::Report, &brand, product, &h.app.config.public_base_url, T0);
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("alt=\"Evil &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;"));
    assert!(page.contains("src=\"https://cdn.msp.example/l.png?a=1&amp;b=&quot;2&quot;\""), "{page}");
    assert!(page.contains("Call us") && page.contains("#0a7cff"));
}

#[tokio::test]
async fn a_preview_renders_afresh_under_an_idempotency_key() {
    let h = Harness::new().await;
    let path = "/api/v1/partner/branding/preview/email-report";
    let key = h.partner_key().to_string();
    let send = |color: &'static str| {
        let body = json!({ "branding": { "brandColor": color } });
        let headers = [("x-partner-key", key.as_str()), ("idempotency-key", "preview-1")];
        let h = &h;
        async move { h.request(Method::POST, path, &headers, Some(body.to_string().into())).await }
    };
    for color in ["#111111", "#222222"] {
        let r = send(color).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(String::from_utf8(r.raw.to_vec()).unwrap().contains(color), "rendered from this body");
    }
}
