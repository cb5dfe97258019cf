//! The portfolio (issue 19, `RunStore::portfolio`): one query of the `PORT#<product>#` entries
//! under `PARTNER#p` or `DIST#d` (copies of the latest records, written in the transaction
//! that completes a run), then one `BatchGetItem` of the page's customers for their names.
//! Two calls a page, however many runs (docs/storage.md).

use super::*;

pub(super) async fn page(
    store: &DynamoStore,
    scope: PortfolioScope<'_>,
    product: &str,
    page: &PageRequest,
) -> StoreResult<Page<PortfolioRow>> {
    let pk = match scope {
        PortfolioScope::Partner(p) => schema::partner_pk(p),
        PortfolioScope::Distributor(d) => schema::distributor_pk(d),
    };
    let prefix = schema::portfolio_prefix(product);
    let q = Query::prefix(pk, &prefix, true);
    // The position is the sort key after the prefix: the customer id, or `<partner>#<customer>`.
    let after = page.after.as_ref().map(|at| format!("{prefix}{at}"));
    let (items, more) = store.page(&q, page.limit, after).await?;
    let next =
        if more { items.last().and_then(|i| text(i, SK)).map(|sk| sk[prefix.len()..].to_string()) } else { None };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let (Some(p), Some(c)) = (text(&item, "partner_id"), text(&item, "customer_id")) else { continue };
        let (p, c) = (p.to_string(), c.to_string());
        entries.push((p, c, de::<crate::domain::trend::LatestRun>(item)?));
    }
    let keys: Vec<Item> = entries.iter().map(|(p, c, _)| schema::customer(p, c)).collect();
    let mut names: HashMap<(String, String), String> = HashMap::new();
    if !keys.is_empty() {
        for item in store.batch_get(keys).await? {
            // A customer being deleted is gone for readers (its entries go with it).
            if item.contains_key("deleting") {
                continue;
            }
            let customer: Customer = de(item)?;
            names.insert((customer.partner_id.to_string(), customer.id.to_string()), customer.name);
        }
    }
    let rows = entries
        .into_iter()
        .filter_map(|(p, c, latest)| {
            let name = names.remove(&(p.clone(), c.clone()))?;
            Some(PortfolioRow { partner_id: p.into(), customer_id: c.into(), name, latest })
        })
        .collect();
    Ok(Page { items: rows, next })
}
