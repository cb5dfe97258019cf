//! Events: recorded in the same store write as the change they describe (the outbox), and
//! delivered to webhooks from there.

use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::{DistributorId, EventId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "assessment.started")]
    AssessmentStarted,
    #[serde(rename = "assessment.completed")]
    AssessmentCompleted,
    #[serde(rename = "assessment.failed")]
    AssessmentFailed,
    /// A completed run is worse than the customer's previous completed run of the product
    /// (contract, "Schedules, drift and portfolio"; `domain::drift`).
    #[serde(rename = "assessment.regressed")]
    AssessmentRegressed,
    #[serde(rename = "customer.created")]
    CustomerCreated,
    #[serde(rename = "customer.updated")]
    CustomerUpdated,
    #[serde(rename = "customer.deleted")]
    CustomerDeleted,
    /// A customer's tenant consent changed (contract, "Tenant consent").
    #[serde(rename = "customer.consent_updated")]
    CustomerConsentUpdated,
    #[serde(rename = "partner.activated")]
    PartnerActivated,
    #[serde(rename = "partner.suspended")]
    PartnerSuspended,
    #[serde(rename = "key.created")]
    KeyCreated,
    #[serde(rename = "key.revoked")]
    KeyRevoked,
    /// A customer's recipient submitted the questionnaire (contract, "Questionnaire").
    #[serde(rename = "questionnaire.submitted")]
    QuestionnaireSubmitted,
    /// A customer's exception expires in 30 days (contract, "Tenant context and exceptions").
    #[serde(rename = "exception.expiring")]
    ExceptionExpiring,
    /// A schedule's due period made no run: P10 would have refused it (contract, "Schedules,
    /// drift and portfolio"); the refusal is on the schedule as `lastError` too.
    #[serde(rename = "schedule.failed")]
    ScheduleFailed,
    /// Not a webhook event (not in [`EventType::ALL`], so no endpoint can want it): carries only
    /// mail entries, for a cause that has no event of its own (a partner created, a consent
    /// request).
    #[serde(rename = "mail")]
    Mail,
}

impl EventType {
    pub const ALL: [EventType; 15] = [
        Self::AssessmentStarted,
        Self::AssessmentCompleted,
        Self::AssessmentFailed,
        Self::AssessmentRegressed,
        Self::CustomerCreated,
        Self::CustomerUpdated,
        Self::CustomerDeleted,
        Self::CustomerConsentUpdated,
        Self::PartnerActivated,
        Self::PartnerSuspended,
        Self::KeyCreated,
        Self::KeyRevoked,
        Self::QuestionnaireSubmitted,
        Self::ExceptionExpiring,
        Self::ScheduleFailed,
    ];

    /// A distributor also receives these of its sub-partners.
    pub fn reaches_distributor(self) -> bool {
        let s = self.as_str();
        s.starts_with("assessment.")
            || s.starts_with("customer.")
            || s.starts_with("questionnaire.")
            || s.starts_with("exception.")
            || s.starts_with("schedule.")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AssessmentStarted => "assessment.started",
            Self::AssessmentCompleted => "assessment.completed",
            Self::AssessmentFailed => "assessment.failed",
            Self::AssessmentRegressed => "assessment.regressed",
            Self::CustomerCreated => "customer.created",
            Self::CustomerUpdated => "customer.updated",
            Self::CustomerDeleted => "customer.deleted",
            Self::CustomerConsentUpdated => "customer.consent_updated",
            Self::PartnerActivated => "partner.activated",
            Self::PartnerSuspended => "partner.suspended",
            Self::KeyCreated => "key.created",
            Self::KeyRevoked => "key.revoked",
            Self::QuestionnaireSubmitted => "questionnaire.submitted",
            Self::ExceptionExpiring => "exception.expiring",
            Self::ScheduleFailed => "schedule.failed",
            Self::Mail => "mail",
        }
    }
}

/// An event and who receives it: `account` (the partner whose customer, run or key it is; the
/// distributor for `partner.*` events) and, when set, `distributor_id` as well (a partner's
/// distributor receives its `customer.*` and `assessment.*` events).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub kind: EventType,
    pub timestamp: Timestamp,
    pub account: crate::domain::account::Owner,
    pub distributor_id: Option<DistributorId>,
    pub data: Value,
    /// Messages the change asks for (contract, "Mail"): recorded with the event, so in the same
    /// write as the change; the relay turns each into a message for the mail worker.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mail: Vec<crate::domain::mail::MailEntry>,
    /// The audit entry of the change (contract, "Billing and audit"): the store writes it in
    /// the same write as the event, as its own items; it is not part of the outbox event.
    #[serde(skip)]
    pub audit: Option<Box<crate::domain::audit::AuditEntry>>,
}

impl Event {
    /// The event with `mail` added to its entries.
    pub fn with_mail(mut self, mail: impl IntoIterator<Item = crate::domain::mail::MailEntry>) -> Self {
        self.mail.extend(mail);
        self
    }

    /// The event with `entry` as the audit entry of its change; none when `entry` is `None` or
    /// its `changes` are empty (nothing changed, nothing recorded).
    pub fn with_audit(mut self, entry: impl Into<Option<crate::domain::audit::AuditEntry>>) -> Self {
        self.audit = entry.into().and_then(crate::domain::audit::AuditEntry::recorded).map(Box::new);
        self
    }

    /// Whether the relay has anything to do with it: a `mail` event without mail entries only
    /// carries its change's audit entry, and the stores write only that (no outbox item).
    pub fn for_relay(&self) -> bool {
        self.kind != EventType::Mail || !self.mail.is_empty()
    }

    /// The payload exactly as receivers get it.
    pub fn payload(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "timestamp": crate::domain::time::rfc3339(self.timestamp),
            "data": self.data,
        })
    }
}
