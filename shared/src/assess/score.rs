//! Running a product's catalogue against a snapshot: which checks count for the maturity
//! target, the severity-weighted score, the findings, and Essential Eight maturity levels.

use serde::{Deserialize, Serialize};

use super::checks::{cis_m365, essential_eight, nist_csf, Check, Evidence, Reference, Severity, Status};
use super::requirements::{self, catalogue, quality_of_reads, Answers, CheckEvidence, EvidenceQuality};
use super::snapshot::TenantSnapshot;
use crate::domain::run::RunResults;
use crate::domain::time::Timestamp;

/// How much a check of each severity weighs in the score.
pub const WEIGHT_CRITICAL: u32 = 10;
pub const WEIGHT_HIGH: u32 = 5;
pub const WEIGHT_MEDIUM: u32 = 3;
pub const WEIGHT_LOW: u32 = 1;

pub fn weight(severity: Severity) -> u32 {
    match severity {
        Severity::Critical => WEIGHT_CRITICAL,
        Severity::High => WEIGHT_HIGH,
        Severity::Medium => WEIGHT_MEDIUM,
        Severity::Low => WEIGHT_LOW,
    }
}

/// The frameworks the engine assesses, one per product of the catalogue (ids and ranges as in
/// CONTRACT.md's catalogue); the catalogue's `domain::catalog::Product` is its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framework {
    EssentialEight,
    NistCsf,
    CisM365,
}

impl Framework {
    pub const ALL: [Framework; 3] = [Self::EssentialEight, Self::NistCsf, Self::CisM365];

    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.id() == id)
    }

    pub fn id(self) -> &'static str {
        match self {
            Self::EssentialEight => "essential-eight",
            Self::NistCsf => "nist-csf",
            Self::CisM365 => "cis-m365",
        }
    }

    /// Lowest and highest maturity target.
    pub fn maturity_range(self) -> (u8, u8) {
        match self {
            Self::EssentialEight => (1, 3),
            Self::NistCsf => (1, 4),
            Self::CisM365 => (1, 2),
        }
    }

    pub fn default_maturity(self) -> u8 {
        match self {
            Self::EssentialEight => 1,
            Self::NistCsf => 2,
            Self::CisM365 => 1,
        }
    }

    /// The full catalogue, every level.
    pub fn checks(self) -> &'static [Check] {
        match self {
            Self::EssentialEight => essential_eight::CHECKS,
            Self::NistCsf => nist_csf::CHECKS,
            Self::CisM365 => cis_m365::CHECKS,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("unknown product '{0}'")]
    UnknownProduct(String),
    #[error("maturityTarget {target} is outside {product}'s range {min}-{max}")]
    MaturityOutOfRange { product: &'static str, target: u8, min: u8, max: u8 },
}

/// One counted check and what it found.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub reference: Reference,
    pub status: Status,
    pub evidence: Evidence,
    pub rationale: &'static str,
    pub remediation: &'static str,
    /// Essential Eight: the requirements the check evidences (`MF-ML1-01`, …); empty for an
    /// advisory check and for the other products.
    pub requirement_ids: &'static [String],
    /// How good the check's evidence is (ASD's scale); null when it saw nothing (`manual`).
    pub evidence_quality: Option<EvidenceQuality>,
    /// The snapshot's Graph responses for the fields the check reads (its evidence trail).
    pub collected: Vec<crate::assess::snapshot::CollectedRequest>,
}

/// Essential Eight maturity reached, as ASD's rule awards it (`requirements::rule`).
pub use super::requirements::Maturity;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    pub product: Framework,
    pub maturity_target: u8,
    pub tenant_id: String,
    pub collected_at: Timestamp,
    /// 0–100: severity-weighted share of passed checks among those that passed or failed.
    pub score: u8,
    /// Checks that passed or failed (the ones the score is made of).
    pub evaluated: u32,
    pub passed: u32,
    pub manual: u32,
    pub not_applicable: u32,
    /// Set when the score needs a caveat (nothing could be evaluated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Every counted check, in catalogue order.
    pub results: Vec<CheckResult>,
    /// The failed checks, most severe first.
    pub findings: Vec<CheckResult>,
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    /// Essential Eight only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maturity: Option<Maturity>,
}

impl Assessment {
    /// The summary a completed run stores (CONTRACT.md, Runs).
    pub fn to_run_results(&self, report_url: String) -> RunResults {
        RunResults {
            score: self.score,
            findings: self.findings.len() as u32,
            critical: self.critical,
            high: self.high,
            medium: self.medium,
            low: self.low,
            report_url,
            previous_run_id: None,
            changes: None,
        }
    }
}

/// Assesses `snapshot` for a product id at a maturity target (its level, tier or profile).
pub fn evaluate(product_id: &str, maturity_target: u8, snapshot: &TenantSnapshot) -> Result<Assessment, EngineError> {
    let product = Framework::parse(product_id).ok_or_else(|| EngineError::UnknownProduct(product_id.to_string()))?;
    let (min, max) = product.maturity_range();
    if !(min..=max).contains(&maturity_target) {
        return Err(EngineError::MaturityOutOfRange { product: product.id(), target: maturity_target, min, max });
    }
    Ok(evaluate_checks(product, maturity_target, product.checks(), snapshot))
}

/// As [`evaluate`], with the customer's questionnaire answers (question id → answer) for the
/// Essential Eight requirements Graph cannot settle.
pub fn evaluate_answered(
    product_id: &str,
    maturity_target: u8,
    snapshot: &TenantSnapshot,
    answers: &Answers,
) -> Result<Assessment, EngineError> {
    let product = Framework::parse(product_id).ok_or_else(|| EngineError::UnknownProduct(product_id.to_string()))?;
    let (min, max) = product.maturity_range();
    if !(min..=max).contains(&maturity_target) {
        return Err(EngineError::MaturityOutOfRange { product: product.id(), target: maturity_target, min, max });
    }
    Ok(evaluate_checks_answered(product, maturity_target, product.checks(), snapshot, answers))
}

/// Scores an explicit catalogue: the checks whose level is at most `maturity_target` count.
/// `evaluate` uses the product's own catalogue; this is public so a custom one can be scored.
pub fn evaluate_checks(
    product: Framework,
    maturity_target: u8,
    checks: &[Check],
    snapshot: &TenantSnapshot,
) -> Assessment {
    evaluate_checks_answered(product, maturity_target, checks, snapshot, &Answers::new())
}

/// As [`evaluate_checks`], with questionnaire answers for Essential Eight's requirements.
pub fn evaluate_checks_answered(
    product: Framework,
    maturity_target: u8,
    checks: &[Check],
    snapshot: &TenantSnapshot,
    answers: &Answers,
) -> Assessment {
    let e8 = product == Framework::EssentialEight;
    let results: Vec<CheckResult> = checks
        .iter()
        .filter(|c| c.level() <= maturity_target)
        .map(|c| {
            let outcome = c.run(snapshot);
            CheckResult {
                id: c.id,
                title: c.title,
                severity: c.severity,
                reference: c.reference,
                status: outcome.status,
                evidence: outcome.evidence,
                rationale: c.rationale,
                remediation: c.remediation,
                requirement_ids: if e8 { catalogue().requirements_of_check(c.id) } else { &[] },
                evidence_quality: match outcome.status {
                    Status::Manual => None,
                    _ => quality_of_reads(c.reads),
                },
                collected: snapshot
                    .requests
                    .iter()
                    .filter(|r| c.reads.iter().any(|f| f.json_name() == r.field))
                    .cloned()
                    .collect(),
            }
        })
        .collect();

    let count = |st: Status| results.iter().filter(|r| r.status == st).count() as u32;
    let weight_of = |st: Status| -> u32 { results.iter().filter(|r| r.status == st).map(|r| weight(r.severity)).sum() };
    let (passed_weight, failed_weight) = (weight_of(Status::Pass), weight_of(Status::Fail));
    let total = passed_weight + failed_weight;
    // Round half up in integers: (100·p + t/2) / t; no total means nothing was evaluated.
    let (score, note) = match (passed_weight * 100 + total / 2).checked_div(total) {
        Some(score) => (score as u8, None),
        None => (
            0,
            Some("Nothing could be evaluated: every counted check needs manual review or does not apply, so the score is 0".to_string()),
        ),
    };

    let mut findings: Vec<CheckResult> = results.iter().filter(|r| r.status == Status::Fail).cloned().collect();
    findings.sort_by_key(|r| r.severity);
    let failed = |sev: Severity| findings.iter().filter(|r| r.severity == sev).count() as u32;

    let maturity = e8.then(|| {
        let evidence: Vec<CheckEvidence> =
            results.iter().map(|r| CheckEvidence { id: r.id, status: r.status, quality: r.evidence_quality }).collect();
        let mut maturity = requirements::assess(maturity_target, &evidence, answers);
        name_what_graph_refused(&mut maturity, &results);
        maturity
    });

    Assessment {
        product,
        maturity_target,
        tenant_id: snapshot.tenant_id.clone(),
        collected_at: snapshot.collected_at,
        score,
        evaluated: count(Status::Pass) + count(Status::Fail),
        passed: count(Status::Pass),
        manual: count(Status::Manual),
        not_applicable: count(Status::NotApplicable),
        note,
        critical: failed(Severity::Critical),
        high: failed(Severity::High),
        medium: failed(Severity::Medium),
        low: failed(Severity::Low),
        findings,
        results,
        maturity,
    }
}

/// A requirement left without visibility because a check's data was refused (a missing
/// permission or licence) says what Microsoft Graph answered: each such check's unread fields
/// and Graph's reason (`details.reasons` of its "no visibility" outcome), so the reader sees
/// "not licensed …" rather than only the check's id.
fn name_what_graph_refused(maturity: &mut requirements::Maturity, results: &[CheckResult]) {
    for r in maturity.requirements.iter_mut().filter(|r| r.outcome == requirements::RequirementOutcome::NoVisibility) {
        let answered: Vec<String> = r
            .check_ids
            .iter()
            .filter_map(|id| results.iter().find(|c| c.id == id.as_str() && c.status == Status::Manual))
            .filter_map(|c| {
                let reasons = c.evidence.details.as_ref()?.get("reasons")?.as_object()?;
                let words: Vec<String> = reasons
                    .iter()
                    .map(|(field, why)| format!("{field}: {}", why.as_str().unwrap_or_default()))
                    .collect();
                Some(format!("for {} Microsoft Graph answered {}", c.id, words.join("; ")))
            })
            .collect();
        if !answered.is_empty() {
            r.reason = format!("{} ({})", r.reason, answered.join("; "));
        }
    }
}
