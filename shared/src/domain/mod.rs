//! Types and rules with no I/O.

pub mod account;
pub mod api_key;
pub mod audit;
pub mod branding;
pub mod catalog;
pub mod consent;
pub mod context;
pub mod customer;
pub mod drift;
pub mod email;
pub mod event;
pub mod idempotency_key;
pub mod ids;
pub mod mail;
mod parsed;
pub mod questionnaire;
pub mod requirement;
pub mod run;
pub mod schedule;
pub mod tenant;
pub mod time;
pub mod trend;
pub mod usage;
pub mod validate;
pub mod webhook;
