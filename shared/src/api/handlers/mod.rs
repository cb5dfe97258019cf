//! Handlers grouped by resource; each resource serves both surfaces where the contract has
//! it on both (a distributor acts on a sub-partner through `/partners/{id}/…`).

mod account;
mod assessments;
mod customers;
pub(crate) mod keys;
mod partners;
mod plans;
mod reports;
mod usage;
mod webhooks;

use serde_json::{json, Value};

use super::cursor;
use super::error::ApiError;
use super::request::Fields;
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
    keyed webhooks_create = |app, ctx| webhooks::create(app, ctx);
    keyed webhooks_update = |app, ctx| webhooks::update(app, ctx);
    keyed webhooks_delete = |app, ctx| webhooks::delete(app, ctx);
    keyed webhooks_test = |app, ctx| webhooks::test(app, ctx);
    keyed webhooks_deliveries = |app, ctx| webhooks::deliveries(app, ctx);
    keyed webhooks_redeliver = |app, ctx| webhooks::redeliver(app, ctx);
    partner plan_change = |app, ctx, p| plans::change(app, ctx, p);
    partner customers_list = |app, ctx, p| customers::list(app, ctx, p);
    partner customers_create = |app, ctx, p| customers::create(app, ctx, p, false);
    partner sub_partner_customers_create = |app, ctx, p| customers::create(app, ctx, p, true);
    partner customers_bulk_create = |app, ctx, p| customers::bulk_create(app, ctx, p);
    partner customers_get = |app, ctx, p| customers::get(app, ctx, p);
    partner customers_update = |app, ctx, p| customers::update(app, ctx, p);
    partner customers_delete = |app, ctx, p| customers::delete(app, ctx, p);
    partner assessments_create = |app, ctx, p| assessments::create(app, ctx, p, false);
    partner sub_partner_assessments_create = |app, ctx, p| assessments::create(app, ctx, p, true);
    partner assessments_bulk_create = |app, ctx, p| assessments::bulk_create(app, ctx, p);
    partner assessments_list = |app, ctx, p| assessments::list(app, ctx, p);
    partner assessments_get = |app, ctx, p| assessments::get(app, ctx, p);
    partner assessments_findings = |app, ctx, p| assessments::findings(app, ctx, p, ctx.param("id"));
    partner sub_partner_assessments_findings = |app, ctx, p| assessments::findings(app, ctx, p, ctx.param("runId"));
    partner keys_create = |app, ctx, p| keys::create(app, ctx, Owner::partner(&p.id));
    partner sub_partner_keys_create = |app, ctx, p| keys::create_for_sub_partner(app, ctx, p);
}

/// The shared report (public: the signed token is the credential).
pub(super) fn report<'a>(app: &'a App, ctx: &'a PublicCtx) -> HandlerFuture<'a> {
    Box::pin(reports::get(app, ctx.param("token"), ctx.now))
}

pub(super) use partners::require_active;

/// The partner named by `{id}`, if it belongs to the calling distributor; 404 otherwise,
/// exactly as if it did not exist.
pub(super) async fn sub_partner(app: &App, ctx: &Ctx) -> Result<Partner, ApiError> {
    Ok(crate::usecases::partners::sub_partner(app.store.as_ref(), ctx.distributor()?, ctx.param("id")).await?)
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

/// A bulk create (P6, D4): reads `field` (an array of at most `max` objects) and makes each in
/// order with `create`. Too many items is refused before anything is written; a client
/// mistake in one item is reported with its `index`, its `label` field and the error, while a
/// server fault stops the request.
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
    let (mut created, mut failed) = (0, 0);
    let mut results = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let shown = item.get(label).and_then(Value::as_str).map(str::to_string);
        let outcome = match Fields::from_value(item, &format!("{field}[{i}].")) {
            Ok(fields) => create(fields).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(v) => {
                created += 1;
                results.push(v);
            }
            Err(ApiError::Internal(detail)) => return Err(ApiError::Internal(detail)),
            Err(e) => {
                failed += 1;
                results.push(json!({
                    "index": i,
                    label: shown,
                    "status": "failed",
                    "error": { "code": e.code(), "message": e.message() },
                }));
            }
        }
    }
    Ok(Reply::created(json!({ "created": created, "failed": failed, field: results })))
}
