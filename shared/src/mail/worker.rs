//! The mail worker (`worker.mail-sender`): one try of one recorded message per job. The try is
//! claimed in the store before anything is sent (two copies of a job send once; a worker that
//! dies leaves the claim to run out), the message is built with its one `Message-ID`
//! (`<msg_…@MAIL_FROM's domain>`, the same on every try), and the outcome recorded: sent; a
//! refusal for good → `failed` with the provider's reason; a transient failure → the next try
//! queued after [`RETRY_SCHEDULE`]'s wait (queued before the try is recorded, so a crash between
//! the two loses nothing: the job is not acknowledged, comes back and tries again), `failed`
//! after the last.

use std::sync::Arc;

use super::message::{build_with_id, Letter};
use super::{MailError, MailJob, MailQueue, Mailer};
use crate::domain::email::Email;
use crate::domain::mail::MailStatus;
use crate::domain::time::Clock;
use crate::queue::Ack;
use crate::store::{MailClaim, MailStore, StoreError};
use crate::webhooks::schedule::{delay_after, MAX_QUEUE_DELAY_SECS};

/// Waits after each failed try, in seconds (1 min, 5 min, 30 min, 2 h, 12 h: six tries in
/// all), as for webhooks.
pub const RETRY_SCHEDULE: [i64; 5] = [60, 300, 1800, 7200, 43200];

/// How long a claimed try is held, in seconds: past a provider call's time limit.
pub const LEASE_SECS: i64 = 60;

pub struct MailSender {
    pub store: Arc<dyn MailStore>,
    pub queue: Arc<dyn MailQueue>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    /// `MAIL_FROM`.
    pub from: Email,
    /// Waits after each failed try ([`RETRY_SCHEDULE`]).
    pub schedule: Vec<i64>,
}

impl MailSender {
    pub async fn process(&self, job: &MailJob) -> Ack {
        match self.try_process(job).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(message_id = job.message_id.as_str(), error = %e, "mail try failed; will retry");
                Ack::Retry
            }
        }
    }

    async fn try_process(&self, job: &MailJob) -> Result<Ack, StoreError> {
        let now = self.clock.now();
        if job.not_before > now {
            let hop = (job.not_before - now).min(MAX_QUEUE_DELAY_SECS);
            return Ok(match self.queue.send_mail(job, hop).await {
                Ok(()) => Ack::Done,
                Err(_) => Ack::Retry,
            });
        }
        let m = match self.store.claim_mail(&job.message_id, job.attempt, now, now + LEASE_SECS).await? {
            MailClaim::Claimed(m) => m,
            MailClaim::Held => return Ok(Ack::Retry),
            MailClaim::Stale => return Ok(Ack::Done),
        };
        let e = &m.entry;
        let outcome = match (Email::parse(&e.to), e.reply_to.as_deref().map(Email::parse).transpose()) {
            (Ok(to), Ok(reply_to)) => {
                let letter = Letter {
                    from_name: &e.from_name,
                    reply_to: reply_to.as_ref(),
                    from: &self.from,
                    to: &to,
                    subject: &e.subject,
                    text: &e.text,
                    html: &e.html,
                    date: now,
                };
                match build_with_id(&letter, &m.id) {
                    Ok(mail) => self.mailer.send(&mail).await.map(|_| ()),
                    Err(err) => Err(err),
                }
            }
            _ => Err(MailError::Refused("the recipient or reply-to address is not an email address".into())),
        };
        let (status, error) = match &outcome {
            Ok(()) => (MailStatus::Sent, None),
            Err(err) if err.is_transient() => match delay_after(&self.schedule, job.attempt) {
                Some(wait) => {
                    let next = MailJob { message_id: m.id.clone(), attempt: job.attempt + 1, not_before: now + wait };
                    if self.queue.send_mail(&next, wait.min(MAX_QUEUE_DELAY_SECS)).await.is_err() {
                        // Not recorded either: this job comes back and tries again.
                        return Ok(Ack::Retry);
                    }
                    (MailStatus::Pending, Some(err.to_string()))
                }
                None => (MailStatus::Failed, Some(err.to_string())),
            },
            Err(err) => (MailStatus::Failed, Some(err.to_string())),
        };
        match self.store.record_mail(&m.id, job.attempt, status, now, error.as_deref()).await {
            Ok(_) => Ok(Ack::Done),
            // Another copy of this job recorded the try first.
            Err(StoreError::Conflict | StoreError::NotFound) => Ok(Ack::Done),
            Err(e) => Err(e),
        }
    }
}
