//! The outbox relay: publishes events that state changes queued in their own
//! transaction, and deletes them, in one transaction of its own: the delete
//! comes first, the commit after the publish. A failed publish rolls the
//! delete back, and a crash before the commit means the events go out again
//! (at least once, never lost); every event carries the full current state,
//! so a repeat is harmless.

use std::time::Duration;

use hail_shared::events::channel;
use tokio_util::sync::CancellationToken;

use crate::{repo, state::AppState};

const BATCH: i64 = 200;
const POLL: Duration = Duration::from_millis(200);

pub async fn run_relay(state: AppState, stop: CancellationToken) {
    loop {
        let wake = state.outbox_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        match relay_batch(&state).await {
            // A full batch: there may be more right behind it.
            Ok(sent) if sent as i64 == BATCH => {
                metrics::counter!("outbox_published_total").increment(sent as u64);
                continue;
            }
            Ok(sent) => metrics::counter!("outbox_published_total").increment(sent as u64),
            Err(err) => {
                metrics::counter!("outbox_relay_failures_total").increment(1);
                tracing::warn!(error = %err, "outbox relay failed; retrying")
            }
        }
        tokio::select! {
            _ = stop.cancelled() => {
                // Last pass, so events of the final requests are not left behind.
                let _ = relay_batch(&state).await;
                return;
            }
            _ = &mut wake => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

async fn relay_batch(state: &AppState) -> Result<usize, RelayError> {
    let mut tx = state.pool.begin().await?;
    let rows = repo::take_unsent_events(&mut tx, BATCH).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let events: Vec<(String, String)> = rows
        .iter()
        .map(|row| {
            let channel = match row.channel.as_str() {
                channel::DRIVER_OFFERS => state.keys.channel_driver_offers(),
                _ => state.keys.channel_trip_events(),
            };
            (channel, row.payload.to_string())
        })
        .collect();
    let mut redis = state.redis.clone();
    redis.publish_all(&events).await?;
    tx.commit().await?;
    Ok(rows.len())
}
