//! Everything the baref00t functions share: the HTTP API and its route table, auth, the
//! domain rules, and the ports (store, queue, billing) with their adapters.

pub mod api;
pub mod assess;
pub mod auth;
pub mod aws;
pub mod aws_secrets;
pub mod billing;
pub mod billing_snapshot;
pub mod compose;
pub mod config;
pub mod domain;
pub mod graph;
pub mod mail;
pub mod pages;
pub mod questionnaire_pages;
pub mod queue;
pub mod ratelimit;
pub mod report_pdf;
pub mod report_view;
pub mod reports;
pub mod runner;
pub mod store;
pub mod stripe;
pub mod templates;
pub mod usage_report;
pub mod usecases;
pub mod views;
pub mod webhooks;

pub use api::App;
