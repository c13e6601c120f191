//! Routes only sibling services call (behind the internal token like all
//! others): profile creation for the user service; candidates, claims and
//! releases for the trip service.

use axum::{extract::State, http::StatusCode, Json};
use hail_shared::{
    api::{
        drivers::{
            CandidatesRequest, ClaimRequest, ClaimResponse, CreateDriverProfile, DriverStatus,
            NearbyDriver, ShowOffer, TripRef,
        },
        geo::LatLng,
    },
    extract::PathId,
    ApiError, ApiResult,
};

use crate::{repo, state::AppState, status};

/// `POST /internal/drivers`: the user service registering a driver. Idempotent,
/// so a retried registration never fails here.
pub async fn create_profile(
    State(state): State<AppState>,
    Json(body): Json<CreateDriverProfile>,
) -> ApiResult<StatusCode> {
    repo::create(&state.pool, body.driver_id).await?;
    Ok(StatusCode::CREATED)
}

/// `POST /internal/drivers/candidates`
pub async fn candidates(
    State(state): State<AppState>,
    Json(body): Json<CandidatesRequest>,
) -> ApiResult<Json<Vec<NearbyDriver>>> {
    let mut redis = state.redis.clone();
    let found = state
        .index
        .candidates(
            &mut redis,
            LatLng::new(body.lat, body.lng),
            body.radius_km,
            body.limit.clamp(1, 100),
            state.candidate_overfetch,
            &body.exclude,
        )
        .await?;
    Ok(Json(found))
}

/// `POST /internal/drivers/{id}/claim`: the lock in Redis decides which trip
/// wins; Postgres then records the driver BUSY. If the driver went offline in
/// between, the claim is given back.
pub async fn claim(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
    Json(body): Json<ClaimRequest>,
) -> ApiResult<Json<ClaimResponse>> {
    let mut redis = state.redis.clone();
    let won = state
        .index
        .claim(&mut redis, driver_id, body.trip_id, body.ttl_secs)
        .await?;
    if !won {
        return Ok(Json(ClaimResponse { claimed: false }));
    }
    if let Some(version) = repo::mark_busy(&state.pool, driver_id, body.trip_id).await? {
        status::mirror(&state, driver_id, DriverStatus::Busy, version).await?;
        return Ok(Json(ClaimResponse { claimed: true }));
    }
    // Already BUSY for this very trip: a retried claim.
    let row = repo::find(&state.pool, driver_id).await?;
    if row.is_some_and(|r| r.current_trip_id == Some(body.trip_id)) {
        return Ok(Json(ClaimResponse { claimed: true }));
    }
    state
        .index
        .release(&mut redis, driver_id, body.trip_id)
        .await?;
    Ok(Json(ClaimResponse { claimed: false }))
}

/// `POST /internal/drivers/{id}/release`: the trip lets the driver go
/// (declined, expired, completed, cancelled). Idempotent; another trip's
/// claim is never touched. The driver is matchable again at once.
pub async fn release(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
    Json(body): Json<TripRef>,
) -> ApiResult<StatusCode> {
    let mut redis = state.redis.clone();
    state
        .index
        .release(&mut redis, driver_id, body.trip_id)
        .await?;
    if let Some(version) = repo::mark_available(&state.pool, driver_id, body.trip_id).await? {
        status::mirror(&state, driver_id, DriverStatus::Online, version).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /internal/drivers/{id}/offer`: the trip service opened an offer;
/// REST-only drivers see it as `current_offer` until it is answered or ends.
pub async fn show_offer(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
    Json(body): Json<ShowOffer>,
) -> ApiResult<StatusCode> {
    let mut redis = state.redis.clone();
    let shown = state
        .index
        .show_offer(
            &mut redis,
            driver_id,
            body.trip_id,
            &body.offer,
            body.ttl_secs,
        )
        .await?;
    if shown {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::conflict(
            "conflict",
            "the trip no longer holds this driver",
        ))
    }
}

/// `POST /internal/drivers/{id}/offer/end`: the offer was answered; the
/// driver stays BUSY on the trip.
pub async fn end_offer(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
    Json(body): Json<TripRef>,
) -> ApiResult<StatusCode> {
    let mut redis = state.redis.clone();
    state
        .index
        .end_offer(&mut redis, driver_id, body.trip_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /internal/drivers/{id}/presence`: the gateway keeps a connected
/// driver's presence fresh between pings.
pub async fn refresh_presence(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
) -> ApiResult<StatusCode> {
    let mut redis = state.redis.clone();
    state.index.refresh_presence(&mut redis, driver_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
