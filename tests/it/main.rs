//! The one integration-test binary; each module covers one area.

mod admin;
mod assess;
mod aws_adapters;
mod collect;
mod concurrency;
mod dev_aws;
mod dev_server;
mod dispatch;
mod domain_types;
mod dynamo;
mod events;
mod graph;
mod http_edges;
mod idempotency_at_rest;
mod ids;
mod lambda;
mod pipeline;
mod routes_distributor;
mod routes_partner;
mod runner;
mod store_compat;
mod store_contract;
mod template;
mod tenancy;
mod usage;
mod webhooks;
