//! Drift (contract, "Schedules, drift and portfolio"; issue 19): what failed in a completed run,
//! whether it is worse than the customer's previous completed run of the product
//! (`assessment.regressed`), which way it moved (the portfolio's `trend`), and the key a
//! ticketing integration opens one ticket per control with (`dedupeKey`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ids::RunId;
use super::run::{CheckStatus, RunReport};
use super::trend::LatestRun;

/// What failed in a run, by the unit the product is assessed in: for a run that assessed
/// Essential Eight requirements, every requirement whose outcome does not count towards a
/// level (`ineffective`, `no_visibility`, `not_implemented`: ASD's rule, so also a
/// `risk_accepted` one); for the other products (and runs without requirements), every check
/// that failed. A requirement above the run's target is not assessed, so never failing.
pub fn failing(report: &RunReport) -> BTreeSet<String> {
    if report.requirements.is_empty() {
        report.findings.iter().filter(|f| f.outcome == CheckStatus::Fail).map(|f| f.check_id.clone()).collect()
    } else {
        report.requirements.iter().filter(|r| !r.outcome.meets()).map(|r| r.id.clone()).collect()
    }
}

/// `{customerId}:{requirementId or checkId}`: the same for a control of a customer in every
/// run, so a receiver can open one ticket per control (contract).
pub fn dedupe_key(customer_id: &str, id: &str) -> String {
    format!("{customer_id}:{id}")
}

/// A completed run worse than the one before it: `assessment.regressed`'s data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regression {
    pub previous_run_id: RunId,
    /// Failing now and not in the previous run (`failing`), sorted.
    pub new_failures: Vec<String>,
    /// The previous and the new overall level (Essential Eight; `None` for the others).
    pub level_from: Option<u8>,
    pub level_to: Option<u8>,
}

/// Whether `now` regressed from `previous`: new failures, or a lower overall level. `None` on
/// a first run (no previous), and as far as `previous` does not say (a record from before issue
/// 19 has no failing set and no level: nothing is claimed).
pub fn regression(previous: Option<&LatestRun>, now: &LatestRun) -> Option<Regression> {
    let previous = previous?;
    let new_failures: Vec<String> = match (&previous.failing, &now.failing) {
        (Some(before), Some(after)) => after.difference(before).cloned().collect(),
        _ => Vec::new(),
    };
    let lower = matches!((previous.overall, now.overall), (Some(from), Some(to)) if to < from);
    (!new_failures.is_empty() || lower).then(|| Regression {
        previous_run_id: previous.run_id.clone(),
        new_failures,
        level_from: previous.overall,
        level_to: now.overall,
    })
}

/// Which way a customer's latest result moved since the run before it: `up`, `down`, `same`
/// on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    Up,
    Down,
    Same,
}

impl Trend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Same => "same",
        }
    }
}

/// The trend of a latest result: the overall level decides when both runs have one and they
/// differ (a level is what Essential Eight is judged by), else the score. `None` for a first
/// run, and when the run before is from before issue 19 (its score was not kept).
pub fn trend(latest: &LatestRun) -> Option<Trend> {
    let previous = latest.previous.as_ref()?;
    let levels = previous.overall.zip(latest.overall);
    let before = (levels.map(|(from, _)| from), previous.score?);
    let now = (levels.map(|(_, to)| to), latest.score?);
    Some(match now.cmp(&before) {
        std::cmp::Ordering::Greater => Trend::Up,
        std::cmp::Ordering::Less => Trend::Down,
        std::cmp::Ordering::Equal => Trend::Same,
    })
}
