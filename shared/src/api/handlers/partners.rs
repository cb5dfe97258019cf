//! A distributor's sub-partners: D2–D8.

use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::request::Fields;
use super::super::response::Reply;
use super::super::{App, Ctx};
use super::account::partner_usage;
use super::{create_each, sub_partner, Paging};
use crate::domain::account::{AccountStatus, BillingConfig, BILLING_CURRENCIES, BILLING_INTERVALS};
use crate::domain::time::rfc3339;
use crate::usecases::partners::{self, BillingPatch, NewPartner};
use crate::views;

pub const BULK_MAX: usize = 50;

pub use crate::usecases::partners::require_active;

fn read_plan(app: &App, f: &Fields, value: &str) -> Result<String, ApiError> {
    let ids: Vec<&str> = app.config.catalog.plans.iter().map(|p| p.id.as_str()).collect();
    f.one_of("plan", value, &ids)
}

fn read_new_partner(app: &App, mut f: Fields) -> Result<NewPartner, ApiError> {
    let email = f.req_str("email")?;
    let email = f.email("email", email)?.lowercased();
    let company = f.req_str("company")?;
    let company = f.display_name("company", company)?;
    let name = f.req_str("name")?;
    let name = f.display_name("name", name)?;
    let plan = f.req_str("plan")?;
    let plan = read_plan(app, &f, &plan)?;
    let mut b = f.req_object("billing")?;
    let currency = b.req_str("currency")?;
    let currency = b.one_of("currency", &currency, BILLING_CURRENCIES)?;
    let interval = b.opt_str("interval")?.map(|i| b.one_of("interval", &i, BILLING_INTERVALS)).transpose()?;
    b.finish()?;
    f.finish()?;
    let billing = BillingConfig { currency, interval: interval.unwrap_or_else(|| BillingConfig::default().interval) };
    Ok(NewPartner { email, company, name, plan, billing })
}

pub async fn list(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let d = ctx.distributor()?;
    let status = ctx
        .query
        .get("status")
        .map(|s| {
            AccountStatus::parse(s).ok_or_else(|| {
                ApiError::InvalidField(format!("status must be one of active, suspended, pending, got {s:?}."))
            })
        })
        .transpose()?;
    let paging = Paging::read(app, ctx, status.map_or("", |s| s.as_str()))?;
    let ids = super::account::partner_ids(ctx, &d.id);
    let store = app.store.as_ref();
    let page = partners::list(store, store, d, status, &paging.request, ids).await?;
    let partners: Vec<Value> = page.items.iter().map(views::partner_summary).collect();
    Ok(Reply::ok(json!({ "partners": partners, "nextCursor": paging.next_cursor(app, page.next) })))
}

pub async fn create(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let new = read_new_partner(app, Fields::parse(&ctx.body)?)?;
    let mut partner = partners::build(ctx.ids(app), ctx.distributor()?, new, ctx.now);
    // Stripe first: a Stripe failure answers 500 with nothing stored.
    partner.subscription = app.billing.open(&partner, ctx.now).await?;
    partners::create(app.store.as_ref(), ctx.ids(app), ctx.distributor()?, &partner, ctx.now).await?;
    Ok(Reply::created(views::partner_created(&partner)))
}

pub async fn bulk_create(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let d = ctx.distributor()?;
    create_each(ctx, "partners", BULK_MAX, "company", |fields| async move {
        let mut p = partners::build(ctx.ids(app), d, read_new_partner(app, fields)?, ctx.now);
        p.subscription = app.billing.open(&p, ctx.now).await?;
        partners::create(app.store.as_ref(), ctx.ids(app), d, &p, ctx.now).await?;
        Ok(json!({ "id": p.id, "company": p.company, "status": p.status.as_str() }))
    })
    .await
}

pub async fn get(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let partner = sub_partner(app, ctx).await?;
    let usage = partner_usage(app, ctx, &partner).await?;
    Ok(Reply::ok(views::partner_detail(&partner, usage)))
}

pub async fn update(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let mut f = Fields::parse(&ctx.body)?;
    let plan = f.opt_str("plan")?.map(|p| read_plan(app, &f, &p)).transpose()?;
    let billing_patch = match f.opt_object("billing")? {
        None => None,
        Some(mut b) => {
            let currency = b.opt_str("currency")?.map(|c| b.one_of("currency", &c, BILLING_CURRENCIES)).transpose()?;
            let interval = b.opt_str("interval")?.map(|i| b.one_of("interval", &i, BILLING_INTERVALS)).transpose()?;
            b.finish()?;
            Some((currency, interval))
        }
    };
    f.finish()?;
    let partner = sub_partner(app, ctx).await?;
    let plan = plan.map(|p| app.config.catalog.plan(&p).expect("chosen from the catalogue"));
    let partner = partners::update_terms(
        app.store.as_ref(),
        app.billing.as_ref(),
        ctx.ids(app),
        partner.clone(),
        plan,
        app.config.catalog.plan(&partner.plan),
        billing_patch.map(|(currency, interval)| BillingPatch { currency, interval }),
        ctx.now,
    )
    .await?;
    Ok(Reply::ok(json!({
        "id": partner.id,
        "plan": partner.plan,
        "billing": views::billing(&partner.billing),
        "updatedAt": partner.updated_at.map(rfc3339),
    })))
}

pub use crate::usecases::partners::Transition;

/// D7 and D8: moves the partner and records the event, or answers its current state when it
/// is already there.
pub async fn transition(app: &App, ctx: &Ctx, to: Transition) -> Result<Reply, ApiError> {
    let partner = sub_partner(app, ctx).await?;
    let d = ctx.distributor()?;
    let (partner, at) = partners::transition(app.store.as_ref(), ctx.ids(app), d, &partner, to, ctx.now).await?;
    Ok(Reply::ok(json!({ "id": partner.id, "status": partner.status.as_str(), to.time_field(): at.map(rfc3339) })))
}
