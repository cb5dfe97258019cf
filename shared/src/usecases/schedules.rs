//! Schedules (contract, "Schedules, drift and portfolio"): a customer's schedules' create,
//! read, change and delete, and the scheduler ([`run_due`]), which triggers each due period's
//! run through P10's use case ([`super::runs::queue_run`]: consent, plan, monthly limit and
//! subscription status apply) exactly once.
//!
//! Once per period: the period's run id is derived from the schedule's id and the period
//! ([`period_run_id`]), so a second invocation (overlapping, or a retry after the first died
//! between the run and the record) meets the stored run (`RunExists`) instead of making
//! another; and the record that moves `next_run_at` on is conditional on the schedule's
//! version as read, so only one invocation records the period (and only one sends its
//! `schedule.failed`).
//!
//! The partner's changes are audited (`schedule.created` / `.updated` / `.deleted`, target the
//! schedule, seen by the partner and its distributor), in the store write of the change. The
//! scheduler's record is the service's, not a change: no entry.

use serde_json::{json, Value};

use super::runs::{choose_product, queue_run, Queued, RunPorts};
use super::{Ids, UseCaseError, OPTIMISTIC_TRIES};
use crate::domain::account::{AccountStatus, Owner, Partner};
use crate::domain::audit::{Action, AuditEntry, Changes, Target, TargetType};
use crate::domain::catalog::Catalog;
use crate::domain::customer::Customer;
use crate::domain::event::{Event, EventType};
use crate::domain::ids::{IdGen, RunId};
use crate::domain::schedule::{Cadence, Schedule, ScheduleError, Timing, WEEKDAYS};
use crate::domain::time::{FixedClock, Timestamp};
use crate::queue::RunQueue;
use crate::store::{Page, PageRequest, ScheduleStore, Store, StoreError};

/// What a create or change asks for; `None`: not given (a change keeps the field). A day
/// field given as JSON null is `Some(None)`.
#[derive(Clone, Debug, Default)]
pub struct ScheduleDraft {
    pub product: Option<String>,
    pub maturity_target: Option<u64>,
    pub cadence: Option<Cadence>,
    pub day_of_month: Option<Option<u8>>,
    pub day_of_week: Option<Option<u8>>,
    pub hour_utc: Option<u8>,
    pub enabled: Option<bool>,
}

/// What the audit log records of a schedule: the fields a key sets.
fn audited(x: &Schedule) -> Value {
    json!({
        "product": x.product,
        "maturityTarget": x.maturity_target,
        "cadence": x.cadence.as_str(),
        "dayOfMonth": x.day_of_month,
        "dayOfWeek": x.day_of_week.map(|d| WEEKDAYS[usize::from(d)]),
        "hourUtc": x.hour_utc,
        "enabled": x.enabled,
    })
}

fn audit_of(
    ids: &Ids<'_>,
    partner: &Partner,
    action: Action,
    id: &str,
    before: &Value,
    after: &Value,
    now: Timestamp,
) -> Option<AuditEntry> {
    ids.audit(action, Target::new(TargetType::Schedule, id), Changes::between(before, after), now)
        .seen_by_partner(&partner.id, partner.distributor_id.as_deref())
        .recorded()
}

fn missing(field: &str) -> UseCaseError {
    UseCaseError::Invalid(format!("{field} is required."))
}

/// Creates a schedule of `customer` from `draft` at `now`: `product` and `cadence` are
/// required (the handler answers `MISSING_FIELD` before this), `maturityTarget` defaults to the
/// product's default, `hourUtc` to 0, `enabled` to true; `nextRunAt` is the first slot after
/// `now`. Errors: `InvalidProduct`, `ProductNotAllowed` (not on the plan now), `Invalid` (a
/// field out of range or not for the cadence), `NotFound` (the customer went meanwhile).
pub async fn create(
    store: &dyn ScheduleStore,
    ids: Ids<'_>,
    catalog: &Catalog,
    partner: &Partner,
    customer: &Customer,
    draft: ScheduleDraft,
    now: Timestamp,
) -> Result<Schedule, UseCaseError> {
    let product = draft.product.ok_or_else(|| missing("product"))?;
    let (product, target) = choose_product(catalog, partner, &product, draft.maturity_target)?;
    let timing = Timing {
        cadence: draft.cadence.ok_or_else(|| missing("cadence"))?,
        day_of_month: draft.day_of_month.flatten(),
        day_of_week: draft.day_of_week.flatten(),
        hour_utc: draft.hour_utc.unwrap_or(0),
    };
    timing.check().map_err(UseCaseError::Invalid)?;
    let schedule = Schedule {
        id: ids.new_id(),
        partner_id: partner.id.clone(),
        customer_id: customer.id.clone(),
        distributor_id: partner.distributor_id.clone(),
        product: product.id.clone(),
        maturity_target: target,
        cadence: timing.cadence,
        day_of_month: timing.day_of_month,
        day_of_week: timing.day_of_week,
        hour_utc: timing.hour_utc,
        enabled: draft.enabled.unwrap_or(true),
        next_run_at: timing.next_after(now),
        last_run_id: None,
        last_error: None,
        created_at: now,
        updated_at: None,
        version: 1,
    };
    let audit = audit_of(&ids, partner, Action::ScheduleCreated, &schedule.id, &Value::Null, &audited(&schedule), now);
    match store.create_schedule(&schedule, audit.as_ref()).await {
        Ok(()) => Ok(schedule),
        Err(StoreError::NotFound) => Err(UseCaseError::not_found("customer", &customer.id)),
        Err(e) => Err(e.into()),
    }
}

/// The customer's schedule `id` (`NotFound` when it has none of that id).
pub async fn find(store: &dyn ScheduleStore, customer: &Customer, id: &str) -> Result<Schedule, UseCaseError> {
    store.schedule(&customer.partner_id, &customer.id, id).await?.ok_or_else(|| UseCaseError::not_found("schedule", id))
}

/// One page of the customer's schedules, oldest first.
pub async fn list(
    store: &dyn ScheduleStore,
    customer: &Customer,
    page: &PageRequest,
) -> Result<Page<Schedule>, UseCaseError> {
    Ok(store.list_schedules(&customer.partner_id, &customer.id, page).await?)
}

/// `stored` with `draft` applied and checked as [`create`] checks. A new cadence kind drops
/// the other kind's day unless the draft gives it (so `{"cadence":"weekly","dayOfWeek":…}`
/// turns a monthly schedule weekly). `next_run_at` is worked out again from `now` when the
/// timing changes or the schedule is enabled again (a paused schedule does not catch up).
fn apply(
    catalog: &Catalog,
    partner: &Partner,
    stored: &Schedule,
    draft: &ScheduleDraft,
    now: Timestamp,
) -> Result<Schedule, UseCaseError> {
    let mut next = stored.clone();
    if draft.product.is_some() || draft.maturity_target.is_some() {
        let product = draft.product.as_deref().unwrap_or(&stored.product);
        // A new product without a target takes that product's default.
        let maturity = match (&draft.product, draft.maturity_target) {
            (_, Some(m)) => Some(m),
            (Some(p), None) if *p != stored.product => None,
            _ => Some(u64::from(stored.maturity_target)),
        };
        let (p, target) = choose_product(catalog, partner, product, maturity)?;
        next.product = p.id.clone();
        next.maturity_target = target;
    }
    let mut timing = stored.timing();
    if let Some(c) = draft.cadence {
        let weekly = |c: Cadence| c == Cadence::Weekly;
        if weekly(c) != weekly(timing.cadence) {
            timing.day_of_month = None;
            timing.day_of_week = None;
        }
        timing.cadence = c;
    }
    if let Some(d) = draft.day_of_month {
        timing.day_of_month = d;
    }
    if let Some(d) = draft.day_of_week {
        timing.day_of_week = d;
    }
    if let Some(h) = draft.hour_utc {
        timing.hour_utc = h;
    }
    timing.check().map_err(UseCaseError::Invalid)?;
    next.set_timing(timing);
    if let Some(e) = draft.enabled {
        next.enabled = e;
    }
    if timing != stored.timing() || (next.enabled && !stored.enabled) {
        next.next_run_at = timing.next_after(now);
    }
    Ok(next)
}

/// Applies `draft` to the customer's schedule `id` (see [`apply`]); a change computed from an
/// older read (the scheduler recorded a period meanwhile) is applied again to a fresh one.
/// Audited as `schedule.updated` with the fields that changed (none: no write, no entry).
#[allow(clippy::too_many_arguments)]
pub async fn update(
    store: &dyn ScheduleStore,
    ids: Ids<'_>,
    catalog: &Catalog,
    partner: &Partner,
    customer: &Customer,
    id: &str,
    draft: &ScheduleDraft,
    now: Timestamp,
) -> Result<Schedule, UseCaseError> {
    for _ in 0..OPTIMISTIC_TRIES {
        let stored = find(store, customer, id).await?;
        let mut next = apply(catalog, partner, &stored, draft, now)?;
        if next == stored {
            return Ok(stored);
        }
        next.updated_at = Some(now);
        next.version = stored.version + 1;
        let audit = audit_of(&ids, partner, Action::ScheduleUpdated, id, &audited(&stored), &audited(&next), now);
        match store.update_schedule(&next, stored.version, audit.as_ref()).await {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Err(UseCaseError::not_found("schedule", id)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(UseCaseError::Store(StoreError::Conflict))
}

/// Deletes the customer's schedule `id` (`NotFound` when there is none), audited as
/// `schedule.deleted` with its fields as they were. Its runs stay.
pub async fn delete(
    store: &dyn ScheduleStore,
    ids: Ids<'_>,
    partner: &Partner,
    customer: &Customer,
    id: &str,
    now: Timestamp,
) -> Result<(), UseCaseError> {
    let gone = find(store, customer, id).await?;
    let audit = audit_of(&ids, partner, Action::ScheduleDeleted, id, &audited(&gone), &Value::Null, now);
    match store.delete_schedule(&customer.partner_id, &customer.id, id, audit.as_ref()).await {
        Err(StoreError::NotFound) => Err(UseCaseError::not_found("schedule", id)),
        other => Ok(other?),
    }
}

// --- The scheduler ----------------------------------------------------------------------------

/// The id generator of one period's run: its ids are a function of the schedule's id and the
/// period (SHA-256 of both as the seed), and the period is their time. Every invocation that
/// triggers the period makes the same run id.
fn period_ids(x: &Schedule) -> IdGen {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"baref00t schedule period\0");
    h.update(x.id.as_bytes());
    h.update(x.next_run_at.unix().to_be_bytes());
    IdGen::seeded(h.finalize().to_vec())
}

/// The id of the run of the period `x.next_run_at` of schedule `x` (see [`period_ids`]).
pub fn period_run_id(x: &Schedule) -> RunId {
    period_ids(x).new_id(period_ms(x))
}

fn period_ms(x: &Schedule) -> u64 {
    x.next_run_at.unix().max(0) as u64 * 1000
}

/// What triggering one period did.
enum Trigger {
    /// The period's run is stored (by this call or an earlier one).
    Ran(RunId),
    /// P10 would have refused it: the error code and message it would have answered.
    Refused(&'static str, String),
    /// The customer (or its partner) is gone: the schedule stops.
    Gone,
}

/// The code P10's answer would carry for a refusal; `None` for a fault (left for the next
/// invocation, never recorded as the period's outcome).
fn refusal_code(e: &UseCaseError) -> Option<&'static str> {
    Some(match e {
        UseCaseError::RunLimitReached(_) => "RUN_LIMIT_REACHED",
        UseCaseError::SubscriptionInactive(_) => "SUBSCRIPTION_INACTIVE",
        UseCaseError::ProductNotAllowed(_) => "PRODUCT_NOT_ALLOWED",
        UseCaseError::InvalidProduct(_) => "INVALID_PRODUCT",
        UseCaseError::Invalid(_) => "INVALID_FIELD",
        UseCaseError::PartnerInactive(_) => "PARTNER_INACTIVE",
        _ => return None,
    })
}

/// Triggers the period `x.next_run_at` of `x` at `now`, as P10 would for its partner.
async fn trigger(
    store: &dyn Store,
    queue: &dyn RunQueue,
    catalog: &Catalog,
    x: &Schedule,
    now: Timestamp,
) -> Result<Trigger, UseCaseError> {
    let Some(partner) = store.partner(&x.partner_id).await? else { return Ok(Trigger::Gone) };
    let attempt = async {
        if partner.status != AccountStatus::Active {
            return Err(UseCaseError::PartnerInactive(format!(
                "Partner {} is not active: its schedules make no runs until it is.",
                partner.id
            )));
        }
        let (product, target) = choose_product(catalog, &partner, &x.product, Some(u64::from(x.maturity_target)))?;
        let gen = period_ids(x);
        let clock = FixedClock(x.next_run_at);
        let ports = RunPorts {
            customers: store,
            runs: store,
            queue,
            catalog,
            ids: Ids { gen: &gen, clock: &clock, actor: None },
        };
        queue_run(ports, &partner, &x.customer_id, product, target, now).await
    };
    let refusal = match attempt.await {
        Ok(Queued::Run(run)) => return Ok(Trigger::Ran(run.id)),
        Ok(Queued::ConsentRequired(c)) => (
            "CONSENT_REQUIRED",
            format!(
                "Customer {} has not granted admin consent: send the consent link again (GET /customers/{}/consent).",
                c.id, c.id
            ),
        ),
        Err(UseCaseError::NotFound(_)) => return Ok(Trigger::Gone),
        Err(e) => match refusal_code(&e) {
            Some(code) => (code, e.to_string()),
            None => return Err(e),
        },
    };
    // Refused now, but another invocation may have stored this period's run before the
    // refusal's cause arose (its run took the month's last place): then the period ran.
    let id = period_run_id(x);
    if store.run(&x.partner_id, &id).await?.is_some() {
        return Ok(Trigger::Ran(id));
    }
    Ok(Trigger::Refused(refusal.0, refusal.1))
}

/// What one scheduler invocation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulerTick {
    /// Periods whose run this invocation recorded.
    pub runs: usize,
    /// Periods refused (recorded as `lastError` and `schedule.failed`) by this invocation.
    pub refused: usize,
    /// Schedules stopped (disabled) because their customer went while this one read them.
    pub gone: usize,
    /// Periods another invocation recorded first (or a change moved) while this one worked.
    pub raced: usize,
}

/// Triggers every due period (at most `limit` schedules, earliest due first), each once however
/// many invocations overlap; see the module's docs. After a run or a refusal, `nextRunAt`
/// moves to the first slot after both the period and `now` (a scheduler held up for several
/// slots runs once, then goes on). A fault in one schedule is logged and left for the next
/// invocation; the others go on; the result is `Err` if any faulted (so the function's
/// invocation reports it).
pub async fn run_due(
    store: &dyn Store,
    queue: &dyn RunQueue,
    catalog: &Catalog,
    ids: Ids<'_>,
    now: Timestamp,
    limit: usize,
) -> Result<SchedulerTick, String> {
    let due = store.due_schedules(now.plus_secs(1), limit).await.map_err(|e| e.to_string())?;
    let mut tick = SchedulerTick::default();
    let mut faults = Vec::new();
    for x in due.into_iter().filter(|x| x.is_due(now)) {
        if let Err(e) = run_one(store, queue, catalog, &ids, x, now, &mut tick).await {
            tracing::error!(error = %e, "a schedule's period failed; the next invocation tries again");
            faults.push(e);
        }
    }
    match faults.is_empty() {
        true => Ok(tick),
        false => Err(faults.join("; ")),
    }
}

async fn run_one(
    store: &dyn Store,
    queue: &dyn RunQueue,
    catalog: &Catalog,
    ids: &Ids<'_>,
    mut x: Schedule,
    now: Timestamp,
    tick: &mut SchedulerTick,
) -> Result<(), String> {
    let period = x.next_run_at;
    for _ in 0..OPTIMISTIC_TRIES {
        let outcome = trigger(store, queue, catalog, &x, now).await.map_err(|e| format!("schedule {}: {e}", x.id))?;
        let mut next = x.clone();
        next.next_run_at = x.timing().next_after(period.max(now));
        let mut event = None;
        match &outcome {
            Trigger::Ran(run) => {
                next.last_run_id = Some(run.clone());
                next.last_error = None;
            }
            Trigger::Refused(code, message) => {
                next.last_error = Some(ScheduleError { code: code.to_string(), message: message.clone(), at: period });
                event = Some(failed_event(ids, &x, code, message, next.next_run_at, now));
            }
            // Deleting a customer deletes its schedules; one read just before that is left
            // disabled (out of the due index; unreachable, as its customer is), by the same
            // write as a period's record.
            Trigger::Gone => next.enabled = false,
        }
        if store.record_schedule_run(&x, &next, event.as_ref()).await.map_err(|e| e.to_string())? {
            match outcome {
                Trigger::Refused(..) => tick.refused += 1,
                Trigger::Ran(_) => tick.runs += 1,
                Trigger::Gone => tick.gone += 1,
            }
            return Ok(());
        }
        // Changed meanwhile: recorded by another invocation (its period moved on), changed by
        // its partner, or deleted. Only when it is still this period's turn is it tried again;
        // the period's run id is the same, so no second run is made.
        match store.schedule(&x.partner_id, &x.customer_id, &x.id).await.map_err(|e| e.to_string())? {
            Some(fresh) if fresh.enabled && fresh.next_run_at == period => x = fresh,
            _ => {
                tick.raced += 1;
                return Ok(());
            }
        }
    }
    Err(format!("schedule {}: changed on every try", x.id))
}

/// `schedule.failed`: `{scheduleId, customerId, product, scheduledFor, error: {code, message},
/// nextRunAt}`, to the partner and its distributor.
fn failed_event(ids: &Ids<'_>, x: &Schedule, code: &str, message: &str, next: Timestamp, now: Timestamp) -> Event {
    ids.event(
        EventType::ScheduleFailed,
        Owner::partner(&x.partner_id),
        x.distributor_id.clone(),
        now,
        json!({
            "scheduleId": x.id,
            "customerId": x.customer_id,
            "product": x.product,
            "scheduledFor": x.next_run_at.rfc3339(),
            "error": { "code": code, "message": message },
            "nextRunAt": next.rfc3339(),
        }),
    )
}

/// How many schedules [`run_all_due`] takes per batch.
pub const SCHEDULER_BATCH: usize = 100;
/// The most batches one invocation works through (2,000 periods: many schedules fall due at
/// the same hour, such as every monthly one on the 1st at 00:00); the rest wait 15 minutes.
pub const SCHEDULER_MAX_BATCHES: usize = 20;

/// [`run_due`] in batches of [`SCHEDULER_BATCH`] while each batch was full (a short batch: no
/// more are due), at most [`SCHEDULER_MAX_BATCHES`]; the counts added up. What the scheduler
/// function and the dev server's task run.
pub async fn run_all_due(
    store: &dyn Store,
    queue: &dyn RunQueue,
    catalog: &Catalog,
    ids: Ids<'_>,
    now: Timestamp,
) -> Result<SchedulerTick, String> {
    let mut total = SchedulerTick::default();
    for _ in 0..SCHEDULER_MAX_BATCHES {
        let t = run_due(store, queue, catalog, ids, now, SCHEDULER_BATCH).await?;
        total.runs += t.runs;
        total.refused += t.refused;
        total.gone += t.gone;
        total.raced += t.raced;
        if t.runs + t.refused + t.gone + t.raced < SCHEDULER_BATCH {
            break;
        }
    }
    Ok(total)
}
