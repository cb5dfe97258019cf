//! The questionnaire (contract, "Questionnaire"): the questions of a product, a customer's
//! answers (given by the partner through the API, or by the customer's people in the form their
//! invitation links to), the invitations, and the signed form links.
//!
//! A form link carries the partner, customer, product and recipient it was sent for and when it
//! expires, signed with the report-link secret under its own label (so a report token is never a
//! form token): the token is the form's only authority. Nothing else (no cookie, no session)
//! lets a request write answers, so a cross-site form post without the token writes nothing.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{customers, Ids, UseCaseError};
use crate::assess::requirements::Question;
use crate::domain::account::{Owner, Partner};
use crate::domain::branding::Brand;
use crate::domain::customer::Customer;
use crate::domain::event::{Event, EventType};
use crate::domain::mail::MailKind;
use crate::domain::questionnaire::{self, AnsweredBy, StoredAnswer, NOTE_MAX_CHARS};
use crate::domain::time::Timestamp;
use crate::store::{AccountStore, CustomerStore, Outbox, QuestionnaireStore};

/// How long a form link works: 30 days (contract).
pub const LINK_LIFETIME_SECS: i64 = 30 * 86_400;

/// A customer's answers for one product, as `GET …/questionnaire` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answers {
    pub product: String,
    /// Every stored answer (expired ones too: `expiresAt` says so), in question order.
    pub answers: Vec<StoredAnswer>,
    /// Questions with an answer that still counts at the time asked.
    pub answered: usize,
    /// The product's questions.
    pub total: usize,
    /// The latest `answeredAt`; `None` before the first answer.
    pub updated_at: Option<Timestamp>,
}

/// One answer as given (parsed, not yet checked against the product's questions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Given {
    pub question_id: String,
    pub answer: String,
    pub note: Option<String>,
}

/// The questions of `product`. Errors: `InvalidProduct` for a product the engine does not know.
pub fn questions(product: &str) -> Result<&'static [Question], UseCaseError> {
    questionnaire::questions_of(product)
        .ok_or_else(|| UseCaseError::InvalidProduct(format!("product {product:?} is not recognised.")))
}

/// Checks `given` against `product`'s questions and makes the answers `by` gives at `now`.
/// `field` names where the answers came from in messages (`answers`, `attestations`).
/// Errors: `Invalid` (`INVALID_FIELD`) for an unknown question id, an answer that is not one of
/// the five, or a note past 2000 characters.
pub fn check(
    product: &str,
    field: &str,
    given: &[Given],
    by: &AnsweredBy,
    now: Timestamp,
) -> Result<Vec<StoredAnswer>, UseCaseError> {
    given
        .iter()
        .map(|g| {
            if questionnaire::question(product, &g.question_id).is_none() {
                return Err(UseCaseError::Invalid(format!(
                    "{field}: {:?} is not a question of {product} (GET /products/{product}/questions lists them).",
                    g.question_id.chars().take(60).collect::<String>()
                )));
            }
            let answer = questionnaire::parse_answer(&g.answer).ok_or_else(|| {
                UseCaseError::Invalid(format!(
                    "{field}.{}: the answer must be one of {}.",
                    g.question_id,
                    questionnaire::ANSWERS.join(", ")
                ))
            })?;
            let note = g.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
            if note.as_ref().is_some_and(|n| n.chars().count() > NOTE_MAX_CHARS) {
                return Err(UseCaseError::Invalid(format!(
                    "{field}.{}.note is longer than {NOTE_MAX_CHARS} characters.",
                    g.question_id
                )));
            }
            Ok(StoredAnswer::new(&g.question_id, answer, note, by.clone(), now))
        })
        .collect()
}

/// The customer's answers for `product` as of `now`. Errors: `NotFound` (no such customer of
/// this partner), a store fault.
pub async fn get(
    customers_store: &dyn CustomerStore,
    store: &dyn QuestionnaireStore,
    partner: &Partner,
    customer_id: &str,
    product: &str,
    now: Timestamp,
) -> Result<Answers, UseCaseError> {
    let customer = customers::find(customers_store, partner, customer_id).await?;
    read(store, &customer, product, now).await
}

/// As [`get`], for a customer already read (the pipeline's prefetch); `None` is `NotFound`.
pub async fn get_of(
    store: &dyn QuestionnaireStore,
    customer: Option<&Customer>,
    customer_id: &str,
    product: &str,
    now: Timestamp,
) -> Result<Answers, UseCaseError> {
    let customer = customer.ok_or_else(|| UseCaseError::not_found("customer", customer_id))?;
    read(store, customer, product, now).await
}

async fn read(
    store: &dyn QuestionnaireStore,
    customer: &Customer,
    product: &str,
    now: Timestamp,
) -> Result<Answers, UseCaseError> {
    let list = questions(product)?;
    let stored = store.answers(&customer.partner_id, &customer.id, product).await?;
    let by_id: BTreeMap<&str, &StoredAnswer> = stored.iter().map(|a| (a.question_id.as_str(), a)).collect();
    // Question order; an answer to a question no longer in the list is left out.
    let answers: Vec<StoredAnswer> =
        list.iter().filter_map(|q| by_id.get(q.id.as_str()).map(|a| (*a).clone())).collect();
    Ok(Answers {
        product: product.to_string(),
        answered: answers.iter().filter(|a| a.counts_at(now)).count(),
        total: list.len(),
        updated_at: answers.iter().map(|a| a.answered_at).max(),
        answers,
    })
}

/// Records `answers` (already [`check`]ed) for the customer, with `event` if any, and answers
/// the customer's answers after the write. Errors: `NotFound`, a store fault.
pub async fn record(
    customers_store: &dyn CustomerStore,
    store: &dyn QuestionnaireStore,
    partner: &Partner,
    customer_id: &str,
    product: &str,
    answers: &[StoredAnswer],
    now: Timestamp,
) -> Result<Answers, UseCaseError> {
    let customer = customers::find(customers_store, partner, customer_id).await?;
    write(store, &customer, product, answers, None).await?;
    read(store, &customer, product, now).await
}

async fn write(
    store: &dyn QuestionnaireStore,
    customer: &Customer,
    product: &str,
    answers: &[StoredAnswer],
    event: Option<&Event>,
) -> Result<(), UseCaseError> {
    match store.put_answers(&customer.partner_id, &customer.id, product, answers, event).await {
        Err(crate::store::StoreError::NotFound) => Err(UseCaseError::not_found("customer", &customer.id)),
        other => Ok(other?),
    }
}

// --- Form links ---------------------------------------------------------------------------

/// What a form link names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormLink {
    pub partner_id: String,
    pub customer_id: String,
    pub product: String,
    /// The address the invitation went to: the answers' `answeredBy.email`.
    pub recipient: String,
    pub expires_at: Timestamp,
}

/// Why a form token opens nothing (each answers 400 with a page saying which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this questionnaire link is not valid")]
    Invalid,
    #[error("this questionnaire link has expired")]
    Expired,
    #[error("the customer this questionnaire was for no longer exists")]
    CustomerGone,
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(b"questionnaire-link\0");
    m.update(payload.as_bytes());
    m
}

/// The token of a form link (the payload's fields are joined by newlines, which none holds).
pub fn sign(secret: &[u8], link: &FormLink) -> String {
    let payload = format!(
        "{}\n{}\n{}\n{}\n{}",
        link.partner_id,
        link.customer_id,
        link.product,
        link.recipient,
        link.expires_at.unix()
    );
    let sig = mac(secret, &payload).finalize().into_bytes();
    format!("{}.{}", B64.encode(&payload), B64.encode(sig))
}

/// What a token names, if its signature holds and it has not expired at `now`.
pub fn verify(secret: &[u8], token: &str, now: Timestamp) -> Result<FormLink, LinkError> {
    let (payload, sig) = token.split_once('.').ok_or(LinkError::Invalid)?;
    let payload =
        String::from_utf8(B64.decode(payload).map_err(|_| LinkError::Invalid)?).map_err(|_| LinkError::Invalid)?;
    let sig = B64.decode(sig).map_err(|_| LinkError::Invalid)?;
    mac(secret, &payload).verify_slice(&sig).map_err(|_| LinkError::Invalid)?;
    let parts: Vec<&str> = payload.split('\n').collect();
    let [partner, customer, product, recipient, exp] = parts[..] else { return Err(LinkError::Invalid) };
    let expires_at = Timestamp::from_unix(exp.parse().map_err(|_| LinkError::Invalid)?);
    if now >= expires_at {
        return Err(LinkError::Expired);
    }
    Ok(FormLink {
        partner_id: partner.into(),
        customer_id: customer.into(),
        product: product.into(),
        recipient: recipient.into(),
        expires_at,
    })
}

/// The form's full URL under `base_url`.
pub fn form_url(base_url: &str, token: &str) -> String {
    format!("{}/questionnaires/{token}", base_url.trim_end_matches('/'))
}

// --- Invitations --------------------------------------------------------------------------

/// The ports and settings sending invitations uses.
#[derive(Clone, Copy)]
pub struct InvitePorts<'a> {
    /// For the partner's branding.
    pub accounts: &'a dyn AccountStore,
    pub customers: &'a dyn CustomerStore,
    pub outbox: &'a dyn Outbox,
    pub ids: Ids<'a>,
    pub signing_key: &'a [u8],
    pub public_base_url: &'a str,
}

/// What `POST …/questionnaire/invitations` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invited {
    /// The addresses a message was recorded for (sent by the mail worker).
    pub recipients: Vec<String>,
    /// When the links stop working.
    pub expires_at: Timestamp,
}

/// Records one `questionnaire-invitation` message per `questionnaireRecipients` address, each
/// with its own link, in one outbox event (so all or none). `product_name` is the product's
/// display name. Errors: `NotFound`; `Invalid` when the customer has no recipients; a store
/// fault.
pub async fn invite(
    ports: InvitePorts<'_>,
    partner: &Partner,
    customer_id: &str,
    product: &str,
    product_name: &str,
    now: Timestamp,
) -> Result<Invited, UseCaseError> {
    let customer = customers::find(ports.customers, partner, customer_id).await?;
    if customer.questionnaire_recipients.is_empty() {
        return Err(UseCaseError::Invalid(
            "The customer has no questionnaireRecipients; add them with PATCH /customers/{id} first.".into(),
        ));
    }
    let total = questions(product)?.len();
    let brand = Brand::of(&ports.accounts.branding(&partner.id).await?, &partner.company);
    let expires_at = now + LINK_LIFETIME_SECS;
    let viewers = crate::usecases::mail::viewers_of(partner);
    let mut mail = Vec::new();
    for to in &customer.questionnaire_recipients {
        let link = FormLink {
            partner_id: partner.id.to_string(),
            customer_id: customer.id.to_string(),
            product: product.to_string(),
            recipient: to.as_str().to_string(),
            expires_at,
        };
        let url = form_url(ports.public_base_url, &sign(ports.signing_key, &link));
        let rendered = crate::mail::content::questionnaire_invitation(
            &brand,
            &crate::mail::content::QuestionnaireInvitation {
                customer: &customer.name,
                product: product_name,
                total,
                form_url: &url,
                recipient: to.as_str(),
            },
        );
        mail.push(crate::usecases::mail::entry(
            MailKind::QuestionnaireInvitation,
            to.as_str(),
            &brand,
            rendered,
            viewers.clone(),
        ));
    }
    let mut event =
        ports.ids.event(EventType::Mail, Owner::partner(&partner.id), partner.distributor_id.clone(), now, json!(null));
    event.mail = mail;
    ports.outbox.record_event(&event).await?;
    Ok(Invited {
        recipients: customer.questionnaire_recipients.iter().map(|e| e.as_str().to_string()).collect(),
        expires_at,
    })
}

// --- The form -----------------------------------------------------------------------------

/// What the form reads and writes: the partner (and its branding), the customer, the answers.
#[derive(Clone, Copy)]
pub struct FormPorts<'a> {
    pub accounts: &'a dyn AccountStore,
    pub customers: &'a dyn CustomerStore,
    pub answers: &'a dyn QuestionnaireStore,
}

/// What the form shows: the customer, its partner's brand, the questions and current answers.
pub struct Form {
    pub link: FormLink,
    pub customer: Customer,
    pub brand: Brand,
    pub answers: Answers,
}

/// Opens the form a token names. `Err(Ok(why))` when the token opens nothing (tampered,
/// expired, the customer gone); `Err(Err(_))` for a store fault.
pub async fn open(
    store: FormPorts<'_>,
    secret: &[u8],
    token: &str,
    now: Timestamp,
) -> Result<Form, Result<LinkError, UseCaseError>> {
    let link = verify(secret, token, now).map_err(Ok)?;
    let fault = |e: crate::store::StoreError| Err(UseCaseError::from(e));
    let partner = store.accounts.partner(&link.partner_id).await.map_err(fault)?.ok_or(Ok(LinkError::CustomerGone))?;
    let customer = store
        .customers
        .customer(&link.partner_id, &link.customer_id)
        .await
        .map_err(fault)?
        .ok_or(Ok(LinkError::CustomerGone))?;
    let brand = Brand::of(&store.accounts.branding(&partner.id).await.map_err(fault)?, &partner.company);
    let answers = read(store.answers, &customer, &link.product, now).await.map_err(Err)?;
    Ok(Form { link, customer, brand, answers })
}

/// Saves what the form posted, as the link's recipient's answers; on `submit`, records
/// `questionnaire.submitted` (data `customerId`, `product`, `answered`, `total`) in the same
/// write. Answers left blank are not written (an earlier answer stays). Errors: `Invalid` for a
/// posted value that is not one of the form's (unknown question, answer, note too long).
pub async fn save(
    store: FormPorts<'_>,
    ids: Ids<'_>,
    form: &Form,
    given: &[Given],
    submit: bool,
    now: Timestamp,
) -> Result<(), UseCaseError> {
    let by = AnsweredBy::Customer { email: form.link.recipient.clone() };
    let mut answers = check(&form.link.product, "form", given, &by, now)?;
    // The form posts every answer it shows; only what changed is the recipient's new answer
    // (re-posting an answer unchanged must not make it the recipient's or restart its year).
    answers.retain(|a| {
        !form
            .answers
            .answers
            .iter()
            .any(|s| s.question_id == a.question_id && s.answer == a.answer && s.note == a.note && s.counts_at(now))
    });
    let event = if submit {
        let partner = store
            .accounts
            .partner(&form.link.partner_id)
            .await?
            .ok_or_else(|| UseCaseError::not_found("partner", &form.link.partner_id))?;
        // Answered after this write: the stored answers that count, with these on top.
        let mut counted: BTreeMap<&str, bool> =
            form.answers.answers.iter().map(|a| (a.question_id.as_str(), a.counts_at(now))).collect();
        for a in &answers {
            counted.insert(a.question_id.as_str(), true);
        }
        let answered = counted.values().filter(|c| **c).count();
        Some(ids.event(
            EventType::QuestionnaireSubmitted,
            Owner::partner(&partner.id),
            partner.distributor_id.clone(),
            now,
            json!({
                "customerId": form.customer.id,
                "product": form.link.product,
                "answered": answered,
                "total": form.answers.total,
            }),
        ))
    } else {
        None
    };
    if answers.is_empty() && event.is_none() {
        return Ok(());
    }
    write(store.answers, &form.customer, &form.link.product, &answers, event.as_ref()).await
}
