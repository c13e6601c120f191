//! hail-shared: the Hail contract in types (API.md's bodies, enums, error
//! shape, Redis key and channel names) and the things every service does the
//! same way (configuration, tracing and metrics, the service tokens, each
//! service's part of the OpenAPI document, the router skeleton with health
//! routes, and starting and stopping a service).

pub mod api;
pub mod auth;
pub mod cities;
pub mod config;
pub mod db;
pub mod driver_client;
pub mod error;
pub mod events;
pub mod extract;
pub mod internal;
pub mod keys;
pub mod openapi;
pub mod redis_conn;
pub mod server;
pub mod startup;
pub mod telemetry;
pub mod upstream;

pub use error::{ApiError, ApiResult};
