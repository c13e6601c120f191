use hail_shared::{config::Config, keys::Keys};
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::index::Index;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub index: Index,
    pub candidate_overfetch: usize,
}

impl AppState {
    pub fn new(pool: PgPool, redis: ConnectionManager, config: &Config) -> Self {
        Self {
            pool,
            redis,
            index: Index::new(Keys::new(config.redis_prefix.clone())),
            candidate_overfetch: config.dispatch.candidate_overfetch,
        }
    }
}
