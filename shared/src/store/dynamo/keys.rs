//! API keys (`KeyStore`).

use serde::{Deserialize, Serialize};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::*;
use crate::domain::account::Surface;
use crate::domain::time::Timestamp;

/// An API key as stored, both under its hash and in its owner's slot.
#[derive(Serialize, Deserialize)]
pub(super) struct KeyRecord {
    pub(super) hash: String,
    pub(super) owner: Owner,
    pub(super) slot: u8,
    pub(super) created_at: Timestamp,
}

impl From<KeyRecord> for StoredKey {
    fn from(r: KeyRecord) -> Self {
        StoredKey { hash: r.hash, owner: r.owner, slot: r.slot, created_at: r.created_at }
    }
}

/// The key item's rate-limit counter: the window last counted and its hits (issue 16: the
/// request pipeline resolves the key and counts the request in one write).
const RL_WINDOW: &str = "rl_window";
const RL_HITS: &str = "rl_hits";

fn key_and_hits(item: Item) -> StoreResult<Option<(StoredKey, u64)>> {
    let hits = num(&item, RL_HITS).ok_or_else(|| StoreError::Backend("the request counter was not returned".into()))?;
    Ok(Some((de::<KeyRecord>(item)?.into(), hits as u64)))
}

impl DynamoStore {
    /// One conditional update of the key item's counter: `Ok` with the item after it, or
    /// `Err` with the item as it was when the condition failed (`None`: no such item).
    async fn key_counter(
        &self,
        hash: &str,
        update: &str,
        condition: &str,
        window: i64,
    ) -> StoreResult<Result<Item, Option<Item>>> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(schema::api_key(hash)))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#w", RL_WINDOW)
            .expression_attribute_names("#h", RL_HITS)
            .expression_attribute_values(":w", n(window))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match sent {
            Ok(out) => Ok(Ok(out.attributes.unwrap_or_default())),
            Err(e) if ccf(&e) => {
                let old = match e.into_service_error() {
                    UpdateItemError::ConditionalCheckFailedException(c) => c.item,
                    _ => None,
                };
                Ok(Err(old))
            }
            Err(e) => Err(backend(e)),
        }
    }
}

#[async_trait]
impl KeyStore for DynamoStore {
    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<StoredKey>> {
        Ok(self.get_as::<KeyRecord>(schema::api_key(hash)).await?.map(StoredKey::from))
    }

    async fn key_hit(&self, hash: &str, window: i64) -> StoreResult<Option<(StoredKey, u64)>> {
        // Counting in the window the key is in is one UpdateItem. When its condition fails,
        // the item as it was (returned by the failure) decides: none (no such key: nothing
        // written), a window behind (start this one at 1), or one ahead (count there).
        let mut target = window;
        for _ in 0..OCC_ATTEMPTS {
            let counted = self.key_counter(hash, "ADD #h :one", "attribute_exists(PK) AND #w = :w", target).await?;
            let old = match counted {
                Ok(item) => return key_and_hits(item),
                Err(None) => return Ok(None),
                Err(Some(old)) => old,
            };
            match num(&old, RL_WINDOW) {
                Some(w) if w >= target => target = w,
                _ => {
                    let started = self
                        .key_counter(
                            hash,
                            "SET #w = :w, #h = :one",
                            "attribute_exists(PK) AND (attribute_not_exists(#w) OR #w < :w)",
                            target,
                        )
                        .await?;
                    match started {
                        Ok(item) => return key_and_hits(item),
                        Err(None) => return Ok(None),
                        // Another request started this window (or a later one) meanwhile.
                        Err(Some(_)) => {}
                    }
                }
            }
        }
        Err(StoreError::Backend(format!("key {hash}: its request counter kept changing")))
    }

    async fn issue_key(
        &self,
        owner: &Owner,
        slot: u8,
        hash: &str,
        at: Timestamp,
        event: Option<&Event>,
    ) -> StoreResult<()> {
        let record = ser(&KeyRecord { hash: hash.to_string(), owner: owner.clone(), slot, created_at: at })?;
        let mut ops = Vec::new();
        let partner = owner.surface == Surface::Partner;
        if partner {
            // Bumping the partner's version makes a suspension that read the keys before this
            // write fail its condition and read again: suspension and issue never interleave.
            ops.push(
                Op::update(schema::partner(&owner.id), "ADD #ver :one")
                    .when("attribute_exists(PK) AND #st <> :suspended")
                    .name("#st", "status")
                    .val(":one", n(1))
                    .val(":suspended", s(AccountStatus::Suspended.as_str())),
            );
        }
        let first = ops.len();
        let mut slot_item = record.clone();
        slot_item.extend(schema::slot(owner, slot));
        ops.push(Op::put(slot_item).fresh());
        let mut key_item = record;
        key_item.extend(schema::api_key(hash));
        ops.push(Op::put(key_item).fresh());
        if let Some(e) = event {
            ops.push(event_put(e)?);
        }
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(c) if partner && c.failed(0) => match self.partner(&owner.id).await? {
                Some(p) if p.status == AccountStatus::Suspended => Err(StoreError::OwnerSuspended),
                Some(_) => Err(StoreError::Conflict),
                None => Err(StoreError::NotFound),
            },
            Err(c) if c.failed(first) || c.failed(first + 1) => Err(StoreError::Conflict),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn revoke_key(&self, owner: &Owner, slot: u8, event: &Event) -> StoreResult<()> {
        for _ in 0..OCC_ATTEMPTS {
            let slots = self.slots(owner).await?;
            let Some(this) = slots.iter().find(|k| k.slot == slot) else {
                return Err(StoreError::NotFound);
            };
            let Some(other) = slots.iter().find(|k| k.slot != slot) else {
                return Err(StoreError::LastKey);
            };
            let ops = vec![
                Op::delete(schema::slot(owner, slot)).when("#h = :h").name("#h", "hash").val(":h", s(&this.hash)),
                Op::delete(schema::api_key(&this.hash)),
                // The other key must still be there when this one goes.
                Op::check(schema::slot(owner, other.slot), "#h = :h").name("#h", "hash").val(":h", s(&other.hash)),
                event_put(event)?,
            ];
            match self.transact(ops).await? {
                Ok(()) => return Ok(()),
                Err(_) => continue,
            }
        }
        Err(StoreError::Backend("the keys kept changing; gave up".into()))
    }

    async fn keys_of(&self, owner: &Owner) -> StoreResult<Vec<StoredKey>> {
        Ok(self.slots(owner).await?.into_iter().map(StoredKey::from).collect())
    }
}

impl DynamoStore {
    /// The owner's key slots, as stored.
    pub(super) async fn slots(&self, owner: &Owner) -> StoreResult<Vec<KeyRecord>> {
        let items = self.all(&Query::prefix(schema::owner_pk(owner), schema::SLOT_PREFIX, true)).await?;
        items.into_iter().map(de).collect()
    }
}
