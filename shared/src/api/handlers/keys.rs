//! API keys: P14–P15 for a partner's own keys, D15 for a sub-partner's keys.

use serde_json::json;

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::{App, Ctx};
use crate::domain::account::{Owner, Partner};
use crate::domain::time::rfc3339;
use crate::usecases::keys;

/// Issues a key to `owner` and answers with it: the only time it is ever shown.
pub async fn create(app: &App, ctx: &Ctx, owner: Owner) -> Result<Reply, ApiError> {
    let issued = keys::issue(app.store.as_ref(), &app.secrets.key_hashing, ctx.ids(app), &owner, ctx.now, true).await?;
    Ok(Reply::created(json!({ "slot": issued.slot, "key": issued.key, "createdAt": rfc3339(ctx.now) })))
}

pub async fn revoke(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let partner = ctx.partner()?;
    let owner = Owner::partner(&partner.id);
    let raw = ctx.param("slot");
    let slot: u8 = match raw {
        "1" => 1,
        "2" => 2,
        _ => return Err(ApiError::InvalidField(format!("slot must be 1 or 2, got {raw:?}."))),
    };
    keys::revoke(app.store.as_ref(), ctx.ids(app), &owner, partner.distributor_id.as_deref(), slot, ctx.now).await?;
    Ok(Reply::no_content())
}

pub async fn create_for_sub_partner(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    keys::require_not_suspended(partner)?;
    create(app, ctx, Owner::partner(&partner.id)).await
}
