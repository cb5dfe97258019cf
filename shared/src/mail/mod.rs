//! The mail port (contract, "Mail"): one capability, sending one message to one address, and
//! its two adapters: Amazon SES v2 on AWS (`ses`), a folder of `.eml` files in the dev server
//! (`eml_dir`). What a message says comes from templates (`content`), and its RFC 5322 form
//! from lettre's builder (`message`), so both adapters carry exactly the same bytes.
//!
//! Nothing sends while a request waits: a change records what it asks to be mailed with its
//! outbox event (`domain::mail::MailEntry`), the relay makes one message per recipient and
//! queues a [`MailJob`] on the mail queue, and the worker (`worker`) sends it with retries:
//! [`MailError`] tells a refusal for good (the message ends `failed`) from a transient failure
//! (tried again after a wait).

pub mod content;
pub mod eml_dir;
pub mod message;
pub mod ses;
pub mod worker;

/// A message on the mail queue: one try of one recorded message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailJob {
    pub message_id: String,
    /// 1 for the first try.
    pub attempt: u32,
    /// Not to be tried before this (unix seconds): SQS delays stop at 15 minutes, so a longer
    /// wait is several hops.
    pub not_before: crate::domain::time::Timestamp,
}

/// Where mail jobs go (SQS's mail queue, or an in-process queue).
#[async_trait]
pub trait MailQueue: Send + Sync {
    /// Sends after `delay_secs` (at most 15 minutes; longer waits are chained by the caller).
    async fn send_mail(&self, job: &MailJob, delay_secs: i64) -> Result<(), crate::queue::QueueError>;
}

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
