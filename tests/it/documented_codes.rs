//! Error codes the OpenAPI document lists for a route that no other test provoked on that
//! route, each met once as a client would meet it (the codes check,
//! `openapi::error_codes_are_the_ones_the_tests_provoke`, requires every listed code to be).

use http::Method;
use serde_json::json;
use shared::config::Config;
use tests::helpers::{raw_as, raw_patch_as, s};
use tests::{tenant, webhook_body, Harness};

#[tokio::test]
async fn a_sub_partners_runs_filtered_by_an_unknown_product_are_invalid_product() {
    let h = Harness::new().await;
    let me = h.partner_id().to_string();
    h.distributor(Method::GET, &format!("/partners/{me}/assessments?product=nope"), None)
        .await
        .assert_error(400, "INVALID_PRODUCT");
}

#[tokio::test]
async fn a_distributors_consent_email_refuses_what_a_partners_refuses() {
    let h = Harness::new().await;
    let (starter, key) = h.active_partner("admin@starter.example", "starter").await;
    let cust = h.pending_customer_for(&key, "Contoso", &tenant(1)).await;
    let path = format!("/partners/{starter}/customers/{cust}/consent/email");
    raw_as(&h, true, h.distributor_key(), &path, "{").await.assert_error(400, "INVALID_JSON");
    let bad = |body| h.distributor(Method::POST, &path, Some(body));
    bad(json!({ "product": "nope" })).await.assert_error(400, "INVALID_PRODUCT");
    bad(json!({ "maturityTarget": 2 })).await.assert_error(400, "MISSING_FIELD");
    // The starter plan has Essential Eight only.
    bad(json!({ "product": "nist-csf" })).await.assert_error(403, "PRODUCT_NOT_ALLOWED");
    assert_eq!(bad(json!({ "product": "essential-eight" })).await.assert_status(200)["total"], 1);
}

#[tokio::test]
async fn webhook_lists_and_changes_refuse_malformed_input() {
    let h = Harness::new().await;
    h.partner(Method::GET, "/webhooks?limit=0", None).await.assert_error(400, "INVALID_FIELD");
    let made = h
        .partner(Method::POST, "/webhooks", Some(webhook_body("https://hooks.example.com/a", &["customer.created"])))
        .await;
    let id = s(&made.assert_status(201)["webhook"]["id"]);
    h.partner(Method::GET, &format!("/webhooks/{id}/deliveries?limit=101"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
    let path = format!("/webhooks/{id}");
    raw_patch_as(&h, false, h.partner_key(), &path, "{").await.assert_error(400, "INVALID_JSON");
    h.partner(Method::PATCH, &path, Some(json!({ "url": null }))).await.assert_error(400, "INVALID_FIELD");
}

#[tokio::test]
async fn a_distributors_webhooks_are_checked_and_limited_as_a_partners() {
    let h = Harness::with_config(Config { webhook_max_endpoints: 2, ..Config::default() }).await;
    let create = |url: &str| h.distributor(Method::POST, "/webhooks", Some(webhook_body(url, &["partner.activated"])));
    create("http://hooks.example.com/plain").await.assert_error(400, "INVALID_FIELD");
    create("https://hooks.example.com/1").await.assert_status(201);
    create("https://hooks.example.com/2").await.assert_status(201);
    create("https://hooks.example.com/3").await.assert_error(400, "TOO_MANY");
}

#[tokio::test]
async fn a_branding_preview_refuses_a_body_that_is_not_json() {
    let h = Harness::new().await;
    raw_as(&h, false, h.partner_key(), "/branding/preview/report", "{").await.assert_error(400, "INVALID_JSON");
    // A draft that is not an object is the wrong type, as a PUT's would be.
    h.partner(Method::POST, "/branding/preview/report", Some(json!({ "branding": "blue" })))
        .await
        .assert_error(400, "INVALID_JSON");
}

#[tokio::test]
async fn mail_message_lists_refuse_an_unknown_kind_on_both_bases() {
    let h = Harness::new().await;
    h.partner(Method::GET, "/mail/messages?kind=newsletter", None).await.assert_error(400, "INVALID_FIELD");
    h.distributor(Method::GET, "/mail/messages?kind=newsletter", None).await.assert_error(400, "INVALID_FIELD");
    h.distributor(Method::GET, "/mail/messages?limit=0", None).await.assert_error(400, "INVALID_FIELD");
}
