//! A big tenant's assessment (issue 11, point 6): a tenant of 50,000 users and 20,000 devices
//! (`BIG_USERS`, `BIG_DEVICES` to change it) is collected (generated and read as Graph's JSON,
//! standing in for Microsoft Graph), evaluated for each product at its highest target, and its
//! report encoded as the store keeps it. Prints each phase's time, the stored report's size
//! and the process's peak memory (VmHWM). With `BAREF00T_TEST_AWS_ENDPOINT` set (moto), it
//! also runs the whole run on DynamoDB through the runner and times it.
//!
//! `scripts/bench-big-tenant` runs it (`PROFILE=dev` for a debug build).

use std::sync::Arc;
use std::time::Instant;

use shared::assess::assessor::report;
use shared::assess::{evaluate, Framework};
use shared::store::report_codec;
use tests::big_tenant;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The process's peak resident memory so far, in MiB (Linux's VmHWM).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn main() {
    let (users, devices) = (env_usize("BIG_USERS", 50_000), env_usize("BIG_DEVICES", 20_000));
    let tenant = tests::tenant(1);
    println!("big tenant: {users} users, {devices} devices (peak memory before: {:.0} MiB)", peak_mib());

    let started = Instant::now();
    let snapshot = big_tenant::snapshot(&tenant, users, devices);
    let collected = started.elapsed();
    println!("collection (generate + read Graph JSON)   {:>9.1} ms", collected.as_secs_f64() * 1e3);

    let mut evaluation = std::time::Duration::ZERO;
    for product in Framework::ALL {
        let (_, max) = product.maturity_range();
        let started = Instant::now();
        let assessment = evaluate(product.id(), max, &snapshot).expect("a known product");
        let r = report(&assessment);
        let took = started.elapsed();
        evaluation += took;
        let json = serde_json::to_vec(&r).expect("a report serializes").len();
        let chunks = report_codec::encode(&r).expect("the report can be stored");
        let stored: usize = chunks.iter().map(Vec::len).sum();
        println!(
            "evaluation {:<16} target {max}   {:>9.1} ms   report {json} B JSON, {stored} B stored in {} chunk(s)",
            product.id(),
            took.as_secs_f64() * 1e3,
            chunks.len()
        );
    }
    println!("collection + evaluation                   {:>9.1} ms", (collected + evaluation).as_secs_f64() * 1e3);
    println!("peak memory (VmHWM)                       {:>9.0} MiB", peak_mib());
    drop(snapshot);

    if std::env::var(tests::aws::ENDPOINT_VAR).is_ok_and(|e| !e.is_empty()) {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let store = Arc::new(tests::aws::fresh_dynamo().await.expect("moto"));
            let started = Instant::now();
            let run = dynamo_run(store, users, devices).await;
            println!(
                "whole run on DynamoDB (moto), runner     {:>9.1} ms   status {}",
                started.elapsed().as_secs_f64() * 1e3,
                run
            );
            println!("peak memory (VmHWM)                       {:>9.0} MiB", peak_mib());
        });
    }
}

/// Queues and runs one Essential Eight ML3 run of the big tenant on `store`; its final status.
async fn dynamo_run(store: Arc<shared::store::dynamo::DynamoStore>, users: usize, devices: usize) -> String {
    use shared::store::{CustomerStore, RunStore};
    let on = tests::stored::on_store(store.clone()).await;
    let partner = &on.accounts.partner;
    let mut customer = tests::stored::customer("cust_big", &partner.id, "Big Pty Ltd", &tests::tenant(1));
    customer.consent.status = shared::domain::consent::ConsentStatus::Granted;
    let ids = shared::domain::ids::IdGen::new();
    let created = tests::stored::event(&ids, shared::domain::event::EventType::CustomerCreated, &partner.id);
    store.create_customer(&customer, &created).await.expect("customer");
    let run = shared::domain::run::Run {
        id: ids.new_id((tests::T0.unix() * 1000) as u64),
        partner_id: partner.id.clone(),
        customer_id: customer.id.clone(),
        product: "essential-eight".into(),
        maturity_target: 3,
        status: shared::domain::run::RunStatus::Queued,
        created_at: tests::T0,
        started_at: None,
        completed_at: None,
        results: None,
        error: None,
    };
    store.queue_run(&run, shared::domain::time::Month::of(tests::T0), None).await.expect("queued");
    let runner = on.service.runner_with(big_tenant::assessor(users, devices), 3);
    let message = shared::queue::RunMessage { run_id: run.id.clone(), partner_id: partner.id.clone() };
    runner.process(&message, 1).await;
    store.run(&partner.id, &run.id).await.expect("read").map_or("gone".into(), |r| r.status.as_str().to_string())
}
