//! Throughput of the request pipeline on the embedded store, in process (no sockets): what one
//! function instance spends per request on routing, auth, rate limiting and the handler.
//! `cargo bench -p tests` prints requests per second and mean latency for a few routes.

use std::time::{Duration, Instant};

use http::Method;
use serde_json::json;
use shared::config::Config;
use tests::{tenant, Harness};

async fn measure(label: &str, n: u32, mut call: impl AsyncFnMut(u32)) {
    let started = Instant::now();
    for i in 0..n {
        call(i).await;
    }
    let elapsed = started.elapsed();
    let per = elapsed / n;
    println!(
        "{label:<40} {n:>6} requests  {:>9.0} req/s  {:>8.1} µs/request",
        n as f64 / elapsed.as_secs_f64(),
        per.as_secs_f64() * 1e6
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let config = Config {
            rate_limit_partner_per_min: u32::MAX,
            rate_limit_distributor_per_min: u32::MAX,
            ..Config::default()
        };
        let h = Harness::with_config(config).await;
        let n = 20_000;
        measure("GET /me", n, async |_| {
            assert_eq!(h.partner(Method::GET, "/me", None).await.status, 200);
        })
        .await;
        measure("POST /customers", n, async |i| {
            let body = json!({ "name": format!("C{i}"), "tenantId": tenant(i) });
            assert_eq!(h.partner(Method::POST, "/customers", Some(body)).await.status, 201);
        })
        .await;
        measure("GET /customers?limit=100 (of 20k)", 2_000, async |_| {
            assert_eq!(h.partner(Method::GET, "/customers?limit=100", None).await.status, 200);
        })
        .await;
        let cid = h.customer("Runs", &tenant(999_999)).await;
        measure("POST /assessments", n, async |_| {
            // Professional allows 200 a month: spread over months with the clock.
            h.clock.advance(Duration::from_secs(31 * 86_400 / 150).as_secs() as i64);
            let body = json!({ "customerId": cid, "product": "essential-eight" });
            assert_eq!(h.partner(Method::POST, "/assessments", Some(body)).await.status, 202);
        })
        .await;
        measure("unknown key (401)", n, async |_| {
            assert_eq!(h.partner_as(tests::UNKNOWN_PARTNER_KEY, Method::GET, "/me", None).await.status, 401);
        })
        .await;
    });
}
