//! How domain objects look as JSON, in API responses and in event payloads alike (camelCase,
//! RFC 3339 times). Not HTTP: the use cases build event payloads with it too.

use serde_json::{json, Map, Value};

use crate::domain::account::{BillingConfig, Partner};
use crate::domain::customer::Customer;
use crate::domain::run::{Finding, Run, RunReport};
use crate::domain::time::{rfc3339, Timestamp};

fn time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(rfc3339(t)))
}

fn insert_all(obj: &mut Value, extra: Value) {
    if let (Some(o), Value::Object(e)) = (obj.as_object_mut(), extra) {
        o.extend(e);
    }
}

pub fn customer_summary(c: &Customer) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "tenantId": c.tenant_id,
        "email": c.email,
        "consentStatus": c.consent.status.as_str(),
        "createdAt": rfc3339(c.created_at),
    })
}

/// The fields every full view of a customer starts with, in the reference's order.
fn customer_fields(c: &Customer) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("name".into(), json!(c.name));
    m.insert("tenantId".into(), json!(c.tenant_id));
    m.insert("email".into(), json!(c.email));
    m.insert("receivers".into(), json!(c.receivers));
    m.insert("questionnaireRecipients".into(), json!(c.questionnaire_recipients));
    m.insert("consentStatus".into(), json!(c.consent.status.as_str()));
    m
}

/// `GET /customers/{id}/consent`: the customer's consent and the link its admin grants it with.
pub fn consent(c: &Customer, consent_url: &str) -> Value {
    json!({
        "customerId": c.id,
        "tenantId": c.tenant_id,
        "status": c.consent.status.as_str(),
        "consentUrl": consent_url,
        "grantedAt": time(c.consent.granted_at),
        "updatedAt": time(c.consent.updated_at),
    })
}

/// A trigger (P10, D12) for a customer without consent: nothing was written or counted.
pub fn consent_required(c: &Customer, product: &str, consent_url: &str) -> Value {
    json!({
        "status": "consent_required",
        "customerId": c.id,
        "product": product,
        "consentUrl": consent_url,
        "message": format!(
            "The customer's Microsoft 365 administrator has not granted admin consent through your link (consent is {}). Send them consentUrl, then trigger again.",
            c.consent.status.as_str()
        ),
    })
}

/// The customer with its receiver lists (P5, D11).
pub fn customer(c: &Customer) -> Value {
    let mut m = customer_fields(c);
    m.insert("createdAt".into(), json!(rfc3339(c.created_at)));
    Value::Object(m)
}

/// P7: the customer with its newest runs.
pub fn customer_with_runs(c: &Customer, recent: &[Run]) -> Value {
    let mut m = customer_fields(c);
    m.insert("recentRuns".into(), recent.iter().map(run_recent).collect());
    m.insert("createdAt".into(), json!(rfc3339(c.created_at)));
    Value::Object(m)
}

/// P8's answer: the customer as updated.
pub fn customer_updated(c: &Customer) -> Value {
    let mut m = customer_fields(c);
    m.insert("updatedAt".into(), time(c.updated_at));
    Value::Object(m)
}

/// The customer as `customer.*` events carry it.
pub fn customer_event(c: &Customer) -> Value {
    let mut v = customer(c);
    insert_all(&mut v, json!({ "partnerId": c.partner_id, "updatedAt": time(c.updated_at) }));
    v
}

pub fn with_partner_id(mut v: Value, partner_id: &str) -> Value {
    insert_all(&mut v, json!({ "partnerId": partner_id }));
    v
}

/// Results a finished run carries; absent fields are left out rather than shown as null.
fn run_outcome(r: &Run, out: &mut Map<String, Value>) {
    if let Some(res) = &r.results {
        out.insert("score".into(), json!(res.score));
        out.insert("findings".into(), json!(res.findings));
        out.insert("critical".into(), json!(res.critical));
        out.insert("high".into(), json!(res.high));
        out.insert("medium".into(), json!(res.medium));
        out.insert("low".into(), json!(res.low));
        out.insert("reportUrl".into(), json!(res.report_url));
    }
    if let Some(e) = &r.error {
        out.insert("error".into(), json!({ "code": e.code, "message": e.message }));
    }
}

/// A run as just queued (P10, D12).
pub fn run_queued(r: &Run) -> Value {
    json!({
        "id": r.id,
        "customerId": r.customer_id,
        "product": r.product,
        "maturityTarget": r.maturity_target,
        "status": r.status.as_str(),
        "createdAt": rfc3339(r.created_at),
    })
}

/// A run in a list (P12, D13).
pub fn run_summary(r: &Run) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(r.id));
    out.insert("customerId".into(), json!(r.customer_id));
    out.insert("product".into(), json!(r.product));
    out.insert("status".into(), json!(r.status.as_str()));
    if let Some(res) = &r.results {
        out.insert("score".into(), json!(res.score));
    }
    out.insert("createdAt".into(), json!(rfc3339(r.created_at)));
    if r.completed_at.is_some() {
        out.insert("completedAt".into(), time(r.completed_at));
    }
    Value::Object(out)
}

/// A run with its results (P13).
pub fn run_detail(r: &Run, customer_name: Option<&str>) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(r.id));
    out.insert("customerId".into(), json!(r.customer_id));
    out.insert("customerName".into(), json!(customer_name));
    out.insert("product".into(), json!(r.product));
    out.insert("maturityTarget".into(), json!(r.maturity_target));
    out.insert("status".into(), json!(r.status.as_str()));
    run_outcome(r, &mut out);
    if let Some(res) = &r.results {
        // The comparison with the customer's previous completed run of the product (contract,
        // "Assessment results"): both null on the first.
        out.insert("previousRunId".into(), json!(res.previous_run_id));
        out.insert("changes".into(), json!(res.changes));
    }
    out.insert("createdAt".into(), json!(rfc3339(r.created_at)));
    if r.started_at.is_some() {
        out.insert("startedAt".into(), time(r.started_at));
    }
    if r.completed_at.is_some() {
        out.insert("completedAt".into(), time(r.completed_at));
    }
    Value::Object(out)
}

/// P13's `maturity` of a completed Essential Eight run: `{target, overall, byStrategy:
/// {<strategy>: {level, blockers}}}` (contract, "Assessment results"); `None` for the other
/// products. A run stored before requirements were assessed has empty `blockers`.
pub fn maturity(report: &RunReport, target: u8) -> Option<Value> {
    let overall = report.maturity?;
    let by: Map<String, Value> = report
        .maturity_by_strategy
        .iter()
        .map(|m| (m.strategy.clone(), json!({ "level": m.level, "blockers": m.blockers })))
        .collect();
    Some(json!({ "target": target, "overall": overall, "byStrategy": by }))
}

/// A findings-route item: the stored finding with `requirementIds` and `evidenceQuality`
/// always present (`[]` and null when the run stored none, as older runs and advisory checks).
pub fn finding(f: &Finding) -> Value {
    let mut v = json!(f);
    if let Some(obj) = v.as_object_mut() {
        obj.entry("requirementIds").or_insert_with(|| json!([]));
        obj.entry("evidenceQuality").or_insert(Value::Null);
    }
    v
}

/// A run in a customer's `recentRuns` (P7).
pub fn run_recent(r: &Run) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(r.id));
    out.insert("product".into(), json!(r.product));
    out.insert("status".into(), json!(r.status.as_str()));
    out.insert("createdAt".into(), json!(rfc3339(r.created_at)));
    if r.completed_at.is_some() {
        out.insert("completedAt".into(), time(r.completed_at));
    }
    Value::Object(out)
}

pub fn billing(b: &Option<BillingConfig>) -> Value {
    b.as_ref().map_or(Value::Null, |b| json!({ "currency": b.currency, "interval": b.interval }))
}

pub fn partner_summary(p: &Partner) -> Value {
    json!({
        "id": p.id,
        "company": p.company,
        "email": p.email,
        "plan": p.plan,
        "status": p.status.as_str(),
        "customersCount": p.customers_count,
        "createdAt": rfc3339(p.created_at),
    })
}

/// D3's answer: the partner as provisioned.
pub fn partner_created(p: &Partner) -> Value {
    json!({
        "id": p.id,
        "company": p.company,
        "email": p.email,
        "plan": p.plan,
        "status": p.status.as_str(),
        "billing": billing(&p.billing),
        "createdAt": rfc3339(p.created_at),
    })
}

/// Current-month usage of a partner (P1, D5).
pub fn partner_usage(month: &str, runs_used: u32, runs_limit: i64, customers: u32) -> Value {
    json!({ "month": month, "runsUsed": runs_used, "runsLimit": runs_limit, "customersCount": customers })
}

/// D5: the partner with billing and usage.
pub fn partner_detail(p: &Partner, usage: Value) -> Value {
    json!({
        "id": p.id,
        "company": p.company,
        "email": p.email,
        "name": p.name,
        "plan": p.plan,
        "status": p.status.as_str(),
        "billing": billing(&p.billing),
        "usage": usage,
        "createdAt": rfc3339(p.created_at),
    })
}

/// P1: the partner's own profile.
pub fn partner_me(p: &Partner, usage: Value) -> Value {
    json!({
        "id": p.id,
        "company": p.company,
        "email": p.email,
        "plan": p.plan,
        "status": p.status.as_str(),
        "usage": usage,
        "createdAt": rfc3339(p.created_at),
    })
}

/// The answer of `POST …/consent/email` (contract, "Tenant consent"): `sent`, `skipped`,
/// `total`, `recipients` (the addresses it was sent to), `failed` (the addresses it was not),
/// `consentUrl`, `skipReason` (`customer_missing`, or null). `emailConsentEnabled` is always
/// true: the partner portal reads it, and this service has no switch that turns the email off.
pub fn consent_email(o: &crate::usecases::consent_mail::Outcome) -> Value {
    json!({
        "sent": o.sent(),
        "skipped": o.skipped,
        "total": o.total(),
        "recipients": o.recipients,
        "failed": o.failed,
        "consentUrl": o.consent_url,
        "skipReason": o.skip_reason.map(|r| r.as_str()),
        "emailConsentEnabled": true,
    })
}

/// A completed run's failures as events carry them (issue 19): what `domain::drift::failing`
/// counts (the requirements not met, or for a run without requirements the failed checks),
/// each with its `dedupeKey` (`{customerId}:{id}`); only those in `only` when given. A
/// requirement: `{id, kind:"requirement", strategy, level, outcome, title, dedupeKey}`; a check:
/// `{id, kind:"check", severity, title, requirementIds, dedupeKey}`.
pub fn failures(customer_id: &str, report: &RunReport, only: Option<&[String]>) -> Vec<Value> {
    let failing = crate::domain::drift::failing(report);
    let wanted = |id: &str| failing.contains(id) && only.is_none_or(|o| o.iter().any(|w| w == id));
    let key = |id: &str| crate::domain::drift::dedupe_key(customer_id, id);
    if report.requirements.is_empty() {
        report
            .findings
            .iter()
            .filter(|f| wanted(&f.check_id))
            .map(|f| {
                json!({
                    "id": f.check_id,
                    "kind": "check",
                    "severity": f.severity.as_str(),
                    "title": f.title,
                    "requirementIds": f.requirement_ids,
                    "dedupeKey": key(&f.check_id),
                })
            })
            .collect()
    } else {
        report
            .requirements
            .iter()
            .filter(|r| wanted(&r.id))
            .map(|r| {
                json!({
                    "id": r.id,
                    "kind": "requirement",
                    "strategy": r.strategy,
                    "level": r.level,
                    "outcome": r.outcome.as_str(),
                    "title": r.summary,
                    "dedupeKey": key(&r.id),
                })
            })
            .collect()
    }
}

/// `assessment.regressed`'s data (contract, "Schedules, drift and portfolio"): `assessmentId`,
/// `customerId`, `product`, `previousRunId`, `newFailures` (ids), `levelFrom`, `levelTo` (null
/// for products without levels), and `failures`: the new failures as [`failures`] shows them,
/// each with its `dedupeKey`.
pub fn regressed(run: &Run, report: &RunReport, r: &crate::domain::drift::Regression) -> Value {
    json!({
        "assessmentId": run.id,
        "customerId": run.customer_id,
        "product": run.product,
        "previousRunId": r.previous_run_id,
        "newFailures": r.new_failures,
        "levelFrom": r.level_from,
        "levelTo": r.level_to,
        "failures": failures(&run.customer_id, report, Some(&r.new_failures)),
    })
}

/// A finding or requirement of a run of `customer_id` with its `dedupeKey` (issue 19).
pub fn with_dedupe_key(mut v: Value, customer_id: &str, id: &str) -> Value {
    insert_all(&mut v, json!({ "dedupeKey": crate::domain::drift::dedupe_key(customer_id, id) }));
    v
}

/// One row of `GET /portfolio` (issue 19): `{customerId, name, lastRunId, lastRunAt, score,
/// overall, byStrategy: {<strategy>: {level}}, trend}`; `partnerId` first on the distributor's.
pub fn portfolio_row(row: &crate::store::PortfolioRow, with_partner: bool) -> Value {
    let l = &row.latest;
    let by: Map<String, Value> =
        l.by_strategy.iter().map(|(s, level)| (s.clone(), json!({ "level": level }))).collect();
    let mut out = Map::new();
    if with_partner {
        out.insert("partnerId".into(), json!(row.partner_id));
    }
    out.insert("customerId".into(), json!(row.customer_id));
    out.insert("name".into(), json!(row.name));
    out.insert("lastRunId".into(), json!(l.run_id));
    out.insert("lastRunAt".into(), json!(rfc3339(l.completed_at)));
    out.insert("score".into(), json!(l.score));
    out.insert("overall".into(), json!(l.overall));
    out.insert("byStrategy".into(), if by.is_empty() { Value::Null } else { Value::Object(by) });
    out.insert("trend".into(), json!(crate::domain::drift::trend(l).map(|t| t.as_str())));
    Value::Object(out)
}
