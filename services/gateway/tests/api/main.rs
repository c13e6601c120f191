//! The gateway's contract, end to end: real services on free ports, a fresh
//! Postgres database and Redis prefix per test, real HTTP through the gateway.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod delivery;
mod gateway;
mod health;
mod helpers;
mod limits;
mod openapi;
mod pings;
mod realtime;
mod security;
mod support;
mod trip_steps;
mod watching;
