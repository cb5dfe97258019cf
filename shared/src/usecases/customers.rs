//! Customers of a partner (contract P4–P9, D10–D11): create, update, delete, each with its
//! `customer.*` event in the same write.

use serde_json::json;

use super::{Ids, StoreResultExt, UseCaseError, OPTIMISTIC_TRIES};
use crate::domain::account::{Owner, Partner};
use crate::domain::audit::{Action, AuditEntry, Changes, Target, TargetType};
use crate::domain::consent::{Consent, ConsentStatus};
use crate::domain::customer::Customer;
use crate::domain::email::Email;
use crate::domain::event::EventType;
use crate::domain::run::{Run, RunFilter};
use crate::domain::tenant::TenantId;
use crate::domain::time::rfc3339;
use crate::domain::time::Timestamp;
use crate::store::{CustomerStore, Page, PageRequest, RunStore, StoreError};
use crate::views;

/// A customer as a create request describes it, already checked (names trimmed, the tenant id
/// a lower-cased GUID, emails valid and de-duplicated).
#[derive(Clone, Debug)]
pub struct NewCustomer {
    pub name: String,
    pub tenant_id: TenantId,
    pub email: Option<Email>,
    pub receivers: Vec<Email>,
    pub questionnaire_recipients: Vec<Email>,
}

/// A partial update (P8): `None` leaves a field as it is; `email: Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct CustomerPatch {
    pub name: Option<String>,
    pub tenant_id: Option<TenantId>,
    pub email: Option<Option<Email>>,
    pub receivers: Option<Vec<Email>>,
    pub questionnaire_recipients: Option<Vec<Email>>,
}

/// What the audit log records of a customer: the fields a key can change, and its consent.
fn audited(c: &Customer) -> serde_json::Value {
    json!({
        "name": c.name,
        "tenantId": c.tenant_id,
        "email": c.email,
        "receivers": c.receivers,
        "questionnaireRecipients": c.questionnaire_recipients,
        "consentStatus": c.consent.status.as_str(),
    })
}

/// The audit entry of `action` on customer `id` of `partner`, from `before` to `after` (null
/// for a customer created or deleted): seen by the partner and its distributor.
fn audit_of(
    ids: &Ids<'_>,
    action: Action,
    partner: &Partner,
    id: &str,
    before: serde_json::Value,
    after: serde_json::Value,
    now: Timestamp,
) -> AuditEntry {
    ids.audit(action, Target::new(TargetType::Customer, id), Changes::between(&before, &after), now)
        .seen_by_partner(&partner.id, partner.distributor_id.as_deref())
}

fn customer_exists(tenant_id: &str) -> UseCaseError {
    UseCaseError::CustomerExists(format!("A customer with tenantId {tenant_id} already exists."))
}

/// Creates `new` for `partner` at `now`. Errors: `CustomerExists` (the partner
/// has a customer with this tenant id), `NotFound` (the partner is gone).
pub async fn create(
    store: &dyn CustomerStore,
    ids: Ids<'_>,
    partner: &Partner,
    new: NewCustomer,
    now: Timestamp,
) -> Result<Customer, UseCaseError> {
    let customer = Customer {
        id: ids.new_id(),
        partner_id: partner.id.clone(),
        name: new.name,
        tenant_id: new.tenant_id,
        email: new.email,
        receivers: new.receivers,
        questionnaire_recipients: new.questionnaire_recipients,
        created_at: now,
        updated_at: None,
        version: 1,
        consent: Consent::default(),
    };
    let evt = ids.event(
        EventType::CustomerCreated,
        Owner::partner(&partner.id),
        partner.distributor_id.clone(),
        now,
        views::customer_event(&customer),
    );
    let audit =
        audit_of(&ids, Action::CustomerCreated, partner, customer.id.as_str(), json!(null), audited(&customer), now);
    let evt = evt.with_audit(audit);
    match store.create_customer(&customer, &evt).await {
        Ok(()) => Ok(customer),
        Err(StoreError::CustomerExists) => Err(customer_exists(&customer.tenant_id)),
        Err(StoreError::NotFound) => Err(UseCaseError::not_found("partner", &partner.id)),
        Err(e) => Err(e.into()),
    }
}

/// The partner's customer `id`, or `NotFound` (also for another partner's customer).
pub async fn find(store: &dyn CustomerStore, partner: &Partner, id: &str) -> Result<Customer, UseCaseError> {
    store.customer(&partner.id, id).await?.ok_or_else(|| UseCaseError::not_found("customer", id))
}

/// Applies `patch` to the partner's customer `id` (optimistic concurrency: the patch is applied
/// to what was read, and read again if it moved meanwhile). Errors: `NotFound`,
/// `CustomerExists` (the new tenant id is taken), `Internal` if it kept changing.
pub async fn update(
    store: &dyn CustomerStore,
    ids: Ids<'_>,
    partner: &Partner,
    id: &str,
    patch: &CustomerPatch,
    now: Timestamp,
) -> Result<Customer, UseCaseError> {
    for _ in 0..OPTIMISTIC_TRIES {
        let current = find(store, partner, id).await?;
        let mut next = current.clone();
        if let Some(n) = &patch.name {
            next.name = n.clone();
        }
        if let Some(t) = &patch.tenant_id {
            if *t != current.tenant_id {
                // Consent was given for the old tenant only (contract, "Tenant consent").
                next.consent = Consent::changed(ConsentStatus::Pending, now);
            }
            next.tenant_id = t.clone();
        }
        if let Some(e) = &patch.email {
            next.email = e.clone();
        }
        if let Some(r) = &patch.receivers {
            next.receivers = r.clone();
        }
        if let Some(q) = &patch.questionnaire_recipients {
            next.questionnaire_recipients = q.clone();
        }
        next.updated_at = Some(now);
        next.version = current.version + 1;
        let evt = ids.event(
            EventType::CustomerUpdated,
            Owner::partner(&partner.id),
            partner.distributor_id.clone(),
            now,
            views::customer_event(&next),
        );
        let audit = audit_of(&ids, Action::CustomerUpdated, partner, id, audited(&current), audited(&next), now);
        let evt = evt.with_audit(audit);
        match store.update_customer(&next, current.version, &evt).await {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Err(UseCaseError::not_found("customer", id)),
            Err(StoreError::CustomerExists) => return Err(customer_exists(&next.tenant_id)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(UseCaseError::Internal(format!("customer {id} kept changing during the update")))
}

/// Deletes the partner's customer `id` and every run of it, with `customer.deleted`.
pub async fn delete(
    store: &dyn CustomerStore,
    ids: Ids<'_>,
    partner: &Partner,
    id: &str,
    now: Timestamp,
) -> Result<(), UseCaseError> {
    // Read for the audit entry (what was deleted); deleted meanwhile, the store says NotFound.
    let gone = find(store, partner, id).await?;
    let evt = ids.event(
        EventType::CustomerDeleted,
        Owner::partner(&partner.id),
        partner.distributor_id.clone(),
        now,
        json!({ "id": id, "partnerId": partner.id, "deletedAt": rfc3339(now) }),
    );
    let evt = evt.with_audit(audit_of(&ids, Action::CustomerDeleted, partner, id, audited(&gone), json!(null), now));
    store
        .delete_customer(&partner.id, id, &evt)
        .await
        .on(StoreError::NotFound, || UseCaseError::not_found("customer", id))
}

/// A page of the partner's customers, in creation order (P4, D10).
pub async fn list(
    store: &dyn CustomerStore,
    partner: &Partner,
    page: &PageRequest,
) -> Result<Page<Customer>, UseCaseError> {
    Ok(store.list_customers(&partner.id, page).await?)
}

/// The partner's customer `id` with its newest `recent` runs, newest first (P7). `read` is
/// the customer as already read with the account (`None`: not read yet, read here).
pub async fn with_recent_runs(
    customers: &dyn CustomerStore,
    runs: &dyn RunStore,
    partner: &Partner,
    id: &str,
    recent: usize,
    read: Option<Option<Customer>>,
) -> Result<(Customer, Vec<Run>), UseCaseError> {
    let customer = match read {
        Some(found) => found.ok_or_else(|| UseCaseError::not_found("customer", id))?,
        None => find(customers, partner, id).await?,
    };
    let filter = RunFilter { customer_id: Some(customer.id.clone()), ..Default::default() };
    let newest = runs.list_runs(&partner.id, &filter, &PageRequest { limit: recent, after: None }).await?;
    Ok((customer, newest.items))
}
