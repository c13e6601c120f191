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
    redis_conn::RedisConn,
    ApiError, ApiResult,
};
use uuid::Uuid;
use validator::Validate;

use crate::{
    index::{PingStep, Pinged, RidePoint},
    state::AppState,
    status,
};

/// The most pings one batch may carry (inside the 64 KiB body limit).
pub const MAX_BATCH: usize = 400;

/// Records one ping of `driver_id`.
pub async fn record(state: &AppState, driver_id: Uuid, update: &LocationUpdate) -> ApiResult<()> {
    let mut redis = state.redis.clone();
    let pinged = first_step(state, &mut redis, driver_id, update).await?;
    if let Some(point) = state.index.finish_ping(&mut redis, pinged).await? {
        state.rides.keep(&[point]);
    }
    Ok(())
}

/// Records a batch; one outcome per ping, in order (`None`: recorded). A
/// ping that fails validation is refused alone: the gateway checked it, but
/// this service trusts no caller with its index. Every ping's own step runs
/// side by side; then each city's index is written once for the batch
/// (`Index::sync_pings`), then each ping's remaining step.
pub async fn record_batch(state: &AppState, pings: &[SocketPing]) -> Vec<Option<PingRefusal>> {
    let mut first: Vec<ApiResult<Pinged>> = join_all(pings.iter().map(|ping| async move {
        ping.update.validate().map_err(ApiError::from)?;
        let mut redis = state.redis.clone();
        first_step(state, &mut redis, ping.driver_id, &ping.update).await
    }))
    .await;
    let pinged = first.iter_mut().filter_map(|p| p.as_mut().ok()).collect();
    state.index.sync_pings(&state.redis, pinged).await;
    let recorded = join_all(first.into_iter().map(|step| async move {
        let mut redis = state.redis.clone();
        Ok(state.index.finish_ping(&mut redis, step?).await?)
    }))
    .await;
    let rides: Vec<RidePoint> = recorded
        .iter()
        .filter_map(|r: &ApiResult<Option<RidePoint>>| r.as_ref().ok().copied().flatten())
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

/// A ping's step on the driver's own keys. A driver whose status Redis
/// lost has it loaded from Postgres, and the ping is tried again.
async fn first_step(
    state: &AppState,
    redis: &mut RedisConn,
    driver_id: Uuid,
    update: &LocationUpdate,
) -> ApiResult<Pinged> {
    let mut step = state.index.record_ping(redis, driver_id, update).await?;
    if let PingStep::StatusUnknown = step {
        if !status::reload(state, driver_id).await? {
            return Err(ApiError::NotFound(
                "this account has no driver profile".into(),
            ));
        }
        step = state.index.record_ping(redis, driver_id, update).await?;
    }
    match step {
        PingStep::Pinged(pinged) => Ok(pinged),
        PingStep::Offline => Err(ApiError::conflict(
            "driver_offline",
            "you are offline: go online before sharing your location",
        )),
        PingStep::StatusUnknown => Err(ApiError::Unavailable(
            "your status could not be loaded; try again".into(),
        )),
    }
}
