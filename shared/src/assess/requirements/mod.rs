//! Essential Eight as ASD assesses it: requirements, not checks.
//!
//! ASD's maturity model is a list of requirements (152, keyed `<code>-ML<n>-<seq>` as in the
//! guide's `reference/asd-essential-eight.md`, each with its ISM control). The engine's checks
//! are evidence for some of them; a questionnaire answers others; the rest have no source
//! yet. This module holds that catalogue as data ([`catalogue`]) and ASD's rule for turning
//! evidence into a per-requirement outcome and a level per strategy ([`rule`]).

pub mod catalogue;
pub mod exceptions;
pub mod rule;

pub use catalogue::{catalogue, Catalogue, Question, Requirement};
pub use rule::{
    assess, quality_of_reads, Answer, Answers, CheckEvidence, Coverage, EvidenceQuality, Maturity, RequirementOutcome,
    RequirementResult, Source, StrategyResult,
};
