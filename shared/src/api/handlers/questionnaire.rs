//! The questionnaire (contract, "Questionnaire"): the questions of a product, a customer's
//! answers (GET/PUT), invitations, and the public form a signed link opens.

use http::StatusCode;
use serde_json::{json, Value};

use super::super::error::ApiError;
use super::super::request::Fields;
use super::super::response::Reply;
use super::super::{App, Ctx, PublicCtx};
use crate::domain::account::Partner;
use crate::domain::catalog::Product;
use crate::domain::questionnaire::{AnsweredBy, StoredAnswer};
use crate::questionnaire_pages;
use crate::usecases::questionnaire::{self as q, Answers, Given, InvitePorts, LinkError};

/// The product of the catalogue named `id`; `INVALID_PRODUCT` otherwise.
fn product<'a>(app: &'a App, id: &str) -> Result<&'a Product, ApiError> {
    app.config.catalog.product(id).ok_or_else(|| {
        ApiError::InvalidProduct(format!(
            "product {:?} is not recognised; known products: {}.",
            super::super::request::clipped(id),
            app.config.catalog.products.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// `GET /products/{product}/questions`: `{product, questions:[{id, requirementIds, group, level,
/// prompt, help}]}`; 404 for a product the catalogue does not have.
pub async fn questions(app: &App, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param("product");
    let p = app
        .config
        .catalog
        .product(id)
        .ok_or_else(|| ApiError::NotFound(format!("No product {:?}.", super::super::request::clipped(id))))?;
    let list = q::questions(&p.id)?;
    let questions: Vec<Value> = list
        .iter()
        .map(|q| {
            json!({
                "id": q.id,
                "requirementIds": q.requirement_ids,
                "group": q.group,
                "level": q.level,
                "prompt": q.prompt,
                "help": q.help,
            })
        })
        .collect();
    Ok(Reply::ok(json!({ "product": p.id, "questions": questions })))
}

/// One stored answer as the API shows it.
pub fn answer_view(a: &StoredAnswer) -> Value {
    json!({
        "questionId": a.question_id,
        "answer": a.answer.as_str(),
        "note": a.note,
        "answeredBy": a.answered_by,
        "answeredAt": a.answered_at.rfc3339(),
        "expiresAt": a.expires_at.rfc3339(),
    })
}

fn answers_view(a: &Answers) -> Value {
    json!({
        "product": a.product,
        "answered": a.answered,
        "total": a.total,
        "answers": a.answers.iter().map(answer_view).collect::<Vec<_>>(),
        "updatedAt": a.updated_at.map(|t| t.rfc3339()),
    })
}

/// `GET /customers/{id}/questionnaire?product=` (default `essential-eight`).
pub async fn get(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let p = product(app, ctx.query.get("product").unwrap_or("essential-eight"))?;
    let store = app.store.as_ref();
    let want = crate::store::Want::Customer { partner_id: partner.id.to_string(), id: customer_id.to_string() };
    let answers = match ctx.prefetched(&want) {
        Some(crate::store::Got::Customer(found)) => {
            q::get_of(store, found.as_ref(), customer_id, &p.id, ctx.now).await?
        }
        _ => q::get(store, store, partner, customer_id, &p.id, ctx.now).await?,
    };
    Ok(Reply::ok(answers_view(&answers)))
}

/// Reads `{questionId: value}` where each value is an answer string (`attestations`) or, with
/// `objects`, `{answer, note}` (`answers`).
fn read_given(f: Fields, field: &str, objects: bool) -> Result<Vec<Given>, ApiError> {
    f.into_entries()
        .into_iter()
        .map(|(id, v)| match (objects, v) {
            (false, Value::String(answer)) => Ok(Given { question_id: id, answer, note: None }),
            (true, v @ Value::Object(_)) => {
                let mut a = Fields::from_value(v, &format!("{field}.{id}."))?;
                let answer = a.req_str("answer")?;
                let note = a.opt_str("note")?;
                a.finish()?;
                Ok(Given { question_id: id, answer, note })
            }
            (_, other) => Err(ApiError::InvalidField(format!(
                "{field}.{id} must be {}, not {}.",
                if objects { "an object {answer, note}" } else { "an answer string" },
                if other.is_null() { "null" } else { "another type" }
            ))),
        })
        .collect()
}

/// `PUT /customers/{id}/questionnaire`: body `{product, answers:{questionId:{answer, note}}}`,
/// recorded as the partner's; answers the customer's answers after the write.
pub async fn put(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let mut f = Fields::parse(&ctx.body)?;
    let product_id = f.req_str("product")?;
    let answers = f.req_object("answers")?;
    f.finish()?;
    let p = product(app, &product_id)?;
    let given = read_given(answers, "answers", true)?;
    let checked = q::check(&p.id, "answers", &given, &AnsweredBy::Partner, ctx.now)?;
    let store = app.store.as_ref();
    let after = q::record(store, store, partner, customer_id, &p.id, &checked, ctx.now).await?;
    Ok(Reply::ok(answers_view(&after)))
}

/// The optional `attestations` of a trigger (P10, D12, P11): `{questionId: answer}`, checked
/// against `product`'s questions (`INVALID_FIELD` for an unknown id or answer).
pub fn read_attestations(
    f: &mut Fields,
    product: &str,
    now: crate::domain::time::Timestamp,
) -> Result<Vec<StoredAnswer>, ApiError> {
    let Some(obj) = f.opt_object("attestations")? else { return Ok(Vec::new()) };
    let given = read_given(obj, "attestations", false)?;
    Ok(q::check(product, "attestations", &given, &AnsweredBy::Partner, now)?)
}

/// Records a trigger's attestations for `customer_id` before its run is queued.
pub async fn record_attestations(
    app: &App,
    partner: &Partner,
    customer_id: &str,
    product: &str,
    answers: &[StoredAnswer],
    now: crate::domain::time::Timestamp,
) -> Result<(), crate::usecases::UseCaseError> {
    if answers.is_empty() {
        return Ok(());
    }
    let store = app.store.as_ref();
    q::record(store, store, partner, customer_id, product, answers, now).await?;
    Ok(())
}

/// `POST /customers/{id}/questionnaire/invitations`: body `{product}` (default
/// `essential-eight`); one `questionnaire-invitation` per `questionnaireRecipients` address.
pub async fn invite(app: &App, ctx: &Ctx, partner: &Partner, customer_id: &str) -> Result<Reply, ApiError> {
    let product_id = if ctx.body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let mut f = Fields::parse(&ctx.body)?;
        let p = f.opt_str("product")?;
        f.finish()?;
        p
    };
    let p = product(app, product_id.as_deref().unwrap_or("essential-eight"))?;
    let ports = InvitePorts {
        accounts: app.store.as_ref(),
        customers: app.store.as_ref(),
        outbox: app.store.as_ref(),
        ids: ctx.ids(app),
        signing_key: &app.secrets.report_signing,
        public_base_url: &app.config.public_base_url,
    };
    let invited = q::invite(ports, partner, customer_id, &p.id, &p.name, ctx.now).await?;
    Ok(Reply::ok(json!({
        "sent": invited.recipients.len(),
        "recipients": invited.recipients,
        "expiresAt": invited.expires_at.rfc3339(),
    })))
}

fn ports(app: &App) -> q::FormPorts<'_> {
    q::FormPorts { accounts: app.store.as_ref(), customers: app.store.as_ref(), answers: app.store.as_ref() }
}

/// The page for a link that opens nothing: 400, saying why.
fn refused(why: LinkError) -> Reply {
    tracing::warn!(reason = ?why, "questionnaire link refused");
    Reply::branded_html_with(StatusCode::BAD_REQUEST, questionnaire_pages::refused(why))
}

/// `GET /questionnaires/{token}`: the form (`?saved=1` after a save, `?submitted=1` the
/// thank-you page).
pub async fn form_get(app: &App, ctx: &PublicCtx) -> Result<Reply, ApiError> {
    let form = match q::open(ports(app), &app.secrets.report_signing, ctx.param("token"), ctx.now).await {
        Ok(form) => form,
        Err(Ok(why)) => return Ok(refused(why)),
        Err(Err(e)) => return Err(e.into()),
    };
    let page = if ctx.query.get("submitted").is_some() {
        questionnaire_pages::done(&form)
    } else {
        let url = q::form_url(&app.config.public_base_url, ctx.param("token"));
        questionnaire_pages::form(&form, &url, ctx.query.get("saved").is_some(), None, ctx.now)
    };
    Ok(Reply::branded_html(page))
}

/// `POST /questionnaires/{token}` (`application/x-www-form-urlencoded`: `answer.{questionId}`,
/// `note.{questionId}`, `action=save|submit`): saves, then 303 back to the form (`?saved=1`)
/// or, on submit, to the thank-you page (`?submitted=1`). A value the form never offers is a
/// 400 page that shows the form again with what was posted lost (it never came from the form).
pub async fn form_post(app: &App, ctx: &PublicCtx) -> Result<Reply, ApiError> {
    let token = ctx.param("token");
    let form = match q::open(ports(app), &app.secrets.report_signing, token, ctx.now).await {
        Ok(form) => form,
        Err(Ok(why)) => return Ok(refused(why)),
        Err(Err(e)) => return Err(e.into()),
    };
    let (given, submit) = read_form(&ctx.body);
    let url = q::form_url(&app.config.public_base_url, token);
    match q::save(ports(app), app.ids(), &form, &given, submit, ctx.now).await {
        Ok(()) => Ok(Reply::see_other(format!("{url}?{}", if submit { "submitted=1" } else { "saved=1" }))),
        Err(crate::usecases::UseCaseError::Invalid(why)) => Ok(Reply::branded_html_with(
            StatusCode::BAD_REQUEST,
            questionnaire_pages::form(&form, &url, false, Some(&why), ctx.now),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The posted answers (blank ones left out: no answer given) and whether it was `submit`.
fn read_form(body: &[u8]) -> (Vec<Given>, bool) {
    let mut answers: std::collections::BTreeMap<String, Given> = Default::default();
    let mut notes: std::collections::BTreeMap<String, String> = Default::default();
    let mut submit = false;
    for (k, v) in form_urlencoded::parse(body) {
        if let Some(id) = k.strip_prefix("answer.") {
            if !v.is_empty() {
                answers
                    .insert(id.to_string(), Given { question_id: id.to_string(), answer: v.to_string(), note: None });
            }
        } else if let Some(id) = k.strip_prefix("note.") {
            notes.insert(id.to_string(), v.to_string());
        } else if k == "action" {
            submit = v == "submit";
        }
    }
    // A note is kept with its question's answer (a note alone, without an answer, is not one).
    for (id, g) in &mut answers {
        g.note = notes.remove(id);
    }
    (answers.into_values().collect(), submit)
}
