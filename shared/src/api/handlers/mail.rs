//! `GET /mail/messages` on both bases (contract, "Mail"): the caller's recorded messages,
//! newest first, optionally of one `kind`; a distributor sees its own and its partners'.

use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::{App, Ctx};
use super::Paging;
use crate::domain::mail::{MailKind, MailMessage};
use crate::domain::time::rfc3339;
use crate::usecases::mail;

pub async fn list(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let kind = match ctx.query.get("kind") {
        None => None,
        Some(k) => Some(MailKind::parse(k).ok_or_else(|| {
            let all: Vec<&str> = MailKind::ALL.iter().map(|k| k.as_str()).collect();
            ApiError::InvalidField(format!("kind must be one of {}.", all.join(", ")))
        })?),
    };
    let paging = Paging::read(app, ctx, kind.map_or("", |k| k.as_str()))?;
    let page = mail::list(app.store.as_ref(), &ctx.principal.owner(), kind, &paging.request).await?;
    let messages: Vec<Value> = page.items.iter().map(view).collect();
    Ok(Reply::ok(json!({ "messages": messages, "nextCursor": paging.next_cursor(app, page.next) })))
}

/// A message as the list shows it (never its bodies).
fn view(m: &MailMessage) -> Value {
    json!({
        "id": m.id,
        "kind": m.entry.kind.as_str(),
        "to": m.entry.to,
        "subject": m.entry.subject,
        "status": m.status.as_str(),
        "createdAt": rfc3339(m.created_at),
        "sentAt": m.sent_at.map(rfc3339),
        "error": m.error,
    })
}
