//! Schedules (contract, "Schedules, drift and portfolio"): a customer's assessment that
//! repeats weekly, monthly or quarterly at a fixed UTC hour. Each due time (a *period*) is run
//! at most once: the scheduler queues the period's run under an id derived from the schedule
//! and the period, and moves `next_run_at` on with a write conditional on the period it read
//! (`usecases::schedules::run_due`).
//!
//! Stored as they are here (snake_case attributes); the API's camelCase view is the handler's.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, DistributorId, PartnerId, RunId, ScheduleId};
use super::time::Timestamp;

/// The highest `day_of_month` (contract: 1–28, so every month has the day).
pub const DAY_OF_MONTH_MAX: u8 = 28;

/// How often a schedule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Every week on `day_of_week`.
    Weekly,
    /// Every month on `day_of_month`.
    Monthly,
    /// On `day_of_month` of January, April, July and October.
    Quarterly,
}

impl Cadence {
    pub const ALL: [Cadence; 3] = [Self::Weekly, Self::Monthly, Self::Quarterly];

    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
            Self::Quarterly => "quarterly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The days of the week as the API spells them (lower-case English names, Monday first).
pub const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// A weekday's index in [`WEEKDAYS`] (0 = Monday), from its name.
pub fn parse_weekday(s: &str) -> Option<u8> {
    WEEKDAYS.iter().position(|d| *d == s).map(|i| i as u8)
}

/// When a schedule runs: its cadence, the day within it and the hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub cadence: Cadence,
    /// 1–[`DAY_OF_MONTH_MAX`]; set for monthly and quarterly, `None` for weekly.
    pub day_of_month: Option<u8>,
    /// 0 (Monday)–6 (Sunday); set for weekly, `None` otherwise.
    pub day_of_week: Option<u8>,
    /// 0–23, UTC.
    pub hour_utc: u8,
}

impl Timing {
    /// Checks the fields against the cadence; the error names the field at fault.
    pub fn check(&self) -> Result<(), String> {
        if self.hour_utc > 23 {
            return Err(format!("hourUtc must be from 0 to 23, got {}.", self.hour_utc));
        }
        match self.cadence {
            Cadence::Weekly => {
                if self.day_of_month.is_some() {
                    return Err(
                        "dayOfMonth is for monthly and quarterly schedules; a weekly one takes dayOfWeek.".into()
                    );
                }
                match self.day_of_week {
                    None => Err("dayOfWeek is required for a weekly schedule.".into()),
                    Some(d) if d > 6 => Err(format!("dayOfWeek must be one of {}.", WEEKDAYS.join(", "))),
                    Some(_) => Ok(()),
                }
            }
            Cadence::Monthly | Cadence::Quarterly => {
                if self.day_of_week.is_some() {
                    return Err(
                        "dayOfWeek is for weekly schedules; a monthly or quarterly one takes dayOfMonth.".into()
                    );
                }
                match self.day_of_month {
                    None => Err(format!("dayOfMonth is required for a {} schedule.", self.cadence.as_str())),
                    Some(d) if !(1..=DAY_OF_MONTH_MAX).contains(&d) => {
                        Err(format!("dayOfMonth must be from 1 to {DAY_OF_MONTH_MAX}, got {d}."))
                    }
                    Some(_) => Ok(()),
                }
            }
        }
    }

    /// The first due time strictly after `after`: the next slot of the cadence (UTC, on the
    /// hour). A schedule whose scheduler was held up runs once for the slots it missed, then
    /// goes on from the next slot after the time it ran.
    pub fn next_after(&self, after: Timestamp) -> Timestamp {
        let t = Utc.timestamp_opt(after.unix(), 0).single().unwrap_or_default();
        let hour = u32::from(self.hour_utc);
        let at = |d: NaiveDate| Timestamp::from_unix(d.and_hms_opt(hour, 0, 0).map_or(0, |x| x.and_utc().timestamp()));
        match self.cadence {
            Cadence::Weekly => {
                let want = Weekday::try_from(self.day_of_week.unwrap_or(0)).unwrap_or(Weekday::Mon);
                let mut d = t.date_naive();
                // At most 8 steps: today (if the hour is still ahead) or one of the next 7 days.
                loop {
                    if d.weekday() == want && at(d) > after {
                        return at(d);
                    }
                    d += Duration::days(1);
                }
            }
            Cadence::Monthly | Cadence::Quarterly => {
                let day = u32::from(self.day_of_month.unwrap_or(1));
                let step = if self.cadence == Cadence::Monthly { 1 } else { 3 };
                // The cadence's months: every month, or the first of each quarter.
                let (mut y, mut m) = (t.year(), t.month());
                if step == 3 {
                    m = ((m - 1) / 3) * 3 + 1;
                }
                loop {
                    if let Some(d) = NaiveDate::from_ymd_opt(y, m, day) {
                        if at(d) > after {
                            return at(d);
                        }
                    }
                    m += step;
                    if m > 12 {
                        m -= 12;
                        y += 1;
                    }
                }
            }
        }
    }
}

/// Why the last due period made no run (`last_error`): the refusal's error code and message,
/// as the API would have answered P10.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleError {
    pub code: String,
    pub message: String,
    /// The period it was for.
    pub at: Timestamp,
}

/// A customer's schedule (`sch_…`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: ScheduleId,
    pub partner_id: PartnerId,
    pub customer_id: CustomerId,
    /// The partner's distributor (it receives `schedule.failed` too).
    #[serde(default)]
    pub distributor_id: Option<DistributorId>,
    pub product: String,
    pub maturity_target: u8,
    pub cadence: Cadence,
    #[serde(default)]
    pub day_of_month: Option<u8>,
    #[serde(default)]
    pub day_of_week: Option<u8>,
    pub hour_utc: u8,
    pub enabled: bool,
    /// The next period: when its run is due. Only an enabled schedule is due.
    pub next_run_at: Timestamp,
    /// The run of the last period that made one.
    #[serde(default)]
    pub last_run_id: Option<RunId>,
    /// Why the last period made no run; cleared by the next period that makes one.
    #[serde(default)]
    pub last_error: Option<ScheduleError>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    /// Bumped by every write; changes and the scheduler's record are conditional on it.
    pub version: u64,
}

impl Schedule {
    pub fn timing(&self) -> Timing {
        Timing {
            cadence: self.cadence,
            day_of_month: self.day_of_month,
            day_of_week: self.day_of_week,
            hour_utc: self.hour_utc,
        }
    }

    pub fn set_timing(&mut self, t: Timing) {
        self.cadence = t.cadence;
        self.day_of_month = t.day_of_month;
        self.day_of_week = t.day_of_week;
        self.hour_utc = t.hour_utc;
    }

    /// Whether its period is due at `now` (enabled, and `next_run_at` has come).
    pub fn is_due(&self, now: Timestamp) -> bool {
        self.enabled && self.next_run_at <= now
    }
}
