//! D14: a distributor's usage across its sub-partners for a month. A month that has ended is
//! answered from its snapshot once the usage report has closed it; otherwise it is counted live.

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::{App, Ctx};
use crate::domain::time::Month;
use crate::usage_report::live_usage;

pub async fn get(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let d = ctx.distributor()?;
    let current = Month::of(ctx.now);
    let month = match ctx.query.get("month") {
        None => current,
        Some(m) => {
            Month::parse(m).ok_or_else(|| ApiError::InvalidField(format!("month must be YYYY-MM, got {m:?}.")))?
        }
    };
    let closed = if month < current { app.store.usage_snapshot(&d.id, month).await? } else { None };
    let usage = match closed {
        Some(snapshot) => snapshot.usage,
        None => live_usage(app.store.as_ref(), &d.id, month).await?,
    };
    Ok(Reply::ok(usage.to_json()))
}
