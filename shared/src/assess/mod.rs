//! The assessment engine's pure core: a [`TenantSnapshot`] of Microsoft Graph data goes in,
//! an [`Assessment`] (per-check outcomes, score, findings, Essential Eight maturity) comes out.
//!
//! Collecting the snapshot (Graph calls) and storing the result (the worker) live elsewhere;
//! nothing here does I/O, so the same snapshot always gives the same assessment.
//!
//! - [`snapshot`]: the data, shaped like Graph's JSON.
//! - [`checks`]: the three products' check catalogues.
//! - [`score`]: which checks count for a maturity target, and how they add up.
//! - [`fixtures`]: demo tenants for development and tests.

pub mod checks;
pub mod fixtures;
pub mod score;
pub mod snapshot;

pub use checks::{Check, Evidence, Outcome, Reference, Severity, Status, Strategy};
pub use fixtures::demo_snapshot;
pub use score::{evaluate, AssessError, Assessment, CheckResult, Maturity, Product};
pub use snapshot::TenantSnapshot;
