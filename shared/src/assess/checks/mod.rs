//! The check catalogue: what a check is, what it answers, and the three products' lists.
//!
//! A check is plain data plus a pure function over the snapshot, so catalogues are `static`
//! slices and an assessment is a fold over one of them (see `score`).

pub mod cis_m365;
pub mod essential_eight;
pub mod nist_csf;
pub(crate) mod probes;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::snapshot::{Field, TenantSnapshot};

/// A finding's severity and a check's answer are domain types: the run stores them as they are.
pub use crate::domain::run::{CheckStatus as Status, Severity};

/// The eight mitigation strategies of the ASD Essential Eight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    ApplicationControl,
    PatchApplications,
    OfficeMacros,
    UserApplicationHardening,
    RestrictAdminPrivileges,
    PatchOs,
    Mfa,
    RegularBackups,
}

impl Strategy {
    /// In the order the ASD lists them.
    pub const ALL: [Strategy; 8] = [
        Self::ApplicationControl,
        Self::PatchApplications,
        Self::OfficeMacros,
        Self::UserApplicationHardening,
        Self::RestrictAdminPrivileges,
        Self::PatchOs,
        Self::Mfa,
        Self::RegularBackups,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApplicationControl => "application-control",
            Self::PatchApplications => "patch-applications",
            Self::OfficeMacros => "office-macros",
            Self::UserApplicationHardening => "user-application-hardening",
            Self::RestrictAdminPrivileges => "restrict-admin-privileges",
            Self::PatchOs => "patch-os",
            Self::Mfa => "mfa",
            Self::RegularBackups => "regular-backups",
        }
    }
}

/// Where a check sits in its framework, and the level (maturity level, tier or profile level)
/// from which it applies: a run at maturity target `t` counts the checks whose level is ≤ `t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "framework", rename_all = "kebab-case")]
pub enum Reference {
    #[serde(rename_all = "camelCase")]
    EssentialEight { strategy: Strategy, maturity_level: u8 },
    /// `subcategory` is a CSF 2.0 subcategory such as `PR.AA-03`; `tier` 1–4 is the
    /// implementation tier from which the check is expected.
    #[serde(rename_all = "camelCase")]
    NistCsf { subcategory: &'static str, tier: u8 },
    /// `recommendation` is the CIS Microsoft 365 Foundations Benchmark (v4.0.0) number;
    /// `level` its profile level, 1 or 2.
    #[serde(rename_all = "camelCase")]
    CisM365 { recommendation: &'static str, level: u8 },
}

impl Reference {
    pub fn level(&self) -> u8 {
        match *self {
            Self::EssentialEight { maturity_level, .. } => maturity_level,
            Self::NistCsf { tier, .. } => tier,
            Self::CisM365 { level, .. } => level,
        }
    }

    /// The NIST CSF function (`GV`, `ID`, `PR`, `DE`, `RS`, `RC`) of a NIST reference.
    pub fn nist_function(&self) -> Option<&'static str> {
        match *self {
            Self::NistCsf { subcategory, .. } => subcategory.split('.').next(),
            _ => None,
        }
    }

    pub fn strategy(&self) -> Option<Strategy> {
        match *self {
            Self::EssentialEight { strategy, .. } => Some(strategy),
            _ => None,
        }
    }
}

/// What the check saw, for the report: one sentence, and optionally the objects behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub details: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    pub evidence: Evidence,
}

impl Outcome {
    fn new(status: Status, summary: impl Into<String>) -> Self {
        Self { status, evidence: Evidence { summary: summary.into(), details: None } }
    }
    pub fn pass(summary: impl Into<String>) -> Self {
        Self::new(Status::Pass, summary)
    }
    pub fn fail(summary: impl Into<String>) -> Self {
        Self::new(Status::Fail, summary)
    }
    pub fn manual(summary: impl Into<String>) -> Self {
        Self::new(Status::Manual, summary)
    }
    pub fn not_applicable(summary: impl Into<String>) -> Self {
        Self::new(Status::NotApplicable, summary)
    }
    /// Pass or fail on `ok`, with the same kind of summary either way.
    pub fn judge(ok: bool, summary: impl Into<String>) -> Self {
        Self::new(if ok { Status::Pass } else { Status::Fail }, summary)
    }
    /// The answer of a check whose data the collector could not read (`unread`, in the order
    /// the check declares them): manual, because nothing was seen to judge, with one sentence
    /// naming what could not be read and why, and `details.unread` naming the fields.
    ///
    /// ASD calls this outcome "no visibility"; a check has no status of that name (see
    /// docs/api-decisions.md), so the summary starts with those words.
    pub fn no_visibility(unread: &[Field]) -> Self {
        let (refused, uncollected): (Vec<Field>, Vec<Field>) = unread.iter().partition(|f| f.collected_from_graph());
        let mut parts = Vec::new();
        if !refused.is_empty() {
            let requests = if refused.len() == 1 { "the request" } else { "the requests" };
            parts.push(format!(
                "{} (Microsoft Graph refused {requests}: a permission or licence is missing)",
                in_words(&refused)
            ));
        }
        if !uncollected.is_empty() {
            parts.push(format!("{} (baref00t does not collect these yet)", in_words(&uncollected)));
        }
        Self::manual(format!("No visibility: baref00t could not read this tenant's {}.", parts.join(" or its ")))
            .with_details(serde_json::json!({ "unread": unread.iter().map(|f| f.json_name()).collect::<Vec<_>>() }))
    }
    /// Adds what Graph answered for each unread field (the snapshot's `unreadReasons`) to a
    /// "no visibility" outcome: appended to the summary, and as `details.reasons`.
    pub fn with_unread_reasons(mut self, snapshot: &TenantSnapshot, unread: &[Field]) -> Self {
        let reasons: Vec<(&str, &String)> = unread
            .iter()
            .filter_map(|f| snapshot.unread_reasons.get(f.json_name()).map(|r| (f.json_name(), r)))
            .collect();
        if reasons.is_empty() {
            return self;
        }
        let words: Vec<String> = reasons.iter().map(|(f, r)| format!("{f}: {r}")).collect();
        self.evidence.summary.push_str(&format!(" Microsoft Graph answered: {}.", words.join("; ")));
        if let Some(Value::Object(d)) = self.evidence.details.as_mut() {
            d.insert(
                "reasons".into(),
                Value::Object(reasons.into_iter().map(|(f, r)| (f.to_string(), Value::from(r.as_str()))).collect()),
            );
        }
        self
    }
    /// Attaches structured details (e.g. the offending accounts or policies), every list in
    /// them cut to [`DETAIL_LIST_MAX`] entries with the full count beside it
    /// ([`cap_detail_lists`]).
    pub fn with_details(mut self, details: Value) -> Self {
        self.evidence.details = Some(cap_detail_lists(details));
        self
    }
}

/// The most entries a finding's detail list holds (contract, "Assessment results": at most
/// 100 named objects per list, with the full count beside it). Without a bound a tenant of
/// 50,000 users lists every one of them in a finding, and the stored report grows with the
/// tenant instead of with the catalogue.
pub const DETAIL_LIST_MAX: usize = 100;

/// Cuts the lists of a check's details to their first [`DETAIL_LIST_MAX`] entries. In an object,
/// each list `name` gets `nameCount` beside it, the list's full length (always, not only when
/// it was cut, so a client reads one shape). A list given bare (not in an object) is cut
/// without a count: its check's summary already gives the number.
pub fn cap_detail_lists(details: Value) -> Value {
    match details {
        Value::Object(fields) => {
            let mut out = serde_json::Map::with_capacity(fields.len());
            for (name, value) in fields {
                match value {
                    Value::Array(mut items) => {
                        let count = items.len();
                        items.truncate(DETAIL_LIST_MAX);
                        out.insert(name.clone(), Value::Array(items));
                        out.insert(format!("{name}Count"), Value::from(count));
                    }
                    other => {
                        out.insert(name, other);
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(mut items) => {
            items.truncate(DETAIL_LIST_MAX);
            Value::Array(items)
        }
        other => other,
    }
}

/// "A", "A and B", "A, B and C".
fn in_words(fields: &[Field]) -> String {
    let words: Vec<&str> = fields.iter().map(|f| f.in_words()).collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => words.concat(),
    }
}

/// One check of a product's catalogue.
#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    pub reference: Reference,
    pub severity: Severity,
    pub rationale: &'static str,
    pub remediation: &'static str,
    /// The snapshot fields the verdict rests on: every field `evaluate` (and the probes it
    /// calls) reads to decide pass, fail, manual or not-applicable. Fields read only for the
    /// wording (a principal's name, a licence named in the summary) are left out, so an unread
    /// one costs a name, not the verdict. A test swaps each field between the demo tenants to
    /// keep this list honest (tests/it/assess.rs).
    #[serde(skip)]
    pub reads: &'static [Field],
    /// The check itself, on a snapshot whose `reads` were all read; call [`Check::run`].
    #[serde(skip)]
    pub evaluate: fn(&TenantSnapshot) -> Outcome,
}

impl Check {
    pub fn level(&self) -> u8 {
        self.reference.level()
    }
    /// The check's answer: "no visibility" ([`Outcome::no_visibility`]) when the collector
    /// could not read a field it `reads`, since an empty field then says nothing about the
    /// tenant; otherwise `evaluate`'s verdict.
    pub fn run(&self, snapshot: &TenantSnapshot) -> Outcome {
        let unread = snapshot.unread_among(self.reads);
        if unread.is_empty() {
            (self.evaluate)(snapshot)
        } else {
            Outcome::no_visibility(&unread).with_unread_reasons(snapshot, &unread)
        }
    }
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("id", &self.id)
            .field("reference", &self.reference)
            .field("severity", &self.severity)
            .finish_non_exhaustive()
    }
}
