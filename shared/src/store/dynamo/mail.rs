//! Recorded mail (`MailStore`).
//!
//! A message is an item of its own (`MAIL#<id>` / `META`, with `attempts`, `status` and, while
//! a try is claimed, `lease_until`); each viewer (the account it concerns, and a partner's
//! distributor) gets two list entries in its `OWNER#` partition, `MAIL#<id>` and
//! `MAILK#<kind>#<id>`, written in the message's transaction and never changed: a list reads
//! the entries newest first (ids are time-ordered), then the messages by key.

use super::*;
use crate::domain::mail::{MailKind, MailMessage, MailStatus};

/// How long a message and its entries are kept (the table's TTL), in seconds: 90 days, as
/// webhook deliveries.
pub const MAIL_RETENTION_SECS: i64 = 90 * 24 * 3600;

#[async_trait]
impl MailStore for DynamoStore {
    async fn create_message(&self, m: &MailMessage) -> StoreResult<()> {
        let ttl = n(m.created_at + MAIL_RETENTION_SECS);
        let mut item = ser(m)?;
        item.extend(schema::mail(&m.id));
        item.insert("ttl".into(), ttl.clone());
        let mut ops = vec![Op::put(item).fresh()];
        for viewer in &m.entry.viewers {
            for sk in [schema::mail_entry_sk(&m.id), schema::mail_kind_entry_sk(m.entry.kind.as_str(), &m.id)] {
                let mut entry = key(schema::owner_pk(viewer), sk);
                entry.insert("mail_id".into(), s(&m.id));
                entry.insert("ttl".into(), ttl.clone());
                ops.push(Op::put(entry));
            }
        }
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn mail_message(&self, id: &str) -> StoreResult<Option<MailMessage>> {
        self.get_as(schema::mail(id)).await
    }

    async fn claim_mail(
        &self,
        id: &str,
        attempt: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<MailClaim> {
        let claim = Op::update(schema::mail(id), "SET #lease_until = :until")
            .when(
                "attribute_exists(PK) AND #status = :pending AND #attempts = :made \
                 AND (attribute_not_exists(#lease_until) OR #lease_until <= :now)",
            )
            .val(":until", n(lease_until))
            .val(":now", n(now))
            .val(":made", n(attempt.saturating_sub(1)))
            .val(":pending", s(MailStatus::Pending.as_str()));
        if let Some(item) = self.write(claim, ReturnValue::AllNew).await? {
            return Ok(MailClaim::Claimed(Box::new(de(item)?)));
        }
        let Some(item) = self.get(schema::mail(id)).await? else { return Ok(MailClaim::Stale) };
        let held = num(&item, "lease_until").is_some_and(|until| until > now.unix());
        let m: MailMessage = de(item)?;
        if m.status == MailStatus::Pending && m.attempts + 1 == attempt && held {
            Ok(MailClaim::Held)
        } else {
            Ok(MailClaim::Stale)
        }
    }

    async fn record_mail(
        &self,
        id: &str,
        attempt: u32,
        status: MailStatus,
        at: Timestamp,
        error: Option<&str>,
    ) -> StoreResult<MailMessage> {
        let mut expr = "SET #attempts = :attempt, #status = :st".to_string();
        if status == MailStatus::Sent {
            expr.push_str(", #sent_at = :at");
        }
        if error.is_some() {
            expr.push_str(", #error = :error");
        }
        expr.push_str(" REMOVE #lease_until");
        let mut op = Op::update(schema::mail(id), expr)
            .when("attribute_exists(PK) AND #status = :pending AND #attempts = :made")
            .val(":attempt", n(attempt))
            .val(":made", n(attempt.saturating_sub(1)))
            .val(":st", s(status.as_str()))
            .val(":pending", s(MailStatus::Pending.as_str()));
        if status == MailStatus::Sent {
            op = op.val(":at", n(at));
        }
        if let Some(e) = error {
            op = op.val(":error", s(e));
        }
        match self.write(op, ReturnValue::AllNew).await? {
            Some(item) => de(item),
            None => match self.get(schema::mail(id)).await? {
                Some(_) => Err(StoreError::Conflict),
                None => Err(StoreError::NotFound),
            },
        }
    }

    async fn list_messages(
        &self,
        viewer: &Owner,
        kind: Option<MailKind>,
        page: &PageRequest,
    ) -> StoreResult<Page<MailMessage>> {
        let prefix = match kind {
            Some(k) => schema::mail_kind_prefix(k.as_str()),
            None => schema::MAIL_ENTRY_PREFIX.to_string(),
        };
        let q = Query::prefix(schema::owner_pk(viewer), &prefix, false);
        let after = page.after.as_ref().map(|id| format!("{prefix}{id}"));
        let (entries, more) = self.page(&q, page.limit.max(1), after).await?;
        let ids: Vec<String> = entries.iter().filter_map(|e| text(e, "mail_id").map(str::to_string)).collect();
        let found = self.batch_get(ids.iter().map(|id| schema::mail(id)).collect()).await?;
        let mut by_id: HashMap<String, MailMessage> = HashMap::new();
        for item in found {
            let m: MailMessage = de(item)?;
            by_id.insert(m.id.clone(), m);
        }
        // In the entries' order (batch reads come back in any order); an expired message whose
        // entry is still there is left out.
        let items: Vec<MailMessage> = ids.iter().filter_map(|id| by_id.remove(id)).collect();
        let next = if more { ids.last().cloned() } else { None };
        Ok(Page { items, next })
    }
}
