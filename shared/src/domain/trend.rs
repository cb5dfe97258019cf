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
/// with: its id, when it completed, and each counted check's outcome (not the report, so
/// comparing reads one small item).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestRun {
    pub run_id: RunId,
    pub completed_at: Timestamp,
    pub outcomes: BTreeMap<String, CheckStatus>,
}

impl LatestRun {
    /// The record of a run that completed at `completed_at` with these findings.
    pub fn of(run_id: RunId, completed_at: Timestamp, findings: &[Finding]) -> Self {
        Self { run_id, completed_at, outcomes: findings.iter().map(|f| (f.check_id.clone(), f.outcome)).collect() }
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
