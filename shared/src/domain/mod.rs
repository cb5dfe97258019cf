//! Types and rules with no I/O.

pub mod account;
pub mod catalog;
pub mod customer;
pub mod event;
pub mod ids;
pub mod run;
pub mod time;
pub mod usage;
pub mod validate;
pub mod webhook;
