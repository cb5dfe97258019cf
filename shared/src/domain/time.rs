//! Time as the API shows it: RFC 3339 UTC with whole seconds, and `YYYY-MM` months.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeZone, Utc};
use std::sync::atomic::{AtomicI64, Ordering};

/// A moment in time: whole seconds since the Unix epoch, UTC. It has no `Display` on purpose:
/// a time is written either as RFC 3339 ([`Timestamp::rfc3339`]) or as unix seconds
/// ([`Timestamp::unix`]), and the writer says which.
/// Stored and serialised as the
/// bare number (`#[serde(transparent)]`), so items and JSON are what plain `i64` seconds were.
/// Any `i64` is one (times outside chrono's range show as the epoch in [`Timestamp::rfc3339`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    pub const fn from_unix(seconds: i64) -> Self {
        Self(seconds)
    }

    /// The second a millisecond time falls in (rounding down, also before the epoch).
    pub const fn from_unix_ms(ms: i64) -> Self {
        Self(ms.div_euclid(1000))
    }

    pub const fn unix(self) -> i64 {
        self.0
    }

    /// RFC 3339, UTC, whole seconds: `2026-04-03T10:00:00Z`.
    pub fn rfc3339(self) -> String {
        rfc3339(self)
    }

    pub const fn plus_secs(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds))
    }

    pub const fn minus_secs(self, seconds: i64) -> Self {
        Self(self.0.saturating_sub(seconds))
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn secs_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Midnight UTC of the day it falls in.
    pub fn day_start(self) -> Self {
        Self(day_start(self.0))
    }

    /// Whole calendar months later, the day clamped to the target month's length.
    pub fn add_months(self, months: u32) -> Self {
        Self(add_months(self.0, months))
    }
}

impl From<i64> for Timestamp {
    fn from(seconds: i64) -> Self {
        Self(seconds)
    }
}

impl From<Timestamp> for i64 {
    fn from(t: Timestamp) -> i64 {
        t.0
    }
}

/// `t + seconds`: later by that many seconds.
impl std::ops::Add<i64> for Timestamp {
    type Output = Timestamp;
    fn add(self, seconds: i64) -> Timestamp {
        self.plus_secs(seconds)
    }
}

/// `t - seconds`: earlier by that many seconds.
impl std::ops::Sub<i64> for Timestamp {
    type Output = Timestamp;
    fn sub(self, seconds: i64) -> Timestamp {
        self.minus_secs(seconds)
    }
}

/// `later - earlier`: the seconds between two moments (negative when the first is earlier).
impl std::ops::Sub<Timestamp> for Timestamp {
    type Output = i64;
    fn sub(self, earlier: Timestamp) -> i64 {
        self.secs_since(earlier)
    }
}

/// The source of "now", injected so windows, periods and expiry are testable without sleeping.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch, UTC (ids are ordered by them).
    fn now_ms(&self) -> i64;
    /// The current second.
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_ms(self.now_ms())
    }
}

/// A clock standing at one second: ids made for one operation carry its time (provisioning; a
/// request done again under its `Idempotency-Key` as of its first try).
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0.unix() * 1000
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told to.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `at` (a [`Timestamp`] or unix seconds).
    pub fn at(at: impl Into<Timestamp>) -> Self {
        Self(AtomicI64::new(at.into().unix() * 1000))
    }
    pub fn set(&self, at: impl Into<Timestamp>) {
        self.0.store(at.into().unix() * 1000, Ordering::SeqCst);
    }
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339, UTC, whole seconds (`2026-04-03T10:00:00Z`), of a [`Timestamp`] or unix seconds.
pub fn rfc3339(at: impl Into<Timestamp>) -> String {
    Utc.timestamp_opt(at.into().unix(), 0).single().unwrap_or_default().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A calendar month, `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    /// The month a time falls in: unix seconds or a [`Timestamp`].
    pub fn of(at: impl Into<Timestamp>) -> Self {
        let t: DateTime<Utc> = Utc.timestamp_opt(at.into().unix(), 0).single().unwrap_or_default();
        Self { year: t.year(), month: t.month() }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' || !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return None;
        }
        let year: i32 = s[..4].parse().ok()?;
        let month: u32 = s[5..].parse().ok()?;
        (1..=12).contains(&month).then_some(Self { year, month })
    }

    /// Its first second: the 1st at 00:00:00 UTC.
    pub fn start(self) -> Timestamp {
        Timestamp::from_unix(
            NaiveDate::from_ymd_opt(self.year, self.month, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp())
                .unwrap_or_default(),
        )
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self { year: self.year + 1, month: 1 }
        } else {
            Self { year: self.year, month: self.month + 1 }
        }
    }

    /// The first second after it (the next month's start).
    pub fn end(self) -> Timestamp {
        self.next().start()
    }
}

/// `YYYY-MM` on the wire and in storage.
impl serde::Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Month::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not a month (YYYY-MM): {s:?}")))
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Adds whole calendar months to a time, clamping the day to the target month's length.
fn add_months(unix_seconds: i64, months: u32) -> i64 {
    let t = Utc.timestamp_opt(unix_seconds, 0).single().unwrap_or_default();
    t.checked_add_months(chrono::Months::new(months)).map(|t| t.timestamp()).unwrap_or(unix_seconds)
}

/// Midnight UTC of the day a time falls in.
fn day_start(unix_seconds: i64) -> i64 {
    unix_seconds - unix_seconds.rem_euclid(86_400)
}
