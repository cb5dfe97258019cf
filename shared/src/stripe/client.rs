//! A typed client of the few Stripe API endpoints billing uses, over `reqwest` (already a
//! dependency; why not async-stripe: docs/api-decisions.md, "Billing on Stripe"). Requests are
//! form-encoded as Stripe expects; every POST carries an `Idempotency-Key` chosen by the caller
//! from our own request, so a retried call is answered by Stripe with its first answer and
//! never charges twice.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Stripe's API, unless `STRIPE_API_BASE` says otherwise (localstripe in the tests).
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// The API version the types here are read with (sent as `Stripe-Version`): the item's own
/// `current_period_end` and the invoice's `parent.subscription_details` are that version's.
pub const STRIPE_VERSION: &str = "2025-03-31.basil";

/// A failed call: Stripe's status (0 when no answer came) and its error message.
#[derive(Debug, thiserror::Error)]
#[error("Stripe answered {status}: {message}")]
pub struct StripeError {
    pub status: u16,
    pub message: String,
}

impl StripeError {
    fn transport(e: reqwest::Error) -> Self {
        Self { status: 0, message: format!("request failed: {e}") }
    }
}

/// A price (`GET /v1/prices`): only what billing reads.
#[derive(Clone, Debug, Deserialize)]
pub struct Price {
    pub id: String,
    pub currency: String,
    pub unit_amount: Option<i64>,
    pub lookup_key: Option<String>,
    pub recurring: Option<Recurring>,
}

/// A price's interval (`month`, `year`, …) and how many of them one period is.
#[derive(Clone, Debug, Deserialize)]
pub struct Recurring {
    pub interval: String,
    pub interval_count: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Customer {
    pub id: String,
}

/// A subscription: status, the period, and its one item.
#[derive(Clone, Debug, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    /// Before API version 2025-03-31 the period is on the subscription; since, on each item.
    pub current_period_end: Option<i64>,
    pub items: List<SubscriptionItem>,
}

impl Subscription {
    /// The period's end (Unix seconds), wherever this API version keeps it.
    pub fn period_end(&self) -> Option<i64> {
        self.current_period_end.or_else(|| self.items.data.first().and_then(|i| i.current_period_end))
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct SubscriptionItem {
    pub id: String,
    pub current_period_end: Option<i64>,
    /// The item's price as a plan object, which Stripe still sends beside `price` (and
    /// localstripe sends alone): its id is the price's id.
    pub plan: Option<PlanObject>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PlanObject {
    pub id: String,
    pub amount: Option<i64>,
    pub currency: String,
    pub interval: String,
    pub interval_count: u32,
    pub product: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub number: Option<String>,
    pub created: i64,
    pub amount_due: i64,
    pub currency: String,
    pub status: Option<String>,
    pub invoice_pdf: Option<String>,
    pub hosted_invoice_url: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PortalSession {
    pub url: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
}

/// The calls billing makes, with the account's secret key.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    secret_key: String,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient").field("base", &self.base).finish_non_exhaustive()
    }
}

impl StripeClient {
    /// A client of `base` (no trailing slash, e.g. [`STRIPE_API_BASE`]) with `secret_key`
    /// (`sk_…` or a restricted `rk_…`); each call gives up after 20 seconds.
    pub fn new(base: &str, secret_key: &str) -> Result<Self, StripeError> {
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(20)).build().map_err(StripeError::transport)?;
        Ok(Self { http, base: base.trim_end_matches('/').to_string(), secret_key: secret_key.to_string() })
    }

    /// The active price whose lookup key is `key`, or `None`.
    pub async fn price_by_lookup_key(&self, key: &str) -> Result<Option<Price>, StripeError> {
        let list: List<Price> =
            self.get("/v1/prices", &[("lookup_keys[]", key), ("active", "true"), ("limit", "1")]).await?;
        Ok(list.data.into_iter().find(|p| p.lookup_key.as_deref() == Some(key)))
    }

    /// `POST /v1/customers`.
    pub async fn create_customer(
        &self,
        idempotency_key: &str,
        email: &str,
        name: &str,
        partner_id: &str,
    ) -> Result<Customer, StripeError> {
        let form = [("email", email), ("name", name), ("metadata[partnerId]", partner_id)];
        self.post("/v1/customers", idempotency_key, &form).await
    }

    /// `POST /v1/subscriptions`: one item of `price_id`, invoiced to the customer (they pay
    /// the invoice or add a card in the customer portal), due in 30 days.
    pub async fn create_subscription(
        &self,
        idempotency_key: &str,
        customer_id: &str,
        price_id: &str,
        partner_id: &str,
    ) -> Result<Subscription, StripeError> {
        let form = [
            ("customer", customer_id),
            ("items[0][price]", price_id),
            ("collection_method", "send_invoice"),
            ("days_until_due", "30"),
            ("metadata[partnerId]", partner_id),
        ];
        self.post("/v1/subscriptions", idempotency_key, &form).await
    }

    /// `POST /v1/subscriptions/{id}`: the item's price replaced, prorated
    /// (`create_prorations`: an upgrade's remainder is charged on the next invoice, a
    /// downgrade's unused time credited to it, as the API reference promises).
    pub async fn change_price(
        &self,
        idempotency_key: &str,
        subscription_id: &str,
        item_id: &str,
        price_id: &str,
    ) -> Result<Subscription, StripeError> {
        let form =
            [("items[0][id]", item_id), ("items[0][price]", price_id), ("proration_behavior", "create_prorations")];
        self.post(&format!("/v1/subscriptions/{subscription_id}"), idempotency_key, &form).await
    }

    /// `GET /v1/subscriptions/{id}`.
    pub async fn subscription(&self, id: &str) -> Result<Subscription, StripeError> {
        self.get(&format!("/v1/subscriptions/{id}"), &[]).await
    }

    /// The customer's newest invoices (at most `limit`).
    pub async fn invoices(&self, customer_id: &str, limit: u32) -> Result<Vec<Invoice>, StripeError> {
        let limit = limit.to_string();
        let list: List<Invoice> =
            self.get("/v1/invoices", &[("customer", customer_id), ("limit", limit.as_str())]).await?;
        Ok(list.data)
    }

    /// `POST /v1/billing_portal/sessions`: a customer-portal link (valid for a short while).
    pub async fn portal_session(
        &self,
        idempotency_key: &str,
        customer_id: &str,
        return_url: &str,
    ) -> Result<PortalSession, StripeError> {
        let form = [("customer", customer_id), ("return_url", return_url)];
        self.post("/v1/billing_portal/sessions", idempotency_key, &form).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, StripeError> {
        let mut url = format!("{}{path}", self.base);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish());
        }
        self.send(self.http.get(url)).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        idempotency_key: &str,
        form: &[(&str, &str)],
    ) -> Result<T, StripeError> {
        let req = self.http.post(format!("{}{path}", self.base)).header("Idempotency-Key", idempotency_key).form(form);
        self.send(req).await
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, StripeError> {
        let resp = req
            .bearer_auth(&self.secret_key)
            .header("Stripe-Version", STRIPE_VERSION)
            .send()
            .await
            .map_err(StripeError::transport)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(StripeError::transport)?;
        if !(200..300).contains(&status) {
            #[derive(Deserialize)]
            struct Envelope {
                error: Detail,
            }
            #[derive(Deserialize)]
            struct Detail {
                message: Option<String>,
            }
            let message = serde_json::from_slice::<Envelope>(&body)
                .ok()
                .and_then(|e| e.error.message)
                .unwrap_or_else(|| "no error message".into());
            return Err(StripeError { status, message });
        }
        serde_json::from_slice(&body).map_err(|e| StripeError { status, message: format!("unexpected answer: {e}") })
    }
}
