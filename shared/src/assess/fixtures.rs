//! Demo tenants: three bundled snapshots (well hardened, a typical small business, neglected)
//! so the pipeline can run end to end before a real Graph collector exists.

use sha2::{Digest, Sha256};

use super::snapshot::TenantSnapshot;

/// The bundled demo tenants, in the order the picker indexes them.
pub const DEMO_TENANTS: [&str; 3] = ["hardened", "small-business", "neglected"];

const HARDENED: &str = include_str!("../../fixtures/tenants/hardened.json");
const SMALL_BUSINESS: &str = include_str!("../../fixtures/tenants/small-business.json");
const NEGLECTED: &str = include_str!("../../fixtures/tenants/neglected.json");

/// One bundled demo tenant by name, as stored (its own `tenantId`).
pub fn demo_fixture(name: &str) -> Option<TenantSnapshot> {
    let json = match name {
        "hardened" => HARDENED,
        "small-business" => SMALL_BUSINESS,
        "neglected" => NEGLECTED,
        _ => return None,
    };
    // The fixtures are compiled in and parsed by the tests: a failure here is a broken build.
    Some(serde_json::from_str(json).expect("bundled demo tenant is a valid TenantSnapshot"))
}

/// Which demo tenant a tenant id gets: the first eight bytes of SHA-256 of the id (trimmed,
/// lower-cased, so a GUID's spelling does not matter) modulo 3. Stable across processes and
/// releases, unlike std's randomly seeded hasher.
pub fn demo_fixture_name(tenant_id: &str) -> &'static str {
    let digest = Sha256::digest(tenant_id.trim().to_ascii_lowercase().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    DEMO_TENANTS[(u64::from_be_bytes(first) % DEMO_TENANTS.len() as u64) as usize]
}

/// A demo snapshot for `tenant_id`, chosen deterministically from the id and carrying it.
pub fn demo_snapshot(tenant_id: &str) -> TenantSnapshot {
    let mut snapshot = demo_fixture(demo_fixture_name(tenant_id)).expect("picker names a bundled tenant");
    snapshot.tenant_id = tenant_id.to_string();
    snapshot
}
