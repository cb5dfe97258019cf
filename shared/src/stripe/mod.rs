//! Billing on Stripe: the [`Billing`] port's adapter over Stripe's HTTP API (`client`), and
//! the verification of Stripe's webhooks (`webhook`). Used when the secret holds
//! `stripeSecretKey`; without it the local ledger (`billing::LocalLedger`) stays.
//!
//! Writes are ordered so that a Stripe or price-lookup failure changes nothing of ours: the
//! price is looked up and Stripe is called first, and the partner is written only with what
//! Stripe answered. A retried request sends the same `Idempotency-Key` (made from the partner
//! id, its terms version and the price's lookup key), so Stripe answers it without acting
//! twice.

pub mod client;
pub mod webhook;

use std::sync::Arc;

use async_trait::async_trait;

use crate::billing::{current_period_end, Billing, BillingError, BillingSnapshot, PlanChange, PlanChangeRequest};
use crate::billing_snapshot::{InvoiceView, SubscriptionView};
use crate::domain::account::{Partner, StripeRefs, Subscription};
use crate::domain::time::{rfc3339, Timestamp};
use crate::store::{AccountStore, StoreError};
use client::{StripeClient, StripeError};

/// How many invoices `GET /billing` lists, newest first.
pub const INVOICES_SHOWN: u32 = 12;

/// The lookup key of a price: `{plan}_{billing}_{currency}`, e.g. `professional_monthly_aud`
/// (contract, "Billing and audit"). `billing` is P2's `monthly`/`rolling` or D3's
/// `quarterly`/`annual`; `currency` lower case.
pub fn lookup_key(plan: &str, billing: &str, currency: &str) -> String {
    format!("{plan}_{billing}_{}", currency.to_ascii_lowercase())
}

/// The billing part of a lookup key made by [`lookup_key`] (`None` if it is not one).
fn billing_of(key: &str) -> Option<&str> {
    let mut parts = key.rsplitn(3, '_');
    let (_currency, billing) = (parts.next()?, parts.next()?);
    parts.next().map(|_| billing)
}

/// The subscription's `billing` as P2 shows it: annual prices are `rolling`, the others
/// `monthly` (as `Subscription::opening` maps D3's intervals).
fn shown_billing(billing: &str) -> &'static str {
    if matches!(billing, "rolling" | "annual") {
        "rolling"
    } else {
        "monthly"
    }
}

fn provider(e: StripeError) -> BillingError {
    BillingError::Provider(e.to_string())
}

/// The billing port on Stripe; partners are written to `store` after Stripe answered.
pub struct StripeBilling {
    client: StripeClient,
    store: Arc<dyn AccountStore>,
    webhook_secret: Option<String>,
    return_url: String,
}

impl StripeBilling {
    /// Billing through `client`, writing partners to `store`; `webhook_secret` verifies
    /// `POST /stripe/webhook`; the customer portal sends partners back to `return_url`.
    pub fn new(
        client: StripeClient,
        store: Arc<dyn AccountStore>,
        webhook_secret: Option<String>,
        return_url: String,
    ) -> Self {
        Self { client, store, webhook_secret, return_url }
    }

    async fn price(&self, key: &str) -> Result<client::Price, BillingError> {
        self.client
            .price_by_lookup_key(key)
            .await
            .map_err(provider)?
            .ok_or_else(|| BillingError::Provider(format!("no active Stripe price has the lookup key {key}")))
    }
}

#[async_trait]
impl Billing for StripeBilling {
    async fn change_plan(
        &self,
        partner: &Partner,
        change: PlanChangeRequest<'_>,
        now: Timestamp,
    ) -> Result<PlanChange, BillingError> {
        let mut partner = partner.clone();
        for _ in 0..crate::billing::TERMS_TRIES {
            let current = &partner.subscription;
            let Some(refs) = current.stripe.clone() else {
                return Err(BillingError::Rejected(
                    "The partner has no Stripe subscription to change (it was made before billing moved to Stripe)."
                        .into(),
                ));
            };
            if current.status != "active" {
                return Err(BillingError::Rejected(format!(
                    "The subscription is {} and cannot be modified.",
                    current.status
                )));
            }
            // Defaults to current: the billing of the price the partner is on, its currency.
            let billing = change.billing.or_else(|| billing_of(&refs.lookup_key)).unwrap_or(&current.billing);
            let currency = change.currency.unwrap_or(&current.currency);
            let key = lookup_key(&change.plan.id, billing, currency);
            if key == refs.lookup_key && partner.plan == change.plan.id {
                return Err(BillingError::Rejected(format!(
                    "The partner is already on the {} plan ({billing}, {currency}).",
                    change.plan.id
                )));
            }
            let price = self.price(&key).await?;
            let idempotency = format!("baref00t-plan-{}-{}-{key}", partner.id, partner.terms_version);
            let at_stripe = self
                .client
                .change_price(&idempotency, &refs.subscription_id, &refs.item_id, &price.id)
                .await
                .map_err(provider)?;
            let mut sub = current.clone();
            if shown_billing(billing) != current.billing {
                sub.anchor = now.day_start();
            }
            sub.billing = shown_billing(billing).into();
            sub.currency = currency.to_ascii_lowercase();
            sub.status = at_stripe.status.clone();
            let item_id = at_stripe.items.data.first().map(|i| i.id.clone()).unwrap_or(refs.item_id.clone());
            sub.stripe = Some(StripeRefs { item_id, lookup_key: key, ..refs });
            // Audited in the same write (contract, "Billing and audit"): under the distributor
            // for D9, as the request's actor says.
            let audit = crate::billing::plan_change_audit(&change, &partner, &change.plan.id, &sub);
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
                    let end = at_stripe.period_end().map(Timestamp::from_unix);
                    return Ok(PlanChange {
                        current_period_end: end.unwrap_or_else(|| current_period_end(&sub, now)),
                        partner: updated,
                    });
                }
                // The terms moved meanwhile (another change, a webhook): read again and decide
                // again; Stripe is asked again under the new terms' key.
                Err(StoreError::Conflict) => {
                    partner = self.store.partner(&partner.id).await?.ok_or(StoreError::NotFound)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(BillingError::Provider("the partner's terms kept changing".into()))
    }

    async fn open(&self, partner: &Partner, _now: Timestamp) -> Result<Subscription, BillingError> {
        let billing = partner.billing.clone().unwrap_or_default();
        let currency = billing.currency.to_ascii_lowercase();
        let key = lookup_key(&partner.plan, &billing.interval, &currency);
        let price = self.price(&key).await?;
        // Under an Idempotency-Key the partner's id is the key's, so a retried D3 meets the
        // customer and subscription its first try made.
        let customer = self
            .client
            .create_customer(
                &format!("baref00t-customer-{}", partner.id),
                partner.email.as_str(),
                &partner.company,
                &partner.id,
            )
            .await
            .map_err(provider)?;
        let at_stripe = self
            .client
            .create_subscription(&format!("baref00t-subscription-{}", partner.id), &customer.id, &price.id, &partner.id)
            .await
            .map_err(provider)?;
        let item = at_stripe
            .items
            .data
            .first()
            .ok_or_else(|| BillingError::Provider(format!("subscription {} has no item", at_stripe.id)))?;
        let mut sub = partner.subscription.clone();
        sub.currency = currency;
        sub.status = at_stripe.status.clone();
        sub.stripe = Some(StripeRefs {
            customer_id: customer.id,
            subscription_id: at_stripe.id.clone(),
            item_id: item.id.clone(),
            lookup_key: key,
            event_at: 0,
            events: Vec::new(),
        });
        Ok(sub)
    }

    async fn snapshot(&self, partner: &Partner, now: Timestamp) -> Result<BillingSnapshot, BillingError> {
        let Some(refs) = &partner.subscription.stripe else {
            return Ok(crate::billing_snapshot::local(partner, now));
        };
        let (sub, invoices) = futures_util::future::join(
            self.client.subscription(&refs.subscription_id),
            self.client.invoices(&refs.customer_id, INVOICES_SHOWN),
        )
        .await;
        let (sub, invoices) = (sub.map_err(provider)?, invoices.map_err(provider)?);
        let plan = sub.items.data.first().and_then(|i| i.plan.clone());
        let view = SubscriptionView {
            id: sub.id.clone(),
            plan: partner.plan.clone(),
            product: plan.as_ref().and_then(|p| p.product.as_ref()).and_then(|p| match p {
                serde_json::Value::String(id) => Some(id.clone()),
                other => other.get("name").and_then(|n| n.as_str()).map(str::to_string),
            }),
            status: sub.status.clone(),
            interval: plan.as_ref().map(|p| p.interval.clone()).unwrap_or_else(|| "month".into()),
            interval_count: plan.as_ref().map(|p| p.interval_count).unwrap_or(1),
            amount: plan.as_ref().and_then(|p| p.amount),
            currency: plan
                .as_ref()
                .map(|p| p.currency.clone())
                .unwrap_or_else(|| partner.subscription.currency.clone()),
            current_period_end: sub.period_end().map(rfc3339),
            cancel_at_period_end: sub.cancel_at_period_end,
        };
        let invoices = invoices
            .into_iter()
            .map(|i| InvoiceView {
                id: i.id,
                number: i.number,
                created: rfc3339(i.created),
                amount_due: i.amount_due,
                currency: i.currency,
                status: i.status,
                invoice_pdf: i.invoice_pdf,
                hosted_invoice_url: i.hosted_invoice_url,
            })
            .collect();
        Ok(BillingSnapshot { subscriptions: vec![view], invoices, portal_url: None })
    }

    async fn portal_session(
        &self,
        partner: &Partner,
        return_url: &str,
        request_key: &str,
    ) -> Result<Option<String>, BillingError> {
        let Some(refs) = &partner.subscription.stripe else { return Ok(None) };
        let return_url = if return_url.is_empty() { self.return_url.as_str() } else { return_url };
        let session = self
            .client
            .portal_session(&format!("baref00t-portal-{request_key}"), &refs.customer_id, return_url)
            .await
            .map_err(provider)?;
        Ok(Some(session.url))
    }

    fn webhook_secret(&self) -> Option<&str> {
        self.webhook_secret.as_deref()
    }
}

/// The Stripe adapter when `secret_key` is given (the secret's `stripeSecretKey`, or the dev
/// server's `STRIPE_SECRET_KEY`), else `None`: the local ledger. `api_base` is
/// `STRIPE_API_BASE` (default [`client::STRIPE_API_BASE`]; localstripe in the tests); the
/// customer portal returns to `return_url`.
pub fn from_settings(
    secret_key: Option<&str>,
    webhook_secret: Option<&str>,
    api_base: Option<&str>,
    store: Arc<dyn AccountStore>,
    return_url: &str,
) -> Result<Option<Arc<dyn Billing>>, String> {
    let webhook_only = webhook_secret.map(str::trim).filter(|s| !s.is_empty());
    let Some(key) = secret_key.filter(|k| !k.trim().is_empty()) else {
        // No key: the local ledger; a webhook secret alone still verifies Stripe's webhook
        // (events for partners without a Stripe subscription are acknowledged and ignored).
        return Ok(webhook_only.map(|secret| {
            Arc::new(LedgerWithWebhook { ledger: crate::billing::LocalLedger::new(store), secret: secret.to_string() })
                as Arc<dyn Billing>
        }));
    };
    let client =
        StripeClient::new(api_base.unwrap_or(client::STRIPE_API_BASE), key.trim()).map_err(|e| e.to_string())?;
    let webhook_secret = webhook_secret.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    Ok(Some(Arc::new(StripeBilling::new(client, store, webhook_secret, return_url.to_string()))))
}

/// The local ledger, with Stripe's webhook secret (a deployment that has the webhook secret
/// but not yet the API key).
struct LedgerWithWebhook {
    ledger: crate::billing::LocalLedger,
    secret: String,
}

#[async_trait]
impl Billing for LedgerWithWebhook {
    async fn change_plan(
        &self,
        partner: &Partner,
        change: PlanChangeRequest<'_>,
        now: Timestamp,
    ) -> Result<PlanChange, BillingError> {
        self.ledger.change_plan(partner, change, now).await
    }

    fn webhook_secret(&self) -> Option<&str> {
        Some(&self.secret)
    }
}
