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

/// The seed of a request's ids under its `Idempotency-Key` (`IdGen::seeded`): HMAC-SHA256 under
/// `master` (the secret's `webhookEncryption`), its own label, of the caller's scope and the key.
/// Secret, so ids made from it are as unguessable as random ones; stable, so the request done
/// again makes the same ids.
pub fn id_seed(master: &[u8], scope: &str, key: &str) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(b"idempotent-ids\0");
    mac.update(scope.as_bytes());
    mac.update(&[0]);
    mac.update(key.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Replay bodies at rest. An answer kept for replay can carry a secret shown only once (a new
/// API key from P14/D15, a webhook's `whsec_` secret), and the table's items flow to its stream
/// and backups; so every kept body is sealed with AES-256-GCM under a key derived from the
/// secret's encryption key, with the record's scope and `Idempotency-Key` as associated data
/// (a sealed body opens only as the answer of the request it was kept for). The replay is the
/// first answer byte for byte, as the contract's "Idempotency" section requires.
///
/// Sealed form: `0x01 ‖ nonce (12 bytes) ‖ ciphertext`. A kept body without the version byte
/// (written before sealing; JSON never starts with 0x01) is replayed as stored.
pub mod sealed {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::{Aes256Gcm, Nonce};
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    const VERSION: u8 = 1;
    /// Separates this key from every other use of the master key.
    const LABEL: &[u8] = b"baref00t/idempotency-replay/v1";

    /// A kept body that no longer opens (a changed key, a damaged item).
    #[derive(Debug, thiserror::Error, PartialEq, Eq)]
    #[error("a kept idempotent answer could not be opened")]
    pub struct SealError;

    fn cipher(master: &[u8]) -> Aes256Gcm {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("HMAC takes any key length");
        mac.update(LABEL);
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        Aes256Gcm::new(&key.into())
    }

    fn aad(scope: &str, key: &str) -> Vec<u8> {
        [scope.as_bytes(), &[0], key.as_bytes()].concat()
    }

    /// Seals `body` for the record (`scope`, `key`) under `master`.
    pub fn seal(master: &[u8], scope: &str, key: &str, body: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let aad = aad(scope, key);
        let sealed = cipher(master)
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: body, aad: &aad })
            .expect("AES-GCM encryption cannot fail");
        let mut out = Vec::with_capacity(1 + nonce.len() + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend(sealed);
        out
    }

    /// The body kept for (`scope`, `key`): opened when sealed, as stored when from before sealing.
    pub fn open(master: &[u8], scope: &str, key: &str, stored: &[u8]) -> Result<Vec<u8>, SealError> {
        match stored.split_first() {
            Some((&VERSION, rest)) if rest.len() >= 12 => {
                let (nonce, sealed) = rest.split_at(12);
                let aad = aad(scope, key);
                cipher(master)
                    .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
                    .map_err(|_| SealError)
            }
            Some((&VERSION, _)) => Err(SealError),
            _ => Ok(stored.to_vec()),
        }
    }
}
