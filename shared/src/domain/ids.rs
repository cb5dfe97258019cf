//! Identifiers: a prefix and base62 characters. Ids whose listing order matters carry a
//! fixed-width millisecond timestamp first, so byte order is creation order.

use std::sync::Mutex;

pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random base62 text from the operating system's CSPRNG, without modulo bias.
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).expect("the operating system's random source failed");
        for b in buf {
            // 248 = 4 * 62: bytes at or above it would favour the first characters.
            if b < 248 && out.len() < len {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    out
}

fn base62_fixed(mut n: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(digits).expect("base62 is ASCII")
}

/// Makes ids. Time-ordered ids are strictly increasing within one process even when the
/// clock stands still (as an injected test clock does), so "newest first" is well defined.
#[derive(Default)]
pub struct IdGen {
    last: Mutex<(u64, u64)>,
}

pub const TIME_PREFIX_LEN: usize = 8;

impl IdGen {
    pub fn new() -> Self {
        Self::default()
    }

    /// `prefix` + 8 chars of milliseconds + 3 chars of sequence + 9 random chars.
    pub fn time_ordered(&self, prefix: &str, now_ms: u64) -> String {
        let seq = {
            let mut last = self.last.lock().expect("id generator lock");
            let ms = now_ms.max(last.0);
            let seq = if ms == last.0 { last.1 + 1 } else { 0 };
            *last = (ms, seq);
            (ms, seq)
        };
        format!(
            "{prefix}{}{}{}",
            base62_fixed(seq.0, TIME_PREFIX_LEN),
            base62_fixed(seq.1 % 238_328, 3),
            random_base62(9)
        )
    }

    pub fn random(&self, prefix: &str) -> String {
        format!("{prefix}{}", random_base62(20))
    }
}

/// The smallest id (without prefix) that a time-ordered id made at or after `ms` can have.
pub fn time_floor(ms: u64) -> String {
    base62_fixed(ms, TIME_PREFIX_LEN)
}

pub mod prefix {
    pub const DISTRIBUTOR: &str = "dist_";
    pub const PARTNER: &str = "prt_";
    pub const CUSTOMER: &str = "cust_";
    pub const RUN: &str = "run_";
    pub const EVENT: &str = "evt_";
    pub const REQUEST: &str = "req_";
}
