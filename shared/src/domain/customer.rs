use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::consent::Consent;
use super::email::Email;
use super::ids::{CustomerId, PartnerId};
use super::tenant::TenantId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    pub partner_id: PartnerId,
    pub name: String,
    /// Unique per partner.
    pub tenant_id: TenantId,
    /// As the client sent it (case kept).
    pub email: Option<Email>,
    pub receivers: Vec<Email>,
    pub questionnaire_recipients: Vec<Email>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    /// Bumped on every update; updates are conditional on it.
    pub version: u64,
    /// Admin consent for this customer's tenant, through this partner (pending when absent).
    #[serde(default)]
    pub consent: Consent,
}
