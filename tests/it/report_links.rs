//! The report link route (contract, "API description and report links"): `GET
//! /assessments/{id}/report` and the distributor's under `/partners/{id}/assessments/{runId}/`
//! answer a fresh signed link to a completed run's report.

use http::Method;
use tests::helpers::{run, run_for, s};
use tests::{tenant, Harness, T0};

const DAY: i64 = 86_400;

#[tokio::test]
async fn a_completed_runs_link_opens_its_report_for_30_days() {
    let h = Harness::new().await;
    let cust = h.customer("Contoso Ltd", &tenant(1)).await;
    let id = run(&h, &cust, "essential-eight").await;
    h.work(&h.fixture_runner()).await;

    let r = h.partner(Method::GET, &format!("/assessments/{id}/report"), None).await;
    let body = r.assert_status(200);
    assert_eq!(body["format"], "html");
    assert_eq!(body["expiresAt"], shared::domain::time::rfc3339(T0 + 30 * DAY));
    let url = s(&body["url"]);
    let path = url::Url::parse(&url).expect("a URL").path().to_string();
    let page = h.request(Method::GET, &path, &[], None).await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.raw).contains("Contoso Ltd"), "the page is the run's report");
    // `?format=html` is the default said out loud.
    let html = h.partner(Method::GET, &format!("/assessments/{id}/report?format=html"), None).await;
    assert_eq!(html.assert_status(200)["format"], "html");

    // The link works until its expiry, and not after.
    h.clock.set(T0 + 30 * DAY - 1);
    assert_eq!(h.request(Method::GET, &path, &[], None).await.status, 200);
    h.clock.set(T0 + 30 * DAY);
    h.request(Method::GET, &path, &[], None).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn a_run_not_completed_has_no_report_yet() {
    let h = Harness::new().await;
    let cust = h.customer("Contoso Ltd", &tenant(1)).await;
    let id = run(&h, &cust, "essential-eight").await;
    h.partner(Method::GET, &format!("/assessments/{id}/report"), None).await.assert_error(409, "REPORT_NOT_READY");
    h.work(&h.fixture_runner()).await;
    h.partner(Method::GET, &format!("/assessments/{id}/report"), None).await.assert_status(200);
}

/// `pdf` gives a link to the same report as a PDF (issue 17); anything else is `INVALID_FIELD`.
#[tokio::test]
async fn a_pdf_link_serves_a_pdf_and_other_formats_are_invalid() {
    let h = Harness::new().await;
    let cust = h.customer("Contoso Ltd", &tenant(1)).await;
    let id = run(&h, &cust, "essential-eight").await;
    h.work(&h.fixture_runner()).await;
    let body = h.partner(Method::GET, &format!("/assessments/{id}/report?format=pdf"), None).await;
    let body = body.assert_status(200);
    assert_eq!(body["format"], "pdf");
    let url = url::Url::parse(&s(&body["url"])).expect("a URL");
    assert_eq!(url.query(), Some("format=pdf"));
    let pdf = h.request(Method::GET, &format!("{}?format=pdf", url.path()), &[], None).await;
    assert_eq!((pdf.status.as_u16(), pdf.header("content-type")), (200, Some("application/pdf")));
    assert!(pdf.raw.starts_with(b"%PDF-"));
    h.partner(Method::GET, &format!("/assessments/{id}/report?format=docx"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
}

#[tokio::test]
async fn another_partners_run_is_not_found_on_either_surface() {
    let h = Harness::new().await;
    let cust = h.customer("Contoso Ltd", &tenant(1)).await;
    let mine = run(&h, &cust, "essential-eight").await;
    let (other_id, other_key) = h.active_partner("admin@other.example", "professional").await;
    let other_cust = h.customer_for(&other_key, "Fabrikam", &tenant(2)).await;
    let theirs = run_for(&h, &other_key, &other_cust, "essential-eight").await;
    h.work(&h.fixture_runner()).await;

    h.partner(Method::GET, &format!("/assessments/{theirs}/report"), None).await.assert_error(404, "NOT_FOUND");
    h.partner(Method::GET, "/assessments/run_nothing/report", None).await.assert_error(404, "NOT_FOUND");

    // The distributor reads its sub-partner's run through that partner only.
    let d = h.distributor(Method::GET, &format!("/partners/{other_id}/assessments/{theirs}/report"), None).await;
    assert!(s(&d.assert_status(200)["url"]).contains("/reports/"));
    let me = h.partner_id().to_string();
    h.distributor(Method::GET, &format!("/partners/{other_id}/assessments/{mine}/report"), None)
        .await
        .assert_error(404, "NOT_FOUND");
    let pdf = h.distributor(Method::GET, &format!("/partners/{me}/assessments/{mine}/report?format=pdf"), None).await;
    assert!(s(&pdf.assert_status(200)["url"]).ends_with("?format=pdf"));
    let (_, other_dist_key) = h.other_distributor().await;
    h.distributor_as(&other_dist_key, Method::GET, &format!("/partners/{other_id}/assessments/{theirs}/report"), None)
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn a_distributors_run_not_completed_has_no_report_yet() {
    let h = Harness::new().await;
    let cust = h.customer("Contoso Ltd", &tenant(1)).await;
    let id = run(&h, &cust, "essential-eight").await;
    let me = h.partner_id().to_string();
    h.distributor(Method::GET, &format!("/partners/{me}/assessments/{id}/report"), None)
        .await
        .assert_error(409, "REPORT_NOT_READY");
    h.distributor(Method::GET, &format!("/partners/{me}/assessments/{id}/report?format=x"), None)
        .await
        .assert_error(400, "INVALID_FIELD");
}
