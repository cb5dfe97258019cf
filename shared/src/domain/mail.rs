//! Recorded mail (contract, "Mail"): what a change asks to be mailed (a [`MailEntry`], recorded
//! with the change's event in the outbox, so in the same store write), and the message the
//! relay makes of each entry (a [`MailMessage`], one recipient each), which the mail worker
//! sends with retries.

use serde::{Deserialize, Serialize};

use super::account::Owner;
use super::time::Timestamp;

/// Why a message is sent: the contract's table, and nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailKind {
    PartnerCreated,
    PartnerActivated,
    PartnerSuspended,
    KeyCreated,
    ReportReady,
    ConsentRequest,
    /// A questionnaire invitation (contract, "Questionnaire"): `usecases::questionnaire::invite`.
    QuestionnaireInvitation,
}

impl MailKind {
    pub const ALL: [MailKind; 7] = [
        Self::PartnerCreated,
        Self::PartnerActivated,
        Self::PartnerSuspended,
        Self::KeyCreated,
        Self::ReportReady,
        Self::ConsentRequest,
        Self::QuestionnaireInvitation,
    ];

    /// The contract's name (`partner-created`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PartnerCreated => "partner-created",
            Self::PartnerActivated => "partner-activated",
            Self::PartnerSuspended => "partner-suspended",
            Self::KeyCreated => "key-created",
            Self::ReportReady => "report-ready",
            Self::ConsentRequest => "consent-request",
            Self::QuestionnaireInvitation => "questionnaire-invitation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A message's state: `pending` until the provider took it (`sent`) or refused it for good, or
/// every try failed (`failed`, with the reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailStatus {
    Pending,
    Sent,
    Failed,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

/// One message a change asks for, rendered when the change is made (so what is sent is what the
/// data said then) and stored inside the change's outbox event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailEntry {
    pub kind: MailKind,
    /// The one recipient.
    pub to: String,
    /// Who sees the message in `GET /mail/messages`: the account it concerns and, for a
    /// partner with one, its distributor.
    pub viewers: Vec<Owner>,
    /// The `From` display name (the partner's brand, or the distributor's company).
    pub from_name: String,
    /// `Reply-To` (the brand's `contactEmail`), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One message to one address, made by the relay from an entry (`id` derived from the event's,
/// so a relay that runs twice makes it once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailMessage {
    /// `msg_` + the event's id without `evt_` + the entry's index (two digits): time-ordered,
    /// as events are.
    pub id: String,
    pub event_id: String,
    #[serde(flatten)]
    pub entry: MailEntry,
    pub status: MailStatus,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Timestamp>,
    /// The last failure (a permanent refusal, or the last transient one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Tries made so far.
    #[serde(default)]
    pub attempts: u32,
}

impl MailMessage {
    /// The id of entry `index` of event `event_id`.
    pub fn id_for(event_id: &str, index: usize) -> String {
        format!("msg_{}{index:02}", event_id.trim_start_matches("evt_"))
    }

    /// A new pending message of entry `index` of event `event_id`.
    pub fn new(event_id: &str, index: usize, entry: MailEntry, created_at: Timestamp) -> Self {
        Self {
            id: Self::id_for(event_id, index),
            event_id: event_id.to_string(),
            entry,
            status: MailStatus::Pending,
            created_at,
            sent_at: None,
            error: None,
            attempts: 0,
        }
    }
}
