//! Endpoint secrets at rest: AES-256-GCM under a key from Secrets Manager, a fresh nonce per
//! encryption, stored as base64(nonce ‖ ciphertext).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("an endpoint secret could not be decrypted")]
pub struct SecretError;

fn cipher(key: &[u8]) -> Aes256Gcm {
    // Any key length is turned into the 32 bytes AES-256 needs.
    let key: [u8; 32] = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(key)).into();
    Aes256Gcm::new(&key.into())
}

pub fn encrypt(key: &[u8], secret: &str) -> String {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).expect("the operating system's random source failed");
    let sealed =
        cipher(key).encrypt(Nonce::from_slice(&nonce), secret.as_bytes()).expect("AES-GCM encryption cannot fail");
    let mut out = nonce.to_vec();
    out.extend(sealed);
    B64.encode(out)
}

pub fn decrypt(key: &[u8], stored: &str) -> Result<String, SecretError> {
    let raw = B64.decode(stored).map_err(|_| SecretError)?;
    if raw.len() < 12 {
        return Err(SecretError);
    }
    let (nonce, sealed) = raw.split_at(12);
    let plain = cipher(key).decrypt(Nonce::from_slice(nonce), sealed).map_err(|_| SecretError)?;
    String::from_utf8(plain).map_err(|_| SecretError)
}
