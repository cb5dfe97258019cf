//! Use cases: the operations the API (and the operator's CLI) perform, free of HTTP. Each
//! takes only the ports it uses, decides with the domain's rules, and answers a
//! [`UseCaseError`]; `api/error.rs` is the one place that turns one into the HTTP envelope.
//!
//! The tree reads route → handler (parse, call, view) → use case → port → adapter.

pub mod accounts;
pub mod audit;
pub mod branding;
pub mod consent;
pub mod consent_mail;
pub mod context;
pub mod customers;
pub mod keys;
pub mod mail;
pub mod partners;
pub mod plans;
pub mod portfolio;
pub mod questionnaire;
pub mod reports;
pub mod runs;
pub mod schedules;
pub mod subscriptions;
pub mod usage;
pub mod webhooks;

use serde_json::Value;

use crate::billing::BillingError;
use crate::domain::account::Owner;
use crate::domain::audit::{Action, Actor, AuditEntry, Changes, Target};
use crate::domain::event::{Event, EventType};
use crate::domain::ids::{DistributorId, Id, IdGen, IdKind};
use crate::domain::time::Clock;
use crate::domain::time::Timestamp;
use crate::store::StoreError;

/// Why a use case did not do what it was asked. The text is what the caller is shown (the
/// envelope's `message`), except for [`UseCaseError::Store`] and [`UseCaseError::Internal`],
/// which are logged and never shown.
#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// The thing does not exist, or does not belong to the caller (tenancy answers 404).
    #[error("{0}")]
    NotFound(String),
    /// A value breaks a rule (`INVALID_FIELD`).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    InvalidProduct(String),
    #[error("{0}")]
    ProductNotAllowed(String),
    /// The partner's monthly run limit (contract P10) is reached.
    #[error("{0}")]
    RunLimitReached(String),
    /// Both key slots are taken (contract P14/D15).
    #[error("both key slots are taken")]
    MaxKeys,
    /// The only active key cannot be revoked (contract P15).
    #[error("the only active key cannot be revoked")]
    LastKey,
    #[error("{0}")]
    CustomerExists(String),
    #[error("{0}")]
    PartnerExists(String),
    /// A per-account limit or batch size is passed (`TOO_MANY`).
    #[error("{0}")]
    TooMany(String),
    /// Billing refused the change (`PLAN_CHANGE_FAILED`).
    #[error("{0}")]
    PlanChangeFailed(String),
    /// The work needs an active partner.
    #[error("{0}")]
    PartnerInactive(String),
    /// The partner's subscription is `unpaid` or `canceled` (`SUBSCRIPTION_INACTIVE`).
    #[error("{0}")]
    SubscriptionInactive(String),
    /// A run's report was asked for before the run completed (`REPORT_NOT_READY`).
    #[error("{0}")]
    ReportNotReady(String),
    /// A per-subject limit (e.g. plan changes per hour) is reached; retry after this many seconds.
    #[error("rate limited")]
    RateLimited { retry_after: i64 },
    #[error("store: {0}")]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
}

impl UseCaseError {
    /// `No {what} with id "{id}".`, the one wording of a missing (or foreign) thing.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::NotFound(format!("No {what} with id {id:?}."))
    }
}

impl From<StoreError> for UseCaseError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LastKey => Self::LastKey,
            other => Self::Store(other),
        }
    }
}

impl From<BillingError> for UseCaseError {
    fn from(e: BillingError) -> Self {
        match e {
            BillingError::Rejected(m) => Self::PlanChangeFailed(m),
            other => Self::Internal(format!("billing: {other}")),
        }
    }
}

/// Turns one expected store failure into the use case's answer, the rest pass through:
/// `store.delete_customer(..).await.on(StoreError::NotFound, || UseCaseError::not_found(..))`.
pub trait StoreResultExt<T> {
    fn on(self, expected: StoreError, answer: impl FnOnce() -> UseCaseError) -> Result<T, UseCaseError>;
}

impl<T> StoreResultExt<T> for Result<T, StoreError> {
    fn on(self, expected: StoreError, answer: impl FnOnce() -> UseCaseError) -> Result<T, UseCaseError> {
        match self {
            Err(e) if e == expected => Err(answer()),
            other => other.map_err(UseCaseError::from),
        }
    }
}

/// Where new ids and events get their id and time: the process's id generator and clock; and
/// who is acting, for the audit entries of changes ([`Ids::audit`]).
#[derive(Clone, Copy)]
pub struct Ids<'a> {
    pub gen: &'a IdGen,
    pub clock: &'a dyn Clock,
    /// Who makes the changes (a request's key, the operator, …); `None`: the service itself
    /// ([`Actor::system`]).
    pub actor: Option<&'a Actor>,
}

impl Ids<'_> {
    /// A new time-ordered id of kind `K` (see [`IdGen::time_ordered`]), from the clock's milliseconds.
    pub fn new_id<K: IdKind>(&self) -> Id<K> {
        self.gen.new_id(self.clock.now_ms().max(0) as u64)
    }

    /// An event about `account` at `now`, with a fresh event id.
    pub fn event(
        &self,
        kind: EventType,
        account: Owner,
        distributor_id: Option<DistributorId>,
        now: Timestamp,
        data: Value,
    ) -> Event {
        Event { id: self.new_id(), kind, timestamp: now, account, distributor_id, data, mail: Vec::new(), audit: None }
    }

    /// The audit entry of a change at `now` made by this actor, listed for the actor's own
    /// account; say who else sees it with [`AuditEntry::seen_by_partner`] and record it with
    /// the change: `Event::with_audit` (which drops an entry whose `changes` are empty: a
    /// change that changed nothing is not recorded), or a store method's `audit` argument
    /// (through [`AuditEntry::recorded`]).
    pub fn audit(&self, action: Action, target: Target, changes: Changes, now: Timestamp) -> AuditEntry {
        let actor = self.actor.cloned().unwrap_or_else(Actor::system);
        AuditEntry::new(self.new_id(), now, actor, action, target, changes)
    }
}

impl<'a> Ids<'a> {
    /// These ids and clock, acting as `actor`.
    pub fn acting<'b>(self, actor: &'b Actor) -> Ids<'b>
    where
        'a: 'b,
    {
        Ids { gen: self.gen, clock: self.clock, actor: Some(actor) }
    }
}

/// How many times an optimistic update reads again after a concurrent change before giving up.
pub(crate) const OPTIMISTIC_TRIES: usize = 5;
