//! `GET /portfolio?product=` on both bases (contract, "Schedules, drift and portfolio"):
//! each customer's latest result of the product, with the project's paging; the
//! distributor's rows add `partnerId`.

use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::{App, Ctx};
use super::Paging;
use crate::domain::account::Surface;
use crate::usecases::portfolio;
use crate::views;

/// 400 `MISSING_FIELD` without `product`, 400 `INVALID_PRODUCT` for an unknown one.
pub async fn list(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let product = ctx
        .query
        .get("product")
        .ok_or_else(|| ApiError::MissingField("product is required (essential-eight, nist-csf or cis-m365).".into()))?;
    if app.config.catalog.product(product).is_none() {
        return Err(ApiError::InvalidProduct(format!("product {product:?} is not recognised.")));
    }
    // The cursor is bound to the product: a page of one portfolio cannot continue another.
    let paging = Paging::read(app, ctx, &format!("portfolio|{product}"))?;
    let viewer = ctx.principal.owner();
    let page = portfolio::list(app.store.as_ref(), &viewer, product, &paging.request).await?;
    let with_partner = viewer.surface == Surface::Distributor;
    let customers: Vec<Value> = page.items.iter().map(|row| views::portfolio_row(row, with_partner)).collect();
    Ok(Reply::ok(json!({
        "product": product,
        "customers": customers,
        "nextCursor": paging.next_cursor(app, page.next),
    })))
}
