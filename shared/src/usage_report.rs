//! The monthly usage report (`schedule.usage-report`): closes the previous month into one
//! immutable snapshot per distributor. Snapshots are written only if absent, so running the
//! report again (a retry, a second schedule) changes nothing.

use crate::domain::time::Month;
use crate::store::dynamo::{DynamoStore, UsageSnapshot};
use crate::store::{RunStore, StoreResult};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    pub month: String,
    /// Distributors with a snapshot for the month (written now or before).
    pub distributors: usize,
}

/// The month before the one `now` falls in.
pub fn previous_month(now: i64) -> Month {
    Month::of(Month::of(now).start() - 1)
}

pub async fn close_previous_month(store: &DynamoStore, now: i64) -> StoreResult<Closed> {
    close_month(store, previous_month(now), now).await
}

pub async fn close_month(store: &DynamoStore, month: Month, now: i64) -> StoreResult<Closed> {
    let mut count = 0;
    for distributor_id in store.distributor_ids().await? {
        let mut partners = store.runs_used_by_partners(&distributor_id, month).await?;
        partners.sort();
        let snapshot = UsageSnapshot { distributor_id, month: month.to_string(), partners, closed_at: now };
        store.put_usage_snapshot(&snapshot).await?;
        count += 1;
    }
    Ok(Closed { month: month.to_string(), distributors: count })
}
