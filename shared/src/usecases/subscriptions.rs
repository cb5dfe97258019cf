//! The partner's subscription status, as Stripe's webhooks keep it (contract, "Billing and
//! audit"), and the rule that triggers need a live subscription.

use super::UseCaseError;
use crate::billing::TERMS_TRIES;
use crate::domain::account::{Partner, StripeRefs};
use crate::domain::time::Timestamp;
use crate::store::{AccountStore, StoreError};
use crate::stripe::webhook::{StatusChange, StripeEvent};

/// Statuses in which triggers are refused (403 `SUBSCRIPTION_INACTIVE`).
pub const INACTIVE_STATUSES: &[&str] = &["unpaid", "canceled"];

/// Refuses a trigger while the partner's subscription is `unpaid` or `canceled`.
pub fn require_live(partner: &Partner) -> Result<(), UseCaseError> {
    let status = partner.subscription.status.as_str();
    if INACTIVE_STATUSES.contains(&status) {
        Err(UseCaseError::SubscriptionInactive(format!(
            "The subscription of partner {} is {status}: pay the open invoice (POST /billing/portal) before triggering assessments.",
            partner.id
        )))
    } else {
        Ok(())
    }
}

/// What a webhook event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The status was written (possibly unchanged) and the event recorded.
    Applied,
    /// This event id was applied before: nothing written.
    Duplicate,
    /// Older than the newest event applied (Stripe does not keep order): recorded, status kept.
    Stale,
    /// Not about a partner's current Stripe subscription, or a type that changes nothing.
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Stale => "stale",
            Self::Ignored => "ignored",
        }
    }
}

/// Applies `event` to its partner's stored subscription, once per event id: the id is kept
/// with the subscription, in the same conditional write (on the partner's terms version) as
/// the status, so two deliveries of one event at once write it once; the other reads again
/// and finds the id.
pub async fn apply_event(
    store: &dyn AccountStore,
    event: &StripeEvent,
    now: Timestamp,
) -> Result<Outcome, UseCaseError> {
    let (Some(partner_id), Some(change)) = (event.partner_id(), event.status_change()) else {
        return Ok(Outcome::Ignored);
    };
    for _ in 0..TERMS_TRIES {
        let Some(partner) = store.partner(partner_id).await? else { return Ok(Outcome::Ignored) };
        let mut sub = partner.subscription.clone();
        let Some(refs) = sub.stripe.as_mut() else { return Ok(Outcome::Ignored) };
        if refs.events.iter().any(|id| id == &event.id) {
            return Ok(Outcome::Duplicate);
        }
        let next = match &change {
            StatusChange::Set { subscription_id, .. } if subscription_id != &refs.subscription_id => {
                return Ok(Outcome::Ignored)
            }
            StatusChange::Set { status, .. } => status.clone(),
            StatusChange::PaymentFailed if matches!(sub.status.as_str(), "unpaid" | "canceled") => sub.status.clone(),
            StatusChange::PaymentFailed => "past_due".into(),
            StatusChange::Paid if matches!(sub.status.as_str(), "past_due" | "unpaid") => "active".into(),
            StatusChange::Paid => sub.status.clone(),
        };
        let stale = event.created < refs.event_at;
        remember(refs, &event.id, event.created);
        if !stale {
            sub.status = next;
        }
        match store.update_partner_terms(&partner.id, partner.terms_version, None, None, Some(&sub), now).await {
            Ok(_) => return Ok(if stale { Outcome::Stale } else { Outcome::Applied }),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Ok(Outcome::Ignored),
            Err(e) => return Err(e.into()),
        }
    }
    Err(UseCaseError::Internal("the partner's terms kept changing while a Stripe event was applied".into()))
}

/// Keeps `id` among the newest [`StripeRefs::EVENTS_KEPT`] event ids, and the newest time.
fn remember(refs: &mut StripeRefs, id: &str, created: i64) {
    refs.events.push(id.to_string());
    let extra = refs.events.len().saturating_sub(StripeRefs::EVENTS_KEPT);
    refs.events.drain(..extra);
    refs.event_at = refs.event_at.max(created);
}
