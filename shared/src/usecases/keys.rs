//! API keys: issuing into a free slot and revoking (contract P14, P15, D15; the operator's
//! `admin issue-key`). A key is shown once, by the caller of [`issue`]; only its keyed hash
//! is stored.

use serde_json::json;

use super::{Ids, StoreResultExt, UseCaseError};
use crate::auth::{generate_key, hash_key};
use crate::domain::account::{AccountStatus, Owner, Partner};
use crate::domain::audit::{Action, AuditEntry, Changes, Target};
use crate::domain::event::{Event, EventType};
use crate::domain::time::rfc3339;
use crate::domain::time::Timestamp;
use crate::store::{KeyStore, StoreError};

/// The two key slots an account has (contract P14: "at most 2 active keys").
pub const SLOTS: [u8; 2] = [1, 2];

/// A key just issued: the only time its text exists outside the caller's hands.
#[derive(Debug)]
pub struct IssuedKey {
    pub slot: u8,
    pub key: String,
}

/// The `key.created` event for a key issued to `owner` in `slot` at `now`.
pub fn created_event(ids: Ids<'_>, owner: &Owner, slot: u8, now: Timestamp) -> Event {
    ids.event(EventType::KeyCreated, owner.clone(), None, now, json!({ "slot": slot, "createdAt": rfc3339(now) }))
}

fn suspended(owner: &Owner) -> UseCaseError {
    UseCaseError::PartnerInactive(format!("Partner {} is suspended; activate it before issuing keys.", owner.id))
}

/// Refuses a key for a suspended partner (D15) before anything is generated.
pub fn require_not_suspended(partner: &Partner) -> Result<(), UseCaseError> {
    if partner.status == AccountStatus::Suspended {
        return Err(suspended(&Owner::partner(&partner.id)));
    }
    Ok(())
}

/// Generates a key for `owner`, stores its hash (keyed with `key_hashing`) in the lowest free
/// slot and returns it. With `with_event`, the `key.created` event is recorded in the same
/// write. The slot is claimed by a conditional write, so concurrent calls never share one; the
/// loser looks again. Errors: `MaxKeys` (both slots taken), `PartnerInactive` (suspended).
pub async fn issue(
    store: &dyn crate::store::AccountKeyStore,
    key_hashing: &[u8],
    ids: Ids<'_>,
    owner: &Owner,
    now: Timestamp,
    with_event: bool,
) -> Result<IssuedKey, UseCaseError> {
    let key = generate_key(owner.surface);
    let hash = hash_key(key_hashing, key.expose());
    let notice = key_notice(store, owner).await?;
    for _ in 0..SLOTS.len() + 1 {
        let taken: Vec<u8> = store.keys_of(owner).await?.iter().map(|k| k.slot).collect();
        let slot = SLOTS.into_iter().find(|s| !taken.contains(s)).ok_or(UseCaseError::MaxKeys)?;
        // The `key-created` mail rides on the `key.created` event, or on an event of its own
        // where the key has none (a distributor's, issued by the operator): same write either way.
        let event = match with_event {
            true => created_event(ids, owner, slot, now),
            false => ids.event(EventType::Mail, owner.clone(), None, now, json!(null)),
        };
        let event = match &notice {
            Some(n) => event.with_mail([n.entry(slot, now)]),
            None => event,
        };
        // Always an event now: it carries the `key.created` audit entry (a `mail` event without
        // entries is acknowledged by the relay and sends nothing).
        let viewers = notice.as_ref().map_or_else(|| vec![owner.clone()], |n| n.viewers.clone());
        let audit = viewers.into_iter().fold(
            ids.audit(
                Action::KeyCreated,
                Target::key(&owner.id, slot),
                Changes::new().field("slot", None::<u8>, slot),
                now,
            ),
            AuditEntry::seen_by,
        );
        let event = Some(event.with_audit(audit));
        match store.issue_key(owner, slot, &hash, now, event.as_ref()).await {
            Ok(()) => return Ok(IssuedKey { slot, key: key.into_string() }),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::OwnerSuspended) => return Err(suspended(owner)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(UseCaseError::MaxKeys)
}

/// Who the `key-created` mail goes to: the account's `email`, from its distributor's company
/// (or baref00t's).
struct KeyNotice {
    to: String,
    company: String,
    brand: crate::domain::branding::Brand,
    viewers: Vec<Owner>,
}

impl KeyNotice {
    /// The mail for a key in `slot` issued at `at` (never the key itself).
    fn entry(&self, slot: u8, at: Timestamp) -> crate::domain::mail::MailEntry {
        crate::usecases::mail::notice(
            crate::domain::mail::MailKind::KeyCreated,
            &self.to,
            &self.brand,
            format!("{}: a new baref00t API key was issued", self.brand.company),
            &[
                format!("A new API key was issued for {} in slot {slot} at {}.", self.company, rfc3339(at)),
                format!(
                    "The key itself is shown only once, to whoever issued it; it is never sent by mail. \
                     If you did not expect it, revoke it (DELETE /keys/{slot}) and tell your provider."
                ),
            ],
            self.viewers.clone(),
        )
    }
}

async fn key_notice(
    store: &dyn crate::store::AccountKeyStore,
    owner: &Owner,
) -> Result<Option<KeyNotice>, UseCaseError> {
    Ok(match owner.surface {
        crate::domain::account::Surface::Partner => match store.partner(&owner.id).await? {
            Some(p) => {
                let company = match &p.distributor_id {
                    Some(d) => store.distributor(d).await?.map(|d| d.company),
                    None => None,
                };
                Some(KeyNotice {
                    to: p.email.as_str().to_string(),
                    company: p.company.clone(),
                    brand: crate::usecases::mail::account_brand(company.as_deref()),
                    viewers: crate::usecases::mail::viewers_of(&p),
                })
            }
            None => None,
        },
        crate::domain::account::Surface::Distributor => store.distributor(&owner.id).await?.map(|d| KeyNotice {
            to: d.email.as_str().to_string(),
            company: d.company.clone(),
            brand: crate::usecases::mail::account_brand(None),
            viewers: vec![owner.clone()],
        }),
    })
}

/// Revokes the key in `slot` (1 or 2) with its `key.revoked` event and audit entry (seen by
/// the owner and `owner_distributor`, a partner's distributor). Errors: `NotFound` for an
/// empty slot, `LastKey` when it is the owner's only key.
pub async fn revoke(
    store: &dyn KeyStore,
    ids: Ids<'_>,
    owner: &Owner,
    owner_distributor: Option<&str>,
    slot: u8,
    now: Timestamp,
) -> Result<(), UseCaseError> {
    let audit = ids
        .audit(Action::KeyRevoked, Target::key(&owner.id, slot), Changes::new().field("slot", slot, None::<u8>), now)
        .seen_by(owner.clone());
    let audit = match owner_distributor {
        Some(d) => audit.seen_by(Owner::distributor(d)),
        None => audit,
    };
    let evt = ids
        .event(EventType::KeyRevoked, owner.clone(), None, now, json!({ "slot": slot, "revokedAt": rfc3339(now) }))
        .with_audit(audit);
    store
        .revoke_key(owner, slot, &evt)
        .await
        .on(StoreError::NotFound, || UseCaseError::NotFound(format!("No active key in slot {slot}.")))
}
