//! Webhook endpoints (both surfaces: each account manages its own): create with a secret
//! shown once, update with optional rotation, delete, and manual redelivery.

use serde_json::json;

use super::{Ids, StoreResultExt, UseCaseError, OPTIMISTIC_TRIES};
use crate::domain::account::Owner;
use crate::domain::audit::{Action, AuditEntry, Changes, Target, TargetType};
use crate::domain::ids::EventId;
use crate::domain::time::rfc3339;
use crate::domain::time::Timestamp;
use crate::domain::webhook::{Delivery, Endpoint};
use crate::store::{Page, PageRequest, StoreError, WebhookStore};
use crate::webhooks::dispatcher::{attempt, signing_secrets, Tried};
use crate::webhooks::relay::WebhookQueue;
use crate::webhooks::secrets::encrypt;
use crate::webhooks::signing::generate_secret;
use crate::webhooks::transport::Transport;
use crate::webhooks::WebhookMessage;

/// How long a rotated-out secret keeps signing, in seconds.
pub const ROTATION_GRACE_SECS: i64 = 24 * 3600;

/// A new endpoint, already checked (the URL passed the SSRF guard, events subscribable).
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
}

/// A partial update: `None` keeps a field; `description: Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub rotate_secret: bool,
}

/// An endpoint as stored, and its new `whsec_` secret when one was made (shown once).
#[derive(Debug)]
pub struct EndpointWithSecret {
    pub endpoint: Endpoint,
    pub secret: Option<String>,
}

/// What the audit log records of an endpoint. The URL only as its origin: a receiver's URL
/// may carry a credential in its path or query (Slack's do), and an entry never holds one.
fn audited(e: &Endpoint) -> serde_json::Value {
    let origin = match url::Url::parse(&e.url) {
        Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or_default()),
        Err(_) => String::new(),
    };
    json!({ "url": origin, "events": e.events, "description": e.description, "enabled": e.enabled })
}

/// The audit entry of `action` on endpoint `id` from `before` to `after`, seen by its owner.
fn audit_of(ids: &Ids<'_>, action: Action, owner: &Owner, id: &str, changes: Changes, now: Timestamp) -> AuditEntry {
    ids.audit(action, Target::new(TargetType::Webhook, id), changes, now).seen_by(owner.clone())
}

fn missing(id: &str) -> UseCaseError {
    UseCaseError::not_found("webhook endpoint", id)
}

/// The owner's endpoint `id`, or `NotFound` (also for another account's endpoint).
pub async fn find(store: &dyn WebhookStore, owner: &Owner, id: &str) -> Result<Endpoint, UseCaseError> {
    found(store.endpoint(owner, id).await?, id)
}

/// The endpoint `id` as the caller read it already (`None`: not the owner's, or deleted).
pub fn found(endpoint: Option<Endpoint>, id: &str) -> Result<Endpoint, UseCaseError> {
    endpoint.ok_or_else(|| missing(id))
}

/// Creates an endpoint with a fresh secret, stored encrypted under `encryption_key`.
/// Errors: `TooMany` when the owner already has `max` endpoints.
pub async fn create(
    store: &dyn WebhookStore,
    ids: Ids<'_>,
    encryption_key: &[u8],
    max: usize,
    owner: Owner,
    new: NewEndpoint,
    now: Timestamp,
) -> Result<EndpointWithSecret, UseCaseError> {
    let secret = generate_secret();
    let endpoint = Endpoint {
        id: ids.new_id(),
        owner,
        url: new.url,
        events: new.events,
        description: new.description,
        enabled: new.enabled,
        secret: encrypt(encryption_key, &secret),
        previous_secret: None,
        previous_secret_expires_at: None,
        created_at: now,
        updated_at: None,
        version: 1,
    };
    let changes = Changes::between(&json!(null), &audited(&endpoint));
    let audit = audit_of(&ids, Action::WebhookCreated, &endpoint.owner, endpoint.id.as_str(), changes, now).recorded();
    store.create_endpoint_audited(&endpoint, max, audit.as_ref()).await.on(StoreError::LimitReached, || {
        UseCaseError::TooMany(format!("An account may have at most {max} webhook endpoints."))
    })?;
    Ok(EndpointWithSecret { endpoint, secret: Some(secret) })
}

/// Applies `patch` to the owner's endpoint `id` (optimistic concurrency, as customers). A
/// rotation keeps the old secret signing for [`ROTATION_GRACE_SECS`].
pub async fn update(
    store: &dyn WebhookStore,
    ids: Ids<'_>,
    encryption_key: &[u8],
    owner: &Owner,
    id: &str,
    patch: &EndpointPatch,
    now: Timestamp,
) -> Result<EndpointWithSecret, UseCaseError> {
    for _ in 0..OPTIMISTIC_TRIES {
        let current = find(store, owner, id).await?;
        let mut next = current.clone();
        if let Some(u) = &patch.url {
            next.url = u.clone();
        }
        if let Some(e) = &patch.events {
            next.events = e.clone();
        }
        if let Some(d) = &patch.description {
            next.description = d.clone();
        }
        if let Some(en) = patch.enabled {
            next.enabled = en;
        }
        let new_secret = patch.rotate_secret.then(generate_secret);
        if let Some(s) = &new_secret {
            next.previous_secret = Some(current.secret.clone());
            next.previous_secret_expires_at = Some(now + ROTATION_GRACE_SECS);
            next.secret = encrypt(encryption_key, s);
        }
        next.updated_at = Some(now);
        next.version = current.version + 1;
        let fields = Changes::between(&audited(&current), &audited(&next));
        // A rotation alone is `webhook.secret_rotated`; with other changes, `webhook.updated`
        // (the secret shows as changed, never its value).
        let action = if new_secret.is_some() && fields.is_empty() {
            Action::WebhookSecretRotated
        } else {
            Action::WebhookUpdated
        };
        let changes = match new_secret.is_some() {
            true => Changes::between(&audited(&current), &audited(&next)).field("secret", "old", "new"),
            false => fields,
        };
        let audit = audit_of(&ids, action, owner, id, changes, now).recorded();
        match store.update_endpoint_audited(&next, current.version, audit.as_ref()).await {
            Ok(()) => return Ok(EndpointWithSecret { endpoint: next, secret: new_secret }),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Err(missing(id)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(UseCaseError::Internal("webhook endpoint kept changing during the update".into()))
}

/// Deletes the owner's endpoint `id` at `now`, in constant time: its deliveries go with the
/// table's TTL, and a queued attempt of one ends without a POST.
pub async fn delete(
    store: &dyn WebhookStore,
    ids: Ids<'_>,
    owner: &Owner,
    id: &str,
    now: Timestamp,
) -> Result<(), UseCaseError> {
    let changes = Changes::new().field("deleted", false, true);
    let audit = audit_of(&ids, Action::WebhookDeleted, owner, id, changes, now);
    store.delete_endpoint_audited(owner, id, now, Some(&audit)).await.on(StoreError::NotFound, || missing(id))
}

/// Queues one more attempt of delivery `delivery_id` of the owner's endpoint `id`, now: a
/// manual attempt, outside the retry schedule. A delivery still being retried keeps its
/// automatic retries (the redelivery is one attempt more); a finished one gets no retries
/// after it. The status changes only if the attempt succeeds (`delivered`). Returns the
/// delivery as it stands.
pub async fn redeliver(
    store: &dyn WebhookStore,
    queue: &dyn WebhookQueue,
    owner: &Owner,
    id: &str,
    delivery_id: &str,
    now: Timestamp,
) -> Result<Delivery, UseCaseError> {
    let endpoint = find(store, owner, id).await?;
    let Some(d) = store.delivery(&endpoint.id, delivery_id).await? else {
        return Err(UseCaseError::not_found("delivery", delivery_id));
    };
    let message = WebhookMessage::next_attempt(&d, now, true);
    queue.send_webhook(&message, 0).await.map_err(|e| UseCaseError::Internal(format!("queue: {e}")))?;
    Ok(d)
}

/// Sends a signed `ping` event to the owner's endpoint `id` now, outside the delivery log,
/// signed with every secret still valid at `now`; answers what happened (never retried).
pub async fn ping(
    store: &dyn WebhookStore,
    transport: &dyn Transport,
    ids: Ids<'_>,
    encryption_key: &[u8],
    owner: &Owner,
    id: &str,
    now: Timestamp,
) -> Result<Tried, UseCaseError> {
    let endpoint = find(store, owner, id).await?;
    let secrets = signing_secrets(&endpoint, encryption_key, now).map_err(|e| UseCaseError::Internal(e.to_string()))?;
    let event_id: EventId = ids.new_id();
    let body = json!({
        "id": event_id,
        "type": "ping",
        "timestamp": rfc3339(now),
        "data": { "webhookId": endpoint.id },
    })
    .to_string();
    Ok(attempt(transport, &endpoint, &secrets, &event_id, "ping", body.as_bytes(), now).await)
}

/// A page of the owner's endpoints in creation order.
pub async fn list(store: &dyn WebhookStore, owner: &Owner, page: &PageRequest) -> Result<Page<Endpoint>, UseCaseError> {
    Ok(store.list_endpoints(owner, page).await?)
}

/// A page of the deliveries of `endpoint` (one of the owner's, found by [`find`]), newest first.
pub async fn deliveries(
    store: &dyn WebhookStore,
    endpoint: &Endpoint,
    page: &PageRequest,
) -> Result<Page<Delivery>, UseCaseError> {
    Ok(store.list_deliveries(&endpoint.id, page).await?)
}
