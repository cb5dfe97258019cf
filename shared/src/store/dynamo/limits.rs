//! Rate-limit windows (`LimitStore`).

use super::*;

#[async_trait]
impl LimitStore for DynamoStore {
    async fn count_hit(&self, bucket: &str, expires_at: Timestamp) -> StoreResult<u64> {
        let op = Op::update(schema::window(bucket), "ADD #hits :one SET #ttl = if_not_exists(#ttl, :exp)")
            .val(":one", n(1))
            .val(":exp", n(expires_at));
        self.write(op, ReturnValue::UpdatedNew)
            .await?
            .as_ref()
            .and_then(|a| num(a, "hits"))
            .map(|h| h as u64)
            .ok_or_else(|| StoreError::Backend("the counter was not returned".into()))
    }
}
