//! The trip service: trips, dispatch and the audit trail (`trip` schema),
//! carpool rooms and their rides. Talks to the driver service only through
//! [`hail_shared::driver_client::DriverClient`].

mod delivery;
mod dispatch;
mod domain;
mod freed;
mod moves;
mod outbox;
mod repo;
mod rooms;
mod routes;
mod state;
mod wake;

use std::time::Duration;

use hail_shared::{
    config::Config,
    db, redis_conn,
    startup::{Application, StartError},
};

pub use state::AppState;

pub const SCHEMA: &str = "trip";
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/trip");

/// How long background work waits for one of its own connections.
const BACKGROUND_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Connects, migrates its schema and binds `HAIL_TRIP_PORT`.
///
/// Two pools: requests use one (a request that cannot get a connection
/// within `HAIL_DATABASE_ACQUIRE_TIMEOUT_MS` is refused with 503 at once),
/// and the matcher, the outbox relay and the repair loop use the other, so
/// a burst of requests or cancels never stops dispatch or event delivery.
pub async fn build(config: &Config) -> Result<Application, StartError> {
    let url = &config.database_url;
    let pool = db::connect(
        url,
        SCHEMA,
        config.database_pool_size,
        config.database_acquire_timeout,
    )
    .await?;
    db::migrate(&pool, SCHEMA, &MIGRATOR).await?;
    db::warn_if_autovacuum_off(&pool).await;
    // Background commits do not wait for the disk (`Commits::Relaxed`):
    // they are the matcher's bookkeeping (leases, claims, schedules, an
    // offer opened or expired) and the relay's deletes, which a crash of
    // the database's host can only make happen again. The two outcomes a
    // rider is told as such (auto-assigned, no driver) still commit
    // durably (`repo::commit_durably`).
    let background_pool = db::connect_with(
        url,
        SCHEMA,
        config.database_background_pool_size,
        BACKGROUND_ACQUIRE_TIMEOUT,
        db::Commits::Relaxed,
    )
    .await?;
    let redis = redis_conn::connect(&config.redis_url, config.redis_cluster).await?;
    let state = AppState::new(pool.clone(), redis, config)?;
    let router = routes::router(state.clone(), config);
    let background = state.with_pool(background_pool.clone());
    let (fresh_state, queue_state) = (background.clone(), background.clone());
    let (listener_pool, wakes) = (background_pool.clone(), state.wakes.clone());
    let rooms = state.rooms.clone();
    let mut app = Application::bind(config.service_host, config.ports.trip, router).await?;
    for (city, policy) in state.policies.batched() {
        let batch_state = background.clone();
        app =
            app.with_background(move |stop| dispatch::run_batcher(batch_state, city, policy, stop));
    }
    Ok(app
        .with_background(move |stop| dispatch::run_matcher(fresh_state, dispatch::FRESH, stop))
        .with_background(move |stop| dispatch::run_matcher(queue_state, dispatch::QUEUE, stop))
        .with_background(move |stop| wake::run_listener(listener_pool, wakes, stop))
        .with_background(move |stop| rooms.run_sweeper(stop))
        .with_background(move |stop| outbox::run_relay(background, stop))
        .with_background(move |stop| db::watch_pool(pool, "trip", stop))
        .with_background(move |stop| db::watch_pool(background_pool, "trip_background", stop)))
}
