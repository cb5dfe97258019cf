//! Customers (`CustomerStore`).

use super::*;

/// A customer item as readers see it: one being deleted is gone.
pub(super) fn decode(item: Option<Item>) -> StoreResult<Option<Customer>> {
    match item {
        Some(item) if !item.contains_key("deleting") => de(item).map(Some),
        _ => Ok(None),
    }
}

#[async_trait]
impl CustomerStore for DynamoStore {
    async fn create_customer(&self, c: &Customer, event: &Event) -> StoreResult<()> {
        let mut item = ser(c)?;
        item.extend(schema::customer(&c.partner_id, &c.id));
        let mut guard = schema::tenant(&c.partner_id, &c.tenant_id);
        guard.insert("customer_id".into(), s(&c.id));
        let ops = vec![
            // Not `ver`: that guards keys against suspension, and customer writes must not contend with it.
            Op::update(schema::partner(&c.partner_id), "ADD #customers_count :one")
                .when("attribute_exists(PK)")
                .val(":one", n(1)),
            Op::put(item).fresh(),
            Op::put(guard).fresh(),
            event_put(event)?,
        ];
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed(0) => Err(StoreError::NotFound),
            Err(c) if c.failed(2) => Err(StoreError::CustomerExists),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn customer(&self, partner_id: &str, id: &str) -> StoreResult<Option<Customer>> {
        decode(self.get(schema::customer(partner_id, id)).await?)
    }

    async fn list_customers(&self, partner_id: &str, page: &PageRequest) -> StoreResult<Page<Customer>> {
        let q = Query::prefix(schema::partner_pk(partner_id), schema::CUSTOMER_PREFIX, true)
            .filter(Some("attribute_not_exists(deleting)".into()));
        let after = page.after.as_ref().map(|id| schema::customer_sk(id));
        let (items, more) = self.page(&q, page.limit, after).await?;
        let customers: Vec<Customer> = items.into_iter().map(de).collect::<StoreResult<_>>()?;
        let next = if more { customers.last().map(|c| c.id.to_string()) } else { None };
        Ok(Page { items: customers, next })
    }

    async fn update_customer(&self, c: &Customer, expected_version: u64, event: &Event) -> StoreResult<()> {
        let Some(current) = self.customer(&c.partner_id, &c.id).await? else {
            return Err(StoreError::NotFound);
        };
        if current.version != expected_version {
            return Err(StoreError::Conflict);
        }
        // SET each field, leaving the run counter kept beside the customer untouched.
        let (expr, names, values) = set_all(ser(c)?, &["id", "partner_id"]);
        let update = with_set_all(Op::update(schema::customer(&c.partner_id, &c.id), expr), names, values)
            .when("attribute_exists(PK) AND #version = :expected AND attribute_not_exists(#deleting)")
            .val(":expected", n(expected_version));
        let mut ops = vec![update];
        let moves = current.tenant_id != c.tenant_id;
        if moves {
            ops.push(
                Op::delete(schema::tenant(&c.partner_id, &current.tenant_id))
                    .when("#customer_id = :c")
                    .val(":c", s(&c.id)),
            );
            let mut guard = schema::tenant(&c.partner_id, &c.tenant_id);
            guard.insert("customer_id".into(), s(&c.id));
            ops.push(Op::put(guard).fresh());
        }
        ops.push(event_put(event)?);
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(x) if x.failed(0) => match self.customer(&c.partner_id, &c.id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict),
            },
            Err(x) if moves && x.failed(2) => Err(StoreError::CustomerExists),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn delete_customer(&self, partner_id: &str, id: &str, event: &Event) -> StoreResult<()> {
        for _ in 0..OCC_ATTEMPTS {
            let Some(item) = self.get(schema::customer(partner_id, id)).await? else {
                return Err(StoreError::NotFound);
            };
            let runs_counter = num(&item, "runs");
            let customer: Customer = de(item)?;
            // Queuing a run bumps `runs`; the delete is conditional on it, so a run queued after
            // this read makes the delete start again and see that run.
            let same_runs = match runs_counter {
                Some(r) => ("#runs = :runs", Some(n(r))),
                None => ("attribute_not_exists(#runs)", None),
            };
            let pointers = self
                .all(&Query::prefix(schema::partner_pk(partner_id), &schema::customer_runs_prefix(id), true))
                .await?;
            // (run id, product, report chunks): the product names the run's other list entries;
            // the entry records the chunks of a report stored in more than one.
            let runs: Vec<(String, String, usize)> = pointers
                .iter()
                .filter_map(|p| {
                    let run = text(p, SK)?.rsplit('#').next()?;
                    let chunks = num(p, "report_chunks").unwrap_or(1).max(1) as usize;
                    Some((run.to_string(), text(p, "product").unwrap_or_default().to_string(), chunks))
                })
                .collect();
            // The customer's latest-run records (one per product it has run), and its tenant
            // context and exceptions (issue 18), which go with it.
            let mut exceptions =
                self.all(&Query::prefix(schema::partner_pk(partner_id), &schema::exceptions_prefix(id), true)).await?;
            // And its schedules (issue 19): a deleted customer's schedules are never due again.
            exceptions.extend(
                self.all(&Query::prefix(schema::partner_pk(partner_id), &schema::schedules_prefix(id), true)).await?,
            );
            let latest_records = self
                .all(&Query::prefix(schema::partner_pk(partner_id), &schema::customer_latest_prefix(id), true))
                .await?;
            // Each latest record's portfolio entries (issue 19) go with it.
            let portfolio = latest_records.iter().flat_map(|l| schema::portfolio_entries_of_latest(partner_id, id, l));
            let latest: Vec<Item> = latest_records
                .iter()
                .chain(&exceptions)
                .filter_map(|i| Some(key(text(i, PK)?.to_string(), text(i, SK)?.to_string())))
                .chain(std::iter::once(schema::tenant_context(partner_id, id)))
                .chain(portfolio)
                .collect();
            // The customer's questionnaire answers (one per product and question).
            let answers: Vec<Item> = self
                .all(&Query::prefix(schema::partner_pk(partner_id), &schema::customer_answers_prefix(id), true))
                .await?
                .iter()
                .filter_map(|i| Some(key(text(i, PK)?.to_string(), text(i, SK)?.to_string())))
                .collect();
            let run_items = || {
                runs.iter()
                    .flat_map(|(r, product, chunks)| schema::run_items(partner_id, id, product, r, *chunks))
                    .chain(latest.iter().cloned())
                    .chain(answers.iter().cloned())
            };
            if 4 + run_items().count() > MAX_TX_ITEMS {
                // Too many runs for one transaction: mark the customer as being deleted (it is
                // gone for readers, and no run can be queued for it), delete its runs in
                // batches, then finish with the transaction below.
                let mut mark = Op::update(schema::customer(partner_id, id), "SET #deleting = :t")
                    .when(format!("attribute_exists(PK) AND {}", same_runs.0))
                    .val(":t", AV::Bool(true));
                if let Some(v) = same_runs.1.clone() {
                    mark = mark.val(":runs", v);
                }
                if self.transact(vec![mark]).await?.is_err() {
                    continue;
                }
                self.batch_delete(run_items().collect()).await?;
                continue;
            }
            // Conditional on the version read too: a tenantId changed since then moved the tenant
            // guard, and deleting the old guard would leave the new one behind for good.
            let mut del = Op::delete(schema::customer(partner_id, id))
                .when(format!("attribute_exists(PK) AND {} AND #version = :version", same_runs.0))
                .val(":version", n(customer.version));
            if let Some(v) = same_runs.1 {
                del = del.val(":runs", v);
            }
            let mut ops = vec![
                del,
                Op::delete(schema::tenant(partner_id, &customer.tenant_id)),
                Op::update(schema::partner(partner_id), "ADD #customers_count :minus")
                    .when("attribute_exists(PK) AND #customers_count > :zero")
                    .val(":minus", n(-1))
                    .val(":zero", n(0)),
                event_put(event)?,
            ];
            ops.extend(run_items().map(Op::delete));
            match self.transact(ops).await? {
                Ok(()) => return Ok(()),
                Err(c) if c.failed(2) && !c.failed(0) => {
                    // The partner's count is already zero (or the partner is gone): delete
                    // without touching it rather than fail.
                    let mut del = Op::delete(schema::customer(partner_id, id))
                        .when(format!("attribute_exists(PK) AND {} AND #version = :version", same_runs.0))
                        .val(":version", n(customer.version));
                    if let Some(v) = runs_counter.map(n) {
                        del = del.val(":runs", v);
                    }
                    let mut ops =
                        vec![del, Op::delete(schema::tenant(partner_id, &customer.tenant_id)), event_put(event)?];
                    ops.extend(run_items().map(Op::delete));
                    if self.transact(ops).await?.is_ok() {
                        return Ok(());
                    }
                }
                Err(_) => continue,
            }
        }
        Err(StoreError::Backend("the customer kept changing; gave up".into()))
    }
}
