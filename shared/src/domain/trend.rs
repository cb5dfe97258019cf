//! A completed run compared with its customer's previous completed run of the same product
//! (contract, "Assessment results"): what failed anew, what was fixed, what still fails.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::RunId;
use super::run::{CheckStatus, Finding};
use super::time::Timestamp;

/// How one check's outcome moved since the previous run: `new`, `persisting`, `fixed` or
/// `unchanged` on the wire and in storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Fails now and did not last time (passed, had no evidence, or was not counted).
    New,
    /// Failed last time and fails now.
    Persisting,
    /// Failed last time and passes now.
    Fixed,
    /// Passed last time and passes now.
    Unchanged,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Persisting => "persisting",
            Self::Fixed => "fixed",
            Self::Unchanged => "unchanged",
        }
    }

    /// The change from `before` (absent: the check was not counted last time) to `now`.
    /// `None` where the contract's four words do not fit: a check with no evidence now
    /// (manual, not applicable), or one that passes now and had none last time. Either way
    /// nothing is claimed: no evidence is never "fixed".
    pub fn between(before: Option<CheckStatus>, now: CheckStatus) -> Option<Self> {
        match (before, now) {
            (Some(CheckStatus::Fail), CheckStatus::Fail) => Some(Self::Persisting),
            (_, CheckStatus::Fail) => Some(Self::New),
            (Some(CheckStatus::Fail), CheckStatus::Pass) => Some(Self::Fixed),
            (Some(CheckStatus::Pass), CheckStatus::Pass) => Some(Self::Unchanged),
            _ => None,
        }
    }
}

/// P13's `changes`: how many checks failed anew, were fixed, still fail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    pub new_failures: u32,
    pub fixed: u32,
    pub persisting: u32,
}

/// A customer's latest completed run of one product, as kept for the next run to compare
/// with and for the portfolio (issue 19) to list: its id, when it completed, each counted
/// check's outcome, its score and levels, what failed, and the run before it (not the report,
/// so comparing and listing read one small item each).
///
/// The fields after `outcomes` came with issue 19: a record written before lacks them (they
/// read as `None`/empty), so the run after it has no trend and never regresses against it
/// (`domain::drift`); the record that run writes has them all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestRun {
    pub run_id: RunId,
    pub completed_at: Timestamp,
    pub outcomes: BTreeMap<String, CheckStatus>,
    /// The run's score (0–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    /// Essential Eight: the overall maturity level (0–3); `None` for the other products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overall: Option<u8>,
    /// Essential Eight: each strategy's level (strategy slug → 0–3).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_strategy: BTreeMap<String, u8>,
    /// What failed (`domain::drift::failing`): the requirement ids not met for a run that
    /// assessed requirements, else the failed check ids. `None` in records before issue 19.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing: Option<std::collections::BTreeSet<String>>,
    /// The customer's completed run of the product before this one, as far as the trend needs
    /// it; `None` for a first run (and in records before issue 19).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousResult>,
    /// The partner's distributor, if any: the portfolio entry the distributor lists is
    /// written beside the partner's (docs/storage.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributor_id: Option<super::ids::DistributorId>,
}

/// The run before a latest run: its id, score and overall level (for `trend`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousResult {
    pub run_id: RunId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overall: Option<u8>,
}

impl LatestRun {
    /// The record of a run that completed at `completed_at` with these findings, and nothing
    /// else known (what the record was before issue 19; [`LatestRun::after`] makes a whole one).
    pub fn of(run_id: RunId, completed_at: Timestamp, findings: &[Finding]) -> Self {
        Self {
            run_id,
            completed_at,
            outcomes: findings.iter().map(|f| (f.check_id.clone(), f.outcome)).collect(),
            score: None,
            overall: None,
            by_strategy: BTreeMap::new(),
            failing: None,
            previous: None,
            distributor_id: None,
        }
    }

    /// The whole record of a run that completed at `completed_at` with `score` and `report`,
    /// following `previous` (the customer's latest before it, `None` for a first run).
    pub fn after(
        previous: Option<&LatestRun>,
        run_id: RunId,
        completed_at: Timestamp,
        score: u8,
        report: &super::run::RunReport,
        distributor_id: Option<super::ids::DistributorId>,
    ) -> Self {
        Self {
            score: Some(score),
            overall: report.maturity,
            by_strategy: report.maturity_by_strategy.iter().map(|m| (m.strategy.clone(), m.level)).collect(),
            failing: Some(super::drift::failing(report)),
            previous: previous.map(|p| PreviousResult { run_id: p.run_id.clone(), score: p.score, overall: p.overall }),
            distributor_id,
            ..Self::of(run_id, completed_at, &report.findings)
        }
    }
}

/// Sets each finding's `change` against `previous` (none on a first run) and returns the
/// counts; `None` for a first run, which has no `changes`.
pub fn compare(previous: Option<&LatestRun>, findings: &mut [Finding]) -> Option<Changes> {
    let Some(previous) = previous else {
        for f in findings.iter_mut() {
            f.change = None;
        }
        return None;
    };
    let mut changes = Changes::default();
    for f in findings.iter_mut() {
        f.change = Change::between(previous.outcomes.get(&f.check_id).copied(), f.outcome);
        match f.change {
            Some(Change::New) => changes.new_failures += 1,
            Some(Change::Fixed) => changes.fixed += 1,
            Some(Change::Persisting) => changes.persisting += 1,
            Some(Change::Unchanged) | None => {}
        }
    }
    Some(changes)
}
