//! `GET /audit` on both bases (contract, "Billing and audit"): the caller's audit entries,
//! newest first, with the filters `action`, `targetId`, `from` and `to`.

use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::{App, Ctx};
use super::Paging;
use crate::domain::audit::{Action, AuditEntry, AuditFilter};
use crate::domain::time::{rfc3339, Timestamp};
use crate::usecases::audit;

/// Longest `targetId` accepted (ids are at most 64 characters; a key's is `{owner id}/{slot}`).
const TARGET_ID_MAX: usize = 80;

pub async fn list(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let filter = read_filter(ctx)?;
    // The cursor is bound to the filters: a page of one list cannot continue another.
    let scope = format!(
        "{}|{}|{}|{}",
        filter.action.map_or("", |a| a.as_str()),
        filter.target_id.as_deref().unwrap_or_default(),
        filter.from.map_or(String::new(), |t| t.unix().to_string()),
        filter.to.map_or(String::new(), |t| t.unix().to_string()),
    );
    let paging = Paging::read(app, ctx, &scope)?;
    let page = audit::list(app.store.as_ref(), &ctx.principal.owner(), &filter, ctx.now, &paging.request).await?;
    let entries: Vec<Value> = page.items.iter().map(view).collect();
    Ok(Reply::ok(json!({ "entries": entries, "nextCursor": paging.next_cursor(app, page.next) })))
}

/// The query's filters; 400 `INVALID_FIELD` for an unknown action, a malformed target id or
/// time, or `from` after `to`.
fn read_filter(ctx: &Ctx) -> Result<AuditFilter, ApiError> {
    let action = match ctx.query.get("action") {
        None => None,
        Some(a) => Some(Action::parse(a).ok_or_else(|| {
            let all: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
            ApiError::InvalidField(format!("action must be one of {}.", all.join(", ")))
        })?),
    };
    let target_id = match ctx.query.get("targetId") {
        None => None,
        Some(t)
            if !t.is_empty()
                && t.len() <= TARGET_ID_MAX
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/') =>
        {
            Some(t.to_string())
        }
        Some(t) => {
            return Err(ApiError::InvalidField(format!(
                "targetId is not an id (at most {TARGET_ID_MAX} letters, digits, _ and /): {}.",
                super::super::request::shown(t)
            )))
        }
    };
    let from = time(ctx, "from")?;
    let to = time(ctx, "to")?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(ApiError::InvalidField("from must not be after to.".into()));
        }
    }
    Ok(AuditFilter { action, target_id, from, to })
}

/// The query parameter `name` as an RFC 3339 time (`2026-12-01T00:00:00Z`), if given.
fn time(ctx: &Ctx, name: &str) -> Result<Option<Timestamp>, ApiError> {
    ctx.query
        .get(name)
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v).map(|t| Timestamp::from_unix(t.timestamp())).map_err(|_| {
                ApiError::InvalidField(format!(
                    "{name} must be an RFC 3339 time such as 2026-12-01T00:00:00Z, got {}.",
                    super::super::request::shown(v)
                ))
            })
        })
        .transpose()
}

/// An entry as `GET /audit` shows it.
fn view(e: &AuditEntry) -> Value {
    json!({
        "id": e.id,
        "at": rfc3339(e.at),
        "actor": e.actor,
        "action": e.action.as_str(),
        "target": e.target,
        "changes": e.changes,
    })
}
