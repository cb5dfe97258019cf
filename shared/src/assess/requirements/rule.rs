//! ASD's rule (contract, "Assessment results"; the guide's `asd-essential-eight.md`, "How ASD
//! awards a maturity level"): every requirement of the target level and below gets one
//! outcome, from Graph evidence, else the questionnaire, else `no_visibility`; a strategy is
//! at level N only when every requirement at N and below is effective, an alternate control
//! or not applicable; the overall level is the lowest strategy's. No evidence never counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalogue::{catalogue, Requirement};
use crate::assess::checks::{Status, Strategy};
use crate::assess::snapshot::Field;
pub use crate::domain::requirement::{
    Coverage, EvidenceQuality, EvidenceSource as Source, RequirementOutcome, RequirementRecord as RequirementResult,
};

/// A questionnaire answer (contract, "Questionnaire").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Yes,
    Partly,
    No,
    NotApplicable,
    Unknown,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::Partly => "partly",
            Self::No => "no",
            Self::NotApplicable => "not_applicable",
            Self::Unknown => "unknown",
        }
    }
}

/// The latest unexpired answers a run uses, by question id (`Q-…`). Runs have none until the
/// questionnaire (issue 12) records them.
pub type Answers = BTreeMap<String, Answer>;

/// What one check of the run said, as the rule needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckEvidence<'a> {
    pub id: &'a str,
    pub status: Status,
    /// Null for a check that saw nothing (`manual`).
    pub quality: Option<EvidenceQuality>,
}

/// The quality of a check's evidence from the snapshot fields it rests on: an Intune policy
/// says what devices should do (`fair`); everything else read live from Graph (`good`).
/// `None` for a check that reads nothing (it always answers `manual`).
pub fn quality_of_reads(reads: &[Field]) -> Option<EvidenceQuality> {
    const INTENT: &[Field] = &[
        Field::DeviceConfigurations,
        Field::ConfigurationPolicies,
        Field::DeviceCompliancePolicies,
        Field::DeviceManagementSettings,
        Field::DeviceEnrollmentConfigurations,
        Field::Intents,
        Field::WindowsFeatureUpdateProfiles,
        Field::WindowsQualityUpdateProfiles,
        Field::WindowsDriverUpdateProfiles,
    ];
    match reads {
        [] => None,
        _ if reads.iter().any(|f| INTENT.contains(f)) => Some(EvidenceQuality::Fair),
        _ => Some(EvidenceQuality::Good),
    }
}

/// One strategy's level and what blocks the next one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyResult {
    pub strategy: Strategy,
    /// 0–target.
    pub level: u8,
    /// The requirements of the next level up (when below the target) that are not met.
    pub blockers: Vec<String>,
}

/// Essential Eight maturity as ASD assesses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Maturity {
    pub target: u8,
    /// The lowest strategy's level.
    pub overall: u8,
    /// In ASD's order.
    pub strategies: Vec<StrategyResult>,
    /// Every requirement of the target level and below, in catalogue order.
    pub requirements: Vec<RequirementResult>,
    pub coverage: Coverage,
}

impl Maturity {
    pub fn level(&self, strategy: Strategy) -> Option<u8> {
        self.strategies.iter().find(|s| s.strategy == strategy).map(|s| s.level)
    }

    pub fn strategy(&self, strategy: Strategy) -> Option<&StrategyResult> {
        self.strategies.iter().find(|s| s.strategy == strategy)
    }

    pub fn requirement(&self, id: &str) -> Option<&RequirementResult> {
        self.requirements.iter().find(|r| r.id == id)
    }
}

/// Applies ASD's rule at `target` (1–3) to the run's checks and the questionnaire answers.
pub fn assess(target: u8, checks: &[CheckEvidence], answers: &Answers) -> Maturity {
    let cat = catalogue();
    let requirements: Vec<RequirementResult> = cat
        .requirements
        .iter()
        .filter(|r| r.level <= target)
        .map(|r| {
            // PO-ML1-01/02 are PA-ML1-01/02 again: evaluated once, as those.
            let evaluated = r.same_as.as_deref().and_then(|id| cat.requirement(id)).unwrap_or(r);
            let mut result = outcome(evaluated, checks, answers);
            result.id.clone_from(&r.id);
            result.strategy = r.strategy.as_str().to_string();
            result.level = r.level;
            result.summary.clone_from(&r.summary);
            if evaluated.id != r.id {
                result.reason = format!("As {}: {}", evaluated.id, result.reason);
            }
            result
        })
        .collect();

    let strategies = levels(target, &requirements);
    Maturity {
        target,
        overall: strategies.iter().map(|s| s.level).min().unwrap_or(0),
        coverage: Coverage::of(requirements.iter().map(|r| r.outcome)),
        strategies,
        requirements,
    }
}

/// Each strategy's level at `target` from its requirements' outcomes (ASD's rule: level N
/// needs every requirement at N and below to count), in ASD's order, with what blocks the next.
/// Also what a run's exceptions are applied through (`super::exceptions`).
pub fn levels(target: u8, requirements: &[RequirementResult]) -> Vec<StrategyResult> {
    let cat = catalogue();
    Strategy::ALL
        .into_iter()
        .map(|strategy| {
            let unmet_at = |level: u8| -> Vec<String> {
                requirements
                    .iter()
                    .filter(|r| r.strategy == strategy.as_str() && !r.outcome.meets())
                    .filter(|r| cat.requirement(&r.id).is_some_and(|c| c.applies_at(level)))
                    .map(|r| r.id.clone())
                    .collect()
            };
            // Levels are awarded in order: N needs every level below it too.
            let level = (1..=target).take_while(|l| unmet_at(*l).is_empty()).last().unwrap_or(0);
            let blockers = if level < target { unmet_at(level + 1) } else { Vec::new() };
            StrategyResult { strategy, level, blockers }
        })
        .collect()
}

/// The worst quality among `evidence` (ASD: a conclusion is as good as its weakest evidence).
fn worst<'a>(evidence: impl IntoIterator<Item = &'a &'a CheckEvidence<'a>>) -> Option<EvidenceQuality> {
    evidence.into_iter().filter_map(|c| c.quality).max()
}

fn ids(checks: &[&CheckEvidence]) -> String {
    checks.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
}

/// One requirement's outcome: Graph evidence decides where it exists; where the requirement
/// has a question too, Graph shows only part of it, so passing checks need a `yes` as well.
fn outcome(r: &Requirement, checks: &[CheckEvidence], answers: &Answers) -> RequirementResult {
    let graph: Vec<&CheckEvidence> =
        r.check_ids.iter().filter_map(|id| checks.iter().find(|c| c.id == id.as_str())).collect();
    let with =
        |status: Status| -> Vec<&CheckEvidence> { graph.iter().copied().filter(|c| c.status == status).collect() };
    let (failed, passed, manual) = (with(Status::Fail), with(Status::Pass), with(Status::Manual));
    let answer = r.question_id.as_deref().and_then(|q| answers.get(q)).copied();
    let result = |outcome, source, evidence_quality, reason: String| RequirementResult {
        id: r.id.clone(),
        strategy: r.strategy.as_str().to_string(),
        level: r.level,
        outcome,
        source,
        evidence_quality,
        check_ids: r.check_ids.clone(),
        question_id: r.question_id.clone(),
        answer: answer.map(|a| a.as_str().to_string()),
        // Who gave it, when and the note are the runner's to add (it has the stored answers).
        answered_by: None,
        answered_at: None,
        note: None,
        summary: r.summary.clone(),
        reason,
        exception: None,
    };

    if !failed.is_empty() {
        return result(
            RequirementOutcome::Ineffective,
            Source::Graph,
            worst(&failed),
            format!("Failed on Microsoft Graph evidence: {}", ids(&failed)),
        );
    }
    // Every check that evidences it saw the tenant (none answered manual).
    let graph_complete = !graph.is_empty() && manual.is_empty();
    if graph_complete && passed.is_empty() {
        return result(
            RequirementOutcome::NotApplicable,
            Source::Graph,
            worst(&graph),
            format!("Does not apply to this tenant: {}", ids(&graph)),
        );
    }
    if graph_complete && r.question_id.is_none() {
        return result(
            RequirementOutcome::Effective,
            Source::Graph,
            worst(&graph),
            format!("Met on Microsoft Graph evidence: {}", ids(&passed)),
        );
    }
    let question = r.question_id.as_deref().unwrap_or_default();
    let seen = if graph_complete {
        format!("Microsoft Graph shows part of it ({} passed); ", ids(&passed))
    } else if !manual.is_empty() {
        format!("Microsoft Graph does not show it ({} could not judge it); ", ids(&manual))
    } else {
        String::new()
    };
    match answer {
        Some(Answer::Yes) => result(
            RequirementOutcome::Effective,
            Source::Questionnaire,
            Some(EvidenceQuality::Poor),
            format!("{seen}answered yes to {question} (attested)"),
        ),
        Some(a @ (Answer::Partly | Answer::No)) => result(
            RequirementOutcome::Ineffective,
            Source::Questionnaire,
            Some(EvidenceQuality::Poor),
            format!("{seen}answered {} to {question}", a.as_str()),
        ),
        Some(Answer::NotApplicable) => result(
            RequirementOutcome::NotApplicable,
            Source::Questionnaire,
            Some(EvidenceQuality::Poor),
            format!("{seen}answered not applicable to {question}"),
        ),
        Some(Answer::Unknown) | None => result(
            RequirementOutcome::NoVisibility,
            Source::None,
            None,
            if r.question_id.is_some() {
                let how = if answer.is_some() { "answered unknown" } else { "has no answer yet" };
                format!("No visibility: {seen}{question} {how}")
            } else {
                format!("No visibility: {seen}nothing else evidences it")
            },
        ),
    }
}
