//! The audit log (`AuditStore`), and the puts that record an entry with its change.
//!
//! An entry is stored whole (JSON text in `entry`, with `action` and `at` beside it for the
//! filters) under each of its viewers, three times (see `schema::AUDIT_PREFIX`), each item
//! with the table's TTL at `at` + 400 days.

use super::*;
use crate::domain::audit::{AuditEntry, AuditFilter};
use crate::domain::ids::time_floor;

/// The items of `e`, to go in the transaction of the change it records (plain puts: the
/// change's own conditions decide; a write of the same entry again writes the same items).
pub(super) fn audit_puts(e: &AuditEntry) -> StoreResult<Vec<Op>> {
    let json =
        serde_json::to_string(e).map_err(|e| StoreError::Backend(format!("cannot encode an audit entry: {e}")))?;
    let id = e.id.as_str();
    let mut ops = Vec::with_capacity(3 * e.viewers.len());
    for viewer in &e.viewers {
        for prefix in [
            schema::AUDIT_PREFIX.to_string(),
            schema::audit_action_prefix(e.action.as_str()),
            schema::audit_target_prefix(&e.target.id),
        ] {
            let mut item = key(schema::owner_pk(viewer), format!("{prefix}{id}"));
            item.insert("entry".into(), s(json.clone()));
            item.insert("action".into(), s(e.action.as_str()));
            item.insert("at".into(), n(e.at));
            item.insert("ttl".into(), n(e.expires_at()));
            ops.push(Op::put(item));
        }
    }
    Ok(ops)
}

/// The puts of `entry`, if there is one (for the store methods that take it beside the change).
pub(super) fn audit_ops(entry: Option<&AuditEntry>) -> StoreResult<Vec<Op>> {
    entry.map_or(Ok(Vec::new()), audit_puts)
}

#[async_trait]
impl AuditStore for DynamoStore {
    async fn audit_entries(
        &self,
        viewer: &Owner,
        filter: &AuditFilter,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEntry>> {
        // The narrowest family: a target has few entries, so a further action filter is cheap.
        let base = match (&filter.target_id, filter.action) {
            (Some(t), _) => schema::audit_target_prefix(t),
            (None, Some(a)) => schema::audit_action_prefix(a.as_str()),
            (None, None) => schema::AUDIT_PREFIX.to_string(),
        };
        let id_floor = |at: Timestamp| {
            format!("{base}{}{}", crate::domain::ids::prefix::AUDIT, time_floor((at.unix().max(0) as u64) * 1000))
        };
        let lo = filter.from.map_or_else(|| base.clone(), id_floor);
        // An id is never earlier than its entry's `at`, but can be later (made after a clock
        // step back: `IdGen` never goes back): the range reaches an hour past `to` for those,
        // and the filter on `at` keeps it exact.
        let hi = filter.to.map_or_else(|| format!("{base}\u{10FFFF}"), |t| id_floor(t.plus_secs(3601)));
        let mut q = Query::between(schema::owner_pk(viewer), lo, hi, false);
        // Exact times (an id can be later than its entry's `at` after a clock step back), the
        // action within a target, and entries past their 400 days that TTL has not removed yet.
        let mut conds = vec!["#at > :expired".to_string()];
        q.values.insert(":expired".into(), n(now.minus_secs(crate::domain::audit::AUDIT_RETENTION_SECS)));
        if let Some(from) = filter.from {
            conds.push("#at >= :from".into());
            q.values.insert(":from".into(), n(from));
        }
        if let Some(to) = filter.to {
            conds.push("#at <= :to".into());
            q.values.insert(":to".into(), n(to));
        }
        if let (Some(_), Some(a)) = (&filter.target_id, filter.action) {
            conds.push("#action = :action".into());
            q.values.insert(":action".into(), s(a.as_str()));
        }
        q = q.filter(Some(conds.join(" AND ")));
        let after = page.after.as_ref().map(|id| format!("{base}{id}"));
        let (items, next) = self.page_within(&q, page.limit, after, self.list_read_budget).await?;
        let entries = items
            .iter()
            .map(|i| {
                let json =
                    text(i, "entry").ok_or_else(|| StoreError::Backend("an audit entry without its body".into()))?;
                serde_json::from_str(json)
                    .map_err(|e| StoreError::Backend(format!("cannot decode an audit entry: {e}")))
            })
            .collect::<StoreResult<Vec<AuditEntry>>>()?;
        let next = next.as_deref().and_then(|sk| sk.strip_prefix(base.as_str())).map(String::from);
        Ok(Page { items: entries, next })
    }
}
