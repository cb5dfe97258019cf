//! The outbox (`Outbox`), and the put that records an event with its change.

use super::*;

pub(super) fn event_put(e: &Event) -> StoreResult<Op> {
    // The change's audit entry rides along: in the same transaction as the event, so as the change.
    let mut audit = super::audit::audit_ops(e.audit.as_deref())?;
    if !e.for_relay() && !audit.is_empty() {
        // Nothing for the relay: only the audit entry is written.
        let first = audit.remove(0);
        return Ok(first.with_riders(audit));
    }
    let json = serde_json::to_string(e).map_err(|e| StoreError::Backend(format!("cannot encode an event: {e}")))?;
    let mut item = schema::event(&e.id);
    item.insert("event".into(), s(json));
    item.insert("type".into(), s(e.kind.as_str()));
    item.insert("timestamp".into(), n(e.timestamp));
    Ok(Op::put(item).fresh().with_riders(audit))
}

#[async_trait]
impl Outbox for DynamoStore {
    async fn record_event(&self, event: &Event) -> StoreResult<()> {
        match self.write(event_put(event)?, ReturnValue::None).await? {
            Some(_) => Ok(()),
            // Written before (the same event id): it is there.
            None => Ok(()),
        }
    }

    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<Event>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Every shard (and the partition written before sharding), at once, merged by sort key:
        // event ids are time-ordered, so that is oldest first.
        let queries = schema::partitions(schema::OUTBOX_PK)
            .into_iter()
            .map(|pk| async move { self.page(&Query::prefix(pk, schema::EVENT_PREFIX, true), limit, None).await });
        let answers = futures_util::future::try_join_all(queries).await?;
        let mut events = Vec::with_capacity(limit);
        for item in merge_oldest(answers, SK, limit) {
            let decoded =
                text(&item, "event").ok_or_else(|| "an event without its body".to_string()).and_then(|json| {
                    serde_json::from_str::<Event>(json).map_err(|e| format!("cannot decode an event: {e}"))
                });
            match decoded {
                Ok(event) => {
                    if text(&item, PK) == Some(schema::OUTBOX_PK) {
                        self.move_to_its_shard(item, &event.id).await?;
                    }
                    events.push(event);
                }
                // One item that never decodes must not stop every event behind it.
                Err(reason) => self.quarantine(item, &reason).await?,
            }
        }
        Ok(events)
    }

    async fn ack_events(&self, ids: &[String]) -> StoreResult<()> {
        let mut keys: Vec<Item> = ids.iter().map(|id| schema::event(id)).collect();
        keys.sort_by(|a, b| text(a, SK).cmp(&text(b, SK)));
        keys.dedup_by(|a, b| text(a, SK) == text(b, SK));
        self.batch_delete(keys).await
    }

    async fn event_failed(&self, id: &str, reason: &str, now: Timestamp) -> StoreResult<Option<EventFailures>> {
        let op = Op::update(
            schema::event(id),
            "ADD #failures :one SET #first_failed_at = if_not_exists(#first_failed_at, :now), #error = :reason",
        )
        .when("attribute_exists(PK)")
        .val(":one", n(1))
        .val(":now", n(now))
        .val(":reason", s(reason));
        Ok(self.write(op, ReturnValue::AllNew).await?.map(|item| EventFailures {
            count: num(&item, "failures").unwrap_or(1) as u32,
            since: num(&item, "first_failed_at").map_or(now, Timestamp::from_unix),
        }))
    }

    async fn quarantine_event(&self, id: &str, reason: &str) -> StoreResult<()> {
        match self.get(schema::event(id)).await? {
            Some(item) => self.quarantine(item, reason).await,
            None => Ok(()),
        }
    }

    async fn quarantined_events(&self, limit: usize) -> StoreResult<Vec<Quarantined>> {
        let q = Query::prefix(schema::QUARANTINE_PK.to_string(), schema::EVENT_PREFIX, true);
        let (items, _) = self.page(&q, limit, None).await?;
        Ok(items
            .iter()
            .map(|i| Quarantined {
                id: text(i, SK).unwrap_or_default().trim_start_matches(schema::EVENT_PREFIX).to_string(),
                reason: text(i, "error").unwrap_or_default().to_string(),
            })
            .collect())
    }

    async fn release_quarantined(&self, id: &str) -> StoreResult<bool> {
        let held = key(schema::QUARANTINE_PK, schema::event_sk(id));
        let Some(item) = self.get(held.clone()).await? else { return Ok(false) };
        let json = text(&item, "event").ok_or_else(|| StoreError::Backend(format!("{id}: no event body")))?;
        let event: Event = serde_json::from_str(json)
            .map_err(|e| StoreError::Backend(format!("{id} does not decode ({e}); it stays in quarantine")))?;
        // As `event_put` writes it (into its shard), the failure count gone with the old item.
        let ops = vec![Op::delete(held).when("attribute_exists(PK)"), event_put(&event)?];
        Ok(self.transact(ops).await?.is_ok())
    }
}

impl DynamoStore {
    /// Moves an event written before the outbox was sharded into its shard, in one transaction,
    /// before it is handed out: acknowledging it, counting its failures and quarantining it
    /// then find it where they look (by its id).
    async fn move_to_its_shard(&self, item: Item, id: &str) -> StoreResult<()> {
        let mut moved = item;
        moved.extend(schema::event(id));
        let ops = vec![Op::delete(key(schema::OUTBOX_PK, schema::event_sk(id))), Op::put(moved).fresh()];
        // A concurrent relay that moved it first makes this one fail: either way it is there.
        let _ = self.transact(ops).await?;
        Ok(())
    }

    /// Moves an outbox item to the quarantine partition, with the reason, in one transaction
    /// (it leaves the outbox only if it arrives there): one that does not decode, or whose
    /// fan-out kept failing.
    async fn quarantine(&self, item: Item, reason: &str) -> StoreResult<()> {
        let (pk, sk) =
            (text(&item, PK).unwrap_or_default().to_string(), text(&item, SK).unwrap_or_default().to_string());
        tracing::error!(sk = sk.as_str(), reason, "an outbox item is quarantined");
        let mut moved = item.clone();
        moved.insert(PK.into(), s(schema::QUARANTINE_PK));
        moved.insert("error".into(), s(reason));
        let ops = vec![Op::delete(key(pk, sk)), Op::put(moved)];
        // A concurrent relay that moved it first makes this one fail: either way it is gone.
        let _ = self.transact(ops).await?;
        Ok(())
    }
}
