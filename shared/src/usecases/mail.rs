//! Mail a change asks for (contract, "Mail"): the entries recorded with its event, rendered
//! now on the partner's brand, and `GET /mail/messages`.

use super::UseCaseError;
use crate::domain::account::{Owner, Partner};
use crate::domain::branding::Brand;
use crate::domain::mail::{MailEntry, MailKind, MailMessage};
use crate::mail::content::Rendered;
use crate::store::{MailStore, Page, PageRequest};

/// Who sees a message about `partner`: the partner and, when it has one, its distributor.
pub fn viewers_of(partner: &Partner) -> Vec<Owner> {
    let mut v = vec![Owner::partner(&partner.id)];
    if let Some(d) = &partner.distributor_id {
        v.push(Owner::distributor(d));
    }
    v
}

/// One entry of `kind` to `to`, from `brand` (display name, `Reply-To`), seen by `viewers`.
pub fn entry(kind: MailKind, to: &str, brand: &Brand, rendered: Rendered, viewers: Vec<Owner>) -> MailEntry {
    MailEntry {
        kind,
        to: to.to_string(),
        viewers,
        from_name: brand.company.clone(),
        reply_to: brand.contact_email.as_ref().map(|e| e.as_str().to_string()),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
    }
}

/// An event of the internal kind `mail` about `partner`, carrying `mail`: how a cause with no
/// webhook event of its own (a consent request, a partner made) records its mail in its write.
/// No endpoint can subscribe to the kind.
pub fn partner_mail_event(
    ids: &super::Ids<'_>,
    partner: &Partner,
    now: crate::domain::time::Timestamp,
    mail: MailEntry,
) -> crate::domain::event::Event {
    ids.event(
        crate::domain::event::EventType::Mail,
        Owner::partner(&partner.id),
        partner.distributor_id.clone(),
        now,
        serde_json::Value::Null,
    )
    .with_mail([mail])
}

/// The brand of mail about an account (to a partner's admin from its distributor, or to a
/// distributor): the distributor's company, or baref00t's, with no branding of its own.
pub fn account_brand(company: Option<&str>) -> Brand {
    Brand::of(&crate::domain::branding::Branding::default(), company.unwrap_or("baref00t"))
}

/// An account notice of `kind` to `to` (see [`crate::mail::content::notice`]).
pub fn notice(
    kind: MailKind,
    to: &str,
    brand: &Brand,
    subject: String,
    paragraphs: &[String],
    viewers: Vec<Owner>,
) -> MailEntry {
    entry(kind, to, brand, crate::mail::content::notice(brand, subject, paragraphs), viewers)
}

/// `GET /mail/messages`: the messages `viewer` may see, newest first, optionally of one kind.
pub async fn list(
    store: &dyn MailStore,
    viewer: &Owner,
    kind: Option<MailKind>,
    page: &PageRequest,
) -> Result<Page<MailMessage>, UseCaseError> {
    Ok(store.list_messages(viewer, kind, page).await?)
}
