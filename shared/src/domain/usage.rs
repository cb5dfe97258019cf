//! A distributor's usage for a month (D14), and the immutable snapshot of a closed month that
//! the usage report writes once.

use crate::domain::time::Timestamp;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::account::{AccountStatus, Partner};
use super::time::Month;

/// One partner's line in a month's usage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerUsage {
    pub partner_id: crate::domain::ids::PartnerId,
    pub company: String,
    /// Runs counted in the month.
    pub runs: u32,
    /// Customers the partner had when the usage was tallied.
    pub customers: u32,
}

/// What D14 shows for a distributor and a month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthUsage {
    pub month: Month,
    pub total_partners: u64,
    pub active_partners: u64,
    pub total_customers: u64,
    pub total_runs: u64,
    /// Every partner of the distributor, in the order the store lists them.
    pub by_partner: Vec<PartnerUsage>,
}

impl MonthUsage {
    /// Tallies a month from the distributor's partners (as they are now) and the runs counted
    /// in the month per partner.
    pub fn tally(month: Month, partners: &[Partner], runs_by_partner: &[(String, u32)]) -> Self {
        let runs: HashMap<&str, u32> = runs_by_partner.iter().map(|(p, n)| (p.as_str(), *n)).collect();
        Self {
            month,
            total_partners: partners.len() as u64,
            active_partners: partners.iter().filter(|p| p.status == AccountStatus::Active).count() as u64,
            total_customers: partners.iter().map(|p| u64::from(p.customers_count)).sum(),
            total_runs: runs.values().map(|n| u64::from(*n)).sum(),
            by_partner: partners
                .iter()
                .map(|p| PartnerUsage {
                    partner_id: p.id.clone(),
                    company: p.company.clone(),
                    runs: runs.get(p.id.as_str()).copied().unwrap_or(0),
                    customers: p.customers_count,
                })
                .collect(),
        }
    }

    /// The D14 body.
    pub fn to_json(&self) -> Value {
        let by_partner: Vec<_> = self
            .by_partner
            .iter()
            .map(|p| {
                json!({
                    "partnerId": p.partner_id,
                    "company": p.company,
                    "runs": p.runs,
                    "customers": p.customers,
                })
            })
            .collect();
        json!({
            "month": self.month.to_string(),
            "totalPartners": self.total_partners,
            "activePartners": self.active_partners,
            "totalCustomers": self.total_customers,
            "totalRuns": self.total_runs,
            "byPartner": by_partner,
        })
    }
}

/// A closed month's usage of one distributor, as the usage report wrote it. Written once and
/// never changed, even if the data it was tallied from changes later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageSnapshot {
    pub distributor_id: crate::domain::ids::DistributorId,
    pub usage: MonthUsage,
    pub closed_at: Timestamp,
}

impl UsageSnapshot {
    pub fn month(&self) -> Month {
        self.usage.month
    }
}
