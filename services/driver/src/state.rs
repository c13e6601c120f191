use hail_shared::{config::Config, keys::Keys};
use redis::aio::ConnectionManager;
use sqlx::PgPool;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub keys: Keys,
}

impl AppState {
    pub fn new(pool: PgPool, redis: ConnectionManager, config: &Config) -> Self {
        Self {
            pool,
            redis,
            keys: Keys::new(config.redis_prefix.clone()),
        }
    }
}
