//! A partner's branding (contract, "Branding"): reading it, changing some of its five fields,
//! and previewing what customers see with it (the same templates mails and the report use).

use super::{Ids, UseCaseError};
use crate::domain::account::Partner;
use crate::domain::audit::{Action, Changes, Target, TargetType};
use crate::domain::branding::{Brand, Branding, BrandingPatch};
use crate::domain::catalog::Product;
use crate::domain::run::{
    CheckStatus, Finding, FrameworkRef, Run, RunReport, RunResults, RunStatus, Severity, StrategyLevel,
};
use crate::domain::time::Timestamp;
use crate::mail::content::{self, ConsentRequest, ReportReady};
use crate::store::{AccountStore, StoreError};

/// How often a change is recomputed when another change of the same branding won the race.
const CONFLICT_RETRIES: usize = 5;

/// The partner's stored branding (the default when never set).
pub async fn get(accounts: &dyn AccountStore, partner: &Partner) -> Result<Branding, UseCaseError> {
    Ok(accounts.branding(&partner.id).await?)
}

/// Applies `patch` to the stored branding; answers the new branding and how many fields it
/// changed (a field set to the value it had does not count). Nothing changed: nothing is
/// written. Two changes at once both land, field by field (each is reapplied to a fresh read
/// when the other won the write).
pub async fn update(
    accounts: &dyn AccountStore,
    ids: Ids<'_>,
    partner: &Partner,
    patch: &BrandingPatch,
    now: Timestamp,
) -> Result<(Branding, usize), UseCaseError> {
    for _ in 0..CONFLICT_RETRIES {
        let stored = accounts.branding(&partner.id).await?;
        let (next, changed) = stored.apply(patch);
        if changed == 0 {
            return Ok((stored, 0));
        }
        let changes = Changes::new()
            .field("company", &stored.company, &next.company)
            .field("brandColor", &stored.brand_color, &next.brand_color)
            .field("logoUrl", &stored.logo_url, &next.logo_url)
            .field("footerText", &stored.footer_text, &next.footer_text)
            .field("contactEmail", &stored.contact_email, &next.contact_email);
        let audit = ids
            .audit(Action::BrandingUpdated, Target::new(TargetType::Branding, partner.id.as_str()), changes, now)
            .seen_by_partner(&partner.id, partner.distributor_id.as_deref())
            .recorded();
        match accounts.put_branding_audited(&partner.id, &next, audit.as_ref()).await {
            Ok(()) => return Ok((Branding { version: next.version + 1, ..next }, changed)),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(UseCaseError::Store(StoreError::Conflict))
}

/// What `POST /branding/preview/{kind}` can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviewKind {
    /// The consent request email's HTML.
    EmailConsent,
    /// The report-ready email's HTML.
    EmailReport,
    /// The report page.
    Report,
}

impl PreviewKind {
    /// `email-consent`, `email-report` or `report`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email-consent" => Some(Self::EmailConsent),
            "email-report" => Some(Self::EmailReport),
            "report" => Some(Self::Report),
            _ => None,
        }
    }
}

/// The sample customer every preview shows.
pub const SAMPLE_CUSTOMER: &str = "Contoso Ltd";
/// The sample tenant every preview shows.
pub const SAMPLE_TENANT: &str = "00000000-0000-0000-0000-000000000000";

/// The sample consent request a preview renders (its link points nowhere real).
pub fn sample_consent_request(public_base_url: &str) -> (String, Option<u8>) {
    (format!("{}/consent/preview", public_base_url.trim_end_matches('/')), Some(2))
}

/// The sample report-ready data a preview renders, with `report_url` as its link.
pub fn sample_report_ready<'a>(product: &'a Product, report_url: &'a str) -> ReportReady<'a> {
    ReportReady {
        customer: SAMPLE_CUSTOMER,
        product: &product.name,
        score: 72,
        findings: 5,
        critical: 1,
        high: 2,
        medium: 1,
        low: 1,
        maturity: Some(1),
        maturity_target: 2,
        report_url,
    }
}

/// The HTML `kind` shows with `brand` and sample data: exactly what the mail or page functions
/// render for that data (the same templates, the same code).
pub fn preview(kind: PreviewKind, brand: &Brand, product: &Product, public_base_url: &str, now: Timestamp) -> String {
    let report_url = format!("{}/reports/preview", public_base_url.trim_end_matches('/'));
    match kind {
        PreviewKind::EmailConsent => {
            let (consent_url, target) = sample_consent_request(public_base_url);
            content::consent_request(
                brand,
                &ConsentRequest {
                    customer: SAMPLE_CUSTOMER,
                    tenant_id: SAMPLE_TENANT,
                    product: Some(&product.name),
                    maturity_target: target,
                    consent_url: &consent_url,
                },
            )
            .html
        }
        PreviewKind::EmailReport => content::report_ready(brand, &sample_report_ready(product, &report_url)).html,
        PreviewKind::Report => {
            let (run, report) = sample_run(product, &report_url, now);
            crate::reports::render(brand, SAMPLE_CUSTOMER, product, &run, &report)
        }
    }
}

/// A completed sample run of `product` with a few findings, for the report preview.
fn sample_run(product: &Product, report_url: &str, now: Timestamp) -> (Run, RunReport) {
    let finding = |id: &str, title: &str, severity: Severity, outcome: CheckStatus| Finding {
        check_id: id.to_string(),
        title: title.to_string(),
        severity,
        outcome,
        evidence: "Sample evidence: what the check saw in the tenant.".into(),
        details: None,
        rationale: "Sample rationale: why the check matters.".into(),
        remediation: "Sample remediation: how to fix it.".into(),
        references: vec![FrameworkRef { framework: product.id.clone(), id: "1.1".into(), level: Some(1) }],
        requirement_ids: Vec::new(),
        evidence_quality: None,
        change: None,
        collected: Vec::new(),
    };
    let findings = vec![
        finding("SAMPLE-01", "Multi-factor authentication for every user", Severity::Critical, CheckStatus::Fail),
        finding("SAMPLE-02", "Legacy authentication blocked", Severity::High, CheckStatus::Fail),
        finding("SAMPLE-03", "Admin accounts separated", Severity::High, CheckStatus::Fail),
        finding("SAMPLE-04", "Mailbox auditing on", Severity::Medium, CheckStatus::Fail),
        finding("SAMPLE-05", "Guest access reviewed", Severity::Low, CheckStatus::Fail),
        finding("SAMPLE-06", "Security defaults or Conditional Access", Severity::High, CheckStatus::Pass),
    ];
    let run = Run {
        id: crate::domain::ids::Id::from_stored("run_preview".into()),
        partner_id: crate::domain::ids::Id::from_stored("prt_preview".into()),
        customer_id: crate::domain::ids::Id::from_stored("cust_preview".into()),
        product: product.id.clone(),
        maturity_target: 2,
        status: RunStatus::Completed,
        created_at: now,
        started_at: Some(now),
        completed_at: Some(now),
        results: Some(RunResults {
            score: 72,
            findings: 5,
            critical: 1,
            high: 2,
            medium: 1,
            low: 1,
            report_url: report_url.to_string(),
            previous_run_id: None,
            changes: None,
        }),
        error: None,
    };
    let report = RunReport {
        findings,
        maturity: Some(1),
        maturity_by_strategy: vec![StrategyLevel { strategy: "mfa".into(), level: 1, blockers: Vec::new() }],
        requirements: Vec::new(),
        coverage: None,
        context: None,
    };
    (run, report)
}
