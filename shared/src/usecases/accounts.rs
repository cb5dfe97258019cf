//! Provisioning accounts outside the HTTP API: the operator's CLI (`admin`) and the dev
//! server's start-up. Each new account gets its first key, returned once for printing.

use super::{keys, Ids, UseCaseError};
use crate::auth::{generate_key, hash_key};
use crate::config::Secrets;
use crate::domain::account::{AccountStatus, BillingConfig, Distributor, Owner, Partner, Subscription, Surface};
use crate::domain::api_key::ApiKey;
use crate::domain::audit::{Action, Actor, AuditEntry, Changes, Target, TargetType};
use crate::domain::catalog::Catalog;
use crate::domain::email::Email;
use crate::domain::event::EventType;
use crate::domain::ids::{DistributorId, IdGen};
use crate::domain::time::{FixedClock, Timestamp};
use crate::store::{AccountKeyStore, StoreError};

/// Why provisioning refused; the text is for the operator's terminal.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{0}")]
    Invalid(String),
    /// No such account.
    #[error("{0}")]
    NotFound(String),
    /// The account exists but cannot have another key (both slots taken, or suspended).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A key to use instead of a random one (so scripts can know it); it must carry the
/// surface's prefix and at least 32 base62 characters. `var` names where it came from.
pub fn check_fixed_key(surface: Surface, key: &str, var: &str) -> Result<ApiKey, ProvisionError> {
    ApiKey::parse(surface, key).map_err(|_| {
        ProvisionError::Invalid(format!(
            "{var} must be {} followed by 32 to 128 letters and digits",
            surface.key_prefix()
        ))
    })
}

/// An account's email: checked as given, stored lower-cased (it is unique).
fn parse_email(email: &str) -> Result<Email, ProvisionError> {
    Email::parse(email)
        .map(|e| e.lowercased())
        .map_err(|_| ProvisionError::Invalid(format!("not an email address: {email}")))
}

/// Stores a key for `owner` in slot 1 and returns it, with its `key.created` audit entry under
/// the operator, seen by `viewers` (on an event that carries nothing else).
async fn first_key(
    store: &dyn AccountKeyStore,
    secrets: &Secrets,
    ids: &IdGen,
    owner: &Owner,
    viewers: Vec<Owner>,
    fixed: Option<ApiKey>,
    now: Timestamp,
) -> Result<String, ProvisionError> {
    let key = fixed.unwrap_or_else(|| generate_key(owner.surface));
    let (operator, clock) = (Actor::operator(), FixedClock(now));
    let ids = Ids { gen: ids, clock: &clock, actor: Some(&operator) };
    let changes = Changes::new().field("slot", None::<u8>, 1);
    let audit = viewers
        .into_iter()
        .fold(ids.audit(Action::KeyCreated, Target::key(&owner.id, 1), changes, now), AuditEntry::seen_by);
    let event = ids.event(EventType::Mail, owner.clone(), None, now, serde_json::Value::Null).with_audit(audit);
    store.issue_key(owner, 1, &hash_key(&secrets.key_hashing, key.expose()), now, Some(&event)).await?;
    Ok(key.into_string())
}

/// An account as the operator or the dev server describes it.
pub struct NewAccount<'a> {
    pub company: &'a str,
    pub email: &'a str,
    pub status: AccountStatus,
    /// Use this key rather than a random one (see [`check_fixed_key`]).
    pub fixed_key: Option<ApiKey>,
}

/// An account for a distributor, with its first key (slot 1). Errors: `Invalid` (email), a
/// store failure.
pub async fn create_distributor(
    store: &dyn AccountKeyStore,
    secrets: &Secrets,
    ids: &IdGen,
    new: NewAccount<'_>,
    now: Timestamp,
) -> Result<(Distributor, String), ProvisionError> {
    let email = parse_email(new.email)?;
    let d = Distributor {
        id: ids.new_id((now.unix() * 1000) as u64),
        company: new.company.to_string(),
        email,
        status: new.status,
        created_at: now,
    };
    store.create_distributor(&d).await?;
    let owner = Owner::distributor(&d.id);
    let key = first_key(store, secrets, ids, &owner, vec![owner.clone()], new.fixed_key, now).await?;
    Ok((d, key))
}

/// A partner, under `distributor_id` or (for an operator) under none.
#[allow(clippy::too_many_arguments)]
pub async fn create_partner(
    store: &dyn AccountKeyStore,
    secrets: &Secrets,
    ids: &IdGen,
    catalog: &Catalog,
    distributor_id: Option<&str>,
    plan: &str,
    new: NewAccount<'_>,
    now: Timestamp,
) -> Result<(Partner, String), ProvisionError> {
    if catalog.plan(plan).is_none() {
        return Err(ProvisionError::Invalid(format!("unknown plan {plan}; plans: {}", catalog.plan_ids())));
    }
    let email = parse_email(new.email)?;
    let p = Partner {
        id: ids.new_id((now.unix() * 1000) as u64),
        distributor_id: distributor_id.map(DistributorId::from),
        company: new.company.to_string(),
        email,
        name: None,
        plan: plan.to_string(),
        status: new.status,
        // A distributor bills its partners; a partner of the operator's has no such terms.
        billing: distributor_id.map(|_| BillingConfig::default()),
        subscription: Subscription::opening(None, now),
        customers_count: 0,
        created_at: now,
        updated_at: None,
        activated_at: (new.status == AccountStatus::Active).then_some(now),
        suspended_at: None,
        terms_version: 0,
    };
    // Audited under the operator, on an event that carries nothing else.
    let (operator, clock) = (Actor::operator(), FixedClock(now));
    let op = Ids { gen: ids, clock: &clock, actor: Some(&operator) };
    let created = serde_json::json!({
        "company": p.company, "email": p.email, "plan": p.plan, "status": p.status.as_str(),
    });
    let changes = Changes::between(&serde_json::Value::Null, &created);
    let audit = op
        .audit(Action::PartnerCreated, Target::new(TargetType::Partner, p.id.as_str()), changes, now)
        .seen_by_partner(&p.id, distributor_id);
    let event =
        op.event(EventType::Mail, Owner::partner(&p.id), p.distributor_id.clone(), now, serde_json::Value::Null);
    store.create_partner_with(&p, Some(&event.with_audit(audit))).await?;
    let viewers = crate::usecases::mail::viewers_of(&p);
    let key = first_key(store, secrets, ids, &Owner::partner(&p.id), viewers, new.fixed_key, now).await?;
    Ok((p, key))
}

/// Issues a key to an existing account in its free slot, as the API does (at most two keys;
/// the slot is claimed by a conditional write), with the API's `key.created` event for a
/// partner. A suspended account gets none. Returns the slot and the key, to be shown once.
pub async fn issue_key(
    store: &dyn AccountKeyStore,
    secrets: &Secrets,
    ids: &IdGen,
    owner: &Owner,
    now: Timestamp,
) -> Result<(u8, String), ProvisionError> {
    let status = match owner.surface {
        Surface::Partner => store.partner(&owner.id).await?.map(|p| p.status),
        Surface::Distributor => store.distributor(&owner.id).await?.map(|d| d.status),
    };
    let what = match owner.surface {
        Surface::Partner => "partner",
        Surface::Distributor => "distributor",
    };
    match status {
        None => return Err(ProvisionError::NotFound(format!("no {what} with id {:?}", owner.id))),
        Some(AccountStatus::Suspended) => {
            return Err(ProvisionError::Refused(format!(
                "{what} {} is suspended; activate it before issuing keys",
                owner.id
            )))
        }
        Some(_) => {}
    }
    let operator = crate::domain::audit::Actor::operator();
    let ids = Ids { gen: ids, clock: &FixedClock(now), actor: Some(&operator) };
    // The API records `key.created` for partners' keys; a distributor's keys have no event.
    let with_event = owner.surface == Surface::Partner;
    match keys::issue(store, &secrets.key_hashing, ids, owner, now, with_event).await {
        Ok(issued) => Ok((issued.slot, issued.key)),
        Err(UseCaseError::MaxKeys) => Err(ProvisionError::Refused(format!(
            "{what} {} already has two keys (slots 1 and 2); revoke one before issuing another",
            owner.id
        ))),
        Err(UseCaseError::PartnerInactive(m)) => Err(ProvisionError::Refused(m)),
        Err(UseCaseError::Store(e)) => Err(ProvisionError::Store(e)),
        Err(e) => Err(ProvisionError::Invalid(e.to_string())),
    }
}
