//! Plan changes (contract P2, and D9 on a sub-partner's behalf): at most
//! `PLAN_CHANGES_PER_HOUR` per partner, then through the billing port (proration there).

use super::{Ids, UseCaseError};
use crate::billing::{Billing, PlanChange, PlanChangeRequest};
use crate::domain::account::Partner;
use crate::domain::audit::{Action, AuditEntry, Changes, Target, TargetType};
use crate::domain::time::Timestamp;
use crate::ratelimit;
use crate::store::LimitStore;

const HOUR: i64 = 3600;

/// The audit entry of a plan change of `partner` by `ids`' actor, for
/// [`PlanChangeRequest::audit`]: `plan.changed` on the partner, seen by the partner and its
/// distributor (a distributor's change, D9, is under the distributor's id as its actor);
/// billing fills in what changed.
pub fn audit_draft(ids: Ids<'_>, partner: &Partner, now: Timestamp) -> AuditEntry {
    ids.audit(Action::PlanChanged, Target::new(TargetType::Partner, partner.id.as_str()), Changes::new(), now)
        .seen_by_partner(&partner.id, partner.distributor_id.as_deref())
}

/// Counts the attempt in the partner's hourly window, then asks billing for the change.
/// Every well-formed attempt counts, including ones billing refuses. Errors: `RateLimited`
/// (with the seconds until the window ends), `PlanChangeFailed` (billing refused).
pub async fn change_plan(
    limits: &dyn LimitStore,
    billing: &dyn Billing,
    per_hour: u32,
    partner: &Partner,
    request: PlanChangeRequest<'_>,
    now: Timestamp,
) -> Result<PlanChange, UseCaseError> {
    let window = ratelimit::hit(limits, &format!("PLAN#{}", partner.id), per_hour, HOUR, now).await?;
    if window.exceeded {
        return Err(UseCaseError::RateLimited { retry_after: window.retry_after(now) });
    }
    Ok(billing.change_plan(partner, request, now).await?)
}
