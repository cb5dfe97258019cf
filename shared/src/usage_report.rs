//! The monthly usage report (`schedule.usage-report`): closes the previous month into one
//! immutable snapshot per distributor. Snapshots are written only if absent, so running the
//! report again (a retry, a second schedule) changes nothing.

use std::sync::Arc;

use crate::domain::time::Timestamp;
use crate::domain::time::{Clock, Month};
use crate::domain::usage::{MonthUsage, UsageSnapshot};
use crate::store::{LiveUsageStore, StoreResult, UsageReportStore};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    pub month: String,
    /// Distributors with a snapshot for the month (written now or before).
    pub distributors: usize,
    /// Snapshots written by this run (0 when the month was closed already).
    pub written: usize,
}

/// The scheduled report (`schedule.usage-report`), as the composition root builds it.
pub struct UsageReport {
    pub store: Arc<dyn UsageReportStore>,
    pub clock: Arc<dyn Clock>,
}

impl UsageReport {
    /// Closes the month before the clock's current one; see [`close_previous_month`].
    pub async fn run(&self) -> StoreResult<Closed> {
        close_previous_month(self.store.as_ref(), self.clock.now()).await
    }
}

/// The month before the one `now` falls in.
pub fn previous_month(now: Timestamp) -> Month {
    Month::of(Month::of(now).start() - 1)
}

/// A distributor's usage for a month, counted from the live data (what D14 answers for a
/// month that has no snapshot).
pub async fn live_usage(store: &dyn LiveUsageStore, distributor_id: &str, month: Month) -> StoreResult<MonthUsage> {
    let partners = store.all_partners(distributor_id).await?;
    let runs = store.runs_used_by_partners(distributor_id, month).await?;
    Ok(MonthUsage::tally(month, &partners, &runs))
}

pub async fn close_previous_month(store: &dyn UsageReportStore, now: Timestamp) -> StoreResult<Closed> {
    close_month(store, previous_month(now), now).await
}

/// Closes `month` (one that has ended) for every distributor that has no snapshot of it yet.
pub async fn close_month(store: &dyn UsageReportStore, month: Month, now: Timestamp) -> StoreResult<Closed> {
    let (mut count, mut written) = (0, 0);
    for distributor_id in store.distributor_ids().await? {
        count += 1;
        if store.usage_snapshot(&distributor_id, month).await?.is_some() {
            continue;
        }
        let usage = live_usage(store, &distributor_id, month).await?;
        if store
            .close_usage_month(&UsageSnapshot { distributor_id: distributor_id.into(), usage, closed_at: now })
            .await?
        {
            written += 1;
        }
    }
    Ok(Closed { month: month.to_string(), distributors: count, written })
}
