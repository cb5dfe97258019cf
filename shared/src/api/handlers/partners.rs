//! A distributor's sub-partners: D2–D8.

use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::request::Fields;
use super::super::response::Reply;
use super::super::views;
use super::super::{App, Ctx};
use super::account::partner_usage;
use super::{create_each, event, sub_partner, Paging};
use crate::billing::PlanChangeRequest;
use crate::domain::account::{
    AccountStatus, BillingConfig, Distributor, Owner, Partner, Subscription, BILLING_CURRENCIES, BILLING_INTERVALS,
};
use crate::domain::event::EventType;
use crate::domain::ids::prefix;
use crate::domain::time::rfc3339;
use crate::store::StoreError;

pub const BULK_MAX: usize = 50;

/// Refuses work that needs an active partner.
pub fn require_active(partner: &Partner, doing: &str) -> Result<(), ApiError> {
    if partner.status == AccountStatus::Active {
        Ok(())
    } else {
        Err(ApiError::PartnerInactive(format!(
            "Partner {} is {}; activate it before {doing}.",
            partner.id,
            partner.status.as_str()
        )))
    }
}

fn read_plan(app: &App, f: &Fields, value: &str) -> Result<String, ApiError> {
    let ids: Vec<&str> = app.config.catalog.plans.iter().map(|p| p.id.as_str()).collect();
    f.one_of("plan", value, &ids)
}

fn read_new_partner(app: &App, mut f: Fields, distributor: &Distributor, now: i64) -> Result<Partner, ApiError> {
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
    Ok(Partner {
        id: app.new_id(prefix::PARTNER),
        distributor_id: Some(distributor.id.clone()),
        company,
        email,
        name: Some(name),
        plan,
        status: AccountStatus::Pending,
        subscription: Subscription::opening(Some(&billing), now),
        billing: Some(billing),
        customers_count: 0,
        created_at: now,
        updated_at: None,
        activated_at: None,
        suspended_at: None,
    })
}

async fn insert(app: &App, partner: &Partner) -> Result<(), ApiError> {
    match app.store.create_partner(partner).await {
        Ok(()) => Ok(()),
        Err(StoreError::PartnerExists) => Err(ApiError::PartnerExists(format!(
            "A partner with email {} already exists under this distributor.",
            partner.email
        ))),
        Err(e) => Err(e.into()),
    }
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
    let page = app.store.list_partners(&d.id, status, &paging.request).await?;
    let partners: Vec<Value> = page.items.iter().map(views::partner_summary).collect();
    Ok(Reply::ok(json!({ "partners": partners, "nextCursor": paging.next_cursor(app, page.next) })))
}

pub async fn create(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let partner = read_new_partner(app, Fields::parse(&ctx.body)?, ctx.distributor()?, ctx.now)?;
    insert(app, &partner).await?;
    Ok(Reply::created(views::partner_created(&partner)))
}

pub async fn bulk_create(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let d = ctx.distributor()?;
    create_each(ctx, "partners", BULK_MAX, "company", |fields| async move {
        let p = read_new_partner(app, fields, d, ctx.now)?;
        insert(app, &p).await?;
        Ok(json!({ "id": p.id, "company": p.company, "status": p.status.as_str() }))
    })
    .await
}

pub async fn get(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let partner = sub_partner(app, ctx).await?;
    let usage = partner_usage(app, &partner, ctx.now).await?;
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
    let mut partner = sub_partner(app, ctx).await?;

    if let Some(plan_id) = plan.as_deref().filter(|p| *p != partner.plan) {
        let plan = app.config.catalog.plan(plan_id).expect("chosen from the catalogue");
        let change = app
            .billing
            .change_plan(&partner, PlanChangeRequest { plan, billing: None, currency: None }, ctx.now)
            .await?;
        partner = change.partner;
    }
    if let Some((currency, interval)) = billing_patch {
        let current = partner.billing.clone().unwrap_or_default();
        let merged = BillingConfig {
            currency: currency.unwrap_or(current.currency),
            interval: interval.unwrap_or(current.interval),
        };
        partner = app.store.update_partner_terms(&partner.id, None, Some(&merged), None, ctx.now).await?;
    }
    Ok(Reply::ok(json!({
        "id": partner.id,
        "plan": partner.plan,
        "billing": views::billing(&partner.billing),
        "updatedAt": partner.updated_at.map(rfc3339),
    })))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Activate,
    Suspend,
}

/// D7 and D8: moves the partner and records the event, or answers its current state when it
/// is already there.
pub async fn transition(app: &App, ctx: &Ctx, to: Transition) -> Result<Reply, ApiError> {
    let partner = sub_partner(app, ctx).await?;
    let d = ctx.distributor()?;
    let (kind, status, field) = match to {
        Transition::Activate => (EventType::PartnerActivated, "active", "activatedAt"),
        Transition::Suspend => (EventType::PartnerSuspended, "suspended", "suspendedAt"),
    };
    let data = json!({ "partnerId": partner.id, "status": status, field: rfc3339(ctx.now) });
    let evt = event(app, kind, Owner::distributor(&d.id), None, ctx.now, data);
    let (change, at) = match to {
        Transition::Activate => {
            let c = app.store.activate_partner(&partner.id, ctx.now, &evt).await?;
            let at = c.partner.activated_at;
            (c, at)
        }
        Transition::Suspend => {
            let c = app.store.suspend_partner(&partner.id, ctx.now, &evt).await?;
            let at = c.partner.suspended_at;
            (c, at)
        }
    };
    Ok(Reply::ok(json!({ "id": change.partner.id, "status": change.partner.status.as_str(), field: at.map(rfc3339) })))
}
