//! Small helpers the test modules share: reference constants, configurations, raw requests,
//! triggering runs, paging and reading ids out of list answers.

use std::collections::HashSet;

use bytes::Bytes;
use http::Method;
use serde_json::Value;
use shared::config::Config;
use shared::domain::time::Timestamp;

use crate::{Harness, Resp, DISTRIBUTOR_BASE, PARTNER_BASE};

/// A tenant GUID (lower-case), the reference's `tenantId` example.
pub const TENANT: &str = "d4f5a678-1234-5678-9abc-def012345678";
/// A second tenant GUID (lower-case), different from [`TENANT`].
pub const TENANT2: &str = "a1b2c3d4-5678-9abc-def0-123456789abc";
/// [`crate::T0`] as the API writes times: RFC 3339, UTC, whole seconds.
pub const T0_STR: &str = "2026-04-03T10:00:00Z";
/// 2026-05-01T00:00:00Z in unix seconds (UTC): the first second of the month after T0's.
pub const MAY_1: Timestamp = Timestamp::from_unix(1_777_593_600);

/// The default configuration with each `(plan, runs)` plan allowed `runs` per month (`None`: unlimited).
pub fn with_runs(limits: &[(&str, Option<u32>)]) -> Config {
    let mut c = Config::default();
    for (plan, runs) in limits {
        c.catalog.plans.iter_mut().find(|p| p.id == *plan).expect("plan in the catalogue").runs_per_month = *runs;
    }
    c
}

/// The JSON string `v` as a `String`; panics (naming `v`) on anything else.
pub fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_string()
}

/// A POST with a raw (possibly non-JSON) body, to the distributor API if `distributor`, else
/// the partner API (path relative to the surface's base).
pub async fn raw_as(h: &Harness, distributor: bool, key: &str, path: &str, body: &str) -> Resp {
    let (base, header) =
        if distributor { (DISTRIBUTOR_BASE, "x-distributor-key") } else { (PARTNER_BASE, "x-partner-key") };
    h.request(
        Method::POST,
        &format!("{base}{path}"),
        &[(header, key), ("content-type", "application/json")],
        Some(Bytes::from(body.to_string())),
    )
    .await
}

/// A PATCH with a raw (possibly non-JSON) body, as [`raw_as`] sends a POST.
pub async fn raw_patch_as(h: &Harness, distributor: bool, key: &str, path: &str, body: &str) -> Resp {
    let (base, header) =
        if distributor { (DISTRIBUTOR_BASE, "x-distributor-key") } else { (PARTNER_BASE, "x-partner-key") };
    h.request(
        Method::PATCH,
        &format!("{base}{path}"),
        &[(header, key), ("content-type", "application/json")],
        Some(Bytes::from(body.to_string())),
    )
    .await
}

/// Triggers one run (P10) of `product` for `customer` as the partner with `key`; returns its id.
pub async fn run_for(h: &Harness, key: &str, customer: &str, product: &str) -> String {
    let r = h.partner_as(key, Method::POST, "/assessments", Some(crate::assessment_body(customer, product))).await;
    s(&r.assert_status(202)["id"])
}

/// Triggers one run as the start-up partner; returns its id.
pub async fn run(h: &Harness, customer: &str, product: &str) -> String {
    run_for(h, h.partner_key(), customer, product).await
}

/// Follows `nextCursor` from `path` (which may carry a query) with `limit`, returning every
/// item of `field` in order and the number of pages.
pub async fn page_all(
    h: &Harness,
    distributor: bool,
    key: &str,
    path: &str,
    field: &str,
    limit: usize,
) -> (Vec<Value>, usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            None => format!("{path}{sep}limit={limit}"),
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
        };
        let r = if distributor {
            h.distributor_as(key, Method::GET, &url, None).await
        } else {
            h.partner_as(key, Method::GET, &url, None).await
        };
        let body = r.assert_status(200).clone();
        let page = body[field].as_array().expect("array").clone();
        assert!(page.len() <= limit, "page over limit: {body}");
        pages += 1;
        items.extend(page);
        match &body["nextCursor"] {
            Value::Null => break,
            Value::String(c) => cursor = Some(c.clone()),
            other => panic!("nextCursor must be a string or null, got {other}"),
        }
        assert!(pages < 1000, "paging does not end");
    }
    (items, pages)
}

/// The `id` of each list item, in order.
pub fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| s(&i["id"])).collect()
}

/// `v` sorted, for lists whose order the contract leaves open.
pub fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// The id of the list item whose `field` is `value`.
pub fn id_where(items: &[Value], field: &str, value: &str) -> String {
    s(&items.iter().find(|i| i[field] == value).unwrap_or_else(|| panic!("no item with {field} = {value}"))["id"])
}

/// Asserts no id appears twice in `v`.
#[track_caller]
pub fn assert_distinct(v: &[String]) {
    let set: HashSet<&String> = v.iter().collect();
    assert_eq!(set.len(), v.len(), "duplicates in {v:?}");
}

/// P1 `GET /me` as the partner with `key`: the 200 body.
pub async fn me(h: &Harness, key: &str) -> Value {
    h.partner_as(key, Method::GET, "/me", None).await.assert_status(200).clone()
}
