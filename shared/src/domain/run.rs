//! Assessment runs and their status machine.

use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, PartnerId, RunId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Status only moves forward: queued → running → completed | failed.
    pub fn can_move_to(self, next: RunStatus) -> bool {
        matches!(
            (self, next),
            (Self::Queued, Self::Running) | (Self::Running, Self::Completed) | (Self::Running, Self::Failed)
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResults {
    pub score: u8,
    pub findings: u32,
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub report_url: String,
    /// The customer's previous completed run of the same product, which this one was compared
    /// with; `None` on the first (and on runs completed before comparisons existed).
    #[serde(default)]
    pub previous_run_id: Option<RunId>,
    /// The comparison's counts; `None` when there was no previous run.
    #[serde(default)]
    pub changes: Option<crate::domain::trend::Changes>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub id: RunId,
    pub partner_id: PartnerId,
    pub customer_id: CustomerId,
    pub product: String,
    pub maturity_target: u8,
    pub status: RunStatus,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub results: Option<RunResults>,
    pub error: Option<RunError>,
}

/// How much a check matters: `critical`, `high`, `medium` or `low` on the wire and in storage.
/// The engine's own (`assess::Severity` is this type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Self::Critical, Self::High, Self::Medium, Self::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// What a check answered: `pass`, `fail`, `manual` or `not-applicable` on the wire and in
/// storage. The engine's own (`assess::Status` is this type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    Pass,
    Fail,
    /// Graph cannot show it: someone has to look.
    Manual,
    NotApplicable,
}

impl CheckStatus {
    pub const ALL: [CheckStatus; 4] = [Self::Pass, Self::Fail, Self::Manual, Self::NotApplicable];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Manual => "manual",
            Self::NotApplicable => "not-applicable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

macro_rules! str_enum_text {
    ($ty:ident) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::parse(s).ok_or_else(|| format!("not a {}: {s:?}", stringify!($ty)))
            }
        }
        /// Compares with the wire spelling, as filters given as text do.
        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

str_enum_text!(Severity);
str_enum_text!(CheckStatus);

/// One check's outcome as stored with a finished run and shown by the findings route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub check_id: String,
    pub title: String,
    pub severity: Severity,
    pub outcome: CheckStatus,
    pub evidence: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    pub rationale: String,
    pub remediation: String,
    pub references: Vec<FrameworkRef>,
    /// Essential Eight: the requirements the check evidences; empty for an advisory check
    /// (no ASD requirement: it never lowers a level) and for the other products. Left out of
    /// the stored JSON when empty (as is a missing quality), so older runs' findings and new
    /// ones without requirements store alike; the findings route shows both fields always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirement_ids: Vec<String>,
    /// ASD's evidence quality of the check's verdict; null when it saw nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_quality: Option<crate::domain::requirement::EvidenceQuality>,
    /// How the outcome moved since the customer's previous completed run of the product
    /// (`domain::trend`); absent on a first run, and where no word fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<crate::domain::trend::Change>,
    /// The Graph requests the verdict rests on (contract "Assessment results"): each response
    /// of the fields the check reads. Empty for demo tenants and checks that read nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collected: Vec<Collected>,
}

/// One Graph response behind a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Collected {
    /// Path and query as requested, from the API version on (`/v1.0/users?$select=…`); one
    /// entry per page of a paged collection.
    pub path: String,
    /// When the collection read it (RFC 3339, UTC).
    pub at: String,
    /// SHA-256 of the raw response body, lower-case hex.
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrameworkRef {
    /// `essential-eight`, `nist-csf` or `cis-m365`.
    pub framework: String,
    /// Strategy, subcategory or recommendation number.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyLevel {
    pub strategy: String,
    pub level: u8,
    /// The requirements of the next level up (below the target) that are not met; empty
    /// in runs stored before requirements were assessed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blockers: Vec<String>,
}

/// What a completed run found, kept beside the run (it can be large).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub findings: Vec<Finding>,
    /// Essential Eight: the level reached overall and per strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maturity: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maturity_by_strategy: Vec<StrategyLevel>,
    /// Essential Eight: every requirement of the target level and below with its outcome
    /// (ASD's rule); empty in runs stored before requirements were assessed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<crate::domain::requirement::RequirementRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<crate::domain::requirement::Coverage>,
    /// The customer's tenant context as the run used it (issue 18: a later change never alters
    /// a completed run; the exceptions it applied are on their requirements). `None` in runs
    /// before, and in runs whose customer had declared none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<crate::domain::context::TenantContext>,
}

/// Filters of the run lists (P12, D13).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub month: Option<crate::domain::time::Month>,
    pub product: Option<String>,
    pub customer_id: Option<CustomerId>,
}

impl RunFilter {
    pub fn matches(&self, run: &Run) -> bool {
        self.month.is_none_or(|m| crate::domain::time::Month::of(run.created_at) == m)
            && self.product.as_deref().is_none_or(|p| p == run.product)
            && self.customer_id.as_deref().is_none_or(|c| c == run.customer_id)
    }
}
