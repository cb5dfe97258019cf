//! Handlers grouped by resource; each resource serves both surfaces where the contract has
//! it on both (a distributor acts on a sub-partner through `/partners/{id}/…`).

mod account;
mod assessments;
mod audit;
mod billing;
mod branding;
mod consent;
mod consent_mail;
mod context;
mod customers;
pub(crate) mod keys;
mod mail;
mod partners;
mod plans;
mod portfolio;
pub(crate) mod questionnaire;
mod reports;
mod schedules;
mod usage;
mod webhooks;

use serde_json::{json, Value};

use super::cursor;
use super::error::ApiError;
use super::request::{self, Fields};
use super::response::Reply;
use super::routes::HandlerFuture;
use super::{App, Ctx, PublicCtx};
use crate::domain::account::{Owner, Partner};
use crate::store::PageRequest;

// Thin adapters giving every handler one of the route table's signatures (`Handler`); the
// handlers themselves keep theirs.

macro_rules! adapters {
    ($(keyed $kname:ident = |$kapp:ident, $kctx:ident| $kcall:expr;)*
     $(partner $pname:ident = |$papp:ident, $pctx:ident, $pp:ident| $pcall:expr;)*) => {
        $(pub(super) fn $kname<'a>($kapp: &'a App, $kctx: &'a Ctx) -> HandlerFuture<'a> {
            Box::pin(async move { $kcall.await })
        })*
        $(pub(super) fn $pname<'a>($papp: &'a App, $pctx: &'a Ctx, $pp: &'a Partner) -> HandlerFuture<'a> {
            Box::pin(async move { $pcall.await })
        })*
    };
}

adapters! {
    keyed partner_me = |app, ctx| account::partner_me(app, ctx);
    keyed products = |app, ctx| async { account::products(app, ctx) };
    keyed keys_revoke = |app, ctx| keys::revoke(app, ctx);
    keyed distributor_me = |app, ctx| account::distributor_me(app, ctx);
    keyed partners_list = |app, ctx| partners::list(app, ctx);
    keyed partners_create = |app, ctx| partners::create(app, ctx);
    keyed partners_bulk_create = |app, ctx| partners::bulk_create(app, ctx);
    keyed partners_get = |app, ctx| partners::get(app, ctx);
    keyed partners_update = |app, ctx| partners::update(app, ctx);
    keyed partners_activate = |app, ctx| partners::transition(app, ctx, partners::Transition::Activate);
    keyed partners_suspend = |app, ctx| partners::transition(app, ctx, partners::Transition::Suspend);
    keyed usage_get = |app, ctx| usage::get(app, ctx);
    keyed webhooks_list = |app, ctx| webhooks::list(app, ctx);
    keyed mail_messages = |app, ctx| mail::list(app, ctx);
    keyed audit_list = |app, ctx| audit::list(app, ctx);
    keyed portfolio_list = |app, ctx| portfolio::list(app, ctx);
    keyed webhooks_create = |app, ctx| webhooks::create(app, ctx);
    keyed webhooks_update = |app, ctx| webhooks::update(app, ctx);
    keyed webhooks_delete = |app, ctx| webhooks::delete(app, ctx);
    keyed webhooks_test = |app, ctx| webhooks::test(app, ctx);
    keyed webhooks_deliveries = |app, ctx| webhooks::deliveries(app, ctx);
    keyed webhooks_redeliver = |app, ctx| webhooks::redeliver(app, ctx);
    partner plan_change = |app, ctx, p| plans::change(app, ctx, p);
    partner billing_get = |app, ctx, p| billing::get(app, ctx, p);
    partner billing_portal = |app, ctx, p| billing::portal(app, ctx, p);
    partner customers_list = |app, ctx, p| customers::list(app, ctx, p);
    partner customers_create = |app, ctx, p| customers::create(app, ctx, p, false);
    partner sub_partner_customers_create = |app, ctx, p| customers::create(app, ctx, p, true);
    partner customers_bulk_create = |app, ctx, p| customers::bulk_create(app, ctx, p);
    partner customers_get = |app, ctx, p| customers::get(app, ctx, p);
    partner customers_update = |app, ctx, p| customers::update(app, ctx, p);
    partner customers_delete = |app, ctx, p| customers::delete(app, ctx, p);
    partner consent_get = |app, ctx, p| consent::get(app, ctx, p, ctx.param("id"));
    partner sub_partner_consent_get = |app, ctx, p| consent::get(app, ctx, p, ctx.param("customerId"));
    partner consent_email = |app, ctx, p| consent_mail::send(app, ctx, p, ctx.param("id"));
    partner sub_partner_consent_email = |app, ctx, p| consent_mail::send(app, ctx, p, ctx.param("customerId"));
    partner assessments_create = |app, ctx, p| assessments::create(app, ctx, p, false);
    partner sub_partner_assessments_create = |app, ctx, p| assessments::create(app, ctx, p, true);
    partner assessments_bulk_create = |app, ctx, p| assessments::bulk_create(app, ctx, p);
    partner assessments_list = |app, ctx, p| assessments::list(app, ctx, p);
    partner assessments_get = |app, ctx, p| assessments::get(app, ctx, p);
    partner assessments_findings = |app, ctx, p| assessments::findings(app, ctx, p, ctx.param("id"));
    partner sub_partner_assessments_findings = |app, ctx, p| assessments::findings(app, ctx, p, ctx.param("runId"));
    partner assessments_requirements = |app, ctx, p| assessments::requirements(app, ctx, p, ctx.param("id"));
    partner sub_partner_assessments_requirements = |app, ctx, p| assessments::requirements(app, ctx, p, ctx.param("runId"));
    partner assessments_report = |app, ctx, p| assessments::report_link(app, ctx, p, ctx.param("id"));
    partner sub_partner_assessments_report = |app, ctx, p| assessments::report_link(app, ctx, p, ctx.param("runId"));
    partner keys_create = |app, ctx, p| keys::create(app, ctx, Owner::partner(&p.id));
    partner branding_get = |app, ctx, p| branding::get(app, ctx, p);
    partner branding_put = |app, ctx, p| branding::put(app, ctx, p);
    partner branding_preview = |app, ctx, p| branding::preview(app, ctx, p);
    partner sub_partner_keys_create = |app, ctx, p| keys::create_for_sub_partner(app, ctx, p);
    partner context_get = |app, ctx, p| context::get(app, ctx, p, ctx.param("id"));
    partner sub_partner_context_get = |app, ctx, p| context::get(app, ctx, p, ctx.param("customerId"));
    partner context_put = |app, ctx, p| context::put(app, ctx, p, ctx.param("id"));
    partner sub_partner_context_put = |app, ctx, p| context::put(app, ctx, p, ctx.param("customerId"));
    partner exceptions_list = |app, ctx, p| context::list_exceptions(app, ctx, p, ctx.param("id"));
    partner sub_partner_exceptions_list = |app, ctx, p| context::list_exceptions(app, ctx, p, ctx.param("customerId"));
    partner exceptions_create = |app, ctx, p| context::create_exception(app, ctx, p, ctx.param("id"));
    partner sub_partner_exceptions_create = |app, ctx, p| context::create_exception(app, ctx, p, ctx.param("customerId"));
    partner exceptions_update = |app, ctx, p| context::update_exception(app, ctx, p, ctx.param("id"));
    partner sub_partner_exceptions_update = |app, ctx, p| context::update_exception(app, ctx, p, ctx.param("customerId"));
    partner exceptions_delete = |app, ctx, p| context::delete_exception(app, ctx, p, ctx.param("id"));
    partner sub_partner_exceptions_delete = |app, ctx, p| context::delete_exception(app, ctx, p, ctx.param("customerId"));
    partner questionnaire_get = |app, ctx, p| questionnaire::get(app, ctx, p, ctx.param("id"));
    partner sub_partner_questionnaire_get = |app, ctx, p| questionnaire::get(app, ctx, p, ctx.param("customerId"));
    partner questionnaire_put = |app, ctx, p| questionnaire::put(app, ctx, p, ctx.param("id"));
    partner sub_partner_questionnaire_put = |app, ctx, p| questionnaire::put(app, ctx, p, ctx.param("customerId"));
    partner questionnaire_invite = |app, ctx, p| questionnaire::invite(app, ctx, p, ctx.param("id"));
    partner sub_partner_questionnaire_invite = |app, ctx, p| questionnaire::invite(app, ctx, p, ctx.param("customerId"));
    partner schedules_list = |app, ctx, p| schedules::list(app, ctx, p, ctx.param("id"));
    partner sub_partner_schedules_list = |app, ctx, p| schedules::list(app, ctx, p, ctx.param("customerId"));
    partner schedules_create = |app, ctx, p| schedules::create(app, ctx, p, ctx.param("id"));
    partner sub_partner_schedules_create = |app, ctx, p| schedules::create(app, ctx, p, ctx.param("customerId"));
    partner schedules_update = |app, ctx, p| schedules::update(app, ctx, p, ctx.param("id"));
    partner sub_partner_schedules_update = |app, ctx, p| schedules::update(app, ctx, p, ctx.param("customerId"));
    partner schedules_delete = |app, ctx, p| schedules::delete(app, ctx, p, ctx.param("id"));
    partner sub_partner_schedules_delete = |app, ctx, p| schedules::delete(app, ctx, p, ctx.param("customerId"));
}

/// `GET /products/{product}/questions` (any partner: the questions are the product's).
pub(super) fn product_questions<'a>(app: &'a App, ctx: &'a Ctx) -> HandlerFuture<'a> {
    Box::pin(questionnaire::questions(app, ctx))
}

/// The questionnaire form (public: the signed token is the credential).
pub(super) fn questionnaire_form_get<'a>(app: &'a App, ctx: &'a PublicCtx) -> HandlerFuture<'a> {
    Box::pin(questionnaire::form_get(app, ctx))
}

/// The questionnaire form's post (public: the signed token is the credential).
pub(super) fn questionnaire_form_post<'a>(app: &'a App, ctx: &'a PublicCtx) -> HandlerFuture<'a> {
    Box::pin(questionnaire::form_post(app, ctx))
}

/// The shared report (public: the signed token is the credential).
pub(super) fn report<'a>(app: &'a App, ctx: &'a PublicCtx) -> HandlerFuture<'a> {
    Box::pin(reports::get(app, ctx.param("token"), ctx.query.get("format"), ctx.now))
}

/// The OpenAPI document (public: it describes the API, and holds nothing of any account).
pub(super) fn openapi<'a>(_: &'a App, _: &'a PublicCtx) -> HandlerFuture<'a> {
    Box::pin(async { Ok(Reply::ok(super::openapi::document().clone())) })
}

/// Stripe's webhook (public: the `Stripe-Signature` is the credential).
pub(super) fn stripe_webhook<'a>(app: &'a App, ctx: &'a PublicCtx) -> HandlerFuture<'a> {
    Box::pin(billing::stripe_webhook(app, ctx))
}

/// The consent callback (public: the signed `state` is the credential).
pub(super) fn consent_callback<'a>(app: &'a App, ctx: &'a PublicCtx) -> HandlerFuture<'a> {
    Box::pin(consent::callback(app, ctx))
}

pub(super) use partners::require_active;

/// The partner named by `{id}`, if it belongs to the calling distributor; 404 otherwise,
/// exactly as if it did not exist.
pub(super) async fn sub_partner(app: &App, ctx: &Ctx) -> Result<Partner, ApiError> {
    let (distributor, id) = (ctx.distributor()?, ctx.param("id"));
    match ctx.prefetched(&crate::store::Want::Partner(id.to_string())) {
        Some(crate::store::Got::Partner(found)) => {
            Ok(crate::usecases::partners::owned_by(found.clone(), distributor, id)?)
        }
        _ => Ok(crate::usecases::partners::sub_partner(app.store.as_ref(), distributor, id).await?),
    }
}

/// Reads `limit` and `cursor` for a list bound to the caller, the route, and `scope` (the
/// filters and the partner listed), so a cursor only continues the list it came from.
pub(super) struct Paging {
    pub request: PageRequest,
    binding: String,
}

impl Paging {
    pub fn read(app: &App, ctx: &Ctx, scope: &str) -> Result<Self, ApiError> {
        let owner = ctx.principal.owner();
        let binding = format!("{}|{}|{}", owner.id, ctx.route.name(), scope);
        let limit = ctx.query.limit()?;
        let after =
            ctx.query.get("cursor").map(|c| cursor::decode(&app.secrets.cursor_signing, &binding, c)).transpose()?;
        Ok(Self { request: PageRequest { limit, after }, binding })
    }

    pub fn next_cursor(&self, app: &App, next: Option<String>) -> Value {
        next.map_or(Value::Null, |n| json!(cursor::encode(&app.secrets.cursor_signing, &self.binding, &n)))
    }
}

/// How far a bulk request (P6, P11, D4) got, item by item.
///
/// A client mistake in one item fails that item only. A server fault stops the work: before
/// anything was written it is the whole request's 500, so its `Idempotency-Key` is released and a
/// retry redoes everything; once an item was written, the item at fault and every item after it
/// are reported failed with `INTERNAL` in the normal answer instead. That answer is kept under the
/// key like any other, so a retry with the same key replays what was written rather than writing
/// it twice (issue 13, item 11; `docs/api-decisions.md`).
pub(super) struct Bulk {
    pub done: usize,
    pub failed: usize,
    pub items: Vec<Value>,
    /// Set once a server fault stopped the work.
    stopped: bool,
}

impl Bulk {
    pub fn new(len: usize) -> Self {
        Self { done: 0, failed: 0, items: Vec::with_capacity(len), stopped: false }
    }

    /// Whether the items left are to be reported as not attempted (see [`Bulk::not_attempted`]).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Records an item's outcome; `ident` are the fields that name the item in a failure (its
    /// `index`, the label a client sent). Only a server fault before anything was written is an
    /// `Err`: the request's own 500.
    pub fn record(&mut self, ident: Value, outcome: Result<Value, ApiError>) -> Result<(), ApiError> {
        match outcome {
            Ok(v) => {
                self.done += 1;
                self.items.push(v);
            }
            Err(ApiError::Internal(detail)) if self.done == 0 => return Err(ApiError::Internal(detail)),
            Err(e) => {
                if let ApiError::Internal(detail) = &e {
                    tracing::error!(detail = detail.as_str(), "bulk item failed; the items after it are not attempted");
                    self.stopped = true;
                }
                self.fail(ident, e.code(), e.message());
            }
        }
        Ok(())
    }

    /// Reports an item the request refused with an answer of its own (`item` as is), counted in
    /// `failed`: a bulk trigger's `consent_required`.
    pub fn refused(&mut self, item: Value) {
        self.failed += 1;
        self.items.push(item);
    }

    /// Reports an item left undone after a server fault stopped the work.
    pub fn not_attempted(&mut self, ident: Value) {
        self.fail(
            ident,
            "INTERNAL",
            "Not attempted: an earlier item failed on the server. Send this item again with a new Idempotency-Key."
                .into(),
        );
    }

    fn fail(&mut self, ident: Value, code: &str, message: String) {
        self.failed += 1;
        let mut item = match ident {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        item.insert("status".into(), json!("failed"));
        item.insert("error".into(), json!({ "code": code, "message": message }));
        self.items.push(Value::Object(item));
    }
}

/// A bulk create (P6, D4): reads `field` (an array of at most `max` objects) and makes each in
/// order with `create`. Too many items is refused before anything is written; a failed item is
/// reported with its `index` and its `label` field, as [`Bulk`] describes.
pub(super) async fn create_each<F, Fut>(
    ctx: &Ctx,
    field: &str,
    max: usize,
    label: &str,
    create: F,
) -> Result<Reply, ApiError>
where
    F: Fn(Fields) -> Fut,
    Fut: std::future::Future<Output = Result<Value, ApiError>>,
{
    let mut f = Fields::parse(&ctx.body)?;
    let items = f.req_array(field)?;
    f.finish()?;
    if items.len() > max {
        return Err(ApiError::TooMany(format!(
            "{field} holds {} items; the maximum batch size is {max}.",
            items.len()
        )));
    }
    let mut bulk = Bulk::new(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let shown = item.get(label).and_then(Value::as_str).map(request::clipped);
        let ident = json!({ "index": i, label: shown });
        if bulk.stopped() {
            bulk.not_attempted(ident);
            continue;
        }
        let outcome = match Fields::from_value(item, &format!("{field}[{i}].")) {
            Ok(fields) => create(fields).await,
            Err(e) => Err(e),
        };
        bulk.record(ident, outcome)?;
    }
    Ok(Reply::created(json!({ "created": bulk.done, "failed": bulk.failed, field: bulk.items })))
}
