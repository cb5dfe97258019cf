use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub partner_id: String,
    pub name: String,
    /// Lower-cased GUID; unique per partner.
    pub tenant_id: String,
    pub email: Option<String>,
    pub receivers: Vec<String>,
    pub questionnaire_recipients: Vec<String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    /// Bumped on every update; updates are conditional on it.
    pub version: u64,
}
