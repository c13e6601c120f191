//! Drivers just freed, and where. A release (a declined or expired offer, a
//! cancelled or completed trip) pushes one entry onto a Redis list that
//! every instance shares; the matcher drains it at the start of a pass and,
//! in one statement, makes due the few oldest waiting trips near each freed
//! driver that could use it (premium first, then oldest, among the 64
//! requested trips nearest it). So a freed driver is offered to a waiting
//! trip nearby in the next pass, and the rest of the queue is not touched.
//!
//! Cost: a release is one Redis round trip (LPUSH + LTRIM), whatever the
//! number of waiting trips; a pass adds one `UPDATE` that reads at most 64
//! index entries per freed driver (`trips_waiting_pickup`, nearest first),
//! however long the queue and however many releases it coalesces (up to
//! [`DRAIN`]). A lost entry (the list is capped, a drain failed) costs only
//! latency: waiting trips search again on their own.

use redis::AsyncCommands;
use uuid::Uuid;

use crate::{domain::dispatch::FreedDriver, repo, state::AppState, wake::Lane};

/// Entries one pass takes at most.
const DRAIN: usize = 256;
/// Entries the list keeps at most (a stalled matcher cannot grow it).
const KEEP: isize = 10_000;
/// Waiting trips woken per freed driver: the oldest that can use it, plus
/// one in case the first finds a nearer driver.
const WAKE_PER_DRIVER: i64 = 2;

/// Notes a freed driver for the next pass and wakes this instance's matcher
/// (other instances' matchers find it on their next poll).
pub async fn push(state: &AppState, freed: FreedDriver) -> redis::RedisResult<()> {
    let key = state.keys.drivers_freed();
    let mut redis = state.redis.clone();
    redis::pipe()
        .atomic()
        .lpush(&key, freed.encode())
        .ignore()
        .ltrim(&key, 0, KEEP - 1)
        .ignore()
        .query_async::<()>(&mut redis)
        .await?;
    state.wakes.here(Lane::Queue);
    Ok(())
}

/// Takes the freed drivers noted so far (oldest first) and makes due the
/// waiting trips near them. Returns the trips woken.
pub async fn wake_trips_near_freed(state: &AppState) -> Result<Vec<Uuid>, WakeError> {
    let mut redis = state.redis.clone();
    let count = std::num::NonZeroUsize::new(DRAIN);
    let entries: Vec<String> = redis.rpop(state.keys.drivers_freed(), count).await?;
    let freed: Vec<FreedDriver> = entries
        .iter()
        .filter_map(|e| FreedDriver::decode(e))
        .collect();
    if freed.is_empty() {
        return Ok(Vec::new());
    }
    Ok(repo::wake_near(
        &state.pool,
        &freed,
        WAKE_PER_DRIVER,
        state.policies.widest_radius_km(),
    )
    .await?)
}

#[derive(Debug, thiserror::Error)]
pub enum WakeError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}
