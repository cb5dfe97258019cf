//! Customers: P4–P9 for a partner, D10–D11 for a distributor's sub-partner.

use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::request::Fields;
use super::super::response::Reply;
use super::super::{App, Ctx};
use super::{create_each, Paging};
use crate::domain::account::Partner;
use crate::store::{Got, Want};
use crate::usecases::customers::{self, CustomerPatch, NewCustomer};
use crate::views;

pub const BULK_MAX: usize = 100;
const RECENT_RUNS: usize = 10;

fn read_new_customer(mut f: Fields) -> Result<NewCustomer, ApiError> {
    let name = f.req_str("name")?;
    let name = f.display_name("name", name)?;
    let tenant_id = f.req_str("tenantId")?;
    let tenant_id = f.guid("tenantId", tenant_id)?;
    let email = f.opt_str("email")?.map(|e| f.email("email", e)).transpose()?;
    let receivers = f.opt_str_list("receivers")?.map(|l| f.email_list("receivers", l)).transpose()?.unwrap_or_default();
    let questionnaire_recipients = f
        .opt_str_list("questionnaireRecipients")?
        .map(|l| f.email_list("questionnaireRecipients", l))
        .transpose()?
        .unwrap_or_default();
    f.finish()?;
    Ok(NewCustomer { name, tenant_id, email, receivers, questionnaire_recipients })
}

pub async fn list(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let paging = Paging::read(app, ctx, &partner.id)?;
    let page = customers::list(app.store.as_ref(), partner, &paging.request).await?;
    let customers: Vec<Value> = page.items.iter().map(views::customer_summary).collect();
    Ok(Reply::ok(json!({ "customers": customers, "nextCursor": paging.next_cursor(app, page.next) })))
}

pub async fn create(app: &App, ctx: &Ctx, partner: &Partner, show_partner: bool) -> Result<Reply, ApiError> {
    let new = read_new_customer(Fields::parse(&ctx.body)?)?;
    let customer = customers::create(app.store.as_ref(), ctx.ids(app), partner, new, ctx.now).await?;
    let body = views::customer(&customer);
    Ok(Reply::created(if show_partner { views::with_partner_id(body, &partner.id) } else { body }))
}

pub async fn bulk_create(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    create_each(ctx, "customers", BULK_MAX, "name", |fields| async move {
        let new = read_new_customer(fields)?;
        let c = customers::create(app.store.as_ref(), ctx.ids(app), partner, new, ctx.now).await?;
        Ok(json!({ "id": c.id, "name": c.name, "status": "created" }))
    })
    .await
}

pub async fn get(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let store = app.store.as_ref();
    let id = ctx.param("id");
    let read = match ctx.prefetched(&Want::Customer { partner_id: partner.id.to_string(), id: id.to_string() }) {
        Some(Got::Customer(found)) => Some(found.clone()),
        _ => None,
    };
    let (customer, recent) = customers::with_recent_runs(store, store, partner, id, RECENT_RUNS, read).await?;
    Ok(Reply::ok(views::customer_with_runs(&customer, &recent)))
}

pub async fn update(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    // Read the body before the customer so a malformed body is a 400 whatever the id.
    let mut f = Fields::parse(&ctx.body)?;
    for required in ["name", "tenantId"] {
        if f.is_null(required) {
            return Err(ApiError::InvalidField(format!("{required} cannot be null.")));
        }
    }
    let name = f.opt_str("name")?.map(|n| f.display_name("name", n)).transpose()?;
    let tenant_id = f.opt_str("tenantId")?.map(|t| f.guid("tenantId", t)).transpose()?;
    let clear_email = f.is_null("email");
    let email = f.opt_str("email")?.map(|e| f.email("email", e)).transpose()?;
    let receivers = f.opt_str_list("receivers")?.map(|l| f.email_list("receivers", l)).transpose()?;
    let questionnaire_recipients =
        f.opt_str_list("questionnaireRecipients")?.map(|l| f.email_list("questionnaireRecipients", l)).transpose()?;
    f.finish()?;
    let patch = CustomerPatch {
        name,
        tenant_id,
        email: if clear_email { Some(None) } else { email.map(Some) },
        receivers,
        questionnaire_recipients,
    };
    let next = customers::update(app.store.as_ref(), ctx.ids(app), partner, ctx.param("id"), &patch, ctx.now).await?;
    Ok(Reply::ok(views::customer_updated(&next)))
}

pub async fn delete(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    customers::delete(app.store.as_ref(), ctx.ids(app), partner, ctx.param("id"), ctx.now).await?;
    Ok(Reply::no_content())
}
