//! The engine behind the runner: collect the tenant, evaluate the product, and shape the
//! result as the run stores it.

use std::sync::Arc;

use async_trait::async_trait;

use super::checks::Reference;
use super::collect::{CollectError, Collector};
use super::score::{evaluate_answered, Assessment, CheckResult};
use crate::domain::context::TenantContext;
use crate::domain::run::{Collected, Finding, FrameworkRef, RunReport, StrategyLevel};
use crate::runner::{AssessFailure, Assessed, Assessor};

pub struct EngineAssessor {
    collector: Arc<dyn Collector>,
}

impl EngineAssessor {
    pub fn new(collector: Arc<dyn Collector>) -> Self {
        Self { collector }
    }
}

fn reference(r: &Reference) -> FrameworkRef {
    match *r {
        Reference::EssentialEight { strategy, maturity_level } => FrameworkRef {
            framework: "essential-eight".into(),
            id: strategy.as_str().into(),
            level: Some(maturity_level),
        },
        Reference::NistCsf { subcategory, tier } => {
            FrameworkRef { framework: "nist-csf".into(), id: subcategory.into(), level: Some(tier) }
        }
        Reference::CisM365 { recommendation, level } => {
            FrameworkRef { framework: "cis-m365".into(), id: recommendation.into(), level: Some(level) }
        }
    }
}

fn finding(r: &CheckResult) -> Finding {
    Finding {
        check_id: r.id.into(),
        title: r.title.into(),
        severity: r.severity,
        outcome: r.status,
        evidence: r.evidence.summary.clone(),
        details: r.evidence.details.clone(),
        rationale: r.rationale.into(),
        remediation: r.remediation.into(),
        references: vec![reference(&r.reference)],
        requirement_ids: r.requirement_ids.to_vec(),
        evidence_quality: r.evidence_quality,
        change: None,
        collected: r
            .collected
            .iter()
            .map(|c| Collected { path: c.path.clone(), at: c.at.rfc3339(), sha256: c.sha256.clone() })
            .collect(),
    }
}

/// The run's record of an engine assessment: every counted check, in catalogue order.
pub fn report(a: &Assessment) -> RunReport {
    RunReport {
        findings: a.results.iter().map(finding).collect(),
        maturity: a.maturity.as_ref().map(|m| m.overall),
        maturity_by_strategy: a
            .maturity
            .iter()
            .flat_map(|m| &m.strategies)
            .map(|s| StrategyLevel {
                strategy: s.strategy.as_str().into(),
                level: s.level,
                blockers: s.blockers.clone(),
            })
            .collect(),
        requirements: a.maturity.iter().flat_map(|m| m.requirements.iter().cloned()).collect(),
        coverage: a.maturity.as_ref().map(|m| m.coverage),
        context: None,
    }
}

#[async_trait]
impl Assessor for EngineAssessor {
    async fn assess(&self, tenant_id: &str, product: &str, maturity_target: u8) -> Result<Assessed, AssessFailure> {
        self.assess_in(
            tenant_id,
            product,
            maturity_target,
            &super::requirements::Answers::new(),
            &TenantContext::default(),
        )
        .await
    }

    async fn assess_in(
        &self,
        tenant_id: &str,
        product: &str,
        maturity_target: u8,
        answers: &super::requirements::Answers,
        context: &TenantContext,
    ) -> Result<Assessed, AssessFailure> {
        let mut snapshot = self.collector.collect(tenant_id).await.map_err(|e| match e {
            CollectError::ConsentRequired(m) => {
                AssessFailure::Permanent { code: "CONSENT_REQUIRED".into(), message: m }
            }
            CollectError::TenantNotFound(m) => AssessFailure::Permanent { code: "TENANT_NOT_FOUND".into(), message: m },
            CollectError::Unavailable(m) => AssessFailure::Transient { code: "GRAPH_UNAVAILABLE".into(), message: m },
            CollectError::Failed(m) => AssessFailure::Transient { code: "COLLECTION_FAILED".into(), message: m },
        })?;
        snapshot.context = context.clone();
        let a = evaluate_answered(product, maturity_target, &snapshot, answers)
            .map_err(|e| AssessFailure::Permanent { code: "INVALID_RUN".into(), message: e.to_string() })?;
        Ok(Assessed {
            score: a.score,
            critical: a.critical,
            high: a.high,
            medium: a.medium,
            low: a.low,
            report: report(&a),
        })
    }
}
