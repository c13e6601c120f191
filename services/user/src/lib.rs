//! The user service: accounts, Argon2id password hashes and access tokens.
//! The only place a password is ever seen; it is never logged or returned.

mod domain;
pub mod operators;
mod repo;
mod routes;
mod state;

use hail_shared::driver_client::DriverClient;
use hail_shared::{
    auth::TokenKeys,
    config::Config,
    db,
    internal::{self, Peer},
    startup::{Application, StartError},
};

pub use state::AppState;

pub const SCHEMA: &str = "user";
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/user");

/// Connects, migrates its schema and binds `HAIL_USER_PORT`.
pub async fn build(config: &Config) -> Result<Application, StartError> {
    let pool = db::connect(
        &config.database_url,
        SCHEMA,
        config.database_pool_size,
        config.database_acquire_timeout,
    )
    .await?;
    db::migrate(&pool, SCHEMA, &MIGRATOR).await?;
    let drivers = DriverClient::new(
        &config.upstreams.driver,
        &internal::peer_token(&config.internal_token, Peer::User),
        config.request_timeout,
    )?;
    let state = AppState::new(
        pool,
        TokenKeys::new(&config.jwt_secret, config.jwt_ttl),
        drivers,
    );
    let router = routes::router(state, config);
    Application::bind(config.service_host, config.ports.user, router).await
}
