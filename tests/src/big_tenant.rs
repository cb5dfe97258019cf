//! A generated big tenant: the "small business" demo tenant grown to any number of users and
//! devices, for the tests and the bench that prove a big tenant's run completes and stays
//! within DynamoDB's item limit (issue 11, point 6).
//!
//! It is grown at the JSON level (Graph's shape) and then read as a `TenantSnapshot`, so it
//! keeps working when the snapshot gains fields: each generated user, registration record,
//! device and managed device is a copy of one of the demo tenant's own (round robin), with a
//! fresh id and name. The copies keep the demo tenant's mix, so about 3 in 14 users cannot do
//! MFA, 4 in 13 directory devices are unmanaged and 1 in 9 managed devices is a release behind:
//! every per-object check has thousands of names to list. Generated users hold no role.

use serde_json::{json, Value};
use shared::assess::TenantSnapshot;

/// The demo tenant the big one is grown from.
pub const BASE: &str = "small-business";

/// The demo tenant `BASE` with `users` users (and as many registration records) and
/// `devices` directory devices (and as many Intune managed devices), `tenant_id` set.
pub fn snapshot(tenant_id: &str, users: usize, devices: usize) -> TenantSnapshot {
    serde_json::from_value(json(tenant_id, users, devices)).expect("the grown tenant is a valid TenantSnapshot")
}

/// [`snapshot`] as Graph-shaped JSON.
pub fn json(tenant_id: &str, users: usize, devices: usize) -> Value {
    let base = shared::assess::fixtures::demo_fixture(BASE).expect("a bundled demo tenant");
    let mut v = serde_json::to_value(&base).expect("a snapshot serializes");
    v["tenantId"] = json!(tenant_id);
    let domain = "big.example.com";
    grow(&mut v, "users", users, |u, i| {
        u["id"] = json!(guid(1, i));
        u["userPrincipalName"] = json!(format!("user{i:06}@{domain}"));
        u["displayName"] = json!(format!("User {i:06}"));
    });
    grow(&mut v, "userRegistrationDetails", users, |r, i| {
        r["id"] = json!(guid(1, i));
        r["userPrincipalName"] = json!(format!("user{i:06}@{domain}"));
        r["isAdmin"] = json!(false);
    });
    grow(&mut v, "devices", devices, |d, i| {
        d["id"] = json!(guid(2, i));
        d["displayName"] = json!(format!("BIG-PC{i:06}"));
    });
    grow(&mut v, "managedDevices", devices, |d, i| {
        d["id"] = json!(guid(3, i));
        d["deviceName"] = json!(format!("BIG-PC{i:06}"));
    });
    v
}

/// Appends copies of the list's own entries (round robin, each `rename`d with its index)
/// until it holds `total`; a longer list is left as it is.
fn grow(v: &mut Value, list: &str, total: usize, rename: impl Fn(&mut Value, usize)) {
    let Some(items) = v.get_mut(list).and_then(Value::as_array_mut) else { return };
    let originals = items.len();
    if originals == 0 {
        return;
    }
    items.reserve(total.saturating_sub(originals));
    for i in originals..total {
        let mut copy = items[i % originals].clone();
        rename(&mut copy, i);
        items.push(copy);
    }
}

/// A GUID-shaped id unique per kind and index.
fn guid(kind: u16, i: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{i:012x}")
}

/// A collector that reads every tenant as a grown tenant of this size (the runner's collector
/// port, in place of Microsoft Graph).
pub struct Collector {
    pub users: usize,
    pub devices: usize,
}

#[async_trait::async_trait]
impl shared::assess::collect::Collector for Collector {
    async fn collect(&self, tenant_id: &str) -> Result<TenantSnapshot, shared::assess::collect::CollectError> {
        Ok(snapshot(tenant_id, self.users, self.devices))
    }
}

/// The engine's assessor on a [`Collector`] of this size: collect + evaluate, as the runner
/// calls it on AWS.
pub fn assessor(users: usize, devices: usize) -> std::sync::Arc<dyn shared::runner::Assessor> {
    std::sync::Arc::new(shared::assess::assessor::EngineAssessor::new(std::sync::Arc::new(Collector {
        users,
        devices,
    })))
}

/// `len` characters of text that deflate cannot shrink much (pseudo-random, 64 symbols, so
/// about 6 bits of 8 stay): for reports of a known stored size. The same `seed` gives the same
/// text.
pub fn incompressible(len: usize, seed: u64) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x >> 58) as usize] as char
        })
        .collect()
}
