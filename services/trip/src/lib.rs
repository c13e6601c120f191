//! The trip service: trips, dispatch and the audit trail (`trip` schema),
//! carpool rooms and their rides. Talks to the driver service only through
//! [`hail_shared::driver_client::DriverClient`].

mod dispatch;
mod domain;
mod driver_trip;
mod moves;
mod outbox;
mod repo;
mod rooms;
mod routes;
mod state;

use hail_shared::{
    config::Config,
    db, redis_conn,
    startup::{Application, StartError},
};

pub use state::AppState;

pub const SCHEMA: &str = "trip";
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/trip");

/// Connects, migrates its schema and binds `HAIL_TRIP_PORT`.
pub async fn build(config: &Config) -> Result<Application, StartError> {
    let pool = db::connect(&config.database_url, SCHEMA, config.database_pool_size).await?;
    db::migrate(&pool, SCHEMA, &MIGRATOR).await?;
    let redis = redis_conn::connect(&config.redis_url).await?;
    let state = AppState::new(pool, redis, config)?;
    let router = routes::router(state.clone(), config);
    let (matcher_state, listener_state) = (state.clone(), state.clone());
    let (rooms, repair_state) = (state.rooms.clone(), state.clone());
    Ok(
        Application::bind(config.service_host, config.ports.trip, router)
            .await?
            .with_background(move |stop| dispatch::run_matcher(matcher_state, stop))
            .with_background(move |stop| dispatch::run_listener(listener_state, stop))
            .with_background(move |stop| rooms.run_sweeper(stop))
            .with_background(move |stop| driver_trip::run_driver_trip_repair(repair_state, stop))
            .with_background(move |stop| outbox::run_relay(state, stop)),
    )
}
