//! `GET /billing`, `POST /billing/portal` (partner) and `POST /stripe/webhook` (Stripe).

use serde_json::json;

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::{App, Ctx, PublicCtx};
use crate::domain::account::Partner;
use crate::stripe::webhook::{self, StripeEvent};
use crate::usecases::subscriptions;

/// `GET /billing` → 200 `{subscriptions, invoices, portal_url}` (the partner portal's shape;
/// `portal_url` is null: a portal link is short-lived, `POST /billing/portal` makes one).
/// 500 `INTERNAL` when Stripe fails.
pub async fn get(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let snapshot = app.billing.snapshot(partner, ctx.now).await?;
    Ok(Reply::ok(serde_json::to_value(snapshot).map_err(|e| ApiError::Internal(e.to_string()))?))
}

/// `POST /billing/portal` → 200 `{url}`: a Stripe customer-portal session; 404 `NOT_FOUND` when
/// the partner has no Stripe customer (local ledger), 500 `INTERNAL` when Stripe fails.
pub async fn portal(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    // Unique per request, and the same for a retry under one Idempotency-Key (its ids are the key's).
    let request_key: crate::domain::ids::EventId = ctx.ids(app).new_id();
    let return_url = app.config.public_base_url.clone();
    match app.billing.portal_session(partner, &return_url, request_key.as_str()).await? {
        Some(url) => Ok(Reply::ok(json!({ "url": url }))),
        None => Err(ApiError::NotFound(format!(
            "Partner {} has no Stripe customer: billing is not on Stripe for it.",
            partner.id
        ))),
    }
}

/// `POST /stripe/webhook` (no key): 400 `INVALID_SIGNATURE` unless `Stripe-Signature` verifies
/// with the webhook secret within 5 minutes, 400 `INVALID_JSON` for a body that is not an
/// event; else 200 `{received: true, outcome}` (`applied`, `duplicate`, `stale`, `ignored`).
pub async fn stripe_webhook(app: &App, ctx: &PublicCtx) -> Result<Reply, ApiError> {
    let Some(secret) = app.billing.webhook_secret() else {
        return Err(ApiError::InvalidSignature("Stripe webhooks are not configured (no stripeWebhookSecret).".into()));
    };
    let header = ctx.headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    webhook::verify(secret, header, &ctx.body, ctx.now).map_err(|e| ApiError::InvalidSignature(e.to_string()))?;
    let event: StripeEvent = serde_json::from_slice(&ctx.body)
        .map_err(|e| ApiError::InvalidJson(format!("The body is not a Stripe event: {e}")))?;
    let outcome = subscriptions::apply_event(app.store.as_ref(), &event, ctx.now).await?;
    tracing::info!(
        event_id = event.id.as_str(),
        kind = event.kind.as_str(),
        outcome = outcome.as_str(),
        "stripe event"
    );
    Ok(Reply::ok(json!({ "received": true, "outcome": outcome.as_str() })))
}
