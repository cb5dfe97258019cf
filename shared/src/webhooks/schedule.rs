//! When failed attempts are tried again.

/// 1 min, 5 min, 30 min, 2 h, 12 h: six attempts in all, then the delivery is failed.
pub const DEFAULT_RETRY_SCHEDULE: [i64; 5] = [60, 300, 1800, 7200, 43200];

/// SQS delays stop here; longer waits are chained.
pub const MAX_QUEUE_DELAY_SECS: i64 = 900;

/// Reads `WEBHOOK_RETRY_SCHEDULE`: seconds, comma-separated, each above 0.
pub fn parse(raw: &str) -> Result<Vec<i64>, String> {
    raw.split(',')
        .map(|p| {
            p.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{p:?} is not a number of seconds above 0"))
        })
        .collect()
}

/// The wait after failed attempt `attempt` (1-based), or `None` when it was the last.
pub fn delay_after(schedule: &[i64], attempt: u32) -> Option<i64> {
    schedule.get(attempt as usize - 1).copied()
}
