//! A distributor's usage for a month (contract D14).

use super::UseCaseError;
use crate::domain::account::{Distributor, Partner};
use crate::domain::time::Month;
use crate::domain::time::Timestamp;
use crate::domain::usage::MonthUsage;
use crate::store::{LiveUsageStore, RunStore, UsageReportStore};
use crate::usage_report::{live_usage_of, partners_and_runs};

/// The distributor's usage in `month`: a month that has ended is answered from its snapshot
/// once the usage report has closed it (so later changes never alter it); otherwise it is
/// counted live. `now` is the current time; `ids` the distributor's partner ids when already
/// read (`Got::PartnerIds`; see `usage_report::partners_and_runs`).
pub async fn month_usage(
    store: &dyn UsageReportStore,
    distributor: &Distributor,
    month: Month,
    now: Timestamp,
    ids: Option<&[String]>,
) -> Result<MonthUsage, UseCaseError> {
    let closed = if month < Month::of(now) { store.usage_snapshot(&distributor.id, month).await? } else { None };
    Ok(match closed {
        Some(snapshot) => snapshot.usage,
        None => live_usage_of(store, &distributor.id, month, ids).await?,
    })
}

/// Runs the partner has used in `month` (P1's and D5's `usage`).
pub async fn runs_used(runs: &dyn RunStore, partner: &Partner, month: Month) -> Result<u32, UseCaseError> {
    Ok(runs.runs_used(&partner.id, month).await?)
}

/// D1's totals for `month`: partners, runs used and customers, across the distributor's partners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DistributorTotals {
    pub partners: usize,
    pub runs: u64,
    pub customers: u64,
}

/// The distributor's totals for `month`, counted live; `ids` as for [`month_usage`].
pub async fn distributor_totals(
    store: &dyn LiveUsageStore,
    distributor: &Distributor,
    month: Month,
    ids: Option<&[String]>,
) -> Result<DistributorTotals, UseCaseError> {
    let (partners, runs) = partners_and_runs(store, &distributor.id, month, ids).await?;
    let runs = runs.iter().map(|(_, n)| u64::from(*n)).sum();
    let customers = partners.iter().map(|p| u64::from(p.customers_count)).sum();
    Ok(DistributorTotals { partners: partners.len(), runs, customers })
}
