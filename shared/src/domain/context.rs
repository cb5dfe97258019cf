//! A customer's tenant context and exceptions (contract, "Tenant context and exceptions"):
//! what an assessor must know about a tenant that no Graph read says, kept as data per
//! customer. The context tells the checks which Conditional Access exclusions are intended
//! (emergency-access accounts, approved exclusions); an exception changes one requirement's
//! outcome in a run (`alternate_control`, which counts towards a level, or `risk_accepted`,
//! which never does). The context alone never passes a requirement.
//!
//! Stored as they are here (snake_case attributes); the API's camelCase view is the handler's.

use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, DistributorId, ExceptionId, PartnerId};
use super::time::Timestamp;

/// The most entries each list of a context holds (contract: "each list ≤ 50").
pub const CONTEXT_LIST_MAX: usize = 50;
/// The longest `reason` of an approved exclusion and `description` of a third-party control,
/// in characters (a sentence or two; the exception texts have their own, longer bound).
pub const CONTEXT_TEXT_MAX: usize = 500;
/// The longest `rationale` and `compensatingControl` of an exception, in characters (contract).
pub const EXCEPTION_TEXT_MAX: usize = 2000;
/// The longest `owner` and `approvedBy` of an exception, in characters (a name or an address).
pub const EXCEPTION_PERSON_MAX: usize = 200;
/// How far ahead an exception may expire, in calendar months (contract: "at most 12 months").
pub const EXCEPTION_MAX_MONTHS: u32 = 12;
/// How long before its expiry an exception records `exception.expiring`, in seconds (30 days).
pub const EXPIRING_NOTICE_SECS: i64 = 30 * 86_400;

/// A Conditional Access exclusion the customer approved: `principal_id` (a user or group
/// object id) may be left out of policy `policy_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedExclusion {
    /// The policy's object id (a GUID, lower case).
    pub policy_id: String,
    /// The excluded user's or group's object id (a GUID, lower case).
    pub principal_id: String,
    /// Why it is approved (1–[`CONTEXT_TEXT_MAX`] characters).
    pub reason: String,
}

/// A control outside Microsoft 365 (another vendor's product) that meets some requirements.
/// Declaring it changes no outcome: only an `alternate_control` exception does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThirdPartyControl {
    /// Requirement ids of the Essential Eight catalogue (`MF-ML1-01`, …), 1–50.
    pub requirement_ids: Vec<String>,
    /// The product's name (1–200 characters).
    pub product: String,
    /// What it does (1–[`CONTEXT_TEXT_MAX`] characters).
    pub description: String,
}

/// A customer's tenant context; the default (empty, version 0) until first set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantContext {
    /// Object ids (GUIDs, lower case) of the tenant's emergency-access (break-glass) accounts.
    #[serde(default)]
    pub emergency_access_accounts: Vec<String>,
    #[serde(default)]
    pub approved_exclusions: Vec<ApprovedExclusion>,
    #[serde(default)]
    pub third_party_controls: Vec<ThirdPartyControl>,
    /// When it was last replaced; `None` while never set.
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    /// Bumped by every replacement; a replacement is conditional on it (0: never stored).
    #[serde(default)]
    pub version: u64,
}

impl TenantContext {
    /// Whether leaving `principal_id` out of policy `policy_id` is intended: the principal is a
    /// declared emergency-access account, or the pair is an approved exclusion. Ids compare
    /// case-insensitively (Graph writes GUIDs in lower case; a client may not).
    pub fn allows_exclusion(&self, policy_id: &str, principal_id: &str) -> bool {
        self.emergency_access_accounts.iter().any(|a| a.eq_ignore_ascii_case(principal_id))
            || self.approved_exclusions.iter().any(|e| {
                e.policy_id.eq_ignore_ascii_case(policy_id) && e.principal_id.eq_ignore_ascii_case(principal_id)
            })
    }

    /// Whether `principal_id` is a declared emergency-access account.
    pub fn is_emergency_access(&self, principal_id: &str) -> bool {
        self.emergency_access_accounts.iter().any(|a| a.eq_ignore_ascii_case(principal_id))
    }
}

/// What an exception does to its requirement's outcome in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    /// The objective is met another way: the outcome becomes `alternate_control`, which counts
    /// towards its level, as ASD allows.
    AlternateControl,
    /// The gap is known and accepted: the outcome stays as it is (`ineffective`), shown as
    /// accepted, and never counts towards a level.
    RiskAccepted,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 2] = [Self::AlternateControl, Self::RiskAccepted];

    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AlternateControl => "alternate_control",
            Self::RiskAccepted => "risk_accepted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An exception to one requirement of a customer (`exc_…`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    pub id: ExceptionId,
    pub partner_id: PartnerId,
    /// The partner's distributor (it never changes once set), who receives the exception's
    /// events too.
    #[serde(default)]
    pub distributor_id: Option<DistributorId>,
    pub customer_id: CustomerId,
    /// A requirement id of the Essential Eight catalogue.
    pub requirement_id: String,
    pub kind: ExceptionKind,
    /// Why (1–[`EXCEPTION_TEXT_MAX`] characters).
    pub rationale: String,
    /// What meets the objective instead: required for `alternate_control`, `None` otherwise
    /// allowed (1–[`EXCEPTION_TEXT_MAX`] characters when given).
    pub compensating_control: Option<String>,
    /// Who answers for it (1–[`EXCEPTION_PERSON_MAX`] characters).
    pub owner: String,
    /// Who approved it (1–[`EXCEPTION_PERSON_MAX`] characters).
    pub approved_by: String,
    /// When it stops applying: a run at or after this time ignores it.
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    /// Bumped by every change (and by recording its expiry notice); changes are conditional on it.
    pub version: u64,
    /// The `expires_at` for which `exception.expiring` was recorded (at most once per expiry
    /// date: a later `expiresAt` makes the notice due again); `None` before.
    #[serde(default)]
    pub expiring_noticed: Option<Timestamp>,
}

impl Exception {
    /// Whether it applies to a run at `at` (expired exceptions stop applying).
    pub fn applies_at(&self, at: Timestamp) -> bool {
        at < self.expires_at
    }

    /// When `exception.expiring` is due: [`EXPIRING_NOTICE_SECS`] before it expires.
    pub fn expiring_notice_at(&self) -> Timestamp {
        self.expires_at.minus_secs(EXPIRING_NOTICE_SECS)
    }

    /// Whether the notice for its current expiry is still to be recorded.
    pub fn notice_pending(&self) -> bool {
        self.expiring_noticed != Some(self.expires_at)
    }

    /// The rules every stored exception keeps (contract), checked at `now` for a new or changed
    /// one: texts present and within bounds, a compensating control for `alternate_control`,
    /// `expires_at` in the future and at most [`EXCEPTION_MAX_MONTHS`] ahead. `Err` names the
    /// field at fault and why, in a sentence. (That the requirement exists in the catalogue is
    /// the use case's check: the catalogue is the engine's.)
    pub fn check(&self, now: Timestamp) -> Result<(), String> {
        text("rationale", &self.rationale, EXCEPTION_TEXT_MAX)?;
        text("owner", &self.owner, EXCEPTION_PERSON_MAX)?;
        text("approvedBy", &self.approved_by, EXCEPTION_PERSON_MAX)?;
        match (&self.compensating_control, self.kind) {
            (Some(c), _) => text("compensatingControl", c, EXCEPTION_TEXT_MAX)?,
            (None, ExceptionKind::AlternateControl) => {
                return Err("compensatingControl is required for an alternate_control exception: say what meets the objective instead.".into())
            }
            (None, ExceptionKind::RiskAccepted) => {}
        }
        if self.expires_at <= now {
            return Err(format!("expiresAt must be in the future, got {}.", self.expires_at.rfc3339()));
        }
        let latest = now.add_months(EXCEPTION_MAX_MONTHS);
        if self.expires_at > latest {
            return Err(format!(
                "expiresAt may be at most {EXCEPTION_MAX_MONTHS} months ahead (no later than {}), got {}.",
                latest.rfc3339(),
                self.expires_at.rfc3339()
            ));
        }
        Ok(())
    }
}

/// `name` holds 1–`max` characters, not only spaces.
pub fn text(name: &str, value: &str, max: usize) -> Result<(), String> {
    let chars = value.chars().count();
    if value.trim().is_empty() {
        Err(format!("{name} must not be empty."))
    } else if chars > max {
        Err(format!("{name} holds {chars} characters; the most is {max}."))
    } else {
        Ok(())
    }
}

/// The exception as a run used it, kept on the requirement's record (a later change of the
/// exception never alters a completed run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedException {
    pub id: String,
    pub kind: ExceptionKind,
    pub owner: String,
    pub approved_by: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    pub rationale: String,
    pub compensating_control: Option<String>,
}

impl From<&Exception> for AppliedException {
    fn from(e: &Exception) -> Self {
        Self {
            id: e.id.to_string(),
            kind: e.kind,
            owner: e.owner.clone(),
            approved_by: e.approved_by.clone(),
            expires_at: e.expires_at.rfc3339(),
            rationale: e.rationale.clone(),
            compensating_control: e.compensating_control.clone(),
        }
    }
}
