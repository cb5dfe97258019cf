//! The portfolio (contract, "Schedules, drift and portfolio"; issue 19): every customer's
//! latest result of one product, for a partner or across a distributor's partners.

use super::UseCaseError;
use crate::domain::account::{Owner, Surface};
use crate::store::{Page, PageRequest, PortfolioRow, PortfolioScope, RunStore};

/// One page of `viewer`'s portfolio of `product` (a known product id): a partner's customers,
/// or a distributor's partners' customers, by partner then customer id. Only customers with a
/// completed run of the product are listed (docs/api-decisions.md, "Portfolio").
pub async fn list(
    store: &dyn RunStore,
    viewer: &Owner,
    product: &str,
    page: &PageRequest,
) -> Result<Page<PortfolioRow>, UseCaseError> {
    let scope = match viewer.surface {
        Surface::Partner => PortfolioScope::Partner(&viewer.id),
        Surface::Distributor => PortfolioScope::Distributor(&viewer.id),
    };
    Ok(store.portfolio(scope, product, page).await?)
}
