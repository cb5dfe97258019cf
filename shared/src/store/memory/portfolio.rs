//! The portfolio's entries (issue 19): one per customer and product with a completed run,
//! under its partner and, for a partner with one, its distributor, as the DynamoDB adapter
//! writes `PORT#` entries under `PARTNER#p` and `DIST#d` (docs/storage.md). They point at the
//! latest record (`State::latest_runs`), which holds the result.

use std::collections::BTreeMap;

use super::*;

/// (scope, product, position) → (partner, customer). The scope is `p:<partner>` or
/// `d:<distributor>`; the position, the page token, is the customer id under a partner and
/// `<partner>#<customer>` under a distributor (so its list is by partner, then customer).
/// (position, (partner, customer)): one entry as a page lists it.
type Entry = (String, (String, String));

#[derive(Default)]
pub(super) struct Portfolio {
    entries: BTreeMap<(String, String, String), (String, String)>,
}

fn scope_key(scope: PortfolioScope<'_>) -> String {
    match scope {
        PortfolioScope::Partner(p) => format!("p:{p}"),
        PortfolioScope::Distributor(d) => format!("d:{d}"),
    }
}

impl Portfolio {
    /// Lists the customer's result of `product` under its partner and distributor (again:
    /// nothing changes when it is already listed).
    pub(super) fn put(&mut self, partner: &str, distributor: Option<&str>, customer: &str, product: &str) {
        let target = (partner.to_string(), customer.to_string());
        self.entries
            .insert((scope_key(PortfolioScope::Partner(partner)), product.into(), customer.into()), target.clone());
        if let Some(d) = distributor {
            let at = format!("{partner}#{customer}");
            self.entries.insert((scope_key(PortfolioScope::Distributor(d)), product.into(), at), target);
        }
    }

    /// The customer is deleted: its entries go with it.
    pub(super) fn forget(&mut self, partner: &str, customer: &str) {
        self.entries.retain(|_, (p, c)| !(p == partner && c == customer));
    }

    /// One page of (partner, customer) in `scope` for `product`, after `after`, and whether
    /// there is more.
    pub(super) fn page(
        &self,
        scope: PortfolioScope<'_>,
        product: &str,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<Entry>, bool) {
        let (scope, product) = (scope_key(scope), product.to_string());
        let start = (scope.clone(), product.clone(), after.unwrap_or("").to_string());
        let mut out: Vec<_> = self
            .entries
            .range(start..)
            .take_while(|((s, p, _), _)| *s == scope && *p == product)
            .filter(|((_, _, at), _)| after.is_none_or(|a| at.as_str() > a))
            .take(limit + 1)
            .map(|((_, _, at), target)| (at.clone(), target.clone()))
            .collect();
        let more = out.len() > limit;
        out.truncate(limit);
        (out, more)
    }
}

impl MemoryStore {
    pub(super) fn portfolio_page(
        &self,
        scope: PortfolioScope<'_>,
        product: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<PortfolioRow>> {
        let s = self.lock();
        let (entries, more) = s.portfolio.page(scope, product, page.after.as_deref(), page.limit.max(1));
        let next = if more { entries.last().map(|(at, _)| at.clone()) } else { None };
        let items = entries
            .into_iter()
            .filter_map(|(_, (partner, customer))| {
                let c = s.customers.get(&partner)?.get(&customer)?;
                let latest = s.latest_runs.get(&(partner.clone(), customer.clone(), product.to_string()))?;
                Some(PortfolioRow {
                    partner_id: partner.into(),
                    customer_id: customer.into(),
                    name: c.name.clone(),
                    latest: latest.clone(),
                })
            })
            .collect();
        Ok(Page { items, next })
    }
}
