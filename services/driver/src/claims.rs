//! Releasing claims, and the reconciler that makes sure no claim outlives
//! its TTL unless its trip confirmed it.
//!
//! A claim runs out (`drivers.claim_expires_at`) unless the trip service
//! confirms it when the driver is assigned. Every few seconds the
//! reconciler takes the BUSY drivers past that time and asks the trip
//! service, in one call, whether each trip still holds its driver: one that
//! does not (a release that was lost, a claim naming a trip that does not
//! exist) is released at once; an assignment whose confirmation was lost is
//! confirmed; an offer still being decided is asked about again later. If
//! the trip service does not answer, nothing is released.
//!
//! Cost: one indexed query a tick over overdue claims only (normally none);
//! the trip service is called only when there are some.

use std::time::Duration;

use hail_shared::{
    api::{
        drivers::{DriverStatus, Hold, HoldState, HoldsRequest, HoldsResponse},
        geo::LatLng,
    },
    extract::INTERNAL_TOKEN_HEADER,
    ApiError, ApiResult,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    index::Leave,
    repo::{self, Releasable},
    state::AppState,
    status,
};

/// Gives `driver_id` back from `trip_id` (idempotent; another trip's claim
/// is never touched): ONLINE, and matchable again at once unless `leave`
/// says its phone proved unreachable. `true` when this call freed the
/// driver.
pub async fn release(
    state: &AppState,
    driver_id: Uuid,
    trip_id: Uuid,
    leave: Leave,
) -> ApiResult<bool> {
    let mut redis = state.redis.clone();
    state
        .index
        .release(&mut redis, driver_id, trip_id, leave)
        .await?;
    // An offer that ended unanswered is bookkeeping (`AppState::claims_pool`);
    // a driver coming off a ride it was confirmed for is told to the disk, as
    // nothing would find the row again if that commit were lost.
    let unconfirmed = repo::mark_available(
        &state.claims_pool,
        driver_id,
        trip_id,
        Releasable::Unconfirmed,
    )
    .await?;
    let freed = match unconfirmed {
        Some(version) => Some(version),
        None => repo::mark_available(&state.pool, driver_id, trip_id, Releasable::Any).await?,
    };
    match freed {
        Some(version) => {
            status::mirror(state, driver_id, DriverStatus::Online, version).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The trip confirmed its hold (accepted, or auto-assigned): the claim no
/// longer runs out, the offer leaves the driver's view and its pings go to
/// the trip's rider. Nothing when the driver is no longer on that trip.
pub async fn start_ride(
    state: &AppState,
    driver_id: Uuid,
    trip_id: Uuid,
    pickup: Option<LatLng>,
) -> ApiResult<()> {
    if repo::confirm_hold(&state.pool, driver_id, trip_id).await? {
        let mut redis = state.redis.clone();
        state
            .index
            .start_ride(&mut redis, driver_id, trip_id, pickup)
            .await?;
    }
    Ok(())
}

/// How often overdue claims are looked for, and how many at once.
const RECONCILE_EVERY: Duration = Duration::from_secs(2);
const RECONCILE_BATCH: i64 = 200;
/// When an offer the trip service is still deciding is asked about again.
const RECHECK_OFFERED_SECS: u64 = 15;

pub async fn run_reconciler(state: AppState, stop: CancellationToken) {
    let mut every = tokio::time::interval(RECONCILE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        match reconcile(&state).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "released claims no trip holds"),
            Err(err) => tracing::warn!(error = %err, "claim reconciliation skipped; retrying"),
        }
    }
}

/// One pass; how many claims it released.
async fn reconcile(state: &AppState) -> ApiResult<usize> {
    let overdue = repo::overdue_claims(&state.pool, RECONCILE_BATCH).await?;
    if overdue.is_empty() {
        return Ok(0);
    }
    let holds: Vec<Hold> = overdue
        .iter()
        .map(|&(driver_id, trip_id)| Hold { driver_id, trip_id })
        .collect();
    let answers = ask_trip_service(state, &holds).await?;
    let mut released = 0;
    for (hold, answer) in holds.iter().zip(answers) {
        let (driver, trip) = (hold.driver_id, hold.trip_id);
        match answer {
            HoldState::Assigned => start_ride(state, driver, trip, None).await?,
            HoldState::Offered => {
                repo::recheck_claim_in(&state.pool, driver, trip, RECHECK_OFFERED_SECS).await?;
            }
            HoldState::Released => {
                if release(state, driver, trip, Leave::Matchable).await? {
                    tracing::warn!(driver_id = %driver, trip_id = %trip, "released a claim its trip does not hold");
                    released += 1;
                }
            }
        }
    }
    Ok(released)
}

async fn ask_trip_service(state: &AppState, holds: &[Hold]) -> ApiResult<Vec<HoldState>> {
    let unavailable = |err: reqwest::Error| {
        ApiError::Unavailable(format!("the trip service: {}", err.without_url()))
    };
    let body = HoldsRequest {
        holds: holds.to_vec(),
    };
    let answer = state
        .trip
        .send(|base| {
            state
                .http
                .post(format!("{base}/internal/trips/holds"))
                .header(INTERNAL_TOKEN_HEADER, &*state.trip_token)
                .json(&body)
        })
        .await
        .and_then(|r| r.error_for_status())
        .map_err(unavailable)?
        .json::<HoldsResponse>()
        .await
        .map_err(unavailable)?;
    if answer.holds.len() != holds.len() {
        return Err(ApiError::internal(
            "the trip service answered a holds call with the wrong number of results",
        ));
    }
    Ok(answer.holds)
}
