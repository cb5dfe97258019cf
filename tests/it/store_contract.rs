//! The store port's contract suite. Every case is written against `Arc<dyn Store>` only, so
//! each adapter runs the same suite unchanged: add one line at the bottom of this file,
//!
//! ```ignore
//! store_contract!(dynamo, || async { Arc::new(DynamoStore::connect(..).await) as Arc<dyn Store> });
//! ```
//!
//! and every case becomes a `#[tokio::test]` of that adapter, in a module named after it.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

use serde_json::json;
// Tenant context and exceptions (issue 18): their cases live in their own file.
use crate::store_contract_context::*;
// Latest results and the portfolio (issue 19): in their own file too.
use crate::store_contract_portfolio::*;
// Schedules (issue 19): their cases live in their own file too.
use crate::store_contract_schedules::*;
use shared::domain::account::{AccountStatus, BillingConfig, Distributor, Owner, Partner, Subscription};
use shared::domain::customer::Customer;
use shared::domain::email::Email;
use shared::domain::event::{Event, EventType};
use shared::domain::ids::{CustomerId, EventId, IdGen, RunId};
use shared::domain::questionnaire::{Answer, AnsweredBy, StoredAnswer};
use shared::domain::requirement::{Coverage, EvidenceQuality, EvidenceSource, RequirementOutcome, RequirementRecord};
use shared::domain::run::{
    CheckStatus, Finding, FrameworkRef, Run, RunError, RunFilter, RunReport, RunResults, RunStatus, Severity,
    StrategyLevel,
};
use shared::domain::tenant::TenantId;
use shared::domain::time::{Month, Timestamp};
use shared::domain::usage::{MonthUsage, PartnerUsage, UsageSnapshot};
use shared::store::memory::MemoryStore;
use shared::store::{AttemptClaim, Got, IdempotencyClaim, PageRequest, RunClaim, Store, StoreError, Want};
use tests::{tenant, T0};
use tokio::task::JoinSet;

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

/// `store_contract!(name, || async { … as Arc<dyn Store> })`: one test per contract case, each
/// on a fresh store made by the closure.
macro_rules! store_contract {
    ($adapter:ident, $make:expr) => {
        store_contract!(@suite $adapter, $make;
            distributors_are_stored_and_read_back,
            partners_are_stored_and_read_back,
            partner_email_is_unique_per_distributor,
            list_partners_pages_in_creation_order,
            list_partners_filters_by_status,
            all_partners_returns_every_partner_of_the_distributor,
            update_partner_terms_sets_only_what_is_given,
            concurrent_terms_changes_apply_once_per_version,
            concurrent_branding_writes_apply_once_per_version,
            activation_moves_to_active_once_and_records_its_event,
            suspension_deletes_every_key_and_records_its_event,
            keys_are_issued_into_free_slots,
            keys_are_not_issued_to_a_suspended_partner,
            revoking_keys_keeps_the_last_one,
            customers_are_unique_per_partner_and_tenant,
            list_customers_pages_without_duplicates,
            update_customer_is_conditional_on_the_version,
            update_customer_moves_the_tenant_guard,
            delete_customer_removes_it_and_its_runs,
            queue_run_counts_up_to_the_limit,
            queue_run_needs_the_partners_customer,
            list_runs_is_newest_first_with_filters_and_paging,
            runs_used_by_partners_sums_per_partner_and_month,
            distributor_ids_lists_every_distributor,
            usage_snapshots_are_written_once_per_distributor_and_month,
            concurrent_usage_closes_write_one_snapshot,
            count_hit_counts_per_bucket,
            key_hit_resolves_the_key_and_counts_per_window,
            concurrent_key_hits_are_all_counted,
            idempotency_claim_replay_and_mismatch,
            idempotency_lease_takeover_and_release,
            idempotency_records_expire,
            outbox_hands_out_events_oldest_first_until_acked,
            concurrent_queue_runs_never_pass_the_limit,
            concurrent_customer_creates_make_one_per_tenant,
            concurrent_partner_creates_make_one_per_email,
            concurrent_key_issues_fill_a_slot_once,
            concurrent_customer_updates_apply_once_per_version,
            a_delete_racing_a_tenant_change_leaves_no_guard_behind,
            suspension_racing_key_issues_leaves_no_key,
            suspension_is_not_starved_by_customer_writes,
            concurrent_hits_are_all_counted,
            concurrent_idempotency_claims_admit_one,
            claim_run_moves_queued_to_running_once,
            claim_run_takes_over_an_expired_lease_only,
            finish_run_needs_the_holding_attempt_and_keeps_the_report,
            a_report_past_the_item_limit_is_stored_and_read_back_whole,
            a_report_too_large_to_store_is_refused_and_the_run_stays_held,
            a_completed_run_becomes_the_latest_it_was_compared_with,
            concurrent_completions_chain_their_comparisons,
            release_run_lets_a_redelivery_take_over,
            claim_run_of_a_deleted_run_is_gone,
            concurrent_claims_admit_one_attempt,
            stale_queued_runs_are_the_old_still_queued_ones,
            a_resent_run_waits_its_turn_behind_newer_lost_ones,
            webhook_endpoints_are_kept_per_owner_up_to_a_limit,
            webhook_endpoint_updates_are_conditional_on_the_version,
            deliveries_are_unique_per_endpoint_and_event,
            attempts_are_recorded_in_order_once,
            due_deliveries_are_the_overdue_pending_ones,
            deliveries_list_newest_first,
            concurrent_endpoint_creates_respect_the_limit,
            concurrent_attempt_records_admit_one,
            attempt_claims_hold_until_recorded_or_the_lease_runs_out,
            concurrent_attempt_claims_admit_one,
            the_attempts_kept_are_the_last_twenty,
            a_deleted_endpoint_is_gone_and_its_id_stays_taken,
            rescheduling_moves_a_pending_delivery_from_the_due_time_read,
            audit_entries_ride_with_their_change_and_list_per_viewer,
            a_refused_change_records_no_audit_entry,
            audit_entries_are_kept_400_days,
            concurrent_conflicting_changes_record_one_entry_per_applied_change,
            answers_are_kept_per_customer_product_and_question_the_latest_winning,
            answers_need_the_partners_customer,
            deleting_a_customer_removes_its_answers,
            concurrent_answers_to_different_questions_all_land,
            tenant_contexts_are_replaced_whole_once_per_version,
            exceptions_are_kept_per_customer_and_changed_once_per_version,
            an_expiring_exception_is_noticed_once_per_expiry,
            deleting_a_customer_removes_its_context_and_exceptions,
            schedules_are_kept_per_customer_and_changed_once_per_version,
            due_schedules_are_found_by_time_and_recorded_once,
            deleting_a_customer_removes_its_schedules,
            overlapping_scheduler_invocations_make_one_run_per_period,
            filtered_run_lists_show_each_run_as_it_now_is,
            partner_ids_read_together_name_every_partner_of_the_distributor,
            concurrent_partner_creates_each_join_the_partner_ids,
            context_and_exception_changes_write_their_audit_entry_only_when_applied,
            the_portfolio_lists_each_customers_latest_result,
        );
    };
    (@suite $adapter:ident, $make:expr; $($case:ident),* $(,)?) => {
        mod $adapter {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let make = $make;
                    // An adapter whose backend is not running here yields `None` (skipped).
                    let Some(store) = MaybeStore::into_store(make().await) else { return };
                    super::$case(store).await;
                }
            )*
        }
    };
}

store_contract!(memory, || async { Arc::new(MemoryStore::new()) as Arc<dyn Store> });
store_contract!(dynamo, || async { tests::aws::fresh_dynamo().await.map(|s| Arc::new(s) as Arc<dyn Store>) });

/// What an adapter's constructor gives the suite: a store, or none where its backend is not
/// running (an emulator outside `scripts/test`; under CI that fails instead).
trait MaybeStore {
    fn into_store(self) -> Option<Arc<dyn Store>>;
}

impl MaybeStore for Arc<dyn Store> {
    fn into_store(self) -> Option<Arc<dyn Store>> {
        Some(self)
    }
}

impl MaybeStore for Option<Arc<dyn Store>> {
    fn into_store(self) -> Option<Arc<dyn Store>> {
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// One id generator for the whole binary: ids made later sort later.
static IDS: LazyLock<IdGen> = LazyLock::new(IdGen::new);

pub(super) fn id<T: From<String>>(prefix: &str) -> T {
    id_at(prefix, T0)
}

fn id_at<T: From<String>>(prefix: &str, at: Timestamp) -> T {
    IDS.time_ordered(prefix, (at.unix() * 1000) as u64).into()
}

const APRIL: Month = Month { year: 2026, month: 4 };
const MAY: Month = Month { year: 2026, month: 5 };
const DAY: i64 = 86_400;

fn all() -> PageRequest {
    PageRequest { limit: 1000, after: None }
}

pub(super) fn ev(kind: EventType, account: Owner) -> Event {
    Event {
        id: id("evt_"),
        kind,
        timestamp: T0,
        account,
        distributor_id: None,
        data: json!({ "n": 1 }),
        mail: Vec::new(),
        audit: None,
    }
}

fn partner_event(kind: EventType, p: &Partner) -> Event {
    let mut e = ev(kind, Owner::partner(&p.id));
    e.distributor_id = p.distributor_id.clone();
    e
}

/// An event of partner `p`'s (for the cases in other files).
pub(super) fn ev_of_partner(kind: EventType, p: &Partner) -> Event {
    partner_event(kind, p)
}

pub(super) async fn new_distributor(store: &Arc<dyn Store>) -> Distributor {
    let d = Distributor {
        id: id("dist_"),
        company: "Distribution Co".into(),
        email: Email::parse("ops@distribution.example").unwrap(),
        status: AccountStatus::Active,
        created_at: T0,
    };
    store.create_distributor(&d).await.expect("distributor");
    d
}

fn partner_of(distributor: Option<&str>, email: &str, status: AccountStatus) -> Partner {
    Partner {
        id: id("prt_"),
        distributor_id: distributor.map(Into::into),
        company: format!("Co {email}"),
        email: Email::parse(email).unwrap().lowercased(),
        name: Some("Admin".into()),
        plan: "professional".into(),
        status,
        billing: distributor.map(|_| BillingConfig::default()),
        subscription: Subscription::opening(None, T0),
        customers_count: 0,
        created_at: T0,
        updated_at: None,
        activated_at: (status == AccountStatus::Active).then_some(T0),
        suspended_at: None,
        terms_version: 0,
    }
}

pub(super) async fn new_partner(
    store: &Arc<dyn Store>,
    distributor: Option<&str>,
    email: &str,
    status: AccountStatus,
) -> Partner {
    let p = partner_of(distributor, email, status);
    store.create_partner(&p).await.expect("partner");
    p
}

pub(super) fn customer_of(partner_id: &str, t: &str) -> Customer {
    Customer {
        id: id("cust_"),
        partner_id: partner_id.into(),
        name: format!("Customer {t}"),
        tenant_id: TenantId::parse(t).unwrap(),
        email: None,
        receivers: vec![],
        questionnaire_recipients: vec![],
        created_at: T0,
        updated_at: None,
        version: 1,
        consent: Default::default(),
    }
}

pub(super) async fn new_customer(store: &Arc<dyn Store>, p: &Partner, t: &str) -> Customer {
    let c = customer_of(&p.id, t);
    store.create_customer(&c, &partner_event(EventType::CustomerCreated, p)).await.expect("customer");
    c
}

fn run_of(c: &Customer, product: &str, at: Timestamp) -> Run {
    Run {
        // Its own generator: the shared one is monotonic across the tests running at once, so it
        // would make ids later than `at`, while a run's id is made from its creation time (the
        // month filter reads ids as a key range; `docs/storage.md`).
        id: IdGen::new().time_ordered("run_", (at.unix() * 1000) as u64).into(),
        partner_id: c.partner_id.clone(),
        customer_id: c.id.clone(),
        product: product.to_string(),
        maturity_target: 1,
        status: RunStatus::Queued,
        created_at: at,
        started_at: None,
        completed_at: None,
        results: None,
        error: None,
    }
}

pub(super) async fn new_run(store: &Arc<dyn Store>, c: &Customer, product: &str, at: Timestamp) -> Run {
    let r = run_of(c, product, at);
    store.queue_run(&r, Month::of(at), None).await.expect("queue run");
    r
}

pub(super) async fn outbox(store: &Arc<dyn Store>) -> Vec<String> {
    store.pending_events(100_000).await.expect("outbox").into_iter().map(|e| e.id.into_string()).collect()
}

async fn recorded(store: &Arc<dyn Store>, e: &Event) -> bool {
    outbox(store).await.contains(&e.id.to_string())
}

async fn partner_now(store: &Arc<dyn Store>, id: &str) -> Partner {
    store.partner(id).await.expect("partner").expect("partner exists")
}

/// Follows `next` from the first page to the last; returns each page's ids.
macro_rules! walk {
    ($limit:expr, |$page:ident| $fetch:expr) => {{
        let mut pages: Vec<Vec<String>> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let $page = PageRequest { limit: $limit, after: after.clone() };
            let got = $fetch.await.expect("page");
            assert!(got.items.len() <= $limit, "a page of {} items for limit {}", got.items.len(), $limit);
            pages.push(got.items.iter().map(|i| i.id.to_string()).collect());
            assert!(pages.len() <= 10_000, "paging never ends");
            match got.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        pages
    }};
}

/// Which runs a filter should keep.
type Keep = Box<dyn Fn(&Run) -> bool>;

fn flat(pages: &[Vec<String>]) -> Vec<String> {
    pages.concat()
}

#[track_caller]
fn assert_no_duplicates(ids: &[String]) {
    let set: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(set.len(), ids.len(), "duplicates across pages: {ids:?}");
}

fn sizes(pages: &[Vec<String>]) -> Vec<usize> {
    pages.iter().map(Vec::len).collect()
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

async fn distributors_are_stored_and_read_back(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    assert_eq!(store.distributor(&d.id).await.unwrap(), Some(d));
    assert_eq!(store.distributor("dist_doesnotexist00000000").await.unwrap(), None);
}

async fn partners_are_stored_and_read_back(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let under = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Pending).await;
    let alone = new_partner(&store, None, "b@msp.example", AccountStatus::Active).await;
    assert_eq!(store.partner(&under.id).await.unwrap(), Some(under));
    assert_eq!(store.partner(&alone.id).await.unwrap(), Some(alone));
    assert_eq!(store.partner("prt_doesnotexist00000000").await.unwrap(), None);
}

async fn partner_email_is_unique_per_distributor(store: Arc<dyn Store>) {
    let d1 = new_distributor(&store).await;
    let d2 = new_distributor(&store).await;
    let first = new_partner(&store, Some(&d1.id), "admin@msp.example", AccountStatus::Pending).await;

    let dup = partner_of(Some(&d1.id), "admin@msp.example", AccountStatus::Pending);
    assert_eq!(store.create_partner(&dup).await, Err(StoreError::PartnerExists));
    assert_eq!(store.partner(&dup.id).await.unwrap(), None, "nothing written");
    let ids: Vec<String> = store.all_partners(&d1.id).await.unwrap().into_iter().map(|p| p.id.into_string()).collect();
    assert_eq!(ids, vec![first.id.clone()]);
    assert_eq!(partner_now(&store, &first.id).await, first);

    // The same email under another distributor, or with none, is another partner.
    new_partner(&store, Some(&d2.id), "admin@msp.example", AccountStatus::Pending).await;
    new_partner(&store, None, "admin@msp.example", AccountStatus::Active).await;
    // Another email under the same distributor is fine.
    new_partner(&store, Some(&d1.id), "other@msp.example", AccountStatus::Pending).await;
    assert_eq!(store.all_partners(&d1.id).await.unwrap().len(), 2);
    assert_eq!(store.all_partners(&d2.id).await.unwrap().len(), 1);
}

async fn list_partners_pages_in_creation_order(store: Arc<dyn Store>) {
    let d1 = new_distributor(&store).await;
    let d2 = new_distributor(&store).await;
    let mut mine = Vec::new();
    for i in 0..5 {
        mine.push(new_partner(&store, Some(&d1.id), &format!("p{i}@msp.example"), AccountStatus::Pending).await.id);
        // Another distributor's partners interleaved in time.
        new_partner(&store, Some(&d2.id), &format!("p{i}@msp.example"), AccountStatus::Pending).await;
    }
    new_partner(&store, None, "alone@msp.example", AccountStatus::Active).await;

    let by2 = walk!(2, |p| store.list_partners(&d1.id, None, &p));
    assert_eq!(sizes(&by2), vec![2, 2, 1]);
    assert_eq!(flat(&by2), mine, "creation order, each once");
    let by1 = walk!(1, |p| store.list_partners(&d1.id, None, &p));
    assert_eq!(flat(&by1), mine);
    assert_eq!(by1.len(), 5);
    let one_page = walk!(5, |p| store.list_partners(&d1.id, None, &p));
    assert_eq!(one_page, vec![mine.clone()], "next is None on the last page");
    let big = walk!(100, |p| store.list_partners(&d1.id, None, &p));
    assert_eq!(big, vec![mine.clone()]);

    let none = walk!(10, |p| store.list_partners("dist_doesnotexist00000000", None, &p));
    assert_eq!(none, vec![Vec::<String>::new()]);
}

async fn list_partners_filters_by_status(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(new_partner(&store, Some(&d.id), &format!("p{i}@msp.example"), AccountStatus::Pending).await.id);
    }
    for i in [1, 3, 4] {
        store.activate_partner(&ids[i], T0, &ev(EventType::PartnerActivated, Owner::distributor(&d.id))).await.unwrap();
    }
    store.suspend_partner(&ids[4], T0, &ev(EventType::PartnerSuspended, Owner::distributor(&d.id))).await.unwrap();

    let active = walk!(1, |p| store.list_partners(&d.id, Some(AccountStatus::Active), &p));
    let active = flat(&active);
    assert_no_duplicates(&active);
    assert_eq!(active, vec![ids[1].clone(), ids[3].clone()]);
    let pending = flat(&walk!(2, |p| store.list_partners(&d.id, Some(AccountStatus::Pending), &p)));
    assert_eq!(pending, vec![ids[0].clone(), ids[2].clone(), ids[5].clone()]);
    let suspended = flat(&walk!(2, |p| store.list_partners(&d.id, Some(AccountStatus::Suspended), &p)));
    assert_eq!(suspended, vec![ids[4].clone()]);
    // Every listed partner really has the status asked for.
    let page = store.list_partners(&d.id, Some(AccountStatus::Active), &all()).await.unwrap();
    assert!(page.items.iter().all(|p| p.status == AccountStatus::Active));
    assert!(page.next.is_none());
}

async fn all_partners_returns_every_partner_of_the_distributor(store: Arc<dyn Store>) {
    let d1 = new_distributor(&store).await;
    let d2 = new_distributor(&store).await;
    // More than one page of any list.
    let mut mine = BTreeSet::new();
    for i in 0..120 {
        let p = new_partner(&store, Some(&d1.id), &format!("p{i}@msp.example"), AccountStatus::Pending).await;
        mine.insert(p.id.into_string());
    }
    let theirs = new_partner(&store, Some(&d2.id), "x@msp.example", AccountStatus::Active).await;
    let got: Vec<Partner> = store.all_partners(&d1.id).await.unwrap();
    let got_ids: BTreeSet<String> = got.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(got.len(), 120, "each once");
    assert_eq!(got_ids, mine);
    assert_eq!(store.all_partners(&d2.id).await.unwrap(), vec![theirs.clone()]);
    assert!(store.all_partners("dist_doesnotexist00000000").await.unwrap().is_empty());
    // The current state, not a stale copy.
    let first = got_ids.iter().next().unwrap().clone();
    store.activate_partner(&first, T0, &ev(EventType::PartnerActivated, Owner::distributor(&d1.id))).await.unwrap();
    let again = store.all_partners(&d1.id).await.unwrap();
    assert_eq!(again.iter().find(|p| p.id == first).map(|p| p.status), Some(AccountStatus::Active));
}

/// Plan and billing changes are computed from the terms read: of several written at once from
/// the same read, one applies and the others are told to read again (no lost update).
async fn concurrent_terms_changes_apply_once_per_version(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "terms@msp.example", AccountStatus::Active).await;
    let plans = ["starter", "enterprise", "professional", "starter", "enterprise", "professional"];
    let results = together(plans.len(), |i| {
        let (store, id) = (store.clone(), p.id.clone());
        async move { store.update_partner_terms(&id, 0, Some(plans[i]), None, None, T0 + 1).await }
    })
    .await;
    let won: Vec<&Partner> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r.is_err()).all(|r| r == &Err(StoreError::Conflict)), "{results:?}");
    let now = partner_now(&store, &p.id).await;
    assert_eq!((now.plan.as_str(), now.terms_version), (won[0].plan.as_str(), 1));
    // A change computed from the old terms is refused; from the new ones it applies.
    assert_eq!(
        store.update_partner_terms(&p.id, 0, Some("starter"), None, None, T0 + 2).await,
        Err(StoreError::Conflict)
    );
    assert!(store.update_partner_terms(&p.id, 1, Some("starter"), None, None, T0 + 2).await.is_ok());
}

/// Branding is stored per partner, versioned: of several writes from the same read one lands,
/// the others are told to read again; another partner's branding is untouched.
async fn concurrent_branding_writes_apply_once_per_version(store: Arc<dyn Store>) {
    use shared::domain::branding::Branding;
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "brand@msp.example", AccountStatus::Active).await;
    let q = new_partner(&store, Some(&d.id), "other@msp.example", AccountStatus::Active).await;
    assert_eq!(store.branding(&p.id).await.unwrap(), Branding::default(), "unset reads as the default");
    let colors = ["#000001", "#000002", "#000003", "#000004", "#000005"];
    let results = together(colors.len(), |i| {
        let (store, id) = (store.clone(), p.id.clone());
        async move {
            let b = Branding { brand_color: Some(colors[i].to_string()), ..Branding::default() };
            store.put_branding(&id, &b).await
        }
    })
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r.is_err()).all(|r| r == &Err(StoreError::Conflict)), "{results:?}");
    let stored = store.branding(&p.id).await.unwrap();
    assert_eq!(stored.version, 1);
    assert!(colors.contains(&stored.brand_color.as_deref().unwrap()));
    // From the stored version the next write lands; from the old one it does not.
    let next = Branding { footer_text: Some("Footer".into()), ..stored.clone() };
    assert_eq!(store.put_branding(&p.id, &Branding::default()).await, Err(StoreError::Conflict));
    store.put_branding(&p.id, &next).await.unwrap();
    let read = store.branding(&p.id).await.unwrap();
    assert_eq!((read.footer_text.as_deref(), read.version), (Some("Footer"), 2));
    assert_eq!(store.branding(&q.id).await.unwrap(), Branding::default(), "per partner");
}

async fn update_partner_terms_sets_only_what_is_given(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;

    let got = store.update_partner_terms(&p.id, 0, Some("enterprise"), None, None, T0 + 10).await.unwrap();
    let mut want = p.clone();
    want.plan = "enterprise".into();
    want.terms_version = 1;
    want.updated_at = Some(T0 + 10);
    assert_eq!(got, want);
    assert_eq!(partner_now(&store, &p.id).await, want);

    let billing = BillingConfig { currency: "EUR".into(), interval: "annual".into() };
    let got = store.update_partner_terms(&p.id, 1, None, Some(&billing), None, T0 + 20).await.unwrap();
    want.billing = Some(billing.clone());
    want.terms_version = 2;
    want.updated_at = Some(T0 + 20);
    assert_eq!(got, want);

    let sub = Subscription {
        billing: "rolling".into(),
        currency: "eur".into(),
        status: "active".into(),
        anchor: T0 + 30,
        stripe: None,
    };
    let got = store.update_partner_terms(&p.id, 2, Some("starter"), None, Some(&sub), T0 + 30).await.unwrap();
    want.plan = "starter".into();
    want.terms_version = 3;
    want.subscription = sub;
    want.updated_at = Some(T0 + 30);
    assert_eq!(got, want);
    assert_eq!(partner_now(&store, &p.id).await, want);

    assert_eq!(
        store.update_partner_terms("prt_doesnotexist00000000", 0, Some("starter"), None, None, T0).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.partner("prt_doesnotexist00000000").await.unwrap(), None);
}

async fn activation_moves_to_active_once_and_records_its_event(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let by = Owner::distributor(&d.id);
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Pending).await;

    let e1 = ev(EventType::PartnerActivated, by.clone());
    let change = store.activate_partner(&p.id, T0 + 5, &e1).await.unwrap();
    assert!(change.changed);
    assert_eq!(change.partner.status, AccountStatus::Active);
    assert_eq!(change.partner.activated_at, Some(T0 + 5));
    assert_eq!(partner_now(&store, &p.id).await, change.partner);
    assert!(recorded(&store, &e1).await);

    let e2 = ev(EventType::PartnerActivated, by.clone());
    let again = store.activate_partner(&p.id, T0 + 9, &e2).await.unwrap();
    assert!(!again.changed);
    assert_eq!(again.partner, change.partner, "a no-op writes nothing");
    assert_eq!(partner_now(&store, &p.id).await, change.partner);
    assert!(!recorded(&store, &e2).await);

    // From suspended back to active.
    store.suspend_partner(&p.id, T0 + 20, &ev(EventType::PartnerSuspended, by.clone())).await.unwrap();
    let e3 = ev(EventType::PartnerActivated, by.clone());
    let back = store.activate_partner(&p.id, T0 + 30, &e3).await.unwrap();
    assert!(back.changed);
    assert_eq!(back.partner.status, AccountStatus::Active);
    assert_eq!(back.partner.activated_at, Some(T0 + 30));
    assert!(recorded(&store, &e3).await);

    let e4 = ev(EventType::PartnerActivated, by);
    assert_eq!(store.activate_partner("prt_doesnotexist00000000", T0, &e4).await, Err(StoreError::NotFound));
    assert!(!recorded(&store, &e4).await);
}

async fn suspension_deletes_every_key_and_records_its_event(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let by = Owner::distributor(&d.id);
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let other = new_partner(&store, Some(&d.id), "b@msp.example", AccountStatus::Active).await;
    let owner = Owner::partner(&p.id);
    store.issue_key(&owner, 1, "hash-p-1", T0, None).await.unwrap();
    store.issue_key(&owner, 2, "hash-p-2", T0, None).await.unwrap();
    store.issue_key(&Owner::partner(&other.id), 1, "hash-other-1", T0, None).await.unwrap();
    store.issue_key(&by, 1, "hash-d-1", T0, None).await.unwrap();

    let e1 = ev(EventType::PartnerSuspended, by.clone());
    let change = store.suspend_partner(&p.id, T0 + 5, &e1).await.unwrap();
    assert!(change.changed);
    assert_eq!(change.partner.status, AccountStatus::Suspended);
    assert_eq!(change.partner.suspended_at, Some(T0 + 5));
    assert_eq!(partner_now(&store, &p.id).await, change.partner);
    assert!(store.keys_of(&owner).await.unwrap().is_empty());
    assert_eq!(store.key_by_hash("hash-p-1").await.unwrap(), None);
    assert_eq!(store.key_by_hash("hash-p-2").await.unwrap(), None);
    assert!(recorded(&store, &e1).await);
    // Nobody else's keys.
    assert!(store.key_by_hash("hash-other-1").await.unwrap().is_some());
    assert!(store.key_by_hash("hash-d-1").await.unwrap().is_some());

    let e2 = ev(EventType::PartnerSuspended, by.clone());
    let again = store.suspend_partner(&p.id, T0 + 9, &e2).await.unwrap();
    assert!(!again.changed);
    assert_eq!(again.partner, change.partner);
    assert!(!recorded(&store, &e2).await);

    // Reactivated, it still has no keys until one is issued.
    store.activate_partner(&p.id, T0 + 20, &ev(EventType::PartnerActivated, by.clone())).await.unwrap();
    assert!(store.keys_of(&owner).await.unwrap().is_empty());
    assert_eq!(store.key_by_hash("hash-p-1").await.unwrap(), None);

    let e3 = ev(EventType::PartnerSuspended, by);
    assert_eq!(store.suspend_partner("prt_doesnotexist00000000", T0, &e3).await, Err(StoreError::NotFound));
    assert!(!recorded(&store, &e3).await);
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

async fn keys_are_issued_into_free_slots(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Pending).await;
    let owner = Owner::partner(&p.id);
    assert!(store.keys_of(&owner).await.unwrap().is_empty());

    let e1 = ev(EventType::KeyCreated, owner.clone());
    store.issue_key(&owner, 1, "hash-1", T0, Some(&e1)).await.unwrap();
    let k1 = StoredKeyView::of(&owner, 1, "hash-1", T0);
    assert_eq!(store.key_by_hash("hash-1").await.unwrap(), Some(k1.clone()));
    assert!(recorded(&store, &e1).await);

    // A taken slot is a conflict, and nothing is written.
    let e2 = ev(EventType::KeyCreated, owner.clone());
    assert_eq!(store.issue_key(&owner, 1, "hash-x", T0 + 1, Some(&e2)).await, Err(StoreError::Conflict));
    assert_eq!(store.key_by_hash("hash-x").await.unwrap(), None);
    assert_eq!(store.key_by_hash("hash-1").await.unwrap(), Some(k1.clone()));
    assert!(!recorded(&store, &e2).await);

    // Without an event, none is recorded.
    let before = outbox(&store).await;
    store.issue_key(&owner, 2, "hash-2", T0 + 2, None).await.unwrap();
    assert_eq!(outbox(&store).await, before);
    let k2 = StoredKeyView::of(&owner, 2, "hash-2", T0 + 2);
    let mut keys = store.keys_of(&owner).await.unwrap();
    keys.sort_by_key(|k| k.slot);
    assert_eq!(keys, vec![k1, k2]);

    // A distributor's keys are its own.
    let dist = Owner::distributor(&d.id);
    store.issue_key(&dist, 1, "hash-d", T0, None).await.unwrap();
    assert_eq!(store.keys_of(&dist).await.unwrap(), vec![StoredKeyView::of(&dist, 1, "hash-d", T0)]);
    assert_eq!(store.keys_of(&owner).await.unwrap().len(), 2);
    assert_eq!(store.key_by_hash("hash-unknown").await.unwrap(), None);
    assert!(store.keys_of(&Owner::partner("prt_doesnotexist00000000")).await.unwrap().is_empty());
}

/// Builds the `StoredKey` the store should hand back.
struct StoredKeyView;

impl StoredKeyView {
    fn of(owner: &Owner, slot: u8, hash: &str, at: Timestamp) -> shared::store::StoredKey {
        shared::store::StoredKey { hash: hash.to_string(), owner: owner.clone(), slot, created_at: at }
    }
}

async fn keys_are_not_issued_to_a_suspended_partner(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    store.suspend_partner(&p.id, T0, &ev(EventType::PartnerSuspended, Owner::distributor(&d.id))).await.unwrap();
    let owner = Owner::partner(&p.id);
    let e = ev(EventType::KeyCreated, owner.clone());
    assert_eq!(store.issue_key(&owner, 1, "hash-s", T0, Some(&e)).await, Err(StoreError::OwnerSuspended));
    assert!(store.keys_of(&owner).await.unwrap().is_empty());
    assert_eq!(store.key_by_hash("hash-s").await.unwrap(), None);
    assert!(!recorded(&store, &e).await);
}

async fn revoking_keys_keeps_the_last_one(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let owner = Owner::partner(&p.id);
    let e0 = ev(EventType::KeyRevoked, owner.clone());
    assert_eq!(store.revoke_key(&owner, 1, &e0).await, Err(StoreError::NotFound), "an owner without keys");

    store.issue_key(&owner, 1, "hash-1", T0, None).await.unwrap();
    assert_eq!(store.revoke_key(&owner, 2, &e0).await, Err(StoreError::NotFound), "an empty slot");
    assert_eq!(store.revoke_key(&owner, 1, &e0).await, Err(StoreError::LastKey));
    assert!(store.key_by_hash("hash-1").await.unwrap().is_some());
    assert!(!recorded(&store, &e0).await);

    store.issue_key(&owner, 2, "hash-2", T0, None).await.unwrap();
    let e1 = ev(EventType::KeyRevoked, owner.clone());
    store.revoke_key(&owner, 1, &e1).await.unwrap();
    assert_eq!(store.key_by_hash("hash-1").await.unwrap(), None);
    let left: Vec<u8> = store.keys_of(&owner).await.unwrap().iter().map(|k| k.slot).collect();
    assert_eq!(left, vec![2]);
    assert!(recorded(&store, &e1).await);

    let e2 = ev(EventType::KeyRevoked, owner.clone());
    assert_eq!(store.revoke_key(&owner, 2, &e2).await, Err(StoreError::LastKey));
    assert!(!recorded(&store, &e2).await);
    // The freed slot takes a new key.
    store.issue_key(&owner, 1, "hash-3", T0, None).await.unwrap();
    assert_eq!(store.keys_of(&owner).await.unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Customers
// ---------------------------------------------------------------------------------------------

async fn customers_are_unique_per_partner_and_tenant(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let q = new_partner(&store, Some(&d.id), "b@msp.example", AccountStatus::Active).await;

    let c1 = customer_of(&p.id, &tenant(1));
    let e1 = partner_event(EventType::CustomerCreated, &p);
    store.create_customer(&c1, &e1).await.unwrap();
    assert_eq!(store.customer(&p.id, &c1.id).await.unwrap(), Some(c1.clone()));
    assert_eq!(partner_now(&store, &p.id).await.customers_count, 1);
    assert!(recorded(&store, &e1).await);

    let dup = customer_of(&p.id, &tenant(1));
    let e2 = partner_event(EventType::CustomerCreated, &p);
    assert_eq!(store.create_customer(&dup, &e2).await, Err(StoreError::CustomerExists));
    assert_eq!(store.customer(&p.id, &dup.id).await.unwrap(), None);
    assert_eq!(partner_now(&store, &p.id).await.customers_count, 1);
    assert!(!recorded(&store, &e2).await);

    // The same tenant under another partner is another customer, out of p's reach.
    let c3 = new_customer(&store, &q, &tenant(1)).await;
    assert_eq!(store.customer(&p.id, &c3.id).await.unwrap(), None);
    assert_eq!(store.customer(&q.id, &c1.id).await.unwrap(), None);
    assert_eq!(partner_now(&store, &q.id).await.customers_count, 1);

    let ghost = customer_of("prt_doesnotexist00000000", &tenant(2));
    let e4 = ev(EventType::CustomerCreated, Owner::partner("prt_doesnotexist00000000"));
    assert_eq!(store.create_customer(&ghost, &e4).await, Err(StoreError::NotFound));
    assert_eq!(store.customer("prt_doesnotexist00000000", &ghost.id).await.unwrap(), None);
    assert!(!recorded(&store, &e4).await);
    assert_eq!(store.customer(&p.id, "cust_doesnotexist0000000").await.unwrap(), None);
}

async fn list_customers_pages_without_duplicates(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let q = new_partner(&store, Some(&d.id), "b@msp.example", AccountStatus::Active).await;
    let empty = new_partner(&store, Some(&d.id), "c@msp.example", AccountStatus::Active).await;
    let mut mine = BTreeSet::new();
    for i in 0..5 {
        mine.insert(new_customer(&store, &p, &tenant(i)).await.id.into_string());
        new_customer(&store, &q, &tenant(i)).await;
    }
    let by2 = walk!(2, |pg| store.list_customers(&p.id, &pg));
    assert_eq!(sizes(&by2), vec![2, 2, 1]);
    let ids = flat(&by2);
    assert_no_duplicates(&ids);
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), mine);
    let one = walk!(5, |pg| store.list_customers(&p.id, &pg));
    assert_eq!(sizes(&one), vec![5], "next is None on the last page");
    let page = store.list_customers(&p.id, &all()).await.unwrap();
    assert!(page.items.iter().all(|c| c.partner_id == p.id));
    assert!(page.next.is_none());
    let none = walk!(10, |pg| store.list_customers(&empty.id, &pg));
    assert_eq!(none, vec![Vec::<String>::new()]);
}

async fn update_customer_is_conditional_on_the_version(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;

    let mut next = c.clone();
    next.name = "Renamed".into();
    next.email = Some(Email::parse("it@renamed.example").unwrap());
    next.updated_at = Some(T0 + 5);
    next.version = 2;
    let e1 = partner_event(EventType::CustomerUpdated, &p);
    store.update_customer(&next, 1, &e1).await.unwrap();
    assert_eq!(store.customer(&p.id, &c.id).await.unwrap(), Some(next.clone()));
    assert!(recorded(&store, &e1).await);

    // A writer that read version 1 lost the race.
    let mut stale = c.clone();
    stale.name = "Stale".into();
    stale.version = 2;
    let e2 = partner_event(EventType::CustomerUpdated, &p);
    assert_eq!(store.update_customer(&stale, 1, &e2).await, Err(StoreError::Conflict));
    assert_eq!(store.customer(&p.id, &c.id).await.unwrap(), Some(next.clone()));
    assert!(!recorded(&store, &e2).await);

    let ghost = customer_of(&p.id, &tenant(9));
    let e3 = partner_event(EventType::CustomerUpdated, &p);
    assert_eq!(store.update_customer(&ghost, 1, &e3).await, Err(StoreError::NotFound));
    assert_eq!(store.customer(&p.id, &ghost.id).await.unwrap(), None);
    assert!(!recorded(&store, &e3).await);
    assert_eq!(partner_now(&store, &p.id).await.customers_count, 1);
}

async fn update_customer_moves_the_tenant_guard(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let c1 = new_customer(&store, &p, &tenant(1)).await;
    let c2 = new_customer(&store, &p, &tenant(2)).await;

    // To a taken tenant: refused, nothing written.
    let mut clash = c2.clone();
    clash.tenant_id = TenantId::parse(&tenant(1)).unwrap();
    clash.version = 2;
    let e1 = partner_event(EventType::CustomerUpdated, &p);
    assert_eq!(store.update_customer(&clash, 1, &e1).await, Err(StoreError::CustomerExists));
    assert_eq!(store.customer(&p.id, &c2.id).await.unwrap(), Some(c2.clone()));
    assert!(!recorded(&store, &e1).await);

    // To a free tenant: the old one is free, the new one taken.
    let mut moved = c2.clone();
    moved.tenant_id = TenantId::parse(&tenant(3)).unwrap();
    moved.version = 2;
    store.update_customer(&moved, 1, &partner_event(EventType::CustomerUpdated, &p)).await.unwrap();
    assert_eq!(store.customer(&p.id, &c2.id).await.unwrap(), Some(moved.clone()));
    let reuse = customer_of(&p.id, &tenant(2));
    store
        .create_customer(&reuse, &partner_event(EventType::CustomerCreated, &p))
        .await
        .expect("the old tenant is free again");
    let taken = customer_of(&p.id, &tenant(3));
    assert_eq!(
        store.create_customer(&taken, &partner_event(EventType::CustomerCreated, &p)).await,
        Err(StoreError::CustomerExists)
    );

    // Keeping its own tenant is no clash.
    let mut renamed = c1.clone();
    renamed.name = "Renamed".into();
    renamed.version = 2;
    store.update_customer(&renamed, 1, &partner_event(EventType::CustomerUpdated, &p)).await.unwrap();
    assert_eq!(store.customer(&p.id, &c1.id).await.unwrap(), Some(renamed));
    assert_eq!(partner_now(&store, &p.id).await.customers_count, 3);
}

async fn delete_customer_removes_it_and_its_runs(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let c1 = new_customer(&store, &p, &tenant(1)).await;
    let c2 = new_customer(&store, &p, &tenant(2)).await;
    let r1 = new_run(&store, &c1, "essential-eight", T0).await;
    let r2 = new_run(&store, &c1, "nist-csf", T0 + 1).await;
    let r3 = new_run(&store, &c2, "essential-eight", T0 + 2).await;
    assert_eq!(partner_now(&store, &p.id).await.customers_count, 2);

    let e = partner_event(EventType::CustomerDeleted, &p);
    store.delete_customer(&p.id, &c1.id, &e).await.unwrap();
    assert_eq!(store.customer(&p.id, &c1.id).await.unwrap(), None);
    assert_eq!(store.run(&p.id, &r1.id).await.unwrap(), None);
    assert_eq!(store.run(&p.id, &r2.id).await.unwrap(), None);
    assert_eq!(store.run(&p.id, &r3.id).await.unwrap(), Some(r3.clone()));
    let left = store.list_runs(&p.id, &RunFilter::default(), &all()).await.unwrap();
    assert_eq!(left.items, vec![r3]);
    let of_c1 = store
        .list_runs(&p.id, &RunFilter { customer_id: Some(c1.id.clone()), ..Default::default() }, &all())
        .await
        .unwrap();
    assert!(of_c1.items.is_empty());
    assert_eq!(partner_now(&store, &p.id).await.customers_count, 1);
    assert!(recorded(&store, &e).await);
    // Runs are counted when queued: deleting does not give them back.
    assert_eq!(store.runs_used(&p.id, APRIL).await.unwrap(), 3);
    // The tenant is free again.
    new_customer(&store, &p, &tenant(1)).await;

    let e2 = partner_event(EventType::CustomerDeleted, &p);
    assert_eq!(store.delete_customer(&p.id, &c1.id, &e2).await, Err(StoreError::NotFound));
    assert!(!recorded(&store, &e2).await);
    // Another partner cannot delete it.
    let q = new_partner(&store, Some(&d.id), "b@msp.example", AccountStatus::Active).await;
    let e3 = partner_event(EventType::CustomerDeleted, &q);
    assert_eq!(store.delete_customer(&q.id, &c2.id, &e3).await, Err(StoreError::NotFound));
    assert!(store.customer(&p.id, &c2.id).await.unwrap().is_some());
    assert_eq!(partner_now(&store, &p.id).await.customers_count, 2);
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

async fn queue_run_counts_up_to_the_limit(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;

    for i in 0..3 {
        let r = run_of(&c, "essential-eight", T0 + i);
        store.queue_run(&r, APRIL, Some(3)).await.unwrap();
        assert_eq!(store.run(&p.id, &r.id).await.unwrap(), Some(r));
    }
    assert_eq!(store.runs_used(&p.id, APRIL).await.unwrap(), 3);

    let over = run_of(&c, "essential-eight", T0 + 10);
    assert_eq!(store.queue_run(&over, APRIL, Some(3)).await, Err(StoreError::RunLimitReached));
    assert_eq!(store.run(&p.id, &over.id).await.unwrap(), None);
    assert_eq!(store.runs_used(&p.id, APRIL).await.unwrap(), 3);
    let listed = store.list_runs(&p.id, &RunFilter::default(), &all()).await.unwrap();
    assert_eq!(listed.items.len(), 3);

    // A larger limit (a plan change) or none at all lets more through.
    store.queue_run(&run_of(&c, "essential-eight", T0 + 11), APRIL, Some(4)).await.unwrap();
    store.queue_run(&run_of(&c, "essential-eight", T0 + 12), APRIL, None).await.unwrap();
    assert_eq!(store.runs_used(&p.id, APRIL).await.unwrap(), 5);
    // A limit of zero refuses the first.
    let q = new_partner(&store, Some(&d.id), "b@msp.example", AccountStatus::Active).await;
    let qc = new_customer(&store, &q, &tenant(1)).await;
    assert_eq!(
        store.queue_run(&run_of(&qc, "essential-eight", T0), APRIL, Some(0)).await,
        Err(StoreError::RunLimitReached)
    );
    assert_eq!(store.runs_used(&q.id, APRIL).await.unwrap(), 0);

    // Each month counts on its own.
    let may = MAY.start() + DAY;
    store.queue_run(&run_of(&c, "essential-eight", may), MAY, Some(1)).await.unwrap();
    assert_eq!(
        store.queue_run(&run_of(&c, "essential-eight", may + 1), MAY, Some(1)).await,
        Err(StoreError::RunLimitReached)
    );
    assert_eq!(store.runs_used(&p.id, MAY).await.unwrap(), 1);
    assert_eq!(store.runs_used(&p.id, APRIL).await.unwrap(), 5);
    assert_eq!(store.runs_used(&p.id, Month { year: 2026, month: 3 }).await.unwrap(), 0);
    assert_eq!(store.runs_used("prt_doesnotexist00000000", APRIL).await.unwrap(), 0);
}

async fn queue_run_needs_the_partners_customer(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let q = new_partner(&store, Some(&d.id), "b@msp.example", AccountStatus::Active).await;
    let theirs = new_customer(&store, &q, &tenant(1)).await;

    let mut r = run_of(&theirs, "essential-eight", T0);
    r.partner_id = p.id.clone();
    assert_eq!(store.queue_run(&r, APRIL, Some(10)).await, Err(StoreError::NotFound), "another partner's customer");
    let mut r2 = run_of(&theirs, "essential-eight", T0);
    r2.customer_id = "cust_doesnotexist0000000".into();
    assert_eq!(store.queue_run(&r2, APRIL, None).await, Err(StoreError::NotFound), "no such customer");
    assert_eq!(store.run(&p.id, &r.id).await.unwrap(), None);
    assert_eq!(store.run(&q.id, &r2.id).await.unwrap(), None);
    assert_eq!(store.runs_used(&p.id, APRIL).await.unwrap(), 0);
    assert_eq!(store.runs_used(&q.id, APRIL).await.unwrap(), 0);

    // A run is only reachable through its own partner.
    let ok = new_run(&store, &theirs, "essential-eight", T0).await;
    assert_eq!(store.run(&p.id, &ok.id).await.unwrap(), None);
    assert_eq!(store.run(&q.id, &ok.id).await.unwrap(), Some(ok));
}

async fn list_runs_is_newest_first_with_filters_and_paging(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let q = new_partner(&store, Some(&d.id), "b@msp.example", AccountStatus::Active).await;
    let c1 = new_customer(&store, &p, &tenant(1)).await;
    let c2 = new_customer(&store, &p, &tenant(2)).await;
    let qc = new_customer(&store, &q, &tenant(1)).await;
    let march = APRIL.start() - 2 * DAY;

    // In creation order (oldest first).
    let plan = [
        (&c1, "essential-eight", march),
        (&c2, "nist-csf", march + 60),
        (&c1, "nist-csf", APRIL.start() + DAY),
        (&c2, "essential-eight", APRIL.start() + 2 * DAY),
        (&c1, "essential-eight", T0),
        (&c1, "cis-m365", T0 + 60),
        (&c2, "essential-eight", T0 + 120),
    ];
    let mut runs = Vec::new();
    for (c, product, at) in plan {
        runs.push(new_run(&store, c, product, at).await);
        new_run(&store, &qc, product, at).await;
    }
    let newest_first = |keep: &dyn Fn(&Run) -> bool| -> Vec<String> {
        runs.iter().rev().filter(|r| keep(r)).map(|r| r.id.to_string()).collect()
    };

    let everything = store.list_runs(&p.id, &RunFilter::default(), &all()).await.unwrap();
    assert_eq!(everything.items.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), newest_first(&|_| true));
    assert_eq!(everything.items[0], runs[6], "stored as given");
    assert!(everything.next.is_none());

    let by3 = walk!(3, |pg| store.list_runs(&p.id, &RunFilter::default(), &pg));
    assert_eq!(sizes(&by3), vec![3, 3, 1]);
    assert_eq!(flat(&by3), newest_first(&|_| true));
    let by7 = walk!(7, |pg| store.list_runs(&p.id, &RunFilter::default(), &pg));
    assert_eq!(sizes(&by7), vec![7], "next is None on the last page");

    let cases: Vec<(&str, RunFilter, Keep)> = vec![
        (
            "month April",
            RunFilter { month: Some(APRIL), ..Default::default() },
            Box::new(|r: &Run| Month::of(r.created_at) == APRIL),
        ),
        (
            "month March",
            RunFilter { month: Some(Month { year: 2026, month: 3 }), ..Default::default() },
            Box::new(|r: &Run| r.created_at < APRIL.start()),
        ),
        ("month May (none)", RunFilter { month: Some(MAY), ..Default::default() }, Box::new(|_: &Run| false)),
        (
            "product",
            RunFilter { product: Some("essential-eight".into()), ..Default::default() },
            Box::new(|r: &Run| r.product == "essential-eight"),
        ),
        (
            "customer",
            RunFilter { customer_id: Some(c2.id.clone()), ..Default::default() },
            Box::new({
                let c2 = c2.id.clone();
                move |r: &Run| r.customer_id == c2
            }),
        ),
        (
            "month, product and customer",
            RunFilter { month: Some(APRIL), product: Some("essential-eight".into()), customer_id: Some(c1.id.clone()) },
            Box::new({
                let c1 = c1.id.clone();
                move |r: &Run| Month::of(r.created_at) == APRIL && r.product == "essential-eight" && r.customer_id == c1
            }),
        ),
        (
            "another partner's customer",
            RunFilter { customer_id: Some(qc.id.clone()), ..Default::default() },
            Box::new(|_: &Run| false),
        ),
    ];
    for (what, filter, keep) in cases {
        let want = newest_first(&*keep);
        for limit in [1, 2, 100] {
            let pages = walk!(limit, |pg| store.list_runs(&p.id, &filter, &pg));
            let got = flat(&pages);
            assert_no_duplicates(&got);
            assert_eq!(got, want, "{what}, limit {limit}");
        }
    }
}

async fn runs_used_by_partners_sums_per_partner_and_month(store: Arc<dyn Store>) {
    let d1 = new_distributor(&store).await;
    let d2 = new_distributor(&store).await;
    let p1 = new_partner(&store, Some(&d1.id), "a@msp.example", AccountStatus::Active).await;
    let p2 = new_partner(&store, Some(&d1.id), "b@msp.example", AccountStatus::Active).await;
    let p3 = new_partner(&store, Some(&d1.id), "c@msp.example", AccountStatus::Active).await;
    let p4 = new_partner(&store, Some(&d2.id), "a@msp.example", AccountStatus::Active).await;
    let c1 = new_customer(&store, &p1, &tenant(1)).await;
    new_customer(&store, &p2, &tenant(1)).await;
    let c3 = new_customer(&store, &p3, &tenant(1)).await;
    let c4 = new_customer(&store, &p4, &tenant(1)).await;
    new_run(&store, &c1, "essential-eight", T0).await;
    new_run(&store, &c1, "nist-csf", T0 + 1).await;
    new_run(&store, &c3, "essential-eight", T0 + 2).await;
    new_run(&store, &c4, "essential-eight", T0 + 3).await;
    new_run(&store, &c3, "essential-eight", MAY.start() + 5).await;

    let sorted = |mut v: Vec<(String, u32)>| {
        v.sort();
        v
    };
    let mut want = vec![(p1.id.to_string(), 2), (p3.id.to_string(), 1)];
    want.sort();
    assert_eq!(
        sorted(store.runs_used_by_partners(&d1.id, APRIL).await.unwrap()),
        want,
        "partners without runs are left out"
    );
    assert_eq!(store.runs_used_by_partners(&d1.id, MAY).await.unwrap(), vec![(p3.id.to_string(), 1)]);
    assert_eq!(store.runs_used_by_partners(&d2.id, APRIL).await.unwrap(), vec![(p4.id.to_string(), 1)]);
    assert!(store.runs_used_by_partners("dist_doesnotexist00000000", APRIL).await.unwrap().is_empty());
    assert_eq!(store.runs_used(&p2.id, APRIL).await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// Closed months (usage snapshots)
// ---------------------------------------------------------------------------------------------

async fn distributor_ids_lists_every_distributor(store: Arc<dyn Store>) {
    let d1 = new_distributor(&store).await;
    let d2 = new_distributor(&store).await;
    let ids = store.distributor_ids().await.unwrap();
    assert!(ids.contains(&d1.id.to_string()) && ids.contains(&d2.id.to_string()), "{ids:?}");
    assert_eq!(ids.iter().filter(|i| **i == d1.id).count(), 1, "each distributor once");
}

fn snapshot_of(distributor_id: &str, month: Month, runs: u32, closed_at: Timestamp) -> UsageSnapshot {
    let by_partner = vec![
        PartnerUsage { partner_id: id("prt_"), company: "Managed Services Pty Ltd".into(), runs, customers: 3 },
        PartnerUsage { partner_id: id("prt_"), company: "Zürich & Söhne".into(), runs: 0, customers: 0 },
    ];
    UsageSnapshot {
        distributor_id: distributor_id.into(),
        usage: MonthUsage {
            month,
            total_partners: 2,
            active_partners: 1,
            total_customers: 3,
            total_runs: u64::from(runs),
            by_partner,
        },
        closed_at,
    }
}

async fn usage_snapshots_are_written_once_per_distributor_and_month(store: Arc<dyn Store>) {
    let d1 = new_distributor(&store).await;
    let d2 = new_distributor(&store).await;
    assert_eq!(store.usage_snapshot(&d1.id, APRIL).await.unwrap(), None);

    let first = snapshot_of(&d1.id, APRIL, 7, MAY.start() + 60);
    assert!(store.close_usage_month(&first).await.unwrap(), "the first close writes");
    assert_eq!(store.usage_snapshot(&d1.id, APRIL).await.unwrap(), Some(first.clone()));

    // A second close of the same month (other numbers, later) writes nothing.
    let second = snapshot_of(&d1.id, APRIL, 9, MAY.start() + 7 * DAY);
    assert!(!store.close_usage_month(&second).await.unwrap(), "a closed month stays closed");
    assert_eq!(store.usage_snapshot(&d1.id, APRIL).await.unwrap(), Some(first.clone()));

    // Other months and other distributors are separate.
    assert_eq!(store.usage_snapshot(&d1.id, MAY).await.unwrap(), None);
    assert_eq!(store.usage_snapshot(&d2.id, APRIL).await.unwrap(), None);
    assert_eq!(store.usage_snapshot("dist_doesnotexist00000000", APRIL).await.unwrap(), None);
    let may = snapshot_of(&d1.id, MAY, 1, MAY.end() + 60);
    assert!(store.close_usage_month(&may).await.unwrap());
    let other = snapshot_of(&d2.id, APRIL, 2, MAY.start() + 60);
    assert!(store.close_usage_month(&other).await.unwrap());
    assert_eq!(store.usage_snapshot(&d1.id, MAY).await.unwrap(), Some(may));
    assert_eq!(store.usage_snapshot(&d2.id, APRIL).await.unwrap(), Some(other));
    assert_eq!(store.usage_snapshot(&d1.id, APRIL).await.unwrap(), Some(first));
}

async fn concurrent_usage_closes_write_one_snapshot(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let results = together(10, |i| {
        let store = store.clone();
        let snap = snapshot_of(&d.id, APRIL, i as u32, MAY.start() + i as i64);
        async move { store.close_usage_month(&snap).await.map(|wrote| (wrote, snap)) }
    })
    .await;
    let written: Vec<UsageSnapshot> =
        results.into_iter().map(Result::unwrap).filter(|(wrote, _)| *wrote).map(|(_, s)| s).collect();
    assert_eq!(written.len(), 1, "exactly one close writes");
    assert_eq!(store.usage_snapshot(&d.id, APRIL).await.unwrap().as_ref(), written.first());
}

// ---------------------------------------------------------------------------------------------
// Rate windows and idempotency
// ---------------------------------------------------------------------------------------------

async fn count_hit_counts_per_bucket(store: Arc<dyn Store>) {
    let exp = T0 + 120;
    assert_eq!(store.count_hit("RL#a#1", exp).await.unwrap(), 1);
    assert_eq!(store.count_hit("RL#a#1", exp).await.unwrap(), 2);
    assert_eq!(store.count_hit("RL#b#1", exp).await.unwrap(), 1);
    assert_eq!(store.count_hit("RL#a#2", exp + 60).await.unwrap(), 1);
    assert_eq!(store.count_hit("RL#a#1", exp).await.unwrap(), 3);
    assert_eq!(store.count_hit("RL#b#1", exp).await.unwrap(), 2);
}

/// The request pipeline's one write per request (issue 16): the key resolved and its
/// request counted in the fixed window, in one call; an unknown key writes nothing.
async fn key_hit_resolves_the_key_and_counts_per_window(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let owner = Owner::partner(&p.id);
    store.issue_key(&owner, 1, "hash-1", T0, None).await.unwrap();
    store.issue_key(&owner, 2, "hash-2", T0, None).await.unwrap();
    let k1 = StoredKeyView::of(&owner, 1, "hash-1", T0);

    assert_eq!(store.key_hit("hash-unknown", 10).await.unwrap(), None);
    assert_eq!(store.key_by_hash("hash-unknown").await.unwrap(), None, "an unknown key leaves no item");
    assert_eq!(store.key_hit("hash-1", 10).await.unwrap(), Some((k1.clone(), 1)));
    assert_eq!(store.key_hit("hash-1", 10).await.unwrap(), Some((k1.clone(), 2)));
    assert_eq!(store.key_hit("hash-2", 10).await.unwrap().map(|(_, n)| n), Some(1), "per key");
    // A new window starts at 1; a request stamped with an older window (another instance's
    // clock behind) counts in the newer one.
    assert_eq!(store.key_hit("hash-1", 11).await.unwrap(), Some((k1.clone(), 1)));
    assert_eq!(store.key_hit("hash-1", 10).await.unwrap(), Some((k1.clone(), 2)));
    assert_eq!(store.key_hit("hash-1", 11).await.unwrap(), Some((k1.clone(), 3)));
    // The counter never changes what the key is, and a revoked key is gone for it too.
    assert_eq!(store.key_by_hash("hash-1").await.unwrap(), Some(k1.clone()));
    store.revoke_key(&owner, 1, &ev(EventType::KeyRevoked, owner.clone())).await.unwrap();
    assert_eq!(store.key_hit("hash-1", 11).await.unwrap(), None);
    assert_eq!(store.key_by_hash("hash-1").await.unwrap(), None, "a hit never brings a revoked key back");
}

async fn concurrent_key_hits_are_all_counted(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    store.issue_key(&Owner::partner(&p.id), 1, "hash-hot", T0, None).await.unwrap();
    store.key_hit("hash-hot", 10).await.unwrap();
    // Every request of a new window at once: one of them starts it, none is lost.
    let counts = together(30, |_| {
        let store = store.clone();
        async move { store.key_hit("hash-hot", 11).await.unwrap().unwrap().1 }
    })
    .await;
    let seen: BTreeSet<u64> = counts.into_iter().collect();
    assert_eq!(seen, (1..=30).collect::<BTreeSet<u64>>());
    assert_eq!(store.key_hit("hash-hot", 11).await.unwrap().unwrap().1, 31);
}

async fn idempotency_claim_replay_and_mismatch(store: Arc<dyn Store>) {
    let (s, k) = ("pk_live_#prt_1", "key-1");
    let lease = T0 + 60;
    assert_eq!(
        store.claim_idempotency(s, k, "fp-a", T0, lease).await.unwrap(),
        IdempotencyClaim::Claimed { since: T0 }
    );
    assert_eq!(store.claim_idempotency(s, k, "fp-a", T0 + 1, lease + 1).await.unwrap(), IdempotencyClaim::InProgress);
    assert_eq!(store.claim_idempotency(s, k, "fp-b", T0 + 1, lease + 1).await.unwrap(), IdempotencyClaim::Mismatch);

    store.finish_idempotency(s, k, 201, b"{\"id\":\"cust_1\"}", T0 + 86_400).await.unwrap();
    let replay = IdempotencyClaim::Replay { status: 201, body: b"{\"id\":\"cust_1\"}".to_vec() };
    assert_eq!(store.claim_idempotency(s, k, "fp-a", T0 + 2, T0 + 62).await.unwrap(), replay);
    // Long after the lease, within the day: still the same answer.
    assert_eq!(store.claim_idempotency(s, k, "fp-a", T0 + 3600, T0 + 3660).await.unwrap(), replay);
    assert_eq!(store.claim_idempotency(s, k, "fp-b", T0 + 2, T0 + 62).await.unwrap(), IdempotencyClaim::Mismatch);

    // Keys are scoped to their caller.
    assert_eq!(
        store.claim_idempotency("pk_live_#prt_2", k, "fp-b", T0, lease).await.unwrap(),
        IdempotencyClaim::Claimed { since: T0 }
    );
    assert_eq!(
        store.claim_idempotency(s, "key-2", "fp-b", T0, lease).await.unwrap(),
        IdempotencyClaim::Claimed { since: T0 }
    );
}

async fn idempotency_lease_takeover_and_release(store: Arc<dyn Store>) {
    let s = "dk_live_#dist_1";
    assert_eq!(
        store.claim_idempotency(s, "k", "fp", T0, T0 + 60).await.unwrap(),
        IdempotencyClaim::Claimed { since: T0 }
    );
    assert_eq!(store.claim_idempotency(s, "k", "fp", T0 + 59, T0 + 119).await.unwrap(), IdempotencyClaim::InProgress);
    // The first request died: past its lease the key may be taken over, and the request is done
    // again as of its first try (so it makes the same ids).
    assert_eq!(
        store.claim_idempotency(s, "k", "fp", T0 + 61, T0 + 121).await.unwrap(),
        IdempotencyClaim::Claimed { since: T0 }
    );
    // The new claim holds its own lease.
    assert_eq!(store.claim_idempotency(s, "k", "fp", T0 + 62, T0 + 122).await.unwrap(), IdempotencyClaim::InProgress);

    // A released claim (the request failed) can be claimed again, even for another body.
    assert_eq!(
        store.claim_idempotency(s, "r", "fp-1", T0, T0 + 60).await.unwrap(),
        IdempotencyClaim::Claimed { since: T0 }
    );
    store.release_idempotency(s, "r").await.unwrap();
    assert_eq!(
        store.claim_idempotency(s, "r", "fp-2", T0 + 1, T0 + 61).await.unwrap(),
        IdempotencyClaim::Claimed { since: T0 + 1 }
    );
    // A key whose died try was for another body starts afresh.
    store.claim_idempotency(s, "m", "fp-1", T0, T0 + 60).await.unwrap();
    assert_eq!(
        store.claim_idempotency(s, "m", "fp-2", T0 + 61, T0 + 121).await.unwrap(),
        IdempotencyClaim::Claimed { since: T0 + 61 }
    );
    // Releasing a key never claimed is harmless.
    store.release_idempotency(s, "never").await.unwrap();
}

async fn idempotency_records_expire(store: Arc<dyn Store>) {
    let s = "pk_live_#prt_1";
    store.claim_idempotency(s, "k", "fp-a", T0, T0 + 60).await.unwrap();
    store.finish_idempotency(s, "k", 202, b"{}", T0 + 86_400).await.unwrap();
    assert!(matches!(
        store.claim_idempotency(s, "k", "fp-a", T0 + 86_399, T0 + 86_459).await.unwrap(),
        IdempotencyClaim::Replay { status: 202, .. }
    ));
    // Kept 24 h: afterwards the key is new again (even if the item still exists).
    assert_eq!(
        store.claim_idempotency(s, "k", "fp-b", T0 + 86_401, T0 + 86_461).await.unwrap(),
        IdempotencyClaim::Claimed { since: T0 + 86_401 }
    );
}

// ---------------------------------------------------------------------------------------------
// Outbox
// ---------------------------------------------------------------------------------------------

async fn outbox_hands_out_events_oldest_first_until_acked(store: Arc<dyn Store>) {
    assert!(store.pending_events(100).await.unwrap().is_empty());
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Pending).await;
    let mut recorded_ids = Vec::new();

    let e = ev(EventType::PartnerActivated, Owner::distributor(&d.id));
    store.activate_partner(&p.id, T0, &e).await.unwrap();
    recorded_ids.push(e.clone());
    let c = customer_of(&p.id, &tenant(1));
    let mut e = partner_event(EventType::CustomerCreated, &p);
    e.data = json!({ "id": c.id, "name": c.name });
    store.create_customer(&c, &e).await.unwrap();
    recorded_ids.push(e.clone());
    let owner = Owner::partner(&p.id);
    let e = ev(EventType::KeyCreated, owner.clone());
    store.issue_key(&owner, 1, "hash-1", T0, Some(&e)).await.unwrap();
    recorded_ids.push(e.clone());
    let e = ev(EventType::KeyCreated, owner.clone());
    store.issue_key(&owner, 2, "hash-2", T0, Some(&e)).await.unwrap();
    recorded_ids.push(e.clone());
    let e = partner_event(EventType::CustomerDeleted, &p);
    store.delete_customer(&p.id, &c.id, &e).await.unwrap();
    recorded_ids.push(e.clone());

    // Whole events, as recorded, oldest first.
    assert_eq!(store.pending_events(100).await.unwrap(), recorded_ids);
    assert_eq!(store.pending_events(2).await.unwrap(), recorded_ids[..2].to_vec());

    store.ack_events(&[recorded_ids[0].id.to_string(), recorded_ids[2].id.to_string()]).await.unwrap();
    assert_eq!(
        store.pending_events(100).await.unwrap(),
        vec![recorded_ids[1].clone(), recorded_ids[3].clone(), recorded_ids[4].clone()]
    );
    // Acking twice, or an unknown id, is harmless (delivery is at least once).
    store.ack_events(&[recorded_ids[0].id.to_string(), "evt_doesnotexist0000000".into()]).await.unwrap();
    store.ack_events(&[]).await.unwrap();
    let rest: Vec<String> = recorded_ids[1..].iter().map(|e| e.id.to_string()).collect();
    store.ack_events(&rest).await.unwrap();
    assert!(store.pending_events(100).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// Runs `n` copies of `task(i)` at once and returns their results.
pub(super) async fn together<T, F, Fut>(n: usize, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let mut set = JoinSet::new();
    for i in 0..n {
        set.spawn(task(i));
    }
    let mut out = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        out.push(r.expect("task panicked"));
    }
    out
}

async fn concurrent_queue_runs_never_pass_the_limit(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let results = together(50, |i| {
        let store = store.clone();
        let r = run_of(&c, "essential-eight", T0 + i as i64);
        async move { store.queue_run(&r, APRIL, Some(10)).await.map(|()| r.id) }
    })
    .await;
    let ok: BTreeSet<RunId> = results.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
    assert_eq!(ok.len(), 10);
    assert_eq!(results.iter().filter(|r| **r == Err(StoreError::RunLimitReached)).count(), 40);
    assert_eq!(store.runs_used(&p.id, APRIL).await.unwrap(), 10);
    let listed: BTreeSet<RunId> =
        store.list_runs(&p.id, &RunFilter::default(), &all()).await.unwrap().items.into_iter().map(|r| r.id).collect();
    assert_eq!(listed, ok);
}

async fn concurrent_customer_creates_make_one_per_tenant(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let results = together(20, |_| {
        let store = store.clone();
        let c = customer_of(&p.id, &tenant(7));
        let e = partner_event(EventType::CustomerCreated, &p);
        async move { store.create_customer(&c, &e).await.map(|()| (c.id, e.id)) }
    })
    .await;
    let ok: Vec<(CustomerId, EventId)> = results.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(results.iter().filter(|r| **r == Err(StoreError::CustomerExists)).count(), 19);
    let listed = store.list_customers(&p.id, &all()).await.unwrap().items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, ok[0].0);
    assert_eq!(partner_now(&store, &p.id).await.customers_count, 1);
    assert_eq!(outbox(&store).await, vec![ok[0].1.clone()]);
}

async fn concurrent_partner_creates_make_one_per_email(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let results = together(20, |_| {
        let store = store.clone();
        let p = partner_of(Some(&d.id), "race@msp.example", AccountStatus::Pending);
        async move { store.create_partner(&p).await }
    })
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(results.iter().filter(|r| **r == Err(StoreError::PartnerExists)).count(), 19);
    assert_eq!(store.all_partners(&d.id).await.unwrap().len(), 1);
}

async fn concurrent_key_issues_fill_a_slot_once(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let owner = Owner::partner(&p.id);
    let results = together(10, |i| {
        let store = store.clone();
        let owner = owner.clone();
        async move {
            let hash = format!("hash-{i}");
            store.issue_key(&owner, 2, &hash, T0, None).await.map(|()| hash)
        }
    })
    .await;
    let ok: Vec<String> = results.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(results.iter().filter(|r| **r == Err(StoreError::Conflict)).count(), 9);
    let keys = store.keys_of(&owner).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].hash, ok[0]);
    for i in 0..10 {
        let hash = format!("hash-{i}");
        assert_eq!(store.key_by_hash(&hash).await.unwrap().is_some(), hash == ok[0], "{hash}");
    }
}

async fn concurrent_customer_updates_apply_once_per_version(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let before = outbox(&store).await.len();
    let results = together(10, |i| {
        let store = store.clone();
        let mut next = c.clone();
        next.name = format!("Writer {i}");
        next.version = 2;
        let e = partner_event(EventType::CustomerUpdated, &p);
        async move { store.update_customer(&next, 1, &e).await.map(|()| next) }
    })
    .await;
    let ok: Vec<Customer> = results.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(results.iter().filter(|r| matches!(r, Err(StoreError::Conflict))).count(), 9);
    assert_eq!(store.customer(&p.id, &c.id).await.unwrap(), Some(ok[0].clone()));
    assert_eq!(outbox(&store).await.len(), before + 1);
}

/// A customer deleted while its `tenantId` changes: whichever wins, no tenant guard is left
/// behind, so both tenants can be added again (a lost guard would answer CUSTOMER_EXISTS for
/// that tenant for good).
async fn a_delete_racing_a_tenant_change_leaves_no_guard_behind(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    for round in 0..12u32 {
        let (old, new) = (tenant(1000 + 2 * round), tenant(1001 + 2 * round));
        let c = new_customer(&store, &p, &old).await;
        let results = together(2, |i| {
            let store = store.clone();
            let (c, p, new) = (c.clone(), p.clone(), new.clone());
            async move {
                if i == 0 {
                    let mut next = c.clone();
                    next.tenant_id = TenantId::parse(&new).unwrap();
                    next.version = 2;
                    (i, store.update_customer(&next, 1, &partner_event(EventType::CustomerUpdated, &p)).await)
                } else {
                    (i, store.delete_customer(&p.id, &c.id, &partner_event(EventType::CustomerDeleted, &p)).await)
                }
            }
        })
        .await;
        let deleted = results.iter().find(|(i, _)| *i == 1).map(|(_, r)| r).unwrap();
        assert_eq!(deleted, &Ok(()), "round {round}: the delete succeeds");
        assert_eq!(store.customer(&p.id, &c.id).await.unwrap(), None, "round {round}: the customer is gone");
        for t in [&old, &new] {
            let again = customer_of(&p.id, t);
            let made = store.create_customer(&again, &partner_event(EventType::CustomerCreated, &p)).await;
            assert_eq!(made, Ok(()), "round {round}: tenant {t} can be added again");
            store.delete_customer(&p.id, &again.id, &partner_event(EventType::CustomerDeleted, &p)).await.unwrap();
        }
    }
}

/// A partner busy adding and removing customers is still suspended at the first try: customer
/// writes do not contend with its status (only key issues do).
async fn suspension_is_not_starved_by_customer_writes(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "busy@msp.example", AccountStatus::Active).await;
    let results = together(60, |i| {
        let store = store.clone();
        let (p, by) = (p.clone(), Owner::distributor(&d.id));
        async move {
            if i == 12 {
                (i, store.suspend_partner(&p.id, T0, &ev(EventType::PartnerSuspended, by)).await.map(|c| c.changed))
            } else {
                let c = customer_of(&p.id, &tenant(5000 + i as u32));
                (i, store.create_customer(&c, &partner_event(EventType::CustomerCreated, &p)).await.map(|()| false))
            }
        }
    })
    .await;
    let suspended = results.iter().find(|(i, _)| *i == 12).map(|(_, r)| r).unwrap();
    assert_eq!(suspended, &Ok(true), "the suspension went through");
    assert!(results.iter().all(|(_, r)| r.is_ok()), "{results:?}");
    let after = store.partner(&p.id).await.unwrap().unwrap();
    assert_eq!(after.status, AccountStatus::Suspended);
    assert_eq!(after.customers_count, 59, "every customer counted");
}

async fn suspension_racing_key_issues_leaves_no_key(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    for round in 0..5 {
        let p = new_partner(&store, Some(&d.id), &format!("r{round}@msp.example"), AccountStatus::Active).await;
        let owner = Owner::partner(&p.id);
        let results = together(9, |i| {
            let store = store.clone();
            let owner = owner.clone();
            let pid = p.id.clone();
            let by = Owner::distributor(&d.id);
            async move {
                if i == 4 {
                    store.suspend_partner(&pid, T0, &ev(EventType::PartnerSuspended, by)).await.map(|_| ())
                } else {
                    let slot = (i % 2 + 1) as u8;
                    store.issue_key(&owner, slot, &format!("hash-{round}-{i}"), T0, None).await
                }
            }
        })
        .await;
        for r in &results {
            assert!(matches!(r, Ok(()) | Err(StoreError::Conflict) | Err(StoreError::OwnerSuspended)), "{r:?}");
        }
        assert!(store.keys_of(&owner).await.unwrap().is_empty(), "a key outlived the suspension");
        for i in 0..9 {
            assert_eq!(store.key_by_hash(&format!("hash-{round}-{i}")).await.unwrap(), None);
        }
    }
}

async fn concurrent_hits_are_all_counted(store: Arc<dyn Store>) {
    let counts = together(50, |_| {
        let store = store.clone();
        async move { store.count_hit("RL#hot#1", T0 + 120).await.unwrap() }
    })
    .await;
    let seen: BTreeSet<u64> = counts.into_iter().collect();
    assert_eq!(seen, (1..=50).collect::<BTreeSet<u64>>());
    assert_eq!(store.count_hit("RL#hot#1", T0 + 120).await.unwrap(), 51);
}

async fn concurrent_idempotency_claims_admit_one(store: Arc<dyn Store>) {
    let results = together(10, |_| {
        let store = store.clone();
        async move { store.claim_idempotency("pk_live_#prt_1", "same", "fp", T0, T0 + 60).await.unwrap() }
    })
    .await;
    assert_eq!(results.iter().filter(|c| matches!(c, IdempotencyClaim::Claimed { .. })).count(), 1);
    assert_eq!(results.iter().filter(|c| **c == IdempotencyClaim::InProgress).count(), 9);
}

// ---------------------------------------------------------------------------------------------
// Run processing: claims, leases, finishing
// ---------------------------------------------------------------------------------------------

async fn queued_run(store: &Arc<dyn Store>) -> (Partner, Run) {
    let d = new_distributor(store).await;
    let p = new_partner(store, Some(&d.id), "runs@msp.example", AccountStatus::Active).await;
    let c = new_customer(store, &p, &tenant(7)).await;
    let r = new_run(store, &c, "essential-eight", T0).await;
    (p, r)
}

pub(super) fn started(p: &Partner) -> Event {
    partner_event(EventType::AssessmentStarted, p)
}

pub(super) fn report() -> RunReport {
    RunReport {
        findings: vec![Finding {
            check_id: "E8-MFA-01".into(),
            title: "MFA for all users".into(),
            severity: Severity::Critical,
            outcome: CheckStatus::Fail,
            evidence: "3 of 10 users without MFA".into(),
            details: Some(json!({ "users": 3 })),
            rationale: "r".into(),
            remediation: "m".into(),
            references: vec![FrameworkRef { framework: "essential-eight".into(), id: "mfa".into(), level: Some(1) }],
            requirement_ids: vec!["MF-ML1-01".into()],
            evidence_quality: Some(EvidenceQuality::Good),
            change: None,
            collected: vec![],
        }],
        maturity: Some(0),
        maturity_by_strategy: vec![StrategyLevel {
            strategy: "mfa".into(),
            level: 0,
            blockers: vec!["MF-ML1-01".into()],
        }],
        requirements: vec![RequirementRecord {
            id: "MF-ML1-01".into(),
            strategy: "mfa".into(),
            level: 1,
            outcome: RequirementOutcome::Ineffective,
            source: EvidenceSource::Graph,
            evidence_quality: Some(EvidenceQuality::Good),
            check_ids: vec!["E8-MFA-01".into()],
            question_id: None,
            answer: None,
            answered_by: None,
            answered_at: None,
            note: None,
            summary: "Staff sign-ins require MFA.".into(),
            reason: "Failed on Microsoft Graph evidence: E8-MFA-01".into(),
            exception: None,
        }],
        coverage: Some(Coverage::of([RequirementOutcome::Ineffective])),
        context: None,
    }
}

pub(super) fn completed(r: &Run, at: Timestamp) -> Run {
    let mut done = r.clone();
    done.status = RunStatus::Completed;
    done.completed_at = Some(at);
    done.results = Some(RunResults {
        score: 72,
        findings: 1,
        critical: 1,
        high: 0,
        medium: 0,
        low: 0,
        report_url: "https://example.test/r".into(),
        previous_run_id: None,
        changes: None,
    });
    done
}

async fn claim_run_moves_queued_to_running_once(store: Arc<dyn Store>) {
    let (p, r) = queued_run(&store).await;
    let e = started(&p);
    match store.claim_run(&p.id, &r.id, 1, T0 + 5, T0 + 125, &e).await.unwrap() {
        RunClaim::Claimed(run) => {
            assert_eq!(run.status, RunStatus::Running);
            assert_eq!(run.started_at, Some(T0 + 5));
        }
        other => panic!("expected a claim, got {other:?}"),
    }
    assert!(recorded(&store, &e).await, "assessment.started is recorded with the move");
    let stored = store.run(&p.id, &r.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Running);
    // A duplicate delivery while the lease lives is told to wait, and records nothing.
    let again = started(&p);
    assert_eq!(store.claim_run(&p.id, &r.id, 2, T0 + 6, T0 + 126, &again).await.unwrap(), RunClaim::Busy);
    assert!(!recorded(&store, &again).await);
    assert_eq!(store.runs_used(&p.id, APRIL).await.unwrap(), 1, "processing never counts a run again");
}

async fn claim_run_takes_over_an_expired_lease_only(store: Arc<dyn Store>) {
    let (p, r) = queued_run(&store).await;
    store.claim_run(&p.id, &r.id, 1, T0, T0 + 100, &started(&p)).await.unwrap();
    assert_eq!(store.claim_run(&p.id, &r.id, 2, T0 + 99, T0 + 199, &started(&p)).await.unwrap(), RunClaim::Busy);
    let takeover = started(&p);
    let claim = store.claim_run(&p.id, &r.id, 2, T0 + 100, T0 + 200, &takeover).await.unwrap();
    assert!(matches!(claim, RunClaim::Claimed(ref run) if run.started_at == Some(T0)), "{claim:?}");
    assert!(!recorded(&store, &takeover).await, "a takeover is not a second start");
    // The crashed attempt can no longer finish it; the new one can.
    let done = completed(&r, T0 + 150);
    let e1 = partner_event(EventType::AssessmentCompleted, &p);
    assert_eq!(store.finish_run(&done, 1, Some(&report()), &e1).await, Err(StoreError::Conflict));
    assert!(!recorded(&store, &e1).await);
    let e2 = partner_event(EventType::AssessmentCompleted, &p);
    store.finish_run(&done, 2, Some(&report()), &e2).await.unwrap();
    assert!(recorded(&store, &e2).await);
}

async fn finish_run_needs_the_holding_attempt_and_keeps_the_report(store: Arc<dyn Store>) {
    let (p, r) = queued_run(&store).await;
    // Not running yet: nothing to finish.
    let e0 = partner_event(EventType::AssessmentCompleted, &p);
    assert_eq!(store.finish_run(&completed(&r, T0), 1, None, &e0).await, Err(StoreError::Conflict));
    store.claim_run(&p.id, &r.id, 1, T0, T0 + 100, &started(&p)).await.unwrap();
    let done = completed(&r, T0 + 30);
    let e = partner_event(EventType::AssessmentCompleted, &p);
    store.finish_run(&done, 1, Some(&report()), &e).await.unwrap();
    let stored = store.run(&p.id, &r.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Completed);
    assert_eq!(stored.results.as_ref().unwrap().score, 72);
    assert_eq!(stored.completed_at, Some(T0 + 30));
    assert_eq!(store.run_report(&p.id, &r.id).await.unwrap(), Some(report()));
    // Finished is final: neither finished again nor claimed.
    let mut failed = done.clone();
    failed.status = RunStatus::Failed;
    failed.error = Some(RunError { code: "X".into(), message: "y".into() });
    let e2 = partner_event(EventType::AssessmentFailed, &p);
    assert_eq!(store.finish_run(&failed, 1, None, &e2).await, Err(StoreError::Conflict));
    assert!(!recorded(&store, &e2).await);
    assert!(matches!(
        store.claim_run(&p.id, &r.id, 2, T0 + 500, T0 + 600, &started(&p)).await.unwrap(),
        RunClaim::Finished(ref run) if run.status == RunStatus::Completed
    ));
}

/// A report with `bytes` of evidence deflate cannot shrink much.
fn big_report(bytes: usize) -> RunReport {
    let mut r = report();
    r.findings[0].evidence = tests::big_tenant::incompressible(bytes, 7);
    r
}

/// A report whose JSON is several times DynamoDB's 400 KB item limit (and over it compressed)
/// is stored (DynamoDB, like moto, refuses any one item past the limit) and reads back whole;
/// deleting the customer removes it.
async fn a_report_past_the_item_limit_is_stored_and_read_back_whole(store: Arc<dyn Store>) {
    let (p, r) = queued_run(&store).await;
    store.claim_run(&p.id, &r.id, 1, T0, T0 + 100, &started(&p)).await.unwrap();
    let big = big_report(1_600_000);
    let e = partner_event(EventType::AssessmentCompleted, &p);
    store.finish_run(&completed(&r, T0 + 30), 1, Some(&big), &e).await.unwrap();
    assert_eq!(store.run(&p.id, &r.id).await.unwrap().unwrap().status, RunStatus::Completed);
    assert!(store.run_report(&p.id, &r.id).await.unwrap() == Some(big), "the report reads back whole");
    store.delete_customer(&p.id, &r.customer_id, &partner_event(EventType::CustomerDeleted, &p)).await.unwrap();
    assert_eq!(store.run_report(&p.id, &r.id).await.unwrap(), None);
}

/// A report past what one run may store (`report_codec::MAX_CHUNKS` chunks) is refused as
/// `TooLarge`, and nothing is written: the run is still held by the attempt, which can fail it.
async fn a_report_too_large_to_store_is_refused_and_the_run_stays_held(store: Arc<dyn Store>) {
    let (p, r) = queued_run(&store).await;
    store.claim_run(&p.id, &r.id, 1, T0, T0 + 100, &started(&p)).await.unwrap();
    let e = partner_event(EventType::AssessmentCompleted, &p);
    let refused = store.finish_run(&completed(&r, T0 + 30), 1, Some(&big_report(5_000_000)), &e).await;
    assert!(matches!(refused, Err(StoreError::TooLarge(_))), "{refused:?}");
    assert!(!recorded(&store, &e).await);
    assert_eq!(store.run(&p.id, &r.id).await.unwrap().unwrap().status, RunStatus::Running);
    assert_eq!(store.run_report(&p.id, &r.id).await.unwrap(), None);
    let mut failed = r.clone();
    failed.status = RunStatus::Failed;
    failed.completed_at = Some(T0 + 31);
    failed.error = Some(RunError { code: "REPORT_TOO_LARGE".into(), message: "too large".into() });
    store.finish_run(&failed, 1, None, &partner_event(EventType::AssessmentFailed, &p)).await.unwrap();
    assert_eq!(store.run(&p.id, &r.id).await.unwrap().unwrap().status, RunStatus::Failed);
}

/// `run` completed at `at`, compared with `previous`.
fn completed_after(r: &Run, at: Timestamp, previous: Option<&Run>) -> Run {
    let mut done = completed(r, at);
    done.results.as_mut().unwrap().previous_run_id = previous.map(|p| p.id.clone());
    done
}

/// Finishing a completed run with its report makes it its customer's latest of the product,
/// with each check's outcome, only if the latest is still the run it was compared with
/// (`LatestMoved` otherwise, nothing written). Failed runs and other products leave it;
/// deleting the customer removes it.
async fn a_completed_run_becomes_the_latest_it_was_compared_with(store: Arc<dyn Store>) {
    let (p, first) = queued_run(&store).await;
    let c = store.customer(&p.id, &first.customer_id).await.unwrap().unwrap();
    assert_eq!(store.latest_run(&p.id, &c.id, "essential-eight").await.unwrap(), None);
    store.claim_run(&p.id, &first.id, 1, T0, T0 + 100, &started(&p)).await.unwrap();
    let e = partner_event(EventType::AssessmentCompleted, &p);
    store.finish_run(&completed_after(&first, T0 + 10, None), 1, Some(&report()), &e).await.unwrap();
    let latest = store.latest_run(&p.id, &c.id, "essential-eight").await.unwrap().expect("a latest run");
    assert_eq!((latest.run_id.as_str(), latest.completed_at), (first.id.as_str(), T0 + 10));
    assert_eq!(latest.outcomes.get("E8-MFA-01"), Some(&CheckStatus::Fail));

    let second = new_run(&store, &c, "essential-eight", T0 + 20).await;
    store.claim_run(&p.id, &second.id, 1, T0 + 20, T0 + 120, &started(&p)).await.unwrap();
    // Compared with nothing, but the first completed meanwhile: refused, nothing written.
    let e2 = partner_event(EventType::AssessmentCompleted, &p);
    let stale = store.finish_run(&completed_after(&second, T0 + 30, None), 1, Some(&report()), &e2).await;
    assert_eq!(stale, Err(StoreError::LatestMoved));
    assert!(!recorded(&store, &e2).await);
    assert_eq!(store.run(&p.id, &second.id).await.unwrap().unwrap().status, RunStatus::Running);
    store.finish_run(&completed_after(&second, T0 + 30, Some(&first)), 1, Some(&report()), &e2).await.unwrap();
    let latest = store.latest_run(&p.id, &c.id, "essential-eight").await.unwrap().unwrap();
    assert_eq!(latest.run_id, second.id);

    // A failed run and another product's run leave it.
    let third = new_run(&store, &c, "essential-eight", T0 + 40).await;
    store.claim_run(&p.id, &third.id, 1, T0 + 40, T0 + 140, &started(&p)).await.unwrap();
    let mut failed = third.clone();
    failed.status = RunStatus::Failed;
    failed.completed_at = Some(T0 + 41);
    failed.error = Some(RunError { code: "X".into(), message: "y".into() });
    store.finish_run(&failed, 1, None, &partner_event(EventType::AssessmentFailed, &p)).await.unwrap();
    let nist = new_run(&store, &c, "nist-csf", T0 + 50).await;
    store.claim_run(&p.id, &nist.id, 1, T0 + 50, T0 + 150, &started(&p)).await.unwrap();
    let e4 = partner_event(EventType::AssessmentCompleted, &p);
    store.finish_run(&completed_after(&nist, T0 + 51, None), 1, Some(&report()), &e4).await.unwrap();
    assert_eq!(store.latest_run(&p.id, &c.id, "essential-eight").await.unwrap().unwrap().run_id, second.id);
    assert_eq!(store.latest_run(&p.id, &c.id, "nist-csf").await.unwrap().unwrap().run_id, nist.id);

    store.delete_customer(&p.id, &c.id, &partner_event(EventType::CustomerDeleted, &p)).await.unwrap();
    assert_eq!(store.latest_run(&p.id, &c.id, "essential-eight").await.unwrap(), None);
    assert_eq!(store.latest_run(&p.id, &c.id, "nist-csf").await.unwrap(), None);
}

/// Runs of one customer and product completing at once, each reading the latest, comparing
/// and finishing (again after `LatestMoved`, as the runner does), chain: each is compared with
/// a different run (the first with none), never two with the same one.
async fn concurrent_completions_chain_their_comparisons(store: Arc<dyn Store>) {
    let (p, first) = queued_run(&store).await;
    let c = store.customer(&p.id, &first.customer_id).await.unwrap().unwrap();
    let mut runs = vec![first];
    for i in 1..6 {
        runs.push(new_run(&store, &c, "essential-eight", T0 + i).await);
    }
    for r in &runs {
        store.claim_run(&p.id, &r.id, 1, T0, T0 + 100, &started(&p)).await.unwrap();
    }
    // Every task reads the latest before any finishes (the race made certain), then finishes.
    let all_read = Arc::new(tokio::sync::Barrier::new(runs.len()));
    let previous = together(runs.len(), |i| {
        let (store, p, r, all_read) = (store.clone(), p.clone(), runs[i].clone(), all_read.clone());
        async move {
            let mut first_try = true;
            loop {
                let latest = store.latest_run(&p.id, &r.customer_id, &r.product).await.unwrap();
                if std::mem::take(&mut first_try) {
                    all_read.wait().await;
                }
                let mut done = completed(&r, T0 + 10);
                done.results.as_mut().unwrap().previous_run_id = latest.map(|l| l.run_id);
                let e = partner_event(EventType::AssessmentCompleted, &p);
                match store.finish_run(&done, 1, Some(&report()), &e).await {
                    Ok(()) => {
                        return (r.id.to_string(), done.results.unwrap().previous_run_id.map(|id| id.to_string()))
                    }
                    Err(StoreError::LatestMoved) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    })
    .await;
    let compared: BTreeSet<Option<String>> = previous.iter().map(|(_, prev)| prev.clone()).collect();
    assert_eq!(compared.len(), runs.len(), "each compared with a different run: {previous:?}");
    assert!(compared.contains(&None), "one was first");
    // Following the chain from the latest back visits every run once.
    let by_run: std::collections::HashMap<String, Option<String>> = previous.into_iter().collect();
    let mut at = store.latest_run(&p.id, &c.id, "essential-eight").await.unwrap().map(|l| l.run_id.to_string());
    let mut seen = 0;
    while let Some(id) = at {
        seen += 1;
        at = by_run[&id].clone();
    }
    assert_eq!(seen, runs.len());
}

async fn release_run_lets_a_redelivery_take_over(store: Arc<dyn Store>) {
    let (p, r) = queued_run(&store).await;
    store.claim_run(&p.id, &r.id, 1, T0, T0 + 100, &started(&p)).await.unwrap();
    // Releasing someone else's lease does nothing.
    store.release_run(&p.id, &r.id, 7).await.unwrap();
    assert_eq!(store.claim_run(&p.id, &r.id, 2, T0 + 1, T0 + 101, &started(&p)).await.unwrap(), RunClaim::Busy);
    store.release_run(&p.id, &r.id, 1).await.unwrap();
    assert!(matches!(
        store.claim_run(&p.id, &r.id, 2, T0 + 1, T0 + 101, &started(&p)).await.unwrap(),
        RunClaim::Claimed(_)
    ));
}

async fn claim_run_of_a_deleted_run_is_gone(store: Arc<dyn Store>) {
    let (p, r) = queued_run(&store).await;
    store.delete_customer(&p.id, &r.customer_id, &partner_event(EventType::CustomerDeleted, &p)).await.unwrap();
    assert_eq!(store.claim_run(&p.id, &r.id, 1, T0, T0 + 100, &started(&p)).await.unwrap(), RunClaim::Gone);
    assert_eq!(store.run_report(&p.id, &r.id).await.unwrap(), None);
}

async fn concurrent_claims_admit_one_attempt(store: Arc<dyn Store>) {
    let (p, r) = queued_run(&store).await;
    let results = together(20, |i| {
        let (store, p, r) = (store.clone(), p.clone(), r.clone());
        async move { store.claim_run(&p.id, &r.id, i as u32 + 1, T0, T0 + 100, &started(&p)).await.unwrap() }
    })
    .await;
    let claimed = results.iter().filter(|c| matches!(c, RunClaim::Claimed(_))).count();
    assert_eq!(claimed, 1, "{results:?}");
    let starts = store
        .pending_events(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventType::AssessmentStarted)
        .count();
    assert_eq!(starts, 1);
}

// ---------------------------------------------------------------------------------------------
// Webhook endpoints and deliveries
// ---------------------------------------------------------------------------------------------

use shared::domain::webhook::{Attempt, Delivery, DeliveryStatus, Endpoint};

fn endpoint_of(owner: &Owner, url: &str) -> Endpoint {
    Endpoint { url: url.to_string(), ..tests::stored::endpoint(&id::<String>("whk_"), owner) }
}

fn delivery_of(e: &Endpoint, event_id: &str, due: Timestamp) -> Delivery {
    Delivery {
        id: id_at("dlv_", due),
        endpoint_id: e.id.clone(),
        owner: e.owner.clone(),
        event_id: event_id.into(),
        event_type: "customer.created".into(),
        payload: r#"{"id":"evt_1"}"#.into(),
        status: DeliveryStatus::Pending,
        attempts: vec![],
        created_at: due,
        next_attempt_at: Some(due),
        manual_attempts: 0,
    }
}

fn attempt_no(number: u32, status_code: u16) -> Attempt {
    Attempt {
        number,
        at: T0 + number as i64,
        status_code: Some(status_code),
        duration_ms: 12,
        error: (status_code >= 300).then(|| format!("the endpoint answered {status_code}")),
        response_body: Some("ok".into()),
        manual: false,
    }
}

async fn webhook_endpoints_are_kept_per_owner_up_to_a_limit(store: Arc<dyn Store>) {
    let (a, b) = (Owner::partner(&id::<String>("prt_")), Owner::distributor(&id::<String>("dist_")));
    let e1 = endpoint_of(&a, "https://one.example");
    let e2 = endpoint_of(&a, "https://two.example");
    store.create_endpoint(&e1, 2).await.unwrap();
    store.create_endpoint(&e2, 2).await.unwrap();
    assert_eq!(
        store.create_endpoint(&endpoint_of(&a, "https://three.example"), 2).await,
        Err(StoreError::LimitReached)
    );
    store.create_endpoint(&endpoint_of(&b, "https://b.example"), 2).await.unwrap();
    assert_eq!(store.endpoint(&a, &e1.id).await.unwrap(), Some(e1.clone()));
    assert_eq!(store.endpoint(&b, &e1.id).await.unwrap(), None, "another owner does not see it");
    let listed = store.list_endpoints(&a, &PageRequest { limit: 1, after: None }).await.unwrap();
    assert_eq!(listed.items, vec![e1.clone()]);
    let rest = store.list_endpoints(&a, &PageRequest { limit: 1, after: listed.next }).await.unwrap();
    assert_eq!((rest.items, rest.next), (vec![e2.clone()], None));
    assert_eq!(store.endpoints_of(&a).await.unwrap().len(), 2);
    // Deleting frees a place.
    store.delete_endpoint(&a, &e1.id, T0).await.unwrap();
    assert_eq!(store.delete_endpoint(&a, &e1.id, T0).await, Err(StoreError::NotFound));
    store.create_endpoint(&endpoint_of(&a, "https://three.example"), 2).await.unwrap();
}

async fn webhook_endpoint_updates_are_conditional_on_the_version(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let e = endpoint_of(&owner, "https://one.example");
    store.create_endpoint(&e, 20).await.unwrap();
    let mut next = e.clone();
    next.url = "https://moved.example".into();
    next.version = 2;
    store.update_endpoint(&next, 1).await.unwrap();
    assert_eq!(store.update_endpoint(&next, 1).await, Err(StoreError::Conflict));
    assert_eq!(store.endpoint(&owner, &e.id).await.unwrap().unwrap().url, "https://moved.example");
    let mut ghost = e.clone();
    ghost.id = id("whk_");
    assert_eq!(store.update_endpoint(&ghost, 1).await, Err(StoreError::NotFound));
}

async fn deliveries_are_unique_per_endpoint_and_event(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let e = endpoint_of(&owner, "https://one.example");
    let other = endpoint_of(&owner, "https://two.example");
    store.create_endpoint(&e, 20).await.unwrap();
    store.create_endpoint(&other, 20).await.unwrap();
    let d = delivery_of(&e, "evt_a", T0);
    store.create_delivery(&d).await.unwrap();
    assert_eq!(store.create_delivery(&delivery_of(&e, "evt_a", T0)).await, Err(StoreError::Conflict));
    store.create_delivery(&delivery_of(&other, "evt_a", T0)).await.unwrap();
    assert_eq!(store.delivery(&e.id, &d.id).await.unwrap(), Some(d.clone()));
    assert_eq!(store.delivery_for_event(&e.id, "evt_a").await.unwrap(), Some(d.clone()));
    assert_eq!(store.delivery_for_event(&e.id, "evt_b").await.unwrap(), None);
}

async fn attempts_are_recorded_in_order_once(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let e = endpoint_of(&owner, "https://one.example");
    store.create_endpoint(&e, 20).await.unwrap();
    let d = delivery_of(&e, "evt_a", T0);
    store.create_delivery(&d).await.unwrap();
    // Attempt 2 before attempt 1 is refused.
    assert_eq!(
        store.record_attempt(&e.id, &d.id, &attempt_no(2, 500), DeliveryStatus::Pending, Some(T0 + 60)).await,
        Err(StoreError::Conflict)
    );
    let after1 =
        store.record_attempt(&e.id, &d.id, &attempt_no(1, 500), DeliveryStatus::Pending, Some(T0 + 60)).await.unwrap();
    assert_eq!(after1.attempts, vec![attempt_no(1, 500)]);
    assert_eq!(after1.next_attempt_at, Some(T0 + 60));
    // The same attempt again (a duplicate message) is refused.
    assert_eq!(
        store.record_attempt(&e.id, &d.id, &attempt_no(1, 500), DeliveryStatus::Pending, Some(T0 + 60)).await,
        Err(StoreError::Conflict)
    );
    let done = store.record_attempt(&e.id, &d.id, &attempt_no(2, 200), DeliveryStatus::Delivered, None).await.unwrap();
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!(done.attempts.len(), 2);
    assert_eq!(store.delivery(&e.id, &d.id).await.unwrap(), Some(done.clone()));
    // Finished: no more automatic attempts; a manual one (a redelivery) is still taken, once,
    // and counted apart.
    assert_eq!(
        store.record_attempt(&e.id, &d.id, &attempt_no(3, 200), DeliveryStatus::Delivered, None).await,
        Err(StoreError::Conflict)
    );
    let manual = Attempt { manual: true, ..attempt_no(3, 500) };
    let after = store.record_attempt(&e.id, &d.id, &manual, DeliveryStatus::Delivered, None).await.unwrap();
    assert_eq!((after.status, after.attempts.len(), after.manual_attempts), (DeliveryStatus::Delivered, 3, 1));
    assert_eq!(after.attempts[2], manual);
    assert_eq!(store.delivery(&e.id, &d.id).await.unwrap(), Some(after));
    assert_eq!(
        store.record_attempt(&e.id, &d.id, &manual, DeliveryStatus::Delivered, None).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        store.record_attempt(&e.id, "dlv_missing", &attempt_no(1, 200), DeliveryStatus::Delivered, None).await,
        Err(StoreError::NotFound)
    );
}

async fn due_deliveries_are_the_overdue_pending_ones(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let e = endpoint_of(&owner, "https://one.example");
    store.create_endpoint(&e, 20).await.unwrap();
    let early = delivery_of(&e, "evt_1", T0 + 10);
    let late = delivery_of(&e, "evt_2", T0 + 1000);
    let done = delivery_of(&e, "evt_3", T0 + 5);
    for d in [&early, &late, &done] {
        store.create_delivery(d).await.unwrap();
    }
    store.record_attempt(&e.id, &done.id, &attempt_no(1, 200), DeliveryStatus::Delivered, None).await.unwrap();
    let due: Vec<String> =
        store.due_deliveries(T0 + 500, 100).await.unwrap().into_iter().map(|d| d.id.into_string()).collect();
    assert_eq!(due, vec![early.id.clone()]);
    // A recorded failure moves its due time forward.
    store
        .record_attempt(&e.id, &early.id, &attempt_no(1, 500), DeliveryStatus::Pending, Some(T0 + 2000))
        .await
        .unwrap();
    assert!(store.due_deliveries(T0 + 500, 100).await.unwrap().is_empty());
    let all: Vec<String> =
        store.due_deliveries(T0 + 5000, 100).await.unwrap().into_iter().map(|d| d.id.into_string()).collect();
    assert_eq!(all, vec![late.id.clone(), early.id.clone()], "oldest due first");
}

async fn deliveries_list_newest_first(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let e = endpoint_of(&owner, "https://one.example");
    store.create_endpoint(&e, 20).await.unwrap();
    let ds: Vec<Delivery> = (0..5).map(|i| delivery_of(&e, &format!("evt_{i}"), T0 + i)).collect();
    for d in &ds {
        store.create_delivery(d).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_deliveries(&e.id, &PageRequest { limit: 2, after }).await.unwrap();
        seen.extend(page.items.into_iter().map(|d| d.id));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let newest_first: Vec<String> = ds.iter().rev().map(|d| d.id.to_string()).collect();
    assert_eq!(seen, newest_first);
}

async fn concurrent_endpoint_creates_respect_the_limit(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let results = together(10, |i| {
        let (store, owner) = (store.clone(), owner.clone());
        async move { store.create_endpoint(&endpoint_of(&owner, &format!("https://h{i}.example")), 3).await }
    })
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3, "{results:?}");
    assert!(results.iter().all(|r| r.is_ok() || *r == Err(StoreError::LimitReached)));
    assert_eq!(store.endpoints_of(&owner).await.unwrap().len(), 3);
}

async fn concurrent_attempt_records_admit_one(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let e = endpoint_of(&owner, "https://one.example");
    store.create_endpoint(&e, 20).await.unwrap();
    let d = delivery_of(&e, "evt_a", T0);
    store.create_delivery(&d).await.unwrap();
    let results =
        together(10, |_| {
            let (store, e, d) = (store.clone(), e.clone(), d.clone());
            async move {
                store.record_attempt(&e.id, &d.id, &attempt_no(1, 500), DeliveryStatus::Pending, Some(T0 + 60)).await
            }
        })
        .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(store.delivery(&e.id, &d.id).await.unwrap().unwrap().attempts.len(), 1);
}

async fn stale_queued_runs_are_the_old_still_queued_ones(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "stale@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(11)).await;
    let old = new_run(&store, &c, "essential-eight", T0).await;
    let older_but_claimed = new_run(&store, &c, "essential-eight", T0 - 10).await;
    let recent = new_run(&store, &c, "essential-eight", T0 + 1000).await;
    store.claim_run(&p.id, &older_but_claimed.id, 1, T0 + 5, T0 + 100, &started(&p)).await.unwrap();
    let ids = |runs: Vec<Run>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(store.stale_queued_runs(T0 + 500, 100).await.unwrap()), vec![old.id.clone()]);
    assert_eq!(ids(store.stale_queued_runs(T0 + 2000, 100).await.unwrap()), vec![old.id.clone(), recent.id.clone()]);
    assert_eq!(ids(store.stale_queued_runs(T0 + 2000, 1).await.unwrap()), vec![old.id.clone()], "oldest first");
    // Once claimed, a run is no longer stale.
    store.claim_run(&p.id, &old.id, 2, T0 + 600, T0 + 700, &started(&p)).await.unwrap();
    assert_eq!(ids(store.stale_queued_runs(T0 + 2000, 100).await.unwrap()), vec![recent.id.clone()]);
}

/// The stale-run resend takes the oldest stale runs first; a run sent again counts as queued
/// from then, so runs that stay queued (a message lost again and again) do not fill every
/// resend ahead of newer lost ones, and a claimed run is not moved.
async fn a_resent_run_waits_its_turn_behind_newer_lost_ones(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "turns@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(12)).await;
    let stuck: Vec<Run> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(new_run(&store, &c, "essential-eight", T0 + i).await);
        }
        v
    };
    let newer = new_run(&store, &c, "essential-eight", T0 + 100).await;
    let ids = |runs: Vec<Run>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    // A resend at T0 + 1400 of what was queued before T0 + 500 (stale after 900 s).
    let first = store.stale_queued_runs(T0 + 500, 3).await.unwrap();
    assert_eq!(ids(first.clone()), stuck.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
    for r in &first {
        store.resent_run(&p.id, &r.id, T0 + 1400).await.unwrap();
    }
    // The next resend, a minute later, with the same budget of 3, reaches the newer lost run.
    let next = ids(store.stale_queued_runs(T0 + 560, 3).await.unwrap());
    assert_eq!(next, vec![newer.id.clone()], "the resent ones wait until they are stale again");
    let later = ids(store.stale_queued_runs(T0 + 2400, 10).await.unwrap());
    assert_eq!(later.len(), 4, "stale again later: {later:?}");
    assert_eq!(later[0], newer.id, "oldest first, by when they were last sent");
    // A claimed run is left as it is by a late resend mark.
    store.claim_run(&p.id, &newer.id, 1, T0 + 2000, T0 + 2100, &started(&p)).await.unwrap();
    store.resent_run(&p.id, &newer.id, T0 + 2000).await.unwrap();
    assert!(!ids(store.stale_queued_runs(T0 + 5000, 10).await.unwrap()).contains(&newer.id));
}

async fn attempt_claims_hold_until_recorded_or_the_lease_runs_out(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let e = endpoint_of(&owner, "https://one.example");
    store.create_endpoint(&e, 20).await.unwrap();
    let d = delivery_of(&e, "evt_a", T0);
    store.create_delivery(&d).await.unwrap();
    let claimed = |c: AttemptClaim| match c {
        AttemptClaim::Claimed(d) => d,
        other => panic!("not claimed: {other:?}"),
    };
    assert_eq!(store.claim_attempt(&e.id, &d.id, 2, false, T0, T0 + 40).await, Ok(AttemptClaim::Stale), "not the next");
    assert_eq!(claimed(store.claim_attempt(&e.id, &d.id, 1, false, T0, T0 + 40).await.unwrap()), d);
    // Held while the lease runs, by anyone; claimable again once it ran out (its sender died).
    assert_eq!(store.claim_attempt(&e.id, &d.id, 1, false, T0 + 39, T0 + 79).await, Ok(AttemptClaim::Held(T0 + 40)));
    claimed(store.claim_attempt(&e.id, &d.id, 1, false, T0 + 40, T0 + 80).await.unwrap());
    // Recording the attempt ends the claim: the attempt is made, the next one is free.
    store.record_attempt(&e.id, &d.id, &attempt_no(1, 500), DeliveryStatus::Pending, Some(T0 + 60)).await.unwrap();
    assert_eq!(store.claim_attempt(&e.id, &d.id, 1, false, T0 + 41, T0 + 81).await, Ok(AttemptClaim::Stale));
    let second = claimed(store.claim_attempt(&e.id, &d.id, 2, false, T0 + 41, T0 + 81).await.unwrap());
    assert_eq!(second.attempts, vec![attempt_no(1, 500)]);
    store.record_attempt(&e.id, &d.id, &attempt_no(2, 200), DeliveryStatus::Delivered, None).await.unwrap();
    assert_eq!(
        store.claim_attempt(&e.id, &d.id, 3, false, T0 + 200, T0 + 240).await,
        Ok(AttemptClaim::Stale),
        "finished"
    );
    // A redelivery may follow a finished delivery.
    claimed(store.claim_attempt(&e.id, &d.id, 3, true, T0 + 200, T0 + 240).await.unwrap());
    assert_eq!(store.claim_attempt(&e.id, "dlv_missing", 1, false, T0, T0 + 40).await, Ok(AttemptClaim::Stale), "gone");
}

async fn concurrent_attempt_claims_admit_one(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let e = endpoint_of(&owner, "https://one.example");
    store.create_endpoint(&e, 20).await.unwrap();
    let d = delivery_of(&e, "evt_a", T0);
    store.create_delivery(&d).await.unwrap();
    let results = together(10, |_| {
        let (store, e, d) = (store.clone(), e.clone(), d.clone());
        async move { store.claim_attempt(&e.id, &d.id, 1, false, T0, T0 + 40).await.unwrap() }
    })
    .await;
    let won = results.iter().filter(|r| matches!(r, AttemptClaim::Claimed(_))).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, AttemptClaim::Claimed(_) | AttemptClaim::Held(_))), "{results:?}");
}

/// A delivery keeps its last 20 attempts (each up to 1 KiB of response body): redeliveries
/// could otherwise grow it without end, past DynamoDB's 400 KB item limit. Numbering goes on.
async fn the_attempts_kept_are_the_last_twenty(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let e = endpoint_of(&owner, "https://one.example");
    store.create_endpoint(&e, 20).await.unwrap();
    let d = delivery_of(&e, "evt_a", T0);
    store.create_delivery(&d).await.unwrap();
    store.record_attempt(&e.id, &d.id, &attempt_no(1, 200), DeliveryStatus::Delivered, None).await.unwrap();
    for n in 2..=25 {
        let manual = Attempt { manual: true, ..attempt_no(n, 500) };
        let claim = store.claim_attempt(&e.id, &d.id, n, true, T0 + n as i64, T0 + 100).await.unwrap();
        assert!(matches!(claim, AttemptClaim::Claimed(_)), "attempt {n}: {claim:?}");
        store.record_attempt(&e.id, &d.id, &manual, DeliveryStatus::Delivered, None).await.unwrap();
    }
    let kept = store.delivery(&e.id, &d.id).await.unwrap().unwrap();
    let numbers: Vec<u32> = kept.attempts.iter().map(|a| a.number).collect();
    assert_eq!(numbers, (6..=25).collect::<Vec<u32>>(), "the last 20, oldest first");
    assert_eq!((kept.next_attempt_number(), kept.manual_attempts), (26, 24));
    // Attempts stay in order and once past the bound.
    let again = Attempt { manual: true, ..attempt_no(25, 500) };
    assert_eq!(
        store.record_attempt(&e.id, &d.id, &again, DeliveryStatus::Delivered, None).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(store.claim_attempt(&e.id, &d.id, 25, true, T0 + 500, T0 + 540).await, Ok(AttemptClaim::Stale));
}

/// Deleting an endpoint does not wait for its deliveries (they expire with the table's TTL,
/// and the dispatcher ends the pending ones): it is gone at once for every reader, its place
/// under the limit is free, and its id is not made again, since a new endpoint with it would
/// inherit the old one's deliveries.
async fn a_deleted_endpoint_is_gone_and_its_id_stays_taken(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let e = endpoint_of(&owner, "https://one.example");
    store.create_endpoint(&e, 2).await.unwrap();
    store.create_delivery(&delivery_of(&e, "evt_a", T0)).await.unwrap();
    store.delete_endpoint(&owner, &e.id, T0).await.unwrap();
    assert_eq!(store.endpoint(&owner, &e.id).await.unwrap(), None);
    assert!(store.endpoints_of(&owner).await.unwrap().is_empty());
    assert!(store.list_endpoints(&owner, &all()).await.unwrap().items.is_empty());
    let mut changed = e.clone();
    changed.version = 2;
    assert_eq!(store.update_endpoint(&changed, 1).await, Err(StoreError::NotFound));
    assert_eq!(store.delete_endpoint(&owner, &e.id, T0).await, Err(StoreError::NotFound));
    assert_eq!(store.create_endpoint(&e, 2).await, Err(StoreError::Conflict), "the id stays taken");
    assert_eq!(store.endpoint(&owner, &e.id).await.unwrap(), None);
    // Its place under the limit is free.
    store.create_endpoint(&endpoint_of(&owner, "https://two.example"), 2).await.unwrap();
    store.create_endpoint(&endpoint_of(&owner, "https://three.example"), 2).await.unwrap();
    assert_eq!(store.endpoints_of(&owner).await.unwrap().len(), 2);
}

async fn rescheduling_moves_a_pending_delivery_from_the_due_time_read(store: Arc<dyn Store>) {
    let owner = Owner::partner(&id::<String>("prt_"));
    let e = endpoint_of(&owner, "https://one.example");
    store.create_endpoint(&e, 20).await.unwrap();
    let d = delivery_of(&e, "evt_a", T0);
    store.create_delivery(&d).await.unwrap();
    assert!(!store.reschedule_delivery(&e.id, &d.id, T0 + 1, T0 + 900).await.unwrap(), "not the due time read");
    assert!(store.reschedule_delivery(&e.id, &d.id, T0, T0 + 900).await.unwrap());
    assert_eq!(store.delivery(&e.id, &d.id).await.unwrap().unwrap().next_attempt_at, Some(T0 + 900));
    assert!(store.due_deliveries(T0 + 900, 100).await.unwrap().is_empty(), "no longer due before its new time");
    assert_eq!(store.due_deliveries(T0 + 901, 100).await.unwrap().len(), 1);
    assert!(!store.reschedule_delivery(&e.id, &d.id, T0, T0 + 1800).await.unwrap(), "moved on");
    store.record_attempt(&e.id, &d.id, &attempt_no(1, 200), DeliveryStatus::Delivered, None).await.unwrap();
    assert!(!store.reschedule_delivery(&e.id, &d.id, T0 + 900, T0 + 1800).await.unwrap(), "finished");
    assert!(!store.reschedule_delivery(&e.id, "dlv_missing", T0, T0 + 1800).await.unwrap(), "gone");
}

// The audit log's cases (after the fixtures and `walk!`, which they use).
mod audit;
use audit::*;
// ---------------------------------------------------------------------------------------------
// Questionnaire answers
// ---------------------------------------------------------------------------------------------

fn answer_of(question: &str, a: Answer, by: AnsweredBy, at: Timestamp) -> StoredAnswer {
    StoredAnswer::new(question, a, Some(format!("note on {question}")), by, at)
}

async fn answers_are_kept_per_customer_product_and_question_the_latest_winning(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let c1 = new_customer(&store, &p, &tenant(1)).await;
    let c2 = new_customer(&store, &p, &tenant(2)).await;
    let by = AnsweredBy::Customer { email: "ciso@contoso.example".into() };
    let first = vec![
        answer_of("Q-RB-ML1-03", Answer::No, by.clone(), T0),
        answer_of("Q-MF-ML1-02", Answer::Yes, by.clone(), T0),
    ];
    let e = partner_event(EventType::QuestionnaireSubmitted, &p);
    store.put_answers(&p.id, &c1.id, "essential-eight", &first, Some(&e)).await.unwrap();
    assert!(recorded(&store, &e).await, "the event rides in the answers' write");
    let mut read = store.answers(&p.id, &c1.id, "essential-eight").await.unwrap();
    read.sort_by(|a, b| a.question_id.cmp(&b.question_id));
    assert_eq!(read, vec![first[1].clone(), first[0].clone()]);

    // A later answer to one question replaces that one only; no event is fine too.
    let later = answer_of("Q-RB-ML1-03", Answer::Yes, AnsweredBy::Partner, T0 + 60);
    store.put_answers(&p.id, &c1.id, "essential-eight", std::slice::from_ref(&later), None).await.unwrap();
    let mut read = store.answers(&p.id, &c1.id, "essential-eight").await.unwrap();
    read.sort_by(|a, b| a.question_id.cmp(&b.question_id));
    assert_eq!(read, vec![first[1].clone(), later.clone()]);
    assert_eq!(read[1].expires_at, T0 + 60 + 365 * 86_400);

    // Another product and another customer have their own.
    assert!(store.answers(&p.id, &c1.id, "nist-csf").await.unwrap().is_empty());
    assert!(store.answers(&p.id, &c2.id, "essential-eight").await.unwrap().is_empty());
    // Another partner sees none of them under the same customer id.
    let q = new_partner(&store, Some(&d.id), "b@msp.example", AccountStatus::Active).await;
    assert!(store.answers(&q.id, &c1.id, "essential-eight").await.unwrap().is_empty());
}

async fn answers_need_the_partners_customer(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let q = new_partner(&store, Some(&d.id), "b@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let a = vec![answer_of("Q-RB-ML1-03", Answer::Yes, AnsweredBy::Partner, T0)];
    let e = partner_event(EventType::QuestionnaireSubmitted, &q);
    assert_eq!(store.put_answers(&q.id, &c.id, "essential-eight", &a, Some(&e)).await, Err(StoreError::NotFound));
    assert_eq!(
        store.put_answers(&p.id, "cust_missing", "essential-eight", &a, Some(&e)).await,
        Err(StoreError::NotFound)
    );
    assert!(!recorded(&store, &e).await, "nothing written");
    assert!(store.answers(&q.id, &c.id, "essential-eight").await.unwrap().is_empty());
    assert!(store.answers(&p.id, &c.id, "essential-eight").await.unwrap().is_empty());
}

async fn deleting_a_customer_removes_its_answers(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let c1 = new_customer(&store, &p, &tenant(1)).await;
    let c2 = new_customer(&store, &p, &tenant(2)).await;
    let a = vec![answer_of("Q-RB-ML1-03", Answer::Yes, AnsweredBy::Partner, T0)];
    store.put_answers(&p.id, &c1.id, "essential-eight", &a, None).await.unwrap();
    store.put_answers(&p.id, &c1.id, "nist-csf", &a, None).await.unwrap();
    store.put_answers(&p.id, &c2.id, "essential-eight", &a, None).await.unwrap();
    store.delete_customer(&p.id, &c1.id, &partner_event(EventType::CustomerDeleted, &p)).await.unwrap();
    assert!(store.answers(&p.id, &c1.id, "essential-eight").await.unwrap().is_empty());
    assert!(store.answers(&p.id, &c1.id, "nist-csf").await.unwrap().is_empty());
    assert_eq!(store.answers(&p.id, &c2.id, "essential-eight").await.unwrap(), a, "the other customer's stay");
    // No answer can land on the deleted customer afterwards.
    assert_eq!(store.put_answers(&p.id, &c1.id, "essential-eight", &a, None).await, Err(StoreError::NotFound));
}

async fn concurrent_answers_to_different_questions_all_land(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let p = new_partner(&store, Some(&d.id), "a@msp.example", AccountStatus::Active).await;
    let c = new_customer(&store, &p, &tenant(1)).await;
    let questions: Vec<String> =
        shared::assess::requirements::catalogue().questions.iter().take(8).map(|q| q.id.clone()).collect();
    let (s, pid, cid, qs) = (store.clone(), p.id.to_string(), c.id.to_string(), questions.clone());
    let results = together(8, move |i| {
        let (s, pid, cid, q) = (s.clone(), pid.clone(), cid.clone(), qs[i].clone());
        async move {
            let a =
                StoredAnswer::new(&q, Answer::Yes, None, AnsweredBy::Customer { email: format!("r{i}@c.example") }, T0);
            s.put_answers(&pid, &cid, "essential-eight", &[a], None).await
        }
    })
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut got: Vec<String> =
        store.answers(&p.id, &c.id, "essential-eight").await.unwrap().into_iter().map(|a| a.question_id).collect();
    got.sort();
    let mut want = questions;
    want.sort();
    assert_eq!(got, want, "each writer's answer is kept: answers to different questions never overwrite each other");
}

// ---------------------------------------------------------------------------------------------
// Reads that save a round trip (issue 16)
// ---------------------------------------------------------------------------------------------

/// Every list a run is on (by customer, by product, by both, and all) shows it exactly as
/// `run` reads it, after each change: queued, claimed, finished with results. (On DynamoDB the
/// filtered lists read copies of the run kept in its entries, so P7 and P12's filters are one
/// query; a copy left behind by a change would show here.)
async fn filtered_run_lists_show_each_run_as_it_now_is(store: Arc<dyn Store>) {
    let (p, r) = queued_run(&store).await;
    let filters = [
        RunFilter::default(),
        RunFilter { customer_id: Some(r.customer_id.clone()), ..Default::default() },
        RunFilter { product: Some(r.product.clone()), ..Default::default() },
        RunFilter { customer_id: Some(r.customer_id.clone()), product: Some(r.product.clone()), month: Some(APRIL) },
    ];
    let check = |stage: &'static str| {
        let store = store.clone();
        let (p, r, filters) = (p.clone(), r.clone(), filters.clone());
        async move {
            let now = store.run(&p.id, &r.id).await.unwrap().expect("the run");
            for f in &filters {
                let listed = store.list_runs(&p.id, f, &all()).await.unwrap().items;
                assert_eq!(listed, vec![now.clone()], "{stage}, {f:?}");
            }
            now
        }
    };
    assert_eq!(check("queued").await.status, RunStatus::Queued);
    store.claim_run(&p.id, &r.id, 1, T0 + 5, T0 + 125, &started(&p)).await.unwrap();
    let running = check("claimed").await;
    assert_eq!((running.status, running.started_at), (RunStatus::Running, Some(T0 + 5)));
    let e = partner_event(EventType::AssessmentCompleted, &p);
    store.finish_run(&completed(&r, T0 + 30), 1, Some(&report()), &e).await.unwrap();
    let done = check("completed").await;
    assert_eq!((done.status, done.completed_at), (RunStatus::Completed, Some(T0 + 30)));
    assert_eq!(done.results.as_ref().map(|x| x.score), Some(72));
}

/// `Want::PartnerIds` names every partner of the distributor, ascending (the order
/// `all_partners` lists them), a partner made a moment ago included, and none of another
/// distributor's; a distributor without partners has none.
async fn partner_ids_read_together_name_every_partner_of_the_distributor(store: Arc<dyn Store>) {
    let d1 = new_distributor(&store).await;
    let d2 = new_distributor(&store).await;
    let empty = new_distributor(&store).await;
    for i in 0..3 {
        new_partner(&store, Some(&d1.id), &format!("p{i}@msp.example"), AccountStatus::Pending).await;
    }
    let theirs = new_partner(&store, Some(&d2.id), "x@msp.example", AccountStatus::Active).await;
    let wants = [
        Want::PartnerIds(d1.id.to_string()),
        Want::PartnerIds(d2.id.to_string()),
        Want::PartnerIds(empty.id.to_string()),
    ];
    let got = store.read_together(&wants).await.unwrap();
    let listed: Vec<String> = store.all_partners(&d1.id).await.unwrap().iter().map(|p| p.id.to_string()).collect();
    assert_eq!(listed.len(), 3);
    assert_eq!(got[0], Got::PartnerIds(Some(listed)));
    assert_eq!(got[1], Got::PartnerIds(Some(vec![theirs.id.to_string()])));
    assert_eq!(got[2], Got::PartnerIds(Some(vec![])));
    // Read with the account in one batch, as the pipeline reads it.
    let with_account = store.read_together(&[Want::Distributor(d2.id.to_string()), wants[1].clone()]).await.unwrap();
    assert_eq!(with_account[0], Got::Distributor(Some(d2.clone())));
    assert_eq!(with_account[1], Got::PartnerIds(Some(vec![theirs.id.to_string()])));
}

/// Partners made at once for one distributor each join its partner ids (no create overwrites
/// another's): D1, D2 and D14 read the partners from these ids.
async fn concurrent_partner_creates_each_join_the_partner_ids(store: Arc<dyn Store>) {
    let d = new_distributor(&store).await;
    let made = together(20, |i| {
        let (store, d) = (store.clone(), d.id.to_string());
        async move {
            new_partner(&store, Some(&d), &format!("c{i}@msp.example"), AccountStatus::Pending).await.id.to_string()
        }
    })
    .await;
    let mut made: Vec<String> = made;
    made.sort();
    let got = store.read_together(&[Want::PartnerIds(d.id.to_string())]).await.unwrap();
    assert_eq!(got, vec![Got::PartnerIds(Some(made))]);
}
