//! The shared report: a signed link opens it without a key.

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::App;
use crate::domain::catalog::Product;
use crate::domain::run::RunStatus;
use crate::reports;

pub async fn get(app: &App, token: &str, now: i64) -> Result<Reply, ApiError> {
    let (partner_id, run_id) = reports::verify(&app.secrets.report_signing, token, now)
        .map_err(|e| ApiError::NotFound(format!("{}.", capital(&e.to_string()))))?;
    let gone = || ApiError::NotFound("This report is no longer available.".into());
    let run =
        app.store.run(&partner_id, &run_id).await?.filter(|r| r.status == RunStatus::Completed).ok_or_else(gone)?;
    let report = app.store.run_report(&partner_id, &run_id).await?.ok_or_else(gone)?;
    let customer = app.store.customer(&partner_id, &run.customer_id).await?;
    let product = app.config.catalog.product(&run.product).cloned().unwrap_or_else(|| Product {
        id: run.product.clone(),
        name: run.product.clone(),
        category: String::new(),
        estimated_duration: 0,
        maturity_min: 1,
        maturity_max: 1,
        maturity_default: 1,
    });
    let customer_name = customer.map_or_else(|| "(customer removed)".to_string(), |c| c.name);
    Ok(Reply::html(reports::render(&customer_name, &product, &run, &report)))
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
