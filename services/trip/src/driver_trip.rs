//! `driver:trip:<id>` in Redis: which trip a driver's positions belong to,
//! for the realtime bridge. Written after an assignment (set, then
//! rechecked against Postgres, so a trip that ended meanwhile is not left
//! mapped), cleared when the driver's part ends, and repaired every few
//! seconds from Postgres (Redis may have restarted).

use hail_shared::{
    api::trips::{Trip, TripStatus},
    ApiResult,
};
use redis::AsyncCommands;
use uuid::Uuid;

use crate::{repo, state::AppState};

/// After an assignment: the offer leaves the driver's view, and the realtime
/// bridge learns which trip the driver's positions belong to.
pub async fn on_assigned(state: &AppState, trip: &Trip, driver_id: Uuid) {
    if let Err(err) = state.drivers.end_offer(driver_id, trip.id).await {
        tracing::warn!(%driver_id, trip_id = %trip.id, error = %err, "could not clear the accepted offer");
    }
    let mut redis = state.redis.clone();
    let set: Result<(), _> = redis
        .set(state.keys.driver_trip(driver_id), trip.id.to_string())
        .await;
    if let Err(err) = set {
        tracing::warn!(%driver_id, error = %err, "could not record the driver's trip for realtime");
        return;
    }
    // A cancel that landed between the commit and the SET already ran its
    // cleanup; undo the mapping it could not see.
    clear_unless_still_on(state, driver_id, trip.id).await;
}

/// The second half of set-then-recheck: drops the driver's mapping to
/// `trip_id` unless Postgres still has the driver on that trip. A failed
/// read clears too: a missing mapping is restored by the periodic repair, a
/// stale one would never be.
async fn clear_unless_still_on(state: &AppState, driver_id: Uuid, trip_id: Uuid) {
    let still_on = repo::find_trip(&state.pool, trip_id)
        .await
        .ok()
        .flatten()
        .is_some_and(|t| {
            t.driver_id == Some(driver_id)
                && matches!(t.status, TripStatus::Assigned | TripStatus::Ongoing)
        });
    if !still_on {
        clear_driver_trip(state, driver_id, trip_id).await;
    }
}

/// Redis may have restarted and forgotten which trip a driver is on (the
/// bridge would then stop sending that trip's rider the car's position):
/// every few seconds, puts back the mapping of each ASSIGNED or ONGOING trip
/// that is missing. Same set-then-recheck as [`on_assigned`], so a trip that
/// ends meanwhile is not left mapped.
pub async fn run_driver_trip_repair(state: AppState, stop: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match repair_driver_trips(&state).await {
            Ok(0) => {}
            Ok(restored) => {
                tracing::info!(restored, "restored drivers' trip mappings for realtime")
            }
            Err(err) => tracing::debug!(error = %err, "driver trip repair skipped; retrying"),
        }
    }
}

async fn repair_driver_trips(state: &AppState) -> ApiResult<usize> {
    let active = repo::active_assignments(&state.pool).await?;
    let mut redis = state.redis.clone();
    let mut restored = 0;
    for chunk in active.chunks(500) {
        let mut pipe = redis::pipe();
        for (trip_id, driver_id) in chunk {
            pipe.cmd("SET")
                .arg(state.keys.driver_trip(*driver_id))
                .arg(trip_id.to_string())
                .arg("NX");
        }
        let set: Vec<Option<String>> = pipe.query_async(&mut redis).await?;
        for ((trip_id, driver_id), set) in chunk.iter().zip(set) {
            if set.is_none() {
                continue;
            }
            restored += 1;
            clear_unless_still_on(state, *driver_id, *trip_id).await;
        }
    }
    Ok(restored)
}

pub async fn clear_driver_trip(state: &AppState, driver_id: Uuid, trip_id: Uuid) {
    let mut redis = state.redis.clone();
    let cleared = redis::Script::new(include_str!("../scripts/clear_driver_trip.lua"))
        .key(state.keys.driver_trip(driver_id))
        .arg(trip_id.to_string())
        .invoke_async::<i64>(&mut redis)
        .await;
    if let Err(err) = cleared {
        tracing::warn!(%driver_id, error = %err, "could not clear the driver's trip for realtime");
    }
}
