//! Essential Eight requirement outcomes as a completed run stores and shows them (contract,
//! "Assessment results"); how they are decided is the engine's (`assess::requirements`).

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$m:meta])* $ty:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $ty { $(#[serde(rename = $text)] $variant),* }

        impl $ty {
            pub const ALL: &'static [$ty] = &[$(Self::$variant),*];

            /// The wire and storage spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// ASD's outcome for one requirement (Essential Eight assessment process guide). Only
    /// `effective`, `alternate_control` and `not_applicable` count towards a level.
    /// `not_implemented` (the owner chose not to) and `alternate_control` (an approved
    /// exception) come from the customer's declarations, which no run reads yet.
    RequirementOutcome {
        Effective = "effective",
        AlternateControl = "alternate_control",
        Ineffective = "ineffective",
        NoVisibility = "no_visibility",
        NotImplemented = "not_implemented",
        NotApplicable = "not_applicable",
    }
}

impl RequirementOutcome {
    /// Whether the outcome counts towards a maturity level.
    pub fn meets(self) -> bool {
        matches!(self, Self::Effective | Self::AlternateControl | Self::NotApplicable)
    }
}

wire_enum! {
    /// Where a requirement's outcome came from: the engine's checks on Microsoft Graph data,
    /// the customer's questionnaire answer, or nothing.
    EvidenceSource {
        Graph = "graph",
        Questionnaire = "questionnaire",
        None = "none",
    }
}

wire_enum! {
    /// ASD's evidence quality, best first (assessment process guide): `excellent` a test shows
    /// the control works; `good` the live configuration (Graph reads of cloud configuration:
    /// Conditional Access, roles, authentication methods, device state); `fair` a copy or
    /// intent (Intune policies, which say what devices should do, not what they do); `poor`
    /// someone's word (a questionnaire answer).
    EvidenceQuality {
        Excellent = "excellent",
        Good = "good",
        Fair = "fair",
        Poor = "poor",
    }
}

/// One requirement's outcome in a completed run (the requirements route's item).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequirementRecord {
    /// `<code>-ML<n>-<seq>`, as ASD's matrix (`reference/asd-essential-eight.md`).
    pub id: String,
    /// The strategy slug (`mfa`, `patch-os`, …).
    pub strategy: String,
    /// The lowest maturity level the requirement belongs to.
    pub level: u8,
    pub outcome: RequirementOutcome,
    pub source: EvidenceSource,
    /// Null when nothing was seen (`no_visibility`).
    pub evidence_quality: Option<EvidenceQuality>,
    /// The checks that evidence it (whatever they answered).
    pub check_ids: Vec<String>,
    pub question_id: Option<String>,
    /// The questionnaire answer the run used, shown beside Graph evidence even when that
    /// decided (`yes`, `partly`, `no`, `not_applicable`, `unknown`); null when none.
    pub answer: Option<String>,
    /// Who gave that answer (`{kind:"customer", email}` or `{kind:"partner"}`); absent when none.
    /// Kept with the run: a later answer changes later runs, never this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<crate::domain::questionnaire::AnsweredBy>,
    /// When that answer was given (RFC 3339); absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<String>,
    /// The note given with that answer, as given (escaped wherever shown); absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub summary: String,
    /// Why this outcome, in a sentence (the checks that failed, the missing answer, …).
    pub reason: String,
    /// The customer's exception the run applied to it (issue 18), as it was then: an
    /// `alternate_control` one made the outcome `alternate_control`; a `risk_accepted` one
    /// left it unmet and marks it accepted. Null when none applied (and in runs before).
    #[serde(default)]
    pub exception: Option<crate::domain::context::AppliedException>,
}

/// How many assessed requirements (those of the target level and below) ended in each outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    pub requirements: u32,
    pub effective: u32,
    pub alternate_control: u32,
    pub ineffective: u32,
    pub no_visibility: u32,
    pub not_implemented: u32,
    pub not_applicable: u32,
}

impl Coverage {
    /// Counts `outcomes`.
    pub fn of(outcomes: impl IntoIterator<Item = RequirementOutcome>) -> Self {
        let mut c = Self::default();
        for o in outcomes {
            c.requirements += 1;
            *match o {
                RequirementOutcome::Effective => &mut c.effective,
                RequirementOutcome::AlternateControl => &mut c.alternate_control,
                RequirementOutcome::Ineffective => &mut c.ineffective,
                RequirementOutcome::NoVisibility => &mut c.no_visibility,
                RequirementOutcome::NotImplemented => &mut c.not_implemented,
                RequirementOutcome::NotApplicable => &mut c.not_applicable,
            } += 1;
        }
        c
    }
}
