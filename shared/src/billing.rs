//! The billing port: plan changes with proration. The adapter here is a local ledger that
//! keeps the subscription in the store; a payment-provider adapter implements the same trait.

use std::sync::Arc;

use async_trait::async_trait;

pub use crate::billing_snapshot::BillingSnapshot;
use crate::domain::account::{Partner, Subscription};
use crate::domain::catalog::Plan;
use crate::domain::time::Timestamp;
use crate::store::{AccountStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The change cannot be made (shown to the caller as `PLAN_CHANGE_FAILED`).
    #[error("{0}")]
    Rejected(String),
    #[error("billing provider failed: {0}")]
    Provider(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the caller asked for; `None` keeps the subscription's current value.
#[derive(Clone, Debug)]
pub struct PlanChangeRequest<'a> {
    pub plan: &'a Plan,
    pub billing: Option<&'a str>,
    pub currency: Option<&'a str>,
    /// The audit entry of the change (`plan.changed`, its actor and viewers) without its
    /// `changes`: the adapter fills them from the terms it writes ([`plan_change_audit`]) and
    /// records it in the same write.
    pub audit: Option<crate::domain::audit::AuditEntry>,
}

/// The audit entry of `change` moving `before` to `plan` with subscription `sub`: `change.audit`
/// with the fields that changed (`plan`, `billing`, `currency`), `None` when there is none.
pub fn plan_change_audit(
    change: &PlanChangeRequest<'_>,
    before: &Partner,
    plan: &str,
    sub: &Subscription,
) -> Option<crate::domain::audit::AuditEntry> {
    let changes = crate::domain::audit::Changes::new()
        .field("plan", &before.plan, plan)
        .field("billing", &before.subscription.billing, &sub.billing)
        .field("currency", &before.subscription.currency, &sub.currency);
    change.audit.clone()?.with_changes(changes).recorded()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanChange {
    pub partner: Partner,
    pub current_period_end: Timestamp,
}

#[async_trait]
pub trait Billing: Send + Sync {
    async fn change_plan(
        &self,
        partner: &Partner,
        change: PlanChangeRequest<'_>,
        now: Timestamp,
    ) -> Result<PlanChange, BillingError>;

    /// D3/D4: opens the new partner's subscription with the provider before the partner is
    /// stored, and answers the subscription to store with it. The local ledger keeps it as
    /// built.
    async fn open(&self, partner: &Partner, _now: Timestamp) -> Result<Subscription, BillingError> {
        Ok(partner.subscription.clone())
    }

    /// `GET /billing`: the partner's subscriptions and invoices (the local ledger: its one
    /// subscription, no invoices, no portal).
    async fn snapshot(&self, partner: &Partner, now: Timestamp) -> Result<BillingSnapshot, BillingError> {
        Ok(crate::billing_snapshot::local(partner, now))
    }

    /// `POST /billing/portal`: a customer-portal link, `None` when the partner has no
    /// customer with the provider (the local ledger, or a partner made before billing moved
    /// to it). `request_key` is unique to the request (its idempotency key's seed).
    async fn portal_session(
        &self,
        _partner: &Partner,
        _return_url: &str,
        _request_key: &str,
    ) -> Result<Option<String>, BillingError> {
        Ok(None)
    }

    /// The secret that signs the provider's webhooks (`whsec_…`), if there is one.
    fn webhook_secret(&self) -> Option<&str> {
        None
    }
}

/// End of the billing period that `now` falls in.
pub fn current_period_end(sub: &Subscription, now: Timestamp) -> Timestamp {
    let step = if sub.billing == "rolling" { 12 } else { 1 };
    let mut periods = 1;
    loop {
        let end = sub.anchor.add_months(step * periods);
        if end > now || periods > 12 * 400 {
            return end;
        }
        periods += 1;
    }
}

/// Keeps subscriptions in the store; proration is implied by the period arithmetic.
pub struct LocalLedger {
    store: Arc<dyn AccountStore>,
}

impl LocalLedger {
    /// A ledger writing plans and subscriptions to the partners in `store`.
    pub fn new(store: Arc<dyn AccountStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl Billing for LocalLedger {
    async fn change_plan(
        &self,
        partner: &Partner,
        change: PlanChangeRequest<'_>,
        now: Timestamp,
    ) -> Result<PlanChange, BillingError> {
        // Computed from the partner as read, written only if its terms are still those; a
        // concurrent change makes it read again and compute anew (never a lost update).
        let mut partner = partner.clone();
        for _ in 0..TERMS_TRIES {
            let sub = next_subscription(&partner, &change, now)?;
            let audit = plan_change_audit(&change, &partner, &change.plan.id, &sub);
            let written = self
                .store
                .update_partner_terms_audited(
                    &partner.id,
                    partner.terms_version,
                    Some(&change.plan.id),
                    None,
                    Some(&sub),
                    now,
                    audit.as_ref(),
                )
                .await;
            match written {
                Ok(updated) => {
                    return Ok(PlanChange { current_period_end: current_period_end(&sub, now), partner: updated })
                }
                Err(StoreError::Conflict) => {
                    partner = self.store.partner(&partner.id).await?.ok_or(StoreError::NotFound)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(BillingError::Provider("the partner's terms kept changing".into()))
    }
}

/// How many times a plan change reads the partner again after a concurrent change.
pub(crate) const TERMS_TRIES: usize = 5;

/// The subscription `change` makes of the partner's, at `now`; `Rejected` when it cannot be
/// modified or nothing would change.
pub(crate) fn next_subscription(
    partner: &Partner,
    change: &PlanChangeRequest<'_>,
    now: Timestamp,
) -> Result<Subscription, BillingError> {
    let current = &partner.subscription;
    if current.status != "active" {
        return Err(BillingError::Rejected(format!("The subscription is {} and cannot be modified.", current.status)));
    }
    let billing = change.billing.unwrap_or(&current.billing);
    let currency = change.currency.unwrap_or(&current.currency);
    if partner.plan == change.plan.id && billing == current.billing && currency == current.currency {
        return Err(BillingError::Rejected(format!(
            "The partner is already on the {} plan ({billing}, {currency}).",
            change.plan.id
        )));
    }
    let mut sub = current.clone();
    if billing != current.billing {
        // A new interval starts a new cycle today; the unused part of the old one is credited.
        sub.anchor = now.day_start();
    }
    sub.billing = billing.to_string();
    sub.currency = currency.to_string();
    Ok(sub)
}
