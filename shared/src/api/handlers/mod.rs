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
use super::request::Query;
use super::response::Reply;
use super::routes::{PathParams, RouteId};
use super::{App, Ctx};
use crate::domain::account::{Owner, Partner};
use crate::store::PageRequest;

pub async fn dispatch(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    use RouteId::*;
    match ctx.route {
        PartnerMe => account::partner_me(app, ctx).await,
        PartnerPlanChange => plans::change(app, ctx, ctx.partner()?).await,
        PartnerProducts => account::products(app, ctx),
        PartnerCustomersList => customers::list(app, ctx, ctx.partner()?).await,
        PartnerCustomersCreate => customers::create(app, ctx, ctx.partner()?, false).await,
        PartnerCustomersBulk => customers::bulk_create(app, ctx, ctx.partner()?).await,
        PartnerCustomersGet => customers::get(app, ctx, ctx.partner()?).await,
        PartnerCustomersUpdate => customers::update(app, ctx, ctx.partner()?).await,
        PartnerCustomersDelete => customers::delete(app, ctx, ctx.partner()?).await,
        PartnerAssessmentsCreate => assessments::create(app, ctx, ctx.partner()?, false).await,
        PartnerAssessmentsBulk => assessments::bulk_create(app, ctx, ctx.partner()?).await,
        PartnerAssessmentsList => assessments::list(app, ctx, ctx.partner()?).await,
        PartnerAssessmentsGet => assessments::get(app, ctx, ctx.partner()?).await,
        PartnerKeysCreate => keys::create(app, ctx, Owner::partner(&ctx.partner()?.id)).await,
        PartnerKeysDelete => keys::revoke(app, ctx).await,
        DistributorMe => account::distributor_me(app, ctx).await,
        DistributorPartnersList => partners::list(app, ctx).await,
        DistributorPartnersCreate => partners::create(app, ctx).await,
        DistributorPartnersBulk => partners::bulk_create(app, ctx).await,
        DistributorPartnersGet => partners::get(app, ctx).await,
        DistributorPartnersUpdate => partners::update(app, ctx).await,
        DistributorPartnersActivate => partners::transition(app, ctx, partners::Transition::Activate).await,
        DistributorPartnersSuspend => partners::transition(app, ctx, partners::Transition::Suspend).await,
        DistributorPartnersPlan => plans::change(app, ctx, &sub_partner(app, ctx).await?).await,
        DistributorCustomersList => customers::list(app, ctx, &sub_partner(app, ctx).await?).await,
        DistributorCustomersCreate => customers::create(app, ctx, &sub_partner(app, ctx).await?, true).await,
        DistributorAssessmentsCreate => {
            let partner = sub_partner(app, ctx).await?;
            partners::require_active(&partner, "triggering assessments")?;
            assessments::create(app, ctx, &partner, true).await
        }
        DistributorAssessmentsList => assessments::list(app, ctx, &sub_partner(app, ctx).await?).await,
        DistributorUsage => usage::get(app, ctx).await,
        DistributorKeysCreate => keys::create_for_sub_partner(app, ctx, &sub_partner(app, ctx).await?).await,
        PartnerAssessmentsFindings => assessments::findings(app, ctx, ctx.partner()?, ctx.param("id")).await,
        DistributorAssessmentsFindings => {
            assessments::findings(app, ctx, &sub_partner(app, ctx).await?, ctx.param("runId")).await
        }
        PublicReport => Err(ApiError::Internal("public route reached the keyed dispatcher".into())),
        PartnerWebhooksList | DistributorWebhooksList => webhooks::list(app, ctx).await,
        PartnerWebhooksCreate | DistributorWebhooksCreate => webhooks::create(app, ctx).await,
        PartnerWebhooksUpdate | DistributorWebhooksUpdate => webhooks::update(app, ctx).await,
        PartnerWebhooksDelete | DistributorWebhooksDelete => webhooks::delete(app, ctx).await,
        PartnerWebhooksTest | DistributorWebhooksTest => webhooks::test(app, ctx).await,
        PartnerWebhooksDeliveries | DistributorWebhooksDeliveries => webhooks::deliveries(app, ctx).await,
        PartnerWebhooksRedeliver | DistributorWebhooksRedeliver => webhooks::redeliver(app, ctx).await,
    }
}

/// Routes that take no key.
pub async fn public(
    app: &App,
    route: RouteId,
    params: &PathParams,
    _query: &Query,
    now: i64,
) -> Result<Reply, ApiError> {
    let param = |name: &str| params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or_default();
    match route {
        RouteId::PublicReport => reports::get(app, param("token"), now).await,
        other => Err(ApiError::Internal(format!("keyed route {} reached the public dispatcher", other.name()))),
    }
}

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
