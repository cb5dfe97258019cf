//! The outbox (`Outbox`), and the put that records an event with its change.

use super::*;

pub(super) fn event_put(e: &Event) -> StoreResult<Op> {
    let json = serde_json::to_string(e).map_err(|e| StoreError::Backend(format!("cannot encode an event: {e}")))?;
    let mut item = schema::event(&e.id);
    item.insert("event".into(), s(json));
    item.insert("type".into(), s(e.kind.as_str()));
    item.insert("timestamp".into(), n(e.timestamp));
    Ok(Op::put(item).fresh())
}

#[async_trait]
impl Outbox for DynamoStore {
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<Event>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (items, _) =
            self.page(&Query::prefix(schema::OUTBOX_PK.to_string(), schema::EVENT_PREFIX, true), limit, None).await?;
        items
            .iter()
            .map(|i| {
                let json = text(i, "event").ok_or_else(|| StoreError::Backend("an event without its body".into()))?;
                serde_json::from_str(json).map_err(|e| StoreError::Backend(format!("cannot decode an event: {e}")))
            })
            .collect()
    }

    async fn ack_events(&self, ids: &[String]) -> StoreResult<()> {
        let mut keys: Vec<Item> = ids.iter().map(|id| schema::event(id)).collect();
        keys.sort_by(|a, b| text(a, SK).cmp(&text(b, SK)));
        keys.dedup_by(|a, b| text(a, SK) == text(b, SK));
        self.batch_delete(keys).await
    }
}
