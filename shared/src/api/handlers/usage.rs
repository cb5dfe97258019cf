//! D14: a distributor's usage across its sub-partners for a month.

use std::collections::HashMap;

use serde_json::json;

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::{App, Ctx};
use crate::domain::account::AccountStatus;
use crate::domain::time::Month;

pub async fn get(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let d = ctx.distributor()?;
    let month = match ctx.query.get("month") {
        None => Month::of(ctx.now),
        Some(m) => {
            Month::parse(m).ok_or_else(|| ApiError::InvalidField(format!("month must be YYYY-MM, got {m:?}.")))?
        }
    };
    let partners = app.store.all_partners(&d.id).await?;
    let runs: HashMap<String, u32> = app.store.runs_used_by_partners(&d.id, month).await?.into_iter().collect();
    let by_partner: Vec<_> = partners
        .iter()
        .map(|p| {
            json!({
                "partnerId": p.id,
                "company": p.company,
                "runs": runs.get(&p.id).copied().unwrap_or(0),
                "customers": p.customers_count,
            })
        })
        .collect();
    Ok(Reply::ok(json!({
        "month": month.to_string(),
        "totalPartners": partners.len(),
        "activePartners": partners.iter().filter(|p| p.status == AccountStatus::Active).count(),
        "totalCustomers": partners.iter().map(|p| u64::from(p.customers_count)).sum::<u64>(),
        "totalRuns": runs.values().map(|n| u64::from(*n)).sum::<u64>(),
        "byPartner": by_partner,
    })))
}
