//! The shared report: a signed link opens it without a key.

use super::super::error::ApiError;
use super::super::response::Reply;
use super::super::App;
use crate::domain::time::Timestamp;
use crate::report_view;
use crate::reports;
use crate::usecases::reports::{open, ReportFormat};

/// The report page, or with `format=pdf` the same report as a PDF (`format=html` is the
/// default; anything else is 400 `INVALID_FIELD`, checked before the token).
pub async fn get(app: &App, token: &str, format: Option<&str>, now: Timestamp) -> Result<Reply, ApiError> {
    let format = match format {
        None => ReportFormat::Html,
        Some(f) => ReportFormat::parse(f)
            .ok_or_else(|| ApiError::InvalidField(format!("format must be one of html, pdf, got {f:?}.")))?,
    };
    let store = app.store.as_ref();
    let shared = open(store, store, store, &app.config.catalog, &app.secrets.report_signing, token, now).await?;
    let view = report_view::build(&shared.input());
    match format {
        ReportFormat::Html => Ok(Reply::branded_html(reports::render_view(&view))),
        ReportFormat::Pdf => {
            // Only a binary that links Typst renders PDFs; the others are never routed one.
            let render = app.pdf.ok_or_else(|| ApiError::Internal("this binary renders no PDF".into()))?;
            render(&view).map(Reply::pdf).map_err(|e| ApiError::Internal(e.to_string()))
        }
    }
}
