//! A distributor's usage for a month (contract D14).

use super::UseCaseError;
use crate::domain::account::Distributor;
use crate::domain::time::Month;
use crate::domain::time::Timestamp;
use crate::domain::usage::MonthUsage;
use crate::store::UsageReportStore;
use crate::usage_report::live_usage;

/// The distributor's usage in `month`: a month that has ended is answered from its snapshot
/// once the usage report has closed it (so later changes never alter it); otherwise it is
/// counted live. `now` is unix seconds, UTC.
pub async fn month_usage(
    store: &dyn UsageReportStore,
    distributor: &Distributor,
    month: Month,
    now: Timestamp,
) -> Result<MonthUsage, UseCaseError> {
    let closed = if month < Month::of(now) { store.usage_snapshot(&distributor.id, month).await? } else { None };
    Ok(match closed {
        Some(snapshot) => snapshot.usage,
        None => live_usage(store, &distributor.id, month).await?,
    })
}
