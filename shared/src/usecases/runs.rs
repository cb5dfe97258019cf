//! Queueing assessment runs (contract P10–P11, D12): a run is one assessment of one customer
//! for one product; it is counted against the plan's monthly limit and stored in one write,
//! then handed to the runs queue.

use super::{Ids, UseCaseError};
use crate::domain::account::Partner;
use crate::domain::catalog::{Catalog, Plan, Product};
use crate::domain::customer::Customer;
use crate::domain::run::RunFilter;
use crate::domain::run::{Run, RunReport, RunStatus};
use crate::domain::time::Month;
use crate::domain::time::Timestamp;
use crate::queue::{RunMessage, RunQueue};
use crate::reports;
use crate::store::{CustomerStore, Page, PageRequest, RunStore, StoreError};

/// The partner's plan; a plan missing from the catalogue is a configuration fault (`Internal`).
pub fn plan_of<'a>(catalog: &'a Catalog, partner: &Partner) -> Result<&'a Plan, UseCaseError> {
    catalog.plan(&partner.plan).ok_or_else(|| {
        UseCaseError::Internal(format!(
            "partner {} is on plan {:?}, which the catalogue lacks",
            partner.id, partner.plan
        ))
    })
}

/// Checks `product` and the maturity target against the catalogue and the partner's plan;
/// returns the product and the target (the product's default when none is asked for).
/// Errors: `InvalidProduct`, `ProductNotAllowed` (not on the plan), `Invalid` (target out of
/// the product's range).
pub fn choose_product<'a>(
    catalog: &'a Catalog,
    partner: &Partner,
    product: &str,
    maturity: Option<u64>,
) -> Result<(&'a Product, u8), UseCaseError> {
    let p = catalog.product(product).ok_or_else(|| {
        UseCaseError::InvalidProduct(format!(
            "product {product:?} is not recognised; known products: {}.",
            catalog.products.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let plan = plan_of(catalog, partner)?;
    if !plan.includes(&p.id) {
        return Err(UseCaseError::ProductNotAllowed(format!(
            "The {} plan does not include product {}.",
            plan.id, p.id
        )));
    }
    let target = match maturity {
        None => p.maturity_default,
        Some(m) if m >= u64::from(p.maturity_min) && m <= u64::from(p.maturity_max) => m as u8,
        Some(m) => {
            return Err(UseCaseError::Invalid(format!(
                "maturityTarget must be from {} to {} for {}, got {m}.",
                p.maturity_min, p.maturity_max, p.id
            )))
        }
    };
    Ok((p, target))
}

/// The ports queueing a run uses.
#[derive(Clone, Copy)]
pub struct RunPorts<'a> {
    pub customers: &'a dyn CustomerStore,
    pub runs: &'a dyn RunStore,
    pub queue: &'a dyn RunQueue,
    pub catalog: &'a Catalog,
    pub ids: Ids<'a>,
}

/// What a trigger did.
#[derive(Debug)]
pub enum Queued {
    /// The run was stored, counted and handed to the runs queue.
    Run(Run),
    /// The customer's consent is not `granted` (contract, "Tenant consent"): nothing was
    /// written or counted; the caller answers `consent_required` with the customer's link.
    ConsentRequired(Customer),
}

/// Counts and stores one queued run of `customer_id` at `now`, then hands it to
/// the runs queue; a customer without granted consent gets [`Queued::ConsentRequired`] and no
/// run. Errors: `NotFound` (no such customer of the partner), `RunLimitReached`.
/// A queue failure after the write is logged, not returned: the run is stored and counted, and
/// the stale-run sweep re-sends a run whose message never reached the queue.
pub async fn queue_run(
    ports: RunPorts<'_>,
    partner: &Partner,
    customer_id: &str,
    product: &Product,
    target: u8,
    now: Timestamp,
) -> Result<Queued, UseCaseError> {
    super::subscriptions::require_live(partner)?;
    let not_found = || UseCaseError::not_found("customer", customer_id);
    let Some(customer) = ports.customers.customer(&partner.id, customer_id).await? else {
        return Err(not_found());
    };
    if !customer.consent.is_granted() {
        return Ok(Queued::ConsentRequired(customer));
    }
    let plan = plan_of(ports.catalog, partner)?;
    let run = Run {
        id: ports.ids.new_id(),
        partner_id: partner.id.clone(),
        customer_id: customer_id.into(),
        product: product.id.clone(),
        maturity_target: target,
        status: RunStatus::Queued,
        created_at: now,
        started_at: None,
        completed_at: None,
        results: None,
        error: None,
    };
    let month = Month::of(now);
    // The partner was read with the key: its distributor is known (and never changes).
    let distributor = partner.distributor_id.as_deref();
    let run = match ports.runs.queue_run_of(&run, distributor, month, plan.runs_per_month).await {
        Ok(()) => run,
        Err(StoreError::RunLimitReached) => {
            return Err(UseCaseError::RunLimitReached(format!(
                "The monthly run limit of {} for the {} plan is reached for {month}.",
                plan.runs_per_month.unwrap_or_default(),
                plan.id
            )))
        }
        Err(StoreError::NotFound) => return Err(not_found()),
        // The request is being done again under its Idempotency-Key after its first try stored
        // this run and died before answering: answer that run (its message is sent again
        // below; the claim makes a second one harmless).
        Err(StoreError::RunExists) => match ports.runs.run(&partner.id, &run.id).await? {
            Some(first) if first.customer_id == run.customer_id => {
                tracing::warn!(run_id = first.id.as_str(), "a retried request found its run stored");
                first
            }
            _ => return Err(UseCaseError::Internal(format!("run id {} is taken by another run", run.id))),
        },
        Err(e) => return Err(e.into()),
    };
    let message = RunMessage { run_id: run.id.clone(), partner_id: partner.id.clone() };
    if let Err(e) = ports.queue.send_run(&message).await {
        // The in-process queue refuses only while the process stops (and the embedded store
        // goes with it); on AWS the relay's sweep re-sends queued runs that never reached it.
        tracing::error!(run_id = run.id.as_str(), error = %e, "could not hand the run to the runs queue");
    }
    Ok(Queued::Run(run))
}

/// How report share links are made: signed with `signing_key`, under `base_url`.
#[derive(Clone, Copy)]
pub struct ReportLinks<'a> {
    pub signing_key: &'a [u8],
    pub base_url: &'a str,
}

/// A run as P13 shows it: with a fresh report link, its customer's name (`None` once the
/// customer is gone) and, when completed, its stored report.
#[derive(Debug)]
pub struct RunDetail {
    pub run: Run,
    pub customer_name: Option<String>,
    pub report: Option<RunReport>,
}

/// A run and its report (`None`: none stored) as the caller read them already, together with
/// its account (issue 16), for [`detail`] and [`with_report`] not to read them again.
pub type KnownRun = Option<(Option<Run>, Option<RunReport>)>;

/// The partner's run `id` (`NotFound` otherwise), from `known` when the caller read it. A
/// completed run's report link is made anew at `now` for 30 days: the one made at completion
/// may have expired.
pub async fn detail(
    runs: &dyn RunStore,
    customers: &dyn CustomerStore,
    links: ReportLinks<'_>,
    partner: &Partner,
    id: &str,
    now: Timestamp,
    known: KnownRun,
) -> Result<RunDetail, UseCaseError> {
    let (run, known_report) = match known {
        Some((run, report)) => (run, Some(report)),
        None => (runs.run(&partner.id, id).await?, None),
    };
    let mut run = run.ok_or_else(|| UseCaseError::not_found("assessment run", id))?;
    let customer_name = customers.customer(&partner.id, &run.customer_id).await?.map(|c| c.name);
    let mut report = None;
    if let Some(results) = run.results.as_mut() {
        results.report_url = reports::link(links.signing_key, links.base_url, &partner.id, &run.id, now);
        report = match known_report {
            Some(report) => report,
            None => runs.run_report(&partner.id, &run.id).await?,
        };
    }
    Ok(RunDetail { run, customer_name, report })
}

/// A page of the partner's runs, newest first, of those `filter` keeps (P12, D13).
pub async fn list(
    runs: &dyn RunStore,
    partner: &Partner,
    filter: &RunFilter,
    page: &PageRequest,
) -> Result<Page<Run>, UseCaseError> {
    Ok(runs.list_runs(&partner.id, filter, page).await?)
}

/// The partner's run `id` and its stored report (`None` until it completes), from `known`
/// when the caller read them; `NotFound` otherwise. The findings route pages through the
/// report's findings.
pub async fn with_report(
    runs: &dyn RunStore,
    partner: &Partner,
    id: &str,
    known: KnownRun,
) -> Result<(Run, Option<RunReport>), UseCaseError> {
    if let Some((run, report)) = known {
        return Ok((run.ok_or_else(|| UseCaseError::not_found("assessment run", id))?, report));
    }
    let run = runs.run(&partner.id, id).await?.ok_or_else(|| UseCaseError::not_found("assessment run", id))?;
    let report = runs.run_report(&partner.id, &run.id).await?;
    Ok((run, report))
}
