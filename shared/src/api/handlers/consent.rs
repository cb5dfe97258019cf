//! Tenant consent (contract, "Tenant consent"): a customer's consent and its link, and the
//! public callback Microsoft redirects the administrator's browser to.

use http::StatusCode;

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::{App, Ctx, PublicCtx};
use crate::domain::account::Partner;
use crate::pages::{self, Message, Tone};
use crate::usecases::consent::{self, CallbackParams, Recorded, Rejected};
use crate::usecases::customers;
use crate::views;

/// `GET /customers/{id}/consent` (and the distributor's): the status and a fresh link.
pub async fn get(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let customer = customers::find(app.store.as_ref(), partner, customer_id).await?;
    let url = app.consent_links().url(&customer, ctx.now);
    Ok(Reply::ok(views::consent(&customer, &url)))
}

const CLOSE: &str = "You can close this window.";

/// `GET /consent/callback`: 200 with a page saying what was recorded, or 400 with a page
/// saying why nothing was.
pub async fn callback(app: &App, ctx: &PublicCtx) -> Result<Reply, ApiError> {
    let q = |name: &str| ctx.query.get(name).map(str::to_string);
    let params = CallbackParams {
        admin_consent: q("admin_consent"),
        tenant: q("tenant"),
        state: q("state"),
        error: q("error"),
        error_description: q("error_description"),
    };
    let store = app.store.as_ref();
    let outcome = consent::callback(store, store, app.ids(), &app.secrets.consent_signing, &params, ctx.now).await?;
    let page = match &outcome {
        Ok(Recorded::Granted { customer_name }) => pages::message(&Message {
            title: "Consent granted",
            heading: "Consent granted",
            paragraphs: vec![format!(
                "Thank you. baref00t may now assess the Microsoft 365 tenant of {customer_name} for the provider that sent you this link."
            )],
            footer: CLOSE,
            tone: Tone::Ok,
        }),
        Ok(Recorded::Declined { customer_name, reason }) => {
            let mut paragraphs =
                vec![format!("Consent was not granted, so baref00t will not read the tenant of {customer_name}.")];
            if let Some(r) = reason {
                paragraphs.push(format!("Microsoft said: {}", first_line(r)));
            }
            paragraphs.push("If this was a mistake, ask your provider for the link again.".into());
            pages::message(&Message { title: "Consent declined", heading: "Consent declined", paragraphs, footer: CLOSE, tone: Tone::Info })
        }
        Err(why) => pages::message(&Message {
            title: "Consent not recorded",
            heading: "This consent response was not accepted",
            paragraphs: vec![
                format!("{}.", capitalised(&why.to_string())),
                "Nothing was recorded. Ask your provider for a new consent link.".into(),
            ],
            footer: CLOSE,
            tone: Tone::No,
        }),
    };
    let status = if outcome.is_ok() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    if let Err(why) = &outcome {
        tracing::warn!(reason = reason_code(why), "consent callback rejected");
    }
    Ok(Reply::html_with(status, page))
}

/// A stable name for the log (never the state or the query itself).
fn reason_code(r: &Rejected) -> &'static str {
    match r {
        Rejected::Missing(_) => "missing",
        Rejected::State(consent::StateError::Tampered) => "tampered",
        Rejected::State(consent::StateError::Expired) => "expired",
        Rejected::CustomerGone => "customer_gone",
        Rejected::TenantChanged => "tenant_changed",
        Rejected::TenantMismatch => "tenant_mismatch",
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(300).collect()
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
