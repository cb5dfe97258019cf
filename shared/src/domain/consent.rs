//! A customer's admin consent: whether baref00t's Graph app may read the customer's tenant for
//! the partner that onboarded it (contract, "Tenant consent"). Recorded per customer, so per
//! partner: a tenant consented through partner A's link is still `pending` for partner B.

use serde::{Deserialize, Serialize};

use super::time::Timestamp;

/// `consentStatus` on the wire and in storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentStatus {
    /// Never granted (a new customer, or one whose `tenantId` changed).
    #[default]
    Pending,
    /// An administrator of the tenant granted admin consent through this partner's link.
    Granted,
    /// An administrator refused in the consent flow.
    Declined,
    /// Microsoft refused the app's token for the tenant during a run: consent was withdrawn
    /// (or the app's service principal removed).
    Revoked,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Granted => "granted",
            Self::Declined => "declined",
            Self::Revoked => "revoked",
        }
    }
}

/// The consent state stored with a customer. A customer stored before consent existed reads as
/// `pending` with no times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub status: ConsentStatus,
    /// When it was last granted (kept while it stays `granted`; `None` otherwise).
    pub granted_at: Option<Timestamp>,
    /// When the status last changed (`None` for a customer that never changed it).
    pub updated_at: Option<Timestamp>,
}

impl Consent {
    /// The state after a change to `status` at `at`.
    pub fn changed(status: ConsentStatus, at: Timestamp) -> Self {
        Self { status, granted_at: (status == ConsentStatus::Granted).then_some(at), updated_at: Some(at) }
    }

    pub fn is_granted(&self) -> bool {
        self.status == ConsentStatus::Granted
    }
}
