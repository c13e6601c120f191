//! The driver service's own routes, called directly as the gateway (public
//! routes) and its siblings (internal routes) call them: real services on
//! free ports, a fresh Postgres database and Redis prefix per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cities;
mod helpers;
mod index_order;
mod internal;
mod location;
mod status;
