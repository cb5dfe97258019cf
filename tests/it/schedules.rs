//! Schedules (issue 19, contract "Schedules, drift and portfolio"): the routes on both bases
//! (fields, validation, tenancy, audit), and the scheduler on the harness's injected clock as
//! the dev server's task and the scheduler function run it (`lambda::scheduler_tick`): one run
//! per period across a simulated year with invocations repeated and overlapping, refusals
//! recorded as `lastError` and `schedule.failed`, disabled and deleted schedules never due.

use std::collections::BTreeSet;

use functions::lambda::scheduler_tick;
use http::Method;
use serde_json::{json, Value};
use shared::config::Config;
use shared::domain::schedule::{Cadence, Timing};
use shared::domain::time::{Clock, Month, Timestamp};
use tests::helpers::{raw_as, raw_patch_as, s, with_runs};
use tests::{tenant, Harness, T0};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn monthly(day: u64, hour: u64) -> Value {
    json!({ "product": "essential-eight", "cadence": "monthly", "dayOfMonth": day, "hourUtc": hour })
}

/// `YYYY-MM-DDTHH:MM:SSZ` as a time.
fn ts(v: &Value) -> Timestamp {
    let t = v.as_str().expect("a time");
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().expect("digits");
    let month = Month { year: n(0..4) as i32, month: n(5..7) as u32 };
    month.start() + (n(8..10) - 1) * DAY + n(11..13) * HOUR + n(14..16) * 60 + n(17..19)
}

async fn create(h: &Harness, customer: &str, body: Value) -> Value {
    h.partner(Method::POST, &format!("/customers/{customer}/schedules"), Some(body)).await.assert_status(201).clone()
}

async fn schedule_of(h: &Harness, customer: &str, id: &str) -> Value {
    let list = h.partner(Method::GET, &format!("/customers/{customer}/schedules"), None).await;
    let all = list.assert_status(200)["schedules"].as_array().unwrap().clone();
    all.into_iter().find(|x| x["id"] == id).unwrap_or_else(|| panic!("schedule {id} is listed"))
}

/// The partner's runs of `customer`, oldest first.
async fn runs_of(h: &Harness, customer: &str) -> Vec<Value> {
    let r = h.partner(Method::GET, &format!("/assessments?customerId={customer}"), None).await;
    let mut runs = r.assert_status(200)["runs"].as_array().unwrap().clone();
    runs.reverse();
    runs
}

async fn tick(h: &Harness) -> shared::usecases::schedules::SchedulerTick {
    scheduler_tick(&h.app).await.expect("the scheduler runs")
}

fn failed_events(events: &[shared::domain::event::Event]) -> Vec<&shared::domain::event::Event> {
    events.iter().filter(|e| e.kind.as_str() == "schedule.failed").collect()
}

#[tokio::test]
async fn a_schedule_has_the_contracts_fields_and_its_next_run_is_worked_out_in_utc() {
    let h = Harness::new().await;
    let c = h.customer("Contoso", &tenant(1)).await;
    // T0 is 2026-04-03T10:00:00Z.
    let x = create(&h, &c, monthly(1, 6)).await;
    assert!(s(&x["id"]).starts_with("sch_"), "{x}");
    assert_eq!(x["customerId"], c.as_str());
    assert_eq!(x["product"], "essential-eight");
    assert_eq!(x["maturityTarget"], 1, "the product's default");
    assert_eq!(
        (x["cadence"].clone(), x["dayOfMonth"].clone(), x["dayOfWeek"].clone()),
        (json!("monthly"), json!(1), Value::Null)
    );
    assert_eq!((x["hourUtc"].clone(), x["enabled"].clone()), (json!(6), json!(true)));
    assert_eq!(x["nextRunAt"], "2026-05-01T06:00:00Z");
    assert_eq!((x["lastRunId"].clone(), x["lastError"].clone()), (Value::Null, Value::Null));

    let weekly = json!({ "product": "essential-eight", "cadence": "weekly", "dayOfWeek": "friday", "hourUtc": 9, "maturityTarget": 2 });
    let w = create(&h, &c, weekly).await;
    assert_eq!(
        (w["dayOfWeek"].clone(), w["dayOfMonth"].clone(), w["maturityTarget"].clone()),
        (json!("friday"), Value::Null, json!(2))
    );
    assert_eq!(w["nextRunAt"], "2026-04-10T09:00:00Z", "T0 is a Friday, after 09:00");
    let q = create(&h, &c, json!({ "product": "essential-eight", "cadence": "quarterly", "dayOfMonth": 28 })).await;
    assert_eq!(q["nextRunAt"], "2026-04-28T00:00:00Z");

    // Listed oldest first, paged.
    let page = h.partner(Method::GET, &format!("/customers/{c}/schedules?limit=2"), None).await;
    let page = page.assert_status(200).clone();
    assert_eq!(page["schedules"].as_array().unwrap().len(), 2);
    assert_eq!(page["schedules"][0]["id"], x["id"]);
    let cursor = s(&page["nextCursor"]);
    let rest = h.partner(Method::GET, &format!("/customers/{c}/schedules?limit=2&cursor={cursor}"), None).await;
    let rest = rest.assert_status(200);
    assert_eq!((rest["schedules"][0]["id"].clone(), rest["nextCursor"].clone()), (q["id"].clone(), Value::Null));

    // A change of cadence kind takes the other day; a new timing moves nextRunAt.
    let id = s(&x["id"]);
    let path = format!("/customers/{c}/schedules/{id}");
    let changed = h.partner(Method::PATCH, &path, Some(json!({ "cadence": "weekly", "dayOfWeek": "monday" }))).await;
    let changed = changed.assert_status(200);
    assert_eq!((changed["dayOfMonth"].clone(), changed["dayOfWeek"].clone()), (Value::Null, json!("monday")));
    assert_eq!(changed["nextRunAt"], "2026-04-06T06:00:00Z");
    assert_eq!(changed["updatedAt"], "2026-04-03T10:00:00Z");
    h.partner(Method::DELETE, &path, None).await.assert_status(204);
    h.partner(Method::DELETE, &path, None).await.assert_error(404, "NOT_FOUND");
}

/// Each code the OpenAPI document lists for the schedule routes, on both bases.
#[tokio::test]
async fn schedule_routes_refuse_what_the_contract_refuses_on_both_bases() {
    let h = Harness::new().await;
    let c = h.customer("Contoso", &tenant(1)).await;
    let me = h.partner_id().to_string();
    let (starter, starter_key) = h.active_partner("admin@starter.example", "starter").await;
    let sc = h.customer_for(&starter_key, "Starter Co", &tenant(2)).await;
    for distributor in [false, true] {
        let (base, key) = if distributor {
            (format!("/partners/{me}/customers/{c}/schedules"), h.distributor_key().to_string())
        } else {
            (format!("/customers/{c}/schedules"), h.partner_key().to_string())
        };
        let call = |m: Method, path: String, body: Option<Value>| {
            let key = key.clone();
            let h = &h;
            async move {
                if distributor {
                    h.distributor_as(&key, m, &path, body).await
                } else {
                    h.partner_as(&key, m, &path, body).await
                }
            }
        };
        call(Method::GET, format!("{base}?limit=0"), None).await.assert_error(400, "INVALID_FIELD");
        let unknown = base.replace(c.as_str(), "cust_unknown");
        call(Method::GET, unknown.clone(), None).await.assert_error(404, "NOT_FOUND");
        raw_as(&h, distributor, &key, &base, "{").await.assert_error(400, "INVALID_JSON");
        let post = |body: Value| call(Method::POST, base.clone(), Some(body));
        post(json!({ "product": "essential-eight" })).await.assert_error(400, "MISSING_FIELD");
        post(monthly(29, 0)).await.assert_error(400, "INVALID_FIELD");
        post(json!({ "product": "essential-eight", "cadence": "monthly" })).await.assert_error(400, "INVALID_FIELD");
        post(json!({ "product": "essential-eight", "cadence": "weekly", "dayOfWeek": "funday" }))
            .await
            .assert_error(400, "INVALID_FIELD");
        post(json!({ "product": "essential-eight", "cadence": "daily" })).await.assert_error(400, "INVALID_FIELD");
        post(json!({ "product": "essential-eight", "cadence": "monthly", "dayOfMonth": 1, "hourUtc": 24 }))
            .await
            .assert_error(400, "INVALID_FIELD");
        post(json!({ "product": "essential-eight", "cadence": "monthly", "dayOfMonth": 1, "maturityTarget": 4 }))
            .await
            .assert_error(400, "INVALID_FIELD");
        post(json!({ "product": "essential-eight", "cadence": "monthly", "dayOfMonth": 1, "every": 2 }))
            .await
            .assert_error(400, "INVALID_FIELD");
        post(json!({ "product": "nope", "cadence": "monthly", "dayOfMonth": 1 }))
            .await
            .assert_error(400, "INVALID_PRODUCT");
        call(Method::POST, unknown.clone(), Some(monthly(1, 0))).await.assert_error(404, "NOT_FOUND");
        let made = post(monthly(1, 0)).await;
        let id = s(&made.assert_status(201)["id"]);
        let path = format!("{base}/{id}");
        raw_patch_as(&h, distributor, &key, &path, "{").await.assert_error(400, "INVALID_JSON");
        let patch = |body: Value| call(Method::PATCH, path.clone(), Some(body));
        patch(json!({ "dayOfMonth": 0 })).await.assert_error(400, "INVALID_FIELD");
        patch(json!({ "dayOfWeek": "monday" })).await.assert_error(400, "INVALID_FIELD");
        patch(json!({ "enabled": null })).await.assert_error(400, "INVALID_FIELD");
        patch(json!({ "product": "nope" })).await.assert_error(400, "INVALID_PRODUCT");
        call(Method::PATCH, format!("{base}/sch_unknown"), Some(json!({ "hourUtc": 1 })))
            .await
            .assert_error(404, "NOT_FOUND");
        call(Method::DELETE, format!("{base}/sch_unknown"), None).await.assert_error(404, "NOT_FOUND");
        call(Method::DELETE, path.clone(), None).await.assert_status(204);

        // A starter partner's plan has Essential Eight only.
        let (sbase, skey) = if distributor {
            (format!("/partners/{starter}/customers/{sc}/schedules"), h.distributor_key().to_string())
        } else {
            (format!("/customers/{sc}/schedules"), starter_key.clone())
        };
        let scall = |m: Method, path: String, body: Option<Value>| {
            let skey = skey.clone();
            let h = &h;
            async move {
                if distributor {
                    h.distributor_as(&skey, m, &path, body).await
                } else {
                    h.partner_as(&skey, m, &path, body).await
                }
            }
        };
        let nist = json!({ "product": "nist-csf", "cadence": "monthly", "dayOfMonth": 1 });
        scall(Method::POST, sbase.clone(), Some(nist)).await.assert_error(403, "PRODUCT_NOT_ALLOWED");
        let made = scall(Method::POST, sbase.clone(), Some(monthly(1, 0))).await;
        let sid = s(&made.assert_status(201)["id"]);
        scall(Method::PATCH, format!("{sbase}/{sid}"), Some(json!({ "product": "nist-csf" })))
            .await
            .assert_error(403, "PRODUCT_NOT_ALLOWED");
    }
}

#[tokio::test]
async fn another_partners_customer_and_schedules_answer_404() {
    let h = Harness::new().await;
    let c = h.customer("Contoso", &tenant(1)).await;
    let id = s(&create(&h, &c, monthly(1, 6)).await["id"]);
    let (_, other_key) = h.active_partner("admin@other.example", "professional").await;
    let as_other = |m: Method, path: String, body: Option<Value>| {
        let key = other_key.clone();
        let h = &h;
        async move { h.partner_as(&key, m, &path, body).await }
    };
    as_other(Method::GET, format!("/customers/{c}/schedules"), None).await.assert_error(404, "NOT_FOUND");
    as_other(Method::POST, format!("/customers/{c}/schedules"), Some(monthly(1, 6)))
        .await
        .assert_error(404, "NOT_FOUND");
    let path = format!("/customers/{c}/schedules/{id}");
    as_other(Method::PATCH, path.clone(), Some(json!({ "enabled": false }))).await.assert_error(404, "NOT_FOUND");
    as_other(Method::DELETE, path, None).await.assert_error(404, "NOT_FOUND");
    // Another distributor cannot reach the partner's customer either.
    let (_, dist_key) = h.other_distributor().await;
    let me = h.partner_id().to_string();
    h.distributor_as(&dist_key, Method::GET, &format!("/partners/{me}/customers/{c}/schedules"), None)
        .await
        .assert_error(404, "NOT_FOUND");
    assert_eq!(schedule_of(&h, &c, &id).await["enabled"], true, "untouched");
}

#[tokio::test]
async fn schedule_changes_are_in_the_audit_log_of_the_partner_and_its_distributor() {
    let h = Harness::new().await;
    let c = h.customer("Contoso", &tenant(1)).await;
    let id = s(&create(&h, &c, monthly(1, 6)).await["id"]);
    let path = format!("/customers/{c}/schedules/{id}");
    h.partner(Method::PATCH, &path, Some(json!({ "hourUtc": 7 }))).await.assert_status(200);
    // The same again changes nothing: no entry.
    h.partner(Method::PATCH, &path, Some(json!({ "hourUtc": 7 }))).await.assert_status(200);
    h.partner(Method::DELETE, &path, None).await.assert_status(204);
    let log = h.partner(Method::GET, "/audit", None).await;
    let entries: Vec<Value> = log.assert_status(200)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"]["type"] == "schedule")
        .cloned()
        .collect();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["schedule.deleted", "schedule.updated", "schedule.created"], "newest first");
    assert!(entries.iter().all(|e| e["target"]["id"] == id.as_str()));
    assert_eq!(entries[1]["changes"]["hourUtc"], json!({ "from": 6, "to": 7 }));
    let dist = h.distributor(Method::GET, "/audit", None).await;
    let seen = dist.assert_status(200)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"]["type"] == "schedule")
        .count();
    assert_eq!(seen, 3, "the distributor sees its partner's schedule changes");
}

/// The "done when": a monthly schedule across a simulated year on the injected clock,
/// the scheduler invoked every 3 hours four times at once (tasks on four threads) and once more
/// after them, makes exactly 12 runs, one in each month, each after its period was due.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_monthly_schedule_makes_one_run_per_month_across_a_year_however_often_the_scheduler_runs() {
    let h = Harness::new().await;
    let c = h.customer("Contoso", &tenant(1)).await;
    let x = create(&h, &c, monthly(15, 6)).await;
    let id = s(&x["id"]);
    let end = T0 + 365 * DAY;
    while h.clock.now() < end {
        h.clock.advance(3 * HOUR);
        // Four at once first (the period's first invocations overlap), then one more after them.
        let at_once: Vec<_> = (0..4)
            .map(|_| {
                let app = h.app.clone();
                tokio::spawn(async move { scheduler_tick(&app).await.expect("the scheduler runs") })
            })
            .collect();
        let mut runs = 0;
        for t in at_once {
            runs += t.await.unwrap().runs;
        }
        assert!(runs <= 1, "overlapping invocations make at most one run");
        assert_eq!(tick(&h).await.runs, 0, "the period was recorded");
    }
    let runs = runs_of(&h, &c).await;
    assert_eq!(runs.len(), 12, "{runs:#?}");
    let months: BTreeSet<String> = runs
        .iter()
        .map(|r| {
            let m = Month::of(ts(&r["createdAt"]));
            format!("{}-{:02}", m.year, m.month)
        })
        .collect();
    assert_eq!(months.len(), 12, "one per month: {months:?}");
    for r in &runs {
        // Due on the 15th at 06:00; an invocation every 3 hours picks it up by 09:00.
        let at = ts(&r["createdAt"]);
        let due = ts(&json!(format!("{}-15T06:00:00Z", &r["createdAt"].as_str().unwrap()[..7])));
        assert!(at >= due && at.secs_since(due) <= 3 * HOUR, "{r}");
    }
    let stored = schedule_of(&h, &c, &id).await;
    assert_eq!(stored["lastRunId"], runs.last().unwrap()["id"]);
    assert_eq!(stored["nextRunAt"], "2027-04-15T06:00:00Z");
    assert_eq!(stored["lastError"], Value::Null);
    assert!(failed_events(&h.events().await).is_empty());
}

/// Without consent a period is refused: `lastError` and one `schedule.failed` however many
/// invocations see it, and `nextRunAt` moves to the next month, which (consent granted) runs.
#[tokio::test]
async fn a_period_without_consent_is_refused_once_and_the_next_period_tries_again() {
    let h = Harness::new().await;
    let c = h.pending_customer_for(h.partner_key(), "Contoso", &tenant(1)).await;
    let id = s(&create(&h, &c, monthly(10, 0)).await["id"]);
    // The partner's endpoint subscribed to it gets it (as a delivery, through the relay).
    let hook = json!({ "url": "https://hooks.example.com/schedules", "events": ["schedule.failed"] });
    let made = h.partner(Method::POST, "/webhooks", Some(hook)).await;
    let hook_id = s(&made.assert_status(201)["webhook"]["id"]);
    h.clock.set(ts(&json!("2026-04-10T00:05:00Z")));
    let (a, b) = tokio::join!(tick(&h), tick(&h));
    tick(&h).await;
    assert_eq!(a.refused + b.refused, 1, "{a:?} {b:?}");
    let x = schedule_of(&h, &c, &id).await;
    assert_eq!(x["lastError"]["code"], "CONSENT_REQUIRED", "{x}");
    assert_eq!(x["lastError"]["at"], "2026-04-10T00:00:00Z");
    assert_eq!(x["nextRunAt"], "2026-05-10T00:00:00Z");
    assert_eq!(x["lastRunId"], Value::Null);
    assert!(runs_of(&h, &c).await.is_empty());
    let events = h.events().await;
    let failed = failed_events(&events);
    assert_eq!(failed.len(), 1, "one event for the period");
    let data = &failed[0].data;
    assert_eq!((data["scheduleId"].clone(), data["customerId"].clone()), (json!(id), json!(c)));
    assert_eq!(data["error"]["code"], "CONSENT_REQUIRED");
    assert_eq!(
        (data["scheduledFor"].clone(), data["nextRunAt"].clone()),
        (json!("2026-04-10T00:00:00Z"), json!("2026-05-10T00:00:00Z"))
    );
    assert_eq!(data["product"], "essential-eight");
    assert_eq!(failed[0].distributor_id.as_deref(), Some(h.accounts.distributor.id.as_str()), "its distributor too");
    h.relay().drain(100).await.unwrap();
    let log = h.partner(Method::GET, &format!("/webhooks/{hook_id}/deliveries"), None).await;
    let deliveries = log.assert_status(200)["deliveries"].as_array().unwrap().clone();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0]["eventType"], "schedule.failed");

    h.grant_consent(h.partner_key(), &c).await;
    h.clock.set(ts(&json!("2026-05-10T00:05:00Z")));
    tick(&h).await;
    let x = schedule_of(&h, &c, &id).await;
    let runs = runs_of(&h, &c).await;
    assert_eq!(runs.len(), 1);
    assert_eq!((x["lastRunId"].clone(), x["lastError"].clone()), (runs[0]["id"].clone(), Value::Null));
    // The outbox was drained above: nothing new in it.
    assert!(failed_events(&h.events().await).is_empty(), "no new event");
}

/// The monthly limit applies to a scheduled run as to P10: at the limit the period is refused
/// (`RUN_LIMIT_REACHED`, nothing counted), and the next month's period runs.
#[tokio::test]
async fn a_period_past_the_monthly_limit_is_refused_and_the_next_month_runs() {
    let h = Harness::with_config(with_runs(&[("professional", Some(1))])).await;
    let c = h.customer("Contoso", &tenant(1)).await;
    let id = s(&create(&h, &c, monthly(20, 0)).await["id"]);
    let body = json!({ "customerId": c, "product": "essential-eight" });
    h.partner(Method::POST, "/assessments", Some(body)).await.assert_status(202);
    h.clock.set(ts(&json!("2026-04-20T01:00:00Z")));
    tick(&h).await;
    let x = schedule_of(&h, &c, &id).await;
    assert_eq!(x["lastError"]["code"], "RUN_LIMIT_REACHED", "{x}");
    assert_eq!(runs_of(&h, &c).await.len(), 1, "only the one triggered by hand");
    let events = h.events().await;
    assert_eq!(failed_events(&events)[0].data["error"]["code"], "RUN_LIMIT_REACHED");
    h.clock.set(ts(&json!("2026-05-20T01:00:00Z")));
    tick(&h).await;
    let x = schedule_of(&h, &c, &id).await;
    assert_eq!((x["lastError"].clone(), x["nextRunAt"].clone()), (Value::Null, json!("2026-06-20T00:00:00Z")));
    assert_eq!(runs_of(&h, &c).await.len(), 2);
}

/// A disabled schedule is never due; enabled again it goes on from the next slot after now
/// (no catch-up of the periods it was paused for). A deleted customer's schedules stop.
#[tokio::test]
async fn disabled_schedules_and_deleted_customers_schedules_make_no_runs() {
    let h = Harness::new().await;
    let c = h.customer("Contoso", &tenant(1)).await;
    let gone = h.customer("Gone Ltd", &tenant(2)).await;
    let id = s(&create(&h, &c, monthly(5, 0)).await["id"]);
    create(&h, &gone, monthly(5, 0)).await;
    let path = format!("/customers/{c}/schedules/{id}");
    h.partner(Method::PATCH, &path, Some(json!({ "enabled": false }))).await.assert_status(200);
    h.partner(Method::DELETE, &format!("/customers/{gone}"), None).await.assert_status(204);
    h.clock.set(ts(&json!("2026-06-06T00:00:00Z")));
    let t = tick(&h).await;
    assert_eq!(t.runs + t.refused, 0, "{t:?}");
    assert!(runs_of(&h, &c).await.is_empty());
    let on = h.partner(Method::PATCH, &path, Some(json!({ "enabled": true }))).await;
    assert_eq!(on.assert_status(200)["nextRunAt"], "2026-07-05T00:00:00Z", "from now on");
    tick(&h).await;
    assert!(runs_of(&h, &c).await.is_empty());
    h.clock.set(ts(&json!("2026-07-05T00:10:00Z")));
    assert_eq!(tick(&h).await.runs, 1);
}

#[tokio::test]
async fn a_suspended_partners_periods_are_refused_as_partner_inactive() {
    let h = Harness::with_config(Config::default()).await;
    let (pid, key) = h.active_partner("admin@later.example", "professional").await;
    let c = h.customer_for(&key, "Contoso", &tenant(1)).await;
    let made = h.partner_as(&key, Method::POST, &format!("/customers/{c}/schedules"), Some(monthly(10, 0))).await;
    let id = s(&made.assert_status(201)["id"]);
    h.distributor(Method::POST, &format!("/partners/{pid}/suspend"), None).await.assert_status(200);
    h.clock.set(ts(&json!("2026-04-10T00:05:00Z")));
    assert_eq!(tick(&h).await.refused, 1);
    let list = h.distributor(Method::GET, &format!("/partners/{pid}/customers/{c}/schedules"), None).await;
    let x = list.assert_status(200)["schedules"][0].clone();
    assert_eq!((x["id"].clone(), x["lastError"]["code"].clone()), (json!(id), json!("PARTNER_INACTIVE")));
}

/// The dev server's periodic task runs the scheduler on the app's (injected) clock: a period
/// made due by moving that clock gets its run at the task's next look (every second with a
/// 2-second threshold; the test waits, bounded, for the task beside it, as `dev_server.rs` waits
/// for its worker).
#[tokio::test]
async fn the_dev_servers_periodic_task_triggers_due_periods() {
    let h = Harness::with_config(Config { run_stale_after_secs: 2, ..Config::default() }).await;
    let c = h.customer("Contoso", &tenant(1)).await;
    let id = s(&create(&h, &c, monthly(10, 0)).await["id"]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(functions::dev_server::run_stale_sweeper(h.app.clone(), async {
        let _ = stopped.await;
    }));
    h.clock.set(ts(&json!("2026-04-10T00:01:00Z")));
    // Read from the store, not over HTTP: the injected clock stands still, and so does the
    // key's rate-limit minute.
    let mut last_run = None;
    for _ in 0..500 {
        let x = h.app.store.schedule(h.partner_id(), &c, &id).await.unwrap().expect("the schedule");
        last_run = x.last_run_id;
        if last_run.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let runs = runs_of(&h, &c).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(last_run.as_deref(), runs[0]["id"].as_str());
    stop.send(()).unwrap();
    task.await.unwrap();
}

// --- When a schedule is due: the slots of each cadence (`domain::schedule::Timing`) --------------

fn timing(cadence: Cadence, dom: Option<u8>, dow: Option<u8>, hour: u8) -> Timing {
    Timing { cadence, day_of_month: dom, day_of_week: dow, hour_utc: hour }
}

fn next(t: Timing, after: &str) -> String {
    t.next_after(ts(&json!(after))).rfc3339()
}

#[test]
fn monthly_slots_are_the_day_and_hour_of_each_month() {
    let t = timing(Cadence::Monthly, Some(15), None, 6);
    assert_eq!(next(t, "2027-01-10T00:00:00Z"), "2027-01-15T06:00:00Z");
    // On the slot itself: the next one.
    assert_eq!(next(t, "2027-01-15T06:00:00Z"), "2027-02-15T06:00:00Z");
    assert_eq!(next(t, "2027-12-20T00:00:00Z"), "2028-01-15T06:00:00Z");
}

#[test]
fn quarterly_slots_are_in_january_april_july_and_october() {
    let t = timing(Cadence::Quarterly, Some(1), None, 0);
    assert_eq!(next(t, "2027-02-10T00:00:00Z"), "2027-04-01T00:00:00Z");
    assert_eq!(next(t, "2027-10-01T00:00:00Z"), "2028-01-01T00:00:00Z");
}

#[test]
fn weekly_slots_are_the_weekday_and_hour() {
    // 2027-01-04 is a Monday.
    let t = timing(Cadence::Weekly, None, Some(0), 9);
    assert_eq!(next(t, "2027-01-04T08:59:59Z"), "2027-01-04T09:00:00Z");
    assert_eq!(next(t, "2027-01-04T09:00:00Z"), "2027-01-11T09:00:00Z");
    let sunday = timing(Cadence::Weekly, None, Some(6), 23);
    assert_eq!(next(sunday, "2027-01-04T09:00:00Z"), "2027-01-10T23:00:00Z");
}

#[test]
fn timing_fields_are_checked_against_the_cadence() {
    assert!(timing(Cadence::Monthly, Some(29), None, 0).check().unwrap_err().contains("dayOfMonth"));
    assert!(timing(Cadence::Monthly, None, None, 0).check().unwrap_err().contains("dayOfMonth"));
    assert!(timing(Cadence::Weekly, Some(1), Some(0), 0).check().unwrap_err().contains("dayOfMonth"));
    assert!(timing(Cadence::Weekly, None, None, 0).check().unwrap_err().contains("dayOfWeek"));
    assert!(timing(Cadence::Quarterly, Some(28), None, 24).check().unwrap_err().contains("hourUtc"));
    assert!(timing(Cadence::Quarterly, Some(28), None, 23).check().is_ok());
}
