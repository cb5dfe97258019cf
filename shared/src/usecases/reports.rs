//! Opening a shared report: a signed link (30 days) shows a completed run's report without a
//! key (contract: "API description and report links").

use super::UseCaseError;
use crate::domain::branding::Brand;
use crate::domain::catalog::{Catalog, Product};
use crate::domain::run::{Run, RunReport, RunStatus};
use crate::domain::time::Timestamp;
use crate::reports;
use crate::store::{AccountStore, CustomerStore, RunStore};

/// What the report page shows.
#[derive(Debug)]
pub struct SharedReport {
    /// The customer's name, or "(customer removed)".
    pub customer_name: String,
    pub product: Product,
    pub run: Run,
    pub report: RunReport,
    /// The partner's branding, resolved.
    pub brand: Brand,
    /// The report of the run this one was compared with (the trend in the maturity picture);
    /// `None` on a first run, or when that run is gone.
    pub previous: Option<RunReport>,
}

impl SharedReport {
    /// What the report renderers take.
    pub fn input(&self) -> crate::report_view::ReportInput<'_> {
        crate::report_view::ReportInput {
            brand: &self.brand,
            customer_name: &self.customer_name,
            product: &self.product,
            run: &self.run,
            report: &self.report,
            previous: self.previous.as_ref(),
        }
    }
}

/// The report `token` points at, if the token is genuine and unexpired at `now`
/// and its run is completed and still stored. Errors: `NotFound`, with the reason for a bad or
/// expired link, or "no longer available" for a run that is gone.
pub async fn open(
    accounts: &dyn AccountStore,
    runs: &dyn RunStore,
    customers: &dyn CustomerStore,
    catalog: &Catalog,
    signing_key: &[u8],
    token: &str,
    now: Timestamp,
) -> Result<SharedReport, UseCaseError> {
    let (partner_id, run_id) = reports::verify(signing_key, token, now)
        .map_err(|e| UseCaseError::NotFound(format!("{}.", capital(&e.to_string()))))?;
    let gone = || UseCaseError::NotFound("This report is no longer available.".into());
    let run = runs.run(&partner_id, &run_id).await?.filter(|r| r.status == RunStatus::Completed).ok_or_else(gone)?;
    let report = runs.run_report(&partner_id, &run_id).await?.ok_or_else(gone)?;
    let customer = customers.customer(&partner_id, &run.customer_id).await?;
    // A product dropped from the catalogue since the run still shows under its id.
    let product = catalog.product(&run.product).cloned().unwrap_or_else(|| Product {
        id: run.product.clone(),
        name: run.product.clone(),
        category: String::new(),
        estimated_duration: 0,
        maturity_min: 1,
        maturity_max: 1,
        maturity_default: 1,
    });
    let customer_name = customer.map_or_else(|| "(customer removed)".to_string(), |c| c.name);
    let company = accounts.partner(&partner_id).await?.map(|p| p.company).unwrap_or_default();
    let brand = Brand::of(&accounts.branding(&partner_id).await?, &company);
    let previous = match run.results.as_ref().and_then(|r| r.previous_run_id.as_deref()) {
        Some(previous_id) => runs.run_report(&partner_id, previous_id).await?,
        None => None,
    };
    Ok(SharedReport { customer_name, product, run, report, brand, previous })
}

/// The format a report link serves (`?format=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Html,
    Pdf,
}

impl ReportFormat {
    /// `html` or `pdf`, as the query and the answer spell it.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "html" => Some(Self::Html),
            "pdf" => Some(Self::Pdf),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Pdf => "pdf",
        }
    }
}

/// A fresh signed report link (the partner portal's `getReport`).
#[derive(Debug)]
pub struct ReportLink {
    pub url: String,
    /// When the link stops working: 30 days from the request (`reports::LINK_LIFETIME_SECS`).
    pub expires_at: Timestamp,
    pub format: ReportFormat,
}

/// A new link to the report of the partner's run `run_id`, valid 30 days from `now`
/// (contract, "API description and report links"). Errors: `NotFound` (no such run of the
/// partner), `ReportNotReady` (the run has not completed: queued, running or failed). A `pdf`
/// link is the page's link with `?format=pdf`: the same token serves either.
pub async fn link(
    runs: &dyn RunStore,
    links: super::runs::ReportLinks<'_>,
    partner_id: &str,
    run_id: &str,
    format: ReportFormat,
    now: Timestamp,
) -> Result<ReportLink, UseCaseError> {
    let run = runs.run(partner_id, run_id).await?.ok_or_else(|| UseCaseError::not_found("assessment run", run_id))?;
    if run.status != RunStatus::Completed {
        return Err(UseCaseError::ReportNotReady(format!(
            "Assessment run {} is {}; its report exists once it has completed.",
            run.id,
            run.status.as_str()
        )));
    }
    let url = reports::link(links.signing_key, links.base_url, partner_id, &run.id, now);
    Ok(ReportLink {
        url: match format {
            ReportFormat::Html => url,
            ReportFormat::Pdf => format!("{url}?format=pdf"),
        },
        expires_at: now + reports::LINK_LIFETIME_SECS,
        format,
    })
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
