//! Schedules (contract, "Schedules, drift and portfolio"): `GET/POST
//! /customers/{id}/schedules`, `PATCH/DELETE /customers/{id}/schedules/{scheduleId}`, and the
//! distributor's same routes under `/partners/{id}/customers/{customerId}/…`.

use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::request::Fields;
use super::super::response::Reply;
use super::super::{App, Ctx};
use super::Paging;
use crate::domain::account::Partner;
use crate::domain::schedule::{parse_weekday, Cadence, Schedule, WEEKDAYS};
use crate::usecases::customers;
use crate::usecases::schedules::{self as uc, ScheduleDraft};

/// `{id, customerId, product, maturityTarget, cadence, dayOfMonth, dayOfWeek, hourUtc, enabled,
/// nextRunAt, lastRunId, lastError, createdAt, updatedAt}`; `lastError` is `{code, message, at}`
/// or null, the day field of the other cadence kind null.
pub fn schedule_view(x: &Schedule) -> Value {
    json!({
        "id": x.id,
        "customerId": x.customer_id,
        "product": x.product,
        "maturityTarget": x.maturity_target,
        "cadence": x.cadence.as_str(),
        "dayOfMonth": x.day_of_month,
        "dayOfWeek": x.day_of_week.map(|d| WEEKDAYS[usize::from(d)]),
        "hourUtc": x.hour_utc,
        "enabled": x.enabled,
        "nextRunAt": x.next_run_at.rfc3339(),
        "lastRunId": x.last_run_id,
        "lastError": x.last_error.as_ref().map(|e| json!({
            "code": e.code, "message": e.message, "at": e.at.rfc3339(),
        })),
        "createdAt": x.created_at.rfc3339(),
        "updatedAt": x.updated_at.map(|t| t.rfc3339()),
    })
}

fn invalid(m: String) -> ApiError {
    ApiError::InvalidField(m)
}

/// A whole number field within `0..=max`, as `u8`.
fn small(f: &mut Fields, field: &str, max: u64) -> Result<Option<u8>, ApiError> {
    match f.opt_uint(field)? {
        None => Ok(None),
        Some(v) if v <= max => Ok(Some(v as u8)),
        Some(v) => Err(invalid(format!("{} must be from 0 to {max}, got {v}.", f.name(field)))),
    }
}

/// The body of a create or change. A field sent as null is refused except the day fields
/// (null clears one, as a change of cadence kind needs).
fn read_draft(body: &[u8]) -> Result<ScheduleDraft, ApiError> {
    let mut f = Fields::parse(body)?;
    for field in ["product", "maturityTarget", "cadence", "hourUtc", "enabled"] {
        if f.is_null(field) {
            return Err(invalid(format!("{field} cannot be null.")));
        }
    }
    let product = f.opt_str("product")?.map(|p| p.trim().to_string());
    let maturity_target = f.opt_uint("maturityTarget")?;
    let cadence = match f.opt_str("cadence")? {
        None => None,
        Some(c) => Some(
            Cadence::parse(c.trim())
                .ok_or_else(|| invalid(format!("cadence must be one of weekly, monthly, quarterly, got {c:?}.")))?,
        ),
    };
    let day_of_month = if f.is_null("dayOfMonth") {
        f.opt_uint("dayOfMonth")?;
        Some(None)
    } else {
        match f.opt_uint("dayOfMonth")? {
            None => None,
            Some(d) if (1..=28).contains(&d) => Some(Some(d as u8)),
            Some(d) => return Err(invalid(format!("dayOfMonth must be from 1 to 28, got {d}."))),
        }
    };
    let day_of_week = if f.is_null("dayOfWeek") {
        f.opt_str("dayOfWeek")?;
        Some(None)
    } else {
        match f.opt_str("dayOfWeek")? {
            None => None,
            Some(d) => Some(Some(
                parse_weekday(&d.trim().to_ascii_lowercase())
                    .ok_or_else(|| invalid(format!("dayOfWeek must be one of {}, got {d:?}.", WEEKDAYS.join(", "))))?,
            )),
        }
    };
    let hour_utc = small(&mut f, "hourUtc", 23)?;
    let enabled = f.opt_bool("enabled")?;
    f.finish()?;
    Ok(ScheduleDraft { product, maturity_target, cadence, day_of_month, day_of_week, hour_utc, enabled })
}

/// 200 `{schedules, nextCursor}`, oldest first.
pub async fn list(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    // As the pipeline read it with the key (`api::prefetch`), when it did.
    let customer = super::context::customer_of(app, ctx, partner, customer_id).await?;
    let paging = Paging::read(app, ctx, &format!("{}|{}", partner.id, customer.id))?;
    let page = uc::list(app.store.as_ref(), &customer, &paging.request).await?;
    let schedules: Vec<Value> = page.items.iter().map(schedule_view).collect();
    Ok(Reply::ok(json!({ "schedules": schedules, "nextCursor": paging.next_cursor(app, page.next) })))
}

/// 201: the new schedule.
pub async fn create(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let draft = read_draft(&ctx.body)?;
    for (name, given) in [("product", draft.product.is_some()), ("cadence", draft.cadence.is_some())] {
        if !given {
            return Err(ApiError::MissingField(format!("{name} is required.")));
        }
    }
    let customer = customers::find(app.store.as_ref(), partner, customer_id).await?;
    let created =
        uc::create(app.store.as_ref(), ctx.ids(app), &app.config.catalog, partner, &customer, draft, ctx.now).await?;
    Ok(Reply::created(schedule_view(&created)))
}

/// 200: the schedule as changed.
pub async fn update(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let draft = read_draft(&ctx.body)?;
    let customer = customers::find(app.store.as_ref(), partner, customer_id).await?;
    let changed = uc::update(
        app.store.as_ref(),
        ctx.ids(app),
        &app.config.catalog,
        partner,
        &customer,
        ctx.param("scheduleId"),
        &draft,
        ctx.now,
    )
    .await?;
    Ok(Reply::ok(schedule_view(&changed)))
}

/// 204.
pub async fn delete(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let customer = customers::find(app.store.as_ref(), partner, customer_id).await?;
    uc::delete(app.store.as_ref(), ctx.ids(app), partner, &customer, ctx.param("scheduleId"), ctx.now).await?;
    Ok(Reply::no_content())
}
