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
        let claim = |since: Timestamp| {
            let mut item = schema::idempotency(scope, key);
            item.insert("fingerprint".into(), s(fingerprint));
            item.insert("lease_until".into(), n(lease_until));
            item.insert("claimed_at".into(), n(since));
            // An unfinished claim lasts as long as its lease; a finished one, its retention.
            item.insert("expires_at".into(), n(lease_until));
            item.insert("ttl".into(), n(lease_until));
            Op::put(item)
        };
        // The common case first: a key never seen.
        if self.write(claim(now).when("attribute_not_exists(PK)"), ReturnValue::None).await?.is_some() {
            return Ok(IdempotencyClaim::Claimed { since: now });
        }
        for _ in 0..OCC_ATTEMPTS {
            let Some(rec) = self.get(schema::idempotency(scope, key)).await? else {
                // Released in between: claim it afresh.
                if self.write(claim(now).when("attribute_not_exists(PK)"), ReturnValue::None).await?.is_some() {
                    return Ok(IdempotencyClaim::Claimed { since: now });
                }
                continue;
            };
            let expires_at = num(&rec, "expires_at").unwrap_or(0);
            if expires_at <= now.unix() {
                // A try of this request that died holding the key is done again as of its time;
                // anything else (a kept answer past its retention, another request) starts afresh.
                let since = match num(&rec, "claimed_at") {
                    Some(at)
                        if !rec.contains_key("status")
                            && text(&rec, "fingerprint") == Some(fingerprint)
                            && at > now.unix() - TAKEOVER_WINDOW_SECS =>
                    {
                        Timestamp::from_unix(at)
                    }
                    _ => now,
                };
                let put = claim(since).when("#expires_at = :seen").val(":seen", n(expires_at));
                if self.write(put, ReturnValue::None).await?.is_some() {
                    return Ok(IdempotencyClaim::Claimed { since });
                }
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
