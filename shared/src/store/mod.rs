//! The storage port, in domain terms ("queue a run if under the monthly limit", not "put
//! item"), and its adapters. Every method that changes something takes the events that the
//! change causes and records them in the same atomic write (the outbox).

mod context;
pub mod dynamo;
pub mod memory;
pub mod report_codec;
mod schedules;

pub use context::ContextStore;
pub use schedules::ScheduleStore;

use async_trait::async_trait;

use crate::domain::account::{AccountStatus, BillingConfig, Distributor, Owner, Partner, Subscription};
use crate::domain::audit::AuditEntry;
use crate::domain::customer::Customer;
use crate::domain::event::Event;
use crate::domain::run::{Run, RunFilter, RunReport, RunStatus};
use crate::domain::time::{Month, Timestamp};
use crate::domain::trend::LatestRun;
use crate::domain::usage::UsageSnapshot;
use crate::domain::webhook::{Attempt, Delivery, DeliveryStatus, Endpoint};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("a customer with this tenantId exists")]
    CustomerExists,
    #[error("a partner with this email exists")]
    PartnerExists,
    #[error("the only active key cannot be revoked")]
    LastKey,
    #[error("the monthly run limit is reached")]
    RunLimitReached,
    /// A run with this id is stored already (a request done again under its `Idempotency-Key`).
    #[error("a run with this id exists")]
    RunExists,
    /// The account a key would be issued to is suspended.
    #[error("the account is suspended")]
    OwnerSuspended,
    /// A per-account limit (e.g. webhook endpoints) is reached.
    #[error("limit reached")]
    LimitReached,
    /// The item changed since it was read (optimistic concurrency); read again and retry.
    #[error("concurrent modification")]
    Conflict,
    /// What was to be written cannot be stored: past an item's size limit (DynamoDB's 400 KB,
    /// or a report past `report_codec::MAX_CHUNKS`). Trying again writes the same thing, so
    /// callers treat it as permanent; nothing was written.
    #[error("too large to store: {0}")]
    TooLarge(String),
    /// Finishing a completed run: another run of the customer and product completed since
    /// [`RunStore::latest_run`] was read, so the comparison is stale. Read it again, compare
    /// again, finish again.
    #[error("another run of the customer and product completed meanwhile")]
    LatestMoved,
    #[error("storage backend failed: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A page request: `after` is the adapter's own position token from a previous page.
#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
}

/// An API key as the store keeps it: its keyed hash in one of its owner's two slots (the key
/// itself, `domain::api_key::ApiKey`, is never stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    /// Keyed hash of the key (hex); the key itself is never stored.
    pub hash: String,
    pub owner: Owner,
    pub slot: u8,
    pub created_at: Timestamp,
}

/// What a status change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    pub partner: Partner,
    /// False when the partner already had the target status (nothing was written).
    pub changed: bool,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn create_distributor(&self, distributor: &Distributor) -> StoreResult<()>;
    async fn distributor(&self, id: &str) -> StoreResult<Option<Distributor>>;
    /// Every distributor's id, for the scheduled usage report (without a scan; may miss a
    /// distributor created moments ago).
    async fn distributor_ids(&self) -> StoreResult<Vec<String>>;
    /// Fails with `PartnerExists` when the distributor already has a partner with this email.
    async fn create_partner(&self, partner: &Partner) -> StoreResult<()> {
        self.create_partner_with(partner, None).await
    }
    /// [`AccountStore::create_partner`], recording `event` (its mail: `partner-created`) in the
    /// same write.
    async fn create_partner_with(&self, partner: &Partner, event: Option<&Event>) -> StoreResult<()>;
    async fn partner(&self, id: &str) -> StoreResult<Option<Partner>>;
    /// The distributor's partners in creation order, optionally of one status.
    async fn list_partners(
        &self,
        distributor_id: &str,
        status: Option<AccountStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Partner>>;
    /// Every partner of a distributor (for usage aggregates: bounded by the distributor).
    async fn all_partners(&self, distributor_id: &str) -> StoreResult<Vec<Partner>>;
    /// Sets any of the plan, the billing configuration and the subscription given (`None`
    /// leaves it), stamping `updated_at` with `at` and bumping `terms_version`, if the partner's
    /// terms are still at `expected_terms_version` (else `Conflict`: read again and recompute).
    async fn update_partner_terms(
        &self,
        partner_id: &str,
        expected_terms_version: u64,
        plan: Option<&str>,
        billing: Option<&BillingConfig>,
        subscription: Option<&Subscription>,
        at: Timestamp,
    ) -> StoreResult<Partner> {
        self.update_partner_terms_audited(partner_id, expected_terms_version, plan, billing, subscription, at, None)
            .await
    }
    /// [`AccountStore::update_partner_terms`], recording `audit` in the same write.
    #[allow(clippy::too_many_arguments)]
    async fn update_partner_terms_audited(
        &self,
        partner_id: &str,
        expected_terms_version: u64,
        plan: Option<&str>,
        billing: Option<&BillingConfig>,
        subscription: Option<&Subscription>,
        at: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<Partner>;
    /// Moves to active (from pending or suspended), recording `event` if it moved.
    async fn activate_partner(&self, partner_id: &str, at: Timestamp, event: &Event) -> StoreResult<StatusChange>;
    /// Moves to suspended and deletes every key of the partner in the same write.
    async fn suspend_partner(&self, partner_id: &str, at: Timestamp, event: &Event) -> StoreResult<StatusChange>;
    /// The partner's branding (contract, "Branding"); the default (version 0) when never set.
    async fn branding(&self, partner_id: &str) -> StoreResult<crate::domain::branding::Branding>;
    /// Stores `branding` with its version one past `branding.version`, if the stored version is
    /// still `branding.version` (0: none stored); else `Conflict` (read again and reapply).
    async fn put_branding(&self, partner_id: &str, branding: &crate::domain::branding::Branding) -> StoreResult<()> {
        self.put_branding_audited(partner_id, branding, None).await
    }
    /// [`AccountStore::put_branding`], recording `audit` in the same write.
    async fn put_branding_audited(
        &self,
        partner_id: &str,
        branding: &crate::domain::branding::Branding,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<StoredKey>>;
    /// Resolves the key stored under `hash` and counts one request of it in the fixed
    /// rate-limit window numbered `window` (unix seconds divided by the window's length): the
    /// key and the window's count including this request, or `None` for no such key (nothing
    /// is written). A window later than the one last counted starts again at 1; a request
    /// stamped with an earlier one (an instance whose clock is behind) counts in the later
    /// one. The request pipeline's one call before it knows the account (issue 16): on
    /// DynamoDB one `UpdateItem` of the key item, two at the first request of a window.
    async fn key_hit(&self, hash: &str, window: i64) -> StoreResult<Option<(StoredKey, u64)>>;
    /// Puts the key in `slot` if that slot is free (`Conflict` when it is taken) and the
    /// owning partner is not suspended (`OwnerSuspended`: suspension and issue never interleave).
    async fn issue_key(
        &self,
        owner: &Owner,
        slot: u8,
        hash: &str,
        at: Timestamp,
        event: Option<&Event>,
    ) -> StoreResult<()>;
    /// `NotFound` for an empty slot, `LastKey` when it is the only key.
    async fn revoke_key(&self, owner: &Owner, slot: u8, event: &Event) -> StoreResult<()>;
    async fn keys_of(&self, owner: &Owner) -> StoreResult<Vec<StoredKey>>;
}

#[async_trait]
pub trait CustomerStore: Send + Sync {
    /// Fails with `CustomerExists` when the partner has a customer with this tenant id.
    async fn create_customer(&self, customer: &Customer, event: &Event) -> StoreResult<()>;
    async fn customer(&self, partner_id: &str, id: &str) -> StoreResult<Option<Customer>>;
    async fn list_customers(&self, partner_id: &str, page: &PageRequest) -> StoreResult<Page<Customer>>;
    /// Replaces the customer if it is still at `expected_version` (else `Conflict`); a new
    /// tenant id must be free (`CustomerExists`).
    async fn update_customer(&self, customer: &Customer, expected_version: u64, event: &Event) -> StoreResult<()>;
    /// Deletes the customer and every run of it.
    async fn delete_customer(&self, partner_id: &str, id: &str, event: &Event) -> StoreResult<()>;
}

#[async_trait]
pub trait RunStore: Send + Sync {
    /// Stores a queued run and counts it in `month`'s usage, unless that would pass `limit`
    /// (`RunLimitReached`, nothing written) or the customer is gone (`NotFound`).
    async fn queue_run(&self, run: &Run, month: Month, limit: Option<u32>) -> StoreResult<()>;
    /// [`RunStore::queue_run`] by a caller that read the run's partner already and passes its
    /// `distributor_id` (`None`: it has none), which never changes once set: DynamoDB then
    /// does not read the partner again (it only places the usage counter in GSI1; issue 16).
    async fn queue_run_of(
        &self,
        run: &Run,
        distributor_id: Option<&str>,
        month: Month,
        limit: Option<u32>,
    ) -> StoreResult<()> {
        let _ = distributor_id;
        self.queue_run(run, month, limit).await
    }
    async fn run(&self, partner_id: &str, id: &str) -> StoreResult<Option<Run>>;
    /// Newest first.
    async fn list_runs(&self, partner_id: &str, filter: &RunFilter, page: &PageRequest) -> StoreResult<Page<Run>>;
    /// Runs counted in a month.
    async fn runs_used(&self, partner_id: &str, month: Month) -> StoreResult<u32>;
    /// Takes a run for processing as `attempt`: queued → running (recording `started`), or a
    /// running run whose lease has passed (an attempt that died) is taken over.
    async fn claim_run(
        &self,
        partner_id: &str,
        run_id: &str,
        attempt: u32,
        now: Timestamp,
        lease_until: Timestamp,
        started: &Event,
    ) -> StoreResult<RunClaim>;
    /// Ends a run held by `attempt` as completed or failed (the status, results or error and
    /// `completed_at` are taken from `run`), with its report and event, in one write.
    /// `Conflict` if the attempt no longer holds it. A completed run with a report also becomes
    /// its customer's latest of the product ([`RunStore::latest_run`]), in the same write, if
    /// the latest is still the run its results were compared with (`previous_run_id`, `None`:
    /// there is none); otherwise `LatestMoved` and nothing is written. The latest record is
    /// then only [`LatestRun::of`] (no score, levels or previous run): the runner calls
    /// [`RunStore::finish_run_with`] with the whole record.
    async fn finish_run(&self, run: &Run, attempt: u32, report: Option<&RunReport>, event: &Event) -> StoreResult<()> {
        let latest = match (run.status, &run.results, report, run.completed_at) {
            (RunStatus::Completed, Some(_), Some(r), Some(at)) => Some(LatestRun::of(run.id.clone(), at, &r.findings)),
            _ => None,
        };
        self.finish_run_with(run, attempt, report, latest.as_ref(), std::slice::from_ref(event)).await
    }
    /// [`RunStore::finish_run`] with the latest record given whole (`latest`: written, with the
    /// customer's portfolio entries, when the run completed with a report; issue 19) and every
    /// event of the finish (`assessment.completed` and, for a worse run, `assessment.regressed`)
    /// recorded in the same write.
    async fn finish_run_with(
        &self,
        run: &Run,
        attempt: u32,
        report: Option<&RunReport>,
        latest: Option<&LatestRun>,
        events: &[Event],
    ) -> StoreResult<()>;
    /// One page of the latest results of `product` (issue 19, `GET /portfolio`): the partner's
    /// customers, or every customer of the distributor's partners, by partner then customer
    /// id, each with its customer's current name; a customer without a completed run of the
    /// product (or being deleted) is not listed. Reads the portfolio entries and the page's
    /// customers only, never runs: the cost is the page's, whatever the number of runs.
    async fn portfolio(
        &self,
        scope: PortfolioScope<'_>,
        product: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<PortfolioRow>>;
    /// The customer's latest completed run of `product` with its checks' outcomes: what a
    /// completing run is compared with (one item read, however many runs there are). `None`
    /// before the first (and for runs completed before this record existed).
    async fn latest_run(&self, partner_id: &str, customer_id: &str, product: &str) -> StoreResult<Option<LatestRun>>;
    /// Gives up `attempt`'s lease so a redelivery may take the run over at once.
    async fn release_run(&self, partner_id: &str, run_id: &str, attempt: u32) -> StoreResult<()>;
    async fn run_report(&self, partner_id: &str, run_id: &str) -> StoreResult<Option<RunReport>>;
    /// Runs still queued that were made before `queued_before`, oldest first: their message
    /// may have been lost between the write and the queue, so they are sent again.
    async fn stale_queued_runs(&self, queued_before: Timestamp, limit: usize) -> StoreResult<Vec<Run>>;
    /// The message of queued run `run_id` was sent again at `at`: it counts as queued from `at`
    /// for [`RunStore::stale_queued_runs`], so runs that stay queued take turns with newer lost
    /// ones instead of filling every resend (issue 13, item 9). A run no longer queued is left
    /// as it is.
    async fn resent_run(&self, partner_id: &str, run_id: &str, at: Timestamp) -> StoreResult<()>;
    /// Runs counted in a month for each of a distributor's partners that has any.
    async fn runs_used_by_partners(&self, distributor_id: &str, month: Month) -> StoreResult<Vec<(String, u32)>>;
}

/// Whose latest results a portfolio lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortfolioScope<'a> {
    /// The partner's customers.
    Partner(&'a str),
    /// The customers of every partner of the distributor.
    Distributor(&'a str),
}

/// One customer's latest result of a product, as the portfolio lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortfolioRow {
    pub partner_id: crate::domain::ids::PartnerId,
    pub customer_id: crate::domain::ids::CustomerId,
    /// The customer's name now (read with the page, so a rename shows at once).
    pub name: String,
    pub latest: LatestRun,
}

/// What taking a run for processing found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunClaim {
    /// This attempt holds the run (now `running`) until its lease ends.
    Claimed(Run),
    /// Another attempt holds a live lease: try again later.
    Busy,
    /// Completed or failed already: nothing to do.
    Finished(Run),
    /// The run no longer exists (its customer was deleted).
    Gone,
}

/// What claiming an attempt of a webhook delivery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptClaim {
    /// The attempt is the caller's to send until its lease ends: the delivery as claimed.
    Claimed(Delivery),
    /// Another claim holds this attempt until then: it is being sent, or its sender died and
    /// the lease has not run out yet. Try again later.
    Held(Timestamp),
    /// Nothing to send: the attempt was made already, the delivery is finished, or it is gone.
    Stale,
}

/// Closed months: one immutable usage snapshot per distributor and month.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Stores the snapshot unless its distributor already has one for that month (the first
    /// written wins and never changes). Returns whether it wrote.
    async fn close_usage_month(&self, snapshot: &UsageSnapshot) -> StoreResult<bool>;
    async fn usage_snapshot(&self, distributor_id: &str, month: Month) -> StoreResult<Option<UsageSnapshot>>;
}

/// What a request with an idempotency key finds.
/// How long after its first try a request that died holding its key is still done again as of
/// that try (seconds): the retention of a kept answer. Later, a try starts afresh.
pub(crate) const TAKEOVER_WINDOW_SECS: i64 = 24 * 3600;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use: the caller does the work, then `finish`es or `release`s. `since` is when the
    /// key was first claimed: now, or, when an earlier try of the same request died holding it
    /// (its lease passed, no answer kept), that try's time, so the request is done again as of
    /// then (same ids and times: its writes meet the first try's instead of repeating them).
    Claimed { since: Timestamp },
    /// Done before with this fingerprint: replay the stored response.
    Replay { status: u16, body: Vec<u8> },
    /// Used before with another request.
    Mismatch,
    /// The first request with this key is still being worked on.
    InProgress,
}

/// One item a request reads, named in domain words, for [`ReadTogether`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Want {
    Distributor(String),
    Partner(String),
    /// A customer of a partner (absent while it is being deleted, as `CustomerStore::customer`).
    Customer {
        partner_id: String,
        id: String,
    },
    Run {
        partner_id: String,
        id: String,
    },
    RunReport {
        partner_id: String,
        run_id: String,
    },
    /// The partner's run counter for a month (0 when none was counted).
    RunsUsed {
        partner_id: String,
        month: Month,
    },
    /// A webhook endpoint of an owner (absent once deleted, as `WebhookStore::endpoint`).
    Endpoint {
        owner: Owner,
        id: String,
    },
    /// The ids of every partner of a distributor (what `AccountStore::all_partners` would
    /// read), so its partners and their counters can be read in one more batch.
    PartnerIds(String),
}

/// What [`ReadTogether`] found for one [`Want`], `None` where there is no such item.
#[derive(Clone, Debug, PartialEq)]
pub enum Got {
    Distributor(Option<Distributor>),
    Partner(Option<Partner>),
    Customer(Option<Customer>),
    Run(Option<Run>),
    RunReport(Option<RunReport>),
    RunsUsed(u32),
    Endpoint(Option<Endpoint>),
    /// Ascending, as `all_partners` lists them; `None` when the store cannot tell in this one
    /// read (on DynamoDB, a distributor made before its id set and not yet backfilled): read
    /// the partners with `all_partners` / `list_partners` then.
    PartnerIds(Option<Vec<String>>),
}

/// Reading several items in one round trip (issue 16: the request pipeline reads the account
/// and what the route needs together). Each item reads as its own getter would read it, with
/// the same consistency; the items are not a snapshot of one instant (neither are two gets).
#[async_trait]
pub trait ReadTogether: Send + Sync {
    /// What each of `wants` names, in the same order. On DynamoDB one strongly consistent
    /// `BatchGetItem` (up to 100 items; unprocessed keys are asked for again).
    async fn read_together(&self, wants: &[Want]) -> StoreResult<Vec<Got>>;
}

#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Counts one hit in a fixed window and returns the window's count including it.
    async fn count_hit(&self, bucket: &str, expires_at: Timestamp) -> StoreResult<u64>;
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for `fingerprint`; a claim in progress past `lease_until` may be taken over.
    async fn claim_idempotency(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<IdempotencyClaim>;
    async fn finish_idempotency(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    async fn release_idempotency(&self, scope: &str, key: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait Outbox: Send + Sync {
    /// Records `event` alone: for a cause that writes nothing else (a consent request's mail).
    async fn record_event(&self, event: &Event) -> StoreResult<()>;
    /// Events not yet handed to delivery, oldest first.
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<Event>>;
    async fn ack_events(&self, ids: &[String]) -> StoreResult<()>;
    /// Counts a failed fan-out of event `id` at `now`, keeping `reason` as the last error;
    /// returns its failures so far, or `None` when it is no longer in the outbox.
    async fn event_failed(&self, id: &str, reason: &str, now: Timestamp) -> StoreResult<Option<EventFailures>>;
    /// Moves event `id` out of the outbox into the quarantine, with `reason`: it is no longer
    /// handed out. Nothing happens if it is no longer in the outbox.
    async fn quarantine_event(&self, id: &str, reason: &str) -> StoreResult<()>;
    /// What is in the quarantine (events moved aside, and on DynamoDB items that did not
    /// decode), oldest first, up to `limit`.
    async fn quarantined_events(&self, limit: usize) -> StoreResult<Vec<Quarantined>>;
    /// Moves quarantined event `id` back into the outbox (its failures forgotten), for the relay
    /// to fan out again: the operator's answer once the cause is fixed (`admin quarantine
    /// --release`). `Ok(false)` when nothing is quarantined under `id`; `Backend` for an item
    /// that does not decode (it cannot be handed out; it stays where it is).
    async fn release_quarantined(&self, id: &str) -> StoreResult<bool>;
}

/// How an outbox event's fan-out has failed so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFailures {
    pub count: u32,
    /// When the first failure was counted.
    pub since: Timestamp,
}

/// An item moved out of the outbox, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    /// The event's id (on DynamoDB, what its sort key names, even if the item did not decode).
    pub id: String,
    pub reason: String,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Fails with `LimitReached` when the owner already has `max` endpoints.
    async fn create_endpoint(&self, endpoint: &Endpoint, max: usize) -> StoreResult<()> {
        self.create_endpoint_audited(endpoint, max, None).await
    }
    /// [`WebhookStore::create_endpoint`], recording `audit` in the same write.
    async fn create_endpoint_audited(
        &self,
        endpoint: &Endpoint,
        max: usize,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    async fn endpoint(&self, owner: &Owner, id: &str) -> StoreResult<Option<Endpoint>>;
    /// The owner's endpoints in creation order.
    async fn list_endpoints(&self, owner: &Owner, page: &PageRequest) -> StoreResult<Page<Endpoint>>;
    /// Every endpoint of an owner (a handful at most), for fanning an event out.
    async fn endpoints_of(&self, owner: &Owner) -> StoreResult<Vec<Endpoint>>;
    /// Replaces the endpoint if it is still at `expected_version` (else `Conflict`).
    async fn update_endpoint(&self, endpoint: &Endpoint, expected_version: u64) -> StoreResult<()> {
        self.update_endpoint_audited(endpoint, expected_version, None).await
    }
    /// [`WebhookStore::update_endpoint`], recording `audit` in the same write.
    async fn update_endpoint_audited(
        &self,
        endpoint: &Endpoint,
        expected_version: u64,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    /// Deletes the endpoint at `at`, in constant time: its deliveries are left behind (the
    /// dispatcher ends the pending ones; they expire as every delivery does), and its id stays
    /// taken while any may remain (`create_endpoint` with it is a `Conflict`).
    async fn delete_endpoint(&self, owner: &Owner, id: &str, at: Timestamp) -> StoreResult<()> {
        self.delete_endpoint_audited(owner, id, at, None).await
    }
    /// [`WebhookStore::delete_endpoint`], recording `audit` in the same write.
    async fn delete_endpoint_audited(
        &self,
        owner: &Owner,
        id: &str,
        at: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    /// Creates the delivery unless its endpoint already has one for that event (`Conflict`).
    async fn create_delivery(&self, delivery: &Delivery) -> StoreResult<()>;
    async fn delivery(&self, endpoint_id: &str, id: &str) -> StoreResult<Option<Delivery>>;
    async fn delivery_for_event(&self, endpoint_id: &str, event_id: &str) -> StoreResult<Option<Delivery>>;
    /// Takes attempt `number` of a delivery for sending, until `lease_until`: only if it is the
    /// delivery's next attempt, the delivery is pending (any status for a `manual` attempt: a
    /// redelivery may follow a finished delivery), and no claim whose lease is still running at
    /// `now` holds it. Recording the attempt ends the claim; a sender that dies leaves it to
    /// run out, after which the attempt can be claimed again.
    async fn claim_attempt(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        number: u32,
        manual: bool,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<AttemptClaim>;
    /// Appends `attempt`, which must be the next by number (`Conflict` otherwise, e.g. when a
    /// duplicate message already recorded it) and, unless it is `manual`, follow a pending
    /// delivery; sets the status and the next due time, counts a manual attempt in
    /// `manual_attempts`, and ends the attempt's claim.
    async fn record_attempt(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        attempt: &Attempt,
        status: DeliveryStatus,
        next_attempt_at: Option<Timestamp>,
    ) -> StoreResult<Delivery>;
    /// Pending deliveries whose next attempt was due before `before`, oldest due first.
    async fn due_deliveries(&self, before: Timestamp, limit: usize) -> StoreResult<Vec<Delivery>>;
    /// Moves a pending delivery's next attempt from `due` to `to` (the sweep queued it again);
    /// `false`, changing nothing, if it moved on meanwhile (attempted, or no longer pending).
    async fn reschedule_delivery(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        due: Timestamp,
        to: Timestamp,
    ) -> StoreResult<bool>;
    /// Newest first.
    async fn list_deliveries(&self, endpoint_id: &str, page: &PageRequest) -> StoreResult<Page<Delivery>>;
}

/// What claiming a try of a mail message found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailClaim {
    /// The try is the caller's until its lease ends: the message as claimed.
    Claimed(Box<crate::domain::mail::MailMessage>),
    /// Another worker holds this try (sending, or died and its lease has not run out).
    Held,
    /// Nothing to do: the try was made already, the message is finished, or it is gone.
    Stale,
}

/// Recorded mail (contract, "Mail"): one message per recipient, made by the relay from the
/// entries an outbox event carries, sent by the mail worker.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Stores a new message (and its list entries for each viewer); `Conflict` when a message
    /// with its id exists (the relay made it on an earlier drain).
    async fn create_message(&self, message: &crate::domain::mail::MailMessage) -> StoreResult<()>;
    async fn mail_message(&self, id: &str) -> StoreResult<Option<crate::domain::mail::MailMessage>>;
    /// Takes try `attempt` (1 for the first) of a pending message until `lease_until`: only if
    /// `attempt - 1` tries were made and no lease still running at `now` holds it.
    async fn claim_mail(
        &self,
        id: &str,
        attempt: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<MailClaim>;
    /// Records try `attempt` (it must be the next, on a pending message, else `Conflict`):
    /// the new status, `sent_at` when sent, the error when it failed; ends the claim.
    async fn record_mail(
        &self,
        id: &str,
        attempt: u32,
        status: crate::domain::mail::MailStatus,
        at: Timestamp,
        error: Option<&str>,
    ) -> StoreResult<crate::domain::mail::MailMessage>;
    /// The messages `viewer` may see, newest first, optionally of one kind.
    async fn list_messages(
        &self,
        viewer: &Owner,
        kind: Option<crate::domain::mail::MailKind>,
        page: &PageRequest,
    ) -> StoreResult<Page<crate::domain::mail::MailMessage>>;
}

/// The audit log (contract, "Billing and audit"). Entries are written by the change they
/// record (riding on its event, or passed to its store method), never alone.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The entries `viewer` may see that pass `filter`, newest first, leaving out those past
    /// their 400 days at `now`. A page may be short and still carry a position (DynamoDB reads
    /// at most its list budget per call).
    async fn audit_entries(
        &self,
        viewer: &Owner,
        filter: &crate::domain::audit::AuditFilter,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<crate::domain::audit::AuditEntry>>;
}

/// Questionnaire answers (contract, "Questionnaire"): one per customer, product and question,
/// the latest given (`docs/storage.md`).
#[async_trait]
pub trait QuestionnaireStore: Send + Sync {
    /// Every answer stored for the customer and product (expired ones too), by question id.
    async fn answers(
        &self,
        partner_id: &str,
        customer_id: &str,
        product: &str,
    ) -> StoreResult<Vec<crate::domain::questionnaire::StoredAnswer>>;
    /// Stores `answers` (each replacing the question's earlier answer; the rest are kept) and
    /// `event` if any, in one write; `NotFound` when the customer does not exist (nothing
    /// written). At most [`MAX_ANSWERS_PER_WRITE`] answers.
    async fn put_answers(
        &self,
        partner_id: &str,
        customer_id: &str,
        product: &str,
        answers: &[crate::domain::questionnaire::StoredAnswer],
        event: Option<&Event>,
    ) -> StoreResult<()>;
}

/// The most answers one [`QuestionnaireStore::put_answers`] takes: a DynamoDB transaction holds
/// 100 items, two of which are the customer check and the event. Every product has fewer
/// questions than this.
pub const MAX_ANSWERS_PER_WRITE: usize = 98;

/// Accounts and their keys: what signing in reads (the key, then its owner:
/// `auth::authenticate`) and what provisioning writes (an account and its first key:
/// `usecases::accounts`).
pub trait AccountKeyStore: KeyStore + AccountStore + ReadTogether {}
impl<T: KeyStore + AccountStore + ReadTogether + ?Sized> AccountKeyStore for T {}

/// What the assessment runner reads and writes: the partner, the customer, the run
/// (`runner::Runner`).
pub trait RunnerStore: AccountStore + CustomerStore + RunStore + QuestionnaireStore + ContextStore {}
impl<T: AccountStore + CustomerStore + RunStore + QuestionnaireStore + ContextStore + ?Sized> RunnerStore for T {}

/// What the webhook relay moves: outbox events into deliveries of the owner's endpoints
/// (`webhooks::relay::Relay`).
pub trait RelayStore: Outbox + WebhookStore + MailStore {}
impl<T: Outbox + WebhookStore + MailStore + ?Sized> RelayStore for T {}

/// What a month's live usage is read from: a distributor's partners and their run counters
/// (`usage_report::live_usage`).
pub trait LiveUsageStore: AccountStore + RunStore + ReadTogether {}
impl<T: AccountStore + RunStore + ReadTogether + ?Sized> LiveUsageStore for T {}

/// What closing a month reads and writes: every distributor, its live usage, its snapshot
/// (`usage_report::close_month` and `close_previous_month`).
pub trait UsageReportStore: LiveUsageStore + UsageStore {}
impl<T: LiveUsageStore + UsageStore + ?Sized> UsageReportStore for T {}

/// What the relay's schedule sweeps: runs left queued, and exceptions nearing their expiry
/// (`functions::lambda::relay_tick`).
pub trait SweepStore: RunStore + ContextStore {}
impl<T: RunStore + ContextStore + ?Sized> SweepStore for T {}

/// Everything the service stores.
///
/// The combinations above are supertraits too, so that an `Arc<dyn Store>` (or `&dyn Store`)
/// upcasts to any of them, as it does to each port trait.
pub trait Store:
    AccountStore
    + KeyStore
    + CustomerStore
    + RunStore
    + UsageStore
    + LimitStore
    + IdempotencyStore
    + Outbox
    + WebhookStore
    + ReadTogether
    + MailStore
    + AuditStore
    + QuestionnaireStore
    + ContextStore
    + ScheduleStore
    + AccountKeyStore
    + RunnerStore
    + RelayStore
    + UsageReportStore
    + SweepStore
{
}

impl<T> Store for T where
    T: AccountStore
        + KeyStore
        + CustomerStore
        + RunStore
        + UsageStore
        + LimitStore
        + IdempotencyStore
        + Outbox
        + WebhookStore
        + ReadTogether
        + MailStore
        + AuditStore
        + QuestionnaireStore
        + ContextStore
        + ScheduleStore
{
}
