//! Fixed-window counters kept in the store, so every function instance shares them.

use crate::domain::time::Timestamp;
use crate::store::{LimitStore, StoreError};

/// The state of a window after counting a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub limit: u32,
    pub remaining: u32,
    /// When the window ends (the `X-RateLimit-Reset` header shows it as unix seconds).
    pub reset: Timestamp,
    /// Whether this request was over the limit.
    pub exceeded: bool,
}

impl Window {
    /// Whole seconds until the window ends, at least 1.
    pub fn retry_after(&self, now: Timestamp) -> i64 {
        (self.reset - now).max(1)
    }
}

/// The number of the fixed window of `window_secs` that `now` falls in, and when it ends.
pub fn window_at(now: Timestamp, window_secs: i64) -> (i64, Timestamp) {
    let window = now.unix().div_euclid(window_secs);
    (window, Timestamp::from_unix((window + 1) * window_secs))
}

/// The state of a window ending at `reset` whose count, this request included, is `count`.
pub fn counted(limit: u32, count: u64, reset: Timestamp) -> Window {
    Window {
        limit,
        remaining: limit.saturating_sub(count.min(u64::from(u32::MAX)) as u32),
        reset,
        exceeded: count > u64::from(limit),
    }
}

/// Counts one hit for `subject` in the fixed window of `window_secs` that `now` falls in.
/// (The API's per-key limit is counted on the key itself: `KeyStore::key_hit`.)
pub async fn hit(
    store: &dyn LimitStore,
    subject: &str,
    limit: u32,
    window_secs: i64,
    now: Timestamp,
) -> Result<Window, StoreError> {
    let (window, reset) = window_at(now, window_secs);
    let bucket = format!("{subject}#{window}");
    // Kept a window past its end: correctness never depends on the item going away.
    let count = store.count_hit(&bucket, reset + window_secs).await?;
    Ok(counted(limit, count, reset))
}
