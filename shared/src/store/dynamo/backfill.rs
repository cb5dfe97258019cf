//! The one-off migration that writes the list entries older versions did not write (issue 13,
//! item 10): a run's entries under its product and under its customer and product, and a
//! partner's entry under its status, and each distributor's set of partner ids (issue 16).
//! Without them, `GET /assessments?product=` and D2's `?status=` would miss what was stored
//! before (and D1, D2, D14 keep querying the entries). Run by the operator (`admin backfill-list-entries`)
//! once after deploying the version that reads them; running it again writes nothing.

use super::*;

/// What [`DynamoStore::backfill_list_entries`] found and wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backfilled {
    /// Items the scan read (the whole table).
    pub scanned: usize,
    /// List entries written (each was missing).
    pub written: usize,
}

impl DynamoStore {
    /// Scans the table once and writes every missing list entry. Each entry is written in a
    /// transaction with a check that what it points at is still as read (the run exists; the
    /// partner still has that status), so a run deleted or a status changed meanwhile leaves no
    /// stray entry; those changes write their own entries. Safe to run while the service runs,
    /// and again (an entry present is left as it is).
    pub async fn backfill_list_entries(&self) -> StoreResult<Backfilled> {
        let mut done = Backfilled::default();
        let mut start = None;
        // Every distributor seen (its `META`) with the partners of its entries.
        let mut members: HashMap<String, Vec<String>> = HashMap::new();
        loop {
            let resp = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(
                    "begins_with(#sk, :run) OR (begins_with(#pk, :dist) AND (begins_with(#sk, :member) OR #sk = :meta))",
                )
                .expression_attribute_values(":meta", s(schema::META))
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":run", s(schema::RUN_PREFIX))
                .expression_attribute_values(":dist", s("DIST#"))
                .expression_attribute_values(":member", s(schema::MEMBER_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            done.scanned += resp.scanned_count.max(0) as usize;
            for item in resp.items.unwrap_or_default() {
                if let (Some(d), Some(sk)) = (text(&item, PK).and_then(|pk| pk.strip_prefix("DIST#")), text(&item, SK))
                {
                    let ids = members.entry(d.to_string()).or_default();
                    if let Some(partner) = sk.strip_prefix(schema::MEMBER_PREFIX) {
                        ids.push(partner.to_string());
                    }
                }
                for op in entries_for(&item) {
                    if self.transact(op).await?.is_ok() {
                        done.written += 1;
                    }
                }
            }
            match resp.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        // Each distributor's partner ids, then `complete`: a partner made during the scan added
        // itself in its create transaction. A distributor already complete is left alone.
        for (d, ids) in members {
            let mut op = Op::update(
                schema::members(&d),
                if ids.is_empty() { "SET #complete = :t" } else { "ADD #ids :ids SET #complete = :t" },
            )
            .when("attribute_not_exists(#complete)")
            .val(":t", AV::Bool(true));
            if !ids.is_empty() {
                op = op.val(":ids", AV::Ss(ids));
            }
            if self.transact(vec![op]).await?.is_ok() {
                done.written += 1;
            }
        }
        Ok(done)
    }
}

/// The entries `item` (a run, or a partner's entry in its distributor's partition) should have,
/// each as a transaction: the check on `item`, then the entry's put if absent.
fn entries_for(item: &Item) -> Vec<Vec<Op>> {
    let (Some(pk), Some(sk)) = (text(item, PK), text(item, SK)) else { return Vec::new() };
    let item_key = || key(pk, sk);
    if let (Some(run), Some(partner)) = (sk.strip_prefix(schema::RUN_PREFIX), pk.strip_prefix("PARTNER#")) {
        let (Some(customer), Some(product)) = (text(item, "customer_id"), text(item, "product")) else {
            return Vec::new();
        };
        let created_at = item.get("created_at").cloned().unwrap_or(AV::Null(true));
        return [
            schema::product_run(partner, product, run),
            schema::customer_product_run(partner, customer, product, run),
        ]
        .into_iter()
        .map(|mut entry| {
            entry.insert("product".into(), s(product));
            entry.insert("created_at".into(), created_at.clone());
            vec![Op::check(item_key(), "attribute_exists(PK)"), Op::put(entry).fresh()]
        })
        .collect();
    }
    if let (Some(partner), Some(distributor), Some(status)) =
        (sk.strip_prefix(schema::MEMBER_PREFIX), pk.strip_prefix("DIST#"), text(item, "status"))
    {
        return vec![vec![
            Op::check(item_key(), "#st = :st").name("#st", "status").val(":st", s(status)),
            Op::put(schema::status_member(distributor, status, partner)).fresh(),
        ]];
    }
    Vec::new()
}
