//! Closed months' usage snapshots (`UsageStore`).

use super::*;

#[async_trait]
impl UsageStore for DynamoStore {
    async fn close_usage_month(&self, snapshot: &UsageSnapshot) -> StoreResult<bool> {
        let mut item = ser(snapshot)?;
        item.extend(schema::snapshot(&snapshot.distributor_id, snapshot.month()));
        Ok(self.write(Op::put(item).fresh(), ReturnValue::None).await?.is_some())
    }

    async fn usage_snapshot(&self, distributor_id: &str, month: Month) -> StoreResult<Option<UsageSnapshot>> {
        self.get_as(schema::snapshot(distributor_id, month)).await
    }
}
