//! Plan changes: P2 (own plan) and D9 (on a sub-partner's behalf), through the billing port.

use serde_json::json;

use super::super::error::ApiError;
use super::super::request::Fields;
use super::super::response::Reply;
use super::super::{App, Ctx};
use crate::billing::PlanChangeRequest;
use crate::domain::account::{Partner, SUBSCRIPTION_BILLINGS, SUBSCRIPTION_CURRENCIES};
use crate::domain::time::rfc3339;
use crate::usecases::plans;

/// One of `allowed`, or PLAN_CHANGE_FAILED (the reference's code for a bad plan or billing).
fn choice(field: &str, value: &str, allowed: &[&str]) -> Result<String, ApiError> {
    let v = value.trim().to_ascii_lowercase();
    if allowed.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(ApiError::PlanChangeFailed(format!("{field} must be one of {}, got {value:?}.", allowed.join(", "))))
    }
}

pub async fn change(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let mut f = Fields::parse(&ctx.body)?;
    let plan = f.req_str("plan")?;
    let billing = f.opt_str("billing")?;
    let currency = f.opt_str("currency")?;
    f.finish()?;
    let plan_ids: Vec<&str> = app.config.catalog.plans.iter().map(|p| p.id.as_str()).collect();
    let plan = choice("plan", &plan, &plan_ids)?;
    let plan = app.config.catalog.plan(&plan).expect("chosen from the catalogue");
    let billing = billing.map(|b| choice("billing", &b, SUBSCRIPTION_BILLINGS)).transpose()?;
    let currency = currency.map(|c| choice("currency", &c, SUBSCRIPTION_CURRENCIES)).transpose()?;

    let audit = Some(plans::audit_draft(ctx.ids(app), partner, ctx.now));
    let request = PlanChangeRequest { plan, billing: billing.as_deref(), currency: currency.as_deref(), audit };
    let change = plans::change_plan(
        app.store.as_ref(),
        app.billing.as_ref(),
        app.config.plan_changes_per_hour,
        partner,
        request,
        ctx.now,
    )
    .await?;
    let sub = &change.partner.subscription;
    tracing::info!(
        partner_id = partner.id.as_str(),
        by = ctx.principal.owner().id.as_str(),
        plan = plan.id.as_str(),
        "plan changed"
    );
    Ok(Reply::ok(json!({
        "partnerId": partner.id,
        "plan": change.partner.plan,
        "billing": sub.billing,
        "currency": sub.currency,
        "runLimit": plan.runs_limit_shown(),
        "subscriptionStatus": sub.status,
        "currentPeriodEnd": rfc3339(change.current_period_end),
    })))
}
