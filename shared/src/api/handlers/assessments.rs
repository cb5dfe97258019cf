//! Assessment runs: P10–P13 for a partner, D12–D13 for a distributor's sub-partner.

use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::request::{self, Fields};
use super::super::response::Reply;
use super::super::{App, Ctx};
use super::{Bulk, Paging};
use crate::domain::account::Partner;
use crate::domain::ids::CustomerId;
use crate::domain::run::RunFilter;
use crate::domain::time::rfc3339;
use crate::domain::time::Month;
use crate::store::{Got, Want};
use crate::usecases::reports::{self, ReportFormat};
use crate::usecases::runs::{self, Queued, ReportLinks, RunPorts};
use crate::views;

pub const BULK_MAX: usize = 50;

/// The ports queueing a run uses, from the app.
fn run_ports<'a>(app: &'a App, ctx: &'a Ctx) -> RunPorts<'a> {
    RunPorts {
        customers: app.store.as_ref(),
        runs: app.store.as_ref(),
        queue: app.runs.as_ref(),
        catalog: &app.config.catalog,
        ids: ctx.ids(app),
    }
}

pub async fn create(app: &App, ctx: &Ctx, partner: &Partner, show_partner: bool) -> Result<Reply, ApiError> {
    let mut f = Fields::parse(&ctx.body)?;
    let customer_id = f.req_str("customerId")?;
    let customer_id = f.id("customerId", customer_id)?;
    let product = f.req_str("product")?;
    let maturity = f.opt_uint("maturityTarget")?;
    let (product, target) = runs::choose_product(&app.config.catalog, partner, &product, maturity)?;
    let attestations = super::questionnaire::read_attestations(&mut f, &product.id, ctx.now)?;
    f.finish()?;
    // Recorded as the partner's answers before the run is queued, so the run uses them.
    super::questionnaire::record_attestations(app, partner, &customer_id, &product.id, &attestations, ctx.now).await?;
    let run = match runs::queue_run(run_ports(app, ctx), partner, &customer_id, product, target, ctx.now).await? {
        Queued::Run(run) => run,
        Queued::ConsentRequired(customer) => {
            // 200, not an error: the shape the partner portal handles (contract, "Tenant consent").
            let url = app.consent_links().url(&customer, ctx.now);
            return Ok(Reply::ok(views::consent_required(&customer, &product.id, &url)));
        }
    };
    let body = views::run_queued(&run);
    Ok(Reply::accepted(if show_partner { views::with_partner_id(body, &partner.id) } else { body }))
}

pub async fn bulk_create(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let mut f = Fields::parse(&ctx.body)?;
    let product = f.req_str("product")?;
    let ids =
        f.opt_str_list("customerIds")?.ok_or_else(|| ApiError::MissingField("customerIds is required.".into()))?;
    let maturity = f.opt_uint("maturityTarget")?;
    let raw_attestations = f.opt_object("attestations")?.map(|a| a.into_entries());
    f.finish()?;
    if ids.len() > BULK_MAX {
        return Err(ApiError::TooMany(format!(
            "customerIds holds {} items; the maximum batch size is {BULK_MAX}.",
            ids.len()
        )));
    }
    let (product, target) = runs::choose_product(&app.config.catalog, partner, &product, maturity)?;
    let attestations = match raw_attestations {
        None => Vec::new(),
        Some(entries) => {
            let mut wrapped = Fields::from_value(json!({ "attestations": serde_json::Map::from_iter(entries) }), "")?;
            super::questionnaire::read_attestations(&mut wrapped, &product.id, ctx.now)?
        }
    };
    let mut bulk = Bulk::new(ids.len());
    for (i, customer_id) in ids.iter().enumerate() {
        let ident = json!({ "customerId": request::clipped(customer_id) });
        if bulk.stopped() {
            bulk.not_attempted(ident);
            continue;
        }
        let outcome = match request::check_id(&format!("customerIds[{i}]"), customer_id) {
            Ok(()) => {
                // Each customer's attestations land before its run is queued.
                let queued = match super::questionnaire::record_attestations(
                    app,
                    partner,
                    customer_id,
                    &product.id,
                    &attestations,
                    ctx.now,
                )
                .await
                {
                    Ok(()) => {
                        runs::queue_run(run_ports(app, ctx), partner, customer_id, product, target, ctx.now).await
                    }
                    Err(e) => Err(e),
                };
                match queued {
                    Ok(Queued::Run(run)) => {
                        Ok(json!({ "id": run.id, "customerId": run.customer_id, "status": run.status.as_str() }))
                    }
                    Ok(Queued::ConsentRequired(customer)) => {
                        // Counts in `failed`, with the link instead of an error (contract, "Tenant consent").
                        bulk.refused(json!({
                            "customerId": customer.id,
                            "status": "consent_required",
                            "consentUrl": app.consent_links().url(&customer, ctx.now),
                        }));
                        continue;
                    }
                    Err(e) => Err(ApiError::from(e)),
                }
            }
            Err(e) => Err(e),
        };
        bulk.record(ident, outcome)?;
    }
    Ok(Reply::accepted(json!({ "queued": bulk.done, "failed": bulk.failed, "runs": bulk.items })))
}

fn read_filter(app: &App, ctx: &Ctx) -> Result<RunFilter, ApiError> {
    let month = ctx
        .query
        .get("month")
        .map(|m| Month::parse(m).ok_or_else(|| ApiError::InvalidField(format!("month must be YYYY-MM, got {m:?}."))))
        .transpose()?;
    let product = ctx.query.get("product").map(str::to_string);
    if let Some(p) = &product {
        if app.config.catalog.product(p).is_none() {
            return Err(ApiError::InvalidProduct(format!("product {p:?} is not recognised.")));
        }
    }
    let customer_id = ctx.query.id("customerId")?.map(str::to_string);
    Ok(RunFilter { month, product, customer_id: customer_id.map(CustomerId::from) })
}

pub async fn list(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let filter = read_filter(app, ctx)?;
    let scope = format!(
        "{}|{}|{}|{}",
        partner.id,
        filter.month.map(|m| m.to_string()).unwrap_or_default(),
        filter.product.as_deref().unwrap_or_default(),
        filter.customer_id.as_deref().unwrap_or_default()
    );
    let paging = Paging::read(app, ctx, &scope)?;
    let page = runs::list(app.store.as_ref(), partner, &filter, &paging.request).await?;
    let runs: Vec<Value> = page.items.iter().map(views::run_summary).collect();
    Ok(Reply::ok(json!({ "runs": runs, "nextCursor": paging.next_cursor(app, page.next) })))
}

pub async fn get(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let store = app.store.as_ref();
    let link = ReportLinks { signing_key: &app.secrets.report_signing, base_url: &app.config.public_base_url };
    let id = ctx.param("id");
    let detail = runs::detail(store, store, link, partner, id, ctx.now, known_run(ctx, partner, id)).await?;
    let mut body = views::run_detail(&detail.run, detail.customer_name.as_deref());
    if let (Some(report), Some(obj)) = (&detail.report, body.as_object_mut()) {
        if let Some(m) = views::maturity(report, detail.run.maturity_target) {
            obj.insert("maturity".into(), m);
        }
        if let Some(c) = &report.coverage {
            obj.insert("coverage".into(), json!(c));
        }
    }
    Ok(Reply::ok(body))
}

/// The run and its report, when the pipeline read them with the account (`prefetch`).
fn known_run(ctx: &Ctx, partner: &Partner, run_id: &str) -> runs::KnownRun {
    let (partner_id, run_id) = (partner.id.to_string(), run_id.to_string());
    let run = ctx.prefetched(&Want::Run { partner_id: partner_id.clone(), id: run_id.clone() });
    let report = ctx.prefetched(&Want::RunReport { partner_id, run_id });
    match (run, report) {
        (Some(Got::Run(run)), Some(Got::RunReport(report))) => Some((run.clone(), report.clone())),
        _ => None,
    }
}

const OUTCOMES: &[&str] = &["pass", "fail", "manual", "not-applicable"];
const REQUIREMENT_OUTCOMES: &[&str] =
    &["effective", "alternate_control", "ineffective", "no_visibility", "not_implemented", "not_applicable"];
const STRATEGIES: &[&str] = &[
    "application-control",
    "patch-applications",
    "office-macros",
    "user-application-hardening",
    "restrict-admin-privileges",
    "patch-os",
    "mfa",
    "regular-backups",
];
const LEVELS: &[&str] = &["1", "2", "3"];

/// Pick an optional query parameter out of a closed list (400 `INVALID_FIELD` otherwise).
fn pick(ctx: &Ctx, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match ctx.query.get(name) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
        Some(v) => Err(ApiError::InvalidField(format!("{name} must be one of {}, got {v:?}.", allowed.join(", ")))),
    }
}

/// Every Essential Eight requirement of a run's target level and below with its outcome,
/// paged, optionally of one strategy, (lowest) level and/or outcome (contract, "Assessment
/// results"). Other products, and runs not completed, list none.
/// One page of a list taken from a stored report, and the position after it (`None` on the
/// last page). The position is an index into the report, which never changes once written.
fn report_page<'a, T>(matching: &'a [T], paging: &Paging) -> (&'a [T], Option<String>) {
    let start: usize = paging.request.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0).min(matching.len());
    let end = (start + paging.request.limit).min(matching.len());
    (&matching[start..end], (end < matching.len()).then(|| end.to_string()))
}

pub async fn requirements(app: &App, ctx: &Ctx, partner: &Partner, run_id: &str) -> Result<Reply, ApiError> {
    let strategy = pick(ctx, "strategy", STRATEGIES)?;
    let level = pick(ctx, "level", LEVELS)?;
    let outcome = pick(ctx, "outcome", REQUIREMENT_OUTCOMES)?;
    let (run, report) = runs::with_report(app.store.as_ref(), partner, run_id, known_run(ctx, partner, run_id)).await?;
    let scope = format!(
        "req|{}|{}|{}|{}|{}",
        partner.id,
        run.id,
        strategy.as_deref().unwrap_or(""),
        level.as_deref().unwrap_or(""),
        outcome.as_deref().unwrap_or("")
    );
    let paging = Paging::read(app, ctx, &scope)?;
    let matching: Vec<_> = report
        .iter()
        .flat_map(|r| &r.requirements)
        .filter(|r| strategy.as_deref().is_none_or(|s| r.strategy == s))
        .filter(|r| level.as_deref().is_none_or(|l| r.level.to_string() == l))
        .filter(|r| outcome.as_deref().is_none_or(|o| r.outcome.as_str() == o))
        .collect();
    let (page, next) = report_page(&matching, &paging);
    Ok(Reply::ok(json!({
        "runId": run.id,
        "status": run.status.as_str(),
        "requirements": page.iter().map(|r| views::with_dedupe_key(json!(r), &run.customer_id, &r.id)).collect::<Vec<_>>(),
        "nextCursor": paging.next_cursor(app, next),
    })))
}
const SEVERITIES: &[&str] = &["critical", "high", "medium", "low"];

/// Every check's outcome for a run, paged, optionally of one outcome and/or severity.
pub async fn findings(app: &App, ctx: &Ctx, partner: &Partner, run_id: &str) -> Result<Reply, ApiError> {
    let outcome = pick(ctx, "outcome", OUTCOMES)?;
    let severity = pick(ctx, "severity", SEVERITIES)?;
    let (run, report) = runs::with_report(app.store.as_ref(), partner, run_id, known_run(ctx, partner, run_id)).await?;
    let scope =
        format!("{}|{}|{}|{}", partner.id, run.id, outcome.as_deref().unwrap_or(""), severity.as_deref().unwrap_or(""));
    let paging = Paging::read(app, ctx, &scope)?;
    let matching: Vec<_> = report
        .iter()
        .flat_map(|r| &r.findings)
        .filter(|f| outcome.as_deref().is_none_or(|o| f.outcome == o))
        .filter(|f| severity.as_deref().is_none_or(|s| f.severity == s))
        .collect();
    let (page, next) = report_page(&matching, &paging);
    Ok(Reply::ok(json!({
        "runId": run.id,
        "status": run.status.as_str(),
        "findings": page
            .iter()
            .map(|f| views::with_dedupe_key(views::finding(f), &run.customer_id, &f.check_id))
            .collect::<Vec<_>>(),
        "nextCursor": paging.next_cursor(app, next),
    })))
}

/// A fresh signed link to a completed run's report: `{url, expiresAt, format}` (contract, "API
/// description and report links"); `?format=html` (default) or `pdf`.
pub async fn report_link(app: &App, ctx: &Ctx, partner: &Partner, run_id: &str) -> Result<Reply, ApiError> {
    let format = match ctx.query.get("format") {
        None => ReportFormat::Html,
        Some(f) => ReportFormat::parse(f)
            .ok_or_else(|| ApiError::InvalidField(format!("format must be one of html, pdf, got {f:?}.")))?,
    };
    let links = ReportLinks { signing_key: &app.secrets.report_signing, base_url: &app.config.public_base_url };
    let link = reports::link(app.store.as_ref(), links, &partner.id, run_id, format, ctx.now).await?;
    Ok(Reply::ok(json!({
        "url": link.url,
        "expiresAt": rfc3339(link.expires_at),
        "format": link.format.as_str(),
    })))
}
