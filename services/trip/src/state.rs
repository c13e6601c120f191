use hail_driver::DriverClient;
use hail_shared::{config::Config, keys::Keys, server::StartError};
use redis::aio::ConnectionManager;
use sqlx::PgPool;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub keys: Keys,
    pub drivers: DriverClient,
}

impl AppState {
    pub fn new(
        pool: PgPool,
        redis: ConnectionManager,
        config: &Config,
    ) -> Result<Self, StartError> {
        Ok(Self {
            pool,
            redis,
            keys: Keys::new(config.redis_prefix.clone()),
            drivers: DriverClient::new(
                &config.upstreams.driver,
                &config.internal_token,
                config.request_timeout,
            )?,
        })
    }
}
