//! Recording location pings: one REST ping, or a gateway's batch of socket
//! pings, by the same rules and with the same answers.
//!
//! A ping is one Redis script (`Index::ping`) and never waits on Postgres,
//! except the first one after Redis lost the driver's status mirror, which
//! loads it and pings again. A driver on a trip also hands its point to the
//! ride log (`crate::rides`), which writes it off this path. A batch runs its pings side by side on the one
//! multiplexed Redis connection, so they share round trips (one pipeline's
//! worth instead of one round trip each).

use futures::future::join_all;
use hail_shared::{
    api::drivers::{LocationUpdate, PingRefusal, SocketPing},
    ApiError, ApiResult,
};
use uuid::Uuid;
use validator::Validate;

use crate::{
    index::{PingOutcome, RidePoint},
    state::AppState,
    status,
};

/// The most pings one batch may carry (inside the 64 KiB body limit).
pub const MAX_BATCH: usize = 400;

/// Records one ping of `driver_id`.
pub async fn record(state: &AppState, driver_id: Uuid, update: &LocationUpdate) -> ApiResult<()> {
    if let Some(point) = index_ping(state, driver_id, update).await? {
        state.rides.keep(&[point]);
    }
    Ok(())
}

/// The ping in the index; the point to keep when the driver is on a ride.
async fn index_ping(
    state: &AppState,
    driver_id: Uuid,
    update: &LocationUpdate,
) -> ApiResult<Option<RidePoint>> {
    let mut redis = state.redis.clone();
    let mut outcome = state.index.ping(&mut redis, driver_id, update).await?;
    if let PingOutcome::StatusUnknown = outcome {
        if !status::reload(state, driver_id).await? {
            return Err(ApiError::NotFound(
                "this account has no driver profile".into(),
            ));
        }
        outcome = state.index.ping(&mut redis, driver_id, update).await?;
    }
    match outcome {
        PingOutcome::Recorded { ride } => Ok(ride),
        PingOutcome::Offline => Err(ApiError::conflict(
            "driver_offline",
            "you are offline: go online before sharing your location",
        )),
        PingOutcome::StatusUnknown => Err(ApiError::Unavailable(
            "your status could not be loaded; try again".into(),
        )),
    }
}

/// Records a batch; one outcome per ping, in order (`None`: recorded). A
/// ping that fails validation is refused alone: the gateway checked it, but
/// this service trusts no caller with its index.
pub async fn record_batch(state: &AppState, pings: &[SocketPing]) -> Vec<Option<PingRefusal>> {
    let recorded = join_all(pings.iter().map(|ping| async move {
        match ping.update.validate() {
            Ok(()) => index_ping(state, ping.driver_id, &ping.update).await,
            Err(errors) => Err(ApiError::from(errors)),
        }
    }))
    .await;
    let rides: Vec<RidePoint> = recorded
        .iter()
        .filter_map(|r| r.as_ref().ok().copied().flatten())
        .collect();
    state.rides.keep(&rides);
    recorded
        .into_iter()
        .zip(pings)
        .map(|(recorded, ping)| {
            recorded.err().map(|err| {
                if let ApiError::Internal(cause) = &err {
                    tracing::error!(driver_id = %ping.driver_id, %cause, "a socket ping failed");
                }
                PingRefusal::from(err)
            })
        })
        .collect()
}
