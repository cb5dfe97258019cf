//! The one integration-test binary; each module covers one area.

mod dev_server;
mod pipeline;
