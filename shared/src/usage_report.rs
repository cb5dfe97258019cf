//! The monthly usage report (`schedule.usage-report`): closes the previous month into one
//! immutable snapshot per distributor. Snapshots are written only if absent, so running the
//! report again (a retry, a second schedule) changes nothing.

use std::sync::Arc;

use crate::domain::account::Partner;
use crate::domain::time::Timestamp;
use crate::domain::time::{Clock, Month};
use crate::domain::usage::{MonthUsage, UsageSnapshot};
use crate::store::{Got, LiveUsageStore, StoreResult, UsageReportStore, Want};

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
    live_usage_of(store, distributor_id, month, None).await
}

/// [`live_usage`] when the distributor's partner ids are known (`Got::PartnerIds`, read with
/// the account): see [`partners_and_runs`].
pub async fn live_usage_of(
    store: &dyn LiveUsageStore,
    distributor_id: &str,
    month: Month,
    ids: Option<&[String]>,
) -> StoreResult<MonthUsage> {
    let (partners, runs) = partners_and_runs(store, distributor_id, month, ids).await?;
    Ok(MonthUsage::tally(month, &partners, &runs))
}

/// The distributor's partners (ascending by id) and the runs each counted in `month` (those
/// with none left out). With `ids` (every partner id of the distributor), one
/// `read_together` of each partner and its counter (on DynamoDB one strongly consistent
/// `BatchGetItem` per 50 partners; issue 16); without, `all_partners` and the counters' GSI1
/// query (eventually consistent).
pub async fn partners_and_runs(
    store: &dyn LiveUsageStore,
    distributor_id: &str,
    month: Month,
    ids: Option<&[String]>,
) -> StoreResult<(Vec<Partner>, Vec<(String, u32)>)> {
    let Some(ids) = ids else {
        let partners = store.all_partners(distributor_id).await?;
        return Ok((partners, store.runs_used_by_partners(distributor_id, month).await?));
    };
    let wants: Vec<Want> = ids
        .iter()
        .flat_map(|id| [Want::Partner(id.clone()), Want::RunsUsed { partner_id: id.clone(), month }])
        .collect();
    let (mut partners, mut runs) = (Vec::new(), Vec::new());
    for (want, got) in wants.iter().zip(store.read_together(&wants).await?) {
        match (want, got) {
            (_, Got::Partner(Some(p))) => partners.push(p),
            (Want::RunsUsed { partner_id, .. }, Got::RunsUsed(n)) if n > 0 => runs.push((partner_id.clone(), n)),
            _ => {}
        }
    }
    Ok((partners, runs))
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
