//! The Essential Eight requirement catalogue and its questionnaire, as data.
//!
//! `shared/data/essential-eight/requirements.json` and `questions.json` are written by
//! `scripts/e8-catalogue` from ASD's matrix (`reference/asd-essential-eight.md` in the guide)
//! plus baref00t's mapping of its checks; `tests/it/requirements.rs` reads the matrix again
//! and fails when the data disagrees with it. Both files are compiled in and parsed once.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::assess::checks::Strategy;

const REQUIREMENTS_JSON: &str = include_str!("../../../data/essential-eight/requirements.json");
const QUESTIONS_JSON: &str = include_str!("../../../data/essential-eight/questions.json");

/// One ASD Essential Eight requirement (a row of the matrix).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    /// `<code>-ML<n>-<seq>`, e.g. `MF-ML2-03`; stable, never renumbered.
    pub id: String,
    pub strategy: Strategy,
    /// The lowest maturity level (1–3) the requirement belongs to.
    pub level: u8,
    /// Every level it belongs to: `[1,2,3]`, `[2,3]`, `[3]`, or `[1,2]`/`[2]` for the three
    /// requirements ML3 replaces (PA-ML1-07, PO-ML1-07, MF-ML2-04).
    pub levels: Vec<u8>,
    /// The ISM control, `ISM-nnnn`.
    pub ism: String,
    /// The requirement in a sentence (paraphrased, as the reference has it).
    pub summary: String,
    /// `SH-n` for the eight logging and incident requirements AC, UH, RA and MF share.
    pub shared: Option<String>,
    /// The requirement this one is the same as (PO-ML1-01/02 repeat PA-ML1-01/02): its
    /// outcome is that one's, evaluated once.
    pub same_as: Option<String>,
    /// The Microsoft 365 evidence the reference names (Graph requests, settings, or `Q`).
    pub evidence: String,
    pub notes: String,
    /// The engine's checks that give evidence for it (`E8-…`), possibly none.
    pub check_ids: Vec<String>,
    /// The questionnaire item that answers it, if any.
    pub question_id: Option<String>,
}

impl Requirement {
    /// Whether the requirement belongs to maturity level `level`.
    pub fn applies_at(&self, level: u8) -> bool {
        self.levels.contains(&level)
    }
}

/// One questionnaire item (the shape `GET /products/{id}/questions` lists).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    /// `Q-` followed by its first requirement id (or the shared `SH-n`).
    pub id: String,
    pub requirement_ids: Vec<String>,
    /// The strategy slug, or `shared` for the logging and incident items.
    pub group: String,
    /// The lowest level among its requirements.
    pub level: u8,
    pub prompt: String,
    /// What evidence to keep.
    pub help: String,
    /// Graph shows part of the requirement; the answer completes it.
    pub partial: bool,
    /// `asd-reference` (the reference's questionnaire) or `baref00t` (added for a requirement
    /// nothing else evidences).
    pub origin: String,
}

/// The requirements and questions, with lookups.
#[derive(Debug)]
pub struct Catalogue {
    pub requirements: Vec<Requirement>,
    pub questions: Vec<Question>,
    by_id: HashMap<String, usize>,
    question_by_id: HashMap<String, usize>,
    by_check: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct RequirementsFile {
    requirements: Vec<Requirement>,
}

#[derive(Deserialize)]
struct QuestionsFile {
    questions: Vec<Question>,
}

impl Catalogue {
    fn load() -> Self {
        // The files are compiled in and checked by the tests; a parse failure is a build bug.
        let requirements = serde_json::from_str::<RequirementsFile>(REQUIREMENTS_JSON)
            .expect("essential-eight/requirements.json parses")
            .requirements;
        let questions = serde_json::from_str::<QuestionsFile>(QUESTIONS_JSON)
            .expect("essential-eight/questions.json parses")
            .questions;
        let by_id = requirements.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
        let question_by_id = questions.iter().enumerate().map(|(i, q)| (q.id.clone(), i)).collect();
        let mut by_check: HashMap<String, Vec<String>> = HashMap::new();
        for r in &requirements {
            for c in &r.check_ids {
                by_check.entry(c.clone()).or_default().push(r.id.clone());
            }
        }
        Self { requirements, questions, by_id, question_by_id, by_check }
    }

    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.by_id.get(id).map(|&i| &self.requirements[i])
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.question_by_id.get(id).map(|&i| &self.questions[i])
    }

    /// The requirement ids a check gives evidence for, in catalogue order; empty for an
    /// advisory check (one that is no ASD requirement, such as E8-RAP-01).
    pub fn requirements_of_check(&self, check_id: &str) -> &[String] {
        self.by_check.get(check_id).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The catalogue, parsed on first use.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(Catalogue::load);
    &CATALOGUE
}
