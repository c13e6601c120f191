//! The driver service: driver profiles and their status (Postgres, the
//! record), positions in the Redis GEO index, presence keys and claims.
//! Only this service writes those keys; the trip service reaches it through
//! [`DriverClient`].

pub mod client;
mod repo;
mod routes;
mod state;

use hail_shared::{
    config::Config,
    db, redis_conn,
    server::{Application, StartError},
};

pub use client::DriverClient;
pub use state::AppState;

pub const SCHEMA: &str = "driver";
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/driver");

/// Connects, migrates its schema and binds `HAIL_DRIVER_PORT`.
pub async fn build(config: &Config) -> Result<Application, StartError> {
    let pool = db::connect(&config.database_url, SCHEMA).await?;
    db::migrate(&pool, SCHEMA, &MIGRATOR).await?;
    let redis = redis_conn::connect(&config.redis_url).await?;
    let state = AppState::new(pool, redis, config);
    let router = routes::router(state, config);
    Application::bind(config.service_host, config.ports.driver, router).await
}
