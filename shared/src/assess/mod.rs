//! The assessment engine's pure core: a [`TenantSnapshot`] of Microsoft Graph data goes in,
//! an [`Assessment`] (per-check outcomes, score, findings, Essential Eight maturity) comes out.
//!
//! The checks, scoring and fixtures do no I/O, so the same snapshot always gives the same
//! assessment; only `collect` talks to the outside (Microsoft Graph). Storing the result is
//! the runner's job (`crate::runner`).
//!
//! - [`snapshot`]: the data, shaped like Graph's JSON.
//! - [`checks`]: the three products' check catalogues.
//! - [`score`]: which checks count for a maturity target, and how they add up.
//! - [`fixtures`]: demo tenants for development and tests.
//! - [`collect`]: the `Collector` port (Microsoft Graph, fixtures).
//! - [`defender_agents`]: Intune's DefenderAgents report export (per-device Defender state).
//! - [`permissions`]: the Graph application permissions the collector's reads need.
//! - [`requirements`]: Essential Eight's requirement catalogue, questionnaire and ASD's rule.
//! - [`assessor`]: collect + evaluate behind the runner's `Assessor` port.

pub mod assessor;
pub mod checks;
pub mod collect;
pub mod defender_agents;
pub mod fixtures;
pub mod permissions;
pub mod requirements;
pub mod score;
pub mod snapshot;

pub use checks::{Check, Evidence, Outcome, Reference, Severity, Status, Strategy};
pub use fixtures::demo_snapshot;
pub use score::{evaluate, evaluate_answered, Assessment, CheckResult, EngineError, Framework, Maturity};
pub use snapshot::TenantSnapshot;
