//! What `GET /billing` answers: the partner portal's shape (snake_case, as Stripe names the
//! fields), from Stripe or from the local ledger.

use serde::Serialize;

use crate::billing::current_period_end;
use crate::domain::account::Partner;
use crate::domain::time::{rfc3339, Timestamp};

/// `{subscriptions, invoices, portal_url}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BillingSnapshot {
    pub subscriptions: Vec<SubscriptionView>,
    pub invoices: Vec<InvoiceView>,
    /// A customer-portal link, or `null` (`POST /billing/portal` makes a fresh one).
    pub portal_url: Option<String>,
}

/// One subscription. `amount` is in the currency's minor unit (cents), per period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubscriptionView {
    pub id: String,
    pub plan: String,
    pub product: Option<String>,
    /// Stripe's statuses: `active`, `past_due`, `unpaid`, `canceled`, `incomplete`, …
    pub status: String,
    /// `month` or `year`.
    pub interval: String,
    pub interval_count: u32,
    pub amount: Option<i64>,
    /// Lower-case ISO 4217.
    pub currency: String,
    /// RFC 3339.
    pub current_period_end: Option<String>,
    pub cancel_at_period_end: bool,
}

/// One invoice. `created` is RFC 3339; `amount_due` in the minor unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvoiceView {
    pub id: String,
    pub number: Option<String>,
    pub created: String,
    pub amount_due: i64,
    pub currency: String,
    pub status: Option<String>,
    pub invoice_pdf: Option<String>,
    pub hosted_invoice_url: Option<String>,
}

/// The local ledger's view: the partner's one subscription (`local_<partner id>`; no
/// amount, as the ledger keeps no prices), no invoices, no portal.
pub fn local(partner: &Partner, now: Timestamp) -> BillingSnapshot {
    let sub = &partner.subscription;
    let annual = sub.billing == "rolling";
    BillingSnapshot {
        subscriptions: vec![SubscriptionView {
            id: format!("local_{}", partner.id),
            plan: partner.plan.clone(),
            product: None,
            status: sub.status.clone(),
            interval: if annual { "year" } else { "month" }.into(),
            interval_count: 1,
            amount: None,
            currency: sub.currency.clone(),
            current_period_end: Some(rfc3339(current_period_end(sub, now))),
            cancel_at_period_end: false,
        }],
        invoices: Vec::new(),
        portal_url: None,
    }
}
