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
}

impl EventType {
    pub const ALL: [EventType; 11] = [
        Self::AssessmentStarted,
        Self::AssessmentCompleted,
        Self::AssessmentFailed,
        Self::CustomerCreated,
        Self::CustomerUpdated,
        Self::CustomerDeleted,
        Self::CustomerConsentUpdated,
        Self::PartnerActivated,
        Self::PartnerSuspended,
        Self::KeyCreated,
        Self::KeyRevoked,
    ];

    /// A distributor also receives these of its sub-partners.
    pub fn reaches_distributor(self) -> bool {
        let s = self.as_str();
        s.starts_with("assessment.") || s.starts_with("customer.")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AssessmentStarted => "assessment.started",
            Self::AssessmentCompleted => "assessment.completed",
            Self::AssessmentFailed => "assessment.failed",
            Self::CustomerCreated => "customer.created",
            Self::CustomerUpdated => "customer.updated",
            Self::CustomerDeleted => "customer.deleted",
            Self::CustomerConsentUpdated => "customer.consent_updated",
            Self::PartnerActivated => "partner.activated",
            Self::PartnerSuspended => "partner.suspended",
            Self::KeyCreated => "key.created",
            Self::KeyRevoked => "key.revoked",
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
}

impl Event {
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
