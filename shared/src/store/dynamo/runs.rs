//! Runs, their reports and the monthly run counters (`RunStore`).

use super::*;
use crate::domain::ids::{prefix, time_floor};
use crate::domain::time::Timestamp;
use crate::domain::trend::LatestRun;
use crate::store::report_codec;
use aws_sdk_dynamodb::primitives::Blob;

/// How far past a month's end `list_runs` looks for that month's runs by id (seconds): an id
/// made after a clock step back can carry a later time than its run's creation.
const MONTH_ID_SLACK_SECS: i64 = 3600;

/// A report's head item (`REPORT#<run>`, docs/storage.md "Run reports") as read: the whole
/// report when the item holds it (stored before chunking as JSON text, or in one chunk), else
/// its first chunk and how many chunks there are, for [`DynamoStore::report_chunks`].
pub(super) enum ReportHead {
    Whole(RunReport),
    Chunked { first: Vec<u8>, count: usize },
}

pub(super) fn decode_report_head(mut head: Item) -> StoreResult<ReportHead> {
    if let Some(json) = text(&head, "report") {
        return serde_json::from_str(json)
            .map(ReportHead::Whole)
            .map_err(|e| StoreError::Backend(format!("cannot decode a report: {e}")));
    }
    let count = num(&head, "chunks").unwrap_or(1).max(1) as usize;
    let first = blob(&mut head)?;
    if count == 1 {
        return report_codec::decode(&[first]).map(ReportHead::Whole);
    }
    Ok(ReportHead::Chunked { first, count })
}

impl DynamoStore {
    /// The chunks after the first of a report that took `count` (one `BatchGetItem`), decoded
    /// with `first` into the report.
    pub(super) async fn report_chunks(
        &self,
        partner_id: &str,
        run_id: &str,
        first: Vec<u8>,
        count: usize,
    ) -> StoreResult<RunReport> {
        let mut chunks = vec![first];
        let keys = (1..count).map(|i| schema::report_chunk(partner_id, run_id, i)).collect();
        let mut rest: HashMap<String, Vec<u8>> = HashMap::new();
        for mut item in self.batch_get(keys).await? {
            let sk = text(&item, SK).unwrap_or_default().to_string();
            rest.insert(sk, blob(&mut item)?);
        }
        for i in 1..count {
            let sk = schema::report_chunk(partner_id, run_id, i).remove(SK);
            let sk = sk.as_ref().and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            chunks.push(rest.remove(&sk).ok_or_else(|| StoreError::Backend(format!("report chunk {i} is missing")))?);
        }
        report_codec::decode(&chunks)
    }
}

/// The keys of a run's three list entries: by customer, by product, by both.
fn entry_keys(run: &Run) -> [Item; 3] {
    [
        schema::customer_run(&run.partner_id, &run.customer_id, &run.id),
        schema::product_run(&run.partner_id, &run.product, &run.id),
        schema::customer_product_run(&run.partner_id, &run.customer_id, &run.product, &run.id),
    ]
}

/// The updates that make each of `run`'s list entries a copy of it as it now is, for the
/// transaction that changes the run (claim, finish), so the entries never show another state
/// than the run. An entry written before entries were copies (product and `created_at` only)
/// becomes a whole copy here. Each update is conditional on the entry existing, so a run whose
/// customer is being deleted (entries deleted in batches before the run) can never leave a
/// stray copy behind; every run has its entries (`admin backfill-list-entries` wrote them for
/// runs older than the entries). `report_chunks` (a report of more than one chunk) goes on the
/// customer's entry.
fn entry_copies(run: &Run, report_chunks: Option<usize>) -> StoreResult<Vec<Op>> {
    let mut ops = Vec::new();
    for (i, key) in entry_keys(run).into_iter().enumerate() {
        let mut copy = ser(run)?;
        if let (0, Some(count)) = (i, report_chunks) {
            copy.insert("report_chunks".into(), n(count));
        }
        let (expr, names, values) = set_all(copy, &[]);
        ops.push(with_set_all(Op::update(key, expr).when("attribute_exists(PK)"), names, values));
    }
    Ok(ops)
}

/// Runs from list entries, in their order: an entry that is a copy of its run is decoded; the
/// runs of entries written before entries were copies are read (one `BatchGetItem`).
async fn runs_of_entries(
    store: &DynamoStore,
    partner_id: &str,
    entries: Vec<Item>,
    ids: &[String],
) -> StoreResult<Vec<Run>> {
    let copies: Vec<Option<Run>> = entries.into_iter().map(|i| de::<Run>(i).ok()).collect();
    let missing: Vec<String> = ids.iter().zip(&copies).filter(|(_, c)| c.is_none()).map(|(id, _)| id.clone()).collect();
    let mut read: HashMap<String, Run> = if missing.is_empty() {
        HashMap::new()
    } else {
        store.runs_by_id(partner_id, &missing).await?.into_iter().map(|r| (r.id.to_string(), r)).collect()
    };
    Ok(ids.iter().zip(copies).filter_map(|(id, copy)| copy.or_else(|| read.remove(id))).collect())
}

/// A monthly usage counter's runs (0 when there is none).
pub(super) fn decode_used(item: Option<&Item>) -> u32 {
    item.and_then(|i| num(i, "used")).unwrap_or(0) as u32
}

#[async_trait]
impl RunStore for DynamoStore {
    async fn queue_run(&self, run: &Run, month: Month, limit: Option<u32>) -> StoreResult<()> {
        if limit == Some(0) {
            // Nothing can be counted; still answer NotFound first for a missing customer.
            return match self.customer(&run.partner_id, &run.customer_id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::RunLimitReached),
            };
        }
        // The distributor a partner belongs to never changes: an eventually consistent read is enough.
        let distributor = match self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(schema::partner(&run.partner_id)))
            .projection_expression("#d")
            .expression_attribute_names("#d", "distributor_id")
            .send()
            .await
            .map_err(backend)?
            .item
        {
            None => return Err(StoreError::NotFound),
            Some(item) => text(&item, "distributor_id").map(String::from),
        };
        self.queue_run_of(run, distributor.as_deref(), month, limit).await
    }

    async fn queue_run_of(
        &self,
        run: &Run,
        distributor: Option<&str>,
        month: Month,
        limit: Option<u32>,
    ) -> StoreResult<()> {
        if limit == Some(0) {
            return self.queue_run(run, month, limit).await;
        }
        let mut usage = Op::update(
            schema::usage(&run.partner_id, month),
            if distributor.is_some() {
                "ADD #used :one SET #partner_id = :p, #month = :m, #GSI1PK = :g1pk, #GSI1SK = :g1sk"
            } else {
                "ADD #used :one SET #partner_id = :p, #month = :m"
            },
        )
        .val(":one", n(1))
        .val(":p", s(&run.partner_id))
        .val(":m", s(month.to_string()));
        if let Some(d) = &distributor {
            usage = usage
                .val(":g1pk", s(schema::usage_gsi1pk(d, month)))
                .val(":g1sk", s(schema::partner_pk(&run.partner_id)));
        }
        if let Some(l) = limit {
            usage = usage.when("attribute_not_exists(#used) OR #used < :limit").val(":limit", n(l));
        }
        let mut run_item = ser(run)?;
        run_item.extend(schema::run(&run.partner_id, &run.id));
        // While queued, the run sits in a sparse index the stale-run sweep reads.
        run_item.insert(GSI1PK.into(), s(schema::queued_runs_gsi1pk(&run.id)));
        run_item.insert(GSI1SK.into(), s(schema::queued_run_sk(run.created_at, &run.partner_id, &run.id)));
        // The run's entry under each list filter (customer, product, both): `list_runs` reads
        // one family's key range instead of filtering all runs. Each entry is a copy of the run,
        // rewritten wherever the run's fields change (`entry_copies`), so a filtered list is one
        // query (issue 16).
        let copy = ser(run)?;
        let pointers = entry_keys(run).map(|mut pointer| {
            pointer.extend(copy.clone());
            pointer.insert("product".into(), s(&run.product));
            pointer.insert("created_at".into(), n(run.created_at));
            Op::put(pointer).fresh()
        });
        let mut ops = vec![
            Op::update(schema::customer(&run.partner_id, &run.customer_id), "ADD #runs :one")
                .when("attribute_exists(PK) AND attribute_not_exists(#deleting)")
                .val(":one", n(1)),
            usage,
            Op::put(run_item).fresh(),
        ];
        ops.extend(pointers);
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            // First: a run that exists was counted when it was made.
            Err(c) if c.failed(2) => Err(StoreError::RunExists),
            Err(c) if c.failed(0) => Err(StoreError::NotFound),
            Err(c) if c.failed(1) => Err(StoreError::RunLimitReached),
            Err(_) => Err(StoreError::Backend(format!("run {}: an entry of it exists", run.id))),
        }
    }

    async fn run(&self, partner_id: &str, id: &str) -> StoreResult<Option<Run>> {
        self.get_as(schema::run(partner_id, id)).await
    }

    async fn list_runs(&self, partner_id: &str, filter: &RunFilter, page: &PageRequest) -> StoreResult<Page<Run>> {
        let pk = schema::partner_pk(partner_id);
        // Each filter has its own entries, so the query reads only what matches.
        let base = match (&filter.customer_id, &filter.product) {
            (None, None) => schema::RUN_PREFIX.to_string(),
            (Some(c), None) => schema::customer_runs_prefix(c),
            (None, Some(p)) => schema::product_runs_prefix(p),
            (Some(c), Some(p)) => schema::customer_product_runs_prefix(c, p),
        };
        // Ids are time-ordered, so a month is a key range. An id is never made before its run's
        // creation time, but can be made after it when the clock stepped back; the range reaches
        // a little into the next month for those, and the filter keeps the month exact.
        let (lo, hi) = match filter.month {
            Some(m) => {
                let at = |t: Timestamp| format!("{base}{}{}", prefix::RUN, time_floor((t.unix().max(0) * 1000) as u64));
                (at(m.start()), at(m.end() + MONTH_ID_SLACK_SECS))
            }
            None => (base.clone(), format!("{base}\u{10FFFF}")),
        };
        let mut q = Query::between(pk, lo, hi, false);
        if let Some(m) = filter.month {
            q.values.insert(":from".into(), n(m.start()));
            q.values.insert(":to".into(), n(m.end() - 1));
            q = q.filter(Some("#created_at BETWEEN :from AND :to".into()));
        }
        let after = page.after.as_ref().map(|id| format!("{base}{id}"));
        let (items, next) = self.page_within(&q, page.limit, after, self.list_read_budget).await?;
        let ids: Vec<String> = items
            .iter()
            .filter_map(|i| text(i, SK))
            .filter_map(|sk| sk.strip_prefix(base.as_str()))
            .map(String::from)
            .collect();
        let next = next.as_deref().and_then(|sk| sk.strip_prefix(base.as_str())).map(String::from);
        let runs = if base == schema::RUN_PREFIX {
            items.into_iter().map(de).collect::<StoreResult<_>>()?
        } else {
            runs_of_entries(self, partner_id, items, &ids).await?
        };
        Ok(Page { items: runs, next })
    }

    async fn runs_used(&self, partner_id: &str, month: Month) -> StoreResult<u32> {
        Ok(decode_used(self.get(schema::usage(partner_id, month)).await?.as_ref()))
    }

    async fn claim_run(
        &self,
        partner_id: &str,
        run_id: &str,
        attempt: u32,
        now: Timestamp,
        lease_until: Timestamp,
        started: &Event,
    ) -> StoreResult<RunClaim> {
        for _ in 0..OCC_ATTEMPTS {
            let Some(item) = self.get(schema::run(partner_id, run_id)).await? else {
                return Ok(RunClaim::Gone);
            };
            let lease = num(&item, "lease_until");
            let run: Run = de(item)?;
            match run.status {
                RunStatus::Completed | RunStatus::Failed => return Ok(RunClaim::Finished(run)),
                RunStatus::Running if lease.is_some_and(|until| until > now.unix()) => return Ok(RunClaim::Busy),
                RunStatus::Running => {
                    // Take over a lease that has passed (or was given up), if it is still the one read.
                    let mut op =
                        Op::update(schema::run(partner_id, run_id), "SET #lease_attempt = :a, #lease_until = :u")
                            .name("#st", "status")
                            .val(":a", n(attempt))
                            .val(":u", n(lease_until))
                            .val(":running", s(RunStatus::Running.as_str()));
                    op = match lease {
                        Some(old) => op.when("#st = :running AND #lease_until = :old").val(":old", n(old)),
                        None => op.when("#st = :running AND attribute_not_exists(#lease_until)"),
                    };
                    if self.transact(vec![op]).await?.is_ok() {
                        return Ok(RunClaim::Claimed(run));
                    }
                }
                RunStatus::Queued => {
                    let mut claimed = run.clone();
                    claimed.status = RunStatus::Running;
                    claimed.started_at = Some(now);
                    let mut ops = vec![
                        Op::update(
                            schema::run(partner_id, run_id),
                            "SET #st = :running, #started_at = :now, #lease_attempt = :a, #lease_until = :u \
                             REMOVE #GSI1PK, #GSI1SK",
                        )
                        .when("#st = :queued")
                        .name("#st", "status")
                        .val(":running", s(RunStatus::Running.as_str()))
                        .val(":queued", s(RunStatus::Queued.as_str()))
                        .val(":now", n(now))
                        .val(":a", n(attempt))
                        .val(":u", n(lease_until)),
                        event_put(started)?,
                    ];
                    ops.extend(entry_copies(&claimed, None)?);
                    if self.transact(ops).await?.is_ok() {
                        return Ok(RunClaim::Claimed(claimed));
                    }
                }
            }
        }
        Ok(RunClaim::Busy)
    }

    async fn finish_run_with(
        &self,
        run: &Run,
        attempt: u32,
        report: Option<&RunReport>,
        latest: Option<&LatestRun>,
        events: &[Event],
    ) -> StoreResult<()> {
        if !RunStatus::Running.can_move_to(run.status) {
            return match self.run(&run.partner_id, &run.id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict),
            };
        }
        let (expr, names, values) = set_all(ser(run)?, &["id", "partner_id"]);
        let update = with_set_all(
            Op::update(schema::run(&run.partner_id, &run.id), format!("{expr} REMOVE #lease_attempt, #lease_until")),
            names,
            values,
        )
        .when("#cur = :running AND #lease_attempt = :attempt")
        .name("#cur", "status")
        .val(":running", s(RunStatus::Running.as_str()))
        .val(":attempt", n(attempt));
        let mut ops = vec![update];
        let mut chunks_on_entry = None;
        if let Some(r) = report {
            // Compressed chunks under the item limit, written with the run's status (docs/storage.md,
            // "Run reports"). A report past the chunks a transaction can carry is `TooLarge`.
            let chunks = report_codec::encode(r)?;
            let count = chunks.len();
            for (i, z) in chunks.into_iter().enumerate() {
                let mut item = schema::report_chunk(&run.partner_id, &run.id, i);
                item.insert("z".into(), AV::B(Blob::new(z)));
                if i == 0 {
                    item.insert("enc".into(), s(report_codec::ENCODING));
                    item.insert("chunks".into(), n(count));
                }
                ops.push(Op::put(item));
            }
            // What deleting the customer reads to find every chunk (on the customer's entry).
            chunks_on_entry = (count > 1).then_some(count);
        }
        ops.extend(entry_copies(run, chunks_on_entry)?);
        // A completed run becomes the latest of its customer and product, if the latest is still
        // the run it was compared with.
        let mut latest_at = None;
        if let (RunStatus::Completed, Some(results), Some(_), Some(latest)) = (run.status, &run.results, report, latest)
        {
            let record = ser(latest)?;
            let mut item = record.clone();
            item.extend(schema::latest_run(&run.partner_id, &run.customer_id, &run.product));
            let put = match &results.previous_run_id {
                None => Op::put(item).when("attribute_not_exists(PK)"),
                Some(previous) => Op::put(item).when("#runId = :previous").val(":previous", s(previous.as_str())),
            };
            latest_at = Some(ops.len());
            ops.push(put);
            // The portfolio's entries (issue 19): copies of the record under the partner and its
            // distributor, so a portfolio page is one query of either; written with the record,
            // under its condition.
            let mut entries = vec![schema::partner_portfolio(&run.partner_id, &run.product, &run.customer_id)];
            if let Some(d) = &latest.distributor_id {
                entries.push(schema::distributor_portfolio(d, &run.product, &run.partner_id, &run.customer_id));
            }
            for keys in entries {
                let mut item = record.clone();
                item.insert("partner_id".into(), s(run.partner_id.as_str()));
                item.insert("customer_id".into(), s(run.customer_id.as_str()));
                item.extend(keys);
                ops.push(Op::put(item));
            }
        }
        for event in events {
            ops.push(event_put(event)?);
        }
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(c) if !c.failed(0) && latest_at.is_some_and(|i| c.failed(i)) => Err(StoreError::LatestMoved),
            Err(_) => match self.run(&run.partner_id, &run.id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict),
            },
        }
    }

    async fn release_run(&self, partner_id: &str, run_id: &str, attempt: u32) -> StoreResult<()> {
        // Someone else's lease (or none) is left alone.
        let op = Op::update(schema::run(partner_id, run_id), "REMOVE #lease_attempt, #lease_until")
            .when("#lease_attempt = :a")
            .val(":a", n(attempt));
        self.write(op, ReturnValue::None).await?;
        Ok(())
    }

    async fn stale_queued_runs(&self, queued_before: Timestamp, limit: usize) -> StoreResult<Vec<Run>> {
        // A run claimed a moment ago may still show; the runner drops its message.
        let runs: Vec<Run> = self.due_in(schema::QUEUED_RUNS, queued_before, limit).await?;
        Ok(runs.into_iter().filter(|r| r.status == RunStatus::Queued).collect())
    }

    async fn resent_run(&self, partner_id: &str, run_id: &str, at: Timestamp) -> StoreResult<()> {
        // Also moves a run queued before sharding into its shard.
        let op = Op::update(schema::run(partner_id, run_id), "SET #GSI1PK = :g, #GSI1SK = :gs")
            .when("#status = :queued")
            .val(":queued", s(RunStatus::Queued.as_str()))
            .val(":g", s(schema::queued_runs_gsi1pk(run_id)))
            .val(":gs", s(schema::queued_run_sk(at, partner_id, run_id)));
        // Not queued any more (claimed meanwhile): nothing to move.
        self.write(op, ReturnValue::None).await?;
        Ok(())
    }

    async fn run_report(&self, partner_id: &str, run_id: &str) -> StoreResult<Option<RunReport>> {
        let Some(head) = self.get(schema::report(partner_id, run_id)).await? else {
            return Ok(None);
        };
        match decode_report_head(head)? {
            ReportHead::Whole(report) => Ok(Some(report)),
            ReportHead::Chunked { first, count } => {
                self.report_chunks(partner_id, run_id, first, count).await.map(Some)
            }
        }
    }

    async fn latest_run(&self, partner_id: &str, customer_id: &str, product: &str) -> StoreResult<Option<LatestRun>> {
        self.get_as(schema::latest_run(partner_id, customer_id, product)).await
    }

    async fn portfolio(
        &self,
        scope: PortfolioScope<'_>,
        product: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<PortfolioRow>> {
        super::portfolio::page(self, scope, product, page).await
    }

    async fn runs_used_by_partners(&self, distributor_id: &str, month: Month) -> StoreResult<Vec<(String, u32)>> {
        // The usage counters carry their distributor in GSI1: one query, eventually consistent
        // (an aggregate; a closed month is read from its snapshot instead).
        let items = self.all_in_gsi1(&schema::usage_gsi1pk(distributor_id, month)).await?;
        Ok(items
            .iter()
            .filter_map(|i| match (text(i, "partner_id"), num(i, "used")) {
                (Some(p), Some(used)) if used > 0 => Some((p.to_string(), used as u32)),
                _ => None,
            })
            .collect())
    }
}

/// A report chunk's bytes (`z`), taken out of its item.
fn blob(item: &mut Item) -> StoreResult<Vec<u8>> {
    match item.remove("z") {
        Some(AV::B(b)) => Ok(b.into_inner()),
        _ => Err(StoreError::Backend("a report chunk without its bytes".into())),
    }
}

impl DynamoStore {
    /// Runs for ids, in the order of `ids` (missing ones left out).
    async fn runs_by_id(&self, partner_id: &str, ids: &[String]) -> StoreResult<Vec<Run>> {
        let items = self.batch_get(ids.iter().map(|id| schema::run(partner_id, id)).collect()).await?;
        let mut by_id: HashMap<String, Run> = HashMap::new();
        for item in items {
            let r: Run = de(item)?;
            by_id.insert(r.id.to_string(), r);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
}
