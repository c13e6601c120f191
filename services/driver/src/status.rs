//! Keeping the Redis mirror of a driver's status in step with Postgres.

use hail_shared::{api::drivers::DriverStatus, ApiResult};
use uuid::Uuid;

use crate::{repo, state::AppState};

/// Mirrors a status change that Postgres just made (with its version).
pub async fn mirror(
    state: &AppState,
    driver_id: Uuid,
    status: DriverStatus,
    version: i64,
) -> ApiResult<()> {
    let mut redis = state.redis.clone();
    state
        .index
        .set_status(&mut redis, driver_id, status, version)
        .await?;
    Ok(())
}

/// Loads the status from Postgres into Redis (after a Redis restart), and
/// the ride of a driver on a trip, so its rider sees the car again from its
/// next ping. `false` when the driver has no profile.
pub async fn reload(state: &AppState, driver_id: Uuid) -> ApiResult<bool> {
    let Some(row) = repo::find(&state.pool, driver_id).await? else {
        return Ok(false);
    };
    mirror(state, driver_id, row.status()?, row.version).await?;
    if let (true, Some(trip_id)) = (row.on_trip, row.current_trip_id) {
        let mut redis = state.redis.clone();
        state
            .index
            .start_ride(&mut redis, driver_id, trip_id, None)
            .await?;
    }
    Ok(true)
}
