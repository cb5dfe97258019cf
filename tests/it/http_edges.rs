//! The HTTP edges the router keeps as the contract and docs/api-decisions.md have them: no
//! implicit HEAD, one trailing slash, literal paths shadowing patterns, undecodable parameters,
//! request ids that are ours, and the body limit before auth but after routing.

use bytes::Bytes;
use http::Method;
use serde_json::json;
use tests::*;

#[tokio::test]
async fn head_and_options_are_not_served() {
    let h = Harness::new().await;
    for method in [Method::HEAD, Method::OPTIONS] {
        let r = h.partner(method.clone(), "/me", None).await;
        assert_eq!(r.status.as_u16(), 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET"), "{method}");
    }
    let r = h.partner(Method::HEAD, "/customers", None).await;
    assert_eq!((r.status.as_u16(), r.header("allow")), (405, Some("GET, POST")));
}

#[tokio::test]
async fn one_trailing_slash_is_the_same_path() {
    let h = Harness::new().await;
    h.partner(Method::GET, "/me/", None).await.assert_status(200);
    let id = h.partner(Method::POST, "/customers/", Some(json!({ "name": "C", "tenantId": tenant(1) }))).await;
    let id = id.assert_status(201)["id"].as_str().unwrap().to_string();
    h.partner(Method::GET, &format!("/customers/{id}/"), None).await.assert_status(200);
    let r = h.partner(Method::PUT, "/customers/", None).await;
    assert_eq!((r.status.as_u16(), r.header("allow")), (405, Some("GET, POST")));
    for path in ["/customers//", "/me//", "//me", "/customers//x"] {
        let r = h.partner(Method::GET, path, None).await;
        assert_eq!((r.status.as_u16(), r.code()), (404, "NOT_FOUND"), "{path}: {}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().starts_with("No route for"), "{path}: {}", r.body);
    }
    let r = h.request(Method::GET, "/nope/", &[], None).await;
    assert_eq!(r.body["error"]["message"], "No route for /nope.");
}

#[tokio::test]
async fn a_literal_path_also_answers_the_patterns_it_shadows() {
    let h = Harness::new().await;
    // GET /customers/bulk is the customer "bulk" (there is none), not a 405.
    let r = h.partner(Method::GET, "/customers/bulk", None).await;
    r.assert_error(404, "NOT_FOUND");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("\"bulk\""), "{}", r.body);
    let r = h.partner(Method::PUT, "/customers/bulk", None).await;
    assert_eq!((r.status.as_u16(), r.header("allow")), (405, Some("DELETE, GET, PATCH, POST")));
    // An encoded literal is a parameter.
    let r = h.partner(Method::POST, "/customers/%62ulk", None).await;
    assert_eq!((r.status.as_u16(), r.header("allow")), (405, Some("DELETE, GET, PATCH")));
}

#[tokio::test]
async fn a_parameter_that_is_not_utf8_is_no_route() {
    let h = Harness::new().await;
    for method in [Method::GET, Method::PUT] {
        let r = h.partner(method, "/customers/cust_%FF", None).await;
        r.assert_error(404, "NOT_FOUND");
        assert_eq!(r.body["error"]["message"], "No route for /api/v1/partner/customers/cust_%FF.");
    }
    // Decoded otherwise, `+` included.
    let r = h.partner(Method::GET, "/customers/a+b%20c", None).await;
    assert!(r.body["error"]["message"].as_str().unwrap().contains("\"a+b c\""), "{}", r.body);
}

#[tokio::test]
async fn request_ids_are_made_here_and_differ() {
    let h = Harness::new().await;
    let a = h.request(Method::GET, "/api/v1/partner/me", &[("x-request-id", "mine")], None).await;
    let b = h.request(Method::GET, "/api/v1/partner/me", &[], None).await;
    let (a, b) = (a.header("x-request-id").unwrap().to_string(), b.header("x-request-id").unwrap().to_string());
    assert!(a.starts_with("req_") && b.starts_with("req_"), "{a} {b}");
    assert_ne!(a, b);
}

#[tokio::test]
async fn the_body_limit_comes_after_routing_and_before_auth() {
    let h = Harness::new().await;
    let big = Bytes::from(vec![b' '; 256 * 1024 + 1]);
    let len = big.len().to_string();
    let headers = [("content-length", len.as_str())];
    // Declared and sent: 413 in the envelope, without a key.
    let r = h.request(Method::POST, "/api/v1/partner/customers", &headers, Some(big.clone())).await;
    r.assert_error(413, "PAYLOAD_TOO_LARGE");
    assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    // Sent without a length: the same.
    let r = h.request(Method::POST, "/api/v1/partner/customers", &[], Some(big.clone())).await;
    r.assert_error(413, "PAYLOAD_TOO_LARGE");
    // A wrong method or an unknown path is answered first.
    let r = h.request(Method::PUT, "/api/v1/partner/customers", &headers, Some(big.clone())).await;
    r.assert_error(405, "METHOD_NOT_ALLOWED");
    let r = h.request(Method::POST, "/api/v1/partner/nope", &headers, Some(big)).await;
    r.assert_error(404, "NOT_FOUND");
}
