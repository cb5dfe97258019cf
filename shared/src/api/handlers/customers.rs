//! Customers: P4–P9 for a partner, D10–D11 for a distributor's sub-partner.

use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::request::Fields;
use super::super::response::Reply;
use super::super::views;
use super::super::{App, Ctx};
use super::{create_each, event, Paging};
use crate::domain::account::{Owner, Partner};
use crate::domain::customer::Customer;
use crate::domain::email::Email;
use crate::domain::event::EventType;
use crate::domain::ids::prefix;
use crate::domain::run::RunFilter;
use crate::domain::tenant::TenantId;
use crate::store::{PageRequest, StoreError};

pub const BULK_MAX: usize = 100;
const RECENT_RUNS: usize = 10;

/// A customer as a create body describes it.
struct NewCustomer {
    name: String,
    tenant_id: TenantId,
    email: Option<Email>,
    receivers: Vec<Email>,
    questionnaire_recipients: Vec<Email>,
}

fn customer_exists(tenant_id: &str) -> ApiError {
    ApiError::CustomerExists(format!("A customer with tenantId {tenant_id} already exists."))
}

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

async fn insert(app: &App, partner: &Partner, new: NewCustomer, now: i64) -> Result<Customer, ApiError> {
    let customer = Customer {
        id: app.new_id(prefix::CUSTOMER),
        partner_id: partner.id.clone(),
        name: new.name,
        tenant_id: new.tenant_id,
        email: new.email,
        receivers: new.receivers,
        questionnaire_recipients: new.questionnaire_recipients,
        created_at: now,
        updated_at: None,
        version: 1,
    };
    let evt = event(
        app,
        EventType::CustomerCreated,
        Owner::partner(&partner.id),
        partner.distributor_id.clone(),
        now,
        views::customer_event(&customer),
    );
    match app.store.create_customer(&customer, &evt).await {
        Ok(()) => Ok(customer),
        Err(StoreError::CustomerExists) => Err(customer_exists(&customer.tenant_id)),
        Err(StoreError::NotFound) => Err(ApiError::not_found("partner", &partner.id)),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let paging = Paging::read(app, ctx, &partner.id)?;
    let page = app.store.list_customers(&partner.id, &paging.request).await?;
    let customers: Vec<Value> = page.items.iter().map(views::customer_summary).collect();
    Ok(Reply::ok(json!({ "customers": customers, "nextCursor": paging.next_cursor(app, page.next) })))
}

pub async fn create(app: &App, ctx: &Ctx, partner: &Partner, show_partner: bool) -> Result<Reply, ApiError> {
    let new = read_new_customer(Fields::parse(&ctx.body)?)?;
    let customer = insert(app, partner, new, ctx.now).await?;
    let body = views::customer(&customer);
    Ok(Reply::created(if show_partner { views::with_partner_id(body, &partner.id) } else { body }))
}

pub async fn bulk_create(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    create_each(ctx, "customers", BULK_MAX, "name", |fields| async move {
        let c = insert(app, partner, read_new_customer(fields)?, ctx.now).await?;
        Ok(json!({ "id": c.id, "name": c.name, "status": "created" }))
    })
    .await
}

async fn find(app: &App, partner: &Partner, id: &str) -> Result<Customer, ApiError> {
    app.store.customer(&partner.id, id).await?.ok_or_else(|| ApiError::not_found("customer", id))
}

pub async fn get(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let customer = find(app, partner, ctx.param("id")).await?;
    let filter = RunFilter { customer_id: Some(customer.id.clone()), ..Default::default() };
    let recent = app.store.list_runs(&partner.id, &filter, &PageRequest { limit: RECENT_RUNS, after: None }).await?;
    Ok(Reply::ok(views::customer_with_runs(&customer, &recent.items)))
}

pub async fn update(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let id = ctx.param("id");
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
    let questionnaire =
        f.opt_str_list("questionnaireRecipients")?.map(|l| f.email_list("questionnaireRecipients", l)).transpose()?;
    f.finish()?;

    // Optimistic concurrency: apply the patch to what was read; retry if it moved meanwhile.
    for _ in 0..5 {
        let current = find(app, partner, id).await?;
        let mut next = current.clone();
        if let Some(n) = &name {
            next.name = n.clone();
        }
        if let Some(t) = &tenant_id {
            next.tenant_id = t.clone();
        }
        if clear_email {
            next.email = None;
        } else if let Some(e) = &email {
            next.email = Some(e.clone());
        }
        if let Some(r) = &receivers {
            next.receivers = r.clone();
        }
        if let Some(q) = &questionnaire {
            next.questionnaire_recipients = q.clone();
        }
        next.updated_at = Some(ctx.now);
        next.version = current.version + 1;
        let evt = event(
            app,
            EventType::CustomerUpdated,
            Owner::partner(&partner.id),
            partner.distributor_id.clone(),
            ctx.now,
            views::customer_event(&next),
        );
        match app.store.update_customer(&next, current.version, &evt).await {
            Ok(()) => return Ok(Reply::ok(views::customer_updated(&next))),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Err(ApiError::not_found("customer", id)),
            Err(StoreError::CustomerExists) => return Err(customer_exists(&next.tenant_id)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Internal(format!("customer {id} kept changing during the update")))
}

pub async fn delete(app: &App, ctx: &Ctx, partner: &Partner) -> Result<Reply, ApiError> {
    let id = ctx.param("id");
    let evt = event(
        app,
        EventType::CustomerDeleted,
        Owner::partner(&partner.id),
        partner.distributor_id.clone(),
        ctx.now,
        json!({ "id": id, "partnerId": partner.id, "deletedAt": crate::domain::time::rfc3339(ctx.now) }),
    );
    match app.store.delete_customer(&partner.id, id, &evt).await {
        Ok(()) => Ok(Reply::no_content()),
        Err(StoreError::NotFound) => Err(ApiError::not_found("customer", id)),
        Err(e) => Err(e.into()),
    }
}
