//! The driver service: driver profiles and their status (Postgres, the
//! record), positions in the Redis GEO index, presence keys and claims.
//! Only this service writes those keys; the user and trip services reach it
//! through `hail_shared::driver_client::DriverClient`, never through this crate.

mod claim_order;
mod claims;
/// Public for `hail bench`, whose raw-Redis ceiling runs the same scripts
/// under a prefix of its own; the stack's keys stay this service's alone.
pub mod index;
mod pings;
mod repo;
mod rides;
mod rings;
mod routes;
mod state;
mod status;

use hail_shared::{
    config::Config,
    db, redis_conn,
    startup::{Application, StartError},
};

pub use state::AppState;

pub const SCHEMA: &str = "driver";
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/driver");

/// Connects, migrates its schema and binds `HAIL_DRIVER_PORT`.
pub async fn build(config: &Config) -> Result<Application, StartError> {
    let pool = db::connect(
        &config.database_url,
        SCHEMA,
        config.database_pool_size,
        config.database_acquire_timeout,
    )
    .await?;
    db::migrate(&pool, SCHEMA, &MIGRATOR).await?;
    let claims_pool = db::connect_with(
        &config.database_url,
        SCHEMA,
        config.database_background_pool_size,
        config.database_acquire_timeout,
        db::Commits::Relaxed,
    )
    .await?;
    let redis = redis_conn::connect(&config.redis_url, config.redis_cluster).await?;
    let (rides, ride_writer) = rides::ride_log();
    let state = AppState::new((pool.clone(), claims_pool), redis, config, rides)?;
    let router = routes::router(state.clone(), config);
    let reconciler = state.clone();
    Ok(
        Application::bind(config.service_host, config.ports.driver, router)
            .await?
            .with_background(move |stop| sweep_stale_members(state, stop))
            .with_background(move |stop| claims::run_reconciler(reconciler, stop))
            .with_background(move |stop| rides::write_points(pool, ride_writer, stop)),
    )
}

/// Every few seconds, removes GEO members whose presence key expired, so the
/// index holds only matchable drivers (searches filter anyway).
async fn sweep_stale_members(state: AppState, stop: tokio_util::sync::CancellationToken) {
    let mut redis = state.redis.clone();
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        match state.index.sweep(&mut redis).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "swept drivers whose presence expired"),
            Err(err) => tracing::warn!(error = %err, "sweep failed; retrying"),
        }
    }
}
