//! Questionnaire answers (contract, "Questionnaire"): what a customer's people (or the partner
//! on their behalf) said about a requirement Microsoft Graph cannot show, who said it, when,
//! and until when it counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::assess::requirements::Answer;
use crate::assess::requirements::Question;
use crate::domain::time::Timestamp;

/// How long an answer counts: 12 months (contract), taken as 365 days.
pub const ANSWER_LIFETIME_SECS: i64 = 365 * 86_400;

/// The longest `note` (characters, contract).
pub const NOTE_MAX_CHARS: usize = 2000;

/// Who gave an answer. JSON: `{"kind":"customer","email":"…"}` or `{"kind":"partner"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AnsweredBy {
    /// A recipient of the customer's questionnaire link (the address the link was sent to).
    Customer { email: String },
    /// The partner, through the API (PUT or `attestations` on a trigger).
    Partner,
}

/// One stored answer to one question of one customer and product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    /// `Q-…`, a question of the product.
    pub question_id: String,
    pub answer: Answer,
    /// At most [`NOTE_MAX_CHARS`] characters, as given (escaped wherever it is shown).
    #[serde(default)]
    pub note: Option<String>,
    pub answered_by: AnsweredBy,
    pub answered_at: Timestamp,
    /// `answered_at` + [`ANSWER_LIFETIME_SECS`]; from then on the answer no longer counts.
    pub expires_at: Timestamp,
}

impl StoredAnswer {
    /// A fresh answer given at `now`.
    pub fn new(question_id: &str, answer: Answer, note: Option<String>, by: AnsweredBy, now: Timestamp) -> Self {
        Self {
            question_id: question_id.to_string(),
            answer,
            note,
            answered_by: by,
            answered_at: now,
            expires_at: now + ANSWER_LIFETIME_SECS,
        }
    }

    /// Whether it still counts at `now`.
    pub fn counts_at(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// The answers that count at `now`, by question id: what a run starting then uses.
pub fn unexpired(answers: &[StoredAnswer], now: Timestamp) -> BTreeMap<String, StoredAnswer> {
    answers.iter().filter(|a| a.counts_at(now)).map(|a| (a.question_id.clone(), a.clone())).collect()
}

/// The questions of a product (`essential-eight`: the catalogue's 92; `nist-csf` and
/// `cis-m365`: none yet, see `docs/api-decisions.md`, "Questionnaire"); `None` for a product
/// the engine does not know.
pub fn questions_of(product: &str) -> Option<&'static [Question]> {
    match product {
        "essential-eight" => Some(&crate::assess::requirements::catalogue().questions),
        "nist-csf" | "cis-m365" => Some(&[]),
        _ => None,
    }
}

/// The question `id` of `product`, if it has one.
pub fn question(product: &str, id: &str) -> Option<&'static Question> {
    questions_of(product)?.iter().find(|q| q.id == id)
}

/// Parses an answer's wire spelling (`yes`, `partly`, `no`, `not_applicable`, `unknown`).
pub fn parse_answer(s: &str) -> Option<Answer> {
    [Answer::Yes, Answer::Partly, Answer::No, Answer::NotApplicable, Answer::Unknown]
        .into_iter()
        .find(|a| a.as_str() == s)
}

/// The wire spellings, for messages.
pub const ANSWERS: [&str; 5] = ["yes", "partly", "no", "not_applicable", "unknown"];
