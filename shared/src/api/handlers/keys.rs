//! API keys: P14–P15 for a partner's own keys, D15 for a sub-partner's keys.

use serde_json::json;

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::{App, Ctx};
use super::event;
use crate::auth::{generate_key, hash_key};
use crate::domain::account::{AccountStatus, Owner, Partner};
use crate::domain::event::{Event, EventType};
use crate::domain::ids::prefix;
use crate::domain::time::rfc3339;
use crate::store::{Store, StoreError};

pub const SLOTS: [u8; 2] = [1, 2];

/// Stores a new key for `owner` in a free slot (the lowest). The slot is claimed by a
/// conditional write, so concurrent requests never share one; the loser looks again.
pub async fn issue(
    store: &dyn Store,
    owner: &Owner,
    hash: &str,
    now: i64,
    event_for: impl Fn(u8) -> Option<crate::domain::event::Event>,
) -> Result<u8, ApiError> {
    for _ in 0..SLOTS.len() + 1 {
        let taken: Vec<u8> = store.keys_of(owner).await?.iter().map(|k| k.slot).collect();
        let slot = SLOTS.into_iter().find(|s| !taken.contains(s)).ok_or(ApiError::MaxKeys)?;
        match store.issue_key(owner, slot, hash, now, event_for(slot).as_ref()).await {
            Ok(()) => return Ok(slot),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::OwnerSuspended) => {
                return Err(ApiError::PartnerInactive(format!(
                    "Partner {} is suspended; activate it before issuing keys.",
                    owner.id
                )))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::MaxKeys)
}

/// The `key.created` event for a key issued to `owner` in `slot` (by the API or an operator).
pub fn created_event(id: String, owner: &Owner, slot: u8, now: i64) -> Event {
    Event {
        id,
        kind: EventType::KeyCreated,
        timestamp: now,
        account: owner.clone(),
        distributor_id: None,
        data: json!({ "slot": slot, "createdAt": rfc3339(now) }),
    }
}

/// Issues a key to `owner` and answers with it: the only time it is ever shown.
pub async fn create(app: &App, ctx: &Ctx, owner: Owner) -> Result<Reply, ApiError> {
    let key = generate_key(owner.surface);
    let hash = hash_key(&app.secrets.key_hashing, key.expose());
    let slot = issue(app.store.as_ref(), &owner, &hash, ctx.now, |slot| {
        Some(created_event(app.new_id(prefix::EVENT), &owner, slot, ctx.now))
    })
    .await?;
    Ok(Reply::created(json!({ "slot": slot, "key": key.expose(), "createdAt": rfc3339(ctx.now) })))
}

pub async fn revoke(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let owner = Owner::partner(&ctx.partner()?.id);
    let raw = ctx.param("slot");
    let slot: u8 = match raw {
        "1" => 1,
        "2" => 2,
        _ => return Err(ApiError::InvalidField(format!("slot must be 1 or 2, got {raw:?}."))),
    };
    let evt = event(
        app,
        EventType::KeyRevoked,
        owner.clone(),
        None,
        ctx.now,
        json!({ "slot": slot, "revokedAt": rfc3339(ctx.now) }),
    );
    match app.store.revoke_key(&owner, slot, &evt).await {
        Ok(()) => Ok(Reply::no_content()),
        Err(StoreError::NotFound) => Err(ApiError::NotFound(format!("No active key in slot {slot}."))),
        Err(e) => Err(e.into()),
    }
}

pub async fn create_for_sub_partner(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    if partner.status == AccountStatus::Suspended {
        return Err(ApiError::PartnerInactive(format!(
            "Partner {} is suspended; activate it before issuing keys.",
            partner.id
        )));
    }
    create(app, ctx, Owner::partner(&partner.id)).await
}
