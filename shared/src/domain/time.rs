//! Time as the API shows it: RFC 3339 UTC with whole seconds, and `YYYY-MM` months.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeZone, Utc};
use std::sync::atomic::{AtomicI64, Ordering};

/// The source of "now", injected so windows, periods and expiry are testable without sleeping.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
    fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
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
    pub fn at(unix_seconds: i64) -> Self {
        Self(AtomicI64::new(unix_seconds * 1000))
    }
    pub fn set(&self, unix_seconds: i64) {
        self.0.store(unix_seconds * 1000, Ordering::SeqCst);
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

pub fn rfc3339(unix_seconds: i64) -> String {
    Utc.timestamp_opt(unix_seconds, 0).single().unwrap_or_default().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A calendar month, `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn of(unix_seconds: i64) -> Self {
        let t: DateTime<Utc> = Utc.timestamp_opt(unix_seconds, 0).single().unwrap_or_default();
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

    pub fn start(self) -> i64 {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp())
            .unwrap_or_default()
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self { year: self.year + 1, month: 1 }
        } else {
            Self { year: self.year, month: self.month + 1 }
        }
    }

    pub fn end(self) -> i64 {
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
pub fn add_months(unix_seconds: i64, months: u32) -> i64 {
    let t = Utc.timestamp_opt(unix_seconds, 0).single().unwrap_or_default();
    t.checked_add_months(chrono::Months::new(months)).map(|t| t.timestamp()).unwrap_or(unix_seconds)
}

/// Midnight UTC of the day a time falls in.
pub fn day_start(unix_seconds: i64) -> i64 {
    unix_seconds - unix_seconds.rem_euclid(86_400)
}
