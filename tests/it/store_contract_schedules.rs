//! The store contract's cases for schedules (issue 19), run on both adapters by
//! `store_contract!` like every other case; the last one runs the scheduler's use case on the
//! adapter, many invocations at once, and counts the runs.

use std::sync::Arc;

use shared::domain::account::{AccountStatus, Owner};
use shared::domain::catalog::Catalog;
use shared::domain::consent::{Consent, ConsentStatus};
use shared::domain::customer::Customer;
use shared::domain::event::EventType;
use shared::domain::ids::IdGen;
use shared::domain::run::RunFilter;
use shared::domain::schedule::{Cadence, Schedule};
use shared::domain::time::{FixedClock, ManualClock, Timestamp};
use shared::queue::memory::MemoryQueue;
use shared::queue::RunMessage;
use shared::store::{PageRequest, Store, StoreError};
use shared::usecases::schedules::{period_run_id, run_due};
use shared::usecases::Ids;
use tests::{tenant, T0};

use super::store_contract::{ev, id, new_customer, new_distributor, new_partner, together};

const DAY: i64 = 86_400;

fn schedule_of(c: &Customer, next_run_at: Timestamp) -> Schedule {
    Schedule {
        id: id("sch_"),
        partner_id: c.partner_id.clone(),
        customer_id: c.id.clone(),
        distributor_id: None,
        product: "essential-eight".into(),
        maturity_target: 1,
        cadence: Cadence::Monthly,
        day_of_month: Some(1),
        day_of_week: None,
        hour_utc: 6,
        enabled: true,
        next_run_at,
        last_run_id: None,
        last_error: None,
        created_at: T0,
        updated_at: None,
        version: 1,
    }
}

fn all() -> PageRequest {
    PageRequest { limit: 1000, after: None }
}

/// A schedule is stored per customer (only while its customer is there), listed in creation
/// order and paged, and changed only from the version stored: of changes racing from one read,
/// one lands.
pub(super) async fn schedules_are_kept_per_customer_and_changed_once_per_version(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "sch@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let other = new_customer(&store, &p, &tenant(2)).await;
    let first = schedule_of(&c, T0 + DAY);
    let second = schedule_of(&c, T0 + 2 * DAY);
    store.create_schedule(&first, None).await.unwrap();
    store.create_schedule(&second, None).await.unwrap();
    assert_eq!(store.create_schedule(&first, None).await, Err(StoreError::Conflict), "its id is taken");
    let mut orphan = schedule_of(&c, T0);
    orphan.customer_id = "cust_nobody".into();
    assert_eq!(store.create_schedule(&orphan, None).await, Err(StoreError::NotFound), "no such customer");

    assert_eq!(store.schedule(&p.id, &c.id, &first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.schedule(&p.id, &other.id, &first.id).await.unwrap(), None, "per customer");
    let page = store.list_schedules(&p.id, &c.id, &PageRequest { limit: 1, after: None }).await.unwrap();
    assert_eq!((page.items.len(), page.items[0].id.as_str()), (1, first.id.as_str()));
    let rest = store.list_schedules(&p.id, &c.id, &PageRequest { limit: 1, after: page.next }).await.unwrap();
    assert_eq!(rest.items.iter().map(|x| x.id.to_string()).collect::<Vec<_>>(), [second.id.to_string()]);
    assert!(rest.next.is_none());
    assert!(store.list_schedules(&p.id, &other.id, &all()).await.unwrap().items.is_empty());

    let results = together(5, |i| {
        let (store, mut x) = (store.clone(), first.clone());
        async move {
            x.hour_utc = i as u8;
            x.version = 2;
            store.update_schedule(&x, 1, None).await
        }
    })
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r.is_err()).all(|r| r == &Err(StoreError::Conflict)), "{results:?}");
    assert_eq!(store.schedule(&p.id, &c.id, &first.id).await.unwrap().unwrap().version, 2);

    store.delete_schedule(&p.id, &c.id, &first.id, None).await.unwrap();
    assert_eq!(store.delete_schedule(&p.id, &c.id, &first.id, None).await, Err(StoreError::NotFound));
    assert_eq!(store.update_schedule(&first, 2, None).await, Err(StoreError::NotFound));
    assert_eq!(store.schedule(&p.id, &c.id, &first.id).await.unwrap(), None);
}

/// Due schedules are the enabled ones whose next period has come, earliest first; recording a
/// period writes the schedule and its event once however many invocations race (a concurrent
/// test), after which it is due at its next period; a disabled schedule is never due.
pub(super) async fn due_schedules_are_found_by_time_and_recorded_once(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "due@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let soon = schedule_of(&c, T0 + 2 * DAY);
    let sooner = schedule_of(&c, T0 + DAY);
    let later = schedule_of(&c, T0 + 40 * DAY);
    let off = Schedule { enabled: false, ..schedule_of(&c, T0) };
    for x in [&soon, &sooner, &later, &off] {
        store.create_schedule(x, None).await.unwrap();
    }
    assert!(store.due_schedules(T0, 100).await.unwrap().is_empty(), "nothing due yet; the disabled one never");
    let at = T0 + 3 * DAY;
    let due = store.due_schedules(at, 100).await.unwrap();
    assert_eq!(due.iter().map(|x| x.id.to_string()).collect::<Vec<_>>(), [sooner.id.to_string(), soon.id.to_string()]);
    assert_eq!(store.due_schedules(at, 1).await.unwrap().len(), 1, "up to the limit");

    let before = store.pending_events(1000).await.unwrap().len();
    let next = Schedule { next_run_at: T0 + 33 * DAY, last_run_id: Some("run_x".into()), ..soon.clone() };
    let results = together(6, |_| {
        let (store, read, next, owner) = (store.clone(), soon.clone(), next.clone(), Owner::partner(&p.id));
        async move { store.record_schedule_run(&read, &next, Some(&ev(EventType::ScheduleFailed, owner))).await }
    })
    .await;
    assert_eq!(results.iter().filter(|r| r == &&Ok(true)).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(store.pending_events(1000).await.unwrap().len(), before + 1, "one event");
    let recorded = store.schedule(&p.id, &c.id, &soon.id).await.unwrap().unwrap();
    assert_eq!(recorded, Schedule { version: 2, ..next.clone() });
    let due = store.due_schedules(at, 100).await.unwrap();
    assert_eq!(due.iter().map(|x| x.id.to_string()).collect::<Vec<_>>(), [sooner.id.to_string()]);
    let due = store.due_schedules(T0 + 34 * DAY, 100).await.unwrap();
    assert!(due.iter().any(|x| x.id == soon.id && x.version == 2), "due at its next period: {due:?}");

    // Disabled: out of the index; enabled again: back in.
    let paused = Schedule { enabled: false, version: 2, ..sooner.clone() };
    store.update_schedule(&paused, 1, None).await.unwrap();
    assert!(!store.due_schedules(at, 100).await.unwrap().iter().any(|x| x.id == sooner.id));
    store.update_schedule(&Schedule { enabled: true, version: 3, ..paused }, 2, None).await.unwrap();
    assert!(store.due_schedules(at, 100).await.unwrap().iter().any(|x| x.id == sooner.id));
}

/// Deleting a customer deletes its schedules: none is left to read, nor due.
pub(super) async fn deleting_a_customer_removes_its_schedules(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "gone@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let kept = new_customer(&store, &p, &tenant(2)).await;
    let x = schedule_of(&c, T0);
    let y = schedule_of(&kept, T0);
    store.create_schedule(&x, None).await.unwrap();
    store.create_schedule(&y, None).await.unwrap();
    store.delete_customer(&p.id, &c.id, &ev(EventType::CustomerDeleted, Owner::partner(&p.id))).await.unwrap();
    assert_eq!(store.schedule(&p.id, &c.id, &x.id).await.unwrap(), None);
    let due = store.due_schedules(T0 + 1, 100).await.unwrap();
    assert_eq!(due.iter().map(|s| s.id.to_string()).collect::<Vec<_>>(), [y.id.to_string()]);
}

/// The scheduler's use case on this adapter: eight invocations at once on one due period make
/// one run (under the period's run id), record it once and move the period on; a second
/// round at the same time makes nothing more.
pub(super) async fn overlapping_scheduler_invocations_make_one_run_per_period(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "overlap@msp.example", AccountStatus::Active).await;
    let mut c = new_customer(&store, &p, &tenant(1)).await;
    c.consent = Consent { status: ConsentStatus::Granted, granted_at: Some(T0), updated_at: Some(T0) };
    let ev_updated = ev(EventType::CustomerUpdated, Owner::partner(&p.id));
    store.update_customer(&Customer { version: 2, ..c.clone() }, 1, &ev_updated).await.unwrap();
    let x = schedule_of(&c, T0 + DAY);
    store.create_schedule(&x, None).await.unwrap();
    let now = T0 + DAY + 60;
    let clock = Arc::new(ManualClock::at(now));
    let queue = Arc::new(MemoryQueue::<RunMessage>::new(clock.clone(), 60));
    let catalog = Arc::new(Catalog::default());
    let ticks = together(8, |_| {
        let (store, queue, catalog) = (store.clone(), queue.clone(), catalog.clone());
        async move {
            let gen = IdGen::new();
            let clock = FixedClock(now);
            let ids = Ids { gen: &gen, clock: &clock, actor: None };
            run_due(store.as_ref(), queue.as_ref(), &catalog, ids, now, 100).await
        }
    })
    .await;
    let ticks: Vec<_> = ticks.into_iter().map(|t| t.expect("no invocation faults")).collect();
    assert_eq!(ticks.iter().map(|t| t.runs).sum::<usize>(), 1, "{ticks:?}");
    let runs = store.list_runs(&p.id, &RunFilter::default(), &all()).await.unwrap().items;
    assert_eq!(runs.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(), [period_run_id(&x).to_string()]);
    assert_eq!(store.runs_used(&p.id, shared::domain::time::Month::of(now)).await.unwrap(), 1, "counted once");
    let stored = store.schedule(&p.id, &c.id, &x.id).await.unwrap().unwrap();
    assert_eq!(stored.last_run_id.as_deref(), Some(period_run_id(&x).as_str()));
    assert!(stored.next_run_at > now && stored.last_error.is_none(), "{stored:?}");
    // Again at the same time: nothing is due.
    let gen = IdGen::new();
    let fixed = FixedClock(now);
    let ids = Ids { gen: &gen, clock: &fixed, actor: None };
    let again = run_due(store.as_ref(), queue.as_ref(), &catalog, ids, now, 100).await.unwrap();
    assert_eq!(again.runs + again.refused, 0);
    assert_eq!(store.list_runs(&p.id, &RunFilter::default(), &all()).await.unwrap().items.len(), 1);
}
