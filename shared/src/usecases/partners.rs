//! A distributor's partners (contract D3–D9): provisioning, terms, activation and suspension.

use serde_json::json;

use super::{Ids, UseCaseError, OPTIMISTIC_TRIES};
use crate::billing::{Billing, PlanChangeRequest};
use crate::domain::account::{AccountStatus, BillingConfig, Distributor, Owner, Partner, Subscription};
use crate::domain::audit::{Action, Changes, Target, TargetType};
use crate::domain::catalog::Plan;
use crate::domain::email::Email;
use crate::domain::event::EventType;
use crate::domain::time::rfc3339;
use crate::domain::time::Timestamp;
use crate::store::{AccountStore, Got, ReadTogether, StoreError, StoreResult, Want};
use crate::store::{Page, PageRequest};

/// Refuses work that needs an active partner (`PartnerInactive`), e.g. D12's "triggering
/// assessments" for a pending or suspended sub-partner.
pub fn require_active(partner: &Partner, doing: &str) -> Result<(), UseCaseError> {
    if partner.status == AccountStatus::Active {
        Ok(())
    } else {
        Err(UseCaseError::PartnerInactive(format!(
            "Partner {} is {}; activate it before {doing}.",
            partner.id,
            partner.status.as_str()
        )))
    }
}

/// A partner as D3/D4 describe it, already checked (email lower-cased, names trimmed, plan
/// and billing from the catalogue's and the contract's lists).
#[derive(Clone, Debug)]
pub struct NewPartner {
    /// Lower-cased ([`Email::lowercased`]): unique per distributor.
    pub email: Email,
    pub company: String,
    pub name: String,
    pub plan: String,
    pub billing: BillingConfig,
}

/// The partner `new` describes, pending under `distributor`, as it would be stored at `now`.
pub fn build(ids: Ids<'_>, distributor: &Distributor, new: NewPartner, now: Timestamp) -> Partner {
    Partner {
        id: ids.new_id(),
        distributor_id: Some(distributor.id.clone()),
        company: new.company,
        email: new.email,
        name: Some(new.name),
        plan: new.plan,
        status: AccountStatus::Pending,
        subscription: Subscription::opening(Some(&new.billing), now),
        billing: Some(new.billing),
        customers_count: 0,
        created_at: now,
        updated_at: None,
        activated_at: None,
        suspended_at: None,
        terms_version: 0,
    }
}

/// Stores a new partner, with its `partner-created` mail to the partner's admin `email` in the
/// same write. Errors: `PartnerExists` (the distributor has a partner with this email).
pub async fn create(
    store: &dyn AccountStore,
    ids: Ids<'_>,
    distributor: &Distributor,
    partner: &Partner,
    now: Timestamp,
) -> Result<(), UseCaseError> {
    let brand = crate::usecases::mail::account_brand(Some(&distributor.company));
    let mail = crate::usecases::mail::notice(
        crate::domain::mail::MailKind::PartnerCreated,
        partner.email.as_str(),
        &brand,
        format!("{}: your baref00t account for {} is ready for activation", distributor.company, partner.company),
        &[
            format!(
                "{} created a baref00t partner account for {} with this address.",
                distributor.company, partner.company
            ),
            format!(
                "The account is pending on the {} plan: {} activates it, then issues your API key.",
                partner.plan, distributor.company
            ),
        ],
        crate::usecases::mail::viewers_of(partner),
    );
    let created = json!({
        "company": partner.company, "email": partner.email, "plan": partner.plan, "status": partner.status.as_str(),
    });
    let audit = ids
        .audit(
            Action::PartnerCreated,
            Target::new(TargetType::Partner, partner.id.as_str()),
            Changes::between(&serde_json::Value::Null, &created),
            now,
        )
        .seen_by_partner(&partner.id, partner.distributor_id.as_deref());
    let event = crate::usecases::mail::partner_mail_event(&ids, partner, now, mail).with_audit(audit);
    match store.create_partner_with(partner, Some(&event)).await {
        Ok(()) => Ok(()),
        Err(StoreError::PartnerExists) => Err(UseCaseError::PartnerExists(format!(
            "A partner with email {} already exists under this distributor.",
            partner.email
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The partner `id` if it belongs to `distributor`; `NotFound` otherwise, exactly as if it did
/// not exist (tenancy answers 404).
pub async fn sub_partner(
    store: &dyn AccountStore,
    distributor: &Distributor,
    id: &str,
) -> Result<Partner, UseCaseError> {
    owned_by(store.partner(id).await?, distributor, id)
}

/// The partner `id` as read (`found`), if it is the distributor's; `NotFound` otherwise.
pub fn owned_by(found: Option<Partner>, distributor: &Distributor, id: &str) -> Result<Partner, UseCaseError> {
    found
        .filter(|p| p.distributor_id.as_deref() == Some(distributor.id.as_str()))
        .ok_or_else(|| UseCaseError::not_found("partner", id))
}

/// D6's `billing` object: `None` in a field keeps what the partner has.
#[derive(Clone, Debug, Default)]
pub struct BillingPatch {
    pub currency: Option<String>,
    pub interval: Option<String>,
}

/// D6: a new plan (through billing, with proration) and/or a billing patch; `None` keeps what
/// the partner has. `current_plan` is the partner's plan as the catalogue has it: on Stripe a new
/// currency or interval is another price of that plan (contract, "Billing and audit": D6's plan
/// and billing change the subscription), moved before the billing is written, with proration.
/// Returns the partner as updated.
#[allow(clippy::too_many_arguments)]
pub async fn update_terms(
    store: &dyn AccountStore,
    billing: &dyn Billing,
    ids: Ids<'_>,
    mut partner: Partner,
    plan: Option<&Plan>,
    current_plan: Option<&Plan>,
    billing_patch: Option<BillingPatch>,
    now: Timestamp,
) -> Result<Partner, UseCaseError> {
    // On Stripe the billing patch names the price too (`{plan}_{interval}_{currency}`); the
    // local ledger keeps billing as a record only.
    let on_stripe = partner.subscription.stripe.is_some();
    let current = partner.billing.clone().unwrap_or_default();
    let price_patch = billing_patch.as_ref().filter(|_| on_stripe).map(|b| {
        (
            b.interval.clone().unwrap_or_else(|| current.interval.clone()),
            b.currency.clone().unwrap_or_else(|| current.currency.clone()),
        )
    });
    let price_moves =
        price_patch.as_ref().is_some_and(|(i, c)| *i != current.interval || !c.eq_ignore_ascii_case(&current.currency));
    let new_plan = plan.filter(|p| p.id != partner.plan);
    if let Some(plan) = new_plan.or(current_plan.filter(|_| price_moves)) {
        let audit = Some(super::plans::audit_draft(ids, &partner, now));
        let (interval, currency) = match &price_patch {
            Some((i, c)) => (Some(i.as_str()), Some(c.as_str())),
            None => (None, None),
        };
        let change =
            billing.change_plan(&partner, PlanChangeRequest { plan, billing: interval, currency, audit }, now).await?;
        partner = change.partner;
    }
    if let Some(patch) = billing_patch {
        // Merged into the billing as read, and written only if it is still that (else read again).
        for attempt in 1..=OPTIMISTIC_TRIES {
            let current = partner.billing.clone().unwrap_or_default();
            let merged = BillingConfig {
                currency: patch.currency.clone().unwrap_or_else(|| current.currency.clone()),
                interval: patch.interval.clone().unwrap_or_else(|| current.interval.clone()),
            };
            let id = partner.id.clone();
            let changes = Changes::new().field("billing.currency", &current.currency, &merged.currency).field(
                "billing.interval",
                &current.interval,
                &merged.interval,
            );
            let audit = ids
                .audit(Action::BillingChanged, Target::new(TargetType::Partner, id.as_str()), changes, now)
                .seen_by_partner(&id, partner.distributor_id.as_deref())
                .recorded();
            match store
                .update_partner_terms_audited(
                    &id,
                    partner.terms_version,
                    None,
                    Some(&merged),
                    None,
                    now,
                    audit.as_ref(),
                )
                .await
            {
                Ok(updated) => return Ok(updated),
                Err(StoreError::Conflict) if attempt < OPTIMISTIC_TRIES => {
                    partner = store.partner(&id).await?.ok_or_else(|| UseCaseError::not_found("partner", &id))?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(partner)
}

/// Where D7 and D8 move a partner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Activate,
    Suspend,
}

impl Transition {
    /// The status moved to, as the API and the event show it.
    pub fn status(self) -> &'static str {
        match self {
            Self::Activate => "active",
            Self::Suspend => "suspended",
        }
    }

    /// The field that holds the time of the move (`activatedAt`, `suspendedAt`).
    pub fn time_field(self) -> &'static str {
        match self {
            Self::Activate => "activatedAt",
            Self::Suspend => "suspendedAt",
        }
    }
}

/// D7/D8: moves the partner (suspension deletes its keys in the same write) and records the
/// `partner.activated`/`partner.suspended` event; a partner already there is answered as it
/// is, with no event. Returns the partner and the time of its move.
pub async fn transition(
    store: &dyn AccountStore,
    ids: Ids<'_>,
    distributor: &Distributor,
    partner: &Partner,
    to: Transition,
    now: Timestamp,
) -> Result<(Partner, Option<Timestamp>), UseCaseError> {
    let kind = match to {
        Transition::Activate => EventType::PartnerActivated,
        Transition::Suspend => EventType::PartnerSuspended,
    };
    let data = json!({ "partnerId": partner.id, "status": to.status(), to.time_field(): rfc3339(now) });
    let (mail_kind, said) = match to {
        Transition::Activate => (crate::domain::mail::MailKind::PartnerActivated, "is active: its API keys work"),
        Transition::Suspend => (
            crate::domain::mail::MailKind::PartnerSuspended,
            "is suspended: its API keys were removed and stop working",
        ),
    };
    let brand = crate::usecases::mail::account_brand(Some(&distributor.company));
    let mail = crate::usecases::mail::notice(
        mail_kind,
        partner.email.as_str(),
        &brand,
        format!("{}: your baref00t account for {} is {}", distributor.company, partner.company, to.status()),
        &[format!("The baref00t partner account of {} {said} (since {}).", partner.company, rfc3339(now))],
        crate::usecases::mail::viewers_of(partner),
    );
    // Recorded with the event, which is only written when the status really changed.
    let action = match to {
        Transition::Activate => Action::PartnerActivated,
        Transition::Suspend => Action::PartnerSuspended,
    };
    let changes = Changes::new().field("status", partner.status.as_str(), to.status());
    let audit = ids
        .audit(action, Target::new(TargetType::Partner, partner.id.as_str()), changes, now)
        .seen_by_partner(&partner.id, partner.distributor_id.as_deref());
    let evt = ids.event(kind, Owner::distributor(&distributor.id), None, now, data).with_mail([mail]).with_audit(audit);
    Ok(match to {
        Transition::Activate => {
            let c = store.activate_partner(&partner.id, now, &evt).await?;
            let at = c.partner.activated_at;
            (c.partner, at)
        }
        Transition::Suspend => {
            let c = store.suspend_partner(&partner.id, now, &evt).await?;
            let at = c.partner.suspended_at;
            (c.partner, at)
        }
    })
}

/// A page of the distributor's partners in creation order, optionally of one status (D2).
pub async fn list(
    store: &dyn AccountStore,
    together: &dyn ReadTogether,
    distributor: &Distributor,
    status: Option<AccountStatus>,
    page: &PageRequest,
    ids: Option<&[String]>,
) -> Result<Page<Partner>, UseCaseError> {
    match (status, ids) {
        (None, Some(ids)) => Ok(page_of_ids(together, ids, page).await?),
        _ => Ok(store.list_partners(&distributor.id, status, page).await?),
    }
}

/// One page of the partners `ids` names (every partner of a distributor, ascending, as read
/// with the account): the page's ids, then the partners in one `read_together` (issue 16).
/// Paged as `list_partners` pages: after the id `page.after`, `next` the last id given when
/// more follow.
async fn page_of_ids(together: &dyn ReadTogether, ids: &[String], page: &PageRequest) -> StoreResult<Page<Partner>> {
    let start = page.after.as_deref().map_or(0, |after| ids.partition_point(|id| id.as_str() <= after));
    let end = (start + page.limit).min(ids.len());
    let chosen = &ids[start.min(end)..end];
    let wants: Vec<Want> = chosen.iter().map(|id| Want::Partner(id.clone())).collect();
    let items: Vec<Partner> = together
        .read_together(&wants)
        .await?
        .into_iter()
        .filter_map(|got| match got {
            Got::Partner(p) => p,
            _ => None,
        })
        .collect();
    let next = if end < ids.len() { chosen.last().cloned() } else { None };
    Ok(Page { items, next })
}
