//! Tenant consent (contract, "Tenant consent"): the signed `state` and the admin-consent URL a
//! partner hands to its customer's administrator, the callback Microsoft redirects that
//! administrator to, and the one write that changes a customer's consent (the callback's grant
//! or refusal, the runner's revocation), with `customer.consent_updated` in the same write.
//!
//! A consent is recorded on the customer, so per partner, and only while the customer still has
//! the tenant the link was made for: the write is conditional on the customer's version, and a
//! `tenantId` change (which bumps the version) resets it to `pending`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{Ids, UseCaseError, OPTIMISTIC_TRIES};
use crate::domain::account::Owner;
use crate::domain::audit::{Action, Actor, Changes, Target, TargetType};
use crate::domain::consent::{Consent, ConsentStatus};
use crate::domain::customer::Customer;
use crate::domain::event::EventType;
use crate::domain::ids::DistributorId;
use crate::domain::time::Timestamp;
use crate::store::{AccountStore, CustomerStore, StoreError};

/// How long a consent link's `state` is accepted (contract: 30 days), in seconds.
pub const STATE_LIFETIME_SECS: i64 = 30 * 86_400;

/// Microsoft's identity platform, where admin consent is granted on AWS (contract).
pub const MICROSOFT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The `redirect_uri` path under `PUBLIC_BASE_URL`.
pub const CALLBACK_PATH: &str = "/consent/callback";

/// The scope asked for: every application permission configured on the app
/// (`docs/graph-app.md`).
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// The Graph app's client id the dev stand-in shows (there is no real app without Graph
/// credentials).
pub const DEV_CLIENT_ID: &str = "baref00t-dev-app";

/// Where consent is granted and for which app; built once by the composition root.
#[derive(Clone, Debug)]
pub struct ConsentSettings {
    /// `CONSENT_AUTHORITY`, or by default Microsoft's when the service reads tenants with
    /// Graph, the dev server's stand-in (`{PUBLIC_BASE_URL}/dev/consent`) when it reads the
    /// demo tenants. Without a trailing slash.
    pub authority: String,
    /// The Graph app's client id (`graphClientId` in the secret), or [`DEV_CLIENT_ID`].
    pub client_id: String,
}

/// What a consent link is made from: the signing key (`consentSigning` in the secret), the
/// authority (`CONSENT_AUTHORITY`), the Graph app's client id and the API's public URL.
#[derive(Clone, Copy)]
pub struct ConsentLinks<'a> {
    pub signing_key: &'a [u8],
    /// Without a trailing slash, e.g. `https://login.microsoftonline.com`.
    pub authority: &'a str,
    pub client_id: &'a str,
    /// Without a trailing slash.
    pub public_base_url: &'a str,
}

impl ConsentLinks<'_> {
    /// The admin-consent URL for `customer`'s tenant, with a `state` valid 30 days from `now`:
    /// `{authority}/{tenantId}/v2.0/adminconsent?client_id=…&scope=…&redirect_uri=…&state=…`.
    pub fn url(&self, customer: &Customer, now: Timestamp) -> String {
        let state = State {
            partner_id: customer.partner_id.to_string(),
            customer_id: customer.id.to_string(),
            tenant_id: customer.tenant_id.to_string(),
            expires_at: now + STATE_LIFETIME_SECS,
        };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", self.client_id)
            .append_pair("scope", GRAPH_SCOPE)
            .append_pair("redirect_uri", &self.redirect_uri())
            .append_pair("state", &state.sign(self.signing_key))
            .finish();
        format!("{}/{}/v2.0/adminconsent?{query}", self.authority.trim_end_matches('/'), customer.tenant_id)
    }

    /// `{PUBLIC_BASE_URL}/consent/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.public_base_url.trim_end_matches('/'))
    }
}

/// What a `state` binds: the partner, its customer and the tenant the link was made for, and
/// when it stops being accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub partner_id: String,
    pub customer_id: String,
    pub tenant_id: String,
    pub expires_at: Timestamp,
}

/// Why a `state` was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not one we signed, or altered since.
    #[error("the consent link is not valid (it was altered or is incomplete)")]
    Tampered,
    #[error("the consent link has expired")]
    Expired,
}

fn mac(key: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    // Its own label: a report link or a cursor signed with the same bytes is never a state.
    m.update(b"consent-state\0");
    m.update(payload.as_bytes());
    m
}

impl State {
    /// `base64url(partner.customer.tenant.expires).base64url(HMAC-SHA256)`: opaque to the
    /// browser, checked with a constant-time comparison.
    pub fn sign(&self, key: &[u8]) -> String {
        let payload = format!("{}.{}.{}.{}", self.partner_id, self.customer_id, self.tenant_id, self.expires_at.unix());
        let sig = mac(key, &payload).finalize().into_bytes();
        format!("{}.{}", B64.encode(&payload), B64.encode(sig))
    }

    /// The state `token` carries, if we signed it and it has not expired at `now`.
    pub fn verify(key: &[u8], token: &str, now: Timestamp) -> Result<Self, StateError> {
        let (payload, sig) = token.split_once('.').ok_or(StateError::Tampered)?;
        let payload = B64.decode(payload).ok().and_then(|p| String::from_utf8(p).ok()).ok_or(StateError::Tampered)?;
        let sig = B64.decode(sig).map_err(|_| StateError::Tampered)?;
        mac(key, &payload).verify_slice(&sig).map_err(|_| StateError::Tampered)?;
        let fields: Vec<&str> = payload.split('.').collect();
        let [partner, customer, tenant, exp] = fields[..] else { return Err(StateError::Tampered) };
        let expires_at = Timestamp::from_unix(exp.parse().map_err(|_| StateError::Tampered)?);
        if now >= expires_at {
            return Err(StateError::Expired);
        }
        Ok(Self { partner_id: partner.into(), customer_id: customer.into(), tenant_id: tenant.into(), expires_at })
    }
}

/// Why a consent change was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum NotRecorded {
    /// The customer (or its partner) no longer exists.
    #[error("the customer no longer exists")]
    CustomerGone,
    /// The customer's `tenantId` is no longer the one consent was given (or refused) for.
    #[error("the customer's tenant changed")]
    TenantChanged,
    #[error(transparent)]
    Failed(#[from] UseCaseError),
}

/// One consent change: whose customer, for which tenant, to what.
#[derive(Clone, Copy, Debug)]
pub struct ConsentChange<'a> {
    pub partner_id: &'a str,
    /// The partner's distributor, which receives `customer.consent_updated` too.
    pub distributor_id: Option<&'a DistributorId>,
    pub customer_id: &'a str,
    /// The tenant the consent is about: the change applies only while the customer has it.
    pub tenant_id: &'a str,
    pub status: ConsentStatus,
}

/// Sets the consent of `customer_id` (of `partner_id`) to `status` at `now`, provided the
/// customer still has `tenant_id`; records `customer.consent_updated` (data `customerId`,
/// `tenantId`, `status`) in the same write. A customer already in `status` is left as it is
/// (a refreshed callback page records nothing twice). Optimistic: conditional on the version
/// read, read again if it moved.
pub async fn record(
    customers: &dyn CustomerStore,
    ids: Ids<'_>,
    change: &ConsentChange<'_>,
    now: Timestamp,
) -> Result<Customer, NotRecorded> {
    let ConsentChange { partner_id, distributor_id, customer_id, tenant_id, status } = *change;
    for _ in 0..OPTIMISTIC_TRIES {
        let current = customers
            .customer(partner_id, customer_id)
            .await
            .map_err(UseCaseError::from)?
            .ok_or(NotRecorded::CustomerGone)?;
        if current.tenant_id.as_str() != tenant_id {
            return Err(NotRecorded::TenantChanged);
        }
        if current.consent.status == status {
            return Ok(current);
        }
        let mut next = current.clone();
        next.consent = Consent::changed(status, now);
        next.updated_at = Some(now);
        next.version = current.version + 1;
        let event = ids.event(
            EventType::CustomerConsentUpdated,
            Owner::partner(partner_id),
            distributor_id.cloned(),
            now,
            json!({ "customerId": next.id, "tenantId": next.tenant_id, "status": status.as_str() }),
        );
        let action = match status {
            ConsentStatus::Granted => Some(Action::ConsentGranted),
            ConsentStatus::Declined => Some(Action::ConsentDeclined),
            ConsentStatus::Revoked => Some(Action::ConsentRevoked),
            ConsentStatus::Pending => None,
        };
        let changes = Changes::new().field("consentStatus", current.consent.status.as_str(), status.as_str());
        let audit = action.map(|a| {
            ids.audit(a, Target::new(TargetType::Customer, customer_id), changes, now)
                .seen_by_partner(partner_id, distributor_id.map(|d| d.as_str()))
        });
        let event = event.with_audit(audit);
        match customers.update_customer(&next, current.version, &event).await {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Err(NotRecorded::CustomerGone),
            Err(e) => return Err(UseCaseError::from(e).into()),
        }
    }
    Err(UseCaseError::Internal(format!("customer {customer_id} kept changing while its consent was recorded")).into())
}

/// The query Microsoft (or the dev stand-in) redirects the administrator's browser with.
#[derive(Clone, Debug, Default)]
pub struct CallbackParams {
    pub admin_consent: Option<String>,
    pub tenant: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// What the callback did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    Granted { customer_name: String },
    Declined { customer_name: String, reason: Option<String> },
}

/// Why the callback changed nothing (each answers 400 with a page saying which).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("the consent response is incomplete: {0} is missing")]
    Missing(&'static str),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the customer this link was made for no longer exists")]
    CustomerGone,
    #[error("the customer's tenant changed since this link was made; ask for a new link")]
    TenantChanged,
    #[error("consent was granted in another tenant than the one this link was made for")]
    TenantMismatch,
}

/// Handles `GET /consent/callback`: checks the `state`, then records a grant (`admin_consent=True`
/// and `tenant` equal to the state's) or a refusal (`error`). `Err(Rejected)` changes nothing;
/// a store fault is `Err(Err(UseCaseError))` (the caller answers 500).
pub async fn callback(
    accounts: &dyn AccountStore,
    customers: &dyn CustomerStore,
    ids: Ids<'_>,
    signing_key: &[u8],
    params: &CallbackParams,
    now: Timestamp,
) -> Result<Result<Recorded, Rejected>, UseCaseError> {
    let Some(token) = params.state.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(Err(Rejected::Missing("state")));
    };
    let state = match State::verify(signing_key, token, now) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e.into())),
    };
    let status = if params.error.as_deref().is_some_and(|e| !e.is_empty()) {
        ConsentStatus::Declined
    } else {
        match params.admin_consent.as_deref() {
            Some(v) if v.eq_ignore_ascii_case("true") => {}
            Some(_) | None => return Ok(Err(Rejected::Missing("admin_consent"))),
        }
        match params.tenant.as_deref() {
            None | Some("") => return Ok(Err(Rejected::Missing("tenant"))),
            Some(t) if !t.eq_ignore_ascii_case(&state.tenant_id) => return Ok(Err(Rejected::TenantMismatch)),
            Some(_) => ConsentStatus::Granted,
        }
    };
    let Some(partner) = accounts.partner(&state.partner_id).await? else {
        return Ok(Err(Rejected::CustomerGone));
    };
    let change = ConsentChange {
        partner_id: &partner.id,
        distributor_id: partner.distributor_id.as_ref(),
        customer_id: &state.customer_id,
        tenant_id: &state.tenant_id,
        status,
    };
    // The tenant's administrator decided, through the partner's link: the audit log's actor.
    let admin = Actor::tenant(&state.tenant_id);
    let recorded = record(customers, ids.acting(&admin), &change, now).await;
    match recorded {
        Ok(c) if status == ConsentStatus::Granted => Ok(Ok(Recorded::Granted { customer_name: c.name })),
        Ok(c) => Ok(Ok(Recorded::Declined {
            customer_name: c.name,
            reason: params.error_description.clone().or_else(|| params.error.clone()),
        })),
        Err(NotRecorded::CustomerGone) => Ok(Err(Rejected::CustomerGone)),
        Err(NotRecorded::TenantChanged) => Ok(Err(Rejected::TenantChanged)),
        Err(NotRecorded::Failed(e)) => Err(e),
    }
}
