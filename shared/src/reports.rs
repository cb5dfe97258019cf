//! Report share links and the printable report. A link carries the run it shows and when it
//! expires, signed, so the report is served without a key and a link cannot be altered or
//! kept past its time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::catalog::Product;
use crate::domain::run::{CheckStatus, Finding, Run, RunReport};
use crate::domain::time::rfc3339;
use crate::domain::time::Timestamp;

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

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2430;max-width:960px;margin:2rem auto;padding:0 1rem;line-height:1.45}\
h1{margin-bottom:.2rem}.meta{color:#5b6575}.score{font-size:3rem;font-weight:700}\
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border:1px solid #d5dae2;padding:.4rem .6rem;text-align:left;vertical-align:top}\
th{background:#f2f4f7}.sev{font-weight:600;text-transform:uppercase;font-size:.8rem}.critical{color:#a4161a}.high{color:#d9480f}.medium{color:#b08900}.low{color:#2b8a3e}\
.finding{border:1px solid #d5dae2;border-radius:6px;padding:.6rem .9rem;margin:.6rem 0;page-break-inside:avoid}\
.summary td{text-align:center}@media print{body{margin:0}a{color:inherit}}";

fn finding_html(f: &Finding) -> String {
    let refs: Vec<String> = f
        .references
        .iter()
        .map(|r| match r.level {
            Some(l) => format!("{} {} (level {l})", r.framework, r.id),
            None => format!("{} {}", r.framework, r.id),
        })
        .collect();
    format!(
        "<div class=\"finding\"><div><span class=\"sev {sev}\">{sev}</span> <strong>{id}</strong> — {title}</div>\
<p><em>Evidence:</em> {evidence}</p><p><em>Why it matters:</em> {rationale}</p><p><em>Remediation:</em> {remediation}</p>\
<p class=\"meta\">{refs}</p></div>",
        sev = esc(f.severity.as_str()),
        id = esc(&f.check_id),
        title = esc(&f.title),
        evidence = esc(&f.evidence),
        rationale = esc(&f.rationale),
        remediation = esc(&f.remediation),
        refs = esc(&refs.join(" · ")),
    )
}

/// A self-contained, printable HTML page: no scripts, no external resources.
pub fn render(customer_name: &str, product: &Product, run: &Run, report: &RunReport) -> String {
    let results = run.results.as_ref();
    let score = results.map_or("—".to_string(), |r| r.score.to_string());
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>{product} — {customer}</title><style>{STYLE}</style></head><body>\
<h1>{product}</h1><div class=\"meta\">{customer} · run {run_id} · maturity target {target} · completed {completed}</div>\
<p class=\"score\">{score}<span class=\"meta\" style=\"font-size:1rem\"> / 100</span></p>",
        product = esc(&product.name),
        customer = esc(customer_name),
        run_id = esc(&run.id),
        target = run.maturity_target,
        completed = run.completed_at.map(rfc3339).unwrap_or_default(),
    );
    if let Some(r) = results {
        html.push_str(&format!(
            "<table class=\"summary\"><tr><th>Findings</th><th class=\"critical\">Critical</th><th class=\"high\">High</th><th class=\"medium\">Medium</th><th class=\"low\">Low</th></tr>\
<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
            r.findings, r.critical, r.high, r.medium, r.low
        ));
    }
    if let Some(level) = report.maturity {
        html.push_str(&format!("<h2>Maturity</h2><p>Overall maturity level reached: <strong>{level}</strong></p>"));
        if !report.maturity_by_strategy.is_empty() {
            html.push_str("<table><tr><th>Strategy</th><th>Level reached</th></tr>");
            for m in &report.maturity_by_strategy {
                html.push_str(&format!("<tr><td>{}</td><td>{}</td></tr>", esc(&m.strategy), m.level));
            }
            html.push_str("</table>");
        }
    }
    html.push_str("<h2>Findings by severity</h2>");
    let failed: Vec<&Finding> = report.findings.iter().filter(|f| f.outcome == CheckStatus::Fail).collect();
    if failed.is_empty() {
        html.push_str("<p>No failed checks.</p>");
    }
    for sev in SEVERITIES {
        let of_sev: Vec<&&Finding> = failed.iter().filter(|f| f.severity == sev).collect();
        if of_sev.is_empty() {
            continue;
        }
        html.push_str(&format!("<h3 class=\"{sev}\">{} ({})</h3>", esc(&sev.to_uppercase()), of_sev.len()));
        for f in of_sev {
            html.push_str(&finding_html(f));
        }
    }
    let others: Vec<&Finding> = report.findings.iter().filter(|f| f.outcome != CheckStatus::Fail).collect();
    if !others.is_empty() {
        html.push_str(
            "<h2>All other checks</h2><table><tr><th>Check</th><th>Title</th><th>Outcome</th><th>Evidence</th></tr>",
        );
        for f in others {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.check_id),
                esc(&f.title),
                esc(f.outcome.as_str()),
                esc(&f.evidence)
            ));
        }
        html.push_str("</table>");
    }
    html.push_str("</body></html>");
    html
}
