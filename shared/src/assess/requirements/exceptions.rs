//! A customer's exceptions applied to a run's requirement outcomes, after ASD's rule decided
//! them (contract, "Tenant context and exceptions"; issue 18). Kept apart from the rule: the
//! evidence decides first, then an exception may change what the evidence left unmet.
//!
//! - `alternate_control`: the objective is met another way. The outcome becomes
//!   `alternate_control`, which counts towards its level, as ASD's rule allows.
//! - `risk_accepted`: the outcome stays as it was (unmet), the record carries the exception
//!   (shown as accepted), and it never counts towards a level.
//!
//! Only an exception unexpired at the run's time applies (one that expired stops applying at
//! the next run), and only to a requirement the evidence left unmet: a requirement already met
//! needs none. When a requirement has several, the newest applies.

use super::rule::{levels, RequirementResult};
use crate::domain::context::{AppliedException, Exception, ExceptionKind};
use crate::domain::requirement::{Coverage, RequirementOutcome};
use crate::domain::run::{RunReport, StrategyLevel};
use crate::domain::time::Timestamp;

/// Applies `exceptions` (in creation order) to one requirement's record at `at`; returns
/// whether it changed.
pub fn apply_to(record: &mut RequirementResult, exceptions: &[Exception], at: Timestamp) -> bool {
    if record.outcome.meets() {
        return false;
    }
    let Some(e) = exceptions.iter().rev().find(|e| e.requirement_id == record.id && e.applies_at(at)) else {
        return false;
    };
    let by = format!("{}, approved by {} until {}", e.id, e.approved_by, e.expires_at.rfc3339());
    match e.kind {
        ExceptionKind::AlternateControl => {
            let control = e.compensating_control.as_deref().unwrap_or_default();
            record.reason = format!("Alternate control ({by}): {control}. Without it: {}", record.reason);
            record.outcome = RequirementOutcome::AlternateControl;
        }
        ExceptionKind::RiskAccepted => {
            record.reason = format!("Risk accepted ({by}), not met: {}", record.reason);
        }
    }
    record.exception = Some(AppliedException::from(e));
    true
}

/// Applies `exceptions` to every requirement of `report` (a run at maturity `target`, at
/// `at`) and recomputes what follows from the outcomes: each strategy's level and blockers,
/// the overall level and the coverage. A report without requirements (another product) is
/// left as it is.
pub fn apply(report: &mut RunReport, target: u8, exceptions: &[Exception], at: Timestamp) {
    if report.requirements.is_empty() || exceptions.is_empty() {
        return;
    }
    let mut changed = false;
    for record in &mut report.requirements {
        changed |= apply_to(record, exceptions, at);
    }
    if !changed {
        return;
    }
    let strategies = levels(target, &report.requirements);
    report.maturity = strategies.iter().map(|s| s.level).min();
    report.maturity_by_strategy = strategies
        .iter()
        .map(|s| StrategyLevel { strategy: s.strategy.as_str().into(), level: s.level, blockers: s.blockers.clone() })
        .collect();
    report.coverage = Some(Coverage::of(report.requirements.iter().map(|r| r.outcome)));
}
