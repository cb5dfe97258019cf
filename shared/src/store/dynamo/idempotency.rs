//! Idempotency records (`IdempotencyStore`).

use super::*;

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim_idempotency(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<IdempotencyClaim> {
        for _ in 0..OCC_ATTEMPTS {
            let mut item = schema::idempotency(scope, key);
            item.insert("fingerprint".into(), s(fingerprint));
            item.insert("lease_until".into(), n(lease_until));
            // An unfinished claim lasts as long as its lease; a finished one, its retention.
            item.insert("expires_at".into(), n(lease_until));
            item.insert("ttl".into(), n(lease_until));
            let put = Op::put(item).when("attribute_not_exists(PK) OR #expires_at <= :now").val(":now", n(now));
            if self.write(put, ReturnValue::None).await?.is_some() {
                return Ok(IdempotencyClaim::Claimed);
            }
            let Some(rec) = self.get(schema::idempotency(scope, key)).await? else {
                continue; // released in between: claim again
            };
            if num(&rec, "expires_at").unwrap_or(0) <= now.unix() {
                continue;
            }
            if text(&rec, "fingerprint") != Some(fingerprint) {
                return Ok(IdempotencyClaim::Mismatch);
            }
            if let Some(status) = num(&rec, "status") {
                let body = rec.get("body").and_then(|b| b.as_b().ok()).map(|b| b.as_ref().to_vec()).unwrap_or_default();
                return Ok(IdempotencyClaim::Replay { status: status as u16, body });
            }
            return Ok(IdempotencyClaim::InProgress);
        }
        Err(StoreError::Backend("the idempotency record kept changing; gave up".into()))
    }

    async fn finish_idempotency(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        // A claim that is gone (released, or expired and cleaned up) is left gone.
        let op = Op::update(
            schema::idempotency(scope, key),
            "SET #status = :status, #body = :body, #expires_at = :exp, #ttl = :exp",
        )
        .when("attribute_exists(PK)")
        .val(":status", n(status))
        .val(":body", AV::B(aws_sdk_dynamodb::primitives::Blob::new(body.to_vec())))
        .val(":exp", n(expires_at));
        self.write(op, ReturnValue::None).await?;
        Ok(())
    }

    async fn release_idempotency(&self, scope: &str, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(schema::idempotency(scope, key)))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}
