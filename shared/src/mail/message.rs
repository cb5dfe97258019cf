//! A message's RFC 5322 form, built with lettre's `Message` builder: `multipart/alternative`
//! with a `text/plain` and a `text/html` part (both UTF-8, transfer-encoded as lettre finds
//! best), `From` with a display name, `Reply-To` when the brand has a contact, `To`, `Subject` (RFC 2047-encoded when not plain
//! ASCII), `Date` from the injected clock and a `Message-ID` on the sender's domain.

use std::time::{Duration, UNIX_EPOCH};

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Address;

use super::{MailError, OutgoingMail};
use crate::domain::email::Email;
use crate::domain::ids::random_base62;
use crate::domain::time::Timestamp;

/// What one message is made of.
#[derive(Clone, Debug)]
pub struct Letter<'a> {
    /// The sender's display name (the partner's brand: branding `company`, else its company).
    pub from_name: &'a str,
    /// `Reply-To`: the branding's `contactEmail`, when set.
    pub reply_to: Option<&'a Email>,
    /// `MAIL_FROM`.
    pub from: &'a Email,
    pub to: &'a Email,
    pub subject: &'a str,
    /// The `text/plain` alternative.
    pub text: &'a str,
    /// The `text/html` alternative (already escaped by its template).
    pub html: &'a str,
    /// The `Date` header.
    pub date: Timestamp,
}

/// Builds `letter` into the bytes both adapters send. An address lettre cannot use (it is
/// stricter than [`Email`] in places) is [`MailError::Refused`]: no provider would take it.
pub fn build(letter: &Letter<'_>) -> Result<OutgoingMail, MailError> {
    build_with_id(letter, &random_base62(24))
}

/// [`build`] with the `Message-ID`'s local part given (`<id@MAIL_FROM's domain>`): a recorded
/// message keeps one across its tries.
pub fn build_with_id(letter: &Letter<'_>, id: &str) -> Result<OutgoingMail, MailError> {
    let address = |e: &Email, role: &str| {
        e.as_str()
            .parse::<Address>()
            .map_err(|err| MailError::Refused(format!("the {role} address is not usable: {err}")))
    };
    let from = address(letter.from, "sender")?;
    let to = address(letter.to, "recipient")?;
    let message_id = format!("<{id}@{}>", from.domain());
    let date = UNIX_EPOCH + Duration::from_secs(letter.date.unix().max(0) as u64);
    let mut builder = lettre::Message::builder().from(Mailbox::new(Some(one_line(letter.from_name)), from));
    if let Some(reply_to) = letter.reply_to {
        builder = builder.reply_to(Mailbox::new(None, address(reply_to, "reply-to")?));
    }
    let message = builder
        .to(Mailbox::new(None, to))
        .subject(one_line(letter.subject))
        .date(date)
        .message_id(Some(message_id.clone()))
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(letter.text.to_string()))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(letter.html.to_string())),
        )
        .map_err(|e| MailError::Refused(format!("the message could not be built: {e}")))?;
    Ok(OutgoingMail { message_id, from: letter.from.clone(), to: letter.to.clone(), raw: message.formatted() })
}

/// A header value on one line: control characters (a line break in a company or customer name)
/// become spaces, so no value can end a header early, whatever the encoder does with them.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_string()
}
