//! A customer's tenant context and exceptions (contract, "Tenant context and exceptions"):
//! reading and replacing the context, the exceptions' create, read, change and delete, and
//! the schedule's `exception.expiring` notices.
//!
//! Every write here changes what the customer's next run decides, so each carries an audit
//! entry (issue 18), written by the same store write as the change: `context.updated` (target
//! the customer), `exception.created` / `.updated` / `.deleted` (target the exception), seen by
//! the partner and its distributor. The expiry notice is the service's, not a change: no entry.

use serde_json::{json, Value};

use super::{Ids, UseCaseError, OPTIMISTIC_TRIES};
use crate::assess::requirements::catalogue::catalogue;
use crate::domain::account::{Owner, Partner};
use crate::domain::audit::{Action, AuditEntry, Changes, Target, TargetType};
use crate::domain::context::{Exception, ExceptionKind, TenantContext};
use crate::domain::customer::Customer;
use crate::domain::event::EventType;
use crate::domain::time::Timestamp;
use crate::store::{ContextStore, Page, PageRequest, StoreError};

/// `Err(Invalid)` unless `id` is a requirement of the Essential Eight catalogue; `field` names
/// it in the message.
pub fn known_requirement(field: &str, id: &str) -> Result<(), UseCaseError> {
    if catalogue().requirement(id).is_some() {
        Ok(())
    } else {
        Err(UseCaseError::Invalid(format!(
            "{field} must be a requirement id of the Essential Eight catalogue (e.g. MF-ML1-01), got {id:?}."
        )))
    }
}

/// A context's three lists as the API shows them (`{emergencyAccessAccounts,
/// approvedExclusions, thirdPartyControls}`), each as a whole value: what the audit log records
/// of a context, and the body of the context routes (which add `updatedAt`).
pub fn audited_context(c: &TenantContext) -> Value {
    json!({
        "emergencyAccessAccounts": c.emergency_access_accounts,
        "approvedExclusions": c.approved_exclusions.iter().map(|e| json!({
            "policyId": e.policy_id, "principalId": e.principal_id, "reason": e.reason,
        })).collect::<Vec<_>>(),
        "thirdPartyControls": c.third_party_controls.iter().map(|t| json!({
            "requirementIds": t.requirement_ids, "product": t.product, "description": t.description,
        })).collect::<Vec<_>>(),
    })
}

/// What the audit log records of an exception: the fields a key sets.
fn audited_exception(e: &Exception) -> Value {
    json!({
        "requirementId": e.requirement_id,
        "kind": e.kind.as_str(),
        "rationale": e.rationale,
        "compensatingControl": e.compensating_control,
        "owner": e.owner,
        "approvedBy": e.approved_by,
        "expiresAt": e.expires_at.rfc3339(),
    })
}

/// The entry of `action` on `target` of `partner`'s data, `before` → `after` (null for a
/// creation or deletion), seen by the partner and its distributor; `None` when nothing changed.
fn audit_of(
    ids: &Ids<'_>,
    partner: &Partner,
    action: Action,
    target: Target,
    before: &Value,
    after: &Value,
    now: Timestamp,
) -> Option<AuditEntry> {
    ids.audit(action, target, Changes::between(before, after), now)
        .seen_by_partner(&partner.id, partner.distributor_id.as_deref())
        .recorded()
}

/// The customer's context (the default, empty, when never set).
pub async fn get(store: &dyn ContextStore, customer: &Customer) -> Result<TenantContext, UseCaseError> {
    Ok(store.tenant_context(&customer.partner_id, &customer.id).await?)
}

/// Replaces the customer's context with `draft` (whole replacement; its lists checked by the
/// caller) at `now`; answers what is stored. Two replacements at once: the later write wins
/// whole, never a mix. Audited as `context.updated` with the lists that changed (none: no
/// entry). `NotFound` when the customer went meanwhile.
pub async fn put(
    store: &dyn ContextStore,
    ids: Ids<'_>,
    partner: &Partner,
    customer: &Customer,
    draft: &TenantContext,
    now: Timestamp,
) -> Result<TenantContext, UseCaseError> {
    for _ in 0..OPTIMISTIC_TRIES {
        let stored = store.tenant_context(&customer.partner_id, &customer.id).await?;
        let next = TenantContext { updated_at: Some(now), version: stored.version, ..draft.clone() };
        let target = Target::new(TargetType::Customer, customer.id.as_str());
        let (before, after) = (audited_context(&stored), audited_context(&next));
        let audit = audit_of(&ids, partner, Action::ContextUpdated, target, &before, &after, now);
        match store.put_tenant_context(&customer.partner_id, &customer.id, &next, audit.as_ref()).await {
            Ok(()) => return Ok(TenantContext { version: next.version + 1, ..next }),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Err(UseCaseError::not_found("customer", &customer.id)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(UseCaseError::Store(StoreError::Conflict))
}

/// What a client sends to make or change an exception (`None`: not given).
#[derive(Clone, Debug, Default)]
pub struct ExceptionDraft {
    pub requirement_id: Option<String>,
    pub kind: Option<ExceptionKind>,
    pub rationale: Option<String>,
    /// `Some(None)`: cleared (`null`).
    pub compensating_control: Option<Option<String>>,
    pub owner: Option<String>,
    pub approved_by: Option<String>,
    pub expires_at: Option<Timestamp>,
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, UseCaseError> {
    value.ok_or_else(|| UseCaseError::Invalid(format!("{field} is required.")))
}

/// Makes an exception of `customer` from `draft` (every field but `compensatingControl` of a
/// `risk_accepted` one required), checked by the contract's rules at `now` (`Invalid`).
pub async fn create(
    store: &dyn ContextStore,
    ids: Ids<'_>,
    partner: &Partner,
    customer: &Customer,
    draft: ExceptionDraft,
    now: Timestamp,
) -> Result<Exception, UseCaseError> {
    let requirement_id = required(draft.requirement_id, "requirementId")?;
    known_requirement("requirementId", &requirement_id)?;
    let exception = Exception {
        id: ids.new_id(),
        partner_id: partner.id.clone(),
        distributor_id: partner.distributor_id.clone(),
        customer_id: customer.id.clone(),
        requirement_id,
        kind: required(draft.kind, "kind")?,
        rationale: required(draft.rationale, "rationale")?,
        compensating_control: draft.compensating_control.flatten(),
        owner: required(draft.owner, "owner")?,
        approved_by: required(draft.approved_by, "approvedBy")?,
        expires_at: required(draft.expires_at, "expiresAt")?,
        created_at: now,
        updated_at: None,
        version: 1,
        expiring_noticed: None,
    };
    exception.check(now).map_err(UseCaseError::Invalid)?;
    let target = Target::new(TargetType::Exception, exception.id.as_str());
    let audit =
        audit_of(&ids, partner, Action::ExceptionCreated, target, &Value::Null, &audited_exception(&exception), now);
    match store.create_exception(&exception, audit.as_ref()).await {
        Ok(()) => Ok(exception),
        Err(StoreError::NotFound) => Err(UseCaseError::not_found("customer", &customer.id)),
        Err(e) => Err(e.into()),
    }
}

/// The customer's exception `id` (`NotFound` when it has none of that id).
pub async fn find(store: &dyn ContextStore, customer: &Customer, id: &str) -> Result<Exception, UseCaseError> {
    store
        .exception(&customer.partner_id, &customer.id, id)
        .await?
        .ok_or_else(|| UseCaseError::not_found("exception", id))
}

/// One page of the customer's exceptions, oldest first.
pub async fn list(
    store: &dyn ContextStore,
    customer: &Customer,
    page: &PageRequest,
) -> Result<Page<Exception>, UseCaseError> {
    Ok(store.list_exceptions(&customer.partner_id, &customer.id, page).await?)
}

/// Applies `draft` to the customer's exception `id` and checks the result as [`create`] does;
/// a change computed from an older read is applied again to a fresh one. Audited as
/// `exception.updated` with the fields that changed (none: no write, no entry).
pub async fn update(
    store: &dyn ContextStore,
    ids: Ids<'_>,
    partner: &Partner,
    customer: &Customer,
    id: &str,
    draft: &ExceptionDraft,
    now: Timestamp,
) -> Result<Exception, UseCaseError> {
    if let Some(r) = &draft.requirement_id {
        known_requirement("requirementId", r)?;
    }
    for _ in 0..OPTIMISTIC_TRIES {
        let stored = find(store, customer, id).await?;
        let mut next = stored.clone();
        if let Some(v) = &draft.requirement_id {
            next.requirement_id.clone_from(v);
        }
        if let Some(v) = draft.kind {
            next.kind = v;
        }
        if let Some(v) = &draft.rationale {
            next.rationale.clone_from(v);
        }
        if let Some(v) = &draft.compensating_control {
            next.compensating_control.clone_from(v);
        }
        if let Some(v) = &draft.owner {
            next.owner.clone_from(v);
        }
        if let Some(v) = &draft.approved_by {
            next.approved_by.clone_from(v);
        }
        if let Some(v) = draft.expires_at {
            next.expires_at = v;
        }
        next.check(now).map_err(UseCaseError::Invalid)?;
        if next == stored {
            return Ok(stored);
        }
        next.updated_at = Some(now);
        next.version = stored.version + 1;
        let target = Target::new(TargetType::Exception, id);
        let (before, after) = (audited_exception(&stored), audited_exception(&next));
        let audit = audit_of(&ids, partner, Action::ExceptionUpdated, target, &before, &after, now);
        match store.update_exception(&next, stored.version, audit.as_ref()).await {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Err(UseCaseError::not_found("exception", id)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(UseCaseError::Store(StoreError::Conflict))
}

/// Deletes the customer's exception `id` at `now` (`NotFound` when there is none), audited as
/// `exception.deleted` with its fields as they were.
pub async fn delete(
    store: &dyn ContextStore,
    ids: Ids<'_>,
    partner: &Partner,
    customer: &Customer,
    id: &str,
    now: Timestamp,
) -> Result<(), UseCaseError> {
    // Read first so the entry says what went; a delete racing this one finds it gone (404),
    // and the one that deleted it wrote the entry.
    let gone = find(store, customer, id).await?;
    let target = Target::new(TargetType::Exception, id);
    let audit = audit_of(&ids, partner, Action::ExceptionDeleted, target, &audited_exception(&gone), &Value::Null, now);
    match store.delete_exception(&customer.partner_id, &customer.id, id, audit.as_ref()).await {
        Err(StoreError::NotFound) => Err(UseCaseError::not_found("exception", id)),
        other => Ok(other?),
    }
}

/// Records `exception.expiring` for each exception whose expiry is 30 days or less after `now`
/// and whose notice for that expiry is not recorded yet (at most `limit`), each once however
/// many invocations overlap: the write is conditional on the exception as read. Returns how
/// many this call recorded.
pub async fn notice_expiring(
    store: &dyn ContextStore,
    ids: Ids<'_>,
    now: Timestamp,
    limit: usize,
) -> Result<usize, String> {
    let horizon = now.plus_secs(1);
    let due = store.expiring_exceptions(horizon, limit).await.map_err(|e| e.to_string())?;
    let mut recorded = 0;
    for e in due.iter().filter(|e| e.notice_pending() && e.expiring_notice_at() <= now) {
        let event = ids.event(
            EventType::ExceptionExpiring,
            Owner::partner(&e.partner_id),
            e.distributor_id.clone(),
            now,
            json!({
                "customerId": e.customer_id,
                "exceptionId": e.id,
                "requirementId": e.requirement_id,
                "expiresAt": e.expires_at.rfc3339(),
            }),
        );
        if store.record_expiring(e, &event).await.map_err(|e| e.to_string())? {
            recorded += 1;
        }
    }
    Ok(recorded)
}
