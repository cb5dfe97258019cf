//! Plan changes (contract P2, and D9 on a sub-partner's behalf): at most
//! `PLAN_CHANGES_PER_HOUR` per partner, then through the billing port (proration there).

use super::UseCaseError;
use crate::billing::{Billing, PlanChange, PlanChangeRequest};
use crate::domain::account::Partner;
use crate::domain::time::Timestamp;
use crate::ratelimit;
use crate::store::LimitStore;

const HOUR: i64 = 3600;

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
