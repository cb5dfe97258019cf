//! The mail port (contract, "Mail"): one capability, sending one message to one address, and
//! its two adapters: Amazon SES v2 on AWS (`ses`), a folder of `.eml` files in the dev server
//! (`eml_dir`). What a message says comes from templates (`content`), and its RFC 5322 form
//! from lettre's builder (`message`), so both adapters carry exactly the same bytes.
//!
//! Today the consent email (`POST …/consent/email`) sends straight through the port and
//! answers what happened. Issue 10 ("Mail and branding") grows this into recorded messages sent
//! by a worker with retries; [`MailError`] already tells a refusal for good from a transient
//! failure for it.

pub mod content;
pub mod eml_dir;
pub mod message;
pub mod ses;

use async_trait::async_trait;

use crate::domain::email::Email;

/// One message ready for a provider: its RFC 5322 bytes (headers and a multipart text + HTML
/// body) and its envelope. One recipient per message, so one refusal never hides another
/// delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The `Message-ID` header's value, with its angle brackets (`<…@domain>`).
    pub message_id: String,
    /// The envelope sender: `MAIL_FROM` (the `From` header shows it with the partner's name).
    pub from: Email,
    /// The one recipient.
    pub to: Email,
    /// The whole message as sent (CRLF line ends, 7-bit: non-ASCII is encoded).
    pub raw: Vec<u8>,
}

/// What a provider said when it took a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The provider's id of the message (SES's `MessageId`; the file name for `.eml` files).
    pub provider_id: String,
}

/// Why a message was not sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The provider will not take this message, and sending it again will not change that
    /// (an unverified sender, a malformed or suppressed address, a suspended account).
    #[error("refused: {0}")]
    Refused(String),
    /// The provider could not be reached or asked to slow down; the same message may go
    /// through later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl MailError {
    /// Whether sending the same message again could succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Sends one message. Implementations never retry on their own: the caller decides.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Hands `mail` to the provider; `Ok` once the provider has accepted it.
    async fn send(&self, mail: &OutgoingMail) -> Result<Sent, MailError>;
}
