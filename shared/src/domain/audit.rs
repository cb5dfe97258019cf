//! The audit log (contract, "Billing and audit"): one entry per change an API key, the
//! operator or the consent flow makes, recorded in the same store write as the change (it
//! rides on the change's event, [`crate::domain::event::Event::with_audit`], or is passed to
//! the store method of a change that has no event) and kept [`AUDIT_RETENTION_SECS`].
//!
//! An entry never holds a secret, by construction: [`Changes`] is the only way to say what
//! changed, and it redacts any field named like a secret ([`is_secret_name`]) and any value
//! shaped like one of ours ([`looks_like_secret`]); an entry has no other free-form field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::account::{Owner, Surface};
use super::ids::AuditId;
use super::time::Timestamp;

/// How long an entry is kept (the table's TTL, and what the embedded store hides): 400 days,
/// in seconds (contract: "Kept 400 days").
pub const AUDIT_RETENTION_SECS: i64 = 400 * 24 * 3600;

/// What stands in for a redacted value.
pub const REDACTED: &str = "[redacted]";

/// Who made a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    /// A partner's API key (`id` the partner, `keySlot` the key's slot).
    Partner,
    /// A distributor's API key (`id` the distributor, `keySlot` the key's slot).
    Distributor,
    /// The operator's CLI (`admin`): `id` is `admin`, no key slot.
    Operator,
    /// A customer tenant's administrator, through a consent link (`id` the tenant id).
    Tenant,
    /// The service itself (e.g. the runner recording that Graph refused a tenant's consent).
    System,
}

/// Who made a change: `{type, id, keySlot}` (`keySlot` null but for API keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorType,
    pub id: String,
    pub key_slot: Option<u8>,
}

impl Actor {
    /// The API key of `owner` in slot `slot`.
    pub fn key(owner: &Owner, slot: u8) -> Self {
        let kind = match owner.surface {
            Surface::Partner => ActorType::Partner,
            Surface::Distributor => ActorType::Distributor,
        };
        Self { kind, id: owner.id.clone(), key_slot: Some(slot) }
    }
    /// The operator's CLI.
    pub fn operator() -> Self {
        Self { kind: ActorType::Operator, id: "admin".into(), key_slot: None }
    }
    /// The administrator of tenant `tenant_id`, granting or declining consent.
    pub fn tenant(tenant_id: &str) -> Self {
        Self { kind: ActorType::Tenant, id: tenant_id.into(), key_slot: None }
    }
    /// The service itself.
    pub fn system() -> Self {
        Self { kind: ActorType::System, id: "baref00t".into(), key_slot: None }
    }
    /// The account whose key this is, which sees its own actions.
    pub fn account(&self) -> Option<Owner> {
        match self.kind {
            ActorType::Partner => Some(Owner::partner(&self.id)),
            ActorType::Distributor => Some(Owner::distributor(&self.id)),
            _ => None,
        }
    }
}

macro_rules! actions {
    ($($(#[$doc:meta])* $v:ident => $s:literal,)*) => {
        /// What a change was: the closed list of actions (`docs/api-decisions.md`, "Audit log").
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Action {
            $($(#[$doc])* #[serde(rename = $s)] $v,)*
        }
        impl Action {
            /// Every action, in the documented order.
            pub const ALL: &'static [Action] = &[$(Self::$v,)*];
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s,)* }
            }
            /// The action named `s`, if it is one.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)* _ => None }
            }
        }
    };
}

actions! {
    /// A distributor provisioned a partner (D3/D4), or the operator made one.
    PartnerCreated => "partner.created",
    /// The plan, and with it perhaps the billing, changed (P2, D6, D9).
    PlanChanged => "plan.changed",
    /// Only the billing configuration changed (D6).
    BillingChanged => "billing.changed",
    PartnerActivated => "partner.activated",
    PartnerSuspended => "partner.suspended",
    /// An API key was issued (P14, D15, D7's partner key, the operator).
    KeyCreated => "key.created",
    KeyRevoked => "key.revoked",
    CustomerCreated => "customer.created",
    CustomerUpdated => "customer.updated",
    CustomerDeleted => "customer.deleted",
    WebhookCreated => "webhook.created",
    WebhookUpdated => "webhook.updated",
    WebhookDeleted => "webhook.deleted",
    WebhookSecretRotated => "webhook.secret_rotated",
    BrandingUpdated => "branding.updated",
    /// A tenant's administrator granted consent through the partner's link.
    ConsentGranted => "consent.granted",
    /// A tenant's administrator refused consent in the flow.
    ConsentDeclined => "consent.declined",
    /// Graph refused a run: the tenant's consent was withdrawn.
    ConsentRevoked => "consent.revoked",
    /// A customer's tenant context was replaced (issue 18; target: the customer).
    ContextUpdated => "context.updated",
    ExceptionCreated => "exception.created",
    ExceptionUpdated => "exception.updated",
    ExceptionDeleted => "exception.deleted",
    ScheduleCreated => "schedule.created",
    ScheduleUpdated => "schedule.updated",
    ScheduleDeleted => "schedule.deleted",
}

/// What kind of thing a change was made to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetType {
    Partner,
    Distributor,
    Customer,
    /// An API key: its id is `{owner id}/{slot}` (the key itself is never named).
    Key,
    Webhook,
    /// A partner's branding: its id is the partner's.
    Branding,
    /// A customer's exception to a requirement: its id is the exception's (`exc_…`).
    Exception,
    /// A customer's schedule: its id is the schedule's (`sch_…`).
    Schedule,
}

/// What a change was made to: `{type, id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: TargetType,
    pub id: String,
}

impl Target {
    pub fn new(kind: TargetType, id: impl Into<String>) -> Self {
        Self { kind, id: id.into() }
    }
    /// The key in `slot` of `owner_id`: `{owner id}/{slot}`.
    pub fn key(owner_id: &str, slot: u8) -> Self {
        Self::new(TargetType::Key, format!("{owner_id}/{slot}"))
    }
}

/// One field's change: `{from, to}` (null for absent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub from: Value,
    pub to: Value,
}

/// What changed, field by field (`{field: {from, to}}`), holding only fields that really
/// changed and never a secret: the one way to fill an entry's `changes`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Changes(BTreeMap<String, FieldChange>);

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name` going from `from` to `to`, unless they are equal (nothing changed). A field
    /// named like a secret, or a value shaped like one, is kept as [`REDACTED`]: the entry says
    /// it changed, never what it is.
    pub fn field(mut self, name: &str, from: impl Serialize, to: impl Serialize) -> Self {
        let (from, to) = (to_value(from), to_value(to));
        if from == to {
            return self;
        }
        let secret = is_secret_name(name);
        let (from, to) = (redact(from, secret), redact(to, secret));
        self.0.insert(name.to_string(), FieldChange { from, to });
        self
    }

    /// Every field of `to` that differs from `from` (two JSON objects, e.g. a thing's view
    /// before and after), each through [`Changes::field`]. A creation is `from` null, a
    /// deletion `to` null.
    pub fn between(from: &Value, to: &Value) -> Self {
        let empty = serde_json::Map::new();
        let (a, b) = (from.as_object().unwrap_or(&empty), to.as_object().unwrap_or(&empty));
        let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
        names.sort();
        names.dedup();
        names.into_iter().fold(Self::new(), |c, name| {
            c.field(name, a.get(name).cloned().unwrap_or(Value::Null), b.get(name).cloned().unwrap_or(Value::Null))
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The change of `name`, if it changed.
    pub fn get(&self, name: &str) -> Option<&FieldChange> {
        self.0.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

fn to_value(v: impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Whether a field's name says it holds a secret: it contains `secret`, `token`, `password`,
/// `hash`, `signature` or `credential`, or ends with `key` (`apiKey`, but not `keySlot`),
/// in any case.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["secret", "token", "password", "hash", "signature", "credential"].iter().any(|w| lower.contains(w))
        || lower.ends_with("key")
}

/// Whether a text value is shaped like one of our secrets: an API key (`pk_live_`,
/// `dk_live_`), a webhook secret (`whsec_`) or a Stripe key (`sk_`, `rk_`).
pub fn looks_like_secret(text: &str) -> bool {
    ["pk_live_", "dk_live_", "whsec_", "sk_live_", "sk_test_", "rk_live_", "rk_test_"]
        .iter()
        .any(|p| text.starts_with(p))
}

/// `value` with every text in it that is secret (all of it, when `secret`) replaced.
fn redact(value: Value, secret: bool) -> Value {
    match value {
        Value::Null => Value::Null,
        _ if secret => Value::String(REDACTED.into()),
        Value::String(s) if looks_like_secret(&s) => Value::String(REDACTED.into()),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| redact(v, false)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let secret = is_secret_name(&k);
                    (k, redact(v, secret))
                })
                .collect(),
        ),
        other => other,
    }
}

/// One audit entry: `{id, at, actor, action, target, changes}` as `GET /audit` shows it, and
/// `viewers`, the accounts whose `GET /audit` lists it (never shown).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: AuditId,
    pub at: Timestamp,
    pub actor: Actor,
    pub action: Action,
    pub target: Target,
    pub changes: Changes,
    /// The acting account (a key's owner) and the accounts the change is about, each once.
    pub viewers: Vec<Owner>,
}

impl AuditEntry {
    /// An entry seen by the acting account (when a key made it); add who else sees it with
    /// [`AuditEntry::seen_by_partner`] / [`AuditEntry::seen_by`].
    pub fn new(id: AuditId, at: Timestamp, actor: Actor, action: Action, target: Target, changes: Changes) -> Self {
        let viewers = actor.account().into_iter().collect();
        Self { id, at, actor, action, target, changes, viewers }
    }

    /// Also listed for `owner`.
    pub fn seen_by(mut self, owner: Owner) -> Self {
        if !self.viewers.contains(&owner) {
            self.viewers.push(owner);
        }
        self
    }

    /// A change to partner `partner_id`'s account or data: listed for the partner and for its
    /// distributor, if it has one (a distributor sees the changes to its partners).
    pub fn seen_by_partner(self, partner_id: &str, distributor_id: Option<&str>) -> Self {
        let e = self.seen_by(Owner::partner(partner_id));
        match distributor_id {
            Some(d) => e.seen_by(Owner::distributor(d)),
            None => e,
        }
    }

    /// The entry with `changes` as what changed (an entry made before the change was known,
    /// e.g. a plan change that billing computes).
    pub fn with_changes(mut self, changes: Changes) -> Self {
        self.changes = changes;
        self
    }

    /// The entry if it records a change, `None` when nothing changed.
    pub fn recorded(self) -> Option<Self> {
        (!self.changes.is_empty()).then_some(self)
    }

    /// When DynamoDB's TTL may remove it (unix seconds).
    pub fn expires_at(&self) -> Timestamp {
        self.at.plus_secs(AUDIT_RETENTION_SECS)
    }
}

/// What `GET /audit` narrows a list to (each optional): one action, one target id, entries at
/// or after `from` and at or before `to`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub action: Option<Action>,
    pub target_id: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

impl AuditFilter {
    /// Whether `e` passes every filter given.
    pub fn admits(&self, e: &AuditEntry) -> bool {
        self.action.is_none_or(|a| a == e.action)
            && self.target_id.as_deref().is_none_or(|t| t == e.target.id)
            && self.from.is_none_or(|f| e.at >= f)
            && self.to.is_none_or(|t| e.at <= t)
    }
}
