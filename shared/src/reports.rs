//! Report share links and the printable report. A link carries the run it shows and when it
//! expires, signed, so the report is served without a key and a link cannot be altered or
//! kept past its time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::branding::Brand;
use crate::domain::catalog::Product;
use crate::domain::requirement::RequirementOutcome;
use crate::domain::run::{CheckStatus, Finding, Run, RunReport, StrategyLevel};
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

const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

/// A finding as the template shows it.
#[derive(serde::Serialize)]
struct FindingView<'a> {
    severity: &'a str,
    check_id: &'a str,
    title: &'a str,
    outcome: &'a str,
    /// Since the previous run: `new`, `persisting`, `fixed`, `unchanged`, or none.
    change: Option<&'static str>,
    evidence: &'a str,
    rationale: &'a str,
    remediation: &'a str,
    /// `essential-eight ML1-MFA (level 1)`, one per framework reference.
    references: Vec<String>,
    /// Essential Eight requirement ids the check evidences.
    requirement_ids: &'a [String],
    evidence_quality: Option<&'static str>,
}

impl<'a> FindingView<'a> {
    fn of(f: &'a Finding) -> Self {
        Self {
            severity: f.severity.as_str(),
            check_id: &f.check_id,
            title: &f.title,
            outcome: f.outcome.as_str(),
            change: f.change.map(|c| c.as_str()),
            evidence: &f.evidence,
            rationale: &f.rationale,
            remediation: &f.remediation,
            references: f
                .references
                .iter()
                .map(|r| match r.level {
                    Some(l) => format!("{} {} (level {l})", r.framework, r.id),
                    None => format!("{} {}", r.framework, r.id),
                })
                .collect(),
            requirement_ids: &f.requirement_ids,
            evidence_quality: f.evidence_quality.map(|q| q.as_str()),
        }
    }
}

/// The eight strategies' names as ASD writes them, by the slug runs store.
fn strategy_name(slug: &str) -> &str {
    match slug {
        "application-control" => "Application control",
        "patch-applications" => "Patch applications",
        "office-macros" => "Configure Microsoft Office macro settings",
        "user-application-hardening" => "User application hardening",
        "restrict-admin-privileges" => "Restrict administrative privileges",
        "patch-os" => "Patch operating systems",
        "mfa" => "Multi-factor authentication",
        "regular-backups" => "Regular backups",
        other => other,
    }
}

/// How an outcome reads in the report (`no_visibility` → "no visibility").
fn outcome_words(outcome: RequirementOutcome) -> String {
    outcome.as_str().replace('_', " ")
}

/// One strategy's block of the requirement matrix: its level, what blocks the next one, and
/// each of its requirements with outcome, source, evidence quality and why.
fn strategy_matrix(report: &RunReport, m: &StrategyLevel) -> minijinja::Value {
    let requirements: Vec<minijinja::Value> = report
        .requirements
        .iter()
        .filter(|r| r.strategy == m.strategy)
        .map(|r| {
            let mut evidence: Vec<String> = r.check_ids.clone();
            evidence.extend(r.question_id.iter().map(|q| match &r.answer {
                Some(a) => format!("{q} (answered {})", a.replace('_', " ")),
                None => q.clone(),
            }));
            minijinja::context! {
                id => &r.id,
                level => r.level,
                summary => &r.summary,
                outcome => outcome_words(r.outcome),
                outcome_class => r.outcome.as_str(),
                source => r.source.as_str(),
                quality => r.evidence_quality.map(|q| q.as_str()).unwrap_or("—"),
                evidence => evidence.join(", "),
                reason => &r.reason,
                // The questionnaire answer the run used (templates/report/_answer.html).
                answer => r.answer.as_deref().map(|a| a.replace('_', " ")),
                answered_by => r.answered_by.as_ref().map(|b| match b {
                    crate::domain::questionnaire::AnsweredBy::Customer { email } => email.clone(),
                    crate::domain::questionnaire::AnsweredBy::Partner => "the provider".to_string(),
                }),
                answered_at => r.answered_at.as_deref().map(|t| t.get(..10).unwrap_or(t)),
                note => &r.note,
                exception => r.exception.as_ref().map(|e| minijinja::context! {
                    kind => e.kind.as_str(),
                    id => &e.id,
                    owner => &e.owner,
                    approved_by => &e.approved_by,
                    expires_at => &e.expires_at,
                    rationale => &e.rationale,
                    compensating_control => e.compensating_control.as_deref().unwrap_or_default(),
                }),
            }
        })
        .collect();
    minijinja::context! {
        name => strategy_name(&m.strategy),
        level => m.level,
        blockers => &m.blockers,
        requirements,
    }
}

/// A self-contained, printable HTML page on the partner's `brand`: no scripts, and no external
/// resource but the brand's logo when one is set (an `https://` image). Rendered from
/// `templates/report/report.html`, every value escaped.
pub fn render(brand: &Brand, customer_name: &str, product: &Product, run: &Run, report: &RunReport) -> String {
    let results = run.results.as_ref();
    let failed: Vec<&Finding> = report.findings.iter().filter(|f| f.outcome == CheckStatus::Fail).collect();
    // Failed checks grouped by severity, most severe first, empty groups left out.
    let failed_groups: Vec<minijinja::Value> = SEVERITIES
        .iter()
        .filter_map(|sev| {
            let of_sev: Vec<FindingView<'_>> =
                failed.iter().filter(|f| f.severity == *sev).map(|f| FindingView::of(f)).collect();
            (!of_sev.is_empty()).then(|| minijinja::context! { severity => sev, findings => of_sev })
        })
        .collect();
    let others: Vec<FindingView<'_>> =
        report.findings.iter().filter(|f| f.outcome != CheckStatus::Fail).map(FindingView::of).collect();
    let maturity_by_strategy: Vec<minijinja::Value> = report
        .maturity_by_strategy
        .iter()
        .map(|m| minijinja::context! { strategy => strategy_name(&m.strategy), level => m.level, blockers => &m.blockers })
        .collect();
    // Runs stored before requirements were assessed have none: no matrix then.
    let matrix: Vec<minijinja::Value> = if report.requirements.is_empty() {
        Vec::new()
    } else {
        report.maturity_by_strategy.iter().map(|m| strategy_matrix(report, m)).collect()
    };
    crate::templates::render(
        "report/report.html",
        minijinja::context! {
            brand,
            product => &product.name,
            customer => customer_name,
            run_id => &run.id,
            target => run.maturity_target,
            completed => run.completed_at.map(rfc3339).unwrap_or_default(),
            score => results.map_or("—".to_string(), |r| r.score.to_string()),
            results => results.map(|r| minijinja::context! {
                findings => r.findings, critical => r.critical, high => r.high, medium => r.medium, low => r.low,
            }),
            // The comparison with the customer's previous completed run of the product.
            compared => results.is_some(),
            previous_run_id => results.and_then(|r| r.previous_run_id.as_deref()),
            changes => results.and_then(|r| r.changes).map(|c| minijinja::context! {
                new_failures => c.new_failures, fixed => c.fixed, persisting => c.persisting,
            }),
            maturity => report.maturity,
            maturity_by_strategy,
            coverage => report.coverage,
            matrix,
            failed_groups,
            others,
        },
    )
}
