//! Several items read together (`ReadTogether`): one strongly consistent `BatchGetItem`, each
//! item decoded as its own getter decodes it.

use super::*;

impl Want {
    /// The item's key.
    fn key(&self) -> Item {
        match self {
            Want::Distributor(id) => schema::distributor(id),
            Want::Partner(id) => schema::partner(id),
            Want::Customer { partner_id, id } => schema::customer(partner_id, id),
            Want::Run { partner_id, id } => schema::run(partner_id, id),
            Want::RunReport { partner_id, run_id } => schema::report(partner_id, run_id),
            Want::RunsUsed { partner_id, month } => schema::usage(partner_id, *month),
            Want::Endpoint { owner, id } => schema::endpoint(owner, id),
            Want::PartnerIds(distributor) => schema::members(distributor),
        }
    }

    /// Decodes the item read for this want; a report of more than one chunk (a big tenant's)
    /// reads its other chunks from `store` (docs/storage.md, "Run reports").
    async fn decode(&self, store: &DynamoStore, item: Option<Item>) -> StoreResult<Got> {
        Ok(match self {
            Want::Distributor(_) => Got::Distributor(item.map(de).transpose()?),
            Want::Partner(_) => Got::Partner(item.map(de).transpose()?),
            Want::Customer { .. } => Got::Customer(customers::decode(item)?),
            Want::Run { .. } => Got::Run(item.map(de).transpose()?),
            Want::RunReport { partner_id, run_id } => {
                Got::RunReport(match item.map(runs::decode_report_head).transpose()? {
                    None => None,
                    Some(runs::ReportHead::Whole(r)) => Some(r),
                    Some(runs::ReportHead::Chunked { first, count }) => {
                        Some(store.report_chunks(partner_id, run_id, first, count).await?)
                    }
                })
            }
            Want::RunsUsed { .. } => Got::RunsUsed(runs::decode_used(item.as_ref())),
            Want::Endpoint { .. } => Got::Endpoint(webhooks::decode_endpoint(item)?),
            Want::PartnerIds(_) => Got::PartnerIds(accounts::decode_members(item.as_ref())),
        })
    }
}

/// The (PK, SK) an item or key names.
fn ident(item: &Item) -> Option<(String, String)> {
    Some((text(item, PK)?.to_string(), text(item, SK)?.to_string()))
}

#[async_trait]
impl ReadTogether for DynamoStore {
    async fn read_together(&self, wants: &[Want]) -> StoreResult<Vec<Got>> {
        let keys: Vec<Item> = wants.iter().map(Want::key).collect();
        // A batch may not name one key twice.
        let mut unique: Vec<Item> = Vec::with_capacity(keys.len());
        for k in &keys {
            if !unique.iter().any(|u| ident(u) == ident(k)) {
                unique.push(k.clone());
            }
        }
        let found: HashMap<(String, String), Item> =
            self.batch_get(unique).await?.into_iter().filter_map(|i| ident(&i).map(|id| (id, i))).collect();
        let mut got = Vec::with_capacity(wants.len());
        for (want, key) in wants.iter().zip(keys) {
            let item = ident(&key).and_then(|id| found.get(&id).cloned());
            got.push(want.decode(self, item).await?);
        }
        Ok(got)
    }
}
