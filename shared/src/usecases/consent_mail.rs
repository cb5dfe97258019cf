//! The consent email (contract, "Tenant consent": `POST …/consent/email`; "Mail": kind
//! `consent-request`): the customer's consent link, sent to the customer's `email` through the
//! mail port, from `MAIL_FROM` under the partner's brand (its company unless branding names
//! another), `Reply-To` the branding's `contactEmail`.
//!
//! The message is recorded (an outbox event carrying its mail entry), not sent while the request
//! waits: the mail worker sends it with retries, and `GET /mail/messages` shows how it went.
//! So `recipients` are the addresses a message was recorded for, and `failed` stays empty (a
//! refusal shows as the message's `failed` status). The request's `Idempotency-Key` keeps the
//! answer: a retry with the same key replays it and records nothing twice.

use super::consent::ConsentLinks;
use super::customers;
use super::UseCaseError;
use crate::domain::account::Partner;
use crate::domain::branding::Brand;
use crate::domain::catalog::Product;
use crate::domain::email::Email;
use crate::domain::mail::MailKind;
use crate::domain::time::Timestamp;
use crate::mail::content::{self, ConsentRequest};
use crate::store::{AccountStore, CustomerStore, Outbox};
use crate::usecases::mail::{entry, viewers_of};
use crate::usecases::Ids;

/// The ports and settings sending a consent email uses.
#[derive(Clone, Copy)]
pub struct ConsentMailPorts<'a> {
    /// For the partner's branding.
    pub accounts: &'a dyn AccountStore,
    pub customers: &'a dyn CustomerStore,
    /// Where the message is recorded.
    pub outbox: &'a dyn Outbox,
    pub ids: Ids<'a>,
    pub links: ConsentLinks<'a>,
}

/// What the request asks the email to name (both optional; already checked against the
/// catalogue and the partner's plan).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ask<'a> {
    pub product: Option<&'a Product>,
    /// Only with a product, within its range.
    pub maturity_target: Option<u8>,
}

/// Why nothing was sent to a customer (the partner portal's `skipReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The customer has no `email`.
    CustomerMissing,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerMissing => "customer_missing",
        }
    }
}

/// What was done: the answer of `POST …/consent/email`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The addresses a message was recorded for (sent by the mail worker).
    pub recipients: Vec<Email>,
    /// Always empty since the message is recorded, not sent, in the request (kept for the
    /// portal, which reads it): a refusal shows as the message's `failed` status.
    pub failed: Vec<Email>,
    /// Customers left out (0 or 1), with [`Outcome::skip_reason`].
    pub skipped: usize,
    pub skip_reason: Option<SkipReason>,
    /// The link the email carries (or would have), valid 30 days from the request.
    pub consent_url: String,
}

impl Outcome {
    pub fn sent(&self) -> usize {
        self.recipients.len()
    }

    /// Everything the request was about: sent + failed + skipped.
    pub fn total(&self) -> usize {
        self.recipients.len() + self.failed.len() + self.skipped
    }
}

/// Emails `customer_id`'s consent link (a fresh one, as `GET …/consent` gives) to the
/// customer's `email`, whatever its consent status (a granted tenant may need consent again
/// once the app asks for more permissions). A customer without `email` is skipped
/// (`customer_missing`). Errors: `NotFound` (no such customer of this partner), a store fault.
pub async fn send(
    ports: ConsentMailPorts<'_>,
    partner: &Partner,
    customer_id: &str,
    ask: Ask<'_>,
    now: Timestamp,
) -> Result<Outcome, UseCaseError> {
    let customer = customers::find(ports.customers, partner, customer_id).await?;
    let consent_url = ports.links.url(&customer, now);
    let mut outcome =
        Outcome { recipients: Vec::new(), failed: Vec::new(), skipped: 0, skip_reason: None, consent_url };
    let Some(to) = customer.email.as_ref() else {
        outcome.skipped = 1;
        outcome.skip_reason = Some(SkipReason::CustomerMissing);
        return Ok(outcome);
    };
    let brand = Brand::of(&ports.accounts.branding(&partner.id).await?, &partner.company);
    let rendered = content::consent_request(
        &brand,
        &ConsentRequest {
            customer: &customer.name,
            tenant_id: customer.tenant_id.as_str(),
            product: ask.product.map(|p| p.name.as_str()),
            maturity_target: ask.maturity_target,
            consent_url: &outcome.consent_url,
        },
    );
    let mail = entry(MailKind::ConsentRequest, to.as_str(), &brand, rendered, viewers_of(partner));
    let event = crate::usecases::mail::partner_mail_event(&ports.ids, partner, now, mail);
    ports.outbox.record_event(&event).await?;
    tracing::info!(customer = %customer.id, event_id = event.id.as_str(), "consent email recorded");
    outcome.recipients.push(to.clone());
    Ok(outcome)
}
