//! The user service's own routes, called directly as the gateway calls them:
//! real services on free ports, a fresh Postgres database and Redis prefix
//! per test. (The gateway's tests cover the same routes from outside.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod helpers;
