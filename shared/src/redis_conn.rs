//! Redis connections: one multiplexed, self-reconnecting connection per
//! service (a `ConnectionManager` is cheap to clone and safe to share).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::startup::StartError;

pub async fn connect(url: &str) -> Result<ConnectionManager, StartError> {
    let fail = |source| StartError::Redis {
        url: crate::db::redact(url),
        source,
    };
    let client = redis::Client::open(url).map_err(fail)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2);
    ConnectionManager::new_with_config(client, config)
        .await
        .map_err(fail)
}

/// `PING`, for readiness checks.
pub async fn ping(conn: &mut ConnectionManager) -> Result<(), String> {
    redis::cmd("PING")
        .query_async::<String>(conn)
        .await
        .map(|_| ())
        .map_err(|e| format!("redis: {e}"))
}
