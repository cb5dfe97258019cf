//! The shared report: a signed link opens it without a key.

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::App;
use crate::domain::time::Timestamp;
use crate::reports;
use crate::usecases::reports::open;

pub async fn get(app: &App, token: &str, now: Timestamp) -> Result<Reply, ApiError> {
    let store = app.store.as_ref();
    let shared = open(store, store, store, &app.config.catalog, &app.secrets.report_signing, token, now).await?;
    Ok(Reply::branded_html(reports::render(
        &shared.brand,
        &shared.customer_name,
        &shared.product,
        &shared.run,
        &shared.report,
    )))
}
