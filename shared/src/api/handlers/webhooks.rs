//! Webhook endpoints on both surfaces: each account manages its own.

use crate::store::{Got, Want};
use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::request::Fields;
use super::super::response::Reply;
use super::super::{App, Ctx};
use super::Paging;
use crate::domain::time::rfc3339;
use crate::domain::webhook::{subscribable, Delivery, Endpoint};
use crate::usecases::webhooks::{self, EndpointPatch, NewEndpoint};
use crate::webhooks::guard::check_url;

const DESCRIPTION_MAX: usize = 500;

fn view(e: &Endpoint) -> Value {
    json!({
        "id": e.id,
        "url": e.url,
        "events": e.events,
        "description": e.description,
        "enabled": e.enabled,
        "createdAt": rfc3339(e.created_at),
    })
}

fn delivery_view(d: &Delivery) -> Value {
    let attempts: Vec<Value> = d
        .attempts
        .iter()
        .rev()
        .map(|a| {
            json!({
                "number": a.number,
                "at": rfc3339(a.at),
                "statusCode": a.status_code,
                "durationMs": a.duration_ms,
                "error": a.error,
                "responseBody": a.response_body,
            })
        })
        .collect();
    json!({
        "id": d.id,
        "eventId": d.event_id,
        "eventType": d.event_type,
        "status": d.status.as_str(),
        "attempts": attempts,
        "nextAttemptAt": d.next_attempt_at.filter(|_| d.status.as_str() == "pending").map(rfc3339),
        "createdAt": rfc3339(d.created_at),
    })
}

fn read_url(app: &App, f: &Fields, raw: String) -> Result<String, ApiError> {
    check_url(&raw, app.config.webhook_allow_private_targets)
        .map(|u| u.to_string())
        .map_err(|reason| ApiError::InvalidField(format!("{}: {reason}.", f.name("url"))))
}

fn read_events(ctx: &Ctx, f: &mut Fields) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = f.opt_str_list("events")? else { return Ok(None) };
    let allowed = subscribable(ctx.principal.owner().surface);
    if list.is_empty() {
        return Err(ApiError::InvalidField("events must name at least one event type.".into()));
    }
    let mut out: Vec<String> = Vec::new();
    for e in list {
        if !allowed.contains(&e.as_str()) {
            return Err(ApiError::InvalidField(format!(
                "events: {e:?} is not an event this account can receive; one of {}.",
                allowed.join(", ")
            )));
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(Some(out))
}

fn read_description(f: &mut Fields) -> Result<Option<String>, ApiError> {
    let d = f.opt_str("description")?;
    if d.as_ref().is_some_and(|d| d.chars().count() > DESCRIPTION_MAX) {
        return Err(ApiError::InvalidField(format!("description may be at most {DESCRIPTION_MAX} characters.")));
    }
    Ok(d)
}

/// The caller's endpoint `{id}`, as the pipeline read it with the account (`prefetch`), else
/// read here.
async fn find(app: &App, ctx: &Ctx) -> Result<Endpoint, ApiError> {
    let (owner, id) = (ctx.principal.owner(), ctx.param("id"));
    let want = Want::Endpoint { owner: owner.clone(), id: id.to_string() };
    if let Some(Got::Endpoint(found)) = ctx.prefetched(&want) {
        return Ok(webhooks::found(found.clone(), id)?);
    }
    Ok(webhooks::find(app.store.as_ref(), &owner, id).await?)
}

pub async fn list(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let paging = Paging::read(app, ctx, "")?;
    let page = webhooks::list(app.store.as_ref(), &ctx.principal.owner(), &paging.request).await?;
    let webhooks: Vec<Value> = page.items.iter().map(view).collect();
    Ok(Reply::ok(json!({ "webhooks": webhooks, "nextCursor": paging.next_cursor(app, page.next) })))
}

pub async fn create(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let mut f = Fields::parse(&ctx.body)?;
    let url = f.req_str("url")?;
    let url = read_url(app, &f, url)?;
    if !f.has("events") || f.is_null("events") {
        return Err(ApiError::MissingField("events is required.".into()));
    }
    let events = read_events(ctx, &mut f)?.unwrap_or_default();
    let description = read_description(&mut f)?;
    let enabled = f.opt_bool("enabled")?.unwrap_or(true);
    f.finish()?;
    let new = NewEndpoint { url, events, description, enabled };
    let made = webhooks::create(
        app.store.as_ref(),
        ctx.ids(app),
        &app.secrets.webhook_encryption,
        app.config.webhook_max_endpoints,
        ctx.principal.owner(),
        new,
        ctx.now,
    )
    .await?;
    Ok(Reply::created(json!({ "webhook": view(&made.endpoint), "secret": made.secret })))
}

pub async fn update(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let mut f = Fields::parse(&ctx.body)?;
    if f.is_null("url") || f.is_null("events") || f.is_null("enabled") {
        return Err(ApiError::InvalidField("url, events and enabled cannot be null.".into()));
    }
    let url = f.opt_str("url")?.map(|u| read_url(app, &f, u)).transpose()?;
    let events = read_events(ctx, &mut f)?;
    let clear_description = f.is_null("description");
    let description = read_description(&mut f)?;
    let enabled = f.opt_bool("enabled")?;
    let rotate = f.opt_bool("rotateSecret")?.unwrap_or(false);
    f.finish()?;
    let patch = EndpointPatch {
        url,
        events,
        description: if clear_description { Some(None) } else { description.map(Some) },
        enabled,
        rotate_secret: rotate,
    };
    let owner = ctx.principal.owner();
    let updated = webhooks::update(
        app.store.as_ref(),
        ctx.ids(app),
        &app.secrets.webhook_encryption,
        &owner,
        ctx.param("id"),
        &patch,
        ctx.now,
    )
    .await?;
    let mut body = json!({ "webhook": view(&updated.endpoint) });
    if let Some(s) = updated.secret {
        body["secret"] = json!(s);
    }
    Ok(Reply::ok(body))
}

pub async fn delete(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    webhooks::delete(app.store.as_ref(), ctx.ids(app), &ctx.principal.owner(), ctx.param("id"), ctx.now).await?;
    Ok(Reply::no_content())
}

/// Sends a signed `ping` now and answers with what happened.
pub async fn test(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let owner = ctx.principal.owner();
    let tried = webhooks::ping(
        app.store.as_ref(),
        app.transport.as_ref(),
        ctx.ids(app),
        &app.secrets.webhook_encryption,
        &owner,
        ctx.param("id"),
        ctx.now,
    )
    .await?;
    Ok(Reply::ok(json!({
        "delivered": tried.delivered,
        "statusCode": tried.status_code,
        "durationMs": tried.duration_ms,
        "error": tried.error,
    })))
}

pub async fn deliveries(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let endpoint = find(app, ctx).await?;
    let paging = Paging::read(app, ctx, &endpoint.id)?;
    let page = webhooks::deliveries(app.store.as_ref(), &endpoint, &paging.request).await?;
    let deliveries: Vec<Value> = page.items.iter().map(delivery_view).collect();
    Ok(Reply::ok(json!({ "deliveries": deliveries, "nextCursor": paging.next_cursor(app, page.next) })))
}

/// Queues one more attempt of a delivery now (no retries after it).
pub async fn redeliver(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let owner = ctx.principal.owner();
    let d = webhooks::redeliver(
        app.store.as_ref(),
        app.webhooks.as_ref(),
        &owner,
        ctx.param("id"),
        ctx.param("deliveryId"),
        ctx.now,
    )
    .await?;
    Ok(Reply::accepted(json!({ "id": d.id, "status": d.status.as_str() })))
}
