//! The binaries' shared parts: the dev server (embedded or on AWS services, with its stand-in
//! for Microsoft's consent page), the Lambda entry point and the operator CLI. Each binary's `main` only calls into here.

pub mod admin;
pub mod dev_aws;
pub mod dev_consent;
pub mod dev_server;
pub mod lambda;
pub mod logging;
