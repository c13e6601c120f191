//! The matching core, end to end through the gateway: real services, real
//! Redis (a key prefix per test), real Postgres (a database per test), real
//! concurrency.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod batched;
mod cities;
mod claims;
mod contract;
mod dispatch;
mod driver_card;
mod events;
mod fares;
mod helpers;
mod idempotency;
mod lifecycle;
mod matching;
mod pickup;
mod races;
mod rating;
mod rooms;
mod rush;
mod validation;
