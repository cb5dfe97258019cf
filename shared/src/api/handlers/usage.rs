//! D14: a distributor's usage across its sub-partners for a month.

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::{App, Ctx};
use crate::domain::time::Month;
use crate::usecases::usage::month_usage;

pub async fn get(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let d = ctx.distributor()?;
    let month = match ctx.query.get("month") {
        None => Month::of(ctx.now),
        Some(m) => {
            Month::parse(m).ok_or_else(|| ApiError::InvalidField(format!("month must be YYYY-MM, got {m:?}.")))?
        }
    };
    let ids = super::account::partner_ids(ctx, &d.id);
    Ok(Reply::ok(month_usage(app.store.as_ref(), d, month, ctx.now, ids).await?.to_json()))
}
