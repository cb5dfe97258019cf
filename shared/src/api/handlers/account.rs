//! P1, D1 (the caller's own profile) and P3 (products on the plan).

use serde_json::json;

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::{App, Ctx};
use crate::domain::account::Partner;
use crate::domain::catalog::Plan;
use crate::domain::time::{rfc3339, Month};
use crate::store::{Got, Want};
use crate::usecases::usage;
use crate::views;

/// The partner's plan; a plan missing from the catalogue is a configuration fault.
fn plan_of<'a>(app: &'a App, partner: &Partner) -> Result<&'a Plan, ApiError> {
    Ok(crate::usecases::runs::plan_of(&app.config.catalog, partner)?)
}

/// `usage` for the current month as P1 and D5 show it (the counter as the pipeline read it
/// with the account, else read here).
pub(super) async fn partner_usage(app: &App, ctx: &Ctx, partner: &Partner) -> Result<serde_json::Value, ApiError> {
    let month = Month::of(ctx.now);
    let used = match ctx.prefetched(&Want::RunsUsed { partner_id: partner.id.to_string(), month }) {
        Some(Got::RunsUsed(n)) => *n,
        _ => usage::runs_used(app.store.as_ref(), partner, month).await?,
    };
    let limit = plan_of(app, partner)?.runs_limit_shown();
    Ok(views::partner_usage(&month.to_string(), used, limit, partner.customers_count))
}

pub async fn partner_me(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let partner = ctx.partner()?;
    let usage = partner_usage(app, ctx, partner).await?;
    Ok(Reply::ok(views::partner_me(partner, usage)))
}

pub fn products(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let plan = plan_of(app, ctx.partner()?)?;
    let products: Vec<_> = app
        .config
        .catalog
        .products_on(plan)
        .into_iter()
        .map(|p| json!({ "id": p.id, "name": p.name, "category": p.category, "estimatedDuration": p.estimated_duration }))
        .collect();
    Ok(Reply::ok(json!({ "products": products })))
}

pub async fn distributor_me(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let d = ctx.distributor()?;
    let month = Month::of(ctx.now);
    let ids = partner_ids(ctx, &d.id);
    let totals = usage::distributor_totals(app.store.as_ref(), d, month, ids).await?;
    Ok(Reply::ok(json!({
        "id": d.id,
        "company": d.company,
        "email": d.email,
        "status": d.status.as_str(),
        "partnersCount": totals.partners,
        "usage": { "month": month.to_string(), "totalRuns": totals.runs, "totalCustomers": totals.customers },
        "createdAt": rfc3339(d.created_at),
    })))
}

/// The distributor's partner ids as the pipeline read them with the account (`None`: not
/// known in that read; the use case reads the partners itself).
pub(super) fn partner_ids<'a>(ctx: &'a Ctx, distributor_id: &str) -> Option<&'a [String]> {
    match ctx.prefetched(&Want::PartnerIds(distributor_id.to_string())) {
        Some(Got::PartnerIds(Some(ids))) => Some(ids.as_slice()),
        _ => None,
    }
}
