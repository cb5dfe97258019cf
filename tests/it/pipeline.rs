use http::Method;
use serde_json::json;
use tests::*;

#[tokio::test]
async fn unknown_path_is_404_in_the_envelope() {
    let h = Harness::new().await;
    let r = h
        .request(Method::GET, "/api/v1/partner/nope", &[], None)
        .await;
    r.assert_error(404, "NOT_FOUND");
    assert!(r
        .header("x-request-id")
        .is_some_and(|v| v.starts_with("req_")));
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let _ = json!({});
}
