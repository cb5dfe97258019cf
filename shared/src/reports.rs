//! Report share links and the printable report. A link carries the run it shows and when it
//! expires, signed, so the report is served without a key and a link cannot be altered or
//! kept past its time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::branding::Brand;
use crate::domain::catalog::Product;
use crate::domain::run::{Run, RunReport};
use crate::domain::time::Timestamp;
use crate::report_view::{self, ReportInput, ReportView};

/// The largest report page served: a Lambda answer is at most 6 MB (the big-run test holds
/// the biggest report a run can have under it).
pub const MAX_PAGE_BYTES: usize = 6_000_000;

/// How long a share link works.
pub const LINK_LIFETIME_SECS: i64 = 30 * 86_400;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("this report link is not valid")]
    Invalid,
    #[error("this report link has expired; ask for a new one")]
    Expired,
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(b"report-link\0");
    m.update(payload.as_bytes());
    m
}

/// The token in a share link for `run` of `partner`, valid until `expires_at` (the token
/// carries it as unix seconds).
pub fn sign(secret: &[u8], partner_id: &str, run_id: &str, expires_at: Timestamp) -> String {
    let payload = format!("{partner_id}.{run_id}.{}", expires_at.unix());
    let sig = mac(secret, &payload).finalize().into_bytes();
    format!("{}.{}", B64.encode(&payload), B64.encode(sig))
}

/// The full share link under `base_url`.
pub fn link(secret: &[u8], base_url: &str, partner_id: &str, run_id: &str, now: Timestamp) -> String {
    format!("{}/reports/{}", base_url.trim_end_matches('/'), sign(secret, partner_id, run_id, now + LINK_LIFETIME_SECS))
}

/// The partner and run a token names, if its signature holds and it has not expired.
pub fn verify(secret: &[u8], token: &str, now: Timestamp) -> Result<(String, String), LinkError> {
    let (payload, sig) = token.split_once('.').ok_or(LinkError::Invalid)?;
    let payload =
        String::from_utf8(B64.decode(payload).map_err(|_| LinkError::Invalid)?).map_err(|_| LinkError::Invalid)?;
    let sig = B64.decode(sig).map_err(|_| LinkError::Invalid)?;
    mac(secret, &payload).verify_slice(&sig).map_err(|_| LinkError::Invalid)?;
    let mut parts = payload.split('.');
    let (Some(partner), Some(run), Some(exp), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(LinkError::Invalid);
    };
    let exp = Timestamp::from_unix(exp.parse().map_err(|_| LinkError::Invalid)?);
    if now >= exp {
        return Err(LinkError::Expired);
    }
    Ok((partner.to_string(), run.to_string()))
}

/// The customer's report as a self-contained, printable HTML page on the partner's `brand`:
/// no scripts, and no external resource but the brand's logo when one is set (an `https://`
/// image). Rendered from `templates/report/report.html`, every value escaped. Without the
/// previous run's report, the maturity picture shows no trend (use [`render_input`]).
pub fn render(brand: &Brand, customer_name: &str, product: &Product, run: &Run, report: &RunReport) -> String {
    render_input(&ReportInput { brand, customer_name, product, run, report, previous: None })
}

/// The report page of `input` (with the trend when `input.previous` is given).
pub fn render_input(input: &ReportInput<'_>) -> String {
    render_view(&report_view::build(input))
}

/// The report page of a worked-out view.
pub fn render_view(view: &ReportView) -> String {
    crate::templates::render("report/report.html", minijinja::Value::from_serialize(view))
}
