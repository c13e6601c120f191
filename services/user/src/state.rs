use std::sync::Arc;

use hail_shared::auth::TokenKeys;
use hail_shared::driver_client::DriverClient;
use sqlx::PgPool;
use tokio::sync::Semaphore;

use crate::domain::password::Memory;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub tokens: TokenKeys,
    pub drivers: DriverClient,
    /// Bounds concurrent Argon2 work: each hash holds 19 MiB and a core, so a
    /// burst of logins queues here instead of exhausting memory.
    pub hashing: Arc<Semaphore>,
    /// Argon2 working memory, one per permit, reused (see `domain::password`).
    pub hashing_memory: Arc<std::sync::Mutex<Vec<Memory>>>,
}

impl AppState {
    pub fn new(pool: PgPool, tokens: TokenKeys, drivers: DriverClient) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            pool,
            tokens,
            drivers,
            hashing: Arc::new(Semaphore::new(cores * 2)),
            hashing_memory: Arc::default(),
        }
    }
}
