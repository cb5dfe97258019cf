//! Identifiers: a prefix and base62 characters. Ids whose listing order matters carry a
//! fixed-width millisecond timestamp first, so byte order is creation order.
//!
//! # Typed ids
//!
//! An id of the domain is an [`Id<K>`]: the text, tagged at compile time with its kind `K`
//! (a zero-sized marker of [`kind`]). Each kind implements [`IdKind`], and its `PREFIX` there
//! is the one place that prefix is written: [`prefix`] only re-exports them, and new ids are
//! made through the kind ([`Id::new`], [`IdGen::new_id`], or the use cases' `Ids::new_id`),
//! never by passing a prefix around. The aliases ([`CustomerId`], [`RunId`], …) are what the
//! domain structs use.
//!
//! An `Id<K>` is its text and nothing else: it serialises as the bare JSON string (items and
//! responses look as they did when ids were `String`s), and it reads back from storage, JSON
//! or a URL without checking the prefix ([`Id::from_stored`], `From<String>`): an id that is
//! not ours is just an id nothing is stored under. Lookups keep taking `&str`; an `Id<K>`
//! derefs to `str` and compares with `str`, `&str` and `String` either way round.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::Deref;
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
    /// Set for a request under an `Idempotency-Key`: the "random" parts come from this key and a
    /// counter instead, so doing the request again (after its first try died) makes the same ids
    /// in the same order, and its writes meet the first try's instead of repeating them.
    seed: Option<Seed>,
}

struct Seed {
    key: Vec<u8>,
    drawn: std::sync::atomic::AtomicU64,
}

pub const TIME_PREFIX_LEN: usize = 8;

impl IdGen {
    pub fn new() -> Self {
        Self::default()
    }

    /// A generator whose ids are a function of `key` (at least 32 secret bytes) and the order
    /// they are asked for: see the `seed` field. Time parts still come from the time given.
    pub fn seeded(key: Vec<u8>) -> Self {
        Self { last: Mutex::default(), seed: Some(Seed { key, drawn: Default::default() }) }
    }

    /// `len` base62 characters: random, or the next ones the seed derives.
    fn tail(&self, len: usize) -> String {
        let Some(seed) = &self.seed else { return random_base62(len) };
        use hmac::{Hmac, Mac};
        let n = seed.drawn.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut out = String::with_capacity(len);
        // Blocks of HMAC-SHA256(key, n, block); bytes at or above 248 are skipped (no bias).
        for block in 0u64.. {
            let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&seed.key).expect("HMAC takes any key length");
            mac.update(&n.to_be_bytes());
            mac.update(&block.to_be_bytes());
            for b in mac.finalize().into_bytes() {
                if b < 248 && out.len() < len {
                    out.push(BASE62[(b % 62) as usize] as char);
                }
            }
            if out.len() == len {
                break;
            }
        }
        out
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
        format!("{prefix}{}{}{}", base62_fixed(seq.0, TIME_PREFIX_LEN), base62_fixed(seq.1 % 238_328, 3), self.tail(9))
    }

    pub fn random(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.tail(20))
    }

    /// A new time-ordered id of kind `K` (see [`IdGen::time_ordered`]).
    pub fn new_id<K: IdKind>(&self, now_ms: u64) -> Id<K> {
        Id::new(self, now_ms)
    }
}

/// The smallest id (without prefix) that a time-ordered id made at or after `ms` can have.
pub fn time_floor(ms: u64) -> String {
    base62_fixed(ms, TIME_PREFIX_LEN)
}

/// What an id is the id of: its prefix (written here once per kind) and a name for messages.
pub trait IdKind: 'static {
    /// The text every new id of this kind starts with.
    const PREFIX: &'static str;
    /// What the id names, in lower case (`"customer"`).
    const NAME: &'static str;
}

/// The kinds of id: zero-sized markers, one per thing with an id of its own.
pub mod kind {
    use super::IdKind;

    macro_rules! kinds {
        ($($(#[$doc:meta])* $ty:ident => $prefix:literal, $name:literal;)*) => {$(
            $(#[$doc])*
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub enum $ty {}
            impl IdKind for $ty {
                const PREFIX: &'static str = $prefix;
                const NAME: &'static str = $name;
            }
        )*};
    }

    kinds! {
        Distributor => "dist_", "distributor";
        Partner => "prt_", "partner";
        Customer => "cust_", "customer";
        Run => "run_", "run";
        Event => "evt_", "event";
        /// A webhook endpoint.
        Endpoint => "whk_", "endpoint";
        /// A webhook delivery.
        Delivery => "dlv_", "delivery";
        /// An HTTP request (the `x-request-id` header; not stored).
        Request => "req_", "request";
        /// An audit log entry.
        Audit => "aud_", "audit entry";
        /// An exception to one requirement of a customer (contract, "Tenant context and exceptions").
        Exception => "exc_", "exception";
        /// A customer's schedule (contract, "Schedules, drift and portfolio").
        Schedule => "sch_", "schedule";
    }
}

pub type DistributorId = Id<kind::Distributor>;
pub type PartnerId = Id<kind::Partner>;
pub type CustomerId = Id<kind::Customer>;
pub type RunId = Id<kind::Run>;
pub type EventId = Id<kind::Event>;
pub type EndpointId = Id<kind::Endpoint>;
pub type DeliveryId = Id<kind::Delivery>;
pub type AuditId = Id<kind::Audit>;
pub type ExceptionId = Id<kind::Exception>;
pub type ScheduleId = Id<kind::Schedule>;

/// An id of kind `K`: its text, which serialises as the bare string. See the module docs.
pub struct Id<K: IdKind>(String, PhantomData<fn() -> K>);

impl<K: IdKind> Id<K> {
    /// A new time-ordered id: `K::PREFIX` then [`IdGen::time_ordered`]'s characters.
    pub fn new(gen: &IdGen, now_ms: u64) -> Self {
        Self::from_stored(gen.time_ordered(K::PREFIX, now_ms))
    }

    /// An id as read back (from storage, JSON, a path or a message): any text, unchecked.
    pub fn from_stored(s: String) -> Self {
        Self(s, PhantomData)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether the text starts with this kind's prefix (as every id made here does).
    pub fn has_prefix(&self) -> bool {
        self.0.starts_with(K::PREFIX)
    }
}

impl<K: IdKind> Clone for Id<K> {
    fn clone(&self) -> Self {
        Self::from_stored(self.0.clone())
    }
}

impl<K: IdKind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<K: IdKind> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<K: IdKind> Deref for Id<K> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<K: IdKind> AsRef<str> for Id<K> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Hash and equality are the text's, so a map keyed by ids can be searched with a `&str`.
impl<K: IdKind> Borrow<str> for Id<K> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<K: IdKind> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K: IdKind> Eq for Id<K> {}

impl<K: IdKind> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl<K: IdKind> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: IdKind> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl<K: IdKind> PartialEq<str> for Id<K> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl<K: IdKind> PartialEq<&str> for Id<K> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl<K: IdKind> PartialEq<String> for Id<K> {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl<K: IdKind> PartialEq<Id<K>> for str {
    fn eq(&self, other: &Id<K>) -> bool {
        self == other.0
    }
}

impl<K: IdKind> PartialEq<Id<K>> for &str {
    fn eq(&self, other: &Id<K>) -> bool {
        *self == other.0
    }
}

impl<K: IdKind> PartialEq<Id<K>> for String {
    fn eq(&self, other: &Id<K>) -> bool {
        *self == other.0
    }
}

/// As `serde_json` compares a JSON value with a `String`: equal when it is that string.
impl<K: IdKind> PartialEq<Id<K>> for serde_json::Value {
    fn eq(&self, other: &Id<K>) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

impl<K: IdKind> From<String> for Id<K> {
    fn from(s: String) -> Self {
        Self::from_stored(s)
    }
}

impl<K: IdKind> From<&str> for Id<K> {
    fn from(s: &str) -> Self {
        Self::from_stored(s.to_string())
    }
}

impl<K: IdKind> From<Id<K>> for String {
    fn from(id: Id<K>) -> String {
        id.0
    }
}

impl<K: IdKind> From<&Id<K>> for String {
    fn from(id: &Id<K>) -> String {
        id.0.clone()
    }
}

impl<K: IdKind> serde::Serialize for Id<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de, K: IdKind> serde::Deserialize<'de> for Id<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::from_stored)
    }
}

/// The prefixes as plain text, for code that matches on text (the operator CLI): each is its
/// kind's [`IdKind::PREFIX`].
pub mod prefix {
    use super::{kind, IdKind};

    pub const DISTRIBUTOR: &str = kind::Distributor::PREFIX;
    pub const PARTNER: &str = kind::Partner::PREFIX;
    pub const CUSTOMER: &str = kind::Customer::PREFIX;
    pub const RUN: &str = kind::Run::PREFIX;
    pub const EVENT: &str = kind::Event::PREFIX;
    pub const ENDPOINT: &str = kind::Endpoint::PREFIX;
    pub const DELIVERY: &str = kind::Delivery::PREFIX;
    pub const REQUEST: &str = kind::Request::PREFIX;
    pub const AUDIT: &str = kind::Audit::PREFIX;
    pub const EXCEPTION: &str = kind::Exception::PREFIX;
}
