//! Amazon SES v2 (`SendEmail`) as the mail port, on AWS.
//!
//! The message goes as **raw** content: the bytes lettre built (`super::message`), the same
//! the dev server writes to its `.eml` files, so what is tried locally is what SES sends, and
//! the headers (display name, encoded subject, and issue 10's `Reply-To`) are the builder's
//! business, not the adapter's. Simple content would have SES assemble its own MIME from the
//! two bodies, a second builder nobody tests locally. The price: IAM authorises raw content as
//! `ses:SendRawEmail` (besides `ses:SendEmail`), and SES replaces the `Message-ID` and `Date`
//! headers with its own (its `MessageId` is what [`Sent::provider_id`] carries).

use async_trait::async_trait;
use aws_sdk_sesv2::error::{DisplayErrorContext, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};

use super::{MailError, Mailer, OutgoingMail, Sent};

/// Sends through SES v2 in the client's region, from the verified identity of `MAIL_FROM`.
#[derive(Clone, Debug)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<Sent, MailError> {
        let raw = RawMessage::builder()
            .data(Blob::new(mail.raw.clone()))
            .build()
            .map_err(|e| MailError::Refused(format!("the raw message could not be built: {e}")))?;
        let out = self
            .client
            .send_email()
            // The envelope: SES sends to these, whatever the headers say, and checks (and IAM
            // authorises) the sender's identity.
            .from_email_address(mail.from.as_str())
            .destination(Destination::builder().to_addresses(mail.to.as_str()).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(classify)?;
        Ok(Sent { provider_id: out.message_id().unwrap_or_default().to_string() })
    }
}

/// SES's errors as the port's: a refusal SES documents as lasting (`MessageRejected`, an
/// unverified MAIL FROM domain, a paused or suspended account, a bad request, a missing
/// configuration set) is [`MailError::Refused`]; throttling, the daily quota, and anything that
/// never got an answer (timeouts, connection errors, 5xx) are [`MailError::Unavailable`].
fn classify<R>(e: SdkError<SendEmailError, R>) -> MailError
where
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(&e).to_string();
    match e {
        SdkError::ServiceError(ctx) => match ctx.err() {
            SendEmailError::MessageRejected(_)
            | SendEmailError::MailFromDomainNotVerifiedException(_)
            | SendEmailError::AccountSuspendedException(_)
            | SendEmailError::SendingPausedException(_)
            | SendEmailError::BadRequestException(_)
            | SendEmailError::NotFoundException(_) => MailError::Refused(text),
            _ => MailError::Unavailable(text),
        },
        SdkError::ConstructionFailure(_) => MailError::Refused(text),
        _ => MailError::Unavailable(text),
    }
}
