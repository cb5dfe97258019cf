//! Distributors, partners, and the accounts that API keys belong to.

use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::email::Email;
use super::ids::{DistributorId, PartnerId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Pending,
    Active,
    Suspended,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// Which API an account (and its keys) belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    Partner,
    Distributor,
}

impl Surface {
    pub fn key_prefix(self) -> &'static str {
        match self {
            Self::Partner => "pk_live_",
            Self::Distributor => "dk_live_",
        }
    }
    pub fn key_header(self) -> &'static str {
        match self {
            Self::Partner => "x-partner-key",
            Self::Distributor => "x-distributor-key",
        }
    }
    pub fn header_display(self) -> &'static str {
        match self {
            Self::Partner => "X-Partner-Key",
            Self::Distributor => "X-Distributor-Key",
        }
    }
}

/// The account a key belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Owner {
    pub surface: Surface,
    pub id: String,
}

impl Owner {
    pub fn partner(id: &str) -> Self {
        Self { surface: Surface::Partner, id: id.into() }
    }
    pub fn distributor(id: &str) -> Self {
        Self { surface: Surface::Distributor, id: id.into() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distributor {
    pub id: DistributorId,
    pub company: String,
    /// Stored lower-cased ([`Email::lowercased`]).
    pub email: Email,
    pub status: AccountStatus,
    pub created_at: Timestamp,
}

/// How a distributor bills the partner: `currency` (ISO 4217, upper case) and `interval`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingConfig {
    pub currency: String,
    pub interval: String,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self { currency: "USD".into(), interval: "quarterly".into() }
    }
}

pub const BILLING_CURRENCIES: &[&str] = &["AUD", "USD", "GBP", "EUR", "NZD"];
pub const BILLING_INTERVALS: &[&str] = &["quarterly", "annual"];

/// The partner's own subscription, as the billing port keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// `monthly` or `rolling` (annual).
    pub billing: String,
    /// Lower-case currency code as the billing provider uses it.
    pub currency: String,
    /// `active`, `past_due`, `canceled`, …
    pub status: String,
    /// Start of the billing cycle that periods are counted from.
    pub anchor: Timestamp,
    /// The subscription at Stripe, when billing is on Stripe (absent on the local ledger and
    /// on partners stored before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe: Option<StripeRefs>,
}

/// Where a partner's subscription lives at Stripe, and what the webhook last applied to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeRefs {
    /// `cus_…`
    pub customer_id: String,
    /// `sub_…`
    pub subscription_id: String,
    /// `si_…`: the one item, whose price a plan change replaces.
    pub item_id: String,
    /// The price's lookup key, `{plan}_{billing}_{currency}` (billing: `monthly`, `rolling`,
    /// `quarterly` or `annual`).
    pub lookup_key: String,
    /// `created` (Unix seconds) of the newest webhook event applied: an older event, delivered
    /// late, no longer changes the status.
    #[serde(default)]
    pub event_at: i64,
    /// Ids of the newest webhook events applied (at most [`StripeRefs::EVENTS_KEPT`]): a
    /// repeated delivery of one is acknowledged and not applied again.
    #[serde(default)]
    pub events: Vec<String>,
}

impl StripeRefs {
    /// How many applied event ids a subscription keeps (Stripe retries an event for 3 days;
    /// older repeats are refused by the signature's 5-minute tolerance or by `event_at`).
    pub const EVENTS_KEPT: usize = 50;
}

impl Subscription {
    /// The subscription a new partner starts on: its billing currency where the billing
    /// provider supports it, billed monthly or (for annual billing) yearly, from today.
    pub fn opening(billing: Option<&BillingConfig>, now: Timestamp) -> Self {
        let currency = billing
            .map(|b| b.currency.to_ascii_lowercase())
            .filter(|c| SUBSCRIPTION_CURRENCIES.contains(&c.as_str()))
            .unwrap_or_else(|| "usd".into());
        let annual = billing.is_some_and(|b| b.interval == "annual");
        Self {
            billing: if annual { "rolling" } else { "monthly" }.into(),
            currency,
            status: "active".into(),
            anchor: now.day_start(),
            stripe: None,
        }
    }
}

pub const SUBSCRIPTION_BILLINGS: &[&str] = &["monthly", "rolling"];
pub const SUBSCRIPTION_CURRENCIES: &[&str] = &["usd", "aud", "gbp", "eur", "sgd"];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    pub id: PartnerId,
    pub distributor_id: Option<DistributorId>,
    pub company: String,
    /// Stored lower-cased ([`Email::lowercased`]): it is unique per distributor.
    pub email: Email,
    pub name: Option<String>,
    pub plan: String,
    pub status: AccountStatus,
    pub billing: Option<BillingConfig>,
    pub subscription: Subscription,
    pub customers_count: u32,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    pub activated_at: Option<Timestamp>,
    pub suspended_at: Option<Timestamp>,
    /// Bumped by every change of plan, billing or subscription; such a change is written only
    /// if it is still what it was computed from (contract P2, D6, D9: no lost update). Absent
    /// (0) until the first change, so items written before it read as they were.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub terms_version: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
