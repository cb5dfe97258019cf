//! Tenant context and exceptions (contract, "Tenant context and exceptions"):
//! `GET/PUT /customers/{id}/context`, `GET/POST /customers/{id}/exceptions`,
//! `PATCH/DELETE /customers/{id}/exceptions/{exceptionId}`, and the distributor's same routes
//! under `/partners/{id}/customers/{customerId}/…`.

use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::request::Fields;
use super::super::response::Reply;
use super::super::{App, Ctx};
use super::Paging;
use crate::domain::account::Partner;
use crate::domain::context::{
    self as dc, ApprovedExclusion, Exception, ExceptionKind, TenantContext, ThirdPartyControl, CONTEXT_LIST_MAX,
    CONTEXT_TEXT_MAX,
};
use crate::domain::customer::Customer;
use crate::domain::time::Timestamp;
use crate::store::{Got, Want};
use crate::usecases::context::{self as uc, ExceptionDraft};
use crate::usecases::customers;
use crate::usecases::UseCaseError;

/// The longest `product` of a third-party control, in characters.
const PRODUCT_MAX: usize = 200;

fn opt_time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| json!(t.rfc3339()))
}

/// `{emergencyAccessAccounts, approvedExclusions, thirdPartyControls, updatedAt}`.
pub fn context_view(c: &TenantContext) -> Value {
    let mut v = crate::usecases::context::audited_context(c);
    v["updatedAt"] = opt_time(c.updated_at);
    v
}

/// `{id, customerId, requirementId, kind, rationale, compensatingControl, owner, approvedBy,
/// expiresAt, createdAt, updatedAt}`.
pub fn exception_view(e: &Exception) -> Value {
    json!({
        "id": e.id,
        "customerId": e.customer_id,
        "requirementId": e.requirement_id,
        "kind": e.kind.as_str(),
        "rationale": e.rationale,
        "compensatingControl": e.compensating_control,
        "owner": e.owner,
        "approvedBy": e.approved_by,
        "expiresAt": e.expires_at.rfc3339(),
        "createdAt": e.created_at.rfc3339(),
        "updatedAt": opt_time(e.updated_at),
    })
}

fn invalid(m: String) -> ApiError {
    ApiError::InvalidField(m)
}

/// A list field of at most [`CONTEXT_LIST_MAX`] entries (absent: empty).
fn list(f: &mut Fields, field: &str) -> Result<Vec<Value>, ApiError> {
    let items = f.opt_array(field)?.unwrap_or_default();
    if items.len() > CONTEXT_LIST_MAX {
        return Err(invalid(format!("{field} holds {} entries; the most is {CONTEXT_LIST_MAX}.", items.len())));
    }
    Ok(items)
}

/// A GUID as Graph writes object ids (lower case, no braces).
fn object_id(f: &Fields, field: &str, value: String) -> Result<String, ApiError> {
    Ok(f.guid(field, value)?.into_string().to_ascii_lowercase())
}

fn bounded(f: &Fields, field: &str, value: String, max: usize) -> Result<String, ApiError> {
    dc::text(&f.name(field), &value, max).map_err(invalid)?;
    Ok(value.trim().to_string())
}

fn read_context(body: &[u8]) -> Result<TenantContext, ApiError> {
    let mut f = Fields::parse(body)?;
    let mut emergency = Vec::new();
    for (i, v) in list(&mut f, "emergencyAccessAccounts")?.into_iter().enumerate() {
        let field = format!("emergencyAccessAccounts[{i}]");
        let Value::String(s) = v else {
            return Err(ApiError::InvalidJson(format!("{field} must be a string.")));
        };
        let id = object_id(&f, &field, s)?;
        if !emergency.contains(&id) {
            emergency.push(id);
        }
    }
    let mut exclusions = Vec::new();
    for (i, v) in list(&mut f, "approvedExclusions")?.into_iter().enumerate() {
        let mut e = Fields::from_value(v, &format!("approvedExclusions[{i}]."))?;
        let policy_id = e.req_str("policyId")?;
        let policy_id = object_id(&e, "policyId", policy_id)?;
        let principal_id = e.req_str("principalId")?;
        let principal_id = object_id(&e, "principalId", principal_id)?;
        let reason = e.req_str("reason")?;
        let reason = bounded(&e, "reason", reason, CONTEXT_TEXT_MAX)?;
        e.finish()?;
        exclusions.push(ApprovedExclusion { policy_id, principal_id, reason });
    }
    let mut controls = Vec::new();
    for (i, v) in list(&mut f, "thirdPartyControls")?.into_iter().enumerate() {
        let mut t = Fields::from_value(v, &format!("thirdPartyControls[{i}]."))?;
        let ids = t
            .opt_str_list("requirementIds")?
            .ok_or_else(|| ApiError::MissingField(format!("{} is required.", t.name("requirementIds"))))?;
        if ids.is_empty() || ids.len() > CONTEXT_LIST_MAX {
            return Err(invalid(format!(
                "{} must hold 1 to {CONTEXT_LIST_MAX} requirement ids, got {}.",
                t.name("requirementIds"),
                ids.len()
            )));
        }
        for (j, id) in ids.iter().enumerate() {
            uc::known_requirement(&format!("{}[{j}]", t.name("requirementIds")), id)?;
        }
        let product = t.req_str("product")?;
        let product = bounded(&t, "product", product, PRODUCT_MAX)?;
        let description = t.req_str("description")?;
        let description = bounded(&t, "description", description, CONTEXT_TEXT_MAX)?;
        t.finish()?;
        controls.push(ThirdPartyControl { requirement_ids: ids, product, description });
    }
    f.finish()?;
    Ok(TenantContext {
        emergency_access_accounts: emergency,
        approved_exclusions: exclusions,
        third_party_controls: controls,
        updated_at: None,
        version: 0,
    })
}

/// The partner's customer `customer_id`: as the pipeline read it with the account when the
/// route prefetches it (`api::prefetch`), else read now; 404 when the partner has none.
pub(super) async fn customer_of(
    app: &App,
    ctx: &Ctx,
    partner: &Partner,
    customer_id: &str,
) -> Result<Customer, ApiError> {
    let want = Want::Customer { partner_id: partner.id.to_string(), id: customer_id.to_string() };
    match ctx.prefetched(&want) {
        Some(Got::Customer(found)) => {
            found.clone().ok_or_else(|| UseCaseError::not_found("customer", customer_id).into())
        }
        _ => Ok(customers::find(app.store.as_ref(), partner, customer_id).await?),
    }
}

/// 200: the customer's context (empty lists and `updatedAt: null` when never set).
pub async fn get(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let customer = customer_of(app, ctx, partner, customer_id).await?;
    let context = uc::get(app.store.as_ref(), &customer).await?;
    Ok(Reply::ok(context_view(&context)))
}

/// 200: the context as stored after the whole replacement.
pub async fn put(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    // The body first, so a malformed one is a 400 whatever the id.
    let draft = read_context(&ctx.body)?;
    let customer = customers::find(app.store.as_ref(), partner, customer_id).await?;
    let stored = uc::put(app.store.as_ref(), ctx.ids(app), partner, &customer, &draft, ctx.now).await?;
    Ok(Reply::ok(context_view(&stored)))
}

fn opt_bounded(f: &mut Fields, field: &str, max: usize) -> Result<Option<String>, ApiError> {
    if f.is_null(field) {
        return Err(invalid(format!("{} cannot be null.", f.name(field))));
    }
    let value = f.opt_str(field)?;
    value.map(|v| bounded(f, field, v, max)).transpose()
}

fn read_exception(body: &[u8]) -> Result<ExceptionDraft, ApiError> {
    let mut f = Fields::parse(body)?;
    if f.is_null("requirementId") || f.is_null("kind") || f.is_null("expiresAt") {
        return Err(invalid("requirementId, kind and expiresAt cannot be null.".into()));
    }
    let requirement_id = f.opt_str("requirementId")?.map(|r| r.trim().to_string());
    let kind = match f.opt_str("kind")? {
        None => None,
        Some(k) => Some(
            ExceptionKind::parse(k.trim())
                .ok_or_else(|| invalid(format!("kind must be one of alternate_control, risk_accepted, got {k:?}.")))?,
        ),
    };
    let rationale = opt_bounded(&mut f, "rationale", dc::EXCEPTION_TEXT_MAX)?;
    let compensating_control = if f.is_null("compensatingControl") {
        f.opt_str("compensatingControl")?;
        Some(None)
    } else {
        let v = f.opt_str("compensatingControl")?;
        v.map(|v| bounded(&f, "compensatingControl", v, dc::EXCEPTION_TEXT_MAX)).transpose()?.map(Some)
    };
    let owner = opt_bounded(&mut f, "owner", dc::EXCEPTION_PERSON_MAX)?;
    let approved_by = opt_bounded(&mut f, "approvedBy", dc::EXCEPTION_PERSON_MAX)?;
    let expires_at = match f.opt_str("expiresAt")? {
        None => None,
        Some(t) => {
            Some(chrono::DateTime::parse_from_rfc3339(t.trim()).map(|d| Timestamp::from_unix(d.timestamp())).map_err(
                |_| invalid(format!("expiresAt must be an RFC 3339 time like 2027-01-31T00:00:00Z, got {t:?}.")),
            )?)
        }
    };
    f.finish()?;
    Ok(ExceptionDraft { requirement_id, kind, rationale, compensating_control, owner, approved_by, expires_at })
}

/// 200 `{exceptions, nextCursor}`, oldest first.
pub async fn list_exceptions(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let customer = customer_of(app, ctx, partner, customer_id).await?;
    let paging = Paging::read(app, ctx, &format!("{}|{}", partner.id, customer.id))?;
    let page = uc::list(app.store.as_ref(), &customer, &paging.request).await?;
    let exceptions: Vec<Value> = page.items.iter().map(exception_view).collect();
    Ok(Reply::ok(json!({ "exceptions": exceptions, "nextCursor": paging.next_cursor(app, page.next) })))
}

/// 201: the new exception.
pub async fn create_exception(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let draft = read_exception(&ctx.body)?;
    let given = [
        ("requirementId", draft.requirement_id.is_some()),
        ("kind", draft.kind.is_some()),
        ("rationale", draft.rationale.is_some()),
        ("owner", draft.owner.is_some()),
        ("approvedBy", draft.approved_by.is_some()),
        ("expiresAt", draft.expires_at.is_some()),
    ];
    if let Some((name, _)) = given.iter().find(|(_, given)| !given) {
        return Err(ApiError::MissingField(format!("{name} is required.")));
    }
    let customer = customers::find(app.store.as_ref(), partner, customer_id).await?;
    let created = uc::create(app.store.as_ref(), ctx.ids(app), partner, &customer, draft, ctx.now).await?;
    Ok(Reply::created(exception_view(&created)))
}

/// 200: the exception as changed.
pub async fn update_exception(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let draft = read_exception(&ctx.body)?;
    let customer = customers::find(app.store.as_ref(), partner, customer_id).await?;
    let changed =
        uc::update(app.store.as_ref(), ctx.ids(app), partner, &customer, ctx.param("exceptionId"), &draft, ctx.now)
            .await?;
    Ok(Reply::ok(exception_view(&changed)))
}

/// 204.
pub async fn delete_exception(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let customer = customers::find(app.store.as_ref(), partner, customer_id).await?;
    uc::delete(app.store.as_ref(), ctx.ids(app), partner, &customer, ctx.param("exceptionId"), ctx.now).await?;
    Ok(Reply::no_content())
}
