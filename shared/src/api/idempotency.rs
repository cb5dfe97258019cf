//! How an `Idempotency-Key` request is recognised when it comes again.

use sha2::{Digest, Sha256};

use crate::auth::hex;
use crate::domain::account::Owner;

/// Keys are scoped to the calling account.
pub fn scope(owner: &Owner) -> String {
    format!("{}#{}", owner.surface.key_prefix(), owner.id)
}

/// What must be the same for a repeat to be "the same request": route, path and body.
pub fn fingerprint(route_name: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(route_name.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    hex(&h.finalize())
}
